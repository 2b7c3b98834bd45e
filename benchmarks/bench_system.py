"""The rest of the measurements: eager against ``torch.compile``, the data loader, the machine's
matmul peak, and the wall time of every chapter notebook.

    python -m benchmarks.bench_system            # about 6 minutes on 2 cores
    python -m benchmarks.bench_system --no-notebooks

- **compile**: training steps (forward, loss, backward, AdamW) of the course config, eager against
  ``torch.compile``d, same weights and batches, alternating; the one-off compile time is
  reported apart. On a machine where compiling fails the row records why.
- **data**: windows per second from ``make_loader`` (a ``DataLoader`` over
  ``SlidingWindowDataset``, whose windows are views of one tensor) against a loader that builds
  each window from a Python list, as a first version would.
- **masked**: fine-tuning steps of the course config on batches whose prompt and padding are
  masked (targets ``-100``, as in chapter 7.2): ``batch_loss``, which runs the output head only
  where a target counts, against the same loss with the head at every position.
- **peak**: the best fp32 matmul rate of the machine (``n × n`` by ``n × n``, ``2 n³`` operations),
  the physical reference for training throughput.
- **notebooks**: the wall time of each chapter, executed top to bottom with ``nbclient``.

Prints a table and writes ``benchmarks/results/system.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from benchmarks import results_file
from llmcourse.config import GPTConfig
from llmcourse.data import encode, load_corpus, make_loader
from llmcourse.model import GPTModel
from llmcourse.train import batch_loss, make_optimizer

BOOK = Path(__file__).resolve().parent.parent / "book"


def _step(model, optimizer, ids) -> float:
    start = time.perf_counter()
    loss = batch_loss(model, ids[:, :-1], ids[:, 1:])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def bench_compile(rounds: int = 3, steps: int = 3) -> dict:
    """Eager against compiled training steps of the course config (batch 8 × 128 tokens)."""
    cfg = GPTConfig.preset("course", dropout=0.0)
    torch.manual_seed(0)
    eager = GPTModel(cfg)
    twin = GPTModel(cfg)
    twin.load_state_dict(eager.state_dict())
    ids = torch.randint(0, cfg.vocab_size, (8, 129), generator=torch.Generator().manual_seed(1))
    row: dict = {"config": "course", "batch": 8, "tokens": 128}
    try:
        compiled = torch.compile(twin)
        opt_c = make_optimizer(twin, 1e-4)
        start = time.perf_counter()
        _step(compiled, opt_c, ids)  # compiles forward and backward
        row["compile_s"] = round(time.perf_counter() - start, 1)
    except (RuntimeError, OSError) as e:  # compiling needs a C++ toolchain: say what stopped it
        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        return row
    opt_e = make_optimizer(eager, 1e-4)
    _step(eager, opt_e, ids)
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(rounds):
        times["eager"] += [_step(eager, opt_e, ids) for _ in range(steps)]
        times["compiled"] += [_step(compiled, opt_c, ids) for _ in range(steps)]
    tokens = 8 * 128
    for name, t in times.items():
        row[f"{name}_tokens_per_s"] = round(tokens / statistics.median(t), 1)
    row["compiled_vs_eager"] = round(row["compiled_tokens_per_s"] / row["eager_tokens_per_s"], 2)
    return row


class _ListWindows(Dataset):
    """The first version one would write: a Python list of ids, a new tensor per window."""

    def __init__(self, ids: list[int], max_length: int, stride: int) -> None:
        self.ids, self.max_length = ids, max_length
        self.starts = list(range(0, len(ids) - max_length, stride))

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.starts[i]
        chunk = self.ids[s : s + self.max_length + 1]
        return torch.tensor(chunk[:-1]), torch.tensor(chunk[1:])


def bench_data(epochs: int = 3) -> dict:
    """Windows per second over one pass of the corpus, batch 8 × 256, stride 128, shuffled."""
    ids = encode(load_corpus())
    ours = make_loader(ids, batch_size=8, max_length=256, stride=128, seed=0)
    peer = DataLoader(_ListWindows(ids, 256, 128), batch_size=8, shuffle=True, drop_last=True)
    rates = {}
    for name, loader in (("make_loader", ours), ("list windows", peer)):
        best = min(_pass_seconds(loader) for _ in range(epochs))
        rates[name] = len(loader) * 8 / best
    return {
        "windows": len(ours.dataset),
        "make_loader_windows_per_s": round(rates["make_loader"]),
        "list_windows_per_s": round(rates["list windows"]),
        "make_loader_vs_list": round(rates["make_loader"] / rates["list windows"], 2),
    }


def _pass_seconds(loader: DataLoader) -> float:
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def bench_masked(rounds: int = 5, counted: int = 8) -> dict:
    """Training steps with ``counted`` of 64 targets per row kept (batch 16), two ways."""
    cfg = GPTConfig.preset("course", dropout=0.0)
    torch.manual_seed(0)
    select, full = GPTModel(cfg), GPTModel(cfg)
    full.load_state_dict(select.state_dict())
    ids = torch.randint(0, cfg.vocab_size, (16, 65), generator=torch.Generator().manual_seed(2))
    x, y = ids[:, :-1], ids[:, 1:].clone()
    y[:, : 64 - counted] = -100  # the prompt (and padding) count for nothing

    def head_everywhere(model, inputs, targets):
        return F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())

    times: dict[str, list[float]] = {"select": [], "full": []}
    losses = {}
    for name, model, loss_fn in (
        ("select", select, batch_loss),
        ("full", full, head_everywhere),
    ):
        opt = make_optimizer(model, 1e-4)
        for r in range(rounds + 1):
            start = time.perf_counter()
            loss = loss_fn(model, x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if r:  # the first step warms up
                times[name].append(time.perf_counter() - start)
            losses.setdefault(name, loss.item())
    assert abs(losses["select"] - losses["full"]) < 1e-4, losses  # the same loss, two ways
    tokens = x.numel()
    row = {"config": "course", "batch": 16, "tokens": 64, "counted_per_row": counted}
    for name, seconds in times.items():
        row[f"{name}_tokens_per_s"] = round(tokens / statistics.median(seconds), 1)
    row["select_vs_full"] = round(row["select_tokens_per_s"] / row["full_tokens_per_s"], 2)
    return row


def bench_peak(n: int = 4096, repeats: int = 5) -> dict:
    """The best fp32 matmul rate: ``2 n³`` operations per ``n × n`` product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return {"n": n, "matmul_gflops": round(2 * n**3 / best / 1e9, 1)}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_notebooks() -> list[dict]:
    """Wall time of every chapter notebook, executed top to bottom (outputs discarded)."""
    import nbformat
    from nbclient import NotebookClient

    rows = []
    for path in sorted(BOOK.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}}
        ).execute()
        rows.append({"notebook": path.name, "seconds": round(time.perf_counter() - start, 1)})
        print(f"  {path.name:32} {rows[-1]['seconds']:7.1f} s")
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_system", description=__doc__)
    parser.add_argument("--no-notebooks", action="store_true", help="skip the chapter timings")
    args = parser.parse_args(argv)
    result: dict = {
        "benchmark": "system",
        "machine": results_file.machine(torch=torch.__version__, threads=torch.get_num_threads()),
    }
    result["peak"] = bench_peak()
    print(f"fp32 matmul peak: {result['peak']['matmul_gflops']} GFLOP/s")
    result["data"] = bench_data()
    d = result["data"]
    print(
        f"data loader: {d['make_loader_windows_per_s']:,} windows/s, list windows "
        f"{d['list_windows_per_s']:,}: {d['make_loader_vs_list']}×"
    )
    result["masked"] = bench_masked()
    m = result["masked"]
    print(
        f"fine-tuning with the prompt masked: head where targets count {m['select_tokens_per_s']} "
        f"tokens/s, head everywhere {m['full_tokens_per_s']}: {m['select_vs_full']}×"
    )
    result["compile"] = bench_compile()
    c = result["compile"]
    if "error" in c:
        print(f"torch.compile: not available here ({c['error']})")
    else:
        print(
            f"training, course config: eager {c['eager_tokens_per_s']} tokens/s, compiled "
            f"{c['compiled_tokens_per_s']}: {c['compiled_vs_eager']}× (compiling took "
            f"{c['compile_s']} s)"
        )
    if not args.no_notebooks:
        print("chapter notebooks:")
        result["notebooks"] = bench_notebooks()
    results_file.write("system", result)
    return result


if __name__ == "__main__":
    main()
