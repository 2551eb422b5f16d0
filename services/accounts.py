"""A person is their messenger and their id there.

Telegram and MAX both number their users and chats with plain integers, and the numbers
overlap: Telegram's user 1001 and MAX's user 1001 are two people. Every table, FSM key,
Redis key, outbox row, invite and audit record keeps one integer, the *account key*, which
carries both: a Telegram id is its own key (Telegram's ids stay below 2**52, groups above
-2**52), a MAX id is moved past 2**53 (users and dialogs up, groups down). Existing data
are Telegram's and keep their keys unchanged. Nobody is merged across messengers: nothing
proves two accounts are one person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Telegram's user ids need up to 52 significant bits (Bot API: "at most 52 significant
# bits"), supergroups are -100xxxxxxxxxx: everything Telegram gives fits inside ±2**52.
MAX_SHIFT = 2**53
# BigInteger's range and aiogram's callback data both hold numbers far past this.
_MAX_LIMIT = 2**62


class Messenger(StrEnum):
    TELEGRAM = "telegram"
    MAX = "max"


@dataclass(frozen=True, slots=True)
class Account:
    messenger: Messenger
    native_id: int

    @property
    def key(self) -> int:
        return account_key(self.messenger, self.native_id)


def account_key(messenger: Messenger, native_id: int) -> int:
    """The one integer stored for (messenger, id)."""
    if messenger is Messenger.TELEGRAM:
        if not -MAX_SHIFT < native_id < MAX_SHIFT:
            raise ValueError("a Telegram id outside Telegram's range")
        return native_id
    if not -(_MAX_LIMIT - MAX_SHIFT) < native_id < _MAX_LIMIT - MAX_SHIFT or native_id == 0:
        raise ValueError("a MAX id outside the range an account key can carry")
    return native_id + MAX_SHIFT if native_id > 0 else native_id - MAX_SHIFT


def messenger_of(key: int) -> Messenger:
    return Messenger.MAX if key >= MAX_SHIFT or key <= -MAX_SHIFT else Messenger.TELEGRAM


def native_id(key: int) -> int:
    """The id the key's own messenger knows."""
    if key >= MAX_SHIFT:
        return key - MAX_SHIFT
    if key <= -MAX_SHIFT:
        return key + MAX_SHIFT
    return key


def account_of(key: int) -> Account:
    return Account(messenger_of(key), native_id(key))


def is_max(key: int) -> bool:
    return messenger_of(key) is Messenger.MAX


def parse_account(text: str) -> int:
    """A key from a setting: ``123`` is a Telegram id, ``max:123`` a MAX one."""
    text = text.strip()
    prefix, sep, rest = text.partition(":")
    if sep:
        if prefix.strip().lower() != Messenger.MAX.value:
            raise ValueError(f"unknown messenger prefix {prefix!r}: only max: is known")
        return account_key(Messenger.MAX, int(rest.strip()))
    return account_key(Messenger.TELEGRAM, int(text))


def format_account(key: int) -> str:
    """The setting's spelling of a key (the inverse of ``parse_account``)."""
    account = account_of(key)
    if account.messenger is Messenger.MAX:
        return f"max:{account.native_id}"
    return str(account.native_id)
