"""llmcourse.spam: parsing the messages, the two sources, balanced seeded splits."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections import Counter

import pytest

from llmcourse import assets, spam
from llmcourse.spam import load_spam, parse_email, parse_sms, spam_splits

MULTIPART = """From: someone@example.com
Subject: =?utf-8?q?Caf=C3=A9_offer?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="XX"

--XX
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Hello=2C dear friend.
Claim your   prize =E2=82=AC100 now!
--XX
Content-Type: text/html

<p>ignored html</p>
--XX--
"""

HTML_ONLY = (
    "Subject: Win big\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n"
    + __import__("base64")
    .b64encode(
        b"<html><head><style>p {color: red}</style></head>"
        b"<body><p>Buy&nbsp;now &amp; save</p><br>today</body></html>"
    )
    .decode()
    + "\n"
)


def test_parse_email_subject_and_plain_body():
    assert parse_email(MULTIPART) == "Café offer\nHello, dear friend. Claim your prize €100 now!"
    assert parse_email(MULTIPART, body_chars=5) == "Café offer\nHello"


def test_parse_email_html_only_is_stripped():
    assert parse_email(HTML_ONLY) == "Win big\nBuy now & save today"  # nbsp too


def test_parse_sms_lines_and_bad_line():
    assert parse_sms("ham\tSee you at 5\n\nspam\tWIN a prize!\n") == [
        ("See you at 5", 0),
        ("WIN a prize!", 1),
    ]
    with pytest.raises(ValueError, match=r"line 1 is not 'ham<TAB>text'.*'maybe\\tx'"):
        parse_sms("maybe\tx")


@pytest.fixture
def fake_asset(monkeypatch, tmp_path):
    """Point assets.fetch at files this test writes; clear the parsed-data cache."""
    files: dict[str, object] = {}
    monkeypatch.setattr(assets, "fetch", lambda name, **kw: files[name])
    spam._read_source.cache_clear()
    yield files, tmp_path
    spam._read_source.cache_clear()


def test_load_spam_sms_from_a_small_zip(fake_asset):
    files, tmp = fake_asset
    path = tmp / "sms.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("SMSSpamCollection", "ham\thi\nspam\tfree cash\nham\thi\nspam\thi again\n")
        z.writestr("readme", "not data")
    files["sms-spam.zip"] = path
    assert load_spam("sms") == [("hi", 0), ("free cash", 1), ("hi again", 1)]  # "hi" once


def test_load_spam_assassin_dedupes_and_drops_conflicts(fake_asset):
    files, tmp = fake_asset
    path = tmp / "spam.tgz"
    emails = [
        ("easy-ham-1/00001.a", "Subject: lunch\n\nat noon"),
        ("spam-1/00001.b", "Subject: cash\n\nfree money"),
        ("spam-2/00002.c", "Subject: cash\n\nfree money"),  # duplicate spam: kept once
        ("hard-ham-1/00003.d", "Subject: odd\n\nsame"),
        ("spam-1/00004.e", "Subject: odd\n\nsame"),  # the same text as ham and spam: dropped
    ]
    with tarfile.open(path, "w:gz") as t:
        for name, raw in [*emails, ("file_list", None)]:
            body = json.dumps(
                {"id": 1, "group": name.split("/")[0], "text": raw} if raw else ["a list"]
            ).encode()
            info = tarfile.TarInfo(f"package/data/{name}.json")
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    files["spam-assassin.tgz"] = path
    assert load_spam() == [("lunch\nat noon", 0), ("cash\nfree money", 1)]


def toy_pairs(n_ham=30, n_spam=12):
    return [(f"ham {i}", 0) for i in range(n_ham)] + [(f"spam {i}", 1) for i in range(n_spam)]


def test_spam_splits_balanced_disjoint_and_seeded():
    s = spam_splits(data=toy_pairs(), seed=1)
    assert s.sizes() == {"train": 16, "val": 2, "test": 6}  # 12 per class: 8.4→8, 1.2→1, rest 3
    for split in (s.train, s.val, s.test):
        counts = Counter(y for _, y in split)
        assert counts[0] == counts[1]
    texts = [{t for t, _ in split} for split in (s.train, s.val, s.test)]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    assert spam_splits(data=toy_pairs(), seed=1) == s
    assert spam_splits(data=toy_pairs(), seed=2).train != s.train
    small = spam_splits(data=toy_pairs(), seed=1, max_per_class=10)
    assert small.sizes() == {"train": 14, "val": 2, "test": 4}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"source": "email"}, r"unknown spam source 'email'; expected one of spam-assassin, sms"),
        ({"fractions": (0.8, 0.1, 0.2)}, r"fractions must add up to 1, got \(0.8, 0.1, 0.2\)"),
        ({"fractions": (0.9, 0.1)}, r"fractions must be three numbers"),
        ({"fractions": (1.0, 0.0, 0.0)}, r"fractions must be three numbers in \(0, 1\)"),
        ({"max_per_class": 2}, r"max_per_class must be an int >= 3, got 2"),
        ({"max_per_class": 3}, r"3 messages per class split by \(0.7, 0.1, 0.2\) leave a split"),
        ({"data": [("a", 0)] * 5 + [("b", 2)]}, r"data\[5\] has label 2, but the label must be"),
    ],
)
def test_spam_splits_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spam_splits(**{"data": toy_pairs(), **kwargs})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([("a", 0), ("b", True)], r"data\[1\] must be .* got tuple \('b', True\)"),
        ([("a", 0), (3, 1)], r"data\[1\] must be a \(text, label\) pair with a str"),
        ([("a", 0), ("b", 1.0)], r"data\[1\] must be .* an int label in 0..1, got tuple"),
        ("a text", r"data must be a list of \(text, label\) pairs, got str"),
    ],
)
def test_spam_splits_refuses_pairs_of_the_wrong_type(data, match):
    with pytest.raises(TypeError, match=match):
        spam_splits(data=data)


def test_spam_splits_needs_both_classes():
    with pytest.raises(ValueError, match=r"at least 3 messages of each class, got \[30, 0\]"):
        spam_splits(data=toy_pairs(n_spam=0))
