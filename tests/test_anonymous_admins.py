"""An operator posting anonymously in the support chat (as the group: sender_chat set, author
GroupAnonymousBot) cannot be told apart from anyone else: nothing is relayed, and instead of
silence the operator is told how to answer, once per topic."""

from __future__ import annotations

from bot import texts
from db.database import Database
from tests.conftest import SUPPORT_CHAT_ID
from tests.support.admin import ADMIN_CHAT, admin, request_row, submitted
from tests.support.harness import Harness
from tests.test_dialog_question import copies_to, forum, thread


async def test_an_anonymous_answer_in_a_topic_is_not_relayed_and_the_operator_is_told(
    harness: Harness, db: Database
) -> None:
    operator = await forum(harness, db)
    first, second = harness.user(1001, "Мария"), harness.user(1002, "Пётр")
    for user in (first, second):
        await user.send("/help")
        await user.send("Когда одобрят заявку? Мой СНИЛС 112-233-445 95")
    topic_a, topic_b = (await thread(db, 1001)).topic_id, (await thread(db, 1002)).topic_id
    anonymous = harness.anonymous_admin(SUPPORT_CHAT_ID)

    sent = await anonymous.send("Завтра", thread_id=topic_a)
    assert [s.plain for s in sent] == [texts.ANONYMOUS_ADMIN]  # the same words for everyone
    assert sent[0].thread_id == topic_a  # in the topic, as a reply
    assert copies_to(harness, first.id) == []
    assert await anonymous.send("Ещё раз: завтра", thread_id=topic_a) == []  # told once here
    sent = await anonymous.send("Послезавтра", thread_id=topic_b)  # another topic: told there
    assert [s.plain for s in sent] == [texts.ANONYMOUS_ADMIN]
    for command in ("/close", "/close"):  # a command is answered every time, and not run
        sent = await anonymous.send(command, thread_id=topic_a)
        assert [s.plain for s in sent] == [texts.ANONYMOUS_ADMIN]
    assert (await thread(db, 1001)).status == "open"
    assert await anonymous.send("// заметка", thread_id=topic_a) == []
    assert await anonymous.send("Болтовня вне тем") == []
    assert copies_to(harness, first.id) == [] and copies_to(harness, second.id) == []

    # Not anonymous any more: the answer goes through.
    await operator.send("Завтра", thread_id=topic_a)
    assert len(copies_to(harness, first.id)) == 1


async def test_an_anonymous_reply_in_a_group_without_topics(harness: Harness, db: Database) -> None:
    user = harness.user()
    await user.send("/help")
    await user.send("Вопрос в обычную группу")
    copied = harness.session.in_chat(SUPPORT_CHAT_ID)[-1]  # the header, the question inside
    assert copied.plain.endswith("Вопрос в обычную группу")
    anonymous = harness.anonymous_admin(SUPPORT_CHAT_ID)
    sent = await anonymous.send("Ответ", reply_to=copied)
    assert [s.plain for s in sent] == [texts.ANONYMOUS_ADMIN]
    assert await anonymous.send("Ответ ещё раз", reply_to=copied) == []
    assert copies_to(harness, user.id) == []


async def test_an_anonymous_reason_in_the_admin_chat_is_not_taken(h: Harness, db: Database) -> None:
    await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_REJECT)
    await boss.press(texts.BTN_OTHER_REASON)
    prompt = boss.last
    anonymous = h.anonymous_admin(ADMIN_CHAT)
    sent = await anonymous.send("Не та организация", reply_to=prompt)
    assert [s.plain for s in sent] == [texts.ANONYMOUS_ADMIN]
    sent = await anonymous.send("/queue")
    assert [s.plain for s in sent] == [texts.ANONYMOUS_ADMIN]
    assert (await request_row(db)).status == "submitted"
    await boss.send("Не та организация", reply_to=prompt)
    assert (await request_row(db)).status == "rejected"
