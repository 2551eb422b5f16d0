"""Staff: МИАЦ admins and operators, organisations' responsible persons, viewers; invite
links, applications to become a responsible person, and the log of every change.

A responsible person (order No 922, item 2.1) is bound to one organisation of the directory
(`StaffMember.organization_id`); an organisation may have several. Every change is a
staff_events row, with the organisation when there is one.

ADMIN_IDS are the owners: admins at every start, never removed or demoted in chat; an owner
is removed by editing ADMIN_IDS and restarting (`bootstrap_admins`). Everyone else is added and
removed in chat. An invite works only while its creator is an admin, and removing (or demoting)
an admin revokes the invites they have not seen used.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Organization,
    ResponsibleApplication,
    StaffEvent,
    StaffInvite,
    StaffMember,
    utcnow,
)

INVITE_TTL = timedelta(hours=24)
# The start parameter of an invite's deep link: `/start inv_<token>`.
INVITE_PREFIX = "inv_"


class StaffRole(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    RESPONSIBLE = "responsible"  # an organisation's responsible person (order No 922, item 2.1)
    VIEWER = "viewer"  # chief specialists and the department: see, never decide (items 3.2, 5)


class Removal(StrEnum):
    REMOVED = "removed"
    NOT_FOUND = "not_found"
    OWNER = "owner"  # in ADMIN_IDS: removed only by editing ADMIN_IDS and restarting
    LAST_ADMIN = "last_admin"


class Change(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    OWNER = "owner"  # an owner is never demoted in chat
    LAST_ADMIN = "last_admin"


# Roles of МИАЦ itself: an invite to an organisation's or an overseer's role never turns one
# of them into that (they would lose their work in МИАЦ by opening a link).
MIAC_ROLES = frozenset({StaffRole.ADMIN, StaffRole.OPERATOR})


@dataclass(frozen=True)
class Invite:
    token: str
    role: StaffRole
    expires_at: datetime
    organization_id: int | None = None


def _event(
    session: AsyncSession,
    actor: int | None,
    action: str,
    target: int | None,
    role: str | None,
    organization_id: int | None = None,
) -> None:
    session.add(
        StaffEvent(
            actor_id=actor,
            action=action,
            target_id=target,
            role=role,
            organization_id=organization_id,
            at=utcnow(),
        )
    )


async def role_of(session: AsyncSession, user_id: int) -> StaffRole | None:
    role = await session.scalar(select(StaffMember.role).where(StaffMember.account_id == user_id))
    return StaffRole(role) if role else None


async def standing_of(session: AsyncSession, user_id: int) -> tuple[StaffRole, int | None] | None:
    """A staff member's role and, for a responsible person, their organisation (one query)."""
    row = (
        await session.execute(
            select(StaffMember.role, StaffMember.organization_id).where(
                StaffMember.account_id == user_id
            )
        )
    ).first()
    return (StaffRole(row.role), row.organization_id) if row else None


async def bootstrap_admins(session: AsyncSession, admin_ids: list[int]) -> int:
    """ADMIN_IDS become the owners at start (an operator listed there is promoted). An owner
    no longer listed is no longer staff: that is how an owner is removed (edit ADMIN_IDS,
    restart). Returns how many were added."""
    added = 0
    owners = set(admin_ids)
    for user_id in dict.fromkeys(admin_ids):
        member = await session.get(StaffMember, user_id)
        if member is None:
            session.add(StaffMember(account_id=user_id, role=StaffRole.ADMIN.value, owner=True))
            _event(session, None, "bootstrap", user_id, StaffRole.ADMIN.value)
            added += 1
        elif member.role != StaffRole.ADMIN.value or not member.owner:
            member.role, member.owner = StaffRole.ADMIN.value, True
            _event(session, None, "bootstrap", user_id, StaffRole.ADMIN.value)
    former = await session.scalars(
        select(StaffMember).where(
            StaffMember.owner.is_(True), StaffMember.account_id.not_in(owners or {0})
        )
    )
    for member in list(former):
        await session.delete(member)
        _event(session, None, "owner_removed", member.account_id, member.role)
        await revoke_invites(session, None, member.account_id)
    return added


async def add(
    session: AsyncSession,
    actor: int | None,
    user_id: int,
    role: StaffRole,
    name: str | None = None,
    action: str = "added",
    organization_id: int | None = None,
) -> Change:
    """Make `user_id` staff with `role` (a responsible person: of `organization_id`). An owner
    is never demoted, nor the last admin; an admin made anything else loses the invites they
    created."""
    if role is not StaffRole.RESPONSIBLE:
        organization_id = None
    elif organization_id is None:
        raise ValueError("a responsible person needs an organisation")
    member = await session.get(StaffMember, user_id)
    if (
        member is not None
        and member.role == role.value
        and member.organization_id == organization_id
    ):
        return Change.UNCHANGED
    if member is None:
        session.add(
            StaffMember(
                account_id=user_id,
                role=role.value,
                organization_id=organization_id,
                display_name=name,
                added_by=actor,
                added_at=utcnow(),
            )
        )
    else:
        demoted = member.role == StaffRole.ADMIN.value
        if demoted and member.owner:
            return Change.OWNER
        if demoted and await admin_count(session) <= 1:
            return Change.LAST_ADMIN
        member.role = role.value
        member.organization_id = organization_id
        member.display_name = name or member.display_name
        if demoted:
            await revoke_invites(session, actor, user_id)
    _event(session, actor, action, user_id, role.value, organization_id)
    return Change.CHANGED


async def remove(session: AsyncSession, actor: int, user_id: int) -> Removal:
    """Remove a staff member in chat, with the invites they created and nobody used yet."""
    member = await session.get(StaffMember, user_id)
    if member is None:
        return Removal.NOT_FOUND
    if member.owner:
        return Removal.OWNER
    if member.role == StaffRole.ADMIN.value and await admin_count(session) <= 1:
        return Removal.LAST_ADMIN
    await session.delete(member)
    _event(session, actor, "removed", user_id, member.role, member.organization_id)
    await revoke_invites(session, actor, user_id)
    return Removal.REMOVED


async def revoke_invites(session: AsyncSession, actor: int | None, creator: int) -> int:
    """Unused invites of `creator` stop working (an event when there were any)."""
    now = utcnow()
    result = await session.execute(
        update(StaffInvite)
        .where(
            StaffInvite.created_by == creator,
            StaffInvite.used_by.is_(None),
            StaffInvite.revoked_at.is_(None),
            StaffInvite.expires_at > now,
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        _event(session, actor, "invites_revoked", creator, None)
    return count


async def revoke_invite(session: AsyncSession, actor: int, token: str) -> None:
    """One invite that never reached its creator (they have no private chat with the bot)."""
    await session.execute(
        update(StaffInvite)
        .where(StaffInvite.token == token, StaffInvite.used_by.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    _event(session, actor, "invite_revoked", actor, None)


async def admin_count(session: AsyncSession) -> int:
    rows = await session.scalars(
        select(StaffMember.account_id).where(StaffMember.role == StaffRole.ADMIN.value)
    )
    return len(list(rows))


async def members(session: AsyncSession) -> list[StaffMember]:
    rows = await session.scalars(
        select(StaffMember).order_by(StaffMember.role, StaffMember.added_at)
    )
    return list(rows)


async def admins(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(StaffMember.account_id).where(StaffMember.role == StaffRole.ADMIN.value)
    )
    return list(rows)


async def names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(StaffMember.account_id, StaffMember.display_name).where(
            StaffMember.account_id.in_(user_ids)
        )
    )
    return {uid: name for uid, name in rows if name}


async def remember_name(session: AsyncSession, user_id: int, name: str) -> None:
    """Decisions show who made them: keep the staff member's Telegram name current."""
    await session.execute(
        update(StaffMember)
        .where(StaffMember.account_id == user_id, StaffMember.display_name.is_distinct_from(name))
        .values(display_name=name)
    )


async def create_invite(
    session: AsyncSession,
    actor: int,
    role: StaffRole,
    ttl: timedelta = INVITE_TTL,
    organization_id: int | None = None,
) -> Invite:
    """A one-time link; a responsible person's is bound to `organization_id`."""
    if (role is StaffRole.RESPONSIBLE) != (organization_id is not None):
        raise ValueError("an organisation goes with a responsible person's invite, and only")
    now = utcnow()
    invite = StaffInvite(
        token=secrets.token_urlsafe(18),
        role=role.value,
        organization_id=organization_id,
        created_by=actor,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    _event(session, actor, "invite_created", None, role.value, organization_id)
    return Invite(invite.token, role, invite.expires_at, organization_id)


async def use_invite(
    session: AsyncSession, token: str, user_id: int, name: str | None
) -> StaffRole | None:
    """Single use, until it expires or is revoked, and only while its creator is an admin:
    one conditional UPDATE decides between two takers and against the creator's removal."""
    now = utcnow()
    admins_now = select(StaffMember.account_id).where(StaffMember.role == StaffRole.ADMIN.value)
    valid = (
        StaffInvite.token == token,
        StaffInvite.used_by.is_(None),
        StaffInvite.revoked_at.is_(None),
        StaffInvite.expires_at > now,
        StaffInvite.created_by.in_(admins_now.scalar_subquery()),
    )
    invite = (
        await session.execute(
            select(StaffInvite.role, StaffInvite.created_by, StaffInvite.organization_id).where(
                *valid
            )
        )
    ).one_or_none()
    if invite is None:
        return None
    role = StaffRole(invite.role)
    current = await role_of(session, user_id)
    # An invite that would change nothing is left for the one it was meant for (an admin
    # checking the link they just got): it never demotes, never takes a МИАЦ member out of
    # МИАЦ, and the same МИАЦ role is no change.
    if current == StaffRole.ADMIN and role == StaffRole.OPERATOR:
        return current
    if current in MIAC_ROLES and (role not in MIAC_ROLES or role == current):
        return current
    result = await session.execute(
        update(StaffInvite)
        .where(*valid)
        .values(used_by=user_id, used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None  # another taker was first
    await add(
        session,
        invite.created_by,
        user_id,
        role,
        name,
        action="invite_used",
        organization_id=invite.organization_id,
    )
    return role


async def is_owner(session: AsyncSession, user_id: int) -> bool:
    return bool(
        await session.scalar(select(StaffMember.owner).where(StaffMember.account_id == user_id))
    )


# --- organisations' responsible persons -------------------------------------------------------


async def organization_of(session: AsyncSession, user_id: int) -> int | None:
    """The organisation a responsible person answers for (None for anyone else)."""
    return await session.scalar(
        select(StaffMember.organization_id).where(
            StaffMember.account_id == user_id,
            StaffMember.role == StaffRole.RESPONSIBLE.value,
        )
    )


async def responsible_of(session: AsyncSession, organization_id: int) -> list[int]:
    rows = await session.scalars(
        select(StaffMember.account_id)
        .where(
            StaffMember.role == StaffRole.RESPONSIBLE.value,
            StaffMember.organization_id == organization_id,
        )
        .order_by(StaffMember.account_id)
    )
    return list(rows)


async def organization_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Organization.id, Organization.name_short, Organization.name_full).where(
            Organization.id.in_(ids)
        )
    )
    return {oid: short or full for oid, short, full in rows}


class Application(StrEnum):
    FILED = "filed"
    ALREADY_PENDING = "already_pending"
    ALREADY_STAFF = "already_staff"


async def apply_responsible(
    session: AsyncSession,
    user_id: int,
    name: str | None,
    organization_id: int,
    appointment: str | None = None,
    appointment_file: tuple[str, str] | None = None,
) -> tuple[Application, int | None]:
    """A person asks to become the responsible person of an organisation. One open
    application per person (a partial unique index decides between two at once); staff
    already are not asked twice. Returns the outcome and the application's id."""
    if await role_of(session, user_id) is not None:
        return Application.ALREADY_STAFF, None
    try:
        async with session.begin_nested():
            application = ResponsibleApplication(
                account_id=user_id,
                display_name=name,
                organization_id=organization_id,
                status="pending",
                created_at=utcnow(),
                # The head's appointment (item 2.1), and its scan: (kind, Telegram file id).
                appointment=appointment,
                appointment_file_kind=appointment_file[0] if appointment_file else None,
                appointment_file_id=appointment_file[1] if appointment_file else None,
            )
            session.add(application)
            await session.flush()
    except IntegrityError:
        return Application.ALREADY_PENDING, None
    _event(
        session, user_id, "application_filed", user_id, StaffRole.RESPONSIBLE.value, organization_id
    )
    return Application.FILED, application.id


async def decide_application(
    session: AsyncSession, application_id: int, actor: int, approve: bool
) -> ResponsibleApplication | None:
    """An admin's answer; None when another admin answered first (one conditional UPDATE).
    Approved: the person becomes the organisation's responsible person."""
    result = await session.execute(
        update(ResponsibleApplication)
        .where(
            ResponsibleApplication.id == application_id,
            ResponsibleApplication.status == "pending",
        )
        .values(status="approved" if approve else "declined", decided_by=actor, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    application = await session.get(ResponsibleApplication, application_id)
    if application is None:  # decided, then erased with its person in the same instant
        return None
    await session.refresh(application)
    if not approve:
        _event(
            session,
            actor,
            "application_declined",
            application.account_id,
            StaffRole.RESPONSIBLE.value,
            application.organization_id,
        )
        return application
    if await role_of(session, application.account_id) in MIAC_ROLES:
        return application  # became МИАЦ staff meanwhile: stays so
    await add(
        session,
        actor,
        application.account_id,
        StaffRole.RESPONSIBLE,
        application.display_name,
        action="application_approved",
        organization_id=application.organization_id,
    )
    return application
