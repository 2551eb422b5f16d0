"""What goes to and from organisations' responsible persons on its own: the request they
are asked to confirm, an application to become one (to the admins), what follows an answer
(the admins' card posted or refreshed, the applicant told of a decline), and the periodic
release of cards whose organisation did not answer in ORG_CONFIRMATION_DAYS.

Enqueued in the transaction of the change that causes it, delivered by the outbox loop
(bot/outbound/delivery.py), rendered from the rows as they are when it goes out."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import aiohttp
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import EditMessageText, SendDocument, SendMessage, SendPhoto
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.callbacks import OrgCb, StaffCb
from bot.config import Settings
from bot.outbound import cards
from bot.outbound.crossing import fetch_file
from db.database import Database
from db.models import AccessRequest, Organization, OrgAsk, ResponsibleApplication
from db.outbox import Envelope
from services import org_confirmation, outbox, staff
from services.accounts import Messenger, messenger_of
from services.org_confirmation import Answered, State
from services.outbox import Delivered, Kind, Outcome
from services.snils import mask_snils

if TYPE_CHECKING:
    from bot.outbound.context import Context

log = logging.getLogger(__name__)


def request_block(r: AccessRequest) -> str:
    """A request as a responsible person sees it: SNILS masked, no e-mail."""
    return texts.org_request_lines(
        r.id,
        r.status,
        r.full_name,
        r.position,
        r.role,
        mask_snils(r.snils),
        org_confirmation.shown_state(r.status, r.org_confirmation),
        r.org_reason,
    )


def is_decided(r: AccessRequest) -> bool:
    """МИАЦ has decided (approved, rejected, exported …): the organisation's word is moot."""
    return r.status not in org_confirmation.ANSWERABLE


def ask_text(r: AccessRequest) -> tuple[str, InlineKeyboardMarkup | None]:
    """The ask as the request is now: its buttons while it waits for the organisation; once
    МИАЦ decided, what they decided and how to tell МИАЦ the person does not work there."""
    if is_decided(r):
        return texts.org_ask_decided(request_block(r), r.id, r.status), None
    markup = InlineKeyboardMarkup(inline_keyboard=[answer_buttons(r.id)]) if is_open(r) else None
    return texts.org_ask(request_block(r)), markup


def is_open(r: AccessRequest) -> bool:
    return (
        r.org_confirmation in org_confirmation.OPEN_STATES
        and r.status in org_confirmation.ANSWERABLE
        and r.erased_at is None
    )


def answer_buttons(request_id: int, numbered: bool = False) -> list[InlineKeyboardButton]:
    suffix = f" № {request_id}" if numbered else ""
    return [
        InlineKeyboardButton(
            text=texts.BTN_ORG_CONFIRM + suffix,
            callback_data=OrgCb(action="yes", value=request_id).pack(),
        ),
        InlineKeyboardButton(
            text=texts.BTN_ORG_DECLINE + suffix,
            callback_data=OrgCb(action="no", value=request_id).pack(),
        ),
    ]


def org_name(organization: Organization | None) -> str:
    if organization is None:
        return "—"
    return organization.name_short or organization.name_full


# --- after an answer, and the periodic release -----------------------------------------------


async def after_answer(session: AsyncSession, settings: Settings, answered: Answered) -> None:
    """In the answer's transaction: the card goes to the admins now if it waited for this
    answer, else every copy shows it; a decline is told to the applicant."""
    r = answered.request
    if answered.was_held:
        # Copies an admin opened by /req while it was held get the decision buttons too.
        await cards.enqueue_card_refresh(session, r.id, r.account_id)
        await cards.enqueue_card_posts(session, settings, r)
    else:
        await cards.enqueue_card_refresh(session, r.id, r.account_id)
    if r.org_confirmation == State.DECLINED.value:
        await cards.enqueue_notice(session, r, "org_declined")


async def release_overdue(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Cards held for an organisation's answer longer than ORG_CONFIRMATION_DAYS go to the
    admins with a warning. Safe with several workers: each release is a conditional UPDATE,
    and the posts are enqueued in its transaction."""
    async with db.write() as session:
        released = await org_confirmation.expire(session, settings.org_confirmation_days, now)
        for request_id in released:
            request = await session.get(AccessRequest, request_id)
            if request is not None:
                await session.refresh(request)
                await cards.enqueue_card_refresh(session, request.id, request.account_id)
                await cards.enqueue_card_posts(session, settings, request)
    if released:
        log.info("org confirmation: %d cards posted without an answer", len(released))
    return len(released)


async def release_without_responsible(
    session: AsyncSession, settings: Settings, organization_id: int | None
) -> list[int]:
    """In the transaction that removed a responsible person of `organization_id`: the held
    cards nobody is left to confirm go to the admins now, saying why."""
    if organization_id is None:
        return []
    released = await org_confirmation.release_without_responsible(session, organization_id)
    for request_id in released:
        request = await session.get(AccessRequest, request_id)
        if request is not None:
            await session.refresh(request)
            await cards.enqueue_card_refresh(session, request.id, request.account_id)
            await cards.enqueue_card_posts(session, settings, request)
    return released


# --- applications to become a responsible person ---------------------------------------------


async def enqueue_application(
    session: AsyncSession, settings: Settings, application_id: int, scan_url: str | None = None
) -> None:
    """The application to every admins' group; `scan_url`: where MAX lets the scan of the
    appointment be downloaded, for a group on the other messenger (item 2.1)."""
    payload: dict[str, object] = {"application_id": application_id}
    if scan_url:
        payload["scan_url"] = scan_url
    for chat_id in await cards.card_targets(session, settings):
        outbox.enqueue(session, chat_id, Kind.ORG_APPLICATION, payload)


async def render_application(
    session: AsyncSession, application: ResponsibleApplication
) -> tuple[str, InlineKeyboardMarkup | None]:
    organization = await session.get(Organization, application.organization_id)
    decider = None
    if application.decided_by is not None and application.decided_at is not None:
        names = await staff.names(session, {application.decided_by})
        decider = texts.who_when(
            texts.staff_name(application.decided_by, names), application.decided_at
        )
    text = texts.application_card(
        application.id,
        application.display_name or f"id {application.account_id}",
        application.account_id,
        org_name(organization),
        None if application.status == "pending" else application.status,
        decider,
        application.appointment,
        application.appointment_file_id is not None,
    )
    if application.status != "pending":
        return text, None
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=texts.BTN_APPLICATION_APPROVE,
                    callback_data=StaffCb(action="app_yes", user_id=application.id).pack(),
                ),
                InlineKeyboardButton(
                    text=texts.BTN_APPLICATION_DECLINE,
                    callback_data=StaffCb(action="app_no", user_id=application.id).pack(),
                ),
            ]
        ]
    )
    return text, keyboard


def enqueue_application_outcome(
    session: AsyncSession, application: ResponsibleApplication, organization: str
) -> None:
    text = (
        texts.application_approved(organization)
        if application.status == "approved"
        else texts.APPLICATION_DECLINED
    )
    outbox.enqueue(session, application.account_id, Kind.TEXT, {"text": text})


# --- delivered by the outbox loop -------------------------------------------------------------


async def deliver_ask(ctx: Context, row: Envelope) -> Outcome | None:
    """Ask a responsible person about a request of their organisation, as it is now (no
    buttons once answered or decided); nothing if they are no longer its responsible person
    or the applicant's data was erased."""
    if row.request_id is None:
        return None
    async with ctx.db.read() as session:
        request = await session.get(AccessRequest, row.request_id)
        if request is None or request.erased_at is not None:
            return None
        if await staff.organization_of(session, row.chat_id) != request.organization_id:
            return None
        text, markup = ask_text(request)
    message = await ctx.call(SendMessage(chat_id=row.chat_id, text=text, reply_markup=markup))
    request_id = request.id

    async def record(session: AsyncSession) -> None:
        # Where the ask went, so an erasure rewrites it (services.consent.erase_requests).
        session.add(
            OrgAsk(request_id=request_id, chat_id=row.chat_id, message_id=message.message_id)
        )
        erased = await session.scalar(
            select(AccessRequest.erased_at).where(AccessRequest.id == request_id)
        )
        if erased is not None:  # erased while the ask was on its way: rewrite it at once
            await session.flush()
            outbox.enqueue(
                session,
                row.chat_id,
                Kind.ORG_ASK_ERASED,
                {"message_id": message.message_id},
                request_id=request_id,
            )

    return Delivered(record)


async def deliver_ask_erased(ctx: Context, row: Envelope) -> Outcome | None:
    """The applicant's data were erased: the ask shows one line saying so, and no buttons."""
    message_id = int(row.payload.get("message_id") or 0)
    if not message_id:
        return None
    try:
        await ctx.call(
            EditMessageText(
                chat_id=row.chat_id,
                message_id=message_id,
                text=texts.org_ask_erased(row.request_id or 0),
                reply_markup=None,
            )
        )
    except TelegramBadRequest as exc:
        reason = exc.message.lower()
        if "not modified" not in reason and "message to edit not found" not in reason:
            raise
    return None


async def deliver_ask_decided(ctx: Context, row: Envelope) -> Outcome | None:
    """МИАЦ decided: every ask of the request in this chat says what, without buttons."""
    if row.request_id is None:
        return None
    async with ctx.db.read() as session:
        request = await session.get(AccessRequest, row.request_id)
        if request is None or request.erased_at is not None:
            return None  # the erasure rewrites the asks itself
        text, markup = ask_text(request)
        asks = list(
            await session.scalars(
                select(OrgAsk.message_id).where(
                    OrgAsk.request_id == request.id, OrgAsk.chat_id == row.chat_id
                )
            )
        )
    for message_id in asks:
        try:
            await ctx.call(
                EditMessageText(
                    chat_id=row.chat_id, message_id=message_id, text=text, reply_markup=markup
                )
            )
        except TelegramBadRequest as exc:
            reason = exc.message.lower()
            if "not modified" not in reason and "message to edit not found" not in reason:
                raise
    return None


async def deliver_application(ctx: Context, row: Envelope) -> Outcome | None:
    async with ctx.db.read() as session:
        application = await session.get(
            ResponsibleApplication, int(row.payload.get("application_id") or 0)
        )
        if application is None:
            return None
        text, keyboard = await render_application(session, application)
    card = await ctx.call(SendMessage(chat_id=row.chat_id, text=text, reply_markup=keyboard))
    if application.appointment_file_id is not None:  # the scan, under its card (item 2.1)
        caption = texts.application_scan_caption(application.id)
        photo = application.appointment_file_kind == "photo"
        scan: str | BufferedInputFile = application.appointment_file_id
        try:
            if messenger_of(application.account_id) is not messenger_of(row.chat_id):
                # A file id means nothing to the other messenger (the scan was refused and
                # never shown): fetched from where it was sent (MAX's download address,
                # Telegram's getFile) and uploaded here (order item 2.1: the head's
                # appointment is for the admins to see).
                data = await _scan_bytes(ctx, application, row)
                if data is None:
                    return None
                scan = BufferedInputFile(data, filename="photo.jpg" if photo else "scan.pdf")
            method: SendPhoto | SendDocument = (
                SendPhoto(
                    chat_id=row.chat_id,
                    photo=scan,
                    caption=caption,
                    reply_to_message_id=card.message_id,
                )
                if photo
                else SendDocument(
                    chat_id=row.chat_id,
                    document=scan,
                    caption=caption,
                    reply_to_message_id=card.message_id,
                )
            )
            await ctx.call(method)
        except TelegramBadRequest as exc:  # the card is out; a lost scan is not worth a repeat
            log.info("appointment scan not sent: %s", type(exc).__name__)
    return None


async def _scan_bytes(
    ctx: Context, application: ResponsibleApplication, row: Envelope
) -> bytes | None:
    file = {
        "kind": application.appointment_file_kind,
        "file_id": application.appointment_file_id,
        "url": row.payload.get("scan_url"),
    }
    if messenger_of(application.account_id) is Messenger.MAX and not file["url"]:
        return None  # a MAX file without its address cannot be had
    source = ctx.bots.for_chat(application.account_id) if ctx.bots is not None else None
    try:
        return await fetch_file(source or ctx.bot, {"file": file})
    except (TelegramAPIError, aiohttp.ClientError, TimeoutError) as exc:
        log.info("appointment scan not fetched: %s", type(exc).__name__)
        return None
