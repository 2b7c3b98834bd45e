"""llmcourse.baseline: the bag-of-words logistic regression."""

from __future__ import annotations

import pytest

from llmcourse.baseline import BowBaseline


def test_bow_baseline_on_a_toy_set():
    train = [("win free cash now", 1), ("free prize claim", 1), ("cash prize win", 1)]
    train += [("lunch at noon", 0), ("see you at lunch", 0), ("meeting at noon today", 0)]
    bow = BowBaseline(min_count=1).fit(train)
    assert set(bow.vocab) >= {"free", "cash", "lunch", "noon"}
    assert bow.features(["free free lunch"]).norm(dim=1).item() == pytest.approx(1.0)
    assert bow.accuracy(train) == 1.0
    assert bow.predict(["free cash", "lunch today"]).tolist() == [1, 0]
    top = bow.top_words(3)
    assert {w for w, _ in top["spam"]} <= {"free", "cash", "prize", "win", "claim"}
    assert {w for w, _ in top["ham"]} <= {"lunch", "at", "noon", "see", "you", "meeting", "today"}
