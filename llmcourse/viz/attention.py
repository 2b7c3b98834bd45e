"""Figures of attention (chapter 4, Attention): an explorer of the weights of every layer and head
of a model for one text, a step view (scores → mask → softmax → dropout), and a live explorer
for a running kernel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from llmcourse.attention import causal_mask
from llmcourse.validate import (
    check_bool,
    check_float,
    check_ids,
    check_int,
    check_type,
    describe,
)
from llmcourse.viz.render import fit_header, live_figure, visibility_slider
from llmcourse.viz.tokens import _escape, show_piece

_DECIMALS = 3  # weights in the figures are rounded: the stored HTML must not depend on float noise


def _labels(tokens: Sequence[str]) -> list[str]:
    return [_escape(show_piece(str(t))) for t in tokens]


def _heatmap(
    z: np.ndarray,
    tokens: Sequence[str],
    name: str,
    visible: bool,
    colorscale: str,
    zmin: float | None,
    zmax: float | None,
    text: bool,
    value_name: str,
) -> go.Heatmap:
    """One ``(queries, keys)`` heatmap; NaN cells (masked) are left blank."""
    n = len(tokens)
    labels = _labels(tokens)
    custom = [[[labels[i], labels[j]] for j in range(n)] for i in range(n)]
    z_list = [[None if np.isnan(v) else float(v) for v in row] for row in z]
    return go.Heatmap(
        z=z_list,
        x=list(range(n)),
        y=list(range(n)),
        customdata=custom,
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        name=name,
        visible=visible,
        texttemplate="%{z}" if text else None,
        textfont={"size": 10},
        hovertemplate=(
            "query #%{y} %{customdata[0]}<br>key #%{x} %{customdata[1]}<br>"
            f"{value_name} %{{z}}<extra></extra>"
        ),
        hoverongaps=False,
        xgap=1,
        ygap=1,
        colorbar={"thickness": 12, "len": 0.8},
    )


def _axes(fig: go.Figure, tokens: Sequence[str]) -> None:
    labels = _labels(tokens)
    ticks = {
        "tickmode": "array",
        "tickvals": list(range(len(tokens))),
        "ticktext": labels,
        "showgrid": False,
        "tickfont": {"family": "Menlo, Consolas, monospace", "size": 11},
    }
    fig.update_xaxes(title_text="key (attended to)", side="bottom", tickangle=-60, **ticks)
    fig.update_yaxes(title_text="query (attending)", autorange="reversed", **ticks)


# ----------------------------------------------------------------------------- the explorer
def model_attention(model: torch.nn.Module, ids: Sequence[int] | torch.Tensor) -> np.ndarray:
    """Attention weights of ``model`` (any ``GPTModel``) for one sequence of token ids:
    ``(n_layer, n_head, tokens, tokens)`` in the model's float dtype, computed in eval mode
    (the model's mode is left as it was)."""
    check_type("model", model, torch.nn.Module, "a GPTModel")
    if not callable(getattr(model, "attention_weights", None)):
        raise TypeError(f"model must have attention_weights (a GPTModel), got {describe(model)}")
    ids = check_ids("ids", ids, getattr(getattr(model, "cfg", None), "vocab_size", None))
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.dim() != 1 or ids.numel() == 0:
        raise ValueError(f"ids must be one non-empty sequence of token ids, got {tuple(ids.shape)}")
    device = next(model.parameters()).device
    with torch.no_grad():
        weights = model.attention_weights(ids.reshape(1, -1).to(device))  # (layer, 1, head, T, T)
    weights = weights[:, 0].cpu()
    if weights.dtype not in (torch.float32, torch.float64):  # numpy has no bfloat16
        weights = weights.float()
    return weights.numpy()


def attention_explorer(
    weights: np.ndarray | torch.Tensor,
    tokens: Sequence[str],
    title: str | None = None,
    show_values: bool | None = None,
) -> go.Figure:
    """Heatmaps of attention weights ``(n_layer, n_head, tokens, tokens)`` with a slider over
    every (layer, head); row = query token, column = key token, blank above the diagonal
    (the causal mask). Values are rounded to 3 decimals; ``show_values`` writes them in the cells
    (default: when there are at most 12 tokens)."""
    w = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
    if w.ndim != 4 or w.shape[2] != w.shape[3]:
        raise ValueError(
            f"attention_explorer needs weights of shape (n_layer, n_head, tokens, tokens), "
            f"got {w.shape}"
        )
    n_layer, n_head, n = w.shape[:3]
    if len(tokens) != n:
        raise ValueError(f"attention_explorer got {len(tokens)} tokens for weights over {n}")
    if not np.issubdtype(w.dtype, np.number) or not np.isfinite(w).all():
        raise ValueError("attention_explorer needs finite weights (no NaN or inf)")
    if w.size and (w.min() < 0 or w.max() > 1 + 1e-5):
        raise ValueError(
            f"attention_explorer needs attention weights, each in [0, 1] (a softmax), got values "
            f"from {w.min():.3g} to {w.max():.3g}: pass the weights, not the scores"
        )
    show_values = n <= 12 if show_values is None else check_bool("show_values", show_values)
    future = ~causal_mask(n).numpy()  # blank: what no query may see
    fig = go.Figure()
    labels, titles = [], []
    prefix = f"{title} — " if title else ""
    for layer in range(n_layer):
        for head in range(n_head):
            z = np.round(w[layer, head].astype(np.float64), _DECIMALS)
            z[future] = np.nan
            k = len(labels)
            fig.add_trace(
                _heatmap(
                    z,
                    tokens,
                    f"layer {layer} head {head}",
                    k == 0,
                    "Blues",
                    0.0,
                    1.0,
                    show_values,
                    "weight",
                )
            )
            labels.append(f"L{layer}·H{head}")
            titles.append(f"{prefix}layer {layer}, head {head}")
    _axes(fig, tokens)
    size = max(320, min(640, 24 * n + 120))
    fig.update_layout(
        title={"text": titles[0]},
        height=size + 90,
        margin={"l": 110, "r": 20, "t": 40, "b": 40},
        plot_bgcolor="white",
        sliders=[visibility_slider(labels, titles, "layer·head: ")],
    )
    return fit_header(fig)


def live_attention(
    model: torch.nn.Module,
    tokenize: Callable[[str], Sequence[tuple[str, int]]],
    value: str = "The whale swam past the ship, and the ship followed the whale.",
    max_tokens: int | None = None,
) -> Any:
    """A text box and the :func:`attention_explorer` of ``model`` on its text, redrawn on every
    change. ``tokenize`` maps text to ``[(piece, id), ...]``; text longer than ``max_tokens``
    (default: the model's context length) is cut. Needs a kernel; returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as widgets

    check_type("model", model, torch.nn.Module, "a GPTModel")
    if not callable(tokenize):
        raise TypeError(
            f"tokenize must be a function text -> [(piece, id)], got {describe(tokenize)}"
        )
    check_type("value", value, str, "a str")
    limit = check_int("max_tokens", max_tokens, 1, none_ok=True) or model.cfg.context_length
    box = widgets.Textarea(value=value, description="text", layout={"width": "100%"})

    def draw(text: str) -> go.Figure | None:
        pieces = list(tokenize(text))[:limit]
        if not pieces:
            return None
        weights = model_attention(model, [i for _, i in pieces])
        return attention_explorer(weights, [p for p, _ in pieces], title="your text")

    return live_figure(box, draw, "<attention explorer>")


# ----------------------------------------------------------------------------- the step view
def attention_steps(
    scores: torch.Tensor, dropout: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """The four stages of causal attention weights from scaled scores ``(tokens, tokens)``:

    ``scores``; ``masked`` (future keys set to ``-inf``); ``softmax`` (each row sums to 1);
    ``dropout`` (each weight zeroed with probability ``dropout``, the rest divided by
    ``1 - dropout``; the random draw comes from ``seed``).
    """
    check_type("scores", scores, torch.Tensor, "a tensor (tokens, tokens)")
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(
            f"attention_steps needs square scores (tokens, tokens), got {tuple(scores.shape)}"
        )
    if not scores.is_floating_point() or not bool(torch.isfinite(scores).all()):
        raise ValueError("scores must be finite floating-point numbers (no NaN or inf)")
    dropout = check_float("dropout", dropout)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    seed = check_int("seed", seed, 0)
    scores = scores.detach().double().cpu()
    n = scores.shape[0]
    masked = scores.masked_fill(~causal_mask(n), float("-inf"))
    weights = torch.softmax(masked, dim=-1)
    keep = torch.rand(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    dropped = torch.where(keep >= dropout, weights / (1.0 - dropout), torch.zeros_like(weights))
    return {"scores": scores, "masked": masked, "softmax": weights, "dropout": dropped}


def attention_step_view(
    scores: torch.Tensor,
    tokens: Sequence[str],
    dropout: float = 0.2,
    seed: int = 0,
    title: str | None = None,
) -> go.Figure:
    """A slider over :func:`attention_steps` of ``scores`` ``(tokens, tokens)``: the scores, the
    causal mask (blank = ``-inf``), the softmax weights, the weights after dropout."""
    if len(tokens) != scores.shape[-1]:
        raise ValueError(
            f"attention_step_view got {len(tokens)} tokens for scores over {scores.shape[-1]}"
        )
    steps = attention_steps(scores, dropout, seed)
    n = len(tokens)
    show = n <= 12
    lim = float(np.round(steps["scores"].abs().max().item(), 2)) or 1.0
    top = float(np.round(steps["dropout"].max().item(), 2)) or 1.0
    panels = [
        (
            "1 scores",
            "scores q·k / √d: any real number",
            steps["scores"],
            "RdBu",
            -lim,
            lim,
            "score",
        ),
        (
            "2 mask",
            "causal mask: future keys set to −∞ (blank)",
            steps["masked"],
            "RdBu",
            -lim,
            lim,
            "score",
        ),
        (
            "3 softmax",
            "softmax over each row: weights ≥ 0 that sum to 1",
            steps["softmax"],
            "Blues",
            0.0,
            top,
            "weight",
        ),
        (
            f"4 dropout {dropout:g}",
            f"dropout p={dropout:g} (training only): zeros, the rest × {1 / (1 - dropout):.3g}",
            steps["dropout"],
            "Blues",
            0.0,
            top,
            "weight",
        ),
    ]
    fig = go.Figure()
    prefix = f"{title} — " if title else ""
    for k, (_, text, z, colors, zmin, zmax, value_name) in enumerate(panels):
        values = np.round(z.numpy(), _DECIMALS)
        values[~np.isfinite(values)] = np.nan
        fig.add_trace(_heatmap(values, tokens, text, k == 0, colors, zmin, zmax, show, value_name))
    _axes(fig, tokens)
    titles = [prefix + text for _, text, *_ in panels]
    size = max(320, min(560, 24 * n + 120))
    fig.update_layout(
        title={"text": titles[0]},
        height=size + 90,
        margin={"l": 110, "r": 20, "t": 40, "b": 40},
        plot_bgcolor="white",
        sliders=[visibility_slider([p[0] for p in panels], titles, "step: ")],
    )
    return fit_header(fig)
