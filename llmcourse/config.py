"""The shape of a GPT model as one validated value (chapter 5, The GPT model).

``GPTConfig`` holds every number that decides a model's architecture; ``GPTConfig.preset(name)``
gives the course's sizes from one table, ``PRESETS``:

========== ====== ======= ====== ====== ======= =========================================
name       vocab  context n_embd n_head n_layer use
========== ====== ======= ====== ====== ======= =========================================
tiny         512       64     64      4       2 unit tests, quick experiments
course     50257      256    192      6       4 the course model, pretrained on CPU (ch. 6)
gpt2-small 50257     1024    768     12      12 GPT-2 124M
gpt2-medium                 1024     16      24 GPT-2 355M
gpt2-large                  1280     20      36 GPT-2 774M
gpt2-xl                     1600     25      48 GPT-2 1558M
========== ====== ======= ====== ====== ======= =========================================

All presets use biases on the query/key/value projections and tie the output head to the token
embedding, as GPT-2 does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from llmcourse.validate import check_bool, check_float, check_int, check_type

__all__ = ["PRESETS", "GPTConfig"]

_GPT2 = {"vocab_size": 50257, "context_length": 1024, "dropout": 0.1}

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 512,
        "context_length": 64,
        "n_embd": 64,
        "n_head": 4,
        "n_layer": 2,
        "dropout": 0.0,
    },
    "course": {
        "vocab_size": 50257,
        "context_length": 256,
        "n_embd": 192,
        "n_head": 6,
        "n_layer": 4,
        "dropout": 0.1,
    },
    "gpt2-small": {**_GPT2, "n_embd": 768, "n_head": 12, "n_layer": 12},
    "gpt2-medium": {**_GPT2, "n_embd": 1024, "n_head": 16, "n_layer": 24},
    "gpt2-large": {**_GPT2, "n_embd": 1280, "n_head": 20, "n_layer": 36},
    "gpt2-xl": {**_GPT2, "n_embd": 1600, "n_head": 25, "n_layer": 48},
}
"""The named sizes: fields that differ from ``GPTConfig``'s defaults (which are GPT-2 small's)."""


@dataclass(frozen=True)
class GPTConfig:
    """Architecture of a GPT-2-style model; the defaults are GPT-2 small (124M).

    - ``vocab_size``: number of token ids (rows of the token embedding, outputs of the head).
    - ``context_length``: the longest sequence the model accepts (rows of the position embedding).
    - ``n_embd``: width of every token's vector; ``n_head`` heads of ``n_embd // n_head`` each.
    - ``n_layer``: number of transformer blocks.
    - ``dropout``: probability used by every dropout layer while training (0 turns them off).
    - ``qkv_bias``: whether the query/key/value projections have a bias (GPT-2: yes).
    - ``tie_weights``: the output head reuses the token embedding matrix (GPT-2: yes).
    - ``fast_attention``: compute attention with ``torch.nn.functional.scaled_dot_product_attention``
      (same result as the explicit formula, faster and leaner; chapter 4).
    """

    vocab_size: int = 50257
    context_length: int = 1024
    n_embd: int = 768
    n_head: int = 12
    n_layer: int = 12
    dropout: float = 0.1
    qkv_bias: bool = True
    tie_weights: bool = True
    fast_attention: bool = True

    def __post_init__(self) -> None:
        # NumPy / tensor integers and floats are stored as plain Python numbers (JSON-safe)
        for name in ("vocab_size", "context_length", "n_embd", "n_head", "n_layer"):
            self._set(name, check_int(f"GPTConfig.{name}", getattr(self, name), 1))
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"GPTConfig.n_embd={self.n_embd} is not divisible by n_head={self.n_head}: "
                "every head gets n_embd // n_head dimensions"
            )
        dropout = check_float("GPTConfig.dropout", self.dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {dropout}")
        self._set("dropout", dropout)
        for name in ("qkv_bias", "tie_weights", "fast_attention"):
            check_bool(f"GPTConfig.{name}", getattr(self, name))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # the dataclass is frozen once validated

    @property
    def head_dim(self) -> int:
        """Dimensions per attention head, ``n_embd // n_head``."""
        return self.n_embd // self.n_head

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GPTConfig:
        """The preset ``name`` from ``PRESETS``, with any field replaced by ``overrides``."""
        check_type("name", name, str, "a preset name (str)")
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
        return cls(**PRESETS[name]).replace(**overrides)

    def replace(self, **changes: Any) -> GPTConfig:
        """A copy with some fields changed (validated again)."""
        fields = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise TypeError(f"GPTConfig has no field(s) {unknown}; fields: {', '.join(fields)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)
