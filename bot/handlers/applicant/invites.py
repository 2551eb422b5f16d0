"""Joining МИАЦ's staff, or becoming an organisation's responsible person, by the one-time
invite link an admin made (`/start inv_…`, bot/handlers/admin/staff.py)."""

from __future__ import annotations

from aiogram.types import Message

__all__ = ["INVITE_PREFIX", "accept_invite"]

from bot import texts
from bot.outbound import menus
from bot.outbound.org_desk import org_name
from db.database import Database
from db.models import Organization
from services import staff
from services.staff import INVITE_PREFIX, StaffRole


async def accept_invite(message: Message, db: Database, token: str) -> None:
    user = message.from_user
    if user is None:
        return
    async with db.write() as session:
        before = await staff.role_of(session, user.id)
        role = await staff.use_invite(session, token, user.id, user.full_name)
        organization_id = await staff.organization_of(session, user.id)
        organization = await session.get(Organization, organization_id) if organization_id else None
    if role is None:
        await message.answer(texts.INVITE_INVALID)
    elif role == before and role in staff.MIAC_ROLES:
        await message.answer(texts.invite_keeps_miac_role(role.value))
    elif role is StaffRole.RESPONSIBLE:
        await message.answer(texts.welcome_responsible(org_name(organization)))
        if message.bot is not None:
            await menus.set_now(message.bot, message.chat.id, role)
    elif role is StaffRole.VIEWER:
        await message.answer(texts.WELCOME_VIEWER)
        if message.bot is not None:
            await menus.set_now(message.bot, message.chat.id, role)
    else:
        await message.answer(texts.welcome_staff(role.value))
