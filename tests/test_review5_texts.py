"""Review 5 (issue 12, «texts against the order»): DEADLINE does not stop submissions, yet
the deadline reminders (applicants, admins, and the new one to responsible persons) still
say the acceptance of requests ends."""

from __future__ import annotations

from datetime import date

from bot import texts


def test_reminders_do_not_say_that_acceptance_ends() -> None:
    deadline = date(2026, 12, 31)
    for days in (0, 3):
        for text in (
            texts.reminder_applicant(days, deadline),
            texts.reminder_admin(days, deadline, 5),
            texts.reminder_responsible(days, deadline, "ЦРБ"),
        ):
            assert "приёма заявок" not in text, text


def test_coverage_no_longer_cites_items_2_1_2_2() -> None:
    """Issue 12: «/coverage cites пп. 2.1–2.2; organisations without approved users relate to
    items 2.3 and 3.1» — the header still cites 2.1–2.2 (and /report says 2.2–2.3)."""
    text = texts.coverage(10, ["ЦРБ"], 40)
    assert "2.1–2.2" not in text, text
