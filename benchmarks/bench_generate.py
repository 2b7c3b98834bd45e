"""Generation speed of the course model: with the KV cache, without it, and Hugging Face's
``generate`` on the same weights; plus the course model's own training record.

    python -m benchmarks.bench_generate           # a minute or two on 2 cores
    python -m benchmarks.bench_generate --quick   # one round

Greedy decoding of 255 new tokens after a one-token prompt (``<|endoftext|>``): 256 tokens in
all, the course model's whole context, so no path ever has to drop tokens. The three paths take
turns in rounds in the same process; each one's time is the median of its rounds. Their tokens
must be identical, or the benchmark stops. The training numbers (tokens/s, time, validation
loss) come from the model card, measured when the course model was trained.

Prints a table and writes ``benchmarks/results/generate.json``. Needs ``transformers`` (the
``test`` extra); runs offline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from benchmarks import results_file
from benchmarks.bench_model import hf_model
from llmcourse.generate import generate
from llmcourse.weights import gpt2_state_dict, load_pretrained, model_card

NEW_TOKENS = 255
EOT = 50256


def hf_generator(model) -> Callable[[torch.Tensor], torch.Tensor]:
    """Hugging Face's GPT2LMHeadModel with our weights, and its greedy ``generate``."""
    hf = hf_model(model.cfg.replace(dropout=0.0)).eval()
    missing, unexpected = hf.load_state_dict(gpt2_state_dict(model), strict=False)
    assert not unexpected and all(k.endswith(("attn.bias", "attn.masked_bias")) for k in missing)

    def run(prompt: torch.Tensor) -> torch.Tensor:
        return hf.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            do_sample=False,
            pad_token_id=EOT,
        )

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_generate")
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else args.rounds

    torch.manual_seed(0)
    model = load_pretrained("course")
    prompt = torch.tensor([[EOT]])
    paths: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "KV cache": lambda p: generate(model, p, NEW_TOKENS, use_cache=True),
        "no cache": lambda p: generate(model, p, NEW_TOKENS, use_cache=False),
        "Hugging Face generate": hf_generator(model),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    outputs: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        for name, run in paths.items():  # warm-up, and the tokens to compare
            outputs[name] = run(prompt)
        for _ in range(rounds):
            for name, run in paths.items():
                start = time.perf_counter()
                run(prompt)
                times[name].append(time.perf_counter() - start)
    reference = outputs["KV cache"]
    for name, out in outputs.items():
        if not torch.equal(out, reference):
            raise SystemExit(f"{name} generated different tokens than the KV-cache path")

    tokens_per_s = {name: NEW_TOKENS / statistics.median(t) for name, t in times.items()}
    card = model_card("course")
    result = {
        "machine": results_file.machine(torch=torch.__version__, threads=torch.get_num_threads()),
        "new_tokens": NEW_TOKENS,
        "rounds": rounds,
        "generation_tokens_per_s": {k: round(v, 1) for k, v in tokens_per_s.items()},
        "kv_cache_vs_no_cache": round(tokens_per_s["KV cache"] / tokens_per_s["no cache"], 2),
        "kv_cache_vs_hugging_face": round(
            tokens_per_s["KV cache"] / tokens_per_s["Hugging Face generate"], 2
        ),
        "course_model_training": {
            "tokens_per_s": card["training"]["tokens_per_second"],
            "seconds": card["training"]["seconds"],
            "steps": card["training"]["steps"],
            "val_loss": card["val_loss"],
            "val_perplexity": card["val_perplexity"],
            "cpu": card["machine"]["cpu"],
        },
    }
    print(f"greedy generation, course model, {NEW_TOKENS} new tokens (median of {rounds})")
    for name, value in tokens_per_s.items():
        print(f"  {name:24} {value:8.1f} tokens/s")
    print(f"  KV cache / no cache       {result['kv_cache_vs_no_cache']:.2f}×  (target ≥ 5×)")
    print(f"  KV cache / Hugging Face   {result['kv_cache_vs_hugging_face']:.2f}×")
    t = result["course_model_training"]
    print(
        f"course model training: {t['tokens_per_s']:,} tokens/s, {t['seconds']:,} s for "
        f"{t['steps']} steps; validation loss {t['val_loss']} (perplexity {t['val_perplexity']})"
    )
    results_file.write("generate", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
