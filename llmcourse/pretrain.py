"""The course model: the command that pretrains it and writes its model card (chapter 6).

The course model is a small GPT-2 (``GPTConfig.preset("course")``, GPT-2's tokenizer) pretrained
by ``llmcourse.train`` on the course corpus, *Moby-Dick*, whose last 10% is held out for
validation. One command reproduces the committed weights and model card::

    make course-model          # = python -m llmcourse.pretrain (the defaults below)

It writes ``checkpoints/course-model.safetensors`` (bfloat16, config in the metadata),
``checkpoints/course-model.json`` (the model card's data: command, seed, data sha256, config,
steps, time, loss curves, samples) and ``checkpoints/README.md`` (the card as text). A run that
is interrupted resumes from its last checkpoint with ``--resume``. Under ``torchrun`` the same
command trains with one process per core or device.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from llmcourse import assets, runtime
from llmcourse.commands import (
    add_run_arguments,
    command_line,
    machine,
    run_config,
    training_card,
    write_card,
)
from llmcourse.config import GPTConfig
from llmcourse.data import encode, load_corpus, make_loader, train_val_split
from llmcourse.generate import generate, ids_to_text, text_to_ids
from llmcourse.model import GPTModel, count_parameters
from llmcourse.runtime import is_main_process, setup_distributed
from llmcourse.tokenizer import gpt2_tokenizer
from llmcourse.train import History, TrainConfig, evaluate_loss, train
from llmcourse.weights import CHECKPOINTS, load_model, save_model

__all__ = ["COURSE_MODEL", "main", "train_config"]

COURSE_MODEL = CHECKPOINTS / "course-model.safetensors"
"""The committed course model, in the repository's ``checkpoints/`` folder."""

SAMPLE_PROMPTS = ("Call me Ishmael.", "The whale", "Queequeg was", "It was a dark")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m llmcourse.pretrain",
        description="Pretrain the course model on the course corpus and write its model card.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--preset", default="course", help="GPTConfig preset")
    p.add_argument("--n-layer", type=int, help="override the preset's number of blocks")
    p.add_argument("--n-embd", type=int, help="override the preset's width")
    p.add_argument("--n-head", type=int, help="override the preset's number of heads")
    p.add_argument("--context", type=int, help="override the preset's context length")
    p.add_argument("--dropout", type=float, help="override the preset's dropout")
    p.add_argument("--steps", type=int, default=800, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=8, help="windows per step")
    p.add_argument("--stride", type=int, help="window stride (default: the context length)")
    p.add_argument("--lr", type=float, default=1.5e-3, help="peak learning rate")
    p.add_argument("--min-lr", type=float, default=1.5e-4, help="learning rate at the end")
    p.add_argument("--warmup", type=int, default=60, help="warm-up steps")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=100, help="steps between evaluations")
    p.add_argument(
        "--eval-batches", type=int, default=15, help="batches per evaluation (15 × 8 covers val)"
    )
    p.add_argument("--sample-every", type=int, default=400, help="steps between samples")
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out end of the text")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    add_run_arguments(p, "_build/course-run", 200, COURSE_MODEL)
    return p


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` of the command's options: every setting the committed model was
    trained with is passed explicitly, so a change of defaults cannot change it."""
    return run_config(
        args, eval_batches=args.eval_batches, sample_every=args.sample_every, bf16=args.bf16
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    if args.threads:
        torch.set_num_threads(args.threads)
    distributed = setup_distributed()
    overrides = {
        name: value
        for name, value in (
            ("n_layer", args.n_layer),
            ("n_embd", args.n_embd),
            ("n_head", args.n_head),
            ("context_length", args.context),
            ("dropout", args.dropout),
        )
        if value is not None
    }
    cfg = GPTConfig.preset(args.preset, **overrides)
    runtime.seed(args.seed)
    tokenizer = gpt2_tokenizer()
    text = load_corpus()
    train_text, val_text = train_val_split(text, args.val_fraction)
    train_ids, val_ids = encode(train_text, tokenizer), encode(val_text, tokenizer)
    ctx = cfg.context_length
    train_loader = make_loader(
        train_ids, args.batch_size, ctx, args.stride or ctx, shuffle=True, seed=args.seed
    )
    val_loader = make_loader(val_ids, args.batch_size, ctx, ctx, shuffle=False, drop_last=False)
    model = GPTModel(cfg).to(runtime.device())
    tcfg = train_config(args)
    main_process = is_main_process()
    if main_process:
        print(
            f"{count_parameters(model):,} parameters | train {len(train_ids):,} tokens, "
            f"val {len(val_ids):,} tokens | {len(train_loader)} batches per epoch"
        )
    history: History = train(
        model,
        train_loader,
        val_loader,
        tcfg,
        tokenizer=tokenizer,
        resume=args.run_dir if args.resume else None,
    )
    world = torch.distributed.get_world_size() if distributed else 1
    if distributed:
        torch.distributed.destroy_process_group()
    if not main_process:
        return 0
    samples = {}
    for prompt in SAMPLE_PROMPTS:
        out = generate(model, text_to_ids(prompt, tokenizer), 40)
        samples[prompt] = ids_to_text(out, tokenizer)
    out_path = Path(args.out)
    save_model(model, out_path, dtype=torch.bfloat16)  # save_model copies to the CPU
    # the loss of the weights as saved (bfloat16), measured again in fp32
    saved = load_model(out_path)
    val_loss = evaluate_loss(saved, val_loader)
    card = {
        "name": "course-model",
        "command": command_line("llmcourse.pretrain", argv),
        "processes": world,
        "threads": torch.get_num_threads(),
        "seed": args.seed,
        "data": {
            "corpus": "moby-dick",
            "corpus_sha256": assets.ASSETS["moby-dick"].sha256,
            "train_text_sha256": _sha256(train_text),
            "val_text_sha256": _sha256(val_text),
            "train_tokens": len(train_ids),
            "val_tokens": len(val_ids),
            "val_fraction": args.val_fraction,
            "tokenizer": "gpt2",
        },
        "config": cfg.to_dict(),
        "parameters": count_parameters(model),
        "training": training_card(
            tcfg,
            batch_size=args.batch_size,
            context=ctx,
            tokens_seen=history.tokens_seen[-1],
            epochs=round(history.tokens_seen[-1] / len(train_ids), 2),
            seconds=round(history.seconds, 1),
            tokens_per_second=round(history.tokens_seen[-1] / history.seconds, 1),
        ),
        "machine": machine(model),
        "val_loss": round(val_loss, 4),
        "val_perplexity": round(float(torch.tensor(val_loss).exp()), 2),
        "history": {
            "step": history.step,
            "tokens_seen": history.tokens_seen,
            "train_loss": [round(x, 4) for x in history.train_loss],
            "val_loss": [round(x, 4) for x in history.val_loss],
        },
        "samples_during_training": history.samples,
        "samples": samples,
    }
    write_card(card, out_path, _card_text, out_path.parent / "README.md")
    print(f"validation loss {val_loss:.3f}, perplexity {card['val_perplexity']}")
    return 0


def _card_text(card: dict[str, Any]) -> str:
    """The model card as Markdown, from its data."""
    t, d, c = card["training"], card["data"], card["config"]
    rows = "\n".join(
        f"| {s} | {n:,} | {tr:.3f} | {va:.3f} |"
        for s, n, tr, va in zip(
            card["history"]["step"],
            card["history"]["tokens_seen"],
            card["history"]["train_loss"],
            card["history"]["val_loss"],
        )
    )
    samples = "\n".join(
        f"- `{p}` → {json.dumps(s, ensure_ascii=False)}" for p, s in card["samples"].items()
    )
    return f"""# The course model

A GPT-2-architecture model ({card["parameters"]:,} parameters: {c["n_layer"]} blocks,
width {c["n_embd"]}, {c["n_head"]} heads, context {c["context_length"]}, GPT-2's tokenizer and
50,257-token vocabulary, tied head) pretrained from scratch on *Moby-Dick* by `llmcourse.train`.
Chapters 6 and 7 use it. Load it with `llmcourse.weights.load_pretrained("course")`.

- **Weights:** `course-model.safetensors`, {card["weights_dtype"]}, sha256 `{card["weights_sha256"]}`
- **Command:** `{card["command"]}` ({card["processes"]} process(es), {card["threads"]} threads)
- **Seed:** {card["seed"]}
- **Data:** corpus `{d["corpus"]}` (sha256 `{d["corpus_sha256"]}`), the last
  {d["val_fraction"]:.0%} of the characters held out: {d["train_tokens"]:,} training tokens
  (sha256 of the text `{d["train_text_sha256"]}`), {d["val_tokens"]:,} validation tokens
  (`{d["val_text_sha256"]}`)
- **Training:** {t["steps"]:,} steps of {t["batch_size"]} windows × {t["context"]} tokens =
  {t["tokens_seen"]:,} tokens ({t["epochs"]} epochs), AdamW (weight decay {t["weight_decay"]} on
  matrices), learning rate {t["lr"]} after {t["warmup"]} warm-up steps, cosine to {t["min_lr"]},
  gradients clipped at {t["grad_clip"]}, bf16 autocast: {t["bf16"]}
- **Time:** {t["seconds"]:,} s on {card["machine"]["cpu"]} ({t["tokens_per_second"]:,} tokens/s),
  torch {card["machine"]["torch"]}, {card["date"]}
- **Validation loss** of the saved weights: {card["val_loss"]} (perplexity {card["val_perplexity"]})

## Loss curve

Measured every {card["history"]["step"][0]} steps in eval mode: the training loss on a fixed,
evenly spread set of {t["eval_batches"]} batches of training windows, the validation loss on the
first {t["eval_batches"]} batches of validation windows (the number above uses all of them).

| step | tokens seen | train loss | val loss |
|---:|---:|---:|---:|
{rows}

## Samples (greedy, 40 tokens)

{samples}

## Also in this folder

`instruct-model.safetensors`: this model fine-tuned to follow chapter 7.2's generated
instructions (`python -m llmcourse.instruct_model`); its card is `instruct-model.md`.

## Limits

It has read one novel, about a quarter of a million tokens: it knows the style and the names
of *Moby-Dick* and little else, repeats itself under greedy decoding, and is not a source of
facts. It exists so the course's chapters can run offline on a laptop CPU.
"""


if __name__ == "__main__":
    raise SystemExit(main())
