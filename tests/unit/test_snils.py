"""SNILS parsing, check number, formatting and masking (DESIGN.md, «Domain facts»)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.snils import SnilsError, check_number, format_snils, mask_snils, parse_snils

# The last number issued before the check number was introduced.
LAST_UNCHECKED = 1_001_998
LAST_NUMBER = 999_999_999


def reference_control(first_nine: str) -> int:
    """The DESIGN.md rule, written independently of services.snils."""
    assert len(first_nine) == 9
    total = 0
    for position, char in enumerate(first_nine):
        total += int(char) * (9 - position)
    if total < 100:
        return total
    if total == 100 or total == 101:
        return 0
    remainder = total - (total // 101) * 101
    if remainder == 100:
        return 0
    return remainder


# --- DESIGN.md vectors ---------------------------------------------------------------------

VALID = [
    "112-233-445 95",
    "006-012-788 00",  # sum 100
    "212-213-638 00",  # sum 101
    "033-868-983 00",  # sum 201, mod 101 = 100
    "431-052-771 35",  # sum 136, mod 101 = 35
]
INVALID = ["112-233-445 96", "001-001-999 00", "431-502-771 35"]


@pytest.mark.parametrize("snils", VALID)
def test_design_valid_vectors(snils: str) -> None:
    result = parse_snils(snils)
    assert result.error is None
    assert result.value == snils


@pytest.mark.parametrize("snils", INVALID)
def test_design_invalid_vectors(snils: str) -> None:
    result = parse_snils(snils)
    assert result.value is None
    assert result.error is SnilsError.WRONG_CHECKSUM


@pytest.mark.parametrize(
    ("first_nine", "expected"),
    [
        ("112233445", 95),
        ("006012788", 0),  # sum exactly 100
        ("212213638", 0),  # sum exactly 101
        ("033868983", 0),  # sum 201, remainder 100
        ("431052771", 35),  # sum 136
        ("431502771", 40),  # sum 141
        ("001001999", 65),  # sum 65, the first checked number
        ("000000001", 1),
        ("000000099", 27),  # 9*2 + 9*1
        ("920000005", 1),  # sum 102 -> 102 mod 101
        ("999999999", 1),  # the largest sum, 405 = 4*101 + 1
    ],
)
def test_check_number_values(first_nine: str, expected: int) -> None:
    assert check_number(first_nine) == expected
    assert reference_control(first_nine) == expected


def test_sum_just_above_101_is_taken_mod_101() -> None:
    # 9*9 + 2*8 + 5*1 = 102 -> 1
    assert parse_snils("920-000-005 01").value == "920-000-005 01"
    assert parse_snils("920-000-005 02").error is SnilsError.WRONG_CHECKSUM


def test_design_invalid_first_checked_number_has_its_own_control() -> None:
    # 001-001-999 is the first checked number: 00 is wrong, 65 is right.
    assert parse_snils("001-001-999 65").value == "001-001-999 65"
    assert parse_snils("001-001-999 64").error is SnilsError.WRONG_CHECKSUM


# --- input forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "11223344595",
        "112-233-445 95",
        "112-233-445-95",
        "112 233 445 95",
        "112233445 95",
        "112-233-44595",
        "112–233–445 95",  # en-dash
        "112—233—445 95",  # em-dash
        "112‐233‐445 95",  # Unicode hyphen
        "  112-233-445 95  ",
        "\t112-233-445 95\n",
        "112 - 233 - 445  95",
        "112\u00a0233\u00a0445\u00a095",  # no-break spaces, as copied from documents
    ],
)
def test_accepts_common_ways_of_typing(raw: str) -> None:
    result = parse_snils(raw)
    assert result.error is None
    assert result.value == "112-233-445 95"


@pytest.mark.parametrize("raw", ["", "   ", "-- -", "\n"])
def test_empty(raw: str) -> None:
    result = parse_snils(raw)
    assert result.value is None
    assert result.error is SnilsError.EMPTY


@pytest.mark.parametrize(
    "raw",
    [
        "112-233-445 9a",
        "112-233-445 9О",  # Cyrillic О instead of zero
        "abc",
        "112/233/445 95",
        "+11223344595",
        "１１２２３３４４５９５",  # full-width digits
        "١١٢٢٣٣٤٤٥٩٥",  # Arabic-Indic digits
    ],
)
def test_letters_and_symbols_are_not_digits(raw: str) -> None:
    result = parse_snils(raw)
    assert result.value is None
    assert result.error is SnilsError.NOT_DIGITS


@pytest.mark.parametrize(
    "raw",
    [
        "СНИЛС 112-233-445 95",
        "СНИЛС: 112-233-445 95",
        "снилс №11223344595",
        "SNILS: 112 233 445 95",
    ],
)
def test_a_number_pasted_with_its_label_is_read(raw: str) -> None:
    assert parse_snils(raw).value == "112-233-445 95"


@pytest.mark.parametrize("raw", ["СНИЛС 112-233-445", "СНИЛС: нет", "номер СНИЛС 11223344595"])
def test_the_label_alone_does_not_make_a_number(raw: str) -> None:
    assert parse_snils(raw).value is None


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("1", 1),
        ("112-233-445", 9),
        ("112-233-445 9", 10),
        ("112-233-445 955", 12),
        ("112 233 445 95 1", 12),
        ("1122334459511223344595", 22),
    ],
)
def test_wrong_length_reports_digits_found(raw: str, digits: int) -> None:
    result = parse_snils(raw)
    assert result.value is None
    assert result.error is SnilsError.WRONG_LENGTH
    assert result.digits_found == digits


def test_all_zeros_refused() -> None:
    for raw in ("000-000-000 00", "00000000000"):
        result = parse_snils(raw)
        assert result.value is None
        assert result.error is SnilsError.ALL_ZEROS


@pytest.mark.parametrize("control", ["00", "01", "42", "95", "99"])
@pytest.mark.parametrize("number", ["001-001-998", "001-001-001", "000-000-001", "000-123-456"])
def test_unchecked_numbers_accept_any_control(number: str, control: str) -> None:
    snils = f"{number} {control}"
    result = parse_snils(snils)
    assert result.error is None
    assert result.value == snils


# --- properties ----------------------------------------------------------------------------

checked_numbers = st.integers(min_value=LAST_UNCHECKED + 1, max_value=LAST_NUMBER)
unchecked_numbers = st.integers(min_value=1, max_value=LAST_UNCHECKED)


@given(checked_numbers)
@example(LAST_UNCHECKED + 1)  # 001-001-999
@example(6_012_788)  # sum 100
@example(212_213_638)  # sum 101
@example(33_868_983)  # remainder 100
@example(LAST_NUMBER)
def test_exactly_one_control_is_accepted(number: int) -> None:
    nine = f"{number:09d}"
    accepted = [c for c in range(100) if parse_snils(f"{nine}{c:02d}").error is None]
    assert accepted == [reference_control(nine)]
    assert check_number(nine) == reference_control(nine)


@given(checked_numbers, st.integers(min_value=0, max_value=99))
def test_wrong_controls_say_wrong_checksum(number: int, control: int) -> None:
    nine = f"{number:09d}"
    result = parse_snils(f"{nine}{control:02d}")
    if control == reference_control(nine):
        assert result.error is None
    else:
        assert result.error is SnilsError.WRONG_CHECKSUM
        assert result.value is None


@given(unchecked_numbers, st.integers(min_value=0, max_value=99))
def test_unchecked_range_accepts_everything(number: int, control: int) -> None:
    digits = f"{number:09d}{control:02d}"
    assert parse_snils(digits).value == format_snils(digits)


@given(checked_numbers)
def test_format_round_trips(number: int) -> None:
    nine = f"{number:09d}"
    digits = f"{nine}{reference_control(nine):02d}"
    formatted = format_snils(digits)
    assert len(formatted) == 14
    assert formatted.replace("-", "").replace(" ", "") == digits
    assert formatted[3] == formatted[7] == "-" and formatted[11] == " "
    assert parse_snils(digits).value == formatted
    assert parse_snils(formatted).value == formatted
    assert parse_snils(formatted.replace("-", " ")).value == formatted


@given(checked_numbers)
def test_mask_shows_only_last_six(number: int) -> None:
    nine = f"{number:09d}"
    formatted = format_snils(f"{nine}{reference_control(nine):02d}")
    masked = mask_snils(formatted)
    assert masked == "***-***-" + formatted[-6:]
    assert sum(ch.isdigit() for ch in masked) == 5
    assert formatted[:7] not in masked


# --- formatting and masking ----------------------------------------------------------------


def test_format_snils() -> None:
    assert format_snils("11223344595") == "112-233-445 95"
    assert format_snils("00601278800") == "006-012-788 00"


def test_mask_snils() -> None:
    assert mask_snils("112-233-445 95") == "***-***-445 95"
    assert mask_snils("006-012-788 00") == "***-***-788 00"


@pytest.mark.parametrize("bad", ["", "112", "11223344595", "112-233-445 955"])
def test_mask_of_something_else_reveals_nothing(bad: str) -> None:
    assert mask_snils(bad) == "***"
