"""scripts/check_notebooks.py: the site refuses notebooks that are not a clean top-to-bottom run."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output


def write(tmp_path, cells) -> str:
    nb = new_notebook(cells=[new_markdown_cell("# title"), *cells])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return str(path)


def cell(source, count, outputs=(), tags=()):
    c = new_code_cell(source, execution_count=count, outputs=list(outputs))
    if tags:
        c.metadata["tags"] = list(tags)
    return c


ERROR = new_output("error", ename="ValueError", evalue="bad", traceback=[])


@pytest.mark.slow
def test_clean_run_passes(tmp_path, check_notebooks):
    path = write(
        tmp_path, [cell("1", 1), cell("", None), cell("x", 2, [ERROR], ["raises-exception"])]
    )
    assert check_notebooks.problems(path) == []
    assert check_notebooks.main([path]) == 0


def test_out_of_order_and_unexecuted_cells(tmp_path, check_notebooks):
    path = write(tmp_path, [cell("1", 1), cell("2", 3), cell("3", None)])
    found = check_notebooks.problems(path)
    assert len(found) == 2
    assert "cell 2: execution count 3, expected 2" in found[0]
    assert "cell 3: execution count None, expected 3" in found[1]


@pytest.mark.slow
def test_stored_error_fails(tmp_path, check_notebooks):
    path = write(tmp_path, [cell("1/0", 1, [ERROR])])
    assert check_notebooks.problems(path) == [f"{path}, cell 1: stored error ValueError: bad"]
    assert check_notebooks.main([path]) == 1


def test_raises_exception_tag_needs_an_error(tmp_path, check_notebooks):
    path = write(tmp_path, [cell("ok", 1, [], ["raises-exception"])])
    assert "tagged raises-exception but stored no error" in check_notebooks.problems(path)[0]


def test_a_solution_hides_its_code_and_output_together(tmp_path, check_notebooks):
    solution = cell("1", 1, [], ["hide-cell"])
    solution.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
    assert check_notebooks.problems(write(tmp_path, [solution])) == []
    solution.metadata["jupyter"] = {"source_hidden": True}
    found = check_notebooks.problems(write(tmp_path, [solution]))
    assert len(found) == 1 and "tagged hide-cell but not collapsed in JupyterLab" in found[0]
    path = write(tmp_path, [cell("1", 1, [], ["hide-input"])])
    half = "tagged hide-input, which shows half a solution; use hide-cell"
    assert check_notebooks.problems(path) == [f"{path}, cell 1: {half}"]


def widget_view(model_id):
    data = {
        "text/plain": "VBox()",
        "application/vnd.jupyter.widget-view+json": {"model_id": model_id},
    }
    return new_output("execute_result", data=data, execution_count=1)


def write_with_widgets(tmp_path, cells, state) -> str:
    path = write(tmp_path, cells)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    nbformat.write(nb, path)
    return path


def test_a_widget_control_is_hidden_on_the_site(tmp_path, check_notebooks):
    state = {
        "box": {
            "model_name": "VBoxModel",
            "state": {"children": ["IPY_MODEL_text", "IPY_MODEL_out"]},
        },
        "text": {"model_name": "TextareaModel", "state": {}},
        "out": {"model_name": "OutputModel", "state": {}},
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_progress"]}},
        "progress": {"model_name": "FloatProgressModel", "state": {}},
    }
    live = cell("widgets.VBox(...)", 1, [widget_view("box")], ["nbval-ignore-output"])
    path = write_with_widgets(tmp_path, [live], state)
    dead = (
        "shows TextareaModel, a control that is dead on the static site"
        " (its callback needs a kernel); tag the cell remove-output and say where to run it"
    )
    assert check_notebooks.problems(path) == [f"{path}, cell 1: {dead}"]
    live.metadata["tags"].append("remove-output")
    assert check_notebooks.problems(write_with_widgets(tmp_path, [live], state)) == []
    # a progress bar only shows something: the site draws it from the stored state
    progress = cell("train(...)", 1, [widget_view("bar")])
    assert check_notebooks.problems(write_with_widgets(tmp_path, [progress], state)) == []
    # without stored state nothing shows what a widget is: it counts as a control
    found = check_notebooks.problems(write_with_widgets(tmp_path, [progress], {}))
    assert len(found) == 1 and "shows widget bar (no stored state), a control" in found[0]
