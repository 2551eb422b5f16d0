"""Telegram's rules, as the Bot API applies them, in one place: HTML parsing into entities,
text and caption limits (in UTF-16 units), reply markup checks (button text,
one action per inline button, callback_data of at most 64 bytes, URLs), «message is not
modified», callback answers and forum topic names, and the descriptions of the refusals.

Both fakes of Telegram use it: the in-process session of tests/support/harness.py and the HTTP
stand-in of tests/e2e/standin.py, so the two refuse the same things with the same words.

Deliberate simplifications: only ``parse_mode=HTML`` is validated (Markdown/MarkdownV2 text is
kept as sent); ``strict=True`` (the default) is *stricter* than Telegram in two places: a bare
``&`` that does not start an entity and ``<a>`` without ``href`` are refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

Json = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_TOPIC_NAME_LENGTH = 128
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """A refusal, answered as ``{"ok": false, "error_code": status, "description": ...}``."""

    def __init__(self, status: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for limits and entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def too_many_requests(seconds: int) -> ApiError:
    """Flood control: 429 with ``retry_after``, the call did not happen."""
    return ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


def forbidden(private: bool) -> ApiError:
    """The chat is closed to the bot: a person blocked it, or a group removed it."""
    if private:
        return ApiError(403, "Forbidden: bot was blocked by the user")
    return ApiError(403, "Forbidden: bot was kicked from the supergroup chat")


# --------------------------------------------------------------------------- texts


def format_text(
    raw: Any, parse_mode: Any, entities: Any, *, caption: bool = False, strict: bool = True
) -> tuple[str | None, list[Json]]:
    """A text or caption as Telegram takes it: (plain text, entities) after parsing and
    trimming, within its length limit (UTF-16 units). A caption may be absent (None)."""
    if raw is None or raw == "":
        if caption:
            return None, []
        raise bad("message text is empty")
    text = str(raw)
    mode = str(parse_mode or "").lower()
    if entities:
        if not isinstance(entities, list):
            raise bad("can't parse entities JSON object")
        parsed = [dict(e) for e in entities]
        total = utf16_len(text)
        for e in parsed:
            offset, length = e.get("offset"), e.get("length")
            if not isinstance(offset, int) or offset < 0:
                raise bad(f"receive an entity with incorrect offset {offset}")
            if offset > total:
                raise bad(f"entity begins after the end of the text at UTF-16 offset {offset}")
            if not isinstance(length, int) or offset + length > total:
                raise bad(
                    f"entity beginning at UTF-16 offset {offset} ends after the end of the "
                    f"text at UTF-16 offset {offset + (length or 0)}"
                )
    elif mode == "html":
        text, parsed = parse_html(text, strict=strict)
    elif mode in ("", "markdown", "markdownv2"):
        parsed = []
    else:
        raise bad("unsupported parse_mode")
    # Telegram trims leading/trailing whitespace and shifts the entities accordingly.
    stripped = text.strip()
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    result = []
    for e in parsed:
        start, end = max(e["offset"] - lead, 0), min(e["offset"] + e["length"] - lead, size)
        if end > start:
            result.append({**e, "offset": start, "length": end - start})
    if not stripped:
        if caption:
            return None, []
        raise bad("text must be non-empty")
    # «1-4096 characters after entities parsing» (1024 for a caption): counted before the
    # trimming, the stricter reading of the documentation (Telegram itself counts after it).
    if utf16_len(text) > (MAX_CAPTION_LENGTH if caption else MAX_TEXT_LENGTH):
        raise bad("message caption is too long" if caption else "message is too long")
    return stripped, result


def inline_markup(markup: Json | None) -> Json | None:
    """What stays on a message: an inline keyboard with buttons (ForceReply and reply
    keyboards act on the client and are not part of the message)."""
    return markup if inline_buttons(markup) else None


def _entity_key(entities: list[Json]) -> list[str]:
    return sorted(json.dumps(e, sort_keys=True, ensure_ascii=False) for e in entities)


def check_modified(
    old: tuple[str | None, list[Json], Json | None],
    new: tuple[str | None, list[Json], Json | None],
) -> None:
    """An edit must change the text, its entities or the inline keyboard: (text, entities,
    markup) before and after, markups as sent (only inline keyboards count)."""
    (old_text, old_entities, old_markup), (text, entities, markup) = old, new
    same_text = text == old_text and _entity_key(entities) == _entity_key(old_entities)
    if same_text and inline_markup(markup) == inline_markup(old_markup):
        raise bad(NOT_MODIFIED)


def check_callback_answer(text: str | None) -> None:
    """answerCallbackQuery's text: 0-200 characters."""
    if len(text or "") > MAX_CALLBACK_ANSWER_LENGTH:
        raise bad("MESSAGE_TOO_LONG")


def check_topic_name(name: str | None, *, edit: bool = False) -> None:
    """A forum topic's name: 1-128 characters, counted here in UTF-16 units (the stricter
    count). An edit without a name, or with an empty one, keeps the current name."""
    if edit and not name:
        return
    if not (name or "").strip():
        raise bad("TOPIC_TITLE_EMPTY")
    if utf16_len(str(name)) > MAX_TOPIC_NAME_LENGTH:
        raise bad("TOPIC_TITLE_TOO_LONG")


# --------------------------------------------------------------------------- HTML parse mode

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#[xX]([0-9a-fA-F]{1,8})|#([0-9]{1,9})|([a-zA-Z]+))(;?)")


def _decode_entity(src: str, pos: int, strict: bool) -> tuple[str, int] | None:
    """Decode the character reference starting at ``src[pos] == "&"``: (character, end)."""
    m = _ENTITY_RE.match(src, pos)
    if m is None or (strict and not m.group(4)):
        return None
    if m.group(3) is not None:
        char = _NAMED_ENTITIES.get(m.group(3))
        return None if char is None else (char, m.end())
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), m.end()


def parse_html(src: str, *, strict: bool = True) -> tuple[str, list[Json]]:
    """Parse Telegram-flavoured HTML like tdlib does: returns (plain text, entities)."""
    out: list[str] = []
    u16 = 0  # UTF-16 length of ``out``
    stack: list[tuple[str, str, int]] = []  # open tags: (name, argument, UTF-16 start)
    entities: list[Json] = []
    n, i = len(src), 0

    def fail(reason: str) -> ApiError:
        return bad(f"can't parse entities: {reason}")

    def byte_at(pos: int) -> int:
        return len(src[:pos].encode("utf-8", "surrogatepass"))

    while i < n:
        char = src[i]
        if char == "&":
            decoded = _decode_entity(src, i, strict)
            if decoded is not None:
                out.append(decoded[0])
                u16 += utf16_len(decoded[0])
                i = decoded[1]
                continue
            if strict:
                raise fail(f'Unescaped "&" at byte offset {byte_at(i)}, use "&amp;"')
        if char != "<":
            out.append(char)
            u16 += utf16_len(char)
            i += 1
            continue
        begin = i
        if i + 1 < n and src[i + 1] == "/":  # ---- end tag
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {byte_at(begin)}")
            j = i + 2
            while j < n and not src[j].isspace() and src[j] != ">":
                j += 1
            name = src[i + 2 : j].lower()
            while j < n and src[j].isspace():
                j += 1
            if j >= n or src[j] != ">":
                raise fail(f"Unclosed end tag at byte offset {byte_at(begin)}")
            tag, arg, start = stack.pop()
            if name and name != tag:
                raise fail(
                    f"Unmatched end tag at byte offset {byte_at(begin)}, "
                    f'expected "</{tag}>", found "</{name}>"'
                )
            i = j + 1
            _close_entity(entities, tag, arg, start, u16, "".join(out), strict)
            continue
        j = i + 1  # ---- start tag
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        if j >= n:
            raise fail(f"Unclosed start tag at byte offset {byte_at(begin)}")
        tag = src[i + 1 : j].lower()
        if tag not in _HTML_TAGS:
            raise fail(f'Unsupported start tag "{tag}" at byte offset {byte_at(begin)}')
        attrs: dict[str, str] = {}
        while True:
            while j < n and src[j].isspace():
                j += 1
            if j >= n:
                raise fail(f'Unclosed start tag "{tag}" at byte offset {byte_at(begin)}')
            if src[j] == ">":
                j += 1
                break
            k = j
            while k < n and not src[k].isspace() and src[k] not in "=>":
                k += 1
            attr = src[j:k].lower()
            if not attr:
                raise fail(
                    f'Empty attribute name in the tag "{tag}" at byte offset {byte_at(begin)}'
                )
            while k < n and src[k].isspace():
                k += 1
            if k >= n or src[k] != "=":
                if tag == "blockquote" and attr == "expandable":
                    attrs[attr], j = "", k
                    continue
                raise fail(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {byte_at(begin)}'
                )
            k += 1
            while k < n and src[k].isspace():
                k += 1
            if k < n and src[k] in "'\"":
                quote, k, value = src[k], k + 1, []
                while k < n and src[k] != quote:
                    decoded = _decode_entity(src, k, False) if src[k] == "&" else None
                    if decoded is not None:
                        value.append(decoded[0])
                        k = decoded[1]
                    else:
                        value.append(src[k])
                        k += 1
                if k >= n:
                    raise fail(f"Unclosed start tag at byte offset {byte_at(begin)}")
                attrs[attr], j = "".join(value), k + 1
            else:
                token_start = k
                while k < n and (src[k].isalnum() or src[k] in ".-"):
                    k += 1
                if k < n and not src[k].isspace() and src[k] != ">":
                    raise fail(f"Unexpected end of name token at byte offset {byte_at(k)}")
                attrs[attr], j = src[token_start:k].lower(), k
        arg = ""
        if tag == "a":
            if strict and "href" not in attrs:
                raise fail(
                    f'Tag "a" must have the "href" attribute at byte offset {byte_at(begin)}'
                )
            arg = attrs.get("href", "")
        elif tag == "code" and attrs.get("class", "").startswith("language-"):
            arg = attrs["class"][len("language-") :]
        elif tag == "span" and attrs.get("class") != "tg-spoiler":
            raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_at(begin)}')
        elif tag == "tg-emoji":
            arg = attrs.get("emoji-id", "")
            if not arg.isdigit() or not 0 < int(arg) < 2**63:
                raise fail("Invalid custom emoji identifier specified")
        elif tag == "blockquote" and "expandable" in attrs:
            arg = "expandable"
        stack.append((tag, arg, u16))
        i = j
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(
    entities: list[Json], tag: str, arg: str, start: int, end: int, text: str, strict: bool
) -> None:
    """Turn a just-closed tag into a MessageEntity (empty ones are dropped, as Telegram does)."""
    if end <= start:
        return
    entity: Json = {"type": _HTML_TAGS[tag], "offset": start, "length": end - start}
    if tag == "a":
        url = arg or ("" if strict else text[-(end - start) :])
        if url_problem(url) is not None:
            return  # Telegram silently drops links it cannot use
        entity["url"] = url
    elif tag == "code" and arg:
        entity["language"] = arg  # kept only if this code block is the body of a <pre>
    elif tag == "pre" and entities and entities[-1]["type"] == "code":
        inner = entities[-1]
        if (inner["offset"], inner["length"]) == (start, end - start):
            entities.pop()
            if inner.get("language"):
                entity["language"] = inner["language"]
    elif tag == "blockquote" and arg:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = arg
    entities.append(entity)


def url_problem(url: str) -> str | None:
    """Why Telegram would refuse this link (None when it is fine)."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        scheme, rest = "http", url.strip()
    if scheme.lower() in ("tg", "ton"):
        return None
    if scheme.lower() not in ("http", "https"):
        return "Unsupported URL protocol"
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    host, _, port = host.partition(":")
    if not host:
        return "URL host is empty"
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        return "Wrong port number specified in the URL"
    if "." not in host.strip(".") or not re.fullmatch(r"[\w.-]+", host):
        return "Wrong HTTP URL"
    return None


# --------------------------------------------------------------------------- reply markup

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def check_reply_markup(markup: Any) -> None:
    """Validate reply_markup the way the Bot API does; raises ApiError."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    for key in ("inline_keyboard", "keyboard"):
        if key not in markup:
            continue
        rows = markup[key]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad(f'field "{key}" must be of type Array')
        for row in rows:
            for button in row:
                if key == "inline_keyboard":
                    _check_inline_button(button)
                elif not isinstance(button, str | dict):
                    raise bad("can't parse keyboard button: KeyboardButton must be an Object")
                elif not str(button if isinstance(button, str) else button.get("text", "")).strip():
                    raise bad("BUTTON_TEXT_INVALID")
        return
    if not {"remove_keyboard", "force_reply"} & markup.keys():
        raise bad("can't parse reply keyboard markup JSON object")


def _check_inline_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad(prefix + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad(prefix + 'Can\'t find field "text"')
    if not isinstance(button["text"], str):
        raise bad(prefix + 'Field "text" must be of type String')
    if not button["text"].strip():
        raise bad("BUTTON_TEXT_INVALID")
    # An empty url / callback_data counts as absent (that is what Telegram does).
    actions = [
        key
        for key in _BUTTON_ACTIONS
        if button.get(key) not in (None, False) and (button[key] != "" or key.startswith("switch_"))
    ]
    if not actions:
        raise bad(prefix + "Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data and len(str(data).encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
        raise bad("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url and (problem := url_problem(str(url))) is not None:
        raise bad(f"inline keyboard button URL '{url}' is invalid: {problem}")
    web_app = button.get("web_app")
    if isinstance(web_app, dict) and not str(web_app.get("url", "")).startswith("https://"):
        raise bad(
            f"inline keyboard button Web App URL '{web_app.get('url', '')}' is invalid: "
            "Only HTTPS links are allowed"
        )


def inline_buttons(markup: Json | None) -> list[Json]:
    if not markup or not isinstance(markup.get("inline_keyboard"), list):
        return []
    return [button for row in markup["inline_keyboard"] for button in row]
