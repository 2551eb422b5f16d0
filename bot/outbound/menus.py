"""The command menu of one person's private chat, by their role as it is now: a viewer sees
the figures, an organisation's responsible person /org, anyone else (removed) the
applicant's default menu. Set at once when it answers the person's own update (an invite
redeemed), else through the outbox (an application approved, a removal) — Kind.MENU."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import DeleteMyCommands, SetMyCommands
from aiogram.types import BotCommand, BotCommandScopeChat
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from db.outbox import Envelope
from services import outbox, staff
from services.accounts import Messenger, messenger_of
from services.outbox import Kind, Outcome
from services.staff import MIAC_ROLES, StaffRole

if TYPE_CHECKING:
    from bot.outbound.context import Context

log = logging.getLogger(__name__)


def viewer_commands() -> list[BotCommand]:
    return [
        *(BotCommand(command=n, description=t) for n, t in texts.COMMANDS.items()),
        BotCommand(command="stats", description=texts.ADMIN_COMMANDS["stats"]),
        BotCommand(command="coverage", description=texts.ADMIN_COMMANDS["coverage"]),
        BotCommand(command="report", description=texts.COMMAND_REPORT),
    ]


def responsible_commands() -> list[BotCommand]:
    commands = {**texts.COMMANDS, **texts.ORG_COMMANDS}
    return [BotCommand(command=n, description=t) for n, t in commands.items()]


def method_for(chat_id: int, role: StaffRole | None) -> SetMyCommands | DeleteMyCommands | None:
    """What sets the person's menu; None for МИАЦ (their menu is set at start-up), and None
    on MAX: MAX has one command list per bot, no menu of one chat (bot/max/session.py
    refuses such a scope), so a viewer or a responsible person joining there types the
    commands their welcome names — the call would only ever fail."""
    if messenger_of(chat_id) is Messenger.MAX:
        return None
    scope = BotCommandScopeChat(chat_id=chat_id)
    if role is StaffRole.VIEWER:
        return SetMyCommands(commands=viewer_commands(), scope=scope)
    if role is StaffRole.RESPONSIBLE:
        return SetMyCommands(commands=responsible_commands(), scope=scope)
    if role in MIAC_ROLES:
        return None
    return DeleteMyCommands(scope=scope)  # the applicant's default menu again


async def set_now(bot: Bot, chat_id: int, role: StaffRole | None) -> None:
    """In the answer to the person's own update (best effort: the menu is a convenience)."""
    method = method_for(chat_id, role)
    if method is None:
        return
    try:
        await bot(method)
    except TelegramAPIError as exc:
        log.info("commands not set: %s", type(exc).__name__)


def enqueue(session: AsyncSession, chat_id: int) -> None:
    """The person's menu follows their role as it is when the row goes out."""
    outbox.enqueue(session, chat_id, Kind.MENU)


async def deliver(ctx: Context, row: Envelope) -> Outcome | None:
    async with ctx.db.read() as session:
        role = await staff.role_of(session, row.chat_id)
    method = method_for(row.chat_id, role)
    if method is None:
        return None
    try:
        await ctx.call(method)
    except TelegramBadRequest:
        pass  # a person who has never started the bot: there is no chat to set
    return None
