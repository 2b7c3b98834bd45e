"""Byte-level byte-pair encoding, trained from scratch or loaded with GPT-2's ranks (chapter 1).

Training starts from the 256 byte values and repeatedly merges the most frequent adjacent pair
into a new token (``merge_pair``; the fast trainer recounts only the chunks that hold the merged
pair). Encoding cuts text into chunks with a regex (``GPT2_PATTERN``) and merges each chunk's
bytes by lowest merge rank. Loaded with GPT-2's ranks (``gpt2_bpe()``) it gives exactly the ids
of tiktoken's "gpt2" encoding. The text <-> ids API that takes any tokenizer is in
``llmcourse.tokenizer``.
"""

from __future__ import annotations

import base64
import heapq
import json
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from numbers import Integral
from pathlib import Path
from typing import Literal

import regex

from llmcourse import assets
from llmcourse.special_tokens import (
    END_OF_TEXT,
    GPT2_END_OF_TEXT_ID,
    Allowed,
    Disallowed,
    check_specials,
    lookup_ids,
    special_policy,
    split_specials,
    utf8_safe,
)
from llmcourse.validate import check_bool, check_int, check_type, describe

__all__ = [
    "GPT2_PATTERN",
    "BPETokenizer",
    "gpt2_bpe",
    "load_tiktoken_ranks",
    "merge_pair",
    "show_token",
]


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


def show_token(token: bytes) -> str:
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
        check_specials(list(special_tokens))
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
        special_tokens = check_specials(special_tokens)
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
        for part, special in split_specials(utf8_safe(text), special_tokens):
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
            special_tokens = {END_OF_TEXT: GPT2_END_OF_TEXT_ID}
        return cls(merges, special_tokens, byte_ids=[ranks[bytes([b])] for b in range(256)])

    def _pieces(
        self, text: str, allowed_special: Allowed, disallowed_special: Disallowed
    ) -> Iterable[list[int]]:
        """Per chunk, its byte ids; an allowed special token is one chunk of its own id."""
        allowed = special_policy(
            text, self.special_tokens.keys(), allowed_special, disallowed_special
        )
        for part, special in split_specials(utf8_safe(text), allowed):
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
        return b"".join(lookup_ids(self.vocab, ids, f"vocabulary size {len(self)}"))

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
            return [show_token(self.vocab[i]) for ids in chunks for i in ids]

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
        a, b, new = (show_token(self.vocab[i]) for i in (*pair, self.merges[pair]))
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
    return BPETokenizer.from_tiktoken_ranks(ranks, {END_OF_TEXT: GPT2_END_OF_TEXT_ID})
