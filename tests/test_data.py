"""llmcourse.data: the course corpus."""

import pytest

from llmcourse.data import load_corpus, unwrap


def test_unwrap_joins_lines_and_keeps_paragraphs():
    text = "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some\nyears ago.\n\n\n\n\nCHAPTER 2.\n  The  end. \n"
    assert unwrap(text) == "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago.\n\nCHAPTER 2. The end."
    assert unwrap("") == ""


def test_corpus_is_the_whole_novel_unwrapped():
    text = load_corpus()
    assert text.startswith("CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago—never mind how")
    assert "\n\n\n" not in text and "  " not in text
    assert text.count("CHAPTER ") >= 135
    assert all("\n" not in p for p in text.split("\n\n"))
    assert 1_150_000 < len(text) < 1_200_000


def test_unknown_corpus():
    with pytest.raises(ValueError, match=r"unknown corpus 'shakespeare'; known corpora: moby-dick"):
        load_corpus("shakespeare")
