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


def test_bow_baseline_refuses_what_it_cannot_learn_from():
    train = [("win free cash now", 1), ("lunch at noon", 0)]
    with pytest.raises(RuntimeError, match=r"has not been trained: call fit\(pairs\) first"):
        BowBaseline().predict(["free cash"])
    with pytest.raises(ValueError, match="pairs is empty"):
        BowBaseline().fit([])
    with pytest.raises(ValueError, match="no word occurs in min_count=2 of the 2 training texts"):
        BowBaseline().fit(train)
    with pytest.raises(ValueError, match="at least two classes, got only \\[1\\]"):
        BowBaseline(min_count=1).fit([(t, 1) for t, _ in train])
    with pytest.raises(TypeError, match=r"pairs\[1\] must be a \(text, label\) pair .* got tuple"):
        BowBaseline(min_count=1).fit([train[0], ("lunch", True)])
    with pytest.raises(ValueError, match=r"pairs\[0\] has label -1, but the label must be >= 0"):
        BowBaseline(min_count=1).accuracy([("a", -1)])
    with pytest.raises(TypeError, match="min_count must be an int, got float 2.5"):
        BowBaseline(min_count=2.5)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0.0, got nan"):
        BowBaseline(l2=float("nan"))
