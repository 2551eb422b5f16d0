"""Files to MAX: upload, then send with the token, waiting while MAX processes the file.

MAX's flow (dev.max.ru/docs-api «Загрузка файлов»): ``POST /uploads?type=file|image`` gives
an upload URL; the file goes there as the multipart field ``data``; the answer's token
(``{"token"}`` for a file, ``{"photos": {key: {"token"}}}`` for an image) is sent in an
attachment. A send right after the upload may be refused with 400 ``attachment.not.ready``
while MAX processes the file: it is tried again after a growing pause, a bounded number of
times.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.max.client import MaxApiError, MaxClient

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.types import InputFile

NOT_READY = "attachment.not.ready"
# Pauses between sends refused as not ready: about half a minute in all.
READY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def _token(kind: str, answer: Any) -> str:
    if isinstance(answer, dict):
        if isinstance(answer.get("token"), str):
            return answer["token"]
        photos = answer.get("photos")
        if kind == "image" and isinstance(photos, dict):
            for photo in photos.values():
                if isinstance(photo, dict) and isinstance(photo.get("token"), str):
                    return photo["token"]
        if answer.get("error_code") or answer.get("error_data"):
            # The upload host answers 200 with its refusal in the body (e.g. not an image).
            raise MaxApiError(400, "upload.refused", str(answer.get("error_data") or ""))
    raise MaxApiError(502, "upload.no.token", "the upload answer has no token")


async def upload(client: MaxClient, bot: Bot, kind: str, file: InputFile) -> dict[str, Any]:
    """Upload ``file`` as ``kind`` ("file" or "image"); the attachment that sends it."""
    content = b"".join([chunk async for chunk in file.read(bot)])
    filename = file.filename or ("photo.jpg" if kind == "image" else "file")
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    slot = await client.request("POST", "/uploads", params={"type": kind})
    url = slot.get("url") if isinstance(slot, dict) else None
    if not isinstance(url, str):
        raise MaxApiError(502, "upload.no.url", "POST /uploads gave no url")
    answer = await client.upload(url, content, filename, content_type)
    return {"type": kind, "payload": {"token": _token(kind, answer)}}


async def when_ready(
    send: Callable[[], Awaitable[Any]],
    delays: Sequence[float] = READY_DELAYS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Any:
    """``send()``, again after each pause while MAX says the attachment is not ready."""
    for pause in (*delays, None):
        try:
            return await send()
        except MaxApiError as exc:
            if exc.code != NOT_READY or pause is None:
                raise
        await sleep(pause)
    raise MaxApiError(400, NOT_READY, "still not ready")  # unreachable: the loop returns
