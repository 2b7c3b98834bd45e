"""llmcourse.runtime: device choice, seeding and the progress bar."""

import io
import random
import time

import numpy as np
import pytest
import torch

from llmcourse.runtime import device, progress_bar, seed


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_device_order(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert device().type == expected
    assert device("cpu") == torch.device("cpu")


def test_device_bad_names():
    with pytest.raises(ValueError, match=r"unknown device 'tpu'; expected one of"):
        device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device 'cuda' is not available"):
            device("cuda")


def test_seed_repeats_every_generator():
    seed(7)
    first = (random.random(), np.random.rand(), torch.rand(3))
    seed(7)
    again = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == again[0] and first[1] == again[1]
    torch.testing.assert_close(first[2], again[2])
    seed(8)
    assert random.random() != first[0]


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True])
def test_seed_bad_values(bad):
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        seed(bad)


def test_progress_bar_redraws_at_most_once_a_second():
    # tqdm's own default redraws ten times a second: 25 redraws in this loop
    out = io.StringIO()
    bar = progress_bar(10**9, desc="loop", file=out)
    start = time.monotonic()
    while time.monotonic() - start < 2.5:
        bar.update(1)
    bar.close()
    redraws = out.getvalue().count("\r")
    assert 3 <= redraws <= 5, out.getvalue()
    assert "loop:" in out.getvalue()
