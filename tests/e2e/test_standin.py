"""Tests of the Bot API stand-in, driven through a real aiogram ``Bot`` over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberMember,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    Message,
    Update,
)

from .standin import BotApiStandin

USER = 1001
GROUP = -1001234567890


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandin]:
    async with BotApiStandin() as tg:
        yield tg


@pytest.fixture
async def bot(standin: BotApiStandin) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(standin.url))
    bot = Bot(token="42:TEST-TOKEN", session=session)
    yield bot
    await bot.session.close()


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[b] for b in buttons])


def dump(markup: InlineKeyboardMarkup | None) -> object:
    """Compare markups by content (aiogram objects also carry a bound Bot)."""
    return None if markup is None else markup.model_dump(exclude_none=True)


async def refused(standin: BotApiStandin, call: object) -> str:
    """Await a call that must be refused with 400; return the description (and check it was
    recorded in ``standin.errors``)."""
    assert asyncio.iscoroutine(call)
    with pytest.raises(TelegramBadRequest) as exc:
        await call
    assert standin.errors, "the refusal was not recorded"
    assert standin.errors[-1].description == exc.value.message
    assert standin.errors[-1].status == 400
    return exc.value.message


async def test_get_me_and_token(standin: BotApiStandin, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username, me.first_name) == (42, True, "vimis_test_bot", "ВИМИС")
    assert standin.tokens == ["42:TEST-TOKEN"]
    assert standin.calls[0].method == "getMe"


async def test_valid_html_is_accepted_and_stored(standin: BotApiStandin, bot: Bot) -> None:
    markup = keyboard(button("Далее", "next"))
    html = (
        "<b>Заявка</b> №1 &amp; <i>статус</i>: &lt;новая&gt;\n"
        '<a href="https://example.com/x?a=1&amp;b=2">ссылка</a> <tg-spoiler>секрет</tg-spoiler>'
        ' <span class="tg-spoiler">ещё</span> <blockquote expandable>цитата</blockquote>\n'
        '<pre><code class="language-python">x = 1</code></pre> &#x27;&#8470;&quot;'
    )
    msg = await bot.send_message(USER, html, parse_mode="HTML", reply_markup=markup)
    assert msg.text == ("Заявка №1 & статус: <новая>\nссылка секрет ещё цитата\nx = 1 '№\"")
    assert msg.chat.type == "private" and msg.chat.id == USER
    assert msg.from_user is not None and msg.from_user.id == 42
    assert dump(msg.reply_markup) == dump(markup)
    entities = {e.type: e for e in msg.entities or []}
    assert set(entities) == {
        "bold",
        "italic",
        "text_link",
        "spoiler",
        "expandable_blockquote",
        "pre",
    }
    link = entities["text_link"]
    assert link.url == "https://example.com/x?a=1&b=2"
    assert msg.text[link.offset : link.offset + link.length] == "ссылка"
    assert entities["pre"].language == "python"

    second = await bot.send_message(USER, "второе")
    assert second.message_id == msg.message_id + 1

    stored = standin.messages[(USER, msg.message_id)]
    assert stored.text == msg.text
    assert stored.parse_mode == "HTML"
    assert stored.reply_markup == {
        "inline_keyboard": [[{"text": "Далее", "callback_data": "next"}]]
    }
    record = standin.sent[0]
    assert (record.method, record.chat_id, record.message_id) == ("sendMessage", USER, 1)
    assert record.raw_text == html
    assert record.buttons == ["Далее"] and record.callback_data("Далее") == "next"
    assert standin.errors == []


async def test_default_parse_mode_and_group_chat(standin: BotApiStandin) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(standin.url))
    bot = Bot("42:X", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    try:
        msg = await bot.send_message(GROUP, "<b>всем</b>")
        assert msg.text == "всем" and msg.chat.type == "supergroup"
        with pytest.raises(TelegramBadRequest, match="Unsupported start tag"):
            await bot.send_message(GROUP, "1 < 2")
    finally:
        await bot.session.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("Привет <br>", 'Unsupported start tag "br" at byte offset 13'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("Том & Джерри", 'Unescaped "&" at byte offset 7'),
        ("&nbsp;", 'Unescaped "&" at byte offset 0'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<a>x</a>", 'Tag "a" must have the "href" attribute'),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("<i x>y</i>", 'Expected equal sign in declaration of an attribute of the tag "i"'),
    ],
)
async def test_unparsable_html_is_refused(
    standin: BotApiStandin, bot: Bot, text: str, expected: str
) -> None:
    description = await refused(standin, bot.send_message(USER, text, parse_mode="HTML"))
    assert description.startswith("Bad Request: can't parse entities: ")
    assert expected in description
    assert standin.sent == [] and standin.messages == {}


async def test_text_and_caption_limits(standin: BotApiStandin, bot: Bot) -> None:
    # Length counts the text after tags and entities are gone ...
    ok = await bot.send_message(USER, "<b>" + "я" * 4096 + "</b>", parse_mode="HTML")
    assert ok.text is not None and len(ok.text) == 4096
    assert len((await bot.send_message(USER, "&amp;" * 4096, parse_mode="HTML")).text or "") == 4096
    # ... in UTF-16 code units: 2048 emoji are 4096 units, 2049 are too many.
    await bot.send_message(USER, "😀" * 2048)
    too_long = "Bad Request: message is too long"
    assert await refused(standin, bot.send_message(USER, "😀" * 2049)) == too_long
    assert await refused(standin, bot.send_message(USER, "я" * 4097)) == too_long
    assert (
        await refused(standin, bot.send_message(USER, "")) == "Bad Request: message text is empty"
    )
    blank = "Bad Request: text must be non-empty"
    assert await refused(standin, bot.send_message(USER, "  \n ")) == blank
    assert await refused(standin, bot.send_message(USER, "<b> </b>", parse_mode="HTML")) == blank
    # Telegram trims the text (and shifts entities accordingly).
    trimmed = await bot.send_message(USER, "\n  <b>жирный</b> \n", parse_mode="HTML")
    assert trimmed.text == "жирный"
    assert [(e.offset, e.length) for e in trimmed.entities or []] == [(0, 6)]

    photo = standin.push_message(USER, photo=True)["message"]["photo"][-1]["file_id"]
    sent = await bot.send_photo(USER, photo, caption="<i>" + "ё" * 1024 + "</i>", parse_mode="HTML")
    assert sent.caption is not None and len(sent.caption) == 1024
    assert sent.photo is not None and sent.photo[-1].file_id == photo
    description = await refused(standin, bot.send_photo(USER, photo, caption="ё" * 1025))
    assert description == "Bad Request: message caption is too long"
    assert len(standin.errors) == 6


async def test_inline_keyboard_refusals(standin: BotApiStandin, bot: Bot) -> None:
    data_64 = "я" * 32  # 32 characters, 64 bytes
    assert len(data_64.encode()) == 64
    msg = await bot.send_message(USER, "ok", reply_markup=keyboard(button("A", data_64)))
    assert msg.reply_markup is not None
    assert msg.reply_markup.inline_keyboard[0][0].callback_data == data_64

    cases = [
        (button("A", data_64 + "x"), "Bad Request: BUTTON_DATA_INVALID"),
        (
            InlineKeyboardButton(text="Только текст"),
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        (button("A", ""), "Text buttons are unallowed in the inline keyboard"),
        (button(" ", "x"), "Bad Request: BUTTON_TEXT_INVALID"),
        (
            InlineKeyboardButton(text="Сайт", url="ftp://example.com"),
            "Bad Request: inline keyboard button URL 'ftp://example.com' is invalid: "
            "Unsupported URL protocol",
        ),
        (InlineKeyboardButton(text="Сайт", url="not-a-url"), "is invalid: Wrong HTTP URL"),
    ]
    for bad_button, expected in cases:
        markup = keyboard(button("fine", "fine"), bad_button)
        description = await refused(standin, bot.send_message(USER, "x", reply_markup=markup))
        assert expected in description
    assert len(standin.sent) == 1
    link = InlineKeyboardButton(text="Сайт", url="https://example.com/путь?q=1")
    await bot.send_message(USER, "x", reply_markup=keyboard(link))
    assert len(standin.errors) == len(cases)


async def test_message_not_modified(standin: BotApiStandin, bot: Bot) -> None:
    markup = keyboard(button("Да", "yes"))
    msg = await bot.send_message(USER, "<b>Вопрос</b>", parse_mode="HTML", reply_markup=markup)
    mid = msg.message_id

    description = await refused(
        standin,
        bot.edit_message_text(
            "<b>Вопрос</b>", chat_id=USER, message_id=mid, parse_mode="HTML", reply_markup=markup
        ),
    )
    assert description == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    assert "message is not modified" in await refused(
        standin, bot.edit_message_reply_markup(chat_id=USER, message_id=mid, reply_markup=markup)
    )
    # The same words without the bold entity are a modification.
    plain = await bot.edit_message_text("Вопрос", chat_id=USER, message_id=mid, reply_markup=markup)
    assert isinstance(plain, Message) and plain.entities is None and plain.edit_date
    # An edit without reply_markup removes the keyboard, as in Telegram.
    bare = await bot.edit_message_text("Вопрос", chat_id=USER, message_id=mid)
    assert isinstance(bare, Message) and bare.reply_markup is None
    assert standin.messages[(USER, mid)].reply_markup is None
    assert "message is not modified" in await refused(
        standin, bot.edit_message_text("Вопрос", chat_id=USER, message_id=mid)
    )
    new_markup = keyboard(button("Нет", "no"))
    await bot.edit_message_reply_markup(chat_id=USER, message_id=mid, reply_markup=new_markup)
    assert standin.messages[(USER, mid)].buttons == ["Нет"]

    assert await refused(standin, bot.edit_message_text("x", chat_id=USER, message_id=999)) == (
        "Bad Request: message to edit not found"
    )
    user_msg = standin.push_message(USER, "моё")["message"]["message_id"]
    assert "can't be edited" in await refused(
        standin, bot.edit_message_text("x", chat_id=USER, message_id=user_msg)
    )
    assert [r.method for r in standin.sent] == [
        "sendMessage",
        "editMessageText",
        "editMessageText",
        "editMessageReplyMarkup",
    ]
    assert len(standin.errors) == 5


async def test_answer_callback_query(standin: BotApiStandin, bot: Bot) -> None:
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert await refused(standin, bot.answer_callback_query("123")) == too_old

    await bot.send_message(USER, "Выберите", reply_markup=keyboard(button("Да", "yes")))
    first = standin.press(USER, "Да")
    second = standin.press(USER, "Да")
    assert standin.unanswered_callbacks() == [first, second]
    assert await bot.answer_callback_query(first, text="Принято") is True
    assert standin.unanswered_callbacks() == [second]
    assert standin.callbacks[first].answer == {"callback_query_id": first, "text": "Принято"}
    assert await refused(standin, bot.answer_callback_query(first)) == too_old
    assert len(standin.errors) == 2


async def test_blocked_user_and_flood_wait(standin: BotApiStandin, bot: Bot) -> None:
    standin.blocked_chats.add(USER)
    with pytest.raises(TelegramForbiddenError) as forbidden:
        await bot.send_message(USER, "привет")
    assert forbidden.value.message == "Forbidden: bot was blocked by the user"

    standin.flood_wait[GROUP] = 3
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(GROUP, "всем")
    assert flood.value.retry_after == 3
    assert (await bot.send_message(GROUP, "всем")).text == "всем"  # only once

    assert [(e.method, e.status, e.description) for e in standin.errors] == [
        ("sendMessage", 403, "Forbidden: bot was blocked by the user"),
        ("sendMessage", 429, "Too Many Requests: retry after 3"),
    ]
    assert [r.chat_id for r in standin.sent] == [GROUP]


async def test_forum_topics(standin: BotApiStandin, bot: Bot) -> None:
    assert await refused(standin, bot.create_forum_topic(GROUP, "Заявка")) == (
        "Bad Request: the chat is not a forum"
    )
    standin.forum_chats.add(GROUP)
    topic = await bot.create_forum_topic(GROUP, "Заявка №1")
    thread = topic.message_thread_id
    msg = await bot.send_message(GROUP, "в теме", message_thread_id=thread)
    assert msg.message_thread_id == thread and msg.is_topic_message
    assert standin.messages[(GROUP, msg.message_id)].message_thread_id == thread
    not_found = "Bad Request: message thread not found"
    assert await refused(standin, bot.send_message(GROUP, "x", message_thread_id=999)) == not_found

    assert await bot.edit_forum_topic(GROUP, thread, name="Заявка №1 (готово)")
    assert standin.topics[(GROUP, thread)].name == "Заявка №1 (готово)"
    assert await bot.close_forum_topic(GROUP, thread)
    closed = bot.send_message(GROUP, "x", message_thread_id=thread)
    assert await refused(standin, closed) == "Bad Request: TOPIC_CLOSED"
    assert await refused(standin, bot.close_forum_topic(GROUP, thread)) == (
        "Bad Request: TOPIC_NOT_MODIFIED"
    )
    assert await bot.reopen_forum_topic(GROUP, thread)
    await bot.send_message(GROUP, "снова открыто", message_thread_id=thread)

    assert await bot.delete_forum_topic(GROUP, thread)
    assert (GROUP, msg.message_id) not in standin.messages
    assert await refused(standin, bot.send_message(GROUP, "x", message_thread_id=thread)) == (
        not_found
    )
    other = (await bot.create_forum_topic(GROUP, "Вторая")).message_thread_id
    assert other != thread
    standin.delete_topic(GROUP, other)
    assert await refused(standin, bot.send_message(GROUP, "x", message_thread_id=other)) == (
        not_found
    )
    assert await refused(standin, bot.reopen_forum_topic(GROUP, other)) == (
        "Bad Request: TOPIC_ID_INVALID"
    )


async def test_get_updates_long_polling(standin: BotApiStandin, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.3)
    assert not poll.done(), "getUpdates returned before any update was pushed"
    standin.push_message(USER, "/start", username="ivan")
    updates = await asyncio.wait_for(poll, 3)  # answered on the push, not at its 5 s timeout
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.text == "/start"
    assert message.from_user is not None and message.from_user.username == "ivan"
    assert message.chat.type == "private" and message.chat.id == USER
    assert [(e.type, e.offset, e.length) for e in message.entities or []] == [("bot_command", 0, 6)]
    first_id = updates[0].update_id

    # Not confirmed yet, so it is delivered again.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first_id]
    standin.push_message(USER, "второе")
    confirmed = await bot.get_updates(offset=first_id + 1, timeout=0)
    assert [u.message.text for u in confirmed if u.message] == ["второе"]

    started = time.monotonic()
    empty = await bot.get_updates(offset=confirmed[0].update_id + 1, timeout=1)
    assert empty == []
    assert 0.8 <= time.monotonic() - started < 3

    for i in range(3):
        standin.push_message(USER, f"m{i}")
    assert [u.message.text for u in await bot.get_updates(limit=2) if u.message] == ["m0", "m1"]


async def test_get_updates_allowed_updates_and_conflict(standin: BotApiStandin, bot: Bot) -> None:
    msg = await bot.send_message(USER, "меню", reply_markup=keyboard(button("A", "a")))
    standin.push_callback(USER, msg.message_id, "a")
    standin.push_message(USER, "текст")
    updates = await bot.get_updates(allowed_updates=["message"])
    assert [u.message.text for u in updates if u.message] == ["текст"]
    assert len(updates) == 1 and "callback_query" in standin.dropped_updates[0]

    older = asyncio.create_task(bot.get_updates(offset=updates[0].update_id + 1, timeout=5))
    await asyncio.sleep(0.2)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError):
        await asyncio.wait_for(older, 2)
    assert standin.conflicts == 1 and standin.errors == []


async def test_press_and_push_callback_produce_callback_queries(
    standin: BotApiStandin, bot: Bot
) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[button("Подать заявку", "apply")], [button("Помощь ❓", "help")]]
    )
    msg = await bot.send_message(USER, "<b>Меню</b>", parse_mode="HTML", reply_markup=markup)

    query_id = standin.press(USER, "Помощь")  # prefix match
    update = Update.model_validate(standin.updates[-1])
    query = update.callback_query
    assert query is not None and query.id == query_id
    assert query.data == "help" and query.from_user.id == USER
    assert isinstance(query.message, Message)
    assert query.message.message_id == msg.message_id
    assert query.message.text == "Меню" and dump(query.message.reply_markup) == dump(markup)

    standin.press(USER, "Подать заявку")
    assert Update.model_validate(standin.updates[-1]).callback_query.data == "apply"  # type: ignore[union-attr]

    # The newest message with the button wins.
    newer = await bot.send_message(USER, "ещё", reply_markup=keyboard(button("Помощь ❓", "help2")))
    standin.press(USER, "Помощь ❓")
    latest = Update.model_validate(standin.updates[-1]).callback_query
    assert latest is not None and latest.data == "help2"
    assert isinstance(latest.message, Message) and latest.message.message_id == newer.message_id

    with pytest.raises(AssertionError, match="Нет такой") as missing:
        standin.press(USER, "Нет такой")
    assert "Подать заявку" in str(missing.value) and "Помощь ❓" in str(missing.value)

    custom = standin.push_callback(USER, msg.message_id, "custom:1")
    parsed = Update.model_validate(standin.updates[-1]).callback_query
    assert parsed is not None and parsed.id == custom and parsed.data == "custom:1"

    await bot.delete_message(USER, msg.message_id)
    standin.push_callback(USER, msg.message_id, "apply")
    gone = Update.model_validate(standin.updates[-1]).callback_query
    assert gone is not None and isinstance(gone.message, InaccessibleMessage)
    with pytest.raises(AssertionError):
        standin.push_callback(USER, 12345, "x")
    assert len(standin.unanswered_callbacks()) == 5


async def test_pushed_messages_parse_as_aiogram_updates(standin: BotApiStandin, bot: Bot) -> None:
    photo = Update.model_validate(standin.push_message(USER, photo=True, caption="фото"))
    assert photo.message is not None and photo.message.photo and photo.message.caption == "фото"
    sticker = Update.model_validate(standin.push_message(USER, sticker=True))
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.sticker.emoji
    content = b"%PDF-1.4 test"
    doc_update = standin.push_message(USER, document="заявка.pdf", file_content=content)
    document = Update.model_validate(doc_update).message
    assert document is not None and document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "заявка.pdf",
        "application/pdf",
    )
    file = await bot.get_file(document.document.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == content

    in_group = standin.push_message(
        USER, "/help@vimis_test_bot", chat_id=GROUP, first_name="Пётр", username="petr"
    )
    group_msg = Update.model_validate(in_group).message
    assert group_msg is not None and group_msg.chat.type == "supergroup"
    assert group_msg.from_user is not None and group_msg.from_user.first_name == "Пётр"
    assert group_msg.entities is not None and group_msg.entities[0].length == 20

    bot_msg = await bot.send_message(USER, "вопрос")
    reply = standin.push_message(USER, "ответ", reply_to_message_id=bot_msg.message_id)
    reply_msg = Update.model_validate(reply).message
    assert reply_msg is not None and reply_msg.reply_to_message is not None
    assert reply_msg.reply_to_message.text == "вопрос"
    ids = [u["update_id"] for u in standin.updates]
    assert ids == sorted(set(ids))


async def test_wait_for_message_and_last_message(standin: BotApiStandin, bot: Bot) -> None:
    before = len(standin.sent)

    async def answer_later() -> None:
        await asyncio.sleep(0.2)
        await bot.send_message(USER, "думаю…")
        await bot.send_message(GROUP, "не туда")
        await bot.send_message(USER, "готово")

    task = asyncio.create_task(answer_later())
    record = await standin.wait_for_message(
        USER, lambda r: r.text == "готово", timeout=3, after=before
    )
    await task
    assert record.text == "готово" and record.method == "sendMessage"
    assert standin.last_message(USER).text == "готово"
    assert standin.last_message(GROUP).text == "не туда"

    first = await standin.wait_for_message(USER, after=before)
    assert first.text == "думаю…"
    with pytest.raises(AssertionError) as timeout:
        await standin.wait_for_message(USER, lambda r: r.text == "никогда", timeout=0.3)
    assert "готово" in str(timeout.value) and "думаю" in str(timeout.value)
    with pytest.raises(AssertionError):
        await standin.wait_for_message(USER, timeout=0.2, after=len(standin.sent))
    with pytest.raises(AssertionError):
        standin.last_message(777)

    mark = len(standin.sent)
    await bot.edit_message_text("готово!", chat_id=USER, message_id=record.message_id)
    edited = await standin.wait_for_message(USER, after=mark, timeout=1)
    assert edited.method == "editMessageText" and edited.text == "готово!"


async def test_raw_http_bodies_and_unknown_method(standin: BotApiStandin) -> None:
    base = f"{standin.url}/bot42:RAW"
    markup = {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/frobnicate") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        body = {"chat_id": USER, "text": "json", "reply_markup": markup}
        async with http.post(f"{base}/sendMessage", json=body) as resp:
            data = await resp.json()
            assert resp.status == 200 and data["ok"] is True
            assert data["result"]["text"] == "json" and data["result"]["reply_markup"] == markup
        form = {"chat_id": str(USER), "text": "form", "reply_markup": json.dumps(markup)}
        async with http.post(f"{base}/sendMessage", data=form) as resp:
            assert (await resp.json())["result"]["reply_markup"] == markup
        async with http.get(f"{base}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == "vimis_test_bot"
        broken = {"chat_id": str(USER), "text": "x", "reply_markup": "{"}
        async with http.post(f"{base}/sendMessage", data=broken) as resp:
            assert resp.status == 400
            assert (await resp.json())["description"] == (
                "Bad Request: can't parse reply keyboard markup JSON object"
            )
    assert [(e.method, e.status) for e in standin.errors] == [
        ("frobnicate", 404),
        ("sendMessage", 400),
    ]
    assert standin.tokens == ["42:RAW"]


async def test_commands_chat_info_and_actions(standin: BotApiStandin, bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand(command="start", description="Начать")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    invalid = [BotCommand(command="Start", description="x")]
    assert (
        await refused(standin, bot.set_my_commands(invalid)) == "Bad Request: BOT_COMMAND_INVALID"
    )
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())

    private = await bot.get_chat(USER)
    assert private.type == "private" and private.id == USER
    group = await bot.get_chat(GROUP)
    assert group.type == "supergroup" and group.title

    assert isinstance(await bot.get_chat_member(GROUP, USER), ChatMemberMember)
    standin.chat_members[(GROUP, USER)] = "administrator"
    assert isinstance(await bot.get_chat_member(GROUP, USER), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(GROUP, 42), ChatMemberAdministrator)

    assert await bot.send_chat_action(USER, "typing")
    assert "wrong parameter action" in await refused(standin, bot.send_chat_action(USER, "dance"))
    assert standin.chat_actions == [(USER, "typing")]


async def test_copy_forward_delete_and_documents(standin: BotApiStandin, bot: Bot) -> None:
    source = standin.push_message(USER, "исходное")["message"]["message_id"]
    copied = await bot.copy_message(GROUP, USER, source)
    stored = standin.messages[(GROUP, copied.message_id)]
    assert stored.text == "исходное" and stored.from_bot
    assert standin.sent[-1].method == "copyMessage"
    forwarded = await bot.forward_message(GROUP, USER, source)
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.sender_user.id == USER  # type: ignore[union-attr]
    copy_missing = bot.copy_message(GROUP, USER, 999)
    assert await refused(standin, copy_missing) == "Bad Request: message to copy not found"

    upload = BufferedInputFile(b"%PDF-1.4 report", filename="отчёт.pdf")
    doc = await bot.send_document(USER, upload, caption="<b>Отчёт</b>", parse_mode="HTML")
    assert doc.document is not None and doc.document.file_name == "отчёт.pdf"
    assert doc.caption == "Отчёт"
    record = standin.sent[-1]
    assert record.method == "sendDocument" and record.file is not None
    assert record.file.content == b"%PDF-1.4 report"
    assert standin.files[doc.document.file_id] == b"%PDF-1.4 report"
    resent = await bot.send_document(GROUP, doc.document.file_id)
    assert resent.document is not None and resent.document.file_id == doc.document.file_id
    unknown = bot.send_document(USER, "no-such-file-id")
    assert (
        await refused(standin, unknown) == "Bad Request: wrong file identifier/HTTP URL specified"
    )

    assert await bot.delete_message(USER, doc.message_id)
    assert (USER, doc.message_id) not in standin.messages
    assert standin.deleted == [(USER, doc.message_id)]
    gone = bot.delete_message(USER, doc.message_id)
    assert await refused(standin, gone) == "Bad Request: message to delete not found"


async def test_dispatcher_round_trip(standin: BotApiStandin, bot: Bot) -> None:
    """A real aiogram Dispatcher polling the stand-in: command, reply, button, edit."""
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        markup = keyboard(button("Далее", "next"))
        await message.answer("<b>Привет</b>", parse_mode="HTML", reply_markup=markup)

    @dp.callback_query(F.data == "next")
    async def next_step(query: CallbackQuery) -> None:
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.edit_text("Шаг 2")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        mark = len(standin.sent)
        standin.push_message(USER, "/start")
        hello = await standin.wait_for_message(USER, after=mark, timeout=5)
        assert hello.text == "Привет" and hello.buttons == ["Далее"]

        mark = len(standin.sent)
        standin.press(USER, "Далее")
        step = await standin.wait_for_message(
            USER, lambda r: r.method == "editMessageText", after=mark, timeout=5
        )
        assert step.text == "Шаг 2" and step.message_id == hello.message_id
        assert step.buttons == []  # the edit carried no keyboard, so it is gone
        assert standin.unanswered_callbacks() == []
        assert sorted(standin.allowed_updates or []) == ["callback_query", "message"]
        assert standin.errors == []
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
