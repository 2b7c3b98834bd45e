"""llmcourse.gpt2_layout: the Hugging Face GPT-2 <-> GPTModel table, shape checks, missing and
unexpected keys, tied heads (tiny random models, no download)."""

import pytest
import torch
from hf_models import transformers
from test_weights import tiny_hf

from llmcourse.config import GPTConfig
from llmcourse.gpt2_layout import (
    GPT2_KEYS,
    config_from_gpt2,
    gpt2_state_dict,
    load_gpt2_state_dict,
)
from llmcourse.model import GPTModel


def test_table_covers_every_hugging_face_tensor_and_every_parameter():
    hf = tiny_hf(n_layer=2, tie=False)
    cfg = config_from_gpt2(hf.config.to_dict(), dropout=0.0)
    model = GPTModel(cfg)
    report = load_gpt2_state_dict(model, hf.state_dict())
    assert report.missing == [] and report.unexpected == []
    assert len(report.loaded) == len(hf.state_dict()) == len(list(model.parameters()))
    assert {ours.split(".")[0] for _, ours, _ in GPT2_KEYS} == {
        "tok_emb",
        "pos_emb",
        "blocks",
        "final_norm",
        "out_head",
    }


def test_conv1d_weights_are_transposed_and_qkv_keeps_its_order():
    hf = tiny_hf()
    model = GPTModel(config_from_gpt2(hf.config.to_dict()))
    load_gpt2_state_dict(model, hf.state_dict())
    c_attn = hf.transformer.h[1].attn.c_attn
    qkv = model.blocks[1].attn.qkv
    torch.testing.assert_close(qkv.weight, c_attn.weight.T)
    x = torch.randn(4, 16)
    q, k, v = qkv(x).split(16, dim=-1)
    hq, hk, hv = c_attn(x).split(16, dim=-1)
    for a, b in ((q, hq), (k, hk), (v, hv)):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(model.blocks[0].ff.fc.weight, hf.transformer.h[0].mlp.c_fc.weight.T)
    torch.testing.assert_close(model.blocks[0].norm2.bias, hf.transformer.h[0].ln_2.bias)


def test_round_trip_and_the_safetensors_layout_without_prefix():
    hf = tiny_hf()
    model = GPTModel(config_from_gpt2(hf.config.to_dict()))
    load_gpt2_state_dict(model, hf.state_dict())
    exported = gpt2_state_dict(model)
    reference = hf.state_dict()
    assert set(exported) == set(reference)
    for key, tensor in reference.items():
        torch.testing.assert_close(exported[key], tensor, msg=key)
    # GPT-2's model.safetensors: no "transformer." prefix, no lm_head, mask buffers present
    bare = {k: v for k, v in gpt2_state_dict(model, prefix="").items() if k != "lm_head.weight"}
    assert "wte.weight" in bare and "h.0.attn.c_attn.weight" in bare
    bare["h.0.attn.bias"] = torch.ones(1, 1, 12, 12)
    bare["h.1.attn.masked_bias"] = torch.tensor(-1e4)
    fresh = GPTModel(config_from_gpt2(hf.config.to_dict()))
    report = load_gpt2_state_dict(fresh, bare)
    assert sorted(report.skipped) == ["h.0.attn.bias", "h.1.attn.masked_bias"]
    ids = torch.randint(0, 50, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(ids), hf(ids).logits, atol=1e-5, rtol=1e-5)


def test_untied_model_without_lm_head_gets_the_embedding():
    hf = tiny_hf(tie=True)
    sd = {k: v for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    model = GPTModel(config_from_gpt2(hf.config.to_dict(), tie_weights=False))
    load_gpt2_state_dict(model, sd)
    torch.testing.assert_close(model.out_head.weight, hf.transformer.wte.weight)
    assert model.out_head.weight.data_ptr() != model.tok_emb.weight.data_ptr()


def test_tied_model_refuses_a_different_lm_head():
    hf = tiny_hf(tie=False)
    model = GPTModel(config_from_gpt2(hf.config.to_dict(), tie_weights=True))
    with pytest.raises(ValueError, match="lm_head.weight differs from wte.weight"):
        load_gpt2_state_dict(model, hf.state_dict())


def test_shape_mismatch_names_the_key_and_both_shapes_and_copies_nothing():
    hf = tiny_hf()
    model = GPTModel(config_from_gpt2(hf.config.to_dict(), n_embd=24, n_head=2))
    before = model.tok_emb.weight.clone()
    with pytest.raises(
        ValueError,
        match=r"shape mismatch for wte.weight: the checkpoint has "
        r"\(50, 16\), the model needs \(50, 24\)",
    ):
        load_gpt2_state_dict(model, hf.state_dict())
    assert torch.equal(model.tok_emb.weight, before)
    sd = dict(hf.state_dict())
    sd["transformer.h.1.attn.c_attn.weight"] = torch.zeros(48, 16)  # not transposed
    good = GPTModel(config_from_gpt2(hf.config.to_dict()))
    with pytest.raises(
        ValueError,
        match=r"h.1.attn.c_attn.weight: the checkpoint has \(48, 16\), "
        r"the model needs \(16, 48\)",
    ):
        load_gpt2_state_dict(good, sd)


def test_missing_and_unexpected_keys():
    hf = tiny_hf(n_layer=2)
    sd = dict(hf.state_dict())
    del sd["transformer.h.1.ln_2.bias"]
    sd["transformer.h.1.attn.rotary.weight"] = torch.zeros(3)
    model = GPTModel(config_from_gpt2(hf.config.to_dict()))
    with pytest.raises(
        ValueError,
        match=r"missing \['h.1.ln_2.bias'\], unexpected "
        r"\['transformer.h.1.attn.rotary.weight'\]",
    ):
        load_gpt2_state_dict(model, sd)
    report = load_gpt2_state_dict(model, sd, strict=False)
    assert report.missing == ["h.1.ln_2.bias"]
    assert report.unexpected == ["transformer.h.1.attn.rotary.weight"]
    # a 3-layer model misses a whole block
    deeper = GPTModel(config_from_gpt2(hf.config.to_dict(), n_layer=3))
    report = load_gpt2_state_dict(deeper, hf.state_dict(), strict=False)
    assert len(report.missing) == 12 and all(k.startswith("h.2.") for k in report.missing)


def test_config_from_gpt2():
    hc = transformers.GPT2Config()  # GPT-2 small's config.json
    assert config_from_gpt2(hc.to_dict()) == GPTConfig.preset("gpt2-small")
    assert config_from_gpt2(hc.to_dict(), dropout=0.0).dropout == 0.0
    with pytest.raises(ValueError, match=r"has no \['n_layer'\]"):
        config_from_gpt2({"vocab_size": 5, "n_positions": 4, "n_embd": 4, "n_head": 2})
    with pytest.raises(ValueError, match="'relu' is not GPT-2's tanh GELU"):
        config_from_gpt2({**hc.to_dict(), "activation_function": "relu"})
    with pytest.raises(ValueError, match="n_inner=100"):
        config_from_gpt2({**hc.to_dict(), "n_inner": 100})
    with pytest.raises(TypeError, match="needs the config as a dict"):
        config_from_gpt2(hc)


def test_load_needs_a_gpt_model():
    with pytest.raises(TypeError, match="needs a GPTModel, got Linear"):
        load_gpt2_state_dict(torch.nn.Linear(2, 2), {})
