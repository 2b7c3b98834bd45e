"""Tokenizers: text -> token ids -> text (chapter 1, ``book/01-tokenizing.ipynb``).

* ``SimpleTokenizer``: split text into words and punctuation with a regex and look each piece up
  in a vocabulary built from a corpus; unknown words become ``<|unk|>``.
* ``BPETokenizer`` (in ``llmcourse.bpe``, re-exported here): byte-level byte-pair encoding,
  trained from bytes or loaded with GPT-2's ranks (``gpt2_bpe()``), which gives exactly the ids
  of tiktoken's "gpt2" encoding.
* ``gpt2_tokenizer()``: tiktoken's GPT-2 encoding, offline once the assets are fetched.
* ``encode`` / ``decode`` / ``text_to_ids`` / ``ids_to_text`` / ``end_of_text_id``: one text <->
  ids API for all three, used by every later chapter.

Special tokens follow tiktoken's policy everywhere (``llmcourse.special_tokens``): a special
token written inside a text (such as ``<|endoftext|>``) is refused with a ``ValueError`` unless
``allowed_special`` names it, so a text cannot forge a document boundary.
``disallowed_special=()`` reads such text as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import tiktoken
import torch

from llmcourse import assets
from llmcourse.bpe import (
    GPT2_PATTERN,
    BPETokenizer,
    gpt2_bpe,
    load_tiktoken_ranks,
    merge_pair,
    show_token,
)
from llmcourse.special_tokens import (
    END_OF_TEXT,
    SPECIAL_LIKE,
    Allowed,
    Disallowed,
    check_specials,
    lookup_ids,
    special_policy,
    split_specials,
)
from llmcourse.validate import check_ids, check_int, check_type

__all__ = [
    "END_OF_TEXT",
    "GPT2_PATTERN",
    "Allowed",
    "BPETokenizer",
    "Disallowed",
    "SimpleTokenizer",
    "Tokenizer",
    "decode",
    "encode",
    "end_of_text_id",
    "gpt2_bpe",
    "gpt2_tokenizer",
    "ids_to_text",
    "load_tiktoken_ranks",
    "merge_pair",
    "split_words",
    "text_to_ids",
    "token_pieces",
]

WORD_SPLIT = re.compile(r'([,.:;?_!"()\'“”‘’—]|--|\s)')
"""Where ``split_words`` cuts: a punctuation mark (straight or curly quotes, the em dash ``—``
used by printed books), a double dash, or whitespace."""

_NO_SPACE_BEFORE = re.compile(r"\s+([,.:;?!)'’”—]|--)")  # "word ," -> "word,"
_NO_SPACE_AFTER = re.compile(r"([('‘’“—]|--)\s+")  # "( word" -> "(word", "don ’ t" -> "don’t"


def split_words(text: str) -> list[str]:
    """Words and punctuation marks of ``text``; whitespace is dropped.

    >>> split_words("Hello, world--again!")
    ['Hello', ',', 'world', '--', 'again', '!']
    """
    check_type("text", text, str, "a str")
    return [piece for piece in WORD_SPLIT.split(text) if piece.strip()]


class SimpleTokenizer:
    """Word-level tokenizer: ``split_words`` pieces looked up in ``vocab`` (token -> id).

    Vocabulary entries written like ``<|endoftext|>`` are special tokens: with
    ``allowed_special`` they are found in the text before the regex split, so each stays one
    token; by default a special token in the text is refused (see the module docstring).
    """

    def __init__(self, vocab: Mapping[str, int]) -> None:
        check_type("vocab", vocab, Mapping, "a dict of token -> id")
        if not vocab:
            raise ValueError("vocab is empty: it needs at least one token")
        self.vocab = {}
        for token, i in vocab.items():
            check_type("a vocab token", token, str, "a str")
            self.vocab[token] = check_int(f"the id of {token!r}", i, minimum=0)
        self.id_to_token = {i: token for token, i in self.vocab.items()}
        if len(self.id_to_token) != len(self.vocab):
            raise ValueError("vocab maps two tokens to the same id; ids must be unique")
        self.specials = [token for token in self.vocab if SPECIAL_LIKE.fullmatch(token)]

    @classmethod
    def from_text(
        cls, text: str, specials: Sequence[str] = ("<|unk|>", END_OF_TEXT)
    ) -> SimpleTokenizer:
        """Vocabulary of ``text``: its unique pieces sorted, then ``specials`` at the end."""
        specials = check_specials(specials)
        pieces = {p for part, _ in split_specials(text, specials) for p in split_words(part)}
        return cls({t: i for i, t in enumerate(sorted(pieces - set(specials)) + specials)})

    def tokenize(
        self,
        text: str,
        *,
        allowed_special: Allowed = frozenset(),
        disallowed_special: Disallowed = "all",
    ) -> list[str]:
        """The pieces of ``text`` before the lookup; allowed special tokens stay whole."""
        allowed = special_policy(text, set(self.specials), allowed_special, disallowed_special)
        parts = split_specials(text, allowed)
        return [p for part, special in parts for p in ([part] if special else split_words(part))]

    def encode(
        self,
        text: str,
        *,
        allowed_special: Allowed = frozenset(),
        disallowed_special: Disallowed = "all",
    ) -> list[int]:
        """Token ids of ``text``; unknown words become ``<|unk|>`` if the vocabulary has it."""
        unk = self.vocab.get("<|unk|>")
        ids = []
        pieces = self.tokenize(
            text, allowed_special=allowed_special, disallowed_special=disallowed_special
        )
        for piece in pieces:
            token_id = self.vocab.get(piece, unk)
            if token_id is None:
                raise ValueError(
                    f"word {piece!r} is not in the vocabulary, and the vocabulary has no "
                    "'<|unk|>' token to stand for unknown words"
                )
            ids.append(token_id)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Join the tokens with spaces, then remove the spaces before punctuation.

        The original spacing is not stored, so ``decode(encode(text))`` may differ from ``text``.
        """
        valid = f"valid ids: {min(self.id_to_token)}..{max(self.id_to_token)}"
        text = " ".join(lookup_ids(self.id_to_token, ids, valid))
        return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))

    def __len__(self) -> int:
        return len(self.vocab)


def gpt2_tokenizer() -> tiktoken.Encoding:
    """tiktoken's GPT-2 encoding, read from the course's cached assets (no network)."""
    assets.setup_tiktoken()
    return tiktoken.get_encoding("gpt2")


# ----------------------------------------------------------------------------- text <-> ids
Tokenizer = SimpleTokenizer | BPETokenizer | tiktoken.Encoding
_KINDS = "a SimpleTokenizer, BPETokenizer or tiktoken.Encoding"


def _tokenizer(tokenizer: Any) -> Tokenizer:
    """``tokenizer``, GPT-2's when it is None; anything else is a TypeError."""
    if tokenizer is None:
        return gpt2_tokenizer()
    return check_type(
        "tokenizer",
        tokenizer,
        (SimpleTokenizer, BPETokenizer, tiktoken.Encoding),
        f"{_KINDS} (None: GPT-2's)",
    )


def encode(
    text: str,
    tokenizer: Tokenizer | None = None,
    *,
    allowed_special: Allowed = frozenset(),
    disallowed_special: Disallowed = "all",
) -> list[int]:
    """Token ids of ``text`` with any course tokenizer (GPT-2's by default), one policy for all:
    a special token in the text raises unless ``allowed_special`` names it (tiktoken's rule).

    >>> encode("the end<|endoftext|>", allowed_special={"<|endoftext|>"})
    [1169, 886, 50256]
    """
    tokenizer = _tokenizer(tokenizer)
    if isinstance(tokenizer, tiktoken.Encoding):
        allowed = special_policy(
            text, tokenizer.special_tokens_set, allowed_special, disallowed_special
        )
        return tokenizer.encode(text, allowed_special=allowed, disallowed_special=())
    return tokenizer.encode(
        text, allowed_special=allowed_special, disallowed_special=disallowed_special
    )


def decode(ids: Iterable[int] | torch.Tensor, tokenizer: Tokenizer | None = None) -> str:
    """The text of ``ids`` (a list or a 1-D tensor); every id is type- and range-checked."""
    tokenizer = _tokenizer(tokenizer)
    if isinstance(tokenizer, tiktoken.Encoding):
        if isinstance(ids, torch.Tensor) and ids.dim() != 1:
            raise ValueError(f"ids must be one sequence of token ids, got shape {tuple(ids.shape)}")
        ids = check_ids("ids", ids, tokenizer.n_vocab)
        return tokenizer.decode(ids.tolist() if isinstance(ids, torch.Tensor) else ids)
    return tokenizer.decode(ids)


def text_to_ids(
    text: str,
    tokenizer: Tokenizer | None = None,
    *,
    allowed_special: Allowed = frozenset(),
    disallowed_special: Disallowed = "all",
) -> torch.Tensor:
    """``text`` as a ``(1, tokens)`` int64 batch of ids for a model (chapter 6); see ``encode``."""
    ids = encode(
        text, tokenizer, allowed_special=allowed_special, disallowed_special=disallowed_special
    )
    return torch.tensor(ids, dtype=torch.long).unsqueeze(0)


def ids_to_text(ids: torch.Tensor | Sequence[int], tokenizer: Tokenizer | None = None) -> str:
    """The text of ``ids``: ``(1, tokens)``, ``(tokens,)`` or a list (chapter 6)."""
    if isinstance(ids, torch.Tensor) and ids.dim() == 2:
        if ids.shape[0] != 1:
            raise ValueError(f"ids_to_text decodes one sequence, got a batch of {ids.shape[0]}")
        ids = ids[0]
    return decode(ids, tokenizer)


def end_of_text_id(tokenizer: Tokenizer | None = None) -> int:
    """The id of ``<|endoftext|>`` in ``tokenizer`` (GPT-2's: 50256), or a ``ValueError`` when
    it has no such special token. Chapter 7 pads and stops with it, for any tokenizer."""
    tokenizer = _tokenizer(tokenizer)
    if isinstance(tokenizer, tiktoken.Encoding):
        if END_OF_TEXT in tokenizer.special_tokens_set:
            return tokenizer.encode_single_token(END_OF_TEXT)
        specials = sorted(tokenizer.special_tokens_set)
    elif isinstance(tokenizer, BPETokenizer):
        if END_OF_TEXT in tokenizer.special_tokens:
            return tokenizer.special_tokens[END_OF_TEXT]
        specials = sorted(tokenizer.special_tokens)
    else:
        if END_OF_TEXT in tokenizer.vocab:
            return tokenizer.vocab[END_OF_TEXT]
        specials = tokenizer.specials
    raise ValueError(
        f"this {type(tokenizer).__name__} has no {END_OF_TEXT!r} special token (its special "
        f"tokens: {specials}); train it with special_tokens=[{END_OF_TEXT!r}]"
    )


def token_pieces(tokenizer: Tokenizer, text: str) -> list[tuple[str, int]]:
    """``(display string, id)`` of each token of ``text``; special tokens show as themselves.

    Works for ``SimpleTokenizer``, ``BPETokenizer`` and ``tiktoken.Encoding``. A BPE token that
    holds only part of a multi-byte character shows its bytes escaped, like ``\\xe4``.
    """
    if tokenizer is None:
        raise TypeError(f"tokenizer must be {_KINDS}, got None")
    ids = encode(text, tokenizer, allowed_special="all")
    if isinstance(tokenizer, SimpleTokenizer):
        return [(tokenizer.id_to_token[i], i) for i in ids]
    if isinstance(tokenizer, BPETokenizer):
        return [(show_token(tokenizer.vocab[i]), i) for i in ids]
    return [(show_token(tokenizer.decode_single_token_bytes(i)), i) for i in ids]
