"""Training checkpoints: one consistent unit of weights and training state (chapter 6).

A checkpoint is a folder with two files: ``model.safetensors`` (the weights, fp32) and
``train_state.pt`` (the step, the optimizer's state, the random generator, the loss history, and
the sha256 of the weights it belongs to). ``save_checkpoint`` writes both under temporary names
first and renames them into place only once both are complete, so a save interrupted while
writing leaves the previous checkpoint as it was. ``read_checkpoint`` and ``load_checkpoint``
check that the weights are the ones the state recorded, and refuse a mixed pair (left by a save
stopped between its two renames).

``Batches`` is where a run is in its data: the batches it draws, epoch after epoch, and the
position a checkpoint records so that a resumed run draws the same batches next.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from llmcourse.assets import file_sha256
from llmcourse.model import GPTModel
from llmcourse.runtime import unwrap
from llmcourse.validate import check_int, check_type, describe

if TYPE_CHECKING:
    from llmcourse.train import History

__all__ = [
    "MODEL_FILE",
    "STATE_FILE",
    "Batches",
    "load_checkpoint",
    "prepare_checkpoint_dir",
    "read_checkpoint",
    "save_checkpoint",
]

STATE_FILE = "train_state.pt"
MODEL_FILE = "model.safetensors"
PARTIAL = ".partial"  # suffix of a file still being written; never read, removed by the next save
_KEYS = {"step", "optimizer", "torch_rng", "history", "extra", "weights_sha256"}


def prepare_checkpoint_dir(directory: str | os.PathLike) -> Path:
    """Create ``directory`` if needed and check that files can be written in it; returns it.

    ``train`` calls this before its first step, so a bad folder fails before any training.
    """
    check_type("checkpoint_dir", directory, (str, os.PathLike), "a folder path (str or Path)")
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ValueError(f"checkpoint_dir {str(path)!r} is a file, not a folder: choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise ValueError(
            f"checkpoint_dir {str(path)!r} cannot be written ({err.strerror}): choose a folder "
            "you can write to"
        ) from None
    return path


def save_checkpoint(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    history: History | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model.safetensors`` and ``train_state.pt`` into ``directory`` as one unit.

    Both are written under temporary names (``*.partial``), then renamed into place: an
    interruption while writing leaves the previous checkpoint whole, and the next save removes
    the partial files. Returns the folder.
    """
    from llmcourse.train import History
    from llmcourse.weights import save_model

    net = unwrap(model)
    check_type("model", net, GPTModel, "a GPTModel (checkpoints hold GPTModel weights)")
    check_type("optimizer", optimizer, torch.optim.Optimizer, "a torch optimizer")
    step = check_int("step", step, minimum=0)
    if history is not None:
        check_type("history", history, History, "a History or None")
    if extra is not None:
        check_type("extra", extra, Mapping, "a dict or None")
    directory = prepare_checkpoint_dir(directory)
    weights, state_file = directory / (MODEL_FILE + PARTIAL), directory / (STATE_FILE + PARTIAL)
    for stale in (weights, state_file):  # left by a save that was interrupted
        stale.unlink(missing_ok=True)
    save_model(net, weights)
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "history": (history or History()).to_dict(),
        "extra": dict(extra or {}),
        "weights_sha256": file_sha256(weights),
    }
    torch.save(state, state_file)
    os.replace(weights, directory / MODEL_FILE)
    os.replace(state_file, directory / STATE_FILE)
    return directory


def read_checkpoint(directory: str | os.PathLike) -> dict[str, Any]:
    """The training state saved in ``directory``, checked, without loading anything.

    Raises ``FileNotFoundError`` if a file is missing and ``ValueError`` if the state is damaged
    or belongs to other weights (a save that was interrupted half-way).
    """
    check_type("directory", directory, (str, os.PathLike), "a checkpoint folder (str or Path)")
    directory = Path(directory)
    for name in (MODEL_FILE, STATE_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory} is not a training checkpoint: no {name} in it")
    path = directory / STATE_FILE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's warnings about a foreign pickle protocol
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, ValueError) as err:
        raise ValueError(
            f"{path} cannot be read as a training state ({type(err).__name__}): the file is "
            "damaged or was not written by save_checkpoint; resume from another checkpoint or "
            "start again"
        ) from None
    if not isinstance(state, dict) or not _KEYS <= set(state):
        missing = sorted(_KEYS - set(state)) if isinstance(state, dict) else sorted(_KEYS)
        raise ValueError(
            f"{path} is not a training state written by save_checkpoint: it lacks {missing}"
        )
    if isinstance(state["step"], bool) or not isinstance(state["step"], int) or state["step"] < 0:
        raise ValueError(f"{path} holds step {describe(state['step'])}, expected an int >= 0")
    kinds = {"optimizer": dict, "torch_rng": torch.Tensor, "history": dict, "extra": dict}
    wrong = [key for key, kind in kinds.items() if not isinstance(state[key], kind)]
    if wrong:  # a damaged file: a wrong value in it, not a wrong argument
        key = wrong[0]
        raise ValueError(f"{path} holds {key} {describe(state[key])}: it is damaged")
    if state["torch_rng"].dtype != torch.uint8:
        raise ValueError(f"{path} holds a torch_rng of {state['torch_rng'].dtype}: it is damaged")
    if file_sha256(directory / MODEL_FILE) != state["weights_sha256"]:
        raise ValueError(
            f"{directory / MODEL_FILE} is not the weights {STATE_FILE} was saved with (step "
            f"{state['step']}): the pair comes from two different saves, e.g. one that was "
            "interrupted; resume from another checkpoint or start again"
        )
    return state


def _check_optimizer_fits(path: Path, optimizer: torch.optim.Optimizer, saved: Any) -> None:
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    have = [len(g["params"]) for g in optimizer.param_groups]
    if not isinstance(groups, list) or [len(g.get("params", ())) for g in groups] != have:
        raise ValueError(
            f"the optimizer state in {path} does not fit this optimizer (parameter groups of "
            f"{have} tensors): make the optimizer with make_optimizer for the same model"
        )


def load_checkpoint(
    directory: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint`` into ``model`` (and ``optimizer``).

    Returns the saved state (``step``, ``history``, ``extra``, ...). Everything is checked before
    anything is copied: the pair of files, the weights' shapes and the optimizer's groups.
    """
    from llmcourse.weights import load_state_into

    net = unwrap(model)
    check_type("model", net, GPTModel, "a GPTModel")
    if optimizer is not None:
        check_type("optimizer", optimizer, torch.optim.Optimizer, "a torch optimizer or None")
    state = read_checkpoint(directory)
    directory = Path(directory)
    if optimizer is not None:
        _check_optimizer_fits(directory / STATE_FILE, optimizer, state["optimizer"])
    load_state_into(net, directory / MODEL_FILE)
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return state


class Batches:
    """Endless batches from a loader, epoch after epoch, that can restart at any position.

    The loader's shuffling generator state is kept at every epoch's start, so a checkpoint can
    replay the same order and skip the batches already used (``state`` / ``restore``).
    """

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self.epoch, self.position = 0, 0
        self.epoch_state: torch.Tensor | None = None
        self._it: Iterator | None = None

    def _start_epoch(self) -> None:
        sampler = self.loader.sampler
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(self.epoch)
        elif self.loader.generator is not None:
            if self.epoch_state is None:
                self.epoch_state = self.loader.generator.get_state()
            else:
                self.loader.generator.set_state(self.epoch_state)
        self._it = iter(self.loader)
        for _ in range(self.position):  # replaying a resumed epoch
            next(self._it)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._it is None:
            self._start_epoch()
        try:
            batch = next(self._it)
        except StopIteration:
            self.epoch, self.position = self.epoch + 1, 0
            self.epoch_state = None
            self._start_epoch()
            batch = next(self._it)
        self.position += 1
        return batch

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "epoch_state": self.epoch_state,
            "batches_per_epoch": len(self.loader),
            "batch_size": self.loader.batch_size,
        }

    def restore(self, state: dict[str, Any], source: Path) -> None:
        """Continue from ``state`` (saved by ``state``), checked against this loader first."""
        wanted = ("epoch", "position", "epoch_state", "batches_per_epoch", "batch_size")
        if not isinstance(state, dict) or not set(wanted) <= set(state):
            raise ValueError(f"{source} holds no position in the data: it was not saved by train")
        saved = (state["batches_per_epoch"], state["batch_size"])
        if saved != (len(self.loader), self.loader.batch_size):
            raise ValueError(
                f"{source} was saved by a run with {saved[0]} batches of {saved[1]} per epoch; "
                f"this train_loader has {len(self.loader)} batches of {self.loader.batch_size}: "
                "resume with the same data and batch size"
            )
        epoch = check_int("the saved epoch", state["epoch"], minimum=0)
        position = check_int("the saved position", state["position"], 0, saved[0])
        epoch_state = state["epoch_state"]
        if epoch_state is not None:
            check_type("the saved epoch_state", epoch_state, torch.Tensor, "a generator state")
        self.epoch, self.position, self._it = epoch, position, None
        self.epoch_state = epoch_state
