"""Withdrawal of consent (152-FZ): processing stops, the person's data is destroyed, and the
event log proves it; nobody else's data is touched, and the person may apply again."""

from __future__ import annotations

import asyncio
import itertools
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import DeleteForumTopic
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.config import Settings
from bot.fsm.storage import DatabaseStorage
from bot.outbound import cards as cards_module
from db.database import Database
from db.models import (
    AccessRequest,
    Base,
    Consent,
    Erasure,
    RelayedMessage,
    RequestEvent,
    SupportRating,
    SupportThread,
)
from db.repositories import EmailClaimRepository, EventRepository
from services import backup, consent, export, requests
from services.requests import Status
from tests.conftest import SUPPORT_CHAT_ID
from tests.support.admin import admin, cards, request_row, submitted
from tests.support.concurrency import WAITING_FOR_A_CONNECTION, parked_in
from tests.support.dialog_steps import to_organization
from tests.support.harness import Harness
from tests.test_dialog_question import forum
from tests.test_dialog_validation import key, state_of
from tests.test_requests_service import NEW

# What identifies the person of NEW and of the dialog steps, in every form it is stored in.
TRACES = ("112-233-445 95", "11223344595", "ivanova@example.ru", "Иванова", "иванова")


async def database_text(db: Database) -> str:
    """Every value in every table, as text: what a search of the database would find."""
    parts = []
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            parts += [repr(tuple(row)) for row in (await session.execute(select(table))).all()]
    return "\n".join(parts)


async def _submit(db: Database, new: requests.NewRequest) -> int:
    async with db.write() as session:
        result = await requests.submit(session, new)
    assert isinstance(result, requests.Submitted)
    return result.request.id


async def _move(db: Database, request_id: int, *path: Status) -> None:
    async with db.write() as session:
        for old, new in itertools.pairwise(path):
            assert await requests.transition(
                session, request_id, old, new, actor_id=1, action=new.value
            )


async def test_withdrawal_stops_processing_and_destroys_the_data(db: Database) -> None:
    mine = replace(NEW, consent_version="v1", consent_at=None)
    returned = await _submit(db, mine)
    approved = await _submit(db, replace(mine, role="Куратор 1 уровня"))
    exported = await _submit(db, replace(mine, role="Аналитик 1 уровня"))
    await _move(db, approved, Status.SUBMITTED, Status.APPROVED)
    await _move(db, exported, Status.SUBMITTED, Status.APPROVED, Status.EXPORTED)
    async with db.write() as session:
        # An admin's typed reason names the person; a correction once changed the address,
        # and the old address is still claimed.
        assert await requests.decide(
            session, returned, Status.RETURNED, actor_id=1, reason="Иванова, проверьте e-mail"
        )
        EventRepository(session).add(
            returned,
            "resubmitted",
            actor_id=NEW.account_id,
            details={"changes": {"email": ["old@example.ru", NEW.email], "position": ["a", "b"]}},
        )
        await EmailClaimRepository(session).take("old@example.ru", NEW.snils)
    someone_else = replace(NEW, account_id=8, snils="431-052-771 35", email="petrov@example.ru")
    other = await _submit(db, replace(someone_else, full_name="Петров Пётр", consent_version="v1"))

    async with db.write() as session:
        result = await consent.withdraw(session, NEW.account_id)

    assert result.cancelled == [returned, approved]  # the exported one reached the operator
    assert sorted(result.erased) == sorted([returned, approved, exported])
    statuses = {n: (await request_row(db, n)).status for n in (returned, approved, exported)}
    assert statuses == {returned: "cancelled", approved: "cancelled", exported: "exported"}
    text = await database_text(db)
    assert [t for t in (*TRACES, "old@example.ru") if t in text] == []
    assert "Петров Пётр" in text and "431-052-771 35" in text  # nobody else's data is touched
    async with db.read() as session:
        consents = (await session.scalars(select(Consent).order_by(Consent.id))).all()
        actions = [
            (e.request_id, e.action)
            for e in await session.scalars(select(RequestEvent).order_by(RequestEvent.id))
        ]
        scrubbed = await session.scalar(
            select(RequestEvent).where(RequestEvent.action == "resubmitted")
        )
        owners = {r.account_id for r in await session.scalars(select(AccessRequest))}
    assert [c.withdrawn_at is not None for c in consents] == [True, True, True, False]
    assert owners == {0, someone_else.account_id}  # erased rows belong to nobody
    for request_id in (returned, approved, exported):
        assert (request_id, "erased") in actions
    assert (returned, "consent_withdrawn") in actions and (other, "erased") not in actions
    assert scrubbed is not None and scrubbed.details == {
        "changes": {"email": [None, None], "position": ["a", "b"]}
    }

    async with db.write() as session:  # nothing more is sent about the person, nor to them
        assert exported not in [r.id for r in await export.select_again(session)]
        assert await export.grant(session, [exported], actor_id=1) == []
    assert (await request_row(db, exported)).status == "exported"

    # The same person may apply again with the same SNILS, address and role.
    assert await _submit(db, mine) > other


async def test_a_request_and_its_card_are_erased_from_the_chat(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    assert "112-233-445 95" in cards(h)[-1].plain
    my = await applicant.send("/my")
    assert texts.BTN_WITHDRAW in my[-1].buttons

    asked = await applicant.press(texts.BTN_WITHDRAW)
    assert asked[-1].plain.startswith("Отзыв согласия") and asked[-1].buttons == [
        texts.BTN_WITHDRAW_CONFIRM,
        texts.BTN_WITHDRAW_KEEP,
    ]
    done = await applicant.press(texts.BTN_WITHDRAW_CONFIRM)
    assert done[-1].plain == texts.withdrawn([1], [1])
    assert done[-2].buttons == []  # the question's buttons are gone

    row = await request_row(db)
    assert row.status == "cancelled" and row.erased_at is not None and row.snils == ""
    card = cards(h)[-1]
    assert texts.ERASED in card.plain and "112-233-445 95" not in card.plain
    assert card.buttons == []  # nothing left to decide
    if isinstance(h.dp.storage, DatabaseStorage):
        await h.dp.storage.flush()  # the dialog's data is in the database too
    text = await database_text(db)
    assert not [trace for trace in TRACES if trace in text]
    my = await applicant.send("/my")
    assert my[-1].plain == texts.MY_EMPTY  # erased requests belong to nobody
    assert h.unanswered_callbacks() == []


async def test_keeping_consent_changes_nothing(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    await applicant.send("/withdraw")
    sent = await applicant.press(texts.BTN_WITHDRAW_KEEP)
    assert sent[-1].plain == texts.WITHDRAW_KEPT
    row = await request_row(db)
    assert row.status == "submitted" and row.erased_at is None and row.snils == "112-233-445 95"
    assert h.unanswered_callbacks() == []


async def test_an_unfinished_request_is_forgotten(h: Harness, db: Database) -> None:
    applicant = h.user()
    await to_organization(applicant)  # SNILS, name and e-mail typed, nothing sent
    await applicant.send("/withdraw")
    done = await applicant.press(texts.BTN_WITHDRAW_CONFIRM)
    assert done[-1].plain == texts.withdrawn([], [])
    assert await state_of(h, applicant) is None
    assert await h.dp.storage.get_data(key(applicant)) == {}
    async with db.read() as session:
        consents = (await session.scalars(select(Consent))).all()
    assert consents == []  # consent is stored with a request: none was sent


async def test_the_consultation_topic_is_deleted(h: Harness, db: Database) -> None:
    await forum(h, db)
    applicant = await submitted(h)
    await applicant.press(texts.BTN_ASK)
    await applicant.send("Когда будет готов доступ? Моя фамилия Иванова.")
    async with db.read() as session:
        thread = await session.get(SupportThread, applicant.id)
    assert thread is not None and thread.topic_id is not None

    await applicant.send("/withdraw")
    await applicant.press(texts.BTN_WITHDRAW_CONFIRM)

    deleted = [c for c in h.session.calls if isinstance(c, DeleteForumTopic)]
    assert [(c.chat_id, c.message_thread_id) for c in deleted] == [
        (SUPPORT_CHAT_ID, thread.topic_id)
    ]
    async with db.read() as session:
        assert await session.get(SupportThread, applicant.id) is None
        assert (await session.scalars(select(AccessRequest))).one().erased_at is not None


async def test_two_people_with_exported_requests_of_one_role_can_both_withdraw(
    db: Database,
) -> None:
    # Their exported requests stay live and keep no SNILS: the one-live-request index must
    # leave erased requests out, or the second erasure would collide with the first.
    for person, snils in ((7, "112-233-445 95"), (8, "431-052-771 35")):
        request_id = await _submit(
            db, replace(NEW, account_id=person, snils=snils, email=f"{person}@example.ru")
        )
        await _move(db, request_id, Status.SUBMITTED, Status.APPROVED, Status.EXPORTED)
    for person in (7, 8):
        async with db.write() as session:
            assert len((await consent.withdraw(session, person)).erased) == 1
    async with db.read() as session:
        rows = (await session.scalars(select(AccessRequest))).all()
    assert [(r.status, r.snils, r.erased_at is not None) for r in rows] == [
        ("exported", "", True)
    ] * 2


async def test_an_old_confirmation_does_not_erase_a_newer_request(h: Harness, db: Database) -> None:
    applicant = h.user()
    await applicant.send("/withdraw")  # asked, then left unanswered
    question = applicant.last
    await submitted(h)  # consent given again, with a new request
    data = question.button_data(texts.BTN_WITHDRAW_CONFIRM)
    assert data is not None
    sent = await applicant.press_data(question, data)
    assert sent[-1].plain == texts.WITHDRAW_STALE
    row = await request_row(db)
    assert row.erased_at is None and row.status == "submitted"
    assert h.unanswered_callbacks() == []


async def test_a_card_posted_during_the_erasure_is_brought_up_to_date(
    h: Harness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The outbox renders the card, then the person withdraws while it is being sent: the
    # copy's record sees the change and refreshes it right behind the post.
    original = cards_module.render
    withdrawn = False

    async def withdraw_meanwhile(session: AsyncSession, request: AccessRequest) -> Any:
        nonlocal withdrawn
        shown = await original(session, request)
        if not withdrawn:
            withdrawn = True
            async with db.write() as other:
                await consent.withdraw(other, 1001)
        return shown

    monkeypatch.setattr(cards_module, "render", withdraw_meanwhile)
    await submitted(h)
    assert withdrawn
    card = cards(h)[-1]
    assert texts.ERASED in card.plain and "112-233-445 95" not in card.plain
    assert card.buttons == []


async def _wait_until_blocked(db: Database, task: asyncio.Task[None]) -> None:
    """Until `task` waits for the other transaction: on PostgreSQL for a row lock (the
    withdrawal's SELECT … FOR UPDATE behind the admin's uncommitted UPDATE); on SQLite for the
    single writer connection, which the admin's transaction holds until it commits, so the
    withdrawal cannot even read the request before then."""
    if db.is_sqlite:
        await parked_in(task, WAITING_FOR_A_CONNECTION)
        return
    async with asyncio.timeout(30):
        while True:
            await asyncio.sleep(0.01)  # polling PostgreSQL's view of waiting backends
            assert not task.done(), "the withdrawal did not wait for the admin's transaction"
            async with db.read() as session:
                waiting = await session.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                )
            if waiting:
                return


async def test_an_admin_decision_at_the_same_moment_never_leaves_an_erased_request_live(
    db: Database,
) -> None:
    number = await _submit(db, NEW)

    async def withdraw() -> None:
        async with db.write() as session:
            await consent.withdraw(session, NEW.account_id)

    # The worst order: the admin's approval is written but not committed when the
    # withdrawal starts, and commits while the withdrawal waits.
    decision = db.write()
    session = await decision.__aenter__()
    try:
        assert await requests.decide(session, number, Status.APPROVED, actor_id=1)
        withdrawing = asyncio.create_task(withdraw())
        await _wait_until_blocked(db, withdrawing)
    except BaseException:
        await decision.__aexit__(*sys.exc_info())
        raise
    await decision.__aexit__(None, None, None)  # the approval commits
    await asyncio.wait_for(withdrawing, 10)
    row = await request_row(db, number)
    # Never approved and waiting for an export with nothing in it.
    assert (row.status, row.erased_at is not None) == ("cancelled", True)


async def test_the_history_tells_what_happened_in_words(h: Harness, db: Database) -> None:
    applicant = await submitted(h)
    await applicant.send("/withdraw")
    await applicant.press(texts.BTN_WITHDRAW_CONFIRM)
    history = (await admin(h).send("/history 1"))[-1].plain
    assert texts.EVENT_NAMES["consent_withdrawn"] in history
    assert texts.EVENT_NAMES["erased"] in history
    assert "1001" not in history and "consent_withdrawn" not in history


async def test_support_ratings_and_relay_records_are_erased_with_proof(
    h: Harness, db: Database
) -> None:
    operator = await forum(h, db)
    applicant = await submitted(h)
    await applicant.press(texts.BTN_ASK)
    await applicant.send("Когда будет готов доступ?")
    async with db.read() as session:
        topic = (await session.get(SupportThread, applicant.id)).topic_id  # type: ignore[union-attr]
    await operator.send("Завтра", thread_id=topic)
    await operator.send("/close", thread_id=topic)
    await applicant.press("4")
    async with db.read() as session:
        assert (await session.scalars(select(SupportRating))).all() != []

    await applicant.send("/withdraw")
    await applicant.press(texts.BTN_WITHDRAW_CONFIRM)
    async with db.read() as session:
        assert (await session.scalars(select(SupportRating))).all() == []
        assert (await session.scalars(select(RelayedMessage))).all() == []
        proof = (await session.scalars(select(Erasure))).one()
    assert proof.account_id == applicant.id
    assert proof.details == {
        "requests": [1],
        "support_thread": True,
        # The question's copy in the topic; the answer's label and copy to the person.
        "relayed_messages": 3,
        "ratings": 1,
    }


async def test_declining_a_new_consent_leaves_the_earlier_one_and_says_how_to_withdraw(
    h: Harness, db: Database
) -> None:
    # «Не согласен(на)» answers the consent for a new request: the person declines that
    # request, not the consent given with the earlier ones (withdrawing that is /withdraw,
    # which warns what it destroys and asks once more).
    applicant = await submitted(h)
    await applicant.send("/new")
    await applicant.press(texts.BTN_ANOTHER_ROLE)
    sent = await applicant.press(texts.BTN_DISAGREE)
    assert sent[-1].plain.startswith("Без согласия")
    assert "/withdraw" in sent[-1].plain and "остаются в силе" in sent[-1].plain
    row = await request_row(db)
    assert row.status == "submitted" and row.erased_at is None
    async with db.read() as session:
        consents = (await session.scalars(select(Consent))).all()
    assert [(c.accepted, c.withdrawn_at) for c in consents] == [(True, None)]


async def test_a_withdrawal_that_finds_only_a_support_thread_is_journaled(
    h: Harness, db: Database, admin_settings: Settings, tmp_path: Path
) -> None:
    # Only a consultation thread (or requests already erased by retention): the withdrawal
    # destroys it and records an `erasures` row, but the journal gets nothing, so after a
    # restore of an older backup reapply-erasures brings nothing back to erase.
    admin_settings.erasure_journal = str(tmp_path / "erasures.jsonl")
    async with db.write() as session:
        session.add(
            SupportThread(user_id=1001, chat_id=SUPPORT_CHAT_ID, topic_id=None, title="Иванова")
        )
    person_ = h.user(1001)
    await person_.send("/withdraw")
    await person_.press(texts.BTN_WITHDRAW_CONFIRM)
    records = backup.journal_read(admin_settings.erasure_journal)
    assert [r.account_id for r in records] == [1001]
