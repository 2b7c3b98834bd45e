"""Check the built site in a real browser, as a reader uses it: every page loads offline and
renders, its figures respond and fit, and what it weighs.

Usage: ``python tests/site_check.py _build/html [--report FILE]`` (exit status 1 when a page has
a problem; ``--report`` also writes the weight table, as JSON if FILE ends in ``.json``, else as
markdown).

The build directory is served on a localhost port and every ``.html`` page (outside ``_static``,
``_sources``, ``_images``...) is opened in Debian's headless Chromium through Playwright
(``executable_path``, overridable with the ``CHROMIUM`` environment variable; never
``playwright install``), once at 1366 × 900 px and once at a phone's 390 × 844 px (touch). A
page passes at each width when:

- it answers HTTP 200;
- no request fails, none answers >= 400 and none goes to a host other than localhost
  (external requests are blocked and listed);
- no JavaScript error is thrown (``pageerror``) and nothing is logged with ``console.error``;
- every plotly figure (``.plotly-graph-div``) has drawn its SVG (``.main-svg``) within 20 s,
  plotly.js being possibly loaded after the page;
- math was typeset by MathJax: no raw TeX is left in ``.math`` elements and no ``mjx-merror``;
- every ipywidget view (``script[type="application/vnd.jupyter.widget-view+json"]``) was
  rendered by the widget manager;
- on the phone, the page is no wider than the screen (nothing to scroll sideways);
- weight: a page without plotly figures weighs under 1,000,000 bytes (the response bodies of
  every request of its load; the browser cache is out, as every request is routed);
- every figure fits (each visible figure, at both widths): its SVG is no wider than its output
  cell (no fixed width cut off on a phone); each control (menu buttons, dropdown headers, slider
  rail and handle) lies on the screen horizontally and inside the figure; the title (``.gtitle``)
  and the paper-placed annotations (subplot titles, captions) overlap neither each other nor the
  toolbar (``.modebar``, unless CSS hides it: it shows when hovered or tapped) and lie inside the
  figure horizontally (not cut off);
- every figure control responds: for each menu (buttons or dropdown) and slider, the check
  clicks (on the phone: taps) an entry that is not the active one — another button; the
  dropdown's header, then another entry; the slider's rail at another step, the last one it can
  reach — and the figure must change (a digest of its data and layout, less the menus' and
  sliders' own state). A control with a single entry, one that cannot be clicked (covered, off
  the screen) and an open dropdown whose entries fall outside the figure are problems too;
- every exercise solution (a hidden code cell, or a "Solution" dropdown) shows neither its
  code nor its output until its toggle is opened, and shows them after;
- navigation works: there is one visible sidebar button and one search control; on the wide
  screen a click on the button hides the chapter list and a second click shows it again; on the
  phone the button, pressed from the keyboard, opens the chapter list as a drawer and Escape
  closes it, and a page with a table of contents has a contents button that does the same for
  it.

At the end a table gives each page and width its weight (KB), its number of figures and its
first contentful paint (``performance.getEntriesByType('paint')``, ms). Times are recorded,
never asserted: speed is not a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
TIMEOUT_MS = 20_000
# Playwright context options for the widths a reader uses: a laptop's, then a phone's
VIEWPORTS = [
    {"viewport": {"width": 1366, "height": 900}},
    {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
]
# what hides a solution: a hidden code cell (any hide tag) or a sphinx-design dropdown
HIDDEN_CELLS = ".cell.tag_hide-cell, .cell.tag_hide-input, .cell.tag_hide-output"
DROPDOWNS = "details.sd-dropdown"
# a page with no figure must weigh less (bytes of all its responses): it does not need plotly.js
MAX_PLAIN_BYTES = 1_000_000

# Evaluated in the page: what is rendered and what is not.
_INSPECT = """() => {
  const figs = [...document.querySelectorAll('.plotly-graph-div')];
  const blankFigs = figs.filter(d => !d.querySelector('.main-svg')).map(d => d.id);
  const maths = [...document.querySelectorAll('.math')];
  const rawMath = maths.filter(m => !m.querySelector('mjx-container') &&
      /\\\\\\(|\\\\\\[|\\$\\$|\\\\begin\\{/.test(m.textContent))
    .map(m => m.textContent.trim().slice(0, 60));
  const mathErrors = [...document.querySelectorAll('mjx-merror')]
    .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80));
  const views = [...document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]')];
  const blankWidgets = views.filter(s => {
      const area = s.parentElement;
      return !(area && area.querySelector(
        '.widget-subarea > .jupyter-widgets, .widget-subarea > .lm-Widget'));
    }).map(s => { try { return JSON.parse(s.textContent).model_id; } catch (e) { return '?'; } });
  return {
    figures: figs.length, blankFigs, plotly: !!window.Plotly,
    math: maths.length, typeset: document.querySelectorAll('mjx-container').length,
    rawMath, mathErrors,
    widgets: views.length, blankWidgets,
    hasWidgetState: !!document.querySelector(
      'script[type="application/vnd.jupyter.widget-state+json"]'),
  };
}"""

_READY = (
    "() => { const r = ("
    + _INSPECT
    + ")(); "
    + ("return !r.blankFigs.length && !r.rawMath.length && !r.blankWidgets.length; }")
)

_MATHJAX_DONE = """() => (window.MathJax && MathJax.startup && MathJax.startup.promise)
  ? MathJax.startup.promise.then(() => true) : true"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free localhost port in a thread; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def site_pages(html_dir: Path) -> list[Path]:
    """Every HTML page of the build, relative to it, skipping folders like ``_static``."""
    return sorted(
        p.relative_to(html_dir)
        for p in html_dir.rglob("*.html")
        if not any(part.startswith((".", "_")) for part in p.relative_to(html_dir).parts[:-1])
    )


def _wait_quiet(page, inflight: set[str], quiet_ms: int = 500) -> None:
    """Wait until no request of the page has been in flight for ``quiet_ms`` (or the timeout)."""
    quiet = waited = 0
    while quiet < quiet_ms and waited < TIMEOUT_MS:
        page.wait_for_timeout(100)
        waited += 100
        quiet = 0 if inflight else quiet + 100


def _drawer_opens(page, toggle, dialog: str, what: str) -> list[str]:
    """Press ``toggle`` from the keyboard: the ``dialog`` must open with links, Escape close it."""
    toggle.focus()
    page.keyboard.press("Enter")
    try:
        page.wait_for_function(
            f"() => document.querySelector('{dialog}')?.open && "
            f"[...document.querySelectorAll('{dialog} a')].some(a => a.offsetParent)",
            timeout=3000,
        )
    except Exception:  # noqa: BLE001 - a drawer that does not open is the problem reported
        return [f"the {what} button does not open the {what}"]
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    if page.evaluate(f"() => document.querySelector('{dialog}').open"):
        return [f"Escape does not close the {what}"]
    return []


def _check_navigation(page, phone: bool) -> list[str]:
    """The sidebar and contents buttons work; one search control (see the module docstring)."""
    problems = []
    searches = page.locator(".search-button:visible, .search-button-field:visible").count()
    if searches != 1:
        problems.append(f"{searches} visible search controls, expected 1")
    primary = page.locator(".primary-toggle:visible")
    if primary.count() != 1:
        return problems + [f"{primary.count()} visible sidebar buttons, expected 1"]
    if phone:
        problems += _drawer_opens(page, primary, "#pst-primary-sidebar-modal", "chapter list")
        has_toc = page.evaluate(
            "() => document.querySelectorAll('#pst-page-toc-nav a, .page-toc a').length > 0"
        )
        secondary = page.locator(".secondary-toggle:visible")
        if has_toc and secondary.count() != 1:
            problems.append(f"{secondary.count()} visible contents buttons, expected 1")
        elif has_toc:
            problems += _drawer_opens(page, secondary, "#pst-secondary-sidebar-modal", "contents")
        return problems
    shown = (
        "() => { const e = document.querySelector('#pst-primary-sidebar');"
        " return !!e && getComputedStyle(e).visibility !== 'hidden'"
        " && e.getBoundingClientRect().right > 0; }"
    )
    for expected in (False, True):
        primary.click()
        try:
            page.wait_for_function(f"() => ({shown})() === {str(expected).lower()}", timeout=3000)
        except Exception:  # noqa: BLE001 - a sidebar that does not toggle is the problem
            state = "hide" if not expected else "show again"
            problems.append(f"the sidebar button does not {state} the chapter list")
            break
    return problems


# Evaluated in the page: for each hidden cell and dropdown, which of its parts are on screen.
_SOLUTIONS = """([cellSelector, dropSelector]) => {
  const seen = e => !!e && e.checkVisibility();
  const cells = [...document.querySelectorAll(cellSelector)];
  const drops = [...document.querySelectorAll(dropSelector)];
  return [
    ...cells.map((c, i) => ({what: `hidden cell ${i + 1}`, parts: [
      seen(c.querySelector('.cell_input')), ...[...c.querySelectorAll('.cell_output')].map(seen)]})),
    ...drops.map((d, i) => ({what: `dropdown ${i + 1}`,
      parts: [seen(d.querySelector('.sd-summary-content'))]})),
  ];
}"""


def _check_solutions(page) -> list[str]:
    """No solution is on screen before its toggle is opened; all of it is after."""
    problems = []
    selectors = [HIDDEN_CELLS, DROPDOWNS]
    for item in page.evaluate(_SOLUTIONS, selectors):
        if any(item["parts"]):
            problems.append(f"{item['what']}: part of the solution is visible before its toggle")
    hidden = page.locator(f"{HIDDEN_CELLS}, {DROPDOWNS}")
    for i in range(hidden.count()):
        hidden.nth(i).locator("summary").first.click()
    for item in page.evaluate(_SOLUTIONS, selectors):
        if not all(item["parts"]):
            problems.append(f"{item['what']}: opening its toggle does not show all of it")
    return problems


# Evaluated in the page: where the parts of every drawn, visible figure lie (viewport px).
_FIGURES = """() => {
  const box = e => { const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const label = e => (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50);
  const paper = ref => ref === 'paper' || / domain$/.test(ref || '');
  const shown = e => !!e && e.checkVisibility({visibilityProperty: true});
  return [...document.querySelectorAll('.plotly-graph-div')]
    .filter(gd => gd.querySelector('.main-svg') && gd.checkVisibility())
    .map(gd => {
      const holder = gd.closest('.output, .cell_output') || gd.parentElement;
      const controls = [];
      gd.querySelectorAll('.updatemenu-header-group').forEach((menu, m) => {
        menu.querySelectorAll('.updatemenu-header, .updatemenu-button').forEach(b => controls.push({
          what: `menu ${m + 1} ${b.classList.contains('updatemenu-header') ? 'dropdown' : 'button'}`
            + ` "${label(b)}"`, box: box(b)}));
      });
      gd.querySelectorAll('.slider-group').forEach((s, k) => {
        for (const [part, name] of [['.slider-rail-rect', 'rail'], ['.slider-grip-rect', 'handle']]) {
          const e = s.querySelector(part);
          if (e) controls.push({what: `slider ${k + 1} ${name}`, box: box(e)});
        }
      });
      const titles = [];
      const title = gd.querySelector('.gtitle');
      if (title && label(title)) titles.push({what: `title "${label(title)}"`, box: box(title)});
      const notes = (gd._fullLayout || {}).annotations || [];
      gd.querySelectorAll('.annotation').forEach(a => {
        const o = notes[+a.dataset.index], text = a.querySelector('.annotation-text');
        if (o && paper(o.xref) && paper(o.yref) && text && label(text))
          titles.push({what: `annotation "${label(text)}"`, box: box(text)});
      });
      const bar = gd.querySelector('.modebar');
      const barShown = shown(bar) && shown(gd.querySelector('.modebar-container'))
        && bar.getBoundingClientRect().width > 0;
      return {id: gd.id, svg: box(gd.querySelector('.main-svg')),
              holder: holder.clientWidth, controls, titles, modebar: barShown ? box(bar) : null};
    });
}"""

# Evaluated in the page: a digest of what a figure shows (its data and layout, less the state of
# its own menus and sliders), to tell whether driving a control changed it.
_DIGEST = """(id) => {
  const gd = document.getElementById(id);
  const skip = new Set(['updatemenus', 'sliders', 'template']);
  const s = JSON.stringify([gd.data, gd.layout], (k, v) => skip.has(k) ? undefined : v);
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
  return `${s.length}:${h >>> 0}`;
}"""

# A figure's menus and sliders: plotly draws one group per menu (its buttons, or the header of
# a dropdown) and per slider, and the list of the open dropdown once per figure.
MENUS, SLIDERS = ".updatemenu-header-group", ".slider-group"
BUTTONS, OPEN_LIST = ".updatemenu-button", ".updatemenu-dropdown-button"

# Evaluated on a menu or slider group: the box of its figure and its entries (buttons, entries
# of the open dropdown, or slider steps by their ticks): which one is active (from the options
# plotly binds to the group), where each lies on the screen and, for a slider, where each step
# is on the rect that takes the pointer (the rail's touch rect, else the rail).
_ENTRIES = """(el, [buttons, openList]) => {
  const box = r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom});
  const opts = el.__data__ || {}, gd = el.closest('.plotly-graph-div');
  const slider = el.matches('.slider-group');
  const hit = slider && (el.querySelector('.slider-rail-touch-rect')
    || el.querySelector('.slider-rail-rect')).getBoundingClientRect();
  const rail = slider && el.querySelector('.slider-rail-rect').getBoundingClientRect();
  const parts = slider ? el.querySelectorAll('.slider-tick-rect')
    : el.querySelector('.updatemenu-header') ? gd.querySelectorAll(openList)
    : el.querySelectorAll(buttons);
  const entries = [...parts].map((e, nth) => {
    const r = e.getBoundingClientRect(), item = e.__data__ || {}, index = item._index ?? nth;
    return {nth, index, active: index === (opts.active ?? 0), box: box(r),
            label: String(item.label ?? e.textContent.trim()),
            at: slider ? {x: (r.left + r.right) / 2 - hit.left,
                          y: (rail.top + rail.bottom) / 2 - hit.top} : null};
  });
  return {figure: box(gd.querySelector('.main-svg').getBoundingClientRect()), entries};
}"""

EDGE_PX = 1.0  # what a box may stick out of another, or overlap it, before it is a problem


def _fmt(box: dict, axis: str = "x") -> str:
    lo, hi = ("left", "right") if axis == "x" else ("top", "bottom")
    return f"{axis} {box[lo]:.0f}..{box[hi]:.0f}"


def overlap(a: dict, b: dict, edge: float = EDGE_PX) -> bool:
    """Whether boxes ``a`` and ``b`` (``left``/``right``/``top``/``bottom``) share more than
    ``edge`` px both ways."""
    wide = min(a["right"], b["right"]) - max(a["left"], b["left"])
    high = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return wide > edge and high > edge


def inside(a: dict, b: dict, axes: str = "xy", edge: float = EDGE_PX) -> bool:
    """Whether box ``a`` lies within box ``b`` along ``axes``, give or take ``edge`` px."""
    ok = True
    if "x" in axes:
        ok &= a["left"] >= b["left"] - edge and a["right"] <= b["right"] + edge
    if "y" in axes:
        ok &= a["top"] >= b["top"] - edge and a["bottom"] <= b["bottom"] + edge
    return ok


def figure_layout_problems(fig: dict, screen_width: float) -> list[str]:
    """What a reader would find cut off or covered in one figure, from its ``_FIGURES`` entry:
    controls off the screen or outside the figure, a figure wider than its cell, titles that
    overlap each other or the toolbar or stick out of the figure."""
    problems = []
    name, svg = f"figure #{fig['id']}", fig["svg"]
    width = svg["right"] - svg["left"]
    if width > fig["holder"] + EDGE_PX:
        problems.append(
            f"{name} is {width:.0f} px wide, wider than its cell ({fig['holder']} px): cut off"
        )
    screen = {"left": 0, "right": screen_width}
    for control in fig["controls"]:
        if not inside(control["box"], screen, "x"):
            problems.append(
                f"{name}: {control['what']} lies outside the screen "
                f"({_fmt(control['box'])} of 0..{screen_width:.0f})"
            )
        if not inside(control["box"], svg):
            problems.append(
                f"{name}: {control['what']} lies outside the figure ({_fmt(control['box'])}, "
                f"{_fmt(control['box'], 'y')}; figure {_fmt(svg)}, {_fmt(svg, 'y')})"
            )
    titles = fig["titles"]
    for i, a in enumerate(titles):
        if not inside(a["box"], svg, "x"):
            problems.append(
                f"{name}: {a['what']} is cut off by the figure's edge "
                f"({_fmt(a['box'])} of {_fmt(svg)})"
            )
        if fig["modebar"] and overlap(a["box"], fig["modebar"]):
            problems.append(f"{name}: the toolbar (modebar) covers {a['what']}")
        problems += [
            f"{name}: {a['what']} and {b['what']} overlap"
            for b in titles[i + 1 :]
            if overlap(a["box"], b["box"])
        ]
    return problems


def _press(locator, phone: bool, position: dict | None = None) -> None:
    """Click ``locator`` with the mouse, or on the phone tap it, as a reader would (Playwright
    first scrolls it into view and checks that nothing covers it)."""
    if phone:
        locator.tap(position=position, timeout=3000)
    else:
        locator.click(position=position, timeout=3000)


def _pick(entries: list[dict], reach: dict) -> dict | None:
    """The entry to choose: the last one that is not active, preferring one that lies within
    ``reach`` (the figure, on the screen), as the others are reported by the layout checks."""
    others = [e for e in entries if not e["active"]]
    reachable = [e for e in others if inside(e["box"], reach)]
    return (reachable or others or [None])[-1]


def _blocked(exc: Exception) -> str:
    """Why Playwright could not click or tap: the call log's line that says, else its first."""
    lines = [line.strip(" -") for line in str(exc).splitlines()]
    why = [line for line in lines if "intercepts pointer events" in line or "outside" in line]
    return (why or lines)[-1 if why else 0][:160]


def _drive_control(page, gd_id: str, control, what: str, phone: bool) -> list[str]:
    """Choose another entry of one menu or slider (``control``, its group) as a reader would;
    return the problems: an open dropdown's entries outside the figure, a control with one
    entry, an entry that cannot be chosen, a figure that does not change."""
    name, verb = f"figure #{gd_id}", "tapping" if phone else "clicking"
    dropdown = what.startswith("dropdown")
    entries = page.locator(f"[id='{gd_id}'] {OPEN_LIST}") if dropdown else control.locator(BUTTONS)
    before = page.evaluate(_DIGEST, gd_id)
    problems = []
    try:
        if dropdown:
            _press(control.locator(".updatemenu-header"), phone)
            entries.first.wait_for(timeout=3000)
        found = control.evaluate(_ENTRIES, [BUTTONS, OPEN_LIST])
        figure = found["figure"]
        if dropdown:
            out = [e["label"] for e in found["entries"] if not inside(e["box"], figure)]
            if out:
                problems.append(
                    f"{name}: {len(out)} of the {len(found['entries'])} entries of its open {what}"
                    f" lie outside the figure: {', '.join(map(repr, out[:5]))}"
                )
        reach = {**figure, "left": max(figure["left"], 0)}
        reach["right"] = min(figure["right"], page.viewport_size["width"])
        entry = _pick(found["entries"], reach)
        if entry is None:
            if dropdown:  # close it again
                _press(control.locator(".updatemenu-header"), phone)
            return problems + [
                f"{name}: its {what} has a single entry: choosing it changes nothing"
            ]
        if what.startswith("slider"):
            action = f"{verb} its {what} at step {entry['label']!r}"
            hit = control.locator(".slider-rail-touch-rect")
            hit = hit if hit.count() else control.locator(".slider-rail-rect")
            _press(hit.first, phone, entry["at"])
        else:
            action = f"{verb} {entry['label']!r} in its {what}"
            _press(entries.nth(entry["nth"]), phone)
    except Exception as exc:  # noqa: BLE001 - a control a reader cannot use is the problem
        return problems + [f"{name}: cannot use its {what}: {_blocked(exc)}"]
    try:
        page.wait_for_function(
            f"([id, before]) => ({_DIGEST})(id) !== before",
            arg=[gd_id, before],
            timeout=3000,
            polling=100,
        )
    except Exception:  # noqa: BLE001 - a figure that does not change is the problem reported
        problems.append(f"{name}: {action} changes nothing")
    return problems


def _check_controls(page, phone: bool) -> list[str]:
    """Every menu (buttons or dropdown) and slider of every visible figure changes its figure
    when a reader chooses another entry (see ``_drive_control``)."""
    problems = []
    for gd_id in page.evaluate(
        f"() => [...document.querySelectorAll('.plotly-graph-div')]"
        f".filter(gd => gd.checkVisibility() && gd.querySelector('{MENUS}, {SLIDERS}'))"
        f".map(gd => gd.id)"
    ):
        menus = page.locator(f"[id='{gd_id}'] {MENUS}")
        for m in range(menus.count()):
            kind = "dropdown" if menus.nth(m).locator(".updatemenu-header").count() else "buttons"
            problems += _drive_control(page, gd_id, menus.nth(m), f"{kind} (menu {m + 1})", phone)
        sliders = page.locator(f"[id='{gd_id}'] {SLIDERS}")
        for k in range(sliders.count()):
            problems += _drive_control(page, gd_id, sliders.nth(k), f"slider {k + 1}", phone)
    return problems


def _page_weight(requests: list) -> int:
    """Bytes of the response bodies of ``requests`` (finished Playwright requests)."""
    total = 0
    for request in requests:
        with contextlib.suppress(Exception):  # a request whose sizes are gone weighs nothing
            total += max(request.sizes()["responseBodySize"], 0)
    return total


def _check_page(context, url: str, phone: bool = False) -> tuple[list[str], dict]:
    """Open one page in the Playwright browser ``context``; return its problems and what it
    measured (``bytes``, ``figures``, ``fcp_ms``); ``phone``: the context is a phone's, and
    navigation is checked as a phone's."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    problems: list[str] = []
    failed: dict[str, str] = {}
    inflight: set[str] = set()
    finished: list = []
    measured: dict = {"bytes": None, "figures": None, "fcp_ms": None}

    def on_route(route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            failed.setdefault(route.request.url, "external host (blocked)")
            route.abort()
        else:
            route.continue_()

    def on_console(msg) -> None:
        # failed loads are reported from the network events (with their URL) instead
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console.error: {msg.text[:200]}")

    def on_response(response) -> None:
        if response.status >= 400:
            failed.setdefault(response.url, f"HTTP {response.status}")

    def on_finished(request) -> None:
        inflight.discard(request.url)
        finished.append(request)

    page = context.new_page()
    # routing every request also keeps the browser's cache out: each page loads all it needs
    page.route("**/*", on_route)
    page.on("pageerror", lambda e: problems.append(f"JavaScript error: {e}"))
    page.on("console", on_console)
    page.on("request", lambda r: inflight.add(r.url))
    page.on("requestfinished", on_finished)
    page.on(
        "requestfailed",
        lambda r: (
            inflight.discard(r.url),
            failed.setdefault(r.url, f"request failed ({r.failure})"),
        ),
    )
    page.on("response", on_response)
    try:
        response = page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        if response is None or response.status != 200:
            problems.append(f"page answered {response.status if response else 'nothing'}")
        _wait_quiet(page, inflight)
        page.evaluate(_MATHJAX_DONE)
        # on a timeout the unrendered parts are reported below from the page's state
        # (figures may wait for plotly.js, loaded after the page)
        with contextlib.suppress(PlaywrightTimeoutError):
            page.wait_for_function(_READY, timeout=TIMEOUT_MS, polling=200)
        _wait_quiet(page, inflight)
        state = page.evaluate(_INSPECT)
        measured.update(
            bytes=_page_weight(list(finished)),
            figures=state["figures"],
            fcp_ms=page.evaluate(
                "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
            ),
        )
        if not state["figures"] and measured["bytes"] >= MAX_PLAIN_BYTES:
            problems.append(
                f"the page has no figure but weighs {measured['bytes']:,} bytes "
                f"(at most {MAX_PLAIN_BYTES:,}): it loads what it does not use"
            )
        if phone:
            width = page.evaluate("() => document.documentElement.scrollWidth")
            if width > page.viewport_size["width"]:
                problems.append(f"the page is {width} px wide, wider than the screen")
        for fig in page.evaluate(_FIGURES):
            problems += figure_layout_problems(fig, page.viewport_size["width"])
        problems += _check_controls(page, phone)
        problems += _check_navigation(page, phone)
        problems += _check_solutions(page)
    except Exception as exc:  # noqa: BLE001 - a page that cannot be opened is a problem
        problems.append(f"could not open: {exc}")
        page.close()
        return problems + [f"{why}: {u}" for u, why in failed.items()], measured
    page.close()
    problems += [f"{why}: {u}" for u, why in failed.items()]
    if state["blankFigs"]:
        why = "" if state["plotly"] else " (plotly.js never loaded)"
        problems.append(
            f"{len(state['blankFigs'])} plotly figure(s) not drawn within {TIMEOUT_MS // 1000} s"
            f"{why}: " + ", ".join(f"#{i}" for i in state["blankFigs"])
        )
    if state["rawMath"]:
        problems.append(
            f"{len(state['rawMath'])} math element(s) left as raw TeX, e.g. {state['rawMath'][0]!r}"
        )
    if state["math"] and not state["typeset"]:
        problems.append("page has math but MathJax typeset nothing")
    for err in state["mathErrors"]:
        problems.append(f"MathJax error: {err}")
    if state["widgets"] and not state["hasWidgetState"]:
        problems.append("widget views but no saved widget state (execute with store_widget_state)")
    for model_id in state["blankWidgets"]:
        problems.append(f"ipywidget not rendered: model {model_id}")
    return problems, measured


REPORT_COLUMNS = ("page", "width", "KB", "figures", "FCP ms")


def report_rows(measurements: list[dict]) -> list[list[str]]:
    """The weight table, one row per page and width: ``REPORT_COLUMNS`` as text."""

    def num(value, scale: float = 1) -> str:
        return "?" if value is None else f"{value / scale:,.0f}"

    return [
        [m["page"], str(m["width"]), num(m["bytes"], 1000), num(m["figures"]), num(m["fcp_ms"])]
        for m in measurements
    ]


def format_table(measurements: list[dict], markdown: bool = False) -> str:
    """The weight table as aligned text, or as a markdown table."""
    rows = report_rows(measurements)
    if markdown:
        lines = [REPORT_COLUMNS, ["---"] + ["---:"] * (len(REPORT_COLUMNS) - 1), *rows]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines) + "\n"
    widths = [max(len(str(r[i])) for r in [REPORT_COLUMNS, *rows]) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in [REPORT_COLUMNS, *rows]
    )


def write_report(measurements: list[dict], path: Path) -> None:
    """Write the weight table to ``path``: JSON when it ends in ``.json``, else markdown."""
    path = Path(path)
    if path.suffix == ".json":
        path.write_text(json.dumps(measurements, indent=1) + "\n")
    else:
        path.write_text(format_table(measurements, markdown=True))


def check_site(html_dir: Path, verbose: bool = True, report: Path | None = None) -> list[str]:
    """Check every page of the built site ``html_dir``; return the problems as ``page: problem``.
    ``verbose``: print each page's result and the weight table; ``report``: write the table there
    (see ``write_report``)."""
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir)
    if not any(html_dir.glob("*.html")):
        raise ValueError(f"no built site in {html_dir} (expected .html pages, e.g. index.html)")
    pages = site_pages(html_dir)
    executable = os.environ.get("CHROMIUM", CHROMIUM)
    if not Path(executable).exists():
        raise ValueError(f"no Chromium at {executable} (install Debian's chromium or set CHROMIUM)")
    problems: list[str] = []
    measurements: list[dict] = []
    with serve(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for options in VIEWPORTS:
                context = browser.new_context(service_workers="block", **options)
                phone = options.get("is_mobile", False)
                width = f"{options['viewport']['width']}px"
                for rel in pages:
                    page_problems, measured = _check_page(context, base + rel.as_posix(), phone)
                    measurements.append(
                        {"page": rel.as_posix(), "width": options["viewport"]["width"], **measured}
                    )
                    problems += [f"{rel.as_posix()} at {width}: {p}" for p in page_problems]
                    if verbose:
                        print(f"{'OK  ' if not page_problems else 'FAIL'} {rel.as_posix()} {width}")
                        for p in page_problems:
                            print(f"       {p}")
                context.close()
        finally:
            browser.close()
    if report is not None:
        write_report(measurements, report)
    if verbose:
        print()
        print(format_table(measurements))
        print(f"{len(pages)} pages checked at {len(VIEWPORTS)} widths, {len(problems)} problem(s)")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: ``site_check.py HTML_DIR [--report FILE]``; returns the exit status."""
    parser = argparse.ArgumentParser(description="Check the built site in headless Chromium.")
    parser.add_argument("html_dir", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument(
        "--report", type=Path, help="also write the weight table there (.json: JSON; else markdown)"
    )
    args = parser.parse_args(argv)
    try:
        problems = check_site(args.html_dir, report=args.report)
    except ValueError as exc:
        print(f"site check: {exc}", file=sys.stderr)
        return 2
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
