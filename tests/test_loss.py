"""llmcourse.loss: the batch loss (masked targets included), evaluation over a loader, perplexity."""

import math

import pytest
import torch
import torch.nn.functional as F
from test_train import IDS, loaders, tiny

from llmcourse.loss import batch_loss, evaluate_loss, perplexity
from llmcourse.runtime import seed


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
    with pytest.raises(ValueError, match="max_batches must be an int >= 1, got 0"):
        evaluate_loss(model, val, max_batches=0)
    with pytest.raises(TypeError, match="max_batches must be an int or None, got bool True"):
        evaluate_loss(model, val, max_batches=True)
    with pytest.raises(TypeError, match="loader must be a DataLoader"):
        evaluate_loss(model, batches)
    model.eval()
    evaluate_loss(model, val)
    assert not model.training  # left as it was found


def test_batch_loss_refuses_batches_it_cannot_score():
    model = tiny()
    x, y = IDS[:32].view(2, 16), IDS[1:33].view(2, 16)
    with pytest.raises(ValueError, match=r"every target of this batch \(2, 16\) is -100"):
        batch_loss(model, x, torch.full_like(y, -100))
    with pytest.raises(TypeError, match="inputs must hold integer token ids, got a torch.float32"):
        batch_loss(model, x.float(), y)
    with pytest.raises(
        ValueError, match=r"targets \(other than -100\) holds id 40, outside \[0, 40\)"
    ):
        batch_loss(model, x, torch.full_like(y, 40))
    with pytest.raises(ValueError, match=r"holds id -3"):
        batch_loss(model, x, torch.full_like(y, -3))
    with pytest.raises(ValueError, match=r"inputs \(32,\) and targets \(32,\) must have the same"):
        batch_loss(model, x.flatten(), y.flatten())
    with pytest.raises(TypeError, match="targets must be a"):
        batch_loss(model, x, y.tolist())


def test_perplexity_refuses_what_is_not_a_loss():
    assert perplexity(torch.tensor(0.0)) == 1.0
    assert perplexity(1000.0) == math.inf  # too large for a float: infinitely perplexed
    with pytest.raises(ValueError, match="loss must be a finite number >= 0.0, got nan"):
        perplexity(math.nan)
    with pytest.raises(ValueError, match="loss must be a finite number >= 0.0, got -1.0"):
        perplexity(-1.0)
    with pytest.raises(TypeError, match="loss must be a number, got bool True"):
        perplexity(True)


def test_evaluate_loss_stops_at_a_non_finite_batch():
    model = tiny()
    model.out_head.register_forward_hook(lambda m, i, out: out * math.nan)
    with pytest.raises(FloatingPointError, match="batch 0 of the loader gives a loss of nan"):
        evaluate_loss(model, loaders()[1])
