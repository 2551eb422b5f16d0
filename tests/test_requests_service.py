"""The request lifecycle at the database: submit and compare-and-set transitions."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from db.database import Database
from db.models import AccessRequest, RequestEvent
from services import export, requests
from services.requests import NewRequest, Status
from tests.support.concurrency import TIMEOUT, assert_submits_raced, race_submits

NEW = NewRequest(
    account_id=7,
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
    # tests/support/concurrency.py), so the unique index on live requests decides; on SQLite the
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


async def _approve(db: Database, request_id: int, actor: int = 1) -> bool:
    async with db.write() as session:
        return await requests.decide(session, request_id, Status.APPROVED, actor_id=actor)


async def test_another_account_with_the_same_snils_does_not_lock_the_owner_out(
    db: Database,
) -> None:
    # Someone submits first with the victim's SNILS and e-mail from their own account.
    squatter = await _submit(db, replace(NEW, account_id=666))
    owner = await _submit(db, NEW)
    assert isinstance(squatter, requests.Submitted) and isinstance(owner, requests.Submitted)
    assert squatter.request.id != owner.request.id


async def test_typing_an_address_claims_nothing_approval_does(db: Database) -> None:
    first = await _submit(db, NEW)
    other = await _submit(
        db, replace(NEW, account_id=8, snils="431-052-771 35", email="IVANOVA@example.ru")
    )
    assert isinstance(first, requests.Submitted) and isinstance(other, requests.Submitted)
    assert await _approve(db, first.request.id)
    with pytest.raises(requests.EmailHeld) as held:
        await _approve(db, other.request.id)
    assert held.value.holder_id == first.request.id
    async with db.read() as session:
        refused = await session.get(AccessRequest, other.request.id)
        events = (await session.scalars(select(RequestEvent.action))).all()
    assert refused is not None and refused.status == "submitted"  # nothing changed
    assert events.count("approved") == 1


async def test_the_same_person_may_use_one_address_for_two_roles(db: Database) -> None:
    first = await _submit(db, NEW)
    second = await _submit(db, replace(NEW, account_id=70, role="Куратор 1 уровня"))
    assert isinstance(first, requests.Submitted) and isinstance(second, requests.Submitted)
    assert await _approve(db, first.request.id)
    assert await _approve(db, second.request.id)  # same SNILS: the same person


async def _waiting_for_a_lock(db: Database) -> bool:
    async with db.read() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
    return bool(waiting)


async def test_two_people_approved_at_once_with_one_address(db: Database) -> None:
    """Two admins approve two people's requests with one address at the same moment, each in
    its own transaction: the first approval is made and not yet committed when the second
    runs. Exactly one stands. On PostgreSQL both pass the look-up of approved requests (the
    first is not committed): the e-mail claim's primary key decides; SQLite's one writer
    orders the two."""
    people = [
        await _submit(db, replace(NEW, account_id=20 + i, snils=snils))
        for i, snils in enumerate(("431-052-771 35", "006-012-788 00"))
    ]
    first, second = [r.request.id for r in people if isinstance(r, requests.Submitted)]
    first_decided, release_first = asyncio.Event(), asyncio.Event()

    async def approve(request_id: int, hold: bool) -> str:
        try:
            async with db.write() as session:
                approved = await requests.decide(
                    session, request_id, Status.APPROVED, actor_id=request_id
                )
                if hold:
                    first_decided.set()
                    await release_first.wait()  # commit only once the other has run
            return "approved" if approved else "lost"
        except requests.EmailHeld:
            return "held"

    task_first = asyncio.create_task(approve(first, hold=True))
    await first_decided.wait()
    task_second = asyncio.create_task(approve(second, hold=False))
    if not db.is_sqlite:  # the second runs now: it finishes, or waits for the first's claim
        async with asyncio.timeout(60):
            while True:
                if task_second.done() or await _waiting_for_a_lock(db):
                    break
                await asyncio.sleep(0.01)
    release_first.set()
    assert [await task_first, await task_second] == ["approved", "held"]
    async with db.read() as session:
        statuses = (await session.scalars(select(AccessRequest.status))).all()
    assert sorted(statuses) == ["approved", "submitted"]


async def test_export_leaves_out_an_address_two_people_hold(db: Database, tmp_path: Path) -> None:
    # Approved before the rule (written directly): two people, one address.
    mine = await _submit(db, NEW)
    theirs = await _submit(db, replace(NEW, account_id=8, snils="431-052-771 35"))
    fine = await _submit(db, replace(NEW, account_id=9, snils="006-012-788 00", email="p@x.ru"))
    ids = [r.request.id for r in (mine, theirs, fine) if isinstance(r, requests.Submitted)]
    for request_id in ids:
        async with db.write() as session:
            assert await requests.transition(
                session, request_id, Status.SUBMITTED, Status.APPROVED, actor_id=1, action="x"
            )
    made = await export.run_new(db, 1, tmp_path, "form")
    assert made.files is not None and made.files.request_ids == [ids[2]]
    assert [request_id for request_id, _ in made.marked] == [ids[2]]


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


async def test_a_rejected_request_does_not_hold_its_email(db: Database) -> None:
    result = await _submit(db, NEW)
    assert isinstance(result, requests.Submitted)
    other = await _submit(db, replace(NEW, account_id=8, snils="431-052-771 35"))
    assert isinstance(other, requests.Submitted)
    async with db.write() as session:
        await requests.decide(
            session, result.request.id, Status.REJECTED, actor_id=1, reason="опечатка в СНИЛС"
        )
    assert await _approve(db, other.request.id)


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
            session, request_id, NEW.account_id, {"snils": "112-233-445 95", "email": "x@y.ru"}
        )
    assert isinstance(fixed, requests.Submitted)
    assert fixed.request.snils == "112-233-445 95"
    assert fixed.request.email == NEW.email  # not returned, not changed
    assert await _approve(db, request_id)
    someone = await _submit(db, replace(NEW, account_id=8, snils="431-052-771 35"))
    assert isinstance(someone, requests.Submitted)
    with pytest.raises(requests.EmailHeld):  # the corrected SNILS holds the address now
        await _approve(db, someone.request.id)


def test_a_request_with_an_empty_column_or_no_role_for_a_matrix_post_is_refused() -> None:
    with pytest.raises(ValueError, match="snils"):
        replace(NEW, snils="")
    with pytest.raises(ValueError, match="role"):
        replace(NEW, role=None, role_level=None)
    typed = replace(NEW, position="Врач-онколог", position_in_matrix=False, role=None)
    assert typed.role is None  # a typed post: the admin picks the role


async def test_the_live_request_index_refuses_a_second_live_request(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index itself, on SQLite as on PostgreSQL. On SQLite the single writer runs two
    submits one after the other, so the second's check finds the first and the index is never
    reached: here the check is made blind, as when two submits both checked before either
    wrote, and the index alone must turn the second into «already open»."""
    first = await _submit(db, NEW)
    assert isinstance(first, requests.Submitted)

    real = requests.RequestRepository.find_live
    calls: list[int] = []

    async def blind_once(self: object, *args: object) -> AccessRequest | None:
        calls.append(1)
        if len(calls) == 1:  # the check before the insert: as if the other had not written yet
            return None
        return await real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(requests.RequestRepository, "find_live", blind_once)
    second = await _submit(db, replace(NEW, email="another@example.ru"))
    assert isinstance(second, requests.AlreadyOpen) and second.request.id == first.request.id
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AccessRequest)) == 1
    # Once the first has ended, a new live request for the same role is allowed again.
    monkeypatch.setattr(requests.RequestRepository, "find_live", real)
    async with db.write() as session:
        await requests.transition(
            session, first.request.id, Status.SUBMITTED, Status.REJECTED, actor_id=1, action="x"
        )
    assert isinstance(await _submit(db, NEW), requests.Submitted)
