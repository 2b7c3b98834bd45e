"""The instruction-tuned course model: the command that makes it and its card (chapter 7.2).

Chapter 7.2 fine-tunes the course model for a few hundred steps, which teaches it the answer
format but not yet the skills. This module's command fine-tunes it for longer, on the same
generated dataset and split as the chapter, and commits the result next to the course model::

    make instruct-model        # = python -m llmcourse.instruct_model (the defaults below)

It writes ``checkpoints/instruct-model.safetensors`` (bfloat16, config in the metadata),
``checkpoints/instruct-model.json`` (the card's data: command, seeds, sha256 of each split,
steps, time, loss curve, and exact match per task family on the test split, measured on the
weights as saved) and ``checkpoints/instruct-model.md`` (the card as text). An interrupted run
continues from its last checkpoint with ``--resume``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from llmcourse import runtime
from llmcourse.commands import (
    add_run_arguments,
    command_line,
    machine,
    run_config,
    training_card,
    write_card,
)
from llmcourse.instruct import (
    DEFAULT_FAMILIES,
    evaluate_exact_match,
    make_dataset,
    make_instruction_loaders,
    split_dataset,
)
from llmcourse.model import count_parameters
from llmcourse.tokenizer import gpt2_tokenizer
from llmcourse.train import TrainConfig, train
from llmcourse.weights import CHECKPOINTS, load_model, load_pretrained, model_card, save_model

__all__ = ["INSTRUCT_MODEL", "instruct_data", "main", "records_sha256", "train_config"]

INSTRUCT_MODEL = CHECKPOINTS / "instruct-model.safetensors"
"""The committed instruction-tuned course model, in the repository's ``checkpoints/``."""


def instruct_data(
    n: int = 2400, seed: int = 0, split_seed: int = 0
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    """Chapter 7.2's dataset and split: ``make_dataset(n, seed)`` cut 85/5/10 by
    ``split_dataset(..., seed=split_seed)`` into train, validation and test records."""
    return split_dataset(make_dataset(n, seed=seed), (0.85, 0.05, 0.10), seed=split_seed)


def records_sha256(records: Sequence[Mapping[str, str]]) -> str:
    """A fingerprint of a list of records: sha256 of their JSON (keys sorted, UTF-8)."""
    text = json.dumps(list(records), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m llmcourse.instruct_model",
        description="Fine-tune the course model on chapter 7.2's instructions; write its card.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--examples", type=int, default=2400, help="size of the generated dataset")
    p.add_argument("--data-seed", type=int, default=0, help="make_dataset's seed")
    p.add_argument("--split-seed", type=int, default=0, help="split_dataset's seed")
    p.add_argument("--steps", type=int, default=4000, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=16, help="examples per step")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    p.add_argument("--min-lr", type=float, default=1e-4, help="learning rate at the end")
    p.add_argument("--warmup", type=int, default=20, help="warm-up steps")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--eval-every", type=int, default=100, help="steps between evaluations")
    p.add_argument("--max-new-tokens", type=int, default=12, help="longest answer evaluated")
    p.add_argument("--seed", type=int, default=123, help="torch seed and data order")
    add_run_arguments(p, "_build/instruct-run", 250, INSTRUCT_MODEL)
    return p


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The fine-tuning settings of the parsed options; each is given here, not left to
    ``TrainConfig``'s defaults, so the committed model's card stays true."""
    return run_config(args, eval_batches=None, bf16=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = gpt2_tokenizer()
    train_data, val_data, test_data = instruct_data(args.examples, args.data_seed, args.split_seed)
    runtime.seed(args.seed)
    model = load_pretrained("course", runtime.device())
    train_loader, val_loader = make_instruction_loaders(
        train_data, val_data, tokenizer, batch_size=args.batch_size, seed=args.seed
    )
    tcfg = train_config(args)
    print(
        f"fine-tuning {count_parameters(model):,} parameters on {len(train_data):,} examples "
        f"({len(train_loader)} batches per epoch) for {args.steps} steps"
    )
    history = train(
        model, train_loader, val_loader, tcfg, resume=args.run_dir if args.resume else None
    )
    out_path = Path(args.out)
    save_model(model, out_path, dtype=torch.bfloat16)
    # exact match of the weights as saved (bfloat16), loaded again in fp32
    saved = load_model(out_path, device=runtime.device())
    scores = evaluate_exact_match(saved, tokenizer, test_data, args.max_new_tokens)
    samples = [
        {"instruction": r["instruction"], "input": r["input"], "expected": r["output"], "got": a}
        for r, a in list(zip(test_data, scores["responses"]))[:12]
    ]
    card = {
        "name": "instruct-model",
        "base": "course-model",
        "base_sha256": model_card("course")["weights_sha256"],
        "command": command_line("llmcourse.instruct_model", argv),
        "threads": torch.get_num_threads(),
        "seed": args.seed,
        "data": {
            "generator": "llmcourse.instruct.make_dataset",
            "examples": args.examples,
            "data_seed": args.data_seed,
            "split_seed": args.split_seed,
            "families": list(DEFAULT_FAMILIES),
            "train": len(train_data),
            "val": len(val_data),
            "test": len(test_data),
            "train_sha256": records_sha256(train_data),
            "val_sha256": records_sha256(val_data),
            "test_sha256": records_sha256(test_data),
            "prompt_masked": True,
        },
        "config": saved.cfg.to_dict(),
        "parameters": count_parameters(model),
        "training": training_card(
            tcfg,
            batch_size=args.batch_size,
            epochs=round(args.steps * args.batch_size / len(train_data), 2),
            seconds=round(history.seconds, 1),
        ),
        "machine": machine(model),
        "history": {
            "step": history.step,
            "train_loss": [round(x, 4) for x in history.train_loss],
            "val_loss": [round(x, 4) for x in history.val_loss],
        },
        "exact_match": {
            "max_new_tokens": args.max_new_tokens,
            "per_family": {k: round(v, 4) for k, v in scores["per_family"].items()},
            "counts": scores["counts"],
            "overall": round(scores["overall"], 4),
        },
        "samples": samples,
    }
    write_card(card, out_path, _card_text, out_path.with_suffix(".md"))
    print(f"exact match on the test split: {scores['overall']:.1%}")
    return 0


def _card_text(card: dict[str, Any]) -> str:
    """The model card as Markdown, from its data."""
    t, d, em = card["training"], card["data"], card["exact_match"]
    scores = "\n".join(
        f"| {family} | {em['counts'][family]} | {score:.1%} |"
        for family, score in em["per_family"].items()
    )
    curve = "\n".join(
        f"| {s} | {tr:.3f} | {va:.3f} |"
        for s, tr, va in zip(
            card["history"]["step"], card["history"]["train_loss"], card["history"]["val_loss"]
        )
    )
    samples = "\n".join(
        f"- {s['instruction']} {json.dumps(s['input'])} → {json.dumps(s['got'], ensure_ascii=False)}"
        f" ({'right' if s['got'] == s['expected'] else 'expected ' + json.dumps(s['expected'])})"
        for s in card["samples"]
    )
    return f"""# The instruction-tuned course model

The course model (see `README.md`; weights sha256 `{card["base_sha256"]}`) fine-tuned on
chapter 7.2's generated instructions, every weight trained, the prompt masked so only the
response counts. Chapter 7.2 loads it with
`llmcourse.weights.load_pretrained("instruct")`.

- **Weights:** `instruct-model.safetensors`, {card["weights_dtype"]}, sha256 `{card["weights_sha256"]}`
- **Command:** `{card["command"]}` ({card["threads"]} threads)
- **Seed:** {card["seed"]}
- **Data:** `make_dataset({d["examples"]}, seed={d["data_seed"]})` over the families
  {", ".join(f"`{f}`" for f in d["families"])}, cut by `split_dataset(seed={d["split_seed"]})`
  into {d["train"]:,} training, {d["val"]} validation and {d["test"]} test examples (sha256 of
  the records: train `{d["train_sha256"]}`, validation `{d["val_sha256"]}`, test
  `{d["test_sha256"]}`)
- **Training:** {t["steps"]:,} steps of {t["batch_size"]} examples ({t["epochs"]} epochs),
  AdamW (weight decay {t["weight_decay"]}), learning rate {t["lr"]} after {t["warmup"]}
  warm-up steps, cosine to {t["min_lr"]}, gradients clipped at {t["grad_clip"]}
- **Time:** {t["seconds"]:,} s on {card["machine"]["cpu"]}, torch {card["machine"]["torch"]},
  {card["date"]}

## Exact match on the test split

Greedy answers of at most {em["max_new_tokens"]} tokens, from the weights as saved:

| family | test examples | exact match |
|---|---:|---:|
{scores}
| **overall** | {d["test"]} | **{em["overall"]:.1%}** |

## Loss curve

| step | train loss | val loss |
|---:|---:|---:|
{curve}

## Samples (test split)

{samples}

## Limits

It answers six kinds of generated question in one prompt layout, and little else: the course
model under it has read one novel. Outside these families its answers are guesses.
"""


if __name__ == "__main__":
    raise SystemExit(main())
