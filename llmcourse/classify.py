"""Fine-tuning a GPT for classification: spam or not (chapter 7.1, Fine-tuning for classification).

- **Data**: ``llmcourse.spam`` (``load_spam``, ``spam_splits``).
- **Batches**: messages are cut to ``max_length`` tokens (the start is kept) and right-padded with
  ``<|endoftext|>`` to the longest in the batch; a batch is ``(ids, lengths, labels)``.
- **Model**: ``add_classification_head`` swaps the 50,257-way output head for a 2-way one;
  the prediction is read at the **last real token** (``last_token_logits``), the only position
  that has seen the whole message under the causal mask. Right padding comes after it, so the
  padding cannot change the prediction. ``freeze_for_classification`` picks what trains.
- **Training and evaluation**: ``train_classifier``, ``accuracy``, ``predict``, ``classify_text``.
- **Baseline**: ``llmcourse.baseline.BowBaseline``, for honesty.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from llmcourse.model import GPTModel
from llmcourse.runtime import mode, progress_bar
from llmcourse.spam import SpamSplits
from llmcourse.tokenizer import encode, end_of_text_id
from llmcourse.train import make_optimizer
from llmcourse.validate import check_float, check_int

__all__ = [
    "ClassifierHistory",
    "accuracy",
    "add_classification_head",
    "classify_text",
    "encode_message",
    "freeze_for_classification",
    "last_token_logits",
    "make_spam_loaders",
    "pad_batch",
    "position_probabilities",
    "predict",
    "train_classifier",
]

FREEZE_PATTERNS = ("all", "blocks", "last-block", "head")


# ----------------------------------------------------------------------------- batches
def encode_message(
    text: str, tokenizer: Any, max_length: int, on_long: str = "truncate"
) -> list[int]:
    """Token ids of ``text`` (special-token text is read as plain text), at most ``max_length``.

    A longer message keeps its first ``max_length`` tokens: ``on_long="truncate"`` silently (the
    data sets: we want the start), ``"warn"`` with a warning, ``"error"`` with a ValueError."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    check_int("max_length", max_length, 1)
    if on_long not in ("truncate", "warn", "error"):
        raise ValueError(f"on_long must be 'truncate', 'warn' or 'error', got {on_long!r}")
    ids = encode(text, tokenizer, disallowed_special=())
    if len(ids) > max_length and on_long != "truncate":
        msg = f"message of {len(ids)} tokens is longer than max_length={max_length}"
        if on_long == "error":
            raise ValueError(msg)
        warnings.warn(f"{msg}: keeping its first {max_length} tokens", stacklevel=2)
    return list(ids[:max_length]) or [end_of_text_id(tokenizer)]  # an empty message: one pad token


def pad_batch(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the longest sequence: ``ids (batch, longest)`` and ``lengths (batch,)``."""
    lengths = torch.tensor([len(s) for s in sequences])
    ids = torch.full((len(sequences), int(lengths.max())), pad_id, dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lengths


class _Collate:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[tuple[list[int], int]]) -> tuple[torch.Tensor, ...]:
        ids, lengths = pad_batch([s for s, _ in batch], self.pad_id)
        return ids, lengths, torch.tensor([y for _, y in batch])


def make_spam_loaders(
    splits: SpamSplits,
    tokenizer: Any,
    max_length: int = 96,
    batch_size: int = 16,
    seed: int = 123,
) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Train (shuffled with ``seed``), validation and test loaders of ``(ids, lengths, labels)``
    batches: ``ids (batch, longest ≤ max_length)`` right-padded with ``<|endoftext|>``. Each
    dataset keeps its texts in ``.texts`` and ``max_length`` in ``.max_length``."""
    if not isinstance(splits, SpamSplits):
        raise TypeError(f"splits must be a SpamSplits, got {type(splits).__name__}")
    check_int("batch_size", batch_size, 1)
    check_int("max_length", max_length, 1)
    collate = _Collate(end_of_text_id(tokenizer))
    loaders = []
    for name in ("train", "val", "test"):
        pairs = getattr(splits, name)
        data = _Examples(
            [(encode_message(t, tokenizer, max_length), y) for t, y in pairs],
            [t for t, _ in pairs],
            max_length,
        )
        gen = torch.Generator().manual_seed(seed) if name == "train" else None
        loaders.append(
            DataLoader(data, batch_size, shuffle=name == "train", generator=gen, collate_fn=collate)
        )
    return tuple(loaders)  # type: ignore[return-value]


class _Examples(torch.utils.data.Dataset):
    def __init__(self, items: list[tuple[list[int], int]], texts: list[str], max_length: int):
        self.items, self.texts, self.max_length = items, texts, max_length

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.items[i]


# ----------------------------------------------------------------------------- the model
def add_classification_head(model: GPTModel, num_classes: int = 2) -> GPTModel:
    """Replace ``model.out_head`` by a fresh ``Linear(n_embd, num_classes)`` (its own weights:
    no longer tied to the token embedding); returns the same model, now giving
    ``(batch, tokens, num_classes)``."""
    check_int("num_classes", num_classes, 2)
    if not isinstance(model, GPTModel):
        raise TypeError(f"model must be a GPTModel, got {type(model).__name__}")
    old = model.out_head.weight
    model.out_head = nn.Linear(model.cfg.n_embd, num_classes).to(old.device, old.dtype)
    nn.init.normal_(model.out_head.weight, std=0.02)
    nn.init.zeros_(model.out_head.bias)
    return model


def freeze_for_classification(model: GPTModel, trainable: str = "last-block") -> None:
    """Set ``requires_grad``: ``"all"`` trains everything; ``"blocks"`` all but the embeddings;
    ``"last-block"`` the last transformer block, the final norm and the head; ``"head"`` only
    the head."""
    if trainable not in FREEZE_PATTERNS:
        raise ValueError(
            f"trainable must be one of {', '.join(FREEZE_PATTERNS)}, got {trainable!r}"
        )
    for p in model.parameters():
        p.requires_grad = trainable == "all"
    parts = [model.out_head]
    if trainable in ("blocks", "last-block"):
        parts += [*model.blocks[-1 if trainable == "last-block" else 0 :], model.final_norm]
    for part in parts:
        for p in part.parameters():
            p.requires_grad = True


def last_token_logits(logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The logits at each sequence's last real token: ``(batch, tokens, classes)`` and
    ``lengths (batch,)`` → ``(batch, classes)``."""
    if lengths.min() < 1 or lengths.max() > logits.shape[1]:
        raise ValueError(f"lengths must be in 1..{logits.shape[1]}, got {lengths.tolist()}")
    return logits[torch.arange(logits.shape[0]), lengths.to(logits.device) - 1]


def _batch_logits(model: nn.Module, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    dev = next(model.parameters()).device
    return last_token_logits(model(ids.to(dev)), lengths.to(dev))


@torch.no_grad()
def predict(
    model: nn.Module, loader: DataLoader, max_batches: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(labels, predictions, probabilities (n, classes))`` in the loader's order, eval mode."""
    _check_head(model)
    check_int("max_batches", max_batches, 1, none_ok=True)
    labels, probs = [], []
    with mode(model, training=False):
        for i, (ids, lengths, y) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            probs.append(torch.softmax(_batch_logits(model, ids, lengths).float(), -1).cpu())
            labels.append(y)
    if not probs:
        raise ValueError("the loader yields no batches: there is nothing to predict")
    p = torch.cat(probs)
    return torch.cat(labels), p.argmax(-1), p


def accuracy(model: nn.Module, loader: DataLoader, max_batches: int | None = None) -> float:
    """Fraction of messages whose most likely class is the label (first ``max_batches``)."""
    labels, preds, _ = predict(model, loader, max_batches)
    return float((labels == preds).float().mean())


@torch.no_grad()
def _evaluate(model: nn.Module, loader: DataLoader, max_batches: int | None) -> tuple[float, float]:
    labels, preds, probs = predict(model, loader, max_batches)
    loss = F.nll_loss(probs.clamp_min(1e-12).log(), labels).item()
    return loss, float((labels == preds).float().mean())


@dataclass
class ClassifierHistory:
    """What ``train_classifier`` measured at each evaluation (step, examples seen, loss and
    accuracy on training and validation batches) and ``seconds`` of training in all."""

    step: list[int] = field(default_factory=list)
    examples_seen: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_classifier(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    *,
    epochs: int,
    lr: float,
    weight_decay: float = 0.1,
    progress: bool = True,
    eval_every: int | None = None,
    eval_batches: int | None = 10,
    grad_clip: float | None = 1.0,
    on_eval: Any = None,
) -> ClassifierHistory:
    """Fine-tune with AdamW on the cross-entropy of the last real token's logits, for
    ``epochs`` passes. Only parameters with ``requires_grad`` are optimised, whatever pattern
    (frozen blocks, LoRA adapters...). Every ``eval_every`` steps (default: once per epoch)
    and at the end, loss and accuracy are measured on ``eval_batches`` training batches (fixed,
    unshuffled) and validation batches; ``on_eval(history)`` is then called. Empty loaders and
    a language-model head are refused before the first step; a loss that stops being finite
    raises ``FloatingPointError`` naming the step, with the history so far on its ``.history``."""
    check_int("epochs", epochs, 1)
    check_float("lr", lr, 0.0, exclusive_min=True)
    check_float("weight_decay", weight_decay, 0.0)
    check_int("eval_every", eval_every, 1, none_ok=True)
    check_float("grad_clip", grad_clip, 0.0, exclusive_min=True, none_ok=True)
    _check_head(model)
    if len(train_loader) == 0:
        raise ValueError("train_loader yields no batches: there is nothing to train on")
    if val_loader is not None and len(val_loader) == 0:
        raise ValueError(
            "val_loader yields no batches: pass a loader with at least one batch, or None "
            "to measure on training batches only"
        )
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameters (every requires_grad is False)")
    context = getattr(getattr(model, "cfg", None), "context_length", math.inf)
    if getattr(train_loader.dataset, "max_length", 0) > context:
        raise ValueError(
            f"the loader's max_length={train_loader.dataset.max_length} is longer than the "
            f"model's context length {context}"
        )
    steps_per_epoch = len(train_loader)
    eval_every = eval_every or steps_per_epoch
    fixed_train = DataLoader(
        train_loader.dataset, train_loader.batch_size, collate_fn=train_loader.collate_fn
    )
    optimizer = make_optimizer(model, lr=lr, weight_decay=weight_decay)
    params = [p for p in model.parameters() if p.requires_grad]
    history = ClassifierHistory()
    dev = next(model.parameters()).device
    seen, step, start = 0, 0, time.perf_counter()

    def evaluate() -> None:
        history.step.append(step)
        history.examples_seen.append(seen)
        loss, acc = _evaluate(model, fixed_train, eval_batches)
        history.train_loss.append(loss)
        history.train_acc.append(acc)
        if val_loader is not None:
            loss, acc = _evaluate(model, val_loader, eval_batches)
            history.val_loss.append(loss)
            history.val_acc.append(acc)
        if on_eval is not None:
            on_eval(history)

    model.train()
    bar = progress_bar(epochs * steps_per_epoch, disable=not progress, desc="fine-tuning")
    for _ in range(epochs):
        for ids, lengths, labels in train_loader:
            loss = F.cross_entropy(_batch_logits(model, ids, lengths), labels.to(dev))
            if not bool(torch.isfinite(loss)):
                bar.close()
                model.eval()
                error = FloatingPointError(
                    f"the training loss at step {step + 1} is {loss.item()}: lower the learning "
                    f"rate (lr={lr}) or check the data; the history measured so far is the "
                    "error's .history"
                )
                error.history = history
                raise error
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            step += 1
            seen += len(labels)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if step % eval_every == 0 or step == epochs * steps_per_epoch:
                evaluate()
    bar.close()
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


# ----------------------------------------------------------------------------- one message
def _check_head(model: nn.Module) -> None:
    """Refuse a language model whose head still gives one logit per vocabulary token: its
    argmax would be a token id, not a class."""
    head, cfg = getattr(model, "out_head", None), getattr(model, "cfg", None)
    if isinstance(head, nn.Linear) and cfg is not None and head.out_features == cfg.vocab_size:
        raise ValueError(
            f"the model's head gives {head.out_features} outputs, one per vocabulary token: it "
            "has no classification head. Call add_classification_head(model) and fine-tune it "
            "first (train_classifier), or load a fine-tuned classifier"
        )


def _check_length(model: nn.Module, max_length: int) -> None:
    context = model.cfg.context_length
    if not 1 <= check_int("max_length", max_length) <= context:
        raise ValueError(
            f"max_length must be an int in 1..{context} (the context), got {max_length!r}"
        )


def _probabilities(model: nn.Module, ids: list[int]) -> torch.Tensor:
    """The class probabilities at every position of one message, ``(tokens, classes)``, in
    eval mode (the model's mode is restored after), on the CPU."""
    _check_head(model)
    dev = next(model.parameters()).device
    with mode(model, training=False):
        logits = model(torch.tensor([ids], device=dev))[0]
    return torch.softmax(logits.float(), -1).cpu()


@torch.no_grad()
def classify_text(
    model: GPTModel, text: str, tokenizer: Any, max_length: int
) -> tuple[int, list[float]]:
    """Classify one message: ``(label, probabilities)`` with ``label`` the most likely class
    (1 = spam, 0 = ham) and ``probabilities`` one float per class, ``[p_ham, p_spam]``.
    A message longer than ``max_length`` tokens keeps its first ``max_length``, with a warning."""
    _check_length(model, max_length)
    probs = _probabilities(model, encode_message(text, tokenizer, max_length, on_long="warn"))[-1]
    return int(probs.argmax()), [round(float(p), 6) for p in probs]


@torch.no_grad()
def position_probabilities(
    model: GPTModel, text: str, tokenizer: Any, max_length: int
) -> tuple[list[str], torch.Tensor]:
    """The class probabilities the head gives at *every* position of ``text``: token pieces and
    ``probs (tokens, classes)``. Row ``i`` is exactly the prediction for the message cut after
    token ``i`` (the causal mask: position ``i`` sees tokens ``0..i`` only). A longer message
    keeps its first ``max_length`` tokens, silently (as the data loaders do)."""
    _check_length(model, max_length)
    ids = encode_message(text, tokenizer, max_length)
    return [tokenizer.decode([i]) for i in ids], _probabilities(model, ids)
