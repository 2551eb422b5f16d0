"""PNG charts for /stats (matplotlib), drawn in a process of their own: drawing holds the
interpreter for tens of milliseconds at a stretch, which on a thread of the bot's process would
stop the event loop as long."""

from __future__ import annotations

import asyncio
import io
import pickle
import sys
from collections import Counter
from datetime import date
from typing import Any

from bot import texts
from services.child_process import module_command, module_env
from services.periods import group_periods

LABEL_LIMIT = 45  # characters of an organisation's name on the chart
MAX_TICKS = 16  # date labels drawn on the per-period chart at most
# A colour that says what the status means: waiting blue, needs work amber, refused red,
# approved and beyond in greens, withdrawn grey.
STATUS_COLORS = {
    "submitted": "#1f77b4",
    "returned": "#ff9800",
    "approved": "#81c784",
    "rejected": "#d32f2f",
    "exported": "#43a047",
    "access_granted": "#1b5e20",
    "cancelled": "#9e9e9e",
}


def _figure() -> Any:
    # Imported on first use: matplotlib is heavy and only /stats needs it.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


_PERIODS = {
    "day": (texts.CHART_BY_DAY, texts.CHART_DAY_AXIS, "%d.%m"),
    "week": (texts.CHART_BY_WEEK, texts.CHART_WEEK_AXIS, "%d.%m.%y"),
    "month": (texts.CHART_BY_MONTH, texts.CHART_MONTH_AXIS, "%m.%Y"),
}


def requests_per_day(per_day: dict[date, Counter[str]]) -> bytes:
    """Requests by status per day; per week beyond six weeks, per month beyond a year, so the
    labels never collide."""
    pyplot = _figure()
    unit, periods = group_periods(per_day)
    title, axis, label_format = _PERIODS[unit]
    statuses = [s for s in texts.STATUS_NAMES if any(c[s] for _, c in periods)]
    fig, ax = pyplot.subplots(figsize=(9, 4.5), dpi=110)
    positions = list(range(len(periods)))
    bottom = [0] * len(periods)
    for status in statuses:
        values = [counts[status] for _, counts in periods]
        ax.bar(
            positions,
            values,
            bottom=bottom,
            label=texts.STATUS_NAMES[status],
            color=STATUS_COLORS.get(status),
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    step = max(1, -(-len(periods) // MAX_TICKS))
    ax.set_xticks(positions[::step], [start.strftime(label_format) for start, _ in periods][::step])
    ax.set_title(title)
    ax.set_xlabel(axis)
    ax.set_ylabel(texts.CHART_COUNT_AXIS)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside, not over bars
    fig.autofmt_xdate()
    return _png(fig, pyplot)


def _shorten(name: str, limit: int = LABEL_LIMIT) -> str:
    """A long name keeps a little of its beginning and more of its end («…» in the middle):
    organisations of one kind differ at the end (a number, a town), not at the beginning."""
    if len(name) <= limit:
        return name
    head = (limit - 1) // 3
    tail = limit - 1 - head
    return name[:head].rstrip() + "…" + name[-tail:].lstrip()


def _common_start(names: list[str], context: int = 2) -> int:
    """Where the words all `names` begin with end, less the last `context` of those words
    («поликлиника №» stays, to say what the number is of)."""
    split = [name.split(" ") for name in names]
    shared = 0
    while all(len(words) > shared + 1 for words in split) and (
        len({words[shared] for words in split}) == 1
    ):
        shared += 1
    keep = shared - context
    return len(" ".join(split[0][:keep])) + 1 if keep > 0 else 0


def _drop_common_start(names: list[str], limit: int) -> list[str]:
    """Long names that all begin with the same words lose them (but the last two)."""
    if len(names) < 2 or all(len(name) <= limit for name in names):
        return names
    cut = _common_start(names)
    return ["…" + name[cut:] for name in names] if cut else names


def chart_labels(names: list[str], limit: int = LABEL_LIMIT) -> list[str]:
    """Distinct labels for distinct organisations: the words every name begins with left out,
    long ones shortened in the middle; names that still read the same lose the words they
    begin with; labels still the same are numbered."""
    names = _drop_common_start([" ".join(name.split()) for name in names], limit)
    labels = [_shorten(name, limit) for name in names]
    groups: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    for members in groups.values():
        if len(members) > 1:
            cut = _common_start([names[i] for i in members])
            for i in members:
                if cut:
                    labels[i] = "…" + _shorten(names[i][cut:], limit - 1)
    repeated = {label for label, n in Counter(labels).items() if n > 1}
    seen: Counter[str] = Counter()
    for index, label in enumerate(labels):
        if label in repeated:
            seen[label] += 1
            labels[index] = f"{label} ({seen[label]})"
    return labels


def organizations_by_users(rows: list[tuple[str, int]], others: tuple[int, int] = (0, 0)) -> bytes:
    """Organisations by approved users, most first: the top ones, then the rest as one bar.
    Bars sit at numeric positions, so two organisations never merge into one bar."""
    pyplot = _figure()
    labels = chart_labels([name for name, _ in rows])
    values = [n for _, n in rows]
    if others[0]:
        labels.append(texts.chart_others(others[0]))
        values.append(others[1])
    fig, ax = pyplot.subplots(figsize=(10, 0.38 * max(4, len(values)) + 1.2), dpi=110)
    positions = list(range(len(values)))
    colors = ["#2e7d32"] * len(rows) + ["#9e9e9e"] * (len(values) - len(rows))
    bars = ax.barh(positions, values, color=colors)
    ax.bar_label(bars, padding=3, fontsize=8)
    ax.set_yticks(positions, labels, fontsize=9)
    ax.invert_yaxis()  # the largest at the top
    ax.set_title(texts.CHART_BY_ORG)
    ax.set_xlabel(texts.CHART_USERS_AXIS)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.margins(x=0.08)
    fig.tight_layout()
    return _png(fig, pyplot)


def _png(fig: Any, pyplot: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    pyplot.close(fig)
    return buffer.getvalue()


class ChartError(RuntimeError):
    pass


async def draw(
    per_day: dict[date, Counter[str]], rows: list[tuple[str, int]], others: tuple[int, int]
) -> tuple[bytes | None, bytes | None]:
    """Both /stats charts (None for one with nothing to show), drawn by `python -m
    bot.charts` without a thread of this process."""
    process = await asyncio.create_subprocess_exec(
        *module_command("bot.charts"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=module_env(),
    )
    out, err = await process.communicate(pickle.dumps((per_day, rows, others)))
    if process.returncode != 0:
        raise ChartError(err.decode(errors="replace").strip()[-500:])
    pair: tuple[bytes | None, bytes | None] = pickle.loads(out)
    return pair


def main() -> int:
    per_day, rows, others = pickle.load(sys.stdin.buffer)
    pair = (
        requests_per_day(per_day) if per_day else None,
        organizations_by_users(rows, others) if rows else None,
    )
    sys.stdout.buffer.write(pickle.dumps(pair))
    return 0


if __name__ == "__main__":
    sys.exit(main())
