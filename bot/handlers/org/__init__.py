"""The organisations' wing (order No 922, items 2.1, 2.3): a responsible person, in their
private chat — /org with its filters, their answers on their staff's requests, the form for
the head's signature.

Scope and rights are declared here once: a private chat, a responsible person of an
organisation (the rights check hands the organisation to every handler).
"""

from __future__ import annotations

from aiogram import Router

from bot.access import PrivateChat, responsible_only
from bot.handlers.org.org import org_router


def org_wing() -> Router:
    wing = Router(name="org")
    for observer in (wing.message, wing.callback_query):
        observer.filter(PrivateChat())
        observer.middleware(responsible_only())
    wing.include_router(org_router())
    return wing
