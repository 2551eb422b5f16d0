"""МИАЦ's people on MAX, through the real dispatcher with the MAX harness: the operators'
chain in a MAX group (/close, the person's rating, an FAQ answer), an organisation's
responsible person (/org, /responsible), a viewer (/report, /stats, /coverage), and joining
the staff by a MAX deep link (`/staff` → invite → https://max.ru/<bot>?start=…)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot import texts
from bot.config import Settings
from db.database import Database
from db.models import SupportRating, SupportThread
from services import staff
from services.role_matrix import RoleMatrix
from services.snils import check_number, format_snils
from services.staff import StaffRole
from tests.conftest import ADMIN_CHAT, ADMIN_ID
from tests.e2e.max_standin import BOT_USERNAME
from tests.support.max_desk import (
    APPLICANT,
    MAX_ADMIN,
    MAX_OPERATOR,
    GroupMember,
    add_staff,
    desk_settings,
    key,
    max_desks,
    submit_on_max,
)
from tests.support.max_harness import MaxHarness, max_harness
from tests.support.org import ORG_A, RESP_A1, org_id, responsible


@pytest.fixture
def settings(database_url: str) -> Settings:
    return desk_settings(database_url)


@pytest.fixture
async def mh(
    db: Database, settings: Settings, role_matrix: RoleMatrix, organizations: None
) -> AsyncIterator[MaxHarness]:
    async with max_desks(db, settings, role_matrix) as harness:
        yield harness


async def support_thread(db: Database, account: int) -> SupportThread:
    async with db.read() as session:
        found = await session.get(SupportThread, account)
    assert found is not None
    return found


async def test_close_rating_and_an_faq_answer_in_the_max_support_chain(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    await add_staff(mh, MAX_OPERATOR, StaffRole.OPERATOR)
    assert settings.max_support_chat_id is not None
    operator = GroupMember(mh, MAX_OPERATOR, settings.max_support_chat_id, "Оператор")
    me = mh.person(APPLICANT)
    await me.send("/help")
    mark = operator.mark()
    await me.send("Как выбрать роль?")
    posted = operator.since(mark)
    question = next(r for r in posted if "Как выбрать роль?" in (r.text or ""))
    header = next(r for r in posted if f"MAX, id {APPLICANT}" in (r.text or ""))
    # A reply under the person's header: no topics on MAX.
    assert question.link is not None and question.link["message"]["mid"] == header.mid

    # An FAQ answer, picked inside the chain (/faq as a reply to its header).
    (picker,) = await operator.send("/faq", reply_to=header.mid)
    assert picker.text == texts.FAQ_PICK
    entry = "Какой адрес электронной почты указать?"
    mark = me.mark()
    await operator.press_on(picker.mid, entry)
    told = "\n".join(s.text for s in me.since(mark))
    assert "Ответ специалиста МИАЦ" in told and entry in told and "Личный адрес" in told
    assert mh.mx.messages[picker.mid].text == texts.plain(texts.faq_sent(entry))
    assert (await support_thread(db, me.key)).waiting_since is None
    # The person answers the FAQ answer on MAX: it comes into the same chain.
    await me.press(texts.BTN_REPLY_OPERATOR)
    mark = operator.mark()
    await me.send("Спасибо, а если адрес на .рф?")
    (reply,) = [r for r in operator.since(mark) if "адрес на .рф" in (r.text or "")]
    assert reply.link is not None and reply.link["message"]["mid"] in (header.mid, picker.mid)

    # The operator closes the consultation inside the chain (a reply to the person's
    # question): the person is asked to rate.
    mark = me.mark()
    closed = await operator.send("/close", reply_to=question.mid)
    assert [r.text for r in closed] == [texts.THREAD_CLOSED]
    (ask,) = me.since(mark)
    assert ask.text == texts.APPLICANT_CLOSED and ask.buttons == ["1", "2", "3", "4", "5"]
    assert (await support_thread(db, me.key)).status == "closed"
    again = await operator.send("/close", reply_to=question.mid)
    assert [r.text for r in again] == [texts.THREAD_ALREADY]

    # The person answers the rating on MAX: counted once, the buttons gone.
    await me.press("5")
    assert me.answer_text() == texts.RATING_THANKS
    assert me.current(ask) == texts.APPLICANT_CLOSED
    assert mh.mx.messages[ask.parts[0].mid].buttons == []
    async with db.read() as session:
        ratings = (await session.execute(select(SupportRating.user_id, SupportRating.rating))).all()
    assert [tuple(r) for r in ratings] == [(me.key, 5)]
    assert not (await support_thread(db, me.key)).awaiting_rating
    await mh.assert_clean(me.key, key(MAX_OPERATOR))


# --- joining by a MAX deep link -------------------------------------------------------------

LINK = re.compile(r"https://max\.ru/(\w+)\?start=(\S+)")


async def invite_link(mh: MaxHarness, olga: GroupMember, *presses: str) -> str:
    """The admin presses through /staff in the MAX admins' group; the link they get in their
    own MAX dialog, its start payload."""
    mark = len(mh.mx.sent)
    for label in presses:
        await olga.press(label)
    assert olga.answer_text() == texts.INVITE_SENT_PRIVATELY
    dialog = mh.mx.dialog_chat_id(MAX_ADMIN)
    (private,) = [r for r in mh.mx.sent[mark:] if r.chat_id == dialog]
    found = LINK.search(private.text or "")
    assert found is not None, private.text
    assert found.group(1) == BOT_USERNAME  # the MAX bot's own link, not t.me
    assert not [r for r in olga.since(mark) if found.group(2) in (r.text or "")]
    return found.group(2)


async def role_of(db: Database, user_id: int) -> tuple[StaffRole | None, int | None]:
    async with db.read() as session:
        return await staff.role_of(session, key(user_id)), await staff.organization_of(
            session, key(user_id)
        )


VIEWER = 910201
RESPONSIBLE = 910202


async def test_staff_invites_made_on_max_are_accepted_through_a_max_deep_link(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    assert settings.max_admin_chat_id is not None
    mh.mx.introduce(MAX_ADMIN, "Ольга")  # the admin's own dialog with the bot
    olga = GroupMember(mh, MAX_ADMIN, settings.max_admin_chat_id, "Ольга")
    listed = await olga.send("/staff")
    assert texts.BTN_INVITE_VIEWER in listed[-1].buttons
    payload = await invite_link(mh, olga, texts.BTN_INVITE_VIEWER)

    viewer = mh.person(VIEWER, "Пётр")
    welcome = await viewer.start(payload)  # MAX: bot_started with the link's payload
    assert [s.text for s in welcome] == [texts.WELCOME_VIEWER]
    assert await role_of(db, VIEWER) == (StaffRole.VIEWER, None)
    again = await mh.person(VIEWER + 1, "Иван").start(payload)  # one-time
    assert [s.text for s in again] == [texts.INVITE_INVALID]

    # A responsible person: the organisation asked for in the group (a reply on MAX).
    (prompt,) = await olga.press(texts.BTN_INVITE_RESPONSIBLE)
    assert texts.plain(texts.STAFF_ORG_PROMPT) in (prompt.text or "")
    found = await olga.send("Условная ЦРБ А", reply_to=prompt.mid)
    assert ORG_A in found[-1].buttons
    payload = await invite_link(mh, olga, ORG_A)
    person = mh.person(RESPONSIBLE, "Анна")
    welcome = await person.start(payload)
    assert [s.text for s in welcome] == [texts.plain(texts.welcome_responsible(ORG_A))]
    assert await role_of(db, RESPONSIBLE) == (StaffRole.RESPONSIBLE, await org_id(db))
    await mh.assert_clean(key(VIEWER), key(RESPONSIBLE), key(MAX_ADMIN))


# --- an organisation's responsible person on MAX --------------------------------------------

RESP = 910300
APPLICANT2 = 910101
PDF = b"%PDF-1.4\n% the form signed by the head\n%%EOF\n"


def other_snils(n: int) -> str:
    digits = f"{500_000_000 + n:09d}"
    return format_snils(digits + f"{check_number(digits):02d}")


async def in_org_a(mh: MaxHarness, settings: Settings, db: Database) -> tuple[int, int]:
    """Two MAX applicants of organisation A; their numbers."""
    org = {
        "organization_id": await org_id(db),
        "org_full_name": ORG_A,
        "org_short_name": ORG_A,
        "org_manual": False,
    }
    first = await submit_on_max(mh, settings, APPLICANT, **org)
    second = await submit_on_max(
        mh, settings, APPLICANT2, snils=other_snils(1), email="petrov@example.ru", **org
    )
    return first, second


def labels(record: Any) -> list[str]:
    return [str(b["text"]) for b in record.buttons]


async def test_org_filters_answers_and_the_heads_form_for_a_responsible_person_on_max(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    resp = mh.person(RESP, "Анна")
    await add_staff(mh, RESP, StaffRole.RESPONSIBLE, organization_id=await org_id(db))
    first, second = await in_org_a(mh, settings, db)
    asks = [s for s in resp.since(0) if "Новая заявка сотрудника" in s.text]
    assert len(asks) == 2 and asks[-1].buttons == [texts.BTN_ORG_CONFIRM, texts.BTN_ORG_DECLINE]

    # «Подтверждаю» on the newest ask (the second request).
    await resp.press(texts.BTN_ORG_CONFIRM)
    assert resp.answer_text() == texts.org_confirmed_done(second)
    assert mh.mx.messages[asks[-1].parts[-1].mid].buttons == []

    # /org and its filters, edited in place.
    (page,) = await resp.send("/org")
    assert f"№ {first}" in page.text and f"№ {second}" in page.text
    assert f"{texts.BTN_ORG_DECLINE} № {first}" in page.buttons
    assert f"{texts.BTN_ORG_DECLINE} № {second}" not in page.buttons  # answered
    page_mid = page.parts[-1].mid
    await resp.press(texts.ORG_FILTERS["wait"])
    waiting = mh.mx.messages[page_mid].text or ""
    assert texts.ORG_FILTERS["wait"] in waiting
    assert f"№ {first}" in waiting and f"№ {second}" not in waiting
    await resp.press(texts.ORG_FILTERS["gap"])
    assert texts.ORG_MATRIX_LABEL.lower() in (mh.mx.messages[page_mid].text or "")
    await resp.press(texts.ORG_FILTERS["all"])
    assert f"№ {second}" in (mh.mx.messages[page_mid].text or "")

    # «Не подтверждаю» from /org: the reason is the next message; the applicant is told.
    shown = await resp.press(f"{texts.BTN_ORG_DECLINE} № {first}")
    assert any(texts.ORG_REASON_PROMPT in s.text for s in shown)
    mark = len(mh.mx.sent)
    done = await resp.send("Не работает у нас <с 2025> & всё")
    assert done[0].text == texts.plain(texts.org_declined_done(first))
    dialog = mh.mx.dialog_chat_id(APPLICANT)
    told = [r.text or "" for r in mh.mx.sent[mark:] if r.chat_id == dialog]
    assert any("не подтвердила заявку" in t and "<с 2025> & всё" in t for t in told)
    assert f"{texts.BTN_ORG_DECLINE} № {first}" not in labels(mh.mx.messages[page_mid])

    # The form for the head's signature, as an XLSX uploaded to MAX.
    (form,) = await resp.press(texts.BTN_ORG_XLSX)
    (upload,) = form.parts[0].files
    assert upload.type == "file" and (upload.filename or "").endswith(".xlsx")
    assert form.text == texts.plain(texts.org_xlsx_caption(ORG_A, 1))  # not the declined one
    book = load_workbook(io.BytesIO(upload.content), read_only=True)
    cells = " ".join(str(c) for row in book.worksheets[0].iter_rows(values_only=True) for c in row)
    assert "Иванова Мария" in cells and "Руководитель" in cells

    # The signed form sent back as a PDF on MAX; an admin on MAX gets it with /orgform.
    (prompt,) = await resp.press(texts.BTN_ORG_SIGNED)
    assert prompt.text == texts.plain(texts.ORG_SIGNED_PROMPT)
    mark = resp.mark()
    await mh.feed_raw(mh.mx.push_message(RESP, document="forma.pdf", file_content=PDF))
    (saved,) = resp.since(mark)
    assert saved.text.startswith("Подписанная форма получена") and f"№ {second}" in saved.text
    assert settings.max_admin_chat_id is not None
    olga = GroupMember(mh, MAX_ADMIN, settings.max_admin_chat_id, "Ольга")
    cards = [m for m in mh.mx.messages.values() if m.chat_id == olga.chat_id]
    assert any(
        texts.ORG_SIGNED_LABEL in (m.text or "") and "/orgform 1" in (m.text or "") for m in cards
    )
    (sent,) = await olga.send("/orgform 1")
    (again,) = sent.files
    assert again.content == PDF and "№ 1" in (sent.text or "")
    await mh.assert_clean(resp.key, key(APPLICANT), key(APPLICANT2))


WOULD_BE = 910400


async def test_responsible_applied_for_on_max_with_a_scan_and_granted_in_the_max_group(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    anna = mh.person(WOULD_BE, "Анна")
    (found,) = await anna.send("/responsible Условная ЦРБ А")
    assert ORG_A in found.buttons
    prompt = await anna.press(ORG_A)
    assert texts.plain(texts.APPOINTMENT_PROMPT) in "\n".join(s.text for s in prompt)
    (scan_step,) = await anna.send("приказ № 45-к от 12.09.2022")
    assert scan_step.text == texts.plain(texts.APPOINTMENT_SCAN)
    (confirm,) = await anna.send_photo()
    assert confirm.buttons == [texts.BTN_APPLICATION_SEND]
    assert settings.max_admin_chat_id is not None
    olga = GroupMember(mh, MAX_ADMIN, settings.max_admin_chat_id, "Ольга")
    mark = olga.mark()
    await anna.press(texts.BTN_APPLICATION_SEND)
    assert anna.answer_text() == texts.APPLICATION_FILED

    # The application in the MAX admins' group, the scan (the person's MAX photo) under it.
    posted = olga.since(mark)
    card = next(r for r in posted if texts.BTN_APPLICATION_APPROVE in r.buttons)
    assert "приказ № 45-к от 12.09.2022" in (card.text or "") and ORG_A in (card.text or "")
    (scan,) = [r for r in posted if r.files]
    assert scan.files[0].type == "image" and scan.text == texts.application_scan_caption(1)
    assert scan.link is not None and scan.link["message"]["mid"] == card.mid

    mark = anna.mark()
    await olga.press(texts.BTN_APPLICATION_APPROVE)
    assert texts.BTN_APPLICATION_APPROVE not in labels(mh.mx.messages[card.mid])
    told = "\n".join(s.text for s in anna.since(mark))
    assert texts.plain(texts.application_approved(ORG_A)) in told
    assert await role_of(db, WOULD_BE) == (StaffRole.RESPONSIBLE, await org_id(db))
    (page,) = await anna.send("/org")  # the wing lets her in now
    assert ORG_A in page.text and texts.BTN_ORG_XLSX in page.buttons
    await mh.assert_clean(anna.key, key(MAX_ADMIN))


# --- a viewer on MAX --------------------------------------------------------------------------


async def test_report_stats_and_coverage_for_a_viewer_on_max(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    await in_org_a(mh, settings, db)
    viewer = mh.person(VIEWER, "Пётр")
    await add_staff(mh, VIEWER, StaffRole.VIEWER)

    report = await viewer.send("/report")
    text, chart, book = report
    assert texts.REPORT_TITLE in text.text and "(всего 2)" in text.text
    assert [(s.method, s.parts[0].files[0].type) for s in (chart, book)] == [
        ("SendPhoto", "image"),
        ("SendDocument", "file"),
    ]
    assert chart.parts[0].files[0].content.startswith(b"\x89PNG")
    workbook = load_workbook(io.BytesIO(book.parts[0].files[0].content), read_only=True)
    assert workbook.worksheets

    stats = await viewer.send("/stats")
    assert "Статистика заявок" in stats[0].text
    # The requests by day (nobody approved yet: no chart of organisations).
    assert [(s.method, s.parts[0].files[0].type) for s in stats[1:]] == [("SendPhoto", "image")]

    coverage = await viewer.send("/coverage")
    assert "Организации без одобренных пользователей" in coverage[0].text
    assert texts.ORG_SIGNED_LABEL not in "\n".join(s.text for s in coverage)  # admins only
    (sheet,) = [s for s in coverage if s.method == "SendDocument"]
    (upload,) = sheet.parts[0].files
    rows = load_workbook(io.BytesIO(upload.content), read_only=True).worksheets[0]
    assert any(ORG_A in str(r) for r in rows.iter_rows(values_only=True))
    # A viewer decides nothing: /export is refused on MAX as on Telegram.
    (refused,) = await viewer.send("/export")
    assert refused.text == texts.NO_ACCESS
    await mh.assert_clean(viewer.key)


async def test_a_signed_form_is_shown_in_the_admins_group_of_the_other_messenger(
    db: Database, database_url: str, role_matrix: RoleMatrix, organizations: None
) -> None:
    """During a move (or with МИАЦ's desk on Telegram alone) a responsible person on MAX
    sends the signed form: a MAX file id means nothing to Telegram, so /orgform in the
    Telegram group fetches the file from MAX and uploads it; a form sent on Telegram, asked
    for in the MAX group, says where it can be opened instead of failing silently."""
    settings = desk_settings(
        database_url, admin_chat_id=ADMIN_CHAT, admin_ids=[ADMIN_ID, key(MAX_ADMIN)]
    )
    async with max_desks(db, settings, role_matrix) as mh:
        resp = mh.person(RESP, "Анна")
        await add_staff(mh, RESP, StaffRole.RESPONSIBLE, organization_id=await org_id(db))
        await in_org_a(mh, settings, db)
        await resp.send("/org")
        await resp.press(texts.BTN_ORG_SIGNED)
        await mh.feed_raw(mh.mx.push_message(RESP, document="forma.pdf", file_content=PDF))
        olga = mh.tg.member(ADMIN_ID, ADMIN_CHAT, "Ольга")
        await olga.send("/orgform 1")
        (shown,) = mh.tg.session.files
        assert (shown.kind, shown.data, shown.chat_id) == ("document", PDF, ADMIN_CHAT)
        assert shown.caption is not None and "Подписанная форма № 1" in shown.caption

        # A form sent on Telegram; the MAX group cannot take a Telegram file.
        await responsible(db, RESP_A1)
        on_telegram = mh.tg.user(RESP_A1, "Пётр")
        await on_telegram.send("/org")
        await on_telegram.press(texts.BTN_ORG_SIGNED)
        await on_telegram.send("подписано", kind="pdf")
        assert settings.max_admin_chat_id is not None
        mx_admin = GroupMember(mh, MAX_ADMIN, settings.max_admin_chat_id, "Ольга")
        (told,) = await mx_admin.send("/orgform 2")
        assert told.text == texts.orgform_elsewhere(2, "Telegram")
        assert mh.tg.session.refusals == []
        await mh.assert_clean(resp.key)


async def test_an_appointment_scan_sent_on_max_reaches_the_admins_telegram_group(
    db: Database, database_url: str, role_matrix: RoleMatrix, organizations: None
) -> None:
    """MAX applicants, МИАЦ's desk on Telegram (the default): /responsible with a photo of
    the appointment on MAX — the scan is under the application's card in Telegram."""
    settings = desk_settings(database_url, admin_chat_id=ADMIN_CHAT, admin_ids=[ADMIN_ID])
    async with max_harness(db, settings, role_matrix) as mh:
        anna = mh.person(WOULD_BE, "Анна")
        await anna.send("/responsible Условная ЦРБ А")
        await anna.press(ORG_A)
        await anna.send("приказ № 45-к от 12.09.2022")
        await anna.send_photo()
        await anna.press(texts.BTN_APPLICATION_SEND)
        (card,) = [s for s in mh.tg.session.in_chat(ADMIN_CHAT) if "45-к" in s.plain]
        assert texts.BTN_APPLICATION_APPROVE in card.buttons
        (scan,) = mh.tg.session.files
        assert (scan.kind, scan.chat_id, scan.data) == (
            "photo",
            ADMIN_CHAT,
            b"standin file content",
        )
        assert scan.caption == texts.application_scan_caption(1)
        assert mh.tg.session.refusals == []
        await mh.assert_clean(anna.key)
