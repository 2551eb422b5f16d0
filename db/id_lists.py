"""A list of ids as ONE bound parameter: `id IN (SELECT value FROM json_each(?))` on SQLite,
`id = ANY(?)` on PostgreSQL. SQLAlchemy's expanding IN renders and binds one placeholder per
id on every execution: at 100,000 ids that bookkeeping cost more than the database's work."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class IdList(TypeDecorator[Sequence[int]]):
    """Ids bound as a JSON array (SQLite) or a bigint[] (PostgreSQL)."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(BigInteger()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Sequence[int] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        ids = [int(i) for i in value]
        return ids if dialect.name == "postgresql" else json.dumps(ids)


def in_ids(column: ColumnElement[int], dialect: str, name: str = "ids") -> ColumnElement[bool]:
    """`column` is one of the ids bound as `name` (pass the ids as a list)."""
    ids = bindparam(name, type_=IdList())
    if dialect == "postgresql":
        return column == any_(ids)
    each = func.json_each(ids).table_valued("value")
    return column.in_(select(each.c.value))
