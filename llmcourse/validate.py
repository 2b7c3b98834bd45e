"""Checking the arguments a learner passes: one helper for every public function.

A wrong type is a ``TypeError``, a wrong value a ``ValueError``; both name the argument, the value
and what was expected. ``bool`` is never accepted as a number (``True`` is an ``int`` in Python,
but ``n_head=True`` is a mistake), and NaN and infinity are refused wherever a number is expected.

>>> check_int("n_head", 4)
4
>>> check_int("n_head", True)
Traceback (most recent call last):
...
TypeError: n_head must be an int, got bool True
>>> check_float("temperature", float("nan"), minimum=0.0)
Traceback (most recent call last):
...
ValueError: temperature must be a finite number >= 0.0, got nan
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable
from typing import Any

import torch

__all__ = [
    "check_bool",
    "check_choice",
    "check_dtype",
    "check_float",
    "check_ids",
    "check_int",
    "check_type",
    "check_values",
    "describe",
]


def describe(value: Any) -> str:
    """``value`` as an error message shows it: its type and a short repr."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _bounds(minimum: float | None, maximum: float | None, exclusive_min: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive_min else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    return " and ".join(parts)


def check_int(
    name: str,
    value: Any,
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    none_ok: bool = False,
) -> Any:
    """``value`` if it is an int (not a bool) in ``[minimum, maximum]``, else raise.

    NumPy and PyTorch integer scalars are accepted and returned as a plain ``int``.
    """
    if value is None and none_ok:
        return None
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        expected = "an int or None" if none_ok else "an int"
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an int {_bounds(minimum, maximum, False)}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    exclusive_min: bool = False,
    none_ok: bool = False,
) -> Any:
    """``value`` as a float if it is a finite real number (not a bool) in range, else raise.

    ``exclusive_min`` makes the lower bound strict (``> minimum``).
    """
    if value is None and none_ok:
        return None
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        expected = "a number or None" if none_ok else "a number"
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    value = float(value)
    bounds = _bounds(minimum, maximum, exclusive_min)
    wanted = f"a finite number {bounds}".rstrip()
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {wanted}, got {value}")
    too_low = minimum is not None and (value <= minimum if exclusive_min else value < minimum)
    if too_low or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {wanted}, got {value}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False``, else a ``TypeError``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return value


def check_type(name: str, value: Any, types: type | tuple[type, ...], expected: str) -> Any:
    """``value`` if it is an instance of ``types``, else a ``TypeError`` saying ``expected``."""
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    return value


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them."""
    try:
        known = value in choices
    except TypeError:  # an unhashable value cannot be in a set of choices
        known = False
    if not known:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def check_dtype(
    name: str, value: Any, allowed: Iterable[torch.dtype] | None = None, *, none_ok: bool = False
) -> Any:
    """``value`` if it is a ``torch.dtype`` (one of ``allowed`` if given), else raise."""
    if value is None and none_ok:
        return None
    if not isinstance(value, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype (e.g. torch.float32), got {describe(value)}")
    if allowed is not None:
        allowed = list(allowed)
        if value not in allowed:
            listed = ", ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must be one of {listed}; got {value}")
    return value


def check_values(
    name: str,
    values: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    exclusive_min: bool = False,
) -> Any:
    """``values`` (real numbers: a sequence, nested sequences, an array or a tensor) if every
    entry is finite and in range, else raise, naming the first bad entry and its index."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be real numbers, got {describe(values)}")
    try:
        t = values.detach() if isinstance(values, torch.Tensor) else torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be real numbers, got {describe(values)}") from None
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must be real numbers, got a {t.dtype} tensor")
    t = t.to(torch.float64)
    bad = ~torch.isfinite(t)
    if minimum is not None:
        bad |= (t <= minimum) if exclusive_min else (t < minimum)
    if maximum is not None:
        bad |= t > maximum
    if bool(bad.any()):
        index = tuple(int(i) for i in bad.nonzero()[0])
        where = "[" + ", ".join(map(str, index)) + "]" if index else ""
        bounds = _bounds(minimum, maximum, exclusive_min)
        raise ValueError(
            f"{name}{where} is {t[index].item()}, but every value must be a finite number"
            + (f" {bounds}" if bounds else "")
        )
    return values


def check_ids(name: str, ids: Any, vocab_size: int | None = None) -> Any:
    """Token ids as a list of ints or an integer tensor, each in ``[0, vocab_size)``; else raise.

    A list is returned as a list of plain ints, a tensor unchanged. Booleans are refused.
    """
    if isinstance(ids, torch.Tensor):
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer token ids, got a {ids.dtype} tensor")
        if ids.numel():
            low, high = int(ids.min()), int(ids.max())
            bad = low if low < 0 else high
            if low < 0 or (vocab_size is not None and high >= vocab_size):
                raise ValueError(f"{name} holds id {bad}, outside [0, {_limit(vocab_size)})")
        return ids
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"{name} must be a list of int token ids, got {describe(ids)}")
    out = []
    for i, item in enumerate(ids):
        if isinstance(item, torch.Tensor) and item.dim() == 0 and not item.is_floating_point():
            item = item.item()
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{name}[{i}] must be an int token id, got {describe(item)}")
        item = int(item)
        if item < 0 or (vocab_size is not None and item >= vocab_size):
            raise ValueError(f"{name}[{i}] is id {item}, outside [0, {_limit(vocab_size)})")
        out.append(item)
    return out


def _limit(vocab_size: int | None) -> str:
    return "∞" if vocab_size is None else str(vocab_size)
