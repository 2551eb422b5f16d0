"""The bot's handlers, by audience: one wing per audience, each a parent router that declares
its scope (which chats) and rights (which people) once for all its modules.

The order of the wings is the order in which an update looks for its handler, and it matters:

1. `anonymous` — a message posted as the group in a staff chat: nobody can be checked, so it
   must be caught before any wing tries to;
2. `admin` — admins in the admin chat or in private: their typed answers to the bot's prompts
   (a reason, a broadcast's text) come before everything a private chat also means for an
   applicant;
3. `viewers` — the figures, for admins and viewers (after the admins' own commands);
4. `support_chat` — operators in the support chat;
5. `org` — a responsible person in private: their /org and their answer to a prompt, before
   the applicant's wing would take a reason typed as an ordinary message;
6. `applicant` — anyone in private: commands, the form, questions, the menu for the rest;
7. `last` — a button nothing above took (a forged or outdated one, in any chat): answered.

A wing whose rights check fails answers «Нет доступа» and stops there, so an admin command
never falls through to the applicant's menu.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer

from bot import texts
from bot.handlers.admin import admin_wing
from bot.handlers.anonymous import anonymous_router
from bot.handlers.applicant import applicant_wing
from bot.handlers.org import org_wing
from bot.handlers.support_chat import support_chat_wing
from bot.handlers.viewers import viewers_wing


async def on_unknown_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = texts.STALE_BUTTON


def last_router() -> Router:
    router = Router(name="last")
    router.callback_query.register(on_unknown_button)
    return router


def wings() -> list[Router]:
    return [
        anonymous_router(),
        admin_wing(),
        viewers_wing(),
        support_chat_wing(),
        org_wing(),
        applicant_wing(),
        last_router(),
    ]
