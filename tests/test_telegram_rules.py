"""The harness's session and the e2e stand-in apply one set of Telegram's rules
(tests/support/telegram_rules.py): what one refuses, the other refuses with the same words.
Here the rules the harness took over from the stand-in when the two were made one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from tests.e2e.standin import BotApiStandin
from tests.support.harness import TOKEN, RecordingSession
from tests.support.telegram_rules import NOT_MODIFIED

USER = 5001
FORUM = -1001234


def bot_on(session: RecordingSession) -> Bot:
    return Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


async def refused(call: Awaitable[Any]) -> str:
    with pytest.raises(TelegramBadRequest) as caught:
        await call
    return caught.value.message


@pytest.fixture
async def bot() -> AsyncIterator[Bot]:
    session = RecordingSession()
    session.forum_chats.add(FORUM)
    yield bot_on(session)


async def test_a_caption_is_parsed_and_kept_within_1024_characters(bot: Bot) -> None:
    scan = BufferedInputFile(b"%PDF", "scan.pdf")
    sent = await bot.send_document(USER, scan, caption="  <b>Скан</b> № 1 ")
    assert sent.caption == "Скан № 1"
    too_long = await refused(bot.send_document(USER, scan, caption="я" * 1025))
    assert too_long == "Bad Request: message caption is too long"
    broken = await refused(bot.send_photo(USER, scan, caption="<b>Скан"))
    assert broken.startswith("Bad Request: can't parse entities")


async def test_an_edit_that_only_adds_spaces_is_not_modified(bot: Bot) -> None:
    sent = await bot.send_message(USER, "Заявка № 1")
    same = await refused(
        bot.edit_message_text("\nЗаявка № 1  ", chat_id=USER, message_id=sent.message_id)
    )
    assert same == f"Bad Request: {NOT_MODIFIED}"


async def test_a_files_caption_is_not_a_text_to_edit(bot: Bot) -> None:
    sent = await bot.send_document(USER, BufferedInputFile(b"x", "a.txt"), caption="файл")
    edit = bot.edit_message_text("текст", chat_id=USER, message_id=sent.message_id)
    assert await refused(edit) == "Bad Request: there is no text in the message to edit"


async def test_a_topic_renamed_to_its_own_name_is_not_modified_and_no_name_keeps_it(
    bot: Bot,
) -> None:
    topic = await bot.create_forum_topic(FORUM, "Мария")
    thread = topic.message_thread_id
    same = await refused(bot.edit_forum_topic(FORUM, thread, name="Мария"))
    assert same == "Bad Request: TOPIC_NOT_MODIFIED"
    assert await bot.edit_forum_topic(FORUM, thread, name="")  # «empty: the name is kept»
    assert await refused(bot.edit_forum_topic(FORUM, thread, name="  ")) == (
        "Bad Request: TOPIC_TITLE_EMPTY"
    )


async def test_the_harness_and_the_stand_in_refuse_alike(bot: Bot) -> None:
    """The same bad calls to both fakes: the same descriptions."""
    calls = [
        lambda b: b.send_message(USER, "<b>жирный"),
        lambda b: b.send_message(USER, "я" * 4097),
        lambda b: b.send_message(USER, " \n "),
        lambda b: b.send_document(USER, BufferedInputFile(b"x", "a.txt"), caption="я" * 1025),
    ]
    harness_said = [await refused(call(bot)) for call in calls]
    async with BotApiStandin() as standin:
        session = AiohttpSession(api=TelegramAPIServer.from_base(standin.url))
        over_http = Bot(
            TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML)
        )
        try:
            standin_said = [await refused(call(over_http)) for call in calls]
        finally:
            await session.close()
    assert harness_said == standin_said
