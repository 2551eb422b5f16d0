"""«Reply to this prompt»: the one way the bot waits for a typed answer to a question of its
own — an admin's reason or comment on a card, an organisation's reason for declining a
request, the text of a broadcast.

A prompt is kept per chat and person, in an FSM destiny of its own (`DESTINY`), so it never
touches the person's own dialog (an admin may be half-way through a request of their own).
It says what it is for (`kind`), carries what the answer is applied to (`data`), remembers
the prompt message and lapses after its kind's time limit.

What counts as the answer:
- in a private chat, the person's next text message, a reply to the prompt or not: there is
  nobody else there, and a reason typed as an ordinary message is meant as the reason;
- in a group, a reply to the prompt (Telegram's ForceReply opens one; on MAX a reply made
  with the message's «Ответить»). A message written past the prompt is not taken silently:
  the person is told how to answer and offered «✅ Использовать это сообщение», which takes it.
Commands are never answers; /cancel forgets the prompt. An empty or too long answer is refused
with the kind's own words, and the prompt stays.

The prompt is read once per message (`PromptMiddleware`); the filters below only look at it.
The handlers that apply an answer live in their wing, whose parent router checks the
person's rights first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    User,
)
from aiogram.utils.callback_answer import CallbackAnswer
from pydantic import BaseModel, Field

from bot import texts
from db.models import utcnow

DESTINY = "prompt"
STRAY_KEPT = 5  # the person's latest messages written past the prompt that can still be taken


@dataclass(frozen=True)
class PromptKind:
    """What a prompt waits for: its time limit and how long an answer may be."""

    name: str
    ttl: timedelta
    limit: int
    too_long: str
    empty: str


class Prompt(BaseModel):
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)
    prompt_id: int
    at: datetime
    # Messages written past the prompt in a group (id → text), offered as the answer.
    stray: dict[str, str] = Field(default_factory=dict)


class PromptCb(CallbackData, prefix="pr"):
    """«✅ Использовать это сообщение» under the hint: take that message as the answer."""

    kind: str
    message_id: int


KINDS: dict[str, PromptKind] = {}


def kind(name: str, ttl: timedelta, limit: int, too_long: str, empty: str) -> PromptKind:
    """Declare a kind of prompt (once, where its answers are applied)."""
    declared = PromptKind(name, ttl, limit, too_long, empty)
    KINDS[name] = declared
    return declared


def _context(storage: BaseStorage, bot: Bot, chat_id: int, user_id: int) -> FSMContext:
    key = StorageKey(bot_id=bot.id, chat_id=chat_id, user_id=user_id, destiny=DESTINY)
    return FSMContext(storage=storage, key=key)


def _alive(prompt: Prompt) -> bool:
    declared = KINDS.get(prompt.kind)
    return declared is not None and utcnow() - prompt.at < declared.ttl


async def stored(storage: BaseStorage, bot: Bot, chat_id: int, user_id: int) -> Prompt | None:
    """The person's prompt in this chat, lapsed or not (a lapsed one can still be cancelled)."""
    data = await _context(storage, bot, chat_id, user_id).get_data()
    if not data:
        return None
    try:
        return Prompt.model_validate(data)
    except ValueError:
        return None  # written by an older version: nothing to answer


async def pending(storage: BaseStorage, bot: Bot, chat_id: int, user_id: int) -> Prompt | None:
    """The person's prompt in this chat, if one waits and has not lapsed."""
    prompt = await stored(storage, bot, chat_id, user_id)
    return prompt if prompt is not None and _alive(prompt) else None


async def ask(
    bot: Bot,
    storage: BaseStorage,
    chat_id: int,
    person: User,
    what: PromptKind,
    text: str,
    data: dict[str, Any],
    *,
    thread_id: int | None = None,
) -> None:
    """Send the prompt and wait for its answer (a previous prompt of this person here lapses).
    In a group the prompt names the person, so the selective ForceReply opens their reply box
    and nobody else's."""
    if chat_id != person.id:
        text = texts.addressed(texts.mention(person.id, person.full_name), text)
    sent = await bot.send_message(
        chat_id,
        text,
        reply_markup=ForceReply(force_reply=True, selective=True, input_field_placeholder="…"),
        message_thread_id=thread_id,
    )
    prompt = Prompt(kind=what.name, data=data, prompt_id=sent.message_id, at=utcnow())
    await _context(storage, bot, chat_id, person.id).set_data(prompt.model_dump(mode="json"))


async def ask_again(
    message: Message, storage: BaseStorage, bot: Bot, prompt: Prompt, text: str
) -> None:
    """The answer was refused (empty, too long): say why, with a fresh prompt to reply to."""
    if message.from_user is None:
        return
    sent = await message.reply(
        text, reply_markup=ForceReply(force_reply=True, selective=True), parse_mode=None
    )
    again = prompt.model_copy(update={"prompt_id": sent.message_id, "at": utcnow()})
    await _context(storage, bot, message.chat.id, message.from_user.id).set_data(
        again.model_dump(mode="json")
    )


async def keep(storage: BaseStorage, bot: Bot, chat_id: int, user_id: int, prompt: Prompt) -> None:
    """Store the prompt with its data changed: an answer that comes in parts (the pages of a
    signed form, photo by photo) is gathered in it."""
    await _context(storage, bot, chat_id, user_id).set_data(prompt.model_dump(mode="json"))


async def forget(storage: BaseStorage, bot: Bot, chat_id: int, user_id: int) -> bool:
    """Forget the person's prompt in this chat; True if there was one."""
    context = _context(storage, bot, chat_id, user_id)
    had = bool(await context.get_data())
    if had:
        await context.clear()
    return had


def answer_of(message: Message) -> str:
    """The answer as typed (its line breaks kept: a broadcast's text needs them)."""
    return (message.text or "").strip()


def refusal(prompt: Prompt, text: str) -> str | None:
    """Why this text cannot be the answer (the kind's own words), or None."""
    declared = KINDS[prompt.kind]
    if not text:
        return declared.empty
    if len(text) > declared.limit:
        return declared.too_long
    return None


async def take_stray(
    query: CallbackQuery, callback_answer: CallbackAnswer, prompt: Prompt | None, answer: str
) -> tuple[Message, str] | None:
    """«✅ Использовать это сообщение»: the message pressed under and the answer taken, its
    button removed; None (the press answered with why) when there is nothing to take."""
    message = query.message if isinstance(query.message, Message) else None
    answer = " ".join(answer.split())
    if prompt is None or message is None or not answer:
        callback_answer.text = texts.STALE_BUTTON
        return None
    refused = refusal(prompt, answer)
    if refused is not None:
        callback_answer.text = refused
        return None
    with contextlib.suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)
    return message, answer


# --- reading the prompt once per message --------------------------------------------------


def _may_answer(message: Message) -> bool:
    """Only text that is not a command can be an answer (or be offered as one)."""
    return (
        message.from_user is not None
        and message.text is not None
        and not message.text.startswith("/")
    )


class PromptMiddleware(BaseMiddleware):
    """Puts the sender's prompt in this chat (or None; a lapsed one too, for /cancel) into the
    handlers' data as `prompt`, read once, and only for a message that could answer it."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        data["prompt"] = None
        if isinstance(event, Message) and event.from_user is not None:
            text = event.text or ""
            if (
                _may_answer(event)
                or text.split(maxsplit=1)[:1] == ["/cancel"]
                or event.text is None
            ):
                data["prompt"] = await stored(
                    data["fsm_storage"], data["bot"], event.chat.id, event.from_user.id
                )
        return await handler(event, data)


class AnswersPrompt(Filter):
    """The awaited answer to a prompt of one of `kinds`: in a private chat the next message,
    in a group a reply to the prompt itself. Hands `prompt` and `answer` (the text, spaces
    trimmed) to the handler."""

    def __init__(self, *kinds: PromptKind) -> None:
        self.kinds = {k.name for k in kinds}

    async def __call__(
        self, message: Message, prompt: Prompt | None = None
    ) -> bool | dict[str, Any]:
        if prompt is None or prompt.kind not in self.kinds or not _alive(prompt):
            return False
        if message.text is not None and message.text.startswith("/"):
            return False
        reply = message.reply_to_message
        if message.chat.type != "private" and (
            reply is None or reply.message_id != prompt.prompt_id
        ):
            return False
        return {"prompt": prompt, "answer": answer_of(message)}


class WrittenPastPrompt(Filter):
    """In a group, a text by the person the prompt waits for that is not the reply it waits
    for (`AnswersPrompt` is registered first)."""

    def __init__(self, *kinds: PromptKind) -> None:
        self.kinds = {k.name for k in kinds}

    async def __call__(
        self, message: Message, prompt: Prompt | None = None
    ) -> bool | dict[str, Any]:
        if prompt is None or prompt.kind not in self.kinds or message.chat.type == "private":
            return False
        if not _alive(prompt):
            return False
        return _may_answer(message) and {"prompt": prompt}


class FilePastPrompt(Filter):
    """In a group, a document or photo by the person a file prompt waits for that is not the
    reply it waits for: said how to send it (a file written past cannot be offered back as
    a text can)."""

    def __init__(self, *kinds: PromptKind) -> None:
        self.kinds = {k.name for k in kinds}

    async def __call__(
        self, message: Message, prompt: Prompt | None = None
    ) -> bool | dict[str, Any]:
        if prompt is None or prompt.kind not in self.kinds or message.chat.type == "private":
            return False
        if not _alive(prompt) or not (message.document or message.photo):
            return False
        reply = message.reply_to_message
        return (reply is None or reply.message_id != prompt.prompt_id) and {"prompt": prompt}


async def on_file_past(message: Message) -> None:
    """Say that the file is awaited as a reply to the prompt."""
    if message.from_user is None:
        return
    who = texts.mention(message.from_user.id, message.from_user.full_name)
    await message.reply(texts.file_hint(who))


class PendingPrompt(Filter):
    """The person has a prompt of one of `kinds` here, lapsed or not (for /cancel)."""

    def __init__(self, *kinds: PromptKind) -> None:
        self.kinds = {k.name for k in kinds}

    async def __call__(
        self, message: Message, prompt: Prompt | None = None
    ) -> bool | dict[str, Any]:
        return prompt is not None and prompt.kind in self.kinds and {"prompt": prompt}


class TakesStrayMessage(Filter):
    """The person the prompt waits for pressed «✅ Использовать это сообщение» (registered
    after `PromptCb.filter()` by `stray_button`): hands `prompt` (None when it lapsed or was
    answered meanwhile) and `answer` (the message offered) to the handler."""

    async def __call__(
        self, query: CallbackQuery, callback_data: PromptCb, fsm_storage: BaseStorage, bot: Bot
    ) -> dict[str, Any]:
        if not isinstance(query.message, Message):
            return {"prompt": None, "answer": ""}
        prompt = await pending(fsm_storage, bot, query.message.chat.id, query.from_user.id)
        if prompt is None or prompt.kind != callback_data.kind:
            return {"prompt": None, "answer": ""}
        return {"prompt": prompt, "answer": prompt.stray.get(str(callback_data.message_id), "")}


def stray_button(*kinds: PromptKind) -> tuple[Filter, ...]:
    """The filters of the «✅ Использовать это сообщение» handler of these kinds."""
    names = [k.name for k in kinds]
    return (PromptCb.filter(F.kind.in_(names)), TakesStrayMessage())


async def on_written_past(
    message: Message, prompt: Prompt, fsm_storage: BaseStorage, bot: Bot
) -> None:
    """Say how to answer the prompt, and offer to take this message as the answer."""
    if message.from_user is None or message.text is None:
        return
    kept = dict(list(prompt.stray.items())[-(STRAY_KEPT - 1) :])
    kept[str(message.message_id)] = message.text
    updated = prompt.model_copy(update={"stray": kept})
    await _context(fsm_storage, bot, message.chat.id, message.from_user.id).set_data(
        updated.model_dump(mode="json")
    )
    use = InlineKeyboardButton(
        text=texts.BTN_USE_AS_INPUT,
        callback_data=PromptCb(kind=prompt.kind, message_id=message.message_id).pack(),
    )
    who = texts.mention(message.from_user.id, message.from_user.full_name)
    await message.reply(
        texts.input_hint(who, prompt.kind, prompt.data.get("request_id")),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[use]]),
    )
