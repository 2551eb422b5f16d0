"""Bot API session: a custom server (TELEGRAM_API_URL), a request timeout, and a few quick
retries of the bot's direct replies.

Two kinds of sends, two policies:
- what the bot sends on its own (cards, notices, relays) goes through the outbox, whose loop
  paces, retries for hours and classifies Telegram's answers (bot/outbound/delivery.py,
  bot/outbound/pacing.py); nothing here touches those calls;
- a reply to the update being handled (the form's next prompt, an answer to a press) has no
  outbox behind it: a single 500 or dropped connection would leave the person without the
  next question. So, while an update is handled (`replying_to_update`), a call that meets a
  5xx, a network error or a timeout is tried again after a short pause, and a 429 is waited
  for when Telegram asks for a few seconds only; past that the error goes up, and the form
  engine shows the step again on the person's next message (bot/fsm/engine.py).
A retried call may have taken effect the first time (the connection dropped after Telegram
took it): a message may then arrive twice, an edit answers «not modified», a callback answer
«query is too old» — the last two mean the first try worked, and are taken as success.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    Response,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.base import BaseSession

log = logging.getLogger(__name__)

# Set while an update is being handled (bot.middlewares.InFlightMiddleware): the calls made
# then are direct replies. Tasks started by a handler inherit it, the outbox loop does not.
_replying: contextvars.ContextVar[bool] = contextvars.ContextVar("replying", default=False)

# Pauses before the 2nd and 3rd try: short, since a person is waiting for this answer. The
# second try goes at once: most faults seen from Russia are one dropped connection or one
# 5xx that the next try gets past, and any pause there is added to the person's wait (with
# 1-2 % of calls failing, 0.3 s and then 0.05 s of it were the dialog's 99th percentile). A
# fault that outlasts one try is given a second.
REPLY_RETRY_DELAYS = (0.0, 1.0)
# A 429 asking for longer than this is not waited for inside an update.
REPLY_MAX_RETRY_AFTER = 5.0
# No new try starts after this many seconds (a timed-out try itself lasts the timeout).
REPLY_RETRY_BUDGET = 30.0

_TRANSIENT = (TelegramServerError, TelegramNetworkError, ClientDecodeError)


@contextmanager
def replying_to_update() -> Iterator[None]:
    token = _replying.set(True)
    try:
        yield
    finally:
        _replying.reset(token)


def _took_effect_before(method: TelegramMethod[Any], exc: TelegramBadRequest) -> bool:
    """A retried call refused in a way that proves the first try went through."""
    text = exc.message.lower()
    if isinstance(method, EditMessageText | EditMessageReplyMarkup):
        return "message is not modified" in text
    if isinstance(method, AnswerCallbackQuery):
        return "query is too old" in text or "query id is invalid" in text
    return False


class DirectReplyRetry(BaseRequestMiddleware):
    """Quick retries of a direct reply (see the module's docstring)."""

    def __init__(
        self,
        delays: tuple[float, ...] = REPLY_RETRY_DELAYS,
        max_retry_after: float = REPLY_MAX_RETRY_AFTER,
        budget: float = REPLY_RETRY_BUDGET,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.delays = delays
        self.max_retry_after = max_retry_after
        self.budget = budget
        self._sleep = sleep  # the tests' harness pauses for nothing

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if not _replying.get():
            return await make_request(bot, method)
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramBadRequest as exc:
                if attempt and _took_effect_before(method, exc):
                    # The chain hands on the call's result: True is what these calls return.
                    return True  # type: ignore[return-value]
                raise
            except (TelegramRetryAfter, *_TRANSIENT) as exc:
                pause = self._pause(exc, attempt)
                if pause is None or time.monotonic() - started + pause > self.budget:
                    raise
                error = type(exc).__name__
            attempt += 1
            # The method's name and the error's type only: texts may quote what people wrote.
            log.info(
                "reply %s: %s, try %d in %.1f s", method.__api_method__, error, attempt + 1, pause
            )
            await self._sleep(pause)

    def _pause(self, exc: Exception, attempt: int) -> float | None:
        """How long to wait before trying again; None: give up."""
        if attempt >= len(self.delays):
            return None
        if isinstance(exc, TelegramRetryAfter):
            wait = float(exc.retry_after)
            return wait if wait <= self.max_retry_after else None
        return self.delays[attempt]


def install_reply_retries(session: BaseSession, retry: DirectReplyRetry | None = None) -> None:
    session.middleware(retry or DirectReplyRetry())


# Each parsed answer's class, kept alive for the process (one per Bot API method used).
_RESPONSE_TYPES: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}


class TelegramSession(AiohttpSession):
    """aiogram's HTTP session, with the classes it parses answers into kept alive.

    aiogram parses every answer as `Response[T]`, a generic pydantic class built on first use.
    Pydantic holds such classes only weakly when they are made inside a function, so each
    garbage collection throws them away and the next call builds its class again: 1-5 ms of
    CPU for a `getUpdates`, a `sendMessage`, an `answerCallbackQuery`. Under a deadline day's
    load that was a fifth of the bot's CPU (docs/performance.md). Holding each class once
    turns the build into pydantic's cache look-up."""

    def check_response(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        status_code: int,
        content: str,
    ) -> Response[TelegramType]:
        keep_response_type(method)
        return super().check_response(bot, method, status_code, content)


def keep_response_type(method: TelegramMethod[Any]) -> None:
    kind = type(method)
    if kind not in _RESPONSE_TYPES:
        returning: Any = method.__returning__
        _RESPONSE_TYPES[kind] = Response[returning]


def make_session(api_url: str | None, timeout: float = 20.0) -> BaseSession:
    if api_url:
        session = TelegramSession(api=TelegramAPIServer.from_base(api_url), timeout=timeout)
    else:
        session = TelegramSession(timeout=timeout)
    install_reply_retries(session)
    return session
