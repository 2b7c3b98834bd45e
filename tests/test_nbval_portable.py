"""scripts/nbval_portable.py: nbval under the CPU kernels another machine would pick."""

import importlib.util
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).parent.parent
spec = importlib.util.spec_from_file_location(
    "nbval_portable", ROOT / "scripts" / "nbval_portable.py"
)
nbval_portable = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbval_portable)


def test_settings_are_parsed_and_replace_the_inherited_ones(monkeypatch):
    assert nbval_portable.parse_setting(
        "ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2"
    ) == {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    }
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = nbval_portable.environment("ATEN_CPU_CAPABILITY=default")
    assert env["ATEN_CPU_CAPABILITY"] == "default" and "OMP_NUM_THREADS" not in env
    with pytest.raises(ValueError, match="NAME=VALUE, got 'OMP_NUM_THREADS'"):
        nbval_portable.parse_setting("OMP_NUM_THREADS")
    with pytest.raises(ValueError, match="unknown variable 'CUDA_VISIBLE_DEVICES'"):
        nbval_portable.parse_setting("CUDA_VISIBLE_DEVICES=0")
    with pytest.raises(ValueError, match="at least one"):
        nbval_portable.parse_setting("  ")


def test_a_setting_really_changes_the_kernels():
    env = nbval_portable.environment("ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1")
    assert nbval_portable.kernels(env) == "ATen kernels DEFAULT, 1 threads"


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() == "DEFAULT", reason="a CPU without AVX2"
)
def test_an_output_that_depends_on_the_kernels_fails_and_a_portable_one_passes(
    tmp_path, monkeypatch
):
    def notebook(name, source, text):
        cell = new_code_cell(source, execution_count=1)
        cell.outputs = [new_output("stream", name="stdout", text=text)]
        path = tmp_path / name
        nbformat.write(new_notebook(cells=[cell]), path)
        return str(path)

    native = torch.backends.cpu.get_cpu_capability()
    kernel_bound = notebook(
        "kernels.ipynb",
        "import torch\nprint(torch.backends.cpu.get_cpu_capability())",
        native + "\n",
    )
    portable = notebook("portable.ipynb", "print(2 + 2)", "4\n")
    monkeypatch.chdir(ROOT)  # the sanitize file is named relative to the repository
    setting = ["--setting", "ATEN_CPU_CAPABILITY=default"]
    assert nbval_portable.main([*setting, portable]) == 0
    assert nbval_portable.main([*setting, kernel_bound]) == 1
