"""Self-checks for chapter 7.2 (Fine-tuning to follow instructions): the Alpaca prompt, the
masked targets of one example, and exact-match scoring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmcourse.checks.result import CheckResult, _report, self_check

_RECORDS = [
    {"instruction": "Add the two numbers.", "input": "3 + 4", "output": "7"},
    {"instruction": "What is the capital of Ohio?", "input": "", "output": "Columbus"},
    {"instruction": "Count the words.", "input": "  ", "output": "0"},
    {"instruction": "Say hi.\nTwice.", "input": "line one\nline two", "output": "hi hi"},
]


@self_check
def check_format_prompt(fn: Callable[[dict], Any]) -> CheckResult:
    """Chapter 7.2: ``fn(record)`` is the Alpaca prompt of ``llmcourse.instruct.format_prompt``
    (the ``### Input:`` section left out when the input is empty or blank)."""
    from llmcourse.instruct import format_prompt

    cases = []
    for record in _RECORDS:
        got = fn(dict(record))
        cases.append((f"record {record['instruction']!r}", got, format_prompt(record)))
    return _report("format_prompt", cases)


def _masked_targets(ids: list[int], n_prompt: int, length: int) -> list[int]:
    # one position at a time: what should position j learn to predict?
    targets = []
    for j in range(length - 1):
        if j + 1 < n_prompt or j + 1 >= len(ids):
            targets.append(-100)  # a prompt token, or padding after the end-of-text
        else:
            targets.append(ids[j + 1])
    return targets


@self_check
def check_masked_targets(fn: Callable[[list[int], int, int], Any]) -> CheckResult:
    """Chapter 7.2: ``fn(ids, n_prompt, length)`` gives the ``length - 1`` targets of one
    example (``ids`` ends with its end-of-text id), padded to ``length`` tokens with that id and
    shifted by one: ``-100`` at the prompt's targets and the padding after the first
    end-of-text. The cases end with GPT-2's end-of-text id and with the id a small BPE trained
    in chapter 1 gives it, so a solution that finds the end-of-text by GPT-2's id fails."""
    cases = []
    for ids, n_prompt, length in [
        ([5, 6, 7, 8, 50256], 2, 5),
        ([5, 6, 7, 8, 50256], 2, 8),
        ([1, 2, 3, 300], 1, 6),
        ([9, 9, 9, 9, 9, 4, 300], 5, 7),
    ]:
        got = fn(list(ids), n_prompt, length)
        if got is not None:
            got = [int(t) for t in (got.tolist() if hasattr(got, "tolist") else got)]
        label = f"ids {ids}, n_prompt {n_prompt}, length {length}"
        cases.append((label, got, _masked_targets(ids, n_prompt, length)))
    return _report("masked_targets", cases)


@self_check
def check_exact_match_score(fn: Callable[[list[str], list[str]], Any]) -> CheckResult:
    """Chapter 7.2: ``fn(responses, expected)`` is the fraction of responses equal to their
    expected answer after stripping surrounding whitespace."""
    from llmcourse.instruct import exact_match

    cases = []
    for responses, expected in [
        (["7", "Columbus"], ["7", "Columbus"]),
        (["7 ", "\\nColumbus"], ["7", "Columbus"]),
        (["8", "columbus", "cat cat"], ["7", "Columbus", "cat cat"]),
        (["a b", "ab"], ["ab", "ab"]),
    ]:
        responses = [r.replace("\\n", "\n") for r in responses]
        hits = sum(exact_match(r, e) for r, e in zip(responses, expected))
        got = fn(list(responses), list(expected))
        got = None if got is None else round(float(got), 6)
        cases.append((f"{responses!r} vs {expected!r}", got, round(hits / len(expected), 6)))
    return _report("exact_match_score", cases)
