"""llmcourse.weights: the Hugging Face GPT-2 ↔ GPTModel table, shape checks, missing and
unexpected keys (tiny random models, no download)."""

import hf_models
import pytest
import torch
from hf_models import transformers

from llmcourse import assets
from llmcourse.config import GPTConfig
from llmcourse.model import GPTModel
from llmcourse.weights import (
    GPT2_KEYS,
    config_from_gpt2,
    gpt2_state_dict,
    load_gpt2,
    load_gpt2_state_dict,
    load_model,
    load_state_into,
    read_safetensors,
    save_model,
)


def tiny_hf(n_layer=2, tie=True):
    hf, _ = hf_models.tiny_hf(vocab=50, ctx=12, n_embd=16, n_layer=n_layer, n_head=2, tie=tie)
    return hf


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


# ----------------------------------------------------------------------------- files (chapter 6)


def test_save_and_load_model_keep_the_config_and_the_weights(tmp_path):
    torch.manual_seed(0)
    model = GPTModel(GPTConfig.preset("tiny", dropout=0.2)).eval()
    path = save_model(model, tmp_path / "m.safetensors")
    again = load_model(path)
    assert again.cfg == model.cfg and not again.training
    ids = torch.randint(0, 512, (2, 9))
    torch.testing.assert_close(again(ids), model(ids), rtol=0, atol=0)
    assert again.out_head.weight is again.tok_emb.weight  # still tied
    tensors, _ = read_safetensors(path)
    assert "out_head.weight" not in tensors  # the tied head is stored once
    half = load_model(save_model(model, tmp_path / "h.safetensors", dtype=torch.bfloat16))
    assert half.tok_emb.weight.dtype == torch.float32
    assert (tmp_path / "h.safetensors").stat().st_size < 0.55 * path.stat().st_size
    torch.testing.assert_close(half(ids), model(ids), atol=0.05, rtol=0.05)
    assert load_model(path, dropout=0.0).cfg.dropout == 0.0
    assert not list(tmp_path.glob(".*part"))  # no temporary file left behind


def test_a_checkpoint_of_another_shape_names_the_key_and_both_shapes(tmp_path):
    model = GPTModel(GPTConfig.preset("tiny"))
    path = save_model(model, tmp_path / "m.safetensors")
    deeper = GPTModel(GPTConfig.preset("tiny", context_length=32))
    with pytest.raises(
        ValueError,
        match=r"shape mismatch for pos_emb.weight: the checkpoint has \(64, 64\), "
        r"the model has \(32, 64\)",
    ):
        load_state_into(deeper, path)
    with pytest.raises(ValueError, match=r"missing \['blocks.2.attn.out_proj.bias'"):
        load_state_into(GPTModel(GPTConfig.preset("tiny", n_layer=3)), path)


def test_truncated_corrupt_or_foreign_files_give_clear_errors(tmp_path):
    path = save_model(GPTModel(GPTConfig.preset("tiny")), tmp_path / "m.safetensors")
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.safetensors is not a valid safetensors file"):
        load_model(cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(ValueError, match="junk.safetensors is not a valid safetensors file"):
        load_gpt2(junk)
    with pytest.raises(FileNotFoundError, match="no weights file at"):
        load_model(tmp_path / "absent.safetensors")
    hf = tmp_path / "hf"
    tiny_hf().save_pretrained(hf)
    with pytest.raises(ValueError, match="no llmcourse config in its metadata.*use load_gpt2"):
        load_model(hf / "model.safetensors")
    with pytest.raises(ValueError, match="load_gpt2 needs one of"):
        load_gpt2("gpt2-huge")


def test_load_gpt2_from_a_hugging_face_safetensors_file_equals_hugging_face(tmp_path):
    hf, _ = hf_models.tiny_hf(vocab=97, ctx=16, n_embd=32, n_layer=3, n_head=4)
    hf.save_pretrained(tmp_path / "snapshot")  # model.safetensors + config.json
    ids = torch.randint(0, 97, (2, 16))
    with torch.no_grad():
        expected = hf(ids).logits
    model = load_gpt2(tmp_path / "snapshot" / "model.safetensors")
    assert model.cfg.n_head == 4 and model.cfg.n_layer == 3 and not model.training
    torch.testing.assert_close(model(ids), expected, atol=1e-5, rtol=1e-5)
    # the bare file (no config.json beside it): sizes from the shapes, heads given
    bare = tmp_path / "bare.safetensors"
    bare.write_bytes((tmp_path / "snapshot" / "model.safetensors").read_bytes())
    model = load_gpt2(bare, n_head=4)
    torch.testing.assert_close(model(ids), expected, atol=1e-5, rtol=1e-5)


def test_gpt2_weights_are_online_only_assets():
    for name in ("gpt2-small.safetensors", "gpt2-medium.safetensors"):
        asset = assets.ASSETS[name]
        assert asset.online_only
        assert all(s.url.startswith("https://huggingface.co/") for s in asset.sources)
    assert assets.ASSETS["gpt2-small.safetensors"].size == 548105171
    online = {n for n, a in assets.ASSETS.items() if a.online_only}
    assert online == {
        "gpt2-small.safetensors",
        "gpt2-medium.safetensors",
        "course-model",
        "course-model-card",
        "instruct-model",  # chapter 7.2's committed model, for installs without the repository
        "instruct-model-card",
        "sms-spam.zip",  # chapter 7.1's online option
    }
