"""Texts about the bot's staff: the /staff list, invitations, welcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from bot.texts.common import LOCAL_TZ, account_plain, clip, person

# --- the /staff list ------------------------------------------------------------------------------

ROLE_NAMES = {
    "admin": "администратор",
    "operator": "оператор",
    "responsible": "ответственное лицо организации",
    "viewer": "наблюдатель",
}
OWNER_MARK = "владелец (ADMIN_IDS)"
NOT_SEEN_YET = "ещё не писал боту"


def _staff_who(name: str | None, uid: int) -> str:
    """A member by name and id; one not seen yet (no name known) by the id alone."""
    if name is None:
        return f"<code>{uid}</code> — {NOT_SEEN_YET},"
    return f"{person(name)} (<code>{uid}</code>) —"


def staff_list(rows: Sequence[tuple[str | None, int, str, bool, str | None]]) -> str:
    lines = ["<b>Сотрудники МИАЦ</b>", ""]
    lines += [
        f"• {_staff_who(name, uid)} {ROLE_NAMES[role]}"
        + (f" «{escape(clip(org, 120))}»" if org else "")
        + (f", {OWNER_MARK}" if owner else "")
        for name, uid, role, owner, org in rows
    ]
    lines += [
        "",
        "Добавить по ссылке-приглашению — кнопки ниже (ссылка придёт вам в личный чат с "
        "ботом); ответственное лицо — по организации: <code>/staff org ЦРБ</code>; по id: "
        "<code>/staff add admin 123456</code>, <code>/staff add operator 123456</code> или "
        "<code>/staff add viewer 123456</code>; "
        "удалить: <code>/staff remove 123456</code>. Владельцев (ADMIN_IDS) в чате не удалить: "
        "уберите id из ADMIN_IDS и перезапустите бота.",
    ]
    return "\n".join(lines)


def staff_page(page: int, pages: int, total: int) -> str:
    """Under the /staff list when it has more than one page."""
    if pages <= 1:
        return ""
    return f"\n\nСтраница {page + 1} из {pages} (всего сотрудников: {total}); листайте ◀️ ▶️."


def staff_owner(uid: int) -> str:
    return (
        f"Пользователь <code>{uid}</code> — владелец: он указан в ADMIN_IDS, и в чате его не "
        "удалить и не понизить. Чтобы удалить владельца, уберите его id из ADMIN_IDS в "
        "настройках бота (.env или окружение) и перезапустите бота."
    )


STAFF_USAGE = (
    "Формат: /staff add admin|operator|viewer ID, /staff org слова из названия организации "
    "или /staff remove ID. ID — число из Telegram или MAX того мессенджера, где вы пишете "
    "команду; другого — с приставкой: tg:123456 или max:123456."
)


def staff_added(uid: int, role: str) -> str:
    return f"Пользователь <code>{escape(account_plain(uid))}</code> добавлен: {ROLE_NAMES[role]}."


def staff_removed(uid: int) -> str:
    return f"Пользователь <code>{escape(account_plain(uid))}</code> больше не сотрудник."


STAFF_UNCHANGED = "Ничего не изменилось: у пользователя уже эта роль."
STAFF_NOT_FOUND = "Такого сотрудника нет."
STAFF_LAST_ADMIN = "Нельзя удалить последнего администратора."


def btn_remove(name: str) -> str:
    return f"🗑 {name}"


# --- invitations ----------------------------------------------------------------------------------

BTN_INVITE_ADMIN = "➕ Пригласить администратора"
BTN_INVITE_OPERATOR = "➕ Пригласить оператора"
BTN_INVITE_VIEWER = "➕ Пригласить наблюдателя"
BTN_INVITE_RESPONSIBLE = "➕ Ответственное лицо организации"
INVITE_SENT_PRIVATELY = (
    "Ссылка-приглашение отправлена вам в личный чат с ботом: в группе её не видно, "
    "перешлите её сотруднику лично."
)


def invite_undeliverable(bot_username: str) -> str:
    # A callback alert: plain text, at most 200 characters.
    return (
        f"Не могу написать вам в личный чат. Откройте @{bot_username}, нажмите «Запустить» "
        "(Start) и нажмите кнопку ещё раз."
    )


def invite_link(role: str, link: str, expires: datetime) -> str:
    return (
        f"Ссылка-приглашение ({ROLE_NAMES[role]}), одноразовая, действует до "
        f"{expires.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}:\n{escape(link)}\n\n"
        "Перешлите её сотруднику лично."
    )


INVITE_INVALID = "Приглашение недействительно: ссылка уже использована или срок её действия истёк."


# --- inviting an organisation's responsible person ------------------------------------------------

STAFF_ORG_HOW = (
    "Ответственное лицо привязывается к организации из справочника. Найдите её: "
    "<code>/staff org слова из названия</code>, например <code>/staff org ЦРБ</code>, и "
    "нажмите на организацию — ссылка-приглашение придёт вам в личный чат с ботом."
)
STAFF_ORG_NONE = "В справочнике ничего не нашлось. Попробуйте другие слова из названия."
STAFF_ORG_PROMPT = (
    "Напишите слова из названия организации, например «ЦРБ» или «онкодиспансер», — я найду "
    "её в справочнике. Передумали — /cancel."
)
STAFF_ORG_WORDS_LIMIT = 200
STAFF_ORG_WORDS_EMPTY = "Нужны слова из названия организации текстом, например «ЦРБ»."
STAFF_ORG_WORDS_TOO_LONG = (
    f"Слишком длинно: не больше {STAFF_ORG_WORDS_LIMIT} символов. Напишите несколько слов "
    "из названия."
)


def staff_org_found(total: int, shown: int) -> str:
    more = f" Показаны первые {shown} из {total}: уточните запрос." if total > shown else ""
    return f"Выберите организацию — ссылка-приглашение придёт вам в личный чат с ботом.{more}"


def invite_link_org(link: str, expires: datetime, organization: str) -> str:
    return (
        f"Ссылка-приглашение (ответственное лицо организации «{escape(organization)}»), "
        f"одноразовая, действует до {expires.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}:"
        f"\n{escape(link)}\n\nПерешлите её сотруднику организации лично."
    )


def staff_added_org(uid: int, organization: str) -> str:
    return (
        f"Пользователь <code>{uid}</code> — ответственное лицо организации "
        f"«{escape(organization)}»."
    )


# --- welcomes -------------------------------------------------------------------------------------


def welcome_staff(role: str) -> str:
    return f"Вы добавлены в МИАЦ как {ROLE_NAMES[role]}. Команды: /queue, /find, /req, /history."


WELCOME_VIEWER = (
    "Вы добавлены как наблюдатель: вы видите ход работы (/stats, /coverage, /report), "
    "но не принимаете решений по заявкам."
)


def invite_keeps_miac_role(role: str) -> str:
    return (
        f"Вы уже сотрудник МИАЦ ({ROLE_NAMES[role]}): приглашение вашу роль не меняет. "
        "Если нужно иначе, попросите администратора."
    )
