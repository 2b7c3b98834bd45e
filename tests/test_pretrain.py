"""llmcourse.pretrain: the committed course model loads offline and matches its model card."""

import hashlib
import json
import math

import pytest
import torch

from llmcourse import assets
from llmcourse.config import GPTConfig
from llmcourse.data import load_corpus, make_loader, train_val_split
from llmcourse.model import count_parameters
from llmcourse.pretrain import COURSE_MODEL, _parser, train_config
from llmcourse.train import evaluate_loss
from llmcourse.weights import load_pretrained, model_card

CARD = COURSE_MODEL.with_suffix(".json")


@pytest.fixture(scope="module")
def card():
    return model_card("course")


def test_the_weights_are_the_ones_the_card_describes(card):
    data = COURSE_MODEL.read_bytes()
    assert hashlib.sha256(data).hexdigest() == card["weights_sha256"]
    assert len(data) <= 25_000_000  # the size the repository allows
    assert card["config"] == GPTConfig.preset("course").to_dict()
    assert card["data"]["corpus_sha256"] == assets.ASSETS["moby-dick"].sha256
    text = load_corpus()
    train_text, val_text = train_val_split(text, card["data"]["val_fraction"])
    assert hashlib.sha256(train_text.encode()).hexdigest() == card["data"]["train_text_sha256"]
    assert hashlib.sha256(val_text.encode()).hexdigest() == card["data"]["val_text_sha256"]
    history = card["history"]
    assert history["step"][-1] == card["training"]["steps"]
    assert len(history["val_loss"]) == len(history["step"]) == len(history["train_loss"])
    assert history["val_loss"][-1] < history["val_loss"][0] - 0.5
    assert card["val_loss"] < 0.55 * math.log(card["config"]["vocab_size"])  # ln V = 10.8


def test_the_course_model_loads_offline_and_has_the_validation_loss_of_its_card(card, monkeypatch):
    monkeypatch.setattr("urllib.request.urlopen", None)  # any network access would fail
    model = load_pretrained("course")
    assert not model.training and model.tok_emb.weight.dtype == torch.float32
    assert count_parameters(model) == card["parameters"]
    _, val_text = train_val_split(load_corpus(), card["data"]["val_fraction"])
    ctx = model.cfg.context_length
    loader = make_loader(val_text, batch_size=8, max_length=ctx, shuffle=False, drop_last=False)
    assert evaluate_loss(model, loader) == pytest.approx(card["val_loss"], abs=2e-3)


def test_the_card_text_is_written_from_the_card_data(card):
    text = (COURSE_MODEL.parent / "README.md").read_text(encoding="utf-8")
    assert card["weights_sha256"] in text and card["command"] in text
    assert f"{card['val_loss']}" in text
    assert json.loads(CARD.read_text(encoding="utf-8")) == card


def test_online_copies_of_the_course_model_are_pinned_to_the_committed_files():
    for name, path in (("course-model", COURSE_MODEL), ("course-model-card", CARD)):
        asset = assets.ASSETS[name]
        assert asset.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert asset.size == path.stat().st_size


def test_the_command_passes_every_setting_its_card_records(card):
    tcfg = train_config(_parser().parse_args([]))
    t = card["training"]
    assert tcfg.max_steps == t["steps"] and tcfg.lr == t["lr"] and tcfg.min_lr == t["min_lr"]
    assert tcfg.warmup_steps == t["warmup"] and tcfg.eval_batches == t["eval_batches"]
    assert tcfg.weight_decay == t["weight_decay"] and tcfg.bf16 == t["bf16"]
    assert tcfg.grad_clip == 1.0  # the card's text: "gradients clipped at 1.0"
    assert "gradients clipped at 1.0" in (COURSE_MODEL.parent / "README.md").read_text()
