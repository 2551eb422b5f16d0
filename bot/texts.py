"""Every text a user reads, in Russian, in one place.

Functions that take user-supplied values escape them here, so handlers never build HTML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from html import escape, unescape
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Moscow")
CONSENT_VERSION = "2026-11-30.1"  # the consent text below; bump on any change

STATUS_NAMES = {
    "submitted": "на рассмотрении",
    "returned": "возвращена на доработку",
    "approved": "одобрена",
    "rejected": "отклонена",
    "exported": "передана федеральному оператору",
    "access_granted": "доступ предоставлен",
    "cancelled": "отменена",
}


def answer_echo(answer: str) -> str:
    return f"➡️ <i>{escape(answer)}</i>"


# --- commands and menu ------------------------------------------------------------------------

COMMANDS = {
    "start": "Главное меню",
    "new": "Подать заявку на доступ",
    "my": "Мои заявки",
    "help": "Задать вопрос",
    "cancel": "Отменить текущее действие",
    "withdraw": "Отозвать согласие на обработку данных",
}
BTN_NEW = "📝 Подать заявку"
BTN_MY = "📋 Мои заявки"
BTN_ASK = "❓ Задать вопрос"
BTN_GUIDE = "📖 Инструкция"
BTN_BACK = "⬅️ Назад"
BTN_CANCEL = "✖️ Отмена"
BTN_STEP_HELP = "❓ Вопрос"
BTN_CONTINUE = "▶️ Продолжить"
BTN_RESTART = "🔄 Начать заново"


def fmt_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).strftime("%d.%m.%Y")
    return value.strftime("%d.%m.%Y")


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
        "приказа). Онкологу подойдёт должность «Главный внештатный онколог субъекта РФ»; "
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


def guide(esia_url: str) -> str:
    return GUIDE.format(url=escape(esia_url))


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
NOT_SUBMITTED = "Заявка не отправлена — заполните её заново: «📝 Подать заявку»."


def already_submitted(number: int) -> str:
    # Plain text: a callback answer is not HTML.
    return f"Заявка № {number} уже отправлена. Статус — в разделе «Мои заявки»."


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


CANCELLED = (
    "Заполнение заявки отменено, введённые данные удалены. Вы можете начать заново в любой момент."
)
NOTHING_TO_CANCEL = "Сейчас нечего отменять."
STALE_BUTTON = "Эта кнопка уже неактуальна — продолжите с последнего сообщения."
USE_BUTTONS = "Пожалуйста, выберите ответ кнопкой под сообщением 👇"
SEND_TEXT = "Пожалуйста, отправьте ответ текстовым сообщением."
PAGE_HINT = "Страница {page} из {pages}"
UNEXPECTED_ERROR = (
    "Не получилось ответить — похоже, сбой связи. Всё, что вы ввели, сохранено.\n"
    "Через минуту отправьте любое сообщение (например, «дальше») — я покажу, на чём "
    "мы остановились."
)
# The step's prompt had not arrived (a failed send): it is shown again, nothing is taken from
# the message or press that came instead.
PROMPT_AGAIN = (
    "Предыдущее сообщение могло до вас не дойти, поэтому повторяю вопрос. "
    "Всё, что вы ввели раньше, сохранено."
)
PROMPT_AGAIN_SHORT = "Повторяю текущий вопрос 👇"


def field_missing(label: str) -> str:
    return f"В заявке не заполнено поле «{label}» — заполните его, пожалуйста."


# --- consent (152-FZ) -------------------------------------------------------------------------


def consent(operator: str, retention: str) -> str:
    return (
        "<b>Согласие на обработку персональных данных</b>\n\n"
        f"<b>Оператор:</b> {escape(operator)}.\n"
        "<b>Цель:</b> оформление и рассмотрение заявки на доступ к ВИМИС ОНКО, передача "
        "заявки федеральному оператору ВИМИС, связь с вами по заявке.\n"
        "<b>Какие данные:</b> СНИЛС, фамилия, имя, отчество, адрес электронной почты, "
        "медицинская организация, должность, роль в ВИМИС ОНКО, идентификатор Telegram.\n"
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
        f"{days} дн. после её завершения (доступ предоставлен, заявка отклонена или отменена), "
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

# --- Госуслуги and ЕСИА ----------------------------------------------------------------------

GOSUSLUGI = "Есть ли у вас <b>подтверждённая</b> учётная запись на портале «Госуслуги»?"
BTN_YES = "Да"
BTN_NO = "Нет"
GOSUSLUGI_HOW = (
    "Доступ к ВИМИС ОНКО дают только при <b>подтверждённой</b> учётной записи Госуслуг.\n\n"
    "Подтвердить её можно:\n"
    "• в приложении или на сайте вашего банка (Сбербанк, ВТБ, Т-Банк и др.);\n"
    "• в МФЦ или центре обслуживания с паспортом и СНИЛС;\n"
    "• заказным письмом с кодом подтверждения.\n\n"
    "Когда подтвердите — вернитесь сюда и нажмите «Подтвердил(а)». Ваши ответы сохранены."
)
BTN_CONFIRMED_NOW = "✅ Подтвердил(а), продолжить"
BTN_LATER = "⏸ Вернусь позже"
PAUSED = "Хорошо. Когда будете готовы, нажмите /start — продолжим с этого места."


def esia(url: str) -> str:
    return (
        "<b>Вход на портал ЕГИСЗ через Госуслуги</b>\n\n"
        "Перед заявкой каждый пользователь должен <b>сам</b> один раз войти на портал ЕГИСЗ "
        "(Минздрав России) через Госуслуги:\n"
        f"1. Откройте {escape(url)} (кнопка ниже).\n"
        "2. Войдите через Госуслуги своим логином и паролем.\n"
        "3. Проверьте данные и нажмите кнопку <b>«Сохранить»</b>.\n\n"
        "Без этого шага федеральный оператор не сможет создать вам доступ."
    )


BTN_OPEN_ESIA = "🌐 Открыть портал ЕГИСЗ"
BTN_DONE = "✅ Готово"
BTN_TROUBLE = "😕 Не получается"
ESIA_TROUBLE = (
    "<b>Частые причины:</b>\n"
    "• учётная запись Госуслуг не подтверждена — подтвердите её;\n"
    "• в профиле Госуслуг не указан СНИЛС — добавьте его;\n"
    "• страница не открывается в рабочей сети — попробуйте с телефона через мобильный "
    "интернет;\n"
    "• после входа не нажата кнопка «Сохранить» — войдите ещё раз и нажмите её.\n\n"
    "Если не помогло — задайте вопрос специалисту МИАЦ."
)
BTN_TRY_AGAIN = "🔁 Попробовать ещё раз"

# --- data steps -------------------------------------------------------------------------------

SNILS_PROMPT = (
    "Введите ваш <b>СНИЛС</b> — 11 цифр, можно с дефисами и пробелами.\n"
    "Например: <code>112-233-445 95</code>"
)
SNILS_EMPTY = "Пожалуйста, введите СНИЛС — 11 цифр."
SNILS_NOT_DIGITS = (
    "В СНИЛС могут быть только цифры (а также дефисы и пробелы между ними). "
    "Проверьте, нет ли в номере букв, и введите его ещё раз."
)


def snils_wrong_length(found: int) -> str:
    return (
        f"В СНИЛС должно быть 11 цифр, а вы ввели {found}. "
        "Проверьте номер по документу и введите его ещё раз."
    )


SNILS_ALL_ZEROS = "Такого СНИЛС не бывает. Проверьте номер по документу."
SNILS_WRONG_CHECKSUM = (
    "Контрольное число СНИЛС (две последние цифры) не совпадает с номером — скорее всего, "
    "в номере опечатка. Сверьте его с документом и введите ещё раз."
)

FIO_PROMPT = (
    "Введите <b>фамилию, имя и отчество</b> полностью — точно так, как в профиле Госуслуг.\n"
    "Например: <i>Иванова Мария Петровна</i>. Если отчества нет, введите фамилию и имя."
)
FIO_EMPTY = "Пожалуйста, введите фамилию, имя и отчество."
FIO_DIGITS = "В ФИО не должно быть цифр. Введите фамилию, имя и отчество буквами."
FIO_LATIN = (
    "ФИО нужно ввести русскими буквами, как в Госуслугах. Переключите раскладку и введите ещё раз."
)
FIO_TOO_FEW = (
    "Нужны как минимум фамилия и имя (через пробел). Например: <i>Иванова Мария Петровна</i>."
)
FIO_TOO_LONG = "Слишком длинное ФИО. Проверьте, что ввели только фамилию, имя и отчество."
FIO_INITIALS = (
    "Инициалы не подойдут: имя и отчество нужны <b>полностью</b>, как в Госуслугах. "
    "Например: <i>Иванова Анна Сергеевна</i>."
)


def fio_bad_chars(chars: Sequence[str]) -> str:
    shown = " ".join(escape(c) for c in chars) if chars else ""
    extra = f" Лишние символы: {shown}" if shown else ""
    return "В ФИО допустимы только русские буквы, дефис и апостроф." + extra + "\nВведите ещё раз."


def fio_accepted(name: str, fixed_lookalikes: bool) -> str:
    note = (
        "\n(В имени были латинские буквы, похожие на русские, — я заменил их на русские.)"
        if fixed_lookalikes
        else ""
    )
    return f"ФИО: <b>{escape(name)}</b>{note}"


EMAIL_PROMPT = (
    "Введите <b>адрес электронной почты</b>. По форме заявки он должен быть <b>личным</b>: "
    "один адрес — один пользователь, общий адрес отделения не подойдёт.\n"
    "Например: <i>ivanova@example.ru</i>"
)
EMAIL_INVALID = (
    "Это не похоже на адрес электронной почты. Адрес выглядит так: <i>имя@домен.ru</i> — "
    "латинскими буквами, без пробелов. Введите ещё раз."
)


def email_not_latin(typed: str, positions: Sequence[int]) -> str:
    """The address with its non-Latin letters underlined: a Cyrillic «а» looks like a Latin
    one, so just naming it would not help."""
    shown = clip(typed, 120)
    marked = "".join(
        f"<u><b>{escape(ch)}</b></u>" if i in positions else escape(ch)
        for i, ch in enumerate(shown)
    )
    where = f"\nНелатинские буквы подчёркнуты: {marked}" if positions else ""
    return (
        "Адрес электронной почты нужно ввести <b>латинскими буквами</b>: в нём есть русские или "
        f"другие нелатинские буквы — возможно, посреди слова переключилась раскладка.{where}\n\n"
        "Адреса на русских доменах (например, <i>имя@почта.рф</i>) не подойдут — укажите "
        "другой личный адрес."
    )


def region(name: str) -> str:
    return f"Субъект РФ: <b>{escape(name)}</b>. Верно?"


BTN_REGION_OK = "✅ Да, верно"
BTN_REGION_OTHER = "Нет, другой регион"


def region_other(name: str) -> str:
    return (
        f"Этот бот принимает заявки медицинских организаций региона «{escape(name)}». "
        "Если вы работаете в другом регионе, обратитесь в МИАЦ своего региона."
    )


ORG_PROMPT = (
    "Найдём вашу <b>медицинскую организацию</b>. Напишите одно-два слова из её названия, "
    "например: <i>онкологический диспансер</i> или <i>Нерехтская</i>."
)


def org_results(query: str, total: int, page: int, pages: int, names: Sequence[str]) -> str:
    lines = [f"По запросу «{escape(query)}» найдено: {total}. Выберите свою организацию:", ""]
    lines += [f"{i}. {escape(n)}" for i, n in enumerate(names, start=1)]
    if pages > 1:
        lines += ["", PAGE_HINT.format(page=page + 1, pages=pages)]
    lines += ["", "Не нашли? Уточните запрос или нажмите «Нет в списке»."]
    return "\n".join(lines)


def org_nothing(query: str) -> str:
    return (
        f"По запросу «{escape(query)}» ничего не нашлось. Попробуйте другое слово из названия "
        "или нажмите «Нет в списке», чтобы ввести название вручную."
    )


ORG_QUERY_SHORT = "Напишите хотя бы одно слово из названия организации (2 буквы и больше)."
BTN_NOT_IN_LIST = "Нет в списке"
ORG_FULL_PROMPT = (
    "Введите <b>полное наименование</b> организации, как в уставе или на печати.\n"
    "Например: <i>Областное государственное бюджетное учреждение здравоохранения «…»</i>"
)
ORG_SHORT_PROMPT = "Введите <b>краткое наименование</b> организации. Например: <i>ОГБУЗ «…»</i>"


def text_length(min_len: int, max_len: int) -> str:
    return f"Название должно быть от {min_len} до {max_len} символов. Введите ещё раз."


ORG_NEEDS_LETTERS = "В названии должны быть буквы. Введите ещё раз."

POSITION_PROMPT = (
    "Укажите вашу <b>должность</b>.\n\n"
    "Врач, медицинская сестра, статистик, регистратор — в матрице ролей ВИМИС ОНКО таких "
    "должностей нет: нажмите «Моей должности нет в списке» или просто напишите должность "
    "сообщением. Роль подберёт администратор МИАЦ.\n\n"
    "Руководители и кураторы — выберите должность по матрице ролей:"
)
POSITION_FEDERAL_PROMPT = (
    "<b>Должности федерального уровня</b> (Минздрав России, НМИЦ, федеральные округа). "
    "Выберите свою или нажмите «Назад»:"
)
BTN_POSITION_OTHER = "Моей должности нет в списке"
BTN_POSITIONS_FEDERAL = "Федеральные должности (Минздрав России, НМИЦ)"
POSITION_TEXT_PROMPT = (
    "Напишите вашу должность, например: <i>врач-онколог</i>. "
    "Роль в ВИМИС подберёт администратор МИАЦ при рассмотрении заявки."
)


def position_list(
    positions: Sequence[tuple[int, str]], page: int, pages: int, federal: bool = False
) -> str:
    lines = [POSITION_FEDERAL_PROMPT if federal else POSITION_PROMPT, ""]
    lines += [f"{n}. {escape(p)}" for n, p in positions]
    if pages > 1:
        lines += ["", PAGE_HINT.format(page=page + 1, pages=pages)]
    return "\n".join(lines)


def position_suggestions(typed: str, matches: Sequence[tuple[int, str]]) -> str:
    lines = [
        f"Вы написали: «{escape(clip(typed, 200))}». Похоже, эта должность есть в матрице "
        "ролей — выберите её, и я предложу роль:",
        "",
    ]
    lines += [f"{n}. {escape(p)}" for n, p in matches]
    lines += ["", "Если это не ваша должность — нажмите «Оставить как написал(а)»."]
    return "\n".join(lines)


BTN_KEEP_POSITION = "✍️ Оставить как написал(а)"


def position_chosen(position: str) -> str:
    return f"Должность: <b>{escape(position)}</b>."


def position_accepted(typed: str) -> str:
    return (
        f"Должность: <b>{escape(clip(typed, 300))}</b>. Её нет в матрице ролей — роль подберёт "
        "администратор МИАЦ."
    )


POSITION_TEXT_LENGTH = "Должность — от 3 до 300 символов. Введите ещё раз."


# What each access level of the matrix opens, one line each: a head of a dispensary chooses
# between Куратор 3, 2 and 1 уровня by this.
LEVEL_SCOPES = {
    "Медицинская организация РФ": "данные своей медицинской организации",
    "Муниципальное образование РФ": "данные медицинских организаций муниципального образования",
    "Субъект РФ": "данные всех медицинских организаций региона",
    "Федеральный уровень": "данные всех регионов России",
}


def _role_line(role: str, level: str, taken: int | None) -> str:
    scope = LEVEL_SCOPES.get(level)
    line = f"<b>{escape(role)}</b> — {escape(level)}"
    if scope:
        line += f": {scope}"
    if taken is not None:
        line += f" (уже есть заявка № {taken})"
    return line


def role_single(position: str, role: str, level: str, taken: int | None = None) -> str:
    return (
        f"Для должности «{escape(position)}» матрица ролей предусматривает роль:\n\n"
        f"{_role_line(role, level, taken)}.\n\nПодтвердите роль."
    )


def role_choice(position: str, roles: Sequence[tuple[str, str, int | None]]) -> str:
    lines = [
        f"Для должности «{escape(position)}» матрица ролей допускает несколько ролей. "
        "Они различаются уровнем доступа — чьи данные вы будете видеть:",
        "",
    ]
    lines += [f"• {_role_line(r, level, taken)}" for r, level, taken in roles]
    lines += ["", "Выберите нужную:"]
    return "\n".join(lines)


BTN_CONFIRM_ROLE = "✅ Подтверждаю"


def component_prompt() -> str:
    return "Выберите <b>компонент ВИМИС</b>, к которому нужен доступ:"


# --- summary and submission -------------------------------------------------------------------

FIELD_LABELS = {
    "snils": "СНИЛС",
    "full_name": "ФИО",
    "email": "Эл. почта",
    "region": "Субъект РФ",
    "organization": "Организация",
    "position": "Должность",
    "role": "Роль",
    "component": "Компонент ВИМИС",
}
ROLE_BY_ADMIN = "подберёт администратор"
MANUAL_MARK = " (введено вручную)"


def summary(rows: Sequence[tuple[str, str]]) -> str:
    lines = ["<b>Проверьте заявку</b>", ""]
    lines += [f"<b>{escape(label)}:</b> {escape(value)}" for label, value in rows]
    lines += [
        "",
        "Если всё верно — нажмите «Отправить». Чтобы исправить поле, нажмите кнопку «✏️» "
        "с его названием.",
    ]
    return "\n".join(lines)


BTN_SUBMIT = "📨 Отправить"


def edit_button(label: str) -> str:
    return f"✏️ {label}"


def submitted(number: int, status: str) -> str:
    return (
        f"✅ Заявка <b>№ {number}</b> отправлена. "
        f"Статус: <b>{escape(STATUS_NAMES[status])}</b>.\n\n"
        "Специалисты МИАЦ рассмотрят её, а я сообщу о решении здесь. "
        "Статус всегда можно посмотреть в разделе «Мои заявки»."
    )


def already_open(number: int, status: str, role: str | None) -> str:
    role_text = f" на роль «{escape(role)}»" if role else ""
    return (
        f"У вас уже есть заявка <b>№ {number}</b>{role_text}, статус: "
        f"<b>{escape(STATUS_NAMES.get(status, status))}</b>. Вторая такая же заявка не нужна — "
        "следите за статусом в разделе «Мои заявки». Если нужна другая роль, измените "
        "должность или роль ниже; иначе нажмите «Отмена»."
    )


# --- my requests ------------------------------------------------------------------------------

MY_EMPTY = "У вас пока нет заявок. Нажмите «Подать заявку», чтобы оформить первую."


# --- consent withdrawal (152-FZ) ---------------------------------------------------------------

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
ERASED = "удалено (согласие отозвано)"
ERASED_DECISION = "🚫 Отменена: заявитель отозвал согласие на обработку данных"


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


def my_request(
    number: int,
    role: str | None,
    organization: str,
    status: str,
    created: datetime,
    reason: str | None,
) -> str:
    lines = [
        f"<b>№ {number}</b> от {fmt_date(created)} — {escape(STATUS_NAMES.get(status, status))}",
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


# --- questions (help) -------------------------------------------------------------------------

ASK_SENT = "Спасибо! Вопрос передан специалистам МИАЦ, ответ придёт сюда."
ASK_UNAVAILABLE = (
    "Сейчас задать вопрос через бота нельзя: служба поддержки не подключена. "
    "Обратитесь в МИАЦ по телефону или электронной почте."
)
ASK_RESUME = "Чтобы продолжить заполнение заявки, нажмите «Продолжить»."
FORWARDED_TO_OPERATOR = "✉️ Передал ваше сообщение специалисту МИАЦ — ответ придёт сюда."
OPERATOR_ANSWER_LABEL = "💬 <b>Ответ специалиста МИАЦ</b> 👇"
BTN_REPLY_OPERATOR = "✍️ Ответить специалисту"
REPLY_PROMPT = (
    "Напишите ответ специалисту МИАЦ одним сообщением (можно приложить скриншот или файл). "
    "Ответ на его сообщение (смахните сообщение влево) тоже дойдёт до специалиста."
)


def support_ticket(user_id: int, first_name: str | None, step: str | None) -> str:
    who = person(first_name) if first_name else "пользователь"
    lines = [f"❓ <b>Вопрос</b> от {who} (id <code>{user_id}</code>)"]
    if step:
        lines.append(f"Шаг заявки: {escape(step)}")
    return "\n".join(lines)


STEP_NAMES = {
    "consent": "согласие на обработку данных",
    "gosuslugi": "учётная запись Госуслуг",
    "esia": "вход на портал ЕГИСЗ через Госуслуги",
    "snils": "СНИЛС",
    "full_name": "ФИО",
    "email": "электронная почта",
    "region": "субъект РФ",
    "org_search": "поиск организации",
    "org_full": "полное наименование организации",
    "org_short": "краткое наименование организации",
    "position": "должность",
    "position_text": "должность (вручную)",
    "role": "роль",
    "component": "компонент ВИМИС",
    "summary": "проверка заявки",
}

# --- start-up (console, not Telegram) ---------------------------------------------------------

NO_TOKEN = (
    "Не задан BOT_TOKEN: создайте бота у @BotFather в Telegram (команда /newbot) и укажите "
    "BOT_TOKEN=<токен> в файле .env или в переменных окружения."
)
BAD_TOKEN = "BOT_TOKEN задан неверно: скопируйте токен у @BotFather целиком (вида 123456:ABC...)."


def sqlite_busy(path: str) -> str:
    return (
        f"С базой SQLite {path} уже работает другой процесс бота: второй не запущен. Для "
        "нескольких процессов нужны PostgreSQL и Redis (WORKERS, см. docs/operations.md)."
    )


ANOTHER_BOT_PROCESS = (
    "С этой базой PostgreSQL уже работает процесс бота: без REDIS_URL второй не запускается "
    "(диалоги хранятся в памяти процесса). Задайте REDIS_URL всем процессам."
)
ANOTHER_WORKER_WITH_REDIS = (
    "С этой базой PostgreSQL работает процесс бота без REDIS_URL: остановите его или задайте "
    "ему REDIS_URL."
)
WORKERS_NEED_WEBHOOK = "WORKERS > 1 работает только с вебхуком: задайте WEBHOOK_URL."
WORKERS_NEED_POSTGRES = "WORKERS > 1 требует PostgreSQL: у SQLite один писатель (DATABASE_URL)."
WORKERS_NEED_REDIS = (
    "WORKERS > 1 требует REDIS_URL: диалоги и очерёдность апдейтов одного человека должны быть "
    "общими для всех процессов."
)


# --- staff and admins -------------------------------------------------------------------------

NO_ACCESS = "Нет доступа"
ROLE_NAMES = {"admin": "администратор", "operator": "оператор"}
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
}

# --- health (/health) ---------------------------------------------------------------------

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
HEALTH_USAGE = "/health — состояние бота; /health retry — повторить отправку сбойных сообщений."


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
) -> str:
    """`failures`: (row, kind, where, error type, when) — no personal data."""
    if not database:
        return "🔴 <b>База данных недоступна.</b> Бот не может ни принимать, ни отправлять."
    head = "🟢 <b>Бот работает.</b>" if healthy else "🟠 <b>Отправка отстаёт.</b>"
    lines = [head, "", "База данных: доступна."]
    if pending:
        lines.append(f"Ждут отправки: {pending}; самое старое — {_age(oldest_seconds or 0)} назад.")
    else:
        lines.append("Очередь отправки пуста.")
    lines.append(f"За сутки не доставлено: сбои — {failed}, заблокировали бота — {undeliverable}.")
    if failures:
        lines += ["", "<b>Последние сбои</b> (повторить: /health retry):"]
        for row_id, kind, where, error, at in failures:
            when = at.astimezone(LOCAL_TZ).strftime("%d.%m %H:%M") if at else "—"
            name = OUTBOX_KIND_NAMES.get(kind, kind)
            lines.append(f"• #{row_id} {escape(name)} → {escape(where)}: {escape(error)}, {when}")
    return "\n".join(lines)


HEALTH_WHERE = {"admin": "чат админов", "support": "чат поддержки", "private": "личный чат"}


def health_requeued(count: int) -> str:
    if not count:
        return "Сбойных сообщений нет: повторять нечего."
    return f"Сбойные сообщения ({count}) снова в очереди отправки."


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
RETURN_FIELD_NAMES = {
    "snils": "СНИЛС",
    "full_name": "ФИО",
    "email": "Эл. почта",
    "organization": "Организация",
    "position": "Должность и роль",
}


def clip(value: str, limit: int) -> str:
    """Long user-typed values are cut so a message stays within Telegram's 4096 characters."""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def who_when(name: str, at: datetime) -> str:
    """HTML: who made a decision and when (for a card)."""
    return f"{person(name)}, {at.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}"


def who_when_plain(name: str, at: datetime) -> str:
    """The same for plain text (a callback answer): nothing escaped."""
    return f"{isolate(name)}, {at.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}"


# Unicode bidirectional isolates: a name with a right-to-left override (U+202E) cannot reverse
# the rest of the line it stands in.
_FSI, _PDI = "\u2068", "\u2069"


def isolate(name: str) -> str:
    """A Telegram name for plain text: kept within its own bidi isolate."""
    return f"{_FSI}{name}{_PDI}"


def person(name: str) -> str:
    """A Telegram name (first/last name, any characters) for HTML: escaped and isolated."""
    return escape(isolate(name))


def plain(html_text: str) -> str:
    """One of the texts here for a place that shows no HTML (a callback alert)."""
    return unescape(re.sub(r"<[^>]*>", "", html_text))


def staff_name(user_id: int | None, names: dict[int, str]) -> str:
    if user_id is None:
        return "система"
    return names.get(user_id) or f"id {user_id}"


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


WARN_ORG_MANUAL = "Организация введена вручную — её нет в справочнике"
WARN_POSITION_MANUAL = "Должности нет в матрице ролей — выберите роль («Сменить роль»)"
NOTE_POSITION_MANUAL_ROLE_SET = "Должности нет в матрице ролей — роль выбрал администратор"


def warn_own_request(number: int, status: str) -> str:
    return (
        f"Другая заявка этого же заявителя: № {number} ({escape(STATUS_NAMES.get(status, status))})"
    )


def warn_other_account(number: int, status: str, same: str, blocks_approval: bool) -> str:
    """The same SNILS or e-mail from another Telegram account: one of the two may not be
    who they say; the applicant is never told about the other request, only the admins."""
    text = (
        f"Тот же {same} в заявке № {number} <b>другого аккаунта Telegram</b> "
        f"({escape(STATUS_NAMES.get(status, status))}) — проверьте, чья это заявка"
    )
    if blocks_approval:
        text += "; одобрить эту заявку нельзя, пока адрес закреплён за той"
    return text


MAX_WARNINGS = 6


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


REQUEST_NOT_FOUND = "Заявка не найдена."


def mention(user_id: int, name: str) -> str:
    """Names an admin so that a selective ForceReply opens the reply box for them."""
    return f'<a href="tg://user?id={user_id}">{escape(clip(name, 64))}</a>'


def addressed(who: str, prompt: str) -> str:
    return f"👤 {who}\n{prompt}"


INPUT_KIND_NAMES = {
    "reject": "причину отказа",
    "return": "комментарий для заявителя",
    "role": "причину смены роли",
}


def input_hint(who: str, kind: str, number: int) -> str:
    what = INPUT_KIND_NAMES.get(kind, "ответ")
    return (
        f"{who}, {what} по заявке № {number} я жду <b>ответом</b> на моё сообщение с вопросом "
        "(смахните его влево). Если это сообщение и есть ответ — нажмите кнопку. "
        "Передумали — /cancel."
    )


BTN_USE_AS_INPUT = "✅ Использовать это сообщение"


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


def done_note(number: int, status: str) -> str:
    return f"Заявка № {number}: {STATUS_NAMES.get(status, status)}."


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


def btn_fix(number: int) -> str:
    return f"✏️ Исправить заявку № {number}"


def fix_intro(number: int, comment: str | None) -> str:
    text = f"Исправление заявки <b>№ {number}</b>."
    if comment:
        text += f"\nКомментарий МИАЦ: {escape(comment)}"
    return text


FIX_NOT_AVAILABLE = "Эту заявку сейчас нельзя исправить."
FINISH_CURRENT_FIRST = "Сначала завершите или отмените заявку, которую заполняете сейчас (/cancel)."


def resubmitted(number: int) -> str:
    return (
        f"✅ Исправленная заявка <b>№ {number}</b> отправлена повторно. "
        "Статус: <b>на рассмотрении</b>."
    )


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
HISTORY_USAGE = "Укажите номер заявки: /history 17"

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
}
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


# staff management
def staff_list(rows: Sequence[tuple[str, int, str, bool, str | None]]) -> str:
    lines = ["<b>Сотрудники МИАЦ</b>", ""]
    lines += [
        f"• {person(name)} (<code>{uid}</code>) — {ROLE_NAMES[role]}"
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


OWNER_MARK = "владелец (ADMIN_IDS)"


def staff_owner(uid: int) -> str:
    return (
        f"Пользователь <code>{uid}</code> — владелец: он указан в ADMIN_IDS, и в чате его не "
        "удалить и не понизить. Чтобы удалить владельца, уберите его id из ADMIN_IDS в "
        "настройках бота (.env или окружение) и перезапустите бота."
    )


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


BTN_INVITE_ADMIN = "➕ Пригласить администратора"
BTN_INVITE_OPERATOR = "➕ Пригласить оператора"


def btn_remove(name: str) -> str:
    return f"🗑 {name}"


def invite_link(role: str, link: str, expires: datetime) -> str:
    return (
        f"Ссылка-приглашение ({ROLE_NAMES[role]}), одноразовая, действует до "
        f"{expires.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}:\n{escape(link)}\n\n"
        "Перешлите её сотруднику лично."
    )


def staff_added(uid: int, role: str) -> str:
    return f"Пользователь <code>{uid}</code> добавлен: {ROLE_NAMES[role]}."


def staff_removed(uid: int) -> str:
    return f"Пользователь <code>{uid}</code> больше не сотрудник."


STAFF_UNCHANGED = "Ничего не изменилось: у пользователя уже эта роль."
STAFF_NOT_FOUND = "Такого сотрудника нет."
STAFF_LAST_ADMIN = "Нельзя удалить последнего администратора."
STAFF_USAGE = (
    "Формат: /staff add admin|operator|viewer ID, /staff org слова из названия организации "
    "или /staff remove ID"
)


def welcome_staff(role: str) -> str:
    return f"Вы добавлены в МИАЦ как {ROLE_NAMES[role]}. Команды: /queue, /find, /req, /history."


INVITE_INVALID = "Приглашение недействительно: ссылка уже использована или срок её действия истёк."


# --- export, access granted, oversight --------------------------------------------------------

EXPORT_USAGE = (
    "/export — новые одобренные заявки (отмечаются как выгруженные);\n"
    "/export all — все одобренные; /export 3 — выгрузка № 3 ещё раз;\n"
    "/export 01.12.2026 15.12.2026 — одобренные за период. Повторные выгрузки статусы не меняют."
)
EXPORT_NOTHING = "Новых одобренных заявок для выгрузки нет."
EXPORT_NOTHING_AGAIN = "По этому условию заявок нет."
CLI_NOTHING = "Заявок для выгрузки нет: файл не записан."


def export_caption(batch_id: int | None, count: int) -> str:
    if batch_id is None:
        return f"Повторная выгрузка: заявок {count}. Статусы не изменены."
    return (
        f"Выгрузка № {batch_id}: заявок {count}, они отмечены как переданные федеральному "
        "оператору. Когда оператор создаст учётные записи, нажмите кнопку ниже или "
        f"отправьте /granted {batch_id}."
    )


def btn_granted(batch_id: int) -> str:
    return f"🔑 Доступ предоставлен (выгрузка № {batch_id})"


GRANTED_USAGE = "Укажите номера заявок (/granted 12 13) или выгрузку (/granted batch 3)."


def granted_done(count: int, skipped: int) -> str:
    text = f"Отмечено «доступ предоставлен»: {count}."
    if skipped:
        text += f" Пропущено (не в статусе «передана федеральному оператору»): {skipped}."
    return text


def applicant_granted(number: int, login_url: str | None) -> str:
    where = f"Откройте {escape(login_url)} и войдите" if login_url else "Войдите в ВИМИС ОНКО"
    return (
        f"🔑 По заявке <b>№ {number}</b> доступ к ВИМИС ОНКО предоставлен.\n\n"
        f"{where} через Госуслуги (ЕСИА) — своей подтверждённой учётной записью, той же, что "
        "при первом входе на портал ЕГИСЗ. Если роль не видна или вход не удаётся, нажмите "
        "«Задать вопрос»."
    )


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


COVERAGE_COLUMNS = ("OID", "Полное наименование", "Краткое наименование")


def _left(days: int, deadline: date) -> str:
    if days <= 0:
        return (
            f"сегодня, {fmt_date(deadline)}, последний день срока подачи заявок по приказу "
            "(заявки, поданные позже, тоже рассмотрят)"
        )
    return f"до срока подачи заявок по приказу осталось {days} дн. (до {fmt_date(deadline)})"


def reminder_applicant(days: int, deadline: date) -> str:
    return (
        f"⏰ Доступ к ВИМИС ОНКО: {_left(days, deadline)}. У вас есть незаконченная заявка — "
        "нажмите /start, чтобы продолжить с того места, где вы остановились."
    )


def reminder_admin(days: int, deadline: date, queue: int) -> str:
    text = _left(days, deadline)
    return f"⏰ {text[0].upper()}{text[1:]}. В очереди на рассмотрение: {queue}. /queue"


# --- consultations ----------------------------------------------------------------------------

ASK_WITH_FAQ = (
    "Возможно, ответ уже есть среди частых вопросов 👇\n\n"
    "Если нет — напишите ваш вопрос одним сообщением (можно приложить скриншот или файл). "
    "Специалист МИАЦ ответит здесь же."
)
BTN_FAQ_HELPED = "✅ Помогло"


def faq_answer(question: str, answer: str) -> str:
    return (
        f"<b>{escape(question)}</b>\n\n{escape(answer)}\n\n"
        "Если это не ответ на ваш вопрос — напишите его одним сообщением."
    )


def out_of_hours(opening: datetime) -> str:
    return (
        "Сейчас нерабочее время МИАЦ. Вопрос сохранён, специалист ответит после "
        f"{opening.astimezone(LOCAL_TZ).strftime('%H:%M %d.%m.%Y')}."
    )


TOPIC_TITLE_LIMIT = 128  # Telegram's limit for a topic name (counted here in UTF-16 units)
UNNAMED_APPLICANT = "Заявитель"


def thread_title(name: str, organization: str | None) -> str:
    """A topic name (plain text): a Telegram name may be invisible characters only, or emoji
    that count twice in Telegram's limit."""
    if not any(unicodedata.category(ch)[0] in "LNPS" for ch in name):
        name = UNNAMED_APPLICANT
    title = f"{name} · {organization}" if organization else name
    return clip_utf16(title, TOPIC_TITLE_LIMIT)


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


def thread_header(user_id: int, name: str, requests: Sequence[tuple[int, str, str, str]]) -> str:
    lines = [f"👤 <b>{person(name)}</b> (id <code>{user_id}</code>)"]
    if not requests:
        lines.append(ERASED_REQUESTS if name == ERASED_APPLICANT else "Заявок пока нет.")
    for number, status, organization, masked in requests:
        lines.append(
            f"№ {number} — {escape(STATUS_NAMES.get(status, status))}; "
            f"{escape(clip(organization, 120))}; СНИЛС {escape(masked)}"
        )
    lines.append("\nОтвет в этой теме уйдёт заявителю. «//» в начале — заметка для коллег.")
    return "\n".join(lines)


def question_note(step: str | None) -> str:
    return f"❓ Вопрос с шага заявки: {escape(step)}" if step else "❓ Вопрос"


def edited_note(text: str) -> str:
    return f"✏️ Заявитель изменил сообщение:\n{escape(clip(text, 3500))}"


BLOCKED_NOTE = "⛔ Заявитель заблокировал бота: ответ не доставлен."
ANONYMOUS_ADMIN = (
    "🕶 Это сообщение отправлено анонимно (от имени группы): бот не знает, кто его написал, "
    "поэтому не передаёт его заявителю и не выполняет команды.\n"
    "Чтобы ответить: настройки группы → «Администраторы» → вы → выключите «Анонимность» "
    "(Remain Anonymous) и отправьте сообщение ещё раз."
)
THREAD_CLOSED = "Обращение закрыто."
THREAD_REOPENED = "Обращение снова открыто."
THREAD_ALREADY = "Ничего не изменилось."
NOT_A_THREAD = "Эта команда работает в теме обращения."
APPLICANT_CLOSED = "Специалист МИАЦ закрыл ваше обращение. Оцените, пожалуйста, ответ — от 1 до 5."
RATING_THANKS = "Спасибо за оценку!"
RATING_NOT_EXPECTED = "Оценка уже учтена или это обращение не ждёт оценки."
FAQ_SENT_NOTE = "Отправлен ответ из частых вопросов:"
FAQ_EMPTY = "Список частых вопросов пуст."
FAQ_PICK = "Выберите ответ — он уйдёт заявителю:"


def tickets(rows: Sequence[tuple[str, str]], more: int = 0) -> str:
    if not rows:
        return "Открытых обращений нет."
    lines = ["<b>Открытые обращения</b> (сначала ждущие дольше всех):", ""]
    lines += [f"• {escape(clip(title, 128))} — {escape(wait)}" for title, wait in rows]
    if more:
        lines.append(f"… и ещё {more}")
    return "\n".join(lines)


def faq_sent(question: str) -> str:
    return f"{FAQ_SENT_NOTE} {escape(question)}"


def waiting_for(hours: float | None) -> str:
    if hours is None:
        return "ответ дан"
    if hours < 1:
        return f"ждёт {int(hours * 60)} мин"
    return f"ждёт {hours:.1f} ч"


def sla_reminder(title: str, hours: float) -> str:
    return f"⏰ Вопрос «{escape(title)}» ждёт ответа {hours:.1f} ч."


# --- organisations' responsible persons and viewers (order No 922, items 2.1, 2.3) ----------

ROLE_NAMES.update({"responsible": "ответственное лицо организации", "viewer": "наблюдатель"})
BTN_INVITE_VIEWER = "➕ Пригласить наблюдателя"
BTN_INVITE_RESPONSIBLE = "➕ Ответственное лицо организации"
STAFF_ORG_HOW = (
    "Ответственное лицо привязывается к организации из справочника. Найдите её: "
    "<code>/staff org слова из названия</code>, например <code>/staff org ЦРБ</code>, и "
    "нажмите на организацию — ссылка-приглашение придёт вам в личный чат с ботом."
)
STAFF_ORG_NONE = "В справочнике ничего не нашлось. Попробуйте другие слова из названия."


def staff_org_found(total: int, shown: int) -> str:
    more = f" Показаны первые {shown} из {total}: уточните запрос." if total > shown else ""
    return f"Выберите организацию — ссылка-приглашение придёт вам в личный чат с ботом.{more}"


def invite_link_org(link: str, expires: datetime, organization: str) -> str:
    return (
        f"Ссылка-приглашение (ответственное лицо организации «{escape(organization)}»), "
        f"одноразовая, действует до {expires.astimezone(LOCAL_TZ).strftime('%d.%m.%Y %H:%M')}:"
        f"\n{escape(link)}\n\nПерешлите её сотруднику организации лично."
    )


def welcome_responsible(organization: str) -> str:
    return (
        f"Вы — ответственное лицо организации «{escape(organization)}» (п. 2.1 приказа № 922). "
        "Заявки сотрудников вашей организации будут приходить вам на подтверждение. "
        "Команда /org — заявки организации, фильтры и форма заявки (XLSX) на подпись "
        "руководителю."
    )


WELCOME_VIEWER = (
    "Вы добавлены как наблюдатель: вы видите ход работы (/stats, /coverage, /report), "
    "но не принимаете решений по заявкам."
)


def invite_keeps_miac_role(role: str) -> str:
    return (
        f"Вы уже сотрудник МИАЦ ({ROLE_NAMES[role]}): приглашение вашу роль не меняет. "
        "Если нужно иначе, попросите администратора."
    )


def staff_added_org(uid: int, organization: str) -> str:
    return (
        f"Пользователь <code>{uid}</code> — ответственное лицо организации "
        f"«{escape(organization)}»."
    )


# Asking to become a responsible person.
RESPONSIBLE_HOW = (
    "Чтобы стать ответственным лицом вашей медицинской организации (п. 2.1 приказа № 922), "
    "напишите /responsible и слова из её названия, например: <code>/responsible ЦРБ</code>. "
    "Администратор МИАЦ рассмотрит запрос."
)
RESPONSIBLE_NONE = "В справочнике ничего не нашлось. Попробуйте другие слова из названия."


def responsible_found(total: int, shown: int) -> str:
    more = f" Показаны первые {shown} из {total}: уточните запрос." if total > shown else ""
    return f"Выберите вашу организацию — запрос уйдёт администраторам МИАЦ.{more}"


APPLICATION_FILED = (
    "Запрос отправлен администраторам МИАЦ. Когда его рассмотрят, я напишу вам здесь."
)
BTN_APPLICATION_SEND = "📨 Отправить запрос"


def application_confirm(organization: str) -> str:
    return (
        f"Попросить администраторов МИАЦ назначить вас ответственным лицом организации "
        f"«{escape(organization)}»? Администратор увидит ваше имя в Telegram."
    )


APPLICATION_PENDING = "Ваш прошлый запрос ещё рассматривается: дождитесь ответа."
APPLICATION_ALREADY_STAFF = "Вы уже сотрудник в боте: роль меняет администратор МИАЦ."
BTN_APPLICATION_APPROVE = "✅ Назначить"
BTN_APPLICATION_DECLINE = "❌ Отказать"
APPLICATION_TAKEN = "Этот запрос уже рассмотрен."


def application_card(
    number: int, name: str, uid: int, organization: str, outcome: str | None, by: str | None
) -> str:
    lines = [
        f"🏥 <b>Запрос № {number}</b>: назначить ответственным лицом организации",
        f"«{escape(organization)}»",
        f"Кто просит: {person(name)} (id <code>{uid}</code>)",
    ]
    if outcome is not None:
        verdict = "назначен(а)" if outcome == "approved" else "отказано"
        lines += ["", f"Итог: {verdict}" + (f" — {by}" if by else "")]
    return "\n".join(lines)


def application_approved(organization: str) -> str:
    return "Запрос одобрен. " + welcome_responsible(organization)


APPLICATION_DECLINED = (
    "Администратор МИАЦ отклонил запрос назначить вас ответственным лицом организации. "
    "Если это ошибка, задайте вопрос через «❓ Задать вопрос» в меню."
)

# /org and confirmation.
ORG_COMMANDS = {"org": "Заявки моей организации, подтверждение, форма XLSX"}
ORG_FILTERS = {
    "all": "Все",
    "wait": "Ждут меня",
    "ret": "На доработке",
    "appr": "Одобрены",
    "gap": "Нет заявок",
}
ORG_STATES = {
    "awaiting": "⏳ ждёт подтверждения организации",
    "overdue": "⏳ организация не ответила в срок",
    "confirmed": "✅ подтверждена организацией",
    "declined": "❌ не подтверждена организацией",
    "not_required": "подтверждение организации не требуется",
    "no_responsible": "у организации нет ответственного лица",
}
ORG_LABEL = "Подтверждение организации"
BTN_ORG_CONFIRM = "✅ Подтверждаю"
BTN_ORG_DECLINE = "❌ Не подтверждаю"
BTN_ORG_XLSX = "📄 Форма заявки (XLSX)"
BTN_ORG_CANCEL = "Отмена"
ORG_REASON_LIMIT = 300
ORG_REASON_PROMPT = (
    "Напишите одним сообщением, почему вы не подтверждаете заявку (например: не работает у "
    "нас, другая должность). Причину увидят администратор МИАЦ и заявитель."
)
ORG_REASON_EMPTY = "Нужна причина текстом. Напишите, почему вы не подтверждаете заявку."
ORG_REASON_TOO_LONG = f"Слишком длинно: не больше {ORG_REASON_LIMIT} символов. Напишите короче."
ORG_REASON_CANCELLED = "Хорошо, заявка пока не отмечена."
ORG_REASON_CANCEL_HINT = "Передумали — нажмите «Отмена»."
ORG_NOT_YOURS = "Эта заявка не вашей организации или недоступна."
ORG_OWN_REQUEST = "Свою заявку подтверждает другое ответственное лицо организации или МИАЦ."
ORG_ALREADY = "По этой заявке уже есть ответ организации или решение МИАЦ."
ORG_NO_ROWS = "Заявок нет."
ORG_XLSX_EMPTY = "У организации пока нет заявок для формы."
ORG_MATRIX_LABEL = "Должности матрицы ролей без заявок"


def org_state(state: str | None, reason: str | None = None) -> str:
    """Plain text (the card escapes it): what the organisation said."""
    text = ORG_STATES.get(state or "", "—")
    if state == "declined" and reason:
        text += f": {reason}"
    return text


def org_state_card(state: str | None, reason: str | None, held_until_answer: bool) -> str:
    text = org_state(state, reason)
    if state == "overdue":
        text += " — карточка опубликована без подтверждения"
    if state == "declined":
        text += " — решите, одобрять ли заявку"
    if held_until_answer:
        text += " (карточка ждёт ответа)"
    return text


def org_request_lines(
    number: int,
    status: str,
    name: str,
    position: str,
    role: str | None,
    masked_snils: str,
    state: str | None,
    reason: str | None,
) -> str:
    return (
        f"<b>№ {number}</b> — {escape(STATUS_NAMES.get(status, status))}\n"
        f"{escape(clip(name, 120))}, СНИЛС {escape(masked_snils)}\n"
        f"Должность: {escape(clip(position, 200))}\n"
        f"Роль: {escape(role or 'не выбрана')}\n"
        f"{escape(org_state(state, clip(reason or '', 200)))}"
    )


def org_page(organization: str, which: str, blocks: Sequence[str], page: int, pages: int) -> str:
    head = f"🏥 <b>{escape(organization)}</b> — {escape(ORG_FILTERS.get(which, which))}"
    if pages > 1:
        head += f" (стр. {page + 1} из {pages})"
    return "\n\n".join([head, *(blocks or [ORG_NO_ROWS])])


def org_gaps(organization: str, positions: Sequence[str], page: int, pages: int) -> str:
    head = f"🏥 <b>{escape(organization)}</b> — {ORG_MATRIX_LABEL.lower()}"
    if pages > 1:
        head += f" (стр. {page + 1} из {pages})"
    if not positions:
        return head + "\n\nНа каждую должность матрицы есть заявка."
    return head + "\n\n" + "\n".join(f"• {escape(p)}" for p in positions)


def org_ask(block: str) -> str:
    return (
        "🏥 <b>Новая заявка сотрудника вашей организации</b>\n\n"
        f"{block}\n\n"
        "Подтвердите, что этот человек работает у вас в указанной должности (п. 2.3 "
        "приказа № 922)."
    )


def org_confirmed_done(number: int) -> str:
    return f"Заявка № {number}: вы подтвердили. Спасибо!"


def org_declined_done(number: int) -> str:
    return f"Заявка № {number}: вы не подтвердили её. Причина передана МИАЦ и заявителю."


def applicant_org_declined(number: int, reason: str) -> str:
    return (
        f"Ваша организация не подтвердила заявку <b>№ {number}</b>.\n"
        f"Причина: {escape(reason)}\n\n"
        "Решение примет администратор МИАЦ. Если это ошибка, обратитесь к ответственному лицу "
        "вашей организации или задайте вопрос через меню."
    )


def reminder_responsible(days: int, deadline: date, organization: str) -> str:
    return (
        f"⏰ Доступ к ВИМИС ОНКО: {_left(days, deadline)}. От организации "
        f"«{escape(organization)}» ещё нет ни одной заявки. Попросите сотрудников подать "
        "заявки в этом боте (кнопка «📝 Подать заявку»); /org покажет, по каким должностям "
        "матрицы ролей заявок нет."
    )


ORG_FORM_SIGNATURE = (
    "Руководитель",
    "______________ (подпись)",
    "______________ (ФИО)",
    "«___» ____________ 20___ г.",
)
ORG_FORM_HIDDEN = "скрыт"


def org_xlsx_caption(organization: str, count: int) -> str:
    return (
        f"Форма заявки организации «{escape(organization)}»: {count} чел. СНИЛС и e-mail в ней "
        "скрыты; полные данные уже в заявках. Подпишите у руководителя."
    )


# --- oversight, report, broadcast, the order's link ---------------------------------------------

REPORT_TITLE = "Отчёт о подключении к ВИМИС ОНКО"
REPORT_SHOWN = 15  # organisations listed per group in the message; all of them in the XLSX
COMMAND_REPORT = "Отчёт: заявки, сроки решения, охват организаций"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ч"


def _org_list(title: str, names: Sequence[str], total: int, shown: int) -> list[str]:
    lines = [f"<b>{title}:</b> {len(names)} из {total}"]
    lines += [f"• {escape(clip(name, REPORT_NAME_LIMIT))}" for name in names[:shown]]
    if len(names) > shown:
        lines.append(f"… и ещё {len(names) - shown} — полный список в файле.")
    return lines


REPORT_NAME_LIMIT = 90  # characters of an organisation's name in the message (in full in the XLSX)
REPORT_MESSAGE_LIMIT = 4000  # Telegram allows 4096 characters of text, counted after the HTML


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
        when = f"до срока ({fmt_date(deadline)}) осталось {days} дн."
    elif days == 0:
        when = f"сегодня, {fmt_date(deadline)}, — последний день срока"
    else:
        when = (
            f"срок ({fmt_date(deadline)}) прошёл {-days} дн. назад; заявки по-прежнему "
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


# /broadcast
COMMAND_BROADCAST = "Рассылка: ответственным лицам или заявителям"
BROADCAST_AUDIENCES = {
    "responsible": "👥 Всем ответственным лицам организаций",
    "drafts": "📝 Заявителям с незаконченной заявкой",
    "no_request": "🏥 Ответственным лицам организаций без заявок",
}
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
BTN_BROADCAST_SEND = "📨 Отправить"
BTN_BROADCAST_CANCEL = "✖️ Отменить"


def broadcast_preview(audience: str, count: int, text: str) -> str:
    who = BROADCAST_AUDIENCES.get(audience, audience)
    return (
        f"<b>Предпросмотр рассылки</b>\nКому: {escape(who)} — <b>{count}</b> чел.\n\n"
        f"{escape(text)}\n\nОтправить?"
    )


def broadcast_queued(number: int, count: int) -> str:
    return (
        f"Рассылка № {number} поставлена в очередь: {count} получателей. "
        "Ход отправки: /broadcast status"
    )


def broadcast_status(rows: Sequence[tuple[int, str, str, int, int, int, int, int]]) -> str:
    if not rows:
        return "Рассылок ещё не было."
    lines = ["<b>Рассылки</b> (последние):", ""]
    for number, audience, when, total, delivered, blocked, pending, lost in rows:
        who = escape(BROADCAST_AUDIENCES.get(audience, audience))
        line = (
            f"№ {number} от {escape(when)} — {who}: всего {total}, доставлено {delivered}, "
            f"заблокировали бота {blocked}, в очереди {pending}"
        )
        if lost:
            line += f", не доставлено (сбой или отзыв согласия) {lost}"
        lines.append(line)
    return "\n".join(lines)


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


# Texts against the order
COVERAGE_WHY = (
    "За них заявку на сотрудников направляет руководитель организации (п. 2.3); главные "
    "внештатные специалисты подают свою заявку сами (п. 3.1)."
)


def deadline_note(deadline: date) -> str:
    """DEADLINE does not stop submissions: say what really happens after it."""
    return (
        f"⏰ Срок подачи заявок — до <b>{fmt_date(deadline)}</b>. Заявки, поданные позже, "
        "тоже принимаются и рассматриваются, но лучше не откладывать."
    )


FAQ_MEDIAN_PLACEHOLDER = "{median_decision}"


def median_decision(hours: float | None) -> str:
    """The measured time to decision, for the FAQ (instead of a promise from nowhere)."""
    if hours is None:
        return "Решений по заявкам пока не было, поэтому срок рассмотрения ещё не измерен."
    if hours < 24:
        span = f"{max(hours, 0.1):.1f} ч"
    else:
        span = f"{hours / 24:.1f} сут."
    return f"Сейчас половина заявок получает решение быстрее чем за {span} (медиана)."


def with_order(text: str, order_url: str | None, esia_url: str) -> str:
    """«📖 Инструкция» and /help: the order's link (ORDER_URL) and its typo under the text."""
    return f"{text}\n\n{order_link(order_url, esia_url)}"


# --- personal data for its whole life (issue 13): /mydata, retention, audit of views ---------

COMMANDS["mydata"] = "Какие мои данные хранит бот"
ADMIN_COMMANDS["retention"] = "Срок хранения: сколько данных удалить и когда"
BTN_MYDATA = "🗂 Какие мои данные хранятся"
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


def view_via(via: str) -> str:
    return f"через: {VIEW_VIA.get(via, via)}"


def _when(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%d.%m.%Y %H:%M") if value else "—"


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
    ticket: tuple[str, datetime, int, int] | None,
    claims: Sequence[tuple[str, datetime]],
    reminders: int,
    draft: Sequence[tuple[str, str]],
    erasures: Sequence[tuple[datetime, Sequence[int], str]] = (),
) -> str:
    """Plain text (the caller escapes it for a message): everything the bot keeps about the
    person. `events`: (request, when, who — a role, never a name, action, via)."""
    out = ["Какие ваши данные хранит бот (152-ФЗ, ст. 14)", ""]
    out.append("Заявки:" if requests else "Заявок нет.")
    for number, fields in requests:
        out.append(f"  Заявка № {number}")
        for name, value in fields:
            shown = STATUS_NAMES.get(str(value), str(value)) if name == "status" else _value(value)
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
        status, opened, messages, ratings = ticket
        state = "открыто" if status == "open" else "закрыто"
        out.append(
            f"Обращение в поддержку: {state}, начато {_when(opened)}; "
            f"пересланных сообщений: {messages}; оценок: {ratings}"
        )
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


def retention_outlook(
    days: int,
    due_now: int,
    upcoming: Sequence[tuple[datetime, int]],
    waiting: int,
    last_run: datetime | None,
    next_run: datetime | None,
) -> str:
    lines = [
        f"<b>Срок хранения персональных данных: {days} дн.</b> после завершения заявки "
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


CLI_BACKUP_POSTGRES = (
    "Эта команда копирует только базу SQLite. Базу PostgreSQL копируйте её средствами: "
    'pg_dump --format=custom --file=backup.dump "$DATABASE_URL" (без «+asyncpg» в адресе), '
    "восстановление — pg_restore --clean --if-exists --dbname=… backup.dump; затем "
    "python -m bot reapply-erasures. Подробнее — docs/operations.md, «Backups and restore»."
)


def cli_backup_exists(path: str) -> str:
    return f"Файл {path} уже существует: укажите новый, копия не перезаписывает файлы."


def cli_backup_no_database(path: str) -> str:
    return f"Базы данных {path} нет: копировать нечего."


def cli_backup_done(path: str, requests: int) -> str:
    return (
        f"Резервная копия записана: {path} (заявок: {requests}). В ней персональные данные: "
        "храните её только там, где разрешено (см. docs/personal-data.md), и после "
        "восстановления выполните python -m bot reapply-erasures."
    )


def cli_reapplied(records: int, erased: int, by_retention: int) -> str:
    return (
        f"Записей об удалении: {records}; удалено снова по ним: {erased}; "
        f"по сроку хранения: {by_retention}."
    )


# --- export: requests held back by a shared address ---


def export_held_back(count: int) -> str:
    """Appended to the /export answer: approved requests left out of the batch."""
    if not count:
        return ""
    return (
        f"\n\nНе выгружено одобренных заявок: {count} — их адрес электронной почты указан и в "
        "заявке другого человека (адрес должен быть уникальным для каждого пользователя). "
        "Найдите их через /find по адресу и решите, чья это почта."
    )


# --- retention and the support thread ---
ERASED_APPLICANT = "Заявитель (данные удалены)"
ERASED_REQUESTS = "Персональные данные заявок удалены по сроку хранения; консультация продолжается."


def thread_name(title: str) -> str:
    """A support thread's stored title, or a neutral one once the person's data were erased
    by the retention rule (services.support.forget_names leaves it empty)."""
    return title or ERASED_APPLICANT


# --- review 5: organisations' confirmation (issue 12) ---

WARN_HELD_FOR_ORG = (
    "⏳ Заявка ждёт подтверждения организации: решение — после её ответа "
    "(или когда истечёт срок ответа)."
)
ORG_REASON_PLACEHOLDER = "Причина"  # the reply field of «Не подтверждаю»
HELD_FOR_ORG_REFUSED = (
    "Заявка ждёт подтверждения организации: решить её можно после ответа организации "
    "или когда истечёт срок ответа."
)


def staff_page(page: int, pages: int, total: int) -> str:
    """Under the /staff list when it has more than one page."""
    if pages <= 1:
        return ""
    return f"\n\nСтраница {page + 1} из {pages} (всего сотрудников: {total}); листайте ◀️ ▶️."


def org_ask_erased(number: int) -> str:
    """Replaces a responsible person's «Новая заявка» message once the applicant's data are
    erased (consent withdrawn, or the retention period ended)."""
    return f"Заявка № {number}: данные заявителя удалены."
