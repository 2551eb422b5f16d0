"""Organisations' responsible persons (order No 922, items 2.1, 2.3): `/org` — their
organisation's requests (masked SNILS, never an e-mail), filtered and paged, the positions of
the role matrix with no request yet, the organisation's form as XLSX for the head's signature
— and their answer on a request: «Подтверждаю», or «Не подтверждаю» with a reason (the answer
to the bot's prompt, `bot.prompts`: in this private chat, the next message).

Rights are the org wing's (bot/handlers/org/__init__.py): a responsible person sees and
answers only on requests of their own organisation, handed to each handler by the rights
check (services/org_confirmation.py checks it again for every answer). Asking to become a
responsible person: bot/handlers/applicant/responsible.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    PhotoSize,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import prompts, texts
from bot.callbacks import ORG_FILTERS, OrgAction, OrgCb
from bot.config import Settings
from bot.outbound.cards import enqueue_card_refresh
from bot.outbound.org_desk import (
    after_answer,
    answer_buttons,
    is_decided,
    is_open,
    org_name,
    request_block,
)
from db.database import Database
from services import org_confirmation, org_forms
from services.export import org_form
from services.org_confirmation import Answered
from services.org_confirmation import Filter as Which
from services.role_matrix import RoleMatrix

PAGE = 5
GAP_PAGE = 15
# The form signed by the head, sent back as a PDF or photos (item 2.3).
SIGNED = prompts.kind(
    "org_signed",
    timedelta(hours=24),
    texts.ORG_SIGNED_LIMIT,
    texts.ORG_SIGNED_TOO_LONG,
    texts.ORG_SIGNED_NEEDS_FILE,
)
DECLINE = prompts.kind(
    "org_decline",
    timedelta(hours=24),
    texts.ORG_REASON_LIMIT,
    texts.ORG_REASON_TOO_LONG,
    texts.ORG_REASON_EMPTY,
)


# --- /org ---------------------------------------------------------------------------------


def _nav(which: OrgAction, page: int, pages: int) -> list[list[InlineKeyboardButton]]:
    filters = [
        InlineKeyboardButton(
            text=("• " if f == which else "") + texts.ORG_FILTERS[f],
            callback_data=OrgCb(action=f).pack(),
        )
        for f in ORG_FILTERS
    ]
    rows = [filters[:3], filters[3:]]
    pager = []
    if page > 0:
        pager.append(
            InlineKeyboardButton(text="◀️", callback_data=OrgCb(action=which, page=page - 1).pack())
        )
    if page + 1 < pages:
        pager.append(
            InlineKeyboardButton(text="▶️", callback_data=OrgCb(action=which, page=page + 1).pack())
        )
    if pager:
        rows.append(pager)
    xlsx = OrgCb(action=OrgAction.XLSX).pack()
    rows.append([InlineKeyboardButton(text=texts.BTN_ORG_XLSX, callback_data=xlsx)])
    signed = OrgCb(action=OrgAction.SIGNED).pack()
    rows.append([InlineKeyboardButton(text=texts.BTN_ORG_SIGNED, callback_data=signed)])
    return rows


async def org_view(
    db: Database,
    organization_id: int,
    user_id: int,
    which: OrgAction,
    page: int,
    matrix: RoleMatrix,
) -> tuple[str, InlineKeyboardMarkup]:
    async with db.read() as session:
        name = org_name(await org_confirmation.organization(session, organization_id))
        if which == OrgAction.GAP:
            taken = await org_confirmation.positions_with_requests(session, organization_id)
            own = org_confirmation.organisation_positions(matrix)
            missing = org_confirmation.missing_positions(own, taken)
            pages = max(1, -(-len(missing) // GAP_PAGE))
            page = min(max(page, 0), pages - 1)
            text = texts.org_gaps(
                name, missing[page * GAP_PAGE : (page + 1) * GAP_PAGE], page, pages
            )
            return text, InlineKeyboardMarkup(inline_keyboard=_nav(which, page, pages))
        total, page, rows = await org_confirmation.page(
            session, organization_id, Which(which.value), PAGE, page
        )
    pages = max(1, -(-total // PAGE))
    keyboard = [
        answer_buttons(r.id, numbered=True) for r in rows if is_open(r) and r.account_id != user_id
    ]
    text = texts.org_page(name, which.value, [request_block(r) for r in rows], page, pages)
    return text, InlineKeyboardMarkup(inline_keyboard=keyboard + _nav(which, page, pages))


async def on_org(
    message: Message, organization_id: int, db: Database, role_matrix: RoleMatrix
) -> None:
    if message.from_user is None:
        return
    text, keyboard = await org_view(
        db, organization_id, message.from_user.id, OrgAction.ALL, 0, role_matrix
    )
    await message.answer(text, reply_markup=keyboard)


async def answer_request(
    db: Database,
    settings: Settings,
    user_id: int,
    request_id: int,
    confirm: bool,
    reason: str | None,
) -> str:
    async with db.write() as session:
        result = await org_confirmation.answer(session, request_id, user_id, confirm, reason)
        if isinstance(result, Answered):
            await after_answer(session, settings, result)
    if result is org_confirmation.Refused.NOT_YOURS:
        return texts.ORG_NOT_YOURS
    if result is org_confirmation.Refused.ALREADY:
        return await _already(db, user_id, request_id)
    if result is org_confirmation.Refused.OWN:
        return texts.ORG_OWN_REQUEST
    return texts.org_confirmed_done(request_id) if confirm else texts.org_declined_done(request_id)


async def _already(db: Database, user_id: int, request_id: int) -> str:
    """Why an answer is no longer taken: МИАЦ decided (saying what), or a colleague answered."""
    async with db.read() as session:
        request = await org_confirmation.request_of_org(session, user_id, request_id)
    if request is not None and is_decided(request):
        return texts.org_decided_already(request.id, request.status)
    return texts.ORG_ALREADY


def _without(markup: InlineKeyboardMarkup | None, request_id: int) -> InlineKeyboardMarkup | None:
    """The keyboard without the answered request's buttons."""
    if markup is None:
        return None
    answered = {OrgCb(action=a, value=request_id).pack() for a in (OrgAction.YES, OrgAction.NO)}
    rows = [[b for b in row if b.callback_data not in answered] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def _drop_answer_buttons(message: Message, request_id: int) -> None:
    """The answered request's buttons leave the message they were pressed on."""
    if message.reply_markup is None:
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=_without(message.reply_markup, request_id))


def _pressed(query: CallbackQuery, callback_answer: CallbackAnswer) -> Message | None:
    if isinstance(query.message, Message):
        return query.message
    callback_answer.text = texts.STALE_BUTTON
    return None


async def on_filter(
    query: CallbackQuery,
    callback_data: OrgCb,
    callback_answer: CallbackAnswer,
    organization_id: int,
    db: Database,
    role_matrix: RoleMatrix,
) -> None:
    """A filter of /org, or one of its pages."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    text, keyboard = await org_view(
        db,
        organization_id,
        query.from_user.id,
        callback_data.action,
        callback_data.page,
        role_matrix,
    )
    with contextlib.suppress(TelegramBadRequest):  # the same page again
        await message.edit_text(text, reply_markup=keyboard)


async def on_form(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    organization_id: int,
    bot: Bot,
    db: Database,
) -> None:
    """The organisation's requests in the order's form: an XLSX with the head's signature
    line (order item 2.3)."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    async with db.read() as session:
        organization = await org_confirmation.organization(session, organization_id)
        rows = await org_confirmation.form_rows(session, organization_id)
    if not rows:
        callback_answer.text = texts.ORG_XLSX_EMPTY
        return
    data = await org_form.build(
        rows, texts.ORG_FORM_HIDDEN, texts.ORG_FORM_ROLE_PENDING, texts.ORG_FORM_SIGNATURE
    )
    await bot.send_document(
        message.chat.id,
        BufferedInputFile(data, filename=f"zayavka_org_{organization_id}.xlsx"),
        caption=texts.org_xlsx_caption(org_name(organization), len(rows)),
    )


async def on_confirm(
    query: CallbackQuery,
    callback_data: OrgCb,
    callback_answer: CallbackAnswer,
    db: Database,
    settings: Settings,
) -> None:
    if (message := _pressed(query, callback_answer)) is None:
        return
    outcome = await answer_request(
        db, settings, query.from_user.id, callback_data.value, True, None
    )
    callback_answer.text = outcome
    if outcome != texts.ORG_NOT_YOURS:
        await _drop_answer_buttons(message, callback_data.value)


async def on_decline(
    query: CallbackQuery,
    callback_data: OrgCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """«Не подтверждаю»: the reason is asked for (the next message is it)."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    user_id = query.from_user.id
    async with db.read() as session:
        request = await org_confirmation.request_of_org(session, user_id, callback_data.value)
    if request is None:
        callback_answer.text = texts.ORG_NOT_YOURS
        return
    if not is_open(request):
        callback_answer.text = await _already(db, user_id, request.id)
        await _drop_answer_buttons(message, request.id)
        return
    if request.account_id == user_id:
        callback_answer.text = texts.ORG_OWN_REQUEST
        return
    cancel = OrgCb(action=OrgAction.CANCEL, value=request.id).pack()
    await bot.send_message(
        message.chat.id,
        texts.ORG_REASON_CANCEL_HINT,
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=texts.BTN_ORG_CANCEL, callback_data=cancel)]
            ]
        ),
    )
    left = _without(message.reply_markup, request.id)
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        DECLINE,
        f"№ {request.id}. {texts.ORG_REASON_PROMPT}",
        {
            "request_id": request.id,
            "origin": [message.chat.id, message.message_id],
            "origin_markup": left.model_dump(mode="json", exclude_none=True) if left else None,
        },
    )


async def on_cancel_decline(
    query: CallbackQuery, callback_answer: CallbackAnswer, bot: Bot, fsm_storage: BaseStorage
) -> None:
    if (message := _pressed(query, callback_answer)) is None:
        return
    await prompts.forget(fsm_storage, bot, message.chat.id, query.from_user.id)
    callback_answer.text = texts.ORG_REASON_CANCELLED
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)


async def on_reason(
    message: Message,
    prompt: prompts.Prompt,
    answer: str,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    """The reason for «Не подтверждаю» (order item 2.3), typed as the next message."""
    if message.from_user is None:
        return
    reason = " ".join(answer.split())
    refused = prompts.refusal(prompt, reason)
    if refused is not None:
        await prompts.ask_again(message, fsm_storage, bot, prompt, refused)
        return
    request_id = int(prompt.data["request_id"])
    await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.answer(
        await answer_request(db, settings, message.from_user.id, request_id, False, reason)
    )
    chat_id, message_id = prompt.data.get("origin") or (None, None)
    if chat_id is not None:
        # The request's buttons leave the message «Не подтверждаю» was pressed on.
        left = prompt.data.get("origin_markup")
        with contextlib.suppress(TelegramBadRequest):
            await bot.edit_message_reply_markup(
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=InlineKeyboardMarkup.model_validate(left) if left else None,
            )


async def on_cancel_reason(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.answer(texts.ORG_REASON_CANCELLED)


# --- the form signed by the head, sent back (item 2.3) ----------------------------------------


async def on_signed(
    query: CallbackQuery, callback_answer: CallbackAnswer, bot: Bot, fsm_storage: BaseStorage
) -> None:
    """«📎 Отправить подписанную форму»: the scan is asked for (the next messages are it)."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    await prompts.ask(
        bot, fsm_storage, message.chat.id, query.from_user, SIGNED, texts.ORG_SIGNED_PROMPT, {}
    )


def _is_pdf(message: Message) -> bool:
    document = message.document
    if document is None:
        return False
    name = (document.file_name or "").lower()
    return document.mime_type == "application/pdf" or name.endswith(".pdf")


def _file(kind: str, file: Document | PhotoSize) -> dict[str, str]:
    """A page of the signed form: its file id, and on MAX the download address MAX gives
    with it, so that an admins' group on Telegram can be shown it too (item 2.3)."""
    kept = {"kind": kind, "file_id": file.file_id}
    url = (file.model_extra or {}).get("url")
    if url:
        kept["url"] = str(url)
    return kept


async def _save_signed(
    db: Database, organization_id: int, user_id: int, files: list[dict[str, str]]
) -> str:
    async with db.write() as session:
        saved = await org_forms.save(session, organization_id, user_id, files)
        if saved is not None:
            for request_id in saved.request_ids:  # each covered card shows it
                await enqueue_card_refresh(session, request_id)
    if saved is None:
        return texts.ORG_SIGNED_NO_REQUESTS
    return texts.org_signed_saved(saved.request_ids)


async def on_signed_part(
    message: Message,
    prompt: prompts.Prompt,
    organization_id: int,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """A PDF is the whole form; a photo is one page (more may follow, then «✅ Готово»);
    anything else is refused with the same question again."""
    if message.from_user is None:
        return
    files: list[dict[str, str]] = list(prompt.data.get("files") or [])
    if message.document is not None:
        if not _is_pdf(message):
            await prompts.ask_again(message, fsm_storage, bot, prompt, texts.ORG_SIGNED_NOT_PDF)
            return
        files.append(_file(org_forms.DOCUMENT, message.document))
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
        await message.answer(await _save_signed(db, organization_id, message.from_user.id, files))
        return
    if not message.photo:
        await prompts.ask_again(message, fsm_storage, bot, prompt, texts.ORG_SIGNED_NEEDS_FILE)
        return
    if len(files) >= org_forms.MAX_FILES:
        await message.reply(texts.ORG_SIGNED_TOO_MANY, reply_markup=_signed_done())
        return
    files.append(_file(org_forms.PHOTO, message.photo[-1]))
    prompt.data["files"] = files
    await prompts.keep(fsm_storage, bot, message.chat.id, message.from_user.id, prompt)
    await message.reply(texts.org_signed_page(len(files)), reply_markup=_signed_done())


def _signed_done() -> InlineKeyboardMarkup:
    done = OrgCb(action=OrgAction.SIGNED_DONE).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=texts.BTN_ORG_SIGNED_DONE, callback_data=done)]]
    )


async def on_signed_done(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    organization_id: int,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """«✅ Готово»: the photos sent so far are the signed form."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    prompt = await prompts.pending(fsm_storage, bot, message.chat.id, query.from_user.id)
    files = list(prompt.data.get("files") or []) if prompt and prompt.kind == SIGNED.name else []
    if not files:
        callback_answer.text = texts.ORG_SIGNED_NOTHING
        return
    await prompts.forget(fsm_storage, bot, message.chat.id, query.from_user.id)
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)
    await message.answer(await _save_signed(db, organization_id, query.from_user.id, files))


async def on_cancel_signed(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.answer(texts.ORG_SIGNED_CANCELLED)


def org_router() -> Router:
    router = Router(name="org")
    router.message.register(on_cancel_reason, Command("cancel"), prompts.PendingPrompt(DECLINE))
    router.message.register(on_reason, prompts.AnswersPrompt(DECLINE))
    router.message.register(on_cancel_signed, Command("cancel"), prompts.PendingPrompt(SIGNED))
    router.message.register(on_signed_part, prompts.AnswersPrompt(SIGNED))
    router.message.register(on_org, Command("org"))
    for which in ORG_FILTERS:
        router.callback_query.register(on_filter, OrgCb.filter(F.action == which))
    buttons: dict[str, Callable[..., Awaitable[None]]] = {
        OrgAction.XLSX: on_form,
        OrgAction.YES: on_confirm,
        OrgAction.NO: on_decline,
        OrgAction.CANCEL: on_cancel_decline,
        OrgAction.SIGNED: on_signed,
        OrgAction.SIGNED_DONE: on_signed_done,
    }
    for action, handler in buttons.items():
        router.callback_query.register(handler, OrgCb.filter(F.action == action))
    return router
