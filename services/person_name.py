"""ФИО validation and normalisation, as written in Госуслуги."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import Enum

MAX_LENGTH = 150
# Latin letters that look like Cyrillic ones; mixed into a Cyrillic word they are typos
# (a keyboard layout switched mid-word), not a foreign name.
_LOOKALIKES = str.maketrans(
    "AaBCcEeHKkMOoPpTXxYy",
    "АаВСсЕеНКкМОоРрТХхУу",
)
_DASHES = re.compile(r"[‐‑‒–—―−]")
_APOSTROPHES = re.compile(r"[`´ʼʹ‘’′]")
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")
_ALLOWED_PART = re.compile(r"^[А-ЯЁа-яё]+(?:['-][А-ЯЁа-яё]+)*$")
_LOWERCASE_PARTICLES = {"оглы", "кызы", "угли", "кизи"}


class NameError_(Enum):
    EMPTY = "empty"
    DIGITS = "digits"
    LATIN = "latin"
    BAD_CHARS = "bad_chars"
    TOO_FEW_PARTS = "too_few_parts"
    TOO_LONG = "too_long"
    INITIALS = "initials"  # «Иванова А.С.»: the name and patronymic are needed in full


@dataclass(frozen=True)
class NameResult:
    value: str | None
    error: NameError_ | None = None
    fixed_lookalikes: bool = False
    bad_chars: tuple[str, ...] = field(default_factory=tuple)


def _capitalise_piece(piece: str) -> str:
    """«д'арк» → «Д'арк», «Д'Арк» stays: after an apostrophe the letter keeps the case it
    was typed in (Госуслуги have both spellings), the rest of each piece is lower case."""
    head, *after = piece.split("'")
    pieces = [head[:1].upper() + head[1:].lower()]
    pieces += [p[:1] + p[1:].lower() if p[:1].isupper() else p.lower() for p in after]
    return "'".join(pieces)


def _capitalise(part: str) -> str:
    if part.lower() in _LOWERCASE_PARTICLES:
        return part.lower()
    # «Гейдар-оглы»: a particle joined by a hyphen stays lowercase too.
    return "-".join(
        p.lower() if i and p.lower() in _LOWERCASE_PARTICLES else _capitalise_piece(p)
        for i, p in enumerate(part.split("-"))
    )


# «Иванова А.С.», «Иванова А. С.», «И. Иванова»: a lone letter followed by a dot.
_INITIAL = re.compile(r"(?:^|[\s.])[А-ЯЁа-яёA-Za-z]\.")


def _fix_lookalikes(word: str) -> tuple[str, bool]:
    if _LATIN.search(word) and _CYRILLIC.search(word):
        fixed = word.translate(_LOOKALIKES)
        return fixed, fixed != word
    return word, False


def normalise_name(raw: str) -> NameResult:
    text = unicodedata.normalize("NFC", raw or "")
    text = _DASHES.sub("-", text)
    text = _APOSTROPHES.sub("'", text)
    text = re.sub(r"\s*-\s*", "-", text)
    parts = text.split()
    if not parts:
        return NameResult(None, NameError_.EMPTY)
    if any(ch.isdigit() for ch in text):
        return NameResult(None, NameError_.DIGITS)
    if _INITIAL.search(text):
        return NameResult(None, NameError_.INITIALS)
    fixed_any = False
    fixed_parts = []
    for part in parts:
        fixed, changed = _fix_lookalikes(part)
        fixed_any = fixed_any or changed
        fixed_parts.append(fixed)
    if any(_LATIN.search(p) for p in fixed_parts):
        return NameResult(None, NameError_.LATIN)
    bad = sorted({ch for p in fixed_parts for ch in p if not (_CYRILLIC.match(ch) or ch in "-'")})
    if bad or not all(_ALLOWED_PART.match(p) for p in fixed_parts):
        return NameResult(None, NameError_.BAD_CHARS, bad_chars=tuple(bad))
    if len(fixed_parts) < 2:
        return NameResult(None, NameError_.TOO_FEW_PARTS)
    value = " ".join(_capitalise(p) for p in fixed_parts)
    if len(value) > MAX_LENGTH:
        return NameResult(None, NameError_.TOO_LONG)
    return NameResult(value, fixed_lookalikes=fixed_any)
