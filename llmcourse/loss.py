"""The language-modelling loss (chapter 6, Pretraining).

``batch_loss`` is the mean cross-entropy of a batch's next-token predictions, ``perplexity`` is
``e^loss``, and ``evaluate_loss`` averages the loss over a loader with dropout off.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from llmcourse.model import GPTModel
from llmcourse.runtime import mode, unwrap
from llmcourse.validate import check_float, check_ids, check_int, check_type

__all__ = ["IGNORE_INDEX", "batch_loss", "evaluate_loss", "perplexity"]

IGNORE_INDEX = -100  # targets with this value count for nothing (F.cross_entropy's default)


def batch_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next-token predictions of a batch (a 0-d tensor).

    ``inputs`` and ``targets`` are ``(batch, tokens)`` ids; the logits ``(batch, tokens, vocab)``
    are flattened to ``(batch * tokens, vocab)`` so every position counts once. Targets equal to
    ``-100`` are ignored (fine-tuning uses them to mask tokens); a batch whose targets are all
    ``-100`` has nothing to learn from and is refused. When a ``GPTModel`` has such targets, only
    the other positions go through its output head: the same loss, computed faster
    (``GPTModel.forward``'s ``select``).
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    check_type("inputs", inputs, torch.Tensor, "a (batch, tokens) tensor of token ids")
    check_type("targets", targets, torch.Tensor, "a (batch, tokens) tensor of token ids")
    if inputs.dim() != 2 or inputs.shape != targets.shape:
        raise ValueError(
            f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must have the "
            "same shape (batch, tokens)"
        )
    net = unwrap(model)
    vocab = net.cfg.vocab_size if isinstance(net, GPTModel) else None
    check_ids("inputs", inputs, vocab)
    keep = targets != IGNORE_INDEX
    check_ids("targets (other than -100)", targets[keep], vocab)
    if not bool(keep.any()):
        raise ValueError(
            f"every target of this batch {tuple(targets.shape)} is -100 (ignored): the loss "
            "would be nan; leave at least one target unmasked in every batch"
        )
    device = next(model.parameters()).device
    inputs, targets, keep = inputs.to(device), targets.to(device), keep.to(device)
    if isinstance(net, GPTModel) and not bool(keep.all()):
        logits = model(inputs, select=keep)
        return F.cross_entropy(logits.float(), targets[keep])
    logits = model(inputs)
    check_ids("targets (other than -100)", targets[keep], logits.size(-1))
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())


def perplexity(loss: float | torch.Tensor) -> float:
    """``exp(loss)``: the number of equally likely tokens that would give the same loss
    (``inf`` for a loss too large for a float)."""
    loss = check_float("loss", loss, minimum=0.0)
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


@torch.no_grad()
def evaluate_loss(model: nn.Module, loader: DataLoader, max_batches: int | None = None) -> float:
    """Mean of ``batch_loss`` over ``loader`` (its first ``max_batches`` batches if given).

    The model runs in eval mode (no dropout) and is put back in its mode afterwards. A batch
    whose loss is not finite raises ``FloatingPointError`` naming the batch.
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    check_type("loader", loader, DataLoader, "a DataLoader of (inputs, targets) batches")
    max_batches = check_int("max_batches", max_batches, minimum=1, none_ok=True)
    if len(loader) == 0:
        raise ValueError("the loader yields no batches: nothing to evaluate")
    total, count = 0.0, 0
    with mode(model, training=False):
        for i, (inputs, targets) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            value = batch_loss(model, inputs, targets).item()
            if not math.isfinite(value):
                raise FloatingPointError(f"batch {i} of the loader gives a loss of {value}")
            total += value
            count += 1
    return total / count
