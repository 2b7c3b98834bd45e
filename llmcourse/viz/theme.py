"""The course's one figure theme: a plotly template that every figure of the book uses.

:func:`llmcourse.viz.setup` makes it plotly's default, so the figures of ``llmcourse.viz`` and
the ones a chapter draws itself with ``plotly.graph_objects`` look alike: white background,
light grid, one font, titles on the left under the toolbar, legends in a row under the plot
(on a phone a legend at the side would take a third of the width).

The template is small on purpose: every figure carries it in its stored output, so it holds
only what the course's figures use (plotly's ``plotly_white`` carries defaults for 24 trace
types).
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

THEME = "llmcourse"
"""Name of the course's plotly template."""

FONT = '-apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
COLORWAY = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d"]
"""Tableau-like colours that stay apart for colour-blind readers and in greyscale print."""

_GRID = "#e6e9ef"
_AXIS = {
    "gridcolor": _GRID,
    "linecolor": "#b8bfca",
    "zerolinecolor": _GRID,
    "ticks": "",
    "automargin": True,
    "title": {"standoff": 12},
}


def course_template() -> go.layout.Template:
    """The course's template: font, colours, axes, title under the toolbar, legend below."""
    layout = {
        "font": {"family": FONT, "size": 13, "color": "#222"},
        "colorway": COLORWAY,
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "closest",
        "hoverlabel": {"align": "left", "font": {"family": FONT, "size": 12}},
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "colorscale": {"sequential": "Viridis", "diverging": "RdBu"},
        "coloraxis": {"colorbar": {"outlinewidth": 0, "ticks": ""}},
        # the title starts at the left, 30 px down: clear of the toolbar in the top right
        # corner; automargin makes room for it (and for a second line on a phone)
        "title": {
            "x": 0,
            "xref": "paper",
            "xanchor": "left",
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": 30},
            "automargin": True,
            "font": {"size": 15},
        },
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.18, "yanchor": "top"},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    }
    data = {
        "bar": [{"marker": {"line": {"color": "white", "width": 0.5}}}],
        "heatmap": [{"colorbar": {"outlinewidth": 0, "ticks": ""}}],
    }
    return go.layout.Template(layout=layout, data=data)


def register(default: bool = False) -> str:
    """Add the template to plotly as :data:`THEME` (and make it the default); return its name."""
    pio.templates[THEME] = course_template()
    if default:
        pio.templates.default = THEME
    return THEME
