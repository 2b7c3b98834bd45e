"""GPT-2 in Hugging Face's layout ↔ ``GPTModel``: the key table and the config (chapters 5 and 6).

One table, ``GPT2_KEYS``, says where every Hugging Face GPT-2 tensor goes in ``GPTModel``. Hugging
Face stores its projections as ``Conv1D`` layers whose weight is ``(in, out)``, the transpose of
``nn.Linear``'s ``(out, in)``: those rows of the table are marked ``transpose``. Its fused
``c_attn`` holds query, key and value in that order, as does our fused ``qkv``, so it needs only
the transpose.

Keys may come with or without the ``transformer.`` prefix (``GPT2LMHeadModel.state_dict()`` has
it, the ``model.safetensors`` of the ``gpt2`` repositories does not). The causal-mask buffers of
older checkpoints (``attn.bias``, ``attn.masked_bias``) are not weights and are skipped.

This module converts tensors and configs in memory; ``llmcourse.weights`` reads and writes the
files (``load_gpt2``, ``save_hf``) and re-exports everything here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from llmcourse.config import GPTConfig
from llmcourse.lora import LinearWithLoRA
from llmcourse.model import GPTModel
from llmcourse.special_tokens import GPT2_END_OF_TEXT_ID
from llmcourse.validate import check_bool, check_float, check_type

__all__ = [
    "GPT2_KEYS",
    "LoadReport",
    "config_from_gpt2",
    "config_to_gpt2",
    "gpt2_state_dict",
    "load_gpt2_state_dict",
    "model_parameters",
]

GPT2_KEYS: tuple[tuple[str, str, bool], ...] = (
    # (Hugging Face key, GPTModel key, transpose); {i} is the block number
    ("wte.weight", "tok_emb.weight", False),
    ("wpe.weight", "pos_emb.weight", False),
    ("h.{i}.ln_1.weight", "blocks.{i}.norm1.weight", False),
    ("h.{i}.ln_1.bias", "blocks.{i}.norm1.bias", False),
    ("h.{i}.attn.c_attn.weight", "blocks.{i}.attn.qkv.weight", True),
    ("h.{i}.attn.c_attn.bias", "blocks.{i}.attn.qkv.bias", False),
    ("h.{i}.attn.c_proj.weight", "blocks.{i}.attn.out_proj.weight", True),
    ("h.{i}.attn.c_proj.bias", "blocks.{i}.attn.out_proj.bias", False),
    ("h.{i}.ln_2.weight", "blocks.{i}.norm2.weight", False),
    ("h.{i}.ln_2.bias", "blocks.{i}.norm2.bias", False),
    ("h.{i}.mlp.c_fc.weight", "blocks.{i}.ff.fc.weight", True),
    ("h.{i}.mlp.c_fc.bias", "blocks.{i}.ff.fc.bias", False),
    ("h.{i}.mlp.c_proj.weight", "blocks.{i}.ff.proj.weight", True),
    ("h.{i}.mlp.c_proj.bias", "blocks.{i}.ff.proj.bias", False),
    ("ln_f.weight", "final_norm.weight", False),
    ("ln_f.bias", "final_norm.bias", False),
    ("lm_head.weight", "out_head.weight", False),
)
"""Hugging Face GPT-2 key → ``GPTModel`` key, and whether the tensor is stored transposed."""

_PREFIX = "transformer."
_BUFFERS = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
LAYER_NORM_EPS = 1e-5  # GPTModel's LayerNorm (chapter 5), GPT-2's layer_norm_epsilon


@dataclass
class LoadReport:
    """What ``load_gpt2_state_dict`` did: keys (Hugging Face names, without the prefix)."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # mask buffers, a tied lm_head

    def __repr__(self) -> str:
        return (
            f"LoadReport(loaded={len(self.loaded)}, missing={self.missing}, "
            f"unexpected={self.unexpected}, skipped={len(self.skipped)})"
        )


def _key_map(n_layer: int) -> dict[str, tuple[str, bool]]:
    """Every Hugging Face key of an ``n_layer`` model → (our key, transpose)."""
    out: dict[str, tuple[str, bool]] = {}
    for hf, ours, transpose in GPT2_KEYS:
        if "{i}" in hf:
            for i in range(n_layer):
                out[hf.format(i=i)] = (ours.format(i=i), transpose)
        else:
            out[hf] = (ours, transpose)
    return out


def strip_prefix(key: str) -> str:
    """A Hugging Face key without ``transformer.``."""
    return key.removeprefix(_PREFIX)


def model_parameters(model: GPTModel, remove_duplicate: bool = True) -> dict[str, torch.Tensor]:
    """``model``'s parameters under ``GPTModel``'s own names, detached.

    A LoRA layer merged into its weights (``merge_lora``, chapter 7.0) counts as the plain
    linear layer it wraps; one that is not merged is refused, since its update is not in any
    weight yet. With ``remove_duplicate`` a tied head appears once, as ``tok_emb.weight``.
    """
    check_type("model", model, GPTModel, "a GPTModel")
    wrapped = {n: m for n, m in model.named_modules() if isinstance(m, LinearWithLoRA)}
    unmerged = sorted(n for n, m in wrapped.items() if not m.merged)
    if unmerged:
        raise ValueError(
            f"the model has LoRA layers that are not merged ({unmerged[0]}, ...): call "
            "llmcourse.lora.merge_lora(model) first, so the weights hold the updates"
        )
    out: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters(remove_duplicate=remove_duplicate):
        if ".lora." in f".{name}":
            continue  # merged: already in the linear weight
        out[name.replace(".linear.", ".") if wrapped else name] = p.detach()
    return out


@torch.no_grad()
def load_gpt2_state_dict(
    model: GPTModel, state_dict: Mapping[str, torch.Tensor], strict: bool = True
) -> LoadReport:
    """Copy a Hugging Face GPT-2 state dict (key → tensor) into ``model``, in place.

    Every tensor's shape is checked against its place in the model before anything is copied
    (the error names the key and both shapes). With ``strict`` (the default), a key of the
    model that the state dict lacks, or a key the table does not know, is an error listing them
    all; otherwise they are only reported. When the model ties its head to the token embedding,
    ``lm_head.weight`` may be absent, or must equal ``wte.weight``; an untied model whose state
    dict has no ``lm_head.weight`` gets a copy of ``wte.weight`` (GPT-2 was trained tied).
    """
    if not isinstance(model, GPTModel):
        raise TypeError(f"load_gpt2_state_dict needs a GPTModel, got {type(model).__name__}")
    check_type("state_dict", state_dict, Mapping, "a dict of key → tensor")
    check_bool("strict", strict)
    tied = model.cfg.tie_weights
    table = _key_map(model.cfg.n_layer)
    params = dict(model.named_parameters(remove_duplicate=False))
    report = LoadReport()
    plan: list[tuple[str, torch.Tensor, torch.Tensor]] = []  # (hf key, source, destination)
    given: dict[str, torch.Tensor] = {}
    for raw_key, tensor in state_dict.items():
        key = strip_prefix(check_type("a state dict key", raw_key, str, "a str"))
        if _BUFFERS.match(key):
            report.skipped.append(key)
        elif key not in table or table[key][0] not in params:
            report.unexpected.append(raw_key)
        else:
            given[key] = check_type(key, tensor, torch.Tensor, "a tensor")
    if "lm_head.weight" in given and tied:
        if "wte.weight" in given and not torch.equal(given["lm_head.weight"], given["wte.weight"]):
            raise ValueError(
                "lm_head.weight differs from wte.weight but the model ties them "
                "(cfg.tie_weights=True); build it with tie_weights=False"
            )
        report.skipped.append("lm_head.weight")
        del given["lm_head.weight"]
    if not tied and "lm_head.weight" not in given and "wte.weight" in given:
        given["lm_head.weight"] = given["wte.weight"]
    for key, (ours, transpose) in table.items():
        if (key == "lm_head.weight" and tied) or ours not in params:
            continue  # a tied head; a bias the model does not have (qkv_bias=False)
        if key not in given:
            report.missing.append(key)
            continue
        source = given[key]
        dest = params[ours]
        expected = tuple(dest.shape[::-1]) if transpose else tuple(dest.shape)
        if tuple(source.shape) != expected:
            raise ValueError(
                f"shape mismatch for {key}: the checkpoint has {tuple(source.shape)}, "
                f"the model needs {expected} (for {ours}, shape {tuple(dest.shape)})"
            )
        plan.append((key, source.t() if transpose else source, dest))
    if strict and (report.missing or report.unexpected):
        raise ValueError(
            f"the state dict does not fit this GPTModel (n_layer={model.cfg.n_layer}): "
            f"missing {report.missing}, unexpected {report.unexpected}"
        )
    for key, source, dest in plan:
        dest.copy_(source.to(dtype=dest.dtype, device=dest.device))
        report.loaded.append(key)
    return report


def gpt2_state_dict(
    model: GPTModel, prefix: str = "transformer.", dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    """``model``'s weights as a Hugging Face GPT-2 state dict (the inverse of loading).

    Keys get ``prefix`` (``""`` gives the layout of GPT-2's ``model.safetensors``);
    ``lm_head.weight`` never takes the prefix. GPT-2 always has query/key/value biases: a model
    built with ``qkv_bias=False`` gets zeros there (the same outputs). Tensors are contiguous
    CPU copies, cast to ``dtype`` if given.
    """
    check_type("prefix", prefix, str, "a str such as 'transformer.' or ''")
    params = model_parameters(model, remove_duplicate=False)
    out: dict[str, torch.Tensor] = {}
    for key, (ours, transpose) in _key_map(model.cfg.n_layer).items():
        if ours in params:
            tensor = params[ours]
        else:  # the bias of a projection built without one
            assert ours.endswith("attn.qkv.bias"), ours
            tensor = torch.zeros(3 * model.cfg.n_embd, dtype=params["tok_emb.weight"].dtype)
        name = key if key == "lm_head.weight" else prefix + key
        tensor = tensor.t() if transpose else tensor
        out[name] = tensor.to(device="cpu", dtype=dtype or tensor.dtype).contiguous().clone()
    return out


def config_from_gpt2(hf_config: Mapping[str, Any], **overrides: Any) -> GPTConfig:
    """A ``GPTConfig`` from a Hugging Face GPT-2 ``config.json`` (as a dict).

    Dropout comes from ``resid_pdrop``; ``fast_attention`` and anything else can be overridden.
    """
    if not isinstance(hf_config, Mapping):
        raise TypeError("config_from_gpt2 needs the config as a dict (e.g. GPT2Config.to_dict())")
    missing = [
        k
        for k in ("vocab_size", "n_positions", "n_embd", "n_head", "n_layer")
        if k not in hf_config
    ]
    if missing:
        raise ValueError(f"the GPT-2 config has no {missing}")
    if hf_config.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(
            f"activation {hf_config['activation_function']!r} is not GPT-2's tanh GELU"
        )
    if hf_config.get("n_inner") not in (None, 4 * hf_config["n_embd"]):
        raise ValueError(
            f"n_inner={hf_config['n_inner']}: GPTModel's feed-forward is 4 * n_embd wide"
        )
    eps = check_float("layer_norm_epsilon", hf_config.get("layer_norm_epsilon", LAYER_NORM_EPS))
    if abs(eps - LAYER_NORM_EPS) > 1e-12:
        raise ValueError(f"layer_norm_epsilon={eps}: GPTModel uses {LAYER_NORM_EPS}")
    fields = {
        "vocab_size": hf_config["vocab_size"],
        "context_length": hf_config["n_positions"],
        "n_embd": hf_config["n_embd"],
        "n_head": hf_config["n_head"],
        "n_layer": hf_config["n_layer"],
        "dropout": check_float("resid_pdrop", hf_config.get("resid_pdrop", 0.1)),
        "qkv_bias": True,
        "tie_weights": check_bool(
            "tie_word_embeddings", hf_config.get("tie_word_embeddings", True)
        ),
    }
    return GPTConfig(**{**fields, **overrides})


def config_to_gpt2(cfg: GPTConfig) -> dict[str, Any]:
    """The Hugging Face ``config.json`` (``GPT2Config`` fields) of a model of shape ``cfg``."""
    check_type("cfg", cfg, GPTConfig, "a GPTConfig")
    hf: dict[str, Any] = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": cfg.vocab_size,
        "n_positions": cfg.context_length,
        "n_ctx": cfg.context_length,
        "n_embd": cfg.n_embd,
        "n_head": cfg.n_head,
        "n_layer": cfg.n_layer,
        "n_inner": None,
        "activation_function": "gelu_new",
        "resid_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout,
        "attn_pdrop": cfg.dropout,
        "layer_norm_epsilon": LAYER_NORM_EPS,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "use_cache": True,
        "tie_word_embeddings": cfg.tie_weights,
        "torch_dtype": "float32",
    }
    if cfg.vocab_size > GPT2_END_OF_TEXT_ID:  # GPT-2's tokenizer ends with <|endoftext|>
        hf["bos_token_id"] = hf["eos_token_id"] = GPT2_END_OF_TEXT_ID
    return hf
