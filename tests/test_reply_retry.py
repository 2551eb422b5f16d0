"""The quick retries of a direct reply (bot/session.py): only while an update is handled,
bounded, and never for a refusal that retrying cannot mend."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod

from bot.session import DirectReplyRetry, replying_to_update

BOT = Bot("42:TEST-token-for-retry-tests-0123456789")


class Script:
    """A make_request that answers from a script: exceptions are raised, values returned."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def retry() -> tuple[DirectReplyRetry, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return DirectReplyRetry(delays=(0.3, 1.0), max_retry_after=5, sleep=sleep), slept


SEND = SendMessage(chat_id=1, text="x")


def server_error() -> TelegramServerError:
    return TelegramServerError(method=SEND, message="Internal Server Error")


def dropped() -> TelegramNetworkError:
    return TelegramNetworkError(method=SEND, message="ServerDisconnectedError")


async def test_outside_an_update_a_call_is_made_once() -> None:
    middleware, slept = retry()
    script = Script(server_error(), "ok")
    with pytest.raises(TelegramServerError):
        await middleware(script, BOT, SEND)  # type: ignore[arg-type]
    assert script.calls == 1 and slept == []


async def test_a_reply_is_tried_again_after_5xx_and_dropped_connections() -> None:
    middleware, slept = retry()
    script = Script(server_error(), dropped(), "ok")
    with replying_to_update():
        assert await middleware(script, BOT, SEND) == "ok"  # type: ignore[arg-type]
    assert script.calls == 3 and slept == [0.3, 1.0]


async def test_a_reply_gives_up_after_its_tries() -> None:
    middleware, slept = retry()
    script = Script(server_error(), server_error(), server_error(), "never")
    with replying_to_update(), pytest.raises(TelegramServerError):
        await middleware(script, BOT, SEND)  # type: ignore[arg-type]
    assert script.calls == 3 and slept == [0.3, 1.0]


async def test_a_short_429_is_waited_for_a_long_one_is_not() -> None:
    middleware, slept = retry()
    short = TelegramRetryAfter(method=SEND, message="Too Many Requests", retry_after=2)
    script = Script(short, "ok")
    with replying_to_update():
        assert await middleware(script, BOT, SEND) == "ok"  # type: ignore[arg-type]
    assert slept == [2.0]

    middleware, slept = retry()
    long = TelegramRetryAfter(method=SEND, message="Too Many Requests", retry_after=60)
    script = Script(long, "never")
    with replying_to_update(), pytest.raises(TelegramRetryAfter):
        await middleware(script, BOT, SEND)  # type: ignore[arg-type]
    assert script.calls == 1 and slept == []


async def test_a_refusal_is_not_tried_again() -> None:
    middleware, slept = retry()
    script = Script(TelegramBadRequest(method=SEND, message="Bad Request: can't parse"), "x")
    with replying_to_update(), pytest.raises(TelegramBadRequest):
        await middleware(script, BOT, SEND)  # type: ignore[arg-type]
    assert script.calls == 1 and slept == []


async def test_a_retried_edit_or_answer_that_had_worked_is_success() -> None:
    edit = EditMessageText(chat_id=1, message_id=2, text="x")
    answer = AnswerCallbackQuery(callback_query_id="q")
    cases: list[tuple[TelegramMethod[Any], str]] = [
        (edit, "Bad Request: message is not modified"),
        (answer, "Bad Request: query is too old and response timeout expired"),
    ]
    for method, refusal in cases:
        middleware, _ = retry()
        script = Script(dropped(), TelegramBadRequest(method=method, message=refusal))
        with replying_to_update():
            assert await middleware(script, BOT, method) is True  # type: ignore[arg-type]
        # The same refusal on the first try is the caller's to handle.
        middleware, _ = retry()
        script = Script(TelegramBadRequest(method=method, message=refusal))
        with replying_to_update(), pytest.raises(TelegramBadRequest):
            await middleware(script, BOT, method)  # type: ignore[arg-type]


async def test_no_try_starts_past_the_budget() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    middleware = DirectReplyRetry(delays=(0.3, 1.0), budget=0.5, sleep=sleep)
    script = Script(server_error(), server_error(), "never")
    with replying_to_update(), pytest.raises(TelegramServerError):
        await middleware(script, BOT, SEND)  # type: ignore[arg-type]
    assert script.calls == 2 and slept == [0.3]
