"""The applicant's texts about their personal data (152-FZ): consent, withdrawal, /mydata."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from bot.texts.common import (
    EVENT_NAMES,
    RETURN_FIELD_NAMES,
    STATUS_NAMES,
    _when,
    account_plain,
    days_word,
)
from bot.texts.org import ORG_STATES

# --- consent --------------------------------------------------------------------------------------

CONSENT_VERSION = "2026-12-07.1"  # the consent text below; bump on any change


def consent(operator: str, retention: str) -> str:
    return (
        "<b>Согласие на обработку персональных данных</b>\n\n"
        f"<b>Оператор:</b> {escape(operator)}.\n"
        "<b>Цель:</b> оформление и рассмотрение заявки на доступ к ВИМИС ОНКО, передача "
        "заявки федеральному оператору ВИМИС, связь с вами по заявке.\n"
        "<b>Какие данные:</b> СНИЛС, фамилия, имя, отчество, адрес электронной почты, "
        "медицинская организация, должность, роль в ВИМИС ОНКО, идентификатор в мессенджере "
        "(Telegram или MAX).\n"
        "<b>Кому передаются:</b> МИАЦ (рассмотрение заявки) и федеральному оператору "
        "ВИМИС (Минздрав России) для создания учётной записи.\n"
        f"<b>Срок:</b> {escape(retention)}.\n"
        "<b>Как отозвать:</b> команда /withdraw в этом боте или обращение в МИАЦ: обработка "
        "прекращается, незавершённые заявки отменяются, СНИЛС, ФИО и e-mail удаляются "
        "(не позднее 30 дней, в боте — сразу).\n\n"
        "Данные хранятся на серверах в России. Согласны ли вы на обработку "
        "персональных данных?"
    )


def consent_retention(days: int) -> str:
    """The retention rule as the job applies it (services/retention.py, RETENTION_DAYS)."""
    return (
        "пока заявка рассматривается и исполняется; через "
        f"{days_word(days)} после её завершения (доступ предоставлен, заявка отклонена или "
        "отменена), "
        "если у вас нет другой действующей заявки, СНИЛС, ФИО и e-mail удаляются; либо до "
        "отзыва согласия"
    )


BTN_AGREE = "✅ Согласен(на)"
BTN_DISAGREE = "Не согласен(на)"
CONSENT_DECLINED = (
    "Без согласия на обработку персональных данных подать заявку нельзя. "
    "Введённые данные не сохраняются. Если передумаете — нажмите «Подать заявку».\n\n"
    "Заявки, которые вы уже подали, и согласие, данное вместе с ними, остаются в силе. "
    "Чтобы отозвать и его (заявки будут отменены, данные удалены), отправьте /withdraw."
)


# --- consent withdrawal ---------------------------------------------------------------------------

BTN_WITHDRAW = "🗑 Отозвать согласие на обработку данных"
BTN_WITHDRAW_CONFIRM = "Да, отозвать и удалить"
BTN_WITHDRAW_KEEP = "Нет, оставить"
WITHDRAW_CONFIRM = (
    "<b>Отзыв согласия на обработку персональных данных</b>\n\n"
    "После отзыва:\n"
    "• заявки, которые ещё не переданы федеральному оператору, будут отменены;\n"
    "• СНИЛС, ФИО и e-mail во всех ваших заявках и незаконченная заявка будут удалены "
    "сразу; в журнале останутся записи о действиях с заявками, но без ваших данных;\n"
    "• учётную запись в ВИМИС ОНКО, если она уже создана, это не удаляет: для этого "
    "обратитесь в МИАЦ.\n\n"
    "Отменить это нельзя. Отозвать согласие?"
)
WITHDRAW_KEPT = "Согласие не отозвано, ничего не изменилось."
WITHDRAW_STALE = (
    "Этот вопрос задан до вашего последнего согласия и уже неактуален. "
    "Чтобы отозвать согласие, отправьте /withdraw ещё раз."
)


def _numbers(numbers: Sequence[int]) -> str:
    return ", ".join(f"№ {n}" for n in numbers)


def withdrawn(cancelled: Sequence[int], erased: Sequence[int]) -> str:
    lines = ["Согласие на обработку персональных данных отозвано."]
    if cancelled:
        lines.append(f"Отменены заявки: {_numbers(cancelled)}.")
    if erased:
        lines.append(f"СНИЛС, ФИО и e-mail удалены из заявок {_numbers(erased)}.")
    else:
        lines.append(
            "Поданных заявок с вашими данными в боте нет; незаконченная заявка, если была, удалена."
        )
    lines.append("Чтобы снова подать заявку, потребуется новое согласие.")
    return "\n".join(lines)


# --- /mydata: everything the bot keeps about the person -------------------------------------------

BTN_MYDATA = "🗂 Какие мои данные хранятся"
MYDATA_FILE_NOTE = "Всё, что хранится о вас, — в файле ниже (сообщение вышло бы слишком длинным)."
MYDATA_FILE_NAME = "moi-dannye.txt"
MYDATA_ROLE_NAMES = {
    "admin": "администратор МИАЦ",
    "operator": "оператор МИАЦ",
    "responsible": "ответственный медицинской организации",
    "viewer": "наблюдатель (департамент, главный специалист)",
}
MYDATA_STAFF = "сотрудник МИАЦ"
MYDATA_YOU = "вы"
MYDATA_SYSTEM = "бот"
MYDATA_FIELDS = {
    "snils": "СНИЛС",
    "full_name": "ФИО",
    "email": "Эл. почта",
    "region": "Субъект РФ",
    "org_full_name": "Организация",
    "org_short_name": "Организация (кратко)",
    "org_manual": "Организация введена вручную",
    "position": "Должность",
    "position_in_matrix": "Должность из матрицы ролей",
    "role": "Роль",
    "role_level": "Уровень роли",
    "component": "Компонент",
    "status": "Статус",
    "created_at": "Создана",
    "submitted_at": "Подана",
    "updated_at": "Изменена",
    "decided_at": "Решение принято",
    "decision_reason": "Комментарий к решению",
    "return_fields": "Поля, возвращённые на доработку",
    "export_batch_id": "Выгрузка федеральному оператору №",
    "org_confirmation": "Подтверждение организации",
    "org_reason": "Причина, указанная организацией",
    "org_answered_at": "Организация ответила",
}


# --- who saw or erased the data (also named in the admins' /history) ------------------------------

ERASED_BY_RULE = "по сроку хранения"
VIEW_NOBODY = "чат администраторов"
VIEW_SERVER = "администратор МИАЦ на сервере (выгрузка командой)"
VIEW_VIA = {
    "req": "карточка по /req",
    "list": "карточка из списка",
    "find": "в результатах /find",
    "card": "карточка в чате",
    "export": "выгрузка",
    "history": "прежние и новые данные в /history",
}


def view_via(via: str) -> str:
    return f"через: {VIEW_VIA.get(via, via)}"


def export_selection(selection: str) -> str:
    """What a re-export took, as the admin typed it (`/export all`, `N`, two dates)."""
    parts = selection.split()
    if parts == ["all"]:
        return "выборка: все одобренные заявки"
    if len(parts) == 1 and parts[0].isdigit():
        return f"выборка: выгрузка № {parts[0]}"
    if len(parts) == 2:
        return f"выборка: одобренные с {parts[0]} по {parts[1]}"
    return f"выборка: {selection}"


# --- the /mydata message --------------------------------------------------------------------------


# Fields whose stored value is a code: shown in words.
VALUE_NAMES: dict[str, dict[str, str]] = {"status": STATUS_NAMES, "org_confirmation": ORG_STATES}


def _value(value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, list):
        return ", ".join(RETURN_FIELD_NAMES.get(str(v), str(v)) for v in value)
    return str(value)


def mydata(
    requests: Sequence[tuple[int, Sequence[tuple[str, object]]]],
    consents: Sequence[tuple[str, bool, datetime, datetime | None]],
    events: Sequence[tuple[int, datetime, str, str, str | None]],
    ticket: tuple[str, datetime, int, int, str | None] | None,
    claims: Sequence[tuple[str, datetime]],
    reminders: int,
    draft: Sequence[tuple[str, str]],
    erasures: Sequence[tuple[datetime, Sequence[int], str]] = (),
    account: int | None = None,
) -> str:
    """Plain text (the caller escapes it for a message): everything the bot keeps about the
    person. `events`: (request, when, who — a role, never a name, action, via)."""
    out = ["Какие ваши данные хранит бот (152-ФЗ, ст. 14)", ""]
    if account is not None:
        out += [f"Ваш аккаунт: {account_plain(account)}", ""]
    out.append("Заявки:" if requests else "Заявок нет.")
    for number, fields in requests:
        out.append(f"  Заявка № {number}")
        for name, value in fields:
            names = VALUE_NAMES.get(name)
            shown = names.get(str(value), str(value)) if names and value else _value(value)
            out.append(f"    {MYDATA_FIELDS.get(name, name)}: {shown}")
    out.append("")
    out.append("Согласие на обработку персональных данных:" if consents else "Согласий нет.")
    for version, accepted, at, withdrawn in consents:
        answer = "дано" if accepted else "не дано"
        line = f"  версия текста {version}: {answer} {_when(at)}"
        if withdrawn is not None:
            line += f", отозвано {_when(withdrawn)}"
        out.append(line)
    out.append("")
    if ticket is None:
        out.append("Обращений в поддержку нет.")
    else:
        status, opened, messages, ratings, first_question = ticket
        state = "открыто" if status == "open" else "закрыто"
        out.append(
            f"Обращение в поддержку: {state}, начато {_when(opened)}; "
            f"пересланных сообщений: {messages}; оценок: {ratings}"
        )
        if first_question:
            out.append(f"Ваш первый вопрос (хранится вместе с обращением):\n{first_question}")
    if claims:
        out.append("")
        out.append("Адреса эл. почты, закреплённые за вашим СНИЛС:")
        out += [f"  {email} — с {_when(at)}" for email, at in claims]
    if reminders:
        out.append("")
        out.append(f"Напоминаний о сроке подачи отправлено: {reminders}")
    if erasures:
        out.append("")
        out.append("Уже удалено (СНИЛС, ФИО, эл. почта):")
        for at, numbers, rule in erasures:
            why = "по сроку хранения" if rule == "retention" else "по отзыву согласия"
            listed = ", ".join(f"№ {n}" for n in numbers) or "обращение в поддержку"
            out.append(f"  {listed} — {_when(at)}, {why}")
    if draft:
        out.append("")
        out.append("Незаконченная заявка (черновик):")
        out += [f"  {MYDATA_FIELDS.get(k, k)}: {v}" for k, v in draft]
    out.append("")
    out.append("Кто видел и менял ваши заявки:" if events else "Просмотров и изменений нет.")
    for number, at, who, action, via in events:
        what = EVENT_NAMES.get(action, action)
        if via:
            what += f" ({view_via(via)})"
        out.append(f"  № {number}, {_when(at)} — {who}: {what}")
    return "\n".join(out)
