"""Callback data of every button (Telegram allows at most 64 bytes)."""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

# Numbers in buttons are ids and indexes: a forged huge one fails the filter instead of
# reaching the database.
Id = Annotated[int, Field(ge=0, lt=2**31)]


class MenuCb(CallbackData, prefix="m"):
    # new | my | ask | guide | resume | restart | restart_yes | another | reply_op | ask_cancel
    action: str


class MyCb(CallbackData, prefix="my"):
    """A page of «Мои заявки»."""

    page: Id


class FormCb(CallbackData, prefix="f"):
    step: str  # the step the button belongs to: a press on an older step is stale
    action: str
    value: str = ""


class AdminCb(CallbackData, prefix="a"):
    """A button on a request card. `value`: a reason index, a field bitmask, a role index."""

    action: str
    request_id: Id
    value: Id = 0


class QueueCb(CallbackData, prefix="q"):
    action: str  # page | open
    value: Id


class StaffCb(CallbackData, prefix="s"):
    # invite (user_id 0 admin, 1 operator, 2 viewer) | org_how | invite_org (user_id: the
    # organisation) | remove (user_id: the person) | app_yes | app_no (user_id: the application)
    # | page (the /staff list's page; `page` also on remove, to show that page again)
    action: str
    user_id: Id = 0
    page: int = 0


class WithdrawCb(CallbackData, prefix="w"):
    action: str  # ask | confirm | keep
    # When the question was asked (Unix milliseconds): a confirmation older than the person's
    # latest consent must not erase the request that consent came with.
    issued: Annotated[int, Field(ge=0)] = 0


class FixCb(CallbackData, prefix="x"):
    request_id: Id


class GrantCb(CallbackData, prefix="g"):
    batch_id: Id


class FaqCb(CallbackData, prefix="fq"):
    """An FAQ entry: shown to an applicant (user_id 0), or sent to one by an operator."""

    index: Id
    user_id: Id = 0
    key: str = ""  # FaqEntry.key: the question the button was made for


class RateCb(CallbackData, prefix="r"):
    rating: Annotated[int, Field(ge=1, le=5)]


class OrgCb(CallbackData, prefix="o"):
    """A responsible person's /org: a filter's page (all | wait | ret | appr | gap), the
    form (xlsx), an answer on a request (yes | no | cancel; `value`: the request)."""

    action: str
    value: Id = 0
    page: Id = 0


class RespCb(CallbackData, prefix="ro"):
    """Someone asking to become the responsible person of an organisation: `pick` shows what
    will be sent, `send` files the application."""

    action: str
    org_id: Id


class MyDataCb(CallbackData, prefix="md"):
    """«Какие мои данные хранятся» under «Мои заявки» (the same as /mydata)."""

    action: str = "show"
