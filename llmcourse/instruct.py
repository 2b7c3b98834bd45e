"""Fine-tuning to follow instructions (chapter 7.2).

- ``FAMILIES``: task families whose answers are exact (reverse the words, the capital of a US
  state, add two numbers, ...); each makes one ``(instruction, input, output)`` from a seeded
  ``random.Random``.
- ``make_dataset`` / ``split_dataset``: records ``{"instruction", "input", "output", "family"}``
  in the Alpaca layout, deterministic by seed, no prompt repeated, split train/validation/test.
- ``format_prompt``: the Alpaca prompt (with or without an input); the response follows it.
- ``InstructionDataset`` + ``collate``: token ids, padded with end-of-text, shifted by one, the
  padding targets set to ``-100`` except the first end-of-text, the prompt optionally masked.
  The end-of-text id comes from the tokenizer (``end_of_text_id``), so any course tokenizer
  with ``<|endoftext|>`` works, GPT-2's or a BPE trained in chapter 1.
- ``respond`` / ``evaluate_exact_match``: greedy answers and exact match per family.
- ``load_alpaca_json``: bring your own Alpaca-format JSON file.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from llmcourse import assets
from llmcourse.generate import generate
from llmcourse.tokenizer import Tokenizer, decode, encode, end_of_text_id
from llmcourse.train import IGNORE_INDEX
from llmcourse.validate import check_bool, check_float, check_ids, check_int, check_type, describe

__all__ = [
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "FIELDS",
    "IGNORE_INDEX",
    "PREAMBLE",
    "WORDS",
    "InstructionDataset",
    "collate",
    "evaluate_exact_match",
    "exact_match",
    "format_example",
    "format_prompt",
    "load_alpaca_json",
    "make_dataset",
    "make_instruction_loaders",
    "respond",
    "split_dataset",
]

FIELDS = ("instruction", "input", "output")
PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)

# Short, common words; each is one or two GPT-2 tokens.
_WORD_LIST = (
    "ship boat sea deck rope wave wind storm star moon sun night day fish bird hand head eye "
    "heart king man boy cat dog horse tree book door house road hill river lake rock stone fire "
    "bell bone coat hat map ring rain cup coin key bed cow bag box net egg flag gun"
)
WORDS = tuple(_WORD_LIST.split())

Family = Callable[[random.Random], tuple[str, str, str]]


@cache
def _states() -> tuple[tuple[str, str], ...]:
    names = json.loads(assets.fetch("us-states").read_text(encoding="utf-8"))
    capitals = json.loads(assets.fetch("us-state-capitals").read_text(encoding="utf-8"))
    assert len(names) == len(capitals) == 50
    return tuple(zip(names, capitals))


def _words(rng: random.Random, low: int, high: int) -> list[str]:
    return rng.sample(WORDS, rng.randint(low, high))


def _first_word(rng: random.Random) -> tuple[str, str, str]:
    words = _words(rng, 2, 5)
    ask = rng.choice(
        (
            "What is the first word?",
            "Write the first word of the list.",
            "Which word comes first?",
        )
    )
    return ask, " ".join(words), words[0]


def _last_word(rng: random.Random) -> tuple[str, str, str]:
    words = _words(rng, 2, 5)
    ask = rng.choice(
        ("What is the last word?", "Write the last word of the list.", "Which word comes last?")
    )
    return ask, " ".join(words), words[-1]


def _repeat(rng: random.Random) -> tuple[str, str, str]:
    word, n = rng.choice(WORDS), rng.randint(2, 4)
    ask = rng.choice(
        (
            f"Repeat the word {n} times.",
            f"Write the word {n} times.",
            f"Say this word {n} times.",
        )
    )
    return ask, word, " ".join([word] * n)


def _count(rng: random.Random) -> tuple[str, str, str]:
    words = rng.choices(WORDS, k=rng.randint(1, 6))
    ask = rng.choice(
        ("How many words are there?", "Count the words.", "How many words are in the list?")
    )
    return ask, " ".join(words), str(len(words))


def _add(rng: random.Random) -> tuple[str, str, str]:
    a, b = rng.randint(0, 9), rng.randint(0, 9)
    ask = rng.choice(("Add the two numbers.", "What is the sum?", "Compute the sum."))
    return ask, rng.choice([f"{a} + {b}", f"{a} and {b}"]), str(a + b)


def _capital(rng: random.Random) -> tuple[str, str, str]:
    state, capital = rng.choice(_states())
    with_input = (
        "What is the capital of this US state?",
        "Name the state capital.",
        "Give the capital of the state.",
        "Which city is the capital?",
        "Write the capital city of this state.",
    )
    without = (
        f"What is the capital of {state}?",
        f"Name the capital city of {state}.",
        f"Which city is the capital of {state}?",
        f"Give the capital of {state}.",
        f"What city is the state capital of {state}?",
    )
    k = rng.randrange(10)
    return (with_input[k], state, capital) if k < 5 else (without[k - 5], "", capital)


def _reverse(rng: random.Random) -> tuple[str, str, str]:
    words = _words(rng, 2, 3)
    ask = rng.choice(
        (
            "Reverse the order of the words.",
            "Write these words in reverse order.",
            "Put the words in the opposite order.",
        )
    )
    return ask, " ".join(words), " ".join(reversed(words))


FAMILIES: dict[str, Family] = {
    "first_word": _first_word,
    "last_word": _last_word,
    "repeat": _repeat,
    "count": _count,
    "add": _add,
    "capital": _capital,
    "reverse": _reverse,
}
"""Task family name -> a function of a ``random.Random`` giving (instruction, input, output)."""

DEFAULT_FAMILIES = ("first_word", "last_word", "repeat", "count", "add", "capital")
"""The families ``make_dataset`` uses by default: the course model learns them on a CPU."""


# ----------------------------------------------------------------------------- the dataset
def _check_record(record: Any, where: str) -> dict[str, str]:
    if not isinstance(record, Mapping):
        raise TypeError(f"{where} must be a dict with {FIELDS}, got {type(record).__name__}")
    for name in FIELDS:
        if name not in record:
            raise ValueError(f"{where} has no field {name!r}; an Alpaca record needs {FIELDS}")
        if not isinstance(record[name], str):
            raise TypeError(
                f"{where}: field {name!r} must be a str, got {type(record[name]).__name__}"
            )
    return dict(record)


def make_dataset(
    n: int, seed: int = 0, families: Sequence[str] | None = None
) -> list[dict[str, str]]:
    """``n`` records ``{"instruction", "input", "output", "family"}``, as evenly spread over
    ``families`` (default: ``DEFAULT_FAMILIES``) as they allow, shuffled, deterministic by
    ``seed``. No prompt (instruction + input) appears twice."""
    n = check_int("n", n, minimum=1)
    seed = check_int("seed", seed)
    if isinstance(families, str):
        raise TypeError(f"families must be a list of family names, e.g. [{families!r}]")
    names = list(DEFAULT_FAMILIES) if families is None else list(families)
    if not names:
        raise ValueError("families is empty: give at least one of " + ", ".join(FAMILIES))
    for name in names:
        if not isinstance(name, str) or name not in FAMILIES:
            raise ValueError(f"unknown task family {name!r}; expected one of {list(FAMILIES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"families lists a family twice: {names}")
    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    records: list[dict[str, str]] = []
    for k, name in enumerate(names):
        want = n // len(names) + (k < n % len(names))
        got, tries = 0, 0
        while got < want:
            tries += 1
            if tries > 50 * want + 1000:
                raise ValueError(
                    f"family {name!r} has fewer than {want} different prompts; ask for fewer "
                    "examples or more families"
                )
            instruction, inp, output = FAMILIES[name](rng)
            if (instruction, inp) in seen:
                continue
            seen.add((instruction, inp))
            records.append(
                {"instruction": instruction, "input": inp, "output": output, "family": name}
            )
            got += 1
    rng.shuffle(records)
    return records


def split_dataset(
    records: Sequence[Mapping[str, str]],
    fractions: tuple[float, float, float] = (0.85, 0.05, 0.10),
    seed: int = 0,
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    """Shuffle (by ``seed``) and cut ``records`` into train, validation and test lists in the
    proportions ``fractions`` (three numbers >= 0 that add up to 1)."""
    if isinstance(fractions, str) or not isinstance(fractions, Sequence) or len(fractions) != 3:
        raise ValueError(f"fractions must be 3 numbers in [0, 1], got {fractions!r}")
    fractions = tuple(check_float("each of fractions", f, 0.0, 1.0) for f in fractions)
    seed = check_int("seed", seed)
    check_type("records", records, Sequence, "a list of records")
    if abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(
            f"fractions must add up to 1, got {fractions!r} (sum {sum(fractions):.4g})"
        )
    order = list(records)
    random.Random(seed).shuffle(order)
    n_train = round(fractions[0] * len(order))
    n_val = round(fractions[1] * len(order))
    parts = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    return tuple([dict(r) for r in part] for part in parts)  # type: ignore[return-value]


# ----------------------------------------------------------------------------- the prompt
def format_prompt(record: Mapping[str, str]) -> str:
    """The Alpaca prompt: preamble, ``### Instruction:``, ``### Input:`` (left out when the
    input is empty) and ``### Response:`` followed by a new line, where the answer goes."""
    record = _check_record(record, "the record")
    text = f"{PREAMBLE}\n\n### Instruction:\n{record['instruction']}"
    if record["input"].strip():
        text += f"\n\n### Input:\n{record['input']}"
    return text + "\n\n### Response:\n"


def format_example(record: Mapping[str, str]) -> str:
    """The prompt followed by the expected response: the text the model is trained on."""
    return format_prompt(record) + record["output"]


# ----------------------------------------------------------------------------- tokens, batches
class InstructionDataset(Dataset):
    """Records as token ids: item ``i`` is ``(ids, n_prompt)``, where ``ids`` is the prompt,
    the response and one end-of-text token, and ``n_prompt`` the number of prompt tokens.

    ``eos_id`` defaults to the tokenizer's ``<|endoftext|>``. Special-token text inside a record
    is refused (see ``llmcourse.tokenizer.encode``). A record whose ids (less the final
    end-of-text) do not fit ``max_length`` is an error."""

    def __init__(
        self,
        records: Sequence[Mapping[str, str]],
        tokenizer: Tokenizer,
        max_length: int | None = None,
        eos_id: int | None = None,
    ) -> None:
        max_length = check_int("max_length", max_length, minimum=1, none_ok=True)
        check_int("eos_id", eos_id, minimum=0, none_ok=True)
        eos_id = end_of_text_id(tokenizer) if eos_id is None else int(eos_id)
        records = [_check_record(r, f"record {i}") for i, r in enumerate(records)]
        self.items: list[tuple[list[int], int]] = []
        for i, record in enumerate(records):
            try:
                prompt = encode(format_prompt(record), tokenizer)
                ids = prompt + encode(record["output"], tokenizer) + [eos_id]
            except ValueError as err:
                raise ValueError(f"record {i}: {err}") from None
            if max_length is not None and len(ids) - 1 > max_length:
                raise ValueError(
                    f"record {i} has {len(ids) - 1} tokens (prompt {len(prompt)}), more than "
                    f"max_length={max_length} (the model's context); shorten it or drop it"
                )
            self.items.append((ids, len(prompt)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[list[int], int]:
        return self.items[index]


def collate(
    batch: Sequence[tuple[Sequence[int], int]],
    pad_id: int | None = None,
    ignore_index: int = IGNORE_INDEX,
    max_length: int | None = None,
    mask_instruction: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn ``(ids, n_prompt)`` items into ``inputs, targets``, both ``(batch, tokens)``.

    Each sequence (ending in its end-of-text) is padded with ``pad_id`` (default: that
    end-of-text id, which every sequence must then end with) to the longest one;
    ``inputs`` are all tokens but the last, ``targets`` all but the first. Padding targets
    become ``ignore_index``, except the first end-of-text, which teaches the model to stop.
    With ``mask_instruction`` the targets inside the prompt become ``ignore_index`` too, so
    the loss counts only the response. ``max_length`` cuts every row to that many tokens.
    """
    if isinstance(batch, (str, bytes)) or not isinstance(batch, Sequence):
        raise TypeError(f"batch must be a list of (ids, n_prompt) items, got {describe(batch)}")
    if len(batch) == 0:
        raise ValueError("collate needs a non-empty batch")
    items = []
    for k, item in enumerate(batch):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"batch[{k}] must be an (ids, n_prompt) pair, got {describe(item)}")
        ids = check_ids(f"batch[{k}] ids", item[0])
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        if len(ids) < 2:
            raise ValueError(f"batch[{k}] has {len(ids)} ids; it needs at least 2 to shift by one")
        items.append((ids, check_int(f"batch[{k}] n_prompt", item[1], 0, len(ids))))
    if pad_id is None:
        ends = sorted({ids[-1] for ids, _ in items})
        if len(ends) != 1:
            raise ValueError(
                f"the sequences end with different ids {ends}; each must end with the same "
                "end-of-text id, or pass pad_id=end_of_text_id(tokenizer)"
            )
        pad_id = ends[0]
    pad_id = check_int("pad_id", pad_id, minimum=0)
    ignore_index = check_int("ignore_index", ignore_index)
    max_length = check_int("max_length", max_length, minimum=1, none_ok=True)
    check_bool("mask_instruction", mask_instruction)
    longest = max(len(ids) for ids, _ in items)
    inputs, targets = [], []
    for ids, n_prompt in items:
        padded = torch.tensor(ids + [pad_id] * (longest - len(ids)), dtype=torch.long)
        x, y = padded[:-1].clone(), padded[1:].clone()
        y[len(ids) - 1 :] = ignore_index  # padding (the real end-of-text is y[len(ids) - 2])
        if mask_instruction:
            y[: n_prompt - 1] = ignore_index  # targets that are prompt tokens
        inputs.append(x)
        targets.append(y)
    inputs_t, targets_t = torch.stack(inputs), torch.stack(targets)
    if max_length is not None:
        inputs_t, targets_t = inputs_t[:, :max_length], targets_t[:, :max_length]
    return inputs_t, targets_t


def make_instruction_loaders(
    train: Sequence[Mapping[str, str]],
    val: Sequence[Mapping[str, str]],
    tokenizer: Tokenizer,
    batch_size: int = 32,
    max_length: int = 256,
    mask_instruction: bool = True,
    seed: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """DataLoaders for ``llmcourse.train.train``: the training one reshuffles every epoch with
    a seeded generator (so a resumed run replays the same order) and drops a last short
    batch; the validation one keeps its order."""
    batch_size = check_int("batch_size", batch_size, minimum=1)
    max_length = check_int("max_length", max_length, minimum=1)
    check_bool("mask_instruction", mask_instruction)
    seed = check_int("seed", seed, minimum=0)
    pad_id = end_of_text_id(tokenizer)

    def fn(batch: Sequence[tuple[Sequence[int], int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return collate(batch, pad_id, max_length=max_length, mask_instruction=mask_instruction)

    train_ds = InstructionDataset(train, tokenizer, max_length)
    val_ds = InstructionDataset(val, tokenizer, max_length)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        train_ds, batch_size, shuffle=True, drop_last=True, collate_fn=fn, generator=generator
    )
    val_loader = DataLoader(val_ds, batch_size, shuffle=False, collate_fn=fn)
    return train_loader, val_loader


# ----------------------------------------------------------------------------- your own data
def load_alpaca_json(path: str | Path) -> list[dict[str, str]]:
    """Read an Alpaca-format JSON file: a list of ``{"instruction", "input", "output"}``
    records (``"input"`` may be missing; it then counts as empty). Each record keeps any
    ``"family"`` it has, else gets ``"family": "custom"``."""
    path = Path(check_type("path", path, (str, Path), "a file path (str or Path)"))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not UTF-8 text, so not an Alpaca JSON file") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path.name} is not valid JSON: {err}") from None
    if not isinstance(data, list):
        raise TypeError(f"{path.name} must hold a JSON list of records, got {type(data).__name__}")
    records = []
    for i, record in enumerate(data):
        if isinstance(record, dict) and "input" not in record:
            record = {**record, "input": ""}
        record = _check_record(record, f"record {i} of {path.name}")
        family = check_type(f"record {i}'s family", record.get("family", "custom"), str, "a str")
        records.append({**{k: record[k] for k in FIELDS}, "family": family})
    return records


# ----------------------------------------------------------------------------- evaluation
def _answers(
    model: nn.Module,
    tokenizer: Tokenizer,
    records: Sequence[Mapping[str, str]],
    max_new_tokens: int,
    batch_size: int,
) -> list[str]:
    """Greedy responses, batched over prompts of equal token length (no padding needed)."""
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    eos = end_of_text_id(tokenizer)
    ctx = model.cfg.context_length
    prompts = []
    for i, record in enumerate(records):
        try:
            prompts.append(encode(format_prompt(record), tokenizer))
        except ValueError as err:
            raise ValueError(f"record {i}: {err}") from None
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, ids in enumerate(prompts):
        if len(ids) > ctx:
            raise ValueError(
                f"record {i}'s prompt has {len(ids)} tokens, more than the model's context {ctx}"
            )
        by_length[len(ids)].append(i)
    answers = [""] * len(records)
    device = next(model.parameters()).device
    for length, indices in sorted(by_length.items()):
        steps = min(max_new_tokens, ctx - length)
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            ids = torch.tensor([prompts[i] for i in chunk], device=device)
            out = generate(model, ids, steps, eos_id=eos)[:, length:].tolist()
            for i, row in zip(chunk, out):
                row = row[: row.index(eos)] if eos in row else row
                answers[i] = decode(row, tokenizer).strip()
    return answers


def respond(
    model: nn.Module, tokenizer: Tokenizer, record: Mapping[str, str], max_new_tokens: int = 20
) -> str:
    """The model's greedy response to one record (its ``output`` is not used), stripped."""
    return _answers(model, tokenizer, [_check_record(record, "the record")], max_new_tokens, 1)[0]


def exact_match(response: str, expected: str) -> bool:
    """True when the two texts are equal after stripping surrounding whitespace."""
    check_type("response", response, str, "a str")
    check_type("expected", expected, str, "a str")
    return response.strip() == expected.strip()


def evaluate_exact_match(
    model: nn.Module,
    tokenizer: Tokenizer,
    records: Sequence[Mapping[str, str]],
    max_new_tokens: int = 12,
    batch_size: int = 64,
    responses: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Exact match of greedy responses against ``output``, per family and overall.

    Returns ``{"per_family": {family: fraction}, "overall": fraction, "counts": {family: n},
    "responses": [str, ...]}``. Pass ``responses`` to score given answers without a model.
    """
    records = [_check_record(r, f"record {i}") for i, r in enumerate(records)]
    if not records:
        raise ValueError("evaluate_exact_match needs at least one record")
    if responses is None:
        answers = _answers(model, tokenizer, records, max_new_tokens, batch_size)
    else:
        if isinstance(responses, str):
            raise TypeError("responses must be a list of str, one per record, got one str")
        answers = [check_type(f"responses[{i}]", a, str, "a str") for i, a in enumerate(responses)]
        if len(answers) != len(records):
            raise ValueError(f"{len(answers)} responses for {len(records)} records")
    hits, counts = Counter(), Counter()
    for record, answer in zip(records, answers):
        family = record.get("family", "custom")
        counts[family] += 1
        hits[family] += exact_match(answer, record["output"])
    per_family = {f: hits[f] / counts[f] for f in sorted(counts)}
    overall = sum(hits.values()) / len(records)
    return {
        "per_family": per_family,
        "overall": overall,
        "counts": dict(sorted(counts.items())),
        "responses": answers,
    }


# ----------------------------------------------------------------------------- fine-tuning
