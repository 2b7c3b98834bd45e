"""Where the code runs and how it is made repeatable: one device helper, one seed helper, the
progress bar every long loop shows, the switch between training and evaluation mode, and the
process group that ``torchrun`` starts (the appendix *Scaling out*).

Every chapter calls ``seed(...)`` before anything random, and puts models and tensors on
``device()``: a CUDA GPU if there is one, else Apple's MPS, else the CPU. Code that only reads a
model runs it inside ``with mode(model, training=False):``, which turns dropout off and puts the
model back in the mode it found it in, even when the code inside fails.

Under ``torchrun`` every process calls ``setup_distributed()`` first; ``is_main_process()`` tells
the one process (rank 0) that logs and saves, and ``distributed_loader`` gives each process its
own share of a loader's batches.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    SequentialSampler,
)
from tqdm.auto import tqdm

from llmcourse.validate import check_bool, check_int, check_type, describe

__all__ = [
    "device",
    "distributed_loader",
    "is_distributed",
    "is_main_process",
    "mode",
    "progress_bar",
    "seed",
    "setup_distributed",
    "unwrap",
    "world_size",
]

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
    value = check_int("seed", value, minimum=0)
    random.seed(value)
    np.random.seed(value % 2**32)
    return torch.manual_seed(value)


def progress_bar(total: int | None = None, *, desc: str | None = None, **options) -> tqdm:
    """A tqdm progress bar (a widget in a notebook, text in a terminal) that redraws at most
    once every ``PROGRESS_INTERVAL`` seconds; ``options`` go to ``tqdm``."""
    return tqdm(total=total, desc=desc, mininterval=PROGRESS_INTERVAL, **options)


@contextlib.contextmanager
def mode(model: nn.Module, training: bool = False) -> Iterator[nn.Module]:
    """Run the ``with`` body with ``model`` in training (``True``) or evaluation mode (``False``,
    the default: no dropout), then put every submodule back in the mode it was in.

    >>> layer = nn.Dropout(0.5).train()
    >>> with mode(layer):
    ...     layer.training
    False
    >>> layer.training
    True
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    check_bool("training", training)
    modes = [(module, module.training) for module in model.modules()]
    model.train(training)
    try:
        yield model
    finally:
        for module, was_training in modes:
            module.training = was_training


# ----------------------------------------------------------------------------- process groups
def setup_distributed() -> bool:
    """Join the process group when started by ``torchrun``; True when running distributed.

    ``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``MASTER_ADDR``; the backend is ``nccl`` on
    CUDA and ``gloo`` on CPU. Without ``torchrun`` this does nothing and returns False.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    text = os.environ.get("WORLD_SIZE", "1")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"the environment variable WORLD_SIZE must be an int >= 1, got {text!r}")
    if int(text) == 1:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def is_distributed() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """How many processes train together (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """True on rank 0 (and when not distributed): the process that logs and saves."""
    return not is_distributed() or dist.get_rank() == 0


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def distributed_loader(
    loader: DataLoader,
    seed: int = 0,
    num_replicas: int | None = None,
    rank: int | None = None,
) -> DataLoader:
    """The same loader, each process reading its own share of every epoch.

    A loader that shuffles (a ``RandomSampler``) is shuffled with ``seed``, the same order in
    every process; one that does not (a ``SequentialSampler``) keeps its order. Process ``rank``
    of ``num_replicas`` (default: this process in the current group) takes every
    ``num_replicas``-th window. A loader that already has a ``DistributedSampler`` is returned
    as it is.
    """
    check_type("loader", loader, DataLoader, "a torch DataLoader")
    seed = check_int("seed", seed, minimum=0)
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    if loader.batch_size is None or type(loader.batch_sampler) is not BatchSampler:
        raise ValueError(
            "distributed_loader needs a loader built with batch_size (and shuffle=True/False), "
            f"got one with batch_sampler {describe(loader.batch_sampler)}"
        )
    if isinstance(loader.sampler, RandomSampler):
        shuffle = True
    elif isinstance(loader.sampler, SequentialSampler):
        shuffle = False
    else:
        raise TypeError(
            f"distributed_loader cannot split a loader whose sampler is a "
            f"{type(loader.sampler).__name__} across processes: build it with shuffle=True or "
            "shuffle=False, or give it a DistributedSampler yourself"
        )
    if (num_replicas is None or rank is None) and not (
        dist.is_available() and dist.is_initialized()
    ):
        raise ValueError(
            "distributed_loader needs num_replicas and rank, or a process group: call "
            "setup_distributed() first (under torchrun)"
        )
    if num_replicas is not None:
        num_replicas = check_int("num_replicas", num_replicas, minimum=1)
    if rank is not None:
        rank = check_int("rank", rank, minimum=0)
        if num_replicas is not None and rank >= num_replicas:
            raise ValueError(f"rank must be < num_replicas {num_replicas}, got {rank}")
    sampler = DistributedSampler(
        loader.dataset,
        num_replicas=num_replicas,
        rank=rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=True,
    )
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        drop_last=loader.drop_last,
        collate_fn=loader.collate_fn,
    )
