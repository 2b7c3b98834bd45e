"""Self-checks a learner calls on their own exercise code.

Each ``check_*`` function runs the learner's function on a few inputs, compares the result with
an answer computed here in a different way, and returns a ``CheckResult``: true when every case
passed, shown in a notebook as a line that says what was found. A function that still returns
``None`` (the exercise stub) counts as not attempted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

__all__ = [
    "CheckResult",
    "check_batches_per_epoch",
    "check_bigram_probs",
    "check_causal_attention",
    "check_causal_weights",
    "check_count_parameters",
    "check_count_tokens",
    "check_count_windows",
    "check_gelu",
    "check_layer_norm",
    "check_make_pairs",
    "check_merge",
    "check_most_frequent_pair",
    "check_nearest",
    "check_one_hot_embed",
    "check_sinusoidal",
    "check_split_heads",
]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a self-check: ``passed`` and a message naming the failing cases."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message


def _report(name: str, cases: Iterable[tuple[str, Any, Any]]) -> CheckResult:
    """Compare each case (input, got, expected); the message lists up to 5 failing cases."""
    failures = []
    attempted = False
    for label, got, expected in cases:
        if got is None:
            continue
        attempted = True
        if got != expected:
            failures.append(f"  {label}: got {got!r}, expected {expected!r}")
    if not attempted:
        return CheckResult(False, f"{name}: not attempted yet (the function returns None)")
    if failures:
        lines = "\n".join(failures[:5])
        return CheckResult(False, f"✗ {name}: {len(failures)} case(s) wrong\n{lines}")
    return CheckResult(True, f"✓ {name}: all cases pass")


def _gpt2():
    from llmcourse.tokenizer import gpt2_tokenizer

    return gpt2_tokenizer()


COUNT_TEXTS = [
    "Call me Ishmael.",
    "",
    "   spaces   and\ttabs\n",
    "naïve café, 東京, 🐳!",
    "The whale! the whale! Up helm, up helm!",
]


def check_count_tokens(fn: Callable[[str], int]) -> CheckResult:
    """Chapter 0: ``fn(text)`` returns how many GPT-2 tokens ``text`` has."""
    enc = _gpt2()
    return _report(
        "count_tokens",
        ((repr(t), fn(t), len(enc.encode(t))) for t in COUNT_TEXTS),
    )


def check_bigram_probs(fn: Callable[[list[int], int], dict[int, float] | None]) -> CheckResult:
    """Chapter 0: ``fn(ids, token)`` returns ``{next_id: probability}`` of what follows ``token``.

    Probabilities are compared after rounding to 6 decimals.
    """
    ids = [5, 1, 2, 5, 1, 3, 5, 2, 1, 2, 5, 1]
    cases = []
    for token in (5, 1, 2):
        follows = Counter(b for a, b in pairwise(ids) if a == token)
        total = sum(follows.values())
        expected = {k: round(v / total, 6) for k, v in sorted(follows.items())}
        got = fn(list(ids), token)
        if got is not None:
            got = {int(k): round(float(v), 6) for k, v in sorted(got.items())}
        cases.append((f"token {token} in {ids}", got, expected))
    return _report("bigram_probs", cases)


PAIR_CASES = [
    [97, 97, 97, 98, 100, 97, 97, 97, 98, 97, 99],  # "aaabdaaabac"
    [1, 2, 3, 1, 2, 3, 1, 2],
    [5, 5, 5, 5],
    [8, 7, 7, 8],  # three pairs, each once: the smallest (7, 7) wins, not the first seen
]


def check_most_frequent_pair(fn: Callable[[list[int]], tuple[int, int] | None]) -> CheckResult:
    """Chapter 1: ``fn(ids)`` returns the most frequent adjacent pair; a tie goes to the
    smallest pair, as in ``BPETokenizer.train``."""
    cases = []
    for ids in PAIR_CASES:
        counts = Counter(pairwise(ids))
        expected = min(counts, key=lambda p: (-counts[p], p))
        got = fn(list(ids))
        cases.append((f"ids {ids}", None if got is None else tuple(got), expected))
    return _report("most_frequent_pair", cases)


def check_merge(fn: Callable[[list[int], tuple[int, int], int], list[int] | None]) -> CheckResult:
    """Chapter 1: ``fn(ids, pair, new_id)`` replaces every occurrence of ``pair``, left to
    right, by ``new_id``."""

    def expected(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
        out: list[int] = []  # new_id is not in the pair, so a merged token never merges again
        for token in ids:
            if out and (out[-1], token) == pair:
                out[-1] = new_id
            else:
                out.append(token)
        return out

    cases = []
    for ids, pair in [(PAIR_CASES[0], (97, 97)), (PAIR_CASES[1], (1, 2)),
                      (PAIR_CASES[2], (5, 5)), (PAIR_CASES[3], (7, 8)), ([], (1, 2))]:
        got = fn(list(ids), pair, 300)
        cases.append((f"ids {ids}, pair {pair}", got, expected(ids, pair, 300)))
    return _report("merge", cases)


# ----------------------------------------------------------------------------- chapter 2
WINDOW_CASES = [
    (10, 4, 1),
    (10, 4, 2),
    (10, 4, 4),
    (5, 4, 1),  # exactly one window: 4 inputs + 1 more token
    (4, 4, 1),  # too short: no window
    (0, 3, 2),
    (100, 8, 16),  # stride > max_length skips tokens
    (296_613, 256, 256),
    (296_613, 256, 128),
]


def _windows_by_brute_force(n_tokens: int, max_length: int, stride: int) -> list[int]:
    """Start of every window: try each multiple of ``stride``, keep those that fit."""
    return [s for s in range(0, n_tokens, stride) if s + max_length + 1 <= n_tokens]


def check_count_windows(fn: Callable[[int, int, int], int | None]) -> CheckResult:
    """Chapter 2: ``fn(n_tokens, max_length, stride)`` returns how many windows fit."""
    return _report(
        "count_windows",
        (
            (
                f"n_tokens={n}, max_length={m}, stride={s}",
                fn(n, m, s),
                len(_windows_by_brute_force(n, m, s)),
            )
            for n, m, s in WINDOW_CASES
        ),
    )


def _int_lists(value: Any) -> Any:
    """Nested lists of ints from lists, tuples or tensors (so a learner may return either)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_int_lists(v) for v in value]
    return int(value)


def check_make_pairs(
    fn: Callable[[list[int], int, int], list[tuple[list[int], list[int]]] | None],
) -> CheckResult:
    """Chapter 2: ``fn(ids, max_length, stride)`` returns ``[(input, target), ...]``, one pair
    per window, the target being the input shifted by one token."""
    cases = []
    for ids, m, s in [
        (list(range(100, 110)), 4, 1),
        (list(range(100, 110)), 4, 3),
        (list(range(100, 112)), 3, 5),
        ([5, 9, 2, 7, 1], 4, 1),
        ([1, 2, 3], 3, 1),
    ]:
        expected = [
            [ids[a : a + m], ids[a + 1 : a + m + 1]]
            for a in _windows_by_brute_force(len(ids), m, s)
        ]
        got = fn(list(ids), m, s)
        cases.append(
            (
                f"ids {ids}, max_length={m}, stride={s}",
                None if got is None else _int_lists(got),
                expected,
            )
        )
    return _report("make_pairs", cases)


def check_batches_per_epoch(
    fn: Callable[[int, int, int, int, bool], int | None],
) -> CheckResult:
    """Chapter 2: ``fn(n_tokens, max_length, stride, batch_size, drop_last)`` returns how many
    batches one pass over the windows gives."""
    cases = []
    for n, m, s, b, drop in [
        (1000, 10, 10, 8, True),
        (1000, 10, 10, 8, False),
        (1000, 10, 5, 16, False),
        (40, 4, 4, 3, True),
        (40, 4, 4, 3, False),
        (296_613, 256, 256, 8, True),
        (296_613, 256, 256, 8, False),
    ]:
        windows = len(_windows_by_brute_force(n, m, s))
        expected = windows // b if drop else -(-windows // b)
        cases.append(
            (f"({n}, {m}, {s}, batch_size={b}, drop_last={drop})", fn(n, m, s, b, drop), expected)
        )
    return _report("batches_per_epoch", cases)


# ----------------------------------------------------------------------------- chapter 3
def _compare_table(got: Any, expected: list[list[float]], tol: float = 1e-4) -> tuple[str, str]:
    """(got, expected) as short descriptions for ``_report``: equal when every entry of ``got``
    is within ``tol`` of ``expected``, else saying how ``got`` differs."""
    import torch

    want = torch.tensor(expected, dtype=torch.float64)
    label = f"a {tuple(want.shape)} table"
    try:
        have = torch.as_tensor(got.detach() if hasattr(got, "detach") else got)
        have = have.to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return f"a {type(got).__name__} that is not a table of numbers", label
    if have.shape != want.shape:
        return f"a table of shape {tuple(have.shape)}", label
    diff = (have - want).abs()
    if not bool(diff.isnan().any()) and float(diff.max()) <= tol:
        return label, label
    row, col = divmod(int(torch.nan_to_num(diff, nan=float("inf")).argmax()), want.shape[1])
    return (
        f"{float(have[row, col]):.4f} at row {row}, column {col}",
        f"{float(want[row, col]):.4f} there",
    )


def check_one_hot_embed(fn: Callable[[Any, Any], Any]) -> CheckResult:
    """Chapter 3: ``fn(ids, weight)`` returns the embeddings of ``ids`` (shape ``(n,)``) as the
    product of their one-hot rows with ``weight`` (``(vocab_size, d)``): shape ``(n, d)``."""
    import torch

    generator = torch.Generator().manual_seed(3)
    cases = []
    for vocab, dim, ids in [(6, 3, [2, 0, 5, 2]), (10, 4, [9]), (50, 8, list(range(0, 50, 7)))]:
        weight = torch.randn(vocab, dim, generator=generator)
        expected = [[float(weight[i, j]) for j in range(dim)] for i in ids]
        got = fn(torch.tensor(ids), weight.clone())
        pair = (None, None) if got is None else _compare_table(got, expected)
        cases.append((f"ids {ids}, weight {vocab}×{dim}", *pair))
    return _report("one_hot_embed", cases)


def check_sinusoidal(fn: Callable[[int, int], Any]) -> CheckResult:
    """Chapter 3: ``fn(n, dim)`` returns the sinusoidal position table of shape ``(n, dim)``:
    column ``2i`` is ``sin(p / 10000**(2i/dim))``, column ``2i+1`` the ``cos`` of the same."""
    import math

    cases = []
    for n, dim in [(4, 6), (10, 16), (50, 8), (1, 2)]:
        expected = [
            [
                math.sin(p / 10_000 ** (c / dim))
                if c % 2 == 0
                else math.cos(p / 10_000 ** ((c - 1) / dim))
                for c in range(dim)
            ]
            for p in range(n)
        ]
        got = fn(n, dim)
        pair = (None, None) if got is None else _compare_table(got, expected)
        cases.append((f"n={n}, dim={dim}", *pair))
    return _report("sinusoidal", cases)


def check_nearest(fn: Callable[[Any, int, int], list[int] | None]) -> CheckResult:
    """Chapter 3: ``fn(vectors, index, k)`` returns the indices of the ``k`` rows most
    cosine-similar to row ``index`` (itself excluded), most similar first."""
    import math

    import torch

    generator = torch.Generator().manual_seed(5)
    spread = [[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.2], [0.5, 0.45], [3.0, 3.1]]
    cases = []
    for vectors, index, k in [
        (spread, 0, 3),  # [10, 1] is long: largest dot product with [1, 0], not the most similar
        (spread, 2, 2),
        (torch.randn(12, 5, generator=generator).tolist(), 4, 5),
        (torch.randn(30, 16, generator=generator).tolist(), 29, 4),
    ]:

        def cos(a: list[float], b: list[float]) -> float:
            dot = sum(x * y for x, y in zip(a, b))
            return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))

        others = [i for i in range(len(vectors)) if i != index]
        expected = sorted(others, key=lambda i: -cos(vectors[index], vectors[i]))[:k]
        got = fn(torch.tensor(vectors), index, k)
        cases.append(
            (
                f"{len(vectors)} vectors, index={index}, k={k}",
                None if got is None else _int_lists(got),
                expected,
            )
        )
    return _report("nearest", cases)


# ----------------------------------------------------------------------------- chapters 4 and 5
def _compare_tensor(got: Any, expected: Any, tol: float = 1e-5) -> tuple[str, str]:
    """(got, expected) as short descriptions for ``_report``, for tensors of any shape: equal
    when shapes match and every entry is within ``tol`` (absolute and relative)."""
    import torch

    want = expected.detach().to(torch.float64)
    label = f"a tensor of shape {tuple(want.shape)}"
    try:
        have = torch.as_tensor(got.detach() if hasattr(got, "detach") else got)
        have = have.to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return f"a {type(got).__name__}, not a tensor", label
    if have.shape != want.shape:
        return f"a tensor of shape {tuple(have.shape)}", label
    diff = (have - want).abs()
    bad = ~(diff <= tol + tol * want.abs())  # NaN counts as bad
    if not bool(bad.any()):
        return label, label
    where = tuple(int(i) for i in bad.nonzero()[0])
    return f"{float(have[where]):.5g} at index {where}", f"{float(want[where]):.5g} there"


def _causal_softmax(scores: Any) -> Any:
    import torch

    n = scores.shape[-1]
    future = torch.ones(n, n, dtype=torch.bool).triu(diagonal=1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)


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
        pair = (None, None) if got is None else _compare_tensor(got, _causal_softmax(scores))
        cases.append((label, *pair))
    return _report("causal_weights", cases)


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
        pair = (None, None) if got is None else _compare_tensor(got, expected)
        cases.append((f"({b}, {n}, {d}) into {h} heads", *pair))
    return _report("split_heads", cases)


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
        pair = (None, None) if got is None else _compare_tensor(got, torch.stack(rows))
        cases.append((f"{n} tokens, {d_in} -> {d_out}", *pair))
    return _report("causal_attention", cases)


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
        pair = (None, None) if got is None else _compare_tensor(got, expected)
        cases.append((label, *pair))
    return _report("layer_norm", cases)


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
        pair = (None, None) if got is None else _compare_tensor(got, expected.reshape(x.shape))
        cases.append((label, *pair))
    return _report("gelu", cases)


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
