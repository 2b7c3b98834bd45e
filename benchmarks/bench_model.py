"""Training speed of ``GPTModel`` against Hugging Face's ``GPT2LMHeadModel``, on the CPU.

    python -m benchmarks.bench_model              # course and gpt2-small (a few minutes, 2 cores)
    python -m benchmarks.bench_model --quick      # fewer steps, course only

One training step = forward, cross-entropy loss, backward, AdamW step. Both models have the same
config and the same weights (ours loaded from Hugging Face's through ``llmcourse.weights``) and
get the same batches; they run in alternating rounds in the same process, so a busy machine slows
both alike. Each is measured in fp32 and with bf16 autocast (parameters and optimizer stay fp32).
Warm-up steps are not timed; all four trainers of a config (ours / Hugging Face × fp32 / bf16)
take turns in rounds, and each one's time is the median of its timed steps. Also: the explicit attention of
chapter 4 against the fused ``scaled_dot_product_attention`` path.

Prints a table and writes ``benchmarks/results/model.json``. Needs ``transformers`` (the ``test``
extra); runs offline.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import torch.nn.functional as F

from benchmarks import results_file
from llmcourse.attention import MultiHeadAttention
from llmcourse.config import GPTConfig
from llmcourse.model import GPTModel, count_parameters
from llmcourse.runtime import seed
from llmcourse.weights import load_gpt2_state_dict

# preset -> (batch, tokens per sequence); sized for a few minutes on 2 cores
SHAPES = {"course": (8, 128), "gpt2-small": (2, 128)}


def hf_model(cfg: GPTConfig):
    from transformers import GPT2Config, GPT2LMHeadModel

    hc = GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.context_length,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        tie_word_embeddings=cfg.tie_weights,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(hc)


class Trainer:
    """One model, its AdamW and a fixed batch; ``step()`` runs one timed training step."""

    def __init__(self, model: torch.nn.Module, ids: torch.Tensor, bf16: bool, hf: bool):
        self.model, self.hf, self.bf16 = model.train(), hf, bf16
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
        self.inputs, self.targets = ids[:, :-1], ids[:, 1:]

    def step(self) -> float:
        start = time.perf_counter()
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()
        with ctx:
            out = self.model(self.inputs)
            logits = out.logits if self.hf else out
            loss = F.cross_entropy(logits.flatten(0, 1).float(), self.targets.flatten())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return time.perf_counter() - start


def bench_training(name: str, rounds: int, steps: int, warmup: int) -> list[dict]:
    """Four trainers (ours / Hugging Face × fp32 / bf16 autocast) take turns, ``steps`` steps
    each per round, so that background load hits all of them alike; a trainer's time is the
    median of all its timed steps."""
    batch, tokens = SHAPES[name]
    cfg = GPTConfig.preset(name)
    seed(1)
    ids = torch.randint(0, cfg.vocab_size, (batch, tokens + 1))
    hf = hf_model(cfg)
    ours = GPTModel(cfg)
    load_gpt2_state_dict(ours, hf.state_dict())
    assert count_parameters(ours) == count_parameters(hf)
    trainers = {
        (model, precision): Trainer(m, ids, bf16=precision != "fp32", hf=model == "huggingface")
        for precision in ("fp32", "bf16 autocast")
        for model, m in (("llmcourse", ours), ("huggingface", hf))
    }
    for t in trainers.values():
        for _ in range(warmup):
            t.step()
    times: dict[tuple[str, str], list[float]] = {k: [] for k in trainers}
    for _ in range(rounds):
        for k, t in trainers.items():
            times[k] += [t.step() for _ in range(steps)]
    rows = []
    for (model, precision), ts in times.items():
        median = statistics.median(ts)
        rows.append(
            {
                "config": name,
                "model": model,
                "precision": precision,
                "batch": batch,
                "tokens": tokens,
                "params": count_parameters(ours),
                "step_s": median,
                "step_s_min": min(ts),
                "timed_steps": len(ts),
                "tokens_per_s": batch * tokens / median,
            }
        )
    return rows


def bench_attention(repeats: int) -> list[dict]:
    """Chapter 4's explicit attention against the SDPA path: forward + backward, the course
    model's width and heads; outputs and input gradients are checked equal first."""
    seed(2)
    rows = []
    cfg = GPTConfig.preset("course", dropout=0.0)
    for n_tokens in (128, 256, 1024):
        x = torch.randn(8, n_tokens, cfg.n_embd, requires_grad=True)
        modules, times = {}, {}
        for fast in (False, True):
            seed(3)  # the same weights for both paths
            modules[fast] = MultiHeadAttention(
                cfg.n_embd, cfg.n_embd, n_tokens, cfg.n_head, qkv_bias=True, fast=fast
            )
        (g_slow,) = torch.autograd.grad(modules[False](x).square().sum(), x)
        (g_fast,) = torch.autograd.grad(modules[True](x).square().sum(), x)
        torch.testing.assert_close(g_fast, g_slow, atol=1e-4, rtol=1e-4)
        for fast, attn in modules.items():
            times[fast] = _best(repeats, lambda a=attn, x=x: a(x).sum().backward())
        rows.append(
            {
                "tokens": n_tokens,
                "batch": 8,
                "n_embd": cfg.n_embd,
                "n_head": cfg.n_head,
                "explicit_ms": times[False] * 1e3,
                "sdpa_ms": times[True] * 1e3,
                "speedup": times[False] / times[True],
            }
        )
    return rows


def _best(repeats: int, fn: Callable[[], object]) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_model", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="course config only, fewer steps")
    parser.add_argument("--configs", nargs="+", choices=sorted(SHAPES), help="presets to run")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 4, quick 2)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = args.configs or (["course"] if args.quick else ["course", "gpt2-small"])
    rounds, steps, warmup = (2, 2, 1) if args.quick else (4, 3, 2)
    rounds = args.rounds or rounds
    training = [r for name in configs for r in bench_training(name, rounds, steps, warmup)]
    attention = bench_attention(3 if args.quick else 10)

    def rate(config: str, model: str, precision: str) -> float:
        return next(
            r["tokens_per_s"]
            for r in training
            if (r["config"], r["model"], r["precision"]) == (config, model, precision)
        )

    ratios = {}
    print(
        f"training tokens/s on CPU ({torch.get_num_threads()} threads), forward + backward + AdamW"
    )
    print(
        f"  {'config':11} {'precision':14} {'llmcourse':>10} {'HF':>10} {'ours/HF':>8}"
        f" {'ours bf16/fp32':>15}"
    )
    for name in configs:
        ours32 = rate(name, "llmcourse", "fp32")
        for precision in ("fp32", "bf16 autocast"):
            ours, hf = rate(name, "llmcourse", precision), rate(name, "huggingface", precision)
            vs_fp32 = ours / ours32
            ratios[f"{name}/{precision}"] = {
                "ours_over_hf": ours / hf,
                "ours_over_ours_fp32": vs_fp32,
            }
            print(
                f"  {name:11} {precision:14} {ours:10,.0f} {hf:10,.0f} {ours / hf:7.2f}x"
                f" {vs_fp32:14.2f}x"
            )
    print("attention forward + backward (course width, batch 8)")
    print(f"  {'tokens':>6} {'explicit ms':>12} {'SDPA ms':>9} {'speed-up':>9}")
    for r in attention:
        print(
            f"  {r['tokens']:6} {r['explicit_ms']:12.2f} {r['sdpa_ms']:9.2f} {r['speedup']:8.2f}x"
        )

    import transformers

    result = {
        "benchmark": "model",
        "machine": results_file.machine(
            torch_threads=torch.get_num_threads(),
            torch=torch.__version__,
            transformers=transformers.__version__,
        ),
        "settings": {
            "rounds": rounds,
            "steps_per_round": steps,
            "warmup_steps": warmup,
            "shapes": {k: SHAPES[k] for k in configs},
        },
        "training": training,
        "ratios": ratios,
        "attention": attention,
    }
    results_file.write("model", result)


if __name__ == "__main__":
    main()
