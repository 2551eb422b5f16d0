"""Text typed by people, cleaned once, where it comes in (bot/middlewares.py: every message,
edited message and button press passes through it before any handler or filter).

What goes: characters nobody means to type and that break things further on. A NUL makes
PostgreSQL refuse the whole INSERT; C0 and C1 control characters make openpyxl refuse to
write an XLSX (every later export of that request would fail); a lone surrogate cannot be
encoded at all; bidi overrides and isolates reorder what an admin reads on a card («ООО
Клиника» can be made to show as something else); zero-width and other invisible characters
make two equal-looking names or addresses differ. Line breaks and tabs stay; a carriage
return and the Unicode line and paragraph separators become a line break.
"""

from __future__ import annotations

import re

# C0 controls except TAB and LF, DEL and the C1 controls, the soft hyphen, zero-width
# characters, LRM/RLM, bidi embeddings, overrides and isolates, word joiner and invisible
# operators, the byte-order mark, interlinear annotation marks, non-characters and surrogates.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]"
)
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029]")
_TROUBLE = re.compile(f"{_INVISIBLE.pattern}|[\r\u2028\u2029]")


def needs_cleaning(text: str) -> bool:
    """A cheap check first: almost every message is clean and is passed on untouched."""
    return _TROUBLE.search(text) is not None


def clean_text(text: str) -> str:
    return _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", text))
