"""llmcourse.train: loss, perplexity, schedule, optimizer groups, the loop, checkpoints and an
exact resume (tiny models on a tiny repeated text)."""

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from llmcourse.config import GPTConfig
from llmcourse.data import make_loader
from llmcourse.model import GPTModel
from llmcourse.runtime import seed
from llmcourse.train import (
    History,
    TrainConfig,
    batch_loss,
    evaluate_loss,
    load_checkpoint,
    lr_at,
    make_optimizer,
    perplexity,
    save_checkpoint,
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


def test_batch_loss_is_the_mean_cross_entropy_of_every_position():
    model = tiny().eval()
    x, y = IDS[:32].view(2, 16), IDS[1:33].view(2, 16)
    logits = model(x)
    by_hand = -torch.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).mean()
    torch.testing.assert_close(batch_loss(model, x, y), by_hand)
    y_masked = y.clone()
    y_masked[:, :8] = -100
    kept = -torch.log_softmax(logits, -1)[:, 8:].gather(-1, y[:, 8:].unsqueeze(-1)).mean()
    torch.testing.assert_close(batch_loss(model, x, y_masked), kept)
    # an untrained model is close to uniform: loss ~ ln(vocab), perplexity ~ vocab
    assert abs(by_hand.item() - math.log(40)) < 0.2
    assert perplexity(math.log(40)) == pytest.approx(40.0)
    with pytest.raises(ValueError, match=r"inputs \(2, 16\) and targets \(2, 15\)"):
        batch_loss(model, x, y[:, :15])


def test_masked_targets_run_the_head_only_where_they_count_with_the_same_loss_and_gradients():
    x, y = IDS[:48].view(3, 16), IDS[1:49].view(3, 16).clone()
    y[0, :10] = -100  # a prompt that is masked
    y[2, 12:] = -100  # padding
    full, fast = tiny().train(), tiny().train()
    fast.load_state_dict(full.state_dict())
    calls = []
    fast.out_head.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    seed(5)
    loss_full = F.cross_entropy(full(x).flatten(0, 1), y.flatten())  # the plain path, -100 ignored
    loss_full.backward()
    seed(5)  # the same dropout masks
    loss_fast = batch_loss(fast, x, y)
    loss_fast.backward()
    assert calls == [(48 - 10 - 4, 32)]  # the head saw only the 34 positions that count
    torch.testing.assert_close(loss_fast, loss_full)
    for (name, a), b in zip(full.named_parameters(), fast.parameters()):
        torch.testing.assert_close(b.grad, a.grad, msg=name)


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


def test_evaluate_loss_averages_batches_caps_them_and_restores_the_mode():
    model = tiny().train()
    _, val = loaders()
    batches = list(val)
    model.eval()
    with torch.no_grad():
        each = [batch_loss(model, x, y).item() for x, y in batches]
    model.train()
    assert evaluate_loss(model, val) == pytest.approx(sum(each) / len(each))
    assert evaluate_loss(model, val, max_batches=1) == pytest.approx(each[0])
    assert model.training
    with pytest.raises(ValueError, match="max_batches must be an int >= 1 or None, got 0"):
        evaluate_loss(model, val, max_batches=0)


def test_warmup_then_cosine():
    kw = {"max_lr": 1.0, "warmup_steps": 10, "total_steps": 110, "min_lr": 0.1}
    assert lr_at(0, **kw) == pytest.approx(0.1)
    assert lr_at(9, **kw) == pytest.approx(1.0)
    assert lr_at(10, **kw) == pytest.approx(1.0)
    assert lr_at(60, **kw) == pytest.approx(0.55)  # half-way down the cosine
    assert lr_at(110, **kw) == pytest.approx(0.1)
    values = [lr_at(s, **kw) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_weight_decay_only_on_matrices():
    model = tiny()
    opt = make_optimizer(model, 1e-3, weight_decay=0.2)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.2 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    n = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n == sum(p.numel() for p in model.parameters())  # the tied head counted once


def test_training_learns_the_cycle_and_records_its_history():
    model = tiny()
    train_loader, val_loader = loaders()
    cfg = TrainConfig(max_steps=60, lr=5e-3, warmup_steps=5, eval_every=20, progress=False)
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


def test_checkpoint_round_trip_and_errors(tmp_path):
    model = tiny()
    opt = make_optimizer(model, 1e-3)
    model(IDS[:16].view(1, 16)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path, model, opt, step=7, history=History(step=[7]))
    other = tiny(seed=5)
    other_opt = make_optimizer(other, 1e-3)
    state = load_checkpoint(tmp_path, other, other_opt)
    assert state["step"] == 7 and state["history"]["step"] == [7]
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], other_opt.state_dict()["state"]
    assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)
    wider = GPTModel(CFG.replace(vocab_size=50))
    with pytest.raises(
        ValueError,
        match=r"shape mismatch for tok_emb.weight: the checkpoint has "
        r"\(40, 32\), the model has \(50, 32\)",
    ):
        load_checkpoint(tmp_path, wider)
    with pytest.raises(FileNotFoundError, match="not a training checkpoint: no train_state.pt"):
        (tmp_path / "train_state.pt").unlink()
        load_checkpoint(tmp_path, other)


def test_train_config_bad_input():
    with pytest.raises(ValueError, match="max_steps must be an int >= 1, got 0"):
        TrainConfig(max_steps=0)
    with pytest.raises(ValueError, match="lr > 0 and 0 <= min_lr <= lr, got lr=0.001, min_lr=0.01"):
        TrainConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ValueError, match="grad_clip must be > 0 or None, got 0"):
        TrainConfig(grad_clip=0)
    with pytest.raises(ValueError, match="checkpoint_every needs a checkpoint_dir"):
        TrainConfig(checkpoint_every=10)
    with pytest.raises(TypeError, match="train needs a TrainConfig, got dict"):
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
