"""llmcourse.attention: causal multi-head attention, explicit and fast paths, against a
head-by-head reference written here."""

import math

import pytest
import torch

from llmcourse.attention import KVCache, MultiHeadAttention, causal_mask
from llmcourse.config import GPTConfig


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


def test_causal_mask_is_true_where_a_query_may_attend():
    m = causal_mask(4)
    assert m.dtype == torch.bool
    assert m.tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]
    # two new queries after three cached keys: they see everything up to themselves
    assert causal_mask(2, n_keys=5).tolist() == [
        [True, True, True, True, False],
        [True, True, True, True, True],
    ]
    # the same convention as scaled_dot_product_attention's attn_mask
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 2, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(
        torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(5)),
        torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
    )
    with pytest.raises(ValueError, match="n_keys must be an int >= 3, got 2"):
        causal_mask(3, n_keys=2)
    with pytest.raises(TypeError, match="n_tokens must be an int, got bool True"):
        causal_mask(True)


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


@pytest.mark.parametrize("fast", [True, False])
def test_weights_are_causal_rows_of_a_softmax(fast):
    attn = make(fast=fast)  # attention_weights is the explicit formula on either path
    x = torch.randn(2, 6, 12, dtype=torch.float64)
    w = attn.attention_weights(x)
    assert isinstance(attn(x), torch.Tensor) and w.shape == (2, 4, 6, 6)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 6, dtype=torch.float64))
    assert torch.all(w.masked_select(~causal_mask(6)) == 0)
    assert torch.all(w[..., 0, 0] == 1)  # the first token can only look at itself
    # the weights are the ones forward averages the values with: redo the output from them
    _, _, v = attn.project(x)
    context = (w @ v).transpose(1, 2).reshape(2, 6, 16)
    torch.testing.assert_close(attn.out_proj(context), attn(x))


def test_attention_weights_with_a_cache_read_it_without_adding():
    attn = make(ctx=12)
    x = torch.randn(2, 9, 12, dtype=torch.float64)
    full = attn.attention_weights(x)
    cache = KVCache(1)
    attn(x[:, :6], cache=cache.layers[0])
    w = attn.attention_weights(x[:, 6:], cache=cache.layers[0])
    assert w.shape == (2, 4, 3, 9) and len(cache) == 6  # the cache is unchanged
    torch.testing.assert_close(w, full[:, :, 6:])


def test_forward_returns_only_the_output():
    attn = make()
    with pytest.raises(TypeError, match="return_attn"):
        attn(torch.randn(1, 3, 12, dtype=torch.float64), return_attn=True)


def test_from_config_builds_a_blocks_attention():
    cfg = GPTConfig.preset("tiny", dropout=0.25, fast_attention=False, qkv_bias=False)
    attn = MultiHeadAttention.from_config(cfg)
    assert (attn.d_in, attn.d_out, attn.n_head, attn.context_length) == (64, 64, 4, 64)
    assert attn.dropout.p == 0.25 and not attn.fast and attn.fused_qkv
    assert attn.qkv.bias is None
    assert MultiHeadAttention.from_config(cfg.replace(qkv_bias=True)).qkv.bias is not None
    with pytest.raises(TypeError, match="cfg must be a GPTConfig, got dict"):
        MultiHeadAttention.from_config({"n_embd": 64})


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
    eval_w = attn.attention_weights(x)
    attn.train()
    torch.manual_seed(1)
    assert not torch.allclose(attn(x), attn.eval()(x))
    # the returned weights are taken before dropout, in training too; the mode is kept
    torch.testing.assert_close(attn.train().attention_weights(x), eval_w)
    assert attn.training


def test_bad_input():
    attn = make(ctx=8)
    with pytest.raises(
        ValueError, match="sequence of 9 tokens is longer than the context length 8"
    ):
        attn(torch.randn(1, 9, 12, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expects \(batch, tokens, 12\), got \(9, 12\)"):
        attn(torch.randn(9, 12, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got torch.int64"):
        attn(torch.zeros(1, 3, 12, dtype=torch.long))
    with pytest.raises(TypeError, match=r"x must be a tensor \(batch, tokens, 12\), got list"):
        attn.attention_weights([[0.0] * 12])
    with pytest.raises(TypeError, match="cache must be a LayerCache .* got KVCache"):
        attn(torch.randn(1, 3, 12, dtype=torch.float64), cache=KVCache(1))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_head": 0}, ValueError, "n_head must be an int >= 1, got 0"),
        ({"n_head": True}, TypeError, "n_head must be an int, got bool True"),
        ({"d_out": 10}, ValueError, "d_out=10 is not divisible by n_head=4"),
        ({"d_in": 0}, ValueError, "d_in must be an int >= 1, got 0"),
        ({"d_in": 12.0}, TypeError, "d_in must be an int, got float 12.0"),
        ({"context_length": 0}, ValueError, "context_length must be an int >= 1, got 0"),
        ({"dropout": -0.5}, ValueError, r"dropout must be in \[0, 1\), got -0.5"),
        ({"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\), got 1.0"),
        ({"dropout": float("nan")}, ValueError, "dropout must be a finite number, got nan"),
        ({"dropout": "0.1"}, TypeError, "dropout must be a number, got str"),
        ({"qkv_bias": 1}, TypeError, "qkv_bias must be True or False, got int 1"),
        ({"fast": "yes"}, TypeError, "fast must be True or False, got str 'yes'"),
        ({"fused_qkv": None}, TypeError, "fused_qkv must be True or False, got NoneType"),
    ],
)
def test_constructor_arguments_are_checked(kwargs, error, match):
    args = {"d_in": 12, "d_out": 16, "context_length": 8, "n_head": 4, **kwargs}
    with pytest.raises(error, match=match):
        MultiHeadAttention(**args)


def test_kv_cache_of_another_batch_is_refused_before_it_changes():
    attn = make(ctx=12)
    cache = KVCache(1)
    attn(torch.randn(2, 3, 12, dtype=torch.float64), cache=cache.layers[0])
    with pytest.raises(ValueError, match="the cache holds a batch of 2 sequences, x has 1"):
        attn(torch.randn(1, 1, 12, dtype=torch.float64), cache=cache.layers[0])
    assert len(cache) == 3
    with pytest.raises(ValueError, match="n_layer must be an int >= 1, got 0"):
        KVCache(0)


@pytest.mark.parametrize("fast", [True, False])
def test_kv_cache_in_chunks_equals_one_pass(fast):
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
    assert len(cache) == 10  # the refused tokens were not added
    cache.reset()
    assert len(cache) == 0
