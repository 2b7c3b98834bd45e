"""llmcourse.bpe: training (naive and fast), encoding by merge rank, save and load, and GPT-2's
ids equal to tiktoken's."""

import json
import random

import pytest
import torch

from llmcourse import assets
from llmcourse.bpe import GPT2_PATTERN, BPETokenizer, load_tiktoken_ranks, merge_pair
from llmcourse.special_tokens import END_OF_TEXT as EOT
from llmcourse.tokenizer import SimpleTokenizer, encode

SAMPLES = {
    "empty": "",
    "ascii": "Call me Ishmael. Some years ago--never mind how long precisely.",
    "emoji": "whales 🐋🐳 and a 👍🏽 thumbs-up",
    "cjk": "白鲸记。鯨の物語。 고래",
    "mixed": f"Ahab's  \tleg\n\n  was ivory {EOT} 42 Größe — naïve café ✓ 😀!",
}


def test_merge_pair():
    assert merge_pair([97, 97, 97, 98, 97, 97], (97, 97), 256) == [256, 97, 98, 256]
    assert merge_pair([1, 2], (2, 1), 9) == [1, 2]
    assert merge_pair([], (1, 2), 9) == []


def test_train_aaabdaaabac_by_hand():
    # Pairs: aa 4, ab 2, the rest 1 -> merge (a, a) -> 256: [256 a b d 256 a b a c].
    # Now (256, a) and (a, b) both occur twice: the tie goes to the smaller pair (97, 98) -> 257.
    # Then (256, 257) occurs twice -> 258 ("aaab").
    for method in ("fast", "naive"):
        tok = BPETokenizer.train("aaabdaaabac", 256 + 3, special_tokens=(), method=method)
        assert tok.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
        assert tok.vocab[258] == b"aaab"
        assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]


def test_train_ties_go_to_the_smallest_pair():
    # "ab", " cd": three pairs once each; (32, 99) = (" ", "c") has the smallest ids.
    tok = BPETokenizer.train("ab cd", 257, special_tokens=())
    assert tok.merges == {(32, 99): 256}


def test_train_special_tokens_get_ids_after_the_merges():
    # Chunks "the", " whale", "the", " sea": (t, h) and (h, e) occur twice; the tie goes to
    # (104, 101) = "he", then "t" + "he" -> "the"; the remaining pairs occur once each.
    text = f"the whale{EOT}the sea"
    tok = BPETokenizer.train(text, 256 + 4 + 2, special_tokens=(EOT, "<|pad|>"))
    assert tok.merges == {(104, 101): 256, (116, 256): 257, (32, 115): 258, (32, 119): 259}
    assert tok.special_tokens == {EOT: 260, "<|pad|>": 261} and len(tok) == 262
    ids = tok.encode(text, allowed_special={EOT})
    assert ids == [257, 259, 104, 97, 108, 101, 260, 257, 258, 101, 97]
    assert tok.decode(ids) == text


def test_train_stops_early_with_a_warning():
    # Chunks "ab", " ab": merge (a, b), then (" ", ab); then every chunk is one token.
    with pytest.warns(UserWarning, match=r"ran out of pairs after 2 merges.*259 tokens.*=300"):
        tok = BPETokenizer.train("ab ab", 300)
    assert tok.merges == {(97, 98): 256, (32, 256): 257} and tok.special_tokens == {EOT: 258}


def test_train_vocab_size_too_small():
    with pytest.raises(ValueError, match=r"vocab_size must be an int >= 257 .* got 256"):
        BPETokenizer.train("hello", 256)
    with pytest.raises(ValueError, match=r">= 258 .*2 special tokens.* got 100"):
        BPETokenizer.train("hello", 100, special_tokens=(EOT, "<|pad|>"))
    with pytest.raises(ValueError, match=r"method must be 'fast' or 'naive', got 'slow'"):
        BPETokenizer.train("hello", 300, method="slow")
    with pytest.raises(TypeError, match=r"special_tokens must be a list of strings"):
        BPETokenizer.train("hello", 300, special_tokens=EOT)


def test_fast_and_naive_trainers_give_the_same_merges(corpus):
    text = corpus[100_000:120_000]
    fast = BPETokenizer.train(text, 700)
    naive = BPETokenizer.train(text, 700, method="naive")
    assert len(fast.merges) == 700 - 257
    assert list(fast.merges.items()) == list(naive.merges.items())


def test_fast_and_naive_agree_on_repetitive_text():
    # Runs like "aaaa" make overlapping pairs, the hard case for incremental counting.
    rng = random.Random(0)
    text = " ".join(
        "".join(rng.choice("aab") for _ in range(rng.randint(1, 12))) for _ in range(300)
    )
    fast = BPETokenizer.train(text, 400, special_tokens=())
    assert fast.merges == BPETokenizer.train(text, 400, special_tokens=(), method="naive").merges
    assert fast.decode(fast.encode(text)) == text


def test_trained_tokenizer_compresses_and_knows_common_words(small_bpe, corpus):
    assert len(small_bpe) == 512
    ids = small_bpe.encode(corpus[:10_000])
    assert len(ids) < 0.5 * len(corpus[:10_000].encode())
    assert [small_bpe.vocab[i] for i in small_bpe.encode(" the")] == [b" the"]


def test_verbose_prints_each_merge(capsys):
    BPETokenizer.train("aaabdaaabac", 259, special_tokens=(), verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "merge 1/3: 'a' + 'a' -> 'aa' (id 256)",
        "merge 2/3: 'a' + 'b' -> 'ab' (id 257)",
        "merge 3/3: 'aa' + 'ab' -> 'aaab' (id 258)",
    ]


@pytest.mark.parametrize("name", SAMPLES)
def test_bpe_round_trip(name, small_bpe, gpt2_ours):
    text = SAMPLES[name]
    for tok in (small_bpe, gpt2_ours):
        ids = tok.encode(text, allowed_special="all")
        assert tok.decode(ids) == text
        assert tok.decode_bytes(ids) == text.encode("utf-8")
    if name == "empty":
        assert small_bpe.encode(text) == [] and small_bpe.decode([]) == ""
    else:  # fewer tokens than bytes: merges were applied
        assert 0 < len(gpt2_ours.encode_ordinary(text)) < len(text.encode("utf-8"))


def test_bpe_bad_ids(small_bpe):
    with pytest.raises(ValueError, match=r"token id 512 is not in the vocabulary \(vocabulary"):
        small_bpe.decode([1, 512])
    with pytest.raises(TypeError, match=r"token ids must be ints, got 'x'"):
        small_bpe.decode_bytes(["x"])
    with pytest.raises(TypeError, match=r"text must be a str, got bytes"):
        small_bpe.encode(b"abc")
    assert small_bpe.decode(torch.tensor([104, 105])) == "hi"


def test_bpe_decode_replaces_partial_characters(gpt2_ours):
    ids = gpt2_ours.encode("😀")
    assert len(ids) == 2 and gpt2_ours.decode(ids[:1]) == "\ufffd"


def test_save_load_round_trip(tmp_path, small_bpe, gpt2_ours, corpus):
    for tok in (small_bpe, gpt2_ours):
        path = tmp_path / "tok.json"
        tok.save(path)
        loaded = BPETokenizer.load(path)
        assert loaded.merges == tok.merges and loaded.byte_ids == tok.byte_ids
        assert loaded.special_tokens == tok.special_tokens and loaded.pattern == GPT2_PATTERN
        text = corpus[:5_000] + EOT + SAMPLES["mixed"]
        assert loaded.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")


def test_load_rejects_unknown_format(tmp_path):
    path = tmp_path / "tok.json"
    path.write_text(json.dumps({"format": "llmcourse-bpe", "version": 7, "merges": []}))
    expected = r"format 'llmcourse-bpe' version 7; expected 'llmcourse-bpe' version 1"
    with pytest.raises(ValueError, match=expected):
        BPETokenizer.load(path)
    path.write_text(json.dumps({"merges": []}))
    with pytest.raises(ValueError, match=r"format None version None"):
        BPETokenizer.load(path)


def test_constructor_checks_merges():
    with pytest.raises(ValueError, match=r"merge \(256, 97\) -> 257 uses an id not defined"):
        BPETokenizer({(256, 97): 257})
    with pytest.raises(ValueError, match=r"merge \(97, 97\) -> 97: new ids must be new"):
        BPETokenizer({(97, 97): 97})
    with pytest.raises(ValueError, match=r"special token '<\|x\|>' reuses id 3"):
        BPETokenizer({}, {"<|x|>": 3})


def test_merge_trace():
    tok = BPETokenizer.train("aaabdaaabac", 259, special_tokens=())
    trace = tok.merge_trace("aaab ac", 5)
    assert trace == [
        ("bytes", ["a", "a", "a", "b", " ", "a", "c"]),
        ("'a' + 'a' → 'aa'", ["aa", "a", "b", " ", "a", "c"]),
        ("'a' + 'b' → 'ab'", ["aa", "ab", " ", "a", "c"]),
        ("'aa' + 'ab' → 'aaab'", ["aaab", " ", "a", "c"]),
    ]  # stops after 3 steps: no merge is left to apply
    with pytest.raises(ValueError, match=r"n_merges must be an int >= 0, got -1"):
        tok.merge_trace("a", -1)


def test_gpt2_bpe_shape(gpt2_ours):
    assert len(gpt2_ours) == 50257 and len(gpt2_ours.merges) == 50000
    assert gpt2_ours.special_tokens == {EOT: 50256}
    assert gpt2_ours.byte_ids[ord("!")] == 0 and gpt2_ours.byte_ids[ord(" ")] == 220
    assert gpt2_ours.merges[(220, 83)] == 256  # " t", GPT-2's first merge
    assert gpt2_ours.encode("Hello, world") == [15496, 11, 995]


def test_gpt2_ids_equal_tiktoken_on_samples(gpt2_ours, gpt2, corpus):
    texts = [*SAMPLES.values(), corpus[:3_000], corpus[-3_000:], f"{EOT}a{EOT}{EOT}", " x\n\n\ty "]
    for text in texts:
        everything = gpt2.encode(text, allowed_special="all")
        assert gpt2_ours.encode(text, allowed_special="all") == everything
        plain = gpt2.encode(text, disallowed_special=())
        assert gpt2_ours.encode(text, disallowed_special=()) == plain
        assert gpt2_ours.encode_ordinary(text) == gpt2.encode_ordinary(text) == plain


@pytest.mark.parametrize("form", ["unwrapped", "raw"])
def test_gpt2_ids_equal_tiktoken_on_whole_corpus(gpt2_ours, gpt2, corpus, form):
    # About a second each: 1.2 MB, ~300k tokens. The raw file keeps its hard line wraps and
    # indentation, which exercise the whitespace rules of the pattern.
    text = corpus if form == "unwrapped" else assets.read_text("moby-dick")
    text = text + EOT + text[:1000]
    ours = gpt2_ours.encode(text, allowed_special={EOT})
    assert len(ours) > 290_000
    assert ours == gpt2.encode(text, allowed_special="all")


def test_from_tiktoken_ranks_needs_all_bytes():
    with pytest.raises(ValueError, match=r"all 256 single bytes; missing \[0, 1, 2"):
        BPETokenizer.from_tiktoken_ranks({b"a": 0})


def test_lone_surrogates_are_encoded_like_tiktoken(small_bpe, gpt2_ours, gpt2):
    for text in ["\ud800", "a\ud83d\ude00b", "x\udfff y"]:  # lone, a pair, lone low
        expected = gpt2.encode(text)
        assert gpt2_ours.encode(text) == expected and encode(text, gpt2_ours) == expected
    assert gpt2_ours.decode(gpt2_ours.encode("a\ud83d\ude00b")) == "a😀b"  # the pair is joined
    assert small_bpe.decode(small_bpe.encode("\ud800")) == "\ufffd"  # a lone one becomes �
    assert BPETokenizer.train("ab\ud800ab", 257, special_tokens=()).merges == {(97, 98): 256}


def test_train_refuses_empty_repeated_or_bad_special_tokens():
    with pytest.raises(ValueError, match="a special token must not be the empty string"):
        BPETokenizer.train("hi there", 300, special_tokens=[EOT, ""])
    with pytest.raises(ValueError, match=r"must be distinct; \['<\|endoftext\|>'\] appear more"):
        BPETokenizer.train("hi there", 300, special_tokens=[EOT, EOT])
    with pytest.raises(TypeError, match="each special token must be a str, got int 5"):
        BPETokenizer.train("hi there", 300, special_tokens=[5])
    with pytest.raises(TypeError, match="vocab_size must be an int, got bool True"):
        BPETokenizer.train("hi there", True)
    with pytest.raises(TypeError, match="vocab_size must be an int, got float 300.0"):
        BPETokenizer.train("hi there", 300.0)
    with pytest.raises(TypeError, match="verbose must be True or False, got int 1"):
        BPETokenizer.train("hi there", 300, verbose=1)
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        BPETokenizer.train(b"hi there", 300)
    with pytest.raises(ValueError, match="a special token must not be the empty string"):
        SimpleTokenizer.from_text("a b", specials=["<|unk|>", ""])
    with pytest.raises(ValueError, match="must be distinct"):
        SimpleTokenizer.from_text("a b", specials=["<|unk|>", "<|unk|>"])


def test_constructors_check_types_and_pattern():
    with pytest.raises(TypeError, match="a merge's id must be an int, got bool True"):
        BPETokenizer({(True, 97): 256})
    with pytest.raises(TypeError, match=r"the new id of merge \(97, 97\) must be an int, got str"):
        BPETokenizer({(97, 97): "256"})
    with pytest.raises(TypeError, match=r"the id of special token '<\|x\|>' must be an int, got"):
        BPETokenizer({}, {"<|x|>": 256.0})
    with pytest.raises(ValueError, match=r"pattern '\(' is not a valid regular expression"):
        BPETokenizer({}, pattern="(")
    with pytest.raises(ValueError, match="byte_ids must be 256 distinct ids, got 257"):
        BPETokenizer({}, byte_ids=list(range(257)))
    with pytest.raises(TypeError, match=r"the id of 'a' must be an int, got bool True"):
        SimpleTokenizer({"a": True})
    with pytest.raises(ValueError, match="vocab is empty"):
        SimpleTokenizer({})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"format": "llmcourse-bpe", "vers', r"tok.json is not valid JSON .*truncated"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", r"tok.json is not a tokenizer file: it is not UTF-8"),
        (b'{"format": "llmcourse-bpe", "version": 1}', r"tok.json is incomplete: .*'pattern'"),
        (
            (
                b'{"format": "llmcourse-bpe", "version": 1, "pattern": "(", "byte_ids": null,'
                b' "merges": [], "special_tokens": {}}'
            ),
            r"tok.json holds a damaged tokenizer: pattern '\(' is not a valid",
        ),
        (
            (
                b'{"format": "llmcourse-bpe", "version": 1, "pattern": "a", "byte_ids": null,'
                b' "merges": [[97, 97]], "special_tokens": {}}'
            ),
            r"tok.json holds a damaged tokenizer: a merge must be \[left_id, right_id, new_id\]",
        ),
        (
            (
                b'{"format": "llmcourse-bpe", "version": 1, "pattern": "a", "byte_ids": null,'
                b' "merges": [[97, 97, 256], [97, 97, 257]], "special_tokens": {}}'
            ),
            r"tok.json holds a damaged tokenizer: merge \(97, 97\) appears twice",
        ),
        (
            (
                b'{"format": "llmcourse-bpe", "version": 1, "pattern": "a", "byte_ids": null,'
                b' "merges": [], "special_tokens": {"<|x|>": true}}'
            ),
            r"tok.json holds a damaged tokenizer: the id of special token .* got bool True",
        ),
    ],
)
def test_load_names_the_file_of_a_damaged_tokenizer(tmp_path, content, expected):
    path = tmp_path / "tok.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=expected):
        BPETokenizer.load(path)


def test_load_tiktoken_ranks_names_a_bad_file(tmp_path):
    path = tmp_path / "bad.tiktoken"
    path.write_text("IQ== 0\nnot-base64 1\n")
    with pytest.raises(ValueError, match=r"bad.tiktoken line 2 is not 'base64-token rank'"):
        load_tiktoken_ranks(path)
    path.write_text("IQ== 0\n")
    assert load_tiktoken_ranks(path) == {b"!": 0}
