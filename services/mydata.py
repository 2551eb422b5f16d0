"""What the bot keeps about one person (152-FZ art. 14): for `/mydata`, the person's own
requests (every field), consents, support ticket, e-mail claims and reminders, and who saw or
changed their requests — as a staff role, never a staff member's name."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import unescape

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    AccessRequest,
    Consent,
    EmailClaim,
    Erasure,
    RelayedMessage,
    ReminderSent,
    RequestEvent,
    StaffEvent,
    StaffMember,
    SupportRating,
    SupportThread,
)
from services import audit

REQUEST_FIELDS = (
    "snils",
    "full_name",
    "email",
    "region",
    "org_full_name",
    "org_short_name",
    "org_manual",
    "position",
    "position_in_matrix",
    "role",
    "role_level",
    "component",
    "status",
    "created_at",
    "submitted_at",
    "updated_at",
    "decided_at",
    "decision_reason",
    "return_fields",
    "export_batch_id",
    "org_confirmation",
    "org_reason",
    "org_answered_at",
)
YOU = "you"
CHAT = "chat"  # a card in the admin group: seen by its members, no one person
SERVER = "server"  # `python -m bot export` on the server: an admin with access to it
SYSTEM = "system"


@dataclass
class PersonalData:
    requests: list[tuple[int, list[tuple[str, object]]]] = field(default_factory=list)
    consents: list[tuple[str, bool, datetime, datetime | None]] = field(default_factory=list)
    # (request, when, who: YOU | CHAT | SYSTEM | a staff role, action, via)
    events: list[tuple[int, datetime, str, str, str | None]] = field(default_factory=list)
    # (status, opened, relayed messages, ratings, the first question kept with the thread)
    ticket: tuple[str, datetime, int, int, str | None] | None = None
    claims: list[tuple[str, datetime]] = field(default_factory=list)
    reminders: int = 0
    # Erasures of this person's data already done (what is left of them: numbers and times).
    erasures: list[tuple[datetime, list[int], str]] = field(default_factory=list)


async def _roles(session: AsyncSession, actor_ids: set[int]) -> dict[int, str]:
    """Each staff member's role: now, or the last one they had (a member since removed)."""
    if not actor_ids:
        return {}
    roles = {
        m.account_id: m.role
        for m in await session.scalars(
            select(StaffMember).where(StaffMember.account_id.in_(actor_ids))
        )
    }
    missing = actor_ids - set(roles)
    if missing:
        past = await session.execute(
            select(StaffEvent.target_id, StaffEvent.role)
            .where(StaffEvent.target_id.in_(missing), StaffEvent.role.is_not(None))
            .order_by(StaffEvent.id)
        )
        for target, role in past.all():
            if target is not None and role:
                roles[int(target)] = str(role)
    return roles


async def collect(session: AsyncSession, account_id: int) -> PersonalData:
    data = PersonalData()
    requests = list(
        await session.scalars(
            select(AccessRequest)
            .where(AccessRequest.account_id == account_id, AccessRequest.erased_at.is_(None))
            .order_by(AccessRequest.id)
        )
    )
    data.requests = [(r.id, [(f, getattr(r, f)) for f in REQUEST_FIELDS]) for r in requests]
    data.consents = [
        (c.version, c.accepted, c.at, c.withdrawn_at)
        for c in await session.scalars(
            select(Consent).where(Consent.account_id == account_id).order_by(Consent.id)
        )
    ]
    ids = [r.id for r in requests]
    if ids:
        events = list(
            await session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id.in_(ids))
                .order_by(RequestEvent.id)
            )
        )
        exports = await audit.exports_of(session, {r.id: r.created_at for r in requests})
        actors = {e.actor_id for e in events} | {x.actor_id for x in exports}
        roles = await _roles(session, {a for a in actors if a and a != account_id})
        seen: list[tuple[datetime, int, tuple[int, datetime, str, str, str | None]]] = []
        for e in events:
            details = e.details or {}
            if e.actor_id == account_id:
                who = YOU
            elif e.actor_id is None and details.get("cli"):
                who = SERVER
            elif e.actor_id is None:
                who = CHAT if e.action == "viewed" else SYSTEM
            else:
                who = roles.get(e.actor_id, "")
            via = details.get("via") if e.action == "viewed" else None
            seen.append((e.at, len(seen), (e.request_id, e.at, who, e.action, via)))
        # Each export that carried a request (its audit row): who made it, as a role.
        for x in exports:
            who = SERVER if x.cli else roles.get(x.actor_id, "") if x.actor_id else CHAT
            action, via = ("viewed", audit.VIA_EXPORT) if x.new_batch else ("reexported", None)
            seen.append((x.at, len(seen), (x.request_id, x.at, who, action, via)))
        data.events = [event for _, _, event in sorted(seen)]
        # Only addresses the person typed themselves: a SNILS can be typed by anyone, so a
        # claim found by SNILS alone could be another person's address.
        snils = {r.snils for r in requests}
        emails = {r.email.lower() for r in requests}
        data.claims = [
            (c.email, c.claimed_at)
            for c in await session.scalars(
                select(EmailClaim)
                .where(EmailClaim.snils.in_(snils), EmailClaim.email.in_(emails))
                .order_by(EmailClaim.email)
            )
        ]
    thread = await session.get(SupportThread, account_id)
    if thread is not None:
        relayed = await session.scalar(
            select(func.count()).where(RelayedMessage.user_id == account_id)
        )
        ratings = await session.scalar(
            select(func.count()).where(SupportRating.user_id == account_id)
        )
        # The first question, when it went inside the thread's header, is kept with it (as
        # HTML: the header's edits carry it); shown here as the person wrote it.
        first = unescape(thread.header_tail) if thread.header_tail else None
        data.ticket = (
            thread.status,
            thread.opened_at,
            int(relayed or 0),
            int(ratings or 0),
            first,
        )
    data.erasures = [
        (
            e.at,
            [int(i) for i in (e.details or {}).get("requests") or []],
            str((e.details or {}).get("rule") or "withdrawal"),
        )
        for e in await session.scalars(
            select(Erasure).where(Erasure.account_id == account_id).order_by(Erasure.id)
        )
    ]
    data.reminders = int(
        await session.scalar(
            select(func.count()).where(
                ReminderSent.chat_id == account_id, ReminderSent.audience == "applicant"
            )
        )
        or 0
    )
    return data
