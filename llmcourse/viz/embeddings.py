"""Figures of embedding vectors (chapter 3, Token embeddings): a 2-D/3-D projection explorer,
nearest-neighbour bars, position-similarity heatmaps, and a live neighbour box for a kernel.

Every figure switches between precomputed traces (dropdowns), so it works on the static site.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from llmcourse.embeddings import cosine_similarity, pca
from llmcourse.validate import check_bool, check_float, check_int
from llmcourse.viz import theme
from llmcourse.viz.render import fit_header
from llmcourse.viz.tokens import _escape

GROUP_COLORS: tuple[str, ...] = tuple(theme.COLORWAY)
"""Colours of the token groups, in order of first appearance."""


# ----------------------------------------------------------------------------- projection
def embedding_explorer(
    views: Mapping[str, torch.Tensor],
    labels: Sequence[str],
    groups: Sequence[str] | None = None,
    dims: int = 2,
    neighbours: int = 3,
    title: str | None = None,
    unit: bool = True,
) -> go.Figure:
    """Token vectors projected on their first ``dims`` (2 or 3) principal axes.

    ``views`` maps a name (e.g. "random" / "trained") to vectors of shape ``(n, d)``, row ``i``
    belonging to ``labels[i]``; a dropdown switches views. Points are coloured by ``groups``;
    hover shows each token's ``neighbours`` nearest tokens (cosine similarity, within the
    plotted tokens, in the original ``d`` dimensions). With ``unit``, every vector is scaled to
    length 1 before the projection, so the picture shows directions, as cosine similarity does,
    and a few long vectors cannot take over the axes.
    """
    if not views:
        raise ValueError("embedding_explorer needs views: {name: (n, d) vectors}")
    dims = check_int("dims", dims, 2, 3)
    neighbours = check_int("neighbours", neighbours, 1)
    check_bool("unit", unit)
    labels = [str(label) for label in labels]
    n = len(labels)
    groups = ["tokens"] * n if groups is None else [str(g) for g in groups]
    if len(groups) != n:
        raise ValueError(f"got {n} labels but {len(groups)} groups")
    for name, vectors in views.items():
        if not isinstance(vectors, torch.Tensor) or vectors.dim() != 2 or len(vectors) != n:
            shape = tuple(vectors.shape) if isinstance(vectors, torch.Tensor) else type(vectors)
            raise ValueError(f"view {name!r} must be a tensor of shape ({n}, d), got {shape}")
    order = list(dict.fromkeys(groups))
    colors = {g: GROUP_COLORS[i % len(GROUP_COLORS)] for i, g in enumerate(order)}
    fig = go.Figure()
    axis_titles: list[list[str]] = []
    names = list(views)
    for v, (name, vectors) in enumerate(views.items()):
        points = vectors.detach().double()
        if unit:
            points = points / points.norm(dim=1, keepdim=True).clamp_min(1e-12)
        coords = pca(points, dims)
        centred = points - points.mean(dim=0)
        total = float(centred.pow(2).sum())
        shares = [float(coords[:, j].double().pow(2).sum()) / total for j in range(dims)]
        axis_titles.append(
            [f"PC {j + 1} ({100 * s:.0f}% of variance)" for j, s in enumerate(shares)]
        )
        sims = cosine_similarity(vectors).double()
        sims.fill_diagonal_(-2.0)
        top = torch.sort(-sims, dim=1, stable=True).indices[:, : min(neighbours, n - 1)]
        hover = [
            f"<b>{_escape(labels[i])}</b> ({_escape(groups[i])})<br>nearest: "
            + ", ".join(f"{_escape(labels[j])} {sims[i, j]:.2f}" for j in top[i].tolist())
            for i in range(n)
        ]
        xyz = [[round(float(c), 3) for c in coords[:, j]] for j in range(dims)]
        for g in order:
            idx = [i for i in range(n) if groups[i] == g]
            common: dict[str, Any] = {
                "mode": "markers+text",
                "text": [_escape(labels[i]) for i in idx],
                "textposition": "top center",
                "hovertext": [hover[i] for i in idx],
                "hovertemplate": "%{hovertext}<extra></extra>",
                "name": _escape(g),
                "legendgroup": g,
                "visible": v == 0,
            }
            if dims == 2:
                trace = go.Scatter(
                    x=[xyz[0][i] for i in idx],
                    y=[xyz[1][i] for i in idx],
                    marker={"size": 8, "color": colors[g]},
                    textfont={"size": 10, "color": colors[g]},
                    **common,
                )
            else:
                trace = go.Scatter3d(
                    x=[xyz[0][i] for i in idx],
                    y=[xyz[1][i] for i in idx],
                    z=[xyz[2][i] for i in idx],
                    marker={"size": 4, "color": colors[g]},
                    textfont={"size": 10, "color": colors[g]},
                    **common,
                )
            fig.add_trace(trace)
    per_view = len(order)
    buttons = []
    for v, name in enumerate(names):
        visible = [k // per_view == v for k in range(len(names) * per_view)]
        heading = f"{title} — {name}" if title else name
        if dims == 2:
            axes = {"xaxis.title.text": axis_titles[v][0], "yaxis.title.text": axis_titles[v][1]}
        else:
            axes = {f"scene.{a}axis.title.text": axis_titles[v][j] for j, a in enumerate("xyz")}
        buttons.append(
            {
                "label": _escape(name),
                "method": "update",
                "args": [{"visible": visible}, {"title.text": _escape(heading), **axes}],
            }
        )
    fig.update_layout(
        title={"text": buttons[0]["args"][1]["title.text"]},
        height=580 if dims == 2 else 640,
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        legend_title_text="group",
        updatemenus=[{"type": "dropdown", "buttons": buttons, "active": 0}],
        plot_bgcolor="white",
    )
    first = buttons[0]["args"][1]
    if dims == 2:
        fig.update_xaxes(title_text=first["xaxis.title.text"], zeroline=True, gridcolor="#eee")
        fig.update_yaxes(title_text=first["yaxis.title.text"], zeroline=True, gridcolor="#eee")
    else:
        scene = {f"{a}axis": {"title": {"text": axis_titles[0][j]}} for j, a in enumerate("xyz")}
        # a little farther than plotly's default eye (1.25 on each axis): the axis titles stay
        # inside the scene, a phone's too
        scene["camera"] = {"eye": {"x": 1.5, "y": 1.5, "z": 1.15}}
        fig.update_layout(scene=scene)
    return fit_header(fig)


# ----------------------------------------------------------------------------- neighbours
def neighbour_bars(
    table: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]],
    title: str = "Nearest neighbours",
) -> go.Figure:
    """Nearest neighbours of chosen tokens, one panel per view, a dropdown over the tokens.

    ``table`` maps a view name to ``{query: [(neighbour, cosine similarity), ...]}``, best
    first; every view must list the same queries.
    """
    if not table:
        raise ValueError("neighbour_bars needs table: {view: {query: [(label, similarity)]}}")
    views = list(table)
    queries = list(table[views[0]])
    if not queries:
        raise ValueError("neighbour_bars needs at least one query")
    for view in views:
        if list(table[view]) != queries:
            raise ValueError(f"view {view!r} lists queries {list(table[view])}, expected {queries}")
        for query in queries:
            for label, similarity in table[view][query]:
                check_float(f"the similarity of {label!r} to {query!r}", similarity, -1.0, 1.0)
    fig = make_subplots(
        rows=1, cols=len(views), subplot_titles=[_escape(v) for v in views], horizontal_spacing=0.18
    )
    lowest = min((s for view in views for q in queries for _, s in table[view][q]), default=0.0)
    buttons = []
    ticks: list[dict[str, Any]] = []
    for q_index, query in enumerate(queries):
        axes: dict[str, Any] = {}
        for v_index, view in enumerate(views):
            rows = list(table[view][query])
            ranks = list(range(1, len(rows) + 1))
            sims = [round(float(s), 3) for _, s in rows]
            fig.add_trace(
                go.Bar(
                    orientation="h",
                    x=sims,
                    y=ranks,
                    text=[f"{s:.2f}" for s in sims],
                    textposition="auto",
                    marker={"color": GROUP_COLORS[v_index % len(GROUP_COLORS)]},
                    hovertext=[_escape(label) for label, _ in rows],
                    hovertemplate="%{hovertext}: cosine similarity %{x}<extra></extra>",
                    name=f"{_escape(query)} · {_escape(view)}",
                    showlegend=False,
                    visible=q_index == 0,
                ),
                row=1,
                col=v_index + 1,
            )
            suffix = "" if v_index == 0 else str(v_index + 1)
            axes[f"yaxis{suffix}.tickvals"] = ranks
            axes[f"yaxis{suffix}.ticktext"] = [_escape(label) for label, _ in rows]
        ticks.append(axes)
        n = len(views)
        visible = [k // n == q_index for k in range(len(queries) * n)]
        heading = f"{_escape(title)} of <b>{_escape(query)}</b>"
        buttons.append(
            {
                "label": _escape(query),
                "method": "update",
                "args": [{"visible": visible}, {"title.text": heading, **axes}],
            }
        )
    k = max(len(table[v][q]) for v in views for q in queries)
    fig.update_layout(
        title={"text": buttons[0]["args"][1]["title.text"]},
        height=max(260, 150 + 28 * k),
        margin={"l": 90, "r": 20, "t": 40, "b": 50},
        # one query (a word typed in the live box) needs no menu: fit_header drops it
        updatemenus=[{"type": "dropdown", "buttons": buttons, "active": 0}],
        plot_bgcolor="white",
    )
    fig.update_xaxes(
        range=[min(0.0, lowest) - 0.05, 1.0], title_text="cosine similarity", gridcolor="#eee"
    )
    fig.update_yaxes(autorange="reversed", tickmode="array")
    fig.update_layout(**{key.replace(".", "_"): value for key, value in ticks[0].items()})
    return fit_header(fig)


# ----------------------------------------------------------------------------- positions
def position_similarity(tables: Mapping[str, torch.Tensor], title: str | None = None) -> go.Figure:
    """Cosine similarity between the vectors of every two positions, one heatmap per table.

    ``tables`` maps a name to position vectors of shape ``(n_positions, d)``.
    """
    if not tables:
        raise ValueError("position_similarity needs tables: {name: (n_positions, d) vectors}")
    names = list(tables)
    fig = make_subplots(
        rows=1, cols=len(names), subplot_titles=[_escape(n) for n in names], horizontal_spacing=0.08
    )
    for i, name in enumerate(names):
        sims = cosine_similarity(tables[name])
        z = [[round(float(v), 3) for v in row] for row in sims]
        fig.add_trace(
            go.Heatmap(
                z=z,
                coloraxis="coloraxis",
                name=_escape(name),
                hovertemplate="positions %{y} and %{x}: %{z}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
    fig.update_layout(
        title={"text": _escape(title)} if title else None,
        coloraxis={
            "colorscale": "RdBu",
            "reversescale": True,
            "cmin": -1,
            "cmax": 1,
            "colorbar": {"title": {"text": "cosine"}},
        },
        height=460,
        margin={"l": 50, "r": 20, "t": 50, "b": 50},
    )
    for i, name in enumerate(names):
        n = len(tables[name])
        fig.update_xaxes(title_text="position", range=[-0.5, n - 0.5], row=1, col=i + 1)
        fig.update_yaxes(title_text="position", range=[n - 0.5, -0.5], row=1, col=i + 1)
    return fit_header(fig)  # room for the subplot titles under the title


# ----------------------------------------------------------------------------- live widget
def live_neighbours(
    lookup: Callable[[str], Mapping[str, Sequence[tuple[str, float]]]],
    value: str = "whale",
    title: str = "Nearest neighbours",
) -> Any:
    """A text box; on every entry, :func:`neighbour_bars` of ``lookup(word)``.

    ``lookup`` maps the typed word to ``{view: [(neighbour, similarity), ...]}``; an error it
    raises (e.g. a word the vocabulary lacks) is shown under the box. Needs a kernel; on the
    static site the widget is inert. Returns an ``ipywidgets.VBox`` (the ``Text``, the
    ``Output``).
    """
    import ipywidgets as widgets
    from IPython.display import display

    box = widgets.Text(value=value, description="word", continuous_update=False)
    out = widgets.Output()

    def render(word: str) -> None:
        out.clear_output(wait=True)
        with out:
            table = {view: {word: rows} for view, rows in lookup(word).items()}
            display(neighbour_bars(table, title=title))

    box.observe(lambda change: render(change["new"]), names="value")
    render(value)
    return widgets.VBox([box, out])
