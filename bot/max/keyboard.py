"""aiogram's InlineKeyboardMarkup → MAX's ``inline_keyboard`` attachment, and back.

MAX's limits (its OpenAPI schema and dev.max.ru/docs-api, «Клавиатура»): at most 30 rows,
7 buttons a row of which at most 3 link (or contact/geo/app) buttons, 210 buttons, a button's
text 1..128 characters, a callback payload up to 1024 bytes, a link http(s) and up to 2048
characters. A Telegram row wider than MAX allows is re-wrapped into several even rows; what
cannot fit at all raises MaxRenderError rather than going out to be refused.
"""

from __future__ import annotations

import math
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

MAX_ROWS = 30
MAX_ROW_BUTTONS = 7
MAX_ROW_LINKS = 3
MAX_BUTTONS = 210
MAX_BUTTON_TEXT = 128
MAX_PAYLOAD_BYTES = 1024
MAX_URL_LENGTH = 2048


class MaxRenderError(ValueError):
    """Something the bot sends that MAX cannot show (says what, never the text itself)."""


def _units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _button(button: InlineKeyboardButton) -> dict[str, Any]:
    text = button.text
    if not text.strip() or _units(text) > MAX_BUTTON_TEXT:
        raise MaxRenderError(f"a button's text must be 1..{MAX_BUTTON_TEXT} characters")
    if button.callback_data is not None:
        if not button.callback_data or len(button.callback_data.encode()) > MAX_PAYLOAD_BYTES:
            raise MaxRenderError(f"a callback payload must be 1..{MAX_PAYLOAD_BYTES} bytes")
        return {"type": "callback", "text": text, "payload": button.callback_data}
    if button.url is not None:
        url = button.url
        if not url.lower().startswith(("http://", "https://")) or len(url) > MAX_URL_LENGTH:
            raise MaxRenderError("a link button needs an http(s) URL MAX accepts")
        return {"type": "link", "text": text, "url": url}
    raise MaxRenderError("only callback and link buttons are carried to MAX")


def _wrap(row: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One Telegram row as MAX rows: as few as the limits allow, about equally wide."""
    links = sum(1 for button in row if button["type"] == "link")
    count = max(math.ceil(len(row) / MAX_ROW_BUTTONS), math.ceil(links / MAX_ROW_LINKS), 1)
    width = math.ceil(len(row) / count)
    rows: list[list[dict[str, Any]]] = [[]]
    for button in row:
        current = rows[-1]
        link = button["type"] == "link"
        full = len(current) >= width
        if full or (link and sum(b["type"] == "link" for b in current) >= MAX_ROW_LINKS):
            current = []
            rows.append(current)
        current.append(button)
    return [row for row in rows if row]


def keyboard_attachment(markup: InlineKeyboardMarkup) -> dict[str, Any] | None:
    """The attachment for ``markup``; None for a keyboard without buttons."""
    rows: list[list[dict[str, Any]]] = []
    for row in markup.inline_keyboard:
        rows += _wrap([_button(button) for button in row])
    if not rows:
        return None
    if len(rows) > MAX_ROWS:
        raise MaxRenderError(f"{len(rows)} rows of buttons: MAX shows at most {MAX_ROWS}")
    total = sum(len(row) for row in rows)
    if total > MAX_BUTTONS:
        raise MaxRenderError(f"{total} buttons: MAX shows at most {MAX_BUTTONS}")
    return {"type": "inline_keyboard", "payload": {"buttons": rows}}


def markup_dict(attachments: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The keyboard of a MAX message as the dict aiogram's InlineKeyboardMarkup validates
    (callback and link buttons; what ``model_dump(exclude_none=True)`` of `markup_of` gives).
    Built directly: a message's dict is validated once, as part of its Message."""
    for attachment in attachments or []:
        if attachment.get("type") != "inline_keyboard":
            continue
        rows: list[list[dict[str, Any]]] = []
        for row in (attachment.get("payload") or {}).get("buttons") or []:
            out: list[dict[str, Any]] = []
            for button in row:
                kind = button.get("type")
                if kind == "callback":
                    item = {"text": button.get("text", "")}
                    payload = button.get("payload")
                    if payload is not None:
                        item["callback_data"] = payload
                    out.append(item)
                elif kind == "link":
                    out.append({"text": button.get("text", ""), "url": button["url"]})
            if out:
                rows.append(out)
        return {"inline_keyboard": rows} if rows else None
    return None


def markup_of(attachments: list[dict[str, Any]] | None) -> InlineKeyboardMarkup | None:
    """The keyboard of a MAX message as aiogram's markup (callback and link buttons)."""
    data = markup_dict(attachments)
    return None if data is None else InlineKeyboardMarkup.model_validate(data)
