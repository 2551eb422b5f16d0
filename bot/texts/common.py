"""Shared by every audience: dates, statuses, people's names, clipping, generic buttons."""

from __future__ import annotations

import re
from datetime import date, datetime
from html import escape, unescape
from zoneinfo import ZoneInfo

from services.accounts import Messenger, messenger_of, native_id

# --- dates and the order's deadline ---------------------------------------------------------------

LOCAL_TZ = ZoneInfo("Europe/Moscow")


def fmt_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).strftime("%d.%m.%Y")
    return value.strftime("%d.%m.%Y")


def plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian form of a noun after the number `n`: 1 день, 2 дня, 5 дней, 11 дней."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def days_word(n: int) -> str:
    """«1 день», «3 дня», «10 дней»."""
    return f"{n} {plural(n, 'день', 'дня', 'дней')}"


def _when(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%d.%m.%Y %H:%M") if value else "—"


def _left(days: int, deadline: date) -> str:
    if days <= 0:
        return (
            f"сегодня, {fmt_date(deadline)}, последний день срока подачи заявок по приказу "
            "(заявки, поданные позже, тоже рассмотрят)"
        )
    return (
        f"до срока подачи заявок по приказу {plural(days, 'остался', 'осталось', 'осталось')} "
        f"{days_word(days)} (до {fmt_date(deadline)})"
    )


# --- a request's statuses, events and fields ------------------------------------------------------

STATUS_NAMES = {
    "submitted": "на рассмотрении",
    "returned": "возвращена на доработку",
    "approved": "одобрена",
    "rejected": "отклонена",
    "exported": "передана федеральному оператору",
    "access_granted": "доступ предоставлен",
    "cancelled": "отменена",
}
EVENT_NAMES = {
    "created": "подана",
    "viewed": "просмотрена",
    "approved": "одобрена",
    "rejected": "отклонена",
    "returned": "возвращена на доработку",
    "resubmitted": "отправлена повторно",
    "role_changed": "изменена роль",
    "cancelled": "отменена",
    "exported": "выгружена",
    "access_granted": "доступ предоставлен",
    "reexported": "выгружена повторно",
    "consent_withdrawn": "отменена: заявитель отозвал согласие",
    "erased": "СНИЛС, ФИО и e-mail удалены",
    # The organisation's confirmation (order No 922, item 2.3).
    "org_confirmed": "подтверждена организацией",
    "org_declined": "не подтверждена организацией",
    "org_overdue": "передана МИАЦ: организация не ответила в срок",
    "org_responsible_gone": "передана МИАЦ: у организации не осталось ответственных лиц",
}
RETURN_FIELD_NAMES = {
    "snils": "СНИЛС",
    "full_name": "ФИО",
    "email": "Эл. почта",
    "organization": "Организация",
    "position": "Должность и роль",
}


# --- people's names (Telegram names are anything a person typed) ----------------------------------

# Unicode bidirectional isolates: a name with a right-to-left override (U+202E) cannot reverse
# the rest of the line it stands in.
_FSI, _PDI = "\u2068", "\u2069"


def isolate(name: str) -> str:
    """A Telegram name for plain text: kept within its own bidi isolate."""
    return f"{_FSI}{name}{_PDI}"


def person(name: str) -> str:
    """A Telegram name (first/last name, any characters) for HTML: escaped and isolated."""
    return escape(isolate(name))


def mention(user_id: int, name: str) -> str:
    """Names an admin so that a selective ForceReply opens the reply box for them."""
    return f'<a href="tg://user?id={user_id}">{escape(clip(name, 64))}</a>'


def who_when(name: str, at: datetime) -> str:
    """HTML: who made a decision and when (for a card)."""
    return f"{person(name)}, {at.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}"


def who_when_plain(name: str, at: datetime) -> str:
    """The same for plain text (a callback answer): nothing escaped."""
    return f"{isolate(name)}, {at.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}"


def staff_name(user_id: int | None, names: dict[int, str]) -> str:
    if user_id is None:
        return "система"
    return names.get(user_id) or account_plain(user_id)


# --- which messenger (services/accounts.py: a person is their messenger and their id) ------------

MESSENGER_LABEL = "Мессенджер"
MESSENGER_NAMES = {Messenger.TELEGRAM: "Telegram", Messenger.MAX: "MAX"}


def messenger_name(account: int) -> str:
    return MESSENGER_NAMES[messenger_of(account)]


def account_plain(account: int) -> str:
    """An account as people read it: the messenger and the id it has there."""
    return f"{messenger_name(account)}, id {native_id(account)}"


# --- clipping and plain text ----------------------------------------------------------------------


def clip(value: str, limit: int) -> str:
    """Long user-typed values are cut so a message stays within Telegram's 4096 characters."""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def clip_utf16(value: str, limit: int) -> str:
    """At most `limit` UTF-16 code units, as Telegram counts lengths; cut with «…»."""
    if len(value.encode("utf-16-le")) // 2 <= limit:
        return value
    units, cut = 0, 0
    for index, ch in enumerate(value):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit - 1:  # room for the «…»
            cut = index
            break
    return value[:cut].rstrip() + "…"


def plain(html_text: str) -> str:
    """One of the texts here for a place that shows no HTML (a callback alert)."""
    return unescape(re.sub(r"<[^>]*>", "", html_text))


# --- generic buttons and errors -------------------------------------------------------------------

BTN_BACK = "⬅️ Назад"
BTN_CANCEL = "✖️ Отмена"
PAGE_HINT = "Страница {page} из {pages}"
STALE_BUTTON = "Эта кнопка уже неактуальна — продолжите с последнего сообщения."
UNEXPECTED_ERROR = (
    "Не получилось ответить — похоже, сбой связи. Всё, что вы ввели, сохранено.\n"
    "Через минуту отправьте любое сообщение (например, «дальше») — я покажу, на чём "
    "мы остановились."
)
NO_ACCESS = "Нет доступа"


# --- files (a broadcast's, the guide's documents) ---


def file_size(size: int | None) -> str:
    """A file's size as a person reads it (МБ with one decimal, КБ below one)."""
    if size is None:
        return ""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} МБ".replace(".", ",")
    return f"{max(1, round(size / 1024))} КБ"


def file_line(name: str, size: int | None) -> str:
    """«📎 name, 1,2 МБ», escaped (the name is the sender's)."""
    shown = escape(name)
    return f"📎 {shown}, {file_size(size)}" if size is not None else f"📎 {shown}"
