"""A fake MAX (max.ru) Bot API server ("stand-in") for end-to-end tests.

The MAX counterpart of ``standin.py``: the bot is pointed at ``mx.url`` (as ``MAX_API_URL``)
and talks to it over HTTP on 127.0.0.1.  The stand-in answers in MAX's shapes, refuses what
MAX refuses (with MAX's ``{"code": ..., "message": ...}`` error bodies) and records everything
so that tests can inspect it::

    async with MaxApiStandin(token="max-test-token") as mx:
        ...  # start the bot against mx.url
        mark = len(mx.sent)
        mx.push_bot_started(1001)  # or mx.push_message(1001, "/start")
        reply = await mx.wait_for_message(mx.dialog_chat_id(1001), after=mark)
        mx.press(1001, "Записаться")
        ...
        assert mx.errors == [] and mx.stripped_tags == [] and mx.noop_edits == 0

Records: ``calls`` (every request), ``errors`` (every refusal), ``sent`` (each send/edit by
the bot, as a SentRecord: text, format, buttons, payloads, urls, link, attachments, files),
``messages`` (current state by mid), ``deleted``, ``callbacks``/``notifications``,
``updates``/``delivered_updates()``, ``webhook_posts``, ``uploads``, ``commands``,
``chat_actions``.

Faults, as MAX and the network produce them, can be scripted per route and chat (``fail``):
a 500, a proxy's 502 page, a 503, a dropped connection (before or after the call took
effect), a timeout, a 429 ``too.many.requests`` (no Retry-After, as MAX answers), a 403
``chat.denied``, a 404 ``not.found``.  ``latency`` delays every answer; ``enforce_limits``
answers 429 past ``limit_per_second`` calls a second (10, as measured live; the docs say 30).

The spec is the research notes ``/work/notes/max-api.md`` (sections are cited as "notes §N",
its open questions as "OQ N").

Faithful to MAX
---------------
* Auth is the header ``Authorization: <token>``, nothing else (notes §1): ``Bearer <token>``,
  a missing or wrong header and any ``?access_token=`` answer 401
  ``{"code": "verify.token", "message": "Invalid access_token"}``.
* Ids (notes §3): a user's dialog with the bot has its own positive ``chat_id``
  (``dialog_chat_id(user_id)``, a fixed offset from the user id), groups have negative ids.
  ``seq`` is unique per chat and is ``(timestamp_ms << 16) | counter``; ``mid`` is
  ``"mid." + hex16(chat_id as two's-complement int64) + hex16(seq)`` (``make_mid``,
  ``parse_mid``).
* ``GET /me``; ``PATCH /me/commands`` (at most 32 commands, name 1..64, description 1..128,
  notes §6/§9); ``GET /chats/{id}``; ``POST /chats/{id}/actions``.
* ``POST /messages?chat_id=|user_id=`` takes a NewMessageBody and answers ``{"message":
  Message}`` (sender = the bot; in a dialog ``recipient.user_id`` is the *other* side).
  Refused: text over 4000 (``"text: size must be between 0 and 4000"``), an empty message,
  an unknown chat/user, a dialog whose user stopped the bot (403 ``chat.denied``), a
  ``link.mid`` that does not exist (in this chat, for a reply), an inline keyboard past MAX's
  limits (notes §6: 30 rows, 7 buttons a row and 3 of link/open_app/request_*, 210 buttons,
  text 1..128, callback payload ≤ 1024, link url ≤ 2048 and http(s)) or with unknown button
  types.
* ``format: "html"``: ``b strong i em u ins s del a code pre mark h1`` become markup elements
  (``{type, from, length}`` in UTF-16 units; ``<a href="max://user/N">`` a ``user_mention``);
  every other tag is stripped with its content kept, as MAX does, and recorded in
  ``stripped_tags`` so tests can assert the bot never relies on blockquote/spoiler/tg-emoji.
  The stored text is the plain text (``&amp; &lt; &gt; &quot;`` and numeric references
  decoded).
* ``PUT /messages?message_id=`` (notes §4): missing/null ``attachments`` keeps the keyboard,
  ``[]`` removes it, a list replaces it; a missing/null ``text`` keeps the text; answers
  ``{"success": true}``.  MAX has no "message is not modified": a no-op edit succeeds and is
  counted in ``noop_edits``.  ``DELETE /messages`` (a user's message in a dialog: 403
  ``access.denied``, notes §1); ``GET /messages/{mid}``.
* ``GET /updates?marker=&limit=&timeout=&types=`` (notes §2): ``{"updates": [...],
  "marker": n}``, ``limit`` 1..1000 and ``timeout`` 0..90 or 400 ``proto.payload``; updates
  before the passed marker count as read and never come again; the call is held until an
  update arrives or the timeout passes.  Updates have the shapes of the notes' live payloads
  (``push_message``, ``push_edit``, ``press``/``push_callback``, ``push_bot_started``,
  ``push_bot_stopped``, ``push_bot_added``, ``push_bot_removed``, ``add_member``):
  ``user_locale`` only in dialogs, ``recipient.user_id`` is the bot when a user writes in a
  dialog, a callback's ``message`` is null once deleted, a ``bot_started`` payload over 512
  characters is dropped; a bot that is not a group's admin gets nothing from the group but
  bot_added/bot_removed (notes §10).
* Webhook (notes §8): ``POST /subscriptions {url, update_types?, secret?}`` (secret
  ``^[a-zA-Z0-9_-]{5,256}$``), ``GET /subscriptions``, ``DELETE /subscriptions?url=``.
  Updates are POSTed to the url one at a time, in order, as a bare Update with
  ``X-Max-Bot-Api-Secret: <secret>`` when a secret is set; anything but a 200 (or no answer
  within ``webhook_timeout``) is retried after ``webhook_retry_delay`` (MAX: 60 s, then x2.5),
  at most ``webhook_max_attempts`` times (MAX: 10 retries), then the update is given up
  (``lost_updates``).  Updates the subscription's ``update_types`` leave out are dropped.
* Uploads (notes §7): ``POST /uploads?type=file|image|video|audio`` gives ``{"url": ...}``
  (video/audio also a ``token``); a multipart POST of the field ``data`` to that url (no
  token needed; each url takes one file) answers ``{"token"}`` for a file, ``{"photos":
  {key: {"token"}}}`` for an image and ``<retval>1</retval>`` for video/audio; an image that
  is not one gets MAX's 200 ``{"error_code": "503", "error_data": "IMAGE_INVALID_FORMAT"}``.
  The first ``not_ready_sends`` sends using a fresh token answer 400 ``{"code":
  "attachment.not.ready", "message": "Key: errors.process.attachment.file.not.processed"}``.
  A file attachment must be the only attachment of its message ([schema]
  FileAttachmentRequest).  Users' files (``push_message(document=..)``) come with a direct
  download ``payload.url``.
* ``POST /answers?callback_id=``: neither ``message`` nor ``notification`` is 400
  ``{"code": "proto.payload", "message": "`message` or `notification` required"}``;
  ``message`` edits the keyboard's message in place with the same semantics as PUT.

Assumptions (where the notes leave a question open)
---------------------------------------------------
* OQ 7: ``PATCH /me`` is answered 404 ``not.found``: MAX switched it off on 15.09.2026, so a
  bot must use ``PATCH /me/commands``.
* A command name with a leading ``/`` is refused (maxapi's example sends ``/state``,
  aiogram-max sends ``start``; the stricter reading wins), and so are blanks in a name and
  duplicate names.
* An unknown ``chat_id``/``user_id`` is 404 ``chat.not.found`` (a code aiomax maps; the status
  is a guess).  Other refusals of a request body are 400 ``proto.payload`` with a message of
  the stand-in's own (MAX's wording is unknown), except the text-length one.
* OQ 6: button text ≤ 128 and callback payload ≤ 1024, the schema's figures; maxapi's
  docstrings say 64 and 256 (set ``max_button_text``/``max_payload_bytes`` to apply them).
  OQ 11: text ≤ 4000 per the schema and the server's own message; maxapi refuses exactly 4000
  on the client side (``max_text_length = 3999`` applies that).
* The 3-a-row limit counts link, open_app, request_contact and request_geo_location buttons
  together.  A keyboard with no buttons or an empty row, and two keyboards in one message,
  are refused.
* Markdown (``format: "markdown"``) is stored as sent, not parsed; the bot is expected to send
  HTML (as aiogram-max does, notes §11).
* A reply's/forward's ``link`` is echoed as a LinkedMessage ``{type, sender, message,
  chat_id (forwards)}``; a forward needs no text of its own.
* OQ 4: ``GET /updates`` without a marker returns only the newest unread update and the
  older unread ones are lost (``skipped_updates``), as the current schema says; set
  ``markerless_poll = "all"`` for the older docs' reading.
* OQ 3: the schema's ranges are enforced (limit ≤ 1000, timeout ≤ 90) but, as maxapi reports
  since 11.05.2026, at most ``poll_batch_cap`` = 100 updates come back and a poll is held at
  most ``poll_hold_cap`` = 30 s.
* Updates left out by ``types`` are consumed, not kept for a later poll
  (``dropped_updates``).  A newer GET /updates releases a held one with an empty batch
  (``superseded_polls``), so two pollers never get the same update at once.
* OQ 8: the multipart field is ``data`` for every type (the schema and go-sdk; aiogram-max
  says video/audio want ``file``).  Readiness is counted in sends, not in time, so tests are
  deterministic; a video/audio token is not ready until its file is uploaded.  Only
  file/image/video/audio and inline_keyboard attachments are simulated; others are refused.
* The uploaded file name is kept exactly as the multipart header gives it: aiohttp's default
  ``FormData`` percent-encodes non-ASCII names, and whether MAX decodes them is unknown.
* While a subscription exists GET /updates is refused with 409 ``conflict`` (MAX only says
  long polling "does not work"; the code is the stand-in's).  Subscribing releases a held
  long poll and moves unread updates to the webhook; removing the last subscription hands
  undelivered ones back to GET /updates.  Subscribing an existing url replaces it.  Several
  subscriptions each get every update they want.  ``DELETE`` of an unknown url answers
  ``{"success": false, "message": ...}``.
* An unknown or already answered ``callback_id`` is 404 ``not.found`` (MAX's reply is not
  documented); there is no answer deadline (none is documented, OQ 11).

Deliberately stricter than MAX
------------------------------
* Every length limit is counted in UTF-16 code units, so an emoji counts 2.  (An inference:
  MAX's "size must be between 0 and 4000" is Java Bean Validation's wording, which counts
  ``String.length()``; counting code points would be laxer.)
* ``?access_token=`` is refused even next to a correct header: the token must never appear
  in a URL (where it ends up in logs).
* Text length is checked on the text as sent (HTML tags included), not on the plain text.
* The callback payload limit is counted in UTF-8 bytes (a Cyrillic letter is 2).
* HTML: unbalanced or malformed markup, a bare ``&`` or ``<``, an unknown named reference
  (``&nbsp;``), ``<a>`` without an http(s)/``max://user/`` href are refused (MAX would
  probably render something); whitespace-only text counts as empty.
* Webhook: only exactly 200 counts as delivered (not 204).  MAX accepts only https on port
  443 with a trusted certificate; the stand-in also accepts plain ``http://`` to 127.0.0.1 /
  localhost, for tests, and refuses it anywhere else.
* Both ``chat_id`` and ``user_id`` at once are refused; so are edits in a dialog whose user
  stopped the bot.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

Json = dict[str, Any]

DEFAULT_TOKEN = "max-test-token"
BOT_USER_ID = 277_000_042
BOT_USERNAME = "vimis_test_bot"
BOT_FIRST_NAME = "ВИМИС"
# A user's dialog with the bot: chat id = DIALOG_CHAT_BASE + user id (positive, never the
# user id itself, as in MAX).  Groups get negative ids below GROUP_CHAT_BASE.
DIALOG_CHAT_BASE = 400_000_000_000
GROUP_CHAT_BASE = -70_000_000_000_000
MAX_COMMANDS = 32
MAX_COMMAND_NAME = 64
MAX_COMMAND_DESCRIPTION = 128
MAX_TEXT_LENGTH = 4000
EMPTY_MESSAGE = "Message must have `text` or `attachments`"
MAX_START_PAYLOAD = 512  # a longer deep-link payload is dropped by MAX (notes §2)
MAX_POLL_LIMIT = 1000
MAX_POLL_TIMEOUT = 90
UPDATE_TYPES = frozenset(
    {
        "bot_added",
        "bot_removed",
        "bot_started",
        "bot_stopped",
        "chat_title_changed",
        "dialog_cleared",
        "dialog_muted",
        "dialog_unmuted",
        "dialog_removed",
        "message_callback",
        "message_chat_created",
        "message_created",
        "message_edited",
        "message_removed",
        "user_added",
        "user_removed",
    }
)
UPLOAD_TYPES = ("image", "video", "audio", "file")
SECRET_RE = re.compile(r"[a-zA-Z0-9_-]{5,256}")
SECRET_HEADER = "X-Max-Bot-Api-Secret"
CHAT_ACTIONS = frozenset(
    {"typing_on", "sending_photo", "sending_video", "sending_audio", "sending_file", "mark_seen"}
)
TOO_MANY_REQUESTS = "Too many requests. Limit is: {limit} calls per second."
_INT64 = 1 << 64


# --------------------------------------------------------------------------- helpers


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how MAX's (Java) server counts string lengths."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def make_mid(chat_id: int, seq: int) -> str:
    """``mid`` of the message ``seq`` in ``chat_id``, as MAX builds it (notes §3)."""
    return f"mid.{chat_id % _INT64:016x}{seq:016x}"


def parse_mid(mid: str) -> tuple[int, int] | None:
    """(chat_id, seq) of a ``mid`` (None if it is not one)."""
    match = re.fullmatch(r"mid\.([0-9a-f]{16})([0-9a-f]{16})", mid)
    if match is None:
        return None
    chat_id = int(match.group(1), 16)
    if chat_id >= _INT64 // 2:
        chat_id -= _INT64
    return chat_id, int(match.group(2), 16)


def now_ms() -> int:
    return int(time.time() * 1000)


class MaxError(Exception):
    """A refusal, answered as ``{"code": code, "message": message}`` with HTTP ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def bad_payload(message: str) -> MaxError:
    return MaxError(400, "proto.payload", message)


def not_found(message: str) -> MaxError:
    return MaxError(404, "not.found", message)


def chat_not_found(message: str) -> MaxError:
    return MaxError(404, "chat.not.found", message)


def chat_denied(message: str) -> MaxError:
    return MaxError(403, "chat.denied", message)


def invalid_token() -> MaxError:
    return MaxError(401, "verify.token", "Invalid access_token")


# --------------------------------------------------------------------------- text (format html)

# The tags MAX renders (notes §11) and the markup element each becomes.
_HTML_MARKUP = {
    "b": "strong",
    "strong": "strong",
    "i": "emphasized",
    "em": "emphasized",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "del": "strikethrough",
    "a": "link",
    "code": "monospaced",
    "pre": "monospaced",
    "mark": "highlighted",
    "h1": "heading",
}
_VOID_TAGS = frozenset(
    {"br", "hr", "img", "wbr", "input", "meta", "link", "source", "area", "col", "embed"}
)
_NAMED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#[xX]([0-9a-fA-F]{1,6})|#([0-9]{1,7})|([A-Za-z][A-Za-z0-9]*));")
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_END_TAG_RE = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_ATTR_RE = re.compile(r"""([^\s=>/"'<]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
MAX_URL_LENGTH = 2048


class HtmlError(ValueError):
    """HTML the stand-in refuses (unbalanced, malformed, an unescaped ``&`` or ``<``)."""


@dataclass
class ParsedText:
    text: str  # plain text: tags removed, character references decoded
    markup: list[Json]  # MAX markup elements: {type, from, length, url?/user_id?}
    stripped: list[str]  # tags MAX would strip (everything it does not render), in order


def _decode_entity(src: str, pos: int) -> tuple[str, int]:
    """The character reference at ``src[pos] == "&"``: (character, end)."""
    match = _ENTITY_RE.match(src, pos)
    if match is None:
        raise HtmlError(f'unescaped "&" at position {pos} (write "&amp;")')
    if match.group(3) is not None:
        char = _NAMED_ENTITIES.get(match.group(3))
        if char is None:
            raise HtmlError(f"unknown character reference {match.group(0)!r} at position {pos}")
        return char, match.end()
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise HtmlError(f"invalid character reference {match.group(0)!r} at position {pos}")
    return chr(code), match.end()


def _decode_attribute(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "&":
            char, i = _decode_entity(value, i)
            out.append(char)
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def url_problem(url: Any) -> str | None:
    """Why a link (a link button's url or an ``<a href>``) is refused; None when it is fine."""
    if not isinstance(url, str) or not url:
        return "is empty"
    if utf16_len(url) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    if re.search(r"\s", url):
        return "contains whitespace"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// link"
    if not parts.hostname:
        return "has no host"
    return None


def parse_html(src: str) -> ParsedText:
    """Parse ``format: "html"`` text as MAX renders it.  Tags MAX does not know are stripped
    (their content kept) and reported; anything malformed raises HtmlError."""
    out: list[str] = []
    u16 = 0  # UTF-16 length of ``out``: markup offsets are in UTF-16 units
    stack: list[tuple[str, Json | None, int]] = []  # (tag, markup element or None, start)
    markup: list[Json] = []
    stripped: list[str] = []
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        if char == "&":
            decoded, i = _decode_entity(src, i)
            out.append(decoded)
            u16 += utf16_len(decoded)
            continue
        if char != "<":
            out.append(char)
            u16 += utf16_len(char)
            i += 1
            continue
        if src.startswith("</", i):
            end = _END_TAG_RE.match(src, i)
            if end is None:
                raise HtmlError(f"malformed end tag at position {i}")
            name = end.group(1).lower()
            if not stack:
                raise HtmlError(f"unexpected end tag </{name}> at position {i}")
            tag, opened, start = stack.pop()
            if tag != name:
                raise HtmlError(f"end tag </{name}> at position {i} does not close <{tag}>")
            if opened is not None and u16 > start:
                markup.append({**opened, "from": start, "length": u16 - start})
            i = end.end()
            continue
        name_match = _TAG_NAME_RE.match(src, i + 1)
        if name_match is None:
            raise HtmlError(f'unescaped "<" at position {i} (write "&lt;")')
        name = name_match.group(0).lower()
        attrs: dict[str, str] = {}
        j = name_match.end()
        while True:
            k = j
            while k < n and src[k].isspace():
                k += 1
            if k >= n:
                raise HtmlError(f"unclosed tag <{name} at position {i}")
            if src[k] == ">":
                j, self_closing = k + 1, False
                break
            if src.startswith("/>", k):
                j, self_closing = k + 2, True
                break
            attr = _ATTR_RE.match(src, k)
            if k == j or attr is None:
                raise HtmlError(f"malformed attributes of <{name}> at position {i}")
            value = next((g for g in attr.groups()[1:] if g is not None), "")
            attrs[attr.group(1).lower()] = _decode_attribute(value)
            j = attr.end()
        if name in _VOID_TAGS or self_closing:
            if name in _HTML_MARKUP:
                raise HtmlError(f"<{name}/> at position {i} must have content and an end tag")
            stripped.append(name)
            i = j
            continue
        element: Json | None = None
        if name in _HTML_MARKUP:
            element = {"type": _HTML_MARKUP[name]}
            if name == "a":
                href = attrs.get("href")
                mention = re.fullmatch(r"max://user/(\d+)", href or "")
                if mention is not None:
                    element = {"type": "user_mention", "user_id": int(mention.group(1))}
                elif (problem := url_problem(href)) is not None:
                    raise HtmlError(f"<a> at position {i}: href {problem}")
                else:
                    element["url"] = href
        else:
            stripped.append(name)
        stack.append((name, element, u16))
        i = j
    if stack:
        raise HtmlError(f"unclosed tag <{stack[-1][0]}>")
    unique = {json.dumps(e, sort_keys=True): e for e in markup}  # <pre><code> is one block
    result = sorted(unique.values(), key=lambda e: (e["from"], -e["length"]))
    return ParsedText("".join(out), result, stripped)


# --------------------------------------------------------------------------- inline keyboards

# Limits (notes §6): 30 rows, 7 buttons a row but 3 of the "wide" kinds, 210 buttons; button
# text 1..128; callback payload up to 1024 (counted here in UTF-8 bytes, the stricter unit);
# link url up to 2048.
MAX_ROWS = 30
MAX_ROW_BUTTONS = 7
MAX_ROW_WIDE_BUTTONS = 3
MAX_BUTTONS = 210
MAX_BUTTON_TEXT = 128
MAX_CALLBACK_PAYLOAD_BYTES = 1024
BUTTON_TYPES = frozenset(
    {
        "callback",
        "link",
        "request_geo_location",
        "request_contact",
        "open_app",
        "message",
        "clipboard",
        "chat",
    }
)
_WIDE_BUTTONS = frozenset({"link", "open_app", "request_geo_location", "request_contact"})
_INTENTS = frozenset({"positive", "negative", "default"})


def check_keyboard(
    payload: Any,
    *,
    max_text: int = MAX_BUTTON_TEXT,
    max_payload_bytes: int = MAX_CALLBACK_PAYLOAD_BYTES,
) -> None:
    """Validate an ``inline_keyboard`` attachment's payload; raises MaxError."""
    rows = payload.get("buttons") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_payload("inline_keyboard: `payload.buttons` must be an array of rows")
    if not rows or not all(rows):
        raise bad_payload("inline_keyboard: the keyboard and each of its rows need a button")
    if len(rows) > MAX_ROWS:
        raise bad_payload(f"errors.maxRows: {len(rows)} rows, at most {MAX_ROWS} allowed")
    total = sum(len(row) for row in rows)
    if total > MAX_BUTTONS:
        raise bad_payload(f"errors.maxButtons: {total} buttons, at most {MAX_BUTTONS} allowed")
    for number, row in enumerate(rows, 1):
        if len(row) > MAX_ROW_BUTTONS:
            raise bad_payload(
                f"errors.maxButtonsInRow: row {number} has {len(row)} buttons, "
                f"at most {MAX_ROW_BUTTONS} allowed"
            )
        wide = [b for b in row if isinstance(b, dict) and b.get("type") in _WIDE_BUTTONS]
        if len(wide) > MAX_ROW_WIDE_BUTTONS:
            raise bad_payload(
                f"errors.maxButtonsInRow: row {number} has {len(wide)} link/open_app/request "
                f"buttons, at most {MAX_ROW_WIDE_BUTTONS} allowed"
            )
        for button in row:
            _check_button(button, max_text, max_payload_bytes)


def _check_button(button: Any, max_text: int, max_payload_bytes: int) -> None:
    if not isinstance(button, dict):
        raise bad_payload("inline_keyboard: a button must be an object")
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        raise bad_payload(f"inline_keyboard: unknown button type {kind!r}")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_payload(f"inline_keyboard: a {kind} button has empty text")
    if utf16_len(text) > max_text:
        raise bad_payload(f"inline_keyboard: button text: size must be between 1 and {max_text}")
    if "intent" in button and button["intent"] not in _INTENTS:
        raise bad_payload(f"inline_keyboard: unknown intent {button['intent']!r}")
    if kind in ("callback", "clipboard"):
        payload = button.get("payload")
        if not isinstance(payload, str) or not payload:
            raise bad_payload(f"inline_keyboard: {kind} button {text!r} needs a `payload`")
        if kind == "callback" and len(payload.encode("utf-8")) > max_payload_bytes:
            raise bad_payload(
                f"inline_keyboard: payload of button {text!r} is "
                f"{len(payload.encode('utf-8'))} bytes, at most {max_payload_bytes} allowed"
            )
    elif kind == "link" and (problem := url_problem(button.get("url"))) is not None:
        raise bad_payload(f"inline_keyboard: url of button {text!r} {problem}")


def keyboard_rows(attachments: list[Json]) -> list[list[Json]]:
    """The rows of the (first) inline keyboard among a message's attachments."""
    for attachment in attachments:
        if attachment.get("type") == "inline_keyboard":
            return list(attachment.get("payload", {}).get("buttons", []))
    return []


# --------------------------------------------------------------------------- records


@dataclass
class ApiCall:
    """Any request the bot made to the API (successful or not)."""

    method: str  # HTTP method
    path: str
    query: dict[str, str]
    json: Any = None  # the parsed body, None when there was none


@dataclass
class Refusal:
    """A request the stand-in refused, as MAX would have."""

    method: str
    path: str
    status: int
    code: str
    message: str
    query: dict[str, str]
    json: Any = None


@dataclass
class MaxUser:
    user_id: int
    first_name: str
    last_name: str = ""
    username: str | None = None
    locale: str = "ru"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def to_json(self) -> Json:
        data: Json = {
            "user_id": self.user_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
        }
        if self.username:
            data["username"] = self.username
        data.update(is_bot=False, last_activity_time=now_ms(), name=self.name)
        return data


@dataclass
class Group:
    """A group chat (MAX ``chat_type: "chat"``) with the bot in it."""

    chat_id: int
    title: str
    members: set[int] = field(default_factory=set)
    owner_id: int | None = None
    bot_member: bool = True
    bot_admin: bool = True  # a non-admin bot gets no messages from the group (notes §10)


@dataclass
class UploadedFile:
    """A file uploaded through POST /uploads (or sent by a user, see ``push_message``)."""

    upload_id: str
    type: str  # "file", "image", "video", "audio"
    token: str | None = None
    filename: str | None = None
    content: bytes = b""
    content_type: str = ""
    uploaded: bool = False
    not_ready_left: int = 0  # sends still to be answered attachment.not.ready
    photo_id: int = 0


@dataclass
class StoredMessage:
    """The current state of a message in a chat (sent by the bot or pushed as a user's)."""

    chat_id: int
    seq: int
    sender_id: int
    text: str | None  # plain text (tags removed, references decoded)
    raw_text: str | None  # as sent
    format: str | None
    markup: list[Json]
    attachments: list[Json]  # as echoed in body.attachments
    link: Json | None  # the LinkedMessage (reply/forward) as echoed
    timestamp: int

    @property
    def mid(self) -> str:
        return make_mid(self.chat_id, self.seq)

    @property
    def from_bot(self) -> bool:
        return self.sender_id == BOT_USER_ID

    @property
    def buttons(self) -> list[Json]:
        return [button for row in keyboard_rows(self.attachments) for button in row]


@dataclass
class Content:
    """A validated NewMessageBody, resolved against the message it edits (if any)."""

    text: str | None
    raw_text: str | None
    format: str | None
    markup: list[Json]
    attachments: list[Json]
    stripped: list[str]
    uploads: list[UploadedFile] = field(default_factory=list)  # new in this call

    @property
    def empty(self) -> bool:
        return not (self.text and self.text.strip()) and not self.attachments


@dataclass
class SentRecord:
    """One successful send or edit by the bot, with a snapshot of the resulting message."""

    index: int  # in ``MaxApiStandin.sent``
    method: str  # "POST" (send), "PUT" (edit), "answer" (edit through POST /answers)
    chat_id: int
    mid: str
    seq: int
    text: str | None  # plain text
    raw_text: str | None  # as sent, e.g. with HTML tags
    format: str | None
    markup: list[Json]
    attachments: list[Json]
    link: Json | None
    body: Json  # the NewMessageBody as sent
    message: Json  # the Message after the call
    stripped_tags: list[str] = field(default_factory=list)
    noop: bool = False  # an edit that changed nothing
    files: list[UploadedFile] = field(default_factory=list)  # uploads attached to the message

    @property
    def keyboard(self) -> list[list[Json]]:
        return keyboard_rows(self.attachments)

    @property
    def buttons(self) -> list[str]:
        return [str(b.get("text", "")) for row in self.keyboard for b in row]

    @property
    def payloads(self) -> list[str | None]:
        return [b.get("payload") for row in self.keyboard for b in row]

    @property
    def urls(self) -> list[str | None]:
        return [b.get("url") for row in self.keyboard for b in row]

    def payload(self, button_text: str) -> str | None:
        for row in self.keyboard:
            for button in row:
                if button.get("text") == button_text:
                    return button.get("payload")
        return None

    def describe(self) -> str:
        text = (self.text or "")[:300]
        return f"#{self.index} {self.method} {self.mid}: {text!r} buttons={self.buttons}"


@dataclass
class CallbackRecord:
    """A button press (message_callback) and how the bot answered it."""

    callback_id: str
    user_id: int
    chat_id: int
    mid: str
    payload: str
    answered: bool = False
    notification: str | None = None
    message: Json | None = None  # the answer's `message` (a NewMessageBody), if any


@dataclass
class Subscription:
    """A webhook subscription (POST /subscriptions) and its delivery queue."""

    url: str
    update_types: list[str] | None
    secret: str | None
    time: int
    queue: asyncio.Queue[int] = field(default_factory=asyncio.Queue, repr=False)
    current: int | None = None  # the update number being delivered
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def wants(self, update: Json) -> bool:
        return not self.update_types or update["update_type"] in self.update_types

    def to_json(self) -> Json:
        return {"url": self.url, "time": self.time, "update_types": self.update_types}


@dataclass
class WebhookPost:
    """One POST of an update to the bot's webhook."""

    update: Json
    url: str
    status: int  # 0: no answer (connection refused or reset, or no answer in time)
    secret: str | None  # the X-Max-Bot-Api-Secret header sent


FAULT_KINDS = (
    "500",  # {"code": "internal.error"}, the call had no effect
    "502",  # a proxy's HTML page: not even JSON
    "503",  # {"code": "service.unavailable"}, the call had no effect
    "drop",  # the connection closes before the call takes effect
    "drop_after",  # the call takes effect, then the connection closes: the answer is lost
    "timeout",  # no answer for `timeout_hold` seconds, then the connection closes (no effect)
    "429",  # too.many.requests, without Retry-After (as MAX answers)
    "403",  # chat.denied
    "404",  # not.found
)


@dataclass
class FaultRule:
    route: str | None  # "POST /messages", "/messages" (any method) or None (any call)
    chat_id: int | None  # None: any chat
    faults: list[str]


Handler = Callable[["Request"], Awaitable[Any]]
_dumps = functools.partial(json.dumps, ensure_ascii=False)


@dataclass
class Request:
    """What a route handler gets: the query, the JSON body and the path's groups."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    args: tuple[str, ...]

    def object_body(self) -> Json:
        """The body as a JSON object ({} when there is none)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise bad_payload("Request body must be a JSON object")
        return self.body

    def int_param(self, name: str, *, required: bool = True) -> int | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            if required:
                raise bad_payload(f"Parameter `{name}` is required")
            return None
        if not re.fullmatch(r"-?\d{1,19}", raw):
            raise bad_payload(f"Parameter `{name}` must be an integer, got {raw!r}")
        return int(raw)


class MaxApiStandin:
    """Fake MAX Bot API server (see the module's docstring).  Tests set up users and chats
    with ``introduce``/``create_group`` (or fill ``stopped_users``), drive it with the
    ``push_*``/``press``/``add_member`` helpers and inspect ``sent``, ``messages``,
    ``errors``, ``calls``, ``updates`` and the other records."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self.url = ""
        self.calls: list[ApiCall] = []
        self.errors: list[Refusal] = []
        self.commands: list[Json] = []
        self.users: dict[int, MaxUser] = {}
        self.groups: dict[int, Group] = {}
        self.dialog_users: set[int] = set()  # users whose dialog with the bot exists
        self.stopped_users: set[int] = set()  # stopped or blocked the bot: sends are refused
        self.sent: list[SentRecord] = []
        self.messages: dict[str, StoredMessage] = {}  # by mid
        self.deleted: list[str] = []  # mids
        self.stripped_tags: list[str] = []  # every tag MAX would strip from the bot's HTML
        self.noop_edits = 0  # edits that changed nothing (MAX accepts them silently)
        self.chat_actions: list[tuple[int, str]] = []
        self.updates: list[Json] = []  # every update MAX emitted for the bot, in order
        self.dropped_updates: list[Json] = []  # never delivered (filtered out by types, ...)
        self.skipped_updates: list[Json] = []  # lost to a poll without a marker
        self.callbacks: dict[str, CallbackRecord] = {}
        self.notifications: list[tuple[int, str]] = []  # (user id, text) of answers
        self.superseded_polls = 0  # long polls released by a newer GET /updates
        # A GET /updates without a marker gets only the newest update (the current schema,
        # OQ 4); "all" gives every unread one (the older docs).
        self.markerless_poll = "last"
        self.poll_batch_cap = 100  # the server returns at most this many (maxapi, OQ 3)
        self.poll_hold_cap = 30.0  # and holds a long poll at most this long (maxapi, OQ 3)
        # Uploads (notes §7): the first `not_ready_sends` sends with a fresh token are
        # answered attachment.not.ready, as MAX does while it processes the file.
        self.not_ready_sends = 1
        self.uploads: list[UploadedFile] = []  # the bot's completed uploads
        self.files: dict[str, UploadedFile] = {}  # every upload slot and user file, by id
        self._tokens: dict[str, UploadedFile] = {}
        # Webhook delivery (notes §8), with test-sized delays: MAX retries after 60 s, x2.5.
        self.subscriptions: list[Subscription] = []
        self.webhook_posts: list[WebhookPost] = []
        self.lost_updates: list[Json] = []  # given up after webhook_max_attempts
        self.webhook_retry_delay = 0.2
        self.webhook_max_attempts = 11  # the first try and MAX's 10 retries
        self.webhook_timeout = 30.0  # MAX wants a 200 within 30 s
        self.push_delay = 0.0  # seconds before each POST to the webhook
        # Limits the notes disagree on (OQ 6, OQ 11) can be tightened by a test.
        self.max_text_length = MAX_TEXT_LENGTH
        self.max_button_text = MAX_BUTTON_TEXT
        self.max_payload_bytes = MAX_CALLBACK_PAYLOAD_BYTES
        # Fault injection and limits.
        self.rules: list[FaultRule] = []
        self.injected: list[tuple[str, int | None, str]] = []  # (route, chat, fault)
        self.latency = 0.0
        self.timeout_hold = 3.0  # how long a "timeout" fault holds the request
        self.enforce_limits = False
        self.limit_per_second = 10  # measured live (notes §1, OQ 3); the docs say 30
        self.flood_refusals = 0
        self._recent: list[float] = []
        self._next_group = 0
        self._last_seq: dict[int, int] = {}
        self._seq_count: dict[int, int] = {}
        self._deleted_messages: dict[str, StoredMessage] = {}
        self._pending: list[int] = []  # numbers (index + 1 in ``updates``) not yet read
        self._delivered: set[int] = set()
        self._poll_generation = 0
        self._pushers: list[asyncio.Task[None]] = []  # every webhook pusher ever started
        self._closing = False
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (method, re.compile(pattern), handler)
            for method, pattern, handler in (
                ("GET", r"/me", self._get_me),
                ("PATCH", r"/me/commands", self._patch_commands),
                ("PATCH", r"/me", self._patch_me),
                ("GET", r"/chats/(-?\d+)", self._get_chat),
                ("POST", r"/chats/(-?\d+)/actions", self._post_action),
                ("POST", r"/messages", self._post_message),
                ("PUT", r"/messages", self._put_message),
                ("DELETE", r"/messages", self._delete_message),
                ("GET", r"/messages/([^/]+)", self._get_message),
                ("GET", r"/updates", self._get_updates),
                ("POST", r"/answers", self._post_answer),
                ("POST", r"/uploads", self._post_uploads),
                ("GET", r"/subscriptions", self._get_subscriptions),
                ("POST", r"/subscriptions", self._post_subscription),
                ("DELETE", r"/subscriptions", self._delete_subscription),
            )
        ]

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # releases held long polls
        for task in self._pushers:
            task.cancel()
        await asyncio.gather(*self._pushers, return_exceptions=True)
        self._pushers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MaxApiStandin:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        call = ApiCall(request.method, path, dict(request.query))
        self.calls.append(call)
        if path.startswith(("/upload/", "/files/")):  # MAX's upload/CDN hosts: no token
            return await self._upload_host(request, call)
        try:
            self._check_auth(request)
            handler, args = self._route(request.method, path)
            if request.body_exists:
                raw = await request.read()
                if raw.strip():
                    try:
                        call.json = json.loads(raw)
                    except ValueError:
                        raise bad_payload("Request body is not valid JSON") from None
            req = Request(request.method, path, call.query, call.json, args)
            if self.latency:
                await asyncio.sleep(self.latency)
            fault = self._next_fault(request.method, path, self._target_chat(req))
            if fault is not None:
                early = await self._inject(request, fault)
                if early is not None:
                    return early
            self._check_limits()
            result = await handler(req)
            if fault == "drop_after":
                return self._drop(request)
            if path == "/updates":
                self._mark_polled(request, result["updates"])
        except MaxError as exc:
            return self._refuse(call, exc)
        except Exception as exc:  # input the stand-in does not understand (or a bug in it)
            return self._refuse(
                call, MaxError(500, "internal.error", f"the stand-in failed: {exc!r}")
            )
        return web.json_response(result, dumps=_dumps)

    def _check_auth(self, request: web.Request) -> None:
        if "access_token" in request.query:
            raise invalid_token()  # no longer supported by MAX; never put a token in a URL
        if request.headers.get("Authorization") != self.token:
            raise invalid_token()

    def _route(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler, match.groups()
            allowed = True
        if allowed:
            raise MaxError(405, "method.not.allowed", f"Method {method} is not allowed for {path}")
        raise not_found(f"Path {path} not found")

    def _refuse(self, call: ApiCall, exc: MaxError) -> web.Response:
        self.errors.append(
            Refusal(
                call.method, call.path, exc.status, exc.code, exc.message, call.query, call.json
            )
        )
        return web.json_response(
            {"code": exc.code, "message": exc.message}, status=exc.status, dumps=_dumps
        )

    def _target_chat(self, req: Request) -> int | None:
        """The chat a call is about (for per-chat faults)."""
        query = req.query
        try:
            if query.get("chat_id"):
                return int(query["chat_id"])
            if query.get("user_id"):
                return self.dialog_chat_id(int(query["user_id"]))
        except ValueError:
            return None
        if req.args and re.fullmatch(r"-?\d+", req.args[0]):
            return int(req.args[0])
        callback = self.callbacks.get(query.get("callback_id") or "")
        if callback is not None:
            return callback.chat_id
        ids = parse_mid(query.get("message_id") or (req.args[0] if req.args else ""))
        return None if ids is None else ids[0]

    # ------------------------------------------------------------------ faults and limits

    def fail(self, route: str | None = None, chat_id: int | None = None, *faults: str) -> None:
        """The next matching calls fail, one fault each, in order, e.g.
        ``fail("POST /messages", mx.dialog_chat_id(1001), "500", "drop")``.  ``route`` is
        ``"METHOD /path"``, a bare ``"/path"`` (any method) or None (any call)."""
        unknown = [f for f in faults if f not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {FAULT_KINDS}")
        self.rules.append(FaultRule(route, chat_id, list(faults)))

    def _next_fault(self, method: str, path: str, chat_id: int | None) -> str | None:
        for rule in self.rules:
            if not rule.faults or rule.chat_id not in (None, chat_id):
                continue
            if rule.route in (None, path, f"{method} {path}"):
                fault = rule.faults.pop(0)
                self.injected.append((f"{method} {path}", chat_id, fault))
                return fault
        return None

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client: the connection is gone

    async def _inject(self, request: web.Request, fault: str) -> web.StreamResponse | None:
        if fault == "drop":
            return self._drop(request)
        if fault == "timeout":
            await asyncio.sleep(self.timeout_hold)
            return self._drop(request)
        if fault == "502":
            html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            return web.Response(status=502, text=html, content_type="text/html")
        errors = {
            "500": MaxError(500, "internal.error", "Internal error"),
            "503": MaxError(503, "service.unavailable", "Service unavailable"),
            "429": MaxError(
                429,
                "too.many.requests",
                TOO_MANY_REQUESTS.format(limit=self.limit_per_second),
            ),
            "403": chat_denied("Bot has no access to the chat"),
            "404": not_found("Not found"),
        }
        if fault in errors:
            raise errors[fault]
        return None  # drop_after: the call runs first

    def _check_limits(self) -> None:
        """MAX's rate limit (per token): past ``limit_per_second`` calls in a second, a 429
        without Retry-After, and the call does not happen."""
        if not self.enforce_limits:
            return
        now = time.monotonic()
        self._recent = [t for t in self._recent if t > now - 1.0]
        if len(self._recent) >= self.limit_per_second:
            self.flood_refusals += 1
            raise MaxError(
                429, "too.many.requests", TOO_MANY_REQUESTS.format(limit=self.limit_per_second)
            )
        self._recent.append(now)

    # ------------------------------------------------------------------ users and chats

    def bot_user(self) -> Json:
        return {
            "user_id": BOT_USER_ID,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "is_bot": True,
            "last_activity_time": now_ms(),
            "name": BOT_FIRST_NAME,
        }

    def _user(self, user_id: int) -> MaxUser:
        return self.users.setdefault(user_id, MaxUser(user_id, "Иван"))

    def _user_json(self, user_id: int) -> Json:
        return self.bot_user() if user_id == BOT_USER_ID else self._user(user_id).to_json()

    @staticmethod
    def dialog_chat_id(user_id: int) -> int:
        """The chat id of the user's dialog with the bot (never the user id itself)."""
        return DIALOG_CHAT_BASE + user_id

    def dialog_user(self, chat_id: int) -> int | None:
        """The user of a dialog chat that exists (None for groups and unknown chats)."""
        user_id = chat_id - DIALOG_CHAT_BASE
        return user_id if chat_id > 0 and user_id in self.dialog_users else None

    def introduce(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str = "",
        username: str | None = None,
        locale: str = "ru",
    ) -> int:
        """A user who has the bot in their chat list (their dialog exists), before they write;
        returns the dialog's chat id."""
        self.users[user_id] = MaxUser(user_id, first_name, last_name, username, locale)
        self.dialog_users.add(user_id)
        return self.dialog_chat_id(user_id)

    def create_group(
        self,
        title: str = "Тестовая группа",
        *,
        members: tuple[int, ...] | list[int] = (),
        bot_admin: bool = True,
    ) -> int:
        """A group chat with the bot (an admin unless told otherwise) and these users in it;
        returns its (negative) chat id."""
        self._next_group += 1
        chat_id = GROUP_CHAT_BASE - self._next_group * 1_000_003
        for user_id in members:
            self._user(user_id)
        self.groups[chat_id] = Group(
            chat_id,
            title,
            set(members),
            owner_id=members[0] if members else None,
            bot_admin=bot_admin,
        )
        return chat_id

    def _chat_kind(self, chat_id: int) -> str:
        """The chat's type, "dialog" or "chat"; 404 ``chat.not.found`` for an unknown one."""
        if self.dialog_user(chat_id) is not None:
            return "dialog"
        if chat_id in self.groups:
            return "chat"
        raise chat_not_found(f"Chat {chat_id} not found")

    def _gate(self, chat_id: int) -> None:
        """Refusals of a valid call that come from the chat's state."""
        user_id = self.dialog_user(chat_id)
        if user_id is not None and user_id in self.stopped_users:
            raise chat_denied(f"Chat {chat_id}: the user has stopped or blocked the bot")
        group = self.groups.get(chat_id)
        if group is not None and not group.bot_member:
            raise chat_denied(f"Chat {chat_id}: the bot is not a member")

    # ------------------------------------------------------------------ bot info, chats

    async def _get_me(self, req: Request) -> Any:
        info = self.bot_user()
        info["description"] = "Тестовый бот ВИМИС"
        if self.commands:
            info["commands"] = self.commands
        return info

    async def _patch_commands(self, req: Request) -> Any:
        body = req.object_body()
        commands = body.get("commands")
        if not isinstance(commands, list):
            raise bad_payload("`commands` must be an array")
        if len(commands) > MAX_COMMANDS:
            raise bad_payload(f"commands: size must be between 0 and {MAX_COMMANDS}")
        seen: set[str] = set()
        cleaned: list[Json] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_payload("commands: each command must be an object")
            name, description = command.get("name"), command.get("description")
            if not isinstance(name, str) or not 1 <= utf16_len(name) <= MAX_COMMAND_NAME:
                raise bad_payload(f"commands.name: size must be between 1 and {MAX_COMMAND_NAME}")
            if name.startswith("/") or re.search(r"\s", name):
                raise bad_payload(f"commands.name: {name!r} must be a bare word without '/'")
            if name in seen:
                raise bad_payload(f"commands.name: {name!r} is given twice")
            seen.add(name)
            if (
                not isinstance(description, str)
                or not description.strip()
                or utf16_len(description) > MAX_COMMAND_DESCRIPTION
            ):
                raise bad_payload(
                    f"commands.description: size must be between 1 and {MAX_COMMAND_DESCRIPTION}"
                )
            cleaned.append({"name": name, "description": description})
        self.commands = cleaned
        return {"commands": cleaned}

    async def _patch_me(self, req: Request) -> Any:
        raise not_found("PATCH /me is no longer supported (since 15.09.2026): PATCH /me/commands")

    async def _get_chat(self, req: Request) -> Any:
        chat_id = int(req.args[0])
        if self._chat_kind(chat_id) == "dialog":
            user_id = self.dialog_user(chat_id)
            assert user_id is not None
            return {
                "chat_id": chat_id,
                "type": "dialog",
                "status": "active",
                "title": None,
                "last_event_time": now_ms(),
                "participants_count": 2,
                "is_public": False,
                "dialog_with_user": self._user_json(user_id),
            }
        group = self.groups[chat_id]
        return {
            "chat_id": chat_id,
            "type": "chat",
            "status": "active" if group.bot_member else "removed",
            "title": group.title,
            "last_event_time": now_ms(),
            "participants_count": len(group.members) + 1,
            "is_public": False,
            "owner_id": group.owner_id,
        }

    # ------------------------------------------------------------------ messages: shapes

    def _alloc_seq(self, chat_id: int) -> int:
        """A new ``seq`` in the chat: (timestamp_ms << 16) | counter, strictly increasing."""
        count = self._seq_count.get(chat_id, 0) + 1
        self._seq_count[chat_id] = count
        seq = (now_ms() << 16) | (count & 0xFFFF)
        seq = max(seq, self._last_seq.get(chat_id, 0) + 1)
        self._last_seq[chat_id] = seq
        return seq

    def _new_message(
        self,
        chat_id: int,
        sender_id: int,
        content: Content,
        link: Json | None = None,
    ) -> StoredMessage:
        seq = self._alloc_seq(chat_id)
        msg = StoredMessage(
            chat_id=chat_id,
            seq=seq,
            sender_id=sender_id,
            text=content.text,
            raw_text=content.raw_text,
            format=content.format,
            markup=content.markup,
            attachments=content.attachments,
            link=link,
            timestamp=seq >> 16,
        )
        self.messages[msg.mid] = msg
        return msg

    @staticmethod
    def _body_json(msg: StoredMessage) -> Json:
        body: Json = {"mid": msg.mid, "seq": msg.seq, "text": msg.text}
        if msg.attachments:
            body["attachments"] = copy.deepcopy(msg.attachments)
        if msg.markup:
            body["markup"] = copy.deepcopy(msg.markup)
        return body

    def _message_json(self, msg: StoredMessage) -> Json:
        recipient: Json = {"chat_id": msg.chat_id, "chat_type": "chat"}
        if msg.chat_id > 0:  # a dialog: user_id is the *other* side (notes §2)
            recipient["chat_type"] = "dialog"
            user_id = msg.chat_id - DIALOG_CHAT_BASE
            recipient["user_id"] = user_id if msg.from_bot else BOT_USER_ID
        data: Json = {
            "recipient": recipient,
            "timestamp": msg.timestamp,
            "body": self._body_json(msg),
            "sender": self._user_json(msg.sender_id),
        }
        if msg.link is not None:
            data["link"] = copy.deepcopy(msg.link)
        return data

    def _record(
        self, method: str, msg: StoredMessage, body: Json, content: Content, noop: bool = False
    ) -> None:
        self.stripped_tags.extend(content.stripped)
        self.sent.append(
            SentRecord(
                index=len(self.sent),
                method=method,
                chat_id=msg.chat_id,
                mid=msg.mid,
                seq=msg.seq,
                text=msg.text,
                raw_text=msg.raw_text,
                format=msg.format,
                markup=copy.deepcopy(msg.markup),
                attachments=copy.deepcopy(msg.attachments),
                link=copy.deepcopy(msg.link),
                body=copy.deepcopy(body),
                message=self._message_json(msg),
                stripped_tags=list(content.stripped),
                noop=noop,
                files=self._attached_files(msg.attachments),
            )
        )
        self._notify()

    # ------------------------------------------------------------------ messages: validation

    def _destination(self, req: Request) -> int:
        """The chat of ``POST /messages?chat_id=|user_id=``."""
        chat_id = req.int_param("chat_id", required=False)
        user_id = req.int_param("user_id", required=False)
        if (chat_id is None) == (user_id is None):
            raise bad_payload("Exactly one of `chat_id` and `user_id` is required")
        if user_id is not None:
            if user_id not in self.dialog_users:
                raise chat_not_found(f"Dialog with user {user_id} not found")
            return self.dialog_chat_id(user_id)
        assert chat_id is not None
        self._chat_kind(chat_id)
        return chat_id

    def _content(self, body: Json, base: StoredMessage | None) -> Content:
        """Validate a NewMessageBody.  For an edit (``base``), a missing/null ``text`` keeps
        the text and a missing/null ``attachments`` keeps the attachments (notes §4)."""
        notify = body.get("notify")
        if notify is not None and not isinstance(notify, bool):
            raise bad_payload("`notify` must be a boolean")
        fmt = body.get("format")
        if fmt not in (None, "html", "markdown"):
            raise bad_payload(f'`format` must be "html" or "markdown", got {fmt!r}')
        raw = body.get("text")
        if base is not None and raw is None:
            text, raw, fmt, markup = base.text, base.raw_text, base.format, base.markup
            stripped: list[str] = []
        else:
            if raw is not None and not isinstance(raw, str):
                raise bad_payload("`text` must be a string")
            if raw is not None and utf16_len(raw) > self.max_text_length:
                raise bad_payload(f"text: size must be between 0 and {self.max_text_length}")
            text, markup, stripped = None, [], []
            if raw and fmt == "html":
                try:
                    parsed = parse_html(raw)
                except HtmlError as exc:
                    raise bad_payload(f"Invalid HTML: {exc}") from None
                text, markup, stripped = parsed.text or None, parsed.markup, parsed.stripped
            elif raw:
                text = raw  # plain or markdown (markdown is stored as sent, not parsed)
        items = body.get("attachments")
        uploads: list[UploadedFile] = []
        if items is None:
            attachments = copy.deepcopy(base.attachments) if base is not None else []
        else:
            attachments, uploads = self._attachments(items)
        return Content(text, raw, fmt, markup, attachments, stripped, uploads)

    def _attachments(self, items: Any) -> tuple[list[Json], list[UploadedFile]]:
        if not isinstance(items, list):
            raise bad_payload("`attachments` must be an array")
        result: list[Json] = []
        uploads: list[UploadedFile] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise bad_payload("attachments: each attachment must be an object with `type`")
            kind = item["type"]
            if kind == "inline_keyboard":
                check_keyboard(
                    item.get("payload"),
                    max_text=self.max_button_text,
                    max_payload_bytes=self.max_payload_bytes,
                )
                result.append({"type": kind, "payload": copy.deepcopy(item["payload"])})
            elif kind in UPLOAD_TYPES:
                echo, upload = self._media_attachment(kind, item.get("payload"))
                result.append(echo)
                if upload is not None:
                    uploads.append(upload)
            else:
                raise bad_payload(f"attachments: type {kind!r} is not supported")
        if sum(1 for a in result if a["type"] == "inline_keyboard") > 1:
            raise bad_payload("attachments: at most one inline_keyboard per message")
        if len(result) > 1 and any(a["type"] == "file" for a in result):
            raise bad_payload("attachments: a file must be the only attachment of its message")
        return result, uploads

    def _media_attachment(self, kind: str, payload: Any) -> tuple[Json, UploadedFile | None]:
        """A file/image/video/audio attachment request: its echo and the upload it uses."""
        if not isinstance(payload, dict):
            raise bad_payload(f"attachments: a {kind} attachment needs a `payload`")
        token = payload.get("token")
        if kind == "image" and token is None:
            photos = payload.get("photos")
            if isinstance(photos, dict) and photos:
                first = next(iter(photos.values()))
                token = first.get("token") if isinstance(first, dict) else None
            elif "url" in payload:
                if (problem := url_problem(payload["url"])) is not None:
                    raise bad_payload(f"attachments: image url {problem}")
                return {"type": "image", "payload": {"url": payload["url"]}}, None
        upload = self._tokens.get(token) if isinstance(token, str) else None
        if upload is None:
            raise bad_payload(f"attachments: unknown {kind} token {token!r}")
        if upload.type != kind:
            raise bad_payload(f"attachments: the token is of a {upload.type} upload, not {kind}")
        return self._media_json(upload), upload

    def _media_json(self, upload: UploadedFile) -> Json:
        url = f"{self.url}/files/{upload.upload_id}"
        if upload.type == "image":
            payload: Json = {"photo_id": upload.photo_id, "token": upload.token, "url": url}
            return {"type": "image", "payload": payload}
        data: Json = {"type": upload.type, "payload": {"url": url, "token": upload.token}}
        if upload.type == "file":
            data.update(filename=upload.filename, size=len(upload.content))
        return data

    def _attached_files(self, attachments: list[Json]) -> list[UploadedFile]:
        tokens = [a.get("payload", {}).get("token") for a in attachments]
        return [self._tokens[t] for t in tokens if isinstance(t, str) and t in self._tokens]

    @staticmethod
    def _check_ready(uploads: list[UploadedFile]) -> None:
        """MAX processes an upload for a while: until then a send using it is refused."""
        for upload in uploads:
            if not upload.uploaded or upload.not_ready_left > 0:
                if upload.uploaded:
                    upload.not_ready_left -= 1
                raise MaxError(
                    400,
                    "attachment.not.ready",
                    f"Key: errors.process.attachment.{upload.type}.not.processed",
                )

    def _link(self, chat_id: int, link: Any) -> Json | None:
        """The LinkedMessage of a reply/forward; its ``mid`` must exist (in this chat for a
        reply)."""
        if link is None:
            return None
        if (
            not isinstance(link, dict)
            or link.get("type") not in ("reply", "forward")
            or not isinstance(link.get("mid"), str)
        ):
            raise bad_payload('`link` must be {"type": "reply"|"forward", "mid": "..."}')
        target = self.messages.get(link["mid"])
        if target is None or (link["type"] == "reply" and target.chat_id != chat_id):
            raise bad_payload(f"link.mid: message {link['mid']} not found in chat {chat_id}")
        linked: Json = {
            "type": link["type"],
            "sender": self._user_json(target.sender_id),
            "message": self._body_json(target),
        }
        if link["type"] == "forward":
            linked["chat_id"] = target.chat_id
        return linked

    def _stored(self, mid: str | None) -> StoredMessage:
        if not mid:
            raise bad_payload("Parameter `message_id` is required")
        msg = self.messages.get(mid)
        if msg is None:
            raise not_found(f"Message {mid} not found")
        return msg

    def _edit(self, msg: StoredMessage, body: Json, method: str) -> None:
        content = self._content(body, msg)
        if content.empty:
            raise bad_payload(EMPTY_MESSAGE)
        self._gate(msg.chat_id)
        self._check_ready(content.uploads)
        before = (msg.text, msg.markup, msg.attachments)
        noop = before == (content.text, content.markup, content.attachments)
        if noop:
            self.noop_edits += 1
        msg.text, msg.raw_text, msg.format = content.text, content.raw_text, content.format
        msg.markup, msg.attachments = content.markup, content.attachments
        self._record(method, msg, body, content, noop=noop)

    # ------------------------------------------------------------------ messages: routes

    async def _post_message(self, req: Request) -> Any:
        chat_id = self._destination(req)
        body = req.object_body()
        content = self._content(body, None)
        link = self._link(chat_id, body.get("link"))
        if content.empty and not (link is not None and link["type"] == "forward"):
            raise bad_payload(EMPTY_MESSAGE)
        self._gate(chat_id)
        self._check_ready(content.uploads)
        msg = self._new_message(chat_id, BOT_USER_ID, content, link)
        self._record("POST", msg, body, content)
        return {"message": self._message_json(msg)}

    async def _put_message(self, req: Request) -> Any:
        msg = self._stored(req.query.get("message_id"))
        if not msg.from_bot:
            raise MaxError(403, "access.denied", "Insufficient permissions to edit message")
        self._edit(msg, req.object_body(), "PUT")
        return {"success": True}

    async def _delete_message(self, req: Request) -> Any:
        msg = self._stored(req.query.get("message_id"))
        group = self.groups.get(msg.chat_id)
        if not msg.from_bot and (group is None or not group.bot_admin):
            raise MaxError(403, "access.denied", "Insufficient permissions to delete message")
        del self.messages[msg.mid]
        self._deleted_messages[msg.mid] = msg
        self.deleted.append(msg.mid)
        self._notify()
        return {"success": True}

    async def _get_message(self, req: Request) -> Any:
        return self._message_json(self._stored(req.args[0]))

    async def _post_action(self, req: Request) -> Any:
        chat_id = int(req.args[0])
        action = req.object_body().get("action")
        if action not in CHAT_ACTIONS:
            raise bad_payload(f"Unknown action {action!r}")
        self._chat_kind(chat_id)
        self._gate(chat_id)
        self.chat_actions.append((chat_id, str(action)))
        return {"success": True}

    # ------------------------------------------------------------------ test helpers: sent

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentRecord], bool] | None = None,
        timeout: float = 15.0,  # noqa: ASYNC109 - part of the helper's public signature
        after: int | None = None,
    ) -> SentRecord:
        """Wait for a send/edit in the chat (record index >= ``after``) matching ``predicate``."""
        start = after or 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            for record in self.sent[start:]:
                if record.chat_id == chat_id and (predicate is None or predicate(record)):
                    return record
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._timeout_report(chat_id, timeout, start))
            await self._wait(changed, remaining)

    def _timeout_report(self, chat_id: int, timeout: float, start: int) -> str:
        in_chat = [r for r in self.sent if r.chat_id == chat_id]
        lines = [
            f"no matching message from the bot in chat {chat_id} within {timeout}s "
            f"(looking at records from #{start}); last ones in this chat:"
        ]
        lines += [f"  {r.describe()}" for r in in_chat[-5:]] or ["  (nothing)"]
        if self.errors:
            lines.append("refused requests:")
            lines += [
                f"  {e.method} {e.path} -> {e.status} {e.code}: {e.message}"
                for e in self.errors[-5:]
            ]
        return "\n".join(lines)

    def last_message(self, chat_id: int) -> SentRecord:
        """The newest send/edit record in the chat."""
        for record in reversed(self.sent):
            if record.chat_id == chat_id:
                return record
        raise AssertionError(f"the bot has not sent anything to chat {chat_id}")

    # ------------------------------------------------------------------ updates: long polling

    def delivered_updates(self) -> list[Json]:
        """The updates the bot has received (in a GET /updates answer that reached it, or
        answered 200 by its webhook), in order, each once."""
        return [self.updates[n - 1] for n in sorted(self._delivered)]

    def _mark_polled(self, request: web.Request, batch: list[Json]) -> None:
        """A GET /updates answer is about to be written: its updates count as delivered
        unless the bot has hung up meanwhile (e.g. its own timeout ended the long poll)."""
        if request.transport is None or request.transport.is_closing():
            return
        ids = {id(update) for update in batch}
        self._delivered.update(n for n, update in enumerate(self.updates, 1) if id(update) in ids)

    def pending_updates(self) -> list[Json]:
        """Updates GET /updates has not had confirmed by a marker yet."""
        return [self.updates[n - 1] for n in self._pending]

    async def _get_updates(self, req: Request) -> Any:
        if self.subscriptions:
            raise MaxError(
                409,
                "conflict",
                "Long polling is not available while a webhook subscription exists",
            )
        limit = self._bounded(req, "limit", 100, 1, MAX_POLL_LIMIT)
        timeout = self._bounded(req, "timeout", 30, 0, MAX_POLL_TIMEOUT)
        marker = req.int_param("marker", required=False)
        if marker is not None and marker < 0:
            raise bad_payload("Parameter `marker` must not be negative")
        types: set[str] | None = None
        if req.query.get("types"):
            types = set(req.query["types"].split(","))
            if unknown := types - UPDATE_TYPES:
                raise bad_payload(f"Unknown update types {sorted(unknown)}")
        if marker is not None:  # everything before the marker counts as read
            self._pending = [n for n in self._pending if n >= marker]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # releases an older long poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(float(timeout), self.poll_hold_cap)
        while True:
            changed = self._changed
            if self._closing or self.subscriptions or generation != self._poll_generation:
                if generation != self._poll_generation:
                    self.superseded_polls += 1
                return {"updates": [], "marker": marker}
            if types is not None:
                for n in [
                    n for n in self._pending if self.updates[n - 1]["update_type"] not in types
                ]:
                    self._pending.remove(n)
                    self.dropped_updates.append(self.updates[n - 1])
            if self._pending:
                if marker is None and self.markerless_poll == "last":
                    self.skipped_updates += [self.updates[n - 1] for n in self._pending[:-1]]
                    self._pending = self._pending[-1:]
                batch = self._pending[: min(limit, self.poll_batch_cap)]
                return {"updates": [self.updates[n - 1] for n in batch], "marker": batch[-1] + 1}
            remaining = deadline - loop.time()
            if remaining <= 0:
                return {
                    "updates": [],
                    "marker": len(self.updates) + 1 if marker is None else marker,
                }
            await self._wait(changed, remaining)

    @staticmethod
    def _bounded(req: Request, name: str, default: int, low: int, high: int) -> int:
        value = req.int_param(name, required=False)
        if value is None:
            return default
        if not low <= value <= high:
            raise bad_payload(f"Parameter `{name}` must be between {low} and {high}, got {value}")
        return value

    # ------------------------------------------------------------------ callbacks

    async def _post_answer(self, req: Request) -> Any:
        body = req.object_body()
        message, notification = body.get("message"), body.get("notification")
        if notification is not None and not isinstance(notification, str):
            raise bad_payload("`notification` must be a string")
        if message is None and not notification:
            raise bad_payload("`message` or `notification` required")
        callback_id = req.query.get("callback_id") or ""
        callback = self.callbacks.get(callback_id)
        if callback is None or callback.answered:
            raise not_found(f"Callback {callback_id!r} not found or already answered")
        if message is not None:
            if not isinstance(message, dict):
                raise bad_payload("`message` must be a NewMessageBody object")
            target = self.messages.get(callback.mid)
            if target is None:
                raise not_found(f"Message {callback.mid} not found")
            self._edit(target, message, "answer")  # edits the keyboard's message in place
        callback.answered, callback.message = True, message
        if notification:
            callback.notification = notification
            self.notifications.append((callback.user_id, notification))
        self._notify()
        return {"success": True}

    def unanswered_callbacks(self) -> list[str]:
        return [cid for cid, callback in self.callbacks.items() if not callback.answered]

    # ------------------------------------------------------------------ test helpers: updates

    def push_update(self, payload: Json) -> Json:
        """Emit a raw Update (MAX's shape, with ``update_type`` and ``timestamp``); returns it.
        It goes to the webhook(s) if there are subscriptions, else to GET /updates."""
        self.updates.append(payload)
        self._route_update(len(self.updates))
        self._notify()
        return payload

    def _route_update(self, number: int) -> None:
        if not self.subscriptions:
            self._pending.append(number)
            return
        update = self.updates[number - 1]
        wanted = [sub for sub in self.subscriptions if sub.wants(update)]
        for sub in wanted:
            sub.queue.put_nowait(number)
        if not wanted:
            self.dropped_updates.append(update)

    def _touch_user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        locale: str | None = None,
    ) -> MaxUser:
        user = self._user(user_id)
        if first_name is not None:
            user.first_name = first_name
        if last_name is not None:
            user.last_name = last_name
        if username is not None:
            user.username = username
        if locale is not None:
            user.locale = locale
        return user

    def _group(self, chat_id: int) -> Group:
        group = self.groups.get(chat_id)
        if group is None:
            raise AssertionError(f"there is no group {chat_id}: create_group() first")
        return group

    def push_message(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        reply_to: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        locale: str | None = None,
        attachments: list[Json] | None = None,
        document: str | None = None,
        photo: bool = False,
        file_content: bytes = b"standin file content",
    ) -> Json:
        """A user's message, in their dialog with the bot or (``chat_id``) in a group;
        ``reply_to`` is the mid it replies to; ``document`` (a file name) or ``photo`` attach
        ``file_content``, downloadable from the attachment's ``payload.url``.  Returns the
        message_created update."""
        user = self._touch_user(user_id, first_name, last_name, username, locale)
        attachments = copy.deepcopy(attachments or [])
        for kind, wanted in (("file", document is not None), ("image", photo)):
            if wanted:
                upload = self._new_upload(kind)
                upload.filename = document if kind == "file" else "photo.jpg"
                upload.content, upload.uploaded = file_content, True
                self._issue_token(upload)
                attachments.append(self._media_json(upload))
        group = None
        if chat_id is None:
            chat_id = self.dialog_chat_id(user_id)
            self.dialog_users.add(user_id)
        else:
            group = self._group(chat_id)
            group.members.add(user_id)
        link = None
        if reply_to is not None:
            target = self.messages.get(reply_to)
            if target is None or target.chat_id != chat_id:
                raise AssertionError(f"no message {reply_to} in chat {chat_id} to reply to")
            link = {
                "type": "reply",
                "sender": self._user_json(target.sender_id),
                "message": self._body_json(target),
            }
        content = Content(text, text, None, [], attachments, [])
        msg = self._new_message(chat_id, user_id, content, link)
        update: Json = {"message": self._message_json(msg), "timestamp": msg.timestamp}
        if group is None:
            update["user_locale"] = user.locale  # only in dialogs
        update["update_type"] = "message_created"
        if group is not None and not group.bot_admin:
            self.dropped_updates.append(update)  # a non-admin bot sees no group messages
            return update
        return self.push_update(update)

    def push_edit(self, update: Json, text: str) -> Json:
        """The user edits a message pushed earlier (``update`` is what ``push_message``
        returned): a message_edited update, without user_locale."""
        msg = self.messages[update["message"]["body"]["mid"]]
        msg.text = msg.raw_text = text
        return self.push_update(
            {
                "message": self._message_json(msg),
                "timestamp": now_ms(),
                "update_type": "message_edited",
            }
        )

    def push_bot_started(
        self,
        user_id: int,
        payload: str | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        locale: str | None = None,
    ) -> Json:
        """The user presses Start (or opens a ``?start=payload`` deep link): their dialog
        opens, a stopped bot is allowed to write again.  A payload over 512 characters is
        dropped, as MAX does."""
        user = self._touch_user(user_id, first_name, last_name, username, locale)
        self.dialog_users.add(user_id)
        self.stopped_users.discard(user_id)
        update: Json = {
            "timestamp": now_ms(),
            "chat_id": self.dialog_chat_id(user_id),
            "user": user.to_json(),
            "user_locale": user.locale,
            "user_id": user_id,
        }
        if payload is not None and utf16_len(payload) <= MAX_START_PAYLOAD:
            update["payload"] = payload
        update["update_type"] = "bot_started"
        return self.push_update(update)

    def push_bot_stopped(self, user_id: int) -> Json:
        """The user stops (blocks) the bot: further sends to the dialog get 403 chat.denied."""
        user = self._user(user_id)
        self.dialog_users.add(user_id)
        self.stopped_users.add(user_id)
        return self.push_update(
            {
                "timestamp": now_ms(),
                "chat_id": self.dialog_chat_id(user_id),
                "user": user.to_json(),
                "user_locale": user.locale,
                "update_type": "bot_stopped",
            }
        )

    def push_bot_added(self, chat_id: int, user_id: int) -> Json:
        """``user_id`` adds the bot to the group."""
        group = self._group(chat_id)
        group.bot_member = True
        group.members.add(user_id)
        return self.push_update(
            {
                "timestamp": now_ms(),
                "chat_id": chat_id,
                "user": self._user_json(user_id),
                "user_id": user_id,
                "is_channel": False,
                "update_type": "bot_added",
            }
        )

    def push_bot_removed(self, chat_id: int, user_id: int) -> Json:
        """``user_id`` removes the bot from the group: sends there get 403 chat.denied."""
        group = self._group(chat_id)
        group.bot_member = False
        return self.push_update(
            {
                "timestamp": now_ms(),
                "chat_id": chat_id,
                "user": self._user_json(user_id),
                "user_id": user_id,
                "is_channel": False,
                "update_type": "bot_removed",
            }
        )

    def add_member(self, chat_id: int, user_id: int, *, inviter_id: int | None = None) -> Json:
        """A user joins the group (``inviter_id`` None: by link): a user_added update."""
        group = self._group(chat_id)
        group.members.add(user_id)
        update: Json = {
            "timestamp": now_ms(),
            "chat_id": chat_id,
            "user": self._user_json(user_id),
            "inviter_id": inviter_id,
            "user_id": user_id,
            "is_channel": False,
            "update_type": "user_added",
        }
        if not group.bot_admin:
            self.dropped_updates.append(update)
            return update
        return self.push_update(update)

    def push_callback(self, user_id: int, mid: str, payload: str) -> str:
        """The user presses a callback button of the bot's message ``mid`` (the message is
        null if it was deleted); returns the callback_id."""
        msg = self.messages.get(mid) or self._deleted_messages.get(mid)
        if msg is None:
            raise AssertionError(f"push_callback: there is no message {mid}")
        user = self._user(user_id)
        callback_id = secrets.token_urlsafe(30)  # opaque, like MAX's
        self.callbacks[callback_id] = CallbackRecord(
            callback_id, user_id, msg.chat_id, mid, payload
        )
        timestamp = now_ms()
        self.push_update(
            {
                "callback": {
                    "timestamp": timestamp,
                    "callback_id": callback_id,
                    "user": user.to_json(),
                    "payload": payload,
                },
                "message": self._message_json(msg) if mid in self.messages else None,
                "timestamp": timestamp,
                "user_locale": user.locale,
                "update_type": "message_callback",
            }
        )
        return callback_id

    def press(self, user_id: int, button_text: str, *, chat_id: int | None = None) -> str:
        """Press the callback button with this text (or, failing that, starting with it) on
        the newest bot message in the chat (default: the user's dialog) that has one;
        returns the callback_id."""
        chat = self.dialog_chat_id(user_id) if chat_id is None else chat_id
        candidates = sorted(
            (m for m in self.messages.values() if m.chat_id == chat and m.from_bot and m.buttons),
            key=lambda m: m.seq,
            reverse=True,
        )
        for exact in (True, False):
            for msg in candidates:
                for button in msg.buttons:
                    label = str(button.get("text", ""))
                    if label == button_text if exact else label.startswith(button_text):
                        if button.get("type") != "callback":
                            raise AssertionError(
                                f"button {label!r} of {msg.mid} is a {button.get('type')} "
                                f"button, not a callback one: {button}"
                            )
                        return self.push_callback(user_id, msg.mid, str(button["payload"]))
        available = "\n".join(
            f"  {m.mid}: {[b.get('text') for b in m.buttons]}" for m in candidates
        )
        raise AssertionError(
            f"no button {button_text!r} in chat {chat}; available buttons:\n"
            f"{available or '  (no bot messages with inline keyboards)'}"
        )

    # ------------------------------------------------------------------ webhook

    @staticmethod
    def _webhook_url_problem(url: Any) -> str | None:
        if not isinstance(url, str) or not url:
            return "`url` is required"
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return f"{url!r} is not a valid URL"
        if not parts.hostname:
            return f"{url!r} has no host"
        if parts.scheme == "https":
            return None if port in (None, 443) else "a webhook must be served on port 443"
        if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
            return None  # the stand-in's concession to tests: MAX wants https on 443
        return "a webhook must be an https:// URL"

    async def _post_subscription(self, req: Request) -> Any:
        body = req.object_body()
        url = body.get("url")
        if (problem := self._webhook_url_problem(url)) is not None:
            raise bad_payload(problem)
        types = body.get("update_types")
        if types is not None and (
            not isinstance(types, list) or any(t not in UPDATE_TYPES for t in types)
        ):
            raise bad_payload(f"update_types: unknown update types in {types!r}")
        secret = body.get("secret")
        if secret is not None and (not isinstance(secret, str) or not SECRET_RE.fullmatch(secret)):
            raise bad_payload("secret: must match ^[a-zA-Z0-9_-]{5,256}$")
        waiting = self._pending
        self._pending = []
        for old in [sub for sub in self.subscriptions if sub.url == url]:
            waiting += self._unsubscribe(old)
        sub = Subscription(str(url), list(types) if types else None, secret, now_ms())
        self.subscriptions.append(sub)
        for number in sorted(set(waiting)):  # updates not yet read go to the webhook
            self._route_update(number)
        sub.task = asyncio.create_task(self._pusher(sub))
        self._pushers.append(sub.task)
        self._notify()  # a held long poll ends
        return {"success": True}

    async def _get_subscriptions(self, req: Request) -> Any:
        return {"subscriptions": [sub.to_json() for sub in self.subscriptions]}

    async def _delete_subscription(self, req: Request) -> Any:
        url = req.query.get("url")
        if not url:
            raise bad_payload("Parameter `url` is required")
        found = [sub for sub in self.subscriptions if sub.url == url]
        if not found:
            return {"success": False, "message": f"No subscription for {url}"}
        undelivered: list[int] = []
        for sub in found:
            undelivered += self._unsubscribe(sub)
        if not self.subscriptions:  # long polling works again, with what was not delivered
            self._pending = sorted(set(self._pending + undelivered))
        self._notify()
        return {"success": True}

    def _unsubscribe(self, sub: Subscription) -> list[int]:
        """Remove a subscription; returns the numbers of the updates it had not delivered."""
        self.subscriptions.remove(sub)
        if sub.task is not None:
            sub.task.cancel()
        undelivered = [] if sub.current is None else [sub.current]
        while not sub.queue.empty():
            undelivered.append(sub.queue.get_nowait())
        return undelivered

    async def _pusher(self, sub: Subscription) -> None:
        """Deliver the subscription's updates one at a time, in order; each is retried after
        ``webhook_retry_delay`` until the webhook answers 200 (nothing else counts), at most
        ``webhook_max_attempts`` times."""
        async with aiohttp.ClientSession() as http:
            while True:
                number = await sub.queue.get()
                sub.current = number
                for attempt in range(1, self.webhook_max_attempts + 1):
                    if self.push_delay:
                        await asyncio.sleep(self.push_delay)
                    if await self._post_update(http, sub, number) == 200:
                        self._delivered.add(number)
                        break
                    if attempt == self.webhook_max_attempts:
                        self.lost_updates.append(self.updates[number - 1])
                    else:
                        await asyncio.sleep(self.webhook_retry_delay)
                sub.current = None
                self._notify()

    async def _post_update(
        self, http: aiohttp.ClientSession, sub: Subscription, number: int
    ) -> int:
        update = self.updates[number - 1]
        headers = {"Content-Type": "application/json"}
        if sub.secret:
            headers[SECRET_HEADER] = sub.secret
        try:
            async with http.post(
                sub.url,
                data=_dumps(update).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.webhook_posts.append(WebhookPost(update, sub.url, status, sub.secret))
        self._notify()
        return status

    # ------------------------------------------------------------------ uploads

    def _new_upload(self, kind: str) -> UploadedFile:
        upload = UploadedFile(secrets.token_hex(8), kind, photo_id=len(self.files) + 1)
        self.files[upload.upload_id] = upload
        return upload

    def _issue_token(self, upload: UploadedFile) -> str:
        upload.token = secrets.token_urlsafe(24)
        self._tokens[upload.token] = upload
        return upload.token

    async def _post_uploads(self, req: Request) -> Any:
        kind = req.query.get("type")
        if kind not in UPLOAD_TYPES:
            raise bad_payload(f"Parameter `type` must be one of {', '.join(UPLOAD_TYPES)}")
        upload = self._new_upload(kind)
        answer: Json = {"url": f"{self.url}/upload/{upload.upload_id}"}
        if kind in ("video", "audio"):  # their token comes with the URL (notes §7)
            answer["token"] = self._issue_token(upload)
        return answer

    async def _upload_host(self, request: web.Request, call: ApiCall) -> web.StreamResponse:
        """The upload URL (POST multipart ``data``) and the files' download URL (GET)."""
        kind, _, upload_id = call.path[1:].partition("/")
        upload = self.files.get(upload_id)
        try:
            if upload is None:
                raise not_found(f"{call.path} not found")
            if kind == "files":
                if request.method != "GET" or not upload.uploaded:
                    raise not_found(f"{call.path} not found")
                return web.Response(body=upload.content, content_type=upload.content_type)
            if request.method != "POST":
                raise MaxError(405, "method.not.allowed", "Upload with POST")
            fault = self._next_fault(request.method, "/upload", None)
            if fault is not None:
                early = await self._inject(request, fault)
                if early is not None:
                    return early
            if upload.uploaded:
                raise bad_payload("This upload URL has been used: each takes one file")
            if not request.content_type.startswith("multipart/"):
                raise bad_payload("Send the file as multipart/form-data in the field `data`")
            form = await request.post()
            data = form.get("data")
            if not isinstance(data, web.FileField):
                raise bad_payload("Send the file as multipart/form-data in the field `data`")
            content = data.file.read()
            if not content:
                raise bad_payload("The file is empty")
        except MaxError as exc:
            return self._refuse(call, exc)
        if upload.type == "image" and not _looks_like_image(content):
            # The upload host answers 200 with the error in the body (notes §1).
            body = {"error_code": "503", "error_data": "IMAGE_INVALID_FORMAT"}
            self.errors.append(
                Refusal(
                    "POST",
                    call.path,
                    200,
                    "IMAGE_INVALID_FORMAT",
                    'answered 200 {"error_code": "503", "error_data": "IMAGE_INVALID_FORMAT"}',
                    call.query,
                )
            )
            return web.json_response(body)
        upload.filename, upload.content = data.filename, content
        upload.content_type = data.content_type
        upload.uploaded, upload.not_ready_left = True, self.not_ready_sends
        self.uploads.append(upload)
        if fault == "drop_after":  # stored, but the answer (with the token) is lost
            return self._drop(request)
        if upload.type in ("video", "audio"):
            return web.Response(text="<retval>1</retval>", content_type="application/xml")
        token = self._issue_token(upload)
        if upload.type == "image":
            return web.json_response({"photos": {secrets.token_hex(6): {"token": token}}})
        return web.json_response({"token": token})


def _looks_like_image(content: bytes) -> bool:
    return content.startswith(
        (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
    ) or (content[:4] == b"RIFF" and content[8:12] == b"WEBP")
