"""How llmcourse.viz lays its figures out: the theme's title and legend, the header that
``fit_header`` reserves above the plot for titles, subplot titles and controls, and the layout
fixes of single figures (no fixed width, axes that span their data, labels that are not cut)."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest
import torch

from llmcourse import viz
from llmcourse.viz import render, theme


@pytest.fixture(autouse=True)
def course_theme():
    """Build every figure with the course's template, as the book does (``viz.setup``)."""
    import plotly.io as pio

    before = pio.templates.default
    theme.register(default=True)
    yield
    pio.templates.default = before


def words(text: str) -> list[tuple[str, int]]:
    return [(w, 1000 + k) for k, w in enumerate(text.split(" "))]


def neighbours(queries: list[str], k: int = 8) -> dict:
    return {
        view: {q: [(f"{q}{i}", round(0.9 - 0.05 * i, 2)) for i in range(k)] for q in queries}
        for view in ("random", "trained")
    }


def controls(fig: go.Figure) -> list:
    return [*fig.layout.updatemenus, *fig.layout.sliders]


def figures_with_controls() -> dict[str, go.Figure]:
    torch.manual_seed(0)
    scores = torch.randn(4, 4)
    vectors = {"a": torch.randn(6, 5), "b": torch.randn(6, 5)}
    examples = [(f"message {k}", ["Free", " cash", "!"], [0.2, 0.5, 0.1 * k]) for k in range(5)]
    return {
        "bpe_merge_stepper": viz.bpe_merge_stepper(
            [("start", list("abab")), ("a b", ["ab", "ab"])], title="BPE"
        ),
        "sliding_window_explorer": viz.sliding_window_explorer(
            words("one two three four five six seven eight nine ten"), [(2, 1), (4, 2)], title="W"
        ),
        "embedding_explorer": viz.embedding_explorer(vectors, list("uvwxyz"), title="E"),
        "neighbour_bars": viz.neighbour_bars(neighbours([f"w{i}" for i in range(10)])),
        "attention_explorer": viz.attention_explorer(
            torch.softmax(torch.randn(2, 2, 4, 4), -1), list("abcd"), title="A"
        ),
        "attention_step_view": viz.attention_step_view(scores, list("abcd"), title="S"),
        "activation_plot": viz.activation_plot({"ReLU": torch.relu}, title="ReLU"),
        "sampling_explorer": viz.sampling_explorer(
            torch.randn(30), [f"t{i}" for i in range(30)], show=10, title="T"
        ),
        "position_explorer": viz.position_explorer(examples, title="P(spam)"),
    }


# ----------------------------------------------------------------------------- the theme
def test_theme_hangs_the_title_from_the_top_and_stands_the_legend_on_the_bottom():
    layout = theme.course_template().layout
    title, legend = layout.title, layout.legend
    # the title: from the figure's top edge, under the toolbar, drawn where plotly is told
    assert (title.yref, title.y, title.yanchor) == ("container", 1, "top")
    assert title.pad.t == theme.TITLE_PAD_TOP and title.automargin is False
    assert (title.xref, title.x, title.xanchor) == ("container", 0, "left")
    # the default top margin holds one line of title
    assert layout.margin.t == theme.TITLE_PAD_TOP + theme.TITLE_LINE_PX + theme.TITLE_GAP
    # the legend: against the figure's bottom edge, its height added to the bottom margin,
    # so it never lies over the x axis's tick labels or title
    assert (legend.yref, legend.y, legend.yanchor, legend.orientation) == (
        "container",
        0,
        "bottom",
        "h",
    )


def test_no_figure_overrides_the_theme_legend():
    sizes = {"a": {"tied": 10, "untied": 20}, "b": {"tied": 30, "untied": 40}}
    fig = viz.model_size_bars(sizes, title="sizes")
    assert fig.layout.legend.y is None and fig.layout.legend.yref is None


# ----------------------------------------------------------------------------- the header
def test_header_height_stacks_the_title_lines_subplot_titles_and_controls():
    pad, line, gap = theme.TITLE_PAD_TOP, theme.TITLE_LINE_PX, theme.TITLE_GAP
    assert render.header_height(1) == pad + line + gap
    assert render.header_height(2) == pad + 2 * line + gap
    assert render.header_height(0, rows=44) == pad + 44
    assert render.header_height(1, notes=True, rows=44) == pad + line + gap + 28 + 44


@pytest.mark.parametrize("name", list(figures_with_controls()))
def test_every_control_stands_on_the_plot_in_a_row_the_top_margin_keeps(name):
    fig = figures_with_controls()[name]
    layout = fig.layout
    assert controls(fig), name
    rows = sum(
        render.MENU_ROW_PX if isinstance(c, go.layout.Updatemenu) else render.SLIDER_ROW_PX
        for c in controls(fig)
    )
    notes = any(a.yanchor == "bottom" and a.y >= 1 for a in layout.annotations)
    lines = render.title_lines(layout.to_plotly_json())
    for control in controls(fig):
        # at the plot's left edge, standing on its top edge: inside [0, 1] across
        assert (control.x, control.xanchor, control.y, control.yanchor) == (0, "left", 1, "bottom")
        # below the title's band: what stands under the control is less than the rows kept
        assert control.pad.b < rows + (render.NOTE_ROW_PX if notes else 0)
    assert layout.margin.t == render.header_height(lines, notes, rows)
    # the title's band holds its longest state: a title a control sets has as many lines
    assert layout.margin.t >= theme.TITLE_PAD_TOP + lines * theme.TITLE_LINE_PX + rows


def test_controls_stand_above_the_subplot_titles():
    fig = viz.neighbour_bars(neighbours(["a", "b"]))
    (menu,) = fig.layout.updatemenus
    assert menu.pad.b >= render.NOTE_ROW_PX  # the subplot titles stand under it
    assert fig.layout.margin.t == render.header_height(1, notes=True, rows=render.MENU_ROW_PX)


def test_a_dropdown_has_room_for_all_its_entries_below_the_header():
    for queries in (2, 10, 16):
        fig = viz.neighbour_bars(neighbours([f"w{i}" for i in range(queries)], k=4))
        (menu,) = fig.layout.updatemenus
        assert menu.type == "dropdown" and len(menu.buttons) == queries
        # the entries open down from the plot's top edge (less the subplot titles' row)
        reach = queries * render.DROPDOWN_ENTRY_PX - render.NOTE_ROW_PX
        assert fig.layout.height >= fig.layout.margin.t + reach


def test_the_figure_grows_by_the_control_rows_and_so_does_each_steps_height():
    tokens = words("one two three four five six seven eight nine ten eleven twelve")
    fig = viz.sliding_window_explorer(tokens, [(2, 1), (8, 2)], title="W")
    steps = fig.layout.sliders[0].steps
    heights = [s.args[1]["height"] for s in steps]
    assert fig.layout.height == heights[0]
    # each step's height: its block of boxes (30 px a line) under the header, which now holds
    # the slider row as well
    top = fig.layout.margin.t
    assert top == render.header_height(2, rows=render.SLIDER_ROW_PX)
    for step, height in zip(steps, heights):
        lines = -step.args[1]["yaxis.range"][1] + step.args[1]["yaxis.range"][0]
        assert height == pytest.approx(top + 20 + 30 * (lines + 0.3 - 0.6), abs=1)


def test_a_control_with_a_single_entry_is_dropped():
    torch.manual_seed(0)
    one = {
        "neighbour_bars": viz.neighbour_bars(neighbours(["whale"])),
        "embedding_explorer": viz.embedding_explorer({"a": torch.randn(4, 3)}, list("abcd")),
        "position_explorer": viz.position_explorer([("only", ["a", "b"], [0.1, 0.9])]),
        "sampling_explorer": viz.sampling_explorer(
            torch.randn(8), list("abcdefgh"), (1.0,), 2, 0.9, 5
        ),
        "attention_explorer": viz.attention_explorer(
            torch.softmax(torch.randn(1, 1, 3, 3), -1), list("abc")
        ),
        "bpe_merge_stepper": viz.bpe_merge_stepper([("start", ["a", "b"])]),
    }
    for name, fig in one.items():
        assert controls(fig) == [], name
        # and no row is kept for it
        lines = render.title_lines(fig.layout.to_plotly_json())
        notes = any(a.yanchor == "bottom" and a.y >= 1 for a in fig.layout.annotations)
        if lines or notes:
            assert fig.layout.margin.t == render.header_height(lines, notes), name


def test_multi_line_titles_are_drawn_lower_by_plotlys_shift():
    fig = viz.position_explorer([("a", ["x", "y"], [0.4, 0.6]), ("b", ["x"], [0.2])], title="P")
    assert render.title_lines(fig.layout.to_plotly_json()) == 2  # title<br><sub>verdict</sub>
    assert fig.layout.title.pad.t == theme.TITLE_PAD_TOP + theme.MULTILINE_SHIFT
    one = viz.lr_schedule(lambda s: 0.1, 5, title="one line")
    assert one.layout.title.pad.t is None  # the theme's


# ----------------------------------------------------------------------------- single figures
def test_confusion_matrix_takes_its_cells_width():
    fig = viz.confusion_matrix([0, 1, 1], [0, 1, 0], title="T")
    assert fig.layout.width is None


def test_singular_value_axis_spans_the_data_and_the_rank_mark_stands_at_its_rank():
    values = {"w": [float(192 - i) for i in range(192)], "v": [1.0] * 64}
    fig = viz.singular_value_plot(values, rank_marks=[8])
    axis = fig.layout.xaxis
    assert axis.type == "log"
    assert list(axis.range) == pytest.approx([0.0, math.log10(192)])  # 1 .. 192 directions
    assert all(1 <= t <= 192 for t in axis.tickvals) and max(axis.tickvals) == 128
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 8  # a shape's x is data on a log axis
    (note,) = fig.layout.annotations
    assert note.text == "r = 8" and note.x == pytest.approx(math.log10(8))  # an annotation's: log10
    assert 0 <= note.x <= axis.range[1]
    with pytest.raises(ValueError, match="at least one singular value"):
        viz.singular_value_plot({"w": []})


def test_percent_bars_write_every_value_in_one_size_and_never_clip_it():
    fig = viz.exact_match_bars(
        {"before": {"add": 0.0, "count": 1.0}, "after": {"add": 0.5, "count": 0.97}}, title="T"
    )
    sizes = {trace.textfont.size for trace in fig.data}
    assert sizes == {11}
    for trace in fig.data:
        assert trace.constraintext == "none" and trace.cliponaxis is False
        assert trace.textangle == 0
    assert fig.layout.yaxis.range[1] > 1  # room above a 100 % bar for its label


def test_loss_curves_epoch_ticks_are_short_and_level():
    history = {
        "tokens_seen": [0, 400_000, 800_000, 1_200_000],
        "train_loss": [6, 5, 4, 3],
        "val_loss": [6, 5.5, 5, 5],
    }
    fig = viz.loss_curves(history, epoch_tokens=265_191)
    assert list(fig.layout.xaxis.ticktext) == [
        "0<br>epoch 0",
        "265k<br>epoch 1",
        "530k<br>epoch 2",
        "796k<br>epoch 3",
        "1.06M<br>epoch 4",
    ]
    assert fig.layout.xaxis.tickangle == 0


def test_sampling_explorer_note_stands_inside_the_plot():
    fig = viz.sampling_explorer(torch.randn(12), list("abcdefghijkl"), show=8, title="T")
    (note,) = fig.layout.annotations
    assert (note.y, note.yanchor, note.yref) == (1, "top", "paper")  # under the plot's top edge
