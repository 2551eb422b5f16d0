"""SIGTERM in the middle of a burst of updates, then a new start: every update is handled
exactly once, in polling and in webhook mode.

80 presses «Одобрить» (one per request, by ten admins) arrive at once while every Bot API
call takes 0.2 s; one admin's presses are handled one after another (aiogram's event
isolation), ten admins' side by side. The first bot process is stopped as soon as the first
presses are answered: some updates are in hand, some not yet started, some notices still in
the outbox. The second process gets the rest. A press handled twice would be answered twice
(the stand-in refuses the second answer: "query is too old") and would say «Решение уже
принято»; a lost one would never be answered.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select

from bot.callbacks import AdminCb
from db.database import Database
from db.models import AccessRequest, OutboxMessage, RequestEvent
from services import requests, staff
from services.snils import check_number, format_snils
from tests.e2e.standin import BotApiStandin
from tests.e2e.support import BotProcess, free_port, until
from tests.test_requests_service import NEW

ADMINS = [900001 + i for i in range(10)]
ADMIN_CHAT = -1007770009
APPLICANTS = 7000
N = 80


def snils(n: int) -> str:
    nine = f"{200_000_000 + n:09d}"
    return format_snils(f"{nine}{check_number(nine):02d}")


async def seed(db: Database, standin: BotApiStandin) -> list[int]:
    """N submitted requests and their cards in the admin chat (set up directly)."""
    async with db.write() as session:
        await staff.bootstrap_admins(session, ADMINS)
        for n in range(1, N + 1):
            new = replace(NEW, account_id=APPLICANTS + n, snils=snils(n), email=f"{n}@example.ru")
            assert isinstance(await requests.submit(session, new), requests.Submitted)
    cards = []
    for n in range(1, N + 1):
        data = AdminCb(action="approve", request_id=n).pack()
        markup = {"inline_keyboard": [[{"text": "✅ Одобрить", "callback_data": data}]]}
        cards.append(standin.post_as_bot(ADMIN_CHAT, f"Заявка № {n}", markup))
    return cards


def answered(standin: BotApiStandin) -> int:
    return sum(1 for c in standin.callbacks.values() if c.answered)


async def check_everything_once(standin: BotApiStandin, db: Database) -> None:
    assert standin.errors == [], [(e.method, e.description) for e in standin.errors]
    texts = [str((c.answer or {}).get("text") or "") for c in standin.callbacks.values()]
    assert not [t for t in texts if t.startswith("Решение уже принято")]
    async with db.read() as session:
        approved = await session.scalar(
            select(func.count()).select_from(RequestEvent).where(RequestEvent.action == "approved")
        )
        statuses = set(await session.scalars(select(AccessRequest.status)))
        left = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert (approved, statuses, left) == (N, {"approved"}, 0)
    for n in range(1, N + 1):  # each applicant told once, by the outbox
        told = [r for r in standin.sent if r.chat_id == APPLICANTS + n]
        assert len(told) == 1 and "одобрена" in (told[0].text or ""), (n, told)


async def test_polling_sigterm_mid_batch_loses_nothing_and_repeats_nothing(
    standin: BotApiStandin, bot_env: dict[str, str], db: Database
) -> None:
    cards = await seed(db, standin)
    bot_env.update(ADMIN_IDS=",".join(map(str, ADMINS)), ADMIN_CHAT_ID=str(ADMIN_CHAT))
    first = BotProcess(bot_env)
    await first.start(standin)
    standin.latency = 0.2
    data = [AdminCb(action="approve", request_id=n).pack() for n in range(1, N + 1)]
    for n, (card, press) in enumerate(zip(cards, data, strict=True)):  # one batch of 80
        standin.push_callback(ADMINS[n % 10], card, press, chat_id=ADMIN_CHAT)
    await until(lambda: answered(standin) > 0)
    code, output = await first.stop()  # mid-batch: 64 in hand, 16 not started
    assert code == 0, output
    after_first = answered(standin)
    assert 0 < after_first < N, after_first  # the stop really came in the middle

    second = BotProcess(bot_env)
    await second.start(standin)
    try:
        await until(lambda: answered(standin) == N)
        await until(lambda: sum(1 for r in standin.sent if r.chat_id > APPLICANTS) == N)
    finally:
        code, output = await second.stop()
    assert code == 0, output
    await check_everything_once(standin, db)


async def test_webhook_sigterm_mid_burst_loses_nothing_and_repeats_nothing(
    standin: BotApiStandin, bot_env: dict[str, str], db: Database
) -> None:
    cards = await seed(db, standin)
    port = free_port()
    bot_env.update(
        ADMIN_IDS=",".join(map(str, ADMINS)),
        ADMIN_CHAT_ID=str(ADMIN_CHAT),
        WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
        WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        WEBHOOK_SECRET="s3cret-for-the-test",
        WEBHOOK_MAX_CONNECTIONS="4",
    )
    first = BotProcess(bot_env)
    await first.start(standin)
    assert standin.webhook is not None and standin.webhook["secret_token"] == "s3cret-for-the-test"
    standin.latency = 0.2
    standin.push_delay = 0.05  # 4 at a time: 80 updates take about a second to push
    for n, card in enumerate(cards, start=1):
        press = AdminCb(action="approve", request_id=n).pack()
        standin.push_callback(ADMINS[n % 10], card, press, chat_id=ADMIN_CHAT)
    await until(lambda: len(standin.delivered_updates()) >= 20)
    code, output = await first.stop()  # some pushed and answered 200, some not yet
    assert code == 0, output
    delivered = standin.delivered_updates()
    callback_updates = {u["update_id"] for u in standin.updates if "callback_query" in u}
    assert 0 < len(delivered & callback_updates) < N
    # Every update answered 200 was handled before the process exited.
    handled = {int(c.id) for c in standin.callbacks.values() if c.answered}
    by_update = {
        u["update_id"]: int(u["callback_query"]["id"])
        for u in standin.updates
        if "callback_query" in u
    }
    assert {by_update[u] for u in delivered & callback_updates} <= handled

    second = BotProcess(bot_env)
    await second.start(standin)
    try:
        await until(lambda: answered(standin) == N)
        await until(lambda: sum(1 for r in standin.sent if r.chat_id > APPLICANTS) == N)
    finally:
        code, output = await second.stop()
    assert code == 0, output
    await check_everything_once(standin, db)
