"""The organisation's form signed by its head, sent back (order No 922, item 2.3: the head
sends the organisation's request for access). A responsible person sends the scan (a PDF or
photos); it is kept as file ids (never the bytes; on MAX with the file's download address)
with who sent it, when, and the requests the organisation's form listed then. Only admins see
it; it is erased with any of the requests it covers (a scan cannot be cut: it shows every
person the form listed).
Nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OrgForm, OrgFormRequest, utcnow
from services import org_confirmation

DOCUMENT = "document"
PHOTO = "photo"
MAX_FILES = 20  # pages of photos in one form


@dataclass(frozen=True)
class Saved:
    form_id: int
    request_ids: list[int]


async def save(
    session: AsyncSession, organization_id: int, account_id: int, files: Sequence[dict[str, str]]
) -> Saved | None:
    """Keep the signed form as covering the requests the organisation's form lists now;
    None when it lists none (there is nothing the signature could be for)."""
    covered = [r.id for r in await org_confirmation.form_rows(session, organization_id)]
    if not covered or not files:
        return None
    form = OrgForm(
        organization_id=organization_id,
        account_id=account_id,
        sent_at=utcnow(),
        # A MAX file also keeps its download address: an admins' group on Telegram cannot
        # take a MAX file by its id, the file is fetched and uploaded there (/orgform).
        files=[{k: f[k] for k in ("kind", "file_id", "url") if f.get(k)} for f in files],
    )
    session.add(form)
    await session.flush()
    session.add_all(OrgFormRequest(form_id=form.id, request_id=r) for r in covered)
    await session.flush()
    return Saved(form.id, covered)


async def get(session: AsyncSession, form_id: int) -> OrgForm | None:
    return await session.get(OrgForm, form_id)


async def covered(session: AsyncSession, form_id: int) -> list[int]:
    """The requests the form covers."""
    rows = await session.scalars(
        select(OrgFormRequest.request_id)
        .where(OrgFormRequest.form_id == form_id)
        .order_by(OrgFormRequest.request_id)
    )
    return list(rows)


async def covering(session: AsyncSession, request_id: int) -> OrgForm | None:
    """The latest signed form that covers the request."""
    return await session.scalar(
        select(OrgForm)
        .join(OrgFormRequest, OrgFormRequest.form_id == OrgForm.id)
        .where(OrgFormRequest.request_id == request_id)
        .order_by(OrgForm.id.desc())
        .limit(1)
    )


async def latest_by_organization(session: AsyncSession) -> list[tuple[int, datetime, int]]:
    """(organisation, when its latest signed form came, that form's id), newest first."""
    latest = (
        select(OrgForm.organization_id, func.max(OrgForm.id).label("form_id"))
        .group_by(OrgForm.organization_id)
        .subquery()
    )
    rows = await session.execute(
        select(OrgForm.organization_id, OrgForm.sent_at, OrgForm.id)
        .join(latest, latest.c.form_id == OrgForm.id)
        .order_by(OrgForm.sent_at.desc())
    )
    return [(int(org), at, int(form_id)) for org, at, form_id in rows.all()]


async def erase_for_requests(session: AsyncSession, request_ids: Sequence[int]) -> list[int]:
    """Erase the signed forms that cover any of these requests (their file ids and the list
    of requests): in the erasure's transaction. Returns the forms erased."""
    if not request_ids:
        return []
    forms = sorted(
        set(
            await session.scalars(
                select(OrgFormRequest.form_id).where(OrgFormRequest.request_id.in_(request_ids))
            )
        )
    )
    if forms:
        await session.execute(delete(OrgFormRequest).where(OrgFormRequest.form_id.in_(forms)))
        await session.execute(delete(OrgForm).where(OrgForm.id.in_(forms)))
    return forms
