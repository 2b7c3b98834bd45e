"""Pretraining: the training loop (chapter 6, Pretraining).

``train`` runs the loop — the learning-rate schedule, clipping, periodic evaluation, samples, a
progress bar, checkpoints and a loss history; it resumes exactly where a saved checkpoint
stopped, and runs unchanged under ``torchrun``. ``TrainConfig`` holds its settings; the defaults
are chapter 6's plain loop. Its parts live in their own modules and are importable from here:
the loss (``llmcourse.loss``), the optimizer and schedule (``llmcourse.optim``), checkpoints
(``llmcourse.checkpoint``) and process groups (``llmcourse.runtime``).

Run ``python -m llmcourse.pretrain --help`` for the command that trains the course model.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Subset

from llmcourse.checkpoint import (
    Batches,
    load_checkpoint,
    prepare_checkpoint_dir,
    read_checkpoint,
    save_checkpoint,
)
from llmcourse.generate import generate, ids_to_text, text_to_ids
from llmcourse.loss import IGNORE_INDEX, batch_loss, evaluate_loss, perplexity
from llmcourse.model import GPTModel
from llmcourse.optim import check_betas, lr_at, make_optimizer
from llmcourse.runtime import (
    distributed_loader,
    is_distributed,
    is_main_process,
    progress_bar,
    world_size,
)
from llmcourse.validate import check_bool, check_float, check_int, check_type, describe

__all__ = [
    "IGNORE_INDEX",
    "History",
    "TrainConfig",
    "batch_loss",
    "evaluate_loss",
    "load_checkpoint",
    "lr_at",
    "make_optimizer",
    "perplexity",
    "save_checkpoint",
    "train",
]


# ----------------------------------------------------------------------------- config, history
@dataclass(frozen=True)
class TrainConfig:
    """How to train. Steps are optimizer updates; one step sees ``grad_accum_steps`` batches.

    The defaults are chapter 6's plain loop: AdamW (weight decay 0.1, betas (0.9, 0.95)) at a
    constant learning rate, no warm-up, no clipping. ``min_lr=None`` means ``lr`` (no decay).
    """

    max_steps: int = 1000
    lr: float = 1e-3
    min_lr: float | None = None
    warmup_steps: int = 0
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float | None = None
    grad_accum_steps: int = 1
    eval_every: int = 100
    eval_batches: int | None = 20
    sample_every: int | None = None
    sample_prompt: str = "Call me Ishmael."
    sample_tokens: int = 30
    checkpoint_every: int | None = None
    checkpoint_dir: str | os.PathLike | None = None
    bf16: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in ("max_steps", "eval_every", "grad_accum_steps", "sample_tokens"):
            put(name, check_int(f"TrainConfig.{name}", getattr(self, name), minimum=1))
        put("warmup_steps", check_int("TrainConfig.warmup_steps", self.warmup_steps, minimum=0))
        for name in ("sample_every", "checkpoint_every", "eval_batches"):
            put(name, check_int(f"TrainConfig.{name}", getattr(self, name), 1, none_ok=True))
        put("lr", check_float("TrainConfig.lr", self.lr, minimum=0.0, exclusive_min=True))
        if self.min_lr is not None:
            put("min_lr", check_float("TrainConfig.min_lr (<= lr)", self.min_lr, 0.0, self.lr))
        put("weight_decay", check_float("TrainConfig.weight_decay", self.weight_decay, 0.0))
        put("betas", check_betas(self.betas))
        if self.grad_clip is not None:
            put(
                "grad_clip",
                check_float("TrainConfig.grad_clip", self.grad_clip, 0.0, None, exclusive_min=True),
            )
        check_type("TrainConfig.sample_prompt", self.sample_prompt, str, "a str")
        if self.checkpoint_dir is not None:
            check_type(
                "TrainConfig.checkpoint_dir",
                self.checkpoint_dir,
                (str, os.PathLike),
                "a folder path (str or Path) or None",
            )
        check_bool("TrainConfig.bf16", self.bf16)
        check_bool("TrainConfig.progress", self.progress)
        if self.checkpoint_every is not None and self.checkpoint_dir is None:
            raise ValueError("TrainConfig.checkpoint_every needs a checkpoint_dir to save into")

    def to_dict(self) -> dict[str, Any]:
        """Every setting, as JSON can store it (e.g. for a model card)."""
        data = asdict(self)
        data["betas"] = list(self.betas)
        if self.checkpoint_dir is not None:
            data["checkpoint_dir"] = str(self.checkpoint_dir)
        return data


_PER_EVAL = ("step", "tokens_seen", "lr", "train_loss", "val_loss")


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
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        check_type("data", data, Mapping, "a dict made by History.to_dict")
        names = {f.name for f in fields(cls)}
        history = cls(**{k: v for k, v in data.items() if k in names})
        per_eval = [getattr(history, n) for n in _PER_EVAL]
        if not all(isinstance(v, list) for v in [*per_eval, history.samples]) or (
            len({len(v) for v in per_eval}) > 1
        ):
            raise ValueError(f"History.from_dict needs lists, {_PER_EVAL} of one length")
        history.samples = [(int(s), str(t)) for s, t in history.samples]
        return history


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


def _check_loader(name: str, loader: Any) -> DataLoader:
    check_type(name, loader, DataLoader, "a DataLoader of (inputs, targets) batches")
    if loader.batch_size is None:
        raise ValueError(f"{name} must be built with a batch_size (not a custom batch_sampler)")
    if len(loader) == 0:
        raise ValueError(
            f"{name} yields no batches (its dataset has {len(loader.dataset)} items): give it "
            "more data or a smaller batch_size" + (", or pass None" if name == "val_loader" else "")
        )
    return loader


def _sample_text(model: nn.Module, tokenizer: Any, prompt: str, n_tokens: int) -> str:
    """Greedy continuation of ``prompt`` (greedy draws no random numbers: resuming stays exact)."""
    return ids_to_text(generate(model, text_to_ids(prompt, tokenizer), n_tokens), tokenizer)


def train(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    cfg: TrainConfig,
    tokenizer: Any | None = None,
    resume: str | os.PathLike | None = None,
    on_eval: Callable[[History], None] | None = None,
) -> History:
    """Train ``model`` for ``cfg.max_steps`` optimizer steps; returns the ``History``.

    Every ``cfg.eval_every`` steps (and at the last) it measures the train and validation losses;
    every ``cfg.sample_every`` steps it decodes ``cfg.sample_prompt`` with ``tokenizer``; every
    ``cfg.checkpoint_every`` steps (and at the last) it saves a checkpoint to
    ``cfg.checkpoint_dir``. ``on_eval(history)`` is called after each evaluation (e.g. to redraw
    a loss plot). ``resume`` is a checkpoint directory to continue from: the model, optimizer,
    learning-rate schedule, data order and random state continue as if never stopped.

    Everything is checked before the first step (the loaders, the checkpoint folder, the saved
    state against the loader). A loss that stops being finite raises ``FloatingPointError``
    naming the step. Whatever stops the run, the error carries what was measured until then as
    ``error.history``. The model trains in training mode and is left in eval mode.

    Under ``torchrun`` each process trains on its own share of the data and only rank 0 logs,
    samples and saves. With ``cfg.bf16`` the forward pass runs under bfloat16 autocast.
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    check_type("cfg", cfg, TrainConfig, "a TrainConfig")
    _check_loader("train_loader", train_loader)
    if val_loader is not None:
        _check_loader("val_loader", val_loader)
    if cfg.sample_every is not None and tokenizer is None:
        raise ValueError("TrainConfig.sample_every needs a tokenizer to decode the samples")
    if on_eval is not None and not callable(on_eval):
        raise TypeError(
            f"on_eval must be a function of the History or None, got {describe(on_eval)}"
        )
    if cfg.checkpoint_dir is not None or resume is not None:
        check_type("model", model, GPTModel, "a GPTModel to save or resume checkpoints")
    if cfg.checkpoint_dir is not None and is_main_process():
        prepare_checkpoint_dir(cfg.checkpoint_dir)
    device = next(model.parameters()).device
    distributed = is_distributed()
    main = is_main_process()
    seed_for_sampler = int(torch.initial_seed()) % 2**31
    estimate_loader = _train_estimate_loader(train_loader, cfg.eval_batches)
    if distributed:
        train_loader = distributed_loader(train_loader, seed_for_sampler)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    batches = Batches(train_loader)
    history, step, tokens_seen = History(), 0, 0
    if resume is not None:
        state = read_checkpoint(resume)  # checked against this run before anything is loaded
        source = Path(resume)
        extra = state["extra"]
        if state["step"] > cfg.max_steps:
            raise ValueError(
                f"{source} is at step {state['step']}, past TrainConfig.max_steps {cfg.max_steps}"
            )
        batches.restore(extra.get("batches"), source)
        tokens_seen = check_int("the saved tokens_seen", extra.get("tokens_seen"), minimum=0)
        history = History.from_dict(state["history"])
        load_checkpoint(resume, model, optimizer)
        step = state["step"]
        torch.set_rng_state(state["torch_rng"])
    if distributed:
        ddp_kwargs = {"device_ids": [device.index]} if device.type == "cuda" else {}
        net: nn.Module = nn.parallel.DistributedDataParallel(model, **ddp_kwargs)
    else:
        net = model
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if cfg.bf16 else contextlib.nullcontext()
    )
    world = world_size()
    bar = progress_bar(
        cfg.max_steps,
        initial=step,
        desc="training",
        unit="step",
        disable=not (cfg.progress and main),
    )
    started = time.perf_counter() - history.seconds
    model.train()
    try:
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
                    value = loss.item()
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"the training loss at step {step + 1} is {value * cfg.grad_accum_steps}: "
                            f"the model's logits stopped being finite; lower the learning rate "
                            f"(lr={cfg.lr}) or set TrainConfig.grad_clip"
                        )
                    loss.backward()
                step_loss += value
                tokens_seen += inputs.numel() * world
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.3f}", lr=f"{lr:.2e}")
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                try:
                    with autocast:
                        train_loss = evaluate_loss(model, estimate_loader)
                        val_loss = (
                            evaluate_loss(model, val_loader, cfg.eval_batches)
                            if val_loader is not None
                            else math.nan
                        )
                except FloatingPointError as err:
                    raise FloatingPointError(f"evaluating at step {step}: {err}") from err
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
    except BaseException as err:
        history.seconds = time.perf_counter() - started
        err.history = history  # what was measured until the run stopped
        raise
    finally:
        bar.close()
        model.eval()
    history.seconds = time.perf_counter() - started
    return history
