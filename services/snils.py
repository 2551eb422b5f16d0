"""SNILS (insurance number of an individual ledger account) parsing and checksum.

The check number: the first nine digits times weights 9..1, summed; a sum below 100 is the
check number itself, 100 and 101 give 00, above 101 the sum is taken mod 101 (a remainder of
100 again gives 00). Numbers up to 001-001-998 were issued before the check was introduced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_UNCHECKED_UP_TO = 1_001_998
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_.]+")
# A number pasted with its label: «СНИЛС: 112-233-445 95», «SNILS № 112…».
_LABEL = re.compile(r"^\s*(?:снилс|snils)\s*(?:№|n|#)?\s*[:=]?", re.IGNORECASE)


class SnilsError(Enum):
    EMPTY = "empty"
    NOT_DIGITS = "not_digits"
    WRONG_LENGTH = "wrong_length"
    ALL_ZEROS = "all_zeros"
    WRONG_CHECKSUM = "wrong_checksum"


@dataclass(frozen=True)
class SnilsResult:
    value: str | None  # canonical XXX-XXX-XXX YY when valid
    error: SnilsError | None = None
    digits_found: int = 0


def check_number(first_nine: str) -> int:
    total = sum(int(d) * w for d, w in zip(first_nine, range(9, 0, -1), strict=True))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    return total % 101 % 100


def format_snils(digits: str) -> str:
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


def parse_snils(raw: str) -> SnilsResult:
    compact = _SEPARATORS.sub("", _LABEL.sub("", raw or "", count=1))
    if not compact:
        return SnilsResult(None, SnilsError.EMPTY)
    if not compact.isascii() or not compact.isdigit():
        return SnilsResult(None, SnilsError.NOT_DIGITS)
    if len(compact) != 11:
        return SnilsResult(None, SnilsError.WRONG_LENGTH, digits_found=len(compact))
    if compact == "0" * 11:
        return SnilsResult(None, SnilsError.ALL_ZEROS)
    number, control = compact[:9], int(compact[9:])
    if int(number) > _UNCHECKED_UP_TO and check_number(number) != control:
        return SnilsResult(None, SnilsError.WRONG_CHECKSUM)
    return SnilsResult(format_snils(compact))


def mask_snils(snils: str) -> str:
    """`112-233-445 95` -> `***-***-445 95`: enough to recognise, not enough to misuse."""
    return "***-***-" + snils[-6:] if len(snils) == 14 else "***"
