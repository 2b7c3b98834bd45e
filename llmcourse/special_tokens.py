"""Special tokens such as ``<|endoftext|>``, and the one policy every tokenizer follows (chapter 1).

tiktoken's rule: a special token written inside a text is refused with a ``ValueError`` unless
``allowed_special`` names it, so a text cannot forge a document boundary (chapter 2);
``disallowed_special=()`` reads such text as plain text. ``SimpleTokenizer`` and
``BPETokenizer`` (``llmcourse.tokenizer``, ``llmcourse.bpe``) share these helpers with the text
<-> ids API, so the three tokenizers cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from collections.abc import Set as AbstractSet
from numbers import Integral
from typing import Any, Literal

import torch

from llmcourse.validate import check_type, describe

__all__ = [
    "END_OF_TEXT",
    "GPT2_END_OF_TEXT_ID",
    "SPECIAL_LIKE",
    "Allowed",
    "Disallowed",
    "check_specials",
    "lookup_ids",
    "special_policy",
    "special_re",
    "split_specials",
    "token_set",
    "utf8_safe",
]

END_OF_TEXT = "<|endoftext|>"
"""The special token that separates documents (chapter 2) and ends a generated text (chapter 6)."""

GPT2_END_OF_TEXT_ID = 50256
"""``<|endoftext|>``'s id in GPT-2's tokenizer, its last one; any other tokenizer's comes from
``tokenizer.end_of_text_id(tokenizer)``."""

SPECIAL_LIKE = re.compile(r"<\|[^|<>\s]+\|>")
"""How special tokens look: ``<|endoftext|>``, ``<|unk|>``."""

Allowed = Literal["all"] | AbstractSet[str]
Disallowed = Literal["all"] | Collection[str]


def check_specials(specials: Any) -> list[str]:
    """``specials`` as a list of distinct, non-empty strings."""
    if isinstance(specials, str) or not isinstance(specials, Iterable):
        raise TypeError(f"special_tokens must be a list of strings, e.g. [{specials!r}]")
    specials = list(specials)
    for token in specials:
        check_type("each special token", token, str, "a str")
        if not token:
            raise ValueError("a special token must not be the empty string ''")
    repeated = sorted({t for t in specials if specials.count(t) > 1})
    if repeated:
        raise ValueError(f"special tokens must be distinct; {repeated} appear more than once")
    return specials


def special_re(tokens: Iterable[str]) -> re.Pattern:
    return re.compile("(" + "|".join(map(re.escape, sorted(tokens, key=len, reverse=True))) + ")")


def split_specials(text: str, specials: Collection[str]) -> list[tuple[str, bool]]:
    """Cut ``text`` around the special tokens: ``(part, is_special)`` in order."""
    check_type("text", text, str, "a str")
    if not specials:
        return [(text, False)]
    return [(part, k % 2 == 1) for k, part in enumerate(special_re(specials).split(text))]


def token_set(name: str, value: Any, known: AbstractSet[str]) -> frozenset[str]:
    if isinstance(value, str):
        if value == "all":
            return frozenset(known)
        raise TypeError(
            f"{name} must be 'all' or a set of special tokens such as {{{END_OF_TEXT!r}}} "
            f"(set() for none), got {describe(value)}"
        )
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be 'all' or a set of special tokens, got {describe(value)}")
    tokens = frozenset(check_type(f"an entry of {name}", t, str, "a str") for t in value)
    if not tokens <= known:
        raise ValueError(
            f"{name} has {sorted(tokens - known)}, which are not special tokens of this "
            f"tokenizer ({sorted(known)})"
        )
    return tokens


def special_policy(
    text: str, known: AbstractSet[str], allowed_special: Allowed, disallowed_special: Disallowed
) -> frozenset[str]:
    """tiktoken's rule: the special tokens of ``text`` that become their id (the result); a
    disallowed one raises; any other special-token text is plain text. Default: all refused."""
    check_type("text", text, str, "a str")
    allowed = token_set("allowed_special", allowed_special, known)
    if isinstance(disallowed_special, str) and disallowed_special == "all":
        disallowed = frozenset(known) - allowed
    else:
        disallowed = token_set("disallowed_special", disallowed_special, known)
    found = special_re(disallowed).search(text) if disallowed else None
    if found:
        token = found.group()
        raise ValueError(
            f"the text contains the special token {token!r}, which is refused by default so that "
            f"a text cannot forge it. Pass allowed_special={{{token!r}}} to encode it as its "
            "special token, or disallowed_special=() to encode it as plain text"
        )
    return allowed


def utf8_safe(text: str) -> str:
    """tiktoken's fix for text that is not valid UTF-8: a surrogate pair becomes its character,
    a lone surrogate becomes U+FFFD (�)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def lookup_ids(table: dict, ids: Any, valid: str) -> list:
    """``table[i]`` for each id, with an error naming a bad id and ``valid``."""
    if isinstance(ids, torch.Tensor) and ids.dim() != 1:
        raise ValueError(f"ids must be one sequence of token ids, got shape {tuple(ids.shape)}")
    if hasattr(ids, "tolist"):  # a numpy array or torch tensor
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be a list of int token ids, got {describe(ids)}")
    out = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise TypeError(f"token ids must be ints, got {i!r} ({type(i).__name__})")
        try:
            out.append(table[int(i)])
        except KeyError:
            raise ValueError(f"token id {i} is not in the vocabulary ({valid})") from None
    return out
