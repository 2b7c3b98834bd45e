"""Fixtures shared by the unit tests."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parent.parent


def _script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as a module (the scripts are not a package; they import
    each other as when run, from their folder)."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def check_notebooks() -> ModuleType:
    return _script("check_notebooks")


@pytest.fixture(scope="session")
def run_nbval() -> ModuleType:
    return _script("run_nbval")


@pytest.fixture(scope="session")
def run_notebooks() -> ModuleType:
    return _script("run_notebooks")
