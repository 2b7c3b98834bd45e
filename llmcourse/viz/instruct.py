"""Figures of instruction fine-tuning (chapter 7.2, Fine-tuning to follow instructions): exact
match per task family before and after fine-tuning."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from llmcourse.viz.render import percent_bars

__all__ = ["exact_match_bars"]


def exact_match_bars(
    results: Mapping[str, Mapping[str, float]], title: str | None = None
) -> go.Figure:
    """Grouped bars of exact match per task family, one colour per model, e.g.
    ``{"before": {"add": 0.0, ...}, "after": {"add": 0.9, ...}}``; the families are the union
    of every model's keys, in the order first seen (a missing one shows no bar)."""
    if not results:
        raise ValueError("exact_match_bars needs at least one model's results")
    if not all(results.values()):
        raise ValueError("exact_match_bars needs at least one family per model")
    return percent_bars(
        results, "exact match", title, text_digits=0, hover_digits=1, height=380, y_max=1.12
    )
