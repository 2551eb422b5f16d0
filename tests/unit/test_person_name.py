"""ФИО normalisation and validation (DESIGN.md, «Domain facts», ФИО)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.person_name import MAX_LENGTH, NameError_, normalise_name


def ok(raw: str) -> str:
    result = normalise_name(raw)
    assert result.error is None, result
    assert result.value is not None
    return result.value


# --- normalisation -------------------------------------------------------------------------


def test_plain_name_is_kept() -> None:
    result = normalise_name("Иванова Мария Петровна")
    assert result.value == "Иванова Мария Петровна"
    assert result.error is None
    assert result.fixed_lookalikes is False
    assert result.bad_chars == ()


def test_nfc_composes_decomposed_short_i() -> None:
    decomposed = "Каи\u0306городов Андреи\u0306"  # «й» as «и» + combining breve
    assert len(decomposed) == len("Кайгородов Андрей") + 2
    value = ok(decomposed)
    assert value == "Кайгородов Андрей"
    assert value == unicodedata.normalize("NFC", value)
    assert "\u0306" not in value


def test_nfc_composes_decomposed_yo() -> None:
    value = ok("Се\u0308мин Пе\u0308тр")  # «ё» as «е» + combining diaeresis
    assert value == "Сёмин Пётр"
    assert "\u0308" not in value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Иванов Иван Иванович  ", "Иванов Иван Иванович"),
        ("Иванов    Иван     Иванович", "Иванов Иван Иванович"),
        ("Иванов\tИван\nИванович", "Иванов Иван Иванович"),
        ("Иванов\u00a0Иван", "Иванов Иван"),
    ],
)
def test_trims_and_collapses_spaces(raw: str, expected: str) -> None:
    assert ok(raw) == expected


@pytest.mark.parametrize("dash", ["-", "–", "—", "‐", "‑", "−"])
def test_dashes_become_hyphen(dash: str) -> None:
    assert ok(f"Салтыков{dash}Щедрин Михаил Евграфович") == "Салтыков-Щедрин Михаил Евграфович"


@pytest.mark.parametrize("raw", ["Салтыков - Щедрин Михаил", "Салтыков – Щедрин Михаил"])
def test_spaces_around_a_dash_are_dropped(raw: str) -> None:
    assert ok(raw) == "Салтыков-Щедрин Михаил"


@pytest.mark.parametrize("apostrophe", ["'", "’", "`", "‘", "ʼ"])
def test_apostrophes_unified(apostrophe: str) -> None:
    value = ok(f"Д{apostrophe}Артаньян Шарль")
    assert value.startswith("Д'")
    assert value.split()[1] == "Шарль"
    assert value.count("'") == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("иванов иван иванович", "Иванов Иван Иванович"),
        ("ИВАНОВ ИВАН ИВАНОВИЧ", "Иванов Иван Иванович"),
        ("иВАНОВ иВАН", "Иванов Иван"),
        ("салтыков-щедрин михаил", "Салтыков-Щедрин Михаил"),
        ("РИМСКИЙ-КОРСАКОВ НИКОЛАЙ АНДРЕЕВИЧ", "Римский-Корсаков Николай Андреевич"),
        ("петрова-водкина-сидорова анна", "Петрова-Водкина-Сидорова Анна"),
        ("ким ен сун", "Ким Ен Сун"),
    ],
)
def test_capitalises_each_part(raw: str, expected: str) -> None:
    assert ok(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("мамедов ахмед оглы", "Мамедов Ахмед оглы"),
        ("МАМЕДОВ АХМЕД ОГЛЫ", "Мамедов Ахмед оглы"),
        ("Алиева Лейла Кызы", "Алиева Лейла кызы"),
        ("Алиев  Гейдар   Али   оглы", "Алиев Гейдар Али оглы"),
        # the hyphenated spelling keeps the particle lowercase too
        ("ахмедов гейдар-оглы", "Ахмедов Гейдар-оглы"),
        ("Алиева Лейла-КЫЗЫ", "Алиева Лейла-кызы"),
    ],
)
def test_ogly_kyzy_stay_lowercase(raw: str, expected: str) -> None:
    assert ok(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ёлкин Пётр Семёнович", "Ёлкин Пётр Семёнович"),
        ("ёлкин пётр", "Ёлкин Пётр"),
        ("ЁЛКИН ФЁДОР", "Ёлкин Фёдор"),
    ],
)
def test_yo_is_kept(raw: str, expected: str) -> None:
    value = ok(raw)
    assert value == expected
    assert "ё" in value.lower()


def test_patronymic_is_optional() -> None:
    assert ok("Смит Джон") == "Смит Джон"


def test_more_than_three_parts_are_allowed() -> None:
    assert ok("Алиев Гейдар Али оглы") == "Алиев Гейдар Али оглы"


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\n\t"])
def test_empty(raw: str) -> None:
    result = normalise_name(raw)
    assert result.value is None
    assert result.error is NameError_.EMPTY


@pytest.mark.parametrize("raw", ["Иванов", "  иванов  ", "Салтыков-Щедрин"])
def test_one_word_refused(raw: str) -> None:
    result = normalise_name(raw)
    assert result.value is None
    assert result.error is NameError_.TOO_FEW_PARTS


@pytest.mark.parametrize("raw", ["Иванов Иван 2", "Иван0в Иван", "Иванов Иван Иванович1", "12345"])
def test_digits_refused(raw: str) -> None:
    result = normalise_name(raw)
    assert result.value is None
    assert result.error is NameError_.DIGITS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Иванoв Иван", "Иванов Иван"),  # Latin o
        ("Ивaнов Ивaн Ивaнович", "Иванов Иван Иванович"),  # Latin a
        ("Иванов Cергей", "Иванов Сергей"),  # Latin C at the start
        ("Петров Oлег", "Петров Олег"),  # Latin O
        ("Kузнецова Eлена", "Кузнецова Елена"),  # Latin K and E
        ("Сидоров Пётр Андрeeвич", "Сидоров Пётр Андреевич"),  # Latin e
        ("ТEРEХOВ ИВАН", "Терехов Иван"),  # Latin E and O in capitals
        ("Салтыков-Щeдрин Михаил", "Салтыков-Щедрин Михаил"),  # inside a hyphenated surname
        ("Мамедов Ахмед oглы", "Мамедов Ахмед оглы"),
    ],
)
def test_latin_lookalikes_inside_cyrillic_words_are_fixed(raw: str, expected: str) -> None:
    result = normalise_name(raw)
    assert result.error is None
    assert result.value == expected
    assert result.fixed_lookalikes is True
    assert not any("a" <= ch.lower() <= "z" for ch in result.value)


def test_clean_cyrillic_is_not_flagged() -> None:
    assert normalise_name("иванов иван").fixed_lookalikes is False


@pytest.mark.parametrize(
    "raw", ["Ivanov Ivan", "Ivanov Ivan Ivanovich", "Иванов Ivan", "Ивaнов Ivan", "Petrov Пётр"]
)
def test_latin_names_refused(raw: str) -> None:
    result = normalise_name(raw)
    assert result.value is None
    assert result.error is NameError_.LATIN


def test_latin_non_lookalike_inside_cyrillic_word_refused() -> None:
    # «n» has no Cyrillic twin: this is a Latin letter, not a typo we can fix.
    result = normalise_name("Ивaнов Иваn")
    assert result.value is None
    assert result.error is NameError_.LATIN


@pytest.mark.parametrize("raw", ["Иванов И.И.", "Иванова А. С.", "Иванова Анна С.", "И. Иванова"])
def test_initials_ask_for_the_name_in_full(raw: str) -> None:
    result = normalise_name(raw)
    assert result.value is None and result.error is NameError_.INITIALS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Д'Арк-Иванова Жанна", "Д'Арк-Иванова Жанна"),  # as in Госуслуги, not «Д'арк»
        ("д'арк жанна", "Д'арк Жанна"),
        ("О'КОННОР ШОН", "О'Коннор Шон"),
    ],
)
def test_the_letter_after_an_apostrophe_keeps_its_case(raw: str, expected: str) -> None:
    assert normalise_name(raw).value == expected


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        ("Иванов Иван!", ("!",)),
        ("Иванов, Иван", (",",)),
        ("Иванов_Иван Петрович", ("_",)),
        ("Иванов (Петров) Иван", ("(", ")")),
        ("Иванов Иван 🙂", ("🙂",)),
        ("Иванов Иван\u200b", ("\u200b",)),
        ("Иванов Иван @ #", ("#", "@")),
        ("Иванов Ивӑн", ("ӑ",)),  # Chuvash letter, not in Госуслуги's Russian alphabet
        ("Иванов Іван", ("І",)),  # Ukrainian І
    ],
)
def test_other_symbols_refused_and_listed(raw: str, bad: tuple[str, ...]) -> None:
    result = normalise_name(raw)
    assert result.value is None
    assert result.error is NameError_.BAD_CHARS
    assert result.bad_chars == bad


@pytest.mark.parametrize(
    "raw", ["Иванов Иван-", "-Иванов Иван", "Иванов--Петров Иван", "Иван'' Петров"]
)
def test_stray_hyphens_and_apostrophes_refused(raw: str) -> None:
    result = normalise_name(raw)
    assert result.value is None
    assert result.error is NameError_.BAD_CHARS


def test_too_long_refused() -> None:
    word = "а" * 70
    assert len(f"{word} {word}") == 141
    assert normalise_name(f"{word} {word}").error is None
    long_name = f"{word} {word} {'б' * 20}"
    assert len(long_name) > MAX_LENGTH
    result = normalise_name(long_name)
    assert result.value is None
    assert result.error is NameError_.TOO_LONG


def test_max_length_boundary() -> None:
    first = "а" * 74
    second = "б" * (MAX_LENGTH - 75)
    assert len(f"{first} {second}") == MAX_LENGTH
    assert normalise_name(f"{first} {second}").error is None
    assert normalise_name(f"{first} {second}б").error is NameError_.TOO_LONG


def test_length_is_measured_after_collapsing_spaces() -> None:
    raw = "Иванов" + " " * 300 + "Иван"
    assert ok(raw) == "Иванов Иван"


# --- properties ----------------------------------------------------------------------------

cyrillic_word = st.text(
    alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
    min_size=1,
    max_size=15,
)
name_parts = st.lists(cyrillic_word, min_size=2, max_size=4)


@given(name_parts)
def test_normalisation_is_idempotent(parts: list[str]) -> None:
    first = normalise_name("  ".join(parts))
    assert first.error is None
    assert first.value is not None
    second = normalise_name(first.value)
    assert second.value == first.value
    assert second.fixed_lookalikes is False


@given(name_parts)
def test_every_part_starts_upper_rest_lower(parts: list[str]) -> None:
    value = ok(" ".join(parts))
    for word, original in zip(value.split(" "), parts, strict=True):
        if original.lower() in {"оглы", "кызы", "угли", "кизи"}:
            assert word == original.lower()
        else:
            assert word == original[0].upper() + original[1:].lower()
