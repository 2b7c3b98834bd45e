"""Self-checks for chapter 7.1 (Fine-tuning for classification): accuracy from logits, balancing
a data set, and reading the logits at the last real token."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from llmcourse.checks.result import CheckResult, _report, compare_numbers, self_check


@self_check
def check_accuracy_from_logits(fn: Callable[[Any, Any], Any]) -> CheckResult:
    """Chapter 7.1: ``fn(logits, labels)`` is the fraction of rows whose largest logit is at
    the label; ``logits`` ``(n, classes)``, ``labels`` ``(n,)``; a Python float."""
    import torch

    g = torch.Generator().manual_seed(71)
    cases = []
    for n, k in [(1, 2), (4, 2), (10, 3), (25, 2)]:
        logits = torch.randn(n, k, generator=g)
        labels = torch.randint(0, k, (n,), generator=g)
        right = sum(
            int(max(range(k), key=lambda c: logits[i, c].item()) == labels[i]) for i in range(n)
        )
        got = fn(logits.clone(), labels.clone())
        if got is None:
            cases.append((f"{n} rows, {k} classes", None, None))
            continue
        ok = isinstance(got, float) or (hasattr(got, "numel") and got.numel() == 1)
        pair = (
            compare_numbers(float(got), right / n, 1e-6, noun="accuracy")
            if ok
            else (
                f"a {type(got).__name__}",
                "one number",
            )
        )
        cases.append((f"{n} rows, {k} classes", *pair))
    return _report("accuracy_from_logits", cases)


@self_check
def check_balance(fn: Callable[[Any, int], Any]) -> CheckResult:
    """Chapter 7.1: ``fn(pairs, seed)`` keeps as many ``(text, label)`` pairs of each label as
    the rarest label has, all taken from ``pairs`` (no pair twice); the order is free."""
    cases = []
    for counts in [(5, 2), (3, 3), (2, 7), (4, 1, 6)]:
        pairs = [
            (f"message {label}-{i}", label) for label, c in enumerate(counts) for i in range(c)
        ]
        got = fn(list(pairs), 0)
        expected = f"{min(counts)} of each of {len(counts)} labels, from the input"
        if got is None:
            cases.append((f"counts {counts}", None, None))
            continue
        got = list(got)
        per_label = Counter(label for _, label in got)
        fine = (
            set(per_label) == set(range(len(counts)))
            and set(per_label.values()) == {min(counts)}
            and len(set(got)) == len(got)
            and set(got) <= set(pairs)
        )
        seen = (
            expected
            if fine
            else f"label counts {dict(sorted(per_label.items()))} of {len(got)} pairs"
        )
        cases.append((f"counts {counts}", seen, expected))
    return _report("balance", cases)


@self_check
def check_last_token_logits(fn: Callable[[Any, Any], Any]) -> CheckResult:
    """Chapter 7.1: ``fn(logits, lengths)`` picks, for each sequence, the logits at its last
    real token (position ``length - 1``): ``(batch, tokens, classes)`` → ``(batch, classes)``."""
    import torch

    g = torch.Generator().manual_seed(72)
    cases = []
    for b, t, k in [(1, 4, 2), (3, 5, 2), (4, 7, 3)]:
        logits = torch.randn(b, t, k, generator=g)
        lengths = torch.randint(1, t + 1, (b,), generator=g)
        lengths[0] = t  # one sequence with no padding
        expected = torch.stack([logits[i, int(lengths[i]) - 1] for i in range(b)])
        got = fn(logits.clone(), lengths.clone())
        pair = (None, None) if got is None else compare_numbers(got, expected, 1e-6)
        cases.append((f"batch {b}, lengths {lengths.tolist()}", *pair))
    return _report("last_token_logits", cases)
