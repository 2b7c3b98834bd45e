"""llmcourse.viz.attention: the attention explorer, the step view and the live explorer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmcourse import viz
from llmcourse.config import GPTConfig
from llmcourse.model import GPTModel


def random_weights(n_layer=2, n_head=3, n=5, seed=0) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n_layer, n_head, n, n, generator=g, dtype=torch.float64)
    scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=-1).numpy()


TOKENS = ["The", " whale", " <b>", "$5", " ship"]


# ----------------------------------------------------------------------------- explorer
def test_explorer_one_trace_per_layer_and_head_and_a_slider():
    w = random_weights()
    fig = viz.attention_explorer(w, TOKENS, title="t")
    assert len(fig.data) == 6
    assert [t.visible for t in fig.data] == [True] + [False] * 5
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["L0·H0", "L0·H1", "L0·H2", "L1·H0", "L1·H1", "L1·H2"]
    for k, step in enumerate(steps):
        assert step.args[0]["visible"] == [j == k for j in range(6)]
    assert steps[4].args[1]["title.text"] == "t — layer 1, head 1"
    assert fig.layout.title.text == "t — layer 0, head 0"


def test_explorer_values_are_rounded_and_the_future_is_blank():
    w = random_weights()
    fig = viz.attention_explorer(w, TOKENS)
    z = fig.data[4].z  # layer 1, head 1
    for i in range(5):
        for j in range(5):
            if j > i:
                assert z[i][j] is None
            else:
                assert z[i][j] == round(float(w[1, 1, i, j]), 3)
    # noise below the rounding does not change the stored figure
    noisy = w + 1e-9
    assert viz.figure_html(viz.attention_explorer(noisy, TOKENS)) == viz.figure_html(fig)


def test_explorer_labels_show_tokens_escaped_and_distinct_positions():
    fig = viz.attention_explorer(random_weights(), TOKENS)
    assert list(fig.layout.xaxis.ticktext) == ["The", "·whale", "·&lt;b&gt;", "&#36;5", "·ship"]
    assert list(fig.layout.xaxis.tickvals) == [0, 1, 2, 3, 4]
    assert fig.data[0].customdata[3][1] == ["&#36;5", "·whale"]  # query 3, key 1
    assert fig.layout.yaxis.autorange == "reversed"


def test_explorer_shows_values_in_cells_only_for_short_texts():
    assert viz.attention_explorer(random_weights(n=5), TOKENS).data[0].texttemplate == "%{z}"
    long = random_weights(n=20)
    assert viz.attention_explorer(long, [str(i) for i in range(20)]).data[0].texttemplate is None


def test_explorer_bad_input():
    with pytest.raises(ValueError, match=r"\(n_layer, n_head, tokens, tokens\), got \(3, 5, 5\)"):
        viz.attention_explorer(np.zeros((3, 5, 5)), TOKENS)
    with pytest.raises(ValueError, match="got 4 tokens for weights over 5"):
        viz.attention_explorer(random_weights(), TOKENS[:4])
    with pytest.raises(ValueError, match="each in \\[0, 1\\] .a softmax., got values from -"):
        viz.attention_explorer(-random_weights(), TOKENS)  # scores, not weights
    bad = random_weights()
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(ValueError, match="needs finite weights"):
        viz.attention_explorer(bad, TOKENS)
    with pytest.raises(TypeError, match="show_values must be True or False, got int 1"):
        viz.attention_explorer(random_weights(), TOKENS, show_values=1)


def test_model_attention_is_the_models_weights_in_eval_mode():
    cfg = GPTConfig.preset("tiny", dropout=0.3)
    model = GPTModel(cfg).train()
    ids = [5, 7, 9, 11]
    w = viz.model_attention(model, ids)
    assert model.training  # restored
    assert w.shape == (cfg.n_layer, cfg.n_head, 4, 4) and w.dtype == np.float32
    with torch.no_grad():
        expected = model.eval().attention_weights(torch.tensor([ids]))[:, 0].numpy()
    np.testing.assert_allclose(w, expected)
    assert viz.model_attention(model.double(), ids).dtype == np.float64


def test_model_attention_checks_the_ids():
    model = GPTModel(GPTConfig.preset("tiny"))
    with pytest.raises(ValueError, match=r"ids\[1\] is id 512, outside \[0, 512\)"):
        viz.model_attention(model, [1, 512])
    with pytest.raises(ValueError, match=r"ids\[0\] is id -1"):
        viz.model_attention(model, [-1, 2])
    with pytest.raises(TypeError, match=r"ids\[0\] must be an int token id, got float 1.5"):
        viz.model_attention(model, [1.5, 2])
    with pytest.raises(TypeError, match=r"ids\[1\] must be an int token id, got bool True"):
        viz.model_attention(model, [1, True])
    with pytest.raises(TypeError, match="ids must hold integer token ids, got a torch.float32"):
        viz.model_attention(model, torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"one non-empty sequence of token ids, got \(1, 2\)"):
        viz.model_attention(model, torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=r"one non-empty sequence of token ids, got \(0,\)"):
        viz.model_attention(model, [])
    with pytest.raises(TypeError, match="model must have attention_weights"):
        viz.model_attention(torch.nn.Linear(2, 2), [1])


def test_live_attention_renders_and_cuts_to_the_context():
    cfg = GPTConfig.preset("tiny", context_length=6)
    model = GPTModel(cfg)

    def tokenize(text):
        return [(c, ord(c) % cfg.vocab_size) for c in text]

    widget = viz.live_attention(model, tokenize, value="abc")
    text, out = widget.children
    html = out.outputs[0]["data"]["text/html"]
    assert "plotly-graph-div" in html and "your text" in html
    text.value = "abcdefghij"  # 10 characters, context 6
    data = out.outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"]
    assert len(data) == cfg.n_layer * cfg.n_head
    assert len(data[0]["z"]) == 6
    text.value = ""
    assert out.outputs == ()
    with pytest.raises(ValueError, match="max_tokens must be an int >= 1, got 0"):
        viz.live_attention(model, tokenize, max_tokens=0)
    with pytest.raises(TypeError, match="tokenize must be a function"):
        viz.live_attention(model, "abc")


# ----------------------------------------------------------------------------- step view
def test_attention_steps_values():
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(6, 6, generator=g)
    steps = viz.attention_steps(scores, dropout=0.5, seed=3)
    assert list(steps) == ["scores", "masked", "softmax", "dropout"]
    future = torch.ones(6, 6, dtype=torch.bool).triu(1)
    assert torch.all(steps["masked"][future] == -math.inf)
    torch.testing.assert_close(steps["masked"][~future], scores.double()[~future])
    torch.testing.assert_close(steps["softmax"].sum(-1), torch.ones(6, dtype=torch.float64))
    assert torch.all(steps["softmax"][future] == 0)
    d, s = steps["dropout"], steps["softmax"]
    kept = d != 0
    torch.testing.assert_close(d[kept], 2 * s[kept])  # survivors scaled by 1 / (1 - p)
    assert 0 < int((~kept & ~future).sum()) < 21  # some, not all, visible weights dropped
    assert torch.equal(viz.attention_steps(scores, 0.5, seed=3)["dropout"], d)  # seeded
    assert torch.equal(viz.attention_steps(scores, 0.0)["dropout"], s)


def test_attention_step_view_has_four_steps():
    scores = torch.randn(5, 5, generator=torch.Generator().manual_seed(2))
    fig = viz.attention_step_view(scores, TOKENS, dropout=0.2)
    assert len(fig.data) == 4
    assert [s.label for s in fig.layout.sliders[0].steps] == [
        "1 scores",
        "2 mask",
        "3 softmax",
        "4 dropout 0.2",
    ]
    assert fig.data[1].z[0][4] is None and fig.data[0].z[0][4] is not None
    assert fig.data[2].colorscale != fig.data[0].colorscale
    steps = viz.attention_steps(scores, 0.2)
    assert fig.data[2].z[3][1] == round(float(steps["softmax"][3, 1]), 3)


def test_step_bad_input():
    with pytest.raises(ValueError, match=r"square scores \(tokens, tokens\), got \(2, 3\)"):
        viz.attention_steps(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        viz.attention_steps(torch.zeros(3, 3), dropout=1.0)
    with pytest.raises(ValueError, match="dropout must be a finite number, got nan"):
        viz.attention_steps(torch.zeros(3, 3), dropout=float("nan"))
    with pytest.raises(TypeError, match="dropout must be a number, got bool True"):
        viz.attention_steps(torch.zeros(3, 3), dropout=True)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        viz.attention_steps(torch.zeros(3, 3), seed=-1)
    with pytest.raises(ValueError, match=r"scores must be finite floating-point numbers"):
        viz.attention_steps(torch.tensor([[0.0, float("nan")], [0.0, 0.0]]))
    with pytest.raises(TypeError, match=r"scores must be a tensor \(tokens, tokens\), got list"):
        viz.attention_steps([[0.0]])
    with pytest.raises(ValueError, match="got 2 tokens for scores over 3"):
        viz.attention_step_view(torch.zeros(3, 3), ["a", "b"])
