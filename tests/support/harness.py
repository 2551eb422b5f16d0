"""Dialog tests without a network: real `Update` objects go through `Dispatcher.feed_update`,
and a recording session answers the Bot API calls the bot makes, refusing what Telegram refuses
(HTML it cannot parse, long texts and captions, bad keyboards, edits that change nothing) by the
rules of tests/support/telegram_rules.py, the ones the e2e stand-in applies too."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    CopyMessage,
    CreateForumTopic,
    EditForumTopic,
    EditMessageReplyMarkup,
    EditMessageText,
    GetChat,
    GetFile,
    GetMe,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    Chat,
    ChatFullInfo,
    Document,
    File,
    ForumTopic,
    FSInputFile,
    Message,
    MessageEntity,
    MessageId,
    PhotoSize,
    Sticker,
    Update,
    User,
)

from bot import background
from bot.outbound.delivery import Delivery
from bot.session import DirectReplyRetry, install_reply_retries
from services.accounts import is_max
from tests.support.telegram_rules import (
    QUERY_TOO_OLD,
    ApiError,
    bad,
    check_callback_answer,
    check_modified,
    check_reply_markup,
    check_topic_name,
    forbidden,
    format_text,
)

BOT_ID = 42
GROUP_ANONYMOUS_BOT = 1087968824
TOKEN = f"{BOT_ID}:TEST-token-for-dialog-tests-0123456789"


def _read(upload: FSInputFile) -> bytes:
    with open(upload.path, "rb") as file:
        return file.read()


@dataclass
class Sent:
    """One message as the bot left it (sent or edited)."""

    chat_id: int
    message_id: int
    html: str
    plain: str
    entities: list[dict[str, Any]]
    markup: dict[str, Any] | None
    thread_id: int | None = None
    # When it was first sent, in whole seconds as Telegram gives it; an edit keeps it.
    date: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    kind: str = "text"  # or "document" / "photo": a file, its caption in `plain`

    @property
    def buttons(self) -> list[str]:
        if not self.markup:
            return []
        return [b["text"] for row in self.markup.get("inline_keyboard", []) for b in row]

    def button_data(self, text: str) -> str | None:
        rows = (self.markup or {}).get("inline_keyboard", [])
        for button in (b for row in rows for b in row):
            if button["text"] == text or button["text"].startswith(text):
                return button.get("callback_data")
        return None

    def button_url(self, text: str) -> str | None:
        rows = (self.markup or {}).get("inline_keyboard", [])
        for button in (b for row in rows for b in row):
            if button["text"] == text:
                return button.get("url")
        return None


@dataclass
class Copy:
    from_chat_id: int
    message_id: int
    chat_id: int
    thread_id: int | None
    new_id: int


@dataclass
class SentFile:
    chat_id: int
    kind: str  # document | photo
    filename: str
    data: bytes
    caption: str | None
    markup: dict[str, Any] | None
    file_id: str | None = None  # a file Telegram already has, sent again by its id


# Faults as the network and Telegram produce them (the HTTP stand-in has the same kinds).
FAULTS = ("500", "timeout", "drop", "drop_after", "429")


@dataclass
class FaultRule:
    method: type[TelegramMethod[Any]] | None  # None: any method
    chat_id: int | None  # None: any chat
    kinds: list[str]


@dataclass
class RecordingSession(BaseSession):
    calls: list[TelegramMethod[Any]] = field(default_factory=list)
    messages: dict[tuple[int, int], Sent] = field(default_factory=dict)
    log: list[Sent] = field(default_factory=list)  # every send and edit, in order
    answered: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    files: list[SentFile] = field(default_factory=list)
    forum_chats: set[int] = field(default_factory=set)
    deleted_topics: set[tuple[int, int]] = field(default_factory=set)
    topics: dict[tuple[int, int], str] = field(default_factory=dict)
    copies: list[Copy] = field(default_factory=list)
    # Awaited before answering a method of that type: a test holds a call there to make two
    # handlers meet at a point of its choosing (see tests/support/concurrency.py).
    gates: dict[type[TelegramMethod[Any]], Callable[[], Awaitable[None]]] = field(
        default_factory=dict
    )
    fault_rules: list[FaultRule] = field(default_factory=list)
    injected: list[tuple[str, str]] = field(default_factory=list)  # (method, fault)
    # File ids of what people sent the bot: only these can be sent again by id.
    received_files: set[str] = field(default_factory=set)
    # What a download of a received file gives (getFile, then the file's address), and the
    # ids downloaded, in order.
    file_contents: dict[str, bytes] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1000)

    async def close(self) -> None:
        return None

    async def stream_content(self, url: str, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes]:
        """A received file's bytes, from the address getFile gave (…/files/<file id>)."""
        file_id = url.rsplit("/", 1)[-1]
        self.downloads.append(file_id)
        yield self.file_contents.get(file_id, f"content of {file_id}".encode())

    def _check_chat(self, method: TelegramMethod[Any], chat_id: int, thread: int | None) -> None:
        if is_max(chat_id):  # a MAX person's account key: no such chat in Telegram
            raise self._refuse(method, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise TelegramForbiddenError(method, forbidden(private=chat_id > 0).description)
        if thread is not None and (
            (chat_id, thread) in self.deleted_topics or (chat_id, thread) not in self.topics
        ):
            raise self._refuse(method, "Bad Request: message thread not found")

    def _refuse(self, method: TelegramMethod[Any], description: str) -> TelegramBadRequest:
        self.refusals.append(description)
        return TelegramBadRequest(method=method, message=description)

    def _check(self, method: TelegramMethod[Any], rule: Callable[[], Any]) -> Any:
        """Apply one of Telegram's rules; its refusal is recorded and raised as aiogram's."""
        try:
            return rule()
        except ApiError as exc:
            raise self._refuse(method, exc.description) from exc

    def _render(
        self, bot: Bot, method: TelegramMethod[Any], text: str | None, *, caption: bool = False
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """A text or caption as Telegram takes it (parsed, trimmed, within its limit), and the
        method's keyboard checked."""
        parse_mode = getattr(method, "parse_mode", None)
        if isinstance(parse_mode, Default):
            parse_mode = bot.default[parse_mode.name] if bot.default else None
        given = getattr(method, "caption_entities" if caption else "entities", None)
        entities = [e.model_dump(exclude_none=True) for e in given or []]
        mode = getattr(parse_mode, "value", parse_mode)

        def rules() -> tuple[str | None, list[dict[str, Any]]]:
            result = format_text(text, mode, entities, caption=caption)
            check_reply_markup(self._markup(getattr(method, "reply_markup", None)))
            return result

        rendered: tuple[str | None, list[dict[str, Any]]] = self._check(method, rules)
        return rendered

    @staticmethod
    def _markup(markup: Any) -> dict[str, Any] | None:
        if markup is None or isinstance(markup, Default):
            return None
        dumped: dict[str, Any] = json.loads(markup.model_dump_json(exclude_none=True))
        return dumped

    def _store(self, sent: Sent) -> Message:
        self.messages[(sent.chat_id, sent.message_id)] = sent
        self.log.append(sent)
        return to_message(sent)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> Any:
        self.calls.append(method)
        gate = self.gates.get(type(method))
        if gate is not None:
            await gate()
        fault = self._next_fault(method)
        if fault is not None and fault != "drop_after":
            raise self._fault(method, fault)  # the call had no effect
        result = await self._answer(bot, method)
        if fault == "drop_after":  # it took effect; the answer is lost on the way back
            raise self._fault(method, fault)
        return result

    async def _answer(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        if isinstance(method, SendMessage):
            chat_id = int(method.chat_id)
            self._check_chat(method, chat_id, method.message_thread_id)
            plain, entities = self._render(bot, method, method.text)
            sent = Sent(
                chat_id,
                next(self._ids),
                method.text,
                plain or "",
                entities,
                self._markup(method.reply_markup),
                method.message_thread_id,
            )
            return self._store(sent)
        if isinstance(method, CreateForumTopic):
            self._check(method, lambda: check_topic_name(method.name))
            chat_id = int(method.chat_id)
            if chat_id not in self.forum_chats:
                raise self._refuse(method, "Bad Request: the chat is not a forum")
            topic_id = next(self._ids)
            self.topics[(chat_id, topic_id)] = method.name
            return ForumTopic(message_thread_id=topic_id, name=method.name, icon_color=0)
        if isinstance(method, EditForumTopic):
            self._check(method, lambda: check_topic_name(method.name, edit=True))
            key = (int(method.chat_id), int(method.message_thread_id))
            if key in self.topics and method.name:
                if method.name == self.topics[key] and method.icon_custom_emoji_id is None:
                    raise self._refuse(method, bad("TOPIC_NOT_MODIFIED").description)
                self.topics[key] = method.name
        if isinstance(method, GetChat):
            chat_id = int(method.chat_id)
            return ChatFullInfo.model_validate(
                {
                    "id": chat_id,
                    "type": "private" if chat_id > 0 else "supergroup",
                    "is_forum": chat_id in self.forum_chats or None,
                    "accent_color_id": 0,
                    "max_reaction_count": 0,
                    "accepted_gift_types": {
                        "unlimited_gifts": False,
                        "limited_gifts": False,
                        "unique_gifts": False,
                        "premium_subscription": False,
                        "gifts_from_channels": False,
                    },
                }
            )
        if isinstance(method, CopyMessage):
            chat_id = int(method.chat_id)
            self._check_chat(method, chat_id, method.message_thread_id)
            if is_max(int(method.from_chat_id)):  # Telegram copies only its own messages
                raise self._refuse(method, "Bad Request: chat not found")
            new_id = next(self._ids)
            self.copies.append(
                Copy(
                    int(method.from_chat_id),
                    method.message_id,
                    chat_id,
                    method.message_thread_id,
                    new_id,
                )
            )
            if method.caption is not None:  # a new caption: Telegram's rules for captions
                self._render(bot, method, method.caption, caption=True)
            markup = self._markup(method.reply_markup)
            self._check(method, lambda: check_reply_markup(markup))
            if markup is not None:  # a copy with buttons under it: kept, so they can be pressed
                plain = f"[копия сообщения {method.message_id}]"
                self._store(Sent(chat_id, new_id, plain, plain, [], markup))
            return MessageId(message_id=new_id)
        if isinstance(method, EditMessageText):
            key = (int(method.chat_id or 0), int(method.message_id or 0))
            old = self.messages.get(key)
            if old is None:
                raise self._refuse(method, "Bad Request: message to edit not found")
            if old.kind != "text":
                raise self._refuse(
                    method, bad("there is no text in the message to edit").description
                )
            plain, entities = self._render(bot, method, method.text)
            markup = self._markup(method.reply_markup)
            before = (old.plain, old.entities, old.markup)
            self._check(method, lambda: check_modified(before, (plain, entities, markup)))
            edited = Sent(key[0], key[1], method.text, plain or "", entities, markup, date=old.date)
            return self._store(edited)
        if isinstance(method, EditMessageReplyMarkup):
            key = (int(method.chat_id or 0), int(method.message_id or 0))
            old = self.messages.get(key)
            if old is None:
                raise self._refuse(method, "Bad Request: message to edit not found")
            markup = self._markup(method.reply_markup)
            before = (old.plain, old.entities, old.markup)
            self._check(method, lambda: check_reply_markup(markup))
            self._check(method, lambda: check_modified(before, (before[0], before[1], markup)))
            return self._store(
                Sent(
                    key[0],
                    key[1],
                    old.html,
                    old.plain,
                    old.entities,
                    markup,
                    date=old.date,
                    kind=old.kind,
                )
            )
        if isinstance(method, AnswerCallbackQuery):
            if method.callback_query_id in self.answered:
                raise self._refuse(method, bad(QUERY_TOO_OLD).description)
            self._check(method, lambda: check_callback_answer(method.text))
            self.answered.append(method.callback_query_id)
            return True
        if isinstance(method, SendDocument | SendPhoto):
            upload = method.document if isinstance(method, SendDocument) else method.photo
            file_id = upload if isinstance(upload, str) else None
            if file_id is not None and file_id not in self.received_files:
                raise self._refuse(method, "Bad Request: wrong file identifier/HTTP URL specified")
            assert file_id is not None or isinstance(upload, BufferedInputFile | FSInputFile), (
                "files are uploaded, or sent again by the id of one a person sent"
            )
            # A file from disk is read now: the bot may remove it once it is sent.
            if isinstance(upload, BufferedInputFile):
                data, filename = upload.data, upload.filename or ""
            elif isinstance(upload, FSInputFile):
                data, filename = _read(upload), upload.filename or ""
            else:
                data, filename = b"", ""
            chat_id = int(method.chat_id)
            caption, entities = self._render(bot, method, method.caption, caption=True)
            markup = self._markup(method.reply_markup)
            kind = "document" if isinstance(method, SendDocument) else "photo"
            self.files.append(
                SentFile(chat_id, kind, filename, data, method.caption, markup, file_id)
            )
            sent = Sent(
                chat_id,
                next(self._ids),
                method.caption or "",
                caption or "",
                entities,
                markup,
                kind=kind,
            )
            self.messages[(chat_id, sent.message_id)] = sent
            message = to_message(sent)
            return message.model_copy(
                update={
                    "text": None,
                    "entities": None,
                    "caption": caption,
                    "caption_entities": message.entities,
                }
            )
        if isinstance(method, GetFile):
            if method.file_id not in self.received_files:
                raise self._refuse(
                    method, "Bad Request: wrong file_id or the file is temporarily unavailable"
                )
            return File(
                file_id=method.file_id,
                file_unique_id=method.file_id,
                file_path=f"files/{method.file_id}",
            )
        if isinstance(method, GetMe):
            return User(id=BOT_ID, is_bot=True, first_name="ВИМИС", username="vimis_test_bot")
        return True

    def fail(
        self, method: type[TelegramMethod[Any]] | None, chat_id: int | None, *kinds: str
    ) -> None:
        """The next matching calls fail, one fault each, in order (`FAULTS`)."""
        unknown = [kind for kind in kinds if kind not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {FAULTS}")
        self.fault_rules.append(FaultRule(method, chat_id, list(kinds)))

    def _next_fault(self, method: TelegramMethod[Any]) -> str | None:
        chat = getattr(method, "chat_id", None)
        for rule in self.fault_rules:
            if not rule.kinds or (rule.method is not None and not isinstance(method, rule.method)):
                continue
            if rule.chat_id is None or (chat is not None and int(chat) == rule.chat_id):
                kind = rule.kinds.pop(0)
                self.injected.append((type(method).__name__, kind))
                return kind
        return None

    @staticmethod
    def _fault(method: TelegramMethod[Any], kind: str) -> Exception:
        if kind == "500":
            return TelegramServerError(method=method, message="Internal Server Error")
        if kind == "429":
            return TelegramRetryAfter(
                method=method, message="Too Many Requests: retry after 1", retry_after=1
            )
        if kind == "timeout":
            return TelegramNetworkError(method=method, message="Request timeout error")
        return TelegramNetworkError(
            method=method, message="ServerDisconnectedError: Server disconnected"
        )

    def in_chat(self, chat_id: int) -> list[Sent]:
        return [s for s in self.log if s.chat_id == chat_id]


def to_message(sent: Sent) -> Message:
    chat_type = "private" if sent.chat_id > 0 else "supergroup"
    return Message(
        message_id=sent.message_id,
        date=sent.date,
        chat=Chat(id=sent.chat_id, type=chat_type),
        from_user=User(id=BOT_ID, is_bot=True, first_name="ВИМИС"),
        text=sent.plain,
        entities=[MessageEntity.model_validate(e) for e in sent.entities] or None,
        # Only an inline keyboard stays on a message; ForceReply acts on the client.
        reply_markup=sent.markup if sent.markup and "inline_keyboard" in sent.markup else None,
    )


class Harness:
    """A dispatcher, a bot with a recording session, and users who talk to it."""

    def __init__(self, dp: Dispatcher) -> None:
        self.dp = dp
        self.session = RecordingSession()
        # The direct replies' quick retries, as the running bot has them, without the pauses.
        install_reply_retries(self.session, DirectReplyRetry(sleep=_no_pause))
        self.bot = Bot(TOKEN, session=self.session, default=_defaults())
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self.callbacks: list[str] = []
        # What the bot sends on its own goes through the outbox: `feed` runs the delivery
        # loop until nothing is ready, as the running bot would right after the update.
        self.delivery = Delivery(dp["db"], dp["settings"])
        self.auto_deliver = True  # off: the outbox is left to a test's own loop

    def user(
        self, user_id: int = 1001, first_name: str = "Мария", last_name: str | None = None
    ) -> ChatUser:
        return ChatUser(self, user_id, first_name, last_name=last_name)

    def member(
        self, user_id: int, chat_id: int, first_name: str = "Админ", last_name: str | None = None
    ) -> ChatUser:
        """Someone writing in a group chat (the admin chat, the support chat)."""
        return ChatUser(self, user_id, first_name, chat_id=chat_id, last_name=last_name)

    def anonymous_admin(self, chat_id: int) -> ChatUser:
        """A group admin posting anonymously: Telegram sends the group as `sender_chat` and
        GroupAnonymousBot as the author."""
        member = ChatUser(self, GROUP_ANONYMOUS_BOT, "Group", chat_id=chat_id)
        member.user = User(
            id=GROUP_ANONYMOUS_BOT, is_bot=True, first_name="Group", username="GroupAnonymousBot"
        )
        member.sender_chat = member.chat
        return member

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.bot, update)
        await background.drain(10)  # what the update started after answering
        if self.auto_deliver:
            await self.deliver()

    async def deliver(self) -> int:
        """Send what the outbox holds and is due (cards, notices, relays); rows tried."""
        return await self.delivery.drain(self.bot)

    def unanswered_callbacks(self) -> list[str]:
        return [c for c in self.callbacks if c not in self.session.answered]


async def _no_pause(seconds: float) -> None:
    return None


def _defaults() -> Any:
    from aiogram.client.default import DefaultBotProperties
    from aiogram.enums import ParseMode

    return DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)


class ChatUser:
    def __init__(
        self,
        harness: Harness,
        user_id: int,
        first_name: str,
        chat_id: int | None = None,
        last_name: str | None = None,
    ) -> None:
        self.h = harness
        self.id = user_id
        self.queries: list[str] = []  # ids of this person's button presses
        self.user = User(
            id=user_id,
            is_bot=False,
            first_name=first_name,
            last_name=last_name,
            language_code="ru",
        )
        self.sender_chat: Chat | None = None
        if chat_id is None:
            self.chat = Chat(id=user_id, type="private", first_name=first_name)
        else:
            self.chat = Chat(id=chat_id, type="supergroup", title="МИАЦ")

    def message_update(
        self,
        text: str | None = None,
        *,
        kind: str = "text",
        reply_to: Sent | None = None,
        thread_id: int | None = None,
    ) -> Update:
        extra: dict[str, Any] = {}
        if reply_to is not None:
            extra["reply_to_message"] = to_message(reply_to)
        if thread_id is not None:
            extra["message_thread_id"] = thread_id
            extra["is_topic_message"] = True
        if self.sender_chat is not None:
            extra["sender_chat"] = self.sender_chat
        if kind == "text":
            extra["text"] = text
            if text and text.startswith("/"):
                command = text.split()[0]
                extra["entities"] = [
                    MessageEntity(type="bot_command", offset=0, length=len(command))
                ]
        elif kind == "photo":
            extra["photo"] = [PhotoSize(file_id="p1", file_unique_id="pu1", width=90, height=90)]
            extra["caption"] = text
        elif kind in ("pdf", "docx", "scan", "bigpdf"):
            # A file: "pdf" and "docx" as documents, "scan" a photo with a file id of its own;
            # "bigpdf" a PDF past the 20 MB Telegram lets a bot download.
            number = next(self.h._message_ids)
            file_id = f"{kind}-{self.id}-{number}"
            self.h.session.received_files.add(file_id)
            if kind == "scan":
                extra["photo"] = [
                    PhotoSize(file_id=file_id, file_unique_id=file_id, width=900, height=1200)
                ]
            else:
                mime = "application/msword" if kind == "docx" else "application/pdf"
                extra["document"] = Document(
                    file_id=file_id,
                    file_unique_id=file_id,
                    file_name="forma.docx" if kind == "docx" else "forma.pdf",
                    mime_type=mime,
                    file_size=25 * 1024 * 1024 if kind == "bigpdf" else 48_000,
                )
            extra["caption"] = text
        elif kind == "sticker":
            extra["sticker"] = Sticker(
                file_id="s1",
                file_unique_id="su1",
                type="regular",
                width=512,
                height=512,
                is_animated=False,
                is_video=False,
            )
        message = Message(
            message_id=next(self.h._message_ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=self.user,
            **extra,
        )
        return Update(update_id=next(self.h._update_ids), message=message)

    async def send(
        self,
        text: str | None = None,
        *,
        kind: str = "text",
        reply_to: Sent | None = None,
        thread_id: int | None = None,
    ) -> list[Sent]:
        before = len(self.h.session.log)
        update = self.message_update(text, kind=kind, reply_to=reply_to, thread_id=thread_id)
        await self.h.feed(update)
        return self._mine(before)

    async def reply(self, text: str) -> list[Sent]:
        """Answer the bot's latest message in this chat by replying to it (as ForceReply does)."""
        newest = [s for s in self.h.session.log if s.chat_id == self.chat.id][-1]
        return await self.send(text, reply_to=newest)

    def _mine(self, since: int) -> list[Sent]:
        """What the bot wrote or changed in this person's chat since `since`, in the chat's
        order (an edit of an older message sits where that message is, above the new ones)."""
        mine = [s for s in self.h.session.log[since:] if s.chat_id == self.chat.id]
        return sorted(mine, key=lambda sent: sent.message_id)

    def find_button(self, text: str) -> tuple[Sent, str]:
        for sent in reversed(self.h.session.in_chat(self.chat.id)):
            current = self.h.session.messages[(sent.chat_id, sent.message_id)]
            data = current.button_data(text)
            if data is not None:
                return current, data
        shown = [m.buttons for m in self.h.session.in_chat(self.chat.id)[-3:]]
        raise AssertionError(f"no button {text!r}; recent keyboards: {shown}")

    def callback_update(self, message: Sent, data: str) -> tuple[Update, str]:
        query_id = f"cb{next(self.h._callback_ids)}"
        self.h.callbacks.append(query_id)
        self.queries.append(query_id)
        query = CallbackQuery(
            id=query_id,
            from_user=self.user,
            chat_instance="ci",
            message=to_message(message),
            data=data,
        )
        return Update(update_id=next(self.h._update_ids), callback_query=query), query_id

    async def press(self, text: str) -> list[Sent]:
        message, data = self.find_button(text)
        return await self.press_data(message, data)

    async def press_data(self, message: Sent, data: str) -> list[Sent]:
        before = len(self.h.session.log)
        update, _ = self.callback_update(message, data)
        await self.h.feed(update)
        return self._mine(before)

    @property
    def last(self) -> Sent:
        """The bottom message of the chat as the person sees it: the one sent last, as it
        is now (an edit of an older message does not move it down)."""
        messages = self.h.session.in_chat(self.chat.id)
        assert messages, "the bot has not written to this chat"
        newest = max(messages, key=lambda sent: sent.message_id)
        return self.h.session.messages[(newest.chat_id, newest.message_id)]

    def answers(self) -> list[str]:
        """The texts of the answers to this person's button presses, in order."""
        return [
            method.text or ""
            for method in self.h.session.calls
            if isinstance(method, AnswerCallbackQuery) and method.callback_query_id in self.queries
        ]

    def last_answer_text(self) -> str | None:
        for method in reversed(self.h.session.calls):
            if isinstance(method, AnswerCallbackQuery):
                return method.text
        return None
