"""llmcourse.viz.gpt: chapter 5's figures."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llmcourse import viz


def test_activation_plot_values_slopes_and_toggle():
    fig = viz.activation_plot({"ReLU": F.relu, "GELU": F.gelu}, lo=-2, hi=2, points=5)
    assert [t.name for t in fig.data] == ["ReLU", "ReLU slope", "GELU", "GELU slope"]
    assert list(fig.data[0].x) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert list(fig.data[0].y) == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert list(fig.data[1].y)[-2:] == [1.0, 1.0] and list(fig.data[1].y)[:2] == [0.0, 0.0]
    assert fig.data[3].y[1] == pytest.approx(-0.0833, abs=1e-4)  # GELU'(-1) is negative
    assert [t.visible for t in fig.data] == [True, False, True, False]
    buttons = fig.layout.updatemenus[0].buttons
    assert buttons[1].args[0]["visible"] == [False, True, False, True]


def test_gradient_bars():
    fig = viz.gradient_bars({"a": [1e-9, 1e-3], "b": [1.23456, 2.0]}, title="g")
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[1].y) == [1.23, 2.0]
    assert list(fig.data[0].x) == ["layer 1", "layer 2"]
    assert fig.layout.yaxis.type == "log"
    with pytest.raises(ValueError, match=r"same number of layers, got \[1, 2\]"):
        viz.gradient_bars({"a": [1.0], "b": [1.0, 2.0]})
    with pytest.raises(ValueError, match="got 1 layer names for 2 layers"):
        viz.gradient_bars({"a": [1.0, 2.0]}, layer_names=["x"])
    with pytest.raises(ValueError, match=r"series 'a'\[1\] is 0.0, .* finite number > 0.0"):
        viz.gradient_bars({"a": [1.0, 0.0]})  # a log axis cannot show 0
    assert viz.gradient_bars({"a": [1.0, 0.0]}, log=False).data[0].y[1] == 0
    with pytest.raises(ValueError, match=r"series 'a'\[0\] is nan"):
        viz.gradient_bars({"a": [float("nan"), 1.0]}, log=False)


def test_model_size_bars():
    fig = viz.model_size_bars({"gpt2-small": {"tied": 124_439_808, "untied": 163_037_184}})
    tied, untied = fig.data
    assert list(tied.y) == [124.44] and list(untied.y) == [163.04]
    assert list(tied.customdata[0]) == ["124,439,808", 497.8, 248.9, 1.99]
    assert fig.layout.yaxis.type == "log"
    with pytest.raises(ValueError, match="needs sizes"):
        viz.model_size_bars({})


def test_activation_plot_bad_input():
    with pytest.raises(ValueError, match="needs functions"):
        viz.activation_plot({})
    with pytest.raises(ValueError, match="lo < hi"):
        viz.activation_plot({"relu": torch.relu}, lo=1, hi=1)


_CHAPTER_5_PLOT = """
import json, torch.nn.functional as F
from llmcourse import viz
fig = viz.activation_plot({"ReLU": F.relu, "GELU": F.gelu}, title="t")
print(json.dumps([[list(t.x), list(t.y)] for t in fig.data]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["ATEN_CPU_CAPABILITY=default", "OMP_NUM_THREADS=1"])
def test_activation_plot_is_the_same_with_other_cpu_kernels(setting, run_nbval):
    # chapter 5 stores this figure; another CPU's kernels must draw the same numbers
    import json
    import subprocess
    import sys

    def points(env):
        out = subprocess.run(
            [sys.executable, "-c", _CHAPTER_5_PLOT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)

    native = points(run_nbval.environment())
    other = points(run_nbval.environment(setting))
    assert native[0][0][80] == 0.0  # the middle of [-4, 4] is exactly 0
    assert other == native
