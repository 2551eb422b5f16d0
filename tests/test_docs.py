"""The documents stay true to the code and to each other: every setting of `bot.config.Settings`
has its row in docs/operations.md's settings table (and its default there, where one is given)
and no row names a setting that does not exist; every relative link of README.md and docs/*.md
finds its file, and its heading when it names one; the README keeps the two commands a fresh
machine and CI run."""

from __future__ import annotations

import re
import unicodedata
from datetime import time
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import ROOT

README = ROOT / "README.md"
OPERATIONS = ROOT / "docs" / "operations.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
RUN_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e . "
    "&& .venv/bin/python -m bot"
)

_FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
WORD = ("Nd", "Pc")  # with letters and marks: what GitHub keeps of a heading in its anchor


def _prose(markdown: str) -> str:
    """The text without code: fenced blocks, indented blocks (four spaces) and code spans."""
    text = _FENCED.sub("", markdown)
    text = "\n".join(line for line in text.split("\n") if not line.startswith("    "))
    return _INLINE_CODE.sub("", text)


# --- 1. the settings table ----------------------------------------------------------------------


def _section(markdown: str, heading: str) -> str:
    """From `heading` (a whole line) to the next heading of the same or a higher level."""
    lines = markdown.split("\n")
    start = lines.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if (m := _HEADING.match(lines[i])) and len(m.group(1)) <= level
        ),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end])


def settings_table(markdown: str) -> list[tuple[str, str]]:
    """(first cell, second cell) of each data row of the first table under `## Settings`."""
    rows: list[tuple[str, str]] = []
    for line in _section(markdown, "## Settings").split("\n"):
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows.append((cells[0], cells[1] if len(cells) > 1 else ""))
        elif rows:
            break  # the table ended
    assert rows, "no table under «## Settings» in docs/operations.md"
    header, separator, *data = rows
    assert header[0] == "Variable" and set(separator[0]) <= set("-: ")
    return data


def _variable(cell: str) -> str:
    match = re.fullmatch(r"`([A-Z0-9_]+)`", cell)
    assert match, f"a row of the settings table names one variable, as `NAME`: {cell!r}"
    return match.group(1)


def _default_shown(value: object) -> str | None:
    """How the table shows a default in backticks; None: nothing to compare (no default)."""
    if value is None or value == []:
        return None
    if isinstance(value, list):
        joiner = "," if all(isinstance(v, int) for v in value) else ";"
        return joiner.join(str(v) for v in value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_every_setting_has_one_row_and_every_row_is_a_setting() -> None:
    names = [_variable(first) for first, _ in settings_table(OPERATIONS.read_text("utf-8"))]
    fields = {name.upper() for name in Settings.model_fields}
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"settings with more than one row in docs/operations.md: {repeated}"
    missing = sorted(fields - set(names))
    assert not missing, f"settings of bot/config.py without a row in docs/operations.md: {missing}"
    unknown = sorted(set(names) - fields)
    assert not unknown, f"rows of docs/operations.md naming no setting of bot/config.py: {unknown}"


def test_the_defaults_in_the_settings_table_are_the_settings_defaults() -> None:
    """A default given as one value in backticks is the field's default; a default given as
    «—» means there is none. Defaults described in words (`public Bot API`) are not compared."""
    for first, default in settings_table(OPERATIONS.read_text("utf-8")):
        name = _variable(first)
        field = Settings.model_fields.get(name.lower())
        if field is None:
            continue  # the test above names it
        actual = _default_shown(field.get_default(call_default_factory=True))
        if default.startswith("—"):
            assert actual is None, f"{name}: the table says no default, the code has {actual!r}"
        elif match := re.fullmatch(r"`([^`]*)`(?: \([^)]*\))?", default):
            assert match.group(1) == actual, f"{name}: the table says {match.group(1)!r}"


# --- 2. links between the documents ---------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text lower-cased, everything but letters, marks,
    digits, `_`, `-` and spaces dropped, spaces made hyphens."""
    text = _LINK.sub(r"\1", heading).strip().lower()
    kept = "".join(
        ch
        for ch in text
        if ch in "- " or unicodedata.category(ch)[0] in "LM" or unicodedata.category(ch) in WORD
    )
    return kept.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor; a repeated one gets -1, -2 … as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    text = _FENCED.sub("", markdown)
    for line in text.split("\n"):
        match = _HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(markdown: str) -> list[str]:
    """The targets of the document's relative links (not in code)."""
    return [
        target
        for _, target in _LINK.findall(_prose(markdown))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # https:, mailto:, tg: …
    ]


def broken_links(doc: Path) -> list[str]:
    problems = []
    for target in links(doc.read_text("utf-8")):
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            problems.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text("utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {file.name}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_finds_its_file_and_heading(doc: Path) -> None:
    assert not broken_links(doc)


def test_the_documents_link_to_each_other() -> None:
    # The README maps every document; each document is linked from the README.
    readme_links = {target.partition("#")[0] for target in links(README.read_text("utf-8"))}
    for doc in DOCS[1:]:
        assert str(doc.relative_to(ROOT)) in readme_links, f"the README does not link {doc.name}"


def test_the_link_checker_sees_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Большой раздел: «всё» — `/x`\n\n## Same\n\n## Same\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](other.md#большой-раздел-всё--x) [ok](other.md#same-1) [ok](#top)\n"
        "[gone](missing.md) [bad](other.md#nowhere)\n"
        "    [code](ignored.md)\n"
        "# Top\n",
        encoding="utf-8",
    )
    assert broken_links(doc) == [
        f"missing.md: no file {tmp_path / 'missing.md'}",
        "other.md#nowhere: no heading #nowhere in other.md",
    ]


# --- 3. the README's commands -------------------------------------------------------------------


def test_the_readme_keeps_the_commands_of_a_fresh_machine_and_of_ci() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8").split("\n")
    test_command = ci[ci.index("# The README's test command:") + 1]
    assert test_command.startswith("python3 -m venv .venv && ")
    readme = README.read_text("utf-8").split("\n")
    for command in (RUN_COMMAND, test_command):
        assert "    " + command in readme, f"the README lost its command: {command}"
