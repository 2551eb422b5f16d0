"""One update's FSM context, read from the storage once.

aiogram's FSM middleware reads the state when an update comes (`raw_state`, for the state
filters), and the handlers and the form's engine read it again, and the data, each through
the storage: with Redis every read is a round trip, three to five of them per update for
the same two values. The update holds its key's lock meanwhile (events isolation), so no
other update of this bot changes them: the context keeps what it read or wrote and answers
from that. Writes still go to the storage at once, as before.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DEFAULT_DESTINY, StateType

_UNREAD: Any = object()


class UpdateFSMContext(FSMContext):
    """An FSMContext that reads its state and data once; the data handed out is a copy, as
    the storage's is, so a caller changing it changes nothing stored."""

    _state: Any = _UNREAD
    _data: Any = _UNREAD

    async def get_state(self) -> str | None:
        if self._state is _UNREAD:
            self._state = await super().get_state()
        return self._state

    async def set_state(self, state: StateType = None) -> None:
        await super().set_state(state)
        self._state = state.state if isinstance(state, State) else state

    async def get_data(self) -> dict[str, Any]:
        if self._data is _UNREAD:
            self._data = await super().get_data()
        return copy.deepcopy(self._data)

    async def set_data(self, data: Mapping[str, Any]) -> None:
        await super().set_data(data)
        self._data = copy.deepcopy(dict(data))

    async def get_value(self, key: str, default: Any | None = None) -> Any | None:
        return (await self.get_data()).get(key, default)

    async def update_data(
        self, data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        current = await self.get_data()
        current.update(data or {}, **kwargs)
        await self.set_data(current)
        return current


class UpdateFSMContextMiddleware(FSMContextMiddleware):
    """aiogram's FSM middleware, handing each update an `UpdateFSMContext`."""

    def get_context(
        self,
        bot: Bot,
        chat_id: int,
        user_id: int,
        thread_id: int | None = None,
        business_connection_id: str | None = None,
        destiny: str = DEFAULT_DESTINY,
    ) -> FSMContext:
        context = super().get_context(
            bot, chat_id, user_id, thread_id, business_connection_id, destiny
        )
        return UpdateFSMContext(context.storage, context.key)
