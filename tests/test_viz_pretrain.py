"""llmcourse.viz.pretrain: chapter 6's figures."""

from __future__ import annotations

import math

import pytest
import torch

from llmcourse import viz
from llmcourse.train import History, lr_at


def test_loss_curves_from_a_history_or_its_dict():
    h = History(
        step=[1, 2], tokens_seen=[100, 200], train_loss=[5.123456, 4.0], val_loss=[5.5, 4.75]
    )
    for source in (h, h.to_dict()):
        fig = viz.loss_curves(source, title="t", epoch_tokens=100)
        train, val = fig.data
        assert list(train.x) == [100, 200] and list(train.y) == [5.123, 4.0]
        assert list(val.y) == [5.5, 4.75] and val.name == "validation"
        assert list(fig.layout.xaxis.tickvals) == [0, 100, 200]
    many = History(
        tokens_seen=[100 * k for k in range(1, 41)], train_loss=[1.0] * 40, val_loss=[1.0] * 40
    )
    ticks = viz.loss_curves(many, epoch_tokens=100).layout.xaxis.tickvals
    assert list(ticks) == list(range(0, 4001, 1000))  # 40 epochs: a tick every 10, 5 in all
    with pytest.raises(ValueError, match="needs a history with 'val_loss'"):
        viz.loss_curves({"tokens_seen": [], "train_loss": []})


def test_lr_schedule_draws_the_function():
    fig = viz.lr_schedule(lambda s: lr_at(s, 1e-3, 10, 100, 1e-4), 100)
    y = list(fig.data[0].y)
    assert len(y) == 100 and y[9] == pytest.approx(1e-3) and y[0] == pytest.approx(1e-4)
    assert min(y[10:]) == y[-1] > 1e-4
    with pytest.raises(ValueError, match="total_steps must be an int >= 1, got 0"):
        viz.lr_schedule(lambda s: 1e-3, 0)
    with pytest.raises(ValueError, match=r"lr_fn\(3\) must be a finite number >= 0.0, got nan"):
        viz.lr_schedule(lambda s: float("nan") if s == 3 else 1e-3, 10)


def test_sampling_explorer_precomputes_every_temperature():
    logits = torch.log(torch.tensor([0.05, 0.5, 0.2, 0.15, 0.1]))
    pieces = ["a", "b", "c", "d", "e"]
    fig = viz.sampling_explorer(
        logits, pieces, temperatures=(0.5, 1.0, 2.0), top_k=2, top_p=0.7, show=4
    )
    assert len(fig.data) == 3 and [t.visible for t in fig.data] == [False, True, False]
    assert fig.layout.sliders[0].active == 1 and fig.layout.title.text.startswith("temperature 1.0")
    at_one = fig.data[1]
    assert list(at_one.x) == ["1. 'b'", "2. 'c'", "3. 'd'", "4. 'e'"]
    assert list(at_one.y) == [0.5, 0.2, 0.15, 0.1]
    first, faint = viz.theme.COLORWAY[0], viz.theme.FAINT
    assert at_one.marker.color[:2] == (first, first) and at_one.marker.color[2] == faint
    p_half = torch.softmax(logits / 0.5, -1)
    assert fig.data[0].y[0] == pytest.approx(float(p_half[1]), rel=1e-3)
    steps = fig.layout.sliders[0].steps
    assert "top-p 0.7 keeps 2 tokens" in steps[1].args[1]["title.text"]  # 0.5 + 0.2 reaches 0.7
    assert "top-2 hold 70.0%" in steps[1].args[1]["title.text"]
    assert math.isclose(
        sum(fig.data[2].y), float(torch.softmax(logits / 2, -1)[1:].sum()), rel_tol=1e-3
    )
    with pytest.raises(
        ValueError, match=r"temperatures\[0\] is 0.0, but every value must be a finite number > 0"
    ):
        viz.sampling_explorer(logits, pieces, temperatures=(0,))
    with pytest.raises(ValueError, match=r"temperatures\[1\] is nan"):
        viz.sampling_explorer(logits, pieces, temperatures=(1.0, float("nan")))
    with pytest.raises(
        ValueError, match=r"pieces must give the text of every token id: 4 pieces for 5"
    ):
        viz.sampling_explorer(logits, pieces[:4])
    with pytest.raises(ValueError, match="logits without NaN"):
        viz.sampling_explorer(torch.full_like(logits, float("nan")), pieces)
    with pytest.raises(ValueError, match="top_p must be a finite number > 0.0 and <= 1.0, got 1.5"):
        viz.sampling_explorer(logits, pieces, top_p=1.5)
    with pytest.raises(TypeError, match="top_k must be an int, got float 2.0"):
        viz.sampling_explorer(logits, pieces, top_k=2.0)
    with pytest.raises(ValueError, match=r"the logits of one position, \(vocab,\), got \(1, 5\)"):
        viz.sampling_explorer(logits[None], pieces)
