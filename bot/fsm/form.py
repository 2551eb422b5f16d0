"""The request form, declared as data: every step with its prompt, keyboard, validator and
successor, walked by the engine in `bot.fsm.engine`.

The whole graph, in order (→ natural successor; ⇢ jump by a button or a typed answer;
[…] a sub-screen of the same step):

    consent → gosuslugi → esia → snils → full_name → email → region → org_search → position
    gosuslugi [how to confirm the account]       esia [«Не получается»: common causes]
    org_search [results of a typed query] ⇢ org_full → org_short → position («Нет в списке»)
    position [federal posts] [matches of a typed post] → role → component → summary
    position ⇢ position_text (typed, «Моей должности нет в списке») → role
    position, position_text: a typed post not in the matrix → role (skipped: the admin picks)
    component is skipped when there is one; summary ⇢ any field (edit) → summary
    consent → position: a request for another role, the person's data copied from their
    last request («Заявка на другую роль»)

Back returns to the screen the person saw before: from a sub-screen to its step's own
screen, otherwise along the path actually taken (a history stack in the FSM data), so
skipped steps are skipped on the way back as well.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup

from bot import texts
from bot.config import Settings
from bot.fsm.data import FormData
from bot.keyboards import StepKeyboard
from db.database import Database
from db.models import utcnow
from db.repositories import OrganizationRepository, RequestRepository
from services import organizations
from services.email import NOT_LATIN, normalise_email
from services.person_name import NameError_, normalise_name
from services.role_matrix import RoleMatrix
from services.snils import SnilsError, parse_snils
from services.text_search import search_key

POSITIONS_PER_PAGE = 12
MAX_ID = 2**31


def small_int(value: str) -> int:
    """A number from a button; a forged or huge one is refused like any stale button."""
    number = int(value)
    if not 0 <= number < MAX_ID:
        raise ValueError(value)
    return number


class Form(StatesGroup):
    consent = State()
    gosuslugi = State()
    esia = State()
    snils = State()
    full_name = State()
    email = State()
    region = State()
    org_search = State()
    org_full = State()
    org_short = State()
    position = State()
    position_text = State()
    role = State()
    component = State()
    summary = State()


@dataclass(frozen=True)
class FormEnv:
    """What steps may use: no aiogram objects, so steps stay testable and channel-neutral."""

    db: Database
    settings: Settings
    matrix: RoleMatrix
    user_id: int


@dataclass(frozen=True)
class Screen:
    text: str
    keyboard: InlineKeyboardMarkup


# --- outcomes of a step -----------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The step's field is filled; go to the successor. `answer` is echoed under a pressed
    prompt, `note` is shown above the next prompt."""

    answer: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Retry:
    error: str


@dataclass(frozen=True)
class Redraw:
    """Show the same step again (new page, new search results)."""


@dataclass(frozen=True)
class Goto:
    step: str
    answer: str | None = None


@dataclass(frozen=True)
class Info:
    """A side message that keeps the dialog on this step; its buttons belong to the step."""

    text: str
    buttons: list[tuple[str, str]]  # (label, action)


@dataclass(frozen=True)
class Pause:
    text: str


@dataclass(frozen=True)
class Stop:
    """End the dialog and forget its data."""

    text: str


@dataclass(frozen=True)
class Submit:
    pass


Outcome = Done | Retry | Redraw | Goto | Info | Pause | Stop | Submit
TextHandler = Callable[[FormData, FormEnv, str], Awaitable[Outcome]]
PickHandler = Callable[[FormData, FormEnv, str, str], Awaitable[Outcome]]


@dataclass(frozen=True)
class Step:
    name: str
    render: Callable[[FormData, FormEnv], Awaitable[Screen]]
    next: Callable[[FormData, FormEnv], str]
    on_text: TextHandler | None = None
    on_pick: PickHandler | None = None
    # Filled in and skipped when nothing is left to ask (returns True to skip).
    skip_if: Callable[[FormData, FormEnv], bool] | None = None
    # Steps that still belong to the same field when editing from the summary.
    edit_chain: frozenset[str] = frozenset()
    back: bool = True
    # Back from a sub-screen (search results, suggestions): undo it and return True, so Back
    # shows the step's own screen again instead of the previous step.
    on_back: Callable[[FormData, FormEnv], bool] | None = None

    @property
    def state(self) -> State:
        value: State = getattr(Form, self.name)
        return value


def _then(name: str) -> Callable[[FormData, FormEnv], str]:
    return lambda _data, _env: name


def _screen(text: str, kb: StepKeyboard, back: bool = True) -> Screen:
    return Screen(text, kb.navigation(back=back).markup())


# --- consent, Госуслуги, ЕСИА -----------------------------------------------------------------


async def _consent_render(data: FormData, env: FormEnv) -> Screen:
    kb = StepKeyboard("consent")
    kb.row(kb.button(texts.BTN_AGREE, "pick", "yes"), kb.button(texts.BTN_DISAGREE, "pick", "no"))
    text = texts.consent(
        env.settings.operator_name, texts.consent_retention(env.settings.retention_days)
    )
    return _screen(text, kb, back=False)


def _after_consent(data: FormData, env: FormEnv) -> str:
    # A request for another role: the Госуслуги and ЕСИА steps were done for the last one.
    return "position" if data.repeat_of is not None else "gosuslugi"


async def _consent_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    if value == "no":
        return Stop(texts.CONSENT_DECLINED)  # nothing was stored, and the draft is dropped
    # The retention period is part of the text the person agreed to.
    version = f"{texts.CONSENT_VERSION}+{env.settings.retention_days}d"
    data.consent_version, data.consent_at = version, utcnow()
    return Done(answer=texts.BTN_AGREE)


async def _gosuslugi_render(data: FormData, env: FormEnv) -> Screen:
    kb = StepKeyboard("gosuslugi")
    kb.row(kb.button(texts.BTN_YES, "pick", "yes"), kb.button(texts.BTN_NO, "pick", "no"))
    return _screen(texts.GOSUSLUGI, kb)


async def _gosuslugi_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    if value == "yes":
        return Done(answer=texts.BTN_YES)
    if value == "later":
        return Pause(texts.PAUSED)
    return Info(
        texts.GOSUSLUGI_HOW,
        [(texts.BTN_CONFIRMED_NOW, "pick:yes"), (texts.BTN_LATER, "pick:later")],
    )


async def _esia_render(data: FormData, env: FormEnv) -> Screen:
    kb = StepKeyboard("esia").url(texts.BTN_OPEN_ESIA, env.settings.esia_url)
    kb.row(
        kb.button(texts.BTN_DONE, "pick", "done"), kb.button(texts.BTN_TROUBLE, "pick", "trouble")
    )
    return _screen(texts.esia(env.settings.esia_url), kb)


async def _esia_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    if value == "done":
        return Done(answer=texts.BTN_DONE)
    if value == "again":
        return Redraw()
    return Info(texts.ESIA_TROUBLE, [(texts.BTN_TRY_AGAIN, "pick:again"), (texts.BTN_ASK, "ask")])


# --- personal data ----------------------------------------------------------------------------

_SNILS_ERRORS = {
    SnilsError.EMPTY: texts.SNILS_EMPTY,
    SnilsError.NOT_DIGITS: texts.SNILS_NOT_DIGITS,
    SnilsError.ALL_ZEROS: texts.SNILS_ALL_ZEROS,
    SnilsError.WRONG_CHECKSUM: texts.SNILS_WRONG_CHECKSUM,
}


def _text_screen(name: str, prompt: str) -> Callable[[FormData, FormEnv], Awaitable[Screen]]:
    async def render(data: FormData, env: FormEnv) -> Screen:
        return _screen(prompt, StepKeyboard(name))

    return render


async def _snils_text(data: FormData, env: FormEnv, text: str) -> Outcome:
    result = parse_snils(text)
    if result.error is SnilsError.WRONG_LENGTH:
        return Retry(texts.snils_wrong_length(result.digits_found))
    if result.error is not None or result.value is None:
        return Retry(_SNILS_ERRORS[result.error or SnilsError.EMPTY])
    data.snils = result.value
    return Done()


_NAME_ERRORS = {
    NameError_.EMPTY: texts.FIO_EMPTY,
    NameError_.DIGITS: texts.FIO_DIGITS,
    NameError_.LATIN: texts.FIO_LATIN,
    NameError_.TOO_FEW_PARTS: texts.FIO_TOO_FEW,
    NameError_.TOO_LONG: texts.FIO_TOO_LONG,
}


async def _name_text(data: FormData, env: FormEnv, text: str) -> Outcome:
    result = normalise_name(text)
    if result.error is NameError_.INITIALS:
        return Retry(texts.FIO_INITIALS)
    if result.error is NameError_.BAD_CHARS:
        return Retry(texts.fio_bad_chars(result.bad_chars))
    if result.error is not None or result.value is None:
        return Retry(_NAME_ERRORS[result.error or NameError_.EMPTY])
    data.full_name = result.value
    return Done(note=texts.fio_accepted(result.value, result.fixed_lookalikes))


async def _email_text(data: FormData, env: FormEnv, text: str) -> Outcome:
    """Only the address itself is checked here. Whether another person uses it is the admins'
    concern (the card flags it, approval refuses it): telling the applicant would show them
    someone else's data, and refusing would let anyone lock a person out of their address."""
    result = normalise_email(text)
    if result.error == NOT_LATIN:
        return Retry(texts.email_not_latin(text.strip(), result.not_latin))
    if result.value is None:
        return Retry(texts.EMAIL_INVALID)
    data.email = result.value
    return Done()


async def _region_render(data: FormData, env: FormEnv) -> Screen:
    kb = StepKeyboard("region")
    kb.row(
        kb.button(texts.BTN_REGION_OK, "pick", "yes"),
        kb.button(texts.BTN_REGION_OTHER, "pick", "no"),
    )
    return _screen(texts.region(env.settings.region_name), kb)


async def _region_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    if value == "yes":
        data.region = env.settings.region_name
        data.org_query, data.org_page = None, 0  # the organisation search starts afresh
        return Done(answer=texts.BTN_REGION_OK)
    return Info(texts.region_other(env.settings.region_name), [(texts.BTN_REGION_OK, "pick:yes")])


# --- organisation -----------------------------------------------------------------------------


async def _org_render(data: FormData, env: FormEnv) -> Screen:
    kb = StepKeyboard("org_search")
    if not data.org_query:
        # Chief specialists work at the health department, not in a medical organisation of
        # ФРМО (order item 3.1): it is offered beside the search.
        kb.add(texts.BTN_DEPARTMENT, "department")
        kb.add(texts.BTN_NOT_IN_LIST, "manual")
        return _screen(texts.ORG_PROMPT, kb)
    async with env.db.read() as session:
        page = await organizations.search(
            session, env.settings.region_name, data.org_query, data.org_page
        )
    if not page.items:
        kb.add(texts.BTN_NOT_IN_LIST, "manual")
        return _screen(texts.org_nothing(data.org_query), kb)
    for number, org in enumerate(page.items, start=1):
        kb.add(f"{number}. {org.name_short}", "pick", org.id)
    kb.pager(page.page, page.pages).add(texts.BTN_NOT_IN_LIST, "manual")
    text = texts.org_results(
        data.org_query, page.total, page.page, page.pages, [o.name_full for o in page.items]
    )
    return _screen(text, kb)


def _org_back(data: FormData, env: FormEnv) -> bool:
    """Back from search results: to the search prompt, not to the step before."""
    if not data.org_query:
        return False
    data.org_query, data.org_page = None, 0
    return True


async def _org_text(data: FormData, env: FormEnv, text: str) -> Outcome:
    query = " ".join(text.split())[:100]
    if sum(ch.isalnum() for ch in query) < 2:
        return Retry(texts.ORG_QUERY_SHORT)
    data.org_query, data.org_page = query, 0
    if "департамент" in search_key(query):  # item 3.1: found by its words before first use
        async with env.db.write() as session:
            await organizations.ensure_department(session, env.settings.region_name)
    return Redraw()


async def _org_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    if action == "manual":  # the names typed next mark the organisation as typed by hand
        return Goto("org_full", answer=texts.BTN_NOT_IN_LIST)
    if action == "page":
        data.org_page = small_int(value)
        return Redraw()
    if action == "department":  # item 3.1: made on first need, named after REGION_NAME
        async with env.db.write() as session:
            department = await organizations.ensure_department(session, env.settings.region_name)
            org_id = department.id
    else:
        org_id = small_int(value)
    async with env.db.read() as session:
        org = await OrganizationRepository(session).get(org_id)
    if org is None or org.deleted or org.region != env.settings.region_name:
        return Redraw()
    data.org_id, data.org_manual = org.id, False
    data.org_full, data.org_short = org.name_full, org.name_short
    return Done(answer=org.name_short)


def _name_input(
    attr: str, min_len: int, max_len: int
) -> Callable[[FormData, FormEnv, str], Awaitable[Outcome]]:
    async def handle(data: FormData, env: FormEnv, text: str) -> Outcome:
        value = " ".join(text.split())
        if not min_len <= len(value) <= max_len:
            return Retry(texts.text_length(min_len, max_len))
        if not any(ch.isalpha() for ch in value):
            return Retry(texts.ORG_NEEDS_LETTERS)
        setattr(data, attr, value)
        data.org_manual = True
        data.org_id = None
        return Done()

    return handle


# --- position and role ------------------------------------------------------------------------


def _numbered(env: FormEnv, positions: list[str]) -> list[tuple[int, str]]:
    """Positions with their numbers: a position keeps its number in every list."""
    return [(env.matrix.positions.index(p) + 1, p) for p in positions]


async def _position_render(data: FormData, env: FormEnv) -> Screen:
    kb = StepKeyboard("position")
    if data.position_query:  # a typed post that the matrix seems to have
        matches = _numbered(env, env.matrix.matching_positions(data.position_query))
        for number, position in matches:
            kb.add(f"{number}. {position}", "pick", number - 1)
        kb.add(texts.BTN_KEEP_POSITION, "keep")
        return _screen(texts.position_suggestions(data.position_query, matches), kb)
    federal = data.position_federal
    listed = [p for p in env.matrix.positions if (p in env.matrix.on_request) == federal]
    pages = max(1, -(-len(listed) // POSITIONS_PER_PAGE))
    page = min(max(0, data.position_page), pages - 1)
    shown = _numbered(env, listed[page * POSITIONS_PER_PAGE : (page + 1) * POSITIONS_PER_PAGE])
    if not federal:  # the way out first: most applicants are not in the matrix
        kb.add(texts.BTN_POSITION_OTHER, "other")
    for number, position in shown:
        kb.add(f"{number}. {position}", "pick", number - 1)
    kb.pager(page, pages)
    if not federal and env.matrix.on_request:
        kb.add(texts.BTN_POSITIONS_FEDERAL, "federal")
    return _screen(texts.position_list(shown, page, pages, federal), kb)


def _position_back(data: FormData, env: FormEnv) -> bool:
    """Back from suggestions or from the federal posts: to the position list."""
    if not (data.position_query or data.position_federal or data.position_page):
        return False
    if data.position_query:
        data.position_query = None
    else:
        data.position_federal, data.position_page = False, 0
    return True


def _set_position(data: FormData, position: str, in_matrix: bool) -> None:
    if position != data.position or in_matrix != data.position_in_matrix:
        data.role = data.role_level = None
    data.position, data.position_in_matrix = position, in_matrix
    data.position_query, data.position_federal, data.position_page = None, False, 0


async def _position_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    if action == "other":
        return Goto("position_text", answer=texts.BTN_POSITION_OTHER)
    if action == "federal":
        data.position_federal, data.position_page = True, 0
        return Redraw()
    if action == "page":
        data.position_page = small_int(value)
        return Redraw()
    if action == "keep" and data.position_query:
        typed = data.position_query
        _set_position(data, typed, in_matrix=False)
        return Done(answer=typed, note=texts.position_accepted(typed))
    index = small_int(value)
    if action != "pick" or not 0 <= index < len(env.matrix.positions):
        return Redraw()
    position = env.matrix.positions[index]
    _set_position(data, position, in_matrix=True)
    return Done(answer=position)


async def _position_typed(data: FormData, env: FormEnv, text: str) -> Outcome:
    """A typed post: the matrix position itself, the matrix positions it probably is (to
    choose from), or a post not in the matrix (the admin picks the role)."""
    value = " ".join(text.split())
    if not 3 <= len(value) <= 300 or not any(ch.isalpha() for ch in value):
        return Retry(texts.POSITION_TEXT_LENGTH)
    known = env.matrix.exact_position(value)
    if known is not None:
        _set_position(data, known, in_matrix=True)
        return Done(note=texts.position_chosen(known))
    if env.matrix.matching_positions(value):
        data.position_query = value
        return Redraw()
    _set_position(data, value, in_matrix=False)
    return Done(note=texts.position_accepted(value))


async def _position_text(data: FormData, env: FormEnv, text: str) -> Outcome:
    outcome = await _position_typed(data, env, text)
    # Suggestions are a screen of the position step.
    return Goto("position") if isinstance(outcome, Redraw) else outcome


def _allowed_roles(data: FormData, env: FormEnv) -> list[tuple[str, str]]:
    if not data.position or not data.position_in_matrix:
        return []
    return [(r.name, r.level) for r in env.matrix.roles_for(data.position)]


async def _requested_roles(data: FormData, env: FormEnv) -> dict[str | None, int]:
    """Roles this person (this Telegram account) already has a live request for."""
    if not data.snils:
        return {}
    component = data.component or env.settings.components[0]
    async with env.db.read() as session:
        live = await RequestRepository(session).live_for_user(env.user_id)
    return {
        r.role: r.id
        for r in live
        if r.snils == data.snils and r.component == component and r.id != data.fix_request_id
    }


async def _role_render(data: FormData, env: FormEnv) -> Screen:
    roles = _allowed_roles(data, env)
    taken = await _requested_roles(data, env)
    kb = StepKeyboard("role")
    position = data.position or ""
    if len(roles) == 1:
        kb.add(texts.BTN_CONFIRM_ROLE, "pick", 0)
        name, level = roles[0]
        return _screen(texts.role_single(position, name, level, taken.get(name)), kb)
    for index, (name, _level) in enumerate(roles):
        kb.add(name, "pick", index)
    listed = [(name, level, taken.get(name)) for name, level in roles]
    return _screen(texts.role_choice(position, listed), kb)


async def _role_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    roles = _allowed_roles(data, env)
    index = small_int(value)
    if not 0 <= index < len(roles):
        return Redraw()
    data.role, data.role_level = roles[index]
    return Done(answer=data.role)


def _role_skip(data: FormData, env: FormEnv) -> bool:
    if data.position_in_matrix:
        return False
    data.role = data.role_level = None  # the admin picks the role
    return True


async def _component_render(data: FormData, env: FormEnv) -> Screen:
    kb = StepKeyboard("component")
    for index, name in enumerate(env.settings.components):
        kb.add(name, "pick", index)
    return _screen(texts.component_prompt(), kb)


async def _component_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    index = small_int(value)
    if not 0 <= index < len(env.settings.components):
        return Redraw()
    data.component = env.settings.components[index]
    return Done(answer=data.component)


def _component_skip(data: FormData, env: FormEnv) -> bool:
    if len(env.settings.components) > 1:
        return False
    data.component = env.settings.components[0]
    return True


# --- summary ----------------------------------------------------------------------------------

# Field shown on the summary → the step that edits it.
EDITABLE = {
    "snils": "snils",
    "full_name": "full_name",
    "email": "email",
    "organization": "org_search",
    "position": "position",
    "role": "role",
    "component": "component",
}


# Each step → the summary field it belongs to (the organisation's and position's steps too).
FIELD_OF_STEP = {
    "snils": "snils",
    "full_name": "full_name",
    "email": "email",
    "org_search": "organization",
    "org_full": "organization",
    "org_short": "organization",
    "position": "position",
    "position_text": "position",
    "role": "position",
    "component": "component",
}


def next_fix_step(data: FormData, finished_step: str) -> str | None:
    """When fixing a returned request: the first step of the next returned field."""
    field = FIELD_OF_STEP.get(finished_step)
    if data.fix_request_id is None or field not in data.fix_fields:
        return None
    later = data.fix_fields[data.fix_fields.index(field) + 1 :]
    return EDITABLE[later[0]] if later else None


# The summary's fields in the order the form asks for them, and the first step of each.
FIELD_ORDER = (
    "snils",
    "full_name",
    "email",
    "region",
    "organization",
    "position",
    "role",
    "component",
)
STEP_OF_FIELD = {"region": "region", **EDITABLE}
# Each step → how many of FIELD_ORDER must be filled before it is shown (the steps before
# SNILS need none; the summary needs all).
_FIELDS_BEFORE = {
    "snils": 0,
    "full_name": 1,
    "email": 2,
    "region": 3,
    "org_search": 4,
    "org_full": 4,
    "org_short": 4,
    "position": 5,
    "position_text": 5,
    "role": 6,
    "component": 7,
    "summary": 8,
}


def _filled(field: str, data: FormData, env: FormEnv) -> bool:
    match field:
        case "organization":
            return bool(data.org_full and (data.org_short or not data.org_manual))
        case "role":
            # Required where the matrix offers roles; for a typed post the admin picks it.
            return data.role is not None or not _allowed_roles(data, env)
        case "component":  # filled by its step when there is only one
            return bool(data.component) or len(env.settings.components) == 1
        case _:
            return bool(getattr(data, field))


def first_missing(data: FormData, env: FormEnv, step: str) -> str | None:
    """The first field that must be filled before `step` is shown and is not (a draft
    saved half-way by an older version, say), or None."""
    for field in FIELD_ORDER[: _FIELDS_BEFORE.get(step, 0)]:
        if not _filled(field, data, env):
            return field
    return None


def summary_rows(data: FormData) -> list[tuple[str, str]]:
    org = data.org_full or ""
    if data.org_short and data.org_short != data.org_full:
        org = f"{org} ({data.org_short})"
    if data.org_manual:
        org += texts.MANUAL_MARK
    position = (data.position or "") + ("" if data.position_in_matrix else texts.MANUAL_MARK)
    role = f"{data.role} — {data.role_level}" if data.role else texts.ROLE_BY_ADMIN
    labels = texts.FIELD_LABELS
    return [
        (labels["snils"], data.snils or ""),
        (labels["full_name"], data.full_name or ""),
        (labels["email"], data.email or ""),
        (labels["region"], data.region or ""),
        (labels["organization"], org),
        (labels["position"], position),
        (labels["role"], role),
        (labels["component"], data.component or ""),
    ]


async def _summary_render(data: FormData, env: FormEnv) -> Screen:
    kb = StepKeyboard("summary")
    if data.duplicate_of is None:
        kb.add(texts.BTN_SUBMIT, "submit")
    editable = _editable(data, env)
    buttons = [kb.button(texts.edit_button(texts.FIELD_LABELS[f]), "edit", f) for f in editable]
    for start in range(0, len(buttons), 2):
        kb.row(*buttons[start : start + 2])
    return _screen(texts.summary(summary_rows(data)), kb)


def _editable(data: FormData, env: FormEnv) -> list[str]:
    if data.fix_request_id is not None:
        return list(data.fix_fields)  # a returned request: only what the admin asked for
    editable = ["snils", "full_name", "email", "organization", "position"]
    if len(_allowed_roles(data, env)) > 1:
        editable.append("role")
    if len(env.settings.components) > 1:
        editable.append("component")
    return editable


async def _summary_pick(data: FormData, env: FormEnv, action: str, value: str) -> Outcome:
    if action == "submit":
        return Submit() if data.duplicate_of is None else Redraw()
    target = EDITABLE.get(value)
    if target is None or value not in _editable(data, env):
        return Redraw()
    data.editing = True
    if target == "org_search":
        data.org_query, data.org_page = None, 0
    return Goto(target)


def _unexpected(step: str) -> Callable[[FormData, FormEnv], str]:
    def fail(_data: FormData, _env: FormEnv) -> str:
        raise RuntimeError(f"{step} has no successor")

    return fail


STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step("consent", _consent_render, _after_consent, on_pick=_consent_pick, back=False),
        Step("gosuslugi", _gosuslugi_render, _then("esia"), on_pick=_gosuslugi_pick),
        Step("esia", _esia_render, _then("snils"), on_pick=_esia_pick),
        Step(
            "snils",
            _text_screen("snils", texts.SNILS_PROMPT),
            _then("full_name"),
            on_text=_snils_text,
        ),
        Step(
            "full_name",
            _text_screen("full_name", texts.FIO_PROMPT),
            _then("email"),
            on_text=_name_text,
        ),
        Step(
            "email", _text_screen("email", texts.EMAIL_PROMPT), _then("region"), on_text=_email_text
        ),
        Step("region", _region_render, _then("org_search"), on_pick=_region_pick),
        Step(
            "org_search",
            _org_render,
            _then("position"),
            on_text=_org_text,
            on_pick=_org_pick,
            on_back=_org_back,
        ),
        Step(
            "org_full",
            _text_screen("org_full", texts.ORG_FULL_PROMPT),
            _then("org_short"),
            on_text=_name_input("org_full", 5, 500),
            edit_chain=frozenset({"org_short"}),
        ),
        Step(
            "org_short",
            _text_screen("org_short", texts.ORG_SHORT_PROMPT),
            _then("position"),
            on_text=_name_input("org_short", 2, 200),
        ),
        Step(
            "position",
            _position_render,
            _then("role"),
            on_text=_position_typed,
            on_pick=_position_pick,
            edit_chain=frozenset({"role"}),
            on_back=_position_back,
        ),
        Step(
            "position_text",
            _text_screen("position_text", texts.POSITION_TEXT_PROMPT),
            _then("role"),
            on_text=_position_text,
            edit_chain=frozenset({"role"}),
        ),
        Step("role", _role_render, _then("component"), on_pick=_role_pick, skip_if=_role_skip),
        Step(
            "component",
            _component_render,
            _then("summary"),
            on_pick=_component_pick,
            skip_if=_component_skip,
        ),
        Step("summary", _summary_render, _unexpected("summary"), on_pick=_summary_pick),
    )
}
FIRST_STEP = "consent"
STATE_TO_STEP = {step.state.state: name for name, step in STEPS.items()}
