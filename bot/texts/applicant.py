"""The applicant's texts around the form: menu, greeting, my requests, notices of decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from html import escape

from bot.texts.applicant_form import (
    BTN_DEPARTMENT,
    BTN_POSITION_OTHER,
    NEXT_HELD_FOR_ORG,
    ROLE_BY_ADMIN,
    STATUS_HELD_FOR_ORG,
)
from bot.texts.common import PAGE_HINT, RETURN_FIELD_NAMES, STATUS_NAMES, _left, clip, fmt_date

# --- commands and menu ----------------------------------------------------------------------------

COMMANDS = {
    "start": "Главное меню",
    "new": "Подать заявку на доступ",
    "my": "Мои заявки",
    "help": "Задать вопрос",
    "cancel": "Отменить текущее действие",
    "withdraw": "Отозвать согласие на обработку данных",
    "mydata": "Какие мои данные хранит бот",
}


def role_help(role: str, commands: dict[str, str]) -> str:
    """/help of a staff member: their own commands first (the question to МИАЦ follows)."""
    lines = [f"<b>Ваши команды</b> ({escape(role)}):"]
    lines += [f"/{name} — {escape(what)}" for name, what in commands.items()]
    lines += ["", "Заявка на доступ для себя — /new; вопрос специалисту МИАЦ — ниже."]
    return "\n".join(lines)


BTN_NEW = "📝 Подать заявку"
BTN_MY = "📋 Мои заявки"
BTN_ASK = "❓ Задать вопрос"
BTN_GUIDE = "📖 Инструкция"
BTN_STEP_HELP = "❓ Вопрос"
BTN_CONTINUE = "▶️ Продолжить"
BTN_RESTART = "🔄 Начать заново"


# --- greeting and guide ---------------------------------------------------------------------------

ORDER_TITLE = "приказ департамента здравоохранения Костромской области № 922 от 08.09.2022"


def greeting(first_name: str | None, order_title: str | None, deadline: date | None) -> str:
    hello = f"Здравствуйте, {escape(first_name)}!" if first_name else "Здравствуйте!"
    lines = [
        hello,
        "",
        "Я помогу сотрудникам медицинских организаций подать заявку на доступ к "
        "<b>ВИМИС ОНКО</b> — федеральной информационной системе Минздрава России по онкологии "
        f"({escape(order_title or ORDER_TITLE)}).",
        "",
        "Заявку здесь подают и <b>главные внештатные специалисты</b> департамента (п. 3.1 "
        f"приказа): на шаге «организация» выберите «{BTN_DEPARTMENT}», а не медицинскую "
        "организацию. Онкологу подойдёт должность «Главный внештатный онколог субъекта РФ»; "
        "специалистам по детской онкологии, гематологии и детской гематологии, как и всем, "
        f"чьей должности нет в списке, — кнопка «{BTN_POSITION_OTHER}»: напишите должность, "
        "роль назначит администратор МИАЦ.",
        "",
        "Заявку рассматривают специалисты МИАЦ, о решении я сообщу здесь же.",
    ]
    if deadline:
        lines += ["", deadline_note(deadline)]
    lines += ["", "Выберите, что хотите сделать:"]
    return "\n".join(lines)


GUIDE = (
    "<b>Как получить доступ к ВИМИС ОНКО</b>\n\n"
    "1. Нужна <b>подтверждённая</b> учётная запись на портале «Госуслуги».\n"
    "2. Один раз <b>самостоятельно</b> войдите через Госуслуги (ЕСИА) на портал ЕГИСЗ: {url} "
    "и нажмите кнопку «Сохранить».\n"
    "3. Подайте заявку здесь: я спрошу СНИЛС, ФИО, электронную почту, организацию и "
    "должность и предложу роль по матрице ролей.\n\n"
    "После одобрения заявку передадут федеральному оператору, а я сообщу, когда доступ "
    "будет предоставлен.\n\n"
    "Если что-то не получается, нажмите «Задать вопрос» — вам ответит специалист МИАЦ."
)


GUIDE_DOCUMENTS_FOLLOW = (
    "Документы МИАЦ (инструкции, расписание обучения) — следующими сообщениями."
)


def guide(esia_url: str, documents: int = 0) -> str:
    text = GUIDE.format(url=escape(esia_url))
    return f"{text}\n\n{GUIDE_DOCUMENTS_FOLLOW}" if documents else text


def guide_document(title: str) -> str:
    """The caption of a document «📖 Инструкция» hands out (its title, as the admin typed it)."""
    return f"📄 <b>{escape(title)}</b>"


# --- the order (No 922): its link, its typo, its deadline -----------------------------------------

# ORDER_URL: the published order
BTN_ORDER = "📄 Текст приказа"


def order_link(order_url: str | None, esia_url: str) -> str:
    """The order's link and its typo: the address printed in the order is wrong."""
    lines = []
    if order_url:
        lines.append(f'📄 <a href="{escape(order_url)}">Текст приказа № 922</a>')
    lines.append(
        "⚠️ В приказе адрес портала ЕГИСЗ напечатан с опечаткой: «ia.egisz.<b>t</b>osminzdrav.ru». "
        f"Правильный адрес: {escape(esia_url)}"
    )
    return "\n".join(lines)


def with_order(text: str, order_url: str | None, esia_url: str) -> str:
    """«📖 Инструкция» and /help: the order's link (ORDER_URL) and its typo under the text."""
    return f"{text}\n\n{order_link(order_url, esia_url)}"


def deadline_note(deadline: date) -> str:
    """DEADLINE does not stop submissions: say what really happens after it."""
    return (
        f"⏰ Срок подачи заявок — до <b>{fmt_date(deadline)}</b>. Заявки, поданные позже, "
        "тоже принимаются и рассматриваются, но лучше не откладывать."
    )


# --- resuming, restarting, cancelling -------------------------------------------------------------

RESUME_PROMPT = (
    "У вас есть незаконченная заявка. Продолжить с того места, где вы остановились, "
    "или начать заново?"
)
RESTART_CONFIRM = (
    "Начать заново? Всё, что вы уже ввели в этой заявке (СНИЛС, ФИО, e-mail, организация, "
    "должность), будет удалено."
)
BTN_RESTART_YES = "🔄 Да, удалить и начать заново"
NO_DRAFT = "Незаконченной заявки нет."
CANCELLED = (
    "Заполнение заявки отменено, введённые данные удалены. Вы можете начать заново в любой момент."
)
NOTHING_TO_CANCEL = "Сейчас нечего отменять."
FINISH_CURRENT_FIRST = "Сначала завершите или отмените заявку, которую заполняете сейчас (/cancel)."


# --- requests already in work, a request for another role -----------------------------------------


def existing_requests(rows: Sequence[tuple[int, str | None, str]]) -> str:
    lines = ["<b>У вас уже есть заявки в работе:</b>", ""]
    lines += [
        f"• № {number} — {escape(role) if role else ROLE_BY_ADMIN}; "
        f"{escape(STATUS_NAMES.get(status, status))}"
        for number, role, status in rows
    ]
    lines += [
        "",
        "Вторая заявка на ту же роль не нужна: о решении я сообщу здесь. Если нужна "
        "<b>другая роль</b>, нажмите «Заявка на другую роль» — СНИЛС, ФИО, e-mail и "
        "организацию я возьму из последней заявки, останется выбрать должность и роль.",
    ]
    if any(status == "returned" for _, _, status in rows):
        lines.append("Заявку, возвращённую на доработку, исправьте кнопкой «Исправить заявку».")
    return "\n".join(lines)


BTN_ANOTHER_ROLE = "➕ Заявка на другую роль"


def another_role_intro(number: int) -> str:
    return (
        f"Заявка на другую роль. СНИЛС, ФИО, e-mail и организацию я возьму из заявки "
        f"<b>№ {number}</b> — их можно будет изменить перед отправкой."
    )


# --- my requests ----------------------------------------------------------------------------------

MY_EMPTY = "У вас пока нет заявок. Нажмите «Подать заявку», чтобы оформить первую."


def my_request(
    number: int,
    role: str | None,
    organization: str,
    status: str,
    created: datetime,
    reason: str | None,
    held: bool = False,
) -> str:
    shown = STATUS_HELD_FOR_ORG if held else STATUS_NAMES.get(status, status)
    lines = [
        f"<b>№ {number}</b> от {fmt_date(created)} — {escape(shown)}",
        f"Роль: {escape(role) if role else ROLE_BY_ADMIN}",
        f"Организация: {escape(clip(organization, 150))}",
    ]
    if reason:
        lines.append(f"Причина: {escape(clip(reason, 300))}")
    return "\n".join(lines)


def my_requests(blocks: Sequence[str], page: int = 0, pages: int = 1) -> str:
    head = "<b>Ваши заявки</b>"
    if pages > 1:
        head += f" ({PAGE_HINT.format(page=page + 1, pages=pages).lower()})"
    return head + "\n\n" + "\n\n".join(blocks)


# --- decisions, as the applicant is told them -----------------------------------------------------


def applicant_approved(number: int) -> str:
    return (
        f"✅ Заявка <b>№ {number}</b> одобрена.\n\nМИАЦ передаст её федеральному оператору "
        "ВИМИС. Когда доступ будет предоставлен, я сообщу, как войти."
    )


def applicant_rejected(number: int, reason: str) -> str:
    return (
        f"Заявка <b>№ {number}</b> отклонена.\nПричина: {escape(reason)}\n\n"
        "Вы можете подать новую заявку, исправив указанное."
    )


def applicant_returned(number: int, fields: Sequence[str], comment: str) -> str:
    names = ", ".join(RETURN_FIELD_NAMES.get(f, f) for f in fields)
    return (
        f"↩️ Заявка <b>№ {number}</b> возвращена на доработку.\n"
        f"Комментарий МИАЦ: {escape(comment)}\n"
        f"Нужно исправить: <b>{escape(names)}</b>.\n\nНажмите «Исправить заявку»."
    )


def applicant_role_changed(number: int, old: str | None, new: str, reason: str) -> str:
    if old is None:  # the position was not in the matrix: the admin picked the role
        return (
            f"В заявке <b>№ {number}</b> администратор МИАЦ назначил роль "
            f"<b>{escape(new)}</b>.\nКомментарий: {escape(reason)}"
        )
    return (
        f"В заявке <b>№ {number}</b> изменена роль: {escape(old)} → "
        f"<b>{escape(new)}</b>.\nПричина: {escape(reason)}"
    )


def applicant_org_declined(number: int, reason: str) -> str:
    return (
        f"Ваша организация не подтвердила заявку <b>№ {number}</b>.\n"
        f"Причина: {escape(reason)}\n\n"
        "Решение примет администратор МИАЦ. Если это ошибка, обратитесь к ответственному лицу "
        "вашей организации или задайте вопрос через меню."
    )


def applicant_granted(number: int, login_url: str | None) -> str:
    where = f"Откройте {escape(login_url)} и войдите" if login_url else "Войдите в ВИМИС ОНКО"
    return (
        f"🔑 По заявке <b>№ {number}</b> доступ к ВИМИС ОНКО предоставлен.\n\n"
        f"{where} через Госуслуги (ЕСИА) — своей подтверждённой учётной записью, той же, что "
        "при первом входе на портал ЕГИСЗ. Если роль не видна или вход не удаётся, нажмите "
        "«Задать вопрос»."
    )


# --- fixing a returned request --------------------------------------------------------------------


def btn_fix(number: int) -> str:
    return f"✏️ Исправить заявку № {number}"


def fix_intro(number: int, comment: str | None) -> str:
    text = f"Исправление заявки <b>№ {number}</b>."
    if comment:
        text += f"\nКомментарий МИАЦ: {escape(comment)}"
    return text


FIX_NOT_AVAILABLE = "Эту заявку сейчас нельзя исправить."


def resubmitted(number: int, held: bool = False) -> str:
    if held:  # declined by the organisation, corrected: it asks the organisation again
        return (
            f"✅ Исправленная заявка <b>№ {number}</b> отправлена повторно. "
            f"Статус: <b>{STATUS_HELD_FOR_ORG}</b>.\n\n{NEXT_HELD_FOR_ORG}"
        )
    return (
        f"✅ Исправленная заявка <b>№ {number}</b> отправлена повторно. "
        "Статус: <b>на рассмотрении</b>."
    )


# --- deadline reminder ----------------------------------------------------------------------------


def reminder_applicant(days: int, deadline: date) -> str:
    return (
        f"⏰ Доступ к ВИМИС ОНКО: {_left(days, deadline)}. У вас есть незаконченная заявка — "
        "нажмите /start, чтобы продолжить с того места, где вы остановились."
    )
