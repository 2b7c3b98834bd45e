"""Where the code runs and how it is made repeatable: one device helper, one seed helper, and
the progress bar every long loop shows.

Every chapter calls ``seed(...)`` before anything random, and puts models and tensors on
``device()``: a CUDA GPU if there is one, else Apple's MPS, else the CPU.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["device", "progress_bar", "seed"]

# Seconds between redraws of a progress bar. In a notebook each redraw is two messages to the
# front end. One that reads a cell's messages only when the cell ends (nbval does) holds a few
# thousand and the rest are dropped, the cell's end among them: a long cell must send few.
PROGRESS_INTERVAL = 1.0


def device(prefer: str | None = None) -> torch.device:
    """The best available device (cuda → mps → cpu), or ``prefer`` if given and available.

    Under ``torchrun`` on a GPU machine, CUDA means this process's own GPU, ``cuda:LOCAL_RANK``.
    """
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if prefer is not None:
        if prefer not in available:
            raise ValueError(f"unknown device {prefer!r}; expected one of {sorted(available)}")
        if not available[prefer]:
            raise ValueError(f"device {prefer!r} is not available on this machine")
    name = prefer or next(name for name, ok in available.items() if ok)
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def seed(value: int = 123) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's random generators; return torch's default generator."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"seed must be an int >= 0, got {value!r}")
    random.seed(value)
    np.random.seed(value % 2**32)
    return torch.manual_seed(value)


def progress_bar(total: int | None = None, *, desc: str | None = None, **options) -> tqdm:
    """A tqdm progress bar (a widget in a notebook, text in a terminal) that redraws at most
    once every ``PROGRESS_INTERVAL`` seconds; ``options`` go to ``tqdm``."""
    return tqdm(total=total, desc=desc, mininterval=PROGRESS_INTERVAL, **options)
