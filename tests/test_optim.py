"""llmcourse.optim: warm-up and cosine decay, AdamW with decay on matrices only."""

import itertools
import math

import pytest
from test_train import tiny

from llmcourse.optim import lr_at, make_optimizer


def test_warmup_then_cosine():
    kw = {"max_lr": 1.0, "warmup_steps": 10, "total_steps": 110, "min_lr": 0.1}
    assert lr_at(0, **kw) == pytest.approx(0.1)
    assert lr_at(9, **kw) == pytest.approx(1.0)
    assert lr_at(10, **kw) == pytest.approx(1.0)
    assert lr_at(60, **kw) == pytest.approx(0.55)  # half-way down the cosine
    assert lr_at(110, **kw) == pytest.approx(0.1)
    values = [lr_at(s, **kw) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_weight_decay_only_on_matrices():
    model = tiny()
    opt = make_optimizer(model, 1e-3, weight_decay=0.2)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.2 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    n = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n == sum(p.numel() for p in model.parameters())  # the tied head counted once


def test_schedule_and_optimizer_bad_input():
    assert lr_at(50, max_lr=0.1, warmup_steps=0, total_steps=100, min_lr=None) == 0.1
    assert lr_at(0, max_lr=0.1, warmup_steps=0, total_steps=100) == 0.1
    with pytest.raises(ValueError, match="step must be an int >= 0, got -1"):
        lr_at(-1, 0.1, 0, 100)
    with pytest.raises(ValueError, match="max_lr must be a finite number > 0.0, got nan"):
        lr_at(0, math.nan, 0, 100)
    with pytest.raises(ValueError, match=r"min_lr must be a finite number >= 0.0 and <= 0.1"):
        lr_at(0, 0.1, 0, 100, min_lr=0.5)
    with pytest.raises(TypeError, match="total_steps must be an int, got bool True"):
        lr_at(0, 0.1, 0, True)
    model = tiny()
    with pytest.raises(ValueError, match=r"betas\[0\] must be a finite number"):
        make_optimizer(model, 1e-3, betas=(1.5, 0.9))
    with pytest.raises(ValueError, match="lr must be a finite number > 0.0, got 0.0"):
        make_optimizer(model, 0.0)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0.0, got -0.1"):
        make_optimizer(model, 1e-3, weight_decay=-0.1)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter with requires_grad=True"):
        make_optimizer(model, 1e-3)
