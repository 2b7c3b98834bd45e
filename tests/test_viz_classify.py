"""llmcourse.viz.classify: chapter 7.1's figures."""

from __future__ import annotations

import pytest

from llmcourse import viz
from llmcourse.classify import ClassifierHistory


def test_classifier_curves_draws_loss_and_accuracy():
    h = ClassifierHistory(
        step=[1, 2],
        examples_seen=[16, 32],
        train_loss=[0.71234, 0.5],
        val_loss=[0.7, 0.6],
        train_acc=[0.5, 0.875],
        val_acc=[0.5, 0.75],
    )
    fig = viz.classifier_curves(h, title="t")
    assert [t.name for t in fig.data] == ["training", "validation"] * 2
    assert list(fig.data[0].y) == [0.7123, 0.5] and list(fig.data[3].y) == [0.5, 0.75]
    assert list(fig.data[2].x) == [16, 32] and fig.data[0].showlegend and not fig.data[2].showlegend
    no_val = viz.classifier_curves({**h.to_dict(), "val_loss": [], "val_acc": []})
    assert len(no_val.data) == 2
    with pytest.raises(ValueError, match="needs a history with 'train_acc'"):
        viz.classifier_curves({"examples_seen": [], "train_loss": []})


def test_confusion_matrix_counts():
    fig = viz.confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    heat = fig.data[0]
    assert [list(r) for r in heat.z] == [[1, 1], [1, 2]]
    assert list(heat.y) == ["true ham", "true spam"] and heat.x[1] == "predicted spam"
    with pytest.raises(ValueError, match="differ in length: 2 and 1"):
        viz.confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match=r"labels\[1\] must be an int >= 0 and <= 1, got 2"):
        viz.confusion_matrix([0, 2], [0, 1])
    with pytest.raises(TypeError, match=r"predictions\[0\] must be an int, got float 0.5"):
        viz.confusion_matrix([0, 1], [0.5, 1])
    with pytest.raises(TypeError, match=r"labels\[0\] must be an int, got bool True"):
        viz.confusion_matrix([True, 0], [1, 0])
    with pytest.raises(ValueError, match="needs at least one label"):
        viz.confusion_matrix([], [])


def test_bars_and_the_position_explorer_refuse_values_that_are_not_shares():
    for bad in (float("nan"), 1.5, -0.1):
        with pytest.raises(ValueError, match=r"accuracy of 'after' for 'val' must be a finite"):
            viz.accuracy_bars({"after": {"train": 0.9, "val": bad}})
    with pytest.raises(ValueError, match=r"example 'a': probabilities\[1\] is nan"):
        viz.position_explorer([("a", ["x", "y"], [0.5, float("nan")])])


def test_accuracy_bars_groups_models():
    fig = viz.accuracy_bars(
        {"before": {"train": 0.5, "test": 0.49}, "after": {"train": 0.9, "test": 0.876543}}
    )
    assert [t.name for t in fig.data] == ["before", "after"]
    assert list(fig.data[1].y) == [0.9, 0.8765] and list(fig.data[1].text) == ["90.0%", "87.7%"]
    with pytest.raises(ValueError, match="at least one model"):
        viz.accuracy_bars({})


def test_position_explorer_dropdown_over_examples():
    examples = [
        ("a", ["Free", " cash"], [0.4, 0.91234]),
        ("b", ["hi", "\n", "there"], [0.5, 0.3, 0.1]),
    ]
    fig = viz.position_explorer(examples, title="T")
    assert len(fig.data) == 4 and [t.visible for t in fig.data] == [True, True, False, False]
    assert list(fig.data[0].y) == [0.4, 0.912] and list(fig.data[2].customdata) == [
        "hi",
        "⏎",
        "there",
    ]
    assert list(fig.data[3].x) == [2] and list(fig.data[3].y) == [0.1]  # the last token, starred
    buttons = fig.layout.updatemenus[0].buttons
    assert buttons[1].args[0]["visible"] == [False, False, True, True]
    assert "b: last token says ham (0.10)" in buttons[1].args[1]["title.text"]
    assert "says spam (0.91)" in fig.layout.title.text
    with pytest.raises(ValueError, match="example 'c': 2 pieces but 1 probabilities"):
        viz.position_explorer([("c", ["x", "y"], [0.5])])
    with pytest.raises(ValueError, match="at least one example"):
        viz.position_explorer([])
