"""Rights on MAX: someone who is not staff, in their MAX dialog and in the admins' MAX group,
walks every command (with every argument) and every button the routers register, through
MaxSession against the MAX stand-in — as tests/test_rights.py walks them on Telegram. Each is
refused («Нет доступа», or the same answer as a command nobody has), no SNILS, e-mail or name
shows, nothing in the database changes, and every press is answered."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot import texts
from bot.config import Settings
from bot.max import MAX_BOT_ID
from bot.outbound.cards import announce_submitted
from bot.prompts import DESTINY as PROMPT_DESTINY
from db.database import Database
from services import requests
from services.accounts import Messenger, account_key
from services.role_matrix import RoleMatrix
from tests.support.max_harness import MaxHarness, max_harness
from tests.test_requests_service import NEW
from tests.test_rights import (
    SECRETS,
    registered,
    snapshot,
    synthesized,
)

STRANGER = 777002
ARGUMENTS = ("", "1", "all", "иванова", f"add admin max:{STRANGER}", "remove 900002")
APPLICANT_COMMANDS = frozenset(texts.COMMANDS) | {"responsible"}
APPLICANT_PREFIXES = frozenset({"m", "my", "f", "w", "x", "fq", "r", "ro", "md", "aq"})


Seen = tuple[list[str], list[str | None]]


class Walk:
    def __init__(self, mh: MaxHarness, group: int) -> None:
        self.mh = mh
        self.group = group
        self.key = account_key(Messenger.MAX, STRANGER)
        self.chats = {"dialog": None, "admins' group": group}

    def _chat_key(self, chat: int | None) -> int:
        return self.key if chat is None else account_key(Messenger.MAX, chat)

    async def forget_own_state(self, chat: int | None) -> None:
        """Each try starts afresh: the stranger's own dialog state is theirs to change."""
        storage = self.mh.dp.storage
        for destiny in ("default", PROMPT_DESTINY):
            key = StorageKey(MAX_BOT_ID, self._chat_key(chat), self.key, destiny=destiny)
            await storage.set_state(key, None)
            await storage.set_data(key, {})

    async def command(self, chat: int | None, text: str) -> Seen:
        await self.forget_own_state(chat)
        mark = len(self.mh.recorder.shown)
        await self.mh.feed_raw(self.mh.mx.push_message(STRANGER, text, chat_id=chat))
        shown = [s.text for s in self.mh.recorder.shown[mark:]]
        return shown, []

    async def press(self, chat: int | None, data: str) -> Seen:
        await self.forget_own_state(chat)
        where = self.mh.mx.dialog_chat_id(STRANGER) if chat is None else chat
        target = next(
            (m for m in reversed(list(self.mh.mx.messages.values())) if m.chat_id == where),
            None,
        )
        assert target is not None, "no message of the bot to press on"
        mark = len(self.mh.recorder.shown)
        callback = self.mh.mx.push_callback(STRANGER, target.mid, data)
        self.mh.presses.append(callback)
        await self.mh.feed_raw(self.mh.mx.updates[-1])
        shown = [s.text for s in self.mh.recorder.shown[mark:]]
        return shown, [self.mh.recorder.answered.get(callback)]


def refused(
    seen: tuple[list[str], list[str | None]], unknown: tuple[list[str], list[str | None]]
) -> bool:
    if seen == unknown:
        return True
    messages, answers = seen
    return (messages == [texts.NO_ACCESS] and answers in ([], [None])) or (
        messages == [] and answers == [texts.NO_ACCESS]
    )


@pytest.mark.usefixtures("organizations")
async def test_every_command_and_button_is_refused_to_a_stranger_on_max(
    db: Database, settings: Settings, role_matrix: RoleMatrix
) -> None:
    async with max_harness(db, settings, role_matrix) as mh:
        group = mh.mx.create_group("МИАЦ: заявки", members=[STRANGER])
        settings.max_admin_chat_id = group
        async with db.write() as session:  # a request waiting, its card in the MAX group
            submitted = await requests.submit(session, NEW)
            assert isinstance(submitted, requests.Submitted)
            await announce_submitted(session, settings, submitted.request)
        await mh.deliver()
        card = mh.mx.last_message(group)
        assert "Заявка №" in (card.text or "") and card.buttons
        walk = Walk(mh, group)
        await walk.command(None, "/start")  # a message of the bot's in the dialog to press on

        commands, prefixes = registered(mh.dp)
        assert {"queue", "export", "staff", "thread", "close", "org", "docs"} <= commands
        assert {"bc", "gd"} <= set(prefixes)
        unknown = {
            (name, kind): await (
                walk.command(chat, "/zz_not_a_command 1")
                if kind == "command"
                else walk.press(chat, "zz:1")
            )
            for name, chat in walk.chats.items()
            for kind in ("command", "button")
        }
        before = await snapshot(db)
        failures: list[str] = []
        actions = [
            (f"/{c} {a}".strip(), "command", c not in APPLICANT_COMMANDS)
            for c in sorted(commands)
            for a in ARGUMENTS
        ] + [
            (data, "button", prefix not in APPLICANT_PREFIXES)
            for prefix, cls in sorted(prefixes.items())
            for data in synthesized(cls)
        ]
        for action, kind, staff_only in actions:
            for name, chat in walk.chats.items():
                seen = await (
                    walk.command(chat, action) if kind == "command" else walk.press(chat, action)
                )
                shown = "\n".join(seen[0] + [a or "" for a in seen[1]])
                leaked = [s for s in SECRETS if s in shown]
                if leaked:
                    failures.append(f"{action!r} in the {name}: shows {leaked}")
                if staff_only and not refused(seen, unknown[(name, kind)]):
                    failures.append(f"{action!r} in the {name}: answered {shown[:120]!r}")
        assert failures == []
        after = await snapshot(db)
        # Nothing changed but MAX's own bookkeeping: which message numbers are which mids.
        for rows in (before, after):
            rows.pop("max_messages")
        assert after == before
        assert mh.unanswered() == []  # every press answered (MAX needs no empty answer)
        # Presses of a forged applicant button on the same message re-show the same page: MAX
        # takes such an edit (Telegram answers «not modified»); the walk is about rights.
        problems = [p for p in mh.problems() if "changed nothing" not in p]
        assert problems == []
