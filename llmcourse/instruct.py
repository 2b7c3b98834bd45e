"""Fine-tuning to follow instructions (chapter 7.2).

- The data (``FAMILIES``, ``make_dataset``, ``split_dataset``, ``load_alpaca_json``) is made in
  ``llmcourse.instruct_data`` and re-exported here.
- ``format_prompt``: the Alpaca prompt (with or without an input); the response follows it.
- ``InstructionDataset`` + ``collate``: token ids, padded with end-of-text, shifted by one, the
  padding targets set to ``-100`` except the first end-of-text, the prompt optionally masked.
  The end-of-text id comes from the tokenizer (``end_of_text_id``), so any course tokenizer
  with ``<|endoftext|>`` works, GPT-2's or a BPE trained in chapter 1.
- ``respond`` / ``evaluate_exact_match``: greedy answers and exact match per family.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from llmcourse.generate import generate
from llmcourse.instruct_data import (
    DEFAULT_FAMILIES,
    FAMILIES,
    FIELDS,
    WORDS,
    check_record,
    load_alpaca_json,
    make_dataset,
    split_dataset,
)
from llmcourse.tokenizer import Tokenizer, decode, encode, end_of_text_id
from llmcourse.train import IGNORE_INDEX
from llmcourse.validate import check_bool, check_ids, check_int, check_type, describe

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

PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)


# ----------------------------------------------------------------------------- the prompt
def format_prompt(record: Mapping[str, str]) -> str:
    """The Alpaca prompt: preamble, ``### Instruction:``, ``### Input:`` (left out when the
    input is empty) and ``### Response:`` followed by a new line, where the answer goes."""
    record = check_record(record, "the record")
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
        records = [check_record(r, f"record {i}") for i, r in enumerate(records)]
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
    return _answers(model, tokenizer, [check_record(record, "the record")], max_new_tokens, 1)[0]


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
    records = [check_record(r, f"record {i}") for i, r in enumerate(records)]
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
