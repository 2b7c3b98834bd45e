"""Self-checks for chapters 0 (What an LLM is) and 1 (Tokenizing)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import pairwise

from llmcourse.checks.result import CheckResult, _report, self_check


def _gpt2():
    from llmcourse.tokenizer import gpt2_tokenizer

    return gpt2_tokenizer()


COUNT_TEXTS = [
    "Call me Ishmael.",
    "",
    "   spaces   and\ttabs\n",
    "naïve café, 東京, 🐳!",
    "The whale! the whale! Up helm, up helm!",
]


@self_check
def check_count_tokens(fn: Callable[[str], int]) -> CheckResult:
    """Chapter 0: ``fn(text)`` returns how many GPT-2 tokens ``text`` has."""
    enc = _gpt2()
    return _report(
        "count_tokens",
        ((repr(t), fn(t), len(enc.encode(t))) for t in COUNT_TEXTS),
    )


@self_check
def check_bigram_probs(fn: Callable[[list[int], int], dict[int, float] | None]) -> CheckResult:
    """Chapter 0: ``fn(ids, token)`` returns ``{next_id: probability}`` of what follows ``token``.

    Probabilities are compared after rounding to 6 decimals.
    """
    ids = [5, 1, 2, 5, 1, 3, 5, 2, 1, 2, 5, 1]
    cases = []
    for token in (5, 1, 2):
        follows = Counter(b for a, b in pairwise(ids) if a == token)
        total = sum(follows.values())
        expected = {k: round(v / total, 6) for k, v in sorted(follows.items())}
        got = fn(list(ids), token)
        if got is not None:
            got = {int(k): round(float(v), 6) for k, v in sorted(got.items())}
        cases.append((f"token {token} in {ids}", got, expected))
    return _report("bigram_probs", cases)


PAIR_CASES = [
    [97, 97, 97, 98, 100, 97, 97, 97, 98, 97, 99],  # "aaabdaaabac"
    [1, 2, 3, 1, 2, 3, 1, 2],
    [5, 5, 5, 5],
    [8, 7, 7, 8],  # three pairs, each once: the smallest (7, 7) wins, not the first seen
]


@self_check
def check_most_frequent_pair(fn: Callable[[list[int]], tuple[int, int] | None]) -> CheckResult:
    """Chapter 1: ``fn(ids)`` returns the most frequent adjacent pair; a tie goes to the
    smallest pair, as in ``BPETokenizer.train``."""
    cases = []
    for ids in PAIR_CASES:
        counts = Counter(pairwise(ids))
        expected = min(counts, key=lambda p: (-counts[p], p))
        got = fn(list(ids))
        cases.append((f"ids {ids}", None if got is None else tuple(got), expected))
    return _report("most_frequent_pair", cases)


@self_check
def check_merge(fn: Callable[[list[int], tuple[int, int], int], list[int] | None]) -> CheckResult:
    """Chapter 1: ``fn(ids, pair, new_id)`` replaces every occurrence of ``pair``, left to
    right, by ``new_id``."""

    def expected(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
        out: list[int] = []  # new_id is not in the pair, so a merged token never merges again
        for token in ids:
            if out and (out[-1], token) == pair:
                out[-1] = new_id
            else:
                out.append(token)
        return out

    cases = []
    for ids, pair in [
        (PAIR_CASES[0], (97, 97)),
        (PAIR_CASES[1], (1, 2)),
        (PAIR_CASES[2], (5, 5)),
        (PAIR_CASES[3], (7, 8)),
        ([], (1, 2)),
    ]:
        got = fn(list(ids), pair, 300)
        cases.append((f"ids {ids}, pair {pair}", got, expected(ids, pair, 300)))
    return _report("merge", cases)
