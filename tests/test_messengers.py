"""Two messengers in one process, the parts that need no MAX transport: settings and start-up
refusals, each outbox row on its own messenger's bot and pacer, and the admins' card naming
the messenger a request came from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from aiogram import Bot
from sqlalchemy import select

from bot import texts
from bot.config import Settings
from bot.guard import Refused, check_settings
from bot.outbound import cards
from bot.outbound.delivery import Delivery, send_now
from bot.outbound.pacing import ByMessenger, Pacer
from db.database import Database
from db.models import AccessRequest, OutboxMessage
from services import outbox, requests
from services.accounts import Messenger, account_key
from services.outbox import Kind
from tests.conftest import ROOT
from tests.support.harness import Harness
from tests.test_cli import run_bot
from tests.test_requests_service import NEW

MAX_USER = account_key(Messenger.MAX, 7)  # the same number as NEW's Telegram account


def test_admin_ids_name_accounts_on_either_messenger() -> None:
    settings = Settings(admin_ids="11, max:11;12", _env_file=None)  # type: ignore[arg-type]
    assert settings.admin_ids == [11, account_key(Messenger.MAX, 11), 12]
    with pytest.raises(ValueError):
        Settings(admin_ids="vk:11", _env_file=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"ADMIN_CHAT_ID": "-100123"}, texts.MAX_ONLY_TELEGRAM_CHATS),
        ({"SUPPORT_CHAT_ID": "-100123"}, texts.MAX_ONLY_TELEGRAM_CHATS),
        ({"ADMIN_IDS": "max:5,77"}, texts.MAX_ONLY_TELEGRAM_ADMINS),
    ],
)
def test_max_alone_refuses_what_points_at_telegram_with_one_clear_line(
    tmp_path: Path, env: dict[str, str], refusal: str
) -> None:
    matrix = str(ROOT / "role_matrix.yaml")
    result = run_bot([], {"MAX_TOKEN": "max-token", "ROLE_MATRIX_PATH": matrix, **env}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [refusal], result.stderr


def test_report_chat_may_be_a_max_chat() -> None:
    settings = Settings(report_chat_id="max:-42", _env_file=None)  # type: ignore[arg-type]
    assert settings.report_chat_id == account_key(Messenger.MAX, -42)


def test_several_workers_cannot_all_poll_max() -> None:
    base = Settings(
        bot_token="42:x",
        max_token="m",
        workers=2,
        webhook_url="https://bot.example.ru/tg",
        redis_url="redis://127.0.0.1:6379/0",
        _env_file=None,  # type: ignore[call-arg]
    )
    with pytest.raises(Refused) as refused:
        check_settings(base, is_sqlite=False)
    assert str(refused.value) == texts.MAX_WORKERS_NEED_WEBHOOK
    check_settings(base.model_copy(update={"max_webhook_url": "https://bot.example.ru/max"}), False)


class CountingPacer:
    def __init__(self) -> None:
        self.chats: list[int] = []

    async def acquire(self, chat_id: int, creates_message: bool) -> None:
        self.chats.append(chat_id)

    async def penalize(self, chat_id: int, retry_after: float) -> None:
        self.chats.append(-1)


async def test_each_chat_is_paced_by_its_own_messenger() -> None:
    telegram, max_pacer = CountingPacer(), CountingPacer()
    pacers: dict[Messenger, Pacer] = {Messenger.TELEGRAM: telegram, Messenger.MAX: max_pacer}
    pacer = ByMessenger(pacers)
    await pacer.acquire(7, True)
    await pacer.acquire(MAX_USER, True)
    await pacer.penalize(MAX_USER, 1)
    assert telegram.chats == [7]
    assert max_pacer.chats == [MAX_USER, -1]


async def _enqueue_text(db: Database, chat_id: int) -> int:
    async with db.write() as session:
        outbox.enqueue(session, chat_id, Kind.TEXT, {"text": "Проверка"}, user_id=chat_id)
        await session.flush()
        found = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.chat_id == chat_id)
        )
    assert found is not None
    return found


async def _state(db: Database, row_id: int) -> tuple[str, str | None] | None:
    async with db.read() as session:
        row = await session.get(OutboxMessage, row_id)
        return None if row is None else (row.state, row.last_error)


async def test_a_max_row_never_goes_through_the_telegram_bot(
    harness: Harness, db: Database, settings: Settings
) -> None:
    """Without a MAX bot in the process a MAX user's row waits (tried again until
    OUTBOX_MAX_AGE_HOURS); the Telegram bot is never asked to send it, nor is a Telegram
    user with the same number sent it."""
    row_id = await _enqueue_text(db, MAX_USER)
    delivery = Delivery(db, settings)
    await delivery.drain(harness.bot)
    assert await _state(db, row_id) == ("pending", "NoMaxBot")
    assert harness.session.in_chat(MAX_USER) == [] and harness.session.in_chat(7) == []


async def test_send_now_leaves_another_messengers_rows_to_the_loop(
    harness: Harness, db: Database, settings: Settings
) -> None:
    mine, other = await _enqueue_text(db, 7), await _enqueue_text(db, MAX_USER)
    assert await send_now(harness.bot, db, settings, [mine, other]) is False
    assert await _state(db, mine) is None  # delivered rows are deleted
    state = await _state(db, other)
    assert state is not None and state[0] == "pending"
    assert [m.plain for m in harness.session.in_chat(7)] == ["Проверка"]


async def test_the_card_names_the_messenger_and_the_other_accounts(db: Database) -> None:
    async with db.write() as session:
        first = await requests.submit(session, NEW)
        second = await requests.submit(session, replace(NEW, account_id=MAX_USER))
    assert isinstance(first, requests.Submitted) and isinstance(second, requests.Submitted)
    async with db.read() as session:
        on_telegram = await session.get(AccessRequest, first.request.id)
        on_max = await session.get(AccessRequest, second.request.id)
        assert on_telegram is not None and on_max is not None
        text_max, _ = await cards.render(session, on_max)
        text_telegram, _ = await cards.render(session, on_telegram)
        same_number = await session.scalars(select(AccessRequest.account_id))
        assert sorted(same_number) == sorted([7, MAX_USER])  # two accounts, never one
    assert f"<b>{texts.MESSENGER_LABEL}:</b> MAX" in text_max
    assert f"<b>{texts.MESSENGER_LABEL}:</b> Telegram" in text_telegram
    # The same SNILS from the other messenger is another account's, and the card says whose.
    assert f"№ {first.request.id} <b>другого аккаунта (Telegram)</b>" in text_max
    assert f"№ {second.request.id} <b>другого аккаунта (MAX)</b>" in text_telegram


def test_bot_without_max_session_is_telegram(harness: Harness) -> None:
    from bot.messengers import bot_messenger

    assert isinstance(harness.bot, Bot)
    assert bot_messenger(harness.bot) is Messenger.TELEGRAM
