"""Numbers typed after a command (/req 17, /staff add admin 123456): ASCII digits only.

`str.isdigit()` is true for «²» and «٣» too, and `int()` then raises or accepts digits of other
scripts: a crash with no reply. One strict parse for every command."""

from __future__ import annotations

from services.accounts import Messenger, account_key

REQUEST_DIGITS = 9  # request and batch numbers: < 2**31, the columns' range
USER_ID_DIGITS = 15  # Telegram user ids: < 2**52; MAX's are shorter
_PREFIXES = {"max:": Messenger.MAX, "tg:": Messenger.TELEGRAM}


def ascii_number(text: str, max_digits: int = REQUEST_DIGITS) -> int | None:
    """The number in `text` (surrounding spaces and a leading «№» allowed), or None."""
    value = text.strip().removeprefix("№").strip()
    if not 0 < len(value) <= max_digits or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def user_id(text: str, messenger: Messenger = Messenger.TELEGRAM) -> int | None:
    """A person's account key: `max:123` or `tg:123` name the messenger; a bare number is an
    id on `messenger` (the one the command is typed on)."""
    value = text.strip()
    for prefix, named in _PREFIXES.items():
        if value.lower().startswith(prefix):
            value, messenger = value[len(prefix) :], named
            break
    number = ascii_number(value, USER_ID_DIGITS)
    return None if number is None else account_key(messenger, number)
