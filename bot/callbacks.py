"""Callback data of every button (Telegram allows at most 64 bytes)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class MenuCb(CallbackData, prefix="m"):
    action: str  # new | my | ask | guide | resume | restart | menu


class FormCb(CallbackData, prefix="f"):
    step: str  # the step the button belongs to: a press on an older step is stale
    action: str
    value: str = ""


class AdminCb(CallbackData, prefix="a"):
    """A button on a request card. `value`: a reason index, a field bitmask, a role index."""

    action: str
    request_id: int
    value: int = 0


class QueueCb(CallbackData, prefix="q"):
    action: str  # page | open
    value: int


class StaffCb(CallbackData, prefix="s"):
    action: str  # invite_admin | invite_operator | remove
    user_id: int = 0


class FixCb(CallbackData, prefix="x"):
    request_id: int


class GrantCb(CallbackData, prefix="g"):
    batch_id: int
