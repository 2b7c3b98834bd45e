"""scripts/run_nbval.py: nbval natively and under the CPU kernels another machine would pick."""

from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).parent.parent


def test_settings_are_parsed_and_replace_the_inherited_ones(monkeypatch, run_nbval):
    assert run_nbval.parse_setting("ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2") == {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    }
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = run_nbval.environment("ATEN_CPU_CAPABILITY=default")
    assert env["ATEN_CPU_CAPABILITY"] == "default" and "OMP_NUM_THREADS" not in env
    assert "OMP_NUM_THREADS" not in run_nbval.environment()
    with pytest.raises(ValueError, match="NAME=VALUE, got 'OMP_NUM_THREADS'"):
        run_nbval.parse_setting("OMP_NUM_THREADS")
    with pytest.raises(ValueError, match="unknown variable 'CUDA_VISIBLE_DEVICES'"):
        run_nbval.parse_setting("CUDA_VISIBLE_DEVICES=0")
    with pytest.raises(ValueError, match="at least one"):
        run_nbval.parse_setting("  ")


@pytest.mark.slow
def test_a_bad_setting_is_refused_before_any_run(capsys, run_nbval):
    with pytest.raises(SystemExit) as stop:
        run_nbval.main(["--setting", "OMP_NUM_THREADS=1", "--setting", "THREADS=1", "x.ipynb"])
    assert stop.value.code == 2
    err = capsys.readouterr()
    assert "unknown variable 'THREADS'" in err.err and "== nbval" not in err.out


def test_a_setting_really_changes_the_kernels(run_nbval):
    env = run_nbval.environment("ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1")
    assert run_nbval.kernels(env) == "ATen kernels DEFAULT, 1 threads"


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() == "DEFAULT", reason="a CPU without AVX2"
)
@pytest.mark.slow
def test_an_output_that_depends_on_the_kernels_fails_and_a_portable_one_passes(
    tmp_path, monkeypatch, capsys, run_nbval
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
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    setting = ["--setting", "ATEN_CPU_CAPABILITY=default"]
    assert run_nbval.main([kernel_bound]) == 0  # as this machine computes, it passes
    assert run_nbval.main([*setting, portable]) == 0
    assert run_nbval.main([*setting, kernel_bound]) == 1
    assert "FAILED  ATEN_CPU_CAPABILITY=default" in capsys.readouterr().out
