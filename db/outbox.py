"""Queries on the outbox. The repository never commits: the caller owns the transaction.

Claiming is the one delicate query. A chat's rows are its lane and go out one at a time, in
the lane's order: by `turn`, then by id. Most rows have turn 0, so their lane is in id order;
in a group, a person's support-desk rows get turns of their own (`turn_for`), so people take
turns in the group's budget. A row is claimable only when no row before it in its lane is
still pending (the head of its lane), no other row of its lane is being sent (a live lease),
its time has come, and no live lease holds it. On PostgreSQL the chosen rows are
locked `FOR UPDATE SKIP LOCKED`, so two workers claiming at once take different lanes; the
lease written in the same transaction keeps them apart afterwards, and runs out when a worker
dies, so another takes its rows over. On SQLite the single writer orders claims anyway.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import OutboxMessage, RequestCard, UtcDateTime

# Set on a session that wrote outbox rows: `Database.write` wakes the delivery loop after the
# commit (not before: the loop would find nothing yet).
ENQUEUED_FLAG = "outbox_enqueued"
PENDING = "pending"
FAILED = "failed"
UNDELIVERABLE = "undeliverable"


@dataclass(frozen=True)
class Envelope:
    """A claimed row, detached from the session that claimed it."""

    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    user_id: int | None
    request_id: int | None
    attempts: int
    created_at: datetime
    turn: int = 0


_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.chat_id,
    OutboxMessage.kind,
    OutboxMessage.payload,
    OutboxMessage.user_id,
    OutboxMessage.request_id,
    OutboxMessage.attempts,
    OutboxMessage.created_at,
    OutboxMessage.turn,
)


# The age of the oldest undelivered row (/healthz, /health).
OLDEST_PENDING = select(func.min(OutboxMessage.created_at)).where(OutboxMessage.state == PENDING)


def _behind(row: type[OutboxMessage]) -> Any:
    """A pending row of the same lane comes before `row` (by turn, then id)."""
    older = aliased(OutboxMessage)
    return (
        exists()
        .where(
            older.chat_id == row.chat_id,
            older.state == PENDING,
            tuple_(older.turn, older.id) < tuple_(row.turn, row.id),
        )
        .correlate(row)
    )


# The claim's statements are built once: building them (two aliases, correlated subqueries)
# cost more CPU than running them, and the delivery loop claims after every send.
_NOW = bindparam("now", type_=UtcDateTime())
_FREE = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < _NOW)
_LANE_BUSY = aliased(OutboxMessage, name="lane_busy")
_BUSY = (
    exists()
    .where(
        _LANE_BUSY.chat_id == OutboxMessage.chat_id,
        _LANE_BUSY.state == PENDING,
        _LANE_BUSY.lease_until >= _NOW,
        _LANE_BUSY.id != OutboxMessage.id,
    )
    .correlate(OutboxMessage)
)
_TAKE = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id.in_(bindparam("chosen", expanding=True)),
        OutboxMessage.state == PENDING,
        _FREE,
    )
    .values(
        lease_until=bindparam("lease_end", type_=UtcDateTime()),
        lease_owner=bindparam("taker"),
        attempts=OutboxMessage.attempts + 1,
    )
    .returning(*_COLUMNS)
    .execution_options(synchronize_session=False)
)


@functools.cache
def _claimable(limit: int, by_ids: bool, lock: bool) -> Any:
    """Ids of rows a claim may take: pending, due, free, the head of their lane, their lane
    not being sent. One statement per (limit, ids given, locked), made on first use."""
    row = OutboxMessage
    query = select(row.id).where(
        row.state == PENDING, row.not_before <= _NOW, _FREE, ~_behind(row), ~_BUSY
    )
    if by_ids:
        query = query.where(row.id.in_(bindparam("ids", expanding=True)))
    query = query.order_by(row.id).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return query


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(
        self,
        chat_id: int,
        kind: str,
        payload: dict[str, Any],
        *,
        user_id: int | None,
        request_id: int | None,
        now: datetime,
        turn: int = 0,
    ) -> OutboxMessage:
        row = OutboxMessage(
            chat_id=chat_id,
            kind=kind,
            payload=payload,
            user_id=user_id,
            request_id=request_id,
            turn=turn,
            state=PENDING,
            attempts=0,
            created_at=now,
            not_before=now,
        )
        self.session.add(row)
        self.session.info[ENQUEUED_FLAG] = True
        return row

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        ids: list[int] | None = None,
    ) -> list[Envelope]:
        postgres = self.session.bind is not None and self.session.bind.dialect.name == "postgresql"
        params: dict[str, Any] = {"now": now}
        if ids is not None:
            params["ids"] = ids
        chosen = list(
            await self.session.scalars(_claimable(limit, ids is not None, postgres), params)
        )
        if not chosen:
            return []
        result = await self.session.execute(
            _TAKE, {"now": now, "chosen": chosen, "lease_end": lease_until, "taker": owner}
        )
        return sorted((Envelope(*r) for r in result.all()), key=lambda e: e.id)

    async def anything_ready(self, now: datetime) -> bool:
        """A read before a claim: would a claim take anything now? (A loop with nothing to
        send, or whose ready rows all wait behind a row being sent, then takes no write lock,
        and runs no write transaction: on SQLite there is one writer.)"""
        found = await self.session.scalar(_claimable(1, False, False), {"now": now})
        return found is not None

    async def delete(self, row_id: int) -> None:
        await self.session.execute(delete(OutboxMessage).where(OutboxMessage.id == row_id))

    async def reschedule(self, row_id: int, not_before: datetime, error: str | None) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.state == PENDING)
            .values(not_before=not_before, lease_until=None, lease_owner=None, last_error=error)
        )

    async def finish(self, row_id: int, state: str, error: str | None, now: datetime) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(
                state=state, last_error=error, finished_at=now, lease_until=None, lease_owner=None
            )
        )

    async def finish_lane(self, chat_id: int, state: str, error: str, now: datetime) -> int:
        """Every pending row of a chat at once (the person blocked the bot)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.state == PENDING)
            .values(
                state=state, last_error=error, finished_at=now, lease_until=None, lease_owner=None
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def forget_person(self, user_id: int, keep_kinds: tuple[str, ...]) -> int:
        result = await self.session.execute(
            delete(OutboxMessage)
            .where(OutboxMessage.user_id == user_id, OutboxMessage.kind.not_in(keep_kinds))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def card_chats(self, request_id: int, post_kind: str) -> list[int]:
        """Chats that hold a copy of the request's card, or will once a pending post goes."""
        posted = select(RequestCard.chat_id).where(RequestCard.request_id == request_id)
        coming = select(OutboxMessage.chat_id).where(
            OutboxMessage.request_id == request_id,
            OutboxMessage.kind == post_kind,
            OutboxMessage.state == PENDING,
        )
        rows = await self.session.scalars(posted.union(coming))
        return sorted(set(rows))

    async def card_chats_of(self, request_ids: list[int], post_kind: str) -> set[tuple[int, int]]:
        """(request, chat) pairs of `card_chats` for many requests in one query."""
        posted = select(RequestCard.request_id, RequestCard.chat_id).where(
            RequestCard.request_id.in_(request_ids)
        )
        coming = select(OutboxMessage.request_id, OutboxMessage.chat_id).where(
            OutboxMessage.request_id.in_(request_ids),
            OutboxMessage.kind == post_kind,
            OutboxMessage.state == PENDING,
        )
        rows = await self.session.execute(posted.union(coming))
        return {(int(r), int(c)) for r, c in rows}

    async def next_due(self) -> datetime | None:
        """When the next row may be tried: the earliest moment a lane's head is due and free."""
        row = OutboxMessage
        due = case((row.lease_until > row.not_before, row.lease_until), else_=row.not_before)
        return await self.session.scalar(
            select(func.min(due, type_=UtcDateTime())).where(row.state == PENDING, ~_behind(row))
        )

    async def turn_for(self, chat_id: int, user_id: int) -> int:
        """The turn of a person's next row in a group's lane (start-time fair queuing): right
        after what they already have waiting, but never before the lane's current turn, so
        a newcomer goes next round, after one row of each person waiting, not after all of
        someone's burst."""
        row = OutboxMessage
        current, theirs = (
            await self.session.execute(
                select(
                    func.min(row.turn), func.max(case((row.user_id == user_id, row.turn)))
                ).where(row.chat_id == chat_id, row.state == PENDING, row.turn > 0)
            )
        ).one()
        return max(int(current or 1), int(theirs or 0) + 1)

    async def following(self, row: Envelope, limit: int) -> list[Envelope]:
        """The person's rows after this one in its lane, in order (a merge's candidates)."""
        found = await self.session.execute(
            select(*_COLUMNS)
            .where(
                OutboxMessage.chat_id == row.chat_id,
                OutboxMessage.user_id == row.user_id,
                OutboxMessage.state == PENDING,
                tuple_(OutboxMessage.turn, OutboxMessage.id) > tuple_(row.turn, row.id),
            )
            .order_by(OutboxMessage.turn, OutboxMessage.id)
            .limit(limit)
        )
        return [Envelope(*r) for r in found.all()]

    async def delete_pending(self, ids: list[int]) -> None:
        if ids:
            await self.session.execute(
                delete(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.state == PENDING)
                .execution_options(synchronize_session=False)
            )

    async def pending_summary(self) -> tuple[int, datetime | None]:
        """Two queries, not one: alone, min() is read from the end of the index of pending
        rows' ages (migration 0020); beside count() it would visit every pending row."""
        count = await self.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == PENDING)
        )
        oldest = await self.session.scalar(OLDEST_PENDING)
        return int(count or 0), oldest

    async def finished(self, state: str, since: datetime, limit: int) -> list[OutboxMessage]:
        rows = await self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.state == state, OutboxMessage.finished_at >= since)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def count_finished(self, state: str, since: datetime) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).where(
                    OutboxMessage.state == state, OutboxMessage.finished_at >= since
                )
            )
            or 0
        )

    async def requeue_failed(self, now: datetime) -> int:
        """Give failed rows another go (after the cause was fixed), from now on; and rows to a
        group the bot could not reach (removed from it, say). A person who blocked the bot
        stays undeliverable."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.state == FAILED,
                    (OutboxMessage.state == UNDELIVERABLE) & (OutboxMessage.chat_id < 0),
                )
            )
            .values(
                state=PENDING,
                created_at=now,
                not_before=now,
                attempts=0,
                finished_at=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def pending_in_lane(self, chat_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).where(
                    OutboxMessage.chat_id == chat_id, OutboxMessage.state == PENDING
                )
            )
            or 0
        )
