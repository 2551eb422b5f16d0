"""Numbers typed after a command (/req 17, /staff add admin 123456): ASCII digits only.

`str.isdigit()` is true for «²» and «٣» too, and `int()` then raises or accepts digits of other
scripts: a crash with no reply. One strict parse for every command."""

from __future__ import annotations

REQUEST_DIGITS = 9  # request and batch numbers: < 2**31, the columns' range
USER_ID_DIGITS = 15  # Telegram user ids: < 2**52


def ascii_number(text: str, max_digits: int = REQUEST_DIGITS) -> int | None:
    """The number in `text` (surrounding spaces and a leading «№» allowed), or None."""
    value = text.strip().removeprefix("№").strip()
    if not 0 < len(value) <= max_digits or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def user_id(text: str) -> int | None:
    return ascii_number(text, USER_ID_DIGITS)
