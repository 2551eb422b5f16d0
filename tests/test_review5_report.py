"""Review 5 (issue 12): /report's message lists up to 3 × 15 organisation names unclipped; with
directory short names of ~80 characters (FRMO short names are often that long, and an empty
one falls back to the full name, 200+) the text passes Telegram's 4096 and both /report and
the scheduled report's text part are refused."""

from __future__ import annotations

import re
from datetime import date

from bot.report_render import text_of
from services.report import Report


def test_report_text_fits_one_message_with_long_names() -> None:
    names = [
        "ОГБУЗ «Областная клиническая больница имени Королёва Е.И., "
        f"обособленное подразделение № {i:02d}»"
        for i in range(80)
    ]
    assert all(len(n) >= 78 for n in names)
    figures = Report(
        today=date(2026, 12, 1),
        deadline=date(2026, 12, 31),
        by_status=[("submitted", 3), ("approved", 2)],
        median_hours=1.0,
        p90_hours=2.0,
        organizations=80,
        no_responsible=names,
        no_request=names,
        no_approved=names,
    )
    plain = re.sub("<[^>]+>", "", text_of(figures))
    assert len(plain.encode("utf-16-le")) // 2 <= 4096, len(plain)
