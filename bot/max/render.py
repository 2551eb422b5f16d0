"""The bot's Telegram HTML → the HTML MAX renders, split to MAX's length limit.

MAX's ``format: "html"`` renders b, i, u, s, a, code and pre and strips every other tag,
keeping its content (dev.max.ru/docs-api, «Форматирование»). Telegram's extras are turned
into something that reads the same:
- a blockquote keeps its lines, each marked with «│ » and set on lines of its own, since MAX
  would run the quote into the text around it;
- a spoiler becomes plain text (MAX has none; the bot never hides anything secret in one);
- a mention ``<a href="tg://user?id=KEY">`` of a MAX account becomes MAX's mention
  ``max://user/<id>``; of a Telegram account it is just the name: a MAX user cannot open
  a Telegram profile;
- any other link that is not http(s) becomes its text (MAX refuses other schemes).
A text over 4000 UTF-16 units (MAX: "text: size must be between 0 and 4000", counted as Java
counts, tags included) is split at line breaks, failing that at spaces, into parts that each
close the tags they opened and reopen them in the next part.

The inline keyboard's conversion lives in bot/max/keyboard.py and is re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

from bot.max.keyboard import MaxRenderError, keyboard_attachment
from services.accounts import Messenger, messenger_of, native_id

__all__ = [
    "MAX_TEXT_LENGTH",
    "MaxRenderError",
    "keyboard_attachment",
    "render_html",
    "render_plain",
    "split_parts",
    "to_max_html",
    "utf16_len",
]

MAX_TEXT_LENGTH = 4000
QUOTE_MARK = "│ "
_SIMPLE = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
}
_MENTION = re.compile(r"tg://user\?id=(-?\d+)")
# Text pieces stay far below the limit so one always fits beside a few tags.
_PIECE = 200


def utf16_len(text: str) -> int:
    """Length as MAX (Java) counts it: an emoji outside the BMP is 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True)
class _Atom:
    kind: str  # "open", "close" or "text"
    html: str  # as it goes into MAX's text (text escaped)
    name: str = ""  # the tag, for open/close


class _Converter(HTMLParser):
    """Telegram HTML → atoms of MAX HTML (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.atoms: list[_Atom] = []
        self._stack: list[str | None] = []  # per open Telegram tag: the MAX tag or None
        self._quote = 0  # blockquote depth
        self._line_start = True  # the output is at the beginning of a line
        self._after_quote = False  # a quote just ended: what follows starts a new line
        self._pre = 0

    def _text(self, text: str) -> None:
        if not text:
            return
        if self._after_quote and not self._quote and not text.startswith("\n"):
            text = "\n" + text
        self._after_quote = False
        if self._quote:
            lines = text.split("\n")
            out: list[str] = []
            for index, line in enumerate(lines):
                if index:
                    out.append("\n")
                    self._line_start = True
                if line and self._line_start:
                    out.append(QUOTE_MARK)
                out.append(line)
                if line:
                    self._line_start = False
            text = "".join(out)
        else:
            self._line_start = text.endswith("\n")
        self.atoms.append(_Atom("text", escape(text, quote=False)))

    def _break(self) -> None:
        if self.atoms and not self._line_start:
            self.atoms.append(_Atom("text", "\n"))
            self._line_start = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        values = {name.lower(): value or "" for name, value in attrs}
        target: str | None = None
        html = ""
        if tag == "blockquote":
            self._break()
            self._quote += 1
        elif tag == "code" and self._pre:
            target = None  # <pre><code class="language-x">: MAX's pre is enough
        elif tag in _SIMPLE:
            target = _SIMPLE[tag]
            html = f"<{target}>"
            self._pre += tag == "pre"
        elif tag == "a":
            href = self._href(values.get("href", ""))
            if href is not None:
                target, html = "a", f'<a href="{escape(href, quote=True)}">'
        self._stack.append(target)
        if target is not None:
            self.atoms.append(_Atom("open", html, target))

    @staticmethod
    def _href(href: str) -> str | None:
        mention = _MENTION.fullmatch(href)
        if mention is not None:
            key = int(mention.group(1))
            if messenger_of(key) is Messenger.MAX and key > 0:
                return f"max://user/{native_id(key)}"
            return None
        if re.match(r"https?://", href, re.IGNORECASE):
            return href
        return None

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if not self._stack:
            return
        target = self._stack.pop()
        if tag == "blockquote" and self._quote:
            self._quote -= 1
            self._after_quote = True
            return
        if target is not None:
            self._pre -= target == "pre"
            self.atoms.append(_Atom("close", f"</{target}>", target))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() == "br":
            self._text("\n")

    def handle_data(self, data: str) -> None:
        self._text(data)

    def finish(self) -> list[_Atom]:
        self.close()
        while self._stack:  # unbalanced input: close what is open
            self.handle_endtag("")
        return self.atoms


def _pieces(atoms: list[_Atom]) -> list[_Atom]:
    """Text atoms cut after each line break and space, and into _PIECE-long chunks, so the
    splitter can break between them."""
    out: list[_Atom] = []
    for atom in atoms:
        if atom.kind != "text":
            out.append(atom)
            continue
        for word in re.findall(r"[^\n ]*[\n ]|[^\n ]+", atom.html):
            # An escaped piece never splits inside "&amp;": cut only before an "&".
            while len(word) > _PIECE:
                cut = word.rfind("&", _PIECE - 8, _PIECE)
                cut = _PIECE if cut <= 0 else cut
                out.append(_Atom("text", word[:cut]))
                word = word[cut:]
            out.append(_Atom("text", word))
    return out


def _closing(stack: list[_Atom]) -> str:
    return "".join(f"</{atom.name}>" for atom in reversed(stack))


def _apply(stack: list[_Atom], atom: _Atom) -> list[_Atom]:
    if atom.kind == "open":
        return [*stack, atom]
    if atom.kind == "close":
        return stack[:-1]
    return stack


def split_parts(atoms: list[_Atom], limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Greedy parts of at most ``limit`` units, cut at the last line break that fits, else
    the last space, else where the limit is reached; tags balanced in every part."""
    whole = "".join(atom.html for atom in atoms)
    # Every tag that could still be open needs its closing tag beside the text.
    closings = sum(len(atom.name) + 3 for atom in atoms if atom.kind == "open")
    if utf16_len(whole) + closings <= limit:
        # It fits in one part (most texts do): what the greedy split below gives then,
        # without measuring atom by atom.
        stack: list[_Atom] = []
        for atom in atoms:
            stack = _apply(stack, atom)
        part = whole + _closing(stack)
        return [part] if _visible(part) else []
    atoms = _pieces(atoms)
    parts: list[str] = []
    stack = []
    i = 0
    while i < len(atoms):
        prefix = "".join(atom.html for atom in stack)
        size, current = utf16_len(prefix), list(stack)
        body: list[str] = []
        cut: tuple[int, int, list[_Atom]] | None = None  # (next atom, body length, stack)
        space: tuple[int, int, list[_Atom]] | None = None
        j = i
        while j < len(atoms):
            atom = atoms[j]
            after = _apply(current, atom)
            grown = size + utf16_len(atom.html)
            if grown + utf16_len(_closing(after)) > limit and body:
                break
            body.append(atom.html)
            size, current, j = grown, after, j + 1
            if atom.kind == "text" and atom.html.endswith("\n"):
                cut = (j, len(body), current)
            elif atom.kind == "text" and atom.html.endswith(" "):
                space = (j, len(body), current)
        if j < len(atoms):
            j, kept, current = cut or space or (j, len(body), current)
            body = body[:kept]
        part = prefix + "".join(body) + _closing(current)
        if _visible(part):
            parts.append(part)
        stack, i = current, j
    return parts


def _visible(html: str) -> bool:
    """MAX refuses a message whose text is empty or only whitespace."""
    return bool(re.sub(r"<[^>]*>", "", html).strip())


def to_max_html(text: str) -> list[_Atom]:
    converter = _Converter()
    converter.feed(text)
    return converter.finish()


def render_html(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Telegram HTML → the parts of MAX HTML to send, in order (one part for most texts)."""
    return split_parts(to_max_html(text), limit)


def render_plain(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """A text sent without parse mode: escaped, so that MAX's HTML shows it as written."""
    return split_parts([_Atom("text", escape(text, quote=False))], limit)


def render(text: str, parse_mode: str | None, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """The parts for a text in aiogram's ``parse_mode`` (HTML or none)."""
    if parse_mode is None:
        return render_plain(text, limit)
    if parse_mode.lower() == "html":
        return render_html(text, limit)
    raise MaxRenderError(f"parse mode {parse_mode} is not carried to MAX: the bot sends HTML")
