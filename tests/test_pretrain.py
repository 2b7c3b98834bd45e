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
from llmcourse.pretrain import CARD, COURSE_MODEL, course_model_card, load_course_model
from llmcourse.train import evaluate_loss


@pytest.fixture(scope="module")
def card():
    return course_model_card()


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
    model = load_course_model()
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
