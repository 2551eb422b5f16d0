"""The admins' wing: МИАЦ admins in the admin chat or in their private chats — request cards
and decisions, lists, staff, export and «доступ предоставлен», broadcasts, the guide's documents
(/docs), retention, health.

Scope and rights are declared here once, for every module of the wing: the admin chat or a
private chat, and only admins (checked for every command, typed answer and button press).
"""

from __future__ import annotations

from aiogram import Router

from bot.access import AdminScope, admins_only
from bot.handlers.admin.broadcast import broadcast_router
from bot.handlers.admin.decisions import decisions_router
from bot.handlers.admin.docs import docs_router
from bot.handlers.admin.health import health_router
from bot.handlers.admin.lists import lists_router
from bot.handlers.admin.oversight import oversight_router
from bot.handlers.admin.retention import retention_router
from bot.handlers.admin.staff import staff_router


def admin_wing() -> Router:
    wing = Router(name="admin")
    for observer in (wing.message, wing.callback_query):
        observer.filter(AdminScope())
        observer.middleware(admins_only())
    wing.include_routers(
        # The typed answers to the wing's prompts first: an admin's reason in a private chat
        # is their next message, whatever it says.
        broadcast_router(),
        docs_router(),
        decisions_router(),
        lists_router(),
        staff_router(),
        oversight_router(),
        retention_router(),
        health_router(),
    )
    return wing
