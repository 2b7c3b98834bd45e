"""Figures of pretraining and decoding (chapter 6, Pretraining): loss curves (also redrawn live
during training), the learning-rate schedule, and a sampling explorer over precomputed
temperatures."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import torch

from llmcourse.validate import check_float, check_int, check_values
from llmcourse.viz import theme
from llmcourse.viz.render import fit_header, round_sig, visibility_slider


def _history_dict(history: Any) -> Mapping[str, Sequence[float]]:
    data = history.to_dict() if hasattr(history, "to_dict") else history
    for key in ("tokens_seen", "train_loss", "val_loss"):
        if key not in data:
            raise ValueError(f"loss_curves needs a history with {key!r} (a History or its dict)")
    return data


def loss_curves(
    history: Any, title: str | None = None, epoch_tokens: int | None = None
) -> go.Figure:
    """Training and validation loss against tokens seen, from a ``History`` (or its dict, e.g.
    a model card's ``history``). With ``epoch_tokens`` a second axis counts epochs."""
    data = _history_dict(history)
    x = list(data["tokens_seen"])
    fig = go.Figure()
    for key, name, dash in (
        ("train_loss", "training", "solid"),
        ("val_loss", "validation", "dash"),
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=round_sig(data[key]),
                name=name,
                mode="lines+markers",
                line={"dash": dash},
                hovertemplate="%{x:,} tokens<br>" + name + " loss %{y:.3f}<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": title} if title else None,
        height=380,
        xaxis_title="tokens seen",
        yaxis_title="loss (cross-entropy, nats)",
        hovermode="x unified",
        margin={"t": 30},
    )
    fit_header(fig)
    if epoch_tokens:
        last = x[-1] if x else 0
        epochs = int(last // epoch_tokens)
        every = max(1, math.ceil(epochs / 4))  # at most 5 ticks
        marks = range(0, epochs + 1, every)
        # short labels, kept level: 5 of them fit side by side on a phone
        fig.update_xaxes(
            tickvals=[e * epoch_tokens for e in marks],
            ticktext=[f"{_short(e * epoch_tokens)}<br>epoch {e}" for e in marks],
            tickangle=0,
        )
    return fig


def _short(n: int) -> str:
    """A token count in 3 significant digits: 950, 35.6k, 1.06M."""
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:g}"


def live_loss_plot(
    title: str | None = None, epoch_tokens: int | None = None
) -> Callable[[Any], None]:
    """A callback for ``train(..., on_eval=...)`` that redraws ``loss_curves`` in one output
    after every evaluation: live while a kernel trains, the final curves on the page after."""
    from IPython.display import display

    handle = None

    def on_eval(history: Any) -> None:
        nonlocal handle
        # the bundle itself: displaying the figure object would bypass the display id
        bundle = loss_curves(history, title, epoch_tokens)._repr_mimebundle_()
        bundle.setdefault("text/plain", "loss curves")
        if handle is None:
            handle = display(bundle, raw=True, display_id=True)
        else:
            handle.update(bundle, raw=True)

    return on_eval


def lr_schedule(
    lr_fn: Callable[[int], float], total_steps: int, title: str | None = None
) -> go.Figure:
    """The learning rate ``lr_fn(step)`` for every step of a run."""
    steps = list(range(check_int("total_steps", total_steps, 1)))
    rates = [check_float(f"lr_fn({s})", lr_fn(s), 0.0) for s in steps]
    fig = go.Figure(
        go.Scatter(
            x=steps,
            y=round_sig(rates),
            mode="lines",
            hovertemplate="step %{x}<br>lr %{y:.2e}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title} if title else None,
        height=300,
        xaxis_title="step",
        yaxis_title="learning rate",
        margin={"t": 30},
    )
    return fit_header(fig)


def sampling_explorer(
    logits: torch.Tensor,
    pieces: Sequence[str],
    temperatures: Sequence[float] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
    top_k: int = 5,
    top_p: float = 0.9,
    show: int = 20,
    title: str | None = None,
) -> go.Figure:
    """Next-token probabilities for one position at each temperature, with a slider.

    ``logits`` ``(vocab,)`` are the model's scores for the next token and ``pieces`` the text of
    every token id (a list indexed by id). The ``show`` most likely tokens (at temperature 1)
    are drawn as bars; the ``top_k`` kept by a top-k cut are dark, the rest light, and a marker
    shows where the top-p nucleus (the fewest tokens reaching ``top_p``) ends. Every temperature
    is precomputed, so the slider works on a static page. It opens at temperature 1 when that
    is one of ``temperatures``.
    """
    if logits.dim() != 1:
        raise ValueError(
            f"sampling_explorer needs the logits of one position, (vocab,), got {tuple(logits.shape)}"
        )
    if not temperatures:
        raise ValueError("sampling_explorer needs at least one temperature")
    check_values("temperatures", list(temperatures), 0.0, exclusive_min=True)
    show = min(check_int("show", show, 1), logits.shape[0])
    if not 1 <= check_int("top_k", top_k) <= show:
        raise ValueError(f"top_k must be between 1 and show={show}, got {top_k}")
    check_float("top_p", top_p, 0.0, 1.0, exclusive_min=True)
    if len(pieces) < logits.shape[0]:
        raise ValueError(
            f"pieces must give the text of every token id: {len(pieces)} pieces for "
            f"{logits.shape[0]} logits"
        )
    if bool(torch.isnan(logits).any()) or not bool(torch.isfinite(logits).any()):
        raise ValueError("sampling_explorer needs logits without NaN, at least one of them finite")
    logits = logits.detach().double()
    order = torch.argsort(logits, descending=True)[:show].tolist()
    labels = [f"{i + 1}. {pieces[t]!r}" for i, t in enumerate(order)]
    colors = [theme.COLORWAY[0] if i < top_k else theme.FAINT for i in range(show)]
    fig = go.Figure()
    titles = []
    for k, t in enumerate(temperatures):
        probs = torch.softmax(logits / t, dim=-1)
        ranked = torch.sort(probs, descending=True).values
        nucleus = int((ranked.cumsum(0) - ranked < top_p).sum())
        shown = probs[order].tolist()
        fig.add_trace(
            go.Bar(
                x=labels,
                y=round_sig(shown),
                marker_color=colors,
                hovertemplate="%{x}<br>p = %{y:.4f}<extra></extra>",
                name=f"T = {t}",
            )
        )
        top_k_mass = float(probs[order[:top_k]].sum())
        titles.append(
            f"temperature {t}: top token p = {shown[0]:.3f}; top-{top_k} hold {top_k_mass:.1%}; "
            f"top-p {top_p} keeps {nucleus:,} token{'s' if nucleus != 1 else ''}"
        )
    fig.update_layout(
        title={"text": titles[0]},
        height=420,
        yaxis_title="probability of the next token",
        yaxis_range=[0, 1],
        xaxis_tickangle=-45,
        showlegend=False,
        sliders=[visibility_slider([f"{t}" for t in temperatures], titles, "temperature: ")],
        margin={"t": 40, "b": 40},
    )
    start = list(temperatures).index(1.0) if 1.0 in temperatures else 0
    for k, trace in enumerate(fig.data):
        trace.visible = k == start
    fig.layout.sliders[0].active = start
    fig.layout.title.text = titles[start]
    # inside the plot's top right corner, over the least likely tokens' short bars
    fig.add_annotation(
        text=f"dark: kept by top-k = {top_k}",
        xref="paper",
        yref="paper",
        x=1,
        y=1,
        showarrow=False,
        xanchor="right",
        yanchor="top",
    )
    return fit_header(fig)
