"""How tall a spreadsheet row must be for its wrapped cells to print without overlapping.

Excel and LibreOffice keep a row's stored height when a file is opened: a row of wrapped text
left at the default height is printed over the next rows. So the writer sets each row's height
from its longest wrapped cell, laid out here as the viewer will: word by word (a word longer
than the line is broken), in Calibri 11 (Carlito in LibreOffice: the same metrics), in a column
`width` characters wide (Excel's unit: the width of the digit «0»).
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import lru_cache

# Advance widths of Calibri/Carlito Regular in units of the digit «0» (measured from the font).
_WIDTHS: dict[str, float] = {}
for _chars, _widths in (
    (
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "0.95 1.05 0.95 0.68 1.1 0.98 0.98 1.36 0.83 1.07 1.07 0.92 1.01 1.33 1.05 1.04 1.03 "
        "1.04 0.83 0.76 0.89 1.23 0.85 1.07 0.92 1.44 1.48 1.06 1.31 0.93 0.87 1.42 0.94",
    ),
    (
        "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
        "1.14 1.06 1.07 0.85 1.27 0.96 0.96 1.58 0.93 1.27 1.27 1.07 1.21 1.69 1.23 1.31 1.23 "
        "1.02 1.05 0.96 1.04 1.38 1.02 1.26 1.1 1.71 1.76 1.21 1.5 1.05 1.08 1.73 1.1",
    ),
    (
        "abcdefghijklmnopqrstuvwxyz",
        "0.95 1.04 0.83 1.04 0.98 0.6 0.93 1.04 0.45 0.47 0.9 0.45 1.58 1.04 1.04 1.04 1.04 "
        "0.69 0.77 0.66 1.04 0.89 1.41 0.85 0.89 0.78",
    ),
    (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "1.14 1.07 1.05 1.21 0.96 0.91 1.24 1.23 0.5 0.63 1.03 0.83 1.69 1.27 1.31 1.02 1.33 "
        "1.07 0.91 0.96 1.27 1.12 1.76 1.02 0.96 0.92",
    ),
    (
        " .,-«»\"'()№@_/;:–—",
        "0.45 0.5 0.49 0.6 1.01 1.01 0.79 0.44 0.6 0.6 2.02 1.76 0.98 0.76 0.53 0.53 0.98 1.79",
    ),
):
    _WIDTHS.update(zip(_chars, map(float, _widths.split()), strict=True))
_WIDTHS.update(dict.fromkeys("0123456789", 1.0))
WIDEST = 1.8  # any other character is assumed this wide: rows come out taller, never short
BOLD = 1.05  # bold Carlito is up to 5 % wider
LINE_POINTS = 15.0  # one line of Calibri 11, as Excel's default row
PADDING_POINTS = 2.0
FITS_MARGIN = 1e-6  # far above the rounding of a sum of widths, far below a letter


_TABLE: defaultdict[str, float] = defaultdict(lambda: WIDEST, _WIDTHS)


def text_width(text: str) -> float:
    return sum(map(_TABLE.__getitem__, text))


_word_widths: dict[str, float] = {}
WORD_CACHE = 50_000  # distinct words remembered (names and organisations repeat theirs)


def _word_width(word: str) -> float:
    width = _word_widths.get(word)
    if width is None:
        if len(_word_widths) >= WORD_CACHE:
            _word_widths.clear()
        width = _word_widths[word] = text_width(word)
    return width


def room(column_width: float) -> float:
    """How many «0» fit on one line of a column: Excel gives the column 7 px per unit plus 5,
    the font at 11 pt draws «0» 7.43 px wide, and the cell keeps ≈ 3 px of margin on each side."""
    return (7 * column_width + 5 - 6) / 7.43


def wrapped_lines(text: str, column_width: float, *, bold: bool = False) -> int:
    """Lines `text` takes when wrapped in a column `column_width` characters wide."""
    if not text:
        return 1
    line_room = room(column_width)
    scale = BOLD if bold else 1.0
    if len(text) * WIDEST * scale <= line_room:
        return 1  # fits however wide its letters are
    if "\n" in text:
        return sum(_paragraph_lines(p, line_room, scale) for p in text.split("\n"))
    width = text_width(text) * scale
    if width < line_room - FITS_MARGIN:
        return 1  # the whole text fits on a line (with a margin for the sums' rounding)
    if " " not in text:  # one word (an e-mail address): broken, its width known already
        return _broken_word_lines(width, line_room)
    return _paragraph_lines(text, line_room, scale)


def _broken_word_lines(width: float, line_room: float) -> int:
    """Lines of one word wider than the line, broken where the line ends."""
    lines = 1
    while width > line_room:
        width -= line_room
        lines += 1
    return lines


def _paragraph_lines(text: str, line_room: float, scale: float) -> int:
    """Greedy, word by word, as Excel and LibreOffice wrap; a word wider than the line is
    broken."""
    space = _WIDTHS[" "] * scale
    lines, used = 1, -space
    for word in text.split(" "):
        width = _word_width(word) * scale
        if used + space + width <= line_room:
            used += space + width
            continue
        if used > 0:  # the word goes to the next line
            lines += 1
        while width > line_room:
            width -= line_room
            lines += 1
        used = width
    return lines


@lru_cache(maxsize=4096)
def cached_lines(text: str, column_width: float) -> int:
    """`wrapped_lines` for values that repeat from row to row (organisations, roles)."""
    return wrapped_lines(text, column_width)


def row_height(lines: int) -> float:
    return math.ceil(lines * LINE_POINTS + PADDING_POINTS)
