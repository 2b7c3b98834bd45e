"""Tiny randomly initialised Hugging Face GPT-2 models for the tests (built from a config: no
download), with the matching ``GPTConfig``."""

import os

import torch

from llmcourse.config import GPTConfig

os.environ["HF_HUB_OFFLINE"] = "1"
import transformers


def tiny_hf(vocab=97, ctx=16, n_embd=32, n_layer=3, n_head=4, tie=True, seed=0):
    """A random GPT2LMHeadModel with every tensor drawn at a visible scale (LayerNorm included,
    so swapped weights and biases would show)."""
    torch.manual_seed(seed)
    hc = transformers.GPT2Config(
        vocab_size=vocab,
        n_positions=ctx,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        tie_word_embeddings=tie,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    hf = transformers.GPT2LMHeadModel(hc).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "ln_" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.3)
    return hf, GPTConfig(
        vocab_size=vocab,
        context_length=ctx,
        n_embd=n_embd,
        n_head=n_head,
        n_layer=n_layer,
        dropout=0.0,
        tie_weights=tie,
    )
