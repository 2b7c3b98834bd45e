"""llmcourse.attention: causal multi-head attention, explicit and fast paths, against a
head-by-head reference written here."""

import math

import pytest
import torch

from llmcourse.attention import MultiHeadAttention, causal_mask


@torch.no_grad()
def reference(x, wq, wk, wv, bq, bk, bv, wo, bo, n_head):
    """Attention one batch element, one head, one query at a time, with plain loops."""
    b, n, _ = x.shape
    d_out = wq.shape[0]
    hd = d_out // n_head
    out = torch.zeros(b, n, d_out, dtype=torch.float64)
    for s in range(b):
        q, k, v = x[s] @ wq.T + bq, x[s] @ wk.T + bk, x[s] @ wv.T + bv
        heads = []
        for h in range(n_head):
            sl = slice(h * hd, (h + 1) * hd)
            ctx = torch.zeros(n, hd, dtype=torch.float64)
            for i in range(n):
                scores = torch.tensor([q[i, sl] @ k[j, sl] / math.sqrt(hd) for j in range(i + 1)])
                w = torch.exp(scores - scores.max())
                w = w / w.sum()
                ctx[i] = sum(w[j] * v[j, sl] for j in range(i + 1))
            heads.append(ctx)
        out[s] = torch.cat(heads, dim=-1) @ wo.T + bo
    return out


def make(fused=True, fast=False, dropout=0.0, d_in=12, d_out=16, n_head=4, ctx=10, bias=True):
    torch.manual_seed(0)
    return (
        MultiHeadAttention(
            d_in, d_out, ctx, n_head, dropout=dropout, qkv_bias=bias, fused_qkv=fused, fast=fast
        )
        .double()
        .eval()
    )


def test_causal_mask():
    m = causal_mask(4)
    assert m.dtype == torch.bool
    assert m.tolist() == [
        [False, True, True, True],
        [False, False, True, True],
        [False, False, False, True],
        [False, False, False, False],
    ]


@pytest.mark.parametrize("fused", [True, False])
def test_matches_the_loop_reference(fused):
    attn = make(fused=fused)
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    if fused:
        wq, wk, wv = attn.qkv.weight.split(16)
        bq, bk, bv = attn.qkv.bias.split(16)
    else:
        wq, wk, wv = attn.query.weight, attn.key.weight, attn.value.weight
        bq, bk, bv = attn.query.bias, attn.key.bias, attn.value.bias
    expected = reference(x, wq, wk, wv, bq, bk, bv, attn.out_proj.weight, attn.out_proj.bias, 4)
    torch.testing.assert_close(attn(x), expected)


def test_fused_and_separate_projections_agree_given_the_same_weights():
    fused, separate = make(fused=True), make(fused=False)
    with torch.no_grad():
        for name, w, b in zip(
            ("query", "key", "value"), fused.qkv.weight.split(16), fused.qkv.bias.split(16)
        ):
            getattr(separate, name).weight.copy_(w)
            getattr(separate, name).bias.copy_(b)
        separate.out_proj.load_state_dict(fused.out_proj.state_dict())
    x = torch.randn(3, 10, 12, dtype=torch.float64)
    torch.testing.assert_close(separate(x), fused(x))
    n_fused = sum(p.numel() for p in fused.parameters())
    assert n_fused == sum(p.numel() for p in separate.parameters())


@pytest.mark.parametrize("n", [1, 2, 9, 10])
def test_fast_path_equals_explicit_path_outputs_and_gradients(n):
    slow, fast = make(fast=False).float(), make(fast=True).float()
    fast.load_state_dict(slow.state_dict())
    x1 = torch.randn(2, n, 12, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    y1, y2 = slow(x1), fast(x2)
    torch.testing.assert_close(y2, y1, atol=1e-6, rtol=1e-5)
    (y1**2).sum().backward()
    (y2**2).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, atol=1e-5, rtol=1e-5)
    for (name, p1), p2 in zip(slow.named_parameters(), fast.parameters()):
        torch.testing.assert_close(p2.grad, p1.grad, atol=1e-5, rtol=1e-5, msg=name)


def test_weights_are_causal_rows_of_a_softmax():
    attn = make(fast=True)  # return_attn takes the explicit path even on a fast module
    x = torch.randn(2, 6, 12, dtype=torch.float64)
    out, w = attn(x, return_attn=True)
    assert w.shape == (2, 4, 6, 6)
    torch.testing.assert_close(out, attn(x))
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 6, dtype=torch.float64))
    assert torch.all(w.masked_select(causal_mask(6)) == 0)
    assert torch.all(w[..., 0, 0] == 1)  # the first token can only look at itself


def test_output_does_not_depend_on_future_tokens():
    attn = make()
    x = torch.randn(1, 8, 12, dtype=torch.float64)
    changed = x.clone()
    changed[:, 5:] = torch.randn(1, 3, 12, dtype=torch.float64)
    a, b = attn(x), attn(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_dropout_only_in_training_and_rescales():
    attn = make(dropout=0.5)
    x = torch.randn(2, 10, 12, dtype=torch.float64)
    torch.testing.assert_close(attn(x), attn(x))  # eval: deterministic, no dropout
    eval_w = attn(x, return_attn=True)[1]
    attn.train()
    torch.manual_seed(1)
    assert not torch.allclose(attn(x), attn.eval()(x))
    # the returned weights are taken before dropout, in training too
    torch.testing.assert_close(attn.train()(x, return_attn=True)[1], eval_w)


def test_bad_input():
    attn = make(ctx=8)
    with pytest.raises(
        ValueError, match="sequence of 9 tokens is longer than the context length 8"
    ):
        attn(torch.randn(1, 9, 12, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expects \(batch, tokens, 12\), got \(9, 12\)"):
        attn(torch.randn(9, 12, dtype=torch.float64))
    with pytest.raises(ValueError, match="d_out=10 is not divisible by n_head=4"):
        MultiHeadAttention(12, 10, 8, 4)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got -0.5"):
        MultiHeadAttention(12, 16, 8, 4, dropout=-0.5)


@pytest.mark.parametrize("fast", [True, False])
def test_kv_cache_in_chunks_equals_one_pass(fast):
    from llmcourse.attention import KVCache

    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 16, context_length=12, n_head=4, qkv_bias=True, fast=fast).eval()
    x = torch.randn(2, 10, 16)
    cache = KVCache(1)
    parts = [mha(x[:, a:b], cache=cache.layers[0]) for a, b in ((0, 4), (4, 5), (5, 10))]
    torch.testing.assert_close(torch.cat(parts, dim=1), mha(x), atol=1e-6, rtol=1e-5)
    assert len(cache) == 10 and cache.layers[0].keys.shape == (2, 4, 10, 4)
    with pytest.raises(
        ValueError, match="sequence of 13 tokens is longer than the context length 12"
    ):
        mha(x[:, :3], cache=cache.layers[0])
    cache.reset()
    assert len(cache) == 0
