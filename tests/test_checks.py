"""llmcourse.checks: a right answer passes, a wrong one fails with the case named, a stub is
reported as not attempted."""

from collections import Counter
from itertools import pairwise

import torch

from llmcourse import checks
from llmcourse.data import count_windows
from llmcourse.embeddings import nearest_neighbours, sinusoidal_positions
from llmcourse.tokenizer import gpt2_tokenizer, merge_pair


def test_count_tokens():
    enc = gpt2_tokenizer()
    assert checks.check_count_tokens(lambda t: len(enc.encode(t)))
    wrong = checks.check_count_tokens(lambda t: len(t.split()))
    assert not wrong and "case(s) wrong" in repr(wrong) and "'Call me Ishmael.'" in repr(wrong)
    stub = checks.check_count_tokens(lambda t: None)
    assert not stub and "not attempted" in repr(stub)


def test_bigram_probs():
    def right(ids, token):
        follows = Counter(b for a, b in pairwise(ids) if a == token)
        return {k: v / sum(follows.values()) for k, v in follows.items()}

    assert checks.check_bigram_probs(right)
    counts_not_probs = checks.check_bigram_probs(
        lambda ids, token: dict(Counter(b for a, b in pairwise(ids) if a == token))
    )
    assert not counts_not_probs


def test_most_frequent_pair_tie_goes_to_smallest_pair():
    def right(ids):
        counts = Counter(pairwise(ids))
        return min(counts, key=lambda p: (-counts[p], p))

    def first_seen(ids):
        counts = Counter(pairwise(ids))
        return max(counts, key=counts.get)

    assert checks.check_most_frequent_pair(right)
    result = checks.check_most_frequent_pair(first_seen)
    assert not result and "got (8, 7), expected (7, 7)" in repr(result)


def test_merge():
    assert checks.check_merge(merge_pair)
    overlapping = checks.check_merge(  # merges (5, 5) in [5, 5, 5, 5] three times
        lambda ids, pair, new: [new if (a, b) == pair else a for a, b in pairwise(ids + [None])]
    )
    assert not overlapping
    assert not checks.check_merge(lambda ids, pair, new: list(ids))


# ----------------------------------------------------------------------------- chapters 2 and 3
def test_count_windows():
    assert checks.check_count_windows(count_windows)
    off_by_one = checks.check_count_windows(lambda n, m, s: max((n - m) // s + 1, 0))
    assert not off_by_one and "n_tokens=10, max_length=4, stride=4: got 2" not in repr(off_by_one)
    assert "n_tokens=5, max_length=4, stride=1: got 2, expected 1" in repr(off_by_one)
    assert "not attempted" in repr(checks.check_count_windows(lambda n, m, s: None))


def test_make_pairs():
    def right(ids, m, s):
        return [(ids[a : a + m], ids[a + 1 : a + m + 1]) for a in range(0, len(ids) - m, s)]

    assert checks.check_make_pairs(right)
    assert checks.check_make_pairs(
        lambda ids, m, s: [tuple(map(torch.tensor, p)) for p in right(ids, m, s)]
    )
    unshifted = checks.check_make_pairs(
        lambda ids, m, s: [(ids[a : a + m], ids[a : a + m]) for a in range(0, len(ids) - m, s)]
    )
    assert not unshifted and "5 case(s) wrong" not in repr(
        unshifted
    )  # [1, 2, 3] gives [] both ways
    assert "4 case(s) wrong" in repr(unshifted)


def test_batches_per_epoch():
    def right(n, m, s, b, drop):
        w = count_windows(n, m, s)
        return w // b if drop else (w + b - 1) // b

    assert checks.check_batches_per_epoch(right)
    ignores_drop_last = checks.check_batches_per_epoch(
        lambda n, m, s, b, d: count_windows(n, m, s) // b
    )
    assert not ignores_drop_last and "drop_last=False" in repr(ignores_drop_last)


def test_one_hot_embed():
    def right(ids, weight):
        return torch.nn.functional.one_hot(ids, len(weight)).float() @ weight

    assert checks.check_one_hot_embed(right)
    transposed = checks.check_one_hot_embed(lambda ids, w: w[: len(ids)])
    assert not transposed and "at row" in repr(transposed)
    wrong_shape = checks.check_one_hot_embed(
        lambda ids, w: torch.nn.functional.one_hot(ids, len(w))
    )
    assert not wrong_shape and "a table of shape (4, 6)" in repr(wrong_shape)


def test_sinusoidal():
    assert checks.check_sinusoidal(sinusoidal_positions)
    assert checks.check_sinusoidal(lambda n, d: sinusoidal_positions(n, d).tolist())

    def halves(n, d):  # all sines first, then all cosines: a common variant, not the one asked
        table = sinusoidal_positions(n, d)
        return torch.cat([table[:, 0::2], table[:, 1::2]], dim=1)

    result = checks.check_sinusoidal(halves)
    assert not result and "n=4, dim=6" in repr(result)
    assert "not a table of numbers" in repr(checks.check_sinusoidal(lambda n, d: "table"))


def test_nearest():
    assert checks.check_nearest(lambda v, i, k: nearest_neighbours(v, i, k)[0])
    dot_product = checks.check_nearest(
        lambda v, i, k: [int(j) for j in (v @ v[i]).argsort(descending=True) if j != i][:k]
    )
    assert not dot_product and "index=0, k=3" in repr(dot_product)
    with_self = checks.check_nearest(
        lambda v, i, k: nearest_neighbours(v, i, k, exclude_self=False)[0]
    )
    assert not with_self


# ----------------------------------------------------------------------------- chapters 4 and 5
def test_causal_weights():
    def right(scores):
        n = scores.shape[-1]
        future = torch.ones(n, n, dtype=torch.bool).triu(1)
        return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)

    def hand_written_exp(scores):  # no max subtraction: overflows on large scores
        n = scores.shape[-1]
        e = torch.exp(scores) * torch.ones(n, n).tril().to(scores.dtype)
        return e / e.sum(-1, keepdim=True)

    assert checks.check_causal_weights(right)
    overflow = checks.check_causal_weights(hand_written_exp)
    assert not overflow and "scores up to 1000" in repr(overflow) and "1 case(s)" in repr(overflow)
    no_mask = checks.check_causal_weights(lambda s: torch.softmax(s, dim=-1))
    assert not no_mask and "4 tokens" in repr(no_mask)
    assert "not attempted" in repr(checks.check_causal_weights(lambda s: None))


def test_split_heads():
    assert checks.check_split_heads(lambda t, h: t.view(*t.shape[:2], h, -1).transpose(1, 2))
    reshaped_only = checks.check_split_heads(lambda t, h: t.reshape(t.shape[0], h, t.shape[1], -1))
    assert not reshaped_only and "into 2 heads" in repr(reshaped_only)
    no_transpose = checks.check_split_heads(lambda t, h: t.view(*t.shape[:2], h, -1))
    assert not no_transpose and "a tensor of shape (1, 3, 2, 2)" in repr(no_transpose)


def test_causal_attention():
    def right(x, wq, wk, wv):
        q, k, v = x @ wq, x @ wk, x @ wv
        future = torch.ones(len(x), len(x), dtype=torch.bool).triu(1)
        s = (q @ k.T / k.shape[-1] ** 0.5).masked_fill(future, float("-inf"))
        return torch.softmax(s, dim=-1) @ v

    def unscaled(x, wq, wk, wv):
        future = torch.ones(len(x), len(x), dtype=torch.bool).triu(1)
        s = ((x @ wq) @ (x @ wk).T).masked_fill(future, float("-inf"))
        return torch.softmax(s, dim=-1) @ (x @ wv)

    assert checks.check_causal_attention(right)
    result = checks.check_causal_attention(unscaled)
    assert not result and "6 tokens, 4 -> 3" in repr(result)
    assert "1 tokens" not in repr(result)  # one token: the weight is 1 whatever the scale


def test_layer_norm():
    def right(x, eps):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], eps=eps)

    def unbiased(x, eps):
        return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps)

    def eps_outside(x, eps):
        return (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True, unbiased=False) + eps)

    assert checks.check_layer_norm(right)
    assert not checks.check_layer_norm(unbiased)
    wrong = checks.check_layer_norm(eps_outside)
    assert not wrong and "eps 0.5" in repr(wrong)


def test_gelu():
    assert checks.check_gelu(lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
    exact = checks.check_gelu(torch.nn.functional.gelu)  # the erf form differs by up to 5e-4
    assert not exact and "x in [-5, 5]" in repr(exact)
    assert not checks.check_gelu(torch.relu)


def test_count_parameters():
    from llmcourse.model import GPTModel, count_parameters

    def by_building(cfg):
        with torch.device("meta"):
            return count_parameters(GPTModel(cfg))

    def ignores_tying(cfg):
        d = cfg.n_embd
        blocks = cfg.n_layer * (12 * d * d + (13 if cfg.qkv_bias else 10) * d)
        return 2 * cfg.vocab_size * d + cfg.context_length * d + blocks + 2 * d

    assert checks.check_count_parameters(by_building)
    result = checks.check_count_parameters(ignores_tying)
    assert not result and "tie True" in repr(result) and "tie False" not in repr(result)


def test_chapter_6_checks_pass_right_answers_and_catch_wrong_ones():
    import math

    import torch.nn.functional as F

    from llmcourse.generate import next_token_probs

    def ce(logits, targets):
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    assert checks.check_cross_entropy(ce)
    assert not checks.check_cross_entropy(lambda lg, t: ce(lg, t) * 1.001)
    assert "not attempted" in repr(checks.check_cross_entropy(lambda lg, t: None))

    def top_k(logits, k):
        kth = torch.topk(logits, k).values[-1]
        return logits.masked_fill(logits < kth, -math.inf)

    assert checks.check_top_k(top_k)
    assert not checks.check_top_k(lambda lg, k: top_k(lg, max(1, k - 1)))
    assert checks.check_top_p(lambda p, top_p: next_token_probs(p.log(), 1.0, top_p=top_p))
    assert not checks.check_top_p(lambda p, top_p: p)


def test_chapter_7_0_checks_pass_right_answers_and_catch_wrong_ones():
    assert checks.check_lora_parameters(lambda i, o, r: r * (i + o))
    full = checks.check_lora_parameters(lambda i, o, r: i * o)
    assert not full and "in 192, out 576, rank 8: got 110592, expected 6144" in repr(full)

    def forward(x, w, b, a, bb, alpha, rank):
        return x @ w.T + b + alpha / rank * (x @ a @ bb)

    assert checks.check_lora_forward(forward)
    no_scale = checks.check_lora_forward(
        lambda x, w, b, a, bb, alpha, rank: x @ w.T + b + x @ a @ bb
    )
    assert not no_scale and "case(s) wrong" in repr(no_scale)
    assert "not attempted" in repr(checks.check_lora_forward(lambda *args: None))

    assert checks.check_merge_lora(lambda w, a, bb, alpha, rank: w + alpha / rank * (a @ bb).T)
    unscaled = checks.check_merge_lora(lambda w, a, bb, alpha, rank: w + (a @ bb).T)
    assert not unscaled and "in 16, out 8, rank 4, alpha 8" in repr(unscaled)
    transposed = checks.check_merge_lora(
        lambda w, a, bb, alpha, rank: (w + alpha / rank * (a @ bb).T).T
    )
    assert not transposed and "got 'a weight of shape (4, 3)', expected 'shape (3, 4)'" in repr(
        transposed
    )


def test_a_case_returning_none_while_others_answer_fails():
    # a merge that forgets `return` on its main branch answers only the empty input
    def merge(ids, pair, new_id):
        if not ids:
            return []
        out = [new_id]  # noqa: F841 (the forgotten return)

    result = checks.check_merge(merge)
    assert not result and "returned None" in result.message and "4 case(s) wrong" in result.message
    half = checks.check_accuracy_from_logits(lambda logits, y: None if len(y) > 1 else 1.0)
    assert not half and "(3 returned None)" in half.message
    assert "not attempted yet" in checks.check_merge(lambda ids, pair, new_id: None).message


def test_a_function_that_raises_or_returns_the_wrong_type_fails_with_a_message():
    raised = checks.check_merge(lambda ids, pair, new_id: 1 / 0)
    assert not raised
    assert raised.message.startswith("✗ merge: stopped by ZeroDivisionError: division by zero")
    as_bool = checks.check_count_tokens(lambda text: True)  # a bool is not a count
    assert not as_bool and "got True, expected 6" in as_bool.message
    assert not checks.check_count_tokens(lambda text: len(text) > 0 and 1)
    assert "got 'a list', expected 'one number'" in str(
        checks.check_accuracy_from_logits(lambda logits, y: [1.0])
    )
    wrong_kind = checks.check_merge(lambda ids, pair, new_id: torch.tensor(ids))
    assert not wrong_kind and "got tensor(" in wrong_kind.message
