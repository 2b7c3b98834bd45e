"""llmcourse.commands: the options, training settings and cards the model-making commands share."""

import argparse
import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from llmcourse.commands import (
    add_run_arguments,
    command_line,
    machine,
    run_config,
    training_card,
    write_card,
)
from llmcourse.train import TrainConfig


def _args(**changes):
    p = argparse.ArgumentParser()
    add_run_arguments(p, "_build/a-run", 50, Path("checkpoints/a.safetensors"))
    args = p.parse_args([])
    shared = {
        "steps": 30,
        "lr": 2e-3,
        "min_lr": 1e-4,
        "warmup": 5,
        "weight_decay": 0.05,
        "eval_every": 10,
    }
    return argparse.Namespace(**{**vars(args), **shared, **changes})


def test_the_shared_options_and_their_defaults():
    args = _args()
    assert (args.run_dir, args.checkpoint_every, args.resume) == ("_build/a-run", 50, False)
    assert args.out == "checkpoints/a.safetensors" and args.threads is None


def test_run_config_passes_every_shared_setting_and_the_commands_own():
    tcfg = run_config(_args(), eval_batches=None, bf16=True)
    assert (tcfg.max_steps, tcfg.lr, tcfg.min_lr, tcfg.warmup_steps) == (30, 2e-3, 1e-4, 5)
    assert (tcfg.weight_decay, tcfg.eval_every, tcfg.checkpoint_every) == (0.05, 10, 50)
    assert (tcfg.betas, tcfg.grad_clip, tcfg.grad_accum_steps) == ((0.9, 0.95), 1.0, 1)
    assert tcfg.checkpoint_dir == "_build/a-run" and tcfg.eval_batches is None and tcfg.bf16
    with pytest.raises(ValueError, match="TrainConfig.lr must be a finite number > 0.0, got nan"):
        run_config(_args(lr=float("nan")))


def test_the_training_card_reads_every_setting_from_the_config():
    tcfg = TrainConfig(max_steps=7, lr=3e-4, grad_clip=0.5, checkpoint_dir="somewhere")
    card = training_card(tcfg, seconds=1.5)
    assert (card["steps"], card["lr"], card["grad_clip"], card["seconds"]) == (7, 3e-4, 0.5, 1.5)
    settings = dict(tcfg.to_dict())
    del settings["checkpoint_dir"], settings["progress"]  # where it ran, not how it trained
    assert card["settings"] == settings
    with pytest.raises(TypeError, match="tcfg must be a TrainConfig, got dict"):
        training_card({"max_steps": 7})


def test_write_card_adds_the_files_sha256_dtype_and_date(tmp_path, capsys):
    weights = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(2, 3, dtype=torch.bfloat16)}, weights)
    path = write_card(
        {"name": "m"}, weights, lambda c: f"# {c['name']} {c['weights_dtype']}\n", tmp_path / "m.md"
    )
    card = json.loads(path.read_text())
    assert path == tmp_path / "m.json" and card["name"] == "m"
    assert card["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert card["weights_dtype"] == "bfloat16" and len(card["date"]) == 10
    assert (tmp_path / "m.md").read_text() == "# m bfloat16\n"
    assert f"wrote {weights}" in capsys.readouterr().out


def test_command_line_and_machine():
    assert command_line("llmcourse.pretrain", ["--steps", "3", "--out", "a b"]) == (
        "python -m llmcourse.pretrain --steps 3 --out 'a b'"
    )
    where = machine(torch.nn.Linear(2, 2))
    assert where["device"] == "cpu" and where["torch"] == torch.__version__ and where["cpu"]
