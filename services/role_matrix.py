"""The order's matrix of positions and roles, loaded from YAML and validated.

No role or position is written in code: everything comes from `role_matrix.yaml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
    # Positions whose every role has one of these levels are offered only on request.
    on_request_levels: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Role:
    name: str
    level: str
    positions: tuple[str, ...]


_WORD = re.compile(r"[а-яёa-z]+")
STEM = 5  # letters compared: «главного» and «главный», «врача» and «врач» meet
MIN_WORD = 4  # shorter words («по», «и», «ЦРБ») say too little about a post


def _stems(text: str) -> list[str]:
    words = _WORD.findall(text.lower().replace("ё", "е"))
    return [w[:STEM] for w in words if len(w) >= MIN_WORD]


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower().replace("ё", "е")))


@dataclass(frozen=True)
class RoleMatrix:
    roles: tuple[Role, ...]
    # Every distinct position once. Listed from the medical-organisation level up (the order
    # prints roles from the federal level down), because a regional order's applicants are
    # mostly clinicians and managers of medical organisations.
    positions: tuple[str, ...]
    # Positions offered only on request (federal posts, for a regional order).
    on_request: frozenset[str] = field(default_factory=frozenset)

    def roles_for(self, position: str) -> tuple[Role, ...]:
        return tuple(r for r in self.roles if position in r.positions)

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)

    def position_index(self, position: str) -> int | None:
        try:
            return self.positions.index(position)
        except ValueError:
            return None

    def exact_position(self, typed: str) -> str | None:
        """The matrix position a person typed out in full (any case, spacing)."""
        wanted = " ".join(typed.split()).casefold()
        return next((p for p in self.positions if p.casefold() == wanted), None)

    def matching_positions(self, typed: str, limit: int = 3) -> list[str]:
        """Matrix positions that a typed post probably is: at least two of its words and at
        least 60 % of them (compared by their first letters, so «заместитель главного
        врача» finds «Главный врач / заместитель глав.врача ЦРБ (МО)»). Only the best
        matches; commonly offered positions before those offered on request."""
        typed_stems = list(dict.fromkeys(_stems(typed)))
        if len(typed_stems) < 2:
            return []
        scored = []
        for index, position in enumerate(self.positions):
            words = _words(position)
            found = sum(
                any(w.startswith(s) or (len(w) >= MIN_WORD and s.startswith(w)) for w in words)
                for s in typed_stems
            )
            if found >= 2 and found / len(typed_stems) >= 0.6:
                scored.append((-found, position in self.on_request, index, position))
        best = min((score for score, *_ in scored), default=0)
        return [position for score, *_, position in sorted(scored)[:limit] if score == best]


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
    levels = set(spec.on_request_levels)
    on_request = frozenset(
        p for p in positions if all(r.level in levels for r in roles if p in r.positions)
    )
    return RoleMatrix(roles=roles, positions=positions, on_request=on_request)


def load_role_matrix(path: str | Path) -> RoleMatrix:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoleMatrixError(f"{file}: cannot read the role matrix: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RoleMatrixError(f"{file}: not UTF-8 text (save it as UTF-8): {exc.reason}") from exc
    return parse_role_matrix(text, source=str(file))
