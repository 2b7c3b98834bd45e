"""scripts/run_notebooks.py: what a re-run stores for widgets."""

from nbformat.v4 import new_code_cell, new_notebook, new_output

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"


def shows(model_id, tags=()):
    data = {"text/plain": "VBox()", VIEW: {"model_id": model_id}}
    cell = new_code_cell("w", outputs=[new_output("display_data", data=data)], execution_count=1)
    cell.metadata["tags"] = list(tags)
    return cell


def model(name, **state):
    return {"model_name": name, "state": state}


def notebook(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["widgets"] = {
        STATE: {
            "state": {
                "box": model("VBoxModel", children=["IPY_MODEL_text"], layout="IPY_MODEL_l1"),
                "text": model("TextModel", layout="IPY_MODEL_l2"),
                "l1": model("LayoutModel"),
                "l2": model("LayoutModel"),
                "bar": model("HBoxModel", children=["IPY_MODEL_progress"]),
                "progress": model("FloatProgressModel", style="IPY_MODEL_s"),
                "s": model("ProgressStyleModel"),
            },
            "version_major": 2,
        }
    }
    return nb


def test_a_widget_hidden_on_the_site_keeps_no_output_and_no_state(run_notebooks):
    nb = notebook(shows("bar"), shows("box", ["nbval-ignore-output", "remove-output"]))
    run_notebooks.drop_hidden_widgets(nb)
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count == 1
    assert len(nb.cells[0].outputs) == 1  # the progress bar still shows
    kept = nb.metadata["widgets"][STATE]["state"]
    assert set(kept) == {"bar", "progress", "s"}
    assert nb.metadata["widgets"][STATE]["version_major"] == 2


def test_no_widget_left_means_no_widget_state(run_notebooks):
    nb = notebook(shows("box", ["remove-output"]))
    run_notebooks.drop_hidden_widgets(nb)
    assert "widgets" not in nb.metadata


def test_other_outputs_stay(run_notebooks):
    plain = new_code_cell("3", outputs=[new_output("execute_result", data={"text/plain": "3"})])
    plain.metadata["tags"] = ["remove-output"]
    nb = notebook(plain, shows("box"))
    run_notebooks.drop_hidden_widgets(nb)
    assert len(plain.outputs) == 1  # remove-output alone: the site hides it, the notebook keeps it
    assert set(nb.metadata["widgets"][STATE]["state"]) == {"box", "text", "l1", "l2"}
