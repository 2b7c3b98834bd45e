"""Figures of fine-tuning for classification (chapter 7.1, Fine-tuning for classification):
training curves, accuracy bars, a confusion matrix, and an explorer of the class probability at
every position of a message (a dropdown over precomputed examples)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmcourse.validate import check_int, check_values
from llmcourse.viz import theme
from llmcourse.viz.render import fit_header, percent_bars, round_sig


def classifier_curves(history: Any, title: str | None = None) -> go.Figure:
    """Loss (left) and accuracy (right) on training and validation batches against examples
    seen, from a ``ClassifierHistory`` (or its dict)."""
    data = history.to_dict() if hasattr(history, "to_dict") else dict(history)
    for key in ("examples_seen", "train_loss", "train_acc"):
        if key not in data:
            raise ValueError(f"classifier_curves needs a history with {key!r}")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    x = list(data["examples_seen"])
    for col, metric in ((1, "loss"), (2, "acc")):
        for split, dash in (("train", "solid"), ("val", "dash")):
            y = data.get(f"{split}_{metric}") or []
            if not y:
                continue
            name = "training" if split == "train" else "validation"
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=round_sig(y),
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    mode="lines+markers",
                    line={"dash": dash, "color": theme.COLORWAY[0 if split == "train" else 1]},
                    hovertemplate=f"%{{x:,}} examples<br>{name} {metric} %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="examples seen")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title={"text": title} if title else None, height=360, margin={"t": 40})
    return fit_header(fig)  # room for the panel titles under the title


def accuracy_bars(
    results: Mapping[str, Mapping[str, float]], title: str | None = None
) -> go.Figure:
    """Grouped bars: ``results[model][split]`` accuracy, e.g.
    ``{"before": {"train": 0.5, ...}, "after": {...}}``."""
    if not results:
        raise ValueError("accuracy_bars needs at least one model's results")
    return percent_bars(results, "accuracy", title)


def confusion_matrix(
    labels: Sequence[int],
    predictions: Sequence[int],
    class_names: Sequence[str] = ("ham", "spam"),
    title: str | None = None,
) -> go.Figure:
    """A heat map of counts: row = true class, column = predicted class."""
    k = len(class_names)
    classes = {}
    for name, values in (("labels", labels), ("predictions", predictions)):
        values = values.tolist() if hasattr(values, "tolist") else list(values)
        classes[name] = [check_int(f"{name}[{i}]", v, 0, k - 1) for i, v in enumerate(values)]
    labels, predictions = classes["labels"], classes["predictions"]
    if not labels:
        raise ValueError("confusion_matrix needs at least one label")
    if len(labels) != len(predictions):
        raise ValueError(
            f"labels and predictions differ in length: {len(labels)} and {len(predictions)}"
        )
    counts = [[0] * k for _ in range(k)]
    for y, p in zip(labels, predictions):
        counts[y][p] += 1
    names = list(class_names)
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=[f"predicted {n}" for n in names],
            y=[f"true {n}" for n in names],
            text=[[f"{c:,}" for c in row] for row in counts],
            texttemplate="%{text}",
            textfont={"size": 18},
            colorscale="Blues",
            showscale=False,
            hovertemplate="%{y}, %{x}: %{z:,} messages<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title} if title else None,
        height=340,  # no fixed width: the figure takes its cell's width, a phone's too
        yaxis={"autorange": "reversed"},
        margin={"t": 30},
    )
    return fit_header(fig)


def position_explorer(
    examples: Sequence[tuple[str, Sequence[str], Sequence[float]]],
    title: str = "P(spam) if the message ended here",
) -> go.Figure:
    """For each example ``(name, token pieces, p_spam at each position)``, the class
    probability the head gives at every position; a dropdown picks the example (all are
    precomputed, so it works on a static page). The last position, the one the classifier
    reads, is marked."""
    if not examples:
        raise ValueError("position_explorer needs at least one example")
    fig = go.Figure()
    buttons = []
    n = len(examples)
    for k, (name, pieces, probs) in enumerate(examples):
        if len(pieces) != len(probs):
            raise ValueError(
                f"example {name!r}: {len(pieces)} pieces but {len(probs)} probabilities"
            )
        check_values(f"example {name!r}: probabilities", list(probs), 0.0, 1.0)
        shown = [p.replace("\n", "⏎") for p in pieces]
        y = round_sig(list(probs), 3)
        fig.add_trace(
            go.Scatter(
                x=list(range(len(y))),
                y=y,
                customdata=shown,
                mode="lines+markers",
                marker={"size": 5},
                line={"color": theme.COLORWAY[0]},
                hovertemplate="token %{x}: %{customdata}<br>P(spam) %{y:.3f}<extra></extra>",
                visible=k == 0,
                name=name,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[len(y) - 1],
                y=[y[-1]],
                mode="markers",
                marker={"size": 14, "color": theme.COLORWAY[3], "symbol": "star"},
                hovertemplate="the last token: what the classifier reads<br>P(spam) %{y:.3f}"
                "<extra></extra>",
                visible=k == 0,
                name="last token",
            )
        )
        verdict = "spam" if y[-1] >= 0.5 else "ham"
        label = f"{name}: last token says {verdict} ({y[-1]:.2f})"
        buttons.append(
            {
                "method": "update",
                "label": name,
                "args": [
                    {"visible": [j // 2 == k for j in range(2 * n)]},
                    {"title.text": f"{title}<br><sub>{label}</sub>"},
                ],
            }
        )
    first = buttons[0]["args"][1]["title.text"]
    fig.update_layout(
        title={"text": first},
        height=380,
        showlegend=False,
        xaxis_title="position (token number)",
        yaxis={"range": [-0.02, 1.02], "title": "P(spam)"},
        updatemenus=[{"type": "dropdown", "buttons": buttons, "active": 0}],
        margin={"t": 40},
    )
    fig.add_hline(y=0.5, line_dash="dot", line_color="gray")
    return fit_header(fig)
