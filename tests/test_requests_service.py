"""The request lifecycle at the database: submit and compare-and-set transitions."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from db.database import Database
from db.models import AccessRequest, RequestEvent
from services import requests
from services.requests import NewRequest, Status
from tests.concurrency import TIMEOUT, assert_submits_raced, race_submits

NEW = NewRequest(
    telegram_id=7,
    snils="112-233-445 95",
    full_name="Иванова Мария",
    email="ivanova@example.ru",
    region="Костромская область",
    organization_id=None,
    org_full_name="Больница",
    org_short_name="Больница",
    org_manual=True,
    position="Главный врач / заместитель глав.врача ЦРБ (МО) муниципального образования",
    position_in_matrix=True,
    role="Куратор 2 уровня",
    role_level="Муниципальное образование РФ",
    component="ВИМИС ОНКО",
)


async def _submit(db: Database, new: NewRequest) -> requests.SubmitResult:
    async with db.write() as session:
        return await requests.submit(session, new)


async def test_concurrent_submits_make_one_request(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five tasks, each with its own session, start their transactions together; on
    # PostgreSQL each also waits after its check until all have checked (see
    # tests/concurrency.py), so the unique index on live requests decides; on SQLite the
    # single writer orders them and each later check finds the first request. The addresses
    # differ (one person on five devices, one address corrected), so it is the index on
    # SNILS, component and role that decides, not the e-mail claim.
    timeline, start = race_submits(monkeypatch, db, parties=5)
    tasks = [
        asyncio.create_task(
            _submit(db, replace(NEW, email=f"ivanova{n}@example.ru")), name=f"submit-{n}"
        )
        for n in range(5)
    ]
    async with asyncio.timeout(TIMEOUT):
        results = await asyncio.gather(*tasks)
    assert len(start.arrived) == 5
    assert_submits_raced(db, timeline, parties=5)
    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["AlreadyOpen"] * 4 + ["Submitted"]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AccessRequest)) == 1


async def test_another_role_is_another_request(db: Database) -> None:
    first = await _submit(db, NEW)
    second = await _submit(db, replace(NEW, role="Куратор 1 уровня"))
    assert isinstance(first, requests.Submitted) and isinstance(second, requests.Submitted)


async def test_email_belongs_to_one_snils(db: Database) -> None:
    await _submit(db, NEW)
    other = replace(NEW, snils="431-052-771 35", email="IVANOVA@example.ru")
    assert isinstance(await _submit(db, other), requests.EmailTaken)


async def test_transition_is_compare_and_set_with_one_event(db: Database) -> None:
    result = await _submit(db, NEW)
    assert isinstance(result, requests.Submitted)
    request_id = result.request.id

    async def approve(actor: int) -> bool:
        async with db.write() as session:
            return await requests.transition(
                session,
                request_id,
                Status.SUBMITTED,
                Status.APPROVED,
                actor_id=actor,
                action="approved",
            )

    outcomes = await asyncio.gather(approve(1), approve(2))
    assert sorted(outcomes) == [False, True]
    async with db.read() as session:
        request = await session.get(AccessRequest, request_id)
        events = (await session.scalars(select(RequestEvent).order_by(RequestEvent.id))).all()
    assert request is not None and request.status == "approved"
    assert request.decided_by in (1, 2) and request.decided_at is not None
    assert [e.action for e in events] == ["created", "approved"]
    assert events[1].actor_id == request.decided_by


async def test_transition_outside_the_lifecycle_is_refused(db: Database) -> None:
    result = await _submit(db, NEW)
    assert isinstance(result, requests.Submitted)
    async with db.write() as session:
        with pytest.raises(requests.TransitionNotAllowed):
            await requests.transition(
                session,
                result.request.id,
                Status.SUBMITTED,
                Status.ACCESS_GRANTED,
                actor_id=1,
                action="granted",
            )


async def test_a_closed_request_frees_the_slot(db: Database) -> None:
    result = await _submit(db, NEW)
    assert isinstance(result, requests.Submitted)
    async with db.write() as session:
        assert await requests.transition(
            session,
            result.request.id,
            Status.SUBMITTED,
            Status.CANCELLED,
            actor_id=7,
            action="cancelled",
        )
    assert isinstance(await _submit(db, NEW), requests.Submitted)


async def test_a_rejected_request_frees_its_email(db: Database) -> None:
    result = await _submit(db, NEW)
    assert isinstance(result, requests.Submitted)
    other = replace(NEW, snils="431-052-771 35")
    assert isinstance(await _submit(db, other), requests.EmailTaken)
    async with db.write() as session:
        await requests.decide(
            session, result.request.id, Status.REJECTED, actor_id=1, reason="опечатка в СНИЛС"
        )
    assert isinstance(await _submit(db, other), requests.Submitted)


async def test_a_snils_returned_for_correction_can_be_fixed(db: Database) -> None:
    result = await _submit(db, replace(NEW, snils="431-502-771 35"))  # (a made-up typo)
    assert isinstance(result, requests.Submitted)
    request_id = result.request.id
    async with db.write() as session:
        await requests.decide(
            session, request_id, Status.RETURNED, actor_id=1, reason="СНИЛС", fields=["snils"]
        )
    async with db.write() as session:
        fixed = await requests.resubmit(
            session, request_id, NEW.telegram_id, {"snils": "112-233-445 95", "email": "x@y.ru"}
        )
    assert isinstance(fixed, requests.Submitted)
    assert fixed.request.snils == "112-233-445 95"
    assert fixed.request.email == NEW.email  # not returned, not changed
    someone = replace(NEW, snils="431-052-771 35", role="Куратор 1 уровня")
    assert isinstance(await _submit(db, someone), requests.EmailTaken)
