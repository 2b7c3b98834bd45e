"""The course's one figure theme: a plotly template that every figure of the book uses.

:func:`llmcourse.viz.setup` makes it plotly's default, so the figures of ``llmcourse.viz`` and
the ones a chapter draws itself with ``plotly.graph_objects`` look alike: white background,
light grid, one font, titles at the top left under the toolbar, legends in a row at the bottom of
the figure (on a phone a legend at the side would take a third of the width).

The title hangs from the figure's top edge, ``TITLE_PAD_TOP`` px down (clear of the toolbar in the
top right corner), and the top margin is what keeps it clear of the plot: ``margin.t`` defaults to
room for one line; :func:`llmcourse.viz.render.fit_header` sets it for a figure's title lines,
subplot titles and controls, and the site's ``figures.js`` adds room for the lines it wraps on a
phone. (Plotly's title ``automargin`` is off: it draws a title of several lines anchored at the
top above the figure, and with the title on the plot's edge it loses its push on a redraw.) The
legend stands on the figure's bottom edge (``yref="container"``), which adds its height to the
bottom margin, so it never covers the x axis's tick labels or title.

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
COLORWAY = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#eeca3b",
    "#9d755d",
    "#ff9da7",
    "#bab0ac",
]
"""Ten categorical colours, close to Tableau 10: the traces of a figure, in order."""
FAINT = "#b7cbe0"
"""The first colour, pale: for what a figure leaves out (tokens beyond a top-k cut)."""


TITLE_PAD_TOP = 32
"""Pixels above the title: the toolbar (shown in the top right corner on hover) stays clear."""
TITLE_LINE_PX = 20
"""Height of one line of the title (15 px font)."""
TITLE_GAP = 12
"""Pixels between the title and what is under it (the plot, subplot titles or a control)."""
MULTILINE_SHIFT = 11
"""Pixels that plotly draws a title of several lines higher than one of a single line (its
``pad.t`` grows by as much to keep it under the toolbar and inside the figure)."""

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
        "title": {
            "x": 0,
            "xref": "container",
            "xanchor": "left",
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": TITLE_PAD_TOP, "l": 10},
            "automargin": False,
            "font": {"size": 15},
        },
        # one row (or a few) against the figure's bottom edge: its height is added to the bottom
        # margin, under the x axis's tick labels and title
        "legend": {
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
        },
        "margin": {"l": 60, "r": 20, "t": TITLE_PAD_TOP + TITLE_LINE_PX + TITLE_GAP, "b": 50},
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
