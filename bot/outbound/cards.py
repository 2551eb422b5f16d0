"""Request cards for admins and notices to applicants: rendering, and their delivery.

What follows a change of a request (its card posted or refreshed, the applicant told) is
enqueued in the change's own transaction (`announce`, `enqueue_*`) and sent by the outbox
loop (`deliver_*`), rendered from the rows as they are when it goes out."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, texts
from bot.callbacks import AdminCb
from bot.config import Settings
from bot.outbound import support_desk
from db.database import Database
from db.models import AccessRequest, RequestCard, RequestEvent, utcnow
from db.outbox import Envelope, OutboxRepository
from db.repositories import RequestRepository
from services import audit, org_confirmation, org_forms, outbox, staff
from services.outbox import Delivered, Kind, Outcome
from services.requests import HOLDING_STATUSES, RETURNABLE, Status, last_changes
from services.role_matrix import RoleMatrix

if TYPE_CHECKING:
    from bot.outbound.context import Context

log = logging.getLogger(__name__)
RETURN_FIELDS = tuple(RETURNABLE)


def _rows(r: AccessRequest) -> list[tuple[str, str]]:
    org = r.org_full_name
    if r.org_short_name and r.org_short_name != r.org_full_name:
        org = f"{org} ({r.org_short_name})"
    role = f"{r.role} — {r.role_level}" if r.role else "не выбрана"
    labels = texts.FIELD_LABELS

    def personal(value: str) -> str:
        return texts.ERASED if r.erased_at is not None else value

    return [
        (labels["snils"], personal(r.snils)),
        (labels["full_name"], personal(r.full_name)),
        (labels["email"], personal(r.email)),
        (labels["region"], r.region),
        (labels["organization"], org),
        (labels["position"], r.position),
        (labels["role"], role),
        (labels["component"], r.component),
        # Which messenger the applicant wrote from (the answers go back there).
        (texts.MESSENGER_LABEL, texts.messenger_name(r.account_id)),
    ]


def related_warnings(r: AccessRequest, others: list[AccessRequest]) -> list[str]:
    """Other requests with the same SNILS or e-mail: the same person's own (the same account),
    or another account's (on either messenger), which the admin must look into; an address
    that another person's approved request holds blocks approval (services.requests.decide)."""
    lines = []
    for other in others:
        if other.account_id == r.account_id:
            lines.append(texts.warn_own_request(other.id, other.status))
            continue
        same_snils = other.snils == r.snils
        same_email = other.email.lower() == r.email.lower()
        same = "e-mail" if not same_snils else "СНИЛС и e-mail" if same_email else "СНИЛС"
        blocks = not same_snils and same_email and other.status in HOLDING_STATUSES
        messenger = texts.messenger_name(other.account_id)
        lines.append(texts.warn_other_account(other.id, other.status, same, blocks, messenger))
    return lines


def decision_keyboard(request_id: int) -> InlineKeyboardMarkup:
    def button(text: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=text, callback_data=AdminCb(action=action, request_id=request_id).pack()
        )

    return InlineKeyboardMarkup(
        inline_keyboard=[
            [button(texts.BTN_APPROVE, "approve"), button(texts.BTN_REJECT, "reject")],
            [button(texts.BTN_RETURN, "return"), button(texts.BTN_CHANGE_ROLE, "role")],
        ]
    )


async def render(
    session: AsyncSession, r: AccessRequest
) -> tuple[str, InlineKeyboardMarkup | None]:
    warnings: list[str] = []
    if r.org_card_held:  # ORG_CONFIRMATION=required: opened by /req before the answer
        warnings.append(texts.WARN_HELD_FOR_ORG)
    if r.org_manual:
        warnings.append(texts.WARN_ORG_MANUAL)
    if not r.position_in_matrix:
        # The form never sets a role for a typed position: a role there is an admin's choice.
        if r.role is not None:
            warnings.append(texts.NOTE_POSITION_MANUAL_ROLE_SET)
        elif r.status == Status.SUBMITTED.value:
            warnings.append(texts.WARN_POSITION_MANUAL)
        else:  # rejected, returned or withdrawn before anyone chose one
            warnings.append(texts.NOTE_POSITION_MANUAL_NO_ROLE)
    warnings += related_warnings(r, await RequestRepository(session).related(r))
    erased = r.erased_at is not None
    changes = [
        (texts.FIELD_NAMES_DB.get(field, field), str(old), str(new))
        for field, (old, new) in (await last_changes(session, r.id)).items()
        if field not in ("org_manual", "organization_id", "position_in_matrix") and not erased
    ]
    decision = None
    if erased and r.status == Status.CANCELLED.value:
        decision = texts.ERASED_DECISION
    elif r.status != Status.SUBMITTED.value and r.decided_at is not None:
        names = await staff.names(session, {r.decided_by} if r.decided_by else set())
        who = texts.who_when(texts.staff_name(r.decided_by, names), r.decided_at)
        decision = texts.decision_line(r.status, who, r.decision_reason)
    rows = _rows(r)
    if r.org_confirmation is not None:  # what the organisation said (ORG_CONFIRMATION)
        state = org_confirmation.shown_state(r.status, r.org_confirmation)
        org_line = texts.org_state_card(state, r.org_reason, r.org_card_held)
        rows.append((texts.ORG_LABEL, org_line))
    signed = await org_forms.covering(session, r.id)
    if signed is not None:  # the organisation's form signed by its head (item 2.3)
        rows.append((texts.ORG_SIGNED_LABEL, texts.org_signed_line(signed.sent_at, signed.id)))
    text = texts.card(r.id, r.status, r.submitted_at, rows, warnings, changes, decision)
    decidable = r.status == Status.SUBMITTED.value and not r.org_card_held
    keyboard = decision_keyboard(r.id) if decidable else None
    return text, keyboard


async def card_targets(session: AsyncSession, settings: Settings) -> list[int]:
    if settings.admin_chats:
        return settings.admin_chats
    return await staff.admins(session)


def content_hash(text: str, keyboard: InlineKeyboardMarkup | None) -> str:
    markup = keyboard.model_dump_json(exclude_none=True) if keyboard else ""
    return hashlib.sha256(f"{text}\x00{markup}".encode()).hexdigest()


# --- enqueued with the change that causes them -----------------------------------------------


async def enqueue_card_posts(
    session: AsyncSession, settings: Settings, request: AccessRequest
) -> None:
    """Post the card to the admin chat (or every admin privately), in the submit's
    transaction: a request is never submitted without its card on the way."""
    for chat_id in await card_targets(session, settings):
        outbox.enqueue(
            session,
            chat_id,
            Kind.CARD_POST,
            request_id=request.id,
            user_id=request.account_id or None,
            turn=outbox.LATER_TURN,  # behind the edits that show admins' decisions
        )


async def enqueue_card_refresh(
    session: AsyncSession, request_id: int, user_id: int | None = None
) -> None:
    """Every copy of the card (posted, or on its way) follows the request's current state.
    One row per chat. It may go before a post still waiting (posts take a later turn): it then
    finds no copy to edit, and the post shows the state as it is when it goes."""
    for chat_id in await outbox.card_chats(session, request_id):
        outbox.enqueue(
            session, chat_id, Kind.CARD_REFRESH, request_id=request_id, user_id=user_id or None
        )


async def latest_event_id(session: AsyncSession, request_id: int) -> int | None:
    await session.flush()
    return await session.scalar(
        select(RequestEvent.id)
        .where(RequestEvent.request_id == request_id, RequestEvent.action != audit.VIEWED)
        .order_by(RequestEvent.id.desc())
        .limit(1)
    )


async def enqueue_notice(session: AsyncSession, request: AccessRequest, notice: str) -> list[int]:
    """Tell the applicant (`notice`: a key of NOTICES) about the event just recorded; the
    text is made when it is sent, from the request and that event. Returns the row's id."""
    event_id = await latest_event_id(session, request.id)
    row = OutboxRepository(session).add(
        request.account_id,
        Kind.NOTICE.value,
        {"notice": notice, "event_id": event_id},
        user_id=request.account_id,
        request_id=request.id,
        now=utcnow(),
    )
    await session.flush()
    return [row.id]


async def announce(session: AsyncSession, request: AccessRequest, notice: str | None) -> list[int]:
    """What follows a change of a request: every copy of its card, the applicant's support
    topic header, and a notice to the applicant. In the change's own transaction."""
    await enqueue_card_refresh(session, request.id, request.account_id)
    await support_desk.enqueue_header(session, request.account_id)
    if request.status not in org_confirmation.ANSWERABLE:
        # МИАЦ decided: the responsible persons' asks say so and lose their buttons.
        for chat_id in await org_confirmation.ask_chats(session, request.id):
            outbox.enqueue(
                session,
                chat_id,
                Kind.ORG_ASK_DECIDED,
                request_id=request.id,
                user_id=request.account_id or None,
            )
    if notice is None:
        return []
    return await enqueue_notice(session, request, notice)


async def _ask_again(session: AsyncSession, request: AccessRequest) -> bool:
    """A corrected request goes to its organisation again when the organisation declined it,
    or when the correction changed the organisation; a confirmation stands otherwise."""
    if request.org_confirmation == org_confirmation.State.DECLINED.value:
        return True
    return "organization_id" in await last_changes(session, request.id)


async def announce_submitted(
    session: AsyncSession, settings: Settings, request: AccessRequest, *, resubmitted: bool = False
) -> list[int]:
    """A (re)submitted request: its card to the admins, the support header, and the
    applicant's confirmation, which the submitting handler sends at once (`send_now`); being
    in the applicant's lane, a later decision notice can never overtake it. A new request is
    also put to its organisation's responsible persons (ORG_CONFIRMATION); with `required`
    its card waits for their answer (bot/outbound/org_desk.py posts it then)."""
    if not resubmitted or await _ask_again(session, request):
        mode = org_confirmation.Mode(settings.org_confirmation)
        await org_confirmation.on_submitted(session, mode, request)
    if not request.org_card_held:
        await enqueue_card_posts(session, settings, request)
    # Cards still waiting for a decision that share this SNILS or e-mail now warn of it too.
    for other in await RequestRepository(session).related(request):
        if other.status == Status.SUBMITTED.value:
            await enqueue_card_refresh(session, other.id, other.account_id)
    await support_desk.enqueue_header(session, request.account_id)
    return await enqueue_notice(session, request, "resubmitted" if resubmitted else "submitted")


async def refresh_cards(bot: Bot, db: Database, request_id: int) -> None:
    """Bring every copy of the card up to date (through the outbox). Prefer
    `enqueue_card_refresh` inside the transaction that changed the request."""
    async with db.write() as session:
        await enqueue_card_refresh(session, request_id)


# --- delivered by the outbox loop (bot/outbound/delivery.py) ------------------------------


async def deliver_post(ctx: Context, row: Envelope) -> Outcome | None:
    """Render the card as the request is now, post it, and record the copy with the row's
    deletion. Had the request changed while the card was on its way (a decision, an
    erasure), the copy is refreshed right after: it goes behind this post in the lane."""
    if row.request_id is None:
        return None
    async with ctx.db.read() as session:
        request = await session.get(AccessRequest, row.request_id)
        if request is None or request.erased_at is not None:
            return None  # withdrawn before the card went out: nothing to show
        text, keyboard = await render(session, request)
        version = request.updated_at
    message = await ctx.call(SendMessage(chat_id=row.chat_id, text=text, reply_markup=keyboard))
    digest = content_hash(text, keyboard)

    async def record(session: AsyncSession) -> None:
        await audit.record_views(
            session, [request.id], actor_id=_viewer(row.chat_id), via="card", chat_id=row.chat_id
        )
        session.add(
            RequestCard(
                request_id=request.id,
                chat_id=row.chat_id,
                message_id=message.message_id,
                content_hash=digest,
            )
        )
        current = await session.scalar(
            select(AccessRequest.updated_at).where(AccessRequest.id == request.id)
        )
        if current != version:
            outbox.enqueue(
                session, row.chat_id, Kind.CARD_REFRESH, request_id=request.id, user_id=row.user_id
            )

    return Delivered(record)


async def deliver_refresh(ctx: Context, row: Envelope) -> Outcome | None:
    """Edit the copies of the card in this chat that do not show the current state yet.
    Each copy's new content hash is stored once it is edited, so a retry edits only the rest;
    a copy deleted by hand is left alone."""
    if row.request_id is None:
        return None
    async with ctx.db.read() as session:
        request = await session.get(AccessRequest, row.request_id)
        if request is None:
            return None
        text, keyboard = await render(session, request)
        digest = content_hash(text, keyboard)
        copies = (
            await session.execute(
                select(RequestCard.id, RequestCard.message_id).where(
                    RequestCard.request_id == request.id,
                    RequestCard.chat_id == row.chat_id,
                    RequestCard.content_hash.is_distinct_from(digest),
                )
            )
        ).all()
    for card_id, message_id in copies:
        try:
            await ctx.call(
                EditMessageText(
                    chat_id=row.chat_id, message_id=message_id, text=text, reply_markup=keyboard
                )
            )
        except TelegramBadRequest as exc:
            reason = exc.message.lower()
            if "not modified" not in reason and "message to edit not found" not in reason:
                raise
        async with ctx.db.write() as session:
            await session.execute(
                update(RequestCard).where(RequestCard.id == card_id).values(content_hash=digest)
            )
            if request.erased_at is None:
                await audit.record_views(
                    session,
                    [request.id],
                    actor_id=_viewer(row.chat_id),
                    via="card",
                    chat_id=row.chat_id,
                    refresh=True,
                )
    return None


def _viewer(chat_id: int) -> int | None:
    """A card in an admin's private chat is seen by that admin; in the admin group, by its
    members (no one person: the event names the chat)."""
    return chat_id if chat_id > 0 else None


def _notice(
    notice: str, request: AccessRequest, details: dict[str, Any], settings: Settings
) -> tuple[str, InlineKeyboardMarkup | None]:
    reason = str(details.get("reason") or request.decision_reason or "")
    if notice == "submitted":
        held = request.org_card_held
        return texts.submitted(request.id, Status.SUBMITTED.value, held), keyboards.main_menu()
    if notice == "resubmitted":
        return texts.resubmitted(request.id, request.org_card_held), keyboards.main_menu()
    if notice == "approved":
        return texts.applicant_approved(request.id), None
    if notice == "rejected":
        return texts.applicant_rejected(request.id, reason), None
    if notice == "returned":
        fields = list(details.get("fields") or request.return_fields or [])
        return texts.applicant_returned(request.id, fields, reason), keyboards.fix_button(
            request.id
        )
    if notice == "role_changed":
        old, new = (details.get("changes") or {}).get("role") or [None, request.role]
        return texts.applicant_role_changed(request.id, old, new or "", reason), None
    if notice == "granted":
        return texts.applicant_granted(request.id, settings.vimis_url), None
    if notice == "org_declined":
        return texts.applicant_org_declined(request.id, reason or request.org_reason or ""), None
    raise ValueError(f"unknown notice {notice!r}")


async def deliver_notice(ctx: Context, row: Envelope) -> Outcome | None:
    if row.request_id is None:
        return None
    async with ctx.db.read() as session:
        request = await session.get(AccessRequest, row.request_id)
        event_id = row.payload.get("event_id")
        event = await session.get(RequestEvent, event_id) if event_id else None
    if request is None or request.erased_at is not None:
        return None  # consent withdrawn meanwhile: nothing more is sent to the person
    text, markup = _notice(
        row.payload["notice"], request, dict(event.details or {}) if event else {}, ctx.settings
    )
    await ctx.call(SendMessage(chat_id=row.chat_id, text=text, reply_markup=markup))
    return None


# --- direct: the answer to an admin's own /req ------------------------------------------------


async def post_card(
    bot: Bot, db: Database, settings: Settings, request_id: int, chat_ids: list[int] | None = None
) -> int:
    """Post the card at once (the answer to an admin's /req or a press in /queue); returns
    copies posted. Cards of new requests go through the outbox (`enqueue_card_posts`)."""
    async with db.read() as session:
        request = await session.get(AccessRequest, request_id)
        if request is None:
            return 0
        text, keyboard = await render(session, request)
        rendered_version = request.updated_at
        targets = chat_ids if chat_ids is not None else await card_targets(session, settings)
    digest = content_hash(text, keyboard)
    posted: list[tuple[int, int]] = []
    for chat_id in targets:
        try:
            message = await bot.send_message(chat_id, text, reply_markup=keyboard)
        except TelegramAPIError as exc:
            log.warning("card of request %s not posted: %s", request_id, type(exc).__name__)
            continue
        posted.append((chat_id, message.message_id))
    if posted:
        async with db.write() as session:
            session.add_all(
                RequestCard(request_id=request_id, chat_id=c, message_id=m, content_hash=digest)
                for c, m in posted
            )
            # A decision or an erasure while the copies were on their way found no copy to
            # update: bring them up to date.
            version = await session.scalar(
                select(AccessRequest.updated_at).where(AccessRequest.id == request_id)
            )
            if version != rendered_version:
                for chat_id in {c for c, _ in posted}:
                    outbox.enqueue(session, chat_id, Kind.CARD_REFRESH, request_id=request_id)
    return len(posted)


async def notify_applicant(
    bot: Bot, chat_id: int, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> bool:
    """A message to an applicant at once, best effort. What a decision tells the applicant
    goes through the outbox instead (`enqueue_notice`), which retries."""
    try:
        await bot.send_message(chat_id, text, reply_markup=reply_markup)
    except TelegramAPIError as exc:
        log.warning("applicant not notified: %s", type(exc).__name__)
        return False
    return True


def role_list(matrix: RoleMatrix) -> list[tuple[str, str]]:
    return [(r.name, r.level) for r in matrix.roles]
