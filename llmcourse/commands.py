"""What the model-making commands share (chapters 6 and 7.2): options, machine, cards.

``python -m llmcourse.pretrain`` (the course model) and ``python -m llmcourse.instruct_model``
(the instruction-tuned model) are thin commands built on this module; neither imports the
other. A card records every training setting from the ``TrainConfig`` the model was trained
with (``training_card``), so the card cannot drift from the run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from llmcourse.assets import file_sha256
from llmcourse.train import TrainConfig
from llmcourse.validate import check_type

__all__ = [
    "add_run_arguments",
    "command_line",
    "machine",
    "run_config",
    "training_card",
    "write_card",
]


def add_run_arguments(
    p: argparse.ArgumentParser, run_dir: str, checkpoint_every: int, out: Path
) -> None:
    """The options every command that trains a committed model shares: threads, training
    checkpoints, resuming, and the model file to write."""
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--run-dir", default=run_dir, help="training checkpoints")
    p.add_argument("--checkpoint-every", type=int, default=checkpoint_every)
    p.add_argument("--resume", action="store_true", help="continue from --run-dir")
    p.add_argument("--out", default=str(out), help="the model file to write")


def run_config(args: argparse.Namespace, **settings: Any) -> TrainConfig:
    """The ``TrainConfig`` of a model command's parsed options: the settings both commands
    share (steps, learning rate and its schedule, weight decay, AdamW's betas, clipping,
    evaluation, checkpoints) and ``settings``, the command's own. Every setting a committed
    model was trained with is passed explicitly, not left to ``TrainConfig``'s defaults, so a
    change of defaults cannot change the model or make its card untrue."""
    return TrainConfig(
        max_steps=args.steps,
        lr=args.lr,
        min_lr=args.min_lr,
        warmup_steps=args.warmup,
        weight_decay=args.weight_decay,
        betas=(0.9, 0.95),
        grad_clip=1.0,
        grad_accum_steps=1,
        eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every,
        checkpoint_dir=args.run_dir,
        **settings,
    )


def command_line(module: str, argv: Sequence[str] | None) -> str:
    """The command as a learner would type it, for the card."""
    return (f"python -m {module} " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()


def _cpu_name() -> str:
    """The CPU's model name (Linux), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(model: torch.nn.Module) -> dict[str, str]:
    """Where a model was trained, for its card: device, CPU, torch and Python versions."""
    return {
        "device": str(next(model.parameters()).device),
        "cpu": _cpu_name(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def training_card(tcfg: TrainConfig, **measured: Any) -> dict[str, Any]:
    """A card's ``training`` section: the settings read from ``tcfg`` (under the card's short
    names, and all of them as ``settings``), then what the run measured (``measured``)."""
    check_type("tcfg", tcfg, TrainConfig, "a TrainConfig")
    settings = tcfg.to_dict()
    for local in ("checkpoint_dir", "progress"):  # where and how it ran, not how it trained
        settings.pop(local)
    return {
        "steps": tcfg.max_steps,
        "lr": tcfg.lr,
        "min_lr": tcfg.min_lr,
        "warmup": tcfg.warmup_steps,
        "eval_batches": tcfg.eval_batches,
        "weight_decay": tcfg.weight_decay,
        "grad_clip": tcfg.grad_clip,
        "bf16": tcfg.bf16,
        **measured,
        "settings": settings,
    }


def write_card(
    card: dict[str, Any],
    weights: Path,
    card_text: Callable[[dict[str, Any]], str],
    text_path: Path,
) -> Path:
    """Finish and write a model card: add the sha256 of ``weights``, the dtype its tensors are
    stored in and today's date to ``card``, write its data next to ``weights`` (``.json``) and
    ``card_text(card)`` (its Markdown) to ``text_path``, and say what was written."""
    weights = Path(weights)
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in load_file(weights).values()})
    card = {
        **card,
        "weights_sha256": file_sha256(weights),
        "weights_dtype": "/".join(dtypes),
        "date": time.strftime("%Y-%m-%d"),
    }
    card_path = weights.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    Path(text_path).write_text(card_text(card), encoding="utf-8")
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and {card_path}")
    return card_path
