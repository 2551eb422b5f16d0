"""The viewers' wing (chief specialists, the health department; order items 3.2, 5): the
campaign's figures — /stats, /coverage, /report — for viewers and admins alike, in the admin
chat or a private chat. Nothing here decides or shows a person's data.

Scope and rights are declared here once: admins and viewers only.
"""

from __future__ import annotations

from aiogram import Router

from bot.access import AdminScope, watchers_only
from bot.handlers.viewers.report import report_router


def viewers_wing() -> Router:
    wing = Router(name="viewers")
    for observer in (wing.message, wing.callback_query):
        observer.filter(AdminScope())
        observer.middleware(watchers_only())
    wing.include_router(report_router())
    return wing
