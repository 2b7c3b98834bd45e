"""llmcourse.viz.data: the sliding-window explorer draws exactly the dataset's windows."""

import pytest

from llmcourse import viz
from llmcourse.data import SlidingWindowDataset, count_windows
from llmcourse.viz.tokens import show_piece

PIECES = [
    "Call",
    " me",
    " Ish",
    "mael",
    ".",
    " Some",
    " years",
    " ago",
    "—",
    "never",
    " mind",
    " how",
    " long",
    " precisely",
    "—",
    "having",
    " little",
    " or",
    " no",
    " money",
]
TOKENS = [(p, 1000 + k) for k, p in enumerate(PIECES)]
SETTINGS = [(4, 1), (4, 2), (4, 8), (8, 4)]


def traces_of(fig, step):
    """The traces the slider shows at ``step``."""
    visible = fig.layout.sliders[0].steps[step].args[0]["visible"]
    return [t for t, v in zip(fig.data, visible) if v]


def test_one_slider_step_per_setting_showing_five_traces():
    fig = viz.sliding_window_explorer(TOKENS, SETTINGS)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["4/1", "4/2", "4/8", "8/4"]
    assert len(fig.data) == 5 * len(SETTINGS)
    shown = [traces_of(fig, k) for k in range(len(SETTINGS))]
    assert all(len(group) == 5 for group in shown)
    assert len({id(t) for group in shown for t in group}) == len(fig.data)  # no trace shared
    assert [t.visible for t in fig.data[:5]] == [True] * 5 and not any(
        t.visible for t in fig.data[5:]
    )
    for step, (m, s) in zip(steps, SETTINGS):
        assert f"<b>{count_windows(len(TOKENS), m, s)} windows</b>" in step.args[1]["title.text"]
        assert f"max_length={m}, stride={s}" in step.args[1]["title.text"]


@pytest.mark.parametrize("step", range(len(SETTINGS)))
def test_bars_cover_the_windows_inputs_and_targets(step):
    m, s = SETTINGS[step]
    fig = viz.sliding_window_explorer(TOKENS, SETTINGS, line_width=400)  # everything on one line
    text, inputs, targets, _, _ = traces_of(fig, step)
    left = list(text.base)
    right = [b + w for b, w in zip(text.base, text.x)]
    windows = SlidingWindowDataset([i for _, i in TOKENS], m, s)
    assert len(inputs.base) == len(targets.base) == len(windows)
    for k, bar in enumerate(zip(inputs.base, inputs.x, targets.base, targets.x)):
        in_base, in_width, out_base, out_width = bar
        start = k * s
        assert in_base == left[start] and in_base + in_width == pytest.approx(right[start + m - 1])
        assert out_base == left[start + 1] and out_base + out_width == pytest.approx(
            right[start + m]
        )
        assert inputs.hovertext[k].startswith(f"window {k}: input = tokens {start}–{start + m - 1}")
        assert targets.hovertext[k].startswith(
            f"window {k}: target = tokens {start + 1}–{start + m}"
        )
    # tokens no window touches are grey; the others keep their colour
    used = {i for k in range(len(windows)) for i in range(k * s, k * s + m + 1)}
    grey = [i for i, c in enumerate(text.marker.color) if c == "#e4e4e4"]
    assert grey == [i for i in range(len(TOKENS)) if i not in used]


def test_stride_beyond_max_length_leaves_tokens_out():
    fig = viz.sliding_window_explorer(TOKENS, [(4, 8)], detail=0)
    text, _, _ = fig.data
    assert "input of 0 window(s), target of 0" in text.hovertext[6]
    assert "input of 1 window(s), target of 1" in text.hovertext[9]
    assert "10 of 20 tokens used" in fig.layout.title.text


def test_detail_rows_spell_out_input_and_shifted_target():
    fig = viz.sliding_window_explorer(TOKENS, [(8, 4)], detail=2, line_width=400)
    _, _, _, x_row, y_row = fig.data
    assert len(x_row.text) == len(y_row.text) == 16
    for k in range(2):
        xs = list(x_row.text[8 * k : 8 * k + 8])
        ys = list(y_row.text[8 * k : 8 * k + 8])
        assert xs == [show_piece(p) for p in PIECES[4 * k : 4 * k + 8]]
        assert ys == [show_piece(p) for p in PIECES[4 * k + 1 : 4 * k + 9]]
    assert list(x_row.base) == list(y_row.base)  # input i sits right above target i
    assert all(y == x + 1 for x, y in zip(x_row.y, y_row.y))
    notes = [a.text for a in fig.layout.annotations]
    assert "<b>window 1</b> · inputs x = tokens 4–11, targets y = tokens 5–12" in notes


def test_layout_changes_with_the_slider():
    fig = viz.sliding_window_explorer(TOKENS, SETTINGS)
    layouts = [s.args[1] for s in fig.layout.sliders[0].steps]
    assert layouts[0]["height"] == fig.layout.height
    assert layouts[2]["height"] < layouts[0]["height"]  # 4/8: one lane of bars; 4/1: five
    assert all(isinstance(lay["annotations"], list) and lay["annotations"] for lay in layouts)


def test_html_is_deterministic():
    a = viz.figure_html(viz.sliding_window_explorer(TOKENS, SETTINGS, title="t"))
    b = viz.figure_html(viz.sliding_window_explorer(TOKENS, SETTINGS, title="t"))
    assert a == b


def test_bad_input():
    with pytest.raises(ValueError, match="settings"):
        viz.sliding_window_explorer(TOKENS, [])
    with pytest.raises(
        ValueError, match="the text has 20 tokens, but one window with max_length=20"
    ):
        viz.sliding_window_explorer(TOKENS, [(4, 1), (20, 1)])
    with pytest.raises(ValueError, match="stride must be a positive int"):
        viz.sliding_window_explorer(TOKENS, [(4, 0)])
    with pytest.raises(TypeError, match=r"\(piece, id\)"):
        viz.sliding_window_explorer(PIECES, [(4, 1)])
    with pytest.raises(ValueError, match="line_width >= 16"):
        viz.sliding_window_explorer(TOKENS, [(4, 1)], line_width=8)
