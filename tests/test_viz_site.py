"""The site's figures.js draws the course's figures so that they fit and respond, on a laptop's
1366 px screen and a phone's 390 px one: on a page of figures like the chapters' (the longest
titles, a 10-entry dropdown, sliders, subplot titles, grouped bars with values), every figure
passes the site check's figure checks (``tests/site_check.py``: inside its cell, controls on the
screen and inside the figure, titles clear of each other and of the toolbar, every control
changes the figure) and its title, controls, legend and axis titles stay clear of each other.

Needs Playwright and Debian's Chromium (``CHROMIUM`` overrides the path); skipped without them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import plotly
import plotly.graph_objects as go
import pytest
import site_check as sc
import torch

from llmcourse import viz

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", sc.CHROMIUM)
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="course.css"><script defer src="figures.js"></script>
<style>body {{ margin: 0 16px; }} .cell_output {{ max-width: 760px; margin: 24px 0; }}</style>
</head><body>{body}</body></html>"""

# Evaluated in the page: what overlaps or sticks out in each figure, beyond the site check's
# own checks: the title against the figure's top edge and against the controls, the legend
# against the axes' tick labels and titles, an axis title against the figure's sides.
_CLEAR = """() => [...document.querySelectorAll('.plotly-graph-div')].flatMap(gd => {
  const box = e => e.getBoundingClientRect();
  const hit = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const svg = box(gd.querySelector('.main-svg'));
  const out = [];
  const title = gd.querySelector('.gtitle');
  if (title && title.textContent.trim()) {
    if (box(title).top < svg.top - 1) out.push('the title sticks out of the top');
    gd.querySelectorAll('.updatemenu-header-group, .slider-group').forEach(c => {
      if (hit(box(c), box(title))) out.push('a control overlaps the title');
    });
  }
  const legend = gd.querySelector('.legend .bg');
  if (legend && box(legend).width) {
    gd.querySelectorAll('.xtick text, .g-xtitle text, [class^="g-x"][class$="title"] text')
      .forEach(t => { if (hit(box(legend), box(t))) out.push(`the legend covers "${t.textContent}"`); });
    if (box(legend).bottom > svg.bottom + 1) out.push('the legend sticks out of the bottom');
  }
  gd.querySelectorAll('[class^="g-x"][class$="title"] text').forEach(t => {
    if (box(t).left < svg.left - 1 || box(t).right > svg.right + 1)
      out.push(`the axis title "${t.textContent}" is cut off`);
  });
  return out.map(o => `figure #${gd.id}: ${o}`);
})"""


def neighbours(queries: list[str], k: int = 8) -> dict:
    return {
        view: {q: [(f"{q}-{i}", round(0.9 - 0.05 * i, 2)) for i in range(k)] for q in queries}
        for view in ("random, as initialised", "trained on Moby-Dick")
    }


def figures() -> list[go.Figure]:
    """Figures like the chapters' hardest ones to lay out."""
    torch.manual_seed(0)
    families = ["add", "capital", "count", "first_word", "last_word", "repeat", "overall"]
    examples = [
        (f"test message {k} (true {'spam' if k < 2 else 'ham'})", list("abcdefgh"), [0.1] * 8)
        for k in range(5)
    ]
    buttons = go.Figure(
        [go.Bar(x=list("abcdefghij"), y=[0.05] * 10, visible=k == 0) for k in range(4)]
    )
    for k in range(1, 4):
        buttons.data[k].y = [0.1 * k] * 10
    buttons.update_layout(
        title="p(next token | the last k tokens of the sentence), counted in Moby-Dick",
        xaxis_title="next token (top 10)",
        updatemenus=[
            {
                "type": "buttons",
                "buttons": [
                    {
                        "label": f"context: {' in my money'[: 3 * k + 3]!r}",
                        "method": "update",
                        "args": [{"visible": [j == k for j in range(4)]}],
                    }
                    for k in range(4)
                ],
            }
        ],
    )
    return [
        viz.neighbour_bars(neighbours([f"word{i}" for i in range(10)]), title="Nearest words"),
        viz.activation_plot(
            {"ReLU": torch.relu, "GELU (tanh, GPT-2)": torch.nn.functional.gelu},
            title="ReLU and GELU",
        ),
        viz.position_explorer(examples, title="P(spam) if the message ended at this token"),
        viz.attention_step_view(
            torch.randn(6, 6),
            ["The", " whale", " dove", " under", " the", " ship"],
            title="one head",
        ),
        viz.exact_match_bars(
            {
                name: {f: (k * 0.37 + i * 0.13) % 1.0 for i, f in enumerate(families)}
                for k, name in enumerate(["before", "after 300 steps", "after 4,000 steps"])
            },
            title="Exact match on the test split, per task family",
        ),
        viz.position_similarity(
            {
                "learned, as initialised (random)": torch.randn(16, 8),
                "sinusoidal": torch.randn(16, 8),
            },
            title="Cosine similarity between two positions' vectors",
        ),
        viz.sampling_explorer(
            torch.randn(40), [f" tok{i}" for i in range(40)], title="The whale …"
        ),
        viz.fit_header(buttons),
    ]


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory):
    """A page of the figures, served with the site's figures.js, course.css and plotly.min.js."""
    import plotly.io as pio

    before = pio.renderers.default, pio.templates.default
    viz.setup()
    try:
        body = "".join(
            f'<div class="cell_output"><div class="output text_html">{viz.figure_html(f)}</div></div>'
            for f in figures()
        )
    finally:
        pio.renderers.default, pio.templates.default = before
    folder = tmp_path_factory.mktemp("site")
    (folder / "index.html").write_text(PAGE.format(body=body))
    shutil.copy(ROOT / "scripts" / "site" / "figures.js", folder)
    shutil.copy(ROOT / "styles" / "course.css", folder)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("options", sc.VIEWPORTS, ids=["1366px", "390px"])
def test_figures_fit_read_and_respond(page_dir, options):
    sync_api = pytest.importorskip("playwright.sync_api")
    width = options["viewport"]["width"]
    phone = options.get("is_mobile", False)
    with sc.serve(page_dir) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=sc.CHROMIUM_ARGS)
        try:
            page = browser.new_context(**options).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "index.html", wait_until="load")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.plotly-graph-div')]"
                ".every(d => d.querySelector('.main-svg'))",
                timeout=30_000,
            )
            page.wait_for_timeout(1000)  # the relayouts figures.js makes once a figure is drawn
            assert page.locator(".plotly-graph-div").count() == len(figures())
            problems = [f"JavaScript error: {e}" for e in errors]
            for fig in page.evaluate(sc._FIGURES):
                problems += sc.figure_layout_problems(fig, width)
            problems += page.evaluate(_CLEAR)
            problems += sc._check_controls(page, phone)
        finally:
            browser.close()
    assert problems == []
