"""Figures of instruction fine-tuning (chapter 7.2, Fine-tuning to follow instructions): exact
match per task family before and after fine-tuning."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

__all__ = ["exact_match_bars"]


def exact_match_bars(
    results: Mapping[str, Mapping[str, float]], title: str | None = None
) -> go.Figure:
    """Grouped bars of exact match per task family, one colour per model, e.g.
    ``{"before": {"add": 0.0, ...}, "after": {"add": 0.9, ...}}``; the families are the union
    of every model's keys, in the order first seen (a missing one shows no bar)."""
    if not results:
        raise ValueError("exact_match_bars needs at least one model's results")
    families: list[str] = []
    for scores in results.values():
        if not scores:
            raise ValueError("exact_match_bars needs at least one family per model")
        families += [f for f in scores if f not in families]
    fig = go.Figure()
    for name, scores in results.items():
        values = [round(float(scores[f]), 4) if f in scores else None for f in families]
        fig.add_trace(
            go.Bar(
                x=families,
                y=values,
                name=name,
                text=[f"{v:.0%}" if v is not None else "" for v in values],
                textposition="outside",
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": title} if title else None,
        barmode="group",
        height=380,
        yaxis={"range": [0, 1.12], "tickformat": ".0%", "title": "exact match"},
        margin={"t": 60 if title else 30},
    )
    return fig
