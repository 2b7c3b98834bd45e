"""Figures of LoRA (chapter 7.0): trainable share against rank, the measured comparison of
fine-tuning methods, and the singular values of a full fine-tune's weight update."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmcourse.validate import check_values
from llmcourse.viz import theme
from llmcourse.viz.render import fit_header, round_sig


def lora_share_plot(
    trainable: Mapping[str, Mapping[int, int]], totals: Mapping[str, int]
) -> go.Figure:
    """LoRA's trainable parameters as a share of the whole model, against the rank.

    ``trainable[model][rank]`` is the number of LoRA parameters, ``totals[model]`` the model's
    parameter count. The y axis is logarithmic; hover shows the counts.
    """
    if not trainable:
        raise ValueError("lora_share_plot needs at least one model")
    fig = go.Figure()
    for name, by_rank in trainable.items():
        if name not in totals:
            raise ValueError(f"no total parameter count for {name!r}")
        ranks = sorted(by_rank)
        fig.add_trace(
            go.Scatter(
                x=ranks,
                y=round_sig([100 * by_rank[r] / totals[name] for r in ranks]),
                customdata=[[by_rank[r], totals[name]] for r in ranks],
                name=f"{name} ({totals[name] / 1e6:,.1f}M)",
                mode="lines+markers",
                hovertemplate=(
                    "rank %{x}<br>%{customdata[0]:,} of %{customdata[1]:,} parameters"
                    "<br>%{y:.3g}% trained<extra>" + name + "</extra>"
                ),
            )
        )
    fig.update_layout(
        height=400,
        xaxis={
            "title": "LoRA rank r",
            "type": "log",
            "tickvals": sorted({r for v in trainable.values() for r in v}),
        },
        yaxis={"title": "parameters trained (% of the model)", "type": "log"},
        legend={"title": {"text": "model"}},
        margin={"t": 30},
    )
    return fig


def finetune_comparison(rows: Sequence[Mapping[str, float | str]]) -> go.Figure:
    """Bars of test accuracy, trainable parameters and training seconds, one bar per method.

    Each row has ``method``, ``accuracy`` (0–1), ``trainable`` (a count) and ``seconds``.
    """
    if not rows:
        raise ValueError("finetune_comparison needs at least one row")
    names = [str(r["method"]) for r in rows]
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("test accuracy (%)", "parameters trained", "training time (s)"),
    )
    colours = theme.COLORWAY
    for col, key, scale, fmt in (
        (1, "accuracy", 100, "%{y:.1f}%"),
        (2, "trainable", 1, "%{y:,}"),
        (3, "seconds", 1, "%{y:.0f} s"),
    ):
        values = [float(r[key]) * scale for r in rows]
        fig.add_trace(
            go.Bar(
                x=names,
                y=round_sig(values) if key != "trainable" else [int(v) for v in values],
                marker_color=colours[: len(names)],
                hovertemplate="%{x}<br>" + fmt + "<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(height=360, margin={"t": 40})
    return fit_header(fig)  # room for the panel titles above the panels


def singular_value_plot(
    values: Mapping[str, Sequence[float]], rank_marks: Sequence[int] = ()
) -> go.Figure:
    """Cumulative share of an update's squared singular values (its "energy") against how many
    directions are kept: a curve that rises fast means a low-rank update captures most of it.

    ``values[name]`` are one matrix's singular values, largest first. The x axis is logarithmic
    and spans the data, 1 to the largest number of directions; ``rank_marks`` draw a dotted
    line at those ranks.
    """
    if not values:
        raise ValueError("singular_value_plot needs at least one matrix")
    if not all(len(sv) for sv in values.values()):
        raise ValueError("singular_value_plot needs at least one singular value per matrix")
    for name, sv in values.items():
        check_values(f"singular values of {name!r}", list(sv), 0.0)
    most = max(len(sv) for sv in values.values())
    fig = go.Figure()
    for name, sv in values.items():
        energy = [float(s) ** 2 for s in sv]
        total = sum(energy) or 1.0
        cum, running = [], 0.0
        for e in energy:
            running += e
            cum.append(100 * running / total)
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(cum) + 1)),
                y=round_sig(cum),
                name=name,
                mode="lines",
                hovertemplate="%{x} directions: %{y:.1f}% of the update<extra>" + name + "</extra>",
            )
        )
    # on a log axis plotly reads a shape's x as data but an annotation's x (and the range) in
    # log10 units: add_vline's annotation at x=8 would stand at 1e8 and stretch the axis there
    for r in rank_marks:
        fig.add_vline(x=r, line_dash="dot", line_color="grey")
        fig.add_annotation(
            x=math.log10(r),
            xref="x",
            y=0,
            yref="paper",
            text=f"r = {r}",
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            xshift=4,
        )
    fig.update_layout(
        height=380,
        xaxis={
            "title": "directions kept (rank)",
            "type": "log",
            "range": [0, math.log10(max(most, 2))],
            "tickvals": [2**k for k in range(int(math.log2(most)) + 1)],
        },
        yaxis={"title": "share of the update's energy (%)", "range": [0, 101]},
        margin={"t": 30},
    )
    return fig
