"""The figures of the course, with the book renderer.

Every figure carries its own controls (hover, dropdowns, sliders over precomputed traces), so it
stays interactive on the static site, where no kernel runs; in a live kernel, ipywidgets wrap the
same figures. Call :func:`setup` once per notebook.

- ``render``: the book's plotly renderer (``setup``, ``figure_html``).
- ``tokens``: chapter 1's token figures (``token_explorer``, ``bpe_merge_stepper``,
  ``token_count_bars``, ``live_tokenizer``).
"""

from llmcourse.viz.render import RENDERER, BookRenderer, figure_html, setup
from llmcourse.viz.tokens import (
    PALETTE,
    bpe_merge_stepper,
    live_tokenizer,
    show_piece,
    token_colors,
    token_count_bars,
    token_explorer,
)

__all__ = [
    "PALETTE",
    "RENDERER",
    "BookRenderer",
    "bpe_merge_stepper",
    "figure_html",
    "live_tokenizer",
    "setup",
    "show_piece",
    "token_colors",
    "token_count_bars",
    "token_explorer",
]
