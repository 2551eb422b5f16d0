"""The order's people on real paths (order No 922, items 2.1 and 2.3), done as people do it:
a reason typed as an ordinary message, a reply to the wrong message, an old button pressed
after МИАЦ decided, a name typed where the bot offered a button."""

from __future__ import annotations

import io
from html import unescape

from openpyxl import load_workbook
from sqlalchemy import select

from bot import texts
from db.database import Database
from services.role_matrix import RoleMatrix
from tests.support.admin import ADMIN_CHAT, admin, request_row, submitted
from tests.support.dialog_steps import to_organization
from tests.support.harness import Harness
from tests.support.org import ORG_A, ORG_B, RESP_A1, RESP_A2, org_harness, responsible
from tests.test_org import card_copies, texts_in


async def submitted_typed_position(h: Harness, user_id: int = 1001) -> None:
    """A request whose position is typed, not from the matrix: the role is МИАЦ's to pick."""
    applicant = h.user(user_id)
    await to_organization(applicant)
    await applicant.send("ЦРБ")
    await applicant.press(f"1. {ORG_A}")
    await applicant.press(texts.BTN_POSITION_OTHER)
    await applicant.send("Заведующий онкологическим кабинетом")
    await applicant.press(texts.BTN_SUBMIT)


# --- the reason for «Не подтверждаю», typed as people type it ----------------------


async def test_a_decline_reason_typed_as_an_ordinary_message_is_the_reason(
    h: Harness, db: Database
) -> None:
    await responsible(db, RESP_A1)
    await submitted(h)
    person = h.user(RESP_A1)
    await person.press(texts.BTN_ORG_DECLINE)
    # Not a reply: the next message in this private chat is the reason.
    done = await person.send("Не работает у нас с мая")
    assert texts.org_declined_done(1) in [s.plain for s in done]
    row = await request_row(db)
    assert (row.org_confirmation, row.org_reason) == ("declined", "Не работает у нас с мая")
    assert "не подтверждена организацией: Не работает у нас с мая" in card_copies(h)[-1].plain


async def test_a_decline_reason_replying_to_the_ask_not_the_prompt_is_the_reason(
    h: Harness, db: Database
) -> None:
    await responsible(db, RESP_A1)
    await submitted(h)
    person = h.user(RESP_A1)
    ask = next(s for s in h.session.in_chat(RESP_A1) if "Новая заявка" in s.plain)
    await person.press(texts.BTN_ORG_DECLINE)
    await person.send("Другая должность", reply_to=ask)  # a reply to the wrong message
    row = await request_row(db)
    assert (row.org_confirmation, row.org_reason) == ("declined", "Другая должность")


# --- the applicant is the organisation's only responsible person (item 2.3) ------------------


async def test_the_only_responsible_person_applying_is_named_so_on_the_card(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, 1001)  # the applicant themself
        await submitted(h, 1001)
        posted = card_copies(h)
        assert len(posted) == 1
        assert "у организации нет ответственного лица" not in posted[0].plain
        assert texts.ORG_STATES["only_applicant"] in posted[0].plain
        assert not [t for t in texts_in(h, 1001) if "Новая заявка" in t]
        assert (await request_row(db)).org_confirmation == "only_applicant"


async def test_the_other_responsible_persons_are_asked_not_the_applicant(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, 1001)
        await responsible(db, RESP_A2)
        await submitted(h, 1001)
        assert card_copies(h) == []  # held for RESP_A2's answer
        assert "Новая заявка" in h.user(RESP_A2).last.plain
        assert not [t for t in texts_in(h, 1001) if "Новая заявка" in t]


# --- ORG_CONFIRMATION=required: the last responsible person removed (item 2.3) ---------------


async def test_removing_the_last_responsible_person_releases_the_held_cards(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        applicant = await submitted(h)
        told = [t for t in texts_in(h, 1001) if "Заявка № 1" in t or "№ 1" in t][-1]
        assert "Специалисты МИАЦ рассмотрят её" not in told
        assert "подтверд" in told and "организаци" in told
        mine = (await applicant.send("/my"))[-1].plain
        assert texts.STATUS_HELD_FOR_ORG in mine and "на рассмотрении" not in mine
        assert card_copies(h) == []
        boss = admin(h)
        await boss.send(f"/staff remove {RESP_A1}")
        posted = card_copies(h)
        assert len(posted) == 1, "the held card stays held after its last responsible left"
        assert texts.ORG_STATES["responsible_gone"] in posted[0].plain
        assert texts.BTN_APPROVE in posted[0].buttons
        row = await request_row(db)
        assert not row.org_card_held and row.org_confirmation == "responsible_gone"
        mine = (await applicant.send("/my"))[-1].plain
        assert "на рассмотрении" in mine


async def test_removing_one_of_two_responsible_persons_keeps_the_card_held(
    db: Database, role_matrix: RoleMatrix, database_url: str, organizations: None
) -> None:
    async with org_harness(db, role_matrix, database_url, org_confirmation="required") as h:
        await responsible(db, RESP_A1)
        await responsible(db, RESP_A2)
        await submitted(h)
        await admin(h).send(f"/staff remove {RESP_A1}")
        assert card_copies(h) == []
        assert (await request_row(db)).org_card_held


# --- the form for the head's signature (item 2.3) --------------------------------------------


async def test_the_form_leaves_out_declined_requests_and_names_the_role_to_come(
    h: Harness, db: Database
) -> None:
    await responsible(db, RESP_A1)
    await submitted(h)  # № 1: the organisation declines it
    await submitted_typed_position(h, 1002)  # № 2: a typed position, no role yet
    person = h.user(RESP_A1)
    first, decline = person.find_button(texts.BTN_ORG_DECLINE)
    for sent in h.session.in_chat(RESP_A1):
        current = h.session.messages[(RESP_A1, sent.message_id)]
        if "№ 1" in current.plain and current.button_data(texts.BTN_ORG_DECLINE):
            first, decline = current, current.button_data(texts.BTN_ORG_DECLINE) or ""
    await person.press_data(first, decline)
    await person.send("Уволена")
    assert (await request_row(db)).org_confirmation == "declined"
    await person.send("/org")
    await person.press(texts.BTN_ORG_XLSX)
    sent = [f for f in h.session.files if f.chat_id == RESP_A1]
    sheet = load_workbook(io.BytesIO(sent[-1].data)).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    people = [r for r in rows[1:] if r[0]]
    assert len(people) == 1, people
    assert people[0][8] == texts.ORG_FORM_ROLE_PENDING


# --- «роль выбрал администратор» only when an admin did --------------------------------------


async def test_a_rejected_typed_position_does_not_say_an_admin_chose_the_role(
    h: Harness, db: Database
) -> None:
    await submitted_typed_position(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.DEFAULT_REJECT_REASONS[1])
    card = card_copies(h)[-1]
    assert (await request_row(db)).status == "rejected"
    assert texts.NOTE_POSITION_MANUAL_ROLE_SET not in card.plain
    assert texts.NOTE_POSITION_MANUAL_NO_ROLE in card.plain


# --- /mydata in words (152-FZ, art. 14) ------------------------------------------------------


async def test_mydata_names_the_organisations_confirmation_in_words(
    h: Harness, db: Database
) -> None:
    person = await submitted(h)  # no responsible person: `no_responsible`
    shown = unescape((await person.send("/mydata"))[-1].plain)
    assert "no_responsible" not in shown
    assert f"Подтверждение организации: {texts.ORG_STATES['no_responsible']}" in shown


# --- МИАЦ decided before the organisation answered (item 2.3) --------------------------------


async def test_the_ask_says_what_miac_decided_and_loses_its_buttons(
    h: Harness, db: Database
) -> None:
    await responsible(db, RESP_A1)
    await submitted(h)
    ask = next(s for s in h.session.in_chat(RESP_A1) if "Новая заявка" in s.plain)
    await admin(h).press(texts.BTN_APPROVE)
    card = card_copies(h)[-1]
    assert "ждёт подтверждения организации" not in card.plain
    now = h.session.messages[(RESP_A1, ask.message_id)]
    assert now.buttons == []
    assert "одобрена" in now.plain.lower() and "МИАЦ" in now.plain
    assert "❓ Задать вопрос" in now.plain  # how to tell МИАЦ they do not work there
    # The old button, pressed anyway, says what happened.
    person = h.user(RESP_A1)
    await person.press_data(ask, ask.button_data(texts.BTN_ORG_CONFIRM) or "")
    assert person.last_answer_text() == texts.org_decided_already(1, "approved")
    assert h.unanswered_callbacks() == []


# --- /staff → «➕ Ответственное лицо организации», then the name typed (item 2.1) -------------


async def test_the_organisation_typed_after_the_staff_button_is_searched(
    h: Harness, db: Database
) -> None:
    boss = h.user(900001, "Ольга")  # the admin, in their private chat
    await boss.send("/staff")
    await boss.press(texts.BTN_INVITE_RESPONSIBLE)
    nothing = (await boss.send("нет такой больницы"))[-1]
    assert texts.STAFF_ORG_NONE in nothing.plain  # and the same question again
    found = (await boss.send("условная црб"))[-1]
    assert ORG_A in found.buttons and ORG_B in found.buttons
    await boss.press_data(found, found.button_data(ORG_A) or "")
    assert any("inv_" in t for t in texts_in(h, 900001))


async def test_the_organisation_typed_in_the_admin_group_as_a_reply_is_searched(
    h: Harness, db: Database
) -> None:
    boss = admin(h)
    await boss.send("/staff")
    await boss.press(texts.BTN_INVITE_RESPONSIBLE)
    found = (await boss.reply("условная црб"))[-1]
    assert ORG_A in found.buttons
    assert h.unanswered_callbacks() == []


# --- the form signed by the head, sent back (item 2.3) -----------------------------------------


async def test_a_signed_form_sent_as_photos_reaches_only_the_admins(
    h: Harness, db: Database
) -> None:
    from db.models import OrgForm, OrgFormRequest

    await responsible(db, RESP_A1)
    await submitted(h)
    await submitted(h, 1002, snils="431-052-771 35", email="petrova@example.ru")
    person = h.user(RESP_A1)
    await person.send("/org")
    await person.press(texts.BTN_ORG_SIGNED)
    assert texts.ORG_SIGNED_PROMPT in person.last.plain
    # Typed text instead of a file, and a Word file: the same question again.
    assert texts.ORG_SIGNED_NEEDS_FILE in (await person.send("отправляю"))[-1].plain
    assert texts.ORG_SIGNED_NOT_PDF in (await person.send(kind="docx"))[-1].plain
    # Photos, page by page, then «Готово».
    await person.send(kind="scan")
    await person.send(kind="scan")
    assert texts.org_signed_page(2) in person.last.plain
    await person.press(texts.BTN_ORG_SIGNED_DONE)
    assert person.last.plain == texts.org_signed_saved([1, 2])
    async with db.read() as session:
        form = (await session.scalars(select(OrgForm))).one()
        covered = sorted((await session.scalars(select(OrgFormRequest.request_id))).all())
    assert covered == [1, 2] and form.account_id == RESP_A1
    assert [f["kind"] for f in form.files] == ["photo", "photo"]
    # Each covered card says it came; /orgform shows it to an admin.
    for number in (1, 2):
        card = next(c for c in card_copies(h) if f"Заявка № {number}" in c.plain)
        assert f"{texts.ORG_SIGNED_LABEL}: получена" in card.plain
        assert f"/orgform {form.id}" in card.plain
    boss = admin(h)
    await boss.send(f"/orgform {form.id}")
    shown = [f for f in h.session.files if f.chat_id == ADMIN_CHAT]
    assert [f.file_id for f in shown] == [f["file_id"] for f in form.files]
    assert shown[0].caption is not None and "№ 1, № 2" in shown[0].caption
    coverage = [s.plain for s in await boss.send("/coverage")]
    assert any("Подписанные формы" in t and ORG_A in t for t in coverage)
    # Nobody else sees it: not a viewer in /coverage, not anyone by /orgform.
    await person.send("/org")
    assert (await person.send(f"/orgform {form.id}"))[-1].plain == texts.NO_ACCESS
    assert h.unanswered_callbacks() == []
    assert h.session.refusals == []


async def test_a_viewer_sees_no_signed_forms_in_coverage(h: Harness, db: Database) -> None:
    from services import staff
    from services.staff import StaffRole

    await responsible(db, RESP_A1)
    await submitted(h)
    person = h.user(RESP_A1)
    await person.send("/org")
    await person.press(texts.BTN_ORG_SIGNED)
    await person.send(kind="pdf")  # a PDF is the whole form
    assert person.last.plain == texts.org_signed_saved([1])
    async with db.write() as session:
        await staff.add(session, None, 881999, StaffRole.VIEWER)
    viewer = h.user(881999, "Виктор")
    shown = [s.plain for s in await viewer.send("/coverage")]
    assert shown and texts.NO_ACCESS not in shown
    assert not any("Подписанные формы" in t or "/orgform" in t for t in shown)


async def test_a_signed_form_is_erased_with_a_request_it_covers(h: Harness, db: Database) -> None:
    from db.models import OrgForm, OrgFormRequest
    from services import consent

    await responsible(db, RESP_A1)
    await submitted(h)
    await submitted(h, 1002, snils="431-052-771 35", email="petrova@example.ru")
    person = h.user(RESP_A1)
    await person.send("/org")
    await person.press(texts.BTN_ORG_SIGNED)
    await person.send(kind="pdf")
    async with db.write() as session:
        await consent.withdraw(session, 1002)
    async with db.read() as session:
        assert (await session.scalars(select(OrgForm))).all() == []
        assert (await session.scalars(select(OrgFormRequest))).all() == []
    card = next(c for c in card_copies(h) if "Заявка № 1" in c.plain)
    await admin(h).send("/req 1")
    assert texts.ORG_SIGNED_LABEL not in card_copies(h)[-1].plain
    assert (await admin(h).send("/orgform 1"))[-1].plain == texts.ORGFORM_NOT_FOUND
    assert card is not None


# --- the head's appointment in an application (item 2.1) ---------------------------------------


async def test_an_application_asks_for_the_heads_appointment_and_the_card_shows_it(
    h: Harness, db: Database
) -> None:
    from db.models import ResponsibleApplication

    asker = h.user(881002, "Нина")
    await asker.send("/responsible ЦРБ А")
    await asker.press(ORG_A)
    assert texts.APPOINTMENT_PROMPT in asker.last.plain
    # No date: said so, and the same question again; a photo before the text: the same.
    assert texts.APPOINTMENT_NEEDS_DATE in (await asker.send("приказ 45-к"))[-1].plain
    assert texts.APPOINTMENT_EMPTY in (await asker.send(kind="photo"))[-1].plain
    await asker.send("приказ <b>№ 45-к</b> от 12.09.2022")
    assert texts.APPOINTMENT_SCAN in asker.last.plain
    # A text where the scan is asked: told how to go on.
    assert texts.APPOINTMENT_SCAN_NEEDED in (await asker.send("скана нет"))[-1].plain
    await asker.press(texts.BTN_APPLICATION_SEND_NO_SCAN)
    assert asker.last_answer_text() == texts.APPLICATION_FILED
    card = next(s for s in h.session.in_chat(ADMIN_CHAT) if "Запрос № 1" in s.plain)
    assert "приказ <b>№ 45-к</b> от 12.09.2022; скана нет" in card.plain
    assert [f for f in h.session.files if f.chat_id == ADMIN_CHAT] == []
    async with db.read() as session:
        row = (await session.scalars(select(ResponsibleApplication))).one()
    assert (row.appointment, row.appointment_file_id) == (
        "приказ <b>№ 45-к</b> от 12.09.2022",
        None,
    )
    # The old «Отправить» pressed again: nothing filed twice.
    message, data = asker.find_button(texts.BTN_APPLICATION_SEND_NO_SCAN)
    await asker.press_data(message, data)
    assert asker.last_answer_text() == texts.STALE_BUTTON
    assert h.unanswered_callbacks() == []
