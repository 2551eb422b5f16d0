"""«Мои заявки» for someone with many long requests: paged within Telegram's 4,096 characters,
with pager buttons that work and are answered (security issue 10, point 8)."""

from __future__ import annotations

from dataclasses import replace

from bot import texts
from db.database import Database
from services import requests
from services.requests import Status
from services.snils import check_number, format_snils
from tests.support.harness import Harness
from tests.test_requests_service import NEW

COUNT = 12


def snils(n: int) -> str:
    digits = f"{400_000_000 + n:09d}"
    return format_snils(digits + f"{check_number(digits):02d}")


async def test_many_long_requests_are_paged(harness: Harness, db: Database) -> None:
    user = harness.user()
    for n in range(COUNT):
        new = replace(
            NEW,
            account_id=user.id,
            snils=snils(n),
            email=f"u{n}@example.ru",
            org_short_name="Больница " + "очень длинного названия " * 12,
            role="Роль " + "с длинным названием " * 9,
        )
        async with db.write() as session:
            result = await requests.submit(session, new)
            assert isinstance(result, requests.Submitted)
            await requests.decide(
                session, result.request.id, Status.REJECTED, actor_id=1, reason="Причина " * 60
            )
    sent = await user.send("/my")
    first = sent[-1]
    assert harness.session.refusals == []  # it fits: Telegram would refuse 4,097 characters
    assert "страница 1 из 3" in first.plain
    assert f"№ {COUNT}" in first.plain and "№ 1 " not in first.plain  # the newest first
    assert "▶️" in first.buttons and "◀️" not in first.buttons
    seen = set()
    for _page in range(3):
        current = harness.session.messages[(user.id, first.message_id)]
        seen |= {n for n in range(1, COUNT + 1) if f"№ {n} от" in current.plain}
        if "▶️" in current.buttons:
            await user.press_data(current, current.button_data("▶️") or "")
    assert seen == set(range(1, COUNT + 1))
    last = harness.session.messages[(user.id, first.message_id)]
    assert "страница 3 из 3" in last.plain and "▶️" not in last.buttons
    await user.press_data(last, last.button_data("◀️") or "")
    assert "страница 2 из 3" in harness.session.messages[(user.id, first.message_id)].plain
    await user.press_data(last, last.button_data("3/3") or "")  # the page it shows: no error
    assert harness.unanswered_callbacks() == [] and harness.session.refusals == []
    assert texts.BTN_WITHDRAW in last.buttons
