"""llmcourse.data: the course corpus, sliding windows, loaders, train/validation split."""

import itertools

import numpy as np
import pytest
import torch

from llmcourse.data import (
    SlidingWindowDataset,
    count_windows,
    encode,
    load_corpus,
    make_loader,
    train_val_split,
    unwrap,
)
from llmcourse.tokenizer import BPETokenizer, end_of_text_id, gpt2_tokenizer


def test_unwrap_joins_lines_and_keeps_paragraphs():
    text = "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some\nyears ago.\n\n\n\n\nCHAPTER 2.\n  The  end. \n"
    assert (
        unwrap(text)
        == "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago.\n\nCHAPTER 2. The end."
    )
    assert unwrap("") == ""


def test_corpus_is_the_whole_novel_unwrapped():
    text = load_corpus()
    assert text.startswith("CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago—never mind how")
    assert "\n\n\n" not in text and "  " not in text
    assert text.count("CHAPTER ") >= 135
    assert all("\n" not in p for p in text.split("\n\n"))
    assert 1_150_000 < len(text) < 1_200_000


def test_unknown_corpus():
    with pytest.raises(ValueError, match=r"unknown corpus 'shakespeare'; known corpora: moby-dick"):
        load_corpus("shakespeare")


# ----------------------------------------------------------------------------- sliding windows
IDS = list(range(100, 120))  # 20 distinct ids, so a window's position is easy to read off


def test_windows_are_shifted_pairs_at_stride_steps():
    ds = SlidingWindowDataset(IDS, max_length=4, stride=3)
    assert len(ds) == 6  # starts 0, 3, 6, 9, 12, 15; start 18 would need tokens 18..22
    x, y = ds[0]
    assert x.tolist() == [100, 101, 102, 103] and y.tolist() == [101, 102, 103, 104]
    x, y = ds[5]
    assert x.tolist() == [115, 116, 117, 118] and y.tolist() == [116, 117, 118, 119]
    assert x.dtype == y.dtype == torch.long and x.shape == y.shape == (4,)
    assert [a.tolist() for a, _ in ds][-1] == ds[-1][0].tolist()
    with pytest.raises(IndexError, match="window 6 out of range: the dataset has 6 windows"):
        ds[6]


def test_items_do_not_share_memory_with_the_ids():
    ds = SlidingWindowDataset(torch.tensor(IDS), 4, 2)
    x, _ = ds[0]
    x[0] = -1
    assert ds.ids[0] == 100 and ds[0][0][0] == 100


@pytest.mark.parametrize(
    ("max_length", "stride"), [(4, 1), (4, 4), (4, 7), (1, 1), (19, 1), (5, 3)]
)
def test_dataset_matches_a_plain_loop(max_length, stride):
    ds = SlidingWindowDataset(IDS, max_length, stride)
    expected = []
    start = 0
    while start + max_length + 1 <= len(IDS):
        expected.append((IDS[start : start + max_length], IDS[start + 1 : start + max_length + 1]))
        start += stride
    assert [(x.tolist(), y.tolist()) for x, y in ds] == expected
    assert len(ds) == count_windows(len(IDS), max_length, stride) == len(expected)


def test_count_windows_values():
    assert count_windows(10, 4, 1) == 6
    assert count_windows(10, 4, 4) == 2  # starts 0 and 4; start 8 needs 5 tokens
    assert count_windows(5, 4, 1) == 1
    assert count_windows(4, 4, 1) == 0
    assert count_windows(0, 1, 1) == 0
    assert count_windows(100, 8, 16) == 6  # starts 0, 16, ..., 80
    for n, m, s in itertools.product(range(30), range(1, 8), range(1, 9)):
        assert count_windows(n, m, s) == len(range(0, max(n - m, 0), s))


def test_bad_window_settings():
    with pytest.raises(
        ValueError, match=r"the text has 4 tokens, but one window with max_length=4 needs 5"
    ):
        SlidingWindowDataset([1, 2, 3, 4], max_length=4, stride=1)
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        SlidingWindowDataset(IDS, max_length=0, stride=1)
    with pytest.raises(ValueError, match=r"stride must be a positive int \(>= 1\), got -2"):
        SlidingWindowDataset(IDS, max_length=4, stride=-2)
    with pytest.raises(TypeError, match="stride must be an int, got float"):
        SlidingWindowDataset(IDS, max_length=4, stride=1.5)
    with pytest.raises(TypeError, match="encode the text with a tokenizer first"):
        SlidingWindowDataset("some text", max_length=4, stride=1)
    with pytest.raises(TypeError, match="token ids must be integers"):
        SlidingWindowDataset(torch.rand(20), max_length=4, stride=1)
    with pytest.raises(ValueError, match=r"1-D .* got shape \(2, 10\)"):
        SlidingWindowDataset(torch.zeros(2, 10, dtype=torch.long), max_length=4, stride=1)
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        count_windows(10, 0, 1)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        count_windows(10, 4, 0)
    with pytest.raises(ValueError, match="n_tokens must be an int >= 0"):
        count_windows(-1, 4, 1)


def test_loader_batches_shapes_and_drop_last():
    ids = list(range(1000))
    loader = make_loader(ids, batch_size=8, max_length=10, stride=10, shuffle=False)
    batches = list(loader)
    assert len(batches) == 99 // 8 == 12  # 99 windows, the last 3 dropped
    x, y = batches[0]
    assert x.shape == y.shape == (8, 10) and x.dtype == torch.long
    assert x[1].tolist() == list(range(10, 20)) and torch.equal(y, x + 1)
    kept = list(make_loader(ids, 8, 10, 10, shuffle=False, drop_last=False))
    assert len(kept) == 13 and kept[-1][0].shape == (3, 10)
    assert make_loader(ids, 8, max_length=10).dataset.stride == 10  # stride defaults to max_length


def test_loader_shuffle_is_seeded_and_changes_per_epoch():
    ids = list(range(500))

    def first_tokens(loader):
        return [x[:, 0].tolist() for x, _ in loader]

    a = make_loader(ids, batch_size=4, max_length=5, seed=7, drop_last=False)
    b = make_loader(ids, batch_size=4, max_length=5, seed=7, drop_last=False)
    c = make_loader(ids, batch_size=4, max_length=5, seed=8, drop_last=False)
    epoch1 = first_tokens(a)
    assert epoch1 == first_tokens(b)
    assert epoch1 != first_tokens(c)
    assert epoch1 != first_tokens(a)  # the next epoch is shuffled differently...
    seen = sorted(t for batch in epoch1 for t in batch)
    assert seen == list(range(0, 495, 5))  # ...and each epoch sees every window once
    torch.manual_seed(0)
    d = first_tokens(make_loader(ids, batch_size=4, max_length=5, seed=7, drop_last=False))
    assert d == epoch1  # torch's global seed does not matter


def test_loader_with_workers_gives_the_same_batches():
    ids = list(range(300))
    serial = [x.tolist() for x, _ in make_loader(ids, 4, 5, seed=3)]
    parallel = [x.tolist() for x, _ in make_loader(ids, 4, 5, seed=3, num_workers=2)]
    assert serial == parallel


def test_loader_from_text_uses_gpt2_by_default():
    text = "Call me Ishmael. Some years ago<|endoftext|>never mind how long precisely."
    ids = gpt2_tokenizer().encode(text, allowed_special={"<|endoftext|>"})
    assert encode(text, allowed_special={"<|endoftext|>"}) == ids and 50256 in ids
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>'.*allowed_special="):
        make_loader(text, batch_size=2, max_length=4)  # refused unless allowed, as in tiktoken
    loader = make_loader(
        text, batch_size=2, max_length=4, stride=2, shuffle=False, allowed_special={"<|endoftext|>"}
    )
    x, y = next(iter(loader))
    assert x[0].tolist() == ids[:4] and y[1].tolist() == ids[3:7]
    bpe = BPETokenizer.train("aaabdaaabac" * 5, vocab_size=260, special_tokens=())
    assert encode("aaab aaab", bpe) == bpe.encode("aaab aaab")
    with pytest.raises(TypeError, match="text must be a str"):
        encode(b"bytes")


def test_bad_loader_settings():
    with pytest.raises(ValueError, match=r"batch_size must be a positive int \(>= 1\), got 0"):
        make_loader(IDS, batch_size=0, max_length=4)
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        make_loader(IDS, batch_size=2, max_length=4, num_workers=-1)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        make_loader(IDS, batch_size=2, max_length=4, seed=-1)
    with pytest.raises(ValueError, match=r"only 3 windows but batch_size=8 with drop_last=True"):
        make_loader(IDS, batch_size=8, max_length=5)
    assert len(make_loader(IDS, batch_size=8, max_length=5, drop_last=False)) == 1
    with pytest.raises(ValueError, match="the text has 3 tokens, but one window"):
        make_loader([1, 2, 3], batch_size=1, max_length=8)


def test_train_val_split():
    text = "abcdefghij" * 10
    train, val = train_val_split(text, 0.1)
    assert train + val == text and len(train) == 90 and len(val) == 10
    train, val = train_val_split(text, 0.25)
    assert len(val) == 25
    train, val = train_val_split(load_corpus())
    assert 0.0999 < len(val) / (len(train) + len(val)) < 0.1001
    assert val.endswith("\n\n".join(load_corpus().split("\n\n")[-1:]))


def test_bad_split():
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match=f"val_fraction must be between 0 and 1.*got {bad}"):
            train_val_split("some text", bad)
    with pytest.raises(TypeError, match="val_fraction must be a number"):
        train_val_split("some text", "0.1")
    with pytest.raises(TypeError, match="text must be a str"):
        train_val_split(["a", "b"], 0.5)
    with pytest.raises(ValueError, match="of a text of 3 characters leaves an empty validation"):
        train_val_split("abc", 0.01)
    with pytest.raises(ValueError, match="leaves an empty training part"):
        train_val_split("abc", 0.99)


def test_empty_text_or_ids_say_there_are_no_tokens():
    with pytest.raises(ValueError, match="the text is empty: it has no tokens"):
        make_loader("", 1, 4)
    with pytest.raises(
        ValueError, match=r"the text has 0 tokens, but one window with max_length=4"
    ):
        make_loader([], 1, 4)
    with pytest.raises(ValueError, match=r"the text has 0 tokens"):
        SlidingWindowDataset(torch.tensor([], dtype=torch.long), 4, 4)


def test_ids_are_type_and_range_checked():
    with pytest.raises(TypeError, match=r"token ids\[1\] must be an int token id, got bool True"):
        SlidingWindowDataset([1, True, 3, 4], 2, 1)
    with pytest.raises(TypeError, match=r"token ids\[0\] must be an int token id, got float 1.5"):
        SlidingWindowDataset([1.5, 2, 3], 2, 1)
    with pytest.raises(ValueError, match=r"token ids\[2\] is id -3, outside"):
        SlidingWindowDataset([1, 2, -3, 4], 2, 1)
    with pytest.raises(ValueError, match=r"token ids holds id -1"):
        SlidingWindowDataset(torch.tensor([1, -1, 2, 3]), 2, 1)
    with pytest.raises(ValueError, match=r"1-D .* got a list of list"):
        SlidingWindowDataset([[1, 2], [3, 4]], 2, 1)
    ds = SlidingWindowDataset(np.arange(10), 4, 4)
    assert ds[1][0].tolist() == [4, 5, 6, 7] and ds[1][0].dtype == torch.long
    with pytest.raises(TypeError, match="index must be an int, got bool True"):
        ds[True]
    with pytest.raises(TypeError, match="index must be an int, got float 0.0"):
        ds[0.0]


def test_loader_checks_flags_and_tokenizer_use():
    with pytest.raises(TypeError, match="shuffle must be True or False, got int 1"):
        make_loader(IDS, 2, 4, shuffle=1)
    with pytest.raises(TypeError, match="drop_last must be True or False, got str 'no'"):
        make_loader(IDS, 2, 4, drop_last="no")
    with pytest.raises(TypeError, match="seed must be an int, got bool True"):
        make_loader(IDS, 2, 4, seed=True)
    with pytest.raises(TypeError, match="num_workers must be an int, got float 1.0"):
        make_loader(IDS, 2, 4, num_workers=1.0)
    with pytest.raises(ValueError, match="tokenizer is only used for a text"):
        make_loader(IDS, 2, 4, tokenizer=gpt2_tokenizer())
    with pytest.raises(TypeError, match="n_tokens must be an int, got bool True"):
        count_windows(True, 2, 1)


def test_val_fraction_refuses_nan_and_infinity():
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match=f"val_fraction must be between 0 and 1.*got {bad}"):
            train_val_split("abcdefghij", bad)
    with pytest.raises(TypeError, match="val_fraction must be a number, got bool True"):
        train_val_split("abcdefghij", True)
    assert train_val_split("abcdefghij", 0.2) == ("abcdefgh", "ij")


def test_loader_with_a_bpe_trained_here_assumes_no_gpt2_id():
    text = load_corpus()[:20_000]
    bpe = BPETokenizer.train(text, 300, special_tokens=["<|endoftext|>"])
    eot = end_of_text_id(bpe)
    assert eot == len(bpe) - 1 < 300  # its own id, far from GPT-2's 50256
    docs = text + "<|endoftext|>" + text
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>'"):
        make_loader(docs, 2, 8, tokenizer=bpe)
    loader = make_loader(
        docs, 2, 8, shuffle=False, tokenizer=bpe, allowed_special={"<|endoftext|>"}
    )
    ids = bpe.encode(docs, allowed_special={"<|endoftext|>"})
    all_inputs = torch.cat([x.flatten() for x, _ in loader]).tolist()
    assert eot in ids and all_inputs == ids[: len(all_inputs)]
    assert max(all_inputs) < len(bpe)
