"""An index over requests' search keys (`access_requests.search_key`), for /find by words.

`LIKE '%word%'` reads the whole table: 60–180 ms at 100,000 requests, on the event loop's thread
for SQLite. Words are found through an index instead: SQLite's FTS5 (an external-content table
kept in step with `access_requests` by triggers), PostgreSQL's GIN index on a `simple` text
search vector. Both match whole words first, then word beginnings («иван» finds «Иванова»).

The triggers live on `access_requests`: a future SQLite migration that rebuilds that table
(Alembic's batch mode copies it) must call `create_sqlite()` again afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import TextClause, text

FTS_TABLE = "request_search"
PG_INDEX = "ix_access_requests_search_words"
PG_VECTOR = "to_tsvector('simple'::regconfig, search_key)"

SQLITE_CREATE = (
    # detail='none': whole words and word beginnings are all /find asks; a third of the size.
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_key, content='access_requests', "
    "content_rowid='id', tokenize='unicode61', detail='none', prefix='3')",
    f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON access_requests BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_key) VALUES (new.id, new.search_key); END",
    f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON access_requests BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); END",
    f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF search_key ON access_requests BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_key) VALUES (new.id, new.search_key); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)
# FTS5 deletes a row's words by adding a "delete" entry beside them: the words themselves stay
# in the index's segments (and so in the file and its backups) until a merge takes in every
# segment. 'optimize' is that merge: one segment, without what was deleted. About 75 ms at
# 100,000 requests; run once after each erasure (services.consent.drop_erased_words).
SQLITE_PURGE = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"
SQLITE_DROP = (
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_update",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
)
# fastupdate off: new rows go into the index at once, not into a pending list that every
# search would read through until VACUUM merges it (seconds at 100,000 rows).
PG_CREATE = (
    f"CREATE INDEX {PG_INDEX} ON access_requests USING gin ({PG_VECTOR}) WITH (fastupdate = off)",
)
PG_DROP = (f"DROP INDEX IF EXISTS {PG_INDEX}",)


def owns(table_name: str | None) -> bool:
    """FTS5's own tables (the virtual one and its shadow tables): not in the models."""
    return table_name is not None and (
        table_name == FTS_TABLE or table_name.startswith(FTS_TABLE + "_")
    )


def create_statements(dialect: str) -> Sequence[str]:
    return SQLITE_CREATE if dialect == "sqlite" else PG_CREATE


def drop_statements(dialect: str) -> Sequence[str]:
    return SQLITE_DROP if dialect == "sqlite" else PG_DROP


def matching_ids(dialect: str, words: Sequence[str], *, prefix: bool, limit: int) -> TextClause:
    """The newest `limit` request ids whose key has every word (as a word, or as the beginning
    of one with `prefix`). `words` come from `services.text_search.query_words`: letters and
    digits only, so they need no quoting beyond what is done here."""
    params: dict[str, Any] = {"limit": limit}
    if dialect == "sqlite":
        star = "*" if prefix else ""
        params["query"] = " AND ".join(f'"{w}"{star}' for w in words)
        sql = (
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :query "
            "ORDER BY rowid DESC LIMIT :limit"
        )
    else:
        star = ":*" if prefix else ""
        params["query"] = " & ".join(f"{w}{star}" for w in words)
        sql = (
            f"SELECT id FROM access_requests WHERE {PG_VECTOR} @@ "
            "to_tsquery('simple'::regconfig, :query) ORDER BY id DESC LIMIT :limit"
        )
    return text(sql).bindparams(**params)
