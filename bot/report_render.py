"""The report's PNG chart and XLSX, made by `python -m bot.report_render` in a process of its
own (as bot/charts.py): drawing and writing hold the interpreter for tens of milliseconds,
which in the bot's process would stop the event loop."""

from __future__ import annotations

import asyncio
import io
import pickle
import sys
from typing import Any

import rustpy_xlsxwriter as xlsx

from bot import charts, texts
from services.child_process import module_command, module_env
from services.report import Report


def chart(report: Report) -> bytes:
    """One PNG: requests by status on the left, organisations' coverage on the right."""
    pyplot = charts._figure()
    fig, (left, right) = pyplot.subplots(1, 2, figsize=(12, 4.8), dpi=110)
    statuses = [s for s, n in report.by_status if n] or []
    values = [dict(report.by_status)[s] for s in statuses]
    positions = list(range(len(statuses)))
    bars = left.barh(
        positions,
        values,
        color=[charts.STATUS_COLORS.get(s, "#607d8b") for s in statuses],
    )
    left.bar_label(bars, padding=3, fontsize=9)
    left.set_yticks(positions, [texts.STATUS_NAMES.get(s, s) for s in statuses], fontsize=9)
    left.invert_yaxis()
    left.set_title(texts.REPORT_CHART_STATUS)
    left.set_xlabel(texts.CHART_COUNT_AXIS)
    left.xaxis.get_major_locator().set_params(integer=True)
    left.margins(x=0.12)
    total = report.organizations
    groups = [
        (texts.REPORT_CHART_ALL, total, "#9e9e9e"),
        (texts.REPORT_CHART_RESPONSIBLE, total - len(report.no_responsible), "#1f77b4"),
        (texts.REPORT_CHART_REQUESTED, total - len(report.no_request), "#ff9800"),
        (texts.REPORT_CHART_APPROVED, report.covered, "#2e7d32"),
    ]
    spots = list(range(len(groups)))
    bars = right.barh(spots, [n for _, n, _ in groups], color=[c for _, _, c in groups])
    right.bar_label(bars, padding=3, fontsize=9)
    right.set_yticks(spots, [label for label, _, _ in groups], fontsize=9)
    right.invert_yaxis()
    title = texts.REPORT_CHART_ORGS
    if report.deadline is not None:
        title += f" (срок {texts.fmt_date(report.deadline)})"
    right.set_title(title)
    right.set_xlabel(texts.REPORT_CHART_ORGS_AXIS)
    right.xaxis.get_major_locator().set_params(integer=True)
    right.margins(x=0.12)
    fig.suptitle(f"{texts.REPORT_TITLE} — {texts.fmt_date(report.today)}")
    fig.tight_layout()
    return charts._png(fig, pyplot)


def workbook(report: Report, progress: str) -> bytes:
    """A summary sheet and one sheet per list of organisations (all of them)."""
    what, value = texts.REPORT_COLUMN_WHAT, texts.REPORT_COLUMN_VALUE
    summary: list[dict[str, Any]] = [
        {what: texts.report_status_row(s), value: n} for s, n in report.by_status
    ]
    summary += [
        {what: texts.REPORT_MEDIAN, value: _rounded(report.median_hours)},
        {what: texts.REPORT_P90, value: _rounded(report.p90_hours)},
        {what: texts.REPORT_ORGS, value: report.organizations},
        {what: texts.REPORT_SHEET_NO_RESPONSIBLE, value: len(report.no_responsible)},
        {what: texts.REPORT_SHEET_NO_REQUEST, value: len(report.no_request)},
        {what: texts.REPORT_SHEET_NO_APPROVED, value: len(report.no_approved)},
        {what: texts.REPORT_PROGRESS, value: progress},
    ]
    column = texts.REPORT_COLUMN_ORG
    sheets: list[tuple[str, Any]] = [
        (texts.REPORT_SHEET_SUMMARY, summary),
        (texts.REPORT_SHEET_NO_RESPONSIBLE, [{column: n} for n in report.no_responsible]),
        (texts.REPORT_SHEET_NO_REQUEST, [{column: n} for n in report.no_request]),
        (texts.REPORT_SHEET_NO_APPROVED, [{column: n} for n in report.no_approved]),
    ]
    # An empty sheet would have no header: say "none" in it instead.
    sheets = [(name, rows or [{column: "—"}]) for name, rows in sheets]
    buffer = io.BytesIO()
    xlsx.write_worksheets(sheets, buffer, bold_headers=True, autofit=True)
    return buffer.getvalue()


def _rounded(hours: float | None) -> float | str:
    return "—" if hours is None else round(hours, 1)


def progress_of(report: Report) -> str:
    return texts.deadline_progress(
        report.deadline, report.today, report.covered, report.organizations
    )


def text_of(report: Report) -> str:
    return texts.report(
        report.by_status,
        report.median_hours,
        report.p90_hours,
        report.organizations,
        report.no_responsible,
        report.no_request,
        report.no_approved,
        progress_of(report),
    )


class RenderError(RuntimeError):
    pass


async def render(report: Report) -> tuple[bytes, bytes]:
    """(PNG, XLSX), made in a child process."""
    process = await asyncio.create_subprocess_exec(
        *module_command("bot.report_render"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=module_env(),
    )
    out, err = await process.communicate(pickle.dumps(report))
    if process.returncode != 0:
        raise RenderError(err.decode(errors="replace").strip()[-500:])
    pair: tuple[bytes, bytes] = pickle.loads(out)
    return pair


def main() -> int:
    report: Report = pickle.load(sys.stdin.buffer)
    sys.stdout.buffer.write(pickle.dumps((chart(report), workbook(report, progress_of(report)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
