"""МИАЦ's desks on MAX for people on Telegram: the operators' chain in the MAX group answering
a Telegram applicant (the answer, /close and its rating, an FAQ answer, files both ways), a
return decided on a card in the MAX admins' group for a Telegram applicant, and a responsible
person's application made on Telegram with a scan that must be fetched from Telegram and
uploaded to MAX."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram.methods import GetFile
from sqlalchemy import select

from bot import texts
from bot.config import Settings
from db.database import Database
from db.models import SupportRating, SupportThread
from services import staff
from services.accounts import Messenger, account_key
from services.requests import Status
from services.role_matrix import RoleMatrix
from services.staff import StaffRole
from tests.conftest import ADMIN_CHAT
from tests.support.admin import request_row, submitted
from tests.support.max_desk import (
    MAX_ADMIN,
    MAX_OPERATOR,
    GroupMember,
    add_staff,
    desk_settings,
    key,
    max_desks,
)
from tests.support.max_harness import MaxHarness
from tests.support.org import ORG_A, org_id
from tests.support.telegram_rules import NOT_MODIFIED, bad


def key_tg(user_id: int) -> int:
    """A Telegram account's key is its Telegram id (services/accounts.py)."""
    return account_key(Messenger.TELEGRAM, user_id)


TG_APPLICANT = 5301  # a Telegram account: the harness's Telegram bot talks to it
REFUSED_EDIT = bad(NOT_MODIFIED).description


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


async def test_a_telegram_question_answered_closed_and_rated_from_the_max_chain(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    await add_staff(mh, MAX_OPERATOR, StaffRole.OPERATOR)
    assert settings.max_support_chat_id is not None
    operator = GroupMember(mh, MAX_OPERATOR, settings.max_support_chat_id, "Оператор")
    me = mh.tg.user(TG_APPLICANT, "Мария")
    await me.send("/help")
    mark = operator.mark()
    await me.send("Как выбрать роль?")
    posted = operator.since(mark)
    header = next(r for r in posted if f"Telegram, id {TG_APPLICANT}" in (r.text or ""))
    question = next(r for r in posted if r.text == "Как выбрать роль?")
    assert question.link is not None and question.link["message"]["mid"] == header.mid

    # The operator's reply in the chain (to the question) reaches the person in Telegram.
    mark = len(mh.tg.session.log)
    await operator.send(
        "Выберите должность <из списка> & роль предложит бот", reply_to=question.mid
    )
    told = [s for s in mh.tg.session.log[mark:] if s.chat_id == TG_APPLICANT]
    assert [s.plain for s in told] == [
        texts.plain(texts.OPERATOR_ANSWER_LABEL),
        "Выберите должность <из списка> & роль предложит бот",
    ]
    assert texts.BTN_REPLY_OPERATOR in told[-1].buttons
    assert not [r for r in mh.mx.sent if r.chat_id == mh.mx.dialog_chat_id(TG_APPLICANT)]
    assert (await support_thread(db, key_tg(TG_APPLICANT))).waiting_since is None
    # The person answers it in Telegram: it comes back into the same MAX chain.
    await me.press(texts.BTN_REPLY_OPERATOR)
    mark = operator.mark()
    await me.send("Спасибо, а если должности нет в списке?")
    (back,) = [r for r in operator.since(mark) if "должности нет в списке" in (r.text or "")]
    assert back.link is not None and back.link["message"]["mid"] == header.mid

    # An FAQ answer picked inside the chain (/faq as a reply to the header).
    (picker,) = await operator.send("/faq", reply_to=header.mid)
    assert picker.text == texts.FAQ_PICK
    entry = "Какой адрес электронной почты указать?"
    mark = len(mh.tg.session.log)
    await operator.press_on(picker.mid, entry)
    told = "\n".join(s.plain for s in mh.tg.session.log[mark:] if s.chat_id == TG_APPLICANT)
    assert "Ответ специалиста МИАЦ" in told and entry in told and "Личный адрес" in told
    assert mh.mx.messages[picker.mid].text == texts.plain(texts.faq_sent(entry))

    # The operator closes the consultation inside the chain: the person in Telegram is asked
    # to rate, presses «5» there, and it is counted once.
    mark = len(mh.tg.session.log)
    closed = await operator.send("/close", reply_to=question.mid)
    assert [r.text for r in closed] == [texts.THREAD_CLOSED]
    (ask,) = [s for s in mh.tg.session.log[mark:] if s.chat_id == TG_APPLICANT]
    assert ask.plain == texts.APPLICANT_CLOSED and ask.buttons == ["1", "2", "3", "4", "5"]
    assert (await support_thread(db, key_tg(TG_APPLICANT))).status == "closed"
    await me.press("5")
    assert me.answers()[-1] == texts.RATING_THANKS
    assert mh.tg.session.messages[(TG_APPLICANT, ask.message_id)].buttons == []
    # A second tap on the same buttons (a slow client still showing them) counts nothing.
    await me.press_data(ask, ask.button_data("4") or "")
    assert me.answers()[-1] == texts.RATING_NOT_EXPECTED
    # Its keyboard was already gone: the edit Telegram refuses is swallowed by the handler.
    assert mh.tg.session.refusals == [REFUSED_EDIT]
    mh.tg.session.refusals.clear()
    async with db.read() as session:
        ratings = (await session.execute(select(SupportRating.user_id, SupportRating.rating))).all()
    assert [tuple(r) for r in ratings] == [(key_tg(TG_APPLICANT), 5)]
    assert not (await support_thread(db, key_tg(TG_APPLICANT))).awaiting_rating
    assert me.h.unanswered_callbacks() == []
    await mh.assert_clean(key_tg(TG_APPLICANT), key(MAX_OPERATOR))


# --- a return decided in the MAX admins' group, for a Telegram applicant -------------------


async def test_a_return_on_a_max_card_reaches_a_telegram_applicant_who_resubmits(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    applicant = await submitted(mh.tg, TG_APPLICANT)
    assert settings.max_admin_chat_id is not None
    olga = GroupMember(mh, MAX_ADMIN, settings.max_admin_chat_id, "Ольга")
    card = mh.mx.last_message(olga.chat_id)
    number = 1
    assert f"Заявка № {number}" in (card.text or "") and texts.BTN_RETURN in card.buttons
    assert mh.tg.session.in_chat(ADMIN_CHAT) == []  # no Telegram desk: the card is on MAX only
    card_mid = card.mid

    await olga.press(texts.BTN_RETURN)
    await olga.press("▫️ ФИО")
    await olga.press("▫️ Эл. почта")
    (prompt,) = await olga.press(texts.BTN_NEXT)
    assert "вернуть на доработку поля «ФИО, Эл. почта»" in (prompt.text or "")
    mark = len(mh.tg.session.log)
    done = await olga.send("Укажите ФИО <как в паспорте> & почту", reply_to=prompt.mid)
    assert texts.done_note(number, Status.RETURNED.value) in [r.text for r in done]

    # The notice in Telegram, with «Исправить заявку» under it.
    told = [s for s in mh.tg.session.log[mark:] if s.chat_id == TG_APPLICANT]
    (notice,) = [s for s in told if "возвращена на доработку" in s.plain]
    assert f"Заявка № {number} возвращена на доработку" in notice.plain
    assert "Укажите ФИО <как в паспорте> & почту" in notice.plain
    assert "ФИО, Эл. почта" in notice.plain
    assert texts.btn_fix(number) in notice.buttons
    assert not [r for r in mh.mx.sent if r.chat_id == mh.mx.dialog_chat_id(TG_APPLICANT)]
    assert texts.STATUS_NAMES["returned"] in (mh.mx.messages[card_mid].text or "")

    # The applicant corrects the two fields in Telegram and sends the request again.
    fixing = await applicant.press(texts.btn_fix(number))
    assert f"Исправление заявки № {number}" in fixing[-1].plain
    await applicant.send("Иванова-Петрова Мария Петровна")
    await applicant.send("m.ivanova@example.ru")
    sent = await applicant.press(texts.BTN_SUBMIT)
    assert "отправлена повторно" in "\n".join(s.plain for s in sent)
    row = await request_row(db, number)
    assert (row.status, row.full_name, row.email) == (
        Status.SUBMITTED.value,
        "Иванова-Петрова Мария Петровна",
        "m.ivanova@example.ru",
    )

    # The MAX group shows the request as it is now: a card at the bottom with the changes,
    # to be decided again; deciding it there reaches Telegram once more.
    fresh = mh.mx.last_message(olga.chat_id)
    assert fresh.mid != card_mid
    assert f"Заявка № {number} — {texts.STATUS_NAMES['submitted']}" in (fresh.text or "")
    assert "Исправлено после доработки" in (fresh.text or "")
    assert "ФИО: Иванова Мария Петровна → Иванова-Петрова Мария Петровна" in (fresh.text or "")
    assert "Мессенджер: Telegram" in (fresh.text or "")
    assert texts.BTN_APPROVE in fresh.buttons
    mark = len(mh.tg.session.log)
    await olga.press_on(fresh.mid, texts.BTN_APPROVE)
    assert (await request_row(db, number)).status == Status.APPROVED.value
    told = [s.plain for s in mh.tg.session.log[mark:] if s.chat_id == TG_APPLICANT]
    assert any(f"Заявка № {number} одобрена" in t for t in told), told
    await mh.assert_clean(key_tg(TG_APPLICANT), key(MAX_ADMIN))


# --- a responsible person's application made on Telegram, the admins' desk on MAX ----------

WOULD_BE = 5302
SCAN = b"\xff\xd8\xff\xe0 the appointment order, photographed"


async def test_an_appointment_scan_sent_on_telegram_is_uploaded_under_the_max_card(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    anna = mh.tg.user(WOULD_BE, "Анна")
    found = await anna.send("/responsible Условная ЦРБ А")
    assert ORG_A in found[-1].buttons
    await anna.press(ORG_A)
    scan_step = await anna.send("приказ № 45-к от 12.09.2022")
    assert scan_step[-1].plain == texts.plain(texts.APPOINTMENT_SCAN)
    confirm = await anna.send(kind="scan")
    assert confirm[-1].buttons == [texts.BTN_APPLICATION_SEND]
    (file_id,) = mh.tg.session.received_files
    mh.tg.session.file_contents[file_id] = SCAN
    assert settings.max_admin_chat_id is not None
    olga = GroupMember(mh, MAX_ADMIN, settings.max_admin_chat_id, "Ольга")
    mark = olga.mark()
    await anna.press(texts.BTN_APPLICATION_SEND)
    assert anna.answers()[-1] == texts.APPLICATION_FILED

    # The card in the MAX group, and under it the scan: fetched from Telegram (getFile, then
    # the download) and uploaded to MAX as an image, a reply to the card.
    posted = olga.since(mark)
    card = next(r for r in posted if texts.BTN_APPLICATION_APPROVE in r.buttons)
    assert "приказ № 45-к от 12.09.2022" in (card.text or "") and ORG_A in (card.text or "")
    # In a desk serving both messengers, the id is named with its messenger.
    assert f"(Telegram, id {WOULD_BE})" in (card.text or "")
    (scan,) = [r for r in posted if r.files]
    (upload,) = scan.files
    assert (upload.type, upload.content, upload.uploaded) == ("image", SCAN, True)
    assert scan.text == texts.application_scan_caption(1)
    assert scan.link is not None and scan.link["message"]["mid"] == card.mid
    assert mh.tg.session.downloads == [file_id]
    assert [c.file_id for c in mh.tg.session.calls if isinstance(c, GetFile)] == [file_id]
    assert mh.tg.session.files == []  # nothing sent to Telegram: no Telegram desk

    # Granted in the MAX group: the person is told in Telegram, and is responsible now.
    mark = len(mh.tg.session.log)
    await olga.press_on(card.mid, texts.BTN_APPLICATION_APPROVE)
    assert mh.mx.messages[card.mid].buttons == []  # decided: its buttons gone
    told = "\n".join(s.plain for s in mh.tg.session.log[mark:] if s.chat_id == WOULD_BE)
    assert texts.plain(texts.application_approved(ORG_A)) in told
    async with db.read() as session:
        role = await staff.role_of(session, key_tg(WOULD_BE))
        organization = await staff.organization_of(session, key_tg(WOULD_BE))
    assert (role, organization) == (StaffRole.RESPONSIBLE, await org_id(db))
    assert anna.h.unanswered_callbacks() == []
    await mh.assert_clean(key_tg(WOULD_BE), key(MAX_ADMIN))


SCREENSHOT = b"\x89PNG\r\n\x1a\n the portal's error, as the person saw it"
MEMO = b"%PDF-1.4\n% how to sign in to the portal\n%%EOF\n"


async def test_files_cross_the_max_chain_both_ways_for_a_telegram_person(
    mh: MaxHarness, settings: Settings, db: Database
) -> None:
    """A screenshot asked about on Telegram is fetched from Telegram and uploaded into the MAX
    chain; the operator's PDF in reply is fetched from MAX and uploaded to the person."""
    await add_staff(mh, MAX_OPERATOR, StaffRole.OPERATOR)
    assert settings.max_support_chat_id is not None
    operator = GroupMember(mh, MAX_OPERATOR, settings.max_support_chat_id, "Оператор")
    me = mh.tg.user(TG_APPLICANT, "Мария")
    await me.send("/help")
    mark = operator.mark()
    update = me.message_update("Портал пишет <ошибку> & не пускает", kind="scan")
    (file_id,) = mh.tg.session.received_files
    mh.tg.session.file_contents[file_id] = SCREENSHOT
    await mh.tg.feed(update)
    posted = operator.since(mark)
    header = next(r for r in posted if f"Telegram, id {TG_APPLICANT}" in (r.text or ""))
    (question,) = [r for r in posted if r.files]
    (upload,) = question.files
    assert (upload.type, upload.content) == ("image", SCREENSHOT)
    assert question.text == "Портал пишет <ошибку> & не пускает"
    assert question.link is not None and question.link["message"]["mid"] == header.mid
    assert mh.tg.session.downloads == [file_id]

    raw = mh.mx.push_message(
        MAX_OPERATOR,
        "Памятка <по входу> & шаги",
        chat_id=operator.chat_id,
        reply_to=question.mid,
        document="pamyatka.pdf",
        file_content=MEMO,
    )
    await mh.feed_raw(raw)
    (memo,) = [f for f in mh.tg.session.files if f.chat_id == TG_APPLICANT]
    assert (memo.kind, memo.filename, memo.data) == ("document", "pamyatka.pdf", MEMO)
    assert memo.file_id is None  # uploaded: a MAX file means nothing to Telegram
    assert memo.caption == "Памятка &lt;по входу&gt; &amp; шаги"
    assert memo.markup is not None and texts.BTN_REPLY_OPERATOR in str(memo.markup)
    assert (await support_thread(db, key_tg(TG_APPLICANT))).waiting_since is None
    await mh.assert_clean(key_tg(TG_APPLICANT), key(MAX_OPERATOR))
