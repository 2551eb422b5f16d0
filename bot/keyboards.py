"""Inline keyboards. Button texts come from `bot.texts`."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.callbacks import AskThisCb, FixCb, FormCb, MenuCb, MyCb, MyDataCb, WithdrawCb

MAX_BUTTON_TEXT = 60


def short(text: str, limit: int = MAX_BUTTON_TEXT) -> str:
    """Long positions and organisation names are cut for buttons; the message shows them whole."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def main_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=texts.BTN_NEW, callback_data=MenuCb(action="new").pack())],
            [InlineKeyboardButton(text=texts.BTN_MY, callback_data=MenuCb(action="my").pack())],
            [
                InlineKeyboardButton(text=texts.BTN_ASK, callback_data=MenuCb(action="ask").pack()),
                InlineKeyboardButton(
                    text=texts.BTN_GUIDE, callback_data=MenuCb(action="guide").pack()
                ),
            ],
        ]
    )


def ask_this(message_id: int) -> InlineKeyboardMarkup:
    """Under a message typed outside any dialog: send it to МИАЦ, or the main menu."""
    ask = InlineKeyboardButton(
        text=texts.BTN_ASK_THIS, callback_data=AskThisCb(message_id=message_id).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[ask], *main_menu().inline_keyboard])


def resume_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=texts.BTN_CONTINUE, callback_data=MenuCb(action="resume").pack()
                ),
                InlineKeyboardButton(
                    text=texts.BTN_RESTART, callback_data=MenuCb(action="restart").pack()
                ),
            ]
        ]
    )


def restart_confirm() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=texts.BTN_RESTART_YES, callback_data=MenuCb(action="restart_yes").pack()
                )
            ],
            [
                InlineKeyboardButton(
                    text=texts.BTN_CONTINUE, callback_data=MenuCb(action="resume").pack()
                )
            ],
        ]
    )


def existing_requests(returned: list[int]) -> InlineKeyboardMarkup:
    """Under the list of a person's requests in work, shown instead of a new dialog."""
    rows = [fix_button(number).inline_keyboard[0] for number in returned]
    rows.append(
        [
            InlineKeyboardButton(
                text=texts.BTN_ANOTHER_ROLE, callback_data=MenuCb(action="another").pack()
            )
        ]
    )
    rows.append([InlineKeyboardButton(text=texts.BTN_MY, callback_data=MenuCb(action="my").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def my_pager(page: int, pages: int) -> list[InlineKeyboardButton]:
    buttons = []
    if page > 0:
        buttons.append(InlineKeyboardButton(text="◀️", callback_data=MyCb(page=page - 1).pack()))
    buttons.append(
        InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data=MyCb(page=page).pack())
    )
    if page < pages - 1:
        buttons.append(InlineKeyboardButton(text="▶️", callback_data=MyCb(page=page + 1).pack()))
    return buttons


def single(text: str, action: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=MenuCb(action=action).pack())]
        ]
    )


def answer_keyboard() -> InlineKeyboardMarkup:
    """Under a specialist's answer copied to the applicant."""
    return single(texts.BTN_REPLY_OPERATOR, "reply_op")


def fix_button(request_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=texts.btn_fix(request_id),
                    callback_data=FixCb(request_id=request_id).pack(),
                )
            ]
        ]
    )


class StepKeyboard:
    """Builds a step's keyboard; every button carries the step's name."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.rows: list[list[InlineKeyboardButton]] = []

    def button(self, text: str, action: str, value: str | int = "") -> InlineKeyboardButton:
        data = FormCb(step=self.step, action=action, value=str(value)).pack()
        return InlineKeyboardButton(text=short(text), callback_data=data)

    def row(self, *buttons: InlineKeyboardButton) -> StepKeyboard:
        self.rows.append(list(buttons))
        return self

    def add(self, text: str, action: str, value: str | int = "") -> StepKeyboard:
        return self.row(self.button(text, action, value))

    def url(self, text: str, url: str) -> StepKeyboard:
        return self.row(InlineKeyboardButton(text=text, url=url))

    def pager(self, page: int, pages: int) -> StepKeyboard:
        if pages <= 1:
            return self
        nav = []
        if page > 0:
            nav.append(self.button("◀️", "page", page - 1))
        nav.append(self.button(f"{page + 1}/{pages}", "noop"))
        if page < pages - 1:
            nav.append(self.button("▶️", "page", page + 1))
        return self.row(*nav)

    def navigation(self, back: bool = True, ask: bool = True) -> StepKeyboard:
        """Back, a question to МИАЦ tagged with this step, and Cancel: on every step (the
        question only once, when the screen has its own «Задать вопрос»)."""
        buttons = [self.button(texts.BTN_BACK, "back")] if back else []
        if ask:
            buttons.append(self.button(texts.BTN_STEP_HELP, "ask"))
        buttons.append(self.button(texts.BTN_CANCEL, "cancel"))
        return self.row(*buttons)

    def markup(self) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=self.rows)


def withdraw_button() -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(text=texts.BTN_WITHDRAW, callback_data=WithdrawCb(action="ask").pack())
    ]


def withdraw_confirm(issued: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=texts.BTN_WITHDRAW_CONFIRM,
                    callback_data=WithdrawCb(action="confirm", issued=issued).pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    text=texts.BTN_WITHDRAW_KEEP, callback_data=WithdrawCb(action="keep").pack()
                )
            ],
        ]
    )


def mydata_button() -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=texts.BTN_MYDATA, callback_data=MyDataCb().pack())]
