"""Self-checks for chapters 2 (Data sampling) and 3 (Token embeddings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmcourse.checks.result import CheckResult, _report, compare_numbers, self_check

WINDOW_CASES = [
    (10, 4, 1),
    (10, 4, 2),
    (10, 4, 4),
    (5, 4, 1),  # exactly one window: 4 inputs + 1 more token
    (4, 4, 1),  # too short: no window
    (0, 3, 2),
    (100, 8, 16),  # stride > max_length skips tokens
    (296_613, 256, 256),
    (296_613, 256, 128),
]


def _windows_by_brute_force(n_tokens: int, max_length: int, stride: int) -> list[int]:
    """Start of every window: try each multiple of ``stride``, keep those that fit."""
    return [s for s in range(0, n_tokens, stride) if s + max_length + 1 <= n_tokens]


@self_check
def check_count_windows(fn: Callable[[int, int, int], int | None]) -> CheckResult:
    """Chapter 2: ``fn(n_tokens, max_length, stride)`` returns how many windows fit."""
    return _report(
        "count_windows",
        (
            (
                f"n_tokens={n}, max_length={m}, stride={s}",
                fn(n, m, s),
                len(_windows_by_brute_force(n, m, s)),
            )
            for n, m, s in WINDOW_CASES
        ),
    )


def _int_lists(value: Any) -> Any:
    """Nested lists of ints from lists, tuples or tensors (so a learner may return either)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_int_lists(v) for v in value]
    return int(value)


@self_check
def check_make_pairs(
    fn: Callable[[list[int], int, int], list[tuple[list[int], list[int]]] | None],
) -> CheckResult:
    """Chapter 2: ``fn(ids, max_length, stride)`` returns ``[(input, target), ...]``, one pair
    per window, the target being the input shifted by one token."""
    cases = []
    for ids, m, s in [
        (list(range(100, 110)), 4, 1),
        (list(range(100, 110)), 4, 3),
        (list(range(100, 112)), 3, 5),
        ([5, 9, 2, 7, 1], 4, 1),
        ([1, 2, 3], 3, 1),
    ]:
        expected = [
            [ids[a : a + m], ids[a + 1 : a + m + 1]]
            for a in _windows_by_brute_force(len(ids), m, s)
        ]
        got = fn(list(ids), m, s)
        cases.append(
            (
                f"ids {ids}, max_length={m}, stride={s}",
                None if got is None else _int_lists(got),
                expected,
            )
        )
    return _report("make_pairs", cases)


@self_check
def check_batches_per_epoch(
    fn: Callable[[int, int, int, int, bool], int | None],
) -> CheckResult:
    """Chapter 2: ``fn(n_tokens, max_length, stride, batch_size, drop_last)`` returns how many
    batches one pass over the windows gives."""
    cases = []
    for n, m, s, b, drop in [
        (1000, 10, 10, 8, True),
        (1000, 10, 10, 8, False),
        (1000, 10, 5, 16, False),
        (40, 4, 4, 3, True),
        (40, 4, 4, 3, False),
        (296_613, 256, 256, 8, True),
        (296_613, 256, 256, 8, False),
    ]:
        windows = len(_windows_by_brute_force(n, m, s))
        expected = windows // b if drop else -(-windows // b)
        cases.append(
            (f"({n}, {m}, {s}, batch_size={b}, drop_last={drop})", fn(n, m, s, b, drop), expected)
        )
    return _report("batches_per_epoch", cases)


# ----------------------------------------------------------------------------- chapter 3
@self_check
def check_one_hot_embed(fn: Callable[[Any, Any], Any]) -> CheckResult:
    """Chapter 3: ``fn(ids, weight)`` returns the embeddings of ``ids`` (shape ``(n,)``) as the
    product of their one-hot rows with ``weight`` (``(vocab_size, d)``): shape ``(n, d)``."""
    import torch

    generator = torch.Generator().manual_seed(3)
    cases = []
    for vocab, dim, ids in [(6, 3, [2, 0, 5, 2]), (10, 4, [9]), (50, 8, list(range(0, 50, 7)))]:
        weight = torch.randn(vocab, dim, generator=generator)
        expected = [[float(weight[i, j]) for j in range(dim)] for i in ids]
        got = fn(torch.tensor(ids), weight.clone())
        pair = (None, None) if got is None else compare_numbers(got, expected, 1e-4, noun="table")
        cases.append((f"ids {ids}, weight {vocab}×{dim}", *pair))
    return _report("one_hot_embed", cases)


@self_check
def check_sinusoidal(fn: Callable[[int, int], Any]) -> CheckResult:
    """Chapter 3: ``fn(n, dim)`` returns the sinusoidal position table of shape ``(n, dim)``:
    column ``2i`` is ``sin(p / 10000**(2i/dim))``, column ``2i+1`` the ``cos`` of the same."""
    import math

    cases = []
    for n, dim in [(4, 6), (10, 16), (50, 8), (1, 2)]:
        expected = [
            [
                math.sin(p / 10_000 ** (c / dim))
                if c % 2 == 0
                else math.cos(p / 10_000 ** ((c - 1) / dim))
                for c in range(dim)
            ]
            for p in range(n)
        ]
        got = fn(n, dim)
        pair = (None, None) if got is None else compare_numbers(got, expected, 1e-4, noun="table")
        cases.append((f"n={n}, dim={dim}", *pair))
    return _report("sinusoidal", cases)


@self_check
def check_nearest(fn: Callable[[Any, int, int], list[int] | None]) -> CheckResult:
    """Chapter 3: ``fn(vectors, index, k)`` returns the indices of the ``k`` rows most
    cosine-similar to row ``index`` (itself excluded), most similar first."""
    import math

    import torch

    generator = torch.Generator().manual_seed(5)
    spread = [[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.2], [0.5, 0.45], [3.0, 3.1]]
    cases = []
    for vectors, index, k in [
        (spread, 0, 3),  # [10, 1] is long: largest dot product with [1, 0], not the most similar
        (spread, 2, 2),
        (torch.randn(12, 5, generator=generator).tolist(), 4, 5),
        (torch.randn(30, 16, generator=generator).tolist(), 29, 4),
    ]:

        def cos(a: list[float], b: list[float]) -> float:
            dot = sum(x * y for x, y in zip(a, b))
            return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))

        others = [i for i in range(len(vectors)) if i != index]
        expected = sorted(others, key=lambda i: -cos(vectors[index], vectors[i]))[:k]
        got = fn(torch.tensor(vectors), index, k)
        cases.append(
            (
                f"{len(vectors)} vectors, index={index}, k={k}",
                None if got is None else _int_lists(got),
                expected,
            )
        )
    return _report("nearest", cases)
