"""A message relayed where it cannot be copied: from one messenger to the other (a question
asked on MAX into the operators' Telegram desk, the answer back), or within MAX, which has no
copy at all.

Within Telegram the bot copies a message by its id (copyMessage), so the person's words never
pass through the database. Elsewhere there is nothing to copy from: the
handler puts the message's content into the outbox row (`content_of`), the deliverer sends it
on the other messenger (`methods_for`); a delivered row is deleted, so the person's words
stay in the chats only, as with a copy (and a withdrawal deletes undelivered ones).

Files go along: the file is fetched from the messenger it came from (Telegram's getFile, or
the download address MAX gives for a user's file) and uploaded to the other. Kinds neither
messenger shares (voice, stickers, video notes…) are named in a line instead.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.methods import SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import BufferedInputFile, Message

from bot import texts
from bot.max.tls import max_ssl_context
from services.accounts import Messenger, messenger_of

log = logging.getLogger(__name__)
# A file bigger than this is named, not carried (Telegram's bots upload up to 50 MB, download
# up to 20 MB).
MAX_FILE_BYTES = 20 * 1024 * 1024
CONTENT = "content"  # the outbox payload's key for it


def cannot_copy(from_chat_id: int, to_chat_id: int) -> bool:
    """Whether a message from one chat to the other must be carried as content: only
    Telegram copies a message by its id, and only within Telegram (MAX has no copy)."""
    return not (
        messenger_of(from_chat_id) is Messenger.TELEGRAM
        and messenger_of(to_chat_id) is Messenger.TELEGRAM
    )


def content_of(message: Message) -> dict[str, Any]:
    """What another messenger needs to show this message: its text as HTML (with the
    formatting it had), and the file it carries."""
    content: dict[str, Any] = {
        "html": message.html_text if (message.text or message.caption) else ""
    }
    if message.document is not None:
        content["file"] = {
            "kind": "document",
            "file_id": message.document.file_id,
            "url": (message.document.model_extra or {}).get("url"),
            "name": message.document.file_name or "file",
            "size": message.document.file_size,
        }
    elif message.photo:
        largest = message.photo[-1]
        content["file"] = {
            "kind": "photo",
            "file_id": largest.file_id,
            "url": (largest.model_extra or {}).get("url"),
            "name": "photo.jpg",
            "size": largest.file_size,
        }
    elif message.content_type not in ("text",):
        content["unsupported"] = str(message.content_type)
    return content


async def _fetch(source: Bot, file: dict[str, Any]) -> bytes | None:
    """The file's bytes from the messenger it came from; None when it cannot be had."""
    size = file.get("size")
    if isinstance(size, int) and size > MAX_FILE_BYTES:
        return None
    url = file.get("url")
    try:
        if url:
            # A file a MAX user sent: MAX gives a direct download address with it (on MAX's
            # hosts, whose certificates need the root MAX's API needs: bot/max/tls.py).
            timeout = aiohttp.ClientTimeout(total=60)
            connector = aiohttp.TCPConnector(ssl=max_ssl_context())
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
                async with http.get(str(url)) as response:
                    response.raise_for_status()
                    data = await response.content.read(MAX_FILE_BYTES + 1)
                    return data if len(data) <= MAX_FILE_BYTES else None
        buffer = io.BytesIO()
        await source.download(str(file["file_id"]), destination=buffer)
        return buffer.getvalue()
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("a relayed file could not be fetched: %s", type(exc).__name__)
        raise


async def fetch_file(source: Bot, content: dict[str, Any]) -> bytes | None:
    """The bytes of the content's file, fetched before any send (a failure is retried by the
    outbox with nothing sent yet); None when it has no file or one too big to carry."""
    file = content.get("file")
    return await _fetch(source, file) if isinstance(file, dict) else None


def methods_for(
    content: dict[str, Any],
    data: bytes | None,
    chat_id: int,
    *,
    message_thread_id: int | None = None,
    reply_markup: Any = None,
) -> list[TelegramMethod[Message]]:
    """The calls that show the content on the other messenger, in order (the file with its
    text as caption; a text too long for a caption goes first, on its own)."""
    html = str(content.get("html") or "")
    unsupported = content.get("unsupported")
    if unsupported:
        html = f"{html}\n{texts.not_carried(str(unsupported))}".strip()
    file = content.get("file")
    if isinstance(file, dict) and data is None:
        html = f"{html}\n{texts.not_carried(str(file.get('kind')))}".strip()
    if not isinstance(file, dict) or data is None:
        return [
            SendMessage(
                chat_id=chat_id,
                text=html or texts.EMPTY_RELAY,
                message_thread_id=message_thread_id,
                reply_markup=reply_markup,
            )
        ]
    calls: list[TelegramMethod[Message]] = []
    caption: str | None = html or None
    if caption is not None and len(caption) > texts.CAPTION_LIMIT:
        calls.append(
            SendMessage(chat_id=chat_id, text=caption, message_thread_id=message_thread_id)
        )
        caption = None
    upload = BufferedInputFile(data, filename=str(file.get("name") or "file"))
    if file.get("kind") == "photo":
        calls.append(
            SendPhoto(
                chat_id=chat_id,
                photo=upload,
                caption=caption,
                message_thread_id=message_thread_id,
                reply_markup=reply_markup,
            )
        )
    else:
        calls.append(
            SendDocument(
                chat_id=chat_id,
                document=upload,
                caption=caption,
                message_thread_id=message_thread_id,
                reply_markup=reply_markup,
            )
        )
    return calls
