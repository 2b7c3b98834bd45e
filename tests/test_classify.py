"""llmcourse.classify: batches, the classification head, training, one message at a time."""

from __future__ import annotations

import pytest
import torch
from test_spam import toy_pairs
from torch import nn

from llmcourse import checks
from llmcourse.classify import (
    accuracy,
    add_classification_head,
    classify_text,
    encode_message,
    freeze_for_classification,
    last_token_logits,
    make_spam_loaders,
    pad_batch,
    position_probabilities,
    predict,
    train_classifier,
)
from llmcourse.config import GPTConfig
from llmcourse.model import GPTModel, count_parameters
from llmcourse.runtime import seed
from llmcourse.spam import SpamSplits, spam_splits
from llmcourse.tokenizer import BPETokenizer, SimpleTokenizer, end_of_text_id


@pytest.fixture(scope="module")
def bpe():
    text = "ham spam free cash now hello friend meeting at noon " * 20
    return BPETokenizer.train(text, vocab_size=290)


def test_encode_message_truncation_modes(bpe):
    text = "hello friend " * 20
    full = bpe.encode(text)
    assert len(full) > 10
    assert encode_message(text, bpe, 10) == full[:10]
    with pytest.warns(
        UserWarning,
        match=rf"message of {len(full)} tokens is longer than max_length=10: keeping its first 10",
    ):
        assert encode_message(text, bpe, 10, on_long="warn") == full[:10]
    with pytest.raises(
        ValueError, match=rf"message of {len(full)} tokens is longer than max_length=10$"
    ):
        encode_message(text, bpe, 10, on_long="error")
    with pytest.raises(
        ValueError, match="on_long must be 'truncate', 'warn' or 'error', got 'cut'"
    ):
        encode_message(text, bpe, 10, on_long="cut")
    with pytest.raises(TypeError, match="text must be a str, got int"):
        encode_message(5, bpe, 10)
    with pytest.raises(TypeError, match="max_length must be an int, got bool True"):
        encode_message(text, bpe, True)  # not max_length=1
    with pytest.raises(ValueError, match="max_length must be an int >= 1, got 0"):
        encode_message(text, bpe, 0)
    # special-token text in a message is plain text, and an empty message is one pad token
    eot = [end_of_text_id(bpe)]
    assert len(eot) == 1 and encode_message("<|endoftext|>", bpe, 50) != eot
    assert encode_message("", bpe, 5) == eot


def test_pad_batch_and_loaders(bpe):
    ids, lengths = pad_batch([[1, 2, 3], [4], [5, 6]], pad_id=9)
    assert ids.tolist() == [[1, 2, 3], [4, 9, 9], [5, 6, 9]] and lengths.tolist() == [3, 1, 2]
    splits = SpamSplits(
        train=[("ham " * k, 0) for k in range(1, 7)] + [("free cash " * 30, 1)],
        val=[("hello", 0), ("free cash now", 1)],
        test=[("at noon", 0)],
    )
    pad = end_of_text_id(bpe)
    tr, va, te = make_spam_loaders(splits, bpe, max_length=12, batch_size=4, seed=5)
    assert [len(x.dataset) for x in (tr, va, te)] == [7, 2, 1]
    assert va.dataset.texts == ["hello", "free cash now"] and tr.dataset.max_length == 12
    ids, lengths, labels = next(iter(va))
    assert labels.tolist() == [0, 1]
    assert lengths.tolist() == [len(bpe.encode("hello")), len(bpe.encode("free cash now"))]
    assert ids.shape == (2, int(lengths.max()))
    assert (ids[0, lengths[0] :] == pad).all()
    order = [b[2].tolist() for b in tr]
    assert order == [b[2].tolist() for b in make_spam_loaders(splits, bpe, 12, 4, seed=5)[0]]
    assert max(int(b[1].max()) for b in tr) == 12  # the long spam is cut to max_length
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        make_spam_loaders(splits, bpe, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int, got bool True"):
        make_spam_loaders(splits, bpe, batch_size=True)
    with pytest.raises(TypeError, match="max_length must be an int, got float 12.0"):
        make_spam_loaders(splits, bpe, max_length=12.0)
    with pytest.raises(TypeError, match="splits must be a SpamSplits, got list"):
        make_spam_loaders([("a", 0)], bpe)


def tiny_classifier(trainable="all", seed_value=0):
    seed(seed_value)
    model = add_classification_head(GPTModel(GPTConfig.preset("tiny")))
    freeze_for_classification(model, trainable)
    return model


def test_head_replaces_and_unties():
    model = GPTModel(GPTConfig.preset("tiny"))
    emb = model.tok_emb.weight.detach().clone()
    assert model.out_head.weight is model.tok_emb.weight
    assert add_classification_head(model, num_classes=3) is model
    assert model.out_head.weight.shape == (3, 64) and model.out_head.bias.shape == (3,)
    assert model.out_head.weight is not model.tok_emb.weight
    torch.testing.assert_close(model.tok_emb.weight, emb)
    assert model(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, 3)
    with pytest.raises(ValueError, match="num_classes must be an int >= 2, got 1"):
        add_classification_head(model, 1)
    with pytest.raises(TypeError, match="num_classes must be an int, got bool True"):
        add_classification_head(model, True)
    with pytest.raises(TypeError, match="model must be a GPTModel, got Linear"):
        add_classification_head(nn.Linear(2, 2))


def test_freezing_patterns_exact_counts():
    # tiny: a block has 49,984 parameters, the final norm 128, the 2-way head 64*2+2 = 130,
    # the embeddings 512*64 + 64*64 = 36,864
    expected = {"head": 130, "last-block": 49_984 + 128 + 130, "blocks": 2 * 49_984 + 258}
    expected["all"] = expected["blocks"] + 36_864
    for pattern, n in expected.items():
        model = tiny_classifier(pattern)
        assert count_parameters(model, trainable_only=True) == n, pattern
    model = tiny_classifier("last-block")
    assert not any(p.requires_grad for p in model.blocks[0].parameters())
    assert all(p.requires_grad for p in model.blocks[1].parameters())
    with pytest.raises(
        ValueError, match="trainable must be one of all, blocks, last-block, head, got 'some'"
    ):
        freeze_for_classification(model, "some")


def test_last_token_logits_and_padding_cannot_matter():
    logits = torch.arange(2 * 4 * 2, dtype=torch.float).view(2, 4, 2)
    assert last_token_logits(logits, torch.tensor([4, 2])).tolist() == [[6.0, 7.0], [10.0, 11.0]]
    with pytest.raises(ValueError, match=r"lengths must be in 1..4, got \[0, 2\]"):
        last_token_logits(logits, torch.tensor([0, 2]))
    model = tiny_classifier().eval()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    alone = model(ids)[:, -1]
    padded = torch.cat([ids, torch.full((1, 6), 3)], dim=1)
    torch.testing.assert_close(last_token_logits(model(padded), torch.tensor([5])), alone)


class ParityModel(nn.Module):
    """Predicts class = parity of each token id (logits one-hot), for a hand-checked accuracy."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        return nn.functional.one_hot(ids % 2, 2).float() + 0 * self.dummy


def test_accuracy_and_predict_on_a_hand_made_case():
    # a word-level vocabulary whose token "k" has id k, so the hand-made ids are the text
    digits = SimpleTokenizer({str(k): k for k in range(10)} | {"<|endoftext|>": 10})

    splits = SpamSplits(
        train=[("1", 1)],
        val=[("2 3", 1), ("4 6", 0), ("5", 0), ("7 8 9", 1), ("2", 0)],
        test=[("1", 0)],
    )
    _, val, _ = make_spam_loaders(splits, digits, max_length=8, batch_size=2)
    labels, preds, probs = predict(ParityModel(), val)
    assert preds.tolist() == [1, 0, 1, 1, 0] and labels.tolist() == [1, 0, 0, 1, 0]
    assert probs.shape == (5, 2)
    assert accuracy(ParityModel(), val) == pytest.approx(0.8)
    assert accuracy(ParityModel(), val, max_batches=1) == 1.0


def toy_spam(bpe, n=24):
    pairs = [("free cash now " * (1 + i % 3), 1) for i in range(n)]
    pairs += [("hello friend meeting at noon " * (1 + i % 2), 0) for i in range(n)]
    splits = spam_splits(data=[(f"{t}{i}", y) for i, (t, y) in enumerate(pairs)], seed=3)
    return make_spam_loaders(splits, bpe, max_length=24, batch_size=8, seed=3)


def test_train_classifier_fits_a_separable_toy_set(bpe):
    tr, va, te = toy_spam(bpe)
    model = tiny_classifier("all")
    before = accuracy(model, te)
    history = train_classifier(model, tr, va, epochs=6, lr=3e-3, progress=False)
    assert len(history.step) == 6 and history.step[-1] == 6 * len(tr)
    assert history.examples_seen[-1] == 6 * len(tr.dataset) and history.seconds > 0
    assert history.train_acc[-1] == 1.0 and history.val_acc[-1] == 1.0
    assert history.train_loss[-1] < history.train_loss[0]
    assert accuracy(model, te) == 1.0 and before < 1.0
    label, probs = classify_text(model, "free cash now", bpe, max_length=24)
    assert label == 1 and probs[1] > 0.5 and sum(probs) == pytest.approx(1.0, abs=1e-5)
    pieces, per_position = position_probabilities(model, "free cash now", bpe, 24)
    assert len(pieces) == per_position.shape[0] and "".join(pieces) == "free cash now"
    assert per_position[-1].tolist() == pytest.approx(probs, abs=1e-5)


def test_train_classifier_changes_only_trainable_parameters(bpe):
    tr, _, _ = toy_spam(bpe)
    model = tiny_classifier("last-block")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    calls = []
    train_classifier(
        model, tr, None, epochs=1, lr=1e-2, progress=False, eval_every=2, on_eval=calls.append
    )
    assert len(calls) == len(range(2, len(tr) + 1, 2)) + (len(tr) % 2)
    for name, p in model.named_parameters():
        changed = not torch.equal(p, before[name])
        assert changed == p.requires_grad, name


def test_train_classifier_bad_input(bpe):
    tr, va, _ = toy_spam(bpe)
    model = tiny_classifier("head")
    with pytest.raises(ValueError, match="epochs must be an int >= 1, got 0"):
        train_classifier(model, tr, va, epochs=0, lr=1e-3)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0.0, got -1.0"):
        train_classifier(model, tr, va, epochs=1, lr=-1)
    for p in model.parameters():
        p.requires_grad = False
    with pytest.raises(ValueError, match="no trainable parameters"):
        train_classifier(model, tr, va, epochs=1, lr=1e-3)
    long_loaders = make_spam_loaders(spam_splits(data=toy_pairs()), bpe, max_length=100)
    with pytest.raises(
        ValueError, match="max_length=100 is longer than the model's context length 64"
    ):
        train_classifier(tiny_classifier(), long_loaders[0], None, epochs=1, lr=1e-3)


def test_classify_text_truncates_with_a_warning(bpe):
    model = tiny_classifier()
    with pytest.warns(UserWarning, match="longer than max_length=8: keeping its first 8"):
        label, probs = classify_text(model, "hello friend " * 10, bpe, max_length=8)
    assert label in (0, 1) and len(probs) == 2
    with pytest.raises(
        ValueError, match=r"max_length must be an int in 1..64 \(the context\), got 65"
    ):
        classify_text(model, "hi", bpe, max_length=65)


def test_checks_pass_right_answers_and_catch_wrong_ones():
    def acc(logits, labels):
        return (logits.argmax(-1) == labels).float().mean().item()

    assert checks.check_accuracy_from_logits(acc)
    assert not checks.check_accuracy_from_logits(
        lambda lo, la: (lo.argmin(-1) == la).float().mean().item()
    )
    assert "not attempted" in repr(checks.check_accuracy_from_logits(lambda lo, la: None))

    def balance(pairs, seed):
        by = {}
        for p in pairs:
            by.setdefault(p[1], []).append(p)
        n = min(map(len, by.values()))
        return [p for group in by.values() for p in group[:n]]

    assert checks.check_balance(balance)
    assert not checks.check_balance(lambda pairs, seed: pairs)
    assert checks.check_last_token_logits(last_token_logits)
    assert not checks.check_last_token_logits(lambda lo, le: lo[:, -1])


def test_train_classifier_refuses_empty_loaders_and_non_finite_losses(bpe):
    tr, va, _ = toy_spam(bpe)
    empty = torch.utils.data.DataLoader([], batch_size=2, collate_fn=tr.collate_fn)
    with pytest.raises(ValueError, match="train_loader yields no batches"):
        train_classifier(tiny_classifier(), empty, va, epochs=1, lr=1e-3)
    with pytest.raises(ValueError, match="val_loader yields no batches"):
        train_classifier(tiny_classifier(), tr, empty, epochs=1, lr=1e-3)
    with pytest.raises(ValueError, match="the loader yields no batches"):
        predict(tiny_classifier(), empty)
    for kwargs, match in [
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"lr": 1e-3, "epochs": True}, "epochs must be an int, got bool True"),
        ({"lr": 1e-3, "eval_every": 0}, "eval_every must be an int >= 1"),
    ]:
        with pytest.raises((TypeError, ValueError), match=match):
            train_classifier(tiny_classifier(), tr, va, **{"epochs": 1, **kwargs})
    model = tiny_classifier()
    with torch.no_grad():
        model.out_head.bias.fill_(float("nan"))
    seen = []
    with pytest.raises(FloatingPointError, match="the training loss at step 1 is nan") as err:
        train_classifier(model, tr, va, epochs=1, lr=1e-3, progress=False, on_eval=seen.append)
    assert err.value.history.step == [] and not model.training


def test_a_language_model_head_is_refused_where_a_class_is_read(bpe):
    lm = GPTModel(GPTConfig.preset("tiny")).train()
    tr, _, _ = toy_spam(bpe)
    match = "the model's head gives 512 outputs, one per vocabulary token: it has no classif"
    with pytest.raises(ValueError, match=match):
        classify_text(lm, "free cash now", bpe, max_length=24)
    with pytest.raises(ValueError, match=match):
        position_probabilities(lm, "free cash now", bpe, 24)
    with pytest.raises(ValueError, match=match):
        predict(lm, tr)
    with pytest.raises(ValueError, match=match):
        train_classifier(lm, tr, None, epochs=1, lr=1e-3)
    assert lm.training  # left in the mode it came in
    model = tiny_classifier().train()
    classify_text(model, "free cash now", bpe, max_length=24)
    accuracy(model, tr)
    assert model.training
    with pytest.raises(TypeError, match="max_length must be an int, got bool True"):
        classify_text(model, "hi", bpe, max_length=True)
