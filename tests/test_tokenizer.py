"""llmcourse.tokenizer: regex tokenizer, BPE training and encoding, GPT-2 ids equal tiktoken's."""

import json
import random

import pytest
import torch

from llmcourse import assets
from llmcourse.data import load_corpus
from llmcourse.tokenizer import (
    GPT2_PATTERN,
    BPETokenizer,
    SimpleTokenizer,
    gpt2_bpe,
    gpt2_tokenizer,
    merge_pair,
    split_words,
    token_pieces,
)

EOT = "<|endoftext|>"
SAMPLES = {
    "empty": "",
    "ascii": "Call me Ishmael. Some years ago--never mind how long precisely.",
    "emoji": "whales 🐋🐳 and a 👍🏽 thumbs-up",
    "cjk": "白鲸记。鯨の物語。 고래",
    "mixed": f"Ahab's  \tleg\n\n  was ivory {EOT} 42 Größe — naïve café ✓ 😀!",
}


@pytest.fixture(scope="module")
def corpus() -> str:
    return load_corpus()


@pytest.fixture(scope="module")
def gpt2_ours() -> BPETokenizer:
    return gpt2_bpe()


@pytest.fixture(scope="module")
def gpt2_ref():
    return gpt2_tokenizer()


@pytest.fixture(scope="module")
def small_bpe(corpus) -> BPETokenizer:
    return BPETokenizer.train(corpus[:50_000], 512)


# ---- SimpleTokenizer -------------------------------------------------------------------------


def test_split_words_splits_punctuation_and_drops_spaces():
    assert split_words('Hello, world--"again"?  (yes_no) it\'s: fine;\nok!') == [
        "Hello",
        ",",
        "world",
        "--",
        '"',
        "again",
        '"',
        "?",
        "(",
        "yes",
        "_",
        "no",
        ")",
        "it",
        "'",
        "s",
        ":",
        "fine",
        ";",
        "ok",
        "!",
    ]
    assert split_words("  \n ") == []


def test_simple_vocab_is_sorted_pieces_then_specials():
    tok = SimpleTokenizer.from_text("the cat, the hat.")
    assert tok.vocab == {",": 0, ".": 1, "cat": 2, "hat": 3, "the": 4, "<|unk|>": 5, EOT: 6}
    assert len(tok) == 7
    assert SimpleTokenizer.from_text("b a", specials=()).vocab == {"a": 0, "b": 1}


def test_simple_encode_decode():
    tok = SimpleTokenizer.from_text("Call me Ishmael. Some years ago--never mind, it's (said) so!")
    ids = tok.encode("Call me Ishmael, it's so!")
    assert [tok.id_to_token[i] for i in ids] == [
        "Call",
        "me",
        "Ishmael",
        ",",
        "it",
        "'",
        "s",
        "so",
        "!",
    ]
    assert tok.decode(ids) == "Call me Ishmael, it's so!"
    text = "years ago--never (said) mind."
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(torch.tensor(ids)) == "Call me Ishmael, it's so!"


def test_simple_unknown_word_and_endoftext():
    tok = SimpleTokenizer.from_text("the whale")
    unk, eot = tok.vocab["<|unk|>"], tok.vocab[EOT]
    assert tok.encode(f"the squid{EOT}the whale") == [0, unk, eot, 0, 1]
    assert tok.decode([0, unk, eot]) == f"the <|unk|> {EOT}"


def test_simple_unknown_word_without_unk_raises():
    tok = SimpleTokenizer({"the": 0, "whale": 1})
    assert tok.encode("the whale") == [0, 1]
    with pytest.raises(ValueError, match=r"word 'squid' is not in the vocabulary.*no '<\|unk\|>'"):
        tok.encode("the squid")


def test_simple_bad_ids_and_inputs():
    tok = SimpleTokenizer.from_text("a b c")  # ids 0..4
    with pytest.raises(ValueError, match=r"token id 5 is not in the vocabulary \(valid ids: 0..4"):
        tok.decode([0, 5])
    with pytest.raises(ValueError, match=r"token id -1 is not in the vocabulary"):
        tok.decode([-1])
    with pytest.raises(TypeError, match=r"token ids must be ints, got 'a' \(str\)"):
        tok.decode(["a"])
    with pytest.raises(TypeError, match=r"text must be a str, got list"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match=r"two tokens to the same id"):
        SimpleTokenizer({"a": 0, "b": 0})


# ---- BPE training ------------------------------------------------------------------------------


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
    ids = tok.encode(text)
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


# ---- BPE encoding, decoding, saving --------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_bpe_round_trip(name, small_bpe, gpt2_ours):
    text = SAMPLES[name]
    for tok in (small_bpe, gpt2_ours):
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        assert tok.decode_bytes(ids) == text.encode("utf-8")
    if name == "empty":
        assert small_bpe.encode(text) == [] and small_bpe.decode([]) == ""
    else:  # fewer tokens than bytes: merges were applied
        assert 0 < len(gpt2_ours.encode(text)) < len(text.encode("utf-8"))


def test_bpe_allowed_special(small_bpe):
    eot = small_bpe.special_tokens[EOT]
    assert small_bpe.encode(f"a{EOT}b") == [ord("a"), eot, ord("b")]
    assert small_bpe.encode(f"a{EOT}b", allowed_special={EOT}) == [ord("a"), eot, ord("b")]
    plain = small_bpe.encode(f"a{EOT}b", allowed_special="none")
    assert eot not in plain and small_bpe.decode(plain) == f"a{EOT}b"
    with pytest.raises(ValueError, match=r"allowed_special has \['<\|pad\|>'\], which are not"):
        small_bpe.encode("a", allowed_special={"<|pad|>"})


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
        assert loaded.encode(text) == tok.encode(text)


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


# ---- GPT-2: our BPE with GPT-2's ranks against tiktoken --------------------------------------


def test_gpt2_bpe_shape(gpt2_ours):
    assert len(gpt2_ours) == 50257 and len(gpt2_ours.merges) == 50000
    assert gpt2_ours.special_tokens == {EOT: 50256}
    assert gpt2_ours.byte_ids[ord("!")] == 0 and gpt2_ours.byte_ids[ord(" ")] == 220
    assert gpt2_ours.merges[(220, 83)] == 256  # " t", GPT-2's first merge
    assert gpt2_ours.encode("Hello, world") == [15496, 11, 995]


def test_gpt2_ids_equal_tiktoken_on_samples(gpt2_ours, gpt2_ref, corpus):
    texts = [*SAMPLES.values(), corpus[:3_000], corpus[-3_000:], f"{EOT}a{EOT}{EOT}", " x\n\n\ty "]
    for text in texts:
        assert gpt2_ours.encode(text) == gpt2_ref.encode(text, allowed_special="all")
        plain = gpt2_ref.encode(text, disallowed_special=())
        assert gpt2_ours.encode(text, allowed_special="none") == plain


@pytest.mark.parametrize("form", ["unwrapped", "raw"])
def test_gpt2_ids_equal_tiktoken_on_whole_corpus(gpt2_ours, gpt2_ref, corpus, form):
    # About a second each: 1.2 MB, ~300k tokens. The raw file keeps its hard line wraps and
    # indentation, which exercise the whitespace rules of the pattern.
    text = corpus if form == "unwrapped" else assets.read_text("moby-dick")
    text = text + EOT + text[:1000]
    ours = gpt2_ours.encode(text)
    assert len(ours) > 290_000
    assert ours == gpt2_ref.encode(text, allowed_special="all")


def test_from_tiktoken_ranks_needs_all_bytes():
    with pytest.raises(ValueError, match=r"all 256 single bytes; missing \[0, 1, 2"):
        BPETokenizer.from_tiktoken_ranks({b"a": 0})


# ---- token_pieces ----------------------------------------------------------------------------


def test_token_pieces_for_every_kind(gpt2_ours, gpt2_ref):
    simple = SimpleTokenizer.from_text("the whale")
    assert token_pieces(simple, "the squid") == [("the", 0), ("<|unk|>", 2)]
    text = f"Hello world  😀{EOT}"
    expected = [
        ("Hello", 15496),
        (" world", 995),
        (" ", 220),
        (" \\xf0\\x9f\\x98", 30325),
        ("\\x80", 222),
        (EOT, 50256),
    ]
    assert token_pieces(gpt2_ref, text) == expected
    assert token_pieces(gpt2_ours, text) == expected
    with pytest.raises(TypeError, match=r"tokenizer must be a SimpleTokenizer.*got str"):
        token_pieces("gpt2", "hi")
