"""The book's plotly renderer: figures that work on the static site, in Jupyter and in Colab.

``setup()`` makes the course's theme (:mod:`llmcourse.viz.theme`) plotly's default template and
makes plotly emit, for each figure, the plotly mimetype (JupyterLab draws it) and HTML that the
site draws with its own copy of plotly.js (``scripts/site/figures.js``, offline, loaded only on
pages with a figure); inside Google Colab it picks plotly's ``colab`` renderer instead.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer
from plotly.utils import PlotlyJSONEncoder

from llmcourse.validate import check_float
from llmcourse.viz import theme

RENDERER = "llmcourse"
"""Name of the book renderer registered by :func:`setup`."""

_CONFIG: dict[str, Any] = {"responsive": True, "displaylogo": False}


def round_sig(values: Sequence[float], sig: int = 4) -> list[float]:
    """``values`` rounded to ``sig`` significant digits: figures keep what the eye can see, and
    their stored HTML does not change with float noise from one run to the next."""
    return [float(f"{v:.{sig}g}") for v in values]


# ----------------------------------------------------------------------------- the renderer
def _figure_json(fig_dict: Mapping[str, Any]) -> str:
    """Canonical JSON of a figure dict (sorted keys), the input of the div id hash."""
    return json.dumps(fig_dict, cls=PlotlyJSONEncoder, sort_keys=True, separators=(",", ":"))


def _as_dict(fig: go.Figure | Mapping[str, Any]) -> dict[str, Any]:
    return fig.to_dict() if isinstance(fig, go.Figure) else dict(fig)


FIGURE_MIME = "application/vnd.llmcourse.figure+json"
"""``type`` of the ``<script>`` that holds a figure's JSON in its HTML; the site's ``figures.js``
draws every such figure, loading ``plotly.min.js`` only on pages that have one."""

_DEFAULT_HEIGHT = 450  # plotly's own default height, in px


def figure_html(fig: go.Figure | Mapping[str, Any], div_id: str | None = None) -> str:
    """The figure as an empty ``<div>`` followed by a JSON ``<script>`` that the site draws.

    The script is data (type :data:`FIGURE_MIME`), not code: the site's ``figures.js`` loads
    plotly.js without blocking the page and draws each figure into its div, which keeps the
    figure's height meanwhile so that nothing moves when it appears. The div id defaults to
    ``"llmc-"`` + a hash of the figure, so the same figure gives the same bytes on every run
    (notebook outputs compare equal when re-executed).
    """
    fig_dict = _as_dict(fig)
    if div_id is None:
        div_id = "llmc-" + hashlib.sha256(_figure_json(fig_dict).encode()).hexdigest()[:16]
    layout = fig_dict.get("layout", {})
    height = layout.get("height") or _DEFAULT_HEIGHT
    spec = {"data": fig_dict.get("data", []), "layout": layout, "config": _CONFIG}
    # "<", ">" and "&" as JSON escapes, so that no text of the figure can close the script
    payload = (
        json.dumps(spec, cls=PlotlyJSONEncoder, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return (
        f'<div id="{div_id}" class="plotly-graph-div llmc-figure" '
        f'style="height:{int(height)}px; width:100%;"></div>'
        f'<script type="{FIGURE_MIME}" data-target="{div_id}">{payload}</script>'
    )


class BookRenderer(MimetypeRenderer):
    """Plotly renderer for the book: ``text/html`` for the site (:func:`figure_html`) + the
    plotly mimetype for JupyterLab. A figure
    shown twice gets ``-2``, ``-3``... appended to its id so that ids stay unique on a page.
    """

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}  # shared by plotly's shallow copies of the renderer

    def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, Any]:
        digest = hashlib.sha256(_figure_json(fig_dict).encode()).hexdigest()[:16]
        self._seen[digest] = self._seen.get(digest, 0) + 1
        n = self._seen[digest]
        div_id = f"llmc-{digest}" if n == 1 else f"llmc-{digest}-{n}"
        plotly_json = json.loads(json.dumps(fig_dict, cls=PlotlyJSONEncoder))
        plotly_json["config"] = dict(_CONFIG)
        return {
            "text/html": figure_html(fig_dict, div_id=div_id),
            "application/vnd.plotly.v1+json": plotly_json,
        }


def setup() -> str:
    """Make the course's theme plotly's default template and the book renderer its default
    renderer; return the renderer's name.

    Inside Google Colab the default renderer becomes plotly's ``"colab"``.
    """
    theme.register(default=True)
    pio.renderers[RENDERER] = BookRenderer()
    name = "colab" if "google.colab" in sys.modules else RENDERER
    pio.renderers.default = name
    return name


def live_figure(box: Any, draw: Callable[[str], go.Figure | None], label: str) -> Any:
    """``box`` (an ipywidgets text widget) above an ``Output`` that shows ``draw(box.value)``,
    redrawn on every change; ``None`` from ``draw`` clears it. ``label`` is the text/plain
    stand-in. Needs a kernel; on the static site the widget is inert. Returns a ``VBox``."""
    import ipywidgets as widgets

    out = widgets.Output()

    def render(text: str) -> None:
        fig = draw(text)
        if fig is None:
            out.outputs = ()
            return
        bundle = dict(fig._repr_mimebundle_() or BookRenderer().to_mimebundle(fig.to_dict()))
        bundle.setdefault("text/plain", label)
        out.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    box.observe(lambda change: render(change["new"]), names="value")
    render(box.value)
    return widgets.VBox([box, out])


def visibility_slider(labels: Sequence[str], titles: Sequence[str], prefix: str) -> dict[str, Any]:
    """A plotly slider whose step ``k`` shows only trace ``k`` and sets the title to
    ``titles[k]``: interactive on a static page, since every trace is precomputed. Placed by
    :func:`fit_header`."""
    n = len(labels)
    steps = [
        {
            "method": "update",
            "label": labels[k],
            "args": [{"visible": [j == k for j in range(n)]}, {"title.text": titles[k]}],
        }
        for k in range(n)
    ]
    return {"active": 0, "steps": steps, "currentvalue": {"prefix": prefix}}


def phone_variant(fig: go.Figure, phone: go.Figure) -> go.Figure:
    """Let ``fig`` carry ``phone``, the same figure laid out for a phone's width, in
    ``layout.meta.phone`` (its data and layout); the site's ``figures.js`` draws that one on a
    phone, JupyterLab ignores it. Returns ``fig``."""
    spec = phone.to_plotly_json()
    spec["layout"].pop("template", None)  # the figure's own template serves both
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    fig.layout.meta = {**meta, "phone": {"data": spec["data"], "layout": spec["layout"]}}
    return fig


# ----------------------------------------------------------------------------- the header
MENU_ROW_PX = 44
"""Room for a row of buttons or a dropdown's header (33 px high) above the plot."""
SLIDER_ROW_PX = 98
"""Room for a slider above the plot: its current value, its rail and its step labels."""
NOTE_ROW_PX = 28
"""Room for subplot titles (annotations standing on the top edge of the plots)."""
DROPDOWN_ENTRY_PX = 35
"""Height of one entry of an open dropdown (33 px and a gap); the list opens down over the plot."""


def _text(title: Any) -> str | None:
    if title is None or isinstance(title, str):
        return title
    return title.get("text") if isinstance(title, Mapping) else getattr(title, "text", None)


def title_lines(layout: Mapping[str, Any]) -> int:
    """Lines of the longest title a figure shows (``layout`` as a dict): its own, or one that an
    entry of its menus or sliders sets; 0 without a title."""
    texts = [_text(layout.get("title"))]
    for control in [*layout.get("updatemenus", []), *layout.get("sliders", [])]:
        for entry in control.get("buttons", control.get("steps", [])):
            for arg in entry.get("args", [])[1:2]:
                if isinstance(arg, Mapping):
                    texts += [arg.get("title.text"), _text(arg.get("title"))]
    return max((t.lower().count("<br") + 1 for t in texts if t), default=0)


def _on_top_edge(note: Mapping[str, Any]) -> bool:
    """Whether an annotation stands on the top edge of a plot, like a subplot title."""
    yref = str(note.get("yref", ""))
    paper = yref == "paper" or yref.endswith("domain")
    return paper and note.get("yanchor") == "bottom" and float(note.get("y", 0)) >= 1


def header_height(lines: int, notes: bool = False, rows: int = 0) -> int:
    """The top margin for a title of ``lines`` lines (0: none), a row of subplot titles
    (``notes``) and ``rows`` px of controls: the title hangs ``TITLE_PAD_TOP`` px down from the
    figure's top edge, clear of the toolbar, and the rest stack under it."""
    title = lines * theme.TITLE_LINE_PX + theme.TITLE_GAP if lines else 0
    return theme.TITLE_PAD_TOP + title + (NOTE_ROW_PX if notes else 0) + rows


def fit_header(fig: go.Figure) -> go.Figure:
    """Lay out what stands above the plot — the title, subplot titles, menus and sliders — so
    that it fits in the figure and nothing overlaps, in JupyterLab as on the site; return
    ``fig``.

    - A menu or slider with fewer than two entries is removed: choosing its only entry would
      change nothing.
    - Each menu or slider is placed at the left, on the plot's top edge (paper ``x=0``, ``y=1``,
      anchored at its bottom; a second one above the first), over the subplot titles if any.
    - The top margin is set to :func:`header_height`: the title's lines (the most that any
      entry of a control sets), the subplot titles and the controls' rows.
    - The figure grows by the controls' rows (``layout.height``, and any height an entry sets),
      so the plot keeps the height it was given, and it is made tall enough for the entries of
      an open dropdown, which open down over the plot.
    """
    layout = fig.layout
    menus = [m.to_plotly_json() for m in layout.updatemenus if len(m.buttons) >= 2]
    sliders = [s.to_plotly_json() for s in layout.sliders if len(s.steps) >= 2]
    notes = any(_on_top_edge(a.to_plotly_json()) for a in layout.annotations)
    offset = NOTE_ROW_PX if notes else 0  # the px under each control, down to the plot
    tallest = 0  # the most px an open dropdown reaches below the plot's top edge
    for menu in menus:
        dropdown = menu.get("type", "dropdown") == "dropdown"
        menu.update(
            x=0,
            xanchor="left",
            y=1,
            yanchor="bottom",
            direction="down" if dropdown else "right",
            showactive=True,
            pad={"t": 0, "r": 0, "l": 0, "b": offset + 6},
        )
        if dropdown:
            tallest = max(tallest, len(menu["buttons"]) * DROPDOWN_ENTRY_PX + 10 - offset)
        offset += MENU_ROW_PX
    for slider in sliders:
        slider.update(
            x=0, xanchor="left", len=1, y=1, yanchor="bottom", pad={"t": 0, "b": offset + 20}
        )
        slider["currentvalue"] = {"xanchor": "left", "offset": 6, **slider.get("currentvalue", {})}
        offset += SLIDER_ROW_PX
    rows = offset - (NOTE_ROW_PX if notes else 0)
    for control in menus + sliders:
        for entry in control.get("buttons", control.get("steps", [])):
            for arg in entry.get("args", [])[1:2]:
                if isinstance(arg, dict) and arg.get("height"):
                    arg["height"] = int(arg["height"]) + rows
    layout.updatemenus, layout.sliders = menus, sliders  # (update_layout keeps them on [])
    lines = title_lines(layout.to_plotly_json())
    if lines or offset:
        layout.margin.t = header_height(lines, notes, rows)
    if lines > 1:
        layout.title.pad.t = theme.TITLE_PAD_TOP + theme.MULTILINE_SHIFT
    if rows:
        layout.height = (layout.height or _DEFAULT_HEIGHT) + rows
    if tallest:
        layout.height = max(layout.height, layout.margin.t + tallest)
    return fig


def percent_bars(
    results: Mapping[str, Mapping[str, float]],
    y_title: str,
    title: str | None = None,
    text_digits: int = 1,
    hover_digits: int = 2,
    height: int = 360,
    y_max: float = 1.1,
) -> go.Figure:
    """Grouped bars of shares in [0, 1]: ``results[group][category]``, one colour per group.

    The categories are the union of every group's keys, in the order first seen (a missing one
    shows no bar). Every bar carries its value above it, all in one text size (plotly would
    shrink each label to its own bar's width: ``constraintext="none"``); where the bars are too
    narrow for that (on a phone), the site's ``figures.js`` writes the values upright. Chapter
    7.1's accuracies and chapter 7.2's exact-match scores use it.
    """
    categories: list[str] = []
    for name, scores in results.items():
        for category, value in scores.items():
            check_float(f"{y_title} of {name!r} for {category!r}", value, 0.0, 1.0)
        categories += [c for c in scores if c not in categories]
    fig = go.Figure()
    for name, scores in results.items():
        raw = [float(scores[c]) if c in scores else None for c in categories]
        fig.add_trace(
            go.Bar(
                x=categories,
                y=[None if v is None else round(v, 4) for v in raw],
                name=name,
                text=["" if v is None else f"{v:.{text_digits}%}" for v in raw],
                textposition="outside",
                textangle=0,
                textfont={"size": 11},
                constraintext="none",
                cliponaxis=False,
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.{hover_digits}%}}<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": title} if title else None,
        barmode="group",
        height=height,
        yaxis={"range": [0, y_max], "tickformat": ".0%", "title": y_title},
        margin={"t": 30},
    )
    return fit_header(fig)
