"""The Bot API session parses answers without building pydantic classes again after a
garbage collection (docs/performance.md: the rebuilds were a fifth of the bot's CPU)."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import AnswerCallbackQuery, GetUpdates, SendMessage, TelegramMethod
from pydantic._internal import _generics

from bot.session import make_session

TOKEN = "42:TEST"
ANSWERS: list[tuple[TelegramMethod[Any], Any]] = [
    (GetUpdates(offset=1, timeout=0), []),
    (SendMessage(chat_id=1, text="x"), {
        "message_id": 5, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "x"}),
    (AnswerCallbackQuery(callback_query_id="q"), True),
]  # fmt: skip


def _parse_each(session: Any, bot: Bot) -> None:
    # Inside a function, as aiogram's own call does: pydantic keeps a class made at a
    # module's top level alive by itself, and one made in a function only weakly.
    for method, result in ANSWERS:
        content = json.dumps({"ok": True, "result": result})
        assert session.check_response(bot, method, 200, content).result is not None


async def test_answers_are_parsed_without_building_their_classes_again_after_gc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = make_session(None)
    bot = Bot(TOKEN, session=session)
    try:
        _parse_each(session, bot)
        gc.collect()
        built: list[Any] = []
        real = _generics.create_generic_submodel

        def counting(*args: Any, **kwargs: Any) -> Any:
            built.append(args[0])
            return real(*args, **kwargs)

        monkeypatch.setattr(_generics, "create_generic_submodel", counting)
        _parse_each(session, bot)
        assert built == []
    finally:
        await session.close()
