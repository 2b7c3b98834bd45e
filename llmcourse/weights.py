"""GPT-2 weights in Hugging Face's layout ↔ ``GPTModel`` (chapters 5 and 6).

One table, ``GPT2_KEYS``, says where every Hugging Face GPT-2 tensor goes in ``GPTModel``. Hugging
Face stores its projections as ``Conv1D`` layers whose weight is ``(in, out)``, the transpose of
``nn.Linear``'s ``(out, in)``: those rows of the table are marked ``transpose``. Its fused
``c_attn`` holds query, key and value in that order, as does our fused ``qkv``, so it needs only
the transpose.

Keys may come with or without the ``transformer.`` prefix (``GPT2LMHeadModel.state_dict()`` has
it, the ``model.safetensors`` of the ``gpt2`` repositories does not). The causal-mask buffers of
older checkpoints (``attn.bias``, ``attn.masked_bias``) are not weights and are skipped.

Files: ``save_model`` / ``load_model`` write and read a ``GPTModel`` as safetensors with its
config in the file's metadata (the course model and training checkpoints use them);
``load_gpt2`` reads GPT-2's own ``model.safetensors`` (fetched over https by
``llmcourse.assets`` when a learner is online) into a ``GPTModel``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from llmcourse.config import PRESETS, GPTConfig
from llmcourse.model import GPTModel

__all__ = [
    "GPT2_KEYS",
    "LoadReport",
    "config_from_gpt2",
    "gpt2_state_dict",
    "load_gpt2",
    "load_gpt2_state_dict",
    "load_model",
    "load_state_into",
    "read_safetensors",
    "save_model",
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


def _strip(key: str) -> str:
    return key.removeprefix(_PREFIX)


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
    tied = model.cfg.tie_weights
    table = _key_map(model.cfg.n_layer)
    params = dict(model.named_parameters(remove_duplicate=False))
    report = LoadReport()
    plan: list[tuple[str, torch.Tensor, torch.Tensor]] = []  # (hf key, source, destination)
    given: dict[str, torch.Tensor] = {}
    for raw_key, tensor in state_dict.items():
        key = _strip(raw_key)
        if _BUFFERS.match(key):
            report.skipped.append(key)
        elif key not in table:
            report.unexpected.append(raw_key)
        else:
            given[key] = tensor
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
        if key == "lm_head.weight" and tied:
            continue
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


def gpt2_state_dict(model: GPTModel, prefix: str = "transformer.") -> dict[str, torch.Tensor]:
    """``model``'s weights as a Hugging Face GPT-2 state dict (the inverse of loading).

    Keys get ``prefix`` (``""`` gives the layout of GPT-2's ``model.safetensors``);
    ``lm_head.weight`` never takes the prefix. Tensors are contiguous copies.
    """
    params = dict(model.named_parameters(remove_duplicate=False))
    out: dict[str, torch.Tensor] = {}
    for key, (ours, transpose) in _key_map(model.cfg.n_layer).items():
        tensor = params[ours].detach()
        name = key if key == "lm_head.weight" else prefix + key
        out[name] = (tensor.t() if transpose else tensor).contiguous().clone()
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
    if abs(float(hf_config.get("layer_norm_epsilon", 1e-5)) - 1e-5) > 1e-12:
        raise ValueError(
            f"layer_norm_epsilon={hf_config['layer_norm_epsilon']}: GPTModel uses 1e-5"
        )
    fields = {
        "vocab_size": hf_config["vocab_size"],
        "context_length": hf_config["n_positions"],
        "n_embd": hf_config["n_embd"],
        "n_head": hf_config["n_head"],
        "n_layer": hf_config["n_layer"],
        "dropout": float(hf_config.get("resid_pdrop", 0.1)),
        "qkv_bias": True,
        "tie_weights": bool(hf_config.get("tie_word_embeddings", True)),
    }
    return GPTConfig(**{**fields, **overrides})


# ----------------------------------------------------------------------------- files
_CONFIG_KEY = "llmcourse.config"


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Every tensor of a safetensors file (on the CPU) and its metadata.

    A missing file is a ``FileNotFoundError``; a truncated or corrupt one a ``ValueError`` that
    names the file (safetensors checks the header and that the data fills the file exactly).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise ValueError(
            f"{path} is not a valid safetensors file (truncated or corrupt?): {e}"
        ) from e
    return tensors, metadata


def _own_state(model: GPTModel) -> dict[str, torch.Tensor]:
    """``model``'s parameters by name, the tied head stored once (as ``tok_emb.weight``)."""
    return {name: p.detach() for name, p in model.named_parameters()}


def save_model(
    model: GPTModel,
    path: str | Path,
    dtype: torch.dtype | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``model``'s weights (optionally cast to ``dtype``) and config to a safetensors file.

    The config goes into the file's metadata, so ``load_model(path)`` needs nothing else. The
    file is written next to its destination and renamed into place: never half-written.
    """
    if not isinstance(model, GPTModel):
        raise TypeError(f"save_model needs a GPTModel, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        k: (v.to(dtype) if dtype else v).contiguous().cpu() for k, v in _own_state(model).items()
    }
    meta = {**(metadata or {}), _CONFIG_KEY: json.dumps(model.cfg.to_dict())}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


@torch.no_grad()
def load_state_into(model: GPTModel, source: str | Path | Mapping[str, torch.Tensor]) -> None:
    """Copy weights saved by ``save_model`` (a file or a dict) into ``model``, in place.

    Every tensor's shape is checked before anything is copied (the error names the key and both
    shapes); missing and unexpected keys are an error listing them. Values are cast to the
    model's dtype.
    """
    state = read_safetensors(source)[0] if isinstance(source, (str, Path)) else dict(source)
    own = dict(model.named_parameters())
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"the weights do not fit this GPTModel: missing {missing}, unexpected {unexpected}"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise ValueError(
                f"shape mismatch for {key}: the checkpoint has {tuple(tensor.shape)}, "
                f"the model has {tuple(own[key].shape)}"
            )
    for key, tensor in state.items():
        own[key].copy_(tensor.to(dtype=own[key].dtype, device=own[key].device))


def load_model(
    path: str | Path,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    **overrides: Any,
) -> GPTModel:
    """A ``GPTModel`` rebuilt from a file written by ``save_model``, in eval mode.

    ``overrides`` change config fields that do not change shapes (e.g. ``dropout=0.0``).
    """
    tensors, metadata = read_safetensors(path)
    if _CONFIG_KEY not in metadata:
        raise ValueError(
            f"{path} has no llmcourse config in its metadata: it was not written by save_model "
            "(for GPT-2's own files use load_gpt2)"
        )
    cfg = GPTConfig(**json.loads(metadata[_CONFIG_KEY])).replace(**overrides)
    model = GPTModel(cfg).to(dtype)
    load_state_into(model, tensors)
    return model.to(device or "cpu").eval()


GPT2_ASSETS = {"gpt2-small": "gpt2-small.safetensors", "gpt2-medium": "gpt2-medium.safetensors"}
"""The GPT-2 sizes ``load_gpt2`` can fetch, and their asset names in ``llmcourse.assets``."""


def load_gpt2(
    name: str | Path = "gpt2-small",
    device: torch.device | str | None = None,
    **overrides: Any,
) -> GPTModel:
    """GPT-2 as a ``GPTModel``: ``name`` is ``"gpt2-small"``/``"gpt2-medium"`` (fetched once over
    https into the cache, about 0.5/1.5 GB) or the path of a ``model.safetensors`` in Hugging
    Face's GPT-2 layout. The config comes from the ``config.json`` beside such a file, else from
    the tensors' shapes (GPT-2's head counts; 64-wide heads for other widths); ``overrides``
    change fields such as ``n_head`` or ``dropout``. Returns the model in eval mode.
    """
    from llmcourse import assets

    if isinstance(name, str) and name in GPT2_ASSETS:
        file = assets.fetch(GPT2_ASSETS[name], log=print)
    elif isinstance(name, (str, Path)) and Path(name).suffix == ".safetensors":
        file = Path(name)
    else:
        raise ValueError(
            f"load_gpt2 needs one of {sorted(GPT2_ASSETS)} or a .safetensors path, got {name!r}"
        )
    tensors, _ = read_safetensors(file)
    beside = file.parent / "config.json"  # a Hugging Face snapshot folder has one
    if file.parent != assets.cache_dir() and beside.is_file():
        cfg = config_from_gpt2(json.loads(beside.read_text()), **overrides)
    else:
        cfg = _config_from_tensors(tensors).replace(**overrides)
    model = GPTModel(cfg)
    load_gpt2_state_dict(model, tensors)
    return model.to(device or "cpu").eval()


def _config_from_tensors(tensors: Mapping[str, torch.Tensor]) -> GPTConfig:
    """The ``GPTConfig`` a GPT-2 state dict implies: sizes from shapes, heads from the preset."""
    keys = {_strip(k): v for k, v in tensors.items()}
    for needed in ("wte.weight", "wpe.weight"):
        if needed not in keys:
            raise ValueError(f"the weights have no {needed}: not a GPT-2 checkpoint")
    vocab, n_embd = keys["wte.weight"].shape
    n_layer = 1 + max(
        (int(m.group(1)) for k in keys if (m := re.match(r"h\.(\d+)\.", k))), default=-1
    )
    heads = {p["n_embd"]: p["n_head"] for name, p in PRESETS.items() if name.startswith("gpt2-")}
    n_head = heads.get(int(n_embd))
    if n_head is None:  # not a published size (e.g. a tiny test checkpoint): 64-wide heads
        n_head = max(1, int(n_embd) // 64) if int(n_embd) % 64 == 0 else 1
    return GPTConfig(
        vocab_size=int(vocab),
        context_length=int(keys["wpe.weight"].shape[0]),
        n_embd=int(n_embd),
        n_head=n_head,
        n_layer=n_layer,
        tie_weights="lm_head.weight" not in keys
        or torch.equal(keys["lm_head.weight"], keys["wte.weight"]),
    )
