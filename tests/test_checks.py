"""llmcourse.checks: a right answer passes, a wrong one fails with the case named, a stub is
reported as not attempted."""

from collections import Counter
from itertools import pairwise

from llmcourse import checks
from llmcourse.tokenizer import gpt2_tokenizer, merge_pair


def test_count_tokens():
    enc = gpt2_tokenizer()
    assert checks.check_count_tokens(lambda t: len(enc.encode(t)))
    wrong = checks.check_count_tokens(lambda t: len(t.split()))
    assert not wrong and "case(s) wrong" in repr(wrong) and "'Call me Ishmael.'" in repr(wrong)
    stub = checks.check_count_tokens(lambda t: None)
    assert not stub and "not attempted" in repr(stub)


def test_bigram_probs():
    def right(ids, token):
        follows = Counter(b for a, b in pairwise(ids) if a == token)
        return {k: v / sum(follows.values()) for k, v in follows.items()}

    assert checks.check_bigram_probs(right)
    counts_not_probs = checks.check_bigram_probs(
        lambda ids, token: dict(Counter(b for a, b in pairwise(ids) if a == token))
    )
    assert not counts_not_probs


def test_most_frequent_pair_tie_goes_to_smallest_pair():
    def right(ids):
        counts = Counter(pairwise(ids))
        return min(counts, key=lambda p: (-counts[p], p))

    def first_seen(ids):
        counts = Counter(pairwise(ids))
        return max(counts, key=counts.get)

    assert checks.check_most_frequent_pair(right)
    result = checks.check_most_frequent_pair(first_seen)
    assert not result and "got (8, 7), expected (7, 7)" in repr(result)


def test_merge():
    assert checks.check_merge(merge_pair)
    overlapping = checks.check_merge(  # merges (5, 5) in [5, 5, 5, 5] three times
        lambda ids, pair, new: [new if (a, b) == pair else a for a, b in pairwise(ids + [None])]
    )
    assert not overlapping
    assert not checks.check_merge(lambda ids, pair, new: list(ids))
