"""LoRA: low-rank adaptation of linear layers (chapter 7.0).

A frozen linear layer ``y = x W^T + b`` gets a trainable update of rank ``r``:
``y = x W^T + b + (alpha / r) * x A B`` with ``A`` ``(in, r)`` and ``B`` ``(r, out)``. ``B``
starts at zero, so a freshly wrapped model computes exactly what it computed before; training
moves only ``A`` and ``B``, which hold ``r * (in + out)`` numbers instead of ``in * out``. After
training the update can be merged into ``W`` (no extra cost at inference) and unmerged again.

``apply_lora`` wraps chosen ``nn.Linear`` layers of a model (by name), freezes everything else
and returns the names it wrapped; ``merge_lora`` / ``unmerge_lora`` fold the updates in and out;
``lora_state_dict`` is what a fine-tune needs to save: the adapters alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from llmcourse.validate import check_float, check_int

__all__ = [
    "DEFAULT_TARGETS",
    "LinearWithLoRA",
    "LoRALayer",
    "apply_lora",
    "lora_layers",
    "lora_state_dict",
    "merge_lora",
    "unmerge_lora",
]

# the linear layers of every transformer block of GPTModel (chapter 5): attention's fused
# query/key/value projection and its output projection, the feed-forward's two layers
DEFAULT_TARGETS = ("attn.qkv", "attn.out_proj", "ff.fc", "ff.proj")


def _check_rank_alpha(rank: int, alpha: float) -> None:
    check_int("LoRA rank", rank, 1)
    check_float("LoRA alpha", alpha, 0.0, exclusive_min=True)


class LoRALayer(nn.Module):
    """The low-rank update alone: ``x (..., in) -> (alpha / rank) * x A B (..., out)``.

    ``A`` starts uniform in ``±1/sqrt(in)`` (as ``nn.Linear`` starts its weights), ``B`` at zero,
    so the update is zero until ``B`` is trained.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: float) -> None:
        super().__init__()
        _check_rank_alpha(rank, alpha)
        if rank > min(in_features, out_features):
            raise ValueError(
                f"LoRA rank {rank} is larger than the layer allows: at most "
                f"min(in, out) = min({in_features}, {out_features})"
            )
        self.rank, self.alpha = rank, float(alpha)
        self.scale = self.alpha / rank
        bound = 1 / math.sqrt(in_features)
        self.A = nn.Parameter(torch.empty(in_features, rank).uniform_(-bound, bound))
        self.B = nn.Parameter(torch.zeros(rank, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * (x @ self.A @ self.B)

    def delta_weight(self) -> torch.Tensor:
        """The update as a weight ``(out, in)``, laid out like ``nn.Linear.weight``."""
        return self.scale * (self.A @ self.B).T

    def extra_repr(self) -> str:
        return f"in={self.A.shape[0]}, out={self.B.shape[1]}, rank={self.rank}, alpha={self.alpha}"


class LinearWithLoRA(nn.Module):
    """A linear layer plus a ``LoRALayer``: ``linear(x) + lora(dropout(x))``.

    ``merge()`` adds the update into ``linear.weight`` (then the forward pass skips the LoRA
    branch); ``unmerge()`` takes it out again.
    """

    def __init__(self, linear: nn.Linear, rank: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"LoRA wraps an nn.Linear, got {type(linear).__name__}")
        if not 0.0 <= check_float("LoRA dropout", dropout) < 1.0:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {dropout!r}")
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)
        self.lora.to(device=linear.weight.device, dtype=linear.weight.dtype)
        self.dropout = nn.Dropout(dropout)
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x)
        if self.merged:
            if self.training and torch.is_grad_enabled() and self.lora.B.requires_grad:
                raise RuntimeError(
                    "this LoRA layer is merged into its weights, so its adapters would get no "
                    "gradient: call unmerge_lora(model) before training, or model.eval() to "
                    "only run it"
                )
            return out
        return out + self.lora(self.dropout(x))

    @torch.no_grad()
    def merge(self) -> None:
        if self.merged:
            raise ValueError("this LoRA layer is already merged into its weights")
        self.linear.weight += self.lora.delta_weight().to(self.linear.weight.dtype)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if not self.merged:
            raise ValueError("this LoRA layer is not merged: nothing to unmerge")
        self.linear.weight -= self.lora.delta_weight().to(self.linear.weight.dtype)
        self.merged = False


def apply_lora(
    model: nn.Module,
    rank: int,
    alpha: float,
    targets: Iterable[str] = DEFAULT_TARGETS,
    dropout: float = 0.0,
    train_also: Iterable[str] = (),
) -> list[str]:
    """Wrap every ``nn.Linear`` whose name ends with one of ``targets`` in a ``LinearWithLoRA``.

    Then every parameter is frozen except the LoRA ones and those of the modules named in
    ``train_also`` (e.g. ``"out_head"``, a new classification head). Returns the wrapped names.
    Adapters from an earlier call stay trainable; a layer is wrapped once (naming an already
    wrapped layer again is a ``ValueError``). A target that names a module which is not linear
    is a ``TypeError``; one that matches nothing is a ``ValueError``. Every check runs before
    the model changes.
    """
    _check_rank_alpha(rank, alpha)
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    train_also = (train_also,) if isinstance(train_also, str) else tuple(train_also)
    if not targets:
        raise ValueError("apply_lora needs at least one target layer name")
    found: list[tuple[str, nn.Module]] = []
    unused = set(targets)
    already = [n for n in lora_layers(model) if any(n == t or n.endswith("." + t) for t in targets)]
    if already:
        raise ValueError(
            f"{already[0]} already has LoRA (from an earlier apply_lora): a layer is wrapped "
            "once, so leave it out of targets"
        )
    for name, module in model.named_modules():
        hit = [t for t in targets if name == t or name.endswith("." + t)]
        if not hit:
            continue
        unused -= set(hit)
        if not isinstance(module, nn.Linear):
            raise TypeError(
                f"LoRA can only wrap nn.Linear layers, but {name!r} is a {type(module).__name__}"
            )
        found.append((name, module))
    if unused:
        raise ValueError(
            f"no layer of the model is named {sorted(unused)}; linear layers include e.g. "
            f"{[n for n, m in model.named_modules() if isinstance(m, nn.Linear)][:6]}"
        )
    for name, linear in found:
        if rank > min(linear.in_features, linear.out_features):
            raise ValueError(
                f"LoRA rank {rank} is larger than {name!r} allows: at most min(in, out) = "
                f"min({linear.in_features}, {linear.out_features}); nothing was changed"
            )
    missing = [t for t in train_also if t not in dict(model.named_modules())]
    if missing:
        raise ValueError(f"train_also names modules the model does not have: {missing}")
    earlier = [p for layer in lora_layers(model).values() for p in layer.lora.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in earlier:  # a second call adds adapters; it does not freeze the first call's
        p.requires_grad_(True)
    for name, linear in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        wrapped = LinearWithLoRA(linear, rank, alpha, dropout)
        setattr(parent, child, wrapped.train(linear.training))  # in the mode the model is in
    for name in train_also:
        for p in model.get_submodule(name).parameters():
            p.requires_grad_(True)
    return [name for name, _ in found]


def lora_layers(model: nn.Module) -> dict[str, LinearWithLoRA]:
    """The model's ``LinearWithLoRA`` layers by name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LinearWithLoRA)}


def _layers_or_error(model: nn.Module) -> dict[str, LinearWithLoRA]:
    layers = lora_layers(model)
    if not layers:
        raise ValueError("the model has no LoRA layers (call apply_lora first)")
    return layers


def merge_lora(model: nn.Module) -> None:
    """Add every LoRA update into its base weight (the model then runs at the base's cost)."""
    for layer in _layers_or_error(model).values():
        layer.merge()


def unmerge_lora(model: nn.Module) -> None:
    """Take every merged LoRA update out of its base weight again."""
    for layer in _layers_or_error(model).values():
        layer.unmerge()


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the LoRA tensors (``...lora.A`` / ``...lora.B``): what a LoRA fine-tune saves, beside
    any module it trained through ``train_also`` (e.g. a new head)."""
    _layers_or_error(model)
    return {k: v for k, v in model.state_dict().items() if ".lora." in f".{k}"}
