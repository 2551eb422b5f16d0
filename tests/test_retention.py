"""Retention (152-FZ art. 21 p. 4): on a data set with a controllable clock, what is due is
erased exactly as a withdrawal erases, nothing else is; nothing is erased twice; two workers
at once erase once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot import texts
from bot.config import Settings
from bot.retention import run_once as retention_job
from db.database import Database
from db.models import AccessRequest, Erasure, JobRun, RequestEvent, utcnow
from services import backup, consent, requests, retention
from services.requests import Status, decide
from tests.conftest import SUPPORT_CHAT_ID, make_settings
from tests.support.admin import submitted
from tests.support.concurrency import Rendezvous, gate_writes, task_name
from tests.support.harness import Harness
from tests.test_dialog_question import copies_to, forum, thread
from tests.test_requests_service import NEW

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAYS = 30
GRANTED = (Status.SUBMITTED, Status.APPROVED, Status.EXPORTED, Status.ACCESS_GRANTED)
REJECTED = (Status.SUBMITTED, Status.REJECTED)
CANCELLED = (Status.SUBMITTED, Status.CANCELLED)


def person(n: int, **changes: Any) -> requests.NewRequest:
    values: dict[str, Any] = {
        "account_id": 100 + n,
        "snils": f"{n:03d}-000-000 00",
        "full_name": f"Фамилия{n} Имя Отчество",
        "email": f"person{n}@example.ru",
    }
    return replace(NEW, **{**values, **changes})


async def make(
    db: Database, new: requests.NewRequest, path: Sequence[Status], ended_days_ago: float
) -> int:
    """A request taken along `path`, its last change `ended_days_ago` before NOW."""
    async with db.write() as session:
        result = await requests.submit(session, new)
        assert isinstance(result, requests.Submitted)
        number = result.request.id
        for old, next_status in itertools.pairwise(path):
            if next_status is Status.APPROVED:
                assert await requests.decide(session, number, Status.APPROVED, actor_id=1)
            else:
                assert await requests.transition(
                    session, number, old, next_status, actor_id=1, action=next_status.value
                )
        at = NOW - timedelta(days=ended_days_ago)
        await session.execute(
            update(AccessRequest)
            .where(AccessRequest.id == number)
            .values(updated_at=at, decided_at=at if len(path) > 1 else None)
        )
    return number


async def rows(db: Database) -> dict[int, AccessRequest]:
    async with db.read() as session:
        return {r.id: r for r in await session.scalars(select(AccessRequest))}


async def erased_events(db: Database) -> list[tuple[int, Any]]:
    async with db.read() as session:
        found = await session.scalars(
            select(RequestEvent).where(RequestEvent.action == "erased").order_by(RequestEvent.id)
        )
        return [(e.request_id, e.details) for e in found]


async def data_set(db: Database) -> dict[str, int]:
    return {
        # due: granted 40 days ago, rejected 31 days ago, cancelled 45 days ago
        "granted_old": await make(db, person(1), GRANTED, 40),
        "rejected_old": await make(db, person(2), REJECTED, 31),
        "cancelled_old": await make(db, person(3), CANCELLED, 45),
        # not yet: ended 10 days ago, and 29.9 days ago
        "rejected_new": await make(db, person(4), REJECTED, 10),
        "granted_almost": await make(db, person(5), GRANTED, 29.9),
        # a person with another request in work (the same account, another role)
        "ended_with_live": await make(db, person(6), REJECTED, 60),
        "live_of_6": await make(db, person(6, role="Куратор 1 уровня"), (Status.SUBMITTED,), 90),
        # the same SNILS from another account has a request in work
        "ended_same_snils": await make(db, person(7), GRANTED, 60),
        "live_same_snils": await make(
            db, person(7, account_id=999, email="other7@example.ru"), (Status.SUBMITTED,), 1
        ),
        # in work for long, never ended
        "live_old": await make(db, person(8), (Status.SUBMITTED, Status.RETURNED), 100),
        "approved_old": await make(db, person(9), (Status.SUBMITTED, Status.APPROVED), 100),
    }


DUE = ("granted_old", "rejected_old", "cancelled_old")


async def test_what_is_due_is_erased_as_a_withdrawal_erases_and_nothing_else(
    db: Database,
) -> None:
    ids = await data_set(db)
    before = await rows(db)
    async with db.read() as session:
        seen = await retention.outlook(session, NOW, DAYS, timedelta(days=1))
    assert seen.due_now == 3 and seen.waiting_for_live == 2
    assert sum(count for _, count in seen.upcoming) == 1  # granted_almost, tomorrow

    report = await retention.erase_due(db, NOW, DAYS)

    assert sorted(report.erased) == sorted(ids[k] for k in DUE)
    after = await rows(db)
    for name, number in ids.items():
        old, new = before[number], after[number]
        if name in DUE:
            assert (new.snils, new.full_name, new.email, new.account_id) == ("", "", "", 0)
            assert new.search_key == "" and new.erased_at is not None
            # The statistics stay: organisation, position, role, status and dates.
            for column in ("org_full_name", "position", "role", "role_level", "status"):
                assert getattr(new, column) == getattr(old, column), column
            assert new.decided_at == old.decided_at and new.submitted_at == old.submitted_at
        else:
            assert (new.snils, new.full_name, new.email) == (old.snils, old.full_name, old.email)
            assert new.erased_at is None, name
    # The same proof as a withdrawal: an `erased` event per request, with the rule, and an
    # erasures row per person.
    fields = list(consent.PERSONAL_COLUMNS)
    assert await erased_events(db) == [
        (ids[k], {"fields": fields, "rule": "retention"}) for k in DUE
    ]
    async with db.read() as session:
        proofs = (await session.scalars(select(Erasure).order_by(Erasure.account_id))).all()
    assert [(p.account_id, p.details) for p in proofs] == [
        (account_id, {"requests": [i], "rule": "retention", "ended": {str(i): s}})
        for account_id, i, s in (
            (101, ids["granted_old"], "access_granted"),
            (102, ids["rejected_old"], "rejected"),
            (103, ids["cancelled_old"], "cancelled"),
        )
    ]

    # Nothing twice: a second run, later the same day, finds nothing; a day later only what
    # has come due meanwhile.
    assert (await retention.erase_due(db, NOW + timedelta(hours=1), DAYS)).erased == []
    later = await retention.erase_due(db, NOW + timedelta(days=1), DAYS)
    assert later.erased == [ids["granted_almost"]]
    assert len(await erased_events(db)) == 4

    # Once the live request ends too (and its term runs out), the person's data go.
    async with db.write() as session:
        assert await requests.transition(
            session, ids["live_of_6"], Status.SUBMITTED, Status.REJECTED, actor_id=1, action="r"
        )
    again = await retention.erase_due(db, utcnow_plus(DAYS + 1), DAYS)
    assert {ids["ended_with_live"], ids["live_of_6"]} <= set(again.erased)


def utcnow_plus(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


async def test_a_withdrawal_and_retention_share_one_erasure(db: Database) -> None:
    """A request erased by a withdrawal is not erased again by the retention job, and the
    job's erasure is the withdrawal's function (one `erased` event per request)."""
    number = await make(db, person(1), GRANTED, 40)
    async with db.write() as session:
        assert (await consent.withdraw(session, 101)).erased == [number]
    assert (await retention.erase_due(db, NOW, DAYS)).erased == []
    assert [n for n, _ in await erased_events(db)] == [number]


async def test_the_daily_job_runs_once_a_period_across_workers_and_restarts(
    db: Database,
) -> None:
    number = await make(db, person(1), GRANTED, 40)
    period = timedelta(days=1)
    first = await retention.run_once(db, "worker-a", days=DAYS, period=period, now=NOW)
    assert first is not None and first.erased == [number]
    # Another worker, or this one after a restart, within the period: not its turn.
    for worker in ("worker-b", "worker-a"):
        assert (
            await retention.run_once(
                db, worker, days=DAYS, period=period, now=NOW + timedelta(hours=5)
            )
            is None
        )
    nxt = await retention.run_once(db, "worker-b", days=DAYS, period=period, now=NOW + period)
    assert nxt is not None and nxt.erased == []
    async with db.read() as session:
        run = await session.get(JobRun, retention.JOB)
    assert run is not None and run.owner == "worker-b"


async def test_two_workers_at_once_erase_each_request_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both workers start their transaction together. On PostgreSQL both also select the same
    due requests before either erases (held until both have): the row lock and the
    conditional UPDATE decide, and the second erases nothing. On SQLite the single writer
    runs them one after the other: the second selects after the first committed."""
    due = [await make(db, person(n), GRANTED, 40) for n in range(1, 6)]
    timeline: list[tuple[str, str]] = []
    gate_writes(db, Rendezvous(2), timeline)
    selected = Rendezvous(2)
    original = retention.erase_requests

    async def racing(session: Any, ids: Any, **kwargs: Any) -> list[int]:
        timeline.append((f"selected {len(ids)}", task_name()))
        if not db.is_sqlite:
            await selected.arrive()
        erased = await original(session, ids, **kwargs)
        timeline.append((f"erased {len(erased)}", task_name()))
        return erased

    monkeypatch.setattr(retention, "erase_requests", racing)
    one = asyncio.create_task(retention.erase_due(db, NOW, DAYS), name="one")
    two = asyncio.create_task(retention.erase_due(db, NOW, DAYS), name="two")
    reports = await asyncio.wait_for(asyncio.gather(one, two), 60)

    assert sorted(reports[0].erased + reports[1].erased) == due  # each once, by one of them
    assert sorted(n for n, _ in await erased_events(db)) == due
    async with db.read() as session:
        proofs = await session.scalar(select(func.count()).select_from(Erasure))
    assert proofs == 5
    selections = [e for e in timeline if e[0].startswith("selected")]
    if db.is_sqlite:
        assert selections[0][0] == "selected 5" and len(selections) == 1, timeline
    else:
        # The race really happened: both selected all five before either erased.
        assert [e[0] for e in timeline[:2]] == ["selected 5", "selected 5"], timeline
        assert sorted(e[0] for e in timeline if e[0].startswith("erased")) == [
            "erased 0",
            "erased 5",
        ]


async def test_each_committed_chunk_is_journaled_even_if_a_later_one_fails(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j" / "erasures.jsonl"
    settings = make_settings(database_url, erasure_journal=str(journal))
    a = await make(db, person(1), REJECTED, 40)
    await make(db, person(2), REJECTED, 40)
    monkeypatch.setattr(retention.erase_due, "__defaults__", (1, 0.0))  # one per chunk
    real = retention.erase_requests
    calls = []

    async def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the worker dies in the second chunk")
        return await real(*args, **kwargs)

    monkeypatch.setattr(retention, "erase_requests", flaky)
    with pytest.raises(RuntimeError):
        await retention_job(db, settings, "w", now=NOW)
    async with db.read() as session:
        first = await session.get(AccessRequest, a)
    assert first is not None and first.erased_at is not None  # committed, for good
    # ... and journaled at once: a restore + reapply-erasures does not bring person 1 back.
    assert [r.requests for r in backup.journal_read(str(journal))] == [[a]]


async def test_retention_takes_the_name_out_of_the_support_thread_and_its_topic(
    h: Harness, db: Database, admin_settings: Settings
) -> None:
    # support_threads.title («ФИО · организация») is stored, and it names the forum topic;
    # once retention erased the person's last request, neither may keep the name, and the
    # consultation goes on: the operator's answer still reaches the person.
    operator = await forum(h, db)
    user = await submitted(h, 1001)
    await user.send("/help")
    await user.send("Как выбрать роль?")
    before = await thread(db)
    assert "Иванова" in before.title and before.topic_id is not None
    topic = before.topic_id
    assert "Иванова" in h.session.topics[(SUPPORT_CHAT_ID, topic)]
    async with db.write() as session:
        assert await decide(session, 1, Status.REJECTED, actor_id=1)
        await session.execute(
            update(AccessRequest).values(updated_at=utcnow() - timedelta(days=40))
        )
    report = await retention_job(db, admin_settings, "w")
    assert report is not None and report.erased == [1]
    assert "Иванова" not in (await thread(db)).title  # in the erasure's own transaction
    await h.deliver()
    assert (await thread(db)).title == texts.thread_title(texts.ERASED_APPLICANT, None)
    assert h.session.topics[(SUPPORT_CHAT_ID, topic)] == texts.ERASED_APPLICANT
    assert before.header_message_id is not None
    header = h.session.messages[(SUPPORT_CHAT_ID, before.header_message_id)]
    assert "Иванова" not in header.plain and texts.ERASED_APPLICANT in header.plain
    assert texts.ERASED_REQUESTS in header.plain
    answered = len(copies_to(h, user.id))
    await operator.send("Выберите должность — роль предложит бот.", thread_id=topic)
    assert len(copies_to(h, user.id)) == answered + 1
