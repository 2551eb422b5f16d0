"""MAX's updates → aiogram's Update, in account keys, so the same dispatcher handles them.

MAX's update types (dev.max.ru/docs-api «Update»): ``message_created`` and
``message_edited`` carry a Message; ``message_callback`` a button press (``callback_id``,
``payload``, the keyboard's message, null once deleted); ``bot_started`` the person pressing
Start or opening a ``?start=<payload>`` deep link, which becomes the ``/start`` or
``/start <payload>`` the bot already answers. ``bot_stopped`` is not passed on: the bot has
no my_chat_member handler, and it learns that a person blocked it as it does on Telegram,
from the refusal (403 ``chat.denied`` → TelegramForbiddenError) of its next message.
Other types (bot_added, user_added, dialog_* ...) have no handler either and are dropped.

``update_id`` is a counter of this process: MAX's marker, not Telegram's offset, decides
what was read (bot/max/polling.py).
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from aiogram import Bot
from aiogram.types import Update

from bot.max import messages
from bot.max.mids import MidStore

log = logging.getLogger(__name__)
Json = dict[str, Any]


class UpdateConverter:
    def __init__(
        self, mids: MidStore, bot_user_id: int | None = None, bot: Bot | None = None
    ) -> None:
        self.mids = mids
        self.bot = bot
        self.bot_user_id = bot_user_id  # MAX's own id of the bot: its own messages are skipped
        self._numbers = itertools.count(1)

    def __call__(self, raw: Json) -> Update | None:
        return self.convert(raw)

    def convert(self, raw: Json) -> Update | None:
        kind = raw.get("update_type")
        try:
            if kind in ("message_created", "message_edited"):
                field = "message" if kind == "message_created" else "edited_message"
                return self._message(raw, field)
            if kind == "message_callback":
                return self._callback(raw)
            if kind == "bot_started":
                return self._started(raw)
            if kind == "bot_added" and raw.get("chat_id") is not None:
                # The one place a server's operator learns a MAX group's id, for
                # MAX_ADMIN_CHAT_ID / MAX_SUPPORT_CHAT_ID (a group's id is no one's data).
                log.info("MAX: the bot was added to the group chat_id=%s", int(raw["chat_id"]))
                return None
        except (KeyError, TypeError, ValueError) as exc:
            # A shape this code does not know: the update type and error only, no content.
            log.warning("MAX update %s not understood: %s", kind, type(exc).__name__)
            return None
        log.debug("MAX update %s ignored", kind)
        return None

    def _update(self, **event: Any) -> Update:
        # Mounted on the MAX bot when it is known: aiogram's feed_update would otherwise
        # dump and validate the whole update again for it (measured: 8 % of an update's CPU).
        context = {"bot": self.bot} if self.bot is not None else None
        return Update.model_validate({"update_id": next(self._numbers), **event}, context=context)

    def _remember(self, raw_message: Json, chat_id: int) -> None:
        for chat, message_id, mid in messages.mids_of(raw_message, chat_id):
            self.mids.remember(chat, message_id, mid)

    def _from_bot(self, raw_message: Json) -> bool:
        sender = raw_message.get("sender") or {}
        return self.bot_user_id is not None and sender.get("user_id") == self.bot_user_id

    def _message(self, raw: Json, field: str) -> Update | None:
        message = raw["message"]
        if self._from_bot(message):
            return None
        data = messages.message_dict(message, bot_user_id=self.bot_user_id)
        self._remember(message, data["chat"]["id"])
        if field == "edited_message":
            data["edit_date"] = int(raw.get("timestamp") or 0) // 1000
        return self._update(**{field: data})

    def _callback(self, raw: Json) -> Update:
        callback = raw["callback"]
        user = messages.user_dict(callback["user"])
        query: Json = {
            "id": str(callback["callback_id"]),
            "from": user,
            "chat_instance": str(user["id"]),
            "data": callback.get("payload"),
        }
        message = raw.get("message")
        if message:  # null once the message was deleted
            data = messages.message_dict(message, bot_user_id=self.bot_user_id)
            self._remember(message, data["chat"]["id"])
            query["message"] = data
        return self._update(callback_query=query)

    def _started(self, raw: Json) -> Update:
        user = messages.user_dict(raw["user"])
        payload = raw.get("payload")
        text = f"/start {payload}" if payload else "/start"
        chat = {
            "id": user["id"],
            "type": "private",
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "username": user["username"],
        }
        # A message the person did not write has no mid: nothing to remember, no reply to it.
        message = {
            "message_id": 0,
            "date": int(raw.get("timestamp") or 0) // 1000,
            "chat": chat,
            "from": user,
            "text": text,
        }
        return self._update(message=message)
