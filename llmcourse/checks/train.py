"""Self-checks for chapter 6 (Pretraining): the loss and the sampling cuts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from llmcourse.checks.result import CheckResult, _report, compare_numbers, self_check


@self_check
def check_cross_entropy(fn: Callable[[Any, Any], Any]) -> CheckResult:
    """Chapter 6: ``fn(logits, targets)`` is the mean of ``-log softmax(logits)[target]`` over
    every position; ``logits`` ``(batch, tokens, vocab)``, ``targets`` ``(batch, tokens)``."""
    import torch

    g = torch.Generator().manual_seed(61)
    cases = []
    for b, n, v, scale in [(1, 1, 3, 1.0), (2, 5, 10, 1.0), (3, 4, 50, 20.0), (1, 6, 7, 0.0)]:
        logits = scale * torch.randn(b, n, v, generator=g, dtype=torch.float64)
        targets = torch.randint(0, v, (b, n), generator=g)
        # reference: one position at a time, with log-sum-exp written out
        losses = []
        for i in range(b):
            for j in range(n):
                row = logits[i, j].tolist()
                top = max(row)
                log_z = top + math.log(sum(math.exp(x - top) for x in row))
                losses.append(log_z - row[int(targets[i, j])])
        expected = torch.tensor(sum(losses) / len(losses), dtype=torch.float64)
        got = fn(logits.clone(), targets.clone())
        pair = (None, None) if got is None else compare_numbers(got, expected, 1e-6, noun="loss")
        cases.append((f"batch {b}, {n} tokens, vocabulary {v}", *pair))
    return _report("cross_entropy", cases)


@self_check
def check_top_k(fn: Callable[[Any, int], Any]) -> CheckResult:
    """Chapter 6: ``fn(logits, k)`` keeps the ``k`` largest logits of a 1-D tensor and sets the
    others to ``-inf`` (ties with the k-th value are kept)."""
    import torch

    g = torch.Generator().manual_seed(62)
    cases = []
    for v, k in [(5, 1), (10, 3), (50, 50), (8, 4)]:
        logits = torch.randn(v, generator=g, dtype=torch.float64)
        kth = sorted(logits.tolist(), reverse=True)[k - 1]
        expected = logits.masked_fill(logits < kth, -math.inf)
        got = fn(logits.clone(), k)
        if got is None:
            cases.append((f"vocabulary {v}, k = {k}", None, None))
            continue
        got = torch.as_tensor(got, dtype=torch.float64)
        kept = "the same tokens" if torch.equal(torch.isinf(got), torch.isinf(expected)) else None
        pair = (
            compare_numbers(
                got.masked_fill(torch.isinf(got), 0),
                expected.masked_fill(torch.isinf(expected), 0),
                1e-9,
            )
            if kept
            else ("other tokens kept", "the k largest")
        )
        cases.append((f"vocabulary {v}, k = {k}", *pair))
    return _report("top_k", cases)


@self_check
def check_top_p(fn: Callable[[Any, float], Any]) -> CheckResult:
    """Chapter 6: ``fn(probs, p)`` keeps the smallest set of most likely tokens whose
    probabilities add up to at least ``p``, zeroes the rest and renormalises (1-D tensor)."""
    import torch

    cases = []
    for probs, p in [
        ([0.1, 0.4, 0.2, 0.3], 0.5),
        ([0.1, 0.4, 0.2, 0.3], 0.7),
        ([0.1, 0.4, 0.2, 0.3], 1.0),
        ([0.05, 0.9, 0.05], 0.5),
        ([0.25, 0.25, 0.25, 0.25], 0.6),
    ]:
        order = sorted(range(len(probs)), key=lambda i: -probs[i])
        kept, total = [], 0.0
        for i in order:
            if total >= p - 1e-12:
                break
            kept.append(i)
            total += probs[i]
        expected = torch.tensor(
            [probs[i] / total if i in kept else 0.0 for i in range(len(probs))], dtype=torch.float64
        )
        got = fn(torch.tensor(probs, dtype=torch.float64), p)
        pair = (None, None) if got is None else compare_numbers(got, expected, 1e-6)
        cases.append((f"{probs}, p = {p}", *pair))
    return _report("top_p", cases)
