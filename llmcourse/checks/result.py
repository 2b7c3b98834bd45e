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
