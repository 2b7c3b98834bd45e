"""Run notebooks through nbval, as this machine computes or with the CPU kernels of another.

nbval re-executes each notebook and compares every output with the stored one, after
``tests/sanitize.cfg`` has blanked what legitimately changes. PyTorch chooses its CPU kernels at
run time, so a stored output that depends on how floats are summed can pass on the machine that
stored it and fail on the next. Each setting below makes this machine compute as another would:

- ``ATEN_CPU_CAPABILITY=default``: ATen's scalar kernels, as on a CPU without AVX2 (this also
  changes the last bits of ``torch.randn`` for tensors of 16 or more numbers, and of matrix
  products);
- ``ATEN_CPU_CAPABILITY=avx2`` with ``MKL_ENABLE_INSTRUCTIONS=AVX2``: an AVX2 CPU without
  AVX-512 (MKL's limit is meant for Intel CPUs: on the AMD machines we tried it changed
  nothing, so ``MKL_CBWR`` below is what reaches MKL there);
- ``OMP_NUM_THREADS=1``: one thread, so reductions are split differently;
- ``MKL_CBWR=COMPATIBLE``: MKL's matrix products with its portable code path, on any CPU.

Usage: ``python scripts/run_nbval.py [--setting "A=1 B=2"]... [--portable] book/*.ipynb``.
Without options it runs nbval once in the environment it is given (``make nbval``); each
``--setting`` runs it once with those variables in place of any inherited ones (``make
nbval-other``); ``--portable`` runs all four settings (``make nbval-portable``). Every run
prints the kernels PyTorch reports, then nbval's result; the script exits non-zero if any run
failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SETTINGS = [
    "ATEN_CPU_CAPABILITY=default",
    "ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2",
    "OMP_NUM_THREADS=1",
    "MKL_CBWR=COMPATIBLE",
]
# the variables any setting may name: a run under a setting starts from the environment
# without them
KNOWN = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "OMP_NUM_THREADS", "MKL_CBWR")
PROBE = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"
NBVAL = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/sanitize.cfg"]


def parse_setting(setting: str) -> dict[str, str]:
    """``"A=1 B=2"`` → ``{"A": "1", "B": "2"}``, refusing names this script does not know."""
    pairs = {}
    for item in setting.split():
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise ValueError(f"a setting is NAME=VALUE, got {item!r} in {setting!r}")
        if name not in KNOWN:
            raise ValueError(f"unknown variable {name!r} in {setting!r}; expected one of {KNOWN}")
        pairs[name] = value
    if not pairs:
        raise ValueError("a setting needs at least one NAME=VALUE")
    return pairs


def environment(setting: str | None = None) -> dict[str, str]:
    """This process's environment without the variables in ``KNOWN`` (so PyTorch makes its own
    choice of kernels and threads), then with those ``setting`` names."""
    env = {k: v for k, v in os.environ.items() if k not in KNOWN}
    return {**env, **(parse_setting(setting) if setting is not None else {})}


def kernels(env: dict[str, str]) -> str:
    """What PyTorch reports under ``env``: its vector kernels and its thread count."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    capability, threads = out.stdout.split()
    return f"ATen kernels {capability}, {threads} threads"


def nbval(notebooks: list[str], env: dict[str, str]) -> int:
    """nbval's exit status on ``notebooks`` under ``env``."""
    command = [sys.executable, "-m", "pytest", "-q", *NBVAL, *notebooks]
    return subprocess.run(command, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", action="append", default=[], help='e.g. "OMP_NUM_THREADS=1"')
    parser.add_argument("--portable", action="store_true", help="run each of the four settings")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    settings = args.setting + (SETTINGS if args.portable else [])
    try:  # refuse a bad setting before the first run
        runs = [(s, environment(s)) for s in settings] or [("this environment", dict(os.environ))]
    except ValueError as error:
        parser.error(str(error))
    print(f"native: {kernels(environment())}", flush=True)
    results = []
    for name, env in runs:
        print(f"\n== nbval with {name}: {kernels(env)}", flush=True)
        start = time.perf_counter()
        results.append((name, nbval(args.notebooks, env), time.perf_counter() - start))
    print("\nnbval:")
    for name, rc, seconds in results:
        print(f"  {'passed' if rc == 0 else 'FAILED':6}  {name}  ({seconds / 60:.1f} min)")
    return 0 if all(rc == 0 for _, rc, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
