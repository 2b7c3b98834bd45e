"""Every benchmark in one command, and one table of ratios.

    python -m benchmarks              # all of them: about 9 minutes on 2 cores (= make bench)
    python -m benchmarks --summary    # only the table, from the results already in results/

Runs ``bench_bpe``, ``bench_model``, ``bench_generate`` and ``bench_system`` (each writes its own
``results/<name>.json``), then reads them and prints one row per comparison: ours, the peer
measured in the same run, their ratio and the target where there is one. The table is written
to ``results/summary.json``; the book's *Performance* appendix draws it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks import results_file

TARGETS = {
    "training fp32, course: GPTModel / Hugging Face": 1.0,
    "training fp32, gpt2-small: GPTModel / Hugging Face": 1.0,
    "training, course: bf16 autocast / fp32": 1.5,
    "training, gpt2-small: bf16 autocast / fp32": 1.5,
    "generation: KV cache / no cache": 5.0,
    "BPE training: fast / straightforward": 20.0,
}


def _load(name: str) -> dict[str, Any]:
    path = results_file.RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _row(name: str, ours: float, peer: float, unit: str, ratio: float | None = None) -> dict:
    ratio = ours / peer if ratio is None else ratio
    target = TARGETS.get(name)
    return {
        "comparison": name,
        "ours": round(ours, 3),
        "peer": round(peer, 3),
        "unit": unit,
        "ratio": round(ratio, 3),
        "target": target,
        "met": None if target is None else ratio >= target,
    }


def training_flops_per_token(params: int, n_layer: int, n_embd: int, tokens: int) -> float:
    """Forward + backward operations per token: ``6 N`` for the weights (2 forward, 4 backward)
    plus ``12 L d T`` for the attention scores and weighted sums over ``T`` tokens."""
    return 6 * params + 12 * n_layer * n_embd * tokens


def summary() -> dict[str, Any]:
    """The table of ratios from the result files in ``results/``."""
    rows: list[dict] = []
    model, gen, bpe, system = _load("model"), _load("generate"), _load("bpe"), _load("system")
    rate = {
        (r["config"], r["model"], r["precision"]): r["tokens_per_s"]
        for r in model.get("training", [])
    }
    for config in ("course", "gpt2-small"):
        ours, hf = (
            rate.get((config, "llmcourse", "fp32")),
            rate.get((config, "huggingface", "fp32")),
        )
        if ours and hf:
            rows.append(
                _row(f"training fp32, {config}: GPTModel / Hugging Face", ours, hf, "tokens/s")
            )
        bf16 = rate.get((config, "llmcourse", "bf16 autocast"))
        if ours and bf16:
            rows.append(_row(f"training, {config}: bf16 autocast / fp32", bf16, ours, "tokens/s"))
    for a in model.get("attention", []):
        rows.append(
            _row(
                f"attention fwd+bwd, {a['tokens']} tokens: SDPA / explicit (time)",
                a["sdpa_ms"],
                a["explicit_ms"],
                "ms",
                ratio=a["explicit_ms"] / a["sdpa_ms"],
            )
        )
    c = system.get("compile", {})
    if "compiled_tokens_per_s" in c:
        rows.append(
            _row(
                "training, course: torch.compile / eager",
                c["compiled_tokens_per_s"],
                c["eager_tokens_per_s"],
                "tokens/s",
            )
        )
    g = gen.get("generation_tokens_per_s", {})
    if g:
        rows.append(
            _row("generation: KV cache / no cache", g["KV cache"], g["no cache"], "tokens/s")
        )
        rows.append(
            _row(
                "generation: KV cache / Hugging Face generate",
                g["KV cache"],
                g["Hugging Face generate"],
                "tokens/s",
            )
        )
    t = bpe.get("training", {})
    if t:
        rows.append(
            _row(
                "BPE training: fast / straightforward",
                t["fast_s"],
                t["naive_s"],
                "s",
                ratio=t["naive_s"] / t["fast_s"],
            )
        )
    e = bpe.get("encoding", {})
    if e:
        rows.append(
            _row(
                "GPT-2 encoding: ours / tiktoken",
                e["ours_tokens_per_s"],
                e["tiktoken_tokens_per_s"],
                "tokens/s",
            )
        )
    d = system.get("data", {})
    if d:
        rows.append(
            _row(
                "data: make_loader / windows from a list",
                d["make_loader_windows_per_s"],
                d["list_windows_per_s"],
                "windows/s",
            )
        )
    m = system.get("masked", {})
    if m:
        rows.append(
            _row(
                "fine-tuning, prompt masked: head where targets count / everywhere",
                m["select_tokens_per_s"],
                m["full_tokens_per_s"],
                "tokens/s",
            )
        )
    peak = system.get("peak", {}).get("matmul_gflops")
    small = rate.get(("gpt2-small", "llmcourse", "fp32"))
    out: dict[str, Any] = {"rows": rows, "notebooks": system.get("notebooks", [])}
    if peak and small:
        shape = model["settings"]["shapes"]["gpt2-small"]
        params = next(r["params"] for r in model["training"] if r["config"] == "gpt2-small")
        flops = training_flops_per_token(params, 12, 768, shape[1]) * small
        out["gpt2_small_training"] = {
            "tokens_per_s": round(small, 1),
            "achieved_gflops": round(flops / 1e9, 1),
            "matmul_peak_gflops": peak,
            "share_of_peak": round(flops / 1e9 / peak, 3),
        }
    return out


def print_table(table: dict[str, Any]) -> None:
    print(f"{'comparison':58} {'ours':>11} {'peer':>11} {'unit':9} {'ratio':>6}  target")
    for r in table["rows"]:
        target = (
            "" if r["target"] is None else f"≥ {r['target']}× " + ("met" if r["met"] else "MISSED")
        )
        print(
            f"{r['comparison']:58} {r['ours']:11,.3f} {r['peer']:11,.3f} {r['unit']:9} "
            f"{r['ratio']:6.3g}×  {target}"
        )
    s = table.get("gpt2_small_training")
    if s:
        print(
            f"gpt2-small training: {s['achieved_gflops']} GFLOP/s achieved of a "
            f"{s['matmul_peak_gflops']} GFLOP/s fp32 matmul peak = {s['share_of_peak']:.0%}"
        )
    for n in table.get("notebooks", []):
        print(f"notebook {n['notebook']:32} {n['seconds']:7.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--summary", action="store_true", help="only the table, from results/")
    args = parser.parse_args(argv)
    if not args.summary:
        from benchmarks import bench_bpe, bench_generate, bench_model, bench_system

        bench_bpe.main([])
        bench_model.main([])
        bench_generate.main([])
        bench_system.main([])
    table = summary()
    table["machine"] = _load("system").get("machine") or _load("model").get("machine")
    print_table(table)
    results_file.write("summary", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
