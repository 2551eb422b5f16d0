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

import asyncio
import io
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import BufferedInputFile, Message

from bot import texts
from bot.max.tls import max_ssl_context
from bot.messengers import Bots, bot_messenger
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


class NoSourceBot(Exception):
    """A file of one messenger to be carried while this process runs no bot of it: the row
    waits (the outbox retries it) until the setting comes back."""


async def _fetch(source: Bot | None, file: dict[str, Any]) -> bytes | None:
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
        if source is None:
            raise NoSourceBot(str(file.get("messenger") or "telegram"))
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


# --- a file kept to be sent on (a broadcast's document, the guide's instructions) -----------


def file_of(bot: Bot, message: Message) -> dict[str, Any] | None:
    """The file a person (an admin) sent, as the outbox keeps it to send on: its kind, file id,
    download address (MAX), name and size (`content_of`'s shape), and the messenger it was
    sent on, which alone can send it again by that id. None when the message has none."""
    file = content_of(message).get("file")
    if not isinstance(file, dict):
        return None
    return {**file, "messenger": bot_messenger(bot).value}


def too_big(file: dict[str, Any]) -> bool:
    """Whether the file cannot reach the other messenger: Telegram gives a bot no file over
    20 MB to download, so a bigger one could not be carried across (it would reach only the
    people on the messenger it was sent on)."""
    size = file.get("size")
    return isinstance(size, int) and size > MAX_FILE_BYTES


class FileCache:
    """The bytes of files being sent across, fetched once per process: a broadcast's document
    for 500 people on the other messenger is downloaded once, not 500 times. Deliveries that
    ask at the same moment wait for the one fetch; a failed fetch is not kept (the outbox
    retries the row, and the next ask fetches again). Bounded by total size and by age."""

    def __init__(
        self,
        limit_bytes: int = 4 * MAX_FILE_BYTES,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit_bytes = limit_bytes
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, asyncio.Task[bytes | None]]]
        self._entries = OrderedDict()
        self.fetches = 0  # how many fetches this cache made (for the logs and the tests)
        # The id an upload gave the file on the other messenger: (messenger, file id, target).
        self._crossed: dict[tuple[str, str, str], str] = {}
        self._refused: set[str] = set()  # ids the other messenger would not take back

    async def get(self, source: Bot | None, file: dict[str, Any]) -> bytes | None:
        key = (str(file.get("messenger") or ""), str(file.get("file_id") or file.get("url")))
        entry = self._entries.get(key)
        now = self.clock()
        if entry is None or now - entry[0] > self.ttl:
            self.fetches += 1
            task = asyncio.ensure_future(_fetch(source, file))
            entry = self._entries[key] = (now, task)
        else:
            self._entries.move_to_end(key)
        task = entry[1]
        try:
            # Shielded: one delivery cancelled (shutdown) does not cancel the others' fetch.
            data = await asyncio.shield(task)
        except Exception:
            if self._entries.get(key) is entry:
                del self._entries[key]
            raise
        self._trim()
        return data

    @staticmethod
    def _crossed_key(file: dict[str, Any], target: Messenger) -> tuple[str, str, str]:
        return (str(file.get("messenger") or ""), str(file.get("file_id")), target.value)

    def crossed_id(self, file: dict[str, Any], target: Messenger) -> str | None:
        return self._crossed.get(self._crossed_key(file, target))

    def remember_crossed(self, file: dict[str, Any], target: Messenger, sent: str | None) -> None:
        if sent and sent not in self._refused:
            if len(self._crossed) >= 1000:  # a bound; one broadcast or guide uses a few
                self._crossed.clear()
            self._crossed[self._crossed_key(file, target)] = sent

    def forget_crossed(self, file: dict[str, Any], target: Messenger, sent: str) -> None:
        if len(self._refused) >= 1000:
            self._refused.clear()
        self._refused.add(sent)  # not learned again: each person would pay a refused call
        if self._crossed.get(self._crossed_key(file, target)) == sent:
            del self._crossed[self._crossed_key(file, target)]

    def _trim(self) -> None:
        def size(task: asyncio.Task[bytes | None]) -> int:
            if not task.done() or task.cancelled() or task.exception() is not None:
                return 0
            return len(task.result() or b"")

        total = sum(size(task) for _, task in self._entries.values())
        while total > self.limit_bytes and len(self._entries) > 1:
            _, (_, oldest) = self._entries.popitem(last=False)
            total -= size(oldest)


def _by_id(chat_id: int, file: dict[str, Any], file_id: str, caption: str | None) -> Any:
    if file.get("kind") == "photo":
        return SendPhoto(chat_id=chat_id, photo=file_id, caption=caption)
    return SendDocument(chat_id=chat_id, document=file_id, caption=caption)


def _sent_id(sent: Any) -> str | None:
    """The file id a sent message carries on its messenger (None when it says none)."""
    if not isinstance(sent, Message):
        return None
    if sent.document is not None:
        return sent.document.file_id
    return sent.photo[-1].file_id if sent.photo else None


async def send_file(
    call: Callable[[TelegramMethod[Message]], Awaitable[Message]],
    bots: Bots | None,
    cache: FileCache,
    chat_id: int,
    file: dict[str, Any],
    caption: str | None,
) -> None:
    """Send a kept file (`file_of`) with `caption` (HTML) to a chat of either messenger: by its
    id on the messenger it was sent on, else fetched (once, `cache`) and uploaded. Once one
    upload to the other messenger has given the file an id there, later people get it by that
    id: the file is not uploaded again for each. A caption longer than a caption may be goes
    before the file, as a message of its own."""
    origin = Messenger(str(file.get("messenger") or Messenger.TELEGRAM.value))
    target = messenger_of(chat_id)
    if target is origin:
        if caption is not None and len(caption) > texts.CAPTION_LIMIT:
            await call(SendMessage(chat_id=chat_id, text=caption))
            caption = None
        await call(_by_id(chat_id, file, str(file["file_id"]), caption))
        return
    crossed = cache.crossed_id(file, target)
    if crossed is not None and (caption is None or len(caption) <= texts.CAPTION_LIMIT):
        try:
            await call(_by_id(chat_id, file, crossed, caption))
            return
        except TelegramBadRequest:
            # The other messenger no longer takes that id: nothing was sent, upload it anew.
            cache.forget_crossed(file, target, crossed)
    source = bots.get(origin) if bots is not None else None
    data = await cache.get(source, file)
    methods = methods_for({"html": caption or "", "file": file}, data, chat_id)
    for method in methods:
        sent = await call(method)
        if data is not None and isinstance(method, SendDocument | SendPhoto):
            cache.remember_crossed(file, target, _sent_id(sent))
