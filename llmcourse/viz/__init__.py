"""The figures of the course, with the book renderer.

Every figure carries its own controls (hover, dropdowns, sliders over precomputed traces), so it
stays interactive on the static site, where no kernel runs; in a live kernel, ipywidgets wrap the
same figures. Call :func:`setup` once per notebook.

- ``render``: the book's plotly renderer (``setup``, ``figure_html``) and ``fit_header``, which
  lays out a figure's title, subplot titles and controls above its plot for every screen.
- ``theme``: the course's one plotly template (``THEME``), made the default by ``setup``.
- ``tokens``: chapter 1's token figures (``token_explorer``, ``bpe_merge_stepper``,
  ``token_count_bars``, ``live_tokenizer``).
- ``data``: chapter 2's ``sliding_window_explorer``.
- ``embeddings``: chapter 3's ``embedding_explorer``, ``neighbour_bars``,
  ``position_similarity``, ``live_neighbours``.
- ``attention``: chapter 4's ``attention_explorer``, ``attention_step_view``, ``live_attention``.
- ``gpt``: chapter 5's ``activation_plot``, ``gradient_bars``, ``model_size_bars``.
- ``pretrain``: chapter 6's ``loss_curves``, ``live_loss_plot``, ``lr_schedule``,
  ``sampling_explorer``.
- ``lora``: chapter 7.0's ``lora_share_plot``, ``finetune_comparison``, ``singular_value_plot``.
- ``classify``: chapter 7.1's ``classifier_curves``, ``accuracy_bars``, ``confusion_matrix``,
  ``position_explorer``.
- ``instruct``: chapter 7.2's ``exact_match_bars``.
"""

from llmcourse.viz.attention import (
    attention_explorer,
    attention_step_view,
    attention_steps,
    live_attention,
    model_attention,
)
from llmcourse.viz.classify import (
    accuracy_bars,
    classifier_curves,
    confusion_matrix,
    position_explorer,
)
from llmcourse.viz.data import sliding_window_explorer
from llmcourse.viz.embeddings import (
    embedding_explorer,
    live_neighbours,
    neighbour_bars,
    position_similarity,
)
from llmcourse.viz.gpt import activation_plot, gradient_bars, model_size_bars
from llmcourse.viz.instruct import exact_match_bars
from llmcourse.viz.lora import finetune_comparison, lora_share_plot, singular_value_plot
from llmcourse.viz.pretrain import live_loss_plot, loss_curves, lr_schedule, sampling_explorer
from llmcourse.viz.render import (
    RENDERER,
    BookRenderer,
    figure_html,
    fit_header,
    live_figure,
    setup,
)
from llmcourse.viz.theme import THEME
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
    "THEME",
    "BookRenderer",
    "accuracy_bars",
    "activation_plot",
    "attention_explorer",
    "attention_step_view",
    "attention_steps",
    "bpe_merge_stepper",
    "classifier_curves",
    "confusion_matrix",
    "embedding_explorer",
    "exact_match_bars",
    "figure_html",
    "finetune_comparison",
    "fit_header",
    "gradient_bars",
    "live_attention",
    "live_figure",
    "live_loss_plot",
    "live_neighbours",
    "live_tokenizer",
    "lora_share_plot",
    "loss_curves",
    "lr_schedule",
    "model_attention",
    "model_size_bars",
    "neighbour_bars",
    "position_explorer",
    "position_similarity",
    "sampling_explorer",
    "setup",
    "show_piece",
    "singular_value_plot",
    "sliding_window_explorer",
    "token_colors",
    "token_count_bars",
    "token_explorer",
]
