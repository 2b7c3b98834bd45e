"""llmcourse.model: the pieces against their formulas, and the whole model against Hugging Face's
GPT-2 (a tiny randomly initialised one, built from a config: no download)."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hf_models import tiny_hf, transformers

from llmcourse.attention import KVCache
from llmcourse.config import GPTConfig
from llmcourse.embeddings import TokenAndPositionEmbedding
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
from llmcourse.weights import load_gpt2_state_dict, load_model, read_safetensors

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


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
    with pytest.raises(TypeError, match="select must be a bool mask, got a torch.int64 tensor"):
        model(ids, select=select.long())
    with pytest.raises(TypeError, match="select must be a bool tensor .* got list"):
        model(ids, select=select.tolist())
    cache = model.new_cache()
    with pytest.raises(TypeError, match="select must be a bool mask"):
        model(ids, cache=cache, select=select.float())
    assert len(cache) == 0  # refused before the blocks filled the cache


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
        ValueError,
        match="sequence of 65 tokens is longer than the context length 64; keep the last 64",
    ):
        model(torch.zeros(1, 65, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(batch, seq\), got shape \(5,\).*unsqueeze"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(
        TypeError, match="token ids must be an integer tensor, got dtype torch.float32"
    ):
        model(torch.zeros(1, 5))
    with pytest.raises(
        TypeError, match="token ids must be an integer tensor, got dtype torch.bool"
    ):
        model(torch.ones(1, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="token ids must be a tensor, got list"):
        model([[1, 2]])
    with pytest.raises(TypeError, match="needs a GPTConfig, got dict"):
        GPTModel({"n_layer": 2})
    with pytest.raises(TypeError, match="check_ids must be True or False, got str 'yes'"):
        GPTModel(cfg, check_ids="yes")


def test_kv_cache_over_the_context_is_refused_and_left_intact():
    model = GPTModel(GPTConfig.preset("tiny", context_length=8)).eval()
    ids = torch.randint(0, 512, (1, 8), generator=torch.Generator().manual_seed(0))
    cache = model.new_cache()
    with torch.no_grad():
        steps = [model(ids[:, :6], cache=cache), model(ids[:, 6:], cache=cache)]
        torch.testing.assert_close(torch.cat(steps, 1), model(ids), atol=1e-5, rtol=1e-5)
        with pytest.raises(
            ValueError, match="sequence of 9 tokens is longer .* only 0 more fit after the 8"
        ):
            model(ids[:, :1], cache=cache)
    assert len(cache) == 8 and all(len(layer) == 8 for layer in cache.layers)
    with pytest.raises(ValueError, match="the cache has 1 layers, the model 2"):
        model(ids[:, :1], cache=KVCache(1))
    with pytest.raises(TypeError, match="cache must be a KVCache .* got list"):
        model(ids[:, :1], cache=[])


def test_the_embedding_is_chapter_3s_class_with_one_switchable_id_check():
    cfg = GPTConfig.preset("tiny")
    model = GPTModel(cfg).eval()
    assert isinstance(model.embedding, TokenAndPositionEmbedding)
    assert model.embedding.tok_emb is model.tok_emb and model.embedding.pos_emb is model.pos_emb
    ids = torch.randint(0, cfg.vocab_size, (2, 5))
    torch.testing.assert_close(model.embed(ids), model.embedding(ids))
    # no parameter twice, and the names the saved weights use
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["tok_emb.weight", "pos_emb.weight"] and len(names) == len(set(names))
    assert not any(n.startswith("embedding.") for n in model.state_dict())
    assert model.check_ids
    model.check_ids = False  # e.g. under torch.compile, where the check's host sync hurts
    assert not model.embedding.check_ids
    with pytest.raises(IndexError):  # PyTorch's own error: the range is no longer checked
        model(torch.tensor([[cfg.vocab_size]]))
    assert not GPTModel(cfg, check_ids=False).check_ids
    with pytest.raises(TypeError, match="check_ids must be True or False, got int 1"):
        model.check_ids = 1
    # the tables follow the model: moved, cast and copied together
    half = model.to(torch.float64)
    assert half.embedding(ids).dtype == torch.float64
    import copy

    twin = copy.deepcopy(model)
    assert twin.embedding.tok_emb is twin.tok_emb and twin.tok_emb is not model.tok_emb


def test_attention_weights_run_in_eval_mode_and_keep_the_mode():
    cfg = GPTConfig.preset("tiny", dropout=0.5)
    model = GPTModel(cfg).train()
    model.blocks[1].eval()  # a mixed state comes back as it was
    ids = torch.randint(0, cfg.vocab_size, (1, 7), generator=torch.Generator().manual_seed(3))
    w1, w2 = model.attention_weights(ids), model.attention_weights(ids)
    torch.testing.assert_close(w1, w2)  # no dropout anywhere: the same weights every time
    assert model.training and model.blocks[0].training and not model.blocks[1].training
    torch.testing.assert_close(w1, model.eval().attention_weights(ids))
    # layer 1's weights are computed from layer 0's output
    x = model.blocks[0](model.embed(ids))
    torch.testing.assert_close(
        w1[1], model.blocks[1].attn.attention_weights(model.blocks[1].norm1(x))
    )


def test_count_parameters_and_bytes_check_their_arguments():
    model = GPTModel(GPTConfig.preset("tiny"))
    n = count_parameters(model)
    assert parameter_bytes(model, torch.float16) == 2 * n
    assert parameter_bytes(model.to(torch.bfloat16)) == 2 * n
    with pytest.raises(TypeError, match="trainable_only must be True or False, got str 'yes'"):
        count_parameters(model, trainable_only="yes")
    with pytest.raises(TypeError, match="dtype must be a torch.dtype .* got str 'float16'"):
        parameter_bytes(model, dtype="float16")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got dict"):
        count_parameters({"w": torch.zeros(3)})
    for p in model.blocks.parameters():
        p.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == n - count_parameters(model.blocks)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: LayerNorm(0), ValueError, "n_embd must be an int >= 1, got 0"),
        (lambda: LayerNorm(8, eps=0.0), ValueError, "eps must be a finite number > 0.0"),
        (lambda: LayerNorm(8, eps=float("nan")), ValueError, "eps must be .* got nan"),
        (lambda: FeedForward({"n_embd": 8}), TypeError, "cfg must be a GPTConfig, got dict"),
        (lambda: TransformerBlock(None), TypeError, "cfg must be a GPTConfig, got NoneType"),
    ],
)
def test_pieces_check_their_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ----------------------------------------------------------------------------- committed models
@torch.no_grad()
def reference_logits(tensors: dict, cfg: GPTConfig, ids: torch.Tensor) -> torch.Tensor:
    """GPT-2's forward pass written out on the raw tensors of a saved file, in float64."""
    t = {k: v.double() for k, v in tensors.items()}
    n, d, h = ids.shape[1], cfg.n_embd, cfg.n_head

    def norm(x, name):
        return F.layer_norm(x, (d,), t[f"{name}.weight"], t[f"{name}.bias"], 1e-5)

    def heads(z):
        return z.view(1, n, h, d // h).transpose(1, 2)

    x = t["tok_emb.weight"][ids] + t["pos_emb.weight"][:n]
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    for layer in range(cfg.n_layer):
        p = f"blocks.{layer}."
        qkv = norm(x, p + "norm1") @ t[p + "attn.qkv.weight"].T + t[p + "attn.qkv.bias"]
        q, k, v = (heads(z) for z in qkv.split(d, dim=-1))
        scores = (q @ k.transpose(-2, -1) / math.sqrt(d // h)).masked_fill(future, -math.inf)
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(1, n, d)
        x = x + context @ t[p + "attn.out_proj.weight"].T + t[p + "attn.out_proj.bias"]
        hidden = F.gelu(
            norm(x, p + "norm2") @ t[p + "ff.fc.weight"].T + t[p + "ff.fc.bias"], approximate="tanh"
        )
        x = x + hidden @ t[p + "ff.proj.weight"].T + t[p + "ff.proj.bias"]
    head = t.get("out_head.weight", t["tok_emb.weight"])
    return norm(x, "final_norm") @ head.T


@pytest.mark.parametrize("name", ["course-model", "instruct-model"])
def test_committed_checkpoints_load_with_their_logits(name):
    path = CHECKPOINTS / f"{name}.safetensors"
    tensors, _ = read_safetensors(path)
    model = load_model(path)  # refuses missing or unexpected keys
    assert {n for n, _ in model.named_parameters()} == set(tensors)
    ids = torch.tensor([[464, 6342, 373, 257, 3223, 11, 290, 262, 4074, 13]])
    with torch.no_grad():
        got = model(ids)
    expected = reference_logits(tensors, model.cfg, ids)
    assert expected.std() > 1  # logits at a scale where a misplaced tensor would show
    torch.testing.assert_close(got.double(), expected, atol=1e-3, rtol=1e-4)


def test_course_model_repeats_its_cards_greedy_sample():
    tiktoken = pytest.importorskip("tiktoken")
    enc = tiktoken.get_encoding("gpt2")
    model = load_model(CHECKPOINTS / "course-model.safetensors")
    ids = torch.tensor([enc.encode("The whale")])
    with torch.no_grad():
        for _ in range(12):
            ids = torch.cat([ids, model(ids)[:, -1].argmax(-1, keepdim=True)], dim=1)
    card = (CHECKPOINTS / "README.md").read_text()
    text = enc.decode(ids[0].tolist())
    assert text == "The whale" + ", the whale" * 4 and f'"{text}' in card


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
