"""`/mydata` and «Какие мои данные хранятся» under «Мои заявки»: everything the bot keeps
about the person who asks (services/mydata.py), to that person only, in a private chat; a
message, or a text file when it would not fit into one."""

from __future__ import annotations

from html import escape

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import texts
from bot.callbacks import MyDataCb
from db.database import Database
from services import mydata

MESSAGE_LIMIT = 4000
DRAFT_FIELDS = ("snils", "full_name", "email", "org_full", "position")


def _who(who: str) -> str:
    if who == mydata.YOU:
        return texts.MYDATA_YOU
    if who == mydata.CHAT:
        return texts.VIEW_NOBODY
    if who == mydata.SERVER:
        return texts.VIEW_SERVER
    if who == mydata.SYSTEM:
        return texts.MYDATA_SYSTEM
    return texts.MYDATA_ROLE_NAMES.get(who, texts.MYDATA_STAFF)


async def send_mydata(bot: Bot, db: Database, state: FSMContext, user_id: int) -> None:
    async with db.read() as session:
        data = await mydata.collect(session, user_id)
    draft_data = await state.get_data()
    draft = [
        ("org_full_name" if k == "org_full" else k, str(draft_data[k]))
        for k in DRAFT_FIELDS
        if draft_data.get(k)
    ]
    text = texts.mydata(
        data.requests,
        data.consents,
        [(n, at, _who(who), action, via) for n, at, who, action, via in data.events],
        data.ticket,
        data.claims,
        data.reminders,
        draft,
        data.erasures,
        user_id,
    )
    html = f"<pre>{escape(text)}</pre>"
    # Telegram counts the shown text in UTF-16 units (an emoji is two): a message only when
    # it fits there; MAX splits a long one by itself (bot/max/render.py).
    if len(text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT:
        await bot.send_message(user_id, html)
        return
    await bot.send_document(
        user_id,
        BufferedInputFile(text.encode("utf-8"), filename=texts.MYDATA_FILE_NAME),
        caption=texts.MYDATA_FILE_NOTE,
    )


async def on_mydata(message: Message, bot: Bot, db: Database, state: FSMContext) -> None:
    if message.from_user is None:
        return
    await send_mydata(bot, db, state, message.from_user.id)


async def on_mydata_button(
    query: CallbackQuery,
    callback_data: MyDataCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    db: Database,
    state: FSMContext,
) -> None:
    await send_mydata(bot, db, state, query.from_user.id)


def mydata_router() -> Router:
    router = Router(name="mydata")
    router.message.register(on_mydata, Command("mydata"))
    router.callback_query.register(on_mydata_button, MyDataCb.filter())
    return router
