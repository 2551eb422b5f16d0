"""/broadcast for admins (order items 4.2–4.3): pick the audience (responsible persons,
unfinished dialogs, applicants by where their request stands, or one organisation found by
words as /staff org finds it), type the text (the answer to the bot's prompt, `bot.prompts`),
see a preview with the count, attach a file if wanted (the instruction, the training
schedule: the answer to a prompt of its own, a document or a photo), confirm; sent through
the outbox once per person (services/broadcast.py). `/broadcast status`: delivered / blocked /
pending of the latest."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
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
from bot.callbacks import BroadcastAction, BroadcastCb
from bot.config import Settings
from bot.outbound.crossing import file_of, too_big
from bot.outbound.reminders import unfinished_dialogs
from db.database import Database
from db.models import Broadcast, Organization
from services import broadcast, organizations
from services.broadcast import Audience

TEXT = prompts.kind(
    "broadcast_text",
    timedelta(hours=24),
    broadcast.MAX_TEXT,
    texts.BROADCAST_TOO_LONG,
    texts.BROADCAST_NEED_TEXT,
)
# The file of a previewed broadcast (items 4.2-4.3): a document or a photo, not a text.
FILE = prompts.kind(
    "broadcast_file",
    timedelta(hours=1),
    1,
    texts.BROADCAST_NEED_FILE,
    texts.BROADCAST_NEED_FILE,
)
# The words of an organisation's name, for the audience «одна организация» (items 4.2-4.3).
ORG_WORDS = prompts.kind(
    "broadcast_org",
    timedelta(hours=1),
    100,
    texts.BROADCAST_ORG_WORDS_LIMIT,
    texts.BROADCAST_ORG_WORDS_EMPTY,
)


def _audiences() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=label,
                    callback_data=BroadcastCb(action=BroadcastAction.AUDIENCE, value=key).pack(),
                )
            ]
            for key, label in texts.BROADCAST_AUDIENCES.items()
        ]
    )


def _confirm(broadcast_id: int, with_file: bool = False) -> InlineKeyboardMarkup:
    value = str(broadcast_id)

    def button(text: str, action: BroadcastAction) -> InlineKeyboardButton:
        data = BroadcastCb(action=action, value=value).pack()
        return InlineKeyboardButton(text=text, callback_data=data)

    files = (
        [
            button(texts.BTN_BROADCAST_FILE_AGAIN, BroadcastAction.FILE),
            button(texts.BTN_BROADCAST_FILE_REMOVE, BroadcastAction.UNFILE),
        ]
        if with_file
        else [button(texts.BTN_BROADCAST_FILE, BroadcastAction.FILE)]
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                button(texts.BTN_BROADCAST_SEND, BroadcastAction.SEND),
                button(texts.BTN_BROADCAST_CANCEL, BroadcastAction.CANCEL),
            ],
            files,
        ]
    )


async def _people(
    db: Database, storage: BaseStorage, audience: Audience, organization_id: int | None = None
) -> list[int]:
    in_dialog = await unfinished_dialogs(storage) if audience == Audience.DRAFTS else None
    async with db.read() as session:
        return await broadcast.recipients(session, audience, in_dialog, organization_id)


async def _org_choice(
    db: Database, settings: Settings, words: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Organisations of the directory matching the words (as /staff org finds them), each a
    button that makes it the audience."""
    async with db.read() as session:
        found = await organizations.search(session, settings.region_name, words)
    if not found.items:
        return texts.BROADCAST_ORG_NONE, None
    keyboard = [
        [
            InlineKeyboardButton(
                text=keyboards.short(org.name_short or org.name_full),
                callback_data=BroadcastCb(
                    action=BroadcastAction.ORGANIZATION, value=str(org.id)
                ).pack(),
            )
        ]
        for org in found.items
    ]
    return (
        texts.broadcast_org_found(found.total, len(found.items)),
        InlineKeyboardMarkup(inline_keyboard=keyboard),
    )


async def on_broadcast(message: Message, command: CommandObject, db: Database) -> None:
    if (command.args or "").strip().lower() == "status":
        async with db.read() as session:
            rows = await broadcast.status(session)
        await message.answer(
            texts.broadcast_status(
                [
                    (
                        c.broadcast_id,
                        c.audience,
                        c.sent_at,
                        c.total,
                        c.delivered,
                        c.blocked,
                        c.pending,
                        c.lost,
                    )
                    for c in rows
                ]
            )
        )
        return
    await message.answer(texts.BROADCAST_PICK, reply_markup=_audiences())


def _chat_of(query: CallbackQuery, callback_answer: CallbackAnswer) -> Message | None:
    if isinstance(query.message, Message):
        return query.message
    callback_answer.text = texts.BROADCAST_STALE
    return None


def _number(callback_data: BroadcastCb, callback_answer: CallbackAnswer) -> int | None:
    if callback_data.value.isdigit():
        return int(callback_data.value)
    callback_answer.text = texts.BROADCAST_STALE
    return None


async def on_audience(
    query: CallbackQuery,
    callback_data: BroadcastCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    message = _chat_of(query, callback_answer)
    if message is None:
        return
    try:
        audience = Audience(callback_data.value)
    except ValueError:
        callback_answer.text = texts.BROADCAST_STALE
        return
    if audience == Audience.ORGANIZATION:  # which one: asked by words first
        await prompts.ask(
            bot,
            fsm_storage,
            message.chat.id,
            query.from_user,
            ORG_WORDS,
            texts.BROADCAST_ORG_PROMPT,
            {},
            thread_id=message.message_thread_id,
        )
        return
    await _ask_text(bot, fsm_storage, message, query, audience, db)


async def on_organization(
    query: CallbackQuery,
    callback_data: BroadcastCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    """An organisation found by words, pressed: the draft is for its people."""
    message = _chat_of(query, callback_answer)
    number = _number(callback_data, callback_answer)
    if message is None or number is None:
        return
    async with db.read() as session:
        org = await session.get(Organization, number) if number < 2**31 else None
    if org is None or org.deleted or org.region != settings.region_name:
        callback_answer.text = texts.STALE_BUTTON
        return
    await _ask_text(bot, fsm_storage, message, query, Audience.ORGANIZATION, db, org.id)


async def _ask_text(
    bot: Bot,
    fsm_storage: BaseStorage,
    message: Message,
    query: CallbackQuery,
    audience: Audience,
    db: Database,
    organization_id: int | None = None,
) -> None:
    async with db.write() as session:
        draft = await broadcast.start(
            session, query.from_user.id, message.chat.id, audience, organization_id
        )
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        TEXT,
        texts.BROADCAST_ASK_TEXT,
        {"broadcast_id": draft},
        thread_id=message.message_thread_id,
    )


async def on_cancel(
    query: CallbackQuery,
    callback_data: BroadcastCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> None:
    message = _chat_of(query, callback_answer)
    broadcast_id = _number(callback_data, callback_answer)
    if message is None or broadcast_id is None:
        return
    async with db.write() as session:
        done = await broadcast.cancel(session, broadcast_id)
    callback_answer.text = texts.BROADCAST_CANCELLED if done else texts.BROADCAST_STALE
    if done:
        await bot.edit_message_reply_markup(
            chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
        )


async def on_send(
    query: CallbackQuery,
    callback_data: BroadcastCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    message = _chat_of(query, callback_answer)
    broadcast_id = _number(callback_data, callback_answer)
    if message is None or broadcast_id is None:
        return
    async with db.read() as session:
        draft = await broadcast.get(session, broadcast_id)
    if draft is None or draft.state != broadcast.State.PREVIEW.value:
        callback_answer.text = texts.BROADCAST_STALE
        return
    people = await _people(db, fsm_storage, Audience(draft.audience), draft.organization_id)
    async with db.write() as session:
        count = await broadcast.send(session, broadcast_id, people)
    if count is None:  # a second press, or another admin, was first
        callback_answer.text = texts.BROADCAST_STALE
        return
    await bot.edit_message_reply_markup(
        chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
    )
    await bot.send_message(
        message.chat.id,
        texts.broadcast_queued(broadcast_id, count) if count else texts.BROADCAST_NOBODY,
        message_thread_id=message.message_thread_id,
    )


# --- the text, typed in answer to the prompt ------------------------------------------------


async def _preview(
    db: Database, storage: BaseStorage, admin_id: int, chat_id: int, text: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Store the text on the draft and show what will be sent, with the count."""
    async with db.write() as session:
        draft = await broadcast.waiting_for_text(session, admin_id, chat_id)
        if draft is None or not await broadcast.set_text(session, draft.id, text):
            return texts.BROADCAST_STALE, None
    return await _shown(db, storage, draft, text)


async def _shown(
    db: Database, storage: BaseStorage, draft: Broadcast, text: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The preview of a draft with its text: whom, how many, the text, the file."""
    broadcast_id, audience = draft.id, Audience(draft.audience)
    organization_id = draft.organization_id
    async with db.read() as session:
        org = await session.get(Organization, organization_id) if organization_id else None
        org_name = (org.name_short or org.name_full) if org is not None else None
    count = len(await _people(db, storage, audience, organization_id))
    if not count:  # nothing to confirm: the draft goes, nothing is listed as sent
        async with db.write() as session:
            await broadcast.cancel(session, broadcast_id)
        return texts.BROADCAST_NOBODY_NOW, None
    file = draft.file
    attached = (str(file.get("name") or "file"), file.get("size")) if file else None
    shown = text if text is not None else draft.text or ""
    preview = texts.broadcast_preview(audience.value, count, shown, org_name, attached)
    return preview, _confirm(broadcast_id, with_file=file is not None)


async def on_text(
    message: Message,
    prompt: prompts.Prompt,
    answer: str,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    admin = message.from_user
    if admin is None:
        return
    refused = prompts.refusal(prompt, answer)
    if refused is not None:
        await prompts.ask_again(message, fsm_storage, bot, prompt, refused)
        return
    text, markup = await _preview(db, fsm_storage, admin.id, message.chat.id, answer)
    await prompts.forget(fsm_storage, bot, message.chat.id, admin.id)
    await message.answer(text, reply_markup=markup)


async def on_stray_taken(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    prompt: prompts.Prompt | None,
    answer: str,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """«✅ Использовать это сообщение»: the admin's own message becomes the text."""
    message = query.message if isinstance(query.message, Message) else None
    if prompt is None or message is None or not answer:
        callback_answer.text = texts.STALE_BUTTON
        return
    refused = prompts.refusal(prompt, answer)
    if refused is not None:
        callback_answer.text = refused
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)
    admin = query.from_user
    text, markup = await _preview(db, fsm_storage, admin.id, message.chat.id, answer)
    await prompts.forget(fsm_storage, bot, message.chat.id, admin.id)
    await message.answer(text, reply_markup=markup)


async def on_cancel_text(
    message: Message, prompt: prompts.Prompt, bot: Bot, db: Database, fsm_storage: BaseStorage
) -> None:
    """/cancel while the text is awaited: the draft goes with the prompt."""
    async with db.write() as session:
        await broadcast.cancel(session, int(prompt.data.get("broadcast_id") or 0))
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.reply(texts.BROADCAST_CANCELLED)


# --- the file, sent in answer to its prompt (items 4.2-4.3) -----------------------------------


async def _unbutton(bot: Bot, chat_id: int, message_id: int) -> None:
    """The previous preview's buttons go: the fresh preview below is the one to press."""
    with contextlib.suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=None
        )


async def on_attach(
    query: CallbackQuery,
    callback_data: BroadcastCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """«📎 Приложить файл»: the next message (in a group, the reply) is the file."""
    message = _chat_of(query, callback_answer)
    broadcast_id = _number(callback_data, callback_answer)
    if message is None or broadcast_id is None:
        return
    async with db.read() as session:
        draft = await broadcast.get(session, broadcast_id) if broadcast_id < 2**31 else None
    if draft is None or draft.state != broadcast.State.PREVIEW.value:
        callback_answer.text = texts.BROADCAST_STALE
        return
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        FILE,
        texts.BROADCAST_ASK_FILE,
        {"broadcast_id": broadcast_id, "preview_id": message.message_id},
        thread_id=message.message_thread_id,
    )


async def on_file(
    message: Message,
    prompt: prompts.Prompt,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """A document or a photo becomes the broadcast's file, and the preview is shown again with
    it; a text, or a file too big to cross to the other messenger, is refused and asked again."""
    admin = message.from_user
    if admin is None:
        return
    file = file_of(bot, message)
    if file is None or too_big(file):
        refused = texts.BROADCAST_NEED_FILE if file is None else texts.FILE_TOO_BIG
        await prompts.ask_again(message, fsm_storage, bot, prompt, refused)
        return
    broadcast_id = int(prompt.data.get("broadcast_id") or 0)
    await _set_file(message, bot, db, fsm_storage, broadcast_id, file)
    await prompts.forget(fsm_storage, bot, message.chat.id, admin.id)
    preview_id = prompt.data.get("preview_id")
    if isinstance(preview_id, int):
        await _unbutton(bot, message.chat.id, preview_id)


async def _set_file(
    message: Message,
    bot: Bot,
    db: Database,
    storage: BaseStorage,
    broadcast_id: int,
    file: dict[str, object] | None,
) -> bool:
    """Attach (or take off) the file and show the preview again; False when the draft is no
    longer waiting (said)."""
    async with db.write() as session:
        draft = await broadcast.set_file(session, broadcast_id, file)
    if draft is None:
        await bot.send_message(
            message.chat.id, texts.BROADCAST_STALE, message_thread_id=message.message_thread_id
        )
        return False
    text, markup = await _shown(db, storage, draft)
    await bot.send_message(
        message.chat.id, text, reply_markup=markup, message_thread_id=message.message_thread_id
    )
    return True


async def on_unattach(
    query: CallbackQuery,
    callback_data: BroadcastCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """«🗑 Убрать файл»: the text alone, previewed again."""
    message = _chat_of(query, callback_answer)
    broadcast_id = _number(callback_data, callback_answer)
    if message is None or broadcast_id is None or broadcast_id >= 2**31:
        callback_answer.text = texts.BROADCAST_STALE
        return
    async with db.read() as session:
        draft = await broadcast.get(session, broadcast_id)
    if draft is None or draft.state != broadcast.State.PREVIEW.value or draft.file is None:
        callback_answer.text = texts.BROADCAST_STALE
        return
    if await _set_file(message, bot, db, fsm_storage, broadcast_id, None):
        callback_answer.text = texts.BROADCAST_FILE_REMOVED
        await _unbutton(bot, message.chat.id, message.message_id)


async def on_cancel_file(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    """/cancel while the file is awaited: no file, the preview stays as it was."""
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.reply(texts.BROADCAST_FILE_KEPT)


# --- the organisation's words, typed in answer to its prompt ----------------------------------


async def on_org_words(
    message: Message,
    prompt: prompts.Prompt,
    answer: str,
    bot: Bot,
    db: Database,
    settings: Settings,
    fsm_storage: BaseStorage,
) -> None:
    """Nothing found (or nothing typed) is said, and the same question asked again."""
    words = " ".join(answer.split())
    refused = prompts.refusal(prompt, words)
    if refused is not None:
        await prompts.ask_again(message, fsm_storage, bot, prompt, refused)
        return
    text, choice = await _org_choice(db, settings, words)
    if choice is None:
        await prompts.ask_again(message, fsm_storage, bot, prompt, text)
        return
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.answer(text, reply_markup=choice)


async def on_org_words_stray(
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


async def on_cancel_org_words(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.reply(texts.BROADCAST_CANCELLED)


def broadcast_router() -> Router:
    router = Router(name="broadcast")
    router.message.register(on_broadcast, Command("broadcast"))
    router.message.register(on_cancel_text, Command("cancel"), prompts.PendingPrompt(TEXT))
    router.message.register(
        on_cancel_org_words, Command("cancel"), prompts.PendingPrompt(ORG_WORDS)
    )
    router.message.register(on_cancel_file, Command("cancel"), prompts.PendingPrompt(FILE))
    router.message.register(on_text, prompts.AnswersPrompt(TEXT))
    router.message.register(on_file, prompts.AnswersPrompt(FILE))
    router.message.register(prompts.on_file_past, prompts.FilePastPrompt(FILE))
    router.message.register(on_org_words, prompts.AnswersPrompt(ORG_WORDS))
    router.message.register(prompts.on_written_past, prompts.WrittenPastPrompt(TEXT, ORG_WORDS))
    router.callback_query.register(on_stray_taken, *prompts.stray_button(TEXT))
    router.callback_query.register(on_org_words_stray, *prompts.stray_button(ORG_WORDS))
    buttons: dict[str, Callable[..., Awaitable[None]]] = {
        BroadcastAction.AUDIENCE: on_audience,
        BroadcastAction.ORGANIZATION: on_organization,
        BroadcastAction.SEND: on_send,
        BroadcastAction.CANCEL: on_cancel,
        BroadcastAction.FILE: on_attach,
        BroadcastAction.UNFILE: on_unattach,
    }
    for action, handler in buttons.items():
        router.callback_query.register(handler, BroadcastCb.filter(F.action == action))
    return router
