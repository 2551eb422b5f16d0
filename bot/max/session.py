"""aiogram's session for MAX: the Bot API methods the bot calls, carried by MAX's API.

Subclassing BaseSession keeps aiogram's request middlewares (bot/session.py's
DirectReplyRetry is installed the same way) and lets the same handlers run on MAX. Chats are
account keys (services/accounts.py): a MAX user's key sends with ``?user_id=`` (their
dialog), a group's with ``?chat_id=``. A sent message's number is MAX's ``seq``; its ``mid``
goes to the MidStore so that an edit, a delete or a reply can name it later.

Deliberate differences from Telegram, each because MAX has no such thing:
- ForceReply and ReplyKeyboardRemove are left out (a person replies to a message with MAX's
  own reply); a reply keyboard is refused.
- Link previews, protect_content and the like are not MAX settings and are ignored.
- An edit returns True (MAX answers ``{"success": true}``, not the message).
- A callback answer without text sends nothing: ``POST /answers`` refuses an empty body;
  with text it is MAX's notification (a toast; there is no alert box).
Anything else the session cannot carry raises MaxUnsupported naming it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    DeleteMyCommands,
    EditMessageReplyMarkup,
    EditMessageText,
    GetChat,
    GetMe,
    SendChatAction,
    SendDocument,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import (
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
    ChatFullInfo,
    ForceReply,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyKeyboardRemove,
    ReplyParameters,
    User,
)

from bot.max import messages
from bot.max.client import MaxApiError, MaxClient, MaxNetworkError
from bot.max.errors import to_aiogram, unsupported
from bot.max.keyboard import MaxRenderError, keyboard_attachment
from bot.max.mids import MidStore
from bot.max.render import render
from bot.max.uploads import READY_DELAYS, upload, when_ready
from services.accounts import Messenger, messenger_of, native_id

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)
Json = dict[str, Any]
Handler = Callable[["Bot", Any, "float | None"], Awaitable[Any]]

# aiogram's chat actions → MAX's (POST /chats/{id}/actions).
_ACTIONS = {
    "typing": "typing_on",
    "upload_photo": "sending_photo",
    "upload_video": "sending_video",
    "record_video": "sending_video",
    "upload_voice": "sending_audio",
    "record_voice": "sending_audio",
    "upload_document": "sending_file",
}
_GLOBAL_SCOPES = (BotCommandScopeDefault, BotCommandScopeAllPrivateChats)


_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


class MaxSession(BaseSession):
    # bot/messengers.py asks a bot's session which messenger it talks to.
    messenger = Messenger.MAX

    def __init__(
        self,
        client: MaxClient,
        mids: MidStore,
        *,
        ready_delays: Sequence[float] = READY_DELAYS,
    ) -> None:
        super().__init__(timeout=client.timeout)
        self.client = client
        self.mids = mids
        self.ready_delays = ready_delays
        # The dialog chat id of a person's key, learned from messages: MAX's chat actions
        # take a chat id, which a user's key does not carry.
        self._dialogs: dict[int, int] = {}
        # MAX's own user id of the bot (GET /me): its messages, seen in a reply's link or under
        # a pressed keyboard, are the bot's (from_user.id == bot.id, as on Telegram).
        self.max_user_id: int | None = None
        self._handlers: dict[type[TelegramMethod[Any]], Handler] = {
            SendMessage: self._send_message,
            EditMessageText: self._edit_text,
            EditMessageReplyMarkup: self._edit_markup,
            DeleteMessage: self._delete,
            AnswerCallbackQuery: self._answer_callback,
            SendDocument: self._send_document,
            SendPhoto: self._send_photo,
            GetMe: self._get_me,
            SetMyCommands: self._set_commands,
            DeleteMyCommands: self._delete_commands,
            GetChat: self._get_chat,
            SendChatAction: self._chat_action,
        }

    # -- BaseSession ---------------------------------------------------------------------------

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        handler = self._handlers.get(type(method))
        if handler is None:
            raise unsupported(method, type(method).__name__)
        try:
            result = await handler(bot, method, None if timeout is None else float(timeout))
        except (MaxApiError, MaxNetworkError) as exc:
            error = to_aiogram(method, exc)
            # The call and MAX's code only: MAX's messages may quote what was sent.
            log.debug("MAX %s: %s", type(method).__name__, type(error).__name__)
            raise error from exc
        except MaxRenderError as exc:
            raise unsupported(method, str(exc)) from exc
        return cast(TelegramType, result)

    async def close(self) -> None:
        await self.client.close()

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - aiogram's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        # aiogram downloads by Telegram's file path; a MAX file has a direct url instead
        # (bot/max/messages.py keeps it beside the file_id).
        raise NotImplementedError("MAX files are fetched by their url, not through the session")
        yield b""  # pragma: no cover - makes this an async generator, as aiogram expects

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _key(method: TelegramMethod[Any], chat_id: int | str | None) -> int:
        try:
            key = int(chat_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TelegramBadRequest(method=method, message="Bad Request: chat not found") from None
        if messenger_of(key) is not Messenger.MAX:
            # A Telegram account handed to the MAX bot: there is no such chat on MAX.
            raise TelegramBadRequest(
                method=method, message="Bad Request: chat not found (not a MAX account)"
            )
        return key

    @staticmethod
    def _target(key: int) -> Json:
        return {"user_id": native_id(key)} if key > 0 else {"chat_id": native_id(key)}

    @staticmethod
    def _parse_mode(bot: Bot, value: Any) -> str | None:
        if isinstance(value, Default):
            value = bot.default[value.name]
        if value is None:
            return None
        return str(getattr(value, "value", value))  # aiogram's ParseMode is an Enum

    def _attachments(self, method: TelegramMethod[Any], markup: Any) -> list[Json]:
        if markup is None or isinstance(markup, ForceReply | ReplyKeyboardRemove):
            return []
        if not isinstance(markup, InlineKeyboardMarkup):
            raise unsupported(method, f"a {type(markup).__name__}")
        attachment = keyboard_attachment(markup)
        return [] if attachment is None else [attachment]

    async def _mid(self, method: TelegramMethod[Any], key: int, message_id: int | None) -> str:
        mid = None if message_id is None else await self.mids.mid_of(key, message_id)
        if mid is None:
            raise TelegramBadRequest(
                method=method,
                message=(
                    "Bad Request: message to delete not found"
                    if isinstance(method, DeleteMessage)
                    else "Bad Request: message to edit not found"
                ),
            )
        return mid

    async def _reply_link(self, bot: Bot, method: Any, key: int) -> Json | None:
        """MAX's ``link`` for Telegram's reply_parameters / reply_to_message_id."""
        params: ReplyParameters | None = method.reply_parameters
        message_id = params.message_id if params is not None else method.reply_to_message_id
        if message_id is None:
            return None
        if params is not None and params.chat_id not in (None, key):
            raise unsupported(method, "a reply to another chat's message")
        mid = await self.mids.mid_of(key, message_id)
        if mid is not None:
            return {"type": "reply", "mid": mid}
        tolerant = (
            params.allow_sending_without_reply
            if params is not None
            else method.allow_sending_without_reply
        )
        if isinstance(tolerant, Default):  # truthy as an object: resolve it first
            tolerant = bot.default[tolerant.name]
        if tolerant:
            return None
        raise TelegramBadRequest(
            method=method, message="Bad Request: message to be replied not found"
        )

    def _no_thread(self, method: Any) -> None:
        if getattr(method, "message_thread_id", None) is not None:
            raise unsupported(method, "forum topics (message_thread_id)")

    async def _post(self, bot: Bot, key: int, body: Json, limit: float | None) -> Message:
        answer = await self.client.request(
            "POST", "/messages", params=self._target(key), json=body, timeout=limit
        )
        raw = answer["message"]
        dialog = (raw.get("recipient") or {}).get("chat_id")
        if key > 0 and dialog is not None:
            self._dialogs[key] = int(dialog)
        chat = messages.chat_dict(raw)
        chat["id"] = key  # the key asked for, whatever MAX names the dialog
        data = messages.message_dict(raw, chat=chat)
        mid = (raw.get("body") or {}).get("mid")
        if mid:
            self.mids.remember(key, data["message_id"], str(mid))
        return Message.model_validate(data, context={"bot": bot})

    # -- methods -------------------------------------------------------------------------------

    async def _send_message(self, bot: Bot, method: SendMessage, limit: float | None) -> Message:
        key = self._key(method, method.chat_id)
        self._no_thread(method)
        parts = render(method.text, self._parse_mode(bot, method.parse_mode))
        if not parts:
            raise TelegramBadRequest(method=method, message="Bad Request: message text is empty")
        attachments = self._attachments(method, method.reply_markup)
        link = await self._reply_link(bot, method, key)
        sent: Message | None = None
        for index, part in enumerate(parts):
            body: Json = {"text": part, "format": "html"}
            if method.disable_notification:
                body["notify"] = False
            if index == 0 and link is not None:
                body["link"] = link
            if index == len(parts) - 1 and attachments:
                body["attachments"] = attachments
            sent = await self._post(bot, key, body, limit)
        if sent is None:  # unreachable: parts is not empty
            raise TelegramBadRequest(method=method, message="Bad Request: message text is empty")
        return sent

    async def _edit_text(self, bot: Bot, method: EditMessageText, limit: float | None) -> bool:
        if method.inline_message_id is not None:
            raise unsupported(method, "inline messages")
        key = self._key(method, method.chat_id)
        parts = render(method.text or "", self._parse_mode(bot, method.parse_mode))
        if len(parts) != 1:
            message = "Bad Request: message is too long" if parts else "message text is empty"
            raise TelegramBadRequest(method=method, message=message)
        mid = await self._mid(method, key, method.message_id)
        # Telegram drops the keyboard of a message edited without reply_markup: so does [].
        body = {
            "text": parts[0],
            "format": "html",
            "attachments": self._attachments(method, method.reply_markup),
        }
        await self.client.request(
            "PUT", "/messages", params={"message_id": mid}, json=body, timeout=limit
        )
        return True

    async def _edit_markup(
        self, bot: Bot, method: EditMessageReplyMarkup, limit: float | None
    ) -> bool:
        if method.inline_message_id is not None:
            raise unsupported(method, "inline messages")
        key = self._key(method, method.chat_id)
        mid = await self._mid(method, key, method.message_id)
        # A missing ``text`` keeps the text; ``attachments: []`` removes the keyboard.
        body = {"attachments": self._attachments(method, method.reply_markup)}
        await self.client.request(
            "PUT", "/messages", params={"message_id": mid}, json=body, timeout=limit
        )
        return True

    async def _delete(self, bot: Bot, method: DeleteMessage, limit: float | None) -> bool:
        key = self._key(method, method.chat_id)
        mid = await self._mid(method, key, method.message_id)
        await self.client.request("DELETE", "/messages", params={"message_id": mid}, timeout=limit)
        return True

    async def _answer_callback(
        self, bot: Bot, method: AnswerCallbackQuery, limit: float | None
    ) -> bool:
        if not method.text:
            return True  # MAX refuses an answer with neither message nor notification
        await self.client.request(
            "POST",
            "/answers",
            params={"callback_id": method.callback_query_id},
            json={"notification": method.text},
            timeout=limit,
        )
        return True

    async def _send_file(
        self,
        bot: Bot,
        method: SendDocument | SendPhoto,
        kind: str,
        file: InputFile | str,
        limit: float | None,
    ) -> Message:
        key = self._key(method, method.chat_id)
        self._no_thread(method)
        attachments = self._attachments(method, method.reply_markup)
        if kind == "file" and attachments:
            # A file must be the only attachment of its message (MAX's schema).
            raise unsupported(method, "a keyboard under a file")
        if isinstance(file, InputFile):
            attachment = await upload(self.client, bot, kind, file)
        else:
            attachment = {"type": kind, "payload": {"token": file}}  # a MAX file_id
        body: Json = {"attachments": [attachment, *attachments]}
        if method.caption:
            parts = render(method.caption, self._parse_mode(bot, method.parse_mode))
            if len(parts) > 1:
                raise TelegramBadRequest(
                    method=method, message="Bad Request: message caption is too long"
                )
            if parts:
                body.update(text=parts[0], format="html")
        if method.disable_notification:
            body["notify"] = False
        link = await self._reply_link(bot, method, key)
        if link is not None:
            body["link"] = link
        return cast(
            Message,
            await when_ready(lambda: self._post(bot, key, body, limit), delays=self.ready_delays),
        )

    async def _send_document(self, bot: Bot, method: SendDocument, limit: float | None) -> Message:
        return await self._send_file(bot, method, "file", method.document, limit)

    async def _send_photo(self, bot: Bot, method: SendPhoto, limit: float | None) -> Message:
        return await self._send_file(bot, method, "image", method.photo, limit)

    async def _get_me(self, bot: Bot, method: GetMe, limit: float | None) -> User:
        me = await self.client.request("GET", "/me", timeout=limit)
        if me.get("user_id") is not None:
            self.max_user_id = int(me["user_id"])
        # Telegram's getMe id is always bot.id; here too, so FSM keys and checks agree.
        return User(
            id=bot.id,
            is_bot=True,
            first_name=me.get("first_name") or me.get("name") or "",
            last_name=me.get("last_name") or None,
            username=me.get("username") or None,
        )

    def _check_scope(self, method: SetMyCommands | DeleteMyCommands) -> None:
        if method.scope is not None and not isinstance(method.scope, _GLOBAL_SCOPES):
            # MAX has one command list per bot: a per-chat menu would reach everyone.
            raise unsupported(method, f"command menus of scope {method.scope.type}")

    async def _set_commands(self, bot: Bot, method: SetMyCommands, limit: float | None) -> bool:
        self._check_scope(method)
        commands = [
            {"name": c.command.lstrip("/"), "description": c.description} for c in method.commands
        ]
        await self.client.request(
            "PATCH", "/me/commands", json={"commands": commands}, timeout=limit
        )
        return True

    async def _delete_commands(
        self, bot: Bot, method: DeleteMyCommands, limit: float | None
    ) -> bool:
        self._check_scope(method)
        await self.client.request("PATCH", "/me/commands", json={"commands": []}, timeout=limit)
        return True

    async def _get_chat(self, bot: Bot, method: GetChat, limit: float | None) -> ChatFullInfo:
        key = self._key(method, method.chat_id)
        if key > 0:
            # MAX finds a chat by its own id only; a person's dialog is private, no forum.
            data: Json = {"type": "private"}
        else:
            raw = await self.client.request("GET", f"/chats/{native_id(key)}", timeout=limit)
            data = {"type": "group", "title": raw.get("title") or None}
        # Fields aiogram's ChatFullInfo requires that MAX has no notion of.
        data.update(id=key, accent_color_id=0, max_reaction_count=0, accepted_gift_types=_NO_GIFTS)
        return ChatFullInfo.model_validate(data, context={"bot": bot})

    async def _chat_action(self, bot: Bot, method: SendChatAction, limit: float | None) -> bool:
        key = self._key(method, method.chat_id)
        action = _ACTIONS.get(method.action)
        if action is None:
            raise unsupported(method, f"the chat action {method.action}")
        chat = native_id(key) if key < 0 else self._dialogs.get(key)
        if chat is None:
            return True  # a dialog not seen yet: the indicator is cosmetic, MAX needs its id
        await self.client.request(
            "POST", f"/chats/{chat}/actions", json={"action": action}, timeout=limit
        )
        return True
