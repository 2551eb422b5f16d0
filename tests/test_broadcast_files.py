"""Files for the order's items 4.2-4.3 (training and instructions): a broadcast carrying the
instruction or the training schedule, and the documents «📖 Инструкция» hands out (/docs),
each reaching a person on Telegram (sent again by its file id) and on MAX (fetched from
Telegram once, uploaded to MAX)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import escape
from typing import Any

import pytest
from aiogram.methods import GetFile, SendDocument, SendMessage
from sqlalchemy import select, update

from bot import texts
from db.database import Database
from db.models import BroadcastRecipient, GuideDocument, OutboxMessage, utcnow
from services import broadcast
from services.accounts import Messenger, account_key
from services.role_matrix import RoleMatrix
from services.staff import StaffRole
from tests.conftest import ADMIN2_ID, ADMIN_ID, make_settings
from tests.support.admin import ADMIN_CHAT, admin
from tests.support.harness import ChatUser, Harness, SentFile
from tests.support.max_harness import MaxHarness, MaxPerson, max_harness
from tests.test_report import add_staff

TG_PERSON = 5101
MAX_PEOPLE = (2001, 2002, 2003)
TEXT = 'Обучение 10.12 в 10:00 <b>не жирный</b> & "кавычки"'


@pytest.fixture
async def mh(
    db: Database, database_url: str, role_matrix: RoleMatrix, organizations: None
) -> AsyncIterator[MaxHarness]:
    settings = make_settings(
        database_url, admin_chat_id=ADMIN_CHAT, admin_ids=[ADMIN_ID, ADMIN2_ID]
    )
    async with max_harness(db, settings, role_matrix) as harness:
        yield harness


async def audience(mh: MaxHarness) -> list[MaxPerson]:
    """Responsible persons: one on Telegram, three on MAX."""
    await add_staff(mh.db, TG_PERSON, StaffRole.RESPONSIBLE, organization_id=1)
    people = []
    for number, user_id in enumerate(MAX_PEOPLE, 2):
        person = mh.person(user_id, f"Мария{number}")
        await add_staff(
            mh.db,
            account_key(Messenger.MAX, user_id),
            StaffRole.RESPONSIBLE,
            organization_id=number,
        )
        people.append(person)
    return people


async def preview(boss: ChatUser, text: str) -> None:
    await boss.send("/broadcast")
    await boss.press(texts.BROADCAST_AUDIENCES["responsible"])
    await boss.reply(text)


def files_to(h: Harness, chat_id: int) -> list[SentFile]:
    return [f for f in h.session.files if f.chat_id == chat_id]


def max_files(mh: MaxHarness, person: MaxPerson) -> list[tuple[str | None, bytes, str | None]]:
    """(file name, content, text) of every message with a file in the person's MAX dialog."""
    return [
        (f.filename, f.content, record.text)
        for record in mh.mx.sent
        if record.chat_id == mh.mx.dialog_chat_id(person.user_id)
        for f in record.files
    ]


async def test_a_file_on_the_preview_reaches_telegram_by_id_and_max_fetched_once(
    mh: MaxHarness,
) -> None:
    tg = mh.tg
    people = await audience(mh)
    boss = admin(tg)
    await preview(boss, TEXT)
    first_preview = boss.last
    assert texts.BTN_BROADCAST_FILE in first_preview.buttons
    await boss.press(texts.BTN_BROADCAST_FILE)
    assert texts.BROADCAST_ASK_FILE in boss.last.plain
    # A text where the file is awaited, then a file too big to cross: said, asked again.
    refused = await boss.send("вот файл", reply_to=boss.last)
    assert refused[-1].plain == texts.BROADCAST_NEED_FILE
    refused = await boss.send(kind="bigpdf", reply_to=boss.last)
    assert refused[-1].plain == texts.FILE_TOO_BIG
    shown = await boss.send(kind="pdf", reply_to=boss.last)
    file_id = next(iter(f for f in tg.session.received_files if f.startswith("pdf-")))
    again = shown[-1]
    assert again.plain.startswith("Предпросмотр рассылки")
    assert "📎 forma.pdf, 47 КБ" in again.plain and TEXT in again.plain
    assert texts.BTN_BROADCAST_FILE_REMOVE in again.buttons
    # The older preview's buttons went: the fresh one below is the one to press.
    assert tg.session.messages[(ADMIN_CHAT, first_preview.message_id)].buttons == []

    await boss.press(texts.BTN_BROADCAST_SEND)
    # Telegram: the admin's file by its id, the text (escaped) its caption.
    (sent,) = files_to(tg, TG_PERSON)
    assert (sent.kind, sent.file_id, sent.caption) == ("document", file_id, escape(TEXT))
    # MAX: fetched from Telegram once for the three, uploaded with the text under it.
    assert tg.session.downloads == [file_id]
    assert [c for c in tg.session.calls if isinstance(c, GetFile)] != []
    for person in people:
        assert max_files(mh, person) == [("forma.pdf", f"content of {file_id}".encode(), TEXT)]
    async with mh.db.read() as session:
        states = set(await session.scalars(select(BroadcastRecipient.state)))
    assert states == {"delivered"}
    await mh.assert_clean(*(p.key for p in people))


async def test_one_upload_to_max_then_the_same_file_by_the_id_max_gave_it(
    mh: MaxHarness,
) -> None:
    """One recipient after the other (the loop's lanes at a time: one): the first MAX
    recipient's upload gives the file a MAX id, which the others get it by."""
    tg = mh.tg
    tg.delivery.concurrency = 1
    people = await audience(mh)
    boss = admin(tg)
    await preview(boss, TEXT)
    await boss.press(texts.BTN_BROADCAST_FILE)
    await boss.send(kind="pdf", reply_to=boss.last)
    await boss.press(texts.BTN_BROADCAST_SEND)
    file_id = next(iter(f for f in tg.session.received_files if f.startswith("pdf-")))
    assert [u.filename for u in mh.mx.uploads] == ["forma.pdf"]
    assert tg.session.downloads == [file_id]
    for person in people:
        assert max_files(mh, person) == [("forma.pdf", f"content of {file_id}".encode(), TEXT)]
    await mh.assert_clean(*(p.key for p in people))


async def test_the_file_can_be_taken_off_and_cancel_keeps_the_preview(mh: MaxHarness) -> None:
    tg = mh.tg
    await audience(mh)
    boss = admin(tg)
    await preview(boss, "Расписание обучения")
    await boss.press(texts.BTN_BROADCAST_FILE)
    said = await boss.send("/cancel")
    assert said[-1].plain == texts.BROADCAST_FILE_KEPT
    await boss.press(texts.BTN_BROADCAST_FILE)
    prompt = boss.last
    # In the group, a photo that is not the reply: said how, and still awaited.
    past = await boss.send(kind="scan")
    assert "файл я жду ответом" in past[-1].plain
    await boss.send(kind="scan", reply_to=prompt)
    assert "📎 photo.jpg" in boss.last.plain
    off = await boss.press(texts.BTN_BROADCAST_FILE_REMOVE)
    assert boss.last_answer_text() == texts.BROADCAST_FILE_REMOVED
    assert "📎" not in off[-1].plain and texts.BTN_BROADCAST_FILE in off[-1].buttons
    # The preview with the file is no longer pressable; an old «Убрать файл» is stale.
    await boss.press_data(boss.last, "bc:unfile:1")
    assert boss.last_answer_text() == texts.BROADCAST_STALE
    await boss.press(texts.BTN_BROADCAST_SEND)
    assert files_to(tg, TG_PERSON) == []
    assert [
        c.text for c in tg.session.calls if isinstance(c, SendMessage) and c.chat_id == TG_PERSON
    ] == ["Расписание обучения"]


async def test_a_long_text_goes_before_the_file_and_a_fault_on_the_file_does_not_repeat_it(
    mh: MaxHarness,
) -> None:
    tg = mh.tg
    people = await audience(mh)
    long_text = "Расписание обучения & «кавычки». " * 60  # past a caption's 1024
    boss = admin(tg)
    await preview(boss, long_text)
    await boss.press(texts.BTN_BROADCAST_FILE)
    await boss.send(kind="pdf", reply_to=boss.last)
    tg.session.fail(SendDocument, TG_PERSON, "500", "429")
    await boss.press(texts.BTN_BROADCAST_SEND)
    for _ in range(2):  # the faults' backoff, skipped
        async with mh.db.write() as session:
            await session.execute(update(OutboxMessage).values(not_before=utcnow()))
        await mh.deliver()
    texts_sent = [
        c.text for c in tg.session.calls if isinstance(c, SendMessage) and c.chat_id == TG_PERSON
    ]
    assert texts_sent == [escape(long_text.strip())] or texts_sent == [escape(long_text)]
    (sent,) = files_to(tg, TG_PERSON)
    assert sent.caption is None
    for person in people:
        shown = [r for r in mh.mx.sent if r.chat_id == mh.mx.dialog_chat_id(person.user_id)]
        assert [bool(r.files) for r in shown] == [False, True]
    async with mh.db.read() as session:
        states = set(await session.scalars(select(BroadcastRecipient.state)))
        left = list(await session.scalars(select(OutboxMessage)))
    assert states == {"delivered"} and left == []


# --- /docs and «📖 Инструкция» ---------------------------------------------------------------


async def guide(person: ChatUser | MaxPerson) -> Any:
    if isinstance(person, ChatUser):
        await person.send("/start")
    else:
        await person.start()
    return await person.press(texts.BTN_GUIDE)


async def test_docs_add_replace_remove_and_the_applicant_gets_the_current_version(
    mh: MaxHarness,
) -> None:
    tg = mh.tg
    boss = admin(tg)
    listed = await boss.send("/docs")
    assert "Документов пока нет" in listed[-1].plain
    await boss.press(texts.BTN_DOCS_ADD)
    assert texts.DOCS_ASK_FILE in boss.last.plain
    assert (await boss.send("инструкция", reply_to=boss.last))[-1].plain == texts.DOCS_NEED_FILE
    assert (await boss.send(kind="bigpdf", reply_to=boss.last))[-1].plain == texts.FILE_TOO_BIG
    await boss.send(kind="pdf", reply_to=boss.last)
    assert texts.DOCS_ASK_TITLE in boss.last.plain
    title = "Инструкция <ВИМИС> & вход"
    added = await boss.send(title, reply_to=boss.last)
    assert texts.docs_added(title) in [s.html for s in added]
    assert f"1. «{title}» — 📎 forma.pdf, 47 КБ" in added[-1].plain
    first = next(f for f in tg.session.received_files if f.startswith("pdf-"))

    applicant = tg.user(1001)
    shown = await guide(applicant)
    assert texts.GUIDE_DOCUMENTS_FOLLOW in shown[0].plain
    (doc,) = files_to(tg, 1001)
    assert (doc.file_id, doc.caption) == (first, texts.guide_document(title))
    on_max = mh.person(2001)
    await guide(on_max)
    assert max_files(mh, on_max) == [("forma.pdf", f"content of {first}".encode(), f"📄 {title}")]

    # A new version: whoever opens the guide next gets it.
    await boss.press(texts.btn_docs_replace(1))
    await boss.send(kind="pdf", reply_to=boss.last)
    assert texts.docs_replaced(title) in [s.html for s in tg.session.in_chat(ADMIN_CHAT)[-2:]]
    second = sorted(f for f in tg.session.received_files if f.startswith("pdf-"))[-1]
    assert second != first
    await applicant.press(texts.BTN_GUIDE)
    assert [f.file_id for f in files_to(tg, 1001)] == [first, second]
    await on_max.press(texts.BTN_GUIDE)
    assert [content for _, content, _ in max_files(mh, on_max)] == [
        f"content of {first}".encode(),
        f"content of {second}".encode(),
    ]
    async with mh.db.read() as session:
        (row,) = await session.scalars(select(GuideDocument))
    assert row.title == title and row.file["file_id"] == second

    # Removed: the guide is its text alone; the list's old buttons are stale.
    old_list = boss.last
    await boss.press(texts.btn_docs_remove(1))
    assert boss.last_answer_text() == texts.DOCS_REMOVED
    assert "Документов пока нет" in boss.last.plain
    for label in (texts.btn_docs_remove(1), texts.btn_docs_replace(1)):
        data = old_list.button_data(label)
        assert data is not None
        await boss.press_data(old_list, data)
        assert boss.last_answer_text() == texts.STALE_BUTTON
    shown = await applicant.press(texts.BTN_GUIDE)
    assert texts.GUIDE_DOCUMENTS_FOLLOW not in shown[-1].plain
    assert len(files_to(tg, 1001)) == 2
    assert tg.unanswered_callbacks() == []
    await mh.assert_clean(on_max.key)


async def test_docs_cancel_and_a_stranger_gets_no_access(mh: MaxHarness) -> None:
    tg = mh.tg
    boss = admin(tg)
    await boss.send("/docs")
    await boss.press(texts.BTN_DOCS_ADD)
    assert (await boss.send("/cancel"))[-1].plain == texts.DOCS_CANCELLED
    stranger = tg.user(777)
    assert (await stranger.send("/docs"))[-1].plain == texts.NO_ACCESS
    async with mh.db.read() as session:
        assert list(await session.scalars(select(GuideDocument))) == []


def test_a_text_past_a_caption_in_utf16_units_goes_before_the_file() -> None:
    """Telegram counts a caption in UTF-16 units: 600 emoji are 1,200 of them."""
    file = {"messenger": "telegram", "kind": "document", "file_id": "f", "name": "a.pdf"}
    assert broadcast.payloads(1, "😀" * 600, file) == [
        {"broadcast_id": 1, "part": "text"},
        {"broadcast_id": 1, "part": "file", "file": file},
    ]
    assert broadcast.payloads(1, "&" * 204, file) == [{"broadcast_id": 1, "file": file}]
    assert len(broadcast.payloads(1, "&" * 205, file)) == 2  # «&amp;» is five
    assert broadcast.payloads(1, "😀" * 600, None) == [{"broadcast_id": 1}]


async def test_an_admin_on_max_adds_a_document_a_telegram_applicant_gets_it_uploaded(
    db: Database, database_url: str, role_matrix: RoleMatrix, organizations: None
) -> None:
    """The other way: a document sent to the bot on MAX, fetched from MAX's address once and
    uploaded to Telegram; MAX's own applicants get it by its MAX id."""
    boss_id = 3001
    boss_key = account_key(Messenger.MAX, boss_id)
    settings = make_settings(database_url, admin_ids=[ADMIN_ID, boss_key])
    async with max_harness(db, settings, role_matrix) as mh:
        boss = mh.person(boss_id, "Ольга")
        assert "Документов пока нет" in (await boss.send("/docs"))[-1].text
        await boss.press(texts.BTN_DOCS_ADD)
        content = "Инструкция МИАЦ".encode()
        raw = mh.mx.push_message(boss_id, document="инструкция.pdf", file_content=content)
        mark = boss.mark()
        await mh.feed_raw(raw)
        assert texts.DOCS_ASK_TITLE in boss.since(mark)[-1].text
        await boss.send("Инструкция")
        applicants = [mh.tg.user(1001), mh.tg.user(1002)]
        for applicant in applicants:
            await guide(applicant)
            (doc,) = files_to(mh.tg, applicant.id)
            assert (doc.filename, doc.data, doc.file_id) == ("инструкция.pdf", content, None)
        assert mh.tg.delivery.files.fetches == 1  # from MAX's address, once for both
        on_max = mh.person(2001)
        await guide(on_max)
        assert max_files(mh, on_max) == [("инструкция.pdf", content, "📄 Инструкция")]
        assert mh.mx.uploads == []  # sent on MAX by the id it has there
        await mh.assert_clean(on_max.key, boss.key)


async def test_an_id_the_other_messenger_refuses_is_dropped_and_the_file_uploaded(
    mh: MaxHarness,
) -> None:
    tg = mh.tg
    tg.delivery.concurrency = 1
    people = await audience(mh)
    boss = admin(tg)
    await preview(boss, TEXT)
    await boss.press(texts.BTN_BROADCAST_FILE)
    await boss.send(kind="pdf", reply_to=boss.last)
    file_id = next(iter(f for f in tg.session.received_files if f.startswith("pdf-")))
    kept = {"messenger": "telegram", "kind": "document", "file_id": file_id}
    tg.delivery.files.remember_crossed(kept, Messenger.MAX, "gone-token")
    await boss.press(texts.BTN_BROADCAST_SEND)
    for person in people:
        assert max_files(mh, person) == [("forma.pdf", f"content of {file_id}".encode(), TEXT)]
    # Refused once (nothing sent), then one upload whose id the others got it by.
    assert [e.code for e in mh.mx.errors if e.code != "attachment.not.ready"] == ["proto.payload"]
    assert len(mh.mx.uploads) == 1
    async with mh.db.read() as session:
        assert set(await session.scalars(select(BroadcastRecipient.state))) == {"delivered"}


async def test_a_new_version_of_a_document_removed_meanwhile_is_not_saved(
    mh: MaxHarness,
) -> None:
    tg = mh.tg
    boss, other = admin(tg), tg.member(ADMIN2_ID, ADMIN_CHAT, "Пётр")
    await boss.send("/docs")
    await boss.press(texts.BTN_DOCS_ADD)
    await boss.send(kind="pdf", reply_to=boss.last)
    await boss.send("Расписание обучения", reply_to=boss.last)
    listing = boss.last
    await boss.press(texts.btn_docs_replace(1))
    prompt = boss.last
    data = listing.button_data(texts.btn_docs_remove(1))
    assert data is not None
    await other.press_data(listing, data)
    answer = await boss.send(kind="pdf", reply_to=prompt)
    assert texts.DOCS_GONE in [s.plain for s in answer]
    async with mh.db.read() as session:
        assert list(await session.scalars(select(GuideDocument))) == []
