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


def visibility_slider(
    labels: Sequence[str], titles: Sequence[str], prefix: str, pad_top: int
) -> dict[str, Any]:
    """A plotly slider whose step ``k`` shows only trace ``k`` and sets the title to
    ``titles[k]``: interactive on a static page, since every trace is precomputed."""
    n = len(labels)
    steps = [
        {
            "method": "update",
            "label": labels[k],
            "args": [{"visible": [j == k for j in range(n)]}, {"title.text": titles[k]}],
        }
        for k in range(n)
    ]
    return {"active": 0, "steps": steps, "pad": {"t": pad_top}, "currentvalue": {"prefix": prefix}}


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
    shows no bar). Chapter 7.1's accuracies and chapter 7.2's exact-match scores use it.
    """
    categories: list[str] = []
    for scores in results.values():
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
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.{hover_digits}%}}<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": title} if title else None,
        barmode="group",
        height=height,
        yaxis={"range": [0, y_max], "tickformat": ".0%", "title": y_title},
        margin={"t": 60 if title else 30},
    )
    return fig
