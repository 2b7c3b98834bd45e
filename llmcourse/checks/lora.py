"""Self-checks for chapter 7.0 (LoRA): parameter counts, the forward pass and merging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmcourse.checks.result import CheckResult, _report, compare_numbers, self_check


@self_check
def check_lora_parameters(fn: Callable[[int, int, int], int | None]) -> CheckResult:
    """Chapter 7.0: ``fn(in_features, out_features, rank)`` is the number of numbers a rank-``rank``
    update of an ``in -> out`` linear layer trains (the two factors, no bias)."""
    cases = []
    for n_in, n_out, rank in [(192, 576, 8), (768, 768, 1), (768, 3072, 16), (10, 3, 2)]:
        got = fn(n_in, n_out, rank)
        # count the entries of the two factors one row at a time
        expected = sum(rank for _ in range(n_in)) + sum(n_out for _ in range(rank))
        cases.append((f"in {n_in}, out {n_out}, rank {rank}", got, expected))
    return _report("lora_parameters", cases)


def _cases(seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    for n_in, n_out, rank, alpha in [(4, 3, 1, 1.0), (16, 8, 4, 8.0), (32, 48, 8, 16.0)]:
        yield (
            f"in {n_in}, out {n_out}, rank {rank}, alpha {alpha:g}",
            torch.randn(5, n_in, generator=g, dtype=torch.float64),
            torch.randn(n_out, n_in, generator=g, dtype=torch.float64),
            torch.randn(n_out, generator=g, dtype=torch.float64),
            torch.randn(n_in, rank, generator=g, dtype=torch.float64),
            torch.randn(rank, n_out, generator=g, dtype=torch.float64),
            rank,
            alpha,
        )


@self_check
def check_lora_forward(fn: Callable[..., Any]) -> CheckResult:
    """Chapter 7.0: ``fn(x, W, b, A, B, alpha, rank)`` is a linear layer with a LoRA update:
    ``x`` ``(n, in)``, ``W`` ``(out, in)``, ``b`` ``(out,)``, ``A`` ``(in, rank)``, ``B``
    ``(rank, out)``; the result is ``(n, out)``."""
    import torch

    cases = []
    for label, x, w, b, a, bb, rank, alpha in _cases(71):
        # reference: one output entry at a time
        delta = [
            [sum(a[i, k] * bb[k, j] for k in range(rank)) for j in range(bb.shape[1])]
            for i in range(a.shape[0])
        ]
        expected = [
            [
                float(
                    b[j]
                    + sum(
                        x[r, i] * (w[j, i] + alpha / rank * delta[i][j]) for i in range(x.shape[1])
                    )
                )
                for j in range(w.shape[0])
            ]
            for r in range(x.shape[0])
        ]
        expected = torch.tensor(expected, dtype=torch.float64)
        got = fn(x.clone(), w.clone(), b.clone(), a.clone(), bb.clone(), alpha, rank)
        pair = (None, None) if got is None else compare_numbers(got, expected, 1e-8, noun="output")
        cases.append((label, *pair))
    return _report("lora_forward", cases)


@self_check
def check_merge_lora(fn: Callable[..., Any]) -> CheckResult:
    """Chapter 7.0: ``fn(W, A, B, alpha, rank)`` is the merged weight ``(out, in)``: a plain
    linear layer with it computes what the layer with its LoRA update computed."""
    import torch

    cases = []
    for label, x, w, b, a, bb, rank, alpha in _cases(72):
        with_lora = x @ w.T + alpha / rank * (x @ a @ bb)
        got = fn(w.clone(), a.clone(), bb.clone(), alpha, rank)
        if got is None:
            cases.append((label, None, None))
            continue
        got = torch.as_tensor(got, dtype=torch.float64)
        if got.shape != w.shape:
            cases.append(
                (label, f"a weight of shape {tuple(got.shape)}", f"shape {tuple(w.shape)}")
            )
            continue
        pair = compare_numbers(x @ got.T, with_lora, 1e-8, noun="output of the merged layer")
        cases.append((label, *pair))
    return _report("merge_lora", cases)
