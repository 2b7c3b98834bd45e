"""A bag-of-words baseline for text classification (chapter 7.1): TF-IDF vectors and logistic
regression, the honest comparison for a fine-tuned GPT on the same split."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llmcourse.spam import check_pairs
from llmcourse.validate import check_float, check_int

__all__ = ["BowBaseline", "words"]


def words(text: str) -> list[str]:
    """Lower-case words, numbers and runs of ``$!``: the bag-of-words baseline's tokens."""
    return re.findall(r"[a-z0-9']+|[$!]+", text.lower())


def _texts_and_labels(pairs: Any) -> tuple[list[str], torch.Tensor]:
    """The texts and labels of a non-empty list of ``(text, class number)`` pairs."""
    pairs = check_pairs("pairs", pairs)
    if not pairs:
        raise ValueError("pairs is empty: give at least one (text, label) pair")
    return [t for t, _ in pairs], torch.tensor([y for _, y in pairs])


class BowBaseline:
    """Logistic regression on TF-IDF bag-of-words vectors of the training texts.

    ``fit`` keeps the ``max_words`` most frequent words seen in at least ``min_count``
    training texts; a text becomes the L2-normalised vector ``tf × idf``. The weights are found
    by full-batch Adam on the cross-entropy + ``l2`` × |w|²."""

    def __init__(self, max_words: int = 5000, min_count: int = 2, l2: float = 1e-4) -> None:
        self.max_words = check_int("max_words", max_words, 1)
        self.min_count = check_int("min_count", min_count, 1)
        self.l2 = check_float("l2", l2, 0.0)
        self.vocab: dict[str, int] = {}
        self.linear: nn.Linear | None = None

    def _fitted(self) -> nn.Linear:
        if self.linear is None:
            raise RuntimeError("this BowBaseline has not been trained: call fit(pairs) first")
        return self.linear

    def features(self, texts: list[str]) -> torch.Tensor:
        """``(len(texts), vocabulary)`` TF-IDF vectors."""
        rows, cols, counts = [], [], []
        for i, text in enumerate(texts):
            for w, c in Counter(w for w in words(text) if w in self.vocab).items():
                rows.append(i)
                cols.append(self.vocab[w])
                counts.append(float(c))
        x = torch.zeros(len(texts), len(self.vocab))
        x[torch.tensor(rows, dtype=torch.long), torch.tensor(cols, dtype=torch.long)] = (
            torch.tensor(counts)
        )
        return F.normalize(x * self.idf, dim=1)

    def fit(self, pairs: list[tuple[str, int]], steps: int = 300, lr: float = 0.1) -> BowBaseline:
        check_int("steps", steps, 1)
        check_float("lr", lr, 0.0, exclusive_min=True)
        texts, labels = _texts_and_labels(pairs)
        if len(set(labels.tolist())) < 2:
            raise ValueError(
                f"fit needs texts of at least two classes, got only {labels.unique().tolist()}"
            )
        df = Counter(w for t in texts for w in set(words(t)))
        kept = [w for w, c in df.most_common(self.max_words) if c >= self.min_count]
        if not kept:
            raise ValueError(
                f"no word occurs in min_count={self.min_count} of the {len(texts)} training "
                "texts, so there is nothing to learn from: give more texts or lower min_count"
            )
        self.vocab = {w: i for i, w in enumerate(kept)}
        self.idf = torch.tensor([math.log((1 + len(texts)) / (1 + df[w])) + 1 for w in kept])
        x = self.features(texts)
        self.linear = nn.Linear(len(kept), int(labels.max()) + 1)
        nn.init.zeros_(self.linear.weight)
        opt = torch.optim.Adam(self.linear.parameters(), lr=lr)
        for _ in range(steps):
            loss = (
                F.cross_entropy(self.linear(x), labels)
                + self.l2 * self.linear.weight.square().sum()
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        return self

    @torch.no_grad()
    def predict(self, texts: list[str]) -> torch.Tensor:
        """The most likely class of each text, ``(len(texts),)``."""
        return self._fitted()(self.features(texts)).argmax(-1)

    def accuracy(self, pairs: list[tuple[str, int]]) -> float:
        """The fraction of ``(text, label)`` pairs whose predicted class is the label."""
        texts, labels = _texts_and_labels(pairs)
        return float((self.predict(texts) == labels).float().mean())

    def top_words(self, k: int = 10) -> dict[str, list[tuple[str, float]]]:
        """The ``k`` words that push hardest towards each class (binary models)."""
        check_int("k", k, 1)
        linear = self._fitted()
        if linear.out_features != 2:
            raise ValueError(
                f"top_words needs a model of two classes, this one has {linear.out_features}"
            )
        w = (linear.weight[1] - linear.weight[0]).detach()
        names = list(self.vocab)
        order = w.argsort()
        pick = lambda idx: [(names[i], round(float(w[i]), 3)) for i in idx]
        return {"spam": pick(order.flip(0)[:k].tolist()), "ham": pick(order[:k].tolist())}
