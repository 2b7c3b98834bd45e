"""llmcourse.tokenizer: the word tokenizer, token pieces, and the one text <-> ids API for every tokenizer."""

import pytest
import torch

from llmcourse.special_tokens import END_OF_TEXT as EOT
from llmcourse.tokenizer import (
    BPETokenizer,
    SimpleTokenizer,
    decode,
    encode,
    end_of_text_id,
    ids_to_text,
    split_words,
    text_to_ids,
    token_pieces,
)

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
    assert tok.encode(f"the squid{EOT}the whale", allowed_special={EOT}) == [0, unk, eot, 0, 1]
    assert tok.encode(f"the squid{EOT}", allowed_special="all")[-1] == eot
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


# ---- token_pieces ----------------------------------------------------------------------------


def test_token_pieces_for_every_kind(gpt2_ours, gpt2):
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
    assert token_pieces(gpt2, text) == expected
    assert token_pieces(gpt2_ours, text) == expected
    with pytest.raises(TypeError, match=r"tokenizer must be a SimpleTokenizer.*got str"):
        token_pieces("gpt2", "hi")


# ---- one special-token policy, one text <-> ids API ------------------------------------------


def test_one_encode_for_every_tokenizer(small_bpe, gpt2_ours, gpt2):
    text = f"the end{EOT}"
    assert encode(text, allowed_special={EOT}) == [1169, 886, 50256]  # GPT-2 by default
    for tok in (gpt2, gpt2_ours, small_bpe, SimpleTokenizer.from_text("the end")):
        with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>'.*allowed_special"):
            encode(text, tok)
        ids = encode(text, tok, allowed_special={EOT})
        assert ids[-1] == end_of_text_id(tok) and decode(ids, tok).endswith(EOT)
    assert encode(text, gpt2, disallowed_special=()) == gpt2.encode_ordinary(text)
    with pytest.raises(ValueError, match=r"allowed_special has \['<\|pad\|>'\]"):
        encode("a", gpt2, allowed_special={"<|pad|>"})  # tiktoken alone would ignore it
    with pytest.raises(TypeError, match=r"tokenizer must be a SimpleTokenizer.*got str 'gpt2'"):
        encode("a", "gpt2")
    with pytest.raises(TypeError, match=r"text must be a str, got bytes"):
        encode(b"a", gpt2)


def test_end_of_text_id_of_every_tokenizer(small_bpe, gpt2):
    assert end_of_text_id() == end_of_text_id(gpt2) == 50256 == gpt2.eot_token
    assert end_of_text_id(small_bpe) == 511 == small_bpe.special_tokens[EOT]
    assert end_of_text_id(SimpleTokenizer.from_text("a b")) == 3
    bare = BPETokenizer.train("aaab", 257, special_tokens=["<|pad|>"])
    with pytest.raises(ValueError, match=r"BPETokenizer has no '<\|endoftext\|>'.*\['<\|pad\|>'\]"):
        end_of_text_id(bare)
    with pytest.raises(ValueError, match=r"SimpleTokenizer has no '<\|endoftext\|>'"):
        end_of_text_id(SimpleTokenizer({"a": 0}))
    with pytest.raises(TypeError, match="tokenizer must be a SimpleTokenizer"):
        end_of_text_id(50256)


def test_text_to_ids_and_ids_to_text(small_bpe, gpt2):
    ids = text_to_ids("Call me Ishmael.", gpt2)
    assert ids.dtype == torch.long and ids.tolist() == [gpt2.encode("Call me Ishmael.")]
    assert ids_to_text(ids, gpt2) == ids_to_text(ids[0]) == "Call me Ishmael."
    assert ids_to_text([1169, 886]) == "the end"
    empty = text_to_ids("", small_bpe)
    assert empty.shape == (1, 0) and empty.dtype == torch.long  # not a float tensor
    assert text_to_ids(EOT, gpt2, allowed_special={EOT}).tolist() == [[50256]]
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>'"):
        text_to_ids(EOT, small_bpe)
    with pytest.raises(ValueError, match="decodes one sequence, got a batch of 2"):
        ids_to_text(torch.zeros(2, 3, dtype=torch.long), gpt2)
    with pytest.raises(ValueError, match=r"ids\[1\] is id 50257, outside \[0, 50257\)"):
        ids_to_text([1, 50257], gpt2)
    with pytest.raises(TypeError, match=r"ids\[0\] must be an int token id, got bool True"):
        ids_to_text([True], gpt2)
    with pytest.raises(TypeError, match="integer token ids, got a torch.float32 tensor"):
        ids_to_text(torch.tensor([1.0]), gpt2)
    with pytest.raises(ValueError, match=r"one sequence of token ids, got shape \(1, 1, 2\)"):
        ids_to_text(torch.zeros(1, 1, 2, dtype=torch.long), gpt2)


def test_decode_refuses_bools_floats_and_tables(small_bpe):
    with pytest.raises(TypeError, match=r"token ids must be ints, got True \(bool\)"):
        small_bpe.decode([True])
    with pytest.raises(TypeError, match=r"token ids must be ints, got 104.0 \(float\)"):
        small_bpe.decode([104.0])
    with pytest.raises(ValueError, match=r"one sequence of token ids, got shape \(1, 2\)"):
        small_bpe.decode(torch.tensor([[104, 105]]))
    with pytest.raises(TypeError, match="ids must be a list of int token ids, got int 5"):
        small_bpe.decode(5)
    with pytest.raises(TypeError, match=r"token ids must be ints, got False \(bool\)"):
        SimpleTokenizer.from_text("a b").decode([False])
