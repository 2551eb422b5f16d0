"""The outbox service: lanes, leases, claims by several workers at once, and what each outcome
does to a row (no Telegram here: tests/test_delivery*.py drive the loop)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiogram.methods import EditMessageText, SendMessage
from sqlalchemy import func, select

from bot import texts
from db.database import Database
from db.models import OutboxMessage, utcnow
from services import outbox
from services.outbox import Delivered, Failed, Kind, Policy, Retry, Undeliverable, Wait
from tests.support.admin import ADMIN_CHAT, admin, cards, submitted
from tests.support.harness import Harness

GROUP = -100500
POLICY = Policy(backoff_base=2, backoff_cap=300, max_age=timedelta(hours=1))


async def fill(db: Database, rows: list[tuple[int, Kind]], user_id: int | None = None) -> None:
    async with db.write() as session:
        for chat_id, kind in rows:
            outbox.enqueue(session, chat_id, kind, {"n": 1}, user_id=user_id)


async def claim(db: Database, owner: str = "w1", limit: int = 16, at=None):  # type: ignore[no-untyped-def]
    async with db.write() as session:
        return await outbox.claim(session, owner, at or utcnow(), limit, POLICY)


async def states(db: Database) -> list[tuple[int, str]]:
    async with db.read() as session:
        rows = await session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.state).order_by(OutboxMessage.id)
        )
    return [(c, s) for c, s in rows]


async def test_a_lane_goes_in_order_one_at_a_time_and_blocks_only_itself(db: Database) -> None:
    await fill(db, [(GROUP, Kind.CARD_POST)] * 100 + [(7, Kind.NOTICE), (8, Kind.NOTICE)])
    first = await claim(db)
    # The group's head and both private chats: the group's backlog holds up nobody else.
    assert [r.chat_id for r in first] == [GROUP, 7, 8]
    assert await claim(db, "w2") == []  # the head is leased: nothing more of its lane
    async with db.write() as session:
        await outbox.apply(session, first[0], Delivered(), utcnow(), POLICY)
    second = await claim(db, "w2")
    assert [(r.chat_id, r.id) for r in second] == [(GROUP, first[0].id + 1)]


async def test_nothing_is_ready_while_every_due_row_waits_behind_a_row_being_sent(
    db: Database,
) -> None:
    # The loop reads this before each claim: rows queued behind a card being paced through
    # the group's budget must not make it open a write transaction that takes nothing.
    await fill(db, [(GROUP, Kind.CARD_POST)] * 3)
    async with db.read() as session:
        assert await outbox.anything_ready(session, utcnow())
    (head,) = await claim(db)
    async with db.read() as session:
        assert not await outbox.anything_ready(session, utcnow())
    async with db.write() as session:
        await outbox.apply(session, head, Delivered(), utcnow(), POLICY)
    async with db.read() as session:
        assert await outbox.anything_ready(session, utcnow())


async def test_workers_claiming_at_once_never_share_a_row_or_a_lane(db: Database) -> None:
    await fill(db, [(chat, Kind.TEXT) for _ in range(3) for chat in range(1, 41)])
    batches = await asyncio.gather(*(claim(db, f"w{i}", limit=8) for i in range(5)))
    taken = [row for batch in batches for row in batch]
    assert len(taken) == 40  # five workers, eight each: every lane's head, once
    assert len({r.id for r in taken}) == len(taken)
    assert sorted(r.chat_id for r in taken) == list(range(1, 41))
    assert all(r.id <= 40 for r in taken)  # heads only: the first row of each chat


async def test_a_dead_workers_lease_runs_out_and_another_takes_the_row(db: Database) -> None:
    await fill(db, [(7, Kind.TEXT)])
    now = utcnow()
    (row,) = await claim(db, "dead", at=now)
    assert await claim(db, "alive", at=now + POLICY.lease - timedelta(seconds=1)) == []
    (again,) = await claim(db, "alive", at=now + POLICY.lease + timedelta(seconds=1))
    assert again.id == row.id and again.attempts == 2


def test_backoff_is_capped_exponential_with_jitter() -> None:
    low = [POLICY.backoff(n, rng=lambda: 0.0) for n in range(1, 12)]
    high = [POLICY.backoff(n, rng=lambda: 1.0) for n in range(1, 12)]
    assert high[:5] == [2, 4, 8, 16, 32] and high[-1] == 300
    assert low[:3] == [1, 2, 4] and low[-1] == 150


async def test_what_each_outcome_does(db: Database) -> None:
    await fill(db, [(1, Kind.TEXT), (2, Kind.TEXT), (3, Kind.TEXT), (3, Kind.TEXT), (4, Kind.TEXT)])
    now = utcnow()
    rows = {r.chat_id: r for r in await claim(db, at=now)}
    async with db.write() as session:
        retry = await outbox.apply(session, rows[1], Retry("TelegramNetworkError"), now, POLICY)
        wait = await outbox.apply(session, rows[2], Wait(3600), now, POLICY)
        gone = await outbox.apply(session, rows[3], Undeliverable("Forbidden"), now, POLICY)
        failed = await outbox.apply(session, rows[4], Failed("TelegramBadRequest"), now, POLICY)
    assert retry.state == "retry" and retry.not_before is not None
    assert timedelta(seconds=1) <= retry.not_before - now <= timedelta(seconds=2)
    assert wait.state == "wait" and wait.not_before == now + timedelta(seconds=3600)
    assert gone.extra == {"lane": 1}  # the chat's other row went with it: no retries
    assert failed.state == "failed"
    assert await states(db) == [
        (1, "pending"),
        (2, "pending"),
        (3, "undeliverable"),
        (3, "undeliverable"),
        (4, "failed"),
    ]
    # The 429's row waits exactly as long as it was told, however long, and is not dropped.
    assert [r.chat_id for r in await claim(db, at=now + timedelta(seconds=3599))] == [1]
    late = now + timedelta(hours=5)
    (waited,) = [r for r in await claim(db, "w2", at=late) if r.chat_id == 2]
    async with db.write() as session:
        assert (await outbox.apply(session, waited, Wait(10), late, POLICY)).state == "wait"


async def test_a_row_that_keeps_failing_is_given_up_after_max_age(db: Database) -> None:
    await fill(db, [(1, Kind.TEXT)])
    later = utcnow() + POLICY.max_age + timedelta(seconds=1)
    (row,) = await claim(db, at=later)
    async with db.write() as session:
        applied = await outbox.apply(session, row, Retry("TelegramServerError"), later, POLICY)
    assert applied.state == "failed"
    async with db.read() as session:
        health = await outbox.health(session, later, timedelta(days=1), 10)
    assert (health.pending, health.failed) == (0, 1)
    assert health.recent_failures[0][1:4] == ("text", 1, "TelegramServerError")


async def test_withdrawal_drops_the_persons_rows_but_not_the_erasure(db: Database) -> None:
    await fill(
        db,
        [(5, Kind.NOTICE), (GROUP, Kind.SUPPORT_EDIT), (GROUP, Kind.CARD_REFRESH)],
        user_id=5,
    )
    await fill(db, [(6, Kind.NOTICE)], user_id=6)
    async with db.write() as session:
        assert await outbox.forget_person(session, 5) == 2
    async with db.read() as session:
        kinds = list(await session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)))
    assert kinds == ["card_refresh", "notice"]


async def test_a_rolled_back_change_sends_nothing(db: Database) -> None:
    class Boom(Exception):
        pass

    try:
        async with db.write() as session:
            outbox.enqueue(session, 7, Kind.TEXT, {"text": "x"})
            raise Boom
    except Boom:
        pass
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_the_loop_is_woken_after_the_commit_not_before(db: Database) -> None:
    woken: list[int] = []

    def listener() -> None:
        woken.append(1)

    db.outbox_listeners.append(listener)
    async with db.write() as session:
        outbox.enqueue(session, 7, Kind.TEXT, {"text": "x"})
        assert woken == []
    assert woken == [1]
    async with db.write() as session:
        await session.execute(select(1))
    assert woken == [1]  # a transaction that enqueued nothing wakes nobody


async def test_retry_after_a_fix_requeues_failures_and_unreachable_groups_not_blockers(
    db: Database,
) -> None:
    await fill(db, [(1, Kind.TEXT), (2, Kind.TEXT), (GROUP, Kind.CARD_POST)])
    now = utcnow()
    rows = {r.chat_id: r for r in await claim(db, at=now)}
    async with db.write() as session:
        await outbox.apply(session, rows[1], Failed("TelegramBadRequest"), now, POLICY)
        await outbox.apply(session, rows[2], Undeliverable("Forbidden"), now, POLICY)
        await outbox.apply(session, rows[GROUP], Undeliverable("Forbidden"), now, POLICY)
        assert await outbox.requeue_failed(session) == 2
    assert await states(db) == [(1, "pending"), (2, "undeliverable"), (GROUP, "pending")]


def test_every_kind_of_row_has_its_deliverer() -> None:
    from bot.outbound.delivery import _handlers
    from services.outbox import Kind

    assert set(_handlers()) == {kind.value for kind in Kind}


async def test_a_groups_lane_takes_people_in_turns_one_row_at_a_time(db: Database) -> None:
    """In a group, people's consultation rows take turns (each person's in their order, a
    transaction's rows together); whatever the order, one row of a lane is sent at a time
    (the topic is created once: bot/outbound/support_desk.py)."""
    group, a, b = -100500, 7001, 7002
    async with db.write() as session:
        await outbox.enqueue_for_person(session, group, Kind.SUPPORT_NOTE, {"n": 0}, user_id=a)
        await outbox.enqueue_for_person(session, group, Kind.SUPPORT_COPY, {"n": 0}, user_id=a)
    for n in (1, 2):
        async with db.write() as session:
            await outbox.enqueue_for_person(session, group, Kind.SUPPORT_COPY, {"n": n}, user_id=a)
    async with db.write() as session:
        await outbox.enqueue_for_person(session, group, Kind.SUPPORT_HEADER, user_id=b)
        await outbox.enqueue_for_person(session, group, Kind.SUPPORT_COPY, {"n": 9}, user_id=b)

    order = []
    while True:
        async with db.write() as session:
            rows = await outbox.claim(session, "w1", utcnow(), 10, Policy())
        if not rows:
            break
        assert len(rows) == 1  # one lane, one row in flight
        if not order:  # a row that goes before all turns, enqueued meanwhile, waits too
            async with db.write() as session:
                outbox.enqueue(session, group, Kind.TOPIC_DELETE, {"topic_id": 5})
        async with db.write() as session:
            assert await outbox.claim(session, "w2", utcnow(), 10, Policy()) == []
            await outbox.apply(session, rows[0], Delivered(), utcnow(), Policy())
        order.append((rows[0].user_id, rows[0].kind, rows[0].payload.get("n")))
    assert order == [
        (a, "support_note", 0),
        (None, "topic_delete", None),
        (a, "support_copy", 0),
        (b, "support_header", None),  # B's question goes next round, header first
        (b, "support_copy", 9),
        (a, "support_copy", 1),
        (a, "support_copy", 2),
    ]


async def test_a_decision_on_a_posted_card_goes_before_the_new_cards_waiting(h: Harness) -> None:
    """On a deadline day the admins' group's budget (20 a minute) is spent on new cards: the
    edit showing an admin's decision must not wait behind them."""
    await submitted(h, 1001)
    (card,) = cards(h)
    h.auto_deliver = False  # the group's budget is spent: new cards wait in its lane
    for person in (1002, 1003, 1004):
        await submitted(h, person)
    mark = len(h.session.calls)
    await admin(h).press(texts.BTN_APPROVE)
    await h.deliver()
    went = [
        (type(c).__name__, c.text.split("\n", 1)[0])
        for c in h.session.calls[mark:]
        if isinstance(c, SendMessage | EditMessageText) and c.chat_id == ADMIN_CHAT
    ]
    assert [m for m, _ in went] == ["EditMessageText"] + ["SendMessage"] * 3, went
    assert "№ 1" in went[0][1] and card.message_id > 0
