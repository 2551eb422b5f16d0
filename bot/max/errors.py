"""MAX's refusals → aiogram's exceptions, worded so that the bot's existing handling of
Telegram's answers (bot/outbound/delivery.py ``classify``, bot/session.py's reply retries)
reads them the same way.

MAX's codes (dev.max.ru/docs-api «Ошибки» and the libraries' mappings): 429
``too.many.requests`` comes without Retry-After, so a short wait is given; 403
``chat.denied`` is a person who stopped or blocked the bot (or a group that removed it);
404 ``chat.not.found`` an unknown chat. MAX has no «message is not modified» (a no-op edit
succeeds), so that text is never produced here.
"""

from __future__ import annotations

from typing import Any

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    TelegramMethod,
)

from bot.max.client import MaxApiError, MaxNetworkError

# MAX sends no Retry-After; its limit is per second, so a second's wait is enough.
RETRY_AFTER = 1


class MaxUnsupported(TelegramBadRequest):
    """A call MAX cannot carry (its name is in the message): never a silent success."""


def unsupported(method: TelegramMethod[Any], what: str) -> MaxUnsupported:
    return MaxUnsupported(method=method, message=f"MAX cannot carry {what}")


def _not_found(method: TelegramMethod[Any]) -> str:
    if isinstance(method, EditMessageText | EditMessageReplyMarkup):
        return "Bad Request: message to edit not found"
    if isinstance(method, DeleteMessage):
        return "Bad Request: message to delete not found"
    if isinstance(method, AnswerCallbackQuery):
        # A callback already answered (e.g. a retried answer that worked the first time).
        return "Bad Request: query is too old and response timeout expired or query ID is invalid"
    return "Bad Request: not found"


def to_aiogram(method: TelegramMethod[Any], exc: MaxApiError | MaxNetworkError) -> TelegramAPIError:
    if isinstance(exc, MaxNetworkError):
        return TelegramNetworkError(method=method, message=f"MAX: {exc}")
    status, code = exc.status, exc.code
    detail = f"{code}: {exc.message}"
    if status == 429:
        return TelegramRetryAfter(
            method=method, message=f"Too Many Requests: {detail}", retry_after=RETRY_AFTER
        )
    if status >= 500:
        return TelegramServerError(method=method, message=f"MAX {status}: {code}")
    if status == 401:
        return TelegramUnauthorizedError(method=method, message=f"Unauthorized: {code}")
    if code == "chat.denied":
        blocked = "Forbidden: bot was blocked by the user"
        return TelegramForbiddenError(method=method, message=blocked)
    if code == "chat.not.found":
        return TelegramBadRequest(method=method, message=f"Bad Request: chat not found ({code})")
    if status == 404:
        return TelegramBadRequest(method=method, message=_not_found(method))
    if status == 409:
        return TelegramConflictError(method=method, message=f"Conflict: {detail}")
    return TelegramBadRequest(method=method, message=f"Bad Request: {detail}")
