"""Pretraining: the loss, the training loop and checkpoints (chapter 6, Pretraining).

- ``batch_loss``: mean cross-entropy of a batch's next-token predictions; ``perplexity = e^loss``.
- ``evaluate_loss``: the mean loss over a loader (optionally its first ``max_batches`` batches).
- ``lr_at``: linear warm-up, then cosine decay to ``min_lr``.
- ``make_optimizer``: AdamW with weight decay only on matrices (not on biases, norms).
- ``train``: the loop — clipping, periodic evaluation, samples, a progress bar, checkpoints, a
  loss history; it resumes exactly where a saved checkpoint stopped, and runs unchanged under
  ``torchrun`` (one process per device, gradients averaged by ``DistributedDataParallel``).

Run ``python -m llmcourse.pretrain --help`` for the command that trains the course model.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Subset

from llmcourse.generate import generate, ids_to_text, text_to_ids
from llmcourse.model import GPTModel
from llmcourse.runtime import progress_bar

__all__ = [
    "History",
    "TrainConfig",
    "batch_loss",
    "evaluate_loss",
    "is_main_process",
    "load_checkpoint",
    "lr_at",
    "make_optimizer",
    "perplexity",
    "save_checkpoint",
    "setup_distributed",
    "train",
]

IGNORE_INDEX = -100  # targets with this value count for nothing (F.cross_entropy's default)
STATE_FILE = "train_state.pt"
MODEL_FILE = "model.safetensors"


# ----------------------------------------------------------------------------- loss
def batch_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next-token predictions of a batch (a 0-d tensor).

    ``inputs`` and ``targets`` are ``(batch, tokens)`` ids; the logits ``(batch, tokens, vocab)``
    are flattened to ``(batch * tokens, vocab)`` so every position counts once. Targets equal to
    ``-100`` are ignored (fine-tuning uses them to mask tokens). When a ``GPTModel`` has such
    targets, only the other positions go through its output head: the same loss, computed
    faster (``GPTModel.forward``'s ``select``).
    """
    if inputs.shape != targets.shape:
        raise ValueError(
            f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must have the "
            "same shape (batch, tokens)"
        )
    device = next(model.parameters()).device
    inputs, targets = inputs.to(device), targets.to(device)
    keep = targets != IGNORE_INDEX
    if isinstance(_unwrap(model), GPTModel) and not bool(keep.all()):
        logits = model(inputs, select=keep)
        return F.cross_entropy(logits.float(), targets[keep])
    logits = model(inputs)
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())


def perplexity(loss: float | torch.Tensor) -> float:
    """``exp(loss)``: the number of equally likely tokens that would give the same loss."""
    return math.exp(loss.item() if isinstance(loss, torch.Tensor) else float(loss))


@torch.no_grad()
def evaluate_loss(model: nn.Module, loader: DataLoader, max_batches: int | None = None) -> float:
    """Mean of ``batch_loss`` over ``loader`` (its first ``max_batches`` batches if given).

    The model runs in eval mode (no dropout) and is put back in its mode afterwards.
    """
    if max_batches is not None and (not isinstance(max_batches, int) or max_batches < 1):
        raise ValueError(f"max_batches must be an int >= 1 or None, got {max_batches!r}")
    if len(loader) == 0:
        raise ValueError("the loader yields no batches: nothing to evaluate")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for i, (inputs, targets) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            total += batch_loss(model, inputs, targets).item()
            count += 1
    finally:
        model.train(was_training)
    return total / count


# ----------------------------------------------------------------------------- schedule, optimizer
def lr_at(
    step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0
) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up to ``max_lr`` over ``warmup_steps``
    steps, then a cosine from ``max_lr`` down to ``min_lr`` at ``total_steps``."""
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def make_optimizer(
    model: nn.Module, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95)
) -> torch.optim.AdamW:
    """AdamW with decoupled weight decay on matrices only.

    Weight decay pulls weights towards 0; on biases and layer-norm scales it only hurts, so
    parameters with fewer than 2 dimensions form a second group with ``weight_decay=0``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


# ----------------------------------------------------------------------------- distributed
def setup_distributed() -> bool:
    """Join the process group when started by ``torchrun``; True when running distributed.

    ``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``MASTER_ADDR``; the backend is ``nccl`` on
    CUDA and ``gloo`` on CPU. Without ``torchrun`` this does nothing and returns False.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    """True on rank 0 (and when not distributed): the process that logs and saves."""
    return not _distributed() or dist.get_rank() == 0


# ----------------------------------------------------------------------------- config, history
@dataclass
class TrainConfig:
    """How to train. Steps are optimizer updates; one step sees ``grad_accum_steps`` batches."""

    max_steps: int = 1000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float | None = 1.0
    grad_accum_steps: int = 1
    eval_every: int = 100
    eval_batches: int | None = 20
    sample_every: int | None = None
    sample_prompt: str = "Call me Ishmael."
    sample_tokens: int = 30
    checkpoint_every: int | None = None
    checkpoint_dir: str | Path | None = None
    bf16: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("max_steps", "eval_every", "grad_accum_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(
                f"TrainConfig.warmup_steps must be an int >= 0, got {self.warmup_steps!r}"
            )
        for name in ("sample_every", "checkpoint_every", "eval_batches"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"TrainConfig.{name} must be an int >= 1 or None, got {value!r}")
        if not self.lr > 0 or not 0 <= self.min_lr <= self.lr:
            raise ValueError(
                f"TrainConfig needs lr > 0 and 0 <= min_lr <= lr, got lr={self.lr}, "
                f"min_lr={self.min_lr}"
            )
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.grad_clip must be > 0 or None, got {self.grad_clip}")
        if self.checkpoint_every is not None and self.checkpoint_dir is None:
            raise ValueError("TrainConfig.checkpoint_every needs a checkpoint_dir to save into")


@dataclass
class History:
    """What ``train`` measured. At every evaluation: the step, the tokens seen so far, the
    learning rate, and the losses (train: on a fixed spread of training windows, eval mode);
    ``samples`` holds ``(step, text)`` pairs and ``seconds`` the training time."""

    step: list[int] = field(default_factory=list)
    tokens_seen: list[int] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    samples: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        names = {f.name for f in fields(cls)}
        history = cls(**{k: v for k, v in data.items() if k in names})
        history.samples = [(int(s), str(t)) for s, t in history.samples]
        return history


# ----------------------------------------------------------------------------- checkpoints
def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def save_checkpoint(
    directory: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    history: History | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.safetensors`` (the weights, fp32) and ``train_state.pt`` (optimizer, step,
    random-generator states, history) into ``directory``, each atomically; returns it."""
    from llmcourse.weights import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_model(_unwrap(model), directory / MODEL_FILE)
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "history": (history or History()).to_dict(),
        "extra": extra or {},
    }
    tmp = directory / (STATE_FILE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, directory / STATE_FILE)
    return directory


def load_checkpoint(
    directory: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint`` into ``model`` (and ``optimizer``).

    Returns the saved state (``step``, ``history``, ``extra``, ...). The weights must have the
    model's shapes; the state is read with ``torch.load(weights_only=True)``.
    """
    from llmcourse.weights import load_state_into

    directory = Path(directory)
    for name in (MODEL_FILE, STATE_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory} is not a training checkpoint: no {name} in it")
    load_state_into(_unwrap(model), directory / MODEL_FILE)
    state = torch.load(directory / STATE_FILE, map_location="cpu", weights_only=True)
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return state


# ----------------------------------------------------------------------------- the loop
def _train_estimate_loader(loader: DataLoader, n_batches: int | None) -> DataLoader:
    """A fixed, evenly spread selection of the training windows, for the train-loss estimate."""
    dataset = loader.dataset
    n = len(dataset) if n_batches is None else min(len(dataset), n_batches * loader.batch_size)
    step = len(dataset) / n
    indices = [int(i * step) for i in range(n)]
    return DataLoader(
        Subset(dataset, indices),
        batch_size=loader.batch_size,
        shuffle=False,
        collate_fn=loader.collate_fn,
    )


def _distributed_loader(loader: DataLoader, seed: int) -> DataLoader:
    """The same loader, each process reading its own share of every epoch."""
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    sampler = DistributedSampler(
        loader.dataset, shuffle=loader.generator is not None, seed=seed, drop_last=True
    )
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        drop_last=loader.drop_last,
        collate_fn=loader.collate_fn,
    )


class _Batches:
    """Endless batches from a loader, epoch after epoch, that can restart at any position.

    The loader's shuffling generator state is kept at every epoch's start, so a checkpoint can
    replay the same order and skip the batches already used.
    """

    def __init__(self, loader: DataLoader) -> None:
        if len(loader) == 0:
            raise ValueError("the training loader yields no batches")
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
        return {"epoch": self.epoch, "position": self.position, "epoch_state": self.epoch_state}

    def restore(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = state["epoch"], state["position"]
        self.epoch_state = state["epoch_state"]
        self._it = None


def _sample_text(model: nn.Module, tokenizer: Any, prompt: str, n_tokens: int) -> str:
    """Greedy continuation of ``prompt`` (greedy draws no random numbers: resuming stays exact)."""
    return ids_to_text(generate(model, text_to_ids(prompt, tokenizer), n_tokens), tokenizer)


def train(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    cfg: TrainConfig,
    tokenizer: Any | None = None,
    resume: str | Path | None = None,
    on_eval: Callable[[History], None] | None = None,
) -> History:
    """Train ``model`` for ``cfg.max_steps`` optimizer steps; returns the ``History``.

    Every ``cfg.eval_every`` steps (and at the last) it measures the train and validation losses;
    every ``cfg.sample_every`` steps it decodes ``cfg.sample_prompt`` with ``tokenizer``; every
    ``cfg.checkpoint_every`` steps (and at the last) it saves a checkpoint to
    ``cfg.checkpoint_dir``. ``on_eval(history)`` is called after each evaluation (e.g. to redraw
    a loss plot). ``resume`` is a checkpoint directory to continue from: the model, optimizer,
    learning-rate schedule, data order and random state continue as if never stopped.

    Under ``torchrun`` each process trains on its own share of the data and only rank 0 logs,
    samples and saves. With ``cfg.bf16`` the forward pass runs under bfloat16 autocast.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"train needs a TrainConfig, got {type(cfg).__name__}")
    if cfg.sample_every is not None and tokenizer is None:
        raise ValueError("TrainConfig.sample_every needs a tokenizer to decode the samples")
    device = next(model.parameters()).device
    distributed = _distributed()
    main = is_main_process()
    seed_for_sampler = int(torch.initial_seed()) % 2**31
    estimate_loader = _train_estimate_loader(train_loader, cfg.eval_batches)
    if distributed:
        train_loader = _distributed_loader(train_loader, seed_for_sampler)
        ddp_kwargs = {"device_ids": [device.index]} if device.type == "cuda" else {}
        net: nn.Module = nn.parallel.DistributedDataParallel(model, **ddp_kwargs)
    else:
        net = model
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    batches = _Batches(train_loader)
    history, step, tokens_seen = History(), 0, 0
    if resume is not None:
        state = load_checkpoint(resume, model, optimizer)
        step, history = state["step"], History.from_dict(state["history"])
        tokens_seen = state["extra"]["tokens_seen"]
        batches.restore(state["extra"]["batches"])
        torch.set_rng_state(state["torch_rng"])
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if cfg.bf16 else contextlib.nullcontext()
    )
    world = dist.get_world_size() if distributed else 1
    bar = progress_bar(
        cfg.max_steps,
        initial=step,
        desc="training",
        unit="step",
        disable=not (cfg.progress and main),
    )
    started = time.perf_counter() - history.seconds
    model.train()
    while step < cfg.max_steps:
        lr = lr_at(step, cfg.lr, cfg.warmup_steps, cfg.max_steps, cfg.min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for micro in range(cfg.grad_accum_steps):
            inputs, targets = batches.next()
            sync = micro == cfg.grad_accum_steps - 1 or not distributed
            # no_sync: accumulate locally, average across processes only after the last one
            with contextlib.nullcontext() if sync else net.no_sync():
                with autocast:
                    loss = batch_loss(net, inputs, targets) / cfg.grad_accum_steps
                loss.backward()
            step_loss += loss.item()
            tokens_seen += inputs.numel() * world
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.3f}", lr=f"{lr:.2e}")
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            with autocast:
                train_loss = evaluate_loss(model, estimate_loader)
                val_loss = (
                    evaluate_loss(model, val_loader, cfg.eval_batches) if val_loader else math.nan
                )
            history.step.append(step)
            history.tokens_seen.append(tokens_seen)
            history.lr.append(lr)
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
            history.seconds = time.perf_counter() - started
            if main:
                bar.write(
                    f"step {step:>6} | tokens {tokens_seen:>11,} | train {train_loss:.3f} | "
                    f"val {val_loss:.3f} | lr {lr:.2e}"
                )
                if on_eval is not None:
                    on_eval(history)
        if cfg.sample_every is not None and (step % cfg.sample_every == 0):
            text = _sample_text(model, tokenizer, cfg.sample_prompt, cfg.sample_tokens)
            history.samples.append((step, text))
            if main:
                bar.write(f"step {step:>6} | sample: {text!r}")
        last = step == cfg.max_steps
        due = cfg.checkpoint_every is not None and step % cfg.checkpoint_every == 0
        if cfg.checkpoint_dir is not None and (due or last):
            history.seconds = time.perf_counter() - started
            if main:
                extra = {"batches": batches.state(), "tokens_seen": tokens_seen}
                save_checkpoint(cfg.checkpoint_dir, model, optimizer, step, history, extra)
            if distributed:
                dist.barrier()
    bar.close()
    history.seconds = time.perf_counter() - started
    model.eval()
    return history
