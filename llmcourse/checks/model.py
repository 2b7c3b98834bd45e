"""Self-checks for chapters 4 (Attention) and 5 (The GPT model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmcourse.checks.result import CheckResult, _report, compare_numbers, self_check


def _causal_softmax(scores: Any) -> Any:
    import torch

    n = scores.shape[-1]
    future = torch.ones(n, n, dtype=torch.bool).triu(diagonal=1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)


@self_check
def check_causal_weights(fn: Callable[[Any], Any]) -> CheckResult:
    """Chapter 4: ``fn(scores)`` turns scaled scores ``(n, n)`` into causal attention weights:
    future positions masked, softmax over each row."""
    import torch

    g = torch.Generator().manual_seed(41)
    cases = []
    for label, scores in [
        ("1 token", torch.randn(1, 1, generator=g, dtype=torch.float64)),
        ("4 tokens", torch.randn(4, 4, generator=g, dtype=torch.float64)),
        ("9 tokens", 3 * torch.randn(9, 9, generator=g, dtype=torch.float64)),
        ("5 tokens, scores up to 1000", 1000 * torch.rand(5, 5, generator=g, dtype=torch.float64)),
    ]:
        got = fn(scores.clone())
        pair = (
            (None, None)
            if got is None
            else compare_numbers(got, _causal_softmax(scores), 1e-5, relative=True)
        )
        cases.append((label, *pair))
    return _report("causal_weights", cases)


@self_check
def check_split_heads(fn: Callable[[Any, int], Any]) -> CheckResult:
    """Chapter 4: ``fn(t, n_head)`` reshapes ``(batch, tokens, d)`` into
    ``(batch, n_head, tokens, d // n_head)``; head ``h`` holds columns ``h*hd .. (h+1)*hd``."""
    import torch

    cases = []
    for b, n, d, h in [(1, 3, 4, 2), (2, 5, 12, 3), (3, 7, 8, 8), (2, 4, 6, 1)]:
        t = torch.arange(b * n * d, dtype=torch.float64).reshape(b, n, d)
        hd = d // h
        expected = torch.stack([t[:, :, k * hd : (k + 1) * hd] for k in range(h)], dim=1)
        got = fn(t.clone(), h)
        pair = (None, None) if got is None else compare_numbers(got, expected, 1e-5, relative=True)
        cases.append((f"({b}, {n}, {d}) into {h} heads", *pair))
    return _report("split_heads", cases)


@self_check
def check_causal_attention(fn: Callable[[Any, Any, Any, Any], Any]) -> CheckResult:
    """Chapter 4: ``fn(x, W_q, W_k, W_v)`` returns single-head causal self-attention context
    vectors ``(tokens, d_out)`` for ``x`` ``(tokens, d_in)`` and matrices ``(d_in, d_out)``."""
    import math

    import torch

    g = torch.Generator().manual_seed(42)
    cases = []
    for n, d_in, d_out in [(1, 3, 2), (6, 4, 3), (10, 8, 16)]:
        x = torch.randn(n, d_in, generator=g, dtype=torch.float64)
        wq, wk, wv = (torch.randn(d_in, d_out, generator=g, dtype=torch.float64) for _ in "qkv")
        # reference: one query at a time, over the visible keys only
        rows = []
        for i in range(n):
            s = torch.stack([(x[i] @ wq) @ (x[j] @ wk) for j in range(i + 1)]) / math.sqrt(d_out)
            w = torch.softmax(s, dim=0)
            rows.append(sum(w[j] * (x[j] @ wv) for j in range(i + 1)))
        got = fn(x.clone(), wq.clone(), wk.clone(), wv.clone())
        pair = (
            (None, None)
            if got is None
            else compare_numbers(got, torch.stack(rows), 1e-5, relative=True)
        )
        cases.append((f"{n} tokens, {d_in} -> {d_out}", *pair))
    return _report("causal_attention", cases)


@self_check
def check_layer_norm(fn: Callable[[Any, float], Any]) -> CheckResult:
    """Chapter 5: ``fn(x, eps)`` normalises the last dimension of ``x`` to mean 0 and variance 1
    (biased variance, ``eps`` added to it), without scale or shift."""
    import torch

    g = torch.Generator().manual_seed(51)
    cases = []
    for label, x, eps in [
        ("(2, 5)", torch.randn(2, 5, generator=g, dtype=torch.float64), 1e-5),
        (
            "(2, 3, 8), offset 100",
            100 + 5 * torch.randn(2, 3, 8, generator=g, dtype=torch.float64),
            1e-5,
        ),
        ("a constant row", torch.full((1, 6), 3.0, dtype=torch.float64), 1e-5),
        ("(4, 2), eps 0.5", torch.randn(4, 2, generator=g, dtype=torch.float64), 0.5),
    ]:
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        expected = (x - mean) / torch.sqrt(var + eps)
        got = fn(x.clone(), eps)
        pair = (None, None) if got is None else compare_numbers(got, expected, 1e-5, relative=True)
        cases.append((label, *pair))
    return _report("layer_norm", cases)


@self_check
def check_gelu(fn: Callable[[Any], Any]) -> CheckResult:
    """Chapter 5: ``fn(x)`` is GPT-2's GELU, the tanh approximation, element-wise."""
    import math

    import torch

    cases = []
    for label, x in [
        ("x in [-5, 5]", torch.linspace(-5, 5, 41, dtype=torch.float64)),
        (
            "a (2, 3) tensor",
            torch.tensor([[0.0, -0.5, 0.5], [-3.0, 3.0, 10.0]], dtype=torch.float64),
        ),
    ]:
        expected = torch.tensor(
            [
                0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))
                for v in x.flatten().tolist()
            ],
            dtype=torch.float64,
        )
        got = fn(x.clone())
        pair = (
            (None, None)
            if got is None
            else compare_numbers(got, expected.reshape(x.shape), 1e-5, relative=True)
        )
        cases.append((label, *pair))
    return _report("gelu", cases)


@self_check
def check_count_parameters(fn: Callable[[Any], int | None]) -> CheckResult:
    """Chapter 5: ``fn(cfg)`` returns the number of parameters of ``GPTModel(cfg)`` (a tied
    output head counted once), computed from the config alone."""
    import torch

    from llmcourse.config import GPTConfig
    from llmcourse.model import GPTModel, count_parameters

    cases = []
    for cfg in [
        GPTConfig.preset("tiny"),
        GPTConfig.preset("tiny", tie_weights=False),
        GPTConfig.preset("tiny", qkv_bias=False, n_layer=3),
        GPTConfig.preset("course"),
        GPTConfig.preset("gpt2-small"),
        GPTConfig.preset("gpt2-xl", tie_weights=False),
    ]:
        with torch.device("meta"):  # shapes only: no memory, no time
            expected = count_parameters(GPTModel(cfg))
        got = fn(cfg)
        label = (
            f"vocab {cfg.vocab_size}, context {cfg.context_length}, n_embd {cfg.n_embd}, "
            f"n_layer {cfg.n_layer}, qkv_bias {cfg.qkv_bias}, tie {cfg.tie_weights}"
        )
        cases.append((label, None if got is None else int(got), expected))
    return _report("count_parameters", cases)
