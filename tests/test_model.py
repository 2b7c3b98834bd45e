"""llmcourse.model: the pieces against their formulas, and the whole model against Hugging Face's
GPT-2 (a tiny randomly initialised one, built from a config: no download)."""

import math

import pytest
import torch
import torch.nn.functional as F
from hf_models import tiny_hf, transformers

from llmcourse.config import GPTConfig
from llmcourse.generate import generate_text_simple
from llmcourse.model import (
    GELU,
    FeedForward,
    GPTModel,
    LayerNorm,
    TransformerBlock,
    count_parameters,
    parameter_bytes,
)
from llmcourse.weights import load_gpt2_state_dict


# ----------------------------------------------------------------------------- pieces
def test_layer_norm_equals_the_formula_and_normalises():
    torch.manual_seed(0)
    ln = LayerNorm(8)
    with torch.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    x = torch.randn(3, 5, 8) * 4 + 2
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * ln.weight + ln.bias
    torch.testing.assert_close(ln(x), expected)
    plain = LayerNorm(8)(x)
    torch.testing.assert_close(plain.mean(-1), torch.zeros(3, 5), atol=1e-6, rtol=0)
    torch.testing.assert_close(plain.var(-1, unbiased=False), torch.ones(3, 5), atol=1e-3, rtol=0)


def test_gelu_is_the_tanh_approximation():
    x = torch.linspace(-6, 6, 241, dtype=torch.float64)
    formula = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    torch.testing.assert_close(GELU()(x), formula)
    assert GELU()(torch.tensor(0.0)) == 0
    exact = F.gelu(x)  # the erf form: the approximation is within 1e-3 of it
    assert (GELU()(x) - exact).abs().max() < 1e-3
    assert GELU()(torch.tensor(-0.5)) < 0  # unlike ReLU, small negative outputs


def test_feed_forward_expands_four_times():
    cfg = GPTConfig.preset("tiny")
    ff = FeedForward(cfg)
    assert ff.fc.weight.shape == (4 * cfg.n_embd, cfg.n_embd)
    assert ff.proj.weight.shape == (cfg.n_embd, 4 * cfg.n_embd)
    x = torch.randn(2, 3, cfg.n_embd)
    torch.testing.assert_close(ff(x), ff.proj(F.gelu(ff.fc(x), approximate="tanh")))


def test_block_is_identity_when_its_branches_write_zeros():
    cfg = GPTConfig.preset("tiny")
    block = TransformerBlock(cfg).eval()
    x = torch.randn(2, 7, cfg.n_embd)
    assert block(x).shape == x.shape
    assert not torch.allclose(block(x), x)
    with torch.no_grad():
        for lin in (block.attn.out_proj, block.ff.proj):
            lin.weight.zero_()
            lin.bias.zero_()
    torch.testing.assert_close(block(x), x)  # only the shortcuts remain


# ----------------------------------------------------------------------------- the model
def test_shapes_tying_and_parameter_counts():
    cfg = GPTConfig.preset("tiny")
    tied, untied = GPTModel(cfg), GPTModel(cfg.replace(tie_weights=False))
    assert tied.out_head.weight is tied.tok_emb.weight
    assert untied.out_head.weight is not untied.tok_emb.weight
    ids = torch.randint(0, cfg.vocab_size, (2, 11))
    assert tied(ids).shape == (2, 11, cfg.vocab_size)
    assert count_parameters(untied) - count_parameters(tied) == cfg.vocab_size * cfg.n_embd
    d, v, c, n = cfg.n_embd, cfg.vocab_size, cfg.context_length, cfg.n_layer
    per_block = (
        (2 * 2 * d) + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    )
    assert count_parameters(tied) == v * d + c * d + n * per_block + 2 * d
    assert parameter_bytes(tied) == 4 * count_parameters(tied)
    assert parameter_bytes(tied, torch.bfloat16) == 2 * count_parameters(tied)


def test_gpt2_init():
    torch.manual_seed(0)
    model = GPTModel(GPTConfig.preset("tiny", n_layer=8))
    assert abs(model.tok_emb.weight.std().item() - 0.02) < 1e-3
    assert abs(model.blocks[0].ff.fc.weight.std().item() - 0.02) < 1e-3
    assert abs(model.blocks[0].ff.proj.weight.std().item() - 0.02 / 4) < 5e-4
    assert torch.all(model.blocks[0].attn.qkv.bias == 0)


def test_model_is_causal_and_attention_weights_match():
    cfg = GPTConfig.preset("tiny")
    model = GPTModel(cfg).eval()
    ids = torch.randint(0, cfg.vocab_size, (2, 12))
    changed = ids.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % cfg.vocab_size
    a, b = model(ids), model(changed)
    torch.testing.assert_close(a[:, :8], b[:, :8])
    assert not torch.allclose(a[:, 8:], b[:, 8:])
    w = model.attention_weights(ids)
    assert w.shape == (cfg.n_layer, 2, cfg.n_head, 12, 12)
    torch.testing.assert_close(w.sum(-1), torch.ones(cfg.n_layer, 2, cfg.n_head, 12))
    slow = GPTModel(cfg.replace(fast_attention=False)).eval()
    slow.load_state_dict(model.state_dict())
    torch.testing.assert_close(slow(ids), a, atol=1e-5, rtol=1e-5)


def test_select_runs_the_head_on_the_chosen_positions_only():
    model = GPTModel(GPTConfig.preset("tiny")).eval()
    ids = torch.randint(0, 40, (2, 9), generator=torch.Generator().manual_seed(0))
    select = torch.zeros(2, 9, dtype=torch.bool)
    select[0, 3], select[1, 5:] = True, True
    torch.testing.assert_close(model(ids, select=select), model(ids)[select])
    assert model(ids, select=select).shape == (5, model.cfg.vocab_size)
    with pytest.raises(ValueError, match=r"select must be a bool mask of the ids' shape \(2, 9\)"):
        model(ids, select=select[:, :4])
    with pytest.raises(ValueError, match="got torch.int64"):
        model(ids, select=select.long())


def test_model_bad_input():
    cfg = GPTConfig.preset("tiny")
    model = GPTModel(cfg)
    with pytest.raises(
        ValueError,
        match=r"token id 512 at position \(0, 2\) is out of range: .*vocab_size=512 rows, "
        r"so ids must be 0 to 511",
    ):
        model(torch.tensor([[1, 2, 512]]))
    with pytest.raises(ValueError, match=r"token id -1 at position \(0, 0\) is out of range"):
        model(torch.tensor([[-1, 2]]))
    with pytest.raises(
        ValueError, match="sequence of 65 tokens is longer than the context length 64"
    ):
        model(torch.zeros(1, 65, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(batch, tokens\), got \(5,\).*unsqueeze"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(
        TypeError, match="token ids must be an integer tensor, got dtype torch.float32"
    ):
        model(torch.zeros(1, 5))
    with pytest.raises(TypeError, match="needs a GPTConfig, got dict"):
        GPTModel({"n_layer": 2})


# ----------------------------------------------------------------------------- against Hugging Face
@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("fast", [True, False])
def test_logits_equal_hugging_face(tie, fast):
    hf, cfg = tiny_hf(tie=tie)
    model = GPTModel(cfg.replace(fast_attention=fast)).eval()
    load_gpt2_state_dict(model, hf.state_dict())
    torch.manual_seed(1)
    for n in (1, 7, 16):
        ids = torch.randint(0, cfg.vocab_size, (3, n))
        with torch.no_grad():
            expected = hf(ids).logits
            got = model(ids)
        assert expected.abs().max() > 1  # logits at a scale where a mistake would show
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_greedy_tokens_equal_hugging_face():
    hf, cfg = tiny_hf(ctx=32)
    model = GPTModel(cfg).eval()
    load_gpt2_state_dict(model, hf.state_dict())
    torch.manual_seed(2)
    start = torch.randint(0, cfg.vocab_size, (2, 5))
    ours = generate_text_simple(model, start, max_new_tokens=20)
    theirs = hf.generate(
        start,
        attention_mask=torch.ones_like(start),
        max_new_tokens=20,
        do_sample=False,
        pad_token_id=0,
        eos_token_id=None,
    )
    assert ours.shape == (2, 25)
    assert torch.equal(ours, theirs)
    assert len(set(ours[:, 5:].flatten().tolist())) > 5  # not a degenerate constant output


@pytest.mark.parametrize(
    "name, published", [("gpt2-small", 124_439_808), ("gpt2-medium", 354_823_168)]
)
def test_gpt2_parameter_counts_equal_hugging_face(name, published):
    cfg = GPTConfig.preset(name)
    hc = transformers.GPT2Config(n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head)
    with torch.device("meta"):
        ours = GPTModel(cfg)
        theirs = transformers.GPT2LMHeadModel(hc)
    assert count_parameters(ours) == count_parameters(theirs) == published
