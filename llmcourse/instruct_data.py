"""The instruction data of chapter 7.2: task families with exact answers, and Alpaca files.

- ``FAMILIES``: task families whose answers are exact (reverse the words, the capital of a US
  state, add two numbers, ...); each makes one ``(instruction, input, output)`` from a seeded
  ``random.Random``.
- ``make_dataset`` / ``split_dataset``: records ``{"instruction", "input", "output", "family"}``
  in the Alpaca layout, deterministic by seed, no prompt repeated, split train/validation/test.
- ``load_alpaca_json``: bring your own Alpaca-format JSON file; ``check_record`` checks one
  record. Prompts, batches and evaluation are in ``llmcourse.instruct``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from llmcourse import assets
from llmcourse.validate import check_float, check_int, check_type

__all__ = [
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "FIELDS",
    "WORDS",
    "check_record",
    "load_alpaca_json",
    "make_dataset",
    "split_dataset",
]

FIELDS = ("instruction", "input", "output")
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
def check_record(record: Any, where: str) -> dict[str, str]:
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
        record = check_record(record, f"record {i} of {path.name}")
        family = check_type(f"record {i}'s family", record.get("family", "custom"), str, "a str")
        records.append({**{k: record[k] for k in FIELDS}, "family": family})
    return records
