"""llmcourse.viz.embeddings: projections, neighbour bars, position heatmaps, live box."""

import plotly.graph_objects as go
import pytest
import torch

from llmcourse import viz
from llmcourse.embeddings import cosine_similarity, nearest_neighbours, pca, sinusoidal_positions

LABELS = ["one", "two", "three", "he", "she", "whale", "ship"]
GROUPS = ["numbers"] * 3 + ["pronouns"] * 2 + ["sea"] * 2


def views():
    g = torch.Generator().manual_seed(0)
    random = torch.randn(7, 6, generator=g)
    centres = torch.randn(3, 6, generator=g) * 4
    trained = centres[[0, 0, 0, 1, 1, 2, 2]] + 0.3 * torch.randn(7, 6, generator=g)
    return {"random": random, "trained": trained}


def test_explorer_traces_per_view_and_group():
    fig = viz.embedding_explorer(views(), LABELS, GROUPS, title="vectors")
    assert len(fig.data) == 2 * 3
    assert [t.name for t in fig.data] == ["numbers", "pronouns", "sea"] * 2
    assert [t.visible for t in fig.data] == [True] * 3 + [False] * 3
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["random", "trained"]
    assert buttons[1].args[0]["visible"] == [False] * 3 + [True] * 3
    assert buttons[1].args[1]["title.text"] == "vectors — trained"
    assert "% of variance" in buttons[1].args[1]["xaxis.title.text"]
    # colours follow the group, the same in both views
    assert fig.data[0].marker.color == fig.data[3].marker.color != fig.data[1].marker.color


def test_explorer_coordinates_are_the_pca_of_unit_vectors():
    v = views()["trained"]
    fig = viz.embedding_explorer({"trained": v}, LABELS, GROUPS)
    unit = v / v.norm(dim=1, keepdim=True)
    coords = pca(unit, 2)
    xs = [x for t in fig.data for x in t.x]
    ys = [y for t in fig.data for y in t.y]
    assert xs == [round(float(c), 3) for c in coords[:, 0]]
    assert ys == [round(float(c), 3) for c in coords[:, 1]]
    raw = viz.embedding_explorer({"trained": v}, LABELS, GROUPS, unit=False)
    assert [x for t in raw.data for x in t.x] == [round(float(c), 3) for c in pca(v, 2)[:, 0]]


def test_explorer_hover_names_the_nearest_tokens():
    v = views()["trained"]
    fig = viz.embedding_explorer({"trained": v}, LABELS, GROUPS, neighbours=2)
    hover = [h for t in fig.data for h in t.hovertext]
    for i, text in enumerate(hover):
        idx, sims = nearest_neighbours(v, i, 2)
        expected = ", ".join(f"{LABELS[j]} {s:.2f}" for j, s in zip(idx, sims))
        assert text == f"<b>{LABELS[i]}</b> ({GROUPS[i]})<br>nearest: {expected}"
    assert "nearest: two" in hover[0]  # the clusters of views() are found


def test_explorer_in_3d():
    fig = viz.embedding_explorer(views(), LABELS, GROUPS, dims=3)
    assert all(isinstance(t, go.Scatter3d) for t in fig.data)
    assert "scene.zaxis.title.text" in fig.layout.updatemenus[0].buttons[0].args[1]
    assert len(fig.data[0].z) == 3


def test_explorer_bad_input():
    with pytest.raises(ValueError, match="dims must be an int >= 2 and <= 3, got 4"):
        viz.embedding_explorer(views(), LABELS, dims=4)
    with pytest.raises(ValueError, match="got 7 labels but 2 groups"):
        viz.embedding_explorer(views(), LABELS, ["a", "b"])
    with pytest.raises(ValueError, match=r"view 'x' must be a tensor of shape \(7, d\)"):
        viz.embedding_explorer({"x": torch.zeros(3, 2)}, LABELS)
    with pytest.raises(ValueError, match="views"):
        viz.embedding_explorer({}, LABELS)


TABLE = {
    "random": {"whale": [("coat", 0.41), ("bed", 0.3)], "three": [("sp", 0.2), ("x", -0.1)]},
    "trained": {"whale": [("ship", 0.7), ("boat", 0.6)], "three": [("two", 0.8), ("four", 0.7)]},
}


def test_neighbour_bars_one_panel_per_view_and_a_menu_of_queries():
    fig = viz.neighbour_bars(TABLE)
    assert len(fig.data) == 4
    assert [t.visible for t in fig.data] == [True, True, False, False]
    assert list(fig.data[1].x) == [0.7, 0.6] and list(fig.data[1].y) == [1, 2]
    assert list(fig.layout.yaxis2.ticktext) == ["ship", "boat"]
    three = fig.layout.updatemenus[0].buttons[1]
    assert three.label == "three"
    assert three.args[0]["visible"] == [False, False, True, True]
    assert three.args[1]["yaxis2.ticktext"] == ["two", "four"]
    assert three.args[1]["yaxis.ticktext"] == ["sp", "x"]
    assert "<b>three</b>" in three.args[1]["title.text"]
    assert fig.layout.xaxis.range[0] == pytest.approx(-0.15)  # room for the negative bar


def test_neighbour_bars_bad_input():
    with pytest.raises(ValueError, match="table"):
        viz.neighbour_bars({})
    with pytest.raises(ValueError, match="view 'trained' lists queries"):
        viz.neighbour_bars({"random": {"a": [("b", 0.1)]}, "trained": {"c": [("d", 0.2)]}})


def test_position_similarity_heatmaps():
    learned = torch.nn.Embedding(16, 8).weight
    sinus = sinusoidal_positions(16, 8)
    fig = viz.position_similarity({"learned": learned, "sinusoidal": sinus}, title="positions")
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    z = torch.tensor(fig.data[1].z)
    torch.testing.assert_close(z, cosine_similarity(sinus), atol=5e-4, rtol=0)
    assert all(z[i, i] == 1.0 for i in range(16))
    assert fig.layout.coloraxis.cmin == -1 and fig.layout.coloraxis.cmax == 1
    with pytest.raises(ValueError, match="tables"):
        viz.position_similarity({})


def test_live_neighbours_calls_the_lookup_on_each_word():
    calls = []

    def lookup(word):
        calls.append(word)
        return {"trained": [(word.upper(), 0.5)]}

    box = viz.live_neighbours(lookup, value="whale")
    text, out = box.children
    assert type(out).__name__ == "Output"
    assert text.value == "whale" and calls == ["whale"]
    text.value = "ship"
    assert calls == ["whale", "ship"]
