"""The GPT model, piece by piece (chapter 5, The GPT model).

``GPTModel`` turns token ids ``(batch, tokens)`` into next-token logits
``(batch, tokens, vocab_size)``: token + position embeddings, ``n_layer`` transformer blocks,
a final layer norm and a linear output head. Each block is pre-norm with shortcuts::

    x = x + dropout(attention(norm1(x)))
    x = x + dropout(feed_forward(norm2(x)))

Parameter names differ from Hugging Face's; ``llmcourse.weights`` maps one onto the other, and the
tests prove the two models give the same logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse.attention import KVCache, LayerCache, MultiHeadAttention
from llmcourse.config import GPTConfig
from llmcourse.embeddings import TokenAndPositionEmbedding
from llmcourse.runtime import mode
from llmcourse.validate import check_bool, check_dtype, check_float, check_int, check_type

__all__ = [
    "GELU",
    "FeedForward",
    "GPTModel",
    "LayerNorm",
    "TransformerBlock",
    "count_parameters",
    "parameter_bytes",
]


class LayerNorm(nn.Module):
    """Normalise each vector to mean 0 and variance 1, then scale and shift (learned).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` over the last dimension, with the biased
    variance (divide by ``n``). Computed with ``F.layer_norm``, which fuses these steps; chapter 5
    writes them out and checks they are equal. Shape: ``(..., n_embd) -> (..., n_embd)``.
    """

    def __init__(self, n_embd: int, eps: float = 1e-5) -> None:
        super().__init__()
        n_embd = check_int("n_embd", n_embd, 1)
        self.eps = check_float("eps", eps, 0.0, exclusive_min=True)
        self.weight = nn.Parameter(torch.ones(n_embd))
        self.bias = nn.Parameter(torch.zeros(n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class GELU(nn.Module):
    """GELU with GPT-2's tanh approximation, element-wise:

    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``

    (``F.gelu(x, approximate="tanh")`` computes exactly this in one kernel.)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate="tanh")


class FeedForward(nn.Module):
    """Per-token MLP: ``Linear(n_embd, 4 n_embd)`` → GELU → ``Linear(4 n_embd, n_embd)``.

    Shape: ``(batch, tokens, n_embd) -> (batch, tokens, n_embd)``.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        check_type("cfg", cfg, GPTConfig, "a GPTConfig")
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.act = GELU()
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.act(self.fc(x)))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: attention then feed-forward, each inside a shortcut.

    Shape: ``(batch, tokens, n_embd) -> (batch, tokens, n_embd)``.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        check_type("cfg", cfg, GPTConfig, "a GPTConfig")
        self.norm1 = LayerNorm(cfg.n_embd)
        self.attn = MultiHeadAttention.from_config(cfg)
        self.norm2 = LayerNorm(cfg.n_embd)
        self.ff = FeedForward(cfg)
        self.drop_shortcut = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        """With a ``cache``, ``x`` is only the new tokens (see ``MultiHeadAttention``)."""
        x = x + self.drop_shortcut(self.attn(self.norm1(x), cache=cache))
        return x + self.drop_shortcut(self.ff(self.norm2(x)))


class GPTModel(nn.Module):
    """A GPT-2-style language model: ``ids (batch, tokens) -> logits (batch, tokens, vocab)``.

    Weights start as in GPT-2: normal with std 0.02, biases 0, and the two projections that
    write into the shortcut (``attn.out_proj``, ``ff.proj``) with std ``0.02 / sqrt(2 n_layer)``
    so the shortcut's variance does not grow with depth. With ``cfg.tie_weights`` the output
    head *is* the token embedding matrix (one parameter, counted once).

    The input is chapter 3's ``TokenAndPositionEmbedding`` (``model.embedding``); its two tables
    are registered here as ``tok_emb`` and ``pos_emb``, the names the saved weights use.
    ``check_ids`` (default True) checks that every id is in the vocabulary before the lookup;
    that check reads the ids back from the device (a host sync), so a model compiled or tuned
    for speed may turn it off (``model.check_ids = False``).
    """

    def __init__(self, cfg: GPTConfig, check_ids: bool = True) -> None:
        super().__init__()
        if not isinstance(cfg, GPTConfig):
            raise TypeError(f"GPTModel needs a GPTConfig, got {type(cfg).__name__}")
        embedding = TokenAndPositionEmbedding(
            cfg.vocab_size, cfg.context_length, cfg.n_embd, check_ids=check_ids
        )
        self.cfg = cfg
        # the tables are registered on the model itself (keys tok_emb.weight, pos_emb.weight);
        # the embedding holds the same two modules and is kept out of the module tree so that
        # no parameter appears twice (it has no train/eval behaviour of its own)
        self.tok_emb = embedding.tok_emb
        self.pos_emb = embedding.pos_emb
        self.__dict__["_embedding"] = embedding
        self.drop_emb = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.n_layer))
        self.final_norm = LayerNorm(cfg.n_embd)
        self.out_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.reset_parameters()
        if cfg.tie_weights:
            self.out_head.weight = self.tok_emb.weight

    @property
    def embedding(self) -> TokenAndPositionEmbedding:
        """Chapter 3's token + position embedding, over this model's ``tok_emb`` and ``pos_emb``."""
        embedding = self.__dict__["_embedding"]
        if embedding.tok_emb is not self.tok_emb or embedding.pos_emb is not self.pos_emb:
            embedding.tok_emb, embedding.pos_emb = self.tok_emb, self.pos_emb  # replaced tables
        return embedding

    @property
    def check_ids(self) -> bool:
        """Whether ``forward`` checks the ids' range first (a host sync); see the class doc."""
        return self.embedding.check_ids

    @check_ids.setter
    def check_ids(self, value: bool) -> None:
        self.embedding.check_ids = check_bool("check_ids", value)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """GPT-2's initialisation (see the class docstring)."""
        shortcut_std = 0.02 / math.sqrt(2 * self.cfg.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                std = shortcut_std if name.endswith(("attn.out_proj", "ff.proj")) else 0.02
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def embed(self, ids: torch.Tensor, past: int = 0) -> torch.Tensor:
        """Token + position embeddings, after dropout: ``(batch, tokens, n_embd)``.

        ``past`` tokens came before (in a KV cache): positions start at ``past``.
        """
        return self.drop_emb(self.embedding(ids, past))

    def new_cache(self) -> KVCache:
        """An empty ``KVCache`` for this model's layers (chapter 6)."""
        return KVCache(self.cfg.n_layer)

    def forward(
        self,
        ids: torch.Tensor,
        cache: KVCache | None = None,
        select: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Next-token logits ``(batch, tokens, vocab_size)`` for ``ids`` ``(batch, tokens)``.

        With a ``cache`` (from ``new_cache()``), ``ids`` are the tokens that follow the cached
        ones: only they are computed, and they are added to the cache. With ``select``, a bool
        ``(batch, tokens)`` mask, only the selected positions go through the output head and the
        result is ``(n_selected, vocab_size)``, in row-major order: the same rows as
        ``logits[select]``, without the cost of the head at the other positions (chapter 7.2).
        """
        if cache is not None:
            check_type("cache", cache, KVCache, "a KVCache (from model.new_cache()) or None")
            if len(cache.layers) != self.cfg.n_layer:
                raise ValueError(
                    f"the cache has {len(cache.layers)} layers, the model {self.cfg.n_layer}; "
                    "make it with model.new_cache()"
                )
        x = self.embed(ids, 0 if cache is None else len(cache))  # checks the ids
        if select is not None:  # checked before the blocks fill the cache
            check_type("select", select, torch.Tensor, "a bool tensor (batch, tokens) or None")
            if select.dtype != torch.bool:
                raise TypeError(f"select must be a bool mask, got a {select.dtype} tensor")
            if select.shape != ids.shape:
                raise ValueError(
                    f"select must be a bool mask of the ids' shape {tuple(ids.shape)}, got "
                    f"shape {tuple(select.shape)}"
                )
        for i, block in enumerate(self.blocks):
            x = block(x, cache=None if cache is None else cache.layers[i])
        if select is not None:
            x = x[select.to(x.device)]
        return self.out_head(self.final_norm(x))

    def attention_weights(self, ids: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer and head: ``(n_layer, batch, n_head, tokens, tokens)``.

        Entry ``[l, b, h, i, j]`` is how much token ``i`` takes from token ``j`` in head ``h`` of
        layer ``l`` (softmax output). Runs in eval mode (no dropout) and leaves the model's
        mode as it was (chapter 4).
        """
        with mode(self, training=False):
            x = self.embed(ids)
            weights = []
            for block in self.blocks:
                weights.append(block.attn.attention_weights(block.norm1(x)))
                x = block(x)
        return torch.stack(weights)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (of those with ``requires_grad``, if ``trainable_only``); a tied
    (shared) tensor counts once."""
    check_type("model", model, nn.Module, "a torch.nn.Module")
    check_bool("trainable_only", trainable_only)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def parameter_bytes(model: nn.Module, dtype: torch.dtype | None = None) -> int:
    """Bytes the parameters take, in their own dtype or, if given, in ``dtype``; a tied tensor
    counts once."""
    check_type("model", model, nn.Module, "a torch.nn.Module")
    dtype = check_dtype("dtype", dtype, none_ok=True)
    size = None if dtype is None else torch.empty((), dtype=dtype).element_size()
    return sum(p.numel() * (size or p.element_size()) for p in model.parameters())
