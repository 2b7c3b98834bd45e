"""Causal multi-head self-attention (chapter 4, Attention).

Every token builds a query, a key and a value from its vector. A token's output is a weighted
average of the values of the tokens up to and including itself, weighted by the softmax of
query · key / √head_dim. ``n_head`` heads do this in parallel on slices of the vector, and a last
linear layer mixes their outputs.

When generating, the keys and values of earlier tokens never change: a ``KVCache`` keeps them, so
each new token only computes its own query, key and value (chapter 6).

Masks follow one convention, the one of ``torch.nn.functional.scaled_dot_product_attention``'s
``attn_mask``: a bool tensor ``(queries, keys)``, **True where the query may attend to the key**
(see :func:`causal_mask`).

Two ways to compute the same outputs:

- explicit (``fast=False``): scores, causal mask, softmax, dropout, weighted sum — the formula of
  chapter 4;
- fast (``fast=True``): ``scaled_dot_product_attention``, one fused kernel that never stores the
  ``tokens × tokens`` weights. Without dropout it gives the same outputs (to float rounding);
  with dropout it draws different random masks.

``forward`` always returns the outputs; the weights come from :meth:`attention_weights`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse.config import GPTConfig
from llmcourse.validate import check_bool, check_float, check_int, check_type

__all__ = ["KVCache", "LayerCache", "MultiHeadAttention", "causal_mask"]


def causal_mask(
    n_tokens: int, device: torch.device | str | None = None, *, n_keys: int | None = None
) -> torch.Tensor:
    """``(n_tokens, n_keys)`` bool tensor, True where a query may attend to a key.

    The queries are the last ``n_tokens`` of ``n_keys`` positions (``n_keys`` defaults to
    ``n_tokens``; more keys when earlier tokens sit in a KV cache), so query ``i`` sees keys
    ``0 … n_keys - n_tokens + i``. For ``n_keys == n_tokens``: ``mask[i, j] = j <= i``.
    Use it as SDPA's ``attn_mask``, or ``scores.masked_fill(~mask, float("-inf"))``.
    """
    n_tokens = check_int("n_tokens", n_tokens, 0)
    n_keys = n_tokens if n_keys is None else check_int("n_keys", n_keys, n_tokens)
    return torch.ones(n_tokens, n_keys, dtype=torch.bool, device=device).tril(n_keys - n_tokens)


class LayerCache:
    """The keys and values one attention layer has seen: ``(batch, n_head, tokens, head_dim)``."""

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new tokens' keys and values; return all of them so far."""
        self.keys, self.values = self.peek(k, v)
        return self.keys, self.values

    def peek(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The cached keys and values followed by ``k``, ``v``, without storing them."""
        if self.keys is None or self.values is None:
            return k, v
        return torch.cat([self.keys, k], dim=2), torch.cat([self.values, v], dim=2)


class KVCache:
    """One ``LayerCache`` per transformer block; ``len(cache)`` is the tokens cached so far."""

    def __init__(self, n_layer: int) -> None:
        n_layer = check_int("n_layer", n_layer, 1)
        self.layers = [LayerCache() for _ in range(n_layer)]

    def __len__(self) -> int:
        return len(self.layers[0])

    def reset(self) -> None:
        """Forget every cached token."""
        self.layers = [LayerCache() for _ in self.layers]


class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention: ``(batch, tokens, d_in) -> (batch, tokens, d_out)``.

    ``fused_qkv=True`` computes queries, keys and values with one ``Linear(d_in, 3 * d_out)``
    (``qkv``, output in the order q, k, v); ``False`` uses three (``query``, ``key``, ``value``).
    Both have the same parameters, arranged differently. ``out_proj`` mixes the heads.
    ``MultiHeadAttention.from_config(cfg)`` builds the one a ``GPTModel`` block uses.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        n_head: int,
        dropout: float = 0.0,
        qkv_bias: bool = False,
        fused_qkv: bool = True,
        fast: bool = False,
    ) -> None:
        super().__init__()
        d_in, d_out = check_int("d_in", d_in, 1), check_int("d_out", d_out, 1)
        context_length = check_int("context_length", context_length, 1)
        n_head = check_int("n_head", n_head, 1)
        dropout = check_float("dropout", dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        for name, flag in (("qkv_bias", qkv_bias), ("fused_qkv", fused_qkv), ("fast", fast)):
            check_bool(name, flag)
        if d_out % n_head != 0:
            raise ValueError(f"d_out={d_out} is not divisible by n_head={n_head}")
        self.d_in, self.d_out, self.n_head = d_in, d_out, n_head
        self.head_dim = d_out // n_head
        self.context_length = context_length
        self.fused_qkv, self.fast = fused_qkv, fast
        if fused_qkv:
            self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        else:
            self.query = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.key = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_config(cls, cfg: GPTConfig) -> MultiHeadAttention:
        """The attention of a ``GPTModel`` block: ``n_embd -> n_embd``, fused q/k/v, and the
        config's heads, context length, dropout, ``qkv_bias`` and ``fast_attention``."""
        check_type("cfg", cfg, GPTConfig, "a GPTConfig")
        return cls(
            cfg.n_embd,
            cfg.n_embd,
            cfg.context_length,
            cfg.n_head,
            dropout=cfg.dropout,
            qkv_bias=cfg.qkv_bias,
            fused_qkv=True,
            fast=cfg.fast_attention,
        )

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        """``(batch, tokens, d_out) -> (batch, n_head, tokens, head_dim)``."""
        b, n, _ = t.shape
        return t.view(b, n, self.n_head, self.head_dim).transpose(1, 2)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys, values, each ``(batch, n_head, tokens, head_dim)``."""
        if self.fused_qkv:
            q, k, v = self.qkv(x).split(self.d_out, dim=-1)
        else:
            q, k, v = self.query(x), self.key(x), self.value(x)
        return self._heads(q), self._heads(k), self._heads(v)

    def _check(self, x: torch.Tensor, cache: LayerCache | None) -> int:
        """Validate the input and the cache before any work; return the cached length."""
        check_type("x", x, torch.Tensor, f"a tensor (batch, tokens, {self.d_in})")
        if x.dim() != 3 or x.shape[-1] != self.d_in:
            raise ValueError(
                f"MultiHeadAttention expects (batch, tokens, {self.d_in}), got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
        if cache is None:
            past = 0
        else:
            check_type("cache", cache, LayerCache, "a LayerCache (from KVCache.layers) or None")
            past = len(cache)
            if cache.keys is not None and cache.keys.shape[0] != x.shape[0]:
                raise ValueError(
                    f"the cache holds a batch of {cache.keys.shape[0]} sequences, x has "
                    f"{x.shape[0]}; use a new cache (reset()) for another batch"
                )
        if past + x.shape[1] > self.context_length:
            raise ValueError(
                f"sequence of {past + x.shape[1]} tokens is longer than the context length "
                f"{self.context_length}"
            )
        return past

    def _weights(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Softmax of the masked, scaled scores: ``(batch, n_head, queries, keys)``."""
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        mask = causal_mask(q.shape[2], q.device, n_keys=k.shape[2])
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        """Attend over ``x`` ``(batch, tokens, d_in)``; returns ``(batch, tokens, d_out)``.

        With a ``cache``, ``x`` holds only the new tokens: they attend to the cached keys and
        values too, and are added to the cache.
        """
        past = self._check(x, cache)
        b, n, _ = x.shape
        q, k, v = self.project(x)
        if cache is not None:
            k, v = cache.append(k, v)
        if self.fast:
            p = self.dropout.p if self.training else 0.0
            if past == 0:
                context = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            else:  # is_causal would align the mask to the top-left; the new tokens are last
                mask = None if n == 1 else causal_mask(n, x.device, n_keys=past + n)
                context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            context = self.dropout(self._weights(q, k)) @ v  # (batch, n_head, tokens, head_dim)
        return self.out_proj(context.transpose(1, 2).reshape(b, n, self.d_out))

    def attention_weights(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        """The weights ``forward(x, cache)`` averages the values with: ``(batch, n_head, tokens,
        keys)``, the softmax output before dropout (so the same in train and eval mode). Row
        ``i`` holds how much query ``i`` takes from each key; ``keys`` counts the cached tokens
        too. Reads the cache without adding to it.
        """
        self._check(x, cache)
        q, k, v = self.project(x)
        if cache is not None:
            k, v = cache.peek(k, v)
        return self._weights(q, k)

    def extra_repr(self) -> str:
        return f"n_head={self.n_head}, head_dim={self.head_dim}, fast={self.fast}"
