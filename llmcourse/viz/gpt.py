"""Figures of the GPT model (chapter 5, The GPT model): activation functions and their slopes,
gradient magnitudes per layer, and parameter counts and memory of model sizes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import plotly.graph_objects as go
import torch

from llmcourse.validate import check_values
from llmcourse.viz.render import fit_header, round_sig


def activation_plot(
    functions: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    lo: float = -4.0,
    hi: float = 4.0,
    points: int = 161,
    title: str | None = None,
) -> go.Figure:
    """Each function on ``[lo, hi]``, with a dropdown to show its derivative instead (computed
    by autograd, so the figure shows what backpropagation sees)."""
    if not functions:
        raise ValueError("activation_plot needs functions: {name: tensor -> tensor}")
    if not lo < hi or points < 2:
        raise ValueError(f"activation_plot needs lo < hi and points >= 2, got {lo}, {hi}, {points}")
    # the grid in Python floats: torch.linspace rounds differently with the CPU's vector
    # kernels (0.0 or -2.2e-16 in the middle), and the stored figure must not change with it
    grid = [lo + (hi - lo) * i / (points - 1) for i in range(points)]
    x = torch.tensor(grid, dtype=torch.float64, requires_grad=True)
    fig = go.Figure()
    n = len(functions)
    for k, (name, fn) in enumerate(functions.items()):
        y = fn(x)
        (slope,) = torch.autograd.grad(y.sum(), x)
        xs = round_sig(x.detach().tolist())
        dash = ["solid", "dash", "dot", "dashdot"][k % 4]
        fig.add_trace(
            go.Scatter(
                x=xs, y=round_sig(y.detach().tolist()), name=name, line={"dash": dash}, visible=True
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=round_sig(slope.tolist()),
                name=f"{name} slope",
                line={"dash": dash},
                visible=False,
            )
        )
    values = [i % 2 == 0 for i in range(2 * n)]
    slopes = [i % 2 == 1 for i in range(2 * n)]
    fig.update_layout(
        title={"text": title} if title else None,
        height=400,
        xaxis_title="x",
        yaxis_title="f(x)",
        hovermode="x unified",
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        updatemenus=[
            {
                "type": "buttons",
                "buttons": [
                    {
                        "label": "f(x)",
                        "method": "update",
                        "args": [{"visible": values}, {"yaxis.title.text": "f(x)"}],
                    },
                    {
                        "label": "slope f′(x)",
                        "method": "update",
                        "args": [{"visible": slopes}, {"yaxis.title.text": "f′(x)"}],
                    },
                ],
            }
        ],
    )
    return fit_header(fig)


def gradient_bars(
    series: Mapping[str, Sequence[float]],
    title: str | None = None,
    log: bool = True,
    layer_names: Sequence[str] | None = None,
) -> go.Figure:
    """Grouped bars of a gradient magnitude per layer, one group of bars per series
    (e.g. with / without shortcuts); log scale by default."""
    if not series:
        raise ValueError("gradient_bars needs series: {name: [magnitude per layer]}")
    lengths = {len(v) for v in series.values()}
    if len(lengths) != 1:
        raise ValueError(
            f"gradient_bars: every series needs the same number of layers, got {sorted(lengths)}"
        )
    n = lengths.pop()
    names = list(layer_names) if layer_names else [f"layer {i + 1}" for i in range(n)]
    if len(names) != n:
        raise ValueError(f"gradient_bars got {len(names)} layer names for {n} layers")
    for name, values in series.items():  # a log axis cannot show 0
        check_values(f"gradient_bars series {name!r}", list(values), 0.0, exclusive_min=log)
    fig = go.Figure()
    for name, values in series.items():
        fig.add_trace(
            go.Bar(
                name=name,
                x=names,
                y=round_sig(values, 3),
                hovertemplate="%{x}<br>%{y:.3g}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        title={"text": title} if title else None,
        barmode="group",
        height=420,
        yaxis_type="log" if log else "linear",
        yaxis_exponentformat="power",
        yaxis_title="mean |gradient|",
        margin={"l": 70, "r": 20, "t": 30, "b": 50},
    )
    return fit_header(fig)


def model_size_bars(
    sizes: Mapping[str, Mapping[str, int]],
    title: str | None = None,
) -> go.Figure:
    """Parameters of each model size, tied and untied, as grouped bars (log scale).

    ``sizes`` maps a model's name to ``{"tied": n_params, "untied": n_params}``. Hover shows the
    memory of the weights in fp32 and bf16, and of training with AdamW in fp32 (weights,
    gradients and two moments: 16 bytes per parameter), in MB and GB (10^6 and 10^9 bytes).
    """
    if not sizes:
        raise ValueError("model_size_bars needs sizes: {name: {'tied': n, 'untied': n}}")
    names = list(sizes)
    fig = go.Figure()
    for variant, label in (
        ("tied", "output head tied to the embedding"),
        ("untied", "separate output head"),
    ):
        counts = [int(sizes[name][variant]) for name in names]
        custom = [
            [f"{c:,}", round(4 * c / 1e6, 1), round(2 * c / 1e6, 1), round(16 * c / 1e9, 2)]
            for c in counts
        ]
        fig.add_trace(
            go.Bar(
                name=label,
                x=names,
                y=[round(c / 1e6, 2) for c in counts],
                customdata=custom,
                hovertemplate=(
                    "%{x}: %{customdata[0]} parameters<br>fp32 weights "
                    "%{customdata[1]} MB, bf16 %{customdata[2]} MB<br>training with "
                    "AdamW (fp32) ≥ %{customdata[3]} GB<extra>%{fullData.name}</extra>"
                ),
            )
        )
    fig.update_layout(
        title={"text": title} if title else None,
        barmode="group",
        height=440,
        yaxis_type="log",
        yaxis_title="parameters (millions)",
        margin={"l": 70, "r": 20, "t": 30, "b": 50},
    )
    return fit_header(fig)
