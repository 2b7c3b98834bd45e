"""Figures of data sampling (chapter 2, Data sampling): the sliding-window explorer.

The text is drawn as token boxes (the drawing of :mod:`llmcourse.viz.tokens`); under each line,
every window is a pair of thin bars, its inputs (blue) and its targets (orange, shifted one token
to the right). Below, the first windows are spelled out as an input row over a target row. One
slider switches between precomputed ``(max_length, stride)`` settings, so the figure works on the
static site.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from llmcourse.data import count_windows
from llmcourse.validate import check_int
from llmcourse.viz.render import fit_header
from llmcourse.viz.tokens import (
    _MONO,
    _PAD,
    _box_layout,
    _boxes,
    _escape,
    _width,
    _wrap,
    show_piece,
)

INPUT_COLOR = "#2b7bba"
TARGET_COLOR = "#f28e2b"
_INPUT_FILL = "#cfe3f5"
_TARGET_FILL = "#fddcb8"
_UNUSED = "#e4e4e4"
_BAR = 0.09  # thickness of one window bar, in lines
_LANE = 2 * _BAR + 0.07  # one window: input bar, target bar, gap
_GUTTER = 3.0  # room left of the boxes for row labels, in characters


def _snippet(pieces: Sequence[str], limit: int = 60) -> str:
    text = "".join(pieces)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return _escape(repr(text))


def _text_block(
    pieces: list[str],
    ids: list[int],
    starts: list[int],
    max_length: int,
    stride: int,
    line_width: float,
    name: str,
) -> tuple[list[go.Bar], float]:
    """The token boxes and the window bars under them; also the block's height in lines."""
    n = len(pieces)
    as_input = [0] * n
    as_target = [0] * n
    for s in starts:
        for i in range(s, s + max_length):
            as_input[i] += 1
            as_target[i + 1] += 1
    hover = [
        f"{_escape(repr(p))}<br>token #{k}, id {i}<br>input of {a} window(s), target of {t}"
        for k, (p, i, a, t) in enumerate(zip(pieces, ids, as_input, as_target))
    ]
    text, n_lines = _boxes(pieces, hover, 0, line_width, name)
    lanes = math.ceil((max_length + 1) / stride)
    pitch = 1.0 + 0.1 + lanes * _LANE
    lines = [int(y) for y in text.y]
    text.y = [line * pitch for line in lines]
    text.marker.color = [
        c if a or t else _UNUSED for c, a, t in zip(text.marker.color, as_input, as_target)
    ]
    left = list(text.base)
    right = [b + w for b, w in zip(text.base, text.x)]

    bars: dict[str, dict[str, list]] = {
        kind: {"base": [], "x": [], "y": [], "hover": []} for kind in ("input", "target")
    }
    for k, s in enumerate(starts):
        lane_y = 0.5 + 0.1 + (k % lanes) * _LANE
        for kind, first, offset in (("input", s, 0.0), ("target", s + 1, _BAR)):
            span = range(first, first + max_length)
            info = (
                f"window {k}: {kind} = tokens {first}–{first + max_length - 1}<br>"
                f"{_snippet(pieces[first : first + max_length], 40)}"
            )
            for line in sorted({lines[i] for i in span}):
                on_line = [i for i in span if lines[i] == line]
                x0, x1 = left[on_line[0]], right[on_line[-1]]
                bars[kind]["base"].append(x0)
                bars[kind]["x"].append(round(x1 - x0, 2))
                bars[kind]["y"].append(round(line * pitch + lane_y + offset + _BAR / 2, 3))
                bars[kind]["hover"].append(info)
    traces = [text]
    for kind, color in (("input", INPUT_COLOR), ("target", TARGET_COLOR)):
        b = bars[kind]
        traces.append(
            go.Bar(
                orientation="h",
                base=b["base"],
                x=b["x"],
                y=b["y"],
                width=_BAR * 0.9,
                marker={"color": color, "line": {"width": 0}},
                hovertext=b["hover"],
                hovertemplate="%{hovertext}<extra></extra>",
                name=f"{name} {kind}s",
                showlegend=False,
            )
        )
    return traces, n_lines * pitch


def _detail_block(
    pieces: list[str],
    starts: list[int],
    max_length: int,
    y0: float,
    line_width: float,
    name: str,
) -> tuple[list[go.Bar], list[dict], float]:
    """The first windows spelled out: an input row over a target row, column by column."""
    rows: dict[str, dict[str, list]] = {
        kind: {"base": [], "x": [], "y": [], "text": [], "hover": []}
        for kind in ("input", "target")
    }
    notes: list[dict] = []
    y = y0
    for k, s in enumerate(starts):
        xs_in = pieces[s : s + max_length]
        ys_out = pieces[s + 1 : s + max_length + 1]
        shown_in = [show_piece(p) for p in xs_in]
        shown_out = [show_piece(p) for p in ys_out]
        widths = [
            min(max(_width(a), _width(b), 1) + _PAD, line_width)
            for a, b in zip(shown_in, shown_out)
        ]
        xs, lines = _wrap(widths, line_width)
        heading = (
            f"<b>window {k}</b> · inputs x = tokens {s}–{s + max_length - 1}, "
            f"targets y = tokens {s + 1}–{s + max_length}"
        )
        notes.append(_note(0, y, heading, "left"))
        y += 0.9
        for line in range(lines[-1] + 1):
            notes.append(_note(-0.4, y + 2 * line, "x", "right", INPUT_COLOR))
            notes.append(_note(-0.4, y + 2 * line + 1, "y", "right", TARGET_COLOR))
        for i, (x, line, w) in enumerate(zip(xs, lines, widths)):
            hover = (
                f"window {k}, position {i}<br>after {_snippet(xs_in[: i + 1], 40)}<br>"
                f"comes {_escape(repr(ys_out[i]))}"
            )
            for kind, shown, dy in (("input", shown_in, 0), ("target", shown_out, 1)):
                rows[kind]["base"].append(x)
                rows[kind]["x"].append(round(w - 0.12, 2))
                rows[kind]["y"].append(y + 2 * line + dy)
                rows[kind]["text"].append(_escape(shown[i]))
                rows[kind]["hover"].append(hover)
        y += 2 * (lines[-1] + 1) + 0.3
    traces = [
        go.Bar(
            orientation="h",
            base=r["base"],
            x=r["x"],
            y=r["y"],
            width=0.82,
            marker={"color": fill, "line": {"width": 1.5, "color": edge}},
            text=r["text"],
            textposition="inside",
            insidetextanchor="middle",
            textangle=0,
            textfont={"family": _MONO, "size": 13, "color": "#1a1a1a"},
            hovertext=r["hover"],
            hovertemplate="%{hovertext}<extra></extra>",
            name=f"{name} {kind} rows",
            showlegend=False,
        )
        for (kind, r), fill, edge in zip(
            rows.items(), (_INPUT_FILL, _TARGET_FILL), (INPUT_COLOR, TARGET_COLOR)
        )
    ]
    return traces, notes, y - y0


def _note(x: float, y: float, text: str, anchor: str, color: str = "#1a1a1a") -> dict:
    return {
        "x": x,
        "y": y,
        "xref": "x",
        "yref": "y",
        "xanchor": anchor,
        "yanchor": "middle",
        "showarrow": False,
        "text": text,
        "font": {"size": 13, "color": color},
    }


def sliding_window_explorer(
    tokens: Sequence[tuple[str, int]],
    settings: Sequence[tuple[int, int]],
    title: str | None = None,
    line_width: int = 72,
    detail: int = 2,
) -> go.Figure:
    """Windows of ``(max_length, stride)`` drawn over a text, one slider step per setting.

    ``tokens`` is the text as ``(piece, id)`` pairs (e.g. from ``token_pieces``). For each
    setting, the token boxes show which tokens the windows use (grey: none), the bars under
    them each window's inputs and targets, and the first ``detail`` windows are spelled out.
    """
    tokens = list(tokens)
    if not all(isinstance(t, tuple) and len(t) == 2 for t in tokens):
        raise TypeError("sliding_window_explorer needs tokens as (piece, id) tuples")
    if not settings:
        raise ValueError("sliding_window_explorer needs settings: [(max_length, stride), ...]")
    if line_width < 16:
        raise ValueError(f"sliding_window_explorer needs line_width >= 16, got {line_width}")
    check_int("detail", detail, 0)
    pieces = [str(p) for p, _ in tokens]
    ids = [int(i) for _, i in tokens]
    n = len(pieces)
    fig = go.Figure()
    steps = []
    groups: list[int] = []  # number of traces per setting
    for max_length, stride in settings:
        count = count_windows(n, max_length, stride)
        if count == 0:
            raise ValueError(
                f"the text has {n} tokens, but one window with max_length={max_length} "
                f"needs {max_length + 1}"
            )
        starts = [k * stride for k in range(count)]
        name = f"max_length={max_length}, stride={stride}"
        traces, height = _text_block(pieces, ids, starts, max_length, stride, line_width, name)
        notes = []
        y = height + 0.4
        if detail:
            shown = starts[:detail]
            more, extra, h = _detail_block(pieces, shown, max_length, y, line_width, name)
            traces += more
            notes += extra
            y += h
        used = len({i for s in starts for i in range(s, s + max_length + 1)})
        overlap = max(max_length - stride, 0)
        heading = (
            f"max_length={max_length}, stride={stride}: <b>{count} windows</b> · "
            f"{used} of {n} tokens used · neighbouring inputs share {overlap} token(s)"
        )
        groups.append(len(traces))
        for trace in traces:
            trace.visible = not steps
            fig.add_trace(trace)
        label = f"{max_length}/{stride}"
        steps.append((label, heading, notes, y))
    total = sum(groups)
    slider_steps = []
    first = 0
    _, heading, first_notes, first_y = steps[0]
    _box_layout(fig, first_y, line_width, f"{title}<br><sup>{heading}</sup>" if title else heading)
    top = fig.layout.margin.t  # the title's lines and pads, as the box layout reserved them
    for (label, heading, notes, y), size in zip(steps, groups):
        visible = [first <= j < first + size for j in range(total)]
        first += size
        text = f"{title}<br><sup>{heading}</sup>" if title else heading
        layout = {
            "title.text": text,
            "annotations": notes,
            "height": int(top + 20 + 30 * y),
            "yaxis.range": [y - 0.3, -0.6],
        }
        slider_steps.append(
            {"method": "update", "label": label, "args": [{"visible": visible}, layout]}
        )
    fig.update_layout(
        annotations=first_notes,
        height=slider_steps[0]["args"][1]["height"],
        sliders=[
            {
                "active": 0,
                "steps": slider_steps,
                "currentvalue": {"prefix": "max_length / stride = "},
            }
        ],
    )
    fig.update_xaxes(range=[-_GUTTER, line_width])
    fig.update_yaxes(range=[first_y - 0.3, -0.6])
    return fit_header(fig)
