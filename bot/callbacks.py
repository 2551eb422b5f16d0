"""Callback data of every button (Telegram allows at most 64 bytes, MAX 1,024).

Each kind of button names its actions in a `StrEnum`: a forged or outdated action fails when
the data is unpacked, so it never reaches a handler (the press is answered as a stale
button), and each action has a handler of its own, registered with `Cb.filter(F.action ==
…)` — no chain of ifs over actions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

# Numbers in buttons are ids and indexes: a forged huge one fails the filter instead of
# reaching the database.
Id = Annotated[int, Field(ge=0, lt=2**31)]
# A message's number: Telegram's are small, MAX's (its `seq`) pass 2**56.
MessageNumber = Annotated[int, Field(ge=0, lt=2**63)]
# A person's account key (services/accounts.py): Telegram ids pass 2**31, MAX's are moved past
# 2**53; still bounded, so a forged number cannot be anything at all.
Person = Annotated[int, Field(ge=0, lt=2**62)]


class MenuAction(StrEnum):
    NEW = "new"
    MY = "my"
    ASK = "ask"
    GUIDE = "guide"
    RESUME = "resume"
    RESTART = "restart"
    RESTART_YES = "restart_yes"
    ANOTHER = "another"
    REPLY_OP = "reply_op"
    ASK_CANCEL = "ask_cancel"


class MenuCb(CallbackData, prefix="m"):
    action: MenuAction


class AskThisCb(CallbackData, prefix="aq"):
    """«📨 Передать вопрос специалисту» under a message typed outside any dialog."""

    message_id: MessageNumber


class MyCb(CallbackData, prefix="my"):
    """A page of «Мои заявки»."""

    page: Id


class FormAction(StrEnum):
    # the engine's own, on every step
    BACK = "back"
    CANCEL = "cancel"
    ASK = "ask"
    NOOP = "noop"  # the page number between the arrows
    # a step's answers, handled by the step (bot/fsm/form.py)
    PICK = "pick"
    PAGE = "page"
    MANUAL = "manual"
    DEPARTMENT = "department"  # the health department at the organisation step (item 3.1)
    OTHER = "other"
    FEDERAL = "federal"
    KEEP = "keep"
    EDIT = "edit"
    SUBMIT = "submit"


STEP_ACTIONS = frozenset(FormAction) - {
    FormAction.BACK,
    FormAction.CANCEL,
    FormAction.ASK,
    FormAction.NOOP,
}


class FormCb(CallbackData, prefix="f"):
    step: str  # the step the button belongs to: a press on an older step is stale
    action: FormAction
    value: str = ""


class CardAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REJECT_REASON = "reject_reason"
    REJECT_OTHER = "reject_other"
    RETURN = "return"
    RETURN_TOGGLE = "return_toggle"
    RETURN_NEXT = "return_next"
    ROLE = "role"
    ROLE_PICK = "role_pick"
    BACK = "back"


class AdminCb(CallbackData, prefix="a"):
    """A button on a request card. `value`: a reason index, a field bitmask, a role index."""

    action: CardAction
    request_id: Id
    value: Id = 0


class QueueAction(StrEnum):
    PAGE = "page"
    OPEN = "open"


class QueueCb(CallbackData, prefix="q"):
    action: QueueAction
    value: Id


class StaffAction(StrEnum):
    INVITE = "invite"  # user_id 0 admin, 1 operator, 2 viewer
    ORG_HOW = "org_how"
    INVITE_ORG = "invite_org"  # user_id: the organisation
    REMOVE = "remove"  # user_id: the person; `page` to show that page again
    APP_YES = "app_yes"  # user_id: the application
    APP_NO = "app_no"
    PAGE = "page"  # the /staff list's page


class StaffCb(CallbackData, prefix="s"):
    action: StaffAction
    user_id: Person = 0
    page: int = 0


class WithdrawAction(StrEnum):
    ASK = "ask"
    CONFIRM = "confirm"
    KEEP = "keep"


class WithdrawCb(CallbackData, prefix="w"):
    action: WithdrawAction
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
    user_id: Person = 0
    key: str = ""  # FaqEntry.key: the question the button was made for


class RateCb(CallbackData, prefix="r"):
    rating: Annotated[int, Field(ge=1, le=5)]


class OrgAction(StrEnum):
    # the filters of /org, each with its pages
    ALL = "all"
    WAIT = "wait"
    RET = "ret"
    APPR = "appr"
    GAP = "gap"
    XLSX = "xlsx"  # the organisation's form for the head's signature
    SIGNED = "signed"  # send the form signed by the head back (a PDF or photos)
    SIGNED_DONE = "signed_done"  # the photos of the signed form are all sent
    # an answer on a request (`value`: the request)
    YES = "yes"
    NO = "no"
    CANCEL = "cancel"


ORG_FILTERS = (OrgAction.ALL, OrgAction.WAIT, OrgAction.RET, OrgAction.APPR, OrgAction.GAP)


class OrgCb(CallbackData, prefix="o"):
    """A responsible person's /org: a filter's page, the form, an answer on a request."""

    action: OrgAction
    value: Id = 0
    page: Id = 0


class RespAction(StrEnum):
    PICK = "pick"  # show what will be sent
    SEND = "send"  # file the application


class RespCb(CallbackData, prefix="ro"):
    """Someone asking to become the responsible person of an organisation."""

    action: RespAction
    org_id: Id


class MyDataCb(CallbackData, prefix="md"):
    """«Какие мои данные хранятся» under «Мои заявки» (the same as /mydata)."""

    action: str = "show"


class BroadcastAction(StrEnum):
    AUDIENCE = "aud"
    ORGANIZATION = "org"  # one organisation picked for the audience (value: its id)
    SEND = "send"
    CANCEL = "cancel"
    FILE = "file"  # attach a file to the previewed broadcast (value: its number)
    UNFILE = "unfile"  # take the file off it


class BroadcastCb(CallbackData, prefix="bc"):
    action: BroadcastAction
    value: str  # the audience, or the broadcast's number


class DocsAction(StrEnum):
    ADD = "add"
    REPLACE = "rep"  # a new version of `document`
    REMOVE = "rm"


class DocsCb(CallbackData, prefix="gd"):
    """/docs: the documents «📖 Инструкция» hands out (order item 4.3)."""

    action: DocsAction
    document: Id = 0
