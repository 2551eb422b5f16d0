"""A person's own data (/mydata), the audit of views (every path that shows staff a person's
full data writes one `viewed` event), /history showing them, and /retention for admins."""

from __future__ import annotations

from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot import texts
from bot.handlers.applicant import mydata as mydata_handler
from db.database import Database
from db.models import AccessRequest, ExportAudit, RequestEvent
from db.repositories import EventRepository
from services import mydata
from tests.conftest import ADMIN_ID, ROOT
from tests.support.admin import ADMIN_CHAT, admin, submitted
from tests.support.dialog_steps import POSITION
from tests.support.harness import Harness
from tests.test_cli import run_bot

OTHER = {"snils": "43105277135", "email": "petrova@example.ru"}
OTHER_NAME = "Петрова Анна Сергеевна"


async def views(db: Database) -> list[tuple[int, int | None, dict[str, Any] | None]]:
    async with db.read() as session:
        found = await session.scalars(
            select(RequestEvent).where(RequestEvent.action == "viewed").order_by(RequestEvent.id)
        )
        return [(e.request_id, e.actor_id, e.details) for e in found]


class InsertCounter:
    """INSERT statements into request_events on the database's write engine."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        self.engine = db.write_engine.sync_engine
        event.listen(self.engine, "before_cursor_execute", self.seen)

    def seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO REQUEST_EVENTS"):
            self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self.seen)


# --- /mydata --------------------------------------------------------------------------------


async def two_people(h: Harness, db: Database) -> None:
    await submitted(h, 1001)
    await submitted(h, 1002, **OTHER)
    async with db.write() as session:
        await session.execute(
            update(AccessRequest).where(AccessRequest.id == 2).values(full_name=OTHER_NAME)
        )


async def test_mydata_shows_every_stored_field_and_nothing_of_other_people(
    h: Harness, db: Database
) -> None:
    await two_people(h, db)
    boss = admin(h)
    await boss.send("/req 1")
    await boss.press(texts.BTN_APPROVE)
    person = h.user(1001)
    sent = await person.send("/mydata")
    text = unescape(sent[-1].plain)
    async with db.read() as session:
        mine = await session.get(AccessRequest, 1)
    assert mine is not None
    for column in mydata.REQUEST_FIELDS:
        value = getattr(mine, column)
        if isinstance(value, str) and value and column not in ("status", "org_confirmation"):
            assert value in text, column
        assert texts.MYDATA_FIELDS[column] in text, column
    assert texts.STATUS_NAMES["approved"] in text
    assert texts.ORG_STATES[str(mine.org_confirmation)] in text  # words, not the code
    assert POSITION in text and "112-233-445 95" in text and "ivanova@example.ru" in text
    assert texts.CONSENT_VERSION in text and "дано" in text
    # Who saw and changed it: roles, never names.
    assert texts.MYDATA_ROLE_NAMES["admin"] in text and "Ольга" not in text
    assert texts.view_via("req") in text and texts.EVENT_NAMES["approved"] in text
    # Nothing of the other person.
    for secret in ("431-052-771 35", "petrova@example.ru", OTHER_NAME, "Заявка № 2"):
        assert secret not in text, secret
    # The other person sees theirs, not the first one's.
    theirs = unescape((await h.user(1002).send("/mydata"))[-1].plain)
    assert "431-052-771 35" in theirs and OTHER_NAME in theirs
    assert "112-233-445 95" not in theirs and "ivanova@example.ru" not in theirs
    assert all(s.chat_id in (1001, 1002) for s in sent)


async def test_mydata_shows_the_first_question_kept_with_the_consultation(
    h: Harness, db: Database
) -> None:
    """A first question goes inside the support thread's header and is kept with the thread
    for the header's edits: the person sees it among what the bot keeps, as they typed it."""
    from tests.test_dialog_question import forum

    await forum(h, db)
    person = h.user(1001)
    await person.send("/help")
    await person.send("Где взять <код> МО & что делать?")
    text = (await person.send("/mydata"))[-1].plain  # as the person reads it
    assert "Ваш первый вопрос (хранится вместе с обращением):" in text
    assert "Где взять <код> МО & что делать?" in text  # as typed, not the header's HTML
    await person.send("/withdraw")
    await person.press(texts.BTN_WITHDRAW_CONFIRM)
    text = unescape((await person.send("/mydata"))[-1].plain)
    assert "Где взять" not in text and "Обращений в поддержку нет." in text


async def test_the_button_under_my_requests_and_a_file_when_long(
    h: Harness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await submitted(h, 1001)
    await person.send("/my")
    shown = await person.press(texts.BTN_MYDATA)
    assert "112-233-445 95" in shown[-1].plain
    assert h.unanswered_callbacks() == []
    monkeypatch.setattr(mydata_handler, "MESSAGE_LIMIT", 100)
    await person.send("/mydata")
    sent = [f for f in h.session.files if f.chat_id == 1001]
    assert [f.filename for f in sent] == [texts.MYDATA_FILE_NAME]
    body = sent[0].data.decode()
    assert "112-233-445 95" in body and "Иванова Мария Петровна" in body
    assert sent[0].caption == texts.MYDATA_FILE_NOTE


async def test_mydata_in_a_group_shows_nothing(h: Harness, db: Database) -> None:
    await submitted(h, 1001)
    member = h.member(1001, ADMIN_CHAT, "Мария")
    sent = await member.send("/mydata")
    assert not [s for s in sent if "112-233-445" in s.plain]


# --- the audit of views -----------------------------------------------------------------------


async def test_a_card_posted_and_refreshed_is_a_view(h: Harness, db: Database) -> None:
    await submitted(h, 1001)
    posted = await views(db)
    assert posted == [(1, None, {"via": "card", "chat_id": ADMIN_CHAT})]
    await admin(h).press(texts.BTN_APPROVE)
    refreshed = (await views(db))[1:]
    assert refreshed == [(1, None, {"via": "card", "chat_id": ADMIN_CHAT, "refresh": True})]


async def test_req_find_and_their_history(h: Harness, db: Database) -> None:
    for user_id, extra in ((1001, {}), (1002, OTHER), (1003, {"snils": "00601278800"})):
        await submitted(h, user_id, **({**extra, "email": f"u{user_id}@example.ru"}))
    boss = admin(h)
    before = len(await views(db))
    await boss.send("/req 2")
    assert (await views(db))[before:] == [(2, ADMIN_ID, {"via": "req"})]

    counter = InsertCounter(db)
    try:
        await boss.send("/find иванова")
    finally:
        counter.close()
    found = (await views(db))[before + 1 :]
    assert sorted(found) == [(n, ADMIN_ID, {"via": "find"}) for n in (1, 2, 3)]
    assert counter.count == 1  # one multi-row INSERT for the page, not one per row

    history = unescape((await boss.send("/history 2"))[-1].plain)
    assert texts.EVENT_NAMES["viewed"] in history
    assert texts.view_via("req") in history and texts.view_via("find") in history
    assert texts.view_via("card") in history and texts.VIEW_NOBODY in history


async def exports(db: Database) -> list[tuple[int | None, bool, str, int | None, list[int]]]:
    async with db.read() as session:
        found = await session.scalars(select(ExportAudit).order_by(ExportAudit.id))
        return [(x.actor_id, x.cli, x.selection, x.batch_id, x.request_ids) for x in found]


async def test_an_export_in_the_bot_and_on_the_command_line_is_one_audit_row(
    h: Harness, db: Database, database_url: str, tmp_path: Path
) -> None:
    boss = admin(h)
    for user_id, extra in ((1001, {}), (1002, OTHER)):
        await submitted(h, user_id, **extra)
        await boss.press(texts.BTN_APPROVE)
    before = len(await views(db))
    await boss.send("/export")
    await boss.send("/export all")
    result = run_bot(
        ["export", "--all", "--out", str(tmp_path / "all.csv")],
        {"DATABASE_URL": database_url},
        ROOT,
    )
    assert result.returncode == 0, result.stderr
    # No `viewed` or `reexported` event per request: one row per export says it all.
    assert [v for v in (await views(db))[before:] if (v[2] or {}).get("via") == "export"] == []
    async with db.read() as session:
        reexported = await session.scalars(
            select(RequestEvent).where(RequestEvent.action == "reexported")
        )
        assert reexported.all() == []
    assert await exports(db) == [
        (ADMIN_ID, False, "new", 1, [1, 2]),
        (ADMIN_ID, False, "all", None, [1, 2]),
        (None, True, "all", None, [1, 2]),
    ]

    # /history lists each export that carried the request, with who made it.
    history = unescape((await boss.send("/history 1"))[-1].plain)
    lines = history.split("\n")
    assert sum(texts.EVENT_NAMES["reexported"] in line for line in lines) == 2
    assert sum(texts.view_via("export") in line for line in lines) == 3
    assert texts.export_selection("all") in history and texts.VIEW_SERVER in history
    assert texts.EVENT_NAMES["exported"] in history  # the status change's own event
    # /mydata tells the person who received their data: roles, never names.
    mine = unescape((await h.user(1001).send("/mydata"))[-1].plain)
    mine_lines = [line for line in mine.split("\n") if line.startswith("  № 1,")]
    reexports = [line for line in mine_lines if texts.EVENT_NAMES["reexported"] in line]
    assert len(reexports) == 2
    assert any(texts.MYDATA_ROLE_NAMES["admin"] in line for line in reexports)
    assert any(texts.VIEW_SERVER in line for line in reexports)
    assert "Ольга" not in mine


# --- /retention -------------------------------------------------------------------------------


async def test_retention_tells_admins_what_is_due_and_when(h: Harness, db: Database) -> None:
    from datetime import timedelta

    from db.models import utcnow
    from services.requests import Status, decide

    await submitted(h, 1001)
    async with db.write() as session:
        assert await decide(session, 1, Status.REJECTED, actor_id=ADMIN_ID)
        await session.execute(
            update(AccessRequest).values(updated_at=utcnow() - timedelta(days=31))
        )
    sent = await admin(h).send("/retention")
    assert "Удалить сейчас: 1" in sent[-1].plain
    assert "30 дней" in sent[-1].plain


async def test_after_a_withdrawal_mydata_shows_what_was_erased_and_no_data(
    h: Harness, db: Database
) -> None:
    person = await submitted(h, 1001)
    await person.send("/withdraw")
    await person.press(texts.BTN_WITHDRAW_CONFIRM)
    text = unescape((await person.send("/mydata"))[-1].plain)
    assert "Уже удалено" in text and "№ 1" in text and "по отзыву согласия" in text
    assert "отозвано" in text  # the consent's withdrawal
    for gone in ("112-233-445 95", "ivanova@example.ru", "Иванова"):
        assert gone not in text


async def test_mydata_shows_no_address_of_another_person_with_the_same_snils(
    h: Harness, db: Database
) -> None:
    # The victim's request is approved: their address is claimed under their SNILS.
    await submitted(h, 1002, snils="43105277135", email="petrova@example.ru")
    await admin(h).press(texts.BTN_APPROVE)
    # Someone who knows the victim's SNILS types it into a request of their own …
    await submitted(h, 1001, snils="43105277135", email="attacker@example.ru")
    # … and asks what the bot keeps about them.
    text = unescape((await h.user(1001).send("/mydata"))[-1].plain)
    assert "petrova@example.ru" not in text
    assert "attacker@example.ru" in text
    own = unescape((await h.user(1002).send("/mydata"))[-1].plain)
    assert "Адреса эл. почты, закреплённые за вашим СНИЛС:\n  petrova@example.ru" in own


async def test_history_with_a_changed_snils_or_email_is_a_view(h: Harness, db: Database) -> None:
    await submitted(h, 1001)
    before = len(await views(db))
    await admin(h).send("/history 1")  # nothing personal changed yet: not a view
    assert len(await views(db)) == before
    async with db.write() as session:
        EventRepository(session).add(
            1,
            "resubmitted",
            actor_id=1001,
            details={"changes": {"email": ["old@example.ru", "ivanova@example.ru"]}},
        )
    shown = unescape((await admin(h).send("/history 1"))[-1].plain)
    assert "ivanova@example.ru" in shown and "old@example.ru" in shown
    after = await views(db)
    assert after[before:] == [(1, ADMIN_ID, {"via": "history"})]


async def test_an_export_older_than_the_request_did_not_carry_it(h: Harness, db: Database) -> None:
    """After a restore a request may get a number an export listed before: that export was
    another request's, and neither /history nor /mydata may say this one went out."""
    from datetime import timedelta

    from services import audit

    await submitted(h, 1001)
    async with db.write() as session:
        request = await session.get(AccessRequest, 1)
        assert request is not None
        created = request.created_at
        for at, selection in ((created - timedelta(days=1), "old"), (created, "all")):
            await audit.record_export(
                session,
                [1],
                actor_id=ADMIN_ID,
                cli=False,
                selection=selection,
                batch_id=None,
                files=None,
                at=at,
            )
    async with db.read() as session:
        seen = await audit.exports_of(session, {1: created})
    assert [x.selection for x in seen] == ["all"]
    history = unescape((await admin(h).send("/history 1"))[-1].plain)
    assert texts.export_selection("all") in history
    assert texts.export_selection("old") not in history
