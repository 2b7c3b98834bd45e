"""Self-checks a learner calls on their own exercise code.

Each ``check_*`` function runs the learner's function on a few inputs, compares the result with
an answer computed here in a different way, and returns a ``CheckResult``: true when every case
passed, shown in a notebook as a line that says what was found. A function that still returns
``None`` (the exercise stub) counts as not attempted.

Chapters 0–1 in ``tokens``, 2–3 in ``data``, 4–5 in ``model``, 6 in ``train``, 7.0 in
``lora``, 7.1 in ``classify``, 7.2 in ``instruct``; all are importable from here.
"""

from llmcourse.checks.classify import (
    check_accuracy_from_logits,
    check_balance,
    check_last_token_logits,
)
from llmcourse.checks.data import (
    check_batches_per_epoch,
    check_count_windows,
    check_make_pairs,
    check_nearest,
    check_one_hot_embed,
    check_sinusoidal,
)
from llmcourse.checks.instruct import (
    check_exact_match_score,
    check_format_prompt,
    check_masked_targets,
)
from llmcourse.checks.lora import check_lora_forward, check_lora_parameters, check_merge_lora
from llmcourse.checks.model import (
    check_causal_attention,
    check_causal_weights,
    check_count_parameters,
    check_gelu,
    check_layer_norm,
    check_split_heads,
)
from llmcourse.checks.result import CheckResult
from llmcourse.checks.tokens import (
    check_bigram_probs,
    check_count_tokens,
    check_merge,
    check_most_frequent_pair,
)
from llmcourse.checks.train import check_cross_entropy, check_top_k, check_top_p

__all__ = [
    "CheckResult",
    "check_accuracy_from_logits",
    "check_balance",
    "check_batches_per_epoch",
    "check_bigram_probs",
    "check_causal_attention",
    "check_causal_weights",
    "check_count_parameters",
    "check_count_tokens",
    "check_count_windows",
    "check_cross_entropy",
    "check_exact_match_score",
    "check_format_prompt",
    "check_gelu",
    "check_last_token_logits",
    "check_layer_norm",
    "check_lora_forward",
    "check_lora_parameters",
    "check_make_pairs",
    "check_masked_targets",
    "check_merge",
    "check_merge_lora",
    "check_most_frequent_pair",
    "check_nearest",
    "check_one_hot_embed",
    "check_sinusoidal",
    "check_split_heads",
    "check_top_k",
    "check_top_p",
]
