"""Token and position embeddings, and tools to look at embedding vectors (chapter 3, Token
embeddings).

An embedding layer is a table with one learned row per token id; looking up an id is the same as
multiplying its one-hot vector by the table. A transformer cannot tell positions apart on its own,
so the model's input adds a vector per position: GPT-2 learns one row per position
(:class:`TokenAndPositionEmbedding`); the original Transformer used fixed sinusoids
(:func:`sinusoidal_positions`). :func:`pca` and :func:`nearest_neighbours` are how the chapter
looks at what training puts into the table.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from llmcourse.data import _positive_int  # the same argument check as chapter 2's loader
from llmcourse.validate import check_bool, check_float, check_int, check_type, describe

__all__ = [
    "TokenAndPositionEmbedding",
    "check_token_ids",
    "cosine_similarity",
    "nearest_neighbours",
    "pca",
    "sinusoidal_positions",
]


def check_token_ids(ids: torch.Tensor, vocab_size: int) -> None:
    """Raise a clear error unless ``ids`` is an integer tensor of ids in ``0 … vocab_size-1``.

    ``nn.Embedding`` itself fails with a bare ``IndexError: index out of range in self`` (or a
    device-side assert on a GPU); this names the offending id, where it is, and the limit.
    The range check reads the ids back from their device (a host sync); ids on the ``meta``
    device have no values and get only the type check.
    """
    vocab_size = _positive_int("vocab_size", vocab_size)
    _check_id_tensor(ids)
    if ids.numel() == 0 or ids.device.type == "meta":
        return
    bad = (ids < 0) | (ids >= vocab_size)
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        value = int(ids[where])
        raise ValueError(
            f"token id {value} at position {where} is out of range: the embedding has "
            f"vocab_size={vocab_size} rows, so ids must be 0 to {vocab_size - 1}"
        )


def _check_id_tensor(ids: torch.Tensor) -> None:
    """The checks that need no values (no host sync): a tensor of an integer dtype."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"token ids must be a tensor, got {describe(ids)}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"token ids must be an integer tensor, got dtype {ids.dtype}")


class TokenAndPositionEmbedding(nn.Module):
    """The model's input: a learned vector per token id plus a learned vector per position.

    ``forward(ids)`` takes ids of shape ``(batch, seq)`` and returns ``(batch, seq, emb_dim)``:
    ``tok_emb(ids) + pos_emb(start … start+seq-1)``. ``seq`` (plus ``start``, used when
    generating with a cache) may not exceed ``context_length``, the number of learned positions.
    ``GPTModel`` uses this class for its input (chapter 5).

    The ids' type and shape are always checked. Their range (:func:`check_token_ids`) is checked
    while ``check_ids`` is true: that check reads the ids back from the device (a host sync that
    stalls a GPU and breaks a ``torch.compile`` graph), so a model tuned for speed may turn it
    off and get PyTorch's own error (an ``IndexError``, or a device-side assert) instead.
    """

    def __init__(
        self, vocab_size: int, context_length: int, emb_dim: int, check_ids: bool = True
    ) -> None:
        super().__init__()
        self.vocab_size = _positive_int("vocab_size", vocab_size)
        self.context_length = _positive_int("context_length", context_length)
        self.emb_dim = _positive_int("emb_dim", emb_dim)
        self.check_ids = check_bool("check_ids", check_ids)
        self.tok_emb = nn.Embedding(self.vocab_size, self.emb_dim)
        self.pos_emb = nn.Embedding(self.context_length, self.emb_dim)

    def check(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Validate ``ids`` ``(batch, seq)`` at positions from ``start``, as ``forward`` does,
        without computing anything; returns the ids as ``nn.Embedding`` takes them."""
        _check_id_tensor(ids)
        if ids.dim() != 2:
            hint = " (add a batch dimension: ids.unsqueeze(0))" if ids.dim() == 1 else ""
            raise ValueError(
                f"ids must have shape (batch, seq), got shape {tuple(ids.shape)}{hint}"
            )
        start = check_int("start", start, 0)
        n, limit = start + ids.shape[1], self.context_length
        if n > limit:
            if start == 0:
                fix = f"keep the last {limit} tokens"
            else:
                fix = f"only {max(limit - start, 0)} more fit after the {start} before them"
            raise ValueError(
                f"sequence of {n} tokens is longer than the context length {limit}; {fix}"
            )
        if check_bool("check_ids", self.check_ids):
            check_token_ids(ids, self.vocab_size)
        if ids.dtype not in (torch.int32, torch.int64):
            ids = ids.long()  # nn.Embedding takes only these two
        return ids

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``(batch, seq)`` ids → ``(batch, seq, emb_dim)`` vectors; positions from ``start``."""
        ids = self.check(ids, start)
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        return self.tok_emb(ids) + self.pos_emb(positions)  # (b, s, d) + (s, d) broadcasts

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, context_length={self.context_length}, "
            f"emb_dim={self.emb_dim}"
        )


def sinusoidal_positions(n: int, dim: int, base: float = 10_000.0) -> torch.Tensor:
    """Fixed position vectors of the original Transformer, shape ``(n, dim)``.

    Column pair ``(2i, 2i+1)`` holds ``sin`` and ``cos`` of ``p / base**(2i/dim)`` for position
    ``p``: a fast wave in the first columns, slower ones further right. An odd ``dim`` drops the
    last cosine.
    """
    n, dim = _positive_int("n", n), _positive_int("dim", dim)
    base = check_float("base", base, 1.0, exclusive_min=True)
    pairs = (dim + 1) // 2
    rates = torch.exp(-math.log(base) * torch.arange(pairs, dtype=torch.float64) * 2 / dim)
    angles = torch.arange(n, dtype=torch.float64)[:, None] * rates  # (n, pairs)
    table = torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(n, 2 * pairs)
    return table[:, :dim].to(torch.float32)


# ----------------------------------------------------------------------------- looking at vectors
def _matrix(vectors: torch.Tensor, name: str = "vectors") -> torch.Tensor:
    """``vectors`` as a float64 ``(n, dim)`` copy; anything else (or NaN, inf) is an error."""
    check_type(name, vectors, torch.Tensor, "a 2-D tensor (n, dim)")
    if vectors.dtype == torch.bool or vectors.is_complex():
        raise TypeError(f"{name} must hold real numbers, got a {vectors.dtype} tensor")
    if vectors.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor (n, dim), got {tuple(vectors.shape)}")
    table = vectors.detach().to(torch.float64)
    if not bool(torch.isfinite(table).all()):
        raise ValueError(f"{name} holds NaN or infinite values; every entry must be finite")
    return table


def cosine_similarity(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` (n, d) with every row of ``b`` (m, d): (n, m).

    ``b`` defaults to ``a``. A zero row has similarity 0 with everything.
    """
    a = _matrix(a, "a")
    b = a if b is None else _matrix(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b need the same width, got {a.shape[1]} and {b.shape[1]}")
    unit_a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    unit_b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (unit_a @ unit_b.T).to(torch.float32)


def nearest_neighbours(
    vectors: torch.Tensor, query: int | torch.Tensor, k: int = 8, exclude_self: bool = True
) -> tuple[list[int], list[float]]:
    """The ``k`` rows of ``vectors`` (n, d) most cosine-similar to ``query``, best first.

    ``query`` is a row index (itself left out when ``exclude_self``) or a vector (d,). Returns
    (indices, similarities); ties go to the smaller index.
    """
    table = _matrix(vectors)
    k = _positive_int("k", k)
    check_bool("exclude_self", exclude_self)
    n, dim = table.shape
    if isinstance(query, torch.Tensor) and (query.dim() != 0 or query.is_floating_point()):
        if query.shape != (dim,):
            raise ValueError(
                f"query must be a row index or a vector of size {dim}, "
                f"got a tensor of shape {tuple(query.shape)}"
            )
        vector, skip = _matrix(query[None], "query")[0], None
    else:
        index = check_int("query", query)
        if not 0 <= index < n:
            raise ValueError(f"query index {index} out of range: vectors has {n} rows")
        vector, skip = table[index], index if exclude_self else None
    available = n - (skip is not None)
    if k > available:
        raise ValueError(f"k={k} neighbours asked for, but only {available} rows can be one")
    sims = cosine_similarity(table, vector[None]).to(torch.float64)[:, 0]
    order = torch.sort(-sims, stable=True).indices.tolist()
    picked = [i for i in order if i != skip][:k]
    return picked, [float(sims[i]) for i in picked]


def pca(vectors: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Coordinates of the rows of ``vectors`` (n, d) on their first ``k`` principal axes: (n, k).

    Computed with an SVD of the centred rows. The sign of each axis is fixed so that the point
    farthest along it lies on the positive side, which makes the picture reproducible.
    """
    table = _matrix(vectors)
    k = _positive_int("k", k)
    if k > min(table.shape):
        raise ValueError(f"k={k} axes need at least {k} rows and {k} columns, got {table.shape}")
    centred = table - table.mean(dim=0)
    u, s, _ = torch.linalg.svd(centred, full_matrices=False)
    coords = u[:, :k] * s[:k]
    extreme = coords.abs().argmax(dim=0)
    signs = torch.sign(coords[extreme, torch.arange(k)])
    signs[signs == 0] = 1
    return (coords * signs).to(torch.float32)
