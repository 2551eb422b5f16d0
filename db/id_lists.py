"""A list of ids as ONE bound parameter: `id IN (SELECT value FROM json_each(?))` on SQLite,
`id = ANY(?)` on PostgreSQL. SQLAlchemy's expanding IN renders and binds one placeholder per
id on every execution: at 100,000 ids that bookkeeping cost more than the database's work."""

from __future__ import annotations

import json
import operator
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    LargeBinary,
    String,
    any_,
    bindparam,
    func,
    select,
)
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


# --- a stored set of ids (an export's requests) -------------------------------------------------
#
# PostgreSQL keeps them as an integer[]; SQLite has no arrays, so they are packed into a BLOB:
# the ids sorted, the first as a varint (LEB128), then each one's distance from the one before
# as a varint. An export's ids are its requests' numbers in order, mostly close together, so
# nearly every distance is one byte: 100,000 ids take ≈ 100 KB (JSON would take ≈ 600 KB), and
# when every distance is below 128 the bytes are the distances themselves, packed and unpacked
# by C loops (`bytes(...)`, `itertools.accumulate`) in a few milliseconds, which matters on the
# export's path. Sorted ranges would be smaller for a run with no gaps, but a re-export of every
# approved request skips the rejected and cancelled ones between them, and each gap would cost
# a range of its own.


# Ids handled per C call. A single call over 100,000 ids (a sort, a join) holds the
# interpreter for tens of milliseconds, even on a worker thread, and the bot's event loop
# waits that long; between two pieces of this size the interpreter can switch threads.
PIECE = 2000


def sorted_unique(ids: Iterable[int]) -> list[int]:
    """The ids sorted, each once: an export's ids (already in order) are only checked, a
    piece at a time."""
    listed = list(ids)
    for start in range(0, len(listed), PIECE):
        piece = listed[start : start + PIECE + 1]
        if not all(map(operator.lt, piece[:-1], piece[1:])):
            return sorted(set(listed))
    return listed


def pack_ids(ids: Iterable[int]) -> bytes:
    """The ids (any order, repeats dropped) as sorted delta varints."""
    ordered = sorted_unique(ids)
    if not ordered:
        return b""
    if ordered[0] < 0:
        raise ValueError("negative id")
    parts = [_varint(ordered[0])]
    for start in range(0, len(ordered) - 1, PIECE):
        piece = ordered[start : start + PIECE + 1]
        deltas = list(map(operator.sub, piece[1:], piece[:-1]))
        parts.append(bytes(deltas) if max(deltas) < 0x80 else b"".join(map(_varint, deltas)))
    return b"".join(parts)


def unpack_ids(blob: bytes | None) -> list[int]:
    """The sorted ids `pack_ids` packed."""
    if not blob:
        return []
    data = bytes(blob)
    first, at = _read_varint(data, 0)
    rest = data[at:]
    if max(rest, default=0) < 0x80:
        return list(accumulate(rest, initial=first))
    ids = [first]
    value = first
    while at < len(data):
        delta, at = _read_varint(data, at)
        value += delta
        ids.append(value)
    return ids


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


class IdArray(TypeDecorator[list[int]]):
    """A set of ids in one column: integer[] on PostgreSQL, `pack_ids` bytes on SQLite. Read
    back as a sorted list."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(Integer()))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Iterable[int] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            # A list is taken as it is (sorted once by whoever made it, off the event loop
            # for a large export: services/audit.stored_ids); any other iterable is sorted.
            return value if isinstance(value, list) else sorted({int(i) for i in value})
        return value if isinstance(value, bytes) else pack_ids(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[int] | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return sorted(int(i) for i in value)
        return unpack_ids(value)


def holds(ids: Sequence[int], wanted: int) -> bool:
    """Whether the sorted `ids` hold `wanted`."""
    at = bisect_left(ids, wanted)
    return at < len(ids) and ids[at] == wanted
