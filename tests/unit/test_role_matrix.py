"""The role matrix of order No 922 (appendix), loaded from role_matrix.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.role_matrix import RoleMatrix, RoleMatrixError, load_role_matrix, parse_role_matrix

ROOT = Path(__file__).resolve().parents[2]
# A copy of the order kept in the repository, so the check runs wherever the tests do.
ORDER = ROOT / "docs" / "order-922-vimis-onko-access.txt"

K5 = "Куратор 5 уровня"
METHODOLOGIST = "Методолог РФ"
COORDINATOR = "Координатор РГ выездных мероприятий НМИЦ"
WG_STAFF = "Сотрудник РГ выездных мероприятий НМИЦ"
K4 = "Куратор 4 уровня"
K3 = "Куратор 3 уровня"
K2 = "Куратор 2 уровня"
K1 = "Куратор 1 уровня"

FEDERAL = "Федеральный уровень"
# Role, access level: in the order's order.
ROLES = [
    (K5, FEDERAL),
    (METHODOLOGIST, FEDERAL),
    (COORDINATOR, FEDERAL),
    (WG_STAFF, FEDERAL),
    (K4, FEDERAL),
    (K3, "Субъект РФ"),
    (K2, "Муниципальное образование РФ"),
    (K1, "Медицинская организация РФ"),
]

AUTHORISED_BY_MINISTRY = (
    "Лицо, уполномоченное МИНЗДРАВА РОССИИ (в т.ч. Представитель Канцер регистра, "
    "Представитель некоммерческой профессиональной ассоциации, Сотрудник ЦЭККМП МИНЗДРАВА "
    'РОССИИ, КЦ МИНЗДРАВА РОССИИ "ФП БОЗ")'
)
NMIC_STAFF = "Сотрудник НМИЦ (в т.ч. уполномоченный ГВСО МИНЗДРАВА РОССИИ)"
REGIONAL_DEPT_STAFF = (
    "Сотрудник профильного департамента МЗ субъекта РФ / "
    "Сотрудник профильного отдела Департамента Здравоохранения региона"
)
ONCO_DISPENSARY_HEAD = "Руководитель / заместитель руководителя онкологического диспансера"
CHIEF_DOCTOR = "Главный врач / заместитель глав.врача ЦРБ (МО) муниципального образования"
OMO_STAFF = "Сотрудник организационно-методического отдела ОД/ЦРБ/МО"

# Every position printed in the order -> the roles the order lists it under, written by hand.
EXPECTED: dict[str, tuple[str, ...]] = {
    "Министр здравоохранения РФ": (K5,),
    "Заместитель Министра здравоохранения РФ": (K5,),
    "Сотрудник профильного департамента МИНЗДРАВА РОССИИ": (K5, METHODOLOGIST),
    AUTHORISED_BY_MINISTRY: (K5, METHODOLOGIST),
    "Главный внештатный специалист-онколог МИНЗДРАВА РОССИИ": (K5,),
    NMIC_STAFF: (K5, METHODOLOGIST, K4),
    REGIONAL_DEPT_STAFF: (METHODOLOGIST, K2),
    (
        "Сотрудник организационно-методического отдела онкологического диспансера / "
        "Сотрудник регионального сегмента государственного ракового регистра"
    ): (METHODOLOGIST,),
    "Руководитель рабочей группы КЦ НМИЦ по работе с субъектами РФ": (COORDINATOR,),
    "Сотрудник рабочей группы КЦ НМИЦ по работе с субъектами РФ": (WG_STAFF,),
    "Главный внештатный специалист-онколог ФО (ГВСО ФО)": (K4,),
    "Сотрудник, уполномоченный ГВСО ФО": (K4,),
    "Руководитель НМИЦ": (K4,),
    (
        "Министр здравоохранения субъекта РФ / "
        "Директор или начальник Департамента Здравоохранения региона"
    ): (K3,),
    (
        "Заместитель Министра здравоохранения субъекта РФ / "
        "Заместитель начальника или директора Департамента Здравоохранения региона"
    ): (K3,),
    "Сотрудник ОИВ в сфере охраны здоровья": (K3,),
    "Вице-губернатор по социальной политике субъекта РФ": (K3,),
    "Главный внештатный онколог субъекта РФ": (K3,),
    ONCO_DISPENSARY_HEAD: (K3, K2, K1),
    CHIEF_DOCTOR: (K2, K1),
    OMO_STAFF: (K1,),
}


@pytest.fixture(scope="module")
def matrix() -> RoleMatrix:
    return load_role_matrix(ROOT / "role_matrix.yaml")


def test_expected_mapping_is_printed_in_the_order() -> None:
    # Guards the hand-written mapping against typos: every position is in the order verbatim.
    order = ORDER.read_text(encoding="utf-8")
    table = order[order.index("Матрица должностей и ролей") :]
    assert len(EXPECTED) == 21
    for position in EXPECTED:
        assert position in table, position


def test_eight_roles_with_names_and_levels(matrix: RoleMatrix) -> None:
    assert [(r.name, r.level) for r in matrix.roles] == ROLES


def test_role_lookup_by_name(matrix: RoleMatrix) -> None:
    role = matrix.role(K3)
    assert role is not None
    assert role.level == "Субъект РФ"
    assert matrix.role("Куратор 6 уровня") is None


@pytest.mark.parametrize("position", list(EXPECTED))
def test_roles_for_each_position(matrix: RoleMatrix, position: str) -> None:
    assert tuple(r.name for r in matrix.roles_for(position)) == EXPECTED[position]


def test_examples_from_design(matrix: RoleMatrix) -> None:
    assert [r.name for r in matrix.roles_for(ONCO_DISPENSARY_HEAD)] == [K3, K2, K1]
    assert [(r.name, r.level) for r in matrix.roles_for(NMIC_STAFF)] == [
        (K5, FEDERAL),
        (METHODOLOGIST, FEDERAL),
        (K4, FEDERAL),
    ]


def test_positions_are_exactly_the_orders(matrix: RoleMatrix) -> None:
    assert set(matrix.positions) == set(EXPECTED)
    assert len(matrix.positions) == len(set(matrix.positions)) == 21
    for position in matrix.positions:
        assert matrix.position_index(position) == matrix.positions.index(position)


def test_positions_listed_from_medical_organisation_up(matrix: RoleMatrix) -> None:
    # The first positions offered are the ones of Куратор 1 уровня.
    assert matrix.positions[:3] == (OMO_STAFF, ONCO_DISPENSARY_HEAD, CHIEF_DOCTOR)
    assert matrix.positions[-1] == "Главный внештатный специалист-онколог МИНЗДРАВА РОССИИ"


def test_each_role_holds_the_orders_positions(matrix: RoleMatrix) -> None:
    for role in matrix.roles:
        expected = [p for p, roles in EXPECTED.items() if role.name in roles]
        assert sorted(role.positions) == sorted(expected), role.name
        assert len(role.positions) == len(set(role.positions)), role.name


def test_duplicated_position_under_k1_appears_once(matrix: RoleMatrix) -> None:
    raw = (ROOT / "role_matrix.yaml").read_text(encoding="utf-8")
    assert raw.count(f"- {OMO_STAFF}\n") == 2  # kept as printed in the order
    k1 = matrix.role(K1)
    assert k1 is not None
    assert k1.positions == (OMO_STAFF, ONCO_DISPENSARY_HEAD, CHIEF_DOCTOR)
    assert matrix.positions.count(OMO_STAFF) == 1


def test_unknown_position_has_no_roles(matrix: RoleMatrix) -> None:
    assert matrix.roles_for("Врач-онколог") == ()
    assert matrix.roles_for("") == ()
    assert matrix.position_index("Врач-онколог") is None


# --- parse errors --------------------------------------------------------------------------


def minimal(extra_role: str = "", positions: str = "      - Главный врач\n") -> str:
    return (
        "roles:\n"
        "  - name: Куратор 1 уровня\n"
        "    level: Медицинская организация РФ\n"
        "    positions:\n" + positions + extra_role
    )


def test_minimal_matrix_parses() -> None:
    matrix = parse_role_matrix(minimal())
    assert matrix.positions == ("Главный врач",)
    assert matrix.roles[0].name == "Куратор 1 уровня"


def test_whitespace_in_names_and_positions_is_normalised() -> None:
    text = (
        "roles:\n"
        "  - name: '  Куратор   1 уровня '\n"
        "    level: Медицинская  организация РФ\n"
        "    positions: ['  Главный   врач ', 'Главный врач']\n"
    )
    matrix = parse_role_matrix(text)
    assert matrix.roles[0].name == "Куратор 1 уровня"
    assert matrix.roles[0].level == "Медицинская организация РФ"
    assert matrix.roles[0].positions == ("Главный врач",)


def error_of(text: str, source: str = "matrix.yaml") -> str:
    with pytest.raises(RoleMatrixError) as info:
        parse_role_matrix(text, source=source)
    message = str(info.value)
    assert message.startswith(f"{source}:")
    return message


def test_invalid_yaml() -> None:
    message = error_of("roles: [\n  - name: x\n")
    assert "not valid YAML" in message


def test_missing_roles() -> None:
    message = error_of("role:\n  - name: x\n")
    assert "roles" in message
    assert "Field required" in message


def test_empty_file() -> None:
    message = error_of("")
    assert "file" in message


def test_empty_roles_list() -> None:
    message = error_of("roles: []\n")
    assert "roles" in message
    assert "at least 1" in message


def test_role_with_positions_left_empty() -> None:
    message = error_of(minimal(positions=""))  # «positions:» with nothing under it
    assert "roles.0.positions" in message


def test_role_with_empty_positions_list() -> None:
    text = "roles:\n  - name: A\n    level: B\n    positions: []\n"
    message = error_of(text)
    assert "roles.0.positions" in message
    assert "at least 1" in message


def test_role_with_positions_key_missing() -> None:
    text = "roles:\n  - name: A\n    level: B\n"
    message = error_of(text)
    assert "roles.0.positions" in message
    assert "Field required" in message


@pytest.mark.parametrize("blank", ["''", "'   '"])
def test_empty_position(blank: str) -> None:
    message = error_of(minimal(positions=f"      - Главный врач\n      - {blank}\n"))
    assert "roles.0.positions" in message
    assert "blank" in message


def test_null_position() -> None:
    message = error_of(minimal(positions="      - Главный врач\n      -\n"))
    assert "roles.0.positions.1" in message


def test_blank_role_name() -> None:
    text = "roles:\n  - name: '  '\n    level: B\n    positions: [C]\n"
    message = error_of(text)
    assert "roles.0.name" in message


def test_missing_level_names_the_role_index() -> None:
    second = "  - name: Куратор 2 уровня\n    positions: [Главный врач]\n"
    message = error_of(minimal(extra_role=second))
    assert "roles.1.level" in message


def test_duplicate_role_name() -> None:
    again = (
        "  - name: Куратор 1 уровня\n"
        "    level: Медицинская организация РФ\n"
        "    positions: [Заведующий]\n"
    )
    message = error_of(minimal(extra_role=again))
    assert "role listed twice" in message
    assert "Куратор 1 уровня" in message


def test_duplicate_role_name_differing_only_in_spaces() -> None:
    again = "  - name: Куратор  1   уровня\n    level: X\n    positions: [Заведующий]\n"
    message = error_of(minimal(extra_role=again))
    assert "role listed twice: Куратор 1 уровня" in message


def test_unknown_key_in_a_role() -> None:
    message = error_of(minimal(positions="      - Главный врач\n    colour: red\n"))
    assert "roles.0.colour" in message
    assert "Extra inputs are not permitted" in message


def test_unknown_top_level_key() -> None:
    message = error_of(minimal() + "comment: hello\n")
    assert "comment" in message
    assert "Extra inputs are not permitted" in message


def test_position_not_a_string() -> None:
    message = error_of(minimal(positions="      - {a: 1}\n"))
    assert "roles.0.positions.0" in message


def test_roles_not_a_list() -> None:
    message = error_of("roles: Куратор\n")
    assert "roles" in message


def test_default_source_named() -> None:
    with pytest.raises(RoleMatrixError, match=r"^role matrix: "):
        parse_role_matrix("roles: []")


# --- loading -------------------------------------------------------------------------------


def test_load_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "matrix.yaml"
    with pytest.raises(RoleMatrixError) as info:
        load_role_matrix(missing)
    assert str(missing) in str(info.value)
    assert "cannot read" in str(info.value)


def test_load_names_the_file_in_parse_errors(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yaml"
    path.write_text("roles: []\n", encoding="utf-8")
    with pytest.raises(RoleMatrixError) as info:
        load_role_matrix(path)
    assert str(info.value).startswith(f"{path}:")


def test_load_from_str_path(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yaml"
    path.write_text(minimal(), encoding="utf-8")
    assert load_role_matrix(str(path)).positions == ("Главный врач",)


def test_load_non_utf8_file_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yaml"
    path.write_bytes(minimal().encode("cp1251"))
    with pytest.raises(RoleMatrixError) as info:
        load_role_matrix(path)
    assert str(info.value).startswith(f"{path}:")
    assert "UTF-8" in str(info.value)


def test_load_a_directory_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(RoleMatrixError) as info:
        load_role_matrix(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: cannot read the role matrix")
