"""Callback data of every button (Telegram allows at most 64 bytes)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class MenuCb(CallbackData, prefix="m"):
    action: str  # new | my | ask | guide | resume | restart | menu


class FormCb(CallbackData, prefix="f"):
    step: str  # the step the button belongs to: a press on an older step is stale
    action: str
    value: str = ""
