"""Figures of tokens (chapter 1, Tokenizing): coloured token boxes, a BPE merge stepper, token
counts per language, and a live tokenizer for a running kernel."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from llmcourse.validate import check_int
from llmcourse.viz.render import (
    fit_header,
    header_height,
    live_figure,
    phone_variant,
    visibility_slider,
)

PALETTE: tuple[str, ...] = (
    "#a6cee3",
    "#fdbf6f",
    "#b2df8a",
    "#fb9a99",
    "#cab2d6",
    "#ffff99",
    "#8dd3c7",
    "#fccde5",
)
"""Light colours cycled over neighbouring tokens (dark text stays readable on all of them)."""
_MONO = "Menlo, Consolas, 'DejaVu Sans Mono', monospace"
_LINE_PX = 30  # height of one line of boxes, in pixels
_PAD = 0.6  # space around the text of a box, in character widths


# ----------------------------------------------------------------------------- token boxes
def token_colors(n: int, palette: Sequence[str] = PALETTE) -> list[str]:
    """``n`` colours cycled from ``palette`` so neighbouring tokens differ."""
    check_int("n", n, 0)
    if not palette:
        raise ValueError("token_colors needs a non-empty palette")
    return [palette[i % len(palette)] for i in range(n)]


def show_piece(piece: str) -> str:
    """A token's text with invisible characters made visible: space ``·``, newline ``↵``, tab ``→``."""
    out = piece.replace(" ", "·").replace("\n", "↵").replace("\t", "→").replace("\r", "␍")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in out)


def _width(text: str) -> int:
    """Display width in monospace cells (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _escape(text: str) -> str:
    """Escape text for plotly labels: no HTML tags, no ``$...$`` read as TeX."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("$", "&#36;")
    )


def _wrap(widths: Sequence[float], line_width: float) -> tuple[list[float], list[int]]:
    """Left x and line number of each box when boxes of ``widths`` fill lines of ``line_width``."""
    xs: list[float] = []
    lines: list[int] = []
    x, line = 0.0, 0
    for w in widths:
        if x > 0 and x + w > line_width:
            x, line = 0.0, line + 1
        xs.append(round(x, 2))
        lines.append(line)
        x += w
    return xs, lines


def _boxes(
    pieces: Sequence[str],
    hover: Sequence[str],
    y0: float,
    line_width: float,
    name: str,
    visible: bool = True,
) -> tuple[go.Bar, int]:
    """One bar trace drawing ``pieces`` as boxes from line ``y0`` down; also its number of lines."""
    shown = [show_piece(p) for p in pieces]
    widths = [min(max(_width(s), 1) + _PAD, line_width) for s in shown]
    xs, lines = _wrap(widths, line_width)
    trace = go.Bar(
        orientation="h",
        base=xs,
        x=[round(w - 0.12, 2) for w in widths],
        y=[y0 + line for line in lines],
        width=0.82,
        marker={"color": token_colors(len(pieces)), "line": {"width": 0}},
        text=[_escape(s) for s in shown],
        textposition="inside",
        insidetextanchor="middle",
        textangle=0,
        textfont={"family": _MONO, "size": 13, "color": "#1a1a1a"},
        hovertext=list(hover),
        hovertemplate="%{hovertext}<extra></extra>",
        name=name,
        showlegend=False,
        visible=visible,
    )
    return trace, (lines[-1] + 1 if lines else 1)


def _box_layout(fig: go.Figure, n_lines: float, line_width: float, title: str | None) -> None:
    top = header_height(title.lower().count("<br") + 1) if title else 20
    fig.update_layout(
        title={"text": title} if title else None,
        barmode="overlay",
        bargap=0,
        height=int(top + 20 + _LINE_PX * n_lines),
        margin={"l": 10, "r": 10, "t": top, "b": 20},
        plot_bgcolor="white",
        paper_bgcolor="white",
        uniformtext={"minsize": 8, "mode": "show"},
        hoverlabel={"font": {"family": _MONO}},
    )
    fig.update_xaxes(range=[0, line_width], visible=False, fixedrange=True)
    fig.update_yaxes(range=[n_lines - 0.5, -0.5], visible=False, fixedrange=True)


PHONE_LINE_WIDTH = 36
"""Characters of a line of token boxes on a phone: 13 px monospace text fits a 390 px screen."""


def token_explorer(
    rows: Mapping[str, Sequence[tuple[str, int]]],
    title: str | None = None,
    line_width: int = 64,
) -> go.Figure:
    """Tokens of one text under several tokenizers, as coloured boxes, one block per tokenizer.

    ``rows`` maps a tokenizer's name to the text as ``(piece, id)`` tokens. Boxes wrap at
    ``line_width`` characters; hover shows the piece, its id and its index. The figure also
    carries the boxes wrapped at :data:`PHONE_LINE_WIDTH` characters (``layout.meta.phone``),
    which the site draws on a phone, where the wide lines would shrink the text out of reach.
    """
    if not rows:
        raise ValueError(
            "token_explorer needs rows: a non-empty mapping name -> [(piece, id), ...]"
        )
    if line_width < 8:
        raise ValueError(f"token_explorer needs line_width >= 8, got {line_width}")
    fig = _token_blocks(rows, title, line_width)
    if line_width > PHONE_LINE_WIDTH:
        phone_variant(fig, _token_blocks(rows, title, PHONE_LINE_WIDTH))
    return fig


def _token_blocks(
    rows: Mapping[str, Sequence[tuple[str, int]]], title: str | None, line_width: int
) -> go.Figure:
    fig = go.Figure()
    y = 0.0
    for name, tokens in rows.items():
        tokens = list(tokens)
        if not all(isinstance(t, tuple) and len(t) == 2 for t in tokens):
            raise TypeError(f"token_explorer row {name!r} must hold (piece, id) tuples")
        pieces = [str(p) for p, _ in tokens]
        ids = [int(i) for _, i in tokens]
        fig.add_annotation(
            x=0,
            y=y,
            xref="x",
            yref="y",
            xanchor="left",
            yanchor="middle",
            showarrow=False,
            text=f"<b>{_escape(str(name))}</b> · {len(tokens)} tokens",
            font={"size": 14},
        )
        hover = [
            f"{_escape(repr(p))}<br>id {i}<br>token #{k}"
            for k, (p, i) in enumerate(zip(pieces, ids))
        ]
        trace, n_lines = _boxes(pieces, hover, y + 1, line_width, str(name))
        trace.customdata = ids
        fig.add_trace(trace)
        y += 1 + n_lines + 0.4
    _box_layout(fig, y - 0.4, line_width, title)
    return fig


def bpe_merge_stepper(
    steps: Sequence[tuple[str, Sequence[str]]],
    title: str | None = None,
    line_width: int = 64,
) -> go.Figure:
    """A slider over BPE merges: ``steps[0]`` is ``("start", pieces)``, then ``(merge, pieces)``.

    Each step is a precomputed trace of boxes; the slider switches which one is visible and sets
    the title to the merge and the number of tokens, so it works on a static page. Like
    :func:`token_explorer`, the figure carries its boxes wrapped for a phone as well.
    """
    if not steps:
        raise ValueError("bpe_merge_stepper needs steps: [('start', pieces), (merge, pieces), ...]")
    if line_width < 8:
        raise ValueError(f"bpe_merge_stepper needs line_width >= 8, got {line_width}")
    fig = _merge_steps(steps, title, line_width)
    if line_width > PHONE_LINE_WIDTH:
        phone_variant(fig, _merge_steps(steps, title, PHONE_LINE_WIDTH))
    return fig


def _merge_steps(
    steps: Sequence[tuple[str, Sequence[str]]], title: str | None, line_width: int
) -> go.Figure:
    prefix = f"{title} — " if title else ""
    fig = go.Figure()
    titles: list[str] = []
    n_lines = 1
    for k, (label, pieces) in enumerate(steps):
        pieces = [str(p) for p in pieces]
        hover = [f"{_escape(repr(p))}<br>token #{i}" for i, p in enumerate(pieces)]
        trace, lines = _boxes(pieces, hover, 0, line_width, str(label), visible=k == 0)
        fig.add_trace(trace)
        n_lines = max(n_lines, lines)
        step = _escape(str(label)) if k == 0 else f"merge {k}: {_escape(str(label))}"
        titles.append(f"{prefix}{step} · {len(pieces)} tokens")
    labels = [str(k) for k in range(len(steps))]
    _box_layout(fig, n_lines, line_width, titles[0])
    fig.update_layout(sliders=[visibility_slider(labels, titles, "merges: ")])
    return fit_header(fig)


# ----------------------------------------------------------------------------- counts
def token_count_bars(
    counts: Mapping[str, Mapping[str, int]],
    chars: Mapping[str, int] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Grouped bars of token counts: x = language, one bar per tokenizer.

    ``counts`` maps a tokenizer's name to ``{language: number of tokens}``; with ``chars``
    (``{language: number of characters}``) hover also shows characters per token.
    """
    if not counts:
        raise ValueError("token_count_bars needs counts: {tokenizer: {language: tokens}}")
    languages: list[str] = []
    for per_language in counts.values():
        languages += [lang for lang in per_language if lang not in languages]
    fig = go.Figure()
    for name, per_language in counts.items():
        y = [per_language.get(lang) for lang in languages]
        if chars is None:
            hover = "%{x}<br>%{y} tokens<extra>%{fullData.name}</extra>"
            custom = None
        else:
            missing = [lang for lang in languages if lang not in chars]
            if missing:
                raise ValueError(f"token_count_bars: chars has no entry for {missing}")
            custom = [round(chars[lang] / v, 2) if v else None for lang, v in zip(languages, y)]
            hover = (
                "%{x}<br>%{y} tokens<br>%{customdata} characters per token"
                "<extra>%{fullData.name}</extra>"
            )
        fig.add_trace(
            go.Bar(name=str(name), x=languages, y=y, customdata=custom, hovertemplate=hover)
        )
    fig.update_layout(
        title={"text": title} if title else None,
        barmode="group",
        height=420,
        yaxis_title="tokens",
        xaxis_title=None,
        legend_title_text="tokenizer",
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
    )
    return fit_header(fig)


# ----------------------------------------------------------------------------- live widget
def live_tokenizer(
    tokenizers: Mapping[str, Callable[[str], Sequence[tuple[str, int]]]],
    value: str = "Hello world! Tokenizers split text into pieces.",
) -> Any:
    """A text box and the :func:`token_explorer` of its text, redrawn on every change.

    ``tokenizers`` maps a name to a function text -> ``[(piece, id), ...]``. Needs a kernel;
    on the static site the widget is inert. Returns an ``ipywidgets.VBox`` whose children are
    the ``Textarea`` and the ``Output``.
    """
    import ipywidgets as widgets

    if not tokenizers:
        raise ValueError("live_tokenizer needs tokenizers: {name: text -> [(piece, id), ...]}")
    box = widgets.Textarea(value=value, description="text", layout={"width": "100%"})
    return live_figure(
        box,
        lambda text: token_explorer({name: list(fn(text)) for name, fn in tokenizers.items()}),
        "<token explorer>",
    )
