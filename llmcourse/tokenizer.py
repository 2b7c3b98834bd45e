"""Tokenizers: text -> token ids -> text.

Explained in chapter 1, "Tokenizing" (``book/01-tokenizing.ipynb``):

* ``SimpleTokenizer``: split text into words and punctuation with a regex and look each piece up
  in a vocabulary built from a corpus; unknown words become ``<|unk|>``.
* ``BPETokenizer``: byte-level byte-pair encoding. Training starts from the 256 byte values and
  repeatedly merges the most frequent adjacent pair into a new token. Loaded with GPT-2's ranks
  (``gpt2_bpe()``) it gives exactly the ids of tiktoken's "gpt2" encoding.
* ``gpt2_tokenizer()``: tiktoken's GPT-2 encoding, offline once the assets are fetched.
"""

from __future__ import annotations

import base64
import heapq
import json
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise
from numbers import Integral
from pathlib import Path
from typing import Literal

import regex
import tiktoken

from llmcourse import assets

__all__ = [
    "GPT2_PATTERN",
    "BPETokenizer",
    "SimpleTokenizer",
    "gpt2_bpe",
    "gpt2_tokenizer",
    "load_tiktoken_ranks",
    "merge_pair",
    "split_words",
    "token_pieces",
]

WORD_SPLIT = re.compile(r'([,.:;?_!"()\'“”‘’—]|--|\s)')
"""Where ``split_words`` cuts: a punctuation mark (straight or curly quotes, the em dash ``—``
used by printed books), a double dash, or whitespace."""

_SPECIAL_LIKE = re.compile(r"<\|[^|<>\s]+\|>")  # how special tokens look: <|endoftext|>
_NO_SPACE_BEFORE = re.compile(r"\s+([,.:;?!)'’”—]|--)")  # "word ," -> "word,"
_NO_SPACE_AFTER = re.compile(r"([('‘’“—]|--)\s+")  # "( word" -> "(word", "don ’ t" -> "don’t"


def split_words(text: str) -> list[str]:
    """Words and punctuation marks of ``text``; whitespace is dropped.

    >>> split_words("Hello, world--again!")
    ['Hello', ',', 'world', '--', 'again', '!']
    """
    return [piece for piece in WORD_SPLIT.split(text) if piece.strip()]


def _split_specials(text: str, specials: Iterable[str]) -> list[tuple[str, bool]]:
    """Cut ``text`` around the special tokens: ``(part, is_special)`` in order."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    ordered = sorted(set(specials), key=len, reverse=True)  # longest first
    if not ordered:
        return [(text, False)]
    parts = re.split("(" + "|".join(map(re.escape, ordered)) + ")", text)
    return [(part, k % 2 == 1) for k, part in enumerate(parts)]  # odd parts: the specials


def _lookup(table: dict, ids: Iterable[int], valid: str) -> list:
    """``table[i]`` for each id, with an error naming a bad id and ``valid``."""
    if hasattr(ids, "tolist"):  # a numpy array or torch tensor
        ids = ids.tolist()
    out = []
    for i in ids:
        try:
            out.append(table[i])
        except (KeyError, TypeError):
            if not isinstance(i, Integral) or isinstance(i, bool):
                raise TypeError(f"token ids must be ints, got {i!r} ({type(i).__name__})") from None
            raise ValueError(f"token id {i} is not in the vocabulary ({valid})") from None
    return out


class SimpleTokenizer:
    """Word-level tokenizer: ``split_words`` pieces looked up in ``vocab`` (token -> id).

    Vocabulary entries written like ``<|endoftext|>`` are special: they are found in the text
    before the regex split, so each stays one token.
    """

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = dict(vocab)
        self.id_to_token = {i: token for token, i in self.vocab.items()}
        if len(self.id_to_token) != len(self.vocab):
            raise ValueError("vocab maps two tokens to the same id; ids must be unique")
        self.specials = [token for token in self.vocab if _SPECIAL_LIKE.fullmatch(token)]

    @classmethod
    def from_text(
        cls, text: str, specials: Sequence[str] = ("<|unk|>", "<|endoftext|>")
    ) -> SimpleTokenizer:
        """Vocabulary of ``text``: its unique pieces sorted, then ``specials`` at the end."""
        pieces = {p for part, _ in _split_specials(text, specials) for p in split_words(part)}
        tokens = sorted(pieces - set(specials)) + list(dict.fromkeys(specials))
        return cls({token: i for i, token in enumerate(tokens)})

    def tokenize(self, text: str) -> list[str]:
        """The pieces of ``text`` before the lookup; special tokens stay whole."""
        parts = _split_specials(text, self.specials)
        return [p for part, special in parts for p in ([part] if special else split_words(part))]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; unknown words become ``<|unk|>`` if the vocabulary has it."""
        unk = self.vocab.get("<|unk|>")
        ids = []
        for piece in self.tokenize(text):
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
        merges: dict[Pair, int],
        special_tokens: dict[str, int] | None = None,
        byte_ids: Sequence[int] | None = None,
        pattern: str = GPT2_PATTERN,
    ) -> None:
        self.byte_ids = list(range(256)) if byte_ids is None else list(byte_ids)
        if len(set(self.byte_ids)) != 256:
            raise ValueError(f"byte_ids must be 256 distinct ids, got {len(self.byte_ids)} ids")
        self.vocab = {i: bytes([b]) for b, i in enumerate(self.byte_ids)}
        self.merges, last = dict(merges), -1
        for (a, b), new_id in self.merges.items():
            if a not in self.vocab or b not in self.vocab:
                raise ValueError(f"merge ({a}, {b}) -> {new_id} uses an id not defined before it")
            if new_id in self.vocab or new_id < last:
                raise ValueError(f"merge ({a}, {b}) -> {new_id}: new ids must be new and rising")
            self.vocab[new_id], last = self.vocab[a] + self.vocab[b], new_id
        self.special_tokens = dict(special_tokens or {})
        for token, token_id in self.special_tokens.items():
            if token_id in self.vocab:
                raise ValueError(f"special token {token!r} reuses id {token_id}")
            self.vocab[token_id] = token.encode("utf-8")
        self.pattern = pattern
        self._chunk_re = regex.compile(pattern)
        self._cache: dict[str, list[int]] = {}  # chunk -> ids: words repeat a lot

    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        special_tokens: Sequence[str] = ("<|endoftext|>",),
        verbose: bool = False,
        method: Literal["fast", "naive"] = "fast",
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Ids 0..255 are the bytes, the merges get 256, 257, ... and the special tokens the ids
        after the last merge. Each merge takes the most frequent adjacent pair within GPT-2's
        chunks (a tie goes to the smallest pair of ids). If the text runs out of pairs, training
        stops early with a warning. ``method="naive"``: recount after each merge (slow, same).
        """
        if isinstance(special_tokens, str):
            raise TypeError(f"special_tokens must be a list of strings, e.g. [{special_tokens!r}]")
        minimum = 256 + len(set(special_tokens))
        if not isinstance(vocab_size, Integral) or vocab_size < minimum:
            raise ValueError(
                f"vocab_size must be an int >= {minimum} (256 bytes + {minimum - 256} special "
                f"tokens), got {vocab_size!r}"
            )
        if method not in ("fast", "naive"):
            raise ValueError(f"method must be 'fast' or 'naive', got {method!r}")
        chunk_re, chunks = regex.compile(GPT2_PATTERN), Counter()
        for part, special in _split_specials(text, special_tokens):
            if not special:  # special tokens are not trained on
                chunks.update(chunk_re.findall(part))
        words = [list(chunk.encode("utf-8")) for chunk in chunks]  # each distinct chunk once...
        freqs = list(chunks.values())  # ...with its count
        learn = _learn_merges_fast if method == "fast" else _learn_merges_naive
        pairs = learn(words, freqs, vocab_size - minimum)
        if len(pairs) < vocab_size - minimum:
            warnings.warn(
                f"text ran out of pairs after {len(pairs)} merges: the vocabulary has "
                f"{minimum + len(pairs)} tokens, not vocab_size={vocab_size}",
                stacklevel=2,
            )
        specials = {t: 256 + len(pairs) + k for k, t in enumerate(dict.fromkeys(special_tokens))}
        tok = cls({pair: 256 + k for k, pair in enumerate(pairs)}, specials)
        if verbose:
            for k, (pair, new_id) in enumerate(tok.merges.items()):
                print(f"merge {k + 1}/{len(pairs)}: {tok._merge_label(pair, '->')} (id {new_id})")
        return tok

    @classmethod
    def from_tiktoken_ranks(
        cls, ranks: dict[bytes, int], special_tokens: dict[str, int] | None = None
    ) -> BPETokenizer:
        """Rebuild the merges behind tiktoken ``ranks`` (token bytes -> rank, which is the id).

        The token of rank r was made from two tokens of lower rank: the byte-pair algorithm run
        on its bytes with only the ranks below r stops at exactly those two parts.
        ``special_tokens`` defaults to GPT-2's ``{"<|endoftext|>": 50256}``.
        """
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
            special_tokens = {"<|endoftext|>": 50256}
        return cls(merges, special_tokens, byte_ids=[ranks[bytes([b])] for b in range(256)])

    def encode(
        self, text: str, allowed_special: Literal["all", "none"] | set[str] = "all"
    ) -> list[int]:
        """Token ids of ``text``.

        Special tokens in ``allowed_special`` ("all", "none" or a set) become their one id;
        other ``<|...|>`` text is encoded like ordinary text.
        """
        known = set(self.special_tokens)
        if allowed_special == "all" or allowed_special == "none":
            allowed = known if allowed_special == "all" else set()
        else:
            allowed = set(allowed_special)
        if not known.issuperset(allowed):
            raise ValueError(
                f"allowed_special has {sorted(set(allowed) - known)}, which are not special "
                f"tokens of this tokenizer ({sorted(known)})"
            )
        ids: list[int] = []
        for part, special in _split_specials(text, allowed):
            if special:
                ids.append(self.special_tokens[part])
            else:
                for chunk in self._chunk_re.findall(part):
                    ids.extend(self._encode_chunk(chunk))
        return ids

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
        """The bytes of the tokens ``ids``, concatenated."""
        return b"".join(_lookup(self.vocab, ids, f"vocabulary size {len(self)}"))

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; bytes that are not valid UTF-8 become U+FFFD (�)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def merge_trace(self, text: str, n_merges: int) -> list[tuple[str, list[str]]]:
        """How encoding ``text`` proceeds: its pieces after 0, 1, ..., ``n_merges`` merges.

        Step 0 is ``("bytes", pieces)``; step k is the k-th merge the encoder applies to this
        text, labelled like ``"'t' + 'h' → 'th'"``. Stops early when no merge applies.
        """
        if not isinstance(n_merges, Integral) or n_merges < 0:
            raise ValueError(f"n_merges must be an int >= 0, got {n_merges!r}")
        chunks = []  # one list of ids per chunk: merges never cross chunks
        for part, special in _split_specials(text, self.special_tokens):
            if special:
                chunks.append([self.special_tokens[part]])
            else:
                for chunk in self._chunk_re.findall(part):
                    chunks.append([self.byte_ids[b] for b in chunk.encode("utf-8")])

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
        """Read a file written by ``save``."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        got = (data.get("format"), data.get("version")) if isinstance(data, dict) else (None, None)
        if got != (FORMAT, VERSION):
            raise ValueError(
                f"{path} has format {got[0]!r} version {got[1]!r}; expected {FORMAT!r} "
                f"version {VERSION}"
            )
        merges = {(a, b): new_id for a, b, new_id in data["merges"]}
        return cls(merges, data["special_tokens"], data["byte_ids"], data["pattern"])

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
    lines = Path(path).read_text(encoding="ascii").split("\n")
    return {base64.b64decode(tok): int(rank) for tok, rank in (ln.split() for ln in lines if ln)}


def gpt2_bpe() -> BPETokenizer:
    """Our ``BPETokenizer`` with GPT-2's merges and ids (from the asset ``gpt2.tiktoken``)."""
    ranks = load_tiktoken_ranks(assets.fetch("gpt2.tiktoken"))
    return BPETokenizer.from_tiktoken_ranks(ranks, {"<|endoftext|>": 50256})


def gpt2_tokenizer() -> tiktoken.Encoding:
    """tiktoken's GPT-2 encoding, read from the course's cached assets (no network)."""
    assets.setup_tiktoken()
    return tiktoken.get_encoding("gpt2")


def token_pieces(tokenizer: object, text: str) -> list[tuple[str, int]]:
    """``(display string, id)`` of each token of ``text``.

    Works for ``SimpleTokenizer``, ``BPETokenizer`` and ``tiktoken.Encoding``. A BPE token that
    holds only part of a multi-byte character shows its bytes escaped, like ``\\xe4``.
    """
    if isinstance(tokenizer, SimpleTokenizer):
        return [(tokenizer.id_to_token[i], i) for i in tokenizer.encode(text)]
    if isinstance(tokenizer, BPETokenizer):
        return [(_show(tokenizer.vocab[i]), i) for i in tokenizer.encode(text)]
    if isinstance(tokenizer, tiktoken.Encoding):
        ids = tokenizer.encode(text, allowed_special="all")
        return [(_show(tokenizer.decode_single_token_bytes(i)), i) for i in ids]
    raise TypeError(
        "tokenizer must be a SimpleTokenizer, BPETokenizer or tiktoken.Encoding, "
        f"got {type(tokenizer).__name__}"
    )
