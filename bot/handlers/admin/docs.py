"""/docs for admins (order No 922, item 4.3: МИАЦ's instructions; item 4.2: the training
schedule): the documents «📖 Инструкция» hands out to applicants — listed with buttons to add
one (the next message is the file, then its title: answers to the bot's prompts,
`bot.prompts`), replace one with a new version (its title stays) and remove one
(services/guide_docs.py). Rights are the admin wing's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import prompts, texts
from bot.callbacks import DocsAction, DocsCb
from bot.outbound.crossing import file_of, too_big
from db.database import Database
from services import guide_docs

FILE = prompts.kind("guide_file", timedelta(hours=1), 1, texts.DOCS_NEED_FILE, texts.DOCS_NEED_FILE)
TITLE = prompts.kind(
    "guide_title",
    timedelta(hours=1),
    guide_docs.MAX_TITLE,
    texts.DOCS_TITLE_TOO_LONG,
    texts.DOCS_TITLE_EMPTY,
)


async def _listing(db: Database) -> tuple[str, InlineKeyboardMarkup]:
    """The documents, numbered in the order the guide sends them, each with its buttons."""
    async with db.read() as session:
        documents = await guide_docs.listed(session)
    rows = [
        (n, d.title, str(d.file.get("name") or "file"), d.file.get("size"), d.updated_at)
        for n, d in enumerate(documents, 1)
    ]
    keyboard = [
        [
            InlineKeyboardButton(
                text=texts.btn_docs_replace(n),
                callback_data=DocsCb(action=DocsAction.REPLACE, document=d.id).pack(),
            ),
            InlineKeyboardButton(
                text=texts.btn_docs_remove(n),
                callback_data=DocsCb(action=DocsAction.REMOVE, document=d.id).pack(),
            ),
        ]
        for n, d in enumerate(documents, 1)
    ]
    if len(documents) < guide_docs.MAX_DOCUMENTS:
        add = DocsCb(action=DocsAction.ADD).pack()
        keyboard.append([InlineKeyboardButton(text=texts.BTN_DOCS_ADD, callback_data=add)])
    return texts.docs_list(rows), InlineKeyboardMarkup(inline_keyboard=keyboard)


async def _show(bot: Bot, db: Database, chat_id: int, thread_id: int | None) -> None:
    text, markup = await _listing(db)
    await bot.send_message(chat_id, text, reply_markup=markup, message_thread_id=thread_id)


async def on_docs(message: Message, bot: Bot, db: Database) -> None:
    await _show(bot, db, message.chat.id, message.message_thread_id)


def _pressed(query: CallbackQuery, callback_answer: CallbackAnswer) -> Message | None:
    if isinstance(query.message, Message):
        return query.message
    callback_answer.text = texts.STALE_BUTTON
    return None


async def on_add(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """«➕ Добавить документ»: the file is asked for, then its title."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    async with db.read() as session:
        full = len(await guide_docs.listed(session)) >= guide_docs.MAX_DOCUMENTS
    if full:
        callback_answer.text = texts.DOCS_FULL
        return
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        FILE,
        texts.DOCS_ASK_FILE,
        {"document_id": 0},
        thread_id=message.message_thread_id,
    )


async def on_replace(
    query: CallbackQuery,
    callback_data: DocsCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """«🔄 Заменить N»: the new version is asked for (a document removed meanwhile: stale)."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    async with db.read() as session:
        document = await guide_docs.get(session, callback_data.document)
    if document is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    await prompts.ask(
        bot,
        fsm_storage,
        message.chat.id,
        query.from_user,
        FILE,
        texts.docs_ask_version(document.title),
        {"document_id": document.id},
        thread_id=message.message_thread_id,
    )


async def on_remove(
    query: CallbackQuery,
    callback_data: DocsCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
) -> None:
    """«🗑 Удалить N»: gone from the guide; the list is shown again (its old buttons go)."""
    if (message := _pressed(query, callback_answer)) is None:
        return
    async with db.write() as session:
        removed = await guide_docs.remove(session, callback_data.document)
    if removed is None:
        callback_answer.text = texts.STALE_BUTTON
        return
    callback_answer.text = texts.DOCS_REMOVED
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)
    await _show(bot, db, message.chat.id, message.message_thread_id)


# --- the answers to the prompts -----------------------------------------------------------


async def on_file(
    message: Message,
    prompt: prompts.Prompt,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """A document or a photo: a new version replaces the document's file at once; a new
    document's title is asked next. A text, or a file too big to cross to the other
    messenger, is refused and the same question asked again."""
    admin = message.from_user
    if admin is None:
        return
    file = file_of(bot, message)
    if file is None or too_big(file):
        refused = texts.DOCS_NEED_FILE if file is None else texts.FILE_TOO_BIG
        await prompts.ask_again(message, fsm_storage, bot, prompt, refused)
        return
    document_id = int(prompt.data.get("document_id") or 0)
    if not document_id:
        await prompts.ask(
            bot,
            fsm_storage,
            message.chat.id,
            admin,
            TITLE,
            texts.DOCS_ASK_TITLE,
            {"file": file},
            thread_id=message.message_thread_id,
        )
        return
    async with db.write() as session:
        document = await guide_docs.replace(session, document_id, file, admin.id)
        title = document.title if document is not None else None
    await prompts.forget(fsm_storage, bot, message.chat.id, admin.id)
    await message.answer(texts.docs_replaced(title) if title else texts.DOCS_GONE)
    await _show(bot, db, message.chat.id, message.message_thread_id)


async def _add(
    bot: Bot,
    db: Database,
    chat_id: int,
    thread_id: int | None,
    admin_id: int,
    prompt: prompts.Prompt,
    title: str,
) -> None:
    file = prompt.data.get("file")
    async with db.write() as session:
        added = await guide_docs.add(session, title, dict(file or {}), admin_id)
    said = texts.docs_added(title) if added is not None else texts.DOCS_FULL
    await bot.send_message(chat_id, said, message_thread_id=thread_id)
    await _show(bot, db, chat_id, thread_id)


async def on_title(
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
    title = " ".join(answer.split())
    refused = prompts.refusal(prompt, title)
    if refused is not None or not isinstance(prompt.data.get("file"), dict):
        await prompts.ask_again(message, fsm_storage, bot, prompt, refused or texts.DOCS_NEED_FILE)
        return
    await prompts.forget(fsm_storage, bot, message.chat.id, admin.id)
    await _add(bot, db, message.chat.id, message.message_thread_id, admin.id, prompt, title)


async def on_title_stray(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    prompt: prompts.Prompt | None,
    answer: str,
    bot: Bot,
    db: Database,
    fsm_storage: BaseStorage,
) -> None:
    """«✅ Использовать это сообщение» in the group: that message is the title."""
    taken = await prompts.take_stray(query, callback_answer, prompt, answer)
    if taken is None or prompt is None:
        return
    message, title = taken
    await prompts.forget(fsm_storage, bot, message.chat.id, query.from_user.id)
    await _add(
        bot, db, message.chat.id, message.message_thread_id, query.from_user.id, prompt, title
    )


async def on_cancel(message: Message, bot: Bot, fsm_storage: BaseStorage) -> None:
    if message.from_user is not None:
        await prompts.forget(fsm_storage, bot, message.chat.id, message.from_user.id)
    await message.reply(texts.DOCS_CANCELLED)


def docs_router() -> Router:
    router = Router(name="docs")
    router.message.register(on_cancel, Command("cancel"), prompts.PendingPrompt(FILE, TITLE))
    router.message.register(on_file, prompts.AnswersPrompt(FILE))
    router.message.register(prompts.on_file_past, prompts.FilePastPrompt(FILE))
    router.message.register(on_title, prompts.AnswersPrompt(TITLE))
    router.message.register(prompts.on_written_past, prompts.WrittenPastPrompt(TITLE))
    router.callback_query.register(on_title_stray, *prompts.stray_button(TITLE))
    router.message.register(on_docs, Command("docs"))
    buttons: dict[str, Callable[..., Awaitable[None]]] = {
        DocsAction.ADD: on_add,
        DocsAction.REPLACE: on_replace,
        DocsAction.REMOVE: on_remove,
    }
    for action, handler in buttons.items():
        router.callback_query.register(handler, DocsCb.filter(F.action == action))
    return router
