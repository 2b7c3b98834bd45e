"""llmcourse.viz.lora: chapter 7.0's figures."""

from __future__ import annotations

import pytest

from llmcourse import viz


def test_lora_share_plot_shows_percentages_and_counts():
    fig = viz.lora_share_plot({"a": {8: 1_000, 1: 125}}, {"a": 100_000})
    (trace,) = fig.data
    assert list(trace.x) == [1, 8] and list(trace.y) == [0.125, 1.0]
    assert [list(c) for c in trace.customdata] == [[125, 100_000], [1_000, 100_000]]
    assert trace.name == "a (0.1M)" and fig.layout.yaxis.type == "log"
    with pytest.raises(ValueError, match="no total parameter count for 'a'"):
        viz.lora_share_plot({"a": {1: 1}}, {})
    with pytest.raises(ValueError, match="at least one model"):
        viz.lora_share_plot({}, {})


def test_finetune_comparison_has_one_bar_per_method_in_each_panel():
    rows = [
        {"method": "full", "accuracy": 0.9512, "trainable": 11_000_000, "seconds": 30.4},
        {"method": "LoRA", "accuracy": 0.94, "trainable": 98_690, "seconds": 35.0},
    ]
    acc, trainable, seconds = viz.finetune_comparison(rows).data
    assert list(acc.x) == ["full", "LoRA"] and list(acc.y) == [95.12, 94.0]
    assert list(trainable.y) == [11_000_000, 98_690] and list(seconds.y) == [30.4, 35.0]
    with pytest.raises(ValueError, match="at least one row"):
        viz.finetune_comparison([])


def test_singular_value_plot_is_the_cumulative_energy():
    fig = viz.singular_value_plot({"w": [3.0, 1.0]}, rank_marks=[1])
    assert list(fig.data[0].y) == [90.0, 100.0]  # 9 / (9 + 1), then all of it
    assert fig.layout.shapes[0].x0 == 1
    with pytest.raises(ValueError, match="at least one matrix"):
        viz.singular_value_plot({})
    with pytest.raises(ValueError, match=r"singular values of 'w'\[1\] is nan"):
        viz.singular_value_plot({"w": [3.0, float("nan")]})
