"""llmcourse.generate: greedy decoding against a step-by-step argmax; sampling cuts; the KV
cache against the uncached path; Hugging Face's ``generate`` on the same weights."""

import pytest
import torch
from hf_models import tiny_hf

from llmcourse.config import GPTConfig
from llmcourse.generate import generate, generate_text_simple, next_token_probs, sample_next
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
    with pytest.raises(TypeError, match="context_length must be an int, got bool True"):
        generate_text_simple(model, torch.tensor([[1]]), 3, context_length=True)
    with pytest.raises(TypeError, match="max_new_tokens must be an int, got float nan"):
        generate_text_simple(model, torch.tensor([[1]]), float("nan"))
    with pytest.raises(ValueError, match=r"\(batch, tokens\) or \(tokens,\) tensor"):
        generate_text_simple(model, [1, 2], 3)


# ----------------------------------------------------------------------------- chapter 6


def test_temperature_zero_is_greedy_and_temperature_scales_the_logits():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    assert next_token_probs(logits, 0.0).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    for t in (0.5, 1.0, 2.0):
        torch.testing.assert_close(next_token_probs(logits, t), torch.softmax(logits / t, -1))
    cold, hot = next_token_probs(logits, 0.5), next_token_probs(logits, 2.0)
    assert cold.max() > next_token_probs(logits, 1.0).max() > hot.max()


def test_top_k_keeps_the_k_largest_and_top_p_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([[0.1, 0.4, 0.2, 0.3]]))
    probs = next_token_probs(logits, 1.0, top_k=2)
    torch.testing.assert_close(probs, torch.tensor([[0.0, 4 / 7, 0.0, 3 / 7]]))
    # sorted: 0.4, 0.3, 0.2, 0.1 -> cumulative 0.4, 0.7, 0.9, 1.0
    torch.testing.assert_close(
        next_token_probs(logits, 1.0, top_p=0.7), torch.tensor([[0.0, 4 / 7, 0.0, 3 / 7]])
    )
    torch.testing.assert_close(
        next_token_probs(logits, 1.0, top_p=0.71), torch.tensor([[0.0, 4, 2, 3]]) / 9
    )
    assert next_token_probs(logits, 1.0, top_p=0.1).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    torch.testing.assert_close(next_token_probs(logits, 1.0, top_p=1.0), torch.exp(logits))


def test_sampling_follows_the_distribution_and_is_seeded():
    logits = torch.log(torch.tensor([[0.1, 0.6, 0.3]])).expand(20000, 3)
    draws = sample_next(logits, 1.0, generator=torch.Generator().manual_seed(0)).flatten()
    freq = torch.bincount(draws, minlength=3) / len(draws)
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.6, 0.3]), atol=0.015, rtol=0)
    again = sample_next(logits, 1.0, generator=torch.Generator().manual_seed(0)).flatten()
    assert torch.equal(draws, again)
    assert sample_next(logits[:2], 1.0, top_k=1).flatten().tolist() == [1, 1]


def _tiny(fast=True, seed=0):
    torch.manual_seed(seed)
    return GPTModel(GPTConfig.preset("tiny", fast_attention=fast)).eval()


@pytest.mark.parametrize("fast", [True, False])
def test_kv_cache_gives_the_same_tokens_greedy_and_sampled_even_past_the_context(fast):
    model = _tiny(fast)
    prompt = torch.randint(0, 512, (3, 7))
    n = model.cfg.context_length + 20  # outgrows the 64-token context
    cached = generate(model, prompt, n, use_cache=True)
    assert torch.equal(cached, generate(model, prompt, n, use_cache=False))
    assert torch.equal(cached, generate_text_simple(model, prompt, n))
    kw = {"temperature": 1.3, "top_k": 40, "top_p": 0.95}
    a = generate(
        model, prompt, 30, use_cache=True, generator=torch.Generator().manual_seed(5), **kw
    )
    b = generate(
        model, prompt, 30, use_cache=False, generator=torch.Generator().manual_seed(5), **kw
    )
    assert torch.equal(a, b)
    assert not torch.equal(a, cached[:, :37])  # sampling did not fall back to greedy


def test_kv_cache_computes_one_token_per_step():
    model = _tiny()
    seen = []
    model.blocks[0].register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))
    generate(model, torch.randint(0, 512, (1, 5)), 4, use_cache=True)
    assert seen == [5, 1, 1, 1]
    seen.clear()
    generate(model, torch.randint(0, 512, (1, 5)), 4, use_cache=False)
    assert seen == [5, 6, 7, 8]


def test_stops_at_end_of_text_and_pads_rows_that_stopped():
    model = Counter(vocab=10, context_length=8)
    out = generate(model, torch.tensor([[5], [1]]), 8, eos_id=7, use_cache=False)
    assert out.tolist() == [[5, 6, 7, 7, 7, 7, 7], [1, 2, 3, 4, 5, 6, 7]]
    one = generate(model, torch.tensor([5]), 8, eos_id=7, use_cache=False)
    assert one.tolist() == [5, 6, 7]


def test_same_tokens_as_hugging_face_generate():
    from llmcourse.weights import load_gpt2_state_dict

    hf, cfg = tiny_hf(vocab=97, ctx=32, n_embd=32, n_layer=2, n_head=4)
    model = GPTModel(cfg).eval()
    load_gpt2_state_dict(model, hf.state_dict())
    prompt = torch.randint(0, 97, (2, 5), generator=torch.Generator().manual_seed(1))
    ours = generate(model, prompt, 20, eos_id=0, use_cache=True)
    theirs = hf.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=20,
        do_sample=False,
        eos_token_id=0,
        pad_token_id=0,
    )
    assert (ours == 0).any()  # one row stopped at end-of-text: both pad it the same way
    assert torch.equal(ours, theirs)


def test_sampling_bad_input():
    model = _tiny()
    ids = torch.tensor([[1, 2]])
    for t in (-0.5, float("nan"), float("inf")):
        with pytest.raises(
            ValueError, match=rf"temperature must be a finite number >= 0.0, got {t}"
        ):
            generate(model, ids, 3, temperature=t)
    with pytest.raises(TypeError, match="temperature must be a number, got bool True"):
        generate(model, ids, 3, temperature=True)
    with pytest.raises(TypeError, match="top_k must be an int or None, got bool True"):
        generate(model, ids, 3, temperature=1.0, top_k=True)
    with pytest.raises(
        ValueError, match="top_k must be between 1 and the vocabulary size 512, got 0"
    ):
        generate(model, ids, 3, temperature=1.0, top_k=0)
    with pytest.raises(ValueError, match="vocabulary size 512, got 513"):
        generate(model, ids, 3, temperature=1.0, top_k=513)
    for p in (0, 1.5, -0.1):
        with pytest.raises(
            ValueError, match=rf"top_p must be a finite number > 0.0 and <= 1.0, got {p}"
        ):
            generate(model, ids, 3, temperature=1.0, top_p=p)
    with pytest.raises(ValueError, match="prompt has 70 tokens but the model's context holds 64"):
        generate(model, torch.zeros(1, 70, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 0, got -2"):
        generate(model, ids, -2)
    with pytest.raises(TypeError, match="max_new_tokens must be an int, got bool True"):
        generate(model, ids, True)
    with pytest.raises(ValueError, match=r"eos_id must be an int >= 0 and <= 511, got 512"):
        generate(model, ids, 3, eos_id=512)  # an id the model never produces: it would never stop
    with pytest.raises(TypeError, match="eos_id must be an int or None, got bool True"):
        generate(model, ids, 3, eos_id=True)
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int 3"):
        generate(model, ids, 3, temperature=1.0, generator=3)
    with pytest.raises(TypeError, match="use_cache must be True or False, got int 1"):
        generate(model, ids, 3, use_cache=1)


def test_non_finite_logits_stop_generation_with_a_clear_error():
    model = _tiny()
    with torch.no_grad():
        model.tok_emb.weight[3].fill_(float("nan"))  # one NaN row: the prompt [1, 3] reads it
    ids = torch.tensor([[1, 3]])
    for use_cache in (True, False):
        with pytest.raises(ValueError, match=r"logits at generation step 0 are not finite \(NaN\)"):
            generate(model, ids, 4, use_cache=use_cache)
    with pytest.raises(ValueError, match=r"logits at generation step 0 are not finite \(NaN\)"):
        generate_text_simple(model, ids, 4, model.cfg.context_length)
    assert not model.training  # the mode the model came in
    # the head is tied to the embedding, so the NaN row makes logit 3 NaN for every prompt:
    # the error is raised before any token is chosen, not after emitting token 0 forever
    with pytest.raises(ValueError, match="step 0 are not finite"):
        generate(model, torch.tensor([[1, 2]]), 4)
    for bad in (torch.full((1, 5), float("-inf")), torch.tensor([[0.0, float("nan"), 1.0]])):
        with pytest.raises(ValueError, match="NaN, or a row whose every logit is -inf"):
            next_token_probs(bad, temperature=1.0)
