"""Texts against order No 922: what the bot says agrees with the order and with what it does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot import texts
from bot.config import Settings
from bot.dispatcher import build_dispatcher
from db.database import Database
from services import staff
from services.role_matrix import RoleMatrix
from tests.conftest import make_settings
from tests.support.admin import admin, submitted
from tests.support.harness import Harness
from tests.test_dialog_question import forum, thread
from tests.test_oversight import known_data

ROOT = Path(__file__).resolve().parents[1]
ORDER = "https://adm44.example/order-922.pdf"


@pytest.fixture
async def ordered(
    db: Database, database_url: str, role_matrix: RoleMatrix, organizations: None
) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, order_url=ORDER, deadline=date(2026, 11, 1))
    async with db.write() as session:
        await staff.bootstrap_admins(session, settings.admin_ids)
    h = Harness(build_dispatcher(settings, db, role_matrix))
    yield h
    await h.dp.storage.close()


async def test_the_greeting_speaks_to_chief_specialists_and_says_what_follows_the_deadline(
    ordered: Harness,
) -> None:
    text = (await ordered.user(5001).send("/start"))[0].plain
    assert "главные внештатные специалисты" in text and "п. 3.1" in text
    assert "Главный внештатный онколог субъекта РФ" in text
    assert f"«{texts.BTN_POSITION_OTHER}»" in text and "роль назначит администратор" in text
    # DEADLINE does not stop submissions, and the greeting does not pretend it does.
    assert "Заявки принимаются до" not in text
    assert "Срок подачи заявок — до 01.11.2026" in text
    assert "поданные позже, тоже принимаются и рассматриваются" in text


async def test_the_guide_and_help_link_the_order_and_name_its_typo(ordered: Harness) -> None:
    user = ordered.user(5001)
    await user.send("/start")
    guide = (await user.press(texts.BTN_GUIDE))[-1]
    for shown in (guide, (await user.send("/help"))[-1]):
        assert f'href="{ORDER}"' in shown.html
        assert "tosminzdrav" in shown.plain and "https://ia.egisz.rosminzdrav.ru/" in shown.plain


async def test_without_order_url_no_link_but_the_typo_note(harness: Harness) -> None:
    user = harness.user(5001)
    await user.send("/start")
    guide = (await user.press(texts.BTN_GUIDE))[-1]
    assert "href" not in guide.html and "tosminzdrav" in guide.plain


def test_no_preset_reason_says_an_organisation_does_not_take_part() -> None:
    assert not [r for r in texts.DEFAULT_REJECT_REASONS if "не участвует" in r]


async def test_the_reject_keyboard_has_no_such_reason(h: Harness) -> None:
    await submitted(h)
    boss = admin(h)
    sent = await boss.press(texts.BTN_REJECT)
    buttons = [b for s in sent for b in s.buttons] or boss.last.buttons
    assert texts.DEFAULT_REJECT_REASONS[0] in buttons
    assert not [b for b in buttons if "не участвует" in b]


async def test_coverage_cites_the_items_of_the_order(h: Harness) -> None:
    text = (await admin(h).send("/coverage"))[0].plain
    assert "2.1–2.2" not in text and "пп. 2.3, 3.1" in text and "п. 2.3" in text


async def test_the_faq_gives_the_measured_median_time_to_decision(
    harness: Harness, db: Database
) -> None:
    await known_data(db)  # decisions after 1, 2, 3 and 10 hours: the median is 2.5 h
    operator = await forum(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос")
    await operator.send("/faq", thread_id=(await thread(db)).topic_id)
    await operator.press("Сколько рассматривается заявка?")
    answer = harness.session.in_chat(user.id)[-1].plain
    assert "быстрее чем за 2.5 ч (медиана)" in answer
    assert "один-два" not in answer and "{median_decision}" not in answer
    # The applicant's own FAQ button says the same.
    await user.send("/help")
    shown = (await user.press("Сколько рассматривается заявка?"))[-1].plain
    assert "быстрее чем за 2.5 ч (медиана)" in shown


def test_median_wording() -> None:
    assert "ещё не измерен" in texts.median_decision(None)
    assert "1.5 сут." in texts.median_decision(36)


def test_documented_defaults_agree_with_the_settings() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    row = re.search(r"^\| `OPERATOR_NAME` \| `([^`]+)` \|", operations, re.MULTILINE)
    assert row is not None
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert row.group(1) == defaults.operator_name
    for name in ("REPORT_CHAT_ID", "REPORT_WEEKDAY", "REPORT_TIME", "ORDER_URL"):
        assert f"| `{name}` |" in operations


def test_reminders_do_not_say_that_requests_stop_at_the_deadline() -> None:
    # DEADLINE is the order's date (items 2.3, 3.1); the bot takes requests after it too.
    deadline = date(2026, 12, 31)
    for days in (0, 3):
        for text in (
            texts.reminder_applicant(days, deadline),
            texts.reminder_admin(days, deadline, 5),
            texts.reminder_responsible(days, deadline, "ЦРБ"),
        ):
            assert "приёма заявок" not in text and "срока подачи заявок по приказу" in text
