"""Refuse to build the site from a notebook whose stored outputs are not a clean run.

Every code cell must have been executed, in order, top to bottom (execution counts 1, 2, 3, …)
and no output may be an error, except in cells tagged ``raises-exception`` (a chapter showing
a bad input and its error), which must hold one. An exercise's solution cell is tagged
``hide-cell`` (the site hides its code and output behind one toggle) and marked collapsed for
JupyterLab (``jupyter.source_hidden`` and ``outputs_hidden``); ``hide-input`` and
``hide-output``, which leave half of a solution on screen, are refused. A cell whose output holds an
ipywidget control (a text box, a slider: anything but boxes, labels, HTML, progress bars and
output areas, looked up in the widget state the notebook stores) is tagged ``remove-output``:
its Python callback needs a kernel, so on the static site it would be a dead control; the site
shows the cell's code and the chapter says where to run it. ``make site`` runs this first, so a cell that raised fails the
build. Usage:
``python scripts/check_notebooks.py book/*.ipynb``.
"""

from __future__ import annotations

import sys

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
HIDDEN_ON_SITE = {"remove-output", "remove-cell"}
# widgets that only show something: the static site draws them from the stored state
DISPLAY_ONLY = {
    f"{name}Model"
    for name in ("Box", "HBox", "VBox", "GridBox", "Label", "HTML", "HTMLMath", "Image")
    + ("FloatProgress", "IntProgress", "Output")
}


def widget_views(cell) -> list[str]:
    """Model ids of the widgets that a code cell's outputs show."""
    return [
        o["data"][WIDGET_VIEW]["model_id"]
        for o in cell.get("outputs", [])
        if WIDGET_VIEW in o.get("data", {})
    ]


def widget_state(nb) -> dict:
    """The notebook's stored widget models, by id (empty when it stores none)."""
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def controls(model_id: str, state: dict) -> list[str]:
    """Model names of the controls in the widget ``model_id`` and its children (a widget
    without stored state counts as one: nothing shows what it is)."""
    model = state.get(model_id)
    if model is None:
        return [f"widget {model_id} (no stored state)"]
    found = [] if model["model_name"] in DISPLAY_ONLY else [model["model_name"]]
    for child in model.get("state", {}).get("children", []):
        found += controls(str(child).removeprefix("IPY_MODEL_"), state)
    return found


def problems(path: str) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    state = widget_state(nb)
    found = []
    expected = 1
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        where = f"{path}, cell {index}"
        tags = cell.metadata.get("tags", [])
        for half in {"hide-input", "hide-output"} & set(tags):
            found.append(f"{where}: tagged {half}, which shows half a solution; use hide-cell")
        collapsed = cell.metadata.get("jupyter", {})
        if "hide-cell" in tags and not (
            collapsed.get("source_hidden") and collapsed.get("outputs_hidden")
        ):
            found.append(
                f"{where}: tagged hide-cell but not collapsed in JupyterLab"
                " (metadata jupyter.source_hidden and outputs_hidden)"
            )
        live = [name for view in widget_views(cell) for name in controls(view, state)]
        if live and not HIDDEN_ON_SITE & set(tags):
            found.append(
                f"{where}: shows {', '.join(live)}, a control that is dead on the static site"
                " (its callback needs a kernel); tag the cell remove-output and say where to run it"
            )
        if cell.execution_count != expected:
            found.append(
                f"{where}: execution count {cell.execution_count}, expected {expected}"
                " (re-run the notebook top to bottom: make notebooks)"
            )
        expected += 1
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if "raises-exception" in tags:
            if not errors:
                found.append(f"{where}: tagged raises-exception but stored no error")
        else:
            found += [f"{where}: stored error {o.ename}: {o.evalue}" for o in errors]
    return found


def main(paths: list[str]) -> int:
    if not paths:
        print("no notebooks given", file=sys.stderr)
        return 2
    found = [p for path in paths for p in problems(path)]
    for p in found:
        print(p, file=sys.stderr)
    print(f"{len(paths)} notebooks checked, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
