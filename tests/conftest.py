"""Fixtures shared by the unit tests."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

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


@pytest.fixture(scope="session")
def gpt2():
    """GPT-2's BPE through tiktoken (from the course's offline asset)."""
    from llmcourse.tokenizer import gpt2_tokenizer

    return gpt2_tokenizer()


@pytest.fixture(scope="session")
def corpus() -> str:
    """The course corpus, *Moby-Dick* (an offline asset)."""
    from llmcourse.data import load_corpus

    return load_corpus()


@pytest.fixture(scope="session")
def gpt2_ours():
    """Our ``BPETokenizer`` with GPT-2's ranks (chapter 1), to compare with tiktoken's."""
    from llmcourse.tokenizer import gpt2_bpe

    return gpt2_bpe()


@pytest.fixture(scope="session")
def small_bpe(corpus):
    """A byte-level BPE of 512 tokens trained on the corpus's first 50,000 characters."""
    from llmcourse.tokenizer import BPETokenizer

    return BPETokenizer.train(corpus[:50_000], 512)


@pytest.fixture(scope="session")
def records():
    """2,400 generated instruction records of chapter 7.2 (seed 0)."""
    from llmcourse.instruct_data import make_dataset

    return make_dataset(2400, seed=0)


@pytest.fixture
def tiny_model():
    """A fresh ``GPTModel`` of the ``tiny`` preset (vocab 512, context 64, width 64, 2 blocks, no
    dropout), seeded so every test gets the same weights, in eval mode."""
    from llmcourse.config import GPTConfig
    from llmcourse.model import GPTModel

    torch.manual_seed(0)
    return GPTModel(GPTConfig.preset("tiny")).eval()


@pytest.fixture
def tiny_hf_model():
    """``(hf, cfg)``: a tiny randomly initialised Hugging Face ``GPT2LMHeadModel`` (no download)
    and the ``GPTConfig`` of the same shape (``tests/hf_models.py``)."""
    from hf_models import tiny_hf

    return tiny_hf()
