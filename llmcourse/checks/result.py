"""The outcome of a self-check, and how the checks compare cases."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
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


def self_check(check: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """Make ``check`` report, as a failed ``CheckResult``, an exception raised while it runs the
    learner's function or uses what that function returned (a wrong type, say), instead of a
    crash inside the check."""
    name = check.__name__.removeprefix("check_")

    @functools.wraps(check)
    def checked(*args: Any, **kwargs: Any) -> CheckResult:
        try:
            return check(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 (the learner's code failed: report it)
            return CheckResult(
                False,
                f"✗ {name}: stopped by {type(err).__name__}: {err} (raised by your function, "
                "or by using what it returned: check its return type)",
            )

    return checked


def _same(got: Any, expected: Any) -> bool:
    """Whether ``got`` equals ``expected``; a bool is not a number, and a value that cannot be
    compared (a tensor against a list, say) is not equal."""
    if isinstance(got, bool) != isinstance(expected, bool):
        return False
    try:
        return bool(got == expected)
    except Exception:  # noqa: BLE001 (any failure to compare is a wrong answer, not a crash)
        return False


def _report(name: str, cases: Iterable[tuple[str, Any, Any]]) -> CheckResult:
    """Compare each case (input, got, expected); the message lists up to 5 failing cases.

    Every case returning ``None`` means not attempted yet; ``None`` for some cases while others
    answered is a failure of those cases (a forgotten ``return`` on one branch). An exception
    raised by the learner's function fails the check with its type and text.
    """
    failures, answered, none = [], 0, 0
    raised = None
    it = iter(cases)
    while True:
        try:
            label, got, expected = next(it)
        except StopIteration:
            break
        except Exception as err:  # noqa: BLE001 (the learner's code raised: report it)
            raised = f"{type(err).__name__}: {err}"
            break
        if got is None:
            none += 1
            failures.append(f"  {label}: returned None")
            continue
        answered += 1
        if not _same(got, expected):
            shown = repr(got) if len(repr(got)) <= 80 else f"{repr(got)[:77]}..."
            failures.append(f"  {label}: got {shown}, expected {expected!r}")
    if raised is not None:
        return CheckResult(False, f"✗ {name}: the function raised {raised}")
    if not answered:
        return CheckResult(False, f"{name}: not attempted yet (the function returns None)")
    if failures:
        lines = "\n".join(failures[:5])
        noun = f" ({none} returned None)" if none else ""
        return CheckResult(False, f"✗ {name}: {len(failures)} case(s) wrong{noun}\n{lines}")
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
