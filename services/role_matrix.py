"""The order's matrix of positions and roles, loaded from YAML and validated.

No role or position is written in code: everything comes from `role_matrix.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class RoleMatrixError(Exception):
    """The matrix file is missing or malformed; the message names the problem."""


class _RoleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    level: str = Field(min_length=1)
    positions: list[str] = Field(min_length=1)

    @field_validator("name", "level")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("positions")
    @classmethod
    def _positions(cls, values: list[str]) -> list[str]:
        cleaned = [" ".join(str(v).split()) for v in values]
        if any(not v for v in cleaned):
            raise ValueError("a position must not be blank")
        # The order itself lists one position twice under one role: merge, keep order.
        return list(dict.fromkeys(cleaned))


class _MatrixSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[_RoleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Role:
    name: str
    level: str
    positions: tuple[str, ...]


@dataclass(frozen=True)
class RoleMatrix:
    roles: tuple[Role, ...]
    # Every distinct position once. Listed from the medical-organisation level up (the order
    # prints roles from the federal level down), because a regional order's applicants are
    # mostly clinicians and managers of medical organisations.
    positions: tuple[str, ...]

    def roles_for(self, position: str) -> tuple[Role, ...]:
        return tuple(r for r in self.roles if position in r.positions)

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)

    def position_index(self, position: str) -> int | None:
        try:
            return self.positions.index(position)
        except ValueError:
            return None


def parse_role_matrix(text: str, source: str = "role matrix") -> RoleMatrix:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoleMatrixError(f"{source}: not valid YAML: {exc}") from exc
    try:
        spec = _MatrixSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
            for err in exc.errors()
        )
        raise RoleMatrixError(f"{source}: {problems}") from exc
    names = [r.name for r in spec.roles]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RoleMatrixError(f"{source}: role listed twice: {', '.join(duplicates)}")
    roles = tuple(Role(r.name, r.level, tuple(r.positions)) for r in spec.roles)
    positions = tuple(dict.fromkeys(p for r in reversed(roles) for p in r.positions))
    return RoleMatrix(roles=roles, positions=positions)


def load_role_matrix(path: str | Path) -> RoleMatrix:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoleMatrixError(f"{file}: cannot read the role matrix: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RoleMatrixError(f"{file}: not UTF-8 text (save it as UTF-8): {exc.reason}") from exc
    return parse_role_matrix(text, source=str(file))
