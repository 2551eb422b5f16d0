"""Texts for those who oversee the work: stats, coverage, report, broadcasts, retention, health."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from html import escape, unescape

from bot.texts.common import (
    LOCAL_TZ,
    STATUS_NAMES,
    _when,
    clip,
    days_word,
    file_line,
    fmt_date,
    plural,
)

# --- /stats and its charts ------------------------------------------------------------------------


def stats(
    by_status: Sequence[tuple[str, int]],
    by_org: Sequence[tuple[str, int]],
    by_role: Sequence[tuple[str, int]],
    median_hours: float | None,
    p90_hours: float | None,
) -> str:
    lines = ["<b>Статистика заявок</b>", "", "<b>По статусам:</b>"]
    lines += [f"• {escape(STATUS_NAMES.get(s, s))}: {n}" for s, n in by_status] or ["• нет"]
    lines += ["", "<b>Время до решения:</b>"]
    if median_hours is None or p90_hours is None:
        lines.append("• решений ещё нет")
    else:
        lines.append(f"• медиана {median_hours:.1f} ч, 90-й процентиль {p90_hours:.1f} ч")
    lines += ["", "<b>По ролям:</b>"]
    lines += [f"• {escape(r)}: {n}" for r, n in by_role] or ["• нет"]
    lines += ["", "<b>По организациям (больше всего заявок):</b>"]
    lines += [f"• {escape(o)}: {n}" for o, n in by_org] or ["• нет"]
    return "\n".join(lines)


CHART_BY_DAY = "Заявки по дням и статусам"
CHART_BY_ORG = "Организации: одобренные пользователи"
CHART_DAY_AXIS = "Дата подачи"
CHART_COUNT_AXIS = "Заявок"
CHART_USERS_AXIS = "Пользователей с доступом или одобренной заявкой"
CHART_BY_WEEK = "Заявки по неделям и статусам"
CHART_WEEK_AXIS = "Неделя подачи (дата понедельника)"
CHART_BY_MONTH = "Заявки по месяцам и статусам"
CHART_MONTH_AXIS = "Месяц подачи"


def chart_others(organizations: int) -> str:
    return f"остальные ({organizations} орг.)"


# --- /coverage ------------------------------------------------------------------------------------

COVERAGE_WHY = (
    "За них заявку на сотрудников направляет руководитель организации (п. 2.3); главные "
    "внештатные специалисты подают свою заявку сами (п. 3.1)."
)


def coverage(total: int, missing: Sequence[str], shown: int) -> str:
    if total == 0:
        return "Справочник организаций пуст: загрузите выгрузку ФРМО (import-organizations)."
    if not missing:
        return f"Во всех {total} организациях справочника есть одобренные пользователи. 🎉"
    lines = [
        f"<b>Организации без одобренных пользователей:</b> {len(missing)} из {total} "
        "(пп. 2.3, 3.1 приказа: заявку на доступ к ВИМИС ОНКО направляет каждая организация).",
        COVERAGE_WHY,
        "",
    ]
    lines += [f"• {escape(name)}" for name in missing[:shown]]
    if len(missing) > shown:
        lines.append(f"… и ещё {len(missing) - shown} — полный список в файле.")
    return "\n".join(lines)


def coverage_signed(forms: Sequence[tuple[str, datetime, int]], shown: int) -> str:
    """For admins only: which organisations sent their form signed by the head (item 2.3)."""
    if not forms:
        return "<b>Подписанные формы (п. 2.3):</b> ни одна организация ещё не прислала."
    lines = [f"<b>Подписанные формы (п. 2.3):</b> прислали {len(forms)} орг."]
    lines += [
        f"• {escape(name)} — {at.astimezone(LOCAL_TZ).strftime('%d.%m.%Y')}, /orgform {number}"
        for name, at, number in forms[:shown]
    ]
    if len(forms) > shown:
        lines.append(f"… и ещё {len(forms) - shown}.")
    return "\n".join(lines)


COVERAGE_COLUMNS = ("OID", "Полное наименование", "Краткое наименование")


# --- /report: the message -------------------------------------------------------------------------

COMMAND_REPORT = "Отчёт: заявки, сроки решения, охват организаций"
REPORT_TITLE = "Отчёт о подключении к ВИМИС ОНКО"
REPORT_SHOWN = 15  # organisations listed per group in the message; all of them in the XLSX
REPORT_NAME_LIMIT = 90  # characters of an organisation's name in the message (in full in the XLSX)
REPORT_MESSAGE_LIMIT = 4000  # Telegram allows 4096 characters of text, counted after the HTML


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ч"


def _org_list(title: str, names: Sequence[str], total: int, shown: int) -> list[str]:
    lines = [f"<b>{title}:</b> {len(names)} из {total}"]
    lines += [f"• {escape(clip(name, REPORT_NAME_LIMIT))}" for name in names[:shown]]
    if len(names) > shown:
        lines.append(f"… и ещё {len(names) - shown} — полный список в файле.")
    return lines


def _visible_length(html: str) -> int:
    """Telegram's length of an HTML message: UTF-16 code units of the text without the tags."""
    return len(unescape(re.sub(r"<[^>]+>", "", html)).encode("utf-16-le")) // 2


def deadline_progress(deadline: date | None, today: date, covered: int, organizations: int) -> str:
    share = f"{covered} из {organizations}" + (
        f" ({covered * 100 // organizations}%)" if organizations else ""
    )
    if deadline is None:
        return f"Организаций с одобренными пользователями: {share}. Срок (DEADLINE) не задан."
    days = (deadline - today).days
    if days > 0:
        left = plural(days, "остался", "осталось", "осталось")
        when = f"до срока ({fmt_date(deadline)}) {left} {days_word(days)}"
    elif days == 0:
        when = f"сегодня, {fmt_date(deadline)}, — последний день срока"
    else:
        when = (
            f"срок ({fmt_date(deadline)}) прошёл {days_word(-days)} назад; заявки по-прежнему "
            "принимаются и рассматриваются"
        )
    return f"Организаций с одобренными пользователями: {share}; {when}."


def report(
    by_status: Sequence[tuple[str, int]],
    median_hours: float | None,
    p90_hours: float | None,
    organizations: int,
    no_responsible: Sequence[str],
    no_request: Sequence[str],
    no_approved: Sequence[str],
    progress: str,
    shown: int = REPORT_SHOWN,
) -> str:
    """The report as one message: fewer organisations per list (the XLSX has them all) until
    it fits Telegram's limit, whatever the directory's names are like."""
    while True:
        text = _report_text(
            by_status, median_hours, p90_hours, organizations,
            no_responsible, no_request, no_approved, progress, shown,
        )  # fmt: skip
        if shown == 0 or _visible_length(text) <= REPORT_MESSAGE_LIMIT:
            return text
        shown -= 1


def _report_text(
    by_status: Sequence[tuple[str, int]],
    median_hours: float | None,
    p90_hours: float | None,
    organizations: int,
    no_responsible: Sequence[str],
    no_request: Sequence[str],
    no_approved: Sequence[str],
    progress: str,
    shown: int,
) -> str:
    total = sum(n for _, n in by_status)
    lines = [f"<b>{REPORT_TITLE}</b>", "", f"<b>Заявки по статусам</b> (всего {total}):"]
    lines += [f"• {escape(STATUS_NAMES.get(s, s))}: {n}" for s, n in by_status] or ["• нет"]
    lines += [
        "",
        f"<b>Время до решения:</b> медиана {_hours(median_hours)}, "
        f"90-й процентиль {_hours(p90_hours)}",
        "",
        f"<b>Ход исполнения:</b> {escape(progress)}",
        "",
    ]
    if organizations == 0:
        lines.append("Справочник организаций пуст: загрузите выгрузку ФРМО.")
        return "\n".join(lines)
    lines += _org_list("Без ответственного лица (п. 2.1)", no_responsible, organizations, shown)
    lines.append("")
    lines += _org_list("Без заявки (пп. 2.3, 3.1)", no_request, organizations, shown)
    lines.append("")
    lines += _org_list(
        "Без одобренного пользователя (пп. 2.3, 3.1)", no_approved, organizations, shown
    )
    return "\n".join(lines)


# --- /report: the charts and the XLSX -------------------------------------------------------------

REPORT_CHART_STATUS = "Заявки по статусам"
REPORT_CHART_ORGS = "Организации"
REPORT_CHART_ORGS_AXIS = "Организаций"
REPORT_CHART_ALL = "всего в справочнике"
REPORT_CHART_RESPONSIBLE = "с ответственным лицом"
REPORT_CHART_REQUESTED = "с заявкой"
REPORT_CHART_APPROVED = "с одобренным пользователем"
REPORT_SHEET_SUMMARY = "Сводка"
REPORT_SHEET_NO_RESPONSIBLE = "Без ответственного"
REPORT_SHEET_NO_REQUEST = "Без заявки"
REPORT_SHEET_NO_APPROVED = "Без одобренных"
REPORT_COLUMN_WHAT = "Показатель"
REPORT_COLUMN_VALUE = "Значение"
REPORT_COLUMN_ORG = "Организация"
REPORT_MEDIAN = "Медиана времени до решения, ч"
REPORT_P90 = "90-й процентиль времени до решения, ч"
REPORT_ORGS = "Организаций в справочнике"
REPORT_PROGRESS = "Ход исполнения"
REPORT_SCHEDULED = "🗓 Еженедельный отчёт"


def report_status_row(status: str) -> str:
    return f"Заявок: {STATUS_NAMES.get(status, status)}"


# --- /broadcast -----------------------------------------------------------------------------------

COMMAND_BROADCAST = (
    "Рассылка с файлом или без: ответственным лицам, заявителям по статусу заявки, "
    "одной организации"
)
BROADCAST_AUDIENCES = {
    "responsible": "👥 Всем ответственным лицам организаций",
    "drafts": "📝 Заявителям с незаконченной заявкой",
    "no_request": "🏥 Ответственным лицам организаций без заявок",
    "submitted": "⏳ Заявителям: заявка на рассмотрении",
    "approved": "✅ Заявителям: заявка одобрена",
    "granted": "🔑 Заявителям: доступ предоставлен",
    "organization": "🏢 Сотрудникам одной организации…",
}
BROADCAST_ORG_PROMPT = (
    "Напишите одно-два слова из названия организации: рассылка уйдёт её заявителям и "
    "ответственным лицам. Отменить: /cancel"
)
BROADCAST_ORG_NONE = (
    "Такой организации в справочнике не нашлось. Напишите другие слова из названия."
)
BROADCAST_ORG_WORDS_LIMIT = "Слишком длинно: напишите одно-два слова из названия."
BROADCAST_ORG_WORDS_EMPTY = "Нужны слова из названия организации. Напишите их или /cancel."


def broadcast_org_found(total: int, shown: int) -> str:
    more = f" Показаны первые {shown}: уточните слова, если вашей нет." if total > shown else ""
    return f"Найдено организаций: {total}. Кому отправить рассылку?{more}"


BROADCAST_PICK = (
    "<b>Рассылка.</b> Кому отправить сообщение? Текст уйдёт как есть, без оформления.\n"
    "Итоги прошлых рассылок: /broadcast status"
)
BROADCAST_ASK_TEXT = "Напишите текст рассылки одним сообщением (до 4000 знаков). Отменить: /cancel"
BROADCAST_TOO_LONG = "Слишком длинный текст: не больше 4000 знаков. Напишите короче."
BROADCAST_NEED_TEXT = "Нужен текст одним сообщением. Напишите его ещё раз или /cancel."
BROADCAST_CANCELLED = "Рассылка отменена."
BROADCAST_STALE = "Эта рассылка уже отправлена или отменена."
BROADCAST_NOBODY = "Получателей нет: рассылка не отправлена."
BROADCAST_NOBODY_NOW = (
    "Сейчас в этой аудитории никого нет: отправлять некому, рассылка не создана. "
    "Другая аудитория: /broadcast"
)
BTN_BROADCAST_SEND = "📨 Отправить"
BTN_BROADCAST_CANCEL = "✖️ Отменить"


BTN_BROADCAST_FILE = "📎 Приложить файл"
BTN_BROADCAST_FILE_AGAIN = "📎 Другой файл"
BTN_BROADCAST_FILE_REMOVE = "🗑 Убрать файл"
BROADCAST_ASK_FILE = (
    "Пришлите файл рассылки (инструкцию, расписание обучения) ответом на это сообщение: "
    "документ или фото, до 20 МБ. Текст рассылки станет подписью к файлу. Отменить: /cancel"
)
BROADCAST_NEED_FILE = (
    "Нужен файл: документ или фото. Пришлите его ответом на это сообщение или /cancel."
)
FILE_TOO_BIG = (
    "Файл больше 20 МБ: бот не сможет передать его в другой мессенджер (Telegram отдаёт "
    "ботам файлы до 20 МБ). Сожмите его или разделите на части и пришлите снова, или /cancel."
)
BROADCAST_FILE_KEPT = "Файл не приложен. Предпросмотр выше остаётся в силе."
BROADCAST_FILE_REMOVED = "Файл убран"


def broadcast_preview(
    audience: str,
    count: int,
    text: str,
    organization: str | None = None,
    file: tuple[str, int | None] | None = None,
) -> str:
    who = BROADCAST_AUDIENCES.get(audience, audience)
    if organization is not None:
        who = f"🏢 Сотрудникам организации «{organization}»"
    attached = ""
    if file is not None:
        attached = (
            f"\n\nФайл: {file_line(*file)}\nТекст придёт подписью к файлу (если он длиннее "
            "1024 знаков — отдельным сообщением перед файлом)."
        )
    return (
        f"<b>Предпросмотр рассылки</b>\nКому: {escape(who)} — <b>{count}</b> чел.\n\n"
        f"{escape(text)}{attached}\n\nОтправить?"
    )


def broadcast_queued(number: int, count: int) -> str:
    return (
        f"Рассылка № {number} поставлена в очередь: {count} "
        f"{plural(count, 'получатель', 'получателя', 'получателей')}. "
        "Ход отправки: /broadcast status"
    )


def broadcast_status(
    rows: Sequence[tuple[int, str, datetime | None, int, int, int, int, int]],
) -> str:
    """The latest broadcasts, their time in Moscow time like every other time shown."""
    if not rows:
        return "Рассылок ещё не было."
    lines = ["<b>Рассылки</b> (последние):", ""]
    for number, audience, when, total, delivered, blocked, pending, lost in rows:
        who = escape(BROADCAST_AUDIENCES.get(audience, audience))
        line = (
            f"№ {number} от {_when(when)} — {who}: всего {total}, доставлено {delivered}, "
            f"заблокировали бота {blocked}, в очереди {pending}"
        )
        if lost:
            line += f", не доставлено (сбой или отзыв согласия) {lost}"
        lines.append(line)
    return "\n".join(lines)


# --- /retention -----------------------------------------------------------------------------------


def retention_outlook(
    days: int,
    due_now: int,
    upcoming: Sequence[tuple[datetime, int]],
    waiting: int,
    last_run: datetime | None,
    next_run: datetime | None,
) -> str:
    lines = [
        f"<b>Срок хранения персональных данных: {days_word(days)}</b> после завершения заявки "
        "(доступ предоставлен, отклонена, отменена), если у человека нет заявки в работе.",
        "",
        f"Удалить сейчас: <b>{due_now}</b>",
    ]
    if waiting:
        lines.append(f"Срок истёк, но есть заявка в работе (данные нужны): {waiting}")
    if upcoming:
        lines.append("Ближайшие дни:")
        lines += [f"• {fmt_date(day)}: {count}" for day, count in upcoming]
    else:
        lines.append("В ближайшие 7 дней срок ни у кого не истекает.")
    lines.append(f"Последний запуск: {_when(last_run)}; следующий: {_when(next_run)}")
    return "\n".join(lines)


# --- /health --------------------------------------------------------------------------------------

HEALTH_USAGE = "/health — состояние бота; /health retry — повторить отправку сбойных сообщений."
OUTBOX_KIND_NAMES = {
    "card_post": "карточка заявки",
    "card_refresh": "обновление карточки",
    "notice": "уведомление заявителю",
    "text": "сообщение",
    "copy": "пересылка вопроса",
    "support_header": "шапка темы поддержки",
    "support_note": "заметка в теме поддержки",
    "support_copy": "вопрос в поддержку",
    "support_edit": "правка вопроса",
    "support_answer": "ответ оператора",
    "sla_reminder": "напоминание о вопросе",
    "topic_delete": "удаление темы",
    "reminder": "напоминание о сроке",
}
HEALTH_WHERE = {"admin": "чат админов", "support": "чат поддержки", "private": "личный чат"}


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} с"
    if seconds < 5400:
        return f"{int(seconds // 60)} мин"
    return f"{seconds / 3600:.1f} ч"


def health_report(
    database: bool,
    healthy: bool,
    pending: int,
    oldest_seconds: float | None,
    failed: int,
    undeliverable: int,
    failures: Sequence[tuple[int, str, str, str, datetime | None]],
    max_state: dict[str, object] | None = None,
) -> str:
    """`failures`: (row, kind, where, error type, when) — no personal data. `max_state`:
    MAX's part of /healthz when MAX_TOKEN is set."""
    if not database:
        return "🔴 <b>База данных недоступна.</b> Бот не может ни принимать, ни отправлять."
    head = "🟢 <b>Бот работает.</b>" if healthy else "🟠 <b>Отправка отстаёт.</b>"
    lines = [head, "", "База данных: доступна."]
    if pending:
        lines.append(f"Ждут отправки: {pending}; самое старое — {_age(oldest_seconds or 0)} назад.")
    else:
        lines.append("Очередь отправки пуста.")
    lines.append(f"За сутки не доставлено: сбои — {failed}, заблокировали бота — {undeliverable}.")
    if max_state is not None:
        lines.append(_max_line(max_state))
    if failures:
        lines += ["", "<b>Последние сбои</b> (повторить: /health retry):"]
        for row_id, kind, where, error, at in failures:
            when = at.astimezone(LOCAL_TZ).strftime("%d.%m %H:%M") if at else "—"
            name = OUTBOX_KIND_NAMES.get(kind, kind)
            lines.append(f"• #{row_id} {escape(name)} → {escape(where)}: {escape(error)}, {when}")
    return "\n".join(lines)


def _max_line(state: dict[str, object]) -> str:
    age = state.get("last_contact_age_seconds")
    seen = f"; последний ответ — {_age(float(age))} назад" if isinstance(age, int | float) else ""
    if state.get("connected"):
        return f"MAX: подключён{seen}."
    error = state.get("last_error")
    why = f" ({escape(str(error))})" if error else ""
    return (
        f"MAX: <b>не подключён</b>{why}{seen}. Telegram работает; сообщения в MAX ждут "
        "в очереди отправки."
    )


def health_requeued(count: int) -> str:
    if not count:
        return "Сбойных сообщений нет: повторять нечего."
    return f"Сбойные сообщения ({count}) снова в очереди отправки."
