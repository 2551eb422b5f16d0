"""The MAX transport (bot/max/) against the MAX Bot API stand-in, over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from aiohttp import web

from bot.max import MAX_BOT_ID, make_max_bot
from bot.max.client import MaxApiError, MaxClient
from bot.max.errors import MaxUnsupported
from bot.max.mids import MidStore
from bot.max.polling import MaxPolling, feed_in_order
from bot.max.session import MaxSession
from bot.max.tls import RUSSIAN_TRUSTED_ROOT_CA, RUSSIAN_TRUSTED_ROOT_SHA256, max_ssl_context
from bot.max.updates import UpdateConverter
from bot.max.webhook import SECRET_HEADER, max_webhook_handler, subscribe
from bot.outbound.delivery import classify
from bot.session import DirectReplyRetry
from db.database import Database
from services.accounts import Messenger, account_key
from services.outbox import Undeliverable
from tests.e2e.max_standin import BOT_USER_ID, DEFAULT_TOKEN, MaxApiStandin

USER = 1001
KEY = account_key(Messenger.MAX, USER)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def mx() -> AsyncIterator[MaxApiStandin]:
    async with MaxApiStandin() as server:
        server.timeout_hold = 0.3
        server.introduce(USER, "Иван", last_name="Петров", username="ivan")
        yield server


@pytest.fixture
async def client(mx: MaxApiStandin) -> AsyncIterator[MaxClient]:
    max_client = MaxClient(DEFAULT_TOKEN, mx.url, timeout=2)
    yield max_client
    await max_client.close()


@pytest.fixture
async def mids(db: Database) -> AsyncIterator[MidStore]:
    store = MidStore(db)
    yield store
    await store.close()


def _bot(client: MaxClient, mids: MidStore) -> Bot:
    bot = make_max_bot(client, mids)
    session = bot.session
    if isinstance(session, MaxSession):
        session.ready_delays = (0.01,) * 5
    return bot


@pytest.fixture
def bot(client: MaxClient, mids: MidStore) -> Bot:
    return _bot(client, mids)


def keyboard(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=list(rows))


def cb(text: str, data: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data or text)


def link(text: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, url=f"https://example.org/{len(text)}")


# --------------------------------------------------------------------------- client


async def test_the_token_goes_only_in_the_authorization_header(
    mx: MaxApiStandin, client: MaxClient
) -> None:
    me = await client.request("GET", "/me")
    assert me["user_id"] == BOT_USER_ID
    assert all("access_token" not in call.query for call in mx.calls)
    assert DEFAULT_TOKEN not in repr(client)
    wrong = MaxClient("not-the-token", mx.url, timeout=2)
    try:
        with pytest.raises(MaxApiError) as refused:
            await wrong.request("GET", "/me")
    finally:
        await wrong.close()
    assert (refused.value.status, refused.value.code) == (401, "verify.token")


def test_the_embedded_root_ca_is_the_ministrys_and_verification_stays_on() -> None:
    der = ssl.PEM_cert_to_DER_cert(RUSSIAN_TRUSTED_ROOT_CA)
    assert hashlib.sha256(der).hexdigest() == RUSSIAN_TRUSTED_ROOT_SHA256
    context = max_ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    subjects = [dict(item[0] for item in ca["subject"]) for ca in context.get_ca_certs()]
    assert {"commonName": "Russian Trusted Root CA"}.items() <= subjects[-1].items()


# --------------------------------------------------------------------------- send, edit, delete


async def test_send_edit_delete_find_the_mid_after_a_restart(
    mx: MaxApiStandin, client: MaxClient, db: Database, mids: MidStore
) -> None:
    bot = _bot(client, mids)
    sent = await bot.send_message(KEY, "<b>Заявка</b> принята", reply_markup=keyboard([cb("Ок")]))
    record = mx.sent[-1]
    assert (sent.chat.id, sent.chat.type, sent.message_id) == (KEY, "private", record.seq)
    assert record.chat_id == mx.dialog_chat_id(USER) and record.text == "Заявка принята"
    assert record.buttons == ["Ок"]
    await mids.close()  # the process ends; a new one starts with an empty memory

    fresh = MidStore(db)
    try:
        restarted = _bot(client, fresh)
        assert await restarted.edit_message_text(
            "Решение: <i>одобрено</i>", chat_id=KEY, message_id=sent.message_id
        )
        edit = mx.sent[-1]
        assert (edit.method, edit.mid, edit.text) == ("PUT", record.mid, "Решение: одобрено")
        assert edit.keyboard == []  # edited without reply_markup: the keyboard goes, as on Telegram
        await restarted.edit_message_reply_markup(
            chat_id=KEY, message_id=sent.message_id, reply_markup=keyboard([cb("Ещё")])
        )
        assert mx.sent[-1].buttons == ["Ещё"] and mx.sent[-1].text == "Решение: одобрено"
        await restarted.edit_message_reply_markup(chat_id=KEY, message_id=sent.message_id)
        assert mx.sent[-1].keyboard == []
        assert await restarted.delete_message(KEY, sent.message_id)
        assert mx.deleted == [record.mid]
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await restarted.edit_message_text("x", chat_id=KEY, message_id=sent.message_id + 1)
    finally:
        await fresh.close()
    assert mx.errors == []


async def test_a_reply_links_to_the_persons_message(
    mx: MaxApiStandin, bot: Bot, mids: MidStore
) -> None:
    update = UpdateConverter(mids).convert(mx.push_message(USER, "мой вопрос"))
    assert update is not None and update.message is not None
    await bot.send_message(
        KEY, "ответ", reply_parameters=ReplyParameters(message_id=update.message.message_id)
    )
    assert mx.sent[-1].link is not None
    assert mx.sent[-1].link["message"]["text"] == "мой вопрос"
    with pytest.raises(TelegramBadRequest, match="replied not found"):
        await bot.send_message(KEY, "x", reply_parameters=ReplyParameters(message_id=12345))


async def test_a_long_text_goes_in_parts_split_at_lines_with_tags_balanced(
    mx: MaxApiStandin, bot: Bot
) -> None:
    lines = [f"строка {n:04d} " + "ж" * 60 for n in range(150)]  # ≈ 10 500 units
    text = "<b>" + "\n".join(lines) + "</b>"
    last = await bot.send_message(KEY, text, reply_markup=keyboard([cb("Дальше")]))
    parts = mx.sent
    assert len(parts) == 3 and mx.errors == []
    assert all(len(p.raw_text or "") <= 4000 for p in parts)
    assert all((p.raw_text or "").startswith("<b>") for p in parts)
    assert all((p.raw_text or "").rstrip().endswith("</b>") for p in parts)
    assert [p.buttons for p in parts] == [[], [], ["Дальше"]]
    assert "\n".join((p.text or "").strip("\n") for p in parts) == "\n".join(lines)
    assert last.message_id == parts[-1].seq


async def test_wide_rows_are_rewrapped_and_impossible_keyboards_refused(
    mx: MaxApiStandin, bot: Bot
) -> None:
    await bot.send_message(KEY, "восемь", reply_markup=keyboard([cb(str(n)) for n in range(8)]))
    assert [len(row) for row in mx.sent[-1].keyboard] == [4, 4]
    await bot.send_message(
        KEY, "ссылки", reply_markup=keyboard([link("a" * n) for n in (1, 2, 3, 4)])
    )
    assert [len(row) for row in mx.sent[-1].keyboard] == [2, 2]
    assert [b["type"] for b in mx.sent[-1].keyboard[0]] == ["link", "link"]
    sent = len(mx.sent)
    with pytest.raises(MaxUnsupported, match="rows"):
        await bot.send_message(
            KEY, "много", reply_markup=keyboard(*[[cb(str(n))] for n in range(31)])
        )
    with pytest.raises(MaxUnsupported):
        await bot.send_message(
            KEY,
            "t.me",
            reply_markup=keyboard([InlineKeyboardButton(text="tg", switch_inline_query="x")]),
        )
    assert len(mx.sent) == sent and mx.errors == []


async def test_telegram_html_renders_as_max_html_without_stripped_tags(
    mx: MaxApiStandin, bot: Bot
) -> None:
    telegram_user = 555_000_111
    text = (
        "Заявка\n<blockquote>первая строка\nвторая &amp; последняя</blockquote>"
        'Код: <tg-spoiler>секрет</tg-spoiler> и <span class="tg-spoiler">ещё</span>\n'
        f'<a href="tg://user?id={KEY}">Иван</a>, '
        f'<a href="tg://user?id={telegram_user}">Пётр</a>, '
        '<a href="https://max.ru">сайт</a> <pre><code class="language-text">x &lt; y</code></pre>'
    )
    await bot.send_message(KEY, text)
    record = mx.sent[-1]
    assert mx.errors == [] and mx.stripped_tags == []
    assert record.text == (
        "Заявка\n│ первая строка\n│ вторая & последняя\nКод: секрет и ещё\nИван, Пётр, сайт x < y"
    )
    kinds = {m["type"]: m for m in record.markup}
    assert kinds["user_mention"]["user_id"] == USER
    assert kinds["link"]["url"] == "https://max.ru" and "monospaced" in kinds
    await bot.send_message(KEY, "<b>не тег</b> & всё", parse_mode=None)
    assert mx.sent[-1].text == "<b>не тег</b> & всё" and mx.sent[-1].markup == []


# --------------------------------------------------------------------------- callbacks, files


async def test_a_callback_answer_without_text_sends_nothing_with_text_a_notification(
    mx: MaxApiStandin, bot: Bot
) -> None:
    await bot.send_message(KEY, "выбор", reply_markup=keyboard([cb("Да", "yes"), cb("Нет")]))
    silent = mx.press(USER, "Да")
    assert await bot.answer_callback_query(silent)
    assert [c for c in mx.calls if c.path == "/answers"] == []
    told = mx.press(USER, "Нет")
    assert await bot.answer_callback_query(told, text="Готово")
    assert mx.notifications == [(USER, "Готово")] and mx.errors == []


async def test_files_upload_and_wait_until_max_has_processed_them(
    mx: MaxApiStandin, bot: Bot
) -> None:
    mx.not_ready_sends = 2
    sent = await bot.send_document(KEY, BufferedInputFile(b"a;b\n1;2\n", "отчёт.csv"))
    assert [u.filename for u in mx.uploads] == ["отчёт.csv"]
    assert mx.sent[-1].files[0].content == b"a;b\n1;2\n" and sent.document is not None
    not_ready = [e for e in mx.errors if e.code == "attachment.not.ready"]
    assert len(not_ready) == 2 and len(mx.errors) == 2
    await bot.send_photo(KEY, BufferedInputFile(PNG, "chart.png"), caption="<b>График</b>")
    assert mx.sent[-1].attachments[0]["type"] == "image" and mx.sent[-1].text == "График"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        ("500", TelegramServerError, "500"),
        ("502", TelegramServerError, "502"),
        ("drop", TelegramNetworkError, "MAX"),
        ("timeout", TelegramNetworkError, "MAX"),
        ("429", TelegramRetryAfter, "Too Many Requests"),
        ("403", TelegramForbiddenError, "bot was blocked by the user"),
    ],
)
async def test_max_faults_become_aiograms_exceptions(
    mx: MaxApiStandin,
    client: MaxClient,
    bot: Bot,
    fault: str,
    error: type[Exception],
    words: str,
) -> None:
    client.timeout = 0.2  # below the stand-in's 0.3 s hold of a "timeout"
    mx.fail("POST /messages", None, fault)
    with pytest.raises(error, match=words) as raised:
        await bot.send_message(KEY, "привет")
    if isinstance(raised.value, TelegramRetryAfter):
        assert raised.value.retry_after == 1
    if isinstance(raised.value, TelegramForbiddenError):
        assert isinstance(classify(raised.value), Undeliverable)


async def test_an_unknown_person_is_chat_not_found_for_delivery(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found") as raised:
        await bot.send_message(account_key(Messenger.MAX, 424242), "привет")
    assert isinstance(classify(raised.value), Undeliverable)
    with pytest.raises(TelegramBadRequest, match="not a MAX account"):
        await bot.send_message(USER, "a Telegram key")


async def test_request_middlewares_run_and_unsupported_methods_say_so(
    mx: MaxApiStandin, bot: Bot
) -> None:
    seen: list[str] = []

    async def spy(make_request, bot, method):  # type: ignore[no-untyped-def]
        seen.append(type(method).__name__)
        return await make_request(bot, method)

    bot.session.middleware(DirectReplyRetry())
    bot.session.middleware(spy)
    me = await bot.get_me()
    assert (me.id, me.username) == (MAX_BOT_ID, "vimis_test_bot") and bot.id == MAX_BOT_ID
    await bot.set_my_commands([])
    with pytest.raises(MaxUnsupported, match="ForwardMessage"):
        await bot.forward_message(KEY, KEY, 1)
    assert seen == ["GetMe", "SetMyCommands", "ForwardMessage"]


# --------------------------------------------------------------------------- updates


async def test_updates_convert_to_aiogram_in_account_keys(
    mx: MaxApiStandin, bot: Bot, mids: MidStore
) -> None:
    convert = UpdateConverter(mids, bot_user_id=BOT_USER_ID)
    update = convert.convert(mx.push_message(USER, "Здравствуйте", first_name="Иван"))
    assert update is not None and update.message is not None
    message = update.message
    assert (message.chat.id, message.chat.type, message.text) == (KEY, "private", "Здравствуйте")
    assert message.from_user is not None and message.from_user.id == KEY != USER
    assert (message.from_user.first_name, message.from_user.username) == ("Иван", "ivan")

    await bot.send_message(KEY, "выбор", reply_markup=keyboard([cb("Да", "form:yes")]))
    press = convert.convert(_pressed(mx))
    assert press is not None and press.callback_query is not None
    query = press.callback_query
    assert (query.data, query.from_user.id) == ("form:yes", KEY)
    assert query.message is not None and query.message.message_id == mx.sent[-1].seq
    assert query.message.chat.id == KEY

    started = convert.convert(mx.push_bot_started(USER, "invite-42"))
    assert started is not None and started.message is not None
    assert started.message.text == "/start invite-42" and started.message.chat.id == KEY

    edited = convert.convert(mx.push_edit(mx.push_message(USER, "было"), "стало"))
    assert edited is not None and edited.edited_message is not None
    assert edited.edited_message.text == "стало"

    group = mx.create_group(members=[USER])
    in_group = convert.convert(mx.push_message(USER, "в группе", chat_id=group))
    assert in_group is not None and in_group.message is not None
    assert (in_group.message.chat.id, in_group.message.chat.type) == (
        account_key(Messenger.MAX, group),
        "group",
    )
    assert in_group.message.chat.id < 0

    document = convert.convert(mx.push_message(USER, "файл", document="скан.pdf"))
    assert document is not None and document.message is not None
    doc = document.message.document
    assert doc is not None and doc.file_name == "скан.pdf" and document.message.caption == "файл"
    await bot.send_document(KEY, doc.file_id)  # MAX's token resends the file
    assert mx.sent[-1].files[0].filename == "скан.pdf"
    assert convert.convert({"update_type": "dialog_muted", "timestamp": 1}) is None
    assert mx.errors == []


def _pressed(mx: MaxApiStandin) -> dict[str, object]:
    mx.press(USER, "Да")
    return mx.updates[-1]


# --------------------------------------------------------------------------- polling


async def test_polling_stores_the_marker_after_the_batch_and_resumes_without_loss_or_repeat(
    mx: MaxApiStandin, client: MaxClient, db: Database, mids: MidStore
) -> None:
    convert = UpdateConverter(mids)
    # The first start: a poll without a marker gets only MAX's newest update (the others
    # are lost), so the bot has polled once, with nothing waiting, before people write.
    first_start = MaxPolling(client, db, convert, _never, bot_id=MAX_BOT_ID, timeout=0)
    stop_first = asyncio.Event()
    starting = asyncio.create_task(first_start.run(stop_first))
    for _ in range(100):
        if await first_start.load_marker() is not None:
            break
        await asyncio.sleep(0.02)
    stop_first.set()
    await asyncio.wait_for(starting, 5)
    initial = await first_start.load_marker()
    assert initial is not None
    for text in ("один", "два", "три"):
        mx.push_message(USER, text)
    stuck = asyncio.Event()
    first: list[str] = []

    async def hangs_on_the_second(update: Update) -> None:
        if update.message is not None and update.message.text == "два":
            stuck.set()
            await asyncio.Event().wait()  # never returns: the process is killed here
        first.append(update.message.text if update.message else "")

    poller = MaxPolling(client, db, convert, hangs_on_the_second, bot_id=MAX_BOT_ID, timeout=1)
    task = asyncio.create_task(poller.run(asyncio.Event()))
    await asyncio.wait_for(stuck.wait(), 5)
    assert await poller.load_marker() == initial  # the batch is not done: nothing stored
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert first == ["один"]

    handled: list[str] = []
    stop = asyncio.Event()

    async def records(update: Update) -> None:
        handled.append(update.message.text if update.message and update.message.text else "")

    async def run_until(count: int) -> None:
        stop.clear()
        again = MaxPolling(client, db, convert, records, bot_id=MAX_BOT_ID, timeout=1)
        running = asyncio.create_task(again.run(stop))
        for _ in range(200):
            if len(handled) >= count:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(running, 5)

    await run_until(3)
    assert handled == ["один", "два", "три"]  # the interrupted batch came again, whole
    stored = await poller.load_marker()
    assert stored is not None
    mx.push_message(USER, "четыре")
    await run_until(4)
    assert handled == ["один", "два", "три", "четыре"]  # after a restart: no repeat
    assert (await poller.load_marker() or 0) > stored


async def test_polling_stops_on_a_refused_token(mx: MaxApiStandin, db: Database) -> None:
    wrong = MaxClient("wrong-token", mx.url, timeout=2)
    try:
        poller = MaxPolling(wrong, db, lambda raw: None, _never, bot_id=1, timeout=1)
        await asyncio.wait_for(poller.run(asyncio.Event()), 5)  # returns, does not spin
    finally:
        await wrong.close()


async def _never(update: Update) -> None:
    raise AssertionError("nothing should be fed")


async def test_one_chats_updates_in_order_other_chats_alongside(mids: MidStore) -> None:
    convert = UpdateConverter(mids)

    def message(chat: int, seq: int, text: str) -> Update:
        raw = {
            "update_type": "message_created",
            "timestamp": 1,
            "message": {
                "recipient": {"chat_id": 7, "chat_type": "dialog", "user_id": BOT_USER_ID},
                "sender": {"user_id": chat, "first_name": "A", "is_bot": False},
                "timestamp": 1000,
                "body": {"mid": f"mid.{chat}.{seq}", "seq": seq, "text": text},
            },
        }
        update = convert.convert(raw)
        assert update is not None
        return update

    order: list[str] = []
    other_done = asyncio.Event()

    async def feed(update: Update) -> None:
        text = update.message.text if update.message else ""
        if text == "a1":
            await asyncio.wait_for(other_done.wait(), 2)  # only if chats run alongside
        order.append(str(text))
        if text == "b1":
            other_done.set()

    await feed_in_order(
        [message(USER, 1, "a1"), message(USER, 2, "a2"), message(2002, 1, "b1")], feed
    )
    assert order == ["b1", "a1", "a2"]


# --------------------------------------------------------------------------- webhook


async def test_the_webhook_wants_maxs_exact_secret(
    mx: MaxApiStandin, client: MaxClient, mids: MidStore
) -> None:
    fed: list[Update] = []

    async def feed(update: Update) -> None:
        fed.append(update)

    app = web.Application()
    app.router.add_post("/max", max_webhook_handler("s3cret-value", UpdateConverter(mids), feed))
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/max"
    raw = {
        "update_type": "bot_started",
        "timestamp": 1,
        "chat_id": 1,
        "user": {"user_id": USER, "first_name": "И"},
    }
    try:
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "s3cret-valuE"}, {SECRET_HEADER: "s3cret"}):
                async with http.post(url, json=raw, headers=headers) as response:
                    assert response.status in (401, 403)
            assert fed == []
            async with http.post(
                url, json=raw, headers={SECRET_HEADER: "s3cret-value"}
            ) as response:
                assert response.status == 200
        assert len(fed) == 1
        await subscribe(client, url, "s3cret-value", ["message_created"])
        mx.push_message(USER, "через вебхук")
        for _ in range(100):
            if len(fed) == 2:
                break
            await asyncio.sleep(0.02)
        assert fed[-1].message is not None and fed[-1].message.text == "через вебхук"
        assert [post.status for post in mx.webhook_posts] == [200]
    finally:
        await runner.cleanup()


async def test_a_group_is_a_chat_without_topics_and_the_bots_own_messages_are_bot_id(
    mx: MaxApiStandin, bot: Bot
) -> None:
    """The support desk asks whether its group has topics (getChat): a MAX group answers
    «no», so the desk works as chains of replies; the bot's own messages, seen in a reply's
    link, are bot.id as on Telegram."""
    group = mx.create_group("МИАЦ: поддержка", members=[USER])
    key = account_key(Messenger.MAX, group)
    chat = await bot.get_chat(key)
    assert chat.type == "group" and not chat.is_forum
    await bot.get_me()
    header = await bot.send_message(key, "Шапка")
    session = bot.session
    assert isinstance(session, MaxSession)
    converter = UpdateConverter(session.mids, bot_user_id=session.max_user_id)
    update = mx.push_message(USER, "Ответ", chat_id=group, reply_to=mx.last_message(group).mid)
    converted = converter.convert(update)
    assert converted is not None and converted.message is not None
    reply = converted.message.reply_to_message
    assert reply is not None and reply.message_id == header.message_id
    assert reply.from_user is not None and reply.from_user.id == bot.id


async def test_the_group_the_bot_is_added_to_is_logged_with_its_id(
    mx: MaxApiStandin, mids: MidStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's operator finds a MAX group's id for MAX_ADMIN_CHAT_ID in the log."""
    group = mx.create_group("МИАЦ: заявки", members=[USER], bot_admin=True)
    caplog.set_level("INFO", logger="bot.max.updates")
    assert UpdateConverter(mids).convert(mx.push_bot_added(group, USER)) is None
    assert f"chat_id={group}" in caplog.text
