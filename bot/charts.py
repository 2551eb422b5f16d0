"""PNG charts for /stats (matplotlib, rendered off the event loop)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date
from typing import Any

from bot import texts


def _figure() -> Any:
    # Imported on first use: matplotlib is heavy and only /stats needs it.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def requests_per_day(per_day: dict[date, Counter[str]]) -> bytes:
    pyplot = _figure()
    days = list(per_day)
    statuses = [s for s in texts.STATUS_NAMES if any(per_day[d][s] for d in days)]
    fig, ax = pyplot.subplots(figsize=(9, 4.5), dpi=110)
    bottom = [0] * len(days)
    labels = [d.strftime("%d.%m") for d in days]
    for status in statuses:
        values = [per_day[d][status] for d in days]
        ax.bar(labels, values, bottom=bottom, label=texts.STATUS_NAMES[status])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(texts.CHART_BY_DAY)
    ax.set_xlabel(texts.CHART_DAY_AXIS)
    ax.set_ylabel(texts.CHART_COUNT_AXIS)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _png(fig, pyplot)


def organizations_by_users(rows: list[tuple[str, int]]) -> bytes:
    pyplot = _figure()
    fig, ax = pyplot.subplots(figsize=(9, 0.45 * max(4, len(rows)) + 1), dpi=110)
    names = [name if len(name) <= 45 else name[:44] + "…" for name, _ in rows][::-1]
    ax.barh(names, [n for _, n in rows][::-1], color="#2e7d32")
    ax.set_title(texts.CHART_BY_ORG)
    ax.set_xlabel(texts.CHART_USERS_AXIS)
    ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return _png(fig, pyplot)


def _png(fig: Any, pyplot: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    pyplot.close(fig)
    return buffer.getvalue()
