"""МИАЦ's desks on MAX in the dialog harness (tests/max_harness.py): the admins' and the
operators' MAX groups, admins and operators writing and pressing there as MAX delivers it,
requests of MAX applicants with their cards in the MAX group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from bot.config import Settings
from bot.outbound.cards import announce_submitted
from db.database import Database
from services import requests, staff
from services.accounts import Messenger, account_key
from services.role_matrix import RoleMatrix
from tests.conftest import make_settings
from tests.e2e.max_standin import SentRecord
from tests.support.max_harness import MaxHarness, max_harness
from tests.test_requests_service import NEW

MAX_ADMIN = 910001  # a МИАЦ admin on MAX (ADMIN_IDS=max:910001)
MAX_OPERATOR = 910002
APPLICANT = 910100  # someone on MAX asking for access


def key(user_id: int) -> int:
    return account_key(Messenger.MAX, user_id)


class GroupMember:
    """Someone writing and pressing in a MAX group, as MAX delivers it."""

    def __init__(self, mh: MaxHarness, user_id: int, chat_id: int, name: str) -> None:
        self.mh = mh
        self.user_id = user_id
        self.chat_id = chat_id
        self.presses: list[str] = []
        mh.mx.introduce(user_id, name)
        mh.mx.groups[chat_id].members.add(user_id)

    def mark(self) -> int:
        return len(self.mh.mx.sent)

    def since(self, mark: int) -> list[SentRecord]:
        return [r for r in self.mh.mx.sent[mark:] if r.chat_id == self.chat_id]

    async def send(self, text: str | None = None, reply_to: str | None = None) -> list[SentRecord]:
        mark = self.mark()
        raw = self.mh.mx.push_message(self.user_id, text, chat_id=self.chat_id, reply_to=reply_to)
        await self.mh.feed_raw(raw)
        return self.since(mark)

    async def press(self, label: str) -> list[SentRecord]:
        mark = self.mark()
        callback = self.mh.mx.press(self.user_id, label, chat_id=self.chat_id)
        self.presses.append(callback)
        self.mh.presses.append(callback)
        await self.mh.feed_raw(self.mh.mx.updates[-1])
        return self.since(mark)

    async def press_on(self, mid: str, label: str) -> list[SentRecord]:
        """Press `label` on the message `mid` (not necessarily the newest with it)."""
        payload = next(
            str(b["payload"])
            for b in self.mh.mx.messages[mid].buttons
            if str(b.get("text", "")).startswith(label)
        )
        mark = self.mark()
        callback = self.mh.mx.push_callback(self.user_id, mid, payload)
        self.presses.append(callback)
        self.mh.presses.append(callback)
        await self.mh.feed_raw(self.mh.mx.updates[-1])
        return self.since(mark)

    def answer_text(self) -> str | None:
        return self.mh.recorder.answered.get(self.presses[-1])


def desk_settings(database_url: str, **overrides: Any) -> Settings:
    """MAX alone for МИАЦ: no Telegram desk, the admin a MAX account (the groups' ids are
    set once the stand-in made them)."""
    values: dict[str, Any] = {
        "admin_ids": [key(MAX_ADMIN)],
        "admin_chat_id": None,
        "support_chat_id": None,
        "support_hours": "00:00-23:59",
        "support_days": "1-7",
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@asynccontextmanager
async def max_desks(
    db: Database, settings: Settings, role_matrix: RoleMatrix
) -> AsyncIterator[MaxHarness]:
    """The harness with the admins' and the operators' groups on MAX (`mh.admins_group`,
    `mh.support_group` via settings)."""
    async with max_harness(db, settings, role_matrix) as mh:
        settings.max_admin_chat_id = mh.mx.create_group("МИАЦ: заявки")
        settings.max_support_chat_id = mh.mx.create_group("МИАЦ: поддержка")
        yield mh


async def submit_on_max(
    mh: MaxHarness, settings: Settings, user_id: int = APPLICANT, **changes: Any
) -> int:
    """A MAX applicant's request, its card posted to the MAX admins' group; its number."""
    mh.mx.introduce(user_id, "Мария")
    async with mh.db.write() as session:
        new = replace(NEW, account_id=key(user_id), **changes)
        result = await requests.submit(session, new)
        assert isinstance(result, requests.Submitted)
        await announce_submitted(session, settings, result.request)
        number = result.request.id
    await mh.deliver()
    return number


async def add_staff(mh: MaxHarness, user_id: int, role: staff.StaffRole, **kwargs: Any) -> None:
    async with mh.db.write() as session:
        await staff.add(session, key(MAX_ADMIN), key(user_id), role, **kwargs)
