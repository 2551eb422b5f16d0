"""The documents «📖 Инструкция» hands out (order No 922, item 4.3: МИАЦ's instructions for
the organisations, item 4.2: the training schedule), kept by admins with /docs.

A document is replaced in place (its title and number stay, the file changes), so whoever
opens the guide afterwards gets the new version; the outbox rows that send it name the
document, not its file, and read it when they are delivered.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import GuideDocument, OutboxMessage, utcnow
from services import outbox
from services.outbox import Kind

MAX_DOCUMENTS = 10  # the guide sends each: more would bury the applicant's chat
MAX_TITLE = 200  # the column's length


async def listed(session: AsyncSession) -> list[GuideDocument]:
    return list(await session.scalars(select(GuideDocument).order_by(GuideDocument.id)))


async def get(session: AsyncSession, document_id: int) -> GuideDocument | None:
    return await session.get(GuideDocument, document_id) if document_id < 2**31 else None


async def add(
    session: AsyncSession, title: str, file: dict[str, Any], admin_id: int
) -> GuideDocument | None:
    """A new document; None when there are MAX_DOCUMENTS already."""
    if len(await listed(session)) >= MAX_DOCUMENTS:
        return None
    document = GuideDocument(
        title=title[:MAX_TITLE], file=file, updated_by=admin_id, updated_at=utcnow()
    )
    session.add(document)
    await session.flush()
    return document


async def replace(
    session: AsyncSession, document_id: int, file: dict[str, Any], admin_id: int
) -> GuideDocument | None:
    """A new version of the document's file; None when the document is gone."""
    document = await get(session, document_id)
    if document is None:
        return None
    document.file = file
    document.updated_by = admin_id
    document.updated_at = utcnow()
    await session.flush()
    return document


async def remove(session: AsyncSession, document_id: int) -> GuideDocument | None:
    """Remove the document (rows already queued to send it send nothing); what was removed."""
    document = await get(session, document_id)
    if document is not None:
        await session.delete(document)
        await session.flush()
    return document


async def hand_out(session: AsyncSession, chat_id: int) -> int:
    """Queue the current documents for someone who opened the guide: one outbox row each, in
    the order they were added; how many."""
    queued = await session.scalar(
        select(
            exists().where(
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.state == "pending",
                OutboxMessage.kind == Kind.GUIDE_DOCUMENT.value,
            )
        )
    )
    if queued:  # pressed again before they went: they are on their way already
        return 0
    documents = await listed(session)
    for document in documents:
        outbox.enqueue(
            session, chat_id, Kind.GUIDE_DOCUMENT, {"document_id": document.id}, user_id=chat_id
        )
    return len(documents)
