"""/queue, /find, /req, /history and staff management."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import texts
from db.database import Database
from db.models import RequestEvent, StaffEvent
from services import staff
from services.snils import check_number, format_snils
from services.staff import StaffRole
from tests.admin_support import ADMIN_CHAT, admin, cards, submitted
from tests.conftest import ADMIN_ID
from tests.harness import Harness

NEWCOMER = 900123


async def test_queue_oldest_first_and_opening_a_card(h: Harness, db: Database) -> None:
    await submitted(h, 1001)
    await submitted(h, 1002, snils="431-052-771 35", email="petrov@example.ru")
    boss = admin(h)
    sent = await boss.send("/queue")
    assert "Заявки на рассмотрении:</b> 2" in sent[-1].html
    assert sent[-1].buttons[0].startswith("№ 1 · Иванова Мария Петровна")
    assert sent[-1].buttons[1].startswith("№ 2 ·")
    before = len(cards(h))
    await boss.press("№ 2 ·")
    assert len(cards(h)) == before + 1 and "Заявка № 2" in cards(h)[-1].plain
    async with db.read() as session:
        viewed = (
            await session.scalars(select(RequestEvent).where(RequestEvent.action == "viewed"))
        ).all()
    assert [(v.request_id, v.actor_id) for v in viewed] == [(2, ADMIN_ID)]


async def test_queue_pages(h: Harness) -> None:
    for n in range(9):
        number = 100 + n
        digits = f"{200_000_000 + n:09d}"
        snils = format_snils(digits + f"{check_number(digits):02d}")
        await submitted(h, 2000 + n, snils=snils, email=f"u{number}@example.ru")
    boss = admin(h)
    sent = await boss.send("/queue")
    assert "Страница 1 из 2" in sent[-1].plain and "▶️" in sent[-1].buttons
    sent = await boss.press("▶️")
    assert "Страница 2 из 2" in sent[-1].plain
    assert sent[-1].buttons[0].startswith("№ 9 ·")


async def test_find_by_surname_snils_email_and_organization(h: Harness) -> None:
    await submitted(h, 1001)
    boss = admin(h)
    for query in ("иванов", "112 233 445 95", "ivanova@example", "условная црб"):
        sent = await boss.send(f"/find {query}")
        assert sent[-1].plain == texts.found(1), query
        assert sent[-1].buttons[0].startswith("№ 1 ·")
    sent = await boss.send("/find сидоров")
    assert sent[-1].plain == texts.found(0)
    sent = await boss.send("/find")
    assert sent[-1].plain.startswith("Напишите после команды")


async def test_req_and_history(h: Harness) -> None:
    await submitted(h, 1001)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.DEFAULT_REJECT_REASONS[0])
    sent = await boss.send("/req 1")
    assert "Заявка № 1" in sent[-1].plain and "❌ Отклонена" in sent[-1].plain
    assert sent[-1].buttons == []
    sent = await boss.send("/history 1")
    text = sent[-1].plain
    assert "История заявки № 1" in text
    assert "заявитель: подана" in text
    assert "Ольга: отклонена" in text and texts.DEFAULT_REJECT_REASONS[0] in text
    assert "просмотрена" in text
    sent = await boss.send("/req 99")
    assert sent[-1].plain == texts.REQUEST_NOT_FOUND
    sent = await boss.send("/history")
    assert sent[-1].plain == texts.HISTORY_USAGE


async def test_staff_add_and_remove_by_id(h: Harness, db: Database) -> None:
    boss = admin(h)
    sent = await boss.send(f"/staff add operator {NEWCOMER}")
    assert sent[-1].plain == texts.staff_added(NEWCOMER, "operator").replace("<code>", "").replace(
        "</code>", ""
    )
    sent = await boss.send("/staff")
    assert f"({NEWCOMER}) — оператор" in sent[-1].plain
    sent = await boss.send(f"/staff remove {NEWCOMER}")
    assert "больше не сотрудник" in sent[-1].plain
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER) is None
        log = (await session.scalars(select(StaffEvent).order_by(StaffEvent.id))).all()
    assert [(e.action, e.target_id) for e in log][-2:] == [
        ("added", NEWCOMER),
        ("removed", NEWCOMER),
    ]


async def test_the_last_admin_cannot_be_removed(h: Harness, db: Database) -> None:
    boss = admin(h)
    await boss.send("/staff remove 900002")
    sent = await boss.send(f"/staff remove {ADMIN_ID}")
    assert sent[-1].plain == texts.STAFF_LAST_ADMIN


async def test_invite_link_is_single_use(h: Harness, db: Database) -> None:
    boss = admin(h)
    await boss.send("/staff")
    sent = await boss.press(texts.BTN_INVITE_OPERATOR)
    link = next(w for w in sent[-1].plain.split() if w.startswith("https://t.me/"))
    token = link.split("?start=")[1]
    newcomer = h.user(NEWCOMER, "Нина")
    sent = await newcomer.send(f"/start {token}")
    assert sent[-1].plain == texts.welcome_staff("operator")
    other = h.user(NEWCOMER + 1, "Чужой")
    sent = await other.send(f"/start {token}")
    assert sent[-1].plain == texts.INVITE_INVALID
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER) is StaffRole.OPERATOR
        assert await staff.role_of(session, NEWCOMER + 1) is None


async def test_an_expired_invite_does_nothing(h: Harness, db: Database) -> None:
    async with db.write() as session:
        invite = await staff.create_invite(
            session, ADMIN_ID, StaffRole.ADMIN, ttl=timedelta(seconds=-1)
        )
    sent = await h.user(NEWCOMER).send(f"/start inv_{invite.token}")
    assert sent[-1].plain == texts.INVITE_INVALID
    async with db.read() as session:
        assert await staff.role_of(session, NEWCOMER) is None


async def test_staff_commands_need_an_admin(h: Harness) -> None:
    stranger = h.member(NEWCOMER, ADMIN_CHAT, "Гость")
    for command in ("/staff", f"/staff add admin {NEWCOMER}", "/find иванова", "/history 1"):
        sent = await stranger.send(command)
        assert sent[-1].plain == texts.NO_ACCESS, command
