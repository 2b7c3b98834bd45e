"""Refuse to build the site from a notebook whose stored outputs are not a clean run.

Every code cell must have been executed, in order, top to bottom (execution counts 1, 2, 3, …)
and no output may be an error, except in cells tagged ``raises-exception`` (a chapter showing
a bad input and its error), which must hold one. ``make site`` runs this first, so a cell that raised fails the
build. Usage: ``python scripts/check_notebooks.py book/*.ipynb``.
"""

from __future__ import annotations

import sys

import nbformat


def problems(path: str) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    found = []
    expected = 1
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        where = f"{path}, cell {index}"
        if cell.execution_count != expected:
            found.append(
                f"{where}: execution count {cell.execution_count}, expected {expected}"
                " (re-run the notebook top to bottom: make notebooks)"
            )
        expected += 1
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
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
