"""МИАЦ staff: admins and operators, invite links, and the log of every change."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import StaffEvent, StaffInvite, StaffMember, utcnow

INVITE_TTL = timedelta(hours=24)


class StaffRole(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Invite:
    token: str
    role: StaffRole
    expires_at: datetime


def _event(
    session: AsyncSession, actor: int | None, action: str, target: int | None, role: str | None
) -> None:
    session.add(StaffEvent(actor_id=actor, action=action, target_id=target, role=role, at=utcnow()))


async def role_of(session: AsyncSession, user_id: int) -> StaffRole | None:
    role = await session.scalar(select(StaffMember.role).where(StaffMember.telegram_id == user_id))
    return StaffRole(role) if role else None


async def bootstrap_admins(session: AsyncSession, admin_ids: list[int]) -> int:
    """ADMIN_IDS become admins at start (an operator listed there is promoted)."""
    added = 0
    for user_id in admin_ids:
        member = await session.get(StaffMember, user_id)
        if member is None:
            session.add(StaffMember(telegram_id=user_id, role=StaffRole.ADMIN.value))
            _event(session, None, "bootstrap", user_id, StaffRole.ADMIN.value)
            added += 1
        elif member.role != StaffRole.ADMIN.value:
            member.role = StaffRole.ADMIN.value
            _event(session, None, "bootstrap", user_id, StaffRole.ADMIN.value)
    return added


async def add(
    session: AsyncSession,
    actor: int | None,
    user_id: int,
    role: StaffRole,
    name: str | None = None,
    action: str = "added",
) -> bool:
    """Make `user_id` staff with `role`; false when they already had exactly that role."""
    member = await session.get(StaffMember, user_id)
    if member is not None and member.role == role.value:
        return False
    if member is None:
        session.add(
            StaffMember(
                telegram_id=user_id,
                role=role.value,
                display_name=name,
                added_by=actor,
                added_at=utcnow(),
            )
        )
    else:
        member.role = role.value
        member.display_name = name or member.display_name
    _event(session, actor, action, user_id, role.value)
    return True


async def remove(session: AsyncSession, actor: int, user_id: int) -> bool:
    member = await session.get(StaffMember, user_id)
    if member is None:
        return False
    await session.delete(member)
    _event(session, actor, "removed", user_id, member.role)
    return True


async def admin_count(session: AsyncSession) -> int:
    rows = await session.scalars(
        select(StaffMember.telegram_id).where(StaffMember.role == StaffRole.ADMIN.value)
    )
    return len(list(rows))


async def members(session: AsyncSession) -> list[StaffMember]:
    rows = await session.scalars(
        select(StaffMember).order_by(StaffMember.role, StaffMember.added_at)
    )
    return list(rows)


async def admins(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(StaffMember.telegram_id).where(StaffMember.role == StaffRole.ADMIN.value)
    )
    return list(rows)


async def names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(StaffMember.telegram_id, StaffMember.display_name).where(
            StaffMember.telegram_id.in_(user_ids)
        )
    )
    return {uid: name for uid, name in rows if name}


async def remember_name(session: AsyncSession, user_id: int, name: str) -> None:
    """Decisions show who made them: keep the staff member's Telegram name current."""
    await session.execute(
        update(StaffMember)
        .where(StaffMember.telegram_id == user_id, StaffMember.display_name.is_distinct_from(name))
        .values(display_name=name)
    )


async def create_invite(
    session: AsyncSession, actor: int, role: StaffRole, ttl: timedelta = INVITE_TTL
) -> Invite:
    now = utcnow()
    invite = StaffInvite(
        token=secrets.token_urlsafe(18),
        role=role.value,
        created_by=actor,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    _event(session, actor, "invite_created", None, role.value)
    return Invite(invite.token, role, invite.expires_at)


async def use_invite(
    session: AsyncSession, token: str, user_id: int, name: str | None
) -> StaffRole | None:
    """Single use, until it expires: one conditional UPDATE decides between two takers."""
    now = utcnow()
    result = await session.execute(
        update(StaffInvite)
        .where(
            StaffInvite.token == token, StaffInvite.used_by.is_(None), StaffInvite.expires_at > now
        )
        .values(used_by=user_id, used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    invite = (
        await session.execute(
            select(StaffInvite.role, StaffInvite.created_by).where(StaffInvite.token == token)
        )
    ).one()
    role = StaffRole(invite.role)
    current = await role_of(session, user_id)
    if current == StaffRole.ADMIN and role == StaffRole.OPERATOR:
        return current  # an invite never demotes
    await add(session, invite.created_by, user_id, role, name, action="invite_used")
    return role
