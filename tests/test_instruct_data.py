"""llmcourse.instruct_data: the generated task families give correct answers, balanced and
seeded; splits are disjoint; Alpaca files load or name what is wrong."""

import json

import pytest

from llmcourse.instruct_data import (
    DEFAULT_FAMILIES,
    FAMILIES,
    _states,
    load_alpaca_json,
    make_dataset,
    split_dataset,
)


def _answer(record):
    """Each family's answer, computed independently of the generators."""
    family, text = record["family"], record["input"]
    words = text.split()
    if family == "first_word":
        return words[0]
    if family == "last_word":
        return words[-1]
    if family == "repeat":
        n = int(next(w for w in record["instruction"].split() if w.isdigit()))
        return " ".join(words * n)
    if family == "count":
        return str(len(words))
    if family == "add":
        a, b = [int(w) for w in text.replace("+", " ").replace("and", " ").split()]
        return str(a + b)
    if family == "capital":
        capitals = dict(_states())
        state = text or max((s for s in capitals if s in record["instruction"]), key=len)
        return capitals[state]
    if family == "reverse":
        return " ".join(words[::-1])
    raise AssertionError(family)


def test_every_family_gives_correct_answers():
    records = make_dataset(700, seed=3, families=list(FAMILIES))
    assert {r["family"] for r in records} == set(FAMILIES)
    for record in records:
        assert record["output"] == _answer(record), record


def test_dataset_size_balance_and_determinism(records):
    assert len(records) == 2400
    assert {r["family"]: 0 for r in records}.keys() == set(DEFAULT_FAMILIES)
    counts = {f: sum(r["family"] == f for r in records) for f in DEFAULT_FAMILIES}
    assert set(counts.values()) == {400}
    assert make_dataset(2400, seed=0) == records
    assert make_dataset(2400, seed=1) != records
    prompts = {(r["instruction"], r["input"]) for r in records}
    assert len(prompts) == len(records)  # no prompt twice


def test_split_sizes_disjoint_and_deterministic(records):
    train, val, test = split_dataset(records, (0.85, 0.05, 0.10), seed=0)
    assert (len(train), len(val), len(test)) == (2040, 120, 240)
    keys = [{(r["instruction"], r["input"]) for r in part} for part in (train, val, test)]
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]
    assert split_dataset(records, seed=0) == (train, val, test)
    assert split_dataset(records, seed=5)[2] != test


def test_load_alpaca_json_round_trip_and_errors(tmp_path):
    records = [
        {"instruction": "Say hi.", "input": "", "output": "hi"},
        {"instruction": "Add.", "input": "1 + 2", "output": "3", "family": "add"},
        {"instruction": "No input field.", "output": "ok"},
    ]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(records))
    loaded = load_alpaca_json(path)
    assert loaded[0] == {**records[0], "family": "custom"}
    assert loaded[1] == records[1]
    assert loaded[2] == {
        "instruction": "No input field.",
        "input": "",
        "output": "ok",
        "family": "custom",
    }
    path.write_text(json.dumps([records[0], {"instruction": "x", "input": ""}]))
    with pytest.raises(ValueError, match="record 1 of mine.json has no field 'output'"):
        load_alpaca_json(path)
    path.write_text(json.dumps([{"instruction": 5, "input": "", "output": "x"}]))
    with pytest.raises(TypeError, match="record 0 of mine.json: field 'instruction' must be"):
        load_alpaca_json(path)
    path.write_text(json.dumps({"instruction": "x"}))
    with pytest.raises(TypeError, match="must hold a JSON list"):
        load_alpaca_json(path)
    path.write_text("[{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_alpaca_json(path)
