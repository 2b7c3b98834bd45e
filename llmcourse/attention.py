"""Causal multi-head self-attention (chapter 4, Attention).

Every token builds a query, a key and a value from its vector. A token's output is a weighted
average of the values of the tokens up to and including itself, weighted by the softmax of
query · key / √head_dim. ``n_head`` heads do this in parallel on slices of the vector, and a last
linear layer mixes their outputs.

When generating, the keys and values of earlier tokens never change: a ``KVCache`` keeps them, so
each new token only computes its own query, key and value (chapter 6).

Two ways to compute the same thing:

- explicit (``fast=False``): scores, causal mask, softmax, dropout, weighted sum — the formula of
  chapter 4, and the only path that can return the attention weights;
- fast (``fast=True``): ``torch.nn.functional.scaled_dot_product_attention``, one fused kernel that
  never stores the ``tokens × tokens`` weights. Without dropout it gives the same outputs (to float
  rounding); with dropout it draws different random masks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["KVCache", "LayerCache", "MultiHeadAttention", "causal_mask"]


def causal_mask(n_tokens: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``(n_tokens, n_tokens)`` bool tensor, True where a query would see a *future* key.

    Row ``i`` is a query position and column ``j`` a key position: ``mask[i, j] = j > i``.
    """
    return ~_offset_mask(n_tokens, n_tokens, device)


class LayerCache:
    """The keys and values one attention layer has seen: ``(batch, n_head, tokens, head_dim)``."""

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new tokens' keys and values; return all of them so far."""
        if self.keys is None or self.values is None:
            self.keys, self.values = k, v
        else:
            self.keys = torch.cat([self.keys, k], dim=2)
            self.values = torch.cat([self.values, v], dim=2)
        return self.keys, self.values


class KVCache:
    """One ``LayerCache`` per transformer block; ``len(cache)`` is the tokens cached so far."""

    def __init__(self, n_layer: int) -> None:
        self.layers = [LayerCache() for _ in range(n_layer)]

    def __len__(self) -> int:
        return len(self.layers[0]) if self.layers else 0

    def reset(self) -> None:
        """Forget every cached token."""
        self.layers = [LayerCache() for _ in self.layers]


def _offset_mask(n_new: int, n_all: int, device: torch.device) -> torch.Tensor:
    """``(n_new, n_all)`` bool, True where a new query may see a key: the new tokens are the
    last ``n_new`` of ``n_all``, so query ``i`` sees keys ``0 … n_all - n_new + i``."""
    return torch.ones(n_new, n_all, dtype=torch.bool, device=device).tril(n_all - n_new)


class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention: ``(batch, tokens, d_in) -> (batch, tokens, d_out)``.

    ``fused_qkv=True`` computes queries, keys and values with one ``Linear(d_in, 3 * d_out)``
    (``qkv``, output in the order q, k, v); ``False`` uses three (``query``, ``key``, ``value``).
    Both have the same parameters, arranged differently. ``out_proj`` mixes the heads.
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
        if d_out % n_head != 0:
            raise ValueError(f"d_out={d_out} is not divisible by n_head={n_head}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
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

    def forward(
        self, x: torch.Tensor, return_attn: bool = False, cache: LayerCache | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend over ``x`` ``(batch, tokens, d_in)``; returns ``(batch, tokens, d_out)``.

        With ``return_attn=True`` (explicit path) also returns the attention weights
        ``(batch, n_head, tokens, keys)``: the softmax output, before dropout; row ``i`` holds
        how much query ``i`` takes from each key. With a ``cache``, ``x`` holds only the new
        tokens: they attend to the cached keys and values too, and are added to the cache.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_in:
            raise ValueError(
                f"MultiHeadAttention expects (batch, tokens, {self.d_in}), got {tuple(x.shape)}"
            )
        b, n, _ = x.shape
        past = 0 if cache is None else len(cache)
        if past + n > self.context_length:
            raise ValueError(
                f"sequence of {past + n} tokens is longer than the context length "
                f"{self.context_length}"
            )
        q, k, v = self.project(x)
        if cache is not None:
            k, v = cache.append(k, v)
        weights = None
        if self.fast and not return_attn:
            p = self.dropout.p if self.training else 0.0
            if past == 0:
                context = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            else:  # is_causal would align the mask to the top-left; the new tokens are last
                mask = None if n == 1 else _offset_mask(n, past + n, x.device)
                context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            scores = q @ k.transpose(-2, -1)  # (batch, n_head, tokens, keys)
            scores = scores.masked_fill(~_offset_mask(n, past + n, x.device), float("-inf"))
            weights = torch.softmax(scores / math.sqrt(self.head_dim), dim=-1)
            context = self.dropout(weights) @ v  # (batch, n_head, tokens, head_dim)
        out = self.out_proj(context.transpose(1, 2).reshape(b, n, self.d_out))
        return (out, weights) if return_attn else out

    def extra_repr(self) -> str:
        return f"n_head={self.n_head}, head_dim={self.head_dim}, fast={self.fast}"
