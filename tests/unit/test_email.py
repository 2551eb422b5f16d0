"""E-mail normalisation: syntax only, no network (DESIGN.md: the address is the ВИМИС login)."""

from __future__ import annotations

import pytest

from services.email import MAX_LENGTH, NOT_LATIN, normalise_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ivanova@example.ru", "ivanova@example.ru"),
        ("Ivan.Petrov@Example.RU", "Ivan.Petrov@example.ru"),
        ("MARIA@MAIL.RU", "MARIA@mail.ru"),
        ("  ivanova@example.ru  ", "ivanova@example.ru"),
        ("\tivanova@example.ru\n", "ivanova@example.ru"),
        ("user+vimis@gmail.com", "user+vimis@gmail.com"),
        ("first_last-1@sub.domain.example.org", "first_last-1@sub.domain.example.org"),
        ("oncology@okod.kostroma.ru", "oncology@okod.kostroma.ru"),
        ("a@b.co", "a@b.co"),
    ],
)
def test_valid_addresses(raw: str, expected: str) -> None:
    result = normalise_email(raw)
    assert result.error is None
    assert result.value == expected


def test_domain_lower_cased_local_part_kept() -> None:
    value = normalise_email("Ivanova.MARIA@OncoCenter.Kostroma.RU").value
    assert value == "Ivanova.MARIA@oncocenter.kostroma.ru"
    local, domain = value.split("@")
    assert local == "Ivanova.MARIA"
    assert domain == domain.lower()


@pytest.mark.parametrize(
    ("raw", "positions"),
    [
        ("ivan@ПОЧТА.РФ", (5, 6, 7, 8, 9, 11, 12)),  # an IDN domain
        ("ivan@почта.рф", (5, 6, 7, 8, 9, 11, 12)),
        ("ivan@exаmple.ru", (7,)),  # a Cyrillic «а» among Latin letters
        ("иван@example.ru", (0, 1, 2, 3)),
        ("ivan＠example.ru", (4,)),  # a full-width at sign
    ],
)
def test_non_latin_addresses_are_refused_and_the_letters_found(
    raw: str, positions: tuple[int, ...]
) -> None:
    # One address, one person: a look-alike or a second spelling of a domain would defeat it.
    result = normalise_email(raw)
    assert result.value is None
    assert result.error == NOT_LATIN
    assert result.not_latin == positions


def test_punycode_domain_is_refused_too() -> None:
    # the same domain as «почта.рф», spelt in ASCII: refused alike, so there is one spelling
    result = normalise_email("ivan@xn--80a1acny.xn--p1ai")
    assert result.value is None and result.error == NOT_LATIN


def test_no_network_look_up() -> None:
    result = normalise_email("x@nonexistent-domain-zzz.ru")
    assert result.error is None
    assert result.value == "x@nonexistent-domain-zzz.ru"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ivanova",
        "ivanova.example.ru",
        "ivanova@",
        "@example.ru",
        "ivan ova@example.ru",
        "ivanova@exa mple.ru",
        "ivanova @example.ru",
        '"ivan ova"@example.ru',
        "ivan..ova@example.ru",
        "ivanova@example..ru",
        ".ivanova@example.ru",
        "ivanova.@example.ru",
        "ivanova@example.ru.",
        "ivanova@@example.ru",
        "ivan@ova@example.ru",
        "ivanova@localhost",
        "ivanova@example",
        "ivanova@[127.0.0.1]",
        "ivanova@-example.ru",
        "ivanova@example.ru, petrov@example.ru",
        "иванова@example.ru",  # non-ASCII local part: not accepted as a login
        "<ivanova@example.ru>",
    ],
)
def test_invalid_addresses_refused(raw: str) -> None:
    result = normalise_email(raw)
    assert result.value is None
    assert result.error


def test_overlong_local_part_refused() -> None:
    assert normalise_email("a" * 64 + "@example.ru").value == "a" * 64 + "@example.ru"
    result = normalise_email("a" * 65 + "@example.ru")
    assert result.value is None
    assert result.error


def test_overlong_address_refused() -> None:
    local = "a" * 64
    longest = f"{local}@{'b' * 63}.{'c' * 63}.{'d' * 58}.ru"
    assert len(longest) == MAX_LENGTH
    assert normalise_email(longest).value == longest
    raw = f"{local}@{'b' * 63}.{'c' * 63}.{'d' * 59}.ru"
    assert len(raw) == MAX_LENGTH + 1
    result = normalise_email(raw)
    assert result.value is None
    assert result.error


def test_very_long_input_refused_quickly() -> None:
    result = normalise_email("a" * 10_000 + "@example.ru")
    assert result.value is None
    assert result.error == "syntax"
