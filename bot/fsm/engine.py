"""The engine that walks the request form declared in `bot.fsm.form`: shows a step, applies
what a step's validator or button handler decided (its outcome), and gives Back,
edit-from-summary, skipping and resume after a restart to every step alike.

A dialog that is over (sent, cancelled, started afresh) leaves no live buttons: the prompt's
keyboard is removed. The handlers that feed the engine are in `bot.handlers.applicant.form`.
"""

from __future__ import annotations

import contextlib

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, Message

from bot import keyboards, texts
from bot.config import Settings
from bot.fsm.data import FormData
from bot.fsm.form import (
    EDITABLE,
    FIRST_STEP,
    STATE_TO_STEP,
    STEP_OF_FIELD,
    STEPS,
    Done,
    FormEnv,
    Goto,
    Info,
    Outcome,
    Pause,
    Redraw,
    Retry,
    Step,
    Stop,
    Submit,
    first_missing,
    next_fix_step,
)
from bot.fsm.question import QuestionFlow, leave_question
from bot.outbound.cards import announce_submitted
from bot.outbound.delivery import send_now
from db.database import Database
from db.models import AccessRequest
from db.repositories import RequestRepository
from services import requests as request_service
from services.role_matrix import RoleMatrix


class FormEngine:
    def __init__(self, bot: Bot, state: FSMContext, env: FormEnv, chat_id: int) -> None:
        self.bot = bot
        self.state = state
        self.env = env
        self.chat_id = chat_id

    # -- showing steps -------------------------------------------------------------------------

    async def start(self, data: FormData | None = None, prefix: str | None = None) -> None:
        """A new dialog: the old one's prompt loses its buttons, its data is forgotten."""
        old = await FormData.load(self.state) if await self._in_form() else None
        if old is not None and old.prompt_message_id:
            await self._strip_keyboard(old.prompt_message_id)
        await self.state.clear()
        await self.show(FIRST_STEP, data or FormData(), prefix=prefix)

    async def start_another(self, request: AccessRequest) -> None:
        """A request for another role: the person's data from their last request, then
        consent (given anew for each request) and the position and role."""
        data = FormData.from_request(request, repeat_of=request.id)
        await self.start(data, prefix=texts.another_role_intro(request.id))

    async def _in_form(self) -> bool:
        return (await self.state.get_state() or "") in STATE_TO_STEP

    async def resume(self, pressed: Message | None = None) -> None:
        if await self.state.get_state() == QuestionFlow.waiting.state:
            await leave_question(self.state)  # the question was not sent: back to the form
        name = STATE_TO_STEP.get(await self.state.get_state() or "")
        if name is None:
            await self.start()
            return
        await self.show(name, await FormData.load(self.state), edit=pressed)

    def successor(self, step: Step, data: FormData) -> str:
        target = step.next(data, self.env)
        if data.editing and target not in step.edit_chain:
            # Editing from the summary returns to it; fixing a returned request goes on to
            # the next returned field, in the order the admin's list gives.
            return next_fix_step(data, step.name) or "summary"
        return target

    async def show(
        self,
        name: str,
        data: FormData,
        *,
        prefix: str | None = None,
        edit: Message | None = None,
        echo: tuple[Message, str] | None = None,
    ) -> None:
        """Show step `name` (or the step it leads to). `edit`: the pressed prompt, replaced
        in place; `echo`: the pressed prompt and the answer chosen, written under it once the
        next prompt is out."""
        step = self._skip(STEPS[name], data)
        missing = first_missing(data, self.env, step.name)
        if missing is not None:
            # A draft saved without an earlier answer (before this check existed, or by
            # hand): that field is asked for again rather than shown empty further on, and
            # the dialog comes back here as after an edit from the summary.
            data.editing = True
            step = self._skip(STEPS[STEP_OF_FIELD[missing]], data)
            prefix = texts.field_missing(texts.FIELD_LABELS[missing])
            edit = None
        data.info_step = None
        if step.name == "summary":
            data.editing = False
            duplicate = await self._open_duplicate(data)
            data.duplicate_of = duplicate.id if duplicate else None
            if duplicate is not None:
                note = texts.already_open(duplicate.id, duplicate.status, duplicate.role)
                prefix = f"{prefix}\n\n{note}" if prefix else note
        if step.name in data.history and not data.editing:
            # Going forward to a step already passed (e.g. «Нет в списке» after Back): the
            # path is cut there, so Back never loops. While editing, the path stays whole
            # and Back returns to the summary.
            del data.history[data.history.index(step.name) :]
        screen = await step.render(data, self.env)
        text = f"{prefix}\n\n{screen.text}" if prefix else screen.text
        await self._record_then_send(step, data, text, screen.keyboard, edit, echo)

    def _skip(self, step: Step, data: FormData) -> Step:
        while step.skip_if is not None and step.skip_if(data, self.env):
            step = STEPS[self.successor(step, data)]
        return step

    async def _record_then_send(
        self,
        step: Step,
        data: FormData,
        text: str,
        keyboard: InlineKeyboardMarkup,
        edit: Message | None,
        echo: tuple[Message, str] | None,
    ) -> None:
        """The answer first, the reply second. The data and the step they lead to are written
        before the prompt is sent: a prompt that never arrives (a 5xx, a dropped connection,
        Telegram throttled) must neither undo the answer nor leave the dialog on a step its
        data do not fill. Until the prompt is known to be out, `prompt_pending` says so, and
        the person's next message or press shows it again instead of being taken as its
        answer (a retyped «ОГБУЗ КОД» would otherwise become the position)."""
        data.prompt_pending = True
        await self.state.set_state(step.state)
        await data.save(self.state)
        await self._put_prompt(data, text, keyboard, edit, echo)
        data.prompt_pending = False
        await data.save(self.state)

    async def _put_prompt(
        self,
        data: FormData,
        text: str,
        keyboard: InlineKeyboardMarkup,
        edit: Message | None,
        echo: tuple[Message, str] | None = None,
    ) -> None:
        if edit is not None:
            if _shows(edit, text, keyboard):
                data.prompt_message_id = edit.message_id  # Telegram refuses a no-op edit
                return
            try:
                await edit.edit_text(text, reply_markup=keyboard)
                data.prompt_message_id = edit.message_id
                return
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    data.prompt_message_id = edit.message_id
                    return
                # Too old to edit, or deleted: fall back to a new message.
        # The new prompt first, then the old one loses its buttons: had the send failed,
        # the old buttons would still be there to press again.
        sent = await self.bot.send_message(self.chat_id, text, reply_markup=keyboard)
        old, data.prompt_message_id = data.prompt_message_id, sent.message_id
        if echo is not None:
            pressed, answer = echo
            await self._echo_answer(pressed, answer)
            if old == pressed.message_id:
                old = None
        if old:
            await self._strip_keyboard(old)

    async def _strip_keyboard(self, message_id: int) -> None:
        """Old prompts lose their buttons so nobody presses them by mistake (best effort:
        a failure here costs nothing but a button that answers «неактуальна»)."""
        with contextlib.suppress(TelegramAPIError):
            await self.bot.edit_message_reply_markup(
                chat_id=self.chat_id, message_id=message_id, reply_markup=None
            )

    async def _echo_answer(self, pressed: Message, answer: str) -> None:
        """Leave the pressed prompt in the chat with the chosen answer under it, no buttons
        (best effort, as above)."""
        body = pressed.html_text if pressed.text else ""
        with contextlib.suppress(TelegramAPIError):
            await pressed.edit_text(f"{body}\n\n{texts.answer_echo(answer)}", reply_markup=None)

    # -- applying outcomes ---------------------------------------------------------------------

    async def apply(
        self, step: Step, data: FormData, outcome: Outcome, pressed: Message | None
    ) -> None:
        match outcome:
            case Done(answer=answer, note=note):
                data.history.append(step.name)
                echo = (pressed, answer) if answer and pressed is not None else None
                await self.show(self.successor(step, data), data, prefix=note, echo=echo)
            case Goto(step=target, answer=answer):
                data.history.append(step.name)
                echo = (pressed, answer) if answer and pressed is not None else None
                await self.show(target, data, echo=echo)
            case Retry(error=error):
                await self.show(step.name, data, prefix=error)
            case Redraw():
                await self.show(step.name, data, edit=pressed)
            case Info(text=text, buttons=buttons):
                kb = keyboards.StepKeyboard(step.name)
                for label, action in buttons:
                    kind, _, value = action.partition(":")
                    kb.add(label, kind, value)
                # One way to ask a question per screen: the side message's own, if it has one.
                ask = all(action != "ask" for _, action in buttons)
                data.info_step = step.name  # Back returns to this step's own screen
                markup = kb.navigation(step.back, ask=ask).markup()
                await self._record_then_send(step, data, text, markup, None, None)
            case Pause(text=text):
                await self.bot.send_message(self.chat_id, text, reply_markup=keyboards.main_menu())
                if data.prompt_message_id:
                    await self._strip_keyboard(data.prompt_message_id)
                    data.prompt_message_id = None
                await data.save(self.state)
            case Stop(text=text):
                await self.finish(data, text)
            case Submit():
                await self.submit(data, pressed)

    async def finish(self, data: FormData, text: str) -> None:
        if data.prompt_message_id:
            await self._strip_keyboard(data.prompt_message_id)
        await self.state.clear()
        await self.bot.send_message(self.chat_id, text, reply_markup=keyboards.main_menu())

    async def back(self, step: Step, data: FormData, pressed: Message | None) -> None:
        """To the screen the person saw before: the step's own screen from its side message
        or sub-screen, else the previous step on the path taken."""
        if data.info_step == step.name or (
            step.on_back is not None and step.on_back(data, self.env)
        ):
            await self.show(step.name, data, edit=pressed)
            return
        if not data.history:
            await self.resume(pressed)
            return
        previous = data.history.pop()
        await self.show(previous, data, edit=pressed)

    # -- summary -------------------------------------------------------------------------------

    def _new_request(self, data: FormData) -> request_service.NewRequest:
        # `submit` has checked every field (first_missing); this only narrows the types.
        if not (data.snils and data.full_name and data.email and data.position):
            raise ValueError("the form is incomplete")
        return request_service.NewRequest(
            account_id=self.env.user_id,
            consent_version=data.consent_version,
            consent_at=data.consent_at,
            snils=data.snils,
            full_name=data.full_name,
            email=data.email,
            region=data.region or self.env.settings.region_name,
            organization_id=data.org_id,
            org_full_name=data.org_full or "",
            org_short_name=data.org_short or data.org_full or "",
            org_manual=data.org_manual,
            position=data.position,
            position_in_matrix=data.position_in_matrix,
            role=data.role,
            role_level=data.role_level,
            component=data.component or self.env.settings.components[0],
        )

    async def _open_duplicate(self, data: FormData) -> AccessRequest | None:
        """The person's own live request for the same SNILS, component and role: shown on the
        summary instead of sending a second one (the draft is kept, so the role can be
        changed). Another Telegram account's request is never shown: the admins' card flags
        it."""
        if not data.snils:
            return None
        component = data.component or self.env.settings.components[0]
        async with self.env.db.read() as session:
            existing = await RequestRepository(session).find_live(
                self.env.user_id, data.snils, component, data.role
            )
        if existing is None or existing.id == data.fix_request_id:
            return None
        return existing

    async def start_fix(self, request: AccessRequest) -> None:
        """Correct a returned request: exactly the fields the admin asked for, then summary."""
        fields = [f for f in (request.return_fields or []) if f in EDITABLE]
        if not fields:
            return
        data = FormData.from_request(
            request,
            position=request.position,
            position_in_matrix=request.position_in_matrix,
            role=request.role,
            role_level=request.role_level,
            fix_request_id=request.id,
            fix_fields=fields,
            editing=True,
            history=["summary"],
        )
        await self.state.clear()
        intro = texts.fix_intro(request.id, request.decision_reason)
        await self.show(EDITABLE[fields[0]], data, prefix=intro)

    async def submit(self, data: FormData, pressed: Message | None) -> None:
        if first_missing(data, self.env, "summary") is not None:
            # Never sent with a field missing: the summary takes the person to that field,
            # named, instead of an error.
            await self.show("summary", data)
            return
        if data.fix_request_id is not None:
            await self.resubmit(data, data.fix_request_id, pressed)
            return
        new = self._new_request(data)
        notice: list[int] = []
        async with self.env.db.write() as session:
            result = await request_service.submit(session, new)
            if isinstance(result, request_service.Submitted):
                # The card and the confirmation go out with the request, or not at all.
                notice = await announce_submitted(session, self.env.settings, result.request)
        match result:
            case request_service.Submitted():
                await self._sent(notice, pressed)
            case request_service.AlreadyOpen():
                await self.show("summary", data)  # sent meanwhile: the summary says so

    async def _sent(self, notice: list[int], pressed: Message | None) -> None:
        """The request is in the database: the dialog is over whatever the replies do next
        (the confirmation itself is an outbox row, sent now or by the loop)."""
        await self.state.clear()
        if pressed is not None:
            await self._echo_answer(pressed, texts.BTN_SUBMIT)
        await send_now(self.bot, self.env.db, self.env.settings, notice)

    async def resubmit(self, data: FormData, request_id: int, pressed: Message | None) -> None:
        new = self._new_request(data)
        values = {
            "snils": new.snils,
            "full_name": new.full_name,
            "email": new.email,
            "organization_id": new.organization_id,
            "org_full_name": new.org_full_name,
            "org_short_name": new.org_short_name,
            "org_manual": new.org_manual,
            "position": new.position,
            "position_in_matrix": new.position_in_matrix,
            "role": new.role,
            "role_level": new.role_level,
        }
        notice: list[int] = []
        async with self.env.db.write() as session:
            result = await request_service.resubmit(session, request_id, self.env.user_id, values)
            if isinstance(result, request_service.Submitted):
                notice = await announce_submitted(
                    session, self.env.settings, result.request, resubmitted=True
                )
        match result:
            case request_service.Submitted():
                await self._sent(notice, pressed)
            case request_service.AlreadyOpen(request=request):
                await self.finish(
                    data, texts.already_open(request.id, request.status, request.role)
                )
            case request_service.NotReturned():
                await self.finish(data, texts.FIX_NOT_AVAILABLE)


def _shows(message: Message, text: str, keyboard: InlineKeyboardMarkup) -> bool:
    """Whether the message already shows this text and keyboard (as far as can be told from
    its entities: a difference in markup only costs a refused edit)."""
    shown = message.reply_markup
    if shown is None or message.html_text != text:
        return False
    return shown.model_dump(exclude_none=True) == keyboard.model_dump(exclude_none=True)


def engine_for(
    bot: Bot,
    state: FSMContext,
    db: Database,
    settings: Settings,
    matrix: RoleMatrix,
    user_id: int,
    chat_id: int,
) -> FormEngine:
    return FormEngine(bot, state, FormEnv(db, settings, matrix, user_id), chat_id)
