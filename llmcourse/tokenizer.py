"""Tokenizers: text -> token ids -> text.

Explained in chapter 1, "Tokenizing" (``book/01-tokenizing.ipynb``):

* ``SimpleTokenizer``: split text into words and punctuation with a regex and look each piece up
  in a vocabulary built from a corpus; unknown words become ``<|unk|>``.
* ``BPETokenizer``: byte-level byte-pair encoding. Training starts from the 256 byte values and
  repeatedly merges the most frequent adjacent pair into a new token. Loaded with GPT-2's ranks
  (``gpt2_bpe()``) it gives exactly the ids of tiktoken's "gpt2" encoding.
* ``gpt2_tokenizer()``: tiktoken's GPT-2 encoding, offline once the assets are fetched.
* ``encode`` / ``decode`` / ``text_to_ids`` / ``ids_to_text`` / ``end_of_text_id``: one text <->
  ids API for all three, used by every later chapter.

Special tokens follow tiktoken's policy everywhere: a special token written inside a text (such as
``<|endoftext|>``) is refused with a ``ValueError`` unless ``allowed_special`` names it, so a text
cannot forge a document boundary. ``disallowed_special=()`` reads such text as plain text.
"""

from __future__ import annotations

import base64
import heapq
import json
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from itertools import pairwise
from numbers import Integral
from pathlib import Path
from typing import Any, Literal

import regex
import tiktoken
import torch

from llmcourse import assets
from llmcourse.validate import check_bool, check_ids, check_int, check_type, describe

__all__ = [
    "END_OF_TEXT",
    "GPT2_PATTERN",
    "BPETokenizer",
    "SimpleTokenizer",
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

END_OF_TEXT = "<|endoftext|>"
"""The special token that separates documents (chapter 2) and ends a generated text (chapter 6)."""

WORD_SPLIT = re.compile(r'([,.:;?_!"()\'“”‘’—]|--|\s)')
"""Where ``split_words`` cuts: a punctuation mark (straight or curly quotes, the em dash ``—``
used by printed books), a double dash, or whitespace."""

_SPECIAL_LIKE = re.compile(r"<\|[^|<>\s]+\|>")  # how special tokens look: <|endoftext|>
_NO_SPACE_BEFORE = re.compile(r"\s+([,.:;?!)'’”—]|--)")  # "word ," -> "word,"
_NO_SPACE_AFTER = re.compile(r"([('‘’“—]|--)\s+")  # "( word" -> "(word", "don ’ t" -> "don’t"

Allowed = Literal["all"] | AbstractSet[str]
Disallowed = Literal["all"] | Collection[str]


def split_words(text: str) -> list[str]:
    """Words and punctuation marks of ``text``; whitespace is dropped.

    >>> split_words("Hello, world--again!")
    ['Hello', ',', 'world', '--', 'again', '!']
    """
    check_type("text", text, str, "a str")
    return [piece for piece in WORD_SPLIT.split(text) if piece.strip()]


# ----------------------------------------------------------------------------- special tokens
def _check_specials(specials: Any) -> list[str]:
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


def _special_re(tokens: Iterable[str]) -> re.Pattern:
    return re.compile("(" + "|".join(map(re.escape, sorted(tokens, key=len, reverse=True))) + ")")


def _split_specials(text: str, specials: Collection[str]) -> list[tuple[str, bool]]:
    """Cut ``text`` around the special tokens: ``(part, is_special)`` in order."""
    check_type("text", text, str, "a str")
    if not specials:
        return [(text, False)]
    return [(part, k % 2 == 1) for k, part in enumerate(_special_re(specials).split(text))]


def _token_set(name: str, value: Any, known: AbstractSet[str]) -> frozenset[str]:
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


def _special_policy(
    text: str, known: AbstractSet[str], allowed_special: Allowed, disallowed_special: Disallowed
) -> frozenset[str]:
    """tiktoken's rule: the special tokens of ``text`` that become their id (the result); a
    disallowed one raises; any other special-token text is plain text. Default: all refused."""
    check_type("text", text, str, "a str")
    allowed = _token_set("allowed_special", allowed_special, known)
    if isinstance(disallowed_special, str) and disallowed_special == "all":
        disallowed = frozenset(known) - allowed
    else:
        disallowed = _token_set("disallowed_special", disallowed_special, known)
    found = _special_re(disallowed).search(text) if disallowed else None
    if found:
        token = found.group()
        raise ValueError(
            f"the text contains the special token {token!r}, which is refused by default so that "
            f"a text cannot forge it. Pass allowed_special={{{token!r}}} to encode it as its "
            "special token, or disallowed_special=() to encode it as plain text"
        )
    return allowed


def _utf8_safe(text: str) -> str:
    """tiktoken's fix for text that is not valid UTF-8: a surrogate pair becomes its character,
    a lone surrogate becomes U+FFFD (�)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _lookup(table: dict, ids: Any, valid: str) -> list:
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
        self.specials = [token for token in self.vocab if _SPECIAL_LIKE.fullmatch(token)]

    @classmethod
    def from_text(
        cls, text: str, specials: Sequence[str] = ("<|unk|>", END_OF_TEXT)
    ) -> SimpleTokenizer:
        """Vocabulary of ``text``: its unique pieces sorted, then ``specials`` at the end."""
        specials = _check_specials(specials)
        pieces = {p for part, _ in _split_specials(text, specials) for p in split_words(part)}
        return cls({t: i for i, t in enumerate(sorted(pieces - set(specials)) + specials)})

    def tokenize(
        self,
        text: str,
        *,
        allowed_special: Allowed = frozenset(),
        disallowed_special: Disallowed = "all",
    ) -> list[str]:
        """The pieces of ``text`` before the lookup; allowed special tokens stay whole."""
        allowed = _special_policy(text, set(self.specials), allowed_special, disallowed_special)
        parts = _split_specials(text, allowed)
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
        text = " ".join(_lookup(self.id_to_token, ids, valid))
        return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))

    def __len__(self) -> int:
        return len(self.vocab)


GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
"""GPT-2's pre-tokenization regex: contractions, words, numbers, punctuation runs, whitespace.
A word keeps the space in front of it (" whale"); merges never cross these chunks."""

FORMAT, VERSION = "llmcourse-bpe", 1  # the file format written by BPETokenizer.save
Pair = tuple[int, int]


def merge_pair(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace each occurrence of ``pair`` in ``ids`` by ``new_id``, left to right.

    >>> merge_pair([97, 97, 97, 98], (97, 97), 256)
    [256, 97, 98]
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _count_pairs(words: list[list[int]], freqs: list[int]) -> Counter[Pair]:
    """How often each adjacent pair occurs, each word weighted by its frequency."""
    counts: Counter[Pair] = Counter()
    for word, freq in zip(words, freqs, strict=True):
        for pair in pairwise(word):
            counts[pair] += freq
    return counts


# Both trainers merge the most frequent pair; a tie goes to the smallest pair of ids (a, b),
# i.e. the smallest key (-count, a, b). So both give the same merges (the tests check it).


def _learn_merges_naive(words: list[list[int]], freqs: list[int], n_merges: int) -> list[Pair]:
    """Recount every pair after every merge: simple, and a pass over all words per merge."""
    merges: list[Pair] = []
    while len(merges) < n_merges:
        counts = _count_pairs(words, freqs)
        if not counts:
            break  # every word is a single token: nothing left to merge
        pair = min(counts, key=lambda p: (-counts[p], p))
        words = [merge_pair(word, pair, 256 + len(merges)) for word in words]
        merges.append(pair)
    return merges


def _learn_merges_fast(words: list[list[int]], freqs: list[int], n_merges: int) -> list[Pair]:
    """The same merges as ``_learn_merges_naive``, with counts updated incrementally.

    ``where[pair]`` holds the words containing ``pair`` (plus stale extras), so a merge only
    touches those words. A heap of ``(-count, pair)`` finds the best pair; an entry whose count
    has changed since it was pushed is skipped when popped (a fresher entry exists).
    """
    counts = _count_pairs(words, freqs)
    where: defaultdict[Pair, set[int]] = defaultdict(set)
    for w, word in enumerate(words):
        for pair in pairwise(word):
            where[pair].add(w)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)
    words, merges = list(words), []
    while len(merges) < n_merges and heap:
        neg_count, pair = heapq.heappop(heap)
        if counts.get(pair) != -neg_count:
            continue  # stale entry
        new_id, changed = 256 + len(merges), set()
        merges.append(pair)
        for w in where.pop(pair):
            old, new = words[w], merge_pair(words[w], pair, new_id)
            if len(new) == len(old):
                continue  # this word no longer contains the pair
            for p in pairwise(old):  # take the word's old pairs out, put its new pairs in
                counts[p] -= freqs[w]
                changed.add(p)
            for p in pairwise(new):
                counts[p] += freqs[w]
                changed.add(p)
                where[p].add(w)
            words[w] = new
        for p in changed:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:
                del counts[p]
    return merges


def _show(token: bytes) -> str:
    """A token's bytes as text; bytes that are not valid UTF-8 show escaped, like ``\\xe4``."""
    return token.decode("utf-8", errors="backslashreplace")


class BPETokenizer:
    """Byte-level BPE: text -> chunks (``pattern``) -> UTF-8 bytes -> ids -> merges.

    * ``byte_ids[b]``: the id of byte ``b`` (``b`` itself after ``train``; GPT-2 differs).
    * ``merges``: ``(left_id, right_id) -> new_id`` in rank order. The new id is the rank:
      encoding merges the pair with the lowest new id first.
    * ``vocab``: id -> bytes, for every byte, merged token and special token.
    * ``special_tokens``: e.g. ``{"<|endoftext|>": 50256}``; never split, never merged.
    """

    def __init__(
        self,
        merges: Mapping[Pair, int],
        special_tokens: Mapping[str, int] | None = None,
        byte_ids: Sequence[int] | None = None,
        pattern: str = GPT2_PATTERN,
    ) -> None:
        check_type("merges", merges, Mapping, "a dict (left_id, right_id) -> new_id")
        special_tokens = {} if special_tokens is None else special_tokens
        check_type("special_tokens", special_tokens, Mapping, "a dict token -> id, or None")
        check_type("pattern", pattern, str, "a regular expression (str)")
        if byte_ids is None:
            byte_ids = range(256)
        elif isinstance(byte_ids, (str, bytes)) or not isinstance(byte_ids, Iterable):
            raise TypeError(f"byte_ids must be a list of 256 ids, got {describe(byte_ids)}")
        self.byte_ids = [check_int(f"byte_ids[{b}]", i, minimum=0) for b, i in enumerate(byte_ids)]
        if len(set(self.byte_ids)) != 256 or len(self.byte_ids) != 256:
            raise ValueError(f"byte_ids must be 256 distinct ids, got {len(self.byte_ids)} ids")
        self.vocab = {i: bytes([b]) for b, i in enumerate(self.byte_ids)}
        self.merges, last = {}, -1
        for pair, new_id in merges.items():
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise TypeError(f"a merge must be (left_id, right_id) -> new_id, got {pair!r}")
            a, b = (check_int("a merge's id", i, minimum=0) for i in pair)
            new_id = check_int(f"the new id of merge ({a}, {b})", new_id, minimum=0)
            if a not in self.vocab or b not in self.vocab:
                raise ValueError(f"merge ({a}, {b}) -> {new_id} uses an id not defined before it")
            if new_id in self.vocab or new_id < last:
                raise ValueError(f"merge ({a}, {b}) -> {new_id}: new ids must be new and rising")
            self.merges[(a, b)] = new_id
            self.vocab[new_id], last = self.vocab[a] + self.vocab[b], new_id
        _check_specials(list(special_tokens))
        self.special_tokens = {}
        for token, token_id in special_tokens.items():
            token_id = check_int(f"the id of special token {token!r}", token_id, minimum=0)
            if token_id in self.vocab:
                raise ValueError(f"special token {token!r} reuses id {token_id}")
            self.vocab[token_id], self.special_tokens[token] = token.encode("utf-8"), token_id
        try:
            self._chunk_re = regex.compile(pattern)
        except regex.error as err:
            raise ValueError(
                f"pattern {pattern!r} is not a valid regular expression: {err}"
            ) from None
        self.pattern = pattern
        self._cache: dict[str, list[int]] = {}  # chunk -> ids: words repeat a lot

    @property
    def special_tokens_set(self) -> set[str]:
        """The special tokens, as tiktoken's ``Encoding.special_tokens_set``."""
        return set(self.special_tokens)

    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        special_tokens: Sequence[str] = (END_OF_TEXT,),
        verbose: bool = False,
        method: Literal["fast", "naive"] = "fast",
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Ids 0..255 are the bytes, the merges get 256, 257, ... and the special tokens the ids
        after the last merge. Each merge takes the most frequent adjacent pair within GPT-2's
        chunks (a tie goes to the smallest pair of ids). If the text runs out of pairs, training
        stops early with a warning. ``method="naive"``: recount after each merge (slow, same).
        Special tokens in ``text`` separate documents and are not trained on.
        """
        check_type("text", text, str, "a str")
        special_tokens = _check_specials(special_tokens)
        minimum = 256 + len(special_tokens)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, Integral):
            raise TypeError(f"vocab_size must be an int, got {describe(vocab_size)}")
        if vocab_size < minimum:
            raise ValueError(
                f"vocab_size must be an int >= {minimum} (256 bytes + {minimum - 256} special "
                f"tokens), got {vocab_size!r}"
            )
        check_bool("verbose", verbose)
        if method not in ("fast", "naive"):
            raise ValueError(f"method must be 'fast' or 'naive', got {method!r}")
        chunk_re, chunks = regex.compile(GPT2_PATTERN), Counter()
        for part, special in _split_specials(_utf8_safe(text), special_tokens):
            if not special:  # special tokens are not trained on
                chunks.update(chunk_re.findall(part))
        words = [list(chunk.encode("utf-8")) for chunk in chunks]  # each distinct chunk once...
        freqs = list(chunks.values())  # ...with its count
        learn = _learn_merges_fast if method == "fast" else _learn_merges_naive
        pairs = learn(words, freqs, int(vocab_size) - minimum)
        if len(pairs) < vocab_size - minimum:
            warnings.warn(
                f"text ran out of pairs after {len(pairs)} merges: the vocabulary has "
                f"{minimum + len(pairs)} tokens, not vocab_size={vocab_size}",
                stacklevel=2,
            )
        specials = {t: 256 + len(pairs) + k for k, t in enumerate(special_tokens)}
        tok = cls({pair: 256 + k for k, pair in enumerate(pairs)}, specials)
        if verbose:
            for k, (pair, new_id) in enumerate(tok.merges.items()):
                print(f"merge {k + 1}/{len(pairs)}: {tok._merge_label(pair, '->')} (id {new_id})")
        return tok

    @classmethod
    def from_tiktoken_ranks(
        cls, ranks: Mapping[bytes, int], special_tokens: Mapping[str, int] | None = None
    ) -> BPETokenizer:
        """Rebuild the merges behind tiktoken ``ranks`` (token bytes -> rank, which is the id).

        The token of rank r was made from two tokens of lower rank: the byte-pair algorithm run
        on its bytes with only the ranks below r stops at exactly those two parts.
        ``special_tokens`` defaults to GPT-2's ``{"<|endoftext|>": 50256}``.
        """
        check_type("ranks", ranks, Mapping, "a dict token bytes -> rank")
        for token, rank in ranks.items():
            check_type("a token of ranks", token, bytes, "bytes")
            check_int(f"the rank of {token!r}", rank, minimum=0)
        missing = [b for b in range(256) if bytes([b]) not in ranks]
        if missing:
            raise ValueError(f"ranks must contain all 256 single bytes; missing {missing[:5]}...")
        merges = {}
        for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
            if len(token) > 1:
                parts = _byte_pair_parts(token, ranks, max_rank=rank)
                if len(parts) != 2:
                    raise ValueError(f"token {token!r} (rank {rank}) is not a merge of two tokens")
                merges[(ranks[parts[0]], ranks[parts[1]])] = rank
        if special_tokens is None:
            special_tokens = {END_OF_TEXT: 50256}
        return cls(merges, special_tokens, byte_ids=[ranks[bytes([b])] for b in range(256)])

    def _pieces(
        self, text: str, allowed_special: Allowed, disallowed_special: Disallowed
    ) -> Iterable[list[int]]:
        """Per chunk, its byte ids; an allowed special token is one chunk of its own id."""
        allowed = _special_policy(
            text, self.special_tokens.keys(), allowed_special, disallowed_special
        )
        for part, special in _split_specials(_utf8_safe(text), allowed):
            if special:
                yield [self.special_tokens[part]]
            else:
                yield from self._chunk_re.findall(part)

    def encode(
        self,
        text: str,
        *,
        allowed_special: Allowed = frozenset(),
        disallowed_special: Disallowed = "all",
    ) -> list[int]:
        """Token ids of ``text``, with tiktoken's arguments and policy.

        A special token in the text raises a ``ValueError`` unless it is in ``allowed_special``
        ("all" or a set), which encodes it as its one id; a token not in ``disallowed_special``
        ("all" or a collection; ``()`` for none) is encoded as plain text. Lone surrogates
        become U+FFFD, as in tiktoken.
        """
        ids: list[int] = []
        for piece in self._pieces(text, allowed_special, disallowed_special):
            ids.extend(piece if isinstance(piece, list) else self._encode_chunk(piece))
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of ``text`` with special-token text read as plain text (as tiktoken's)."""
        return self.encode(text, disallowed_special=())

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Bytes of one chunk, then merge the lowest-rank pair until no pair has a merge."""
        ids = self._cache.get(chunk)
        if ids is None:
            ids = [self.byte_ids[b] for b in chunk.encode("utf-8")]
            while len(ids) > 1:
                pair = min(pairwise(ids), key=lambda p: self.merges.get(p, float("inf")))
                if pair not in self.merges:
                    break
                ids = merge_pair(ids, pair, self.merges[pair])
            if len(self._cache) < 100_000:
                self._cache[chunk] = ids
        return ids

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of the tokens ``ids`` (a list or a 1-D tensor), concatenated."""
        return b"".join(_lookup(self.vocab, ids, f"vocabulary size {len(self)}"))

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; bytes that are not valid UTF-8 become U+FFFD (�)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def merge_trace(
        self,
        text: str,
        n_merges: int,
        *,
        allowed_special: Allowed = frozenset(),
        disallowed_special: Disallowed = "all",
    ) -> list[tuple[str, list[str]]]:
        """How encoding ``text`` proceeds: its pieces after 0, 1, ..., ``n_merges`` merges.

        Step 0 is ``("bytes", pieces)``; step k is the k-th merge the encoder applies to this
        text, labelled like ``"'t' + 'h' → 'th'"``. Stops early when no merge applies. Special
        tokens follow the policy of ``encode``.
        """
        n_merges = check_int("n_merges", n_merges, minimum=0)
        chunks = [  # one list of ids per chunk: merges never cross chunks
            piece if isinstance(piece, list) else [self.byte_ids[b] for b in piece.encode()]
            for piece in self._pieces(text, allowed_special, disallowed_special)
        ]

        def pieces() -> list[str]:
            return [_show(self.vocab[i]) for ids in chunks for i in ids]

        trace = [("bytes", pieces())]
        for _ in range(n_merges):
            present = {p for ids in chunks for p in pairwise(ids) if p in self.merges}
            if not present:
                break
            pair = min(present, key=self.merges.__getitem__)  # the lowest rank goes first
            chunks = [merge_pair(ids, pair, self.merges[pair]) for ids in chunks]
            trace.append((self._merge_label(pair, "→"), pieces()))
        return trace

    def _merge_label(self, pair: Pair, arrow: str) -> str:
        """E.g. ``'t' + 'h' → 'th'``."""
        a, b, new = (_show(self.vocab[i]) for i in (*pair, self.merges[pair]))
        return f"{a!r} + {b!r} {arrow} {new!r}"

    def save(self, path: str | Path) -> None:
        """Write the tokenizer as JSON (format ``llmcourse-bpe``, version 1)."""
        path = check_type("path", path, (str, Path), "a file path (str or Path)")
        merges = [[a, b, new_id] for (a, b), new_id in self.merges.items()]
        data = {
            "format": FORMAT,
            "version": VERSION,
            "pattern": self.pattern,
            "byte_ids": self.byte_ids,
            "merges": merges,
            "special_tokens": self.special_tokens,
        }
        Path(path).write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a file written by ``save``; a damaged file is a ``ValueError`` naming it."""
        path = Path(check_type("path", path, (str, Path), "a file path (str or Path)"))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a tokenizer file: it is not UTF-8 text") from None
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{path} is not valid JSON ({err}); the file may be truncated: save it again"
            ) from None
        got = (data.get("format"), data.get("version")) if isinstance(data, dict) else (None, None)
        if got != (FORMAT, VERSION):
            raise ValueError(
                f"{path} has format {got[0]!r} version {got[1]!r}; expected {FORMAT!r} "
                f"version {VERSION}"
            )
        missing = [k for k in ("pattern", "byte_ids", "merges", "special_tokens") if k not in data]
        if missing:
            raise ValueError(f"{path} is incomplete: it has no {missing[0]!r} field")
        try:
            if not isinstance(data["merges"], list):
                raise TypeError(f"'merges' must be a list, got {describe(data['merges'])}")
            merges: dict[Pair, int] = {}
            for entry in data["merges"]:
                if not isinstance(entry, list) or len(entry) != 3:
                    raise ValueError(f"a merge must be [left_id, right_id, new_id], got {entry!r}")
                a, b, new_id = entry
                if (a, b) in merges:
                    raise ValueError(f"merge ({a}, {b}) appears twice")
                merges[(a, b)] = new_id
            return cls(merges, data["special_tokens"], data["byte_ids"], data["pattern"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path} holds a damaged tokenizer: {err}") from None

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab size {len(self)}, {len(self.merges)} merges)"


def _byte_pair_parts(token: bytes, ranks: dict[bytes, int], max_rank: int) -> list[bytes]:
    """tiktoken's byte-pair algorithm on ``token``, using only the ranks below ``max_rank``:
    start from single bytes, merge the adjacent parts whose join has the lowest rank."""
    parts = [bytes([b]) for b in token]
    while True:
        joins = [(ranks.get(x + y, max_rank), i) for i, (x, y) in enumerate(pairwise(parts))]
        rank, i = min(joins, default=(max_rank, 0))
        if rank >= max_rank:
            return parts
        parts[i : i + 2] = [parts[i] + parts[i + 1]]


def load_tiktoken_ranks(path: str | Path) -> dict[bytes, int]:
    """Read a ``.tiktoken`` file: one ``base64(token bytes) rank`` per line."""
    path = Path(check_type("path", path, (str, Path), "a file path (str or Path)"))
    ranks = {}
    try:
        lines = path.read_text(encoding="ascii").split("\n")
        for number, line in enumerate(lines, start=1):
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
    except (UnicodeDecodeError, ValueError):
        raise ValueError(
            f"{path} line {number} is not 'base64-token rank': not a .tiktoken file"
        ) from None
    return ranks


def gpt2_bpe() -> BPETokenizer:
    """Our ``BPETokenizer`` with GPT-2's merges and ids (from the asset ``gpt2.tiktoken``)."""
    ranks = load_tiktoken_ranks(assets.fetch("gpt2.tiktoken"))
    return BPETokenizer.from_tiktoken_ranks(ranks, {END_OF_TEXT: 50256})


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
        allowed = _special_policy(
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
        return [(_show(tokenizer.vocab[i]), i) for i in ids]
    return [(_show(tokenizer.decode_single_token_bytes(i)), i) for i in ids]
