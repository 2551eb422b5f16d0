"""The operators' wing (order item 4.4): МИАЦ operators in the support chat — answers to
applicants, notes for colleagues, closing, the FAQ, open tickets.

Scope and rights are declared here once: the support chat, operators and admins (others'
chatter there is not for the bot; their commands and presses get «Нет доступа»).
"""

from __future__ import annotations

from aiogram import Router

from bot.access import SupportChat, operators_only
from bot.handlers.support_chat.operators import operators_router


def support_chat_wing() -> Router:
    wing = Router(name="support_chat")
    for observer in (wing.message, wing.callback_query):
        observer.filter(SupportChat())
        observer.middleware(operators_only())
    wing.include_router(operators_router())
    return wing
