"""Webhook mode over HTTP: aiogram's handler behind WEBHOOK_LISTEN, the secret checked on every
request, setWebhook with the updates the bot handles, /healthz beside it; and /healthz in
polling mode on HEALTH_LISTEN."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.e2e.standin import BotApiStandin
from tests.e2e.support import BotProcess, Person, free_port, until

USER = 5550011


async def post(url: str, update: dict[str, object], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=json.dumps(update), headers=headers) as response,
    ):
        return response.status


async def test_webhook_mode_checks_the_secret_and_answers_health(
    standin: BotApiStandin, bot_env: dict[str, str]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    bot_env.update(
        WEBHOOK_URL=url, WEBHOOK_LISTEN=f"127.0.0.1:{port}", WEBHOOK_SECRET="right-secret"
    )
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        assert standin.webhook == {
            "url": url,
            "secret_token": "right-secret",
            "max_connections": 40,
        }
        assert standin.allowed_updates == ["callback_query", "edited_message", "message"]
        me = Person(standin, USER)
        await me.says("/start", "ВИМИС ОНКО")  # pushed by the stand-in, with the secret

        forged = {
            "update_id": 999_001,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": USER + 1, "type": "private", "first_name": "X"},
                "from": {"id": USER + 1, "is_bot": False, "first_name": "X"},
                "text": "/start",
            },
        }
        assert await post(url, forged, None) == 401
        assert await post(url, forged, "wrong-secret") == 401
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                health = await response.json()
        assert health["database"] is True and health["healthy"] is True
        await asyncio.sleep(1)
        assert [r for r in standin.sent if r.chat_id == USER + 1] == []  # refused: not handled
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    assert "bot started (webhook" in output
    assert standin.errors == [], [e.description for e in standin.errors]


async def test_polling_mode_serves_healthz_on_health_listen(
    standin: BotApiStandin, bot_env: dict[str, str]
) -> None:
    port = free_port()
    bot_env.update(HEALTH_LISTEN=f"127.0.0.1:{port}")
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["pending"] >= 0
        assert any(c.method == "deleteWebhook" for c in standin.calls)  # polling needs none
    finally:
        code, output = await bot.stop()
    assert code == 0, output


async def test_an_update_in_hand_of_a_killed_webhook_worker_is_handled_after_the_restart(
    standin: BotApiStandin, bot_env: dict[str, str]
) -> None:
    """Telegram sends an update again until the webhook answers it 2xx. A worker that answered
    before handling lost, when it died, whatever it held: a step typed on a deadline day gone
    with no reply. The answer waits for the handling, so a crash leaves the update with
    Telegram, which sends it to the worker that is up."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    bot_env.update(WEBHOOK_URL=url, WEBHOOK_LISTEN=f"127.0.0.1:{port}")
    bot = BotProcess(bot_env)
    await bot.start(standin)
    try:
        me = Person(standin, USER)
        await me.says("/start", "ВИМИС ОНКО")
        # The reply to the next message hangs in the Bot API: the worker holds the update.
        standin.timeout_hold = 30
        standin.fail("sendMessage", USER, "timeout")
        mark = len(standin.sent)
        standin.push_message(USER, "/start", first_name="Мария")
        await until(lambda: ("sendMessage", USER, "timeout") in standin.injected, 30)
        bot.kill()
        assert bot.proc is not None
        await bot.proc.wait()
        await bot.start(standin)
        await me.expect(mark, "ВИМИС ОНКО")  # the same update, handled by the new process
    finally:
        code, output = await bot.stop()
    assert code == 0, output
