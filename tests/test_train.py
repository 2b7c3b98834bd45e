"""llmcourse.train: the loop, its configuration and history, checks before the first step, and an
exact resume (tiny models on a tiny repeated text). The loss, the optimizer and the checkpoint
have their own test files; their helpers here are shared with them."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmcourse.config import GPTConfig
from llmcourse.data import make_loader
from llmcourse.model import GPTModel
from llmcourse.train import (
    History,
    TrainConfig,
    batch_loss,
    make_optimizer,
    train,
)

CFG = GPTConfig.preset("tiny", vocab_size=40, context_length=16, n_embd=32, dropout=0.1)
IDS = torch.arange(600) % 37  # a text the model can learn: a cycle of 37 ids


def tiny(seed=0):
    torch.manual_seed(seed)
    return GPTModel(CFG)


def loaders(seed=3):
    train_loader = make_loader(IDS[:500], batch_size=4, max_length=16, stride=8, seed=seed)
    val_loader = make_loader(IDS[500:], batch_size=4, max_length=16, shuffle=False, drop_last=False)
    return train_loader, val_loader


def test_train_keeps_the_loaders_collate_function():
    # sequences of different lengths, padded by the loader's own collate function (as chapter 7.2's)
    seqs = [IDS[i : i + n] for i, n in zip(range(0, 400, 40), [9, 12, 7, 16, 10, 8, 14, 11, 9, 13])]

    def pad(batch):
        n = max(len(s) for s in batch)
        x = torch.zeros(len(batch), n - 1, dtype=torch.long)
        y = torch.full((len(batch), n - 1), -100)
        for row, s in enumerate(batch):
            x[row, : len(s) - 1], y[row, : len(s) - 1] = s[:-1], s[1:]
        return x, y

    loader = torch.utils.data.DataLoader(
        seqs, batch_size=4, shuffle=True, collate_fn=pad, generator=torch.Generator().manual_seed(0)
    )
    cfg = TrainConfig(
        max_steps=3, lr=1e-3, warmup_steps=1, eval_every=3, eval_batches=2, progress=False
    )
    history = train(tiny(), loader, loader, cfg)
    assert history.step == [3] and len(history.train_loss) == 1
    assert history.train_loss[0] < math.log(CFG.vocab_size) + 1


def test_training_learns_the_cycle_and_records_its_history():
    model = tiny()
    train_loader, val_loader = loaders()
    cfg = TrainConfig(
        max_steps=60,
        lr=5e-3,
        min_lr=1e-4,
        warmup_steps=5,
        grad_clip=1.0,
        eval_every=20,
        progress=False,
    )
    history = train(model, train_loader, val_loader, cfg)
    assert history.step == [20, 40, 60]
    assert history.tokens_seen == [20 * 64, 40 * 64, 60 * 64]
    assert history.val_loss[0] > history.val_loss[1] > history.val_loss[2]
    assert history.val_loss[-1] < 1.0  # from ln(40) = 3.69 at the start
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.seconds > 0 and not model.training


def test_samples_need_a_tokenizer_and_are_recorded():
    from llmcourse.tokenizer import SimpleTokenizer

    words = ["a", "b", "c"] + [str(i) for i in range(34)]
    tok = SimpleTokenizer({w: i for i, w in enumerate(words)})
    model = tiny()
    train_loader, _ = loaders()
    cfg = TrainConfig(
        max_steps=4, eval_every=2, sample_every=2, sample_prompt="a b", progress=False
    )
    with pytest.raises(ValueError, match="sample_every needs a tokenizer"):
        train(model, train_loader, None, cfg)
    history = train(model, train_loader, None, cfg, tokenizer=tok)
    assert [s for s, _ in history.samples] == [2, 4]
    assert all(text.startswith("a b") for _, text in history.samples)
    assert all(math.isnan(v) for v in history.val_loss)


def _run(steps, run_dir, resume=False, stop_at=None):
    model = tiny(seed=1)
    torch.manual_seed(99)  # dropout draws
    train_loader, val_loader = loaders()
    cfg = TrainConfig(
        max_steps=steps,
        lr=3e-3,
        warmup_steps=3,
        eval_every=2,
        checkpoint_every=3,
        checkpoint_dir=run_dir,
        progress=False,
    )

    def stop(history):
        if stop_at is not None and history.step[-1] >= stop_at:
            raise KeyboardInterrupt  # as if the run were killed here

    history = train(
        model, train_loader, val_loader, cfg, resume=run_dir if resume else None, on_eval=stop
    )
    return model, history


def test_a_run_killed_mid_way_resumes_exactly_from_its_last_checkpoint(tmp_path):
    whole, history = _run(10, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        _run(10, tmp_path / "cut", stop_at=8)  # killed at step 8: the last checkpoint is step 6
    state = torch.load(tmp_path / "cut" / "train_state.pt", weights_only=True)
    assert state["step"] == 6
    resumed, resumed_history = _run(10, tmp_path / "cut", resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed_history.val_loss == history.val_loss
    assert resumed_history.tokens_seen == history.tokens_seen
    assert resumed_history.step == [2, 4, 6, 8, 10]


def test_train_config_bad_input():
    with pytest.raises(ValueError, match="TrainConfig.max_steps must be an int >= 1, got 0"):
        TrainConfig(max_steps=0)
    with pytest.raises(
        ValueError,
        match=r"TrainConfig.min_lr \(<= lr\) must be a finite number >= 0.0 and <= 0.001",
    ):
        TrainConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ValueError, match="TrainConfig.grad_clip must be a finite number > 0.0"):
        TrainConfig(grad_clip=0)
    with pytest.raises(ValueError, match="checkpoint_every needs a checkpoint_dir"):
        TrainConfig(checkpoint_every=10)
    with pytest.raises(TypeError, match="cfg must be a TrainConfig, got dict"):
        train(tiny(), loaders()[0], None, {"max_steps": 1})


def test_bf16_autocast_trains():
    model = tiny()
    train_loader, val_loader = loaders()
    cfg = TrainConfig(
        max_steps=30, lr=5e-3, warmup_steps=3, eval_every=30, bf16=True, progress=False
    )
    history = train(model, train_loader, val_loader, cfg)
    assert history.val_loss[-1] < math.log(40) - 1
    assert next(model.parameters()).dtype == torch.float32  # autocast keeps fp32 weights


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    """``torchrun --nproc_per_node=2`` runs the course-model command (a tiny version) on CPU."""
    out = tmp_path / "m.safetensors"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        "-m",
        "llmcourse.pretrain",
        "--n-layer",
        "1",
        "--n-embd",
        "32",
        "--n-head",
        "2",
        "--context",
        "32",
        "--steps",
        "4",
        "--eval-every",
        "2",
        "--eval-batches",
        "2",
        "--sample-every",
        "4",
        "--checkpoint-every",
        "2",
        "--run-dir",
        str(tmp_path / "run"),
        "--out",
        str(out),
        "--threads",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["processes"] == 2
    assert card["training"]["tokens_seen"] == 4 * 8 * 32 * 2  # both processes' batches count
    assert card["history"]["step"] == [2, 4]
    assert math.isfinite(card["val_loss"]) and card["val_loss"] < 11.0
    assert (tmp_path / "run" / "train_state.pt").is_file()
    assert Path(out).stat().st_size > 0


def _ddp_run(tmp_path, name, batch, accum, processes):
    out = tmp_path / f"{name}.json"
    script = str(Path(__file__).parent / "ddp_train.py")
    launch = [sys.executable]
    if processes > 1:
        launch += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [*launch, script, str(out), str(batch), str(accum)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    """DDP averages the two processes' gradients: 2 processes × batch 4 = batch 8 = batch 4
    accumulated twice = 2 processes × batch 2 accumulated twice. Losses agree within 1e-5 (float
    sums in another order), step after step."""
    one = _ddp_run(tmp_path, "one", batch=8, accum=1, processes=1)
    accumulated = _ddp_run(tmp_path, "accumulated", batch=4, accum=2, processes=1)
    two = _ddp_run(tmp_path, "two", batch=4, accum=1, processes=2)
    both = _ddp_run(tmp_path, "both", batch=2, accum=2, processes=2)
    assert one["tokens_seen"] == two["tokens_seen"] == accumulated["tokens_seen"]
    assert both["tokens_seen"] == one["tokens_seen"]
    assert one["tokens_seen"] == [8 * 16 * s for s in range(1, 7)]
    assert one["val_loss"][-1] < one["val_loss"][0] - 0.2  # it learned something
    for other in (two, accumulated, both):
        assert other["val_loss"] == pytest.approx(one["val_loss"], abs=1e-5)


# ----------------------------------------------------------------------------- defaults, config
def test_the_default_config_is_the_plain_loop_written_by_hand():
    hand, same = tiny(seed=2), tiny(seed=2)
    torch.manual_seed(5)  # dropout draws
    optimizer = make_optimizer(hand, lr=1e-3)
    hand.train()
    for _, (x, y) in zip(range(8), loaders()[0]):
        loss = batch_loss(hand, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.manual_seed(5)
    plain = TrainConfig(max_steps=8, eval_every=8, eval_batches=1, progress=False)
    history = train(same, loaders()[0], None, plain)
    assert history.lr == [1e-3]  # constant: no warm-up, no decay
    for (name, a), b in zip(hand.named_parameters(), same.parameters()):
        torch.testing.assert_close(a, b, msg=name)
    assert (plain.min_lr, plain.warmup_steps, plain.grad_clip) == (None, 0, None)
    assert TrainConfig(lr=5e-5).lr == 5e-5  # a small rate needs no min_lr of its own


def test_train_config_checks_every_field_and_reads_back_as_a_dict(tmp_path):
    cfg = TrainConfig(lr=2e-3, min_lr=1e-4, betas=[0.8, 0.9], checkpoint_dir=tmp_path)
    assert cfg.betas == (0.8, 0.9)
    data = cfg.to_dict()
    assert data["betas"] == [0.8, 0.9] and data["checkpoint_dir"] == str(tmp_path)
    assert data["min_lr"] == 1e-4 and data["grad_clip"] is None
    assert json.loads(json.dumps(data)) == data
    assert TrainConfig(**data).to_dict() == data
    with pytest.raises(AttributeError, match="cannot assign to field 'lr'"):
        cfg.lr = float("nan")
    cases = [
        (TypeError, "TrainConfig.max_steps must be an int, got bool True", {"max_steps": True}),
        (ValueError, "TrainConfig.lr must be a finite number > 0.0, got nan", {"lr": math.nan}),
        (
            ValueError,
            "TrainConfig.grad_clip must be a finite number > 0.0, got inf",
            {"grad_clip": math.inf},
        ),
        (
            ValueError,
            r"betas\[1\] must be a finite number >= 0.0 and <= 0.999999, got 1.0",
            {"betas": (0.9, 1.0)},
        ),
        (TypeError, "betas must be a pair of numbers", {"betas": 0.9}),
        (TypeError, "TrainConfig.checkpoint_dir must be a folder path", {"checkpoint_dir": 3}),
        (TypeError, "TrainConfig.bf16 must be True or False, got str 'yes'", {"bf16": "yes"}),
        (
            TypeError,
            "TrainConfig.eval_batches must be an int or None, got float 2.0",
            {"eval_batches": 2.0},
        ),
        (ValueError, "TrainConfig.warmup_steps must be an int >= 0, got -1", {"warmup_steps": -1}),
        (
            TypeError,
            "TrainConfig.sample_prompt must be a str, got NoneType",
            {"sample_prompt": None},
        ),
    ]
    for error, message, kwargs in cases:
        with pytest.raises(error, match=message):
            TrainConfig(**kwargs)


# ----------------------------------------------------------------------------- loss, schedule


# ----------------------------------------------------------------------------- train's checks
def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def _unchanged(model, before):
    return all(torch.equal(a, b) for a, b in zip(model.parameters(), before))


def test_empty_loaders_are_refused_before_training():
    model = tiny()
    train_loader, val_loader = loaders()
    cfg = TrainConfig(max_steps=2, eval_every=1, progress=False)
    empty = torch.utils.data.DataLoader([])
    with pytest.raises(ValueError, match="val_loader yields no batches .* or pass None"):
        train(model, train_loader, empty, cfg)
    with pytest.raises(ValueError, match=r"train_loader yields no batches \(its dataset has 0"):
        train(model, empty, val_loader, cfg)
    with pytest.raises(TypeError, match="on_eval must be a function of the History or None"):
        train(model, train_loader, val_loader, cfg, on_eval=3)
    with pytest.raises(TypeError, match="train_loader must be a DataLoader"):
        train(model, list(train_loader), val_loader, cfg)


def test_a_bad_checkpoint_dir_fails_before_the_first_step(tmp_path):
    model = tiny()
    before = _weights(model)
    (tmp_path / "a-file").write_text("not a folder")
    for bad, message in [
        (tmp_path / "a-file", "is a file, not a folder"),
        (tmp_path / "a-file" / "run", "cannot be written"),
    ]:
        cfg = TrainConfig(max_steps=2, checkpoint_dir=bad, progress=False)
        with pytest.raises(ValueError, match=message):
            train(model, loaders()[0], None, cfg)
    assert _unchanged(model, before)
    plain = torch.nn.Sequential(torch.nn.Embedding(40, 8), torch.nn.Linear(8, 40))
    cfg = TrainConfig(max_steps=2, checkpoint_dir=tmp_path / "run", progress=False)
    with pytest.raises(TypeError, match="model must be a GPTModel to save or resume checkpoints"):
        train(plain, loaders()[0], None, cfg)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_checkpoint_dir_fails_before_the_first_step(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    cfg = TrainConfig(max_steps=2, checkpoint_dir=locked, progress=False)
    with pytest.raises(ValueError, match="cannot be written"):
        train(tiny(), loaders()[0], None, cfg)


def test_a_non_finite_loss_stops_naming_the_step_and_keeps_the_history():
    model = tiny()
    calls = []

    def poison(module, inputs, out):
        if module.training:
            calls.append(1)
        return out * math.nan if len(calls) >= 3 and module.training else out

    model.out_head.register_forward_hook(poison)
    cfg = TrainConfig(max_steps=5, eval_every=1, eval_batches=1, progress=False)
    with pytest.raises(FloatingPointError, match="training loss at step 3 is nan") as caught:
        train(model, loaders()[0], None, cfg)
    assert caught.value.history.step == [1, 2]
    assert all(math.isfinite(v) for v in caught.value.history.train_loss)
    assert not model.training  # left in eval mode, as after a finished run


def test_an_interrupted_run_keeps_its_history():
    def stop(history):
        if history.step[-1] == 4:
            raise KeyboardInterrupt

    cfg = TrainConfig(max_steps=10, eval_every=2, progress=False)
    with pytest.raises(KeyboardInterrupt) as caught:
        train(tiny(), *loaders(), cfg, on_eval=stop)
    assert caught.value.history.step == [2, 4]
    assert caught.value.history.seconds > 0


# ----------------------------------------------------------------------------- checkpoints as a unit
def _checkpointed(run_dir, steps=2):
    model = tiny(seed=1)
    cfg = TrainConfig(max_steps=steps, checkpoint_dir=run_dir, eval_every=steps, progress=False)
    train(model, loaders()[0], None, cfg)
    return model


def test_resuming_with_another_batch_size_is_refused_before_loading(tmp_path):
    _checkpointed(tmp_path)
    model = tiny(seed=9)
    before = _weights(model)
    other_batches = make_loader(IDS[:500], batch_size=8, max_length=16, stride=8, seed=3)
    cfg = TrainConfig(max_steps=4, progress=False)
    with pytest.raises(
        ValueError,
        match="saved by a run with 15 batches of 4 per epoch; this "
        "train_loader has 7 batches of 8: resume with the same data",
    ):
        train(model, other_batches, None, cfg, resume=tmp_path)
    with pytest.raises(ValueError, match="is at step 2, past TrainConfig.max_steps 1"):
        train(model, loaders()[0], None, TrainConfig(max_steps=1, progress=False), resume=tmp_path)
    assert _unchanged(model, before)


def test_history_from_dict_refuses_ragged_lists():
    good = History(
        step=[1, 2], tokens_seen=[4, 8], lr=[0.1, 0.1], train_loss=[1, 1], val_loss=[2, 2]
    )
    assert History.from_dict(good.to_dict()) == good
    with pytest.raises(ValueError, match="History.from_dict needs lists"):
        History.from_dict({**good.to_dict(), "lr": [0.1]})
    with pytest.raises(TypeError, match="data must be a dict made by History.to_dict"):
        History.from_dict([1, 2])
