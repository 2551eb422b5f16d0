"""Queries. Repositories never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import search_index
from db.models import (
    CLOSED_STATUSES,
    AccessRequest,
    Consent,
    EmailClaim,
    Organization,
    RequestEvent,
    utcnow,
)

# What a line of /queue and /find shows: four columns, not the whole request.
LISTED = (
    AccessRequest.id,
    AccessRequest.submitted_at,
    AccessRequest.org_short_name,
    AccessRequest.org_full_name,
)


class Listed(Protocol):
    """A request as a line of a list (a row of `LISTED`)."""

    @property
    def id(self) -> int: ...
    @property
    def submitted_at(self) -> datetime | None: ...
    @property
    def org_short_name(self) -> str: ...
    @property
    def org_full_name(self) -> str: ...


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _matching(self, region: str, words: Sequence[str]) -> Any:
        conditions = [Organization.region == region, Organization.deleted.is_(False)]
        conditions += [Organization.search_key.contains(w, autoescape=True) for w in words]
        return and_(*conditions)

    async def search(
        self, region: str, words: Sequence[str], *, limit: int, offset: int = 0
    ) -> tuple[list[Organization], int]:
        where = self._matching(region, words)
        total = await self.session.scalar(select(func.count()).where(where))
        rows = await self.session.scalars(
            select(Organization)
            .where(where)
            .order_by(Organization.name_short, Organization.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total or 0)

    async def get(self, org_id: int) -> Organization | None:
        return await self.session.get(Organization, org_id)

    async def by_oids(self, oids: Iterable[str]) -> dict[str, Organization]:
        rows = await self.session.scalars(select(Organization).where(Organization.oid.in_(oids)))
        return {row.oid: row for row in rows}

    def add(self, organization: Organization) -> None:
        self.session.add(organization)


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, account_id: int, version: str, accepted: bool, at: datetime | None = None
    ) -> Consent:
        consent = Consent(
            account_id=account_id, version=version, accepted=accepted, at=at or utcnow()
        )
        self.session.add(consent)
        await self.session.flush()
        return consent


class EmailClaimRepository:
    """Which person (SNILS) an address belongs to, taken when a request with it is approved.
    Mailboxes are compared without case: Ivanova@ and ivanova@ are one person's address."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owner(self, email: str) -> str | None:
        claim = await self.session.get(EmailClaim, email.lower())
        return claim.snils if claim else None

    async def take(self, email: str, snils: str) -> None:
        """Give the address to `snils` unconditionally (the caller checked it is free)."""
        claim = await self.session.get(EmailClaim, email.lower())
        if claim is None:
            self.session.add(EmailClaim(email=email.lower(), snils=snils, claimed_at=utcnow()))
        elif claim.snils != snils:
            claim.snils, claim.claimed_at = snils, utcnow()

    async def claim(self, email: str, snils: str, previous: str | None) -> bool:
        """Take the address for `snils` if its owner is still `previous` (None: nobody). One
        conditional write, so of two people approved at once only one gets it: the other's
        INSERT hits the primary key, or its UPDATE finds the owner changed."""
        address = email.lower()
        if previous == snils:
            return True
        if previous is None:
            try:
                async with self.session.begin_nested():
                    self.session.add(EmailClaim(email=address, snils=snils, claimed_at=utcnow()))
                    await self.session.flush()
            except IntegrityError:
                return False
            return True
        result = await self.session.execute(
            update(EmailClaim)
            .where(EmailClaim.email == address, EmailClaim.snils == previous)
            .values(snils=snils, claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


class RequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, request_id: int) -> AccessRequest | None:
        return await self.session.get(AccessRequest, request_id)

    async def find_live(
        self, account_id: int, snils: str, component: str, role: str | None
    ) -> AccessRequest | None:
        """The person's own live request for this role. Another account's request
        with the same SNILS is not theirs to see: the admins' card flags it instead."""
        role_match = AccessRequest.role.is_(None) if role is None else AccessRequest.role == role
        return await self.session.scalar(
            select(AccessRequest)
            .where(
                AccessRequest.account_id == account_id,
                AccessRequest.snils == snils,
                AccessRequest.component == component,
                role_match,
                AccessRequest.status.not_in(CLOSED_STATUSES),
            )
            .order_by(AccessRequest.id.desc())
            .limit(1)
        )

    async def list_for_user(
        self, account_id: int, limit: int = 20, offset: int = 0
    ) -> list[AccessRequest]:
        rows = await self.session.scalars(
            select(AccessRequest)
            .where(AccessRequest.account_id == account_id)
            .order_by(AccessRequest.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows)

    async def first_since(self, account_id: int, since: datetime) -> AccessRequest | None:
        """The person's first request created at or after `since`."""
        return await self.session.scalar(
            select(AccessRequest)
            .where(AccessRequest.account_id == account_id, AccessRequest.created_at >= since)
            .order_by(AccessRequest.id)
            .limit(1)
        )

    async def count_for_user(self, account_id: int) -> int:
        total = await self.session.scalar(
            select(func.count()).where(AccessRequest.account_id == account_id)
        )
        return int(total or 0)

    async def live_for_user(self, account_id: int) -> list[AccessRequest]:
        """The person's requests still in work (not rejected or cancelled), newest first."""
        rows = await self.session.scalars(
            select(AccessRequest)
            .where(
                AccessRequest.account_id == account_id,
                AccessRequest.status.not_in(CLOSED_STATUSES),
                AccessRequest.erased_at.is_(None),
            )
            .order_by(AccessRequest.id.desc())
        )
        return list(rows)

    async def add(self, request: AccessRequest) -> AccessRequest:
        self.session.add(request)
        await self.session.flush()
        return request

    async def compare_and_set_status(
        self,
        request_id: int,
        expected: Sequence[str],
        new: str,
        *,
        actor_id: int | None,
        at: datetime,
        decision: bool = False,
        reason: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """One conditional UPDATE: true when this call made the transition."""
        values: dict[str, Any] = {"status": new, "updated_at": at, **(extra or {})}
        if new != "submitted":
            # A card held for the organisation's answer (ORG_CONFIRMATION=required) is held
            # only while the request is submitted: nothing is released after it leaves.
            values["org_card_held"] = False
        if decision:
            values |= {"decided_by": actor_id, "decided_at": at, "decision_reason": reason}
        result = await self.session.execute(
            update(AccessRequest)
            .where(AccessRequest.id == request_id, AccessRequest.status.in_(expected))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def queue(
        self, statuses: Sequence[str], *, limit: int, offset: int
    ) -> tuple[list[Listed], int]:
        # A card held for its organisation's answer (ORG_CONFIRMATION=required) is not
        # МИАЦ's yet.
        # A plain equality, so both databases match it against the queue index.
        where = and_(AccessRequest.status.in_(statuses), AccessRequest.org_card_held == false())
        total = await self.session.scalar(select(func.count()).where(where))
        rows = await self.session.execute(
            select(*LISTED)
            .where(where)
            .order_by(AccessRequest.submitted_at, AccessRequest.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total or 0)

    async def search(self, words: Sequence[str], limit: int) -> list[Listed]:
        """The newest requests whose name, e-mail, SNILS digits or organisation have every
        word: as whole words first, then as word beginnings (db/search_index.py)."""
        dialect = self.session.get_bind().dialect.name
        ids: list[int] = []
        for prefix in (False, True):
            query = search_index.matching_ids(dialect, words, prefix=prefix, limit=limit)
            ids += [i for i in await self.session.scalars(query) if i not in ids]
            if len(ids) >= limit:
                break
        return await self._by_ids(ids[:limit])

    async def by_snils(self, snils: str, limit: int) -> list[Listed]:
        rows = await self.session.execute(
            select(*LISTED)
            .where(AccessRequest.snils == snils)
            .order_by(AccessRequest.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def by_email(self, email: str, limit: int) -> list[Listed]:
        rows = await self.session.execute(
            select(*LISTED)
            .where(func.lower(AccessRequest.email) == email.lower())
            .order_by(AccessRequest.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def _by_ids(self, ids: Sequence[int]) -> list[Listed]:
        if not ids:
            return []
        rows = await self.session.execute(
            select(*LISTED).where(AccessRequest.id.in_(ids)).order_by(AccessRequest.id.desc())
        )
        return list(rows)

    async def related(self, request: AccessRequest) -> list[AccessRequest]:
        """Other requests of the same SNILS or with the same e-mail."""
        if request.erased_at is not None:
            return []
        rows = await self.session.scalars(
            select(AccessRequest)
            .where(
                AccessRequest.id != request.id,
                AccessRequest.erased_at.is_(None),
                (AccessRequest.snils == request.snils)
                | (func.lower(AccessRequest.email) == request.email.lower()),
            )
            .order_by(AccessRequest.id)
        )
        return list(rows)


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(
        self,
        request_id: int,
        action: str,
        *,
        actor_id: int | None,
        from_status: str | None = None,
        to_status: str | None = None,
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> RequestEvent:
        event = RequestEvent(
            request_id=request_id,
            action=action,
            actor_id=actor_id,
            from_status=from_status,
            to_status=to_status,
            details=details,
            at=at or utcnow(),
        )
        self.session.add(event)
        return event

    async def for_request(self, request_id: int) -> list[RequestEvent]:
        rows = await self.session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id)
        )
        return list(rows)
