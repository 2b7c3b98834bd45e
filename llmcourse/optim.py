"""The optimizer and its learning-rate schedule (chapter 6, Pretraining).

``make_optimizer`` is AdamW with weight decay on matrices only; ``lr_at`` is a linear warm-up
followed by a cosine decay (or a constant rate).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from llmcourse.validate import check_float, check_int, check_type, describe

__all__ = ["check_betas", "lr_at", "make_optimizer"]


def lr_at(
    step: int,
    max_lr: float,
    warmup_steps: int,
    total_steps: int,
    min_lr: float | None = 0.0,
) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up to ``max_lr`` over ``warmup_steps``
    steps, then a cosine from ``max_lr`` down to ``min_lr`` at ``total_steps``. ``min_lr=None``
    means ``max_lr``: a constant rate after the warm-up."""
    step = check_int("step", step, minimum=0)
    max_lr = check_float("max_lr", max_lr, minimum=0.0, exclusive_min=True)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    total_steps = check_int("total_steps", total_steps, minimum=1)
    min_lr = max_lr if min_lr is None else check_float("min_lr", min_lr, 0.0, max_lr)
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def check_betas(betas: Any) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair of numbers (beta1, beta2), got {describe(betas)}")
    return tuple(check_float(f"betas[{i}]", b, 0.0, 0.999999) for i, b in enumerate(betas))


def make_optimizer(
    model: nn.Module, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95)
) -> torch.optim.AdamW:
    """AdamW with decoupled weight decay on matrices only.

    Weight decay pulls weights towards 0; on biases and layer-norm scales it only hurts, so
    parameters with fewer than 2 dimensions form a second group with ``weight_decay=0``.
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    lr = check_float("lr", lr, minimum=0.0, exclusive_min=True)
    weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
    betas = check_betas(betas)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameter with requires_grad=True: nothing to train")
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)
