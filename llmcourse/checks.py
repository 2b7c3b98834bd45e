"""Self-checks a learner calls on their own exercise code.

Each ``check_*`` function runs the learner's function on a few inputs, compares the result with
an answer computed here in a different way, prints what it found and returns ``True`` when every
case passed. A function that still returns ``None`` (the exercise stub) counts as not attempted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import Any

__all__ = ["check_bigram_probs", "check_count_tokens"]


def _report(name: str, cases: Iterable[tuple[str, Any, Any]]) -> bool:
    """Print one line per failing case (input, got, expected); return whether all passed."""
    failures = []
    attempted = False
    for label, got, expected in cases:
        if got is None:
            continue
        attempted = True
        if got != expected:
            failures.append(f"  {label}: got {got!r}, expected {expected!r}")
    if not attempted:
        print(f"{name}: not attempted yet (the function returns None)")
        return False
    if failures:
        print(f"✗ {name}: {len(failures)} case(s) wrong\n" + "\n".join(failures[:5]))
        return False
    print(f"✓ {name}: all cases pass")
    return True


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


def check_count_tokens(fn: Callable[[str], int]) -> bool:
    """Chapter 0: ``fn(text)`` returns how many GPT-2 tokens ``text`` has."""
    enc = _gpt2()
    return _report(
        "count_tokens",
        ((repr(t), fn(t), len(enc.encode(t))) for t in COUNT_TEXTS),
    )


def check_bigram_probs(fn: Callable[[list[int], int], dict[int, float] | None]) -> bool:
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
