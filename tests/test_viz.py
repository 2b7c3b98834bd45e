"""Tests for llmcourse.viz: the book renderer and the token figures."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from llmcourse import viz

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_renderer():
    """Put plotly's default renderer and template back after a test that calls setup()."""
    before = pio.renderers.default, pio.templates.default
    yield
    pio.renderers.default, pio.templates.default = before


def chars(text: str) -> list[tuple[str, int]]:
    return [(c, ord(c)) for c in text]


def words(text: str) -> list[tuple[str, int]]:
    pieces = re.findall(r" ?\w+| ?[^\w\s]+|\s+", text)
    return [(p, 1000 + k) for k, p in enumerate(pieces)]


def sample_figure(scale: float = 1.0) -> go.Figure:
    x = np.linspace(0.0, 1.0, 7)
    return go.Figure(go.Scatter(x=x, y=np.sin(x) * scale, name="sin"), layout={"title": "t"})


# ----------------------------------------------------------------------------- renderer
def test_same_figure_gives_identical_html():
    a = viz.BookRenderer().to_mimebundle(sample_figure().to_dict())
    b = viz.BookRenderer().to_mimebundle(sample_figure().to_dict())
    assert a["text/html"] == b["text/html"]
    assert viz.figure_html(sample_figure()) == viz.figure_html(sample_figure())


def test_different_figures_get_different_ids():
    ids = {
        re.search(r'id="(llmc-[0-9a-f]+)"', viz.figure_html(sample_figure(s))).group(1)
        for s in (1.0, 2.0, 3.0)
    }
    assert len(ids) == 3


def test_figure_shown_twice_gets_a_second_id():
    renderer = viz.BookRenderer()
    first = renderer.to_mimebundle(sample_figure().to_dict())["text/html"]
    second = renderer.to_mimebundle(sample_figure().to_dict())["text/html"]
    id1 = re.search(r'id="([^"]+)"', first).group(1)
    id2 = re.search(r'id="([^"]+)"', second).group(1)
    assert id2 == id1 + "-2"


@pytest.mark.slow
def test_html_is_identical_across_processes():
    code = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.test_viz import sample_figure; from llmcourse import viz;"
        "print(hashlib.sha256(viz.figure_html(sample_figure()).encode()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "random", "PATH": ""},
    ).stdout.strip()
    assert out == hashlib.sha256(viz.figure_html(sample_figure()).encode()).hexdigest()


def figure_spec(html: str) -> tuple[str, str, dict]:
    """(div id, script target, parsed JSON) of figure_html's output; asserts its shape."""
    match = re.fullmatch(
        r'<div id="([^"]+)" class="plotly-graph-div llmc-figure" style="height:(\d+)px; '
        r'width:100%;"></div><script type="application/vnd.llmcourse.figure\+json" '
        r'data-target="([^"]+)">(.*)</script>',
        html,
        flags=re.DOTALL,
    )
    assert match, html[:300]
    return match.group(1), match.group(3), json.loads(match.group(4)) | {"px": match.group(2)}


def test_html_is_data_for_the_site_and_needs_no_network():
    html = viz.figure_html(viz.token_explorer({"chars": chars("hi")}))
    assert "src=" not in html and "cdn" not in html.lower() and "https://" not in html
    assert "Plotly" not in html  # no code: the site's figures.js draws it
    div_id, target, spec = figure_spec(html)
    assert div_id == target
    assert spec["config"] == {"responsive": True, "displaylogo": False}
    assert spec["px"] == str(spec["layout"]["height"])  # the page keeps the figure's height
    assert len(html) < 50_000  # no plotly.js inside


def test_html_text_cannot_close_its_script():
    text = "</script><script>alert(1)</script> & <b>"
    fig = go.Figure(go.Bar(x=[text], y=[1]), layout={"title": text})
    html = viz.figure_html(fig)
    body = html[html.index("<script") :]
    assert body.count("</script>") == 1 and body.count("<script") == 1
    assert "&" not in body.split(">", 1)[1]
    _, _, spec = figure_spec(html)
    assert spec["data"][0]["x"] == [text] and spec["layout"]["title"]["text"] == text
    assert spec["px"] == "450"  # plotly's default height when the figure sets none


def test_mimebundle_keys_and_plotly_json():
    fig = sample_figure()
    bundle = viz.BookRenderer().to_mimebundle(fig.to_dict())
    assert set(bundle) == {"text/html", "application/vnd.plotly.v1+json"}
    data = bundle["application/vnd.plotly.v1+json"]
    assert data["config"]["responsive"] is True
    assert data["layout"]["title"]["text"] == "t"
    json.dumps(data)  # JSON-serialisable as stored in a notebook


def test_setup_makes_the_book_renderer_default(restore_renderer, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert viz.setup() == "llmcourse"
    assert pio.renderers.default == "llmcourse"
    bundle = sample_figure()._repr_mimebundle_()
    assert "text/html" in bundle and "application/vnd.plotly.v1+json" in bundle
    assert 'class="plotly-graph-div llmc-figure"' in bundle["text/html"]


def test_setup_makes_the_course_theme_plotlys_default(restore_renderer):
    pio.templates.default = "plotly"
    viz.setup()
    assert pio.templates.default == viz.THEME
    layout = go.Figure(go.Bar(x=[1], y=[2])).to_dict()["layout"]["template"]["layout"]
    assert layout["title"]["x"] == 0 and layout["title"]["xanchor"] == "left"
    # under the toolbar, with the top margin, not plotly's automargin, keeping it off the plot
    assert layout["title"]["automargin"] is False and layout["title"]["pad"]["t"] >= 28
    assert layout["margin"]["t"] >= layout["title"]["pad"]["t"] + viz.theme.TITLE_LINE_PX
    assert layout["legend"]["orientation"] == "h"
    assert layout["colorway"] == viz.theme.COLORWAY


def test_course_template_is_small_and_complete():
    template = viz.theme.course_template().to_plotly_json()
    assert len(json.dumps(template)) < 3_000  # it travels inside every stored figure
    assert set(template["data"]) <= {"bar", "heatmap", "scatter"}
    assert template["layout"]["paper_bgcolor"] == template["layout"]["plot_bgcolor"] == "white"


def test_setup_uses_colab_inside_colab(restore_renderer, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert viz.setup() == "colab"
    assert pio.renderers.default == "colab"


# ----------------------------------------------------------------------------- helpers
def test_show_piece_makes_whitespace_visible():
    assert viz.show_piece(" the\n") == "·the↵"
    assert viz.show_piece("\t") == "→"
    assert viz.show_piece("\x00") == "\\x00"
    assert viz.show_piece("abc") == "abc"


def test_token_colors_cycle_and_neighbours_differ():
    colors = viz.token_colors(20)
    assert len(colors) == 20
    assert colors[: len(viz.PALETTE)] == list(viz.PALETTE)
    assert colors[len(viz.PALETTE)] == viz.PALETTE[0]
    assert all(a != b for a, b in itertools.pairwise(colors))
    with pytest.raises(ValueError, match="n must be an int >= 0, got -1"):
        viz.token_colors(-1)


# ----------------------------------------------------------------------------- token_explorer
TEXT = (
    "Tokenizers split text into pieces; the pieces become ids. <b>$5</b> & more.\n"
    "Der schnelle braune Fuchs springt. 東京は日本の首都です。" * 2
)


def test_token_explorer_boxes_and_hover_match_the_tokens():
    rows = {"characters": chars(TEXT), "words": words(TEXT)}
    fig = viz.token_explorer(rows, title="two tokenizers")
    assert len(fig.data) == 2
    for trace, (name, tokens) in zip(fig.data, rows.items()):
        n = len(tokens)
        assert trace.name == name
        assert list(trace.customdata) == [i for _, i in tokens]
        assert len(trace.x) == len(trace.base) == len(trace.y) == len(trace.text) == n
        for k, ((piece, i), hover) in enumerate(zip(tokens, trace.hovertext)):
            assert f"id {i}<br>token #{k}" in hover
        assert len(trace.marker.color) == n
    labels = [a.text for a in fig.layout.annotations]
    assert labels == [
        f"<b>characters</b> · {len(rows['characters'])} tokens",
        f"<b>words</b> · {len(rows['words'])} tokens",
    ]
    assert fig.layout.title.text == "two tokenizers"


def test_token_explorer_wraps_boxes_without_overlap():
    tokens = words(TEXT * 2)
    width = 40
    trace = viz.token_explorer({"w": tokens}, line_width=width).data[0]
    lines: dict[float, list[tuple[float, float]]] = {}
    for x0, w, y in zip(trace.base, trace.x, trace.y):
        assert 0 <= x0 and x0 + w <= width + 1e-9
        lines.setdefault(y, []).append((x0, x0 + w))
    assert len(lines) > 3  # wrapped to several lines
    for boxes in lines.values():
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(boxes))
    # the blocks of two tokenizers do not share lines
    fig = viz.token_explorer({"a": tokens, "b": tokens}, line_width=width)
    assert max(fig.data[0].y) < min(fig.data[1].y)


def test_token_explorer_escapes_markup_and_dollars():
    trace = viz.token_explorer({"w": [("<b>", 1), ("$5", 2), (" &", 3)]}).data[0]
    assert list(trace.text) == ["&lt;b&gt;", "&#36;5", "·&amp;"]
    assert "'&lt;b&gt;'" in trace.hovertext[0]


def test_token_explorer_wide_characters_take_two_cells():
    trace = viz.token_explorer({"w": [("東京", 1), ("ab", 2)]}).data[0]
    assert trace.x[0] > trace.x[1]


def test_token_explorer_bad_input():
    with pytest.raises(ValueError, match="rows"):
        viz.token_explorer({})
    with pytest.raises(TypeError, match=r"\(piece, id\)"):
        viz.token_explorer({"w": ["a", "b"]})
    with pytest.raises(ValueError, match="line_width >= 8"):
        viz.token_explorer({"w": [("a", 1)]}, line_width=3)


# ----------------------------------------------------------------------------- stepper
def bpe_steps(text: str, merges: int) -> list[tuple[str, list[str]]]:
    """A tiny most-frequent-pair merger, just to make realistic steps for the figure."""
    seq = list(text)
    steps = [("start", list(seq))]
    for _ in range(merges):
        counts: dict[tuple[str, str], int] = {}
        for pair in itertools.pairwise(seq):
            counts[pair] = counts.get(pair, 0) + 1
        a, b = max(counts, key=counts.get)
        out, i = [], 0
        while i < len(seq):
            if i + 1 < len(seq) and (seq[i], seq[i + 1]) == (a, b):
                out.append(a + b)
                i += 2
            else:
                out.append(seq[i])
                i += 1
        seq = out
        steps.append((f"{a!r} + {b!r} → {a + b!r}", list(seq)))
    return steps


def test_stepper_has_one_slider_step_per_merge_step():
    steps = bpe_steps("the theory of the thing, then the rhythm", 6)
    fig = viz.bpe_merge_stepper(steps, title="BPE")
    slider = fig.layout.sliders[0]
    assert len(slider.steps) == len(steps) == len(fig.data)
    assert [t.visible for t in fig.data] == [True] + [False] * (len(steps) - 1)
    for k, ((label, pieces), step) in enumerate(zip(steps, slider.steps)):
        visible, layout = step.args
        assert visible["visible"] == [j == k for j in range(len(steps))]
        assert layout["title.text"].endswith(f"· {len(pieces)} tokens")
        assert len(fig.data[k].x) == len(pieces)
        assert list(fig.data[k].text) == [viz.show_piece(p) for p in pieces]
    assert fig.layout.title.text == f"BPE — start · {len(steps[0][1])} tokens"
    assert "merge 1: " in slider.steps[1].args[1]["title.text"]


def test_stepper_json_stays_small():
    text = ("the theory of the thing, then the rhythm of their thoughts. " * 4)[:200]
    fig = viz.bpe_merge_stepper(bpe_steps(text, 40))
    assert len(fig.data) == 41
    assert len(viz.figure_html(fig)) < 1_000_000


def test_stepper_bad_input():
    with pytest.raises(ValueError, match="steps"):
        viz.bpe_merge_stepper([])


# ----------------------------------------------------------------------------- count bars
def test_token_count_bars_values_equal_the_inputs():
    counts = {
        "gpt2": {"English": 12, "German": 18, "Chinese": 30},
        "chars": {"English": 48, "German": 52, "Chinese": 14},
    }
    n_chars = {"English": 48, "German": 52, "Chinese": 14}
    fig = viz.token_count_bars(counts, chars=n_chars, title="tokens per language")
    assert [t.name for t in fig.data] == ["gpt2", "chars"]
    for trace, per_language in zip(fig.data, counts.values()):
        assert list(trace.x) == ["English", "German", "Chinese"]
        assert list(trace.y) == list(per_language.values())
        assert list(trace.customdata) == [
            round(n_chars[lang] / v, 2) for lang, v in per_language.items()
        ]
    assert fig.layout.barmode == "group"


def test_token_count_bars_without_chars_and_missing_language():
    fig = viz.token_count_bars({"a": {"English": 3}, "b": {"German": 4}})
    assert list(fig.data[0].x) == ["English", "German"]
    assert list(fig.data[0].y) == [3, None]
    assert fig.data[0].customdata is None


def test_token_count_bars_bad_input():
    with pytest.raises(ValueError, match="counts"):
        viz.token_count_bars({})
    with pytest.raises(ValueError, match="German"):
        viz.token_count_bars({"a": {"English": 3, "German": 4}}, chars={"English": 10})


# ----------------------------------------------------------------------------- live widget
def shown_ids(widget) -> list[list[int]]:
    (output,) = widget.children[1].outputs
    fig = output["data"]["application/vnd.plotly.v1+json"]
    return [list(trace["customdata"]) for trace in fig["data"]]


def test_live_tokenizer_renders_at_once_and_on_change():
    widget = viz.live_tokenizer({"chars": chars, "words": words}, value="hi there")
    text, out = widget.children
    assert text.value == "hi there"
    assert shown_ids(widget) == [[i for _, i in chars("hi there")], [1000, 1001]]
    assert "plotly-graph-div" in out.outputs[0]["data"]["text/html"]
    text.value = "a b c"
    assert len(out.outputs) == 1
    assert shown_ids(widget) == [[i for _, i in chars("a b c")], [1000, 1001, 1002]]


def test_live_tokenizer_bad_input():
    with pytest.raises(ValueError, match="tokenizers"):
        viz.live_tokenizer({})
