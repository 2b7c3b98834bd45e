"""BPE speed: the fast trainer against the naive one, our GPT-2 encoder against tiktoken.

    python -m benchmarks.bench_bpe            # naive trainer on a slice of the corpus
    python -m benchmarks.bench_bpe --full     # naive trainer on the whole corpus (minutes)

Prints a table and writes ``benchmarks/results/bpe.json``. Both trainers must give the same
merges and both encoders the same ids; the run fails otherwise.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import tiktoken

from benchmarks import results_file
from llmcourse import assets
from llmcourse.data import load_corpus
from llmcourse.tokenizer import BPETokenizer, gpt2_tokenizer, load_tiktoken_ranks

VOCAB_SIZE = 4096
NAIVE_SLICE = 200_000  # characters: the naive trainer takes ~1 minute on these


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The fastest of ``repeats`` runs of ``fn`` (seconds) and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench_training(corpus: str, full: bool) -> dict:
    text = corpus if full else corpus[:NAIVE_SLICE]
    fast_s, fast = best_of(3, lambda: BPETokenizer.train(text, VOCAB_SIZE))
    naive_s, naive = best_of(1, lambda: BPETokenizer.train(text, VOCAB_SIZE, method="naive"))
    if list(fast.merges.items()) != list(naive.merges.items()):
        raise SystemExit("fast and naive trainers gave different merges")
    corpus_s, _ = best_of(3, lambda: BPETokenizer.train(corpus, VOCAB_SIZE))
    return {
        "vocab_size": VOCAB_SIZE,
        "compared_on_chars": len(text),
        "compared_on": "whole corpus" if full else f"first {len(text):,} characters",
        "fast_s": fast_s,
        "naive_s": naive_s,
        "speedup": naive_s / fast_s,
        "same_merges": True,
        "fast_whole_corpus_s": corpus_s,
    }


def bench_encoding(corpus: str) -> dict:
    ranks = load_tiktoken_ranks(assets.fetch("gpt2.tiktoken"))
    ref = gpt2_tokenizer()

    cold = []  # a fresh tokenizer each time: its chunk cache starts empty
    for _ in range(3):
        tok = BPETokenizer.from_tiktoken_ranks(ranks)
        start = time.perf_counter()
        ours = tok.encode(corpus)
        cold.append(time.perf_counter() - start)
    ours_s = min(cold)
    warm_s, _ = best_of(3, lambda: tok.encode(corpus))  # every chunk is in the cache now
    ref_s, ref_ids = best_of(5, lambda: ref.encode(corpus, allowed_special="all"))
    if ours != ref_ids:
        raise SystemExit("our GPT-2 encoder and tiktoken gave different ids")
    mb = len(corpus.encode("utf-8")) / 1e6
    return {
        "corpus_mb": mb,
        "tokens": len(ours),
        "same_ids": True,
        "ours_s": ours_s,
        "ours_warm_cache_s": warm_s,
        "tiktoken_s": ref_s,
        "ours_mb_per_s": mb / ours_s,
        "ours_tokens_per_s": len(ours) / ours_s,
        "tiktoken_mb_per_s": mb / ref_s,
        "tiktoken_tokens_per_s": len(ours) / ref_s,
        "tiktoken_speedup": ours_s / ref_s,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_bpe", description=__doc__)
    parser.add_argument("--full", action="store_true", help="naive trainer on the whole corpus")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    train = bench_training(corpus, args.full)
    enc = bench_encoding(corpus)

    print(f"BPE training to vocab {VOCAB_SIZE} on {train['compared_on']} of Moby-Dick")
    print(f"  {'naive (recount every merge)':32} {train['naive_s']:9.2f} s")
    print(f"  {'fast (incremental + heap)':32} {train['fast_s']:9.2f} s")
    print(f"  {'speed-up':32} {train['speedup']:9.1f} x   (same merges: yes)")
    print(f"  {'fast, whole corpus':32} {train['fast_whole_corpus_s']:9.2f} s")
    size = f"{enc['corpus_mb']:.2f} MB, {enc['tokens']:,} tokens"
    print(f"GPT-2 encoding of the whole corpus ({size})")
    print(f"  {'':32} {'seconds':>9} {'MB/s':>8} {'tokens/s':>11}")
    rows = [("llmcourse BPETokenizer", enc["ours_s"]), ("tiktoken (Rust)", enc["tiktoken_s"])]
    for name, seconds in rows:
        mbs, tps = enc["corpus_mb"] / seconds, enc["tokens"] / seconds
        print(f"  {name:32} {seconds:9.3f} {mbs:8.2f} {tps:11,.0f}")
    print(f"  {'tiktoken is faster by':32} {enc['tiktoken_speedup']:9.1f} x   (same ids: yes)")
    print(f"  {'ours again, warm chunk cache':32} {enc['ours_warm_cache_s']:9.3f}")

    result = {
        "benchmark": "bpe",
        "machine": results_file.machine(tiktoken=tiktoken.__version__),
        "training": train,
        "encoding": enc,
    }
    results_file.write("bpe", result)


if __name__ == "__main__":
    main()
