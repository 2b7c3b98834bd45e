"""The one argument-checking helper: types, ranges, NaN, bools, dtypes and ids."""

import math
import re

import numpy as np
import pytest
import torch

from llmcourse.validate import (
    check_bool,
    check_choice,
    check_dtype,
    check_float,
    check_ids,
    check_int,
    check_type,
    check_values,
    describe,
)


def test_check_int_accepts_ints_and_integer_scalars():
    assert check_int("n", 3, minimum=1) == 3
    assert check_int("n", np.int64(7)) == 7 and type(check_int("n", np.int64(7))) is int
    assert check_int("n", torch.tensor(5)) == 5
    assert check_int("n", None, none_ok=True) is None


@pytest.mark.parametrize("value", [True, False, 2.0, "3", None, torch.tensor(2.0)])
def test_check_int_refuses_non_ints_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^n_head must be an int, got "):
        check_int("n_head", value)


def test_check_int_range_names_the_value_and_the_bounds():
    with pytest.raises(ValueError, match=r"n_head must be an int >= 1, got 0"):
        check_int("n_head", 0, minimum=1)
    with pytest.raises(ValueError, match=r"k must be an int >= 1 and <= 5, got 6"):
        check_int("k", 6, minimum=1, maximum=5)
    assert check_int("k", 5, minimum=1, maximum=5) == 5


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_float_refuses_nan_and_infinity(value):
    with pytest.raises(ValueError, match=r"temperature must be a finite number >= 0.0, got "):
        check_float("temperature", value, minimum=0.0)


def test_check_float_bounds_and_types():
    assert check_float("p", 1, minimum=0.0, maximum=1.0) == 1.0
    assert check_float("p", np.float32(0.5)) == 0.5
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0.0, got 0.0"):
        check_float("lr", 0.0, minimum=0.0, exclusive_min=True)
    with pytest.raises(ValueError, match=r"p must be a finite number >= 0.0 and <= 1.0, got 1.5"):
        check_float("p", 1.5, minimum=0.0, maximum=1.0)
    with pytest.raises(TypeError, match=r"p must be a number, got bool True"):
        check_float("p", True)
    with pytest.raises(TypeError, match=r"p must be a number or None, got str '0.5'"):
        check_float("p", "0.5", none_ok=True)


def test_check_bool_type_choice():
    assert check_bool("flag", False) is False
    with pytest.raises(TypeError, match=r"flag must be True or False, got int 1"):
        check_bool("flag", 1)
    assert check_type("text", "hi", str, "a str") == "hi"
    with pytest.raises(TypeError, match=r"text must be a str, got list \[1\]"):
        check_type("text", [1], str, "a str")
    with pytest.raises(TypeError, match=r"count must be an int, got bool True"):
        check_type("count", True, int, "an int")
    assert check_choice("kind", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"kind must be one of 'a', 'b'; got 'c'"):
        check_choice("kind", "c", ("a", "b"))
    with pytest.raises(ValueError, match=r"kind must be one of"):
        check_choice("kind", ["a"], {"a", "b"})  # unhashable: not a choice, not a crash


def test_check_dtype():
    assert check_dtype("dtype", torch.bfloat16) is torch.bfloat16
    with pytest.raises(TypeError, match=r"dtype must be a torch.dtype .*got str 'float16'"):
        check_dtype("dtype", "float16")
    with pytest.raises(ValueError, match=r"dtype must be one of torch.float32, torch.bfloat16"):
        check_dtype("dtype", torch.int8, (torch.float32, torch.bfloat16))


def test_check_ids_lists_and_tensors():
    assert check_ids("ids", [1, np.int64(2), torch.tensor(3)], 10) == [1, 2, 3]
    ids = torch.tensor([[0, 9]])
    assert check_ids("ids", ids, 10) is ids
    with pytest.raises(ValueError, match=r"ids\[1\] is id 10, outside \[0, 10\)"):
        check_ids("ids", [3, 10], 10)
    with pytest.raises(ValueError, match=r"ids holds id -1, outside \[0, 10\)"):
        check_ids("ids", torch.tensor([-1, 2]), 10)
    with pytest.raises(TypeError, match=r"ids\[0\] must be an int token id, got bool True"):
        check_ids("ids", [True])
    with pytest.raises(TypeError, match=r"ids must hold integer token ids, got a torch.float32"):
        check_ids("ids", torch.tensor([1.0]))
    with pytest.raises(TypeError, match=r"ids must be a list of int token ids, got str"):
        check_ids("ids", "12")


def test_describe_shortens_long_values():
    text = describe("x" * 200)
    assert text.startswith("str 'xxx") and text.endswith("...") and len(text) < 70


def test_check_values_names_the_first_bad_entry_and_its_index():
    weights = torch.tensor([[0.2, 0.8], [0.5, float("nan")]])
    with pytest.raises(ValueError, match=r"weights\[1, 1\] is nan, but every value must be a"):
        check_values("weights", weights, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"p\[2\] is 1.5, .* finite number >= 0 and <= 1$"):
        check_values("p", [0.0, 1.0, 1.5], 0, 1)
    with pytest.raises(ValueError, match=r"t\[0\] is 0.0, .* > 0$"):
        check_values("t", (0.0, 1.0), 0, exclusive_min=True)
    with pytest.raises(ValueError, match=r"x is -inf"):
        check_values("x", float("-inf"))
    for bad, shown in [("0.5", "str '0.5'"), ([None], "list [None]")]:
        with pytest.raises(TypeError, match=f"x must be real numbers, got {re.escape(shown)}"):
            check_values("x", bad)
    with pytest.raises(TypeError, match="got a torch.bool tensor"):
        check_values("x", [True, False])
    values = [0.25, 0.5]
    assert check_values("x", values, 0, 1) is values and check_values("x", [], 0, 1) == []
