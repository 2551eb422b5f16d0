"""MAX (max.ru), the second messenger, behind aiogram's session.

The bot's dispatcher, handlers, texts and form run on MAX unchanged: MaxSession (a
BaseSession) carries the Bot API calls they make over MAX's API, UpdateConverter turns MAX's
updates into aiogram's, and MaxPolling / the webhook handler feed them to the same
dispatcher. A transport of our own, because the alternatives cost more: aiogram-max does the
same swap but needs Python ≥ 3.12 (the bot runs on 3.11) and keeps MAX's message ids in
memory only (an edit after a restart would fail); maxapi and aiomax are frameworks of their
own, which would mean a second copy of the conversation logic.

Modules, one job each: client (HTTP, errors), tls (the CA MAX's host needs), render and
keyboard (HTML, splitting, buttons), mids (message ids, kept), messages (MAX → aiogram
objects), errors (→ aiogram's exceptions), uploads, session, updates, polling, webhook.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode

from bot.max.client import MaxClient
from bot.max.messages import MAX_BOT_ID
from bot.max.mids import MidStore
from bot.max.session import MaxSession
from bot.session import install_reply_retries

__all__ = ["MAX_BOT_ID", "make_max_bot"]


def make_max_bot(client: MaxClient, mids: MidStore) -> Bot:
    """An aiogram Bot whose calls go to MAX. aiogram insists on a token shaped like
    Telegram's (``<digits>:<text>``) and derives bot.id from it: a synthetic one gives
    MAX_BOT_ID; the real token lives only in ``client``."""
    session = MaxSession(client, mids)
    # A direct reply meeting a 5xx, a dropped connection or a short 429 is tried again within
    # the update, as on Telegram (bot/session.py).
    install_reply_retries(session)
    return Bot(
        f"{MAX_BOT_ID}:max",
        session=session,
        # As make_bot for Telegram (bot/dispatcher.py): the texts are HTML.
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )
