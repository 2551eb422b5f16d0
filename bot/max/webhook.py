"""MAX's webhook: the aiohttp handler for its POSTs, and (un)subscribing.

MAX (dev.max.ru/docs-api «POST /subscriptions»): the url must be HTTPS on port 443; with a
``secret`` (``[a-zA-Z0-9_-]{5,256}``) every POST carries it in ``X-Max-Bot-Api-Secret``. An
update is one bare Update per POST, in order; anything but a 200 within 30 s is retried later
(60 s, then longer), so the handler answers 200 once the update was handled, and a failure
of the bot's handler is still a 200 (it is logged; a retry would fail the same way and hold
up the updates behind it). While a subscription exists long polling does not work.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from bot.max.client import MaxClient
from bot.max.polling import Convert, Feed

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Max-Bot-Api-Secret"


def max_webhook_handler(
    secret: str, convert: Convert, feed: Feed
) -> Callable[[web.Request], Awaitable[web.Response]]:
    if not secret:
        raise ValueError("a MAX webhook needs a secret: without it anyone could post updates")
    expected = secret.encode()

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=401)
        try:
            raw = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400)
        if not isinstance(raw, dict):
            return web.Response(status=400)
        update = convert(raw)
        if update is not None:
            try:
                await feed(update)
            except Exception as exc:
                log.error("MAX update %s failed: %s", update.update_id, type(exc).__name__)
        return web.Response(status=200)

    return handle


async def subscribe(
    client: MaxClient, url: str, secret: str, update_types: Sequence[str] | None = None
) -> None:
    body: dict[str, Any] = {"url": url, "secret": secret}
    if update_types:
        body["update_types"] = list(update_types)
    await client.request("POST", "/subscriptions", json=body)


async def unsubscribe(client: MaxClient, url: str) -> None:
    await client.request("DELETE", "/subscriptions", params={"url": url})
