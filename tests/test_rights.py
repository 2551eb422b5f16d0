"""Rights: what someone who is not staff can do with the bot's commands and buttons.

The named tests cover the checks that once had none (/export, /granted, /stats, /coverage;
fixing someone else's request; the SNILS in the support chat). `test_every_command_and_button`
walks whatever the dispatcher registers — every Command filter's commands, every CallbackData
prefix — so a command or button added later is covered without anyone adding it here: a
person who is not staff, in a private chat, as a member of the admin group and as a member of
the support group, sending every command and replaying every button the bot ever showed staff
or other applicants, changes nothing in the database, sees no one's personal data, gets every
press answered, and for a staff command or button gets «Нет доступа» or exactly what an unknown
command or button gets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import pytest
from aiogram import Dispatcher
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import BotCommand
from sqlalchemy import func, select

from bot import texts
from bot.callbacks import FixCb
from bot.outbound.org_desk import enqueue_application
from bot.prompts import DESTINY as PROMPT_DESTINY
from db.database import Database
from db.models import Base, ExportBatch, FsmRecord
from services import staff
from tests.conftest import ADMIN_ID, SUPPORT_CHAT_ID
from tests.support.admin import ADMIN_CHAT, admin, request_row, submitted
from tests.support.harness import BOT_ID, ChatUser, Harness, Sent
from tests.support.org import RESP_A1, org_id
from tests.test_dialog_question import OPERATOR_ID, forum, thread
from tests.test_export import approved, files

STRANGER = 777001
# What every applicant may use: the commands in the menu for everyone, and the buttons of the
# request dialog, the main menu, consent withdrawal, fixing a returned request, the FAQ and
# the rating. Anything else the routers register is staff-only; a new applicant command or
# button must be added here on purpose (the walk treats it as staff-only until then).
# /responsible and its buttons («ro»): anyone may ask to become an organisation's responsible
# person (an admin decides; test_org.py proves the asker gets no rights by asking).
# "md": «Какие мои данные хранятся» (/mydata): each person sees only their own data.
APPLICANT_COMMANDS = frozenset(texts.COMMANDS) | {"responsible"}
APPLICANT_PREFIXES = frozenset({"m", "my", "f", "w", "x", "fq", "r", "ro", "md"})
# What a viewer (chief specialists, the department) may use beyond that: the figures only.
VIEWER_COMMANDS = frozenset({"stats", "coverage", "report"})
ARGUMENTS = ("", "1", "2", "all", "batch 1", "иванова", f"add admin {STRANGER}", "remove 900002")


# --- the checks that once had no test -------------------------------------------------------


async def _stranger_contexts(h: Harness) -> list[ChatUser]:
    """Someone who is not staff: privately, in the admin group, and staff without the admin
    role (an operator) privately."""
    async with h.dp["db"].write() as session:
        await staff.add(session, ADMIN_ID, OPERATOR_ID, staff.StaffRole.OPERATOR)
    return [h.user(STRANGER, "Гость"), h.member(STRANGER, ADMIN_CHAT, "Гость"), h.user(OPERATOR_ID)]


@pytest.mark.parametrize(
    "command",
    [
        "/export",
        "/export all",
        "/export 1",
        "/granted 1 2",
        "/granted batch 1",
        "/stats",
        "/coverage",
        "/report",
        "/broadcast",
        "/broadcast status",
    ],
)
async def test_export_granted_stats_and_coverage_need_an_admin(
    h: Harness, db: Database, command: str
) -> None:
    await approved(h, 2)
    await admin(h).send("/export")  # batch 1, the requests exported
    sent_files = len(h.session.files)
    for person in await _stranger_contexts(h):
        sent = await person.send(command)
        assert [s.plain for s in sent] == [texts.NO_ACCESS], (command, person.chat.id)
    assert len(h.session.files) == sent_files  # no XLSX, CSV or chart to anyone
    assert [(await request_row(db, n)).status for n in (1, 2)] == ["exported", "exported"]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ExportBatch)) == 1


async def test_the_granted_button_needs_an_admin(h: Harness, db: Database) -> None:
    await approved(h, 1)
    boss = admin(h)
    await boss.send("/export")
    button, data = boss.find_button(texts.btn_granted(1))
    for person in await _stranger_contexts(h):
        replay = Sent(
            person.chat.id, button.message_id, button.html, button.plain, [], button.markup
        )
        h.session.messages[(replay.chat_id, replay.message_id)] = replay
        assert await person.press_data(replay, data) == []
        assert person.last_answer_text() == texts.NO_ACCESS
    assert (await request_row(db)).status == "exported"
    assert h.unanswered_callbacks() == []


async def test_fixing_someone_elses_request_shows_nothing(h: Harness, db: Database) -> None:
    await submitted(h)
    boss = admin(h)
    await boss.press(texts.BTN_RETURN)
    await boss.press("▫️ Эл. почта")
    await boss.press(texts.BTN_NEXT)
    await boss.reply("Иванова, укажите личную почту")
    attacker = h.user(STRANGER, "Гость")
    await attacker.send("/start")
    sent = await attacker.press_data(attacker.last, FixCb(request_id=1).pack())
    assert sent == [] and attacker.last_answer_text() == texts.FIX_NOT_AVAILABLE
    assert await h.dp.storage.get_state(StorageKey(BOT_ID, STRANGER, STRANGER)) is None
    assert not [s for s in h.session.in_chat(STRANGER) if "Иванова" in s.plain]
    assert (await request_row(db)).status == "returned"


@pytest.mark.parametrize("topics", [True, False], ids=["forum", "plain group"])
async def test_the_support_chat_sees_a_masked_snils_only(
    h: Harness, db: Database, topics: bool
) -> None:
    if topics:
        await forum(h, db)
    applicant = await submitted(h)
    await applicant.press(texts.BTN_ASK)
    await applicant.send("Когда одобрят?")
    await admin(h).press(texts.BTN_APPROVE)  # the header follows the decision
    in_support = [
        h.session.messages[(s.chat_id, s.message_id)].plain
        for s in h.session.in_chat(SUPPORT_CHAT_ID)
    ]
    assert any("***-***-445 95" in text for text in in_support)
    assert not [t for t in in_support if "112-233-445" in t or "11223344595" in t]


# --- the walk over everything the routers register -------------------------------------------


def registered(dp: Dispatcher) -> tuple[set[str], dict[str, type[CallbackData]]]:
    """Every command of every Command filter, and every CallbackData class, of every handler
    of every router the dispatcher includes."""
    commands: set[str] = set()
    prefixes: dict[str, type[CallbackData]] = {}
    for router in dp.chain_tail:
        for observer in router.observers.values():
            for handler in observer.handlers:
                for event_filter in handler.filters or ():
                    check = event_filter.callback
                    if isinstance(check, Command):
                        for command in check.commands:
                            if isinstance(command, re.Pattern):
                                pytest.fail(f"a regex command {command.pattern!r}: walk it too")
                            name = command.command if isinstance(command, BotCommand) else command
                            commands.add(name)
                    elif isinstance(check, CallbackQueryFilter):
                        prefixes[check.callback_data.__prefix__] = check.callback_data
    return commands, prefixes


def synthesized(cls: type[CallbackData]) -> list[str]:
    """Callback data of a class no scenario produced: every field filled in by its type, an
    action of every kind the class names."""
    values: dict[str, object] = {}
    actions: list[object] = [None]
    for name, field in cls.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, Enum):
            actions = [(name, member) for member in field.annotation]
        elif field.is_required():
            values[name] = "x" if field.annotation is str else 1
    packed = []
    for action in actions:
        fields = dict(values)
        if isinstance(action, tuple):
            fields[action[0]] = action[1]
        packed.append(cls(**fields).pack())  # type: ignore[arg-type]
    return packed


VICTIMS = {
    1001: ("112-233-445 95", "ivanova@example.ru"),
    1002: ("431-052-771 35", "petrova@example.ru"),
    1003: ("006-012-788 00", "smirnova@example.ru"),
}
SECRETS = (
    "Иванова",
    "Петровна",
    "ivanova",
    "petrova",
    "smirnova",
    "445 95",
    "11223344595",
    "771 35",
    "43105277135",
    "788 00",
    "00601278800",
    "Секретный вопрос",
    "Укажите личную почту",
)


async def populated(h: Harness, db: Database) -> dict[str, set[str]]:
    """Three applicants' requests in three states, a question in a support topic, and every
    staff keyboard shown; returns every callback data the bot showed, by prefix."""
    operator = await forum(h, db)
    # A responsible person of the victims' organisation (asked about each request), and
    # someone's application to become one (its card in the admin chat).
    organization = await org_id(db)
    async with db.write() as session:
        await staff.add(
            session, ADMIN_ID, RESP_A1, staff.StaffRole.RESPONSIBLE, organization_id=organization
        )
        _, application = await staff.apply_responsible(session, 881002, "Нина", organization)
        assert application is not None
        await enqueue_application(session, h.dp["settings"], application)
    for user_id, (snils, email) in VICTIMS.items():
        await submitted(h, user_id, snils=snils, email=email)
    boss = admin(h)
    # Request 3: approved and exported (a batch with its «доступ предоставлен» button).
    card3 = next(s for s in h.session.in_chat(ADMIN_CHAT) if "Заявка № 3" in s.plain)
    data = h.session.messages[(ADMIN_CHAT, card3.message_id)].button_data(texts.BTN_APPROVE)
    assert data is not None
    await boss.press_data(card3, data)
    await boss.send("/export")
    # Request 2: returned with a comment (the applicant's «Исправить» button).
    card2 = next(s for s in h.session.in_chat(ADMIN_CHAT) if "Заявка № 2" in s.plain)
    for button in (texts.BTN_RETURN, "▫️ Эл. почта"):
        current = h.session.messages[(ADMIN_CHAT, card2.message_id)]
        pressed = current.button_data(button)
        assert pressed is not None
        await boss.press_data(current, pressed)
    current = h.session.messages[(ADMIN_CHAT, card2.message_id)]
    pressed = current.button_data(texts.BTN_NEXT)
    assert pressed is not None
    await boss.press_data(current, pressed)
    await boss.reply("Укажите личную почту")
    # Request 1 stays submitted; its card shows every sub-keyboard once.
    for button in (
        texts.BTN_REJECT,
        texts.BTN_CARD_BACK,
        texts.BTN_RETURN,
        "▫️ ФИО",
        texts.BTN_CARD_BACK,
        texts.BTN_CHANGE_ROLE,
        texts.BTN_CARD_BACK,
    ):
        await boss.press(button)
    await boss.send("/queue")
    await boss.send("/find иванова")
    await boss.send("/staff")
    await boss.send("/staff org ЦРБ")
    await boss.send("/docs")  # the guide's documents: «➕ Добавить документ»
    # The responsible person's /org, every filter, a decline's prompt and its cancel; someone
    # asking to become one (the organisations to pick; sending is tested in test_org.py).
    responsible = h.user(RESP_A1)
    await responsible.send("/org")
    for key in ("wait", "ret", "appr", "gap", "all"):  # the one shown is marked «• »
        await responsible.press(texts.ORG_FILTERS[key])
    await responsible.press(texts.BTN_ORG_DECLINE)
    await responsible.press(texts.BTN_ORG_CANCEL)
    await h.user(881002).send("/responsible ЦРБ")
    # A question in the support chat, the operator's FAQ buttons, a closed ticket's rating.
    victim = h.user(1001)
    await victim.press(texts.BTN_ASK)
    await victim.send("Секретный вопрос")
    topic = (await thread(db, 1001)).topic_id
    await operator.send("/faq", thread_id=topic)
    await operator.send("/close", thread_id=topic)
    shown: dict[str, set[str]] = {}
    for sent in h.session.log:
        for row in (sent.markup or {}).get("inline_keyboard", []):
            for button in row:
                if "callback_data" in button:
                    data = button["callback_data"]
                    shown.setdefault(data.split(":")[0], set()).add(data)
    return shown


async def snapshot(db: Database) -> dict[str, list[str]]:
    """Every row of every table but the dialogs' FSM state (each person's own)."""
    rows: dict[str, list[str]] = {}
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            if table.name != FsmRecord.__tablename__:
                result = await session.execute(select(table))
                # A viewer's looks at the figures are recorded (staff events "viewed_…").
                rows[table.name] = sorted(
                    repr(tuple(row)) for row in result.all() if "'viewed_" not in repr(tuple(row))
                )
    return rows


@dataclass
class Seen:
    """What the bot did in answer to one update."""

    messages: list[tuple[int, str, tuple[str, ...]]]
    copies: int
    files: int
    answers: list[str | None]

    @property
    def text(self) -> str:
        return "\n".join([m[1] for m in self.messages] + [a or "" for a in self.answers])


class Walker:
    def __init__(self, h: Harness, db: Database) -> None:
        self.h = h
        self.db = db
        private = h.user(STRANGER, "Гость")
        self.contexts = {
            "private chat": (private, None),
            "admin group": (h.member(STRANGER, ADMIN_CHAT, "Гость"), None),
            "support group": (h.member(STRANGER, SUPPORT_CHAT_ID, "Гость"), None),
        }

    def in_topic(self, topic: int) -> None:
        member, _ = self.contexts["support group"]
        self.contexts["support topic"] = (member, topic)

    async def forget_own_state(self, person: ChatUser) -> None:
        """Each try starts afresh: the stranger's own dialog state is theirs to change."""
        storage = self.h.dp.storage
        for destiny in ("default", PROMPT_DESTINY):
            key = StorageKey(BOT_ID, person.chat.id, STRANGER, destiny=destiny)
            await storage.set_state(key, None)
            await storage.set_data(key, {})

    async def run(self, person: ChatUser, action: str, topic: int | None) -> Seen:
        await self.forget_own_state(person)
        session = self.h.session
        log, copies, files_before = len(session.log), len(session.copies), len(session.files)
        calls = len(session.calls)
        if action.startswith("press:"):
            data = action.removeprefix("press:")
            carrier = Sent(
                person.chat.id,
                999_999,
                "Кнопка",
                "Кнопка",
                [],
                {"inline_keyboard": [[{"text": "Кнопка", "callback_data": data}]]},
                topic,
            )
            session.messages[(carrier.chat_id, carrier.message_id)] = carrier
            await person.press_data(carrier, data)
        else:
            await person.send(action, thread_id=topic)
        new = session.log[log:]
        for other in new:
            assert other.chat_id == person.chat.id, (action, "wrote to another chat", other)
        assert all(c.chat_id == person.chat.id for c in session.copies[copies:]), action
        return Seen(
            [(s.chat_id, s.plain, tuple(s.buttons)) for s in new],
            len(session.copies) - copies,
            len(session.files) - files_before,
            [c.text for c in session.calls[calls:] if isinstance(c, AnswerCallbackQuery)],
        )


def denied_or_unknown(seen: Seen, unknown: Seen) -> bool:
    if seen == unknown:
        return True
    no_access = [m[1] for m in seen.messages] == [texts.NO_ACCESS] or seen.answers == [
        texts.NO_ACCESS
    ]
    return no_access and seen.copies == 0 and seen.files == 0 and len(seen.messages) <= 1


def tries(
    commands: set[str], shown: dict[str, set[str]], prefixes: dict[str, type[CallbackData]]
) -> Iterator[tuple[str, str, bool]]:
    """(what, action, staff-only) for every command with every argument, every button."""
    for command in sorted(commands):
        for argument in ARGUMENTS:
            text = f"/{command} {argument}".strip()
            yield command, text, command not in APPLICANT_COMMANDS
    for prefix, cls in sorted(prefixes.items()):
        for data in sorted(shown.get(prefix) or synthesized(cls)):
            yield f"button {prefix}", f"press:{data}", prefix not in APPLICANT_PREFIXES


@pytest.mark.parametrize("viewer", [False, True], ids=["not staff", "viewer"])
async def test_every_command_and_button_is_refused_to_someone_who_is_not_staff(
    h: Harness, db: Database, viewer: bool
) -> None:
    """Also as a viewer: every command and button but /stats, /coverage and /report refused,
    no full SNILS, e-mail or name seen anywhere (the figures included), nothing changed."""
    commands, prefixes = registered(h.dp)
    # The walk must see what is there (a broken introspection would prove nothing).
    assert {"queue", "export", "granted", "stats", "coverage", "staff", "close", "org"} <= commands
    assert {"report", "broadcast"} <= commands
    assert {"retention", "mydata"} <= commands and "retention" not in APPLICANT_COMMANDS
    assert "mydata" in APPLICANT_COMMANDS
    assert {"a", "q", "s", "g", "fq", "r", "x", "w", "o", "ro", "bc", "md", "gd"} <= set(prefixes)
    assert "docs" in commands and "docs" not in APPLICANT_COMMANDS
    shown = await populated(h, db)
    if viewer:
        async with db.write() as session:
            await staff.add(session, ADMIN_ID, STRANGER, staff.StaffRole.VIEWER)
    walker = Walker(h, db)
    walker.in_topic((await thread(db, 1001)).topic_id or 0)
    unknown = {
        (name, kind): await walker.run(person, action, topic)
        for name, (person, topic) in walker.contexts.items()
        for kind, action in (("command", "/zz_not_a_command 1"), ("button", "press:zz:1"))
    }
    before = await snapshot(db)
    failures: list[str] = []
    last_what = None
    for what, action, staff_only in tries(commands, shown, prefixes):
        if what != last_what and last_what is not None:
            after = await snapshot(db)
            if after != before:
                changed = [t for t in after if after[t] != before[t]]
                failures.append(f"{last_what}: the database changed ({changed})")
                before = after
        last_what = what
        kind = "button" if action.startswith("press:") else "command"
        if viewer and what in VIEWER_COMMANDS:
            staff_only = False  # theirs: only that nothing personal shows is checked
        for name, (person, topic) in walker.contexts.items():
            seen = await walker.run(person, action, topic)
            leaked = [s for s in SECRETS if s in seen.text]
            if leaked:
                failures.append(f"{action!r} in the {name}: shows {leaked}")
            if staff_only and not denied_or_unknown(seen, unknown[(name, kind)]):
                failures.append(f"{action!r} in the {name}: answered {seen.text[:120]!r}")
            if kind == "button" and seen.answers == []:
                failures.append(f"{action!r} in the {name}: the press is not answered")
    if await snapshot(db) != before:
        failures.append(f"{last_what}: the database changed")
    assert failures == []
    assert h.unanswered_callbacks() == []
    if viewer:  # besides the admin's export, only the viewer's figures, in their own chats
        assert {f.chat_id for f in h.session.files[2:]} <= {STRANGER, ADMIN_CHAT}
    else:
        assert files(h, ".xlsx") and len(h.session.files) == 2  # only the admin's own export
    assert (await request_row(db, 1)).status == "submitted"
