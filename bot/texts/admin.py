"""MIAC admins' and operators' texts: request cards, decisions, queue, find, history, export."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from html import escape

from bot.texts.common import (
    EVENT_NAMES,
    LOCAL_TZ,
    PAGE_HINT,
    RETURN_FIELD_NAMES,
    STATUS_NAMES,
    _left,
    clip,
    file_line,
    fmt_date,
)

# --- commands -------------------------------------------------------------------------------------

ADMIN_COMMANDS = {
    "queue": "Очередь заявок на рассмотрении",
    "find": "Найти заявку: СНИЛС, фамилия, e-mail, организация",
    "req": "Карточка заявки: /req 17",
    "history": "История заявки: /history 17",
    "export": "Выгрузка одобренных заявок (XLSX и CSV)",
    "granted": "Отметить «доступ предоставлен»",
    "stats": "Статистика",
    "coverage": "Организации без одобренных пользователей",
    "staff": "Сотрудники МИАЦ",
    "health": "Состояние бота: база, очередь отправки, сбои",
    "retention": "Срок хранения: сколько данных удалить и когда",
    "orgform": "Подписанная форма организации: /orgform 3",
    "docs": "Документы «📖 Инструкция»: добавить, заменить, удалить",
}


# --- the request card -----------------------------------------------------------------------------

MAX_WARNINGS = 6


def card(
    number: int,
    status: str,
    submitted: datetime | None,
    rows: Sequence[tuple[str, str]],
    warnings: Sequence[str],
    changes: Sequence[tuple[str, str, str]],
    decision: str | None,
) -> str:
    lines = [f"📥 <b>Заявка № {number}</b> — {escape(STATUS_NAMES.get(status, status))}"]
    if submitted:
        lines.append(f"Подана: {submitted.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}")
    lines.append("")
    lines += [f"<b>{escape(label)}:</b> {escape(clip(value, 300))}" for label, value in rows]
    if warnings:
        lines.append("")
        lines += [f"⚠️ {w}" for w in warnings[:MAX_WARNINGS]]
        if len(warnings) > MAX_WARNINGS:
            lines.append(f"⚠️ … и ещё {len(warnings) - MAX_WARNINGS}")
    if changes:
        lines += ["", "<b>Исправлено после доработки:</b>"]
        lines += [
            f"• {escape(label)}: <s>{escape(clip(old, 120))}</s> → {escape(clip(new, 120))}"
            for label, old, new in changes
        ]
    if decision:
        lines += ["", decision]
    return "\n".join(lines)


# The organisation's form signed by its head, sent back (order No 922, item 2.3).
ORG_SIGNED_LABEL = "Подписанная форма организации"
ORGFORM_USAGE = "Напишите номер формы: <code>/orgform 3</code> (он есть в карточке заявки)."
ORGFORM_NOT_FOUND = "Такой формы нет: номер неверный, или она удалена вместе с заявками."


def orgform_elsewhere(number: int, messenger: str) -> str:
    """A page of the form that cannot be brought over from the messenger it was sent in."""
    return (
        f"Форма № {number} прислана в {messenger}, и её файл не удалось получить оттуда: "
        f"откройте её командой /orgform {number} в группе администраторов в {messenger}."
    )


def org_signed_line(sent: datetime, number: int) -> str:
    """Plain (the card escapes it)."""
    return f"получена {sent.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')} — /orgform {number}"


def orgform_caption(number: int, organization: str, sent: datetime, requests: Sequence[int]) -> str:
    listed = ", ".join(f"№ {n}" for n in requests) or "—"
    return (
        f"Подписанная форма № {number} организации «{escape(organization)}», получена "
        f"{sent.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}; заявки: {listed}"
    )


WARN_ORG_MANUAL = "Организация введена вручную — её нет в справочнике"
WARN_POSITION_MANUAL = "Должности нет в матрице ролей — выберите роль («Сменить роль»)"
NOTE_POSITION_MANUAL_ROLE_SET = "Должности нет в матрице ролей — роль выбрал администратор"
NOTE_POSITION_MANUAL_NO_ROLE = "Должности нет в матрице ролей — роль не выбиралась"
WARN_HELD_FOR_ORG = (
    "⏳ Заявка ждёт подтверждения организации: решение — после её ответа "
    "(или когда истечёт срок ответа)."
)


def warn_own_request(number: int, status: str) -> str:
    return (
        f"Другая заявка этого же заявителя: № {number} ({escape(STATUS_NAMES.get(status, status))})"
    )


def warn_other_account(
    number: int, status: str, same: str, blocks_approval: bool, messenger: str
) -> str:
    """The same SNILS or e-mail from another account (on either messenger: nothing proves
    two accounts are one person): one of the two may not be who they say; the applicant is
    never told about the other request, only the admins."""
    text = (
        f"Тот же {same} в заявке № {number} <b>другого аккаунта ({escape(messenger)})</b> "
        f"({escape(STATUS_NAMES.get(status, status))}) — проверьте, чья это заявка"
    )
    if blocks_approval:
        text += "; одобрить эту заявку нельзя, пока адрес закреплён за той"
    return text


# What a card shows once the applicant has withdrawn consent.
ERASED = "удалено (согласие отозвано)"
ERASED_DECISION = "🚫 Отменена: заявитель отозвал согласие на обработку данных"


# --- decisions ------------------------------------------------------------------------------------

DECISION_NAMES = {
    "approved": "✅ Одобрена",
    "rejected": "❌ Отклонена",
    "returned": "↩️ Возвращена на доработку",
    "exported": "📤 Передана федеральному оператору",
    "access_granted": "🔑 Доступ предоставлен",
    "cancelled": "🚫 Отменена заявителем",
}
BTN_APPROVE = "✅ Одобрить"
BTN_REJECT = "❌ Отклонить"
BTN_RETURN = "↩️ Вернуть на доработку"
BTN_CHANGE_ROLE = "🔁 Сменить роль"
BTN_OTHER_REASON = "✍️ Другая причина"
BTN_CARD_BACK = "⬅️ К карточке"
BTN_NEXT = "Далее ➡️"
# No «Организация не участвует в работе с ВИМИС ОНКО»: by item 2.2 of the order every
# organisation of the region takes part.
DEFAULT_REJECT_REASONS = (
    "Должность не соответствует запрошенной роли",
    "Данные не совпадают с Госуслугами",
    "Повторная заявка",
)


def decision_line(status: str, who: str, reason: str | None) -> str:
    text = f"<b>{DECISION_NAMES.get(status, escape(status))}</b> — {who}"
    if reason:
        text += f"\nПричина: {escape(clip(reason, 600))}"
    return text


def already_decided(status: str, who: str) -> str:
    # Plain text: a callback answer is not HTML.
    return f"Решение уже принято: {STATUS_NAMES.get(status, status)} — {who}"


ROLE_NEEDED = "Сначала выберите роль: нажмите «Сменить роль»."


def email_held(holder: int | None) -> str:
    # Plain text for a callback alert (at most 200 characters).
    where = f"одобренной заявки № {holder}" if holder else "одобренной заявки"
    return (
        f"Нельзя одобрить: этот e-mail уже у {where} другого человека (другой СНИЛС). "
        "Один адрес — один пользователь: верните заявку на доработку поля «Эл. почта» "
        "или отклоните её."
    )


HELD_FOR_ORG_REFUSED = (
    "Заявка ждёт подтверждения организации: решить её можно после ответа организации "
    "или когда истечёт срок ответа."
)


def done_note(number: int, status: str) -> str:
    return f"Заявка № {number}: {STATUS_NAMES.get(status, status)}."


REQUEST_NOT_FOUND = "Заявка не найдена."


# --- a reason or comment typed by an admin --------------------------------------------------------


def addressed(who: str, prompt: str) -> str:
    return f"👤 {who}\n{prompt}"


INPUT_KIND_NAMES = {
    "reject": "причину отказа",
    "return": "комментарий для заявителя",
    "role": "причину смены роли",
    "broadcast_text": "текст рассылки",
    "org_decline": "причину",
    "staff_org": "слова из названия организации",
    "broadcast_org": "слова из названия организации",
    "guide_title": "название документа",
}


def input_hint(who: str, kind: str, number: int | None) -> str:
    what = INPUT_KIND_NAMES.get(kind, "ответ")
    about = f" по заявке № {number}" if number else ""
    return (
        f"{who}, {what}{about} я жду <b>ответом</b> на моё сообщение с вопросом "
        "(смахните его влево). Если это сообщение и есть ответ — нажмите кнопку. "
        "Передумали — /cancel."
    )


BTN_USE_AS_INPUT = "✅ Использовать это сообщение"


def file_hint(who: str) -> str:
    return (
        f"{who}, файл я жду <b>ответом</b> на моё сообщение с вопросом (смахните его влево или "
        "нажмите «Ответить») — пришлите его так ещё раз. Передумали — /cancel."
    )


def ask_reject_reason(number: int) -> str:
    return f"Напишите причину отказа по заявке № {number} ответом на это сообщение."


def ask_return_comment(number: int, fields: Sequence[str]) -> str:
    names = ", ".join(RETURN_FIELD_NAMES[f] for f in fields)
    return (
        f"Заявка № {number}: вернуть на доработку поля «{escape(names)}». "
        "Напишите комментарий для заявителя ответом на это сообщение."
    )


def ask_role_reason(number: int, role: str) -> str:
    return (
        f"Заявка № {number}: новая роль «{escape(role)}». "
        "Напишите причину ответом на это сообщение."
    )


def pick_return_fields(number: int) -> str:
    return f"Заявка № {number}: отметьте поля, которые нужно исправить, и нажмите «Далее»."


PICK_AT_LEAST_ONE = "Отметьте хотя бы одно поле."
INPUT_CANCELLED = "Ввод отменён."
INPUT_NEEDS_TEXT = "Нужен текст. Напишите ещё раз или /cancel."
INPUT_TOO_LONG = "Слишком длинно: не больше 1000 символов."


# --- queue, find, a card by number ----------------------------------------------------------------


def queue_page(total: int, page: int, pages: int) -> str:
    if total == 0:
        return "Очередь пуста: новых заявок нет."
    text = f"<b>Заявки на рассмотрении:</b> {total}. Сначала самые старые."
    if pages > 1:
        text += f"\n{PAGE_HINT.format(page=page + 1, pages=pages)}"
    return text


def queue_item(number: int, submitted: datetime | None, org: str) -> str:
    """A button of /queue or /find. No name: the message stays in the chat after the person
    withdraws consent, and only cards are updated then; the card shows the name."""
    when = f" · {fmt_date(submitted)}" if submitted else ""
    return f"№ {number}{when} · {org}"


FIND_USAGE = (
    "Напишите после команды СНИЛС, часть фамилии, e-mail или слова из названия "
    "организации: /find Иванова"
)


def found(count: int) -> str:
    return f"Найдено заявок: {count}." if count else "Ничего не найдено."


REQ_USAGE = "Укажите номер заявки: /req 17"


# --- history --------------------------------------------------------------------------------------

HISTORY_USAGE = "Укажите номер заявки: /history 17"
FIELD_NAMES_DB = {
    "snils": "СНИЛС",
    "full_name": "ФИО",
    "email": "Эл. почта",
    "org_full_name": "Полное наименование МО",
    "org_short_name": "Краткое наименование МО",
    "org_manual": "МО вручную",
    "organization_id": "МО из справочника",
    "position": "Должность",
    "position_in_matrix": "Должность из матрицы",
    "role": "Роль",
    "role_level": "Уровень доступа",
}


def history(number: int, lines: Sequence[str]) -> str:
    return f"<b>История заявки № {number}</b>\n\n" + "\n".join(lines)


def history_line(at: datetime, who: str, action: str, details: Sequence[str]) -> str:
    head = f"{at.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')} — {escape(who)}: " + escape(
        EVENT_NAMES.get(action, action)
    )
    return "\n".join([head, *(f"   {d}" for d in details)])


# How an empty old or new value reads in the history (never «None»).
EMPTY_VALUES = {"role": "не выбрана", "role_level": "не выбран"}


def _history_value(field: str, value: object) -> str:
    if value is None or value == "":
        return EMPTY_VALUES.get(field, "не указано")
    if isinstance(value, bool):
        return "да" if value else "нет"
    return clip(str(value), 120)


def change_detail(field: str, old: object, new: object) -> str:
    label = FIELD_NAMES_DB.get(field, field)
    if old is None and new is None:  # values destroyed on consent withdrawal
        return f"{escape(label)}: изменено (значения удалены)"
    return (
        f"{escape(label)}: {escape(_history_value(field, old))} → "
        f"{escape(_history_value(field, new))}"
    )


def fields_detail(names: Sequence[str]) -> str:
    return f"Поля на доработку: {escape(', '.join(names))}"


def reason_detail(reason: str) -> str:
    return f"Причина: {escape(clip(reason, 300))}"


# --- export and access granted --------------------------------------------------------------------

EXPORT_USAGE = (
    "/export — новые одобренные заявки (отмечаются как выгруженные);\n"
    "/export all — все одобренные; /export 3 — выгрузка № 3 ещё раз;\n"
    "/export 01.12.2026 15.12.2026 — одобренные за период. Повторные выгрузки статусы не меняют."
)
EXPORT_NOTHING = "Новых одобренных заявок для выгрузки нет."
EXPORT_NOTHING_AGAIN = "По этому условию заявок нет."


def export_no_batch(batch: int) -> str:
    return f"Выгрузки № {batch} нет: проверьте номер (он в подписи к файлу выгрузки)."


def export_caption(batch_id: int | None, count: int) -> str:
    if batch_id is None:
        return f"Повторная выгрузка: заявок {count}. Статусы не изменены."
    return (
        f"Выгрузка № {batch_id}: заявок {count}, они отмечены как переданные федеральному "
        "оператору. Когда оператор создаст учётные записи, нажмите кнопку ниже или "
        f"отправьте /granted {batch_id}."
    )


def export_held_back(count: int) -> str:
    """Appended to the /export answer: approved requests left out of the batch."""
    if not count:
        return ""
    return (
        f"\n\nНе выгружено одобренных заявок: {count} — их адрес электронной почты указан и в "
        "заявке другого человека (адрес должен быть уникальным для каждого пользователя). "
        "Найдите их через /find по адресу и решите, чья это почта."
    )


def btn_granted(batch_id: int) -> str:
    return f"🔑 Доступ предоставлен (выгрузка № {batch_id})"


GRANTED_USAGE = "Укажите номера заявок (/granted 12 13) или выгрузку (/granted batch 3)."


def granted_done(count: int, skipped: int) -> str:
    text = f"Отмечено «доступ предоставлен»: {count}."
    if skipped:
        text += f" Пропущено (не в статусе «передана федеральному оператору»): {skipped}."
    return text


# --- deadline reminder ----------------------------------------------------------------------------


def reminder_admin(days: int, deadline: date, queue: int) -> str:
    text = _left(days, deadline)
    return f"⏰ {text[0].upper()}{text[1:]}. В очереди на рассмотрение: {queue}. /queue"


# --- /docs: the documents «📖 Инструкция» hands out (order item 4.3) --------------------------

BTN_DOCS_ADD = "➕ Добавить документ"
DOCS_ASK_FILE = (
    "Пришлите документ (или фото) ответом на это сообщение, до 20 МБ. Затем я спрошу его "
    "название. Отменить: /cancel"
)
DOCS_NEED_FILE = "Нужен файл: документ или фото. Пришлите его ответом на это сообщение или /cancel."
DOCS_ASK_TITLE = (
    "Как назвать документ? Название увидят заявители над файлом (до 200 знаков), например: "
    "«Инструкция по входу в ВИМИС ОНКО». Отменить: /cancel"
)
DOCS_TITLE_EMPTY = "Нужно название документа. Напишите его или /cancel."
DOCS_TITLE_TOO_LONG = "Слишком длинное название: не больше 200 знаков. Напишите короче."
DOCS_CANCELLED = "Отменено: документы не изменились. Список: /docs"
DOCS_FULL = "Документов уже 10: удалите ненужный, чтобы добавить новый."
DOCS_REMOVED = "Документ удалён"
DOCS_GONE = "Этого документа уже нет (его удалили): новая версия не сохранена. Список: /docs"


def btn_docs_replace(number: int) -> str:
    return f"🔄 Заменить {number}"


def btn_docs_remove(number: int) -> str:
    return f"🗑 Удалить {number}"


def docs_ask_version(title: str) -> str:
    return (
        f"Пришлите новую версию «{escape(title)}» ответом на это сообщение (документ или фото, "
        "до 20 МБ). Название останется прежним. Отменить: /cancel"
    )


def docs_list(rows: Sequence[tuple[int, str, str, int | None, datetime]]) -> str:
    """The documents in the order the guide sends them: (number, title, file name, size,
    updated). Titles and names are escaped: an admin typed or chose them."""
    if not rows:
        return (
            "<b>Документы «📖 Инструкция»</b>\n\nДокументов пока нет: заявитель, открывший "
            "инструкцию, получает только её текст. Добавьте инструкцию или расписание обучения "
            "(п. 4.2–4.3 приказа)."
        )
    lines = [
        "<b>Документы «📖 Инструкция»</b> — их получает каждый, кто откроет инструкцию, "
        "в этом порядке:",
        "",
    ]
    for number, title, name, size, updated in rows:
        lines.append(
            f"{number}. «{escape(title)}» — {file_line(name, size)} "
            f"(обновлён {updated.astimezone(LOCAL_TZ):%d.%m.%Y %H:%M})"
        )
    lines += ["", "Новая версия дойдёт до всех, кто откроет инструкцию после замены."]
    return "\n".join(lines)


def docs_added(title: str) -> str:
    return f"Документ «{escape(title)}» добавлен."


def docs_replaced(title: str) -> str:
    return (
        f"Новая версия «{escape(title)}» сохранена: её получит каждый, кто откроет «📖 Инструкция»."
    )
