"""Check the built site in a real browser: every page loads offline and renders.

Usage: ``python tests/site_check.py _build/html`` (exit status 1 when a page has a problem).

The build directory is served on a localhost port and every ``.html`` page (outside ``_static``,
``_sources``, ``_images``...) is opened in Debian's headless Chromium through Playwright
(``executable_path``, overridable with the ``CHROMIUM`` environment variable; never
``playwright install``), once at 1366 × 900 px and once at a phone's 390 × 844 px (touch). A
page passes at each width when:

- it answers HTTP 200;
- no request fails, none answers >= 400 and none goes to a host other than localhost
  (external requests are blocked and listed);
- no JavaScript error is thrown (``pageerror``) and nothing is logged with ``console.error``;
- every plotly figure (``.plotly-graph-div``) has drawn its SVG;
- math was typeset by MathJax: no raw TeX is left in ``.math`` elements and no ``mjx-merror``;
- every ipywidget view (``script[type="application/vnd.jupyter.widget-view+json"]``) was
  rendered by the widget manager;
- on the phone, the page is no wider than the screen (nothing to scroll sideways);
- every exercise solution (a hidden code cell, or a "Solution" dropdown) shows neither its
  code nor its output until its toggle is opened, and shows them after;
- navigation works: there is one visible sidebar button and one search control; on the wide
  screen a click on the button hides the chapter list and a second click shows it again; on the
  phone the button, pressed from the keyboard, opens the chapter list as a drawer and Escape
  closes it, and a page with a table of contents has a contents button that does the same for
  it.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
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

# Evaluated in the page: what is rendered and what is not.
_INSPECT = """() => {
  const figs = [...document.querySelectorAll('.plotly-graph-div')];
  const blankFigs = figs.filter(d => !d.querySelector('.main-svg, svg')).map(d => d.id);
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
    figures: figs.length, blankFigs,
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


def _check_page(context, url: str, phone: bool = False) -> list[str]:
    """Open one page in the Playwright browser ``context`` and return its problems; ``phone``:
    the context is a phone's, and navigation is checked as a phone's."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    problems: list[str] = []
    failed: dict[str, str] = {}
    inflight: set[str] = set()

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

    page = context.new_page()
    page.route("**/*", on_route)
    page.on("pageerror", lambda e: problems.append(f"JavaScript error: {e}"))
    page.on("console", on_console)
    page.on("request", lambda r: inflight.add(r.url))
    page.on("requestfinished", lambda r: inflight.discard(r.url))
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
        with contextlib.suppress(PlaywrightTimeoutError):
            page.wait_for_function(_READY, timeout=TIMEOUT_MS, polling=200)
        _wait_quiet(page, inflight)
        state = page.evaluate(_INSPECT)
        if phone:
            width = page.evaluate("() => document.documentElement.scrollWidth")
            if width > page.viewport_size["width"]:
                problems.append(f"the page is {width} px wide, wider than the screen")
        problems += _check_navigation(page, phone)
        problems += _check_solutions(page)
    except Exception as exc:  # noqa: BLE001 - a page that cannot be opened is a problem
        problems.append(f"could not open: {exc}")
        page.close()
        return problems + [f"{why}: {u}" for u, why in failed.items()]
    page.close()
    problems += [f"{why}: {u}" for u, why in failed.items()]
    for div_id in state["blankFigs"]:
        problems.append(f"plotly figure not drawn: #{div_id}")
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
    return problems


def check_site(html_dir: Path, verbose: bool = True) -> list[str]:
    """Check every page of the built site ``html_dir``; return the problems as ``page: problem``."""
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir)
    if not any(html_dir.glob("*.html")):
        raise ValueError(f"no built site in {html_dir} (expected .html pages, e.g. index.html)")
    pages = site_pages(html_dir)
    executable = os.environ.get("CHROMIUM", CHROMIUM)
    if not Path(executable).exists():
        raise ValueError(f"no Chromium at {executable} (install Debian's chromium or set CHROMIUM)")
    problems: list[str] = []
    with serve(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for options in VIEWPORTS:
                context = browser.new_context(service_workers="block", **options)
                phone = options.get("is_mobile", False)
                width = f"{options['viewport']['width']}px"
                for rel in pages:
                    page_problems = _check_page(context, base + rel.as_posix(), phone)
                    problems += [f"{rel.as_posix()} at {width}: {p}" for p in page_problems]
                    if verbose:
                        print(f"{'OK  ' if not page_problems else 'FAIL'} {rel.as_posix()} {width}")
                        for p in page_problems:
                            print(f"       {p}")
                context.close()
        finally:
            browser.close()
    if verbose:
        print(f"{len(pages)} pages checked at {len(VIEWPORTS)} widths, {len(problems)} problem(s)")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: ``site_check.py HTML_DIR``; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python tests/site_check.py _build/html", file=sys.stderr)
        return 2
    try:
        problems = check_site(Path(args[0]))
    except ValueError as exc:
        print(f"site check: {exc}", file=sys.stderr)
        return 2
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
