"""Account keys: a Telegram id and a MAX id of the same number are two people, and every key
comes back to the messenger and id it was made from."""

from __future__ import annotations

import pytest

from services.accounts import (
    MAX_SHIFT,
    Messenger,
    account_key,
    account_of,
    format_account,
    messenger_of,
    native_id,
    parse_account,
)

SAMPLES = [1, 1001, 5_000_000_000, 2**52 - 1, -1001234567890, -(2**52) + 1]


@pytest.mark.parametrize("number", SAMPLES)
def test_same_number_on_both_messengers_is_two_keys(number: int) -> None:
    telegram = account_key(Messenger.TELEGRAM, number)
    max_key = account_key(Messenger.MAX, number)
    assert telegram != max_key
    assert messenger_of(telegram) is Messenger.TELEGRAM
    assert messenger_of(max_key) is Messenger.MAX
    assert native_id(telegram) == native_id(max_key) == number
    assert account_of(max_key).key == max_key


def test_telegram_keys_are_the_ids_themselves() -> None:
    # Existing rows are Telegram's: the migration leaves their numbers as they are.
    assert account_key(Messenger.TELEGRAM, 123456789) == 123456789


@pytest.mark.parametrize("bad", [MAX_SHIFT, -MAX_SHIFT])
def test_a_telegram_id_past_its_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError):
        account_key(Messenger.TELEGRAM, bad)


def test_a_max_id_of_zero_is_refused() -> None:
    with pytest.raises(ValueError):
        account_key(Messenger.MAX, 0)


@pytest.mark.parametrize(
    ("text", "messenger", "number"),
    [("42", Messenger.TELEGRAM, 42), ("max:42", Messenger.MAX, 42), (" MAX: 7 ", Messenger.MAX, 7)],
)
def test_settings_spelling(text: str, messenger: Messenger, number: int) -> None:
    key = parse_account(text)
    assert account_of(key).messenger is messenger and native_id(key) == number
    assert parse_account(format_account(key)) == key


@pytest.mark.parametrize("text", ["vk:1", "max:", "max:x", ""])
def test_bad_spelling_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_account(text)
