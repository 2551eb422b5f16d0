"""The operators' desk in a group without topics (every MAX group; a Telegram group that is not
a forum): each consultation is a chain of replies under its header, an operator's reply to
any message of the chain reaches the person, /thread shows one consultation, and a withdrawal
deletes the bot's messages of the chain."""

from __future__ import annotations

from aiogram.methods import CopyMessage, DeleteMessage, SendMessage
from aiogram.types import User

from bot import texts
from db.database import Database
from db.models import AccessRequest
from services import requests, staff
from tests.conftest import ADMIN_ID, SUPPORT_CHAT_ID
from tests.support.harness import ChatUser, Harness, Sent
from tests.test_dialog_question import OPERATOR_ID, copies_to, thread
from tests.test_requests_service import NEW


async def plain_desk(harness: Harness, db: Database) -> ChatUser:
    """The support chat stays a plain group; an operator in it."""
    async with db.write() as session:
        await staff.add(session, ADMIN_ID, OPERATOR_ID, staff.StaffRole.OPERATOR)
    return harness.member(OPERATOR_ID, SUPPORT_CHAT_ID, "Оператор")


def _replies_to(harness: Harness, message_id: int) -> list[object]:
    return [
        call
        for call in harness.session.calls
        if isinstance(call, SendMessage | CopyMessage)
        and getattr(call, "chat_id", None) == SUPPORT_CHAT_ID
        and call.reply_parameters is not None
        and call.reply_parameters.message_id == message_id
    ]


async def test_a_consultation_is_one_header_with_the_persons_messages_replying_to_it(
    harness: Harness, db: Database
) -> None:
    await plain_desk(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Как выбрать роль?")
    await user.send("/help")
    await user.send("И где посмотреть СНИЛС?")
    found = await thread(db)
    assert found.topic_id is None and found.header_message_id is not None
    headers = [s for s in harness.session.in_chat(SUPPORT_CHAT_ID) if "Заявок пока нет" in s.plain]
    assert len(headers) == 1  # posted once, not with every question
    assert "Telegram, id 1001" in headers[0].plain
    assert headers[0].plain.endswith("\n\nКак выбрать роль?")  # the first question inside it
    copies = [c for c in harness.session.calls if isinstance(c, CopyMessage)]
    assert len(copies) == 1
    assert len(_replies_to(harness, found.header_message_id)) == 1  # the second, under it


async def asked_in_a_chain(harness: Harness, db: Database) -> tuple[ChatUser, ChatUser, Sent]:
    """An operator in a plain group, a person who asked there, and their thread's header."""
    operator = await plain_desk(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Как выбрать роль?")
    header_id = (await thread(db)).header_message_id
    assert header_id is not None
    return operator, user, harness.session.messages[(SUPPORT_CHAT_ID, header_id)]


async def test_an_operator_reply_to_the_header_or_a_question_reaches_the_person(
    harness: Harness, db: Database
) -> None:
    operator, user, header = await asked_in_a_chain(harness, db)
    await operator.send("Выберите должность — роль предложит бот.", reply_to=header)
    assert len(copies_to(harness, user.id)) == 1
    await user.send("Как выбрать роль?")  # after the header: copied, as a reply to it
    question = [c for c in harness.session.copies if c.chat_id == SUPPORT_CHAT_ID][-1]
    # The copied question as the operator's client shows it (the harness keeps only copies
    # with buttons): a reply to it names the copy's id.
    copied = Sent(
        SUPPORT_CHAT_ID, question.new_id, "Как выбрать роль?", "Как выбрать роль?", [], None
    )
    await operator.send("И ещё одно.", reply_to=copied)
    assert len(copies_to(harness, user.id)) == 2
    assert (await thread(db)).waiting_since is None


async def test_a_reply_to_a_bot_message_of_no_consultation_is_not_lost_in_silence(
    harness: Harness, db: Database
) -> None:
    operator, user, header = await asked_in_a_chain(harness, db)
    # A connection dropped after Telegram took the header: the bot posted it again, and the
    # first copy, which the bot never learnt of, is what the operator replies to.
    twin = Sent(SUPPORT_CHAT_ID, header.message_id + 1000, header.html, header.plain, [], None)
    answered = await operator.send("Выберите должность — роль предложит бот.", reply_to=twin)
    assert copies_to(harness, user.id) == []
    assert answered[-1].plain == texts.ANSWER_NOT_LINKED
    assert (await thread(db)).waiting_since is not None

    # Told, the operator replies to the header the bot knows: the answer goes.
    await operator.send("Выберите должность — роль предложит бот.", reply_to=header)
    assert len(copies_to(harness, user.id)) == 1
    # Talk in the group that replies to none of the bot's messages stays unremarked: a plain
    # message, and a reply to a colleague's message.
    assert await operator.send("Коллеги, кто возьмёт следующий?") == []
    to_colleague = operator.message_update("Беру", reply_to=twin)
    assert to_colleague.message is not None and to_colleague.message.reply_to_message is not None
    colleague = User(id=OPERATOR_ID + 1, is_bot=False, first_name="Коллега")
    quoted = to_colleague.message.reply_to_message.model_copy(update={"from_user": colleague})
    message = to_colleague.message.model_copy(update={"reply_to_message": quoted})
    before = len(harness.session.in_chat(SUPPORT_CHAT_ID))
    await harness.feed(to_colleague.model_copy(update={"message": message}))
    assert len(harness.session.in_chat(SUPPORT_CHAT_ID)) == before


async def test_thread_command_shows_one_consultation(harness: Harness, db: Database) -> None:
    operator = await plain_desk(harness, db)
    async with db.write() as session:
        submitted = await requests.submit(session, NEW)
    assert isinstance(submitted, requests.Submitted)
    asker = harness.user(NEW.account_id, "Мария")
    await asker.send("/help")
    await asker.send("Когда рассмотрят?")
    number = submitted.request.id
    sent = await operator.send(f"/thread {number}")
    assert f"№ {number}" in sent[-1].plain and "Обращение открыто" in sent[-1].plain
    header_id = (await thread(db, NEW.account_id)).header_message_id
    assert header_id is not None and _replies_to(harness, header_id)  # points at its start
    sent = await operator.send("/thread 999999")
    assert sent[-1].plain == texts.THREAD_NOT_FOUND
    sent = await operator.send("/thread abc")
    assert sent[-1].plain == texts.THREAD_USAGE
    async with db.read() as session:
        assert await session.get(AccessRequest, number) is not None


async def test_withdrawal_deletes_the_bots_messages_of_the_chain(
    harness: Harness, db: Database
) -> None:
    await plain_desk(harness, db)
    user = harness.user()
    await user.send("/help")
    await user.send("Как выбрать роль?")  # inside the header
    await user.send("И где посмотреть СНИЛС?")  # a copy replying to it
    header_id = (await thread(db)).header_message_id
    copies = [c.new_id for c in harness.session.copies if c.chat_id == SUPPORT_CHAT_ID]
    assert header_id is not None and len(copies) == 1
    await user.send("/withdraw")
    await user.press(texts.BTN_WITHDRAW_CONFIRM)
    deleted = [
        int(c.message_id)
        for c in harness.session.calls
        if isinstance(c, DeleteMessage) and c.chat_id == SUPPORT_CHAT_ID
    ]
    assert deleted == [header_id, *copies]  # each once: the header is a question's relay too
