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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from llmcourse.train import TrainConfig
from llmcourse.validate import check_type

__all__ = ["add_run_arguments", "command_line", "machine", "training_card", "write_card"]


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


def write_card(card: dict[str, Any], weights: Path, text: str, text_path: Path) -> Path:
    """Write a model card: its data next to ``weights`` (``.json``), ``text`` to ``text_path``."""
    card_path = Path(weights).with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    Path(text_path).write_text(text, encoding="utf-8")
    return card_path
