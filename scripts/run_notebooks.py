"""Execute notebooks top to bottom in place, storing outputs and widget state for the site.

Usage: ``python scripts/run_notebooks.py book/01-tokenizing.ipynb …``. Runs each in the
current Python environment (the pinned one), from the book/ folder, and prints its wall time.

A live widget's cell (tagged ``remove-output``: the static site does not show it) keeps no stored
output: without its kernel JupyterLab could only print "model not found" in its place, and a
learner sees the widget when they run the cell. The notebook's widget state keeps only the
widgets that stored outputs still show (a progress bar), so a page without one does not load the
site's widget manager.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from check_notebooks import widget_state, widget_views
from nbclient import NotebookClient


def _references(value) -> list[str]:
    """Model ids that a widget's state refers to (``"IPY_MODEL_<id>"`` anywhere inside)."""
    if isinstance(value, str):
        return [value.removeprefix("IPY_MODEL_")] if value.startswith("IPY_MODEL_") else []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return []


def drop_hidden_widgets(nb) -> None:
    """Empty the outputs of live-widget cells hidden on the site and keep only the widget state
    that the remaining outputs show (all of it gone when none does)."""
    for cell in nb.cells:
        hidden = "remove-output" in cell.metadata.get("tags", [])
        if cell.cell_type == "code" and hidden and widget_views(cell):
            cell.outputs = []
    state = widget_state(nb)
    todo = [i for cell in nb.cells if cell.cell_type == "code" for i in widget_views(cell)]
    kept = set()
    while todo:
        model_id = todo.pop()
        if model_id in state and model_id not in kept:
            kept.add(model_id)
            todo += _references(state[model_id].get("state", {}))
    if kept:
        for model_id in set(state) - kept:  # (state is the notebook's own dict)
            del state[model_id]
    else:
        nb.metadata.pop("widgets", None)


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps of an earlier run
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,  # no timestamps in the committed notebooks
    ).execute()
    seconds = time.perf_counter() - start
    drop_hidden_widgets(nb)
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    for p in paths:
        seconds = run(Path(p))
        print(f"{p}: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
