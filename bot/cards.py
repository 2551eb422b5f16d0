"""Request cards for admins: rendering, posting to the admin chat, updating every copy."""

from __future__ import annotations

import hashlib
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.callbacks import AdminCb
from bot.config import Settings
from db.database import Database
from db.models import AccessRequest, RequestCard
from db.repositories import RequestRepository
from services import staff
from services.requests import HOLDING_STATUSES, RETURNABLE, Status, last_changes
from services.role_matrix import RoleMatrix

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
    ]


def related_warnings(r: AccessRequest, others: list[AccessRequest]) -> list[str]:
    """Other requests with the same SNILS or e-mail: the same person's own (the same Telegram
    account), or another account's, which the admin must look into; an address that another
    person's approved request holds blocks approval (services.requests.decide)."""
    lines = []
    for other in others:
        if other.telegram_id == r.telegram_id:
            lines.append(texts.warn_own_request(other.id, other.status))
            continue
        same_snils = other.snils == r.snils
        same_email = other.email.lower() == r.email.lower()
        same = "e-mail" if not same_snils else "СНИЛС и e-mail" if same_email else "СНИЛС"
        blocks = not same_snils and same_email and other.status in HOLDING_STATUSES
        lines.append(texts.warn_other_account(other.id, other.status, same, blocks))
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
    if r.org_manual:
        warnings.append(texts.WARN_ORG_MANUAL)
    if not r.position_in_matrix:
        waiting = r.role is None and r.status == Status.SUBMITTED.value
        warnings.append(
            texts.WARN_POSITION_MANUAL if waiting else texts.NOTE_POSITION_MANUAL_ROLE_SET
        )
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
    text = texts.card(r.id, r.status, r.submitted_at, _rows(r), warnings, changes, decision)
    keyboard = decision_keyboard(r.id) if r.status == Status.SUBMITTED.value else None
    return text, keyboard


async def card_targets(session: AsyncSession, settings: Settings) -> list[int]:
    if settings.admin_chat_id is not None:
        return [settings.admin_chat_id]
    return await staff.admins(session)


async def post_card(
    bot: Bot, db: Database, settings: Settings, request_id: int, chat_ids: list[int] | None = None
) -> int:
    """Post the card to the admin chat (or every admin privately); returns copies posted."""
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
        # update: bring them up to date now.
        async with db.read() as session:
            version = await session.scalar(
                select(AccessRequest.updated_at).where(AccessRequest.id == request_id)
            )
        if version != rendered_version:
            await refresh_cards(bot, db, request_id)
    return len(posted)


async def refresh_cards(bot: Bot, db: Database, request_id: int) -> None:
    """Every copy of the card shows the current status and decision.

    Copies are claimed before they are edited (one UPDATE … RETURNING sets the new content
    hash), so two handlers refreshing at once never edit the same copy twice, and a copy
    that already shows this content is left alone: Telegram refuses such an edit.
    """
    async with db.read() as session:
        request = await session.get(AccessRequest, request_id)
        if request is None:
            return
        text, keyboard = await render(session, request)
    digest = content_hash(text, keyboard)
    async with db.write() as session:
        claimed = (
            await session.execute(
                update(RequestCard)
                .where(
                    RequestCard.request_id == request_id,
                    RequestCard.content_hash.is_distinct_from(digest),
                )
                .values(content_hash=digest)
                .returning(RequestCard.id, RequestCard.chat_id, RequestCard.message_id)
            )
        ).all()
    failed: list[int] = []
    for card_id, chat_id, message_id in claimed:
        try:
            await bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard
            )
        except TelegramBadRequest as exc:
            if "not found" in exc.message:
                continue  # deleted by hand: nothing to show it in
            log.error("card of request %s refused: %s", request_id, exc.message[:80])
            failed.append(card_id)
        except TelegramAPIError as exc:
            log.warning("card of request %s not updated: %s", request_id, type(exc).__name__)
            failed.append(card_id)
    if failed:  # let the next refresh try these copies again
        async with db.write() as session:
            await session.execute(
                update(RequestCard).where(RequestCard.id.in_(failed)).values(content_hash=None)
            )


def content_hash(text: str, keyboard: InlineKeyboardMarkup | None) -> str:
    markup = keyboard.model_dump_json(exclude_none=True) if keyboard else ""
    return hashlib.sha256(f"{text}\x00{markup}".encode()).hexdigest()


async def notify_applicant(
    bot: Bot, chat_id: int, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> bool:
    try:
        await bot.send_message(chat_id, text, reply_markup=reply_markup)
    except TelegramAPIError as exc:
        log.warning("applicant not notified: %s", type(exc).__name__)
        return False
    return True


def role_list(matrix: RoleMatrix) -> list[tuple[str, str]]:
    return [(r.name, r.level) for r in matrix.roles]
