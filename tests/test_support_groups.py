"""Several Telegram support groups (SUPPORT_EXTRA_CHAT_IDS): each group takes 20 of the bot's
messages a minute, so a busy day's questions are spread across them, person by person."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot import texts
from bot.config import Settings
from bot.dispatcher import build_dispatcher
from bot.guard import Refused, check_settings
from bot.outbound import support_desk
from db.database import Database
from db.models import SupportThread, utcnow
from services import staff
from services.accounts import Messenger, account_key
from services.role_matrix import RoleMatrix
from tests.conftest import ADMIN_ID, SUPPORT_CHAT_ID, make_settings
from tests.support.harness import Harness
from tests.test_dialog_question import under_header

SECOND = SUPPORT_CHAT_ID - 1
THIRD = SUPPORT_CHAT_ID - 2
OPERATOR_ID = 900777
# The person's id picks the group: 1002 the first, 1001 the second of two.
IN_MAIN, IN_SECOND = 1002, 1001


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, support_extra_chat_ids=[SECOND])


async def thread_of(db: Database, user_id: int) -> SupportThread:
    async with db.read() as session:
        found = await session.get(SupportThread, user_id)
    assert found is not None
    return found


def test_the_setting_lists_groups_and_spreads_people() -> None:
    settings = Settings(
        support_chat_id=SUPPORT_CHAT_ID,
        support_extra_chat_ids=f"{SECOND}; {THIRD}, {SECOND}, {SUPPORT_CHAT_ID}",
        max_support_chat_id=-77,
        _env_file=None,  # type: ignore[call-arg]
    )
    max_desk = account_key(Messenger.MAX, -77)
    # A group named twice is one group: it would otherwise take two shares of the people.
    assert settings.support_chats == [SUPPORT_CHAT_ID, SECOND, THIRD, max_desk]
    people = range(1000, 1300)
    desks = [settings.support_chat_for(person) for person in people]
    assert {desk: desks.count(desk) for desk in set(desks)} == {
        SUPPORT_CHAT_ID: 100,
        SECOND: 100,
        THIRD: 100,
    }
    assert [settings.support_chat_for(p) for p in people] == desks  # the same person, same group
    # A person on MAX still goes to the group on their own messenger.
    assert settings.support_chat_for(account_key(Messenger.MAX, 1001)) == max_desk


@pytest.mark.parametrize(
    ("values", "refusal"),
    [
        ({"support_extra_chat_ids": [SECOND]}, texts.SUPPORT_EXTRA_WITHOUT_MAIN),
        (
            {"support_chat_id": SUPPORT_CHAT_ID, "support_extra_chat_ids": [123]},
            texts.SUPPORT_EXTRA_NOT_GROUPS,
        ),
        (
            {
                "support_chat_id": SUPPORT_CHAT_ID,
                "support_extra_chat_ids": [account_key(Messenger.MAX, -5)],
            },
            texts.SUPPORT_EXTRA_NOT_GROUPS,
        ),
        (
            {
                "support_chat_id": SUPPORT_CHAT_ID,
                "admin_chat_id": SECOND,
                "support_extra_chat_ids": [SECOND],
            },
            texts.SUPPORT_EXTRA_IS_ANOTHER_CHAT,
        ),
        (
            {
                "support_chat_id": SUPPORT_CHAT_ID,
                "report_chat_id": THIRD,
                "support_extra_chat_ids": [SECOND, THIRD],
            },
            texts.SUPPORT_EXTRA_IS_ANOTHER_CHAT,
        ),
    ],
)
def test_extra_groups_that_cannot_work_are_refused_at_start(
    values: dict[str, object], refusal: str
) -> None:
    settings = Settings(bot_token="42:x", _env_file=None, **values)  # type: ignore[call-arg]
    with pytest.raises(Refused) as refused:
        check_settings(settings, is_sqlite=True)
    assert str(refused.value) == refusal


async def test_each_person_asks_and_is_answered_in_their_own_group(
    harness: Harness, db: Database
) -> None:
    harness.session.forum_chats.update({SUPPORT_CHAT_ID, SECOND})
    async with db.write() as session:
        await staff.add(session, ADMIN_ID, OPERATOR_ID, staff.StaffRole.OPERATOR)
    first = harness.user(IN_MAIN, "Анна")
    second = harness.user(IN_SECOND, "Мария")
    names = {IN_MAIN: "Анна", IN_SECOND: "Мария"}
    for person in (first, second):
        await person.send("/help")
        await person.send(f"Вопрос от {names[person.id]}")

    threads = {p.id: await thread_of(db, p.id) for p in (first, second)}
    assert {uid: t.chat_id for uid, t in threads.items()} == {
        IN_MAIN: SUPPORT_CHAT_ID,
        IN_SECOND: SECOND,
    }
    for person in (first, second):
        chat = threads[person.id].chat_id
        asked = [s for s in harness.session.in_chat(chat) if "Вопрос от" in s.plain]
        assert [s.thread_id for s in asked] == [threads[person.id].topic_id]
        assert f"Вопрос от {names[person.id]}" in asked[0].plain

    # An operator answers in each group's topic; each answer reaches its own person only.
    for person, word in ((second, "второй"), (first, "первой")):
        thread = threads[person.id]
        operator = harness.member(OPERATOR_ID, thread.chat_id, "Оператор")
        await operator.send(f"Ответ из {word} группы", thread_id=thread.topic_id)
    answers = {
        p.id: [c.from_chat_id for c in harness.session.copies if c.chat_id == p.id]
        for p in (first, second)
    }
    assert answers == {IN_MAIN: [SUPPORT_CHAT_ID], IN_SECOND: [SECOND]}

    # Each group's /tickets lists the consultations answered there, not the other group's.
    for chat, shown, hidden in ((SUPPORT_CHAT_ID, "Анна", "Мария"), (SECOND, "Мария", "Анна")):
        listed = (await harness.member(OPERATOR_ID, chat, "Оператор").send("/tickets"))[-1]
        assert shown in listed.plain and hidden not in listed.plain


async def test_a_consultation_stays_in_its_group_when_groups_are_added(
    harness: Harness, db: Database, database_url: str
) -> None:
    person = harness.user(IN_SECOND)
    await person.send("/help")
    await person.send("Первый вопрос")
    assert (await thread_of(db, IN_SECOND)).chat_id == SECOND

    # A third group is added: by its id the person would now go to THIRD, but their
    # consultation goes on where it began, with the operators who know it.
    more = make_settings(database_url, support_extra_chat_ids=[SECOND, THIRD])
    assert more.support_chat_for(IN_SECOND) == THIRD
    async with db.write() as session:
        await support_desk.enqueue_question(session, more, IN_SECOND, "Мария", 7, None)
    assert (await thread_of(db, IN_SECOND)).chat_id == SECOND

    # Its group is taken out of the settings: the consultation moves to a configured one.
    fewer = make_settings(database_url)
    async with db.write() as session:
        await support_desk.enqueue_question(session, fewer, IN_SECOND, "Мария", 8, None)
    assert (await thread_of(db, IN_SECOND)).chat_id == SUPPORT_CHAT_ID


def test_extra_groups_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SUPPORT_CHAT_ID", str(SUPPORT_CHAT_ID))
    monkeypatch.setenv("SUPPORT_EXTRA_CHAT_IDS", f"{SECOND},{THIRD}")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.support_chats == [SUPPORT_CHAT_ID, SECOND, THIRD]


async def test_a_waiting_consultation_whose_group_was_removed_moves_where_it_is_answered(
    harness: Harness, db: Database, database_url: str, role_matrix: RoleMatrix
) -> None:
    person = harness.user(IN_SECOND)
    await person.send("/help")
    await person.send("Где взять код подразделения?")
    assert (await thread_of(db, IN_SECOND)).chat_id == SECOND
    async with db.write() as session:
        await session.execute(
            update(SupportThread).values(waiting_since=utcnow() - timedelta(hours=5))
        )

    # The busy day is over: the second group is taken out of the settings, the question
    # still unanswered. Nobody can answer it there any more.
    fewer = make_settings(database_url)
    after = Harness(build_dispatcher(fewer, db, role_matrix))
    async with db.write() as session:
        await staff.add(session, ADMIN_ID, OPERATOR_ID, staff.StaffRole.OPERATOR)
    operator = after.member(OPERATOR_ID, SUPPORT_CHAT_ID, "Оператор")
    listed = (await operator.send("/tickets"))[-1].plain
    assert "Мария" in listed  # listed where it will be answered, not lost between groups

    async with db.write() as session:
        assert await support_desk.enqueue_overdue(session, fewer) == 1
    await after.deliver()
    assert (await thread_of(db, IN_SECOND)).chat_id == SUPPORT_CHAT_ID
    sent = after.session.in_chat(SUPPORT_CHAT_ID)
    header = next(s for s in sent if s.plain.startswith("👤"))
    # The new header shows the question again, and the reminder follows it.
    assert (
        under_header(header.plain) == f"{texts.question_note(None)}\n\nГде взять код подразделения?"
    )
    assert any("ждёт ответа 5.0 ч" in s.plain for s in sent)
    assert after.session.in_chat(SECOND) == []

    await operator.send("Код есть в выписке ФРМО", reply_to=header)
    assert [c.from_chat_id for c in after.session.copies if c.chat_id == IN_SECOND] == [
        SUPPORT_CHAT_ID
    ]
