"""llmcourse.checkpoint: a checkpoint is one unit; an interrupted save keeps the previous one,
a mixed or damaged pair is refused before anything is loaded."""

import os
from pathlib import Path

import pytest
import torch
from test_train import CFG, IDS, _checkpointed, _unchanged, _weights, loaders, tiny

from llmcourse.checkpoint import load_checkpoint, save_checkpoint
from llmcourse.model import GPTModel
from llmcourse.optim import make_optimizer
from llmcourse.train import History, TrainConfig, train


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


def test_a_save_interrupted_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model = _checkpointed(tmp_path)
    saved = _weights(model)
    opt = make_optimizer(model, 1e-3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # newer weights, whose save is interrupted

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, model, opt, step=4)
    monkeypatch.undo()
    assert (tmp_path / "model.safetensors.partial").is_file()  # the half-done save
    fresh = tiny(seed=9)
    state = load_checkpoint(tmp_path, fresh)
    assert state["step"] == 2
    assert _unchanged(fresh, saved)  # the step-2 pair, whole
    save_checkpoint(tmp_path, model, opt, step=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "train_state.pt"]


def test_a_mixed_pair_is_refused_before_anything_is_loaded(tmp_path, monkeypatch):
    model = _checkpointed(tmp_path)
    opt = make_optimizer(model, 1e-3)
    with torch.no_grad():
        model.tok_emb.weight.add_(1.0)
    replace = os.replace

    def replace_once(src, dst):  # killed between renaming the weights and the state
        if Path(dst).name == "train_state.pt":
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_once)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, model, opt, step=4)
    monkeypatch.undo()
    other = tiny(seed=9)
    before = _weights(other)
    message = "model.safetensors is not the weights train_state.pt was saved with \\(step 2\\)"
    with pytest.raises(ValueError, match=message):
        load_checkpoint(tmp_path, other)
    cfg = TrainConfig(max_steps=4, progress=False)
    with pytest.raises(ValueError, match=message):
        train(other, loaders()[0], None, cfg, resume=tmp_path)
    assert _unchanged(other, before)


def test_a_corrupt_state_file_is_named_without_unsafe_advice(tmp_path):
    model = _checkpointed(tmp_path)
    state_file = tmp_path / "train_state.pt"
    for content in (state_file.read_bytes()[:100], b"", b"not a checkpoint"):
        state_file.write_bytes(content)
        with pytest.raises(
            ValueError, match="train_state.pt cannot be read as a training state"
        ) as caught:
            load_checkpoint(tmp_path, model)
        assert "weights_only" not in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
    keys = ["step", "optimizer", "history", "extra", "weights_sha256"]
    torch.save({**{key: {} for key in keys}, "step": 1, "torch_rng": "seed"}, state_file)
    with pytest.raises(
        ValueError, match="train_state.pt holds torch_rng str 'seed': it is damaged"
    ):
        load_checkpoint(tmp_path, model)
    torch.save({"step": 1}, state_file)
    with pytest.raises(
        ValueError, match=r"not a training state written by save_checkpoint: it lacks \['extra'"
    ):
        load_checkpoint(tmp_path, model)


def test_an_optimizer_that_does_not_fit_is_refused_before_the_weights_are_loaded(tmp_path):
    _checkpointed(tmp_path)
    model = tiny(seed=9)
    before = _weights(model)
    with pytest.raises(ValueError, match="optimizer state in .* does not fit this optimizer"):
        load_checkpoint(tmp_path, model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert _unchanged(model, before)
    with pytest.raises(TypeError, match="step must be an int, got float 2.0"):
        save_checkpoint(tmp_path, model, make_optimizer(model, 1e-3), step=2.0)
    with pytest.raises(TypeError, match="history must be a History or None, got dict"):
        save_checkpoint(tmp_path, model, make_optimizer(model, 1e-3), step=2, history={})
