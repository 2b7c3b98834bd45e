"""Turning next-token logits into text (chapter 5: greedy decoding).

``generate_text_simple`` repeats one step: run the model on the last ``context_length`` tokens,
take the logits of the last position, append the most likely token. Later chapters add sampling
(temperature, top-k, top-p), stopping at end-of-text and a KV cache here.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["generate_text_simple"]


@torch.no_grad()
def generate_text_simple(
    model: nn.Module,
    ids: torch.Tensor,
    max_new_tokens: int,
    context_length: int | None = None,
) -> torch.Tensor:
    """Greedy decoding: ``ids`` ``(batch, tokens)`` or ``(tokens,)`` → the same with
    ``max_new_tokens`` more tokens appended.

    Each step feeds the model at most the last ``context_length`` tokens (default: the model's
    ``cfg.context_length``) and appends the argmax of the last position's logits (ties go to the
    smallest id). The model runs in eval mode (no dropout) and is put back in its mode after.
    """
    if (
        not isinstance(max_new_tokens, int)
        or isinstance(max_new_tokens, bool)
        or max_new_tokens < 0
    ):
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if context_length is None:
        cfg = getattr(model, "cfg", None)
        if cfg is None:
            raise ValueError("generate_text_simple needs context_length for a model without .cfg")
        context_length = cfg.context_length
    if not isinstance(context_length, int) or context_length < 1:
        raise ValueError(f"context_length must be an int >= 1, got {context_length!r}")
    if not isinstance(ids, torch.Tensor) or ids.dim() not in (1, 2):
        raise ValueError("generate_text_simple needs ids as a (batch, tokens) or (tokens,) tensor")
    single = ids.dim() == 1
    if single:
        ids = ids.unsqueeze(0)
    if ids.shape[1] == 0:
        raise ValueError("generate_text_simple needs at least one token to start from")
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            logits = model(ids[:, -context_length:])  # (batch, tokens, vocab)
            next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (batch, 1)
            ids = torch.cat([ids, next_id], dim=1)
    finally:
        model.train(was_training)
    return ids[0] if single else ids
