"""llmcourse.weights: safetensors files and checkpoints, GPT-2 files, export to the Hugging Face
layout with the same logits, and load_pretrained / model_card (tiny random models, no download)."""

import hf_models
import pytest
import torch
from hf_models import transformers

from llmcourse import assets
from llmcourse.config import GPTConfig
from llmcourse.model import GPTModel
from llmcourse.weights import (
    load_gpt2,
    load_model,
    load_pretrained,
    load_state_into,
    model_card,
    read_safetensors,
    save_hf,
    save_model,
)


def tiny_hf(n_layer=2, tie=True):
    hf, _ = hf_models.tiny_hf(vocab=50, ctx=12, n_embd=16, n_layer=n_layer, n_head=2, tie=tie)
    return hf


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
    with pytest.raises(
        ValueError, match="no llmcourse config in its metadata.*use load_pretrained"
    ):
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


def _random_model(**changes):
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=60, context_length=12, n_embd=16, n_head=2, n_layer=2, dropout=0.0)
    model = GPTModel(cfg.replace(**changes)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model


@pytest.mark.parametrize(
    "changes", [{}, {"tie_weights": False}, {"qkv_bias": False}], ids=["tied", "untied", "no-bias"]
)
def test_save_hf_gives_transformers_the_same_logits_and_greedy_tokens(tmp_path, changes):
    from llmcourse.generate import generate_text_simple

    model = _random_model(**changes)
    folder = save_hf(model, tmp_path / "export")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    tensors, _ = read_safetensors(folder / "model.safetensors")
    assert ("lm_head.weight" in tensors) == bool(changes.get("tie_weights") is False)
    hf = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    ids = torch.randint(0, 60, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model(ids), rtol=1e-4, atol=1e-4)
        ours = generate_text_simple(model, ids[:1, :4], 6)
        theirs = hf.generate(ids[:1, :4], max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert theirs.tolist() == ours.tolist()
    back = load_pretrained(folder)
    assert back.cfg.tie_weights == model.cfg.tie_weights
    with torch.no_grad():
        torch.testing.assert_close(back(ids), model(ids))


def test_save_hf_refuses_a_folder_of_other_files_and_an_unmerged_lora_model(tmp_path):
    from llmcourse.lora import apply_lora, merge_lora

    model = _random_model()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"busy is not empty and not an earlier export.*notes"):
        save_hf(model, busy)
    assert (busy / "notes.txt").read_text() == "mine"
    save_hf(model, busy, overwrite=True)
    assert not (busy / "notes.txt").exists() and (busy / "config.json").is_file()
    again = save_hf(_random_model(tie_weights=False), busy)  # an earlier export: replaced
    assert "lm_head.weight" in read_safetensors(again / "model.safetensors")[0]
    with pytest.raises(TypeError, match="overwrite must be True or False, got int 1"):
        save_hf(model, tmp_path / "x", overwrite=1)
    apply_lora(model, rank=2, alpha=2.0)
    with pytest.raises(ValueError, match=r"LoRA layers that are not merged.*merge_lora"):
        save_hf(model, tmp_path / "lora")
    assert not (tmp_path / "lora").exists()
    merge_lora(model)
    ids = torch.randint(0, 60, (1, 8))
    hf = transformers.GPT2LMHeadModel.from_pretrained(save_hf(model, tmp_path / "lora")).eval()
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model(ids), rtol=1e-4, atol=1e-4)


def test_load_model_reads_a_checkpoint_folder_and_names_a_missing_file(tmp_path):
    model = _random_model()
    save_model(model, tmp_path / "run" / "model.safetensors")
    back = load_model(tmp_path / "run")
    torch.testing.assert_close(back.tok_emb.weight, model.tok_emb.weight)
    slash = load_model(f"{tmp_path / 'run'}/")  # "run/", as typed at a prompt
    torch.testing.assert_close(slash.tok_emb.weight, model.tok_emb.weight)
    assert load_pretrained(tmp_path / "run").cfg == model.cfg
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no weights file in the folder .*empty"):
        load_model(tmp_path / "empty")
    with pytest.raises(TypeError, match="dtype must be a torch.dtype"):
        load_model(tmp_path / "run", dtype="float32")


def test_a_tied_head_mismatch_says_why(tmp_path):
    untied = save_model(_random_model(tie_weights=False), tmp_path / "untied.safetensors")
    tied = save_model(_random_model(), tmp_path / "tied.safetensors")
    with pytest.raises(ValueError, match=r"own out_head.weight.*ties.*tie_weights=False"):
        load_state_into(_random_model(), untied)
    with pytest.raises(ValueError, match=r"head is tied.*build it with tie_weights=True"):
        load_state_into(_random_model(tie_weights=False), tied)


def test_corrupt_config_metadata_names_the_file(tmp_path):
    from safetensors.torch import save_file

    bad = tmp_path / "bad.safetensors"
    for meta, match in (
        ("{not json", "not valid JSON"),
        ("[1]", "not a dict"),
        ('{"n_emb": 3}', "does not fit GPTConfig"),
    ):
        save_file({"x": torch.zeros(1)}, bad, metadata={"llmcourse.config": meta})
        with pytest.raises(ValueError, match=rf"bad.safetensors: the config.*{match}"):
            load_model(bad)


def test_load_pretrained_names_and_model_card(tmp_path, monkeypatch):
    monkeypatch.setattr("urllib.request.urlopen", None)  # the committed models need no network
    model = load_pretrained("course", dropout=0.0)
    assert model.cfg.dropout == 0.0 and not model.training
    assert model_card("course")["name"] == "course-model"
    assert model_card("instruct")["base"] == "course-model"
    with pytest.raises(
        ValueError, match=r"does not know 'gpt3'.*'course'.*'gpt2-small'.*must exist"
    ):
        load_pretrained("gpt3")
    with pytest.raises(ValueError, match=r"does not know .*absent.*must exist"):
        load_pretrained(tmp_path / "absent.safetensors")
    with pytest.raises(TypeError, match="name must be a model name or a path"):
        load_pretrained(3)
    with pytest.raises(
        ValueError, match=r"name must be one of 'course', 'instruct'; got 'gpt2-small'"
    ):
        model_card("gpt2-small")
    hf = tiny_hf()
    hf.save_pretrained(tmp_path / "hf")  # a Hugging Face folder
    ours = load_pretrained(tmp_path / "hf")
    ids = torch.randint(0, 50, (1, 6))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), hf(ids).logits, rtol=1e-4, atol=1e-4)
