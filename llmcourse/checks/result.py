"""The outcome of a self-check, and how the checks compare cases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a self-check: ``passed`` and a message naming the failing cases."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message


def _report(name: str, cases: Iterable[tuple[str, Any, Any]]) -> CheckResult:
    """Compare each case (input, got, expected); the message lists up to 5 failing cases."""
    failures = []
    attempted = False
    for label, got, expected in cases:
        if got is None:
            continue
        attempted = True
        if got != expected:
            failures.append(f"  {label}: got {got!r}, expected {expected!r}")
    if not attempted:
        return CheckResult(False, f"{name}: not attempted yet (the function returns None)")
    if failures:
        lines = "\n".join(failures[:5])
        return CheckResult(False, f"✗ {name}: {len(failures)} case(s) wrong\n{lines}")
    return CheckResult(True, f"✓ {name}: all cases pass")


def compare_numbers(
    got: Any, expected: Any, tol: float, relative: bool = False, noun: str = "tensor"
) -> tuple[str, str]:
    """(got, expected) as short descriptions for ``_report``: equal when the shapes match and
    every entry of ``got`` is within ``tol`` of ``expected`` (plus ``tol`` × |expected| when
    ``relative``); otherwise they say where ``got`` differs. ``noun`` names the thing compared."""
    import torch

    want = torch.as_tensor(expected).detach().to(torch.float64)
    label = f"a {noun} of shape {tuple(want.shape)}"
    try:
        have = torch.as_tensor(got.detach() if hasattr(got, "detach") else got)
        have = have.to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return f"a {type(got).__name__} that is not a {noun} of numbers", label
    if have.shape != want.shape:
        return f"a {noun} of shape {tuple(have.shape)}", label
    limit = tol + tol * want.abs() if relative else tol
    bad = ~((have - want).abs() <= limit)  # NaN counts as bad
    if not bool(bad.any()):
        return label, label
    where = tuple(int(i) for i in bad.nonzero()[0])
    at = f"row {where[0]}, column {where[1]}" if len(where) == 2 else f"index {where}"
    return f"{float(have[where]):.5g} at {at}", f"{float(want[where]):.5g} there"
