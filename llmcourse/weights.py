"""Model files: ``GPTModel`` weights on disk, pretrained models, and export (chapters 5 to 7).

``save_model`` / ``load_model`` write and read a ``GPTModel`` as safetensors with its config in
the file's metadata (the course models and training checkpoints use them). ``load_gpt2`` reads
GPT-2's own ``model.safetensors`` (fetched over https by ``llmcourse.assets``), ``save_hf``
writes a folder in Hugging Face's GPT-2 layout that ``transformers`` loads. ``load_pretrained``
is the one place to get a pretrained model by name or path, ``model_card`` its card. The key
table and config conversion between the two layouts live in ``llmcourse.gpt2_layout``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from llmcourse.config import PRESETS, GPTConfig
from llmcourse.gpt2_layout import (
    GPT2_KEYS,
    LoadReport,
    config_from_gpt2,
    config_to_gpt2,
    gpt2_state_dict,
    load_gpt2_state_dict,
    strip_prefix,
)
from llmcourse.model import GPTModel
from llmcourse.validate import check_bool, check_choice, check_dtype, check_type, describe

__all__ = [
    "CHECKPOINTS",
    "GPT2_KEYS",
    "PRETRAINED",
    "LoadReport",
    "config_from_gpt2",
    "gpt2_state_dict",
    "load_gpt2",
    "load_gpt2_state_dict",
    "load_model",
    "load_pretrained",
    "load_state_into",
    "model_card",
    "read_safetensors",
    "save_hf",
    "save_model",
]

# ----------------------------------------------------------------------------- files
_CONFIG_KEY = "llmcourse.config"


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Every tensor of a safetensors file (on the CPU) and its metadata.

    A missing file is a ``FileNotFoundError``; a truncated or corrupt one a ``ValueError`` that
    names the file (safetensors checks the header and that the data fills the file exactly).
    """
    return _opened(
        path,
        lambda f: ({k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})),  # noqa: SIM118
    )


def _read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a safetensors file, without reading its tensors."""
    return _opened(path, lambda f: dict(f.metadata() or {}))


def _opened(path: str | Path, read: Any) -> Any:
    """``read(f)`` of the safetensors file at ``path``; errors name the file."""
    path = Path(check_type("path", path, (str, os.PathLike), "a file path"))
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            return read(f)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise ValueError(
            f"{path} is not a valid safetensors file (truncated or corrupt?): {e}"
        ) from e


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
    check_type("model", model, GPTModel, "a GPTModel")
    check_dtype("dtype", dtype, none_ok=True)
    path = Path(check_type("path", path, (str, os.PathLike), "a file path"))
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
    state = (
        read_safetensors(_weights_file(source))[0]
        if isinstance(source, (str, os.PathLike))
        else dict(source)
    )
    own = dict(model.named_parameters())
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if unexpected == ["out_head.weight"] and not missing:
        raise ValueError(
            "the weights have their own out_head.weight but this model ties its head to "
            "tok_emb.weight (tie_weights=True): build the model with tie_weights=False"
        )
    if missing == ["out_head.weight"] and not unexpected:
        raise ValueError(
            "the weights were saved from a model whose head is tied to tok_emb.weight (no "
            "out_head.weight) but this model has its own head: build it with tie_weights=True"
        )
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


def _weights_file(path: str | os.PathLike) -> Path:
    """``path`` itself if it is a file, else the ``model.safetensors`` of the folder it names."""
    path = Path(check_type("path", path, (str, os.PathLike), "a file or folder path"))
    if path.is_dir():
        if not (path / "model.safetensors").is_file():
            raise FileNotFoundError(f"no weights file in the folder {path} (no model.safetensors)")
        return path / "model.safetensors"
    return path


def load_model(
    path: str | Path,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    **overrides: Any,
) -> GPTModel:
    """A ``GPTModel`` rebuilt from a file written by ``save_model``, in eval mode.

    ``path`` is the file or a folder holding ``model.safetensors`` (a training checkpoint).
    ``overrides`` change config fields that do not change shapes (e.g. ``dropout=0.0``).
    """
    check_dtype("dtype", dtype, (torch.float32, torch.float16, torch.bfloat16, torch.float64))
    file = _weights_file(path)
    tensors, metadata = read_safetensors(file)
    if _CONFIG_KEY not in metadata:
        raise ValueError(
            f"{file} has no llmcourse config in its metadata: it was not written by save_model "
            "(for GPT-2's own files, or a Hugging Face folder, use load_pretrained)"
        )
    try:
        fields = json.loads(metadata[_CONFIG_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(f"{file}: the config in its metadata is not valid JSON ({e})") from e
    if not isinstance(fields, dict):
        raise ValueError(  # noqa: TRY004 (the file's content is a value)
            f"{file}: the config in its metadata is {describe(fields)}, not a dict"
        )
    try:
        cfg = GPTConfig(**fields)
    except TypeError as e:  # a field GPTConfig does not have
        raise ValueError(f"{file}: the config in its metadata does not fit GPTConfig ({e})") from e
    cfg = cfg.replace(**overrides)
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
    keys = {strip_prefix(k): v for k, v in tensors.items()}
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


# ----------------------------------------------------------------------------- Hugging Face export
_HF_FILES = {"config.json", "model.safetensors"}


def save_hf(model: GPTModel, folder: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``model`` as a Hugging Face GPT-2 folder (``config.json`` + ``model.safetensors``).

    ``transformers.GPT2LMHeadModel.from_pretrained(folder)`` gives the same logits, so the model
    works with pipelines and the Hub (chapter 7). Weights are stored in float32 under Hugging
    Face's names (``Conv1D`` weights transposed, a tied head stored once; a model built with
    ``qkv_bias=False`` gets zero biases, which changes nothing). A LoRA model must be merged
    first (``merge_lora``). A folder that holds other files than an earlier export is refused
    unless ``overwrite``; the folder is written beside its place and renamed into it.
    """
    check_type("model", model, GPTModel, "a GPTModel")
    check_bool("overwrite", overwrite)
    folder = Path(check_type("folder", folder, (str, os.PathLike), "a folder path"))
    tensors = gpt2_state_dict(model, prefix="transformer.", dtype=torch.float32)
    if model.cfg.tie_weights:
        del tensors["lm_head.weight"]  # Hugging Face ties it to transformer.wte.weight
    hf_config = config_to_gpt2(model.cfg)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"save_hf needs a folder, but {folder} is a file")
    if folder.is_dir() and not overwrite:
        others = sorted(p.name for p in folder.iterdir() if p.name not in _HF_FILES)
        if others:
            raise ValueError(
                f"{folder} is not empty and not an earlier export (it holds {others[:5]}): "
                "choose another folder, or pass overwrite=True to replace it"
            )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        save_file(tensors, tmp / "model.safetensors", metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n", encoding="utf-8")
        for p in (tmp, tmp / "model.safetensors", tmp / "config.json"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        old = folder.with_name(f".{folder.name}.old") if folder.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


# ----------------------------------------------------------------------------- pretrained models
CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
"""The repository's folder of committed models and their cards."""

PRETRAINED = {"course": "course-model", "instruct": "instruct-model"}
"""The committed models ``load_pretrained`` and ``model_card`` know, and their file stems."""


def _committed(name: str, suffix: str, asset: str) -> Path:
    """A committed file of ``checkpoints/``, else (outside a clone) the asset of that name."""
    from llmcourse import assets

    path = CHECKPOINTS / f"{PRETRAINED[name]}{suffix}"
    return path if path.is_file() else assets.fetch(asset)


def load_pretrained(
    name: str | os.PathLike, device: torch.device | str | None = None, **overrides: Any
) -> GPTModel:
    """A pretrained ``GPTModel`` in fp32 and eval mode: the one place to get one (chapters 6, 7).

    ``name`` is ``"course"`` (chapter 6's model) or ``"instruct"`` (chapter 7.2's), read from
    ``checkpoints/`` (fetched once outside a clone); ``"gpt2-small"`` / ``"gpt2-medium"``
    (fetched once over https); or the path of a ``.safetensors`` file, a training checkpoint
    folder (``model.safetensors``) or a Hugging Face folder (``config.json`` too, e.g. from
    ``save_hf``). ``overrides`` change config fields that keep the shapes, such as ``dropout``.
    """
    check_type("name", name, (str, os.PathLike), "a model name or a path")
    if isinstance(name, str) and name in PRETRAINED:
        return load_model(_committed(name, ".safetensors", PRETRAINED[name]), device, **overrides)
    if isinstance(name, str) and name in GPT2_ASSETS:
        return load_gpt2(name, device, **overrides)
    path = Path(name)
    if path.is_dir() and (path / "config.json").is_file():
        return load_gpt2(_weights_file(path), device, **overrides)
    if path.exists():
        file = _weights_file(path)
        if _CONFIG_KEY in _read_metadata(file):
            return load_model(file, device, **overrides)
        return load_gpt2(file, device, **overrides)
    names = sorted([*PRETRAINED, *GPT2_ASSETS])
    raise ValueError(
        f"load_pretrained does not know {name!r}: use one of {names}, or the path of a "
        ".safetensors file or a folder holding model.safetensors (the path must exist)"
    )


def model_card(name: str) -> dict[str, Any]:
    """The card of a committed model (``"course"`` or ``"instruct"``) as a dict: its data,
    config, training settings, machine, losses and samples (``checkpoints/<model>.json``)."""
    check_choice("name", name, sorted(PRETRAINED))
    path = _committed(name, ".json", f"{PRETRAINED[name]}-card")
    return json.loads(Path(path).read_text(encoding="utf-8"))
