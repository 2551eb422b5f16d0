"""Staff management by admins (/staff) and joining by a one-time invite link: admins,
operators, viewers, and organisations' responsible persons (an invite bound to an
organisation found in the directory, `/staff org words`), and the admins' answer to someone
who asked to become a responsible person (bot/handlers/applicant/responsible.py files the
application).

An invite link goes only to the inviting admin's private chat, never into the group where
the button was pressed: everyone there would see it, and whoever opened it first would be
staff."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import keyboards, prompts, texts
from bot.args import user_id as parse_user_id
from bot.callbacks import StaffAction, StaffCb
from bot.config import Settings
from bot.messengers import start_link
from bot.outbound import menus
from bot.outbound.org_desk import (
    enqueue_application_outcome,
    org_name,
    release_without_responsible,
    render_application,
)
from db.database import Database
from db.models import Organization, ResponsibleApplication
from services import organizations, staff
from services.accounts import messenger_of
from services.staff import INVITE_PREFIX, Change, Removal, StaffRole

log = logging.getLogger(__name__)
# StaffCb(action="invite", user_id=…): which role the button invites.
INVITE_ROLES = {0: StaffRole.ADMIN, 1: StaffRole.OPERATOR, 2: StaffRole.VIEWER}
ADDABLE = {"admin": StaffRole.ADMIN, "operator": StaffRole.OPERATOR, "viewer": StaffRole.VIEWER}


# The words of an organisation's name, asked for by «➕ Ответственное лицо организации».
ORG_SEARCH = prompts.kind(
    "staff_org",
    timedelta(hours=1),
    texts.STAFF_ORG_WORDS_LIMIT,
    texts.STAFF_ORG_WORDS_TOO_LONG,
    texts.STAFF_ORG_WORDS_EMPTY,
)

# People per /staff page: a region has hundreds of organisations, each with responsible
# persons; one message holds at most 4096 characters and 100 buttons.
STAFF_PAGE = 10


async def _staff_view(db: Database, page: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    async with db.read() as session:
        members = await staff.members(session)
    pages = max(1, -(-len(members) // STAFF_PAGE))
    page = min(max(page, 0), pages - 1)  # a stale page number: the nearest that exists
    total = len(members)
    members = members[page * STAFF_PAGE : (page + 1) * STAFF_PAGE]
    async with db.read() as session:
        orgs = await staff.organization_names(
            session, {m.organization_id for m in members if m.organization_id is not None}
        )
    rows = [
        (
            m.display_name or None,
            m.account_id,
            m.role,
            m.owner,
            orgs.get(m.organization_id) if m.organization_id is not None else None,
        )
        for m in members
    ]

    def data(action: str, value: int = 0) -> str:
        return StaffCb(action=action, user_id=value, page=page).pack()

    def button(text: str, action: str, value: int = 0) -> list[InlineKeyboardButton]:
        return [InlineKeyboardButton(text=text, callback_data=data(action, value))]

    keyboard = [
        button(texts.BTN_INVITE_ADMIN, "invite", 0),
        button(texts.BTN_INVITE_OPERATOR, "invite", 1),
        button(texts.BTN_INVITE_VIEWER, "invite", 2),
        button(texts.BTN_INVITE_RESPONSIBLE, "org_how"),
    ]
    keyboard += [
        button(keyboards.short(texts.btn_remove(name or f"id {uid}")), "remove", uid)
        for name, uid, _, owner, _ in rows
        if not owner  # owners are removed in ADMIN_IDS, not here
    ]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(text="◀️", callback_data=data("page", page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text="▶️", callback_data=data("page", page + 1)))
    if nav:
        keyboard.append(nav)
    text = texts.staff_list(rows) + texts.staff_page(page, pages, total)
    return text, InlineKeyboardMarkup(inline_keyboard=keyboard)


async def _remove(db: Database, settings: Settings, actor: int, user_id: int) -> str:
    async with db.write() as session:
        organization_id = await staff.organization_of(session, user_id)
        outcome = await staff.remove(session, actor, user_id)
        if outcome is Removal.REMOVED:
            menus.enqueue(session, user_id)  # the figures or /org leave their menu
            # ORG_CONFIRMATION=required: cards held for an answer nobody is left to give.
            await release_without_responsible(session, settings, organization_id)
    if outcome is Removal.NOT_FOUND:
        return texts.STAFF_NOT_FOUND
    if outcome is Removal.OWNER:
        return texts.staff_owner(user_id)
    if outcome is Removal.LAST_ADMIN:
        return texts.STAFF_LAST_ADMIN
    return texts.staff_removed(user_id)


async def _add(db: Database, settings: Settings, actor: int, user_id: int, role: StaffRole) -> str:
    async with db.write() as session:
        organization_id = await staff.organization_of(session, user_id)
        outcome = await staff.add(session, actor, user_id, role)
        if outcome is Change.CHANGED:
            menus.enqueue(session, user_id)
            # A responsible person made a viewer, say, no longer answers for the organisation.
            await release_without_responsible(session, settings, organization_id)
    if outcome is Change.OWNER:
        return texts.staff_owner(user_id)
    if outcome is Change.LAST_ADMIN:
        return texts.STAFF_LAST_ADMIN
    if outcome is Change.UNCHANGED:
        return texts.STAFF_UNCHANGED
    return texts.staff_added(user_id, role.value)


async def _org_choice(
    db: Database, settings: Settings, words: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Organisations of the directory matching the typed words (as the form's organisation
    step finds them), each a button that sends the admin an invite bound to it."""
    async with db.read() as session:
        found = await organizations.search(session, settings.region_name, words)
    if not found.items:
        return texts.STAFF_ORG_NONE, None
    keyboard = [
        [
            InlineKeyboardButton(
                text=keyboards.short(org.name_short or org.name_full),
                callback_data=StaffCb(action="invite_org", user_id=org.id).pack(),
            )
        ]
        for org in found.items
    ]
    return (
        texts.staff_org_found(found.total, len(found.items)),
        InlineKeyboardMarkup(inline_keyboard=keyboard),
    )


async def on_staff(
    message: Message, command: CommandObject, db: Database, settings: Settings
) -> None:
    actor = message.from_user.id if message.from_user else 0
    args = (command.args or "").split()
    if not args:
        text, keyboard = await _staff_view(db)
        await message.answer(text, reply_markup=keyboard)
        return
    if args[0] == "org":
        if len(args) == 1:
            await message.answer(texts.STAFF_ORG_HOW)
            return
        text, choice = await _org_choice(db, settings, " ".join(args[1:]))
        await message.answer(text, reply_markup=choice)
        return
    if len(args) == 3 and args[0] == "add" and args[1] in ADDABLE:
        target = parse_user_id(args[2], messenger_of(message.chat.id))
        if target is not None:
            await message.answer(await _add(db, settings, actor, target, ADDABLE[args[1]]))
            return
    if len(args) == 2 and args[0] == "remove":
        target = parse_user_id(args[1], messenger_of(message.chat.id))
        if target is not None:
            await message.answer(await _remove(db, settings, actor, target))
            return
    await message.answer(texts.STAFF_USAGE)


async def _send_invite(
    bot: Bot, db: Database, admin_id: int, role: StaffRole, organization_id: int | None = None
) -> bool:
    """Create an invite and send it to the admin's private chat; false (and the invite
    revoked) when the admin has no private chat with the bot yet."""
    async with db.write() as session:
        organization = None
        if organization_id is not None:
            organization = await session.get(Organization, organization_id)
            if organization is None:
                return False
        invite = await staff.create_invite(session, admin_id, role, organization_id=organization_id)
    # Made on MAX, the link opens the MAX bot: the invited person joins on the admin's
    # messenger.
    link = await start_link(bot, f"{INVITE_PREFIX}{invite.token}")
    if organization is not None:
        text = texts.invite_link_org(link, invite.expires_at, org_name(organization))
    else:
        text = texts.invite_link(role.value, link, invite.expires_at)
    try:
        await bot.send_message(admin_id, text)
    except (TelegramForbiddenError, TelegramBadRequest) as exc:
        log.info("invite not delivered privately: %s", type(exc).__name__)
        async with db.write() as session:
            await staff.revoke_invite(session, admin_id, invite.token)
        return False
    return True


def _pressed(query: CallbackQuery, callback_answer: CallbackAnswer) -> Message | None:
    if isinstance(query.message, Message):
        return query.message
    callback_answer.text = texts.STALE_BUTTON
    return None


async def on_org_how(
    query: CallbackQuery, callback_answer: CallbackAnswer, bot: Bot, fsm_storage: BaseStorage
) -> None:
    """«➕ Ответственное лицо организации»: the words of the organisation's name are asked
    for (`bot.prompts`: in a private chat the next message, in the group a reply)."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        ORG_SEARCH,
        texts.STAFF_ORG_PROMPT,
        {},
        thread_id=message.message_thread_id,
    )


async def on_org_search(
    message: Message,
    prompt: prompts.Prompt,
    answer: str,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    """The organisation's name, typed in answer to «➕ Ответственное лицо организации»:
    nothing found (or nothing typed) is said, and the same question asked again."""
    words = " ".join(answer.split())
    refused = prompts.refusal(prompt, words)
    if refused is not None:
        await prompts.ask_again(message, fsm_storage, bot, prompt, refused)
        return
    text, choice = await _org_choice(db, settings, words)
    if choice is None:
        await prompts.ask_again(message, fsm_storage, bot, prompt, texts.plain(text))
        return
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.answer(text, reply_markup=choice)


async def on_org_search_stray(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    prompt: prompts.Prompt | None,
    answer: str,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    """«✅ Использовать это сообщение» in the group: that message is the name searched."""
    taken = await prompts.take_stray(query, callback_answer, prompt, answer)
    if taken is None:
        return
    message, words = taken
    text, choice = await _org_choice(db, settings, words)
    if choice is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, query.from_user.id)
    await message.answer(text, reply_markup=choice)


async def on_cancel_org_search(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.reply(texts.INPUT_CANCELLED)


async def on_invite(
    query: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> None:
    message = _pressed(query, callback_answer)
    if message is None:
        return
    organization_id = None
    if callback_data.action == StaffAction.INVITE_ORG:
        role, organization_id = StaffRole.RESPONSIBLE, callback_data.user_id
    elif callback_data.user_id in INVITE_ROLES:
        role = INVITE_ROLES[callback_data.user_id]
    else:
        callback_answer.text = texts.STALE_BUTTON
        return
    if not await _send_invite(bot, db, query.from_user.id, role, organization_id):
        me = await bot.me()
        callback_answer.text = texts.invite_undeliverable(me.username or "")
        callback_answer.show_alert = True
    elif message.chat.type != "private":
        callback_answer.text, callback_answer.show_alert = texts.INVITE_SENT_PRIVATELY, True


async def on_page(
    query: CallbackQuery, callback_data: StaffCb, callback_answer: CallbackAnswer, db: Database
) -> None:
    if (message := _pressed(query, callback_answer)) is None:
        return
    text, keyboard = await _staff_view(db, callback_data.user_id)
    with contextlib.suppress(TelegramBadRequest):  # nothing changed
        await message.edit_text(text, reply_markup=keyboard)


async def on_remove(
    query: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    db: Database,
    settings: Settings,
) -> None:
    if (message := _pressed(query, callback_answer)) is None:
        return
    outcome = await _remove(db, settings, query.from_user.id, callback_data.user_id)
    callback_answer.text, callback_answer.show_alert = texts.plain(outcome), True
    text, keyboard = await _staff_view(db, callback_data.page)
    with contextlib.suppress(TelegramBadRequest):  # nothing changed
        await message.edit_text(text, reply_markup=keyboard)


async def on_application(
    query: CallbackQuery,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    db: Database,
    settings: Settings,
) -> None:
    if (message := _pressed(query, callback_answer)) is not None:
        await _decide_application(query, message, callback_data, callback_answer, db, settings)


async def _decide_application(
    query: CallbackQuery,
    message: Message,
    callback_data: StaffCb,
    callback_answer: CallbackAnswer,
    db: Database,
    settings: Settings,
) -> None:
    """An admin approves or declines someone's application to become an organisation's
    responsible person; the first answer wins, the person is told through the outbox."""
    approve = callback_data.action == StaffAction.APP_YES
    async with db.write() as session:
        await staff.remember_name(session, query.from_user.id, query.from_user.full_name)
        application = await staff.decide_application(
            session, callback_data.user_id, query.from_user.id, approve
        )
        if application is not None:
            organization = await session.get(Organization, application.organization_id)
            enqueue_application_outcome(session, application, org_name(organization))
            menus.enqueue(session, application.account_id)  # /org, when approved
    async with db.read() as session:
        current = await session.get(ResponsibleApplication, callback_data.user_id)
        rendered = await render_application(session, current) if current else None
    if application is None:
        callback_answer.text, callback_answer.show_alert = texts.APPLICATION_TAKEN, True
    if rendered is not None:
        with contextlib.suppress(TelegramBadRequest):  # nothing changed
            await message.edit_text(rendered[0], reply_markup=rendered[1])


def staff_router() -> Router:
    router = Router(name="staff")
    router.message.register(on_staff, Command("staff"))
    router.message.register(
        on_cancel_org_search, Command("cancel"), prompts.PendingPrompt(ORG_SEARCH)
    )
    router.message.register(on_org_search, prompts.AnswersPrompt(ORG_SEARCH))
    router.message.register(prompts.on_written_past, prompts.WrittenPastPrompt(ORG_SEARCH))
    router.callback_query.register(on_org_search_stray, *prompts.stray_button(ORG_SEARCH))
    buttons: dict[str, Callable[..., Awaitable[None]]] = {
        StaffAction.ORG_HOW: on_org_how,
        StaffAction.INVITE: on_invite,
        StaffAction.INVITE_ORG: on_invite,
        StaffAction.PAGE: on_page,
        StaffAction.REMOVE: on_remove,
        StaffAction.APP_YES: on_application,
        StaffAction.APP_NO: on_application,
    }
    for action, handler in buttons.items():
        router.callback_query.register(handler, StaffCb.filter(F.action == action))
    return router
