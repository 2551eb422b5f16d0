"""The applicants' wing: anyone in a private chat — the main menu and commands, the request
form, questions to МИАЦ, withdrawal of consent, «мои данные», asking to become an
organisation's responsible person, joining by an invite.

Scope is declared here once: a private chat. Anyone may be an applicant (staff too).
"""

from __future__ import annotations

from aiogram import Router

from bot.access import PrivateChat
from bot.handlers.applicant.form import form_router
from bot.handlers.applicant.mydata import mydata_router
from bot.handlers.applicant.responsible import responsible_router
from bot.handlers.applicant.start import fallback_router, start_router
from bot.handlers.applicant.support import support_router
from bot.handlers.applicant.withdrawal import withdrawal_router


def applicant_wing() -> Router:
    wing = Router(name="applicant")
    for observer in (wing.message, wing.callback_query, wing.edited_message):
        observer.filter(PrivateChat())
    wing.include_routers(
        responsible_router(),
        # Commands before the open dialogs: /start, /cancel, /my work at any step.
        start_router(),
        withdrawal_router(),
        mydata_router(),
        # A question being written takes the next message, before the form would.
        support_router(),
        form_router(),
        # Whatever nothing else took: more words for an open consultation, else the menu.
        fallback_router(),
    )
    return wing
