"""A thread's first text goes inside its header: on a deadline day the support group's 20
messages a minute decide how long a question waits, and a first question used to take the
topic, the header and the question (three), now the topic and one message. The header is
edited as the person's requests change; each edit keeps the question under it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiogram.methods import EditMessageText, SendMessage

from bot import texts
from bot.outbound import support_desk, support_threads
from bot.outbound.delivery import Delivery
from db.database import Database
from services import requests
from tests.conftest import SUPPORT_CHAT_ID
from tests.support.harness import Harness
from tests.test_dialog_question import forum, thread, under_header
from tests.test_requests_service import NEW

PERSON = 34_000
QUESTION = "Где взять СНИЛС, если <его> потеряли & что делать?"


async def ask(harness: Harness, db: Database, message_id: int, plain: str | None) -> None:
    async with db.write() as session:
        await support_desk.enqueue_question(
            session, harness.dp["settings"], PERSON, "Мария", message_id, "snils", plain_text=plain
        )
    await Delivery(db, harness.dp["settings"]).drain(harness.bot)


async def submit_and_refresh(harness: Harness, db: Database) -> int:
    """The person's request arrives: the header is to list it."""
    async with db.write() as session:
        submitted = await requests.submit(session, replace(NEW, account_id=PERSON))
        assert isinstance(submitted, requests.Submitted)
        await support_desk.enqueue_header(session, PERSON)
    await Delivery(db, harness.dp["settings"]).drain(harness.bot)
    return submitted.request.id


def sends_to_group(harness: Harness) -> list[SendMessage]:
    return [
        c
        for c in harness.session.calls
        if isinstance(c, SendMessage) and c.chat_id == SUPPORT_CHAT_ID
    ]


def note_and_question() -> str:
    return f"❓ Вопрос с шага заявки: {texts.STEP_NAMES['snils']}\n\n{QUESTION}"


async def test_each_edit_of_the_header_keeps_the_first_question_under_it(
    harness: Harness, db: Database
) -> None:
    await forum(harness, db)
    await ask(harness, db, 11, QUESTION)
    assert len(sends_to_group(harness)) == 1  # the header, the note and the question
    header_id = (await thread(db, PERSON)).header_message_id
    assert header_id is not None
    first = harness.session.messages[(SUPPORT_CHAT_ID, header_id)]
    assert "Заявок пока нет" in first.plain
    assert under_header(first.plain) == note_and_question()

    number = await submit_and_refresh(harness, db)
    edits = [c for c in harness.session.calls if isinstance(c, EditMessageText)]
    assert [e.message_id for e in edits] == [header_id]
    now = harness.session.messages[(SUPPORT_CHAT_ID, header_id)]
    assert f"№ {number}" in now.plain and "Заявок пока нет" not in now.plain
    assert under_header(now.plain) == note_and_question()
    assert "&lt;его&gt;" in now.html  # the person's words stay escaped in every edit
    assert len(sends_to_group(harness)) == 1  # an edit, not a message of the budget


async def test_a_header_outgrowing_its_room_lets_the_first_question_go_on_its_own(
    harness: Harness, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room is kept for the header to grow; should it outgrow it all the same, the question
    leaves it as a message of its own in the thread, and later edits leave it there."""
    await forum(harness, db)
    await ask(harness, db, 11, QUESTION)
    header_id = (await thread(db, PERSON)).header_message_id
    assert header_id is not None
    sent = harness.session.messages[(SUPPORT_CHAT_ID, header_id)]
    monkeypatch.setattr(support_desk, "MESSAGE_LIMIT", len(sent.plain) + 10)

    number = await submit_and_refresh(harness, db)
    now = harness.session.messages[(SUPPORT_CHAT_ID, header_id)]
    assert f"№ {number}" in now.plain and under_header(now.plain) is None
    alone = sends_to_group(harness)[1:]
    assert [s.text for s in alone] == [under_header(sent.html)]  # the HTML kept, sent once
    assert alone[0].message_thread_id == (await thread(db, PERSON)).topic_id
    assert (await thread(db, PERSON)).header_tail is None

    async with db.write() as session:
        await requests.submit(
            session, replace(NEW, account_id=PERSON, role="Куратор 1 уровня", snils=NEW.snils)
        )
        await support_desk.enqueue_header(session, PERSON)
    await Delivery(db, harness.dp["settings"]).drain(harness.bot)
    assert len(sends_to_group(harness)) == 2  # the question is not sent again


async def test_a_question_too_long_for_the_header_goes_after_it(
    harness: Harness, db: Database
) -> None:
    await forum(harness, db)
    long = "Подробно о том, что случилось. " * 90  # 2,790 characters
    await ask(harness, db, 11, long.strip())
    header, question = sends_to_group(harness)
    assert "Заявок пока нет" in header.text and "Подробно" not in header.text
    assert question.text.endswith(long.strip()) and question.text.startswith("❓")
    assert (await thread(db, PERSON)).header_tail is None


async def test_a_files_note_goes_inside_the_header_and_the_file_after_it(
    harness: Harness, db: Database
) -> None:
    await forum(harness, db)
    await ask(harness, db, 12, None)  # a photo: copied, it cannot go inside a text
    (header,) = sends_to_group(harness)
    assert header.text.endswith(f"❓ Вопрос с шага заявки: {texts.STEP_NAMES['snils']}")
    (copy,) = harness.session.copies
    assert copy.message_id == 12 and copy.thread_id == (await thread(db, PERSON)).topic_id


def test_the_room_kept_holds_the_longest_header() -> None:
    """Five requests (the header lists no more), each organisation at its clip of 120
    characters, a long name: the header still fits in the room kept for it."""
    widest = "Ш" * 120
    header = texts.thread_header(
        10**12,
        "Щ" * 200,
        [(999_999, "returned", widest, "***-***-445 95")] * 5,
    )
    assert support_threads.utf16(header) < support_threads.HEADER_ROOM
