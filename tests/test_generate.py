"""llmcourse.generate: greedy decoding, against a step-by-step argmax written here."""

import pytest
import torch

from llmcourse.config import GPTConfig
from llmcourse.generate import generate_text_simple
from llmcourse.model import GPTModel


class Counter(torch.nn.Module):
    """A fake model: the most likely next token is (last token + 1) mod vocab; records inputs."""

    def __init__(self, vocab=10, context_length=4):
        super().__init__()
        self.vocab, self.seen = vocab, []
        self.cfg = GPTConfig.preset("tiny", vocab_size=vocab, context_length=context_length)

    def forward(self, ids):
        self.seen.append(ids.shape[1])
        return torch.nn.functional.one_hot((ids + 1) % self.vocab, self.vocab).float()


def test_greedy_appends_argmax_and_crops_the_context():
    model = Counter(vocab=10, context_length=4)
    out = generate_text_simple(model, torch.tensor([[7, 8], [1, 1]]), max_new_tokens=6)
    assert out.tolist() == [[7, 8, 9, 0, 1, 2, 3, 4], [1, 1, 2, 3, 4, 5, 6, 7]]
    assert model.seen == [2, 3, 4, 4, 4, 4]  # never more than the context length
    model.seen.clear()
    generate_text_simple(model, torch.tensor([[1, 2, 3]]), 2, context_length=2)
    assert model.seen == [2, 2]


def test_one_sequence_and_zero_tokens():
    model = Counter()
    assert generate_text_simple(model, torch.tensor([3]), 2).tolist() == [3, 4, 5]
    assert generate_text_simple(model, torch.tensor([[3]]), 0).tolist() == [[3]]


def test_matches_a_manual_loop_on_a_gpt_model_and_restores_training_mode():
    torch.manual_seed(0)
    cfg = GPTConfig.preset("tiny", dropout=0.5)
    model = GPTModel(cfg).train()
    start = torch.randint(0, cfg.vocab_size, (2, 3))
    out = generate_text_simple(model, start, 10)
    assert model.training  # put back as it was
    model.eval()
    ids = start
    with torch.no_grad():
        for _ in range(10):
            ids = torch.cat([ids, model(ids)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids)


def test_bad_input():
    model = Counter()
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 0, got -1"):
        generate_text_simple(model, torch.tensor([[1]]), -1)
    with pytest.raises(ValueError, match="at least one token"):
        generate_text_simple(model, torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="context_length must be an int >= 1, got 0"):
        generate_text_simple(model, torch.tensor([[1]]), 3, context_length=0)
    with pytest.raises(ValueError, match=r"\(batch, tokens\) or \(tokens,\) tensor"):
        generate_text_simple(model, [1, 2], 3)
