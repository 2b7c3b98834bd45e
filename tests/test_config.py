"""llmcourse.config: presets from one table, validation with errors that name the value."""

import dataclasses

import pytest

from llmcourse.config import PRESETS, GPTConfig


def test_defaults_are_gpt2_small():
    assert GPTConfig() == GPTConfig.preset("gpt2-small")
    cfg = GPTConfig()
    assert (cfg.vocab_size, cfg.context_length, cfg.n_embd, cfg.n_head, cfg.n_layer) == (
        50257,
        1024,
        768,
        12,
        12,
    )
    assert cfg.head_dim == 64 and cfg.qkv_bias and cfg.tie_weights


@pytest.mark.parametrize(
    "name, n_embd, n_head, n_layer",
    [
        ("gpt2-small", 768, 12, 12),
        ("gpt2-medium", 1024, 16, 24),
        ("gpt2-large", 1280, 20, 36),
        ("gpt2-xl", 1600, 25, 48),
    ],
)
def test_gpt2_presets_have_the_published_shapes(name, n_embd, n_head, n_layer):
    cfg = GPTConfig.preset(name)
    assert (cfg.n_embd, cfg.n_head, cfg.n_layer) == (n_embd, n_head, n_layer)
    assert cfg.head_dim == 64 and cfg.vocab_size == 50257 and cfg.context_length == 1024


def test_course_and_tiny_presets():
    course = GPTConfig.preset("course")
    assert course.vocab_size == 50257  # GPT-2's tokenizer
    assert (course.context_length, course.n_embd, course.n_head, course.n_layer) == (256, 192, 6, 4)
    assert course.tie_weights
    tiny = GPTConfig.preset("tiny")
    assert tiny.n_embd % tiny.n_head == 0 and tiny.dropout == 0.0
    assert list(PRESETS) == ["tiny", "course", "gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl"]


def test_preset_overrides_and_replace_validate_again():
    cfg = GPTConfig.preset("tiny", n_layer=3, dropout=0.2)
    assert cfg.n_layer == 3 and cfg.dropout == 0.2 and cfg.n_embd == PRESETS["tiny"]["n_embd"]
    assert cfg.replace(n_head=8).head_dim == cfg.n_embd // 8
    with pytest.raises(ValueError, match="n_embd=64 is not divisible by n_head=5"):
        cfg.replace(n_head=5)
    with pytest.raises(TypeError, match=r"no field\(s\) \['emb_dim'\]"):
        GPTConfig.preset("tiny", emb_dim=32)


def test_frozen_and_to_dict_round_trip():
    cfg = GPTConfig.preset("course")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_layer = 2
    assert GPTConfig(**cfg.to_dict()) == cfg


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match="unknown preset 'gpt3'; known presets: tiny, course, "
        "gpt2-small, gpt2-medium, gpt2-large, gpt2-xl",
    ):
        GPTConfig.preset("gpt3")


def test_n_embd_must_divide_by_n_head():
    with pytest.raises(ValueError, match="n_embd=100 is not divisible by n_head=3"):
        GPTConfig(n_embd=100, n_head=3)


@pytest.mark.parametrize("dropout", [-0.1, 1.0, 1.5])
def test_dropout_out_of_range(dropout):
    with pytest.raises(ValueError, match=rf"dropout must be in \[0, 1\), got {dropout}"):
        GPTConfig(dropout=dropout)


@pytest.mark.parametrize(
    "field, value, error, match",
    [
        ("n_layer", 0, ValueError, "GPTConfig.n_layer must be an int >= 1, got 0"),
        ("vocab_size", -5, ValueError, "GPTConfig.vocab_size must be an int >= 1, got -5"),
        ("n_embd", 64.0, TypeError, "GPTConfig.n_embd must be an int, got float 64.0"),
        ("context_length", True, TypeError, "GPTConfig.context_length must be an int, got bool"),
        ("dropout", "0.1", TypeError, "GPTConfig.dropout must be a number, got str '0.1'"),
        ("dropout", float("nan"), ValueError, "GPTConfig.dropout must be a finite number, got nan"),
        ("dropout", float("inf"), ValueError, "GPTConfig.dropout must be a finite number, got inf"),
        ("dropout", True, TypeError, "GPTConfig.dropout must be a number, got bool True"),
        ("tie_weights", 1, TypeError, "GPTConfig.tie_weights must be True or False, got int 1"),
        ("qkv_bias", None, TypeError, "GPTConfig.qkv_bias must be True or False, got NoneType"),
        ("fast_attention", "no", TypeError, "GPTConfig.fast_attention must be True or False"),
    ],
)
def test_bad_fields(field, value, error, match):
    with pytest.raises(error, match=match):
        GPTConfig.preset("tiny", **{field: value})


def test_numpy_numbers_are_stored_as_plain_python_numbers():
    np = pytest.importorskip("numpy")
    cfg = GPTConfig.preset("tiny", n_layer=np.int64(3), dropout=np.float32(0.25))
    assert type(cfg.n_layer) is int and type(cfg.dropout) is float
    assert cfg.to_dict()["n_layer"] == 3 and cfg.dropout == 0.25
    import json

    assert GPTConfig(**json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_preset_name_must_be_a_str():
    with pytest.raises(TypeError, match="name must be a preset name \\(str\\), got NoneType"):
        GPTConfig.preset(None)
    with pytest.raises(TypeError, match="name must be a preset name"):
        GPTConfig.preset(["tiny"])
