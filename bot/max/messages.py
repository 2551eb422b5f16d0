"""MAX's Message, User and Chat (JSON) → the dicts aiogram's types validate, in account keys.

A dialog is named by the person's account key, as Telegram names a private chat by the
user's id: MAX gives a dialog a chat id of its own (not the user's), but the bot's tables,
FSM keys and outbox rows hold the person. A group is its own key (negative). ``message_id``
is MAX's ``seq`` (unique in its chat, dev.max.ru/docs-api «Message»); the ``mid`` that edits
and deletes need is kept by the caller in bot/max/mids.py.

Files a person sends keep what is needed to resend or relay them: ``file_id`` is MAX's
attachment token (a MAX send takes it as is), and the download ``url``, file name and size
ride along as extra fields of aiogram's Document/PhotoSize (aiogram's types allow extras).
"""

from __future__ import annotations

from typing import Any

from bot.max.keyboard import markup_dict
from services.accounts import Messenger, account_key

Json = dict[str, Any]
# bot.id of the MAX bot: FSM keys and anything else keyed by bot.id stay the same across
# restarts and token changes, whatever MAX's GET /me says. Far from any Telegram bot id
# (those are the digits before a Telegram token's colon) that could share the database.
MAX_BOT_ID = 9_000_000_000_000_001


def user_key(user_id: int) -> int:
    return account_key(Messenger.MAX, int(user_id))


def group_key(chat_id: int) -> int:
    return account_key(Messenger.MAX, int(chat_id))


def user_dict(raw: Json, bot_user_id: int | None = None) -> Json:
    """A MAX User as aiogram's User, its id an account key; the bot itself (MAX's
    `bot_user_id`) is bot.id, as Telegram's getMe and a message's sender agree there."""
    own = bot_user_id is not None and int(raw["user_id"]) == bot_user_id
    return {
        "id": MAX_BOT_ID if own else user_key(raw["user_id"]),
        "is_bot": bool(raw.get("is_bot", False)),
        "first_name": raw.get("first_name") or raw.get("name") or "",
        "last_name": raw.get("last_name") or None,
        "username": raw.get("username") or None,
    }


def dialog_user_id(raw: Json) -> int | None:
    """The person's MAX user id of a message in a dialog with the bot (None elsewhere): the
    sender when they wrote, the recipient when the bot did."""
    recipient = raw.get("recipient") or {}
    if recipient.get("chat_type") != "dialog":
        return None
    sender = raw.get("sender") or {}
    user = recipient.get("user_id") if sender.get("is_bot") else sender.get("user_id")
    return None if user is None else int(user)


def chat_dict(raw: Json) -> Json:
    recipient = raw.get("recipient") or {}
    user = dialog_user_id(raw)
    if user is not None:
        chat: Json = {"id": user_key(user), "type": "private"}
        sender = raw.get("sender") or {}
        if not sender.get("is_bot"):
            chat["first_name"] = sender.get("first_name") or sender.get("name") or None
            chat["last_name"] = sender.get("last_name") or None
            chat["username"] = sender.get("username") or None
        return chat
    return {"id": group_key(recipient["chat_id"]), "type": "group"}


def _files(attachments: list[Json]) -> Json:
    out: Json = {}
    for attachment in attachments:
        payload = attachment.get("payload") or {}
        handle = payload.get("token") or payload.get("url")
        if not handle:
            continue
        if attachment.get("type") == "file" and "document" not in out:
            out["document"] = {
                "file_id": handle,
                "file_unique_id": handle,
                "file_name": attachment.get("filename"),
                "file_size": attachment.get("size"),
                "url": payload.get("url"),
            }
        elif attachment.get("type") == "image" and "photo" not in out:
            out["photo"] = [
                {
                    "file_id": handle,
                    "file_unique_id": handle,
                    "width": 0,  # MAX does not say; aiogram's PhotoSize wants numbers
                    "height": 0,
                    "url": payload.get("url"),
                }
            ]
    return out


def message_dict(raw: Json, chat: Json | None = None, bot_user_id: int | None = None) -> Json:
    """A MAX Message as aiogram's Message (``chat`` overrides the computed chat)."""
    body = raw.get("body") or {}
    chat = chat or chat_dict(raw)
    data: Json = {
        "message_id": int(body["seq"]),
        "date": int(raw.get("timestamp") or 0) // 1000,
        "chat": chat,
    }
    sender = raw.get("sender")
    if sender:
        data["from"] = user_dict(sender, bot_user_id)
    attachments = body.get("attachments") or []
    files = _files(attachments)
    data.update(files)
    text = body.get("text")
    if text:
        data["caption" if files else "text"] = text
    markup = markup_dict(attachments)
    if markup is not None:
        data["reply_markup"] = markup
    link = raw.get("link") or {}
    linked = link.get("message") or {}
    if link.get("type") == "reply" and linked.get("seq") is not None:
        reply: Json = {
            "message_id": int(linked["seq"]),
            "date": int(raw.get("timestamp") or 0) // 1000,
            "chat": chat,
        }
        if link.get("sender"):
            reply["from"] = user_dict(link["sender"], bot_user_id)
        if linked.get("text"):
            reply["text"] = linked["text"]
        data["reply_to_message"] = reply
    return data


def mids_of(raw: Json, chat_id: int) -> list[tuple[int, int, str]]:
    """(chat key, message_id, mid) of a message and of the message it replies to."""
    out: list[tuple[int, int, str]] = []
    body = raw.get("body") or {}
    if body.get("mid") and body.get("seq") is not None:
        out.append((chat_id, int(body["seq"]), str(body["mid"])))
    link = raw.get("link") or {}
    linked = link.get("message") or {}
    if link.get("type") == "reply" and linked.get("mid") and linked.get("seq") is not None:
        out.append((chat_id, int(linked["seq"]), str(linked["mid"])))
    return out
