"""Turning next-token logits into text (chapter 5: greedy; chapter 6: sampling, KV cache).

``generate_text_simple`` repeats one step: run the model on the last ``context_length`` tokens,
take the logits of the last position, append the most likely token.

``generate`` is the full version (chapter 6): ``next_token_probs`` reshapes the last position's
distribution with a temperature, a top-k cut and a top-p (nucleus) cut, a token is drawn from
it (or the argmax at temperature 0), generation stops at an end-of-text id, and a ``KVCache``
keeps the keys and values of earlier tokens so each step computes only the new token.
"""

from __future__ import annotations

import torch
from torch import nn

from llmcourse.attention import KVCache
from llmcourse.runtime import mode
from llmcourse.tokenizer import ids_to_text, text_to_ids  # re-exported: chapter 6 imports them here
from llmcourse.validate import check_bool, check_float, check_int, check_type

__all__ = [
    "generate",
    "generate_text_simple",
    "ids_to_text",
    "next_token_probs",
    "sample_next",
    "text_to_ids",
]


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
    check_int("max_new_tokens", max_new_tokens, 0)
    if context_length is None:
        cfg = getattr(model, "cfg", None)
        if cfg is None:
            raise ValueError("generate_text_simple needs context_length for a model without .cfg")
        context_length = cfg.context_length
    check_int("context_length", context_length, 1)
    if not isinstance(ids, torch.Tensor) or ids.dim() not in (1, 2):
        raise ValueError("generate_text_simple needs ids as a (batch, tokens) or (tokens,) tensor")
    single = ids.dim() == 1
    if single:
        ids = ids.unsqueeze(0)
    if ids.shape[1] == 0:
        raise ValueError("generate_text_simple needs at least one token to start from")
    with mode(model, training=False):
        for step in range(max_new_tokens):
            logits = model(ids[:, -context_length:])  # (batch, tokens, vocab)
            _check_finite(logits[:, -1, :], step)
            next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)  # (batch, 1)
            ids = torch.cat([ids, next_id], dim=1)
    return ids[0] if single else ids


# ----------------------------------------------------------------------------- chapter 6
def _check_sampling(temperature: float, top_k: int | None, top_p: float | None, vocab: int):
    check_float("temperature", temperature, minimum=0.0)
    if check_int("top_k", top_k, none_ok=True) is not None and not 1 <= top_k <= vocab:
        raise ValueError(f"top_k must be between 1 and the vocabulary size {vocab}, got {top_k}")
    check_float("top_p", top_p, 0.0, 1.0, exclusive_min=True, none_ok=True)


def _check_finite(logits: torch.Tensor, step: int) -> None:
    """Stop with a clear error when the model's logits at generation step ``step`` hold NaN or
    infinity (a NaN weight, say), instead of drawing token 0 forever."""
    if not bool(torch.isfinite(logits).all()):
        kind = "NaN" if bool(torch.isnan(logits).any()) else "infinity"
        raise ValueError(
            f"the model's logits at generation step {step} are not finite ({kind}): its "
            "weights or inputs hold NaN or infinity (check the training run that made them)"
        )


def next_token_probs(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """The distribution the next token is drawn from: ``(..., vocab)`` logits → probabilities.

    Divide the logits by ``temperature`` (below 1 sharpens, above 1 flattens; 0 puts all the
    probability on the argmax), keep the ``top_k`` largest, then keep the smallest set of most
    likely tokens whose probabilities add up to at least ``top_p``; renormalise.
    """
    _check_sampling(temperature, top_k, top_p, logits.shape[-1])
    logits = logits.float()
    if bool(torch.isnan(logits).any()) or not bool(torch.isfinite(logits).any(-1).all()):
        raise ValueError(
            "the logits hold NaN, or a row whose every logit is -inf: there is no distribution "
            "to draw the next token from"
        )
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1:
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # probability of the tokens ranked above
        sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def sample_next(
    logits: torch.Tensor,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token id per row of ``logits`` ``(batch, vocab)`` → ``(batch, 1)``: the argmax at
    ``temperature=0``, else a draw from ``next_token_probs``."""
    check_type("generator", generator, (torch.Generator, type(None)), "a torch.Generator or None")
    if temperature == 0:
        _check_sampling(temperature, top_k, top_p, logits.shape[-1])
        return logits.argmax(dim=-1, keepdim=True)
    probs = next_token_probs(logits, temperature, top_k, top_p)
    return torch.multinomial(probs, 1, generator=generator)


@torch.no_grad()
def generate(
    model: nn.Module,
    ids: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Append up to ``max_new_tokens`` tokens to ``ids`` ``(batch, tokens)`` or ``(tokens,)``.

    Each step picks the next token with ``sample_next`` (greedy at ``temperature=0``, the
    default). A row that produces ``eos_id`` stops there (the id is kept; rows that stopped
    earlier are padded with it) and generation ends when every row has stopped.

    With ``use_cache`` the model computes each new token against a ``KVCache`` of the earlier
    ones and gives the same tokens as without it. Once the text outgrows the context, each step
    feeds the last ``context_length`` tokens afresh, as ``generate_text_simple`` does. The
    prompt itself must fit in the context.
    """
    check_int("max_new_tokens", max_new_tokens, 0)
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise TypeError("generate needs a GPTModel (a model with .cfg)")
    _check_sampling(temperature, top_k, top_p, cfg.vocab_size)
    check_int("eos_id", eos_id, 0, cfg.vocab_size - 1, none_ok=True)
    check_bool("use_cache", use_cache)
    if not isinstance(ids, torch.Tensor) or ids.dim() not in (1, 2):
        raise ValueError("generate needs ids as a (batch, tokens) or (tokens,) tensor")
    single = ids.dim() == 1
    if single:
        ids = ids.unsqueeze(0)
    ctx = cfg.context_length
    if ids.shape[1] == 0:
        raise ValueError("generate needs at least one prompt token to start from")
    if ids.shape[1] > ctx:
        raise ValueError(
            f"the prompt has {ids.shape[1]} tokens but the model's context holds {ctx}; "
            f"shorten it, e.g. keep its last {ctx} tokens (ids[..., -{ctx}:])"
        )
    device = next(model.parameters(), ids).device
    ids = ids.to(device)
    finished = torch.zeros(ids.shape[0], 1, dtype=torch.bool, device=device)
    cache: KVCache | None = model.new_cache() if use_cache else None
    with mode(model, training=False):
        for step in range(max_new_tokens):
            if cache is None:
                logits = model(ids[:, -ctx:])
            elif len(cache) == 0 or ids.shape[1] > ctx:  # first step, or a full context
                cache.reset()
                logits = model(ids[:, -ctx:], cache=cache)
            else:
                logits = model(ids[:, -1:], cache=cache)
            _check_finite(logits[:, -1, :], step)
            next_id = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)
            if eos_id is not None:
                next_id = next_id.masked_fill(finished, eos_id)
                finished |= next_id == eos_id
            ids = torch.cat([ids, next_id], dim=1)
            if eos_id is not None and bool(finished.all()):
                break
    return ids[0] if single else ids
