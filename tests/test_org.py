"""Organisations' responsible persons (order No 922, items 2.1, 2.3): invited by an admin
bound to an organisation, or asking and approved; viewers invited; /org with its filters and
masking; confirmation by the organisation in each ORG_CONFIRMATION mode, a decline with a
reason, the ORG_CONFIRMATION_DAYS fallback on a controlled clock, two responsible persons
answering at once; the organisation's form; reminders before DEADLINE."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot import texts
from bot.outbound.org_desk import release_overdue
from bot.outbound.reminders import send_due
from db.database import Database
from db.models import (
    AccessRequest,
    Organization,
    RequestEvent,
    ResponsibleApplication,
    StaffEvent,
    StaffMember,
    utcnow,
)
from services.export.columns import COLUMNS
from services.role_matrix import RoleMatrix
from tests.conftest import ADMIN_ID
from tests.support.admin import ADMIN2_ID, ADMIN_CHAT, admin, cards, request_row, submitted
from tests.support.concurrency import TIMEOUT, Rendezvous, gate_writes
from tests.support.dialog_steps import POSITION, to_organization
from tests.support.harness import ChatUser, Harness, Sent
from tests.support.org import (
    ORG_A,
    ORG_B,
    RESP_A1,
    RESP_A2,
    RESP_B,
    org_harness,
    org_id,
    responsible,
)
from tests.test_export import snils

NEWCOMER = 881001
ASKER = 881002
FULL_SNILS = ("112-233-445 95", "11223344595")


async def submitted_to_b(h: Harness, user_id: int, snils: str, email: str) -> ChatUser:
    applicant = h.user(user_id)
    await to_organization(applicant, snils=snils, email=email)
    await applicant.send("ЦРБ Б")
    await applicant.press(f"2. {ORG_B}")
    await applicant.press("3. Главный врач")
    await applicant.press("Куратор 2 уровня")
    await applicant.press("📨 Отправить")
    return applicant


async def count_events(db: Database, action: str) -> int:
    async with db.read() as session:
        found = await session.scalar(
            select(func.count()).select_from(RequestEvent).where(RequestEvent.action == action)
        )
    return int(found or 0)


async def staff_events(db: Database) -> list[tuple[str, int | None, str | None, int | None]]:
    async with db.read() as session:
        rows = (await session.scalars(select(StaffEvent).order_by(StaffEvent.id))).all()
    return [(e.action, e.target_id, e.role, e.organization_id) for e in rows]


def card_copies(h: Harness) -> list[Sent]:
    """Each card in the admin chat once, as it is now (an edit is logged again)."""
    return list({c.message_id: c for c in cards(h)}.values())


def texts_in(h: Harness, chat_id: int) -> list[str]:
    return [h.session.messages[(s.chat_id, s.message_id)].plain for s in h.session.in_chat(chat_id)]


def invite_token(h: Harness) -> str:
    link = next(s.plain for s in reversed(h.session.in_chat(ADMIN_ID)) if "inv_" in s.plain)
    found = re.search(r"start=inv_(\S+)", link)
    assert found is not None
    return found.group(1)


# --- staff: responsible persons and viewers ----------------------------------------------------


async def test_an_admin_invites_a_responsible_person_bound_to_an_organisation(
    h: Harness, db: Database
) -> None:
    boss = admin(h)
    view = (await boss.send("/staff"))[-1]
    assert texts.BTN_INVITE_RESPONSIBLE in view.buttons
    assert texts.BTN_INVITE_VIEWER in view.buttons
    await boss.press(texts.BTN_INVITE_RESPONSIBLE)
    assert texts.STAFF_ORG_PROMPT.split(",")[0] in boss.last.plain
    await boss.send("/cancel")
    found = (await boss.send("/staff org условная црб"))[-1]
    assert ORG_A in found.buttons and ORG_B in found.buttons
    nothing = (await boss.send("/staff org нет такой больницы"))[-1]
    assert nothing.plain == texts.STAFF_ORG_NONE
    await boss.press_data(found, found.button_data(ORG_A) or "")
    assert boss.last_answer_text() == texts.INVITE_SENT_PRIVATELY
    assert not [t for t in texts_in(h, ADMIN_CHAT) if "inv_" in t]  # never in the group
    token = invite_token(h)
    assert ORG_A in texts_in(h, ADMIN_ID)[-1]
    newcomer = h.user(NEWCOMER, "Анна")
    welcome = (await newcomer.send(f"/start inv_{token}"))[-1]
    assert ORG_A in welcome.plain and "/org" in welcome.plain
    menus = [c for c in h.session.calls if type(c).__name__ == "SetMyCommands"]
    assert [c.command for c in menus[-1].commands][-1] == "org"
    assert menus[-1].scope.chat_id == NEWCOMER
    organization = await org_id(db)
    async with db.read() as session:
        member = await session.get(StaffMember, NEWCOMER)
    assert member is not None
    assert (member.role, member.organization_id) == ("responsible", organization)
    again = h.user(NEWCOMER + 1)
    assert (await again.send(f"/start inv_{token}"))[-1].plain == texts.INVITE_INVALID
    listed = (await boss.send("/staff"))[-1]
    assert f"ответственное лицо организации «{ORG_A}»" in listed.plain
    await boss.press(texts.btn_remove("Анна"))
    async with db.read() as session:
        assert await session.get(StaffMember, NEWCOMER) is None
    changes = await staff_events(db)
    assert ("invite_created", None, "responsible", organization) in changes
    assert ("invite_used", NEWCOMER, "responsible", organization) in changes
    assert ("removed", NEWCOMER, "responsible", organization) in changes
    assert (await newcomer.send("/org"))[-1].plain == texts.NO_ACCESS
    assert h.unanswered_callbacks() == []


async def test_an_admin_invites_a_viewer(h: Harness, db: Database) -> None:
    boss = admin(h)
    await boss.send("/staff")
    await boss.press(texts.BTN_INVITE_VIEWER)
    token = invite_token(h)
    assert "наблюдатель" in texts_in(h, ADMIN_ID)[-1]
    viewer = h.user(NEWCOMER, "Виктор")
    assert (await viewer.send(f"/start inv_{token}"))[-1].plain == texts.WELCOME_VIEWER
    async with db.read() as session:
        member = await session.get(StaffMember, NEWCOMER)
    assert member is not None and (member.role, member.organization_id) == ("viewer", None)
    assert ("invite_used", NEWCOMER, "viewer", None) in await staff_events(db)
    # A viewer decides nothing and sees no organisation's list.
    for command in ("/queue", "/org", "/staff", "/export"):
        assert (await viewer.send(command))[-1].plain == texts.NO_ACCESS, command
    listed = (await boss.send("/staff"))[-1]
    assert "Виктор" in listed.plain and "наблюдатель" in listed.plain
    added = (await boss.send(f"/staff add viewer {NEWCOMER + 5}"))[-1].plain
    assert added == texts.plain(texts.staff_added(NEWCOMER + 5, "viewer"))
    assert ("added", NEWCOMER + 5, "viewer", None) in await staff_events(db)
    # An admin opening a viewer's invite stays an admin.
    await boss.press(texts.BTN_INVITE_VIEWER)
    second = h.user(ADMIN2_ID, "Пётр")
    answer = (await second.send(f"/start inv_{invite_token(h)}"))[-1].plain
    assert answer == texts.plain(texts.invite_keeps_miac_role("admin"))
    async with db.read() as session:
        owner = await session.get(StaffMember, ADMIN2_ID)
    assert owner is not None and owner.role == "admin"


async def test_a_person_asks_and_an_admin_approves(h: Harness, db: Database) -> None:
    asker = h.user(ASKER, "<b>Нина</b> & Ко")  # a hostile Telegram name, shown as spelled
    assert "/responsible" in (await asker.send("/responsible"))[-1].plain
    found = (await asker.send("/responsible ЦРБ А"))[-1]
    assert ORG_A in found.buttons
    await asker.press(ORG_A)
    assert texts.APPOINTMENT_PROMPT in asker.last.plain  # the head's order (item 2.1)
    await asker.send("приказ № 45-к от 12.09.2022")
    await asker.send(kind="pdf")
    assert ORG_A in asker.last.plain  # what will be sent, before it is
    assert "приказ № 45-к от 12.09.2022" in asker.last.plain
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ResponsibleApplication)) == 0
    await asker.press(texts.BTN_APPLICATION_SEND)
    assert asker.last_answer_text() == texts.APPLICATION_FILED
    application = next(s for s in h.session.in_chat(ADMIN_CHAT) if "Запрос № 1" in s.plain)
    assert ORG_A in application.plain and "<b>Нина</b> & Ко" in application.plain
    assert "приказ № 45-к от 12.09.2022" in application.plain
    scan = [f for f in h.session.files if f.chat_id == ADMIN_CHAT]
    assert (
        len(scan) == 1
        and scan[0].file_id
        and scan[0].caption == (texts.application_scan_caption(1))
    )
    # Asking again while it waits: refused; asking gives no rights.
    await asker.send("/responsible ЦРБ А")
    await asker.press(ORG_A)
    await asker.send("№ 45-к от 12.09.2022")
    await asker.press(texts.BTN_APPLICATION_SEND)
    assert asker.last_answer_text() == texts.APPLICATION_PENDING
    assert (await asker.send("/org"))[-1].plain == texts.NO_ACCESS
    boss, other = admin(h), admin(h, ADMIN2_ID, "Пётр")
    _, approve = boss.find_button(texts.BTN_APPLICATION_APPROVE)
    card = h.session.messages[(ADMIN_CHAT, application.message_id)]
    await boss.press_data(card, approve)
    assert "назначен" in h.session.messages[(ADMIN_CHAT, application.message_id)].plain
    await other.press_data(card, card.button_data(texts.BTN_APPLICATION_DECLINE) or "")
    assert other.last_answer_text() == texts.APPLICATION_TAKEN
    assert ORG_A in texts_in(h, ASKER)[-1] and "/org" in texts_in(h, ASKER)[-1]
    organization = await org_id(db)
    async with db.read() as session:
        member = await session.get(StaffMember, ASKER)
    assert member is not None and member.organization_id == organization
    changes = await staff_events(db)
    assert ("application_filed", ASKER, "responsible", organization) in changes
    assert ("application_approved", ASKER, "responsible", organization) in changes
    assert h.unanswered_callbacks() == []


async def test_an_admin_declines_an_application(h: Harness, db: Database) -> None:
    asker = h.user(ASKER, "Нина")
    await asker.send("/responsible ЦРБ А")
    await asker.press(ORG_A)
    await asker.send("письмо № 12 от 01.09.2022")
    await asker.press(texts.BTN_APPLICATION_SEND)
    await admin(h).press(texts.BTN_APPLICATION_DECLINE)
    assert texts_in(h, ASKER)[-1] == texts.APPLICATION_DECLINED
    async with db.read() as session:
        assert await session.get(StaffMember, ASKER) is None
    assert ("application_declined", ASKER, "responsible", await org_id(db)) in await staff_events(
        db
    )


# --- confirmation by the organisation ----------------------------------------------------------


async def test_optional_card_at_once_then_the_first_confirmation(h: Harness, db: Database) -> None:
    for person in (RESP_A1, RESP_A2):
        await responsible(db, person)
    await responsible(db, RESP_B, ORG_B)
    await submitted(h)
    card = card_copies(h)[-1]
    assert "ждёт подтверждения организации" in card.plain
    assert texts.BTN_APPROVE in card.buttons  # the admin may decide meanwhile
    first, second = h.user(RESP_A1), h.user(RESP_A2)
    for person in (first, second):
        asked = person.last
        assert "Новая заявка" in asked.plain and "***-***-445 95" in asked.plain
        assert not any(s in asked.plain for s in FULL_SNILS) and "ivanova@" not in asked.plain
        assert asked.buttons == [texts.BTN_ORG_CONFIRM, texts.BTN_ORG_DECLINE]
    assert h.session.in_chat(RESP_B) == []  # another organisation's responsible person
    await first.press(texts.BTN_ORG_CONFIRM)
    assert first.last_answer_text() == texts.org_confirmed_done(1)
    assert first.last.buttons == []
    assert "подтверждена организацией" in card_copies(h)[-1].plain
    await second.press(texts.BTN_ORG_CONFIRM)
    assert second.last_answer_text() == texts.ORG_ALREADY
    assert await count_events(db, "org_confirmed") == 1
    row = await request_row(db)
    assert (row.org_confirmation, row.org_answered_by) == ("confirmed", RESP_A1)
    assert h.unanswered_callbacks() == []


async def test_a_decline_needs_a_reason_and_reaches_the_card_and_the_applicant(
    h: Harness, db: Database
) -> None:
    await responsible(db, RESP_A1)
    applicant = await submitted(h)
    person = h.user(RESP_A1)
    await person.press(texts.BTN_ORG_DECLINE)
    assert texts.ORG_REASON_PROMPT in person.last.plain
    assert (await person.reply("x" * 301))[-1].plain == texts.ORG_REASON_TOO_LONG
    newest = [s for s in h.session.log if s.chat_id == RESP_A1][-1]
    photo = await person.send(kind="photo", reply_to=newest)  # not a text: asked again
    assert photo[-1].plain == texts.ORG_REASON_EMPTY
    assert (await request_row(db)).org_confirmation == "awaiting"
    done = await person.reply("Не работает у нас <b>с 2025</b>")
    assert texts.org_declined_done(1) in [s.plain for s in done]
    row = await request_row(db)
    assert (row.org_confirmation, row.org_reason) == ("declined", "Не работает у нас <b>с 2025</b>")
    card = card_copies(h)[-1]
    assert "не подтверждена организацией: Не работает у нас <b>с 2025</b>" in card.plain
    assert texts.BTN_APPROVE in card.buttons  # the admin decides
    told = applicant.last.plain
    assert "не подтвердила заявку № 1" in told and "<b>с 2025</b>" in told
    asked = next(s for s in h.session.in_chat(RESP_A1) if "Новая заявка" in s.plain)
    assert h.session.messages[(RESP_A1, asked.message_id)].buttons == []
    await person.press_data(asked, asked.button_data(texts.BTN_ORG_CONFIRM) or "")
    assert person.last_answer_text() == texts.ORG_ALREADY
    assert h.unanswered_callbacks() == []


async def test_a_pending_decline_can_be_cancelled(h: Harness, db: Database) -> None:
    await responsible(db, RESP_A1)
    await submitted(h)
    person = h.user(RESP_A1)
    await person.press(texts.BTN_ORG_DECLINE)
    await person.press(texts.BTN_ORG_CANCEL)
    assert person.last_answer_text() == texts.ORG_REASON_CANCELLED
    await person.reply("причина после отмены")
    assert (await request_row(db)).org_confirmation == "awaiting"
    await person.press(texts.BTN_ORG_CONFIRM)
    assert (await request_row(db)).org_confirmation == "confirmed"


async def test_required_holds_the_card_until_confirmed(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        applicant = await submitted(h)
        assert card_copies(h) == []  # МИАЦ does not see it yet
        assert "Заявка № 1" in applicant.last.plain  # the applicant's confirmation went
        assert (await request_row(db)).org_card_held
        await h.user(RESP_A1).press(texts.BTN_ORG_CONFIRM)
        posted = card_copies(h)
        assert len(posted) == 1 and "подтверждена организацией" in posted[0].plain
        assert texts.BTN_APPROVE in posted[0].buttons
        assert not (await request_row(db)).org_card_held


async def test_required_decline_posts_the_card_with_the_reason(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        await submitted(h)
        person = h.user(RESP_A1)
        await person.press(texts.BTN_ORG_DECLINE)
        await person.reply("Другая должность")
        posted = card_copies(h)
        assert len(posted) == 1
        assert "не подтверждена организацией: Другая должность" in posted[0].plain
        assert "решите, одобрять ли заявку" in posted[0].plain


async def test_required_without_a_responsible_person_posts_at_once_saying_so(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_B, ORG_B)  # another organisation's
        await submitted(h)
        posted = card_copies(h)
        assert len(posted) == 1 and "у организации нет ответственного лица" in posted[0].plain
        assert h.session.in_chat(RESP_B) == []


async def test_off_asks_nobody(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="off") as h:
        await responsible(db, RESP_A1)
        await submitted(h)
        assert h.session.in_chat(RESP_A1) == []
        assert "подтверждение организации не требуется" in card_copies(h)[-1].plain
        # Nothing to answer in /org either.
        listing = (await h.user(RESP_A1).send("/org"))[-1]
        assert texts.BTN_ORG_CONFIRM + " № 1" not in listing.buttons


async def test_required_card_goes_out_after_the_days_once(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(
        db, role_matrix, database_url, org_confirmation="required", org_confirmation_days=3
    ) as h:
        settings = h.dp["settings"]
        await responsible(db, RESP_A1)
        await submitted(h)
        now = utcnow()
        assert await release_overdue(db, settings, now + timedelta(days=2, hours=23)) == 0
        await h.deliver()
        assert card_copies(h) == []
        later = now + timedelta(days=3, minutes=1)
        # Two workers at once: the card goes out once.
        results = await asyncio.gather(
            release_overdue(db, settings, later), release_overdue(db, settings, later)
        )
        assert sorted(results) == [0, 1]
        await h.deliver()
        posted = card_copies(h)
        assert len(posted) == 1 and "организация не ответила в срок" in posted[0].plain
        assert await release_overdue(db, settings, later + timedelta(days=1)) == 0
        # A late answer is still taken, and the card shows it.
        await h.user(RESP_A1).press(texts.BTN_ORG_CONFIRM)
        assert len(card_copies(h)) == 1
        assert "подтверждена организацией" in card_copies(h)[-1].plain
        assert await count_events(db, "org_overdue") == 1


async def test_two_responsible_persons_confirm_at_once(
    db: Database,
    role_matrix: RoleMatrix,
    database_url: str,
    organizations: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        for person in (RESP_A1, RESP_A2):
            await responsible(db, person)
        await submitted(h)
        first, second = h.user(RESP_A1, "Анна"), h.user(RESP_A2, "Борис")
        updates = []
        for person in (first, second):
            message, data = person.find_button(texts.BTN_ORG_CONFIRM)
            updates.append(person.callback_update(message, data)[0])
        # Both answers' transactions start together (on PostgreSQL they really overlap;
        # on SQLite the one writer takes them in turn): the conditional UPDATE decides.
        timeline: list[tuple[str, str]] = []
        both = Rendezvous(2)
        gate_writes(db, both, timeline)
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*(h.feed(u) for u in updates))
        assert len(both.arrived) >= 2
        assert await count_events(db, "org_confirmed") == 1
        answers = sorted(a for p in (first, second) for a in p.answers())
        assert answers == sorted([texts.org_confirmed_done(1), texts.ORG_ALREADY])
        posted = card_copies(h)
        assert len(posted) == 1 and "подтверждена организацией" in posted[0].plain
        assert h.unanswered_callbacks() == []


# --- /org ------------------------------------------------------------------------------------


async def test_org_lists_its_own_requests_masked_with_filters(h: Harness, db: Database) -> None:
    await responsible(db, RESP_A1)
    await responsible(db, RESP_B, ORG_B)
    await submitted(h, 1001)  # № 1: waits for the organisation
    await submitted(h, 1002, snils="431-052-771 35", email="petrova@example.ru")  # № 2
    await submitted(h, 1003, snils="006-012-788 00", email="smirnova@example.ru")  # № 3
    await submitted_to_b(h, 1004, snils(5), "other@example.ru")  # № 4, organisation Б
    boss = admin(h)
    for number, action in ((2, texts.BTN_APPROVE), (3, texts.BTN_RETURN)):
        card = next(c for c in card_copies(h) if f"Заявка № {number}" in c.plain)
        await boss.press_data(card, card.button_data(action) or "")
    card3 = next(c for c in card_copies(h) if "Заявка № 3" in c.plain)
    for button in ("▫️ Эл. почта", texts.BTN_NEXT):
        current = h.session.messages[(ADMIN_CHAT, card3.message_id)]
        await boss.press_data(current, current.button_data(button) or "")
    await boss.reply("Укажите рабочую почту")
    person = h.user(RESP_A1)
    listing = (await person.send("/org"))[-1]
    shown = listing.plain
    for number in (1, 2, 3):
        assert f"№ {number} —" in shown
    assert "№ 4 —" not in shown  # another organisation's
    assert "***-***-445 95" in shown and "***-***-771 35" in shown
    assert not any(s in shown for s in (*FULL_SNILS, "431-052-771", "@example.ru"))
    assert POSITION.split(" /")[0] in shown and "Куратор 2 уровня" in shown
    assert f"{texts.BTN_ORG_CONFIRM} № 1" in listing.buttons

    async def pick(name: str) -> str:
        await person.press(name)
        return person.last.plain

    waiting = await pick(texts.ORG_FILTERS["wait"])
    # № 2 was approved before the organisation answered; № 3 was returned: it still waits.
    assert "№ 1 —" in waiting and "№ 3 —" in waiting and "№ 2 —" not in waiting
    returned = await pick(texts.ORG_FILTERS["ret"])
    assert "№ 3 —" in returned and "№ 1 —" not in returned
    approved = await pick(texts.ORG_FILTERS["appr"])
    assert "№ 2 —" in approved and "№ 1 —" not in approved
    gaps = await pick(texts.ORG_FILTERS["gap"])
    assert texts.ORG_MATRIX_LABEL.lower() in gaps and POSITION not in gaps
    # A medical organisation's own posts only, not the region's.
    assert "Сотрудник организационно-методического отдела ОД/ЦРБ/МО" in gaps
    assert "Руководитель / заместитель руководителя онкологического диспансера" in gaps
    assert "Вице-губернатор" not in gaps and "Министр" not in gaps
    other = (await h.user(RESP_B).send("/org"))[-1].plain
    assert "№ 4 —" in other and "№ 1 —" not in other and "445 95" not in other
    assert h.unanswered_callbacks() == []


async def test_org_pages(h: Harness, db: Database) -> None:
    await responsible(db, RESP_A1)
    for n in range(7):
        await submitted(h, 3000 + n, snils=snils(n), email=f"user{n}@example.ru")
    person = h.user(RESP_A1)
    first = (await person.send("/org"))[-1]
    assert "стр. 1 из 2" in first.plain and "№ 7 —" in first.plain and "№ 2 —" not in first.plain
    await person.press("▶️")
    assert "стр. 2 из 2" in person.last.plain and "№ 1 —" in person.last.plain


async def test_another_organisations_responsible_person_can_do_nothing(
    h: Harness, db: Database
) -> None:
    await responsible(db, RESP_A1)
    await responsible(db, RESP_B, ORG_B)
    await submitted(h)
    asked, confirm = h.user(RESP_A1).find_button(texts.BTN_ORG_CONFIRM)
    decline = asked.button_data(texts.BTN_ORG_DECLINE) or ""
    intruder = h.user(RESP_B)
    for data in (confirm, decline):
        replay = Sent(RESP_B, asked.message_id, asked.html, asked.plain, [], asked.markup)
        h.session.messages[(RESP_B, asked.message_id)] = replay
        sent = await intruder.press_data(replay, data)
        assert intruder.last_answer_text() == texts.ORG_NOT_YOURS
        assert not [s for s in sent if "Иванова" in s.plain or "445 95" in s.plain]
    row = await request_row(db)
    assert (row.org_confirmation, row.org_answered_by) == ("awaiting", None)
    stranger = h.user(777002)
    assert (await stranger.send("/org"))[-1].plain == texts.NO_ACCESS


# --- the organisation's form --------------------------------------------------------------------


async def test_the_form_has_the_nine_columns_masked_and_a_signature_line(
    h: Harness, db: Database
) -> None:
    await responsible(db, RESP_A1)
    person = h.user(RESP_A1)
    await person.send("/org")
    await person.press(texts.BTN_ORG_XLSX)
    assert person.last_answer_text() == texts.ORG_XLSX_EMPTY
    await submitted(h)
    await submitted(h, 1002, snils="431-052-771 35", email="petrova@example.ru")
    await submitted_to_b(h, 1004, snils(5), "other@example.ru")
    await person.press(texts.BTN_ORG_XLSX)
    sent = [f for f in h.session.files if f.chat_id == RESP_A1]
    assert len(sent) == 1 and sent[0].filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(sent[0].data)).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(rows[0]) == COLUMNS
    assert rows[1][:4] == ["1", "***-***-445 95", "Иванова Мария Петровна", "скрыт"]
    assert rows[2][1] == "***-***-771 35" and len(rows) == 5  # header, 2 requests, gap, line
    assert rows[1][6] == ORG_A and rows[1][8] == "Куратор 2 уровня"
    assert all(ORG_B not in str(cell) for row in rows for cell in row)
    signature = [cell for cell in rows[4] if cell]
    assert signature == list(texts.ORG_FORM_SIGNATURE)
    assert not any(s in str(cell) for row in rows for cell in row for s in FULL_SNILS)
    assert not any("@" in str(cell) for row in rows for cell in row)
    # The export's look: text cells, A4 landscape, wrapped header.
    assert sheet["B2"].number_format == "@" and sheet["A1"].alignment.wrap_text
    assert sheet.page_setup.orientation == "landscape"


# --- reminders -------------------------------------------------------------------------------


async def test_reminders_reach_responsible_persons_of_organisations_without_requests(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    deadline = date(2026, 12, 20)
    async with org_harness(db, role_matrix, database_url, deadline=deadline) as h:
        await responsible(db, RESP_A1)  # organisation А will have a request
        await responsible(db, RESP_B, ORG_B)  # Б will not
        await submitted(h)
        settings: Any = h.dp["settings"]
        report = await send_due(db, h.dp.storage, settings, date(2026, 12, 17))
        again = await send_due(db, h.dp.storage, settings, date(2026, 12, 17))
        assert again.sent == 0 and again.skipped == report.sent
        await h.deliver()
        to_b = [t for t in texts_in(h, RESP_B) if "⏰" in t]
        assert len(to_b) == 1 and ORG_B in to_b[0] and "осталось 3 дня" in to_b[0]
        assert not [t for t in texts_in(h, RESP_A1) if "⏰" in t]


async def test_card_of_a_request_made_before_the_feature_shows_no_line(
    h: Harness, db: Database
) -> None:
    await submitted(h)
    async with db.write() as session:
        row = await session.get(AccessRequest, 1)
        assert row is not None
        row.org_confirmation = None
    await admin(h).send("/req 1")
    assert texts.ORG_LABEL + ":" not in card_copies(h)[-1].plain


async def test_a_withdrawal_erases_the_organisations_reason_too(h: Harness, db: Database) -> None:
    from services import consent

    await responsible(db, RESP_A1)
    await submitted(h)
    person = h.user(RESP_A1)
    await person.press(texts.BTN_ORG_DECLINE)
    await person.reply("Уволена 01.11, Иванова М.П.")
    async with db.write() as session:
        await consent.withdraw(session, 1001)
    row = await request_row(db)
    assert row.erased_at is not None and row.org_reason is None
    async with db.read() as session:
        reasons = [
            (e.details or {}).get("reason")
            for e in (await session.scalars(select(RequestEvent))).all()
        ]
    assert "Уволена 01.11, Иванова М.П." not in reasons
    # The erased request is no longer the organisation's to see.
    listing = (await person.send("/org"))[-1].plain
    assert "№ 1 —" not in listing


async def test_nobody_confirms_their_own_request(h: Harness, db: Database) -> None:
    await responsible(db, 1001)  # the applicant is the organisation's responsible person
    await responsible(db, RESP_A2)
    await submitted(h, 1001)
    mine = [s.plain for s in h.session.in_chat(1001) if "Новая заявка" in s.plain]
    assert mine == []  # not asked about their own
    assert "Новая заявка" in h.user(RESP_A2).last.plain
    owner = h.user(1001)
    listing = (await owner.send("/org"))[-1]
    assert "№ 1 —" in listing.plain and f"{texts.BTN_ORG_CONFIRM} № 1" not in listing.buttons
    asked, confirm = h.user(RESP_A2).find_button(texts.BTN_ORG_CONFIRM)
    replay = Sent(1001, asked.message_id, asked.html, asked.plain, [], asked.markup)
    h.session.messages[(1001, asked.message_id)] = replay
    await owner.press_data(replay, confirm)
    assert owner.last_answer_text() == texts.ORG_OWN_REQUEST
    assert (await request_row(db)).org_confirmation == "awaiting"


async def test_the_periodic_job_releases_held_cards(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    from bot.outbound.reminders import run_once

    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        await submitted(h)
        async with db.write() as session:
            row = await session.get(AccessRequest, 1)
            assert row is not None
            row.submitted_at = utcnow() - timedelta(days=4)  # the organisation kept silent
        assert await run_once(db, h.dp.storage, h.dp["settings"], "worker-1")
        assert not await run_once(db, h.dp.storage, h.dp["settings"], "worker-2")
        await h.deliver()
        posted = card_copies(h)
        assert len(posted) == 1 and "не ответила в срок" in posted[0].plain


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
async def test_the_form_prints_on_one_a4_landscape_page_in_libreoffice(tmp_path: Path) -> None:
    """Opened as a person would: LibreOffice lays the sheet out and prints it to PDF."""
    from services.export import org_form

    def person(snils_: str, name: str) -> AccessRequest:
        return AccessRequest(
            snils=snils_,
            full_name=name,
            email="x@example.ru",
            region="Костромская область",
            org_full_name="ОБРАЗЕЦ (не реальные данные) Областное государственное бюджетное "
            "учреждение здравоохранения «Условная центральная районная больница А»",
            org_short_name=ORG_A,
            component="ВИМИС ОНКО",
            role="Куратор 2 уровня",
        )

    rows = [person(snils(n), f"Сотрудник Номер {n}") for n in range(3)]
    data = await org_form.build(
        rows, texts.ORG_FORM_HIDDEN, texts.ORG_FORM_ROLE_PENDING, texts.ORG_FORM_SIGNATURE
    )
    (tmp_path / "form.xlsx").write_bytes(data)
    process = await asyncio.create_subprocess_exec(
        "soffice",
        f"-env:UserInstallation=file://{tmp_path}/profile",
        "--headless",
        "--convert-to",
        "pdf",
        "--outdir",
        str(tmp_path),
        str(tmp_path / "form.xlsx"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(120):
        assert await process.wait() == 0
    pdf = (tmp_path / "form.pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # one page
    sizes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)", pdf)
    assert sizes and float(sizes[0][0]) > float(sizes[0][1])  # landscape
    if shutil.which("pdftotext"):
        text = await asyncio.create_subprocess_exec(
            "pdftotext", "-layout", str(tmp_path / "form.pdf"), "-", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await text.communicate()
        printed = out.decode()
        assert "Руководитель" in printed and "(подпись)" in printed and "(ФИО)" in printed
        assert "***-***-" in printed and "скрыт" in printed and "Сотрудник Номер 2" in printed


async def test_a_declined_request_corrected_is_asked_again(h: Harness, db: Database) -> None:
    await responsible(db, RESP_A1)
    applicant = await submitted(h)
    person = h.user(RESP_A1)
    await person.press(texts.BTN_ORG_DECLINE)
    await person.reply("Почта не наша")
    boss = admin(h)
    for button in (texts.BTN_RETURN, "▫️ Эл. почта", texts.BTN_NEXT):
        await boss.press(button)
    await boss.reply("Укажите рабочую почту")
    await applicant.press("✏️ Исправить заявку № 1")
    await applicant.send("ivanova@crb-a.ru")
    await applicant.press("📨 Отправить")
    row = await request_row(db)
    assert (row.status, row.org_confirmation) == ("submitted", "awaiting")
    asks = [s for s in h.session.in_chat(RESP_A1) if "Новая заявка" in s.plain]
    assert len({s.message_id for s in asks}) == 2  # asked again, with buttons
    assert texts.BTN_ORG_CONFIRM in person.last.buttons
    await person.press(texts.BTN_ORG_CONFIRM)
    assert "подтверждена организацией" in card_copies(h)[-1].plain


async def test_a_confirmed_request_corrected_keeps_the_confirmation(
    h: Harness, db: Database
) -> None:
    await responsible(db, RESP_A1)
    applicant = await submitted(h)
    await h.user(RESP_A1).press(texts.BTN_ORG_CONFIRM)
    boss = admin(h)
    for button in (texts.BTN_RETURN, "▫️ Эл. почта", texts.BTN_NEXT):
        await boss.press(button)
    await boss.reply("Укажите рабочую почту")
    await applicant.press("✏️ Исправить заявку № 1")
    await applicant.send("ivanova@crb-a.ru")
    await applicant.press("📨 Отправить")
    assert (await request_row(db)).org_confirmation == "confirmed"
    asks = [s for s in h.session.in_chat(RESP_A1) if "Новая заявка" in s.plain]
    assert len({s.message_id for s in asks}) == 1


# --- review 5: the held card (ORG_CONFIRMATION=required) ----------------------------------------


async def _age(db: Database, days: int) -> None:
    async with db.write() as session:
        row = await session.get(AccessRequest, 1)
        assert row is not None
        row.submitted_at = utcnow() - timedelta(days=days)


async def test_required_withdrawn_request_is_not_posted_to_admins_after_the_days(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    """required: the applicant withdraws consent while the card is held; the expiry job must
    not post the (erased, cancelled) request's card to МИАЦ days later."""
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        applicant = await submitted(h)
        assert card_copies(h) == []
        await applicant.send("/my")
        await applicant.press(texts.BTN_WITHDRAW)
        await applicant.press(texts.BTN_WITHDRAW_CONFIRM)
        row = await request_row(db)
        assert row.status == "cancelled" and row.erased_at is not None
        assert not row.org_card_held
        await _age(db, 4)
        released = await release_overdue(db, h.dp["settings"])
        await h.deliver()
        assert released == 0, "a cancelled, erased request was released as overdue"
        assert card_copies(h) == []


async def test_required_request_that_left_submitted_is_not_reposted_as_overdue(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    """required: a held request leaves «submitted» (here: decided by a transition that does
    not go through the admins' guarded buttons); days later the expiry job must not post a
    card «организация не ответила в срок» for it."""
    from services import requests
    from services.requests import Status

    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        await submitted(h)
        async with db.write() as session:
            assert await requests.transition(
                session,
                1,
                Status.SUBMITTED,
                Status.REJECTED,
                actor_id=ADMIN_ID,
                action="rejected",
                reason="тест",
            )
        assert not (await request_row(db)).org_card_held
        await _age(db, 4)
        released = await release_overdue(db, h.dp["settings"])
        await h.deliver()
        assert released == 0, "a decided request was released as overdue"
        assert card_copies(h) == []


async def test_required_held_request_is_not_in_the_admins_queue(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    """required: «МИАЦ sees it only once confirmed»: not in /queue before the answer, in it
    after."""
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        await submitted(h)
        assert card_copies(h) == []
        boss = admin(h)
        queue = (await boss.send("/queue"))[-1]
        assert "Очередь пуста" in queue.plain and queue.buttons == [], queue.plain
        await h.deliver()
        await h.user(RESP_A1).press(texts.BTN_ORG_CONFIRM)
        queue = (await boss.send("/queue"))[-1]
        assert "Очередь пуста" not in queue.plain


async def test_required_held_request_opened_by_req_offers_no_decision(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    """required: /req of a held request shows the card saying it waits for the organisation,
    with no decision buttons; a forged «Одобрить» press is refused, saying why."""
    from bot.callbacks import AdminCb

    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        await submitted(h)
        boss = admin(h)
        card = (await boss.send("/req 1"))[-1]
        assert texts.WARN_HELD_FOR_ORG.split(":")[0] in card.plain
        assert card.buttons == [], card.buttons
        for action in ("approve", "reject", "return", "role"):
            await boss.press_data(card, AdminCb(action=action, request_id=1).pack())
            assert boss.last_answer_text() == texts.HELD_FOR_ORG_REFUSED
        row = await request_row(db)
        assert row.status == "submitted" and row.org_card_held
        # Confirmed: the copy opened by /req gets its decision buttons, the card is posted.
        await h.deliver()
        await h.user(RESP_A1).press(texts.BTN_ORG_CONFIRM)
        await h.deliver()
        opened = h.session.messages[(card.chat_id, card.message_id)]
        assert texts.BTN_APPROVE in opened.buttons
        assert texts.WARN_HELD_FOR_ORG.split(":")[0] not in opened.plain


# --- review 5: /staff with many responsible persons -----------------------------------------


async def test_staff_list_pages_many_responsible_persons(h: Harness, db: Database) -> None:
    """A region has hundreds of organisations, each with responsible persons: /staff shows
    them ten a page (one message stays within 4096 characters and 100 buttons), ◀️ ▶️ turn
    the pages, and a remove button removes the person and shows the same page again."""
    from services import staff
    from services.staff import StaffRole

    organization = await org_id(db)
    async with db.write() as session:
        for n in range(40):
            await staff.add(
                session,
                None,
                890000 + n,
                StaffRole.RESPONSIBLE,
                name=f"Ответственная Анна Петровна {n:02d}",
                organization_id=organization,
            )
    boss = admin(h)
    before = len(h.session.refusals)
    first = (await boss.send("/staff"))[-1]
    assert h.session.refusals[before:] == []
    assert "Сотрудники МИАЦ" in first.plain and "Страница 1 из" in first.plain
    assert len(first.buttons) <= 20
    shown = set(re.findall(r"Петровна (\d\d)", first.plain))
    for _ in range(5):
        if "▶️" not in first.buttons:
            break
        first = (await boss.press_data(first, first.button_data("▶️") or ""))[-1]
        assert h.session.refusals[before:] == []
        shown |= set(re.findall(r"Петровна (\d\d)", first.plain))
    assert shown == {f"{n:02d}" for n in range(40)}
    # Back to page 2 and remove someone listed there: page 2 again, without them.
    await boss.send("/staff")
    page2 = (await boss.press("▶️"))[-1]
    assert "Страница 2 из" in page2.plain
    victim = re.findall(r"Петровна (\d\d)", page2.plain)[0]
    remove = next(b for b in page2.buttons if f"Петровна {victim}" in b)
    after = (await boss.press_data(page2, page2.button_data(remove) or ""))[-1]
    assert "Страница 2 из" in after.plain and f"Петровна {victim}" not in after.plain
    async with db.read() as session:
        assert await staff.role_of(session, 890000 + int(victim)) is None


# --- review 5: erasure reaches the responsible person's chat ---------------------------------


async def test_withdrawal_erases_the_name_from_the_responsible_persons_ask(
    h: Harness, db: Database
) -> None:
    """After the applicant withdraws consent the admins' cards are rewritten, and so is the
    «Новая заявка» ask in the responsible person's chat: no name, position or masked SNILS,
    no buttons, one line saying the data were deleted."""
    from services import consent

    await responsible(db, RESP_A1)
    await submitted(h)
    await h.deliver()
    asked = [s for s in h.session.in_chat(RESP_A1) if "Иванова" in s.plain]
    assert asked and asked[-1].buttons
    async with db.write() as session:
        await consent.withdraw(session, 1001)
    await h.deliver()
    assert (await request_row(db)).erased_at is not None
    shown = [h.session.messages[(s.chat_id, s.message_id)] for s in h.session.in_chat(RESP_A1)]
    assert shown and not any("Иванова" in m.plain for m in shown), [m.plain for m in shown]
    assert texts.org_ask_erased(1) in [m.plain for m in shown]
    assert all(m.buttons == [] for m in shown)


# --- review 5: invites ---------------------------------------------------------------------


async def test_an_admin_opening_an_org_invite_does_not_burn_it(h: Harness, db: Database) -> None:
    """An admin taps the responsible person's link they just got (to check it, or by mistake
    on a phone): told «приглашение вашу роль не меняет», and the one-time invite stays for the
    organisation's person."""
    boss = admin(h)
    found = (await boss.send("/staff org условная црб"))[-1]
    await boss.press_data(found, found.button_data(ORG_A) or "")
    token = invite_token(h)
    own = h.user(ADMIN_ID, "Ольга")
    kept = (await own.send(f"/start inv_{token}"))[-1]
    assert kept.plain == texts.plain(texts.invite_keeps_miac_role("admin"))
    newcomer = h.user(881777, "Анна")
    welcome = (await newcomer.send(f"/start inv_{token}"))[-1]
    assert welcome.plain != texts.INVITE_INVALID
    async with db.read() as session:
        assert await session.scalar(
            select(StaffMember.organization_id).where(StaffMember.account_id == 881777)
        ) == await org_id(db)


# --- review 5: the command menu follows the role ------------------------------------------


def menus_of(h: Harness, chat_id: int) -> list[Any]:
    return [
        c
        for c in h.session.calls
        if type(c).__name__ in ("SetMyCommands", "DeleteMyCommands")
        and getattr(c.scope, "chat_id", None) == chat_id
    ]


async def test_an_invited_viewer_gets_the_figures_in_the_menu(h: Harness, db: Database) -> None:
    """A viewer gets /stats /coverage /report in their menu on joining (not only at the bot's
    next start); removed, the menu is the applicant's again (through the outbox)."""
    boss = admin(h)
    await boss.send("/staff")
    await boss.press(texts.BTN_INVITE_VIEWER)
    viewer = h.user(881888, "Виктор")
    assert (await viewer.send(f"/start inv_{invite_token(h)}"))[-1].plain == texts.WELCOME_VIEWER
    menus = menus_of(h, 881888)
    assert menus and type(menus[-1]).__name__ == "SetMyCommands"
    assert "report" in [c.command for c in menus[-1].commands]
    await boss.send("/staff remove 881888")
    await h.deliver()
    assert type(menus_of(h, 881888)[-1]).__name__ == "DeleteMyCommands"


async def test_an_approved_applicant_gets_org_in_the_menu(h: Harness, db: Database) -> None:
    asker = h.user(ASKER, "Нина")
    await asker.send("/responsible ЦРБ А")
    await asker.press(ORG_A)
    await asker.send("письмо № 12 от 01.09.2022")
    await asker.press(texts.BTN_APPLICATION_SEND)
    assert menus_of(h, ASKER) == []
    boss = admin(h)
    await boss.press(texts.BTN_APPLICATION_APPROVE)
    await h.deliver()
    menus = menus_of(h, ASKER)
    assert menus and "org" in [c.command for c in menus[-1].commands]


# --- review 5: one meaning of «no request» -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "has_request"),
    [
        ("submitted", True),
        ("returned", True),
        ("approved", True),
        ("access_granted", True),
        ("rejected", False),
        ("cancelled", False),
    ],
)
async def test_no_request_means_the_same_to_reminders_broadcast_and_report(
    h: Harness, db: Database, status: str, has_request: bool
) -> None:
    """The deadline reminders, /broadcast «организациям без заявок» and /report «Без заявки»
    agree on whether an organisation has a request (a rejected one is none)."""
    from services import broadcast, org_confirmation, report
    from services.broadcast import Audience

    await responsible(db, RESP_A1)
    await submitted(h)
    async with db.write() as session:
        row = await session.get(AccessRequest, 1)
        assert row is not None
        row.status = status
        organization = await session.get(Organization, row.organization_id)
        assert organization is not None
        name = organization.name_short or organization.name_full
    async with db.read() as session:
        reminded = {p for p, _ in await org_confirmation.responsible_without_requests(session)}
        broadcast_to = set(await broadcast.recipients(session, Audience.NO_REQUEST))
    settings = h.dp["settings"]
    listed = await report.collect(db, settings.region_name, date.today(), None)
    assert (RESP_A1 not in reminded) is has_request
    assert (RESP_A1 not in broadcast_to) is has_request
    assert (name not in listed.no_request) is has_request


async def test_org_filter_with_a_stale_page_shows_the_last_page(h: Harness, db: Database) -> None:
    """A filter's ▶️ made when the list was longer: the last page that exists, not an empty
    one past the end."""
    from bot.callbacks import OrgCb

    await responsible(db, RESP_A1)
    for n in range(7):
        await submitted(h, 3000 + n, snils=snils(n), email=f"user{n}@example.ru")
    person = h.user(RESP_A1)
    first = (await person.send("/org"))[-1]
    shown = (await person.press_data(first, OrgCb(action="all", page=9).pack()))[-1]
    assert "стр. 2 из 2" in shown.plain and "№ 1 —" in shown.plain
