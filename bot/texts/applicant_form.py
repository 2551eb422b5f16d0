"""The applicant's texts in the form, step by step from Госуслуги to the summary."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.texts.common import PAGE_HINT, STATUS_NAMES, clip

# --- answering a step -----------------------------------------------------------------------------


def answer_echo(answer: str) -> str:
    return f"➡️ <i>{escape(answer)}</i>"


USE_BUTTONS = "Пожалуйста, выберите ответ кнопкой под сообщением 👇"
SEND_TEXT = "Пожалуйста, отправьте ответ текстовым сообщением."
# The step's prompt had not arrived (a failed send): it is shown again, nothing is taken from
# the message or press that came instead.
PROMPT_AGAIN = (
    "Предыдущее сообщение могло до вас не дойти, поэтому повторяю вопрос. "
    "Всё, что вы ввели раньше, сохранено."
)
PROMPT_AGAIN_SHORT = "Повторяю текущий вопрос 👇"


def field_missing(label: str) -> str:
    return f"В заявке не заполнено поле «{label}» — заполните его, пожалуйста."


# --- Госуслуги and ЕСИА ---------------------------------------------------------------------------

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


# --- SNILS ----------------------------------------------------------------------------------------

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


# --- name -----------------------------------------------------------------------------------------

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


# --- e-mail ---------------------------------------------------------------------------------------

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


# --- region ---------------------------------------------------------------------------------------


def region(name: str) -> str:
    return f"Субъект РФ: <b>{escape(name)}</b>. Верно?"


BTN_REGION_OK = "✅ Да, верно"
BTN_REGION_OTHER = "Нет, другой регион"


def region_other(name: str) -> str:
    return (
        f"Этот бот принимает заявки медицинских организаций региона «{escape(name)}». "
        "Если вы работаете в другом регионе, обратитесь в МИАЦ своего региона."
    )


# --- organisation ---------------------------------------------------------------------------------

BTN_DEPARTMENT = "🏛 Департамент здравоохранения"
ORG_PROMPT = (
    "Найдём вашу <b>медицинскую организацию</b>. Напишите одно-два слова из её названия, "
    "например: <i>онкологический диспансер</i> или <i>Нерехтская</i>.\n\n"
    f"Главные внештатные специалисты департамента нажимают «{BTN_DEPARTMENT}»."
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


# --- position -------------------------------------------------------------------------------------

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


# --- role and component ---------------------------------------------------------------------------

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


# --- summary and submission -----------------------------------------------------------------------

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


# ORG_CONFIRMATION=required: the request waits for its organisation first (order No 922,
# item 2.3), then МИАЦ sees it.
STATUS_HELD_FOR_ORG = "ждёт подтверждения организации"
NEXT_HELD_FOR_ORG = (
    "Сначала её подтвердит ответственное лицо вашей организации, затем рассмотрят "
    "специалисты МИАЦ; о решении я сообщу здесь."
)

NEXT_MIAC = "Специалисты МИАЦ рассмотрят её, а я сообщу о решении здесь."


def submitted(number: int, status: str, held: bool = False) -> str:
    shown = STATUS_HELD_FOR_ORG if held else STATUS_NAMES[status]
    then = NEXT_HELD_FOR_ORG if held else NEXT_MIAC
    return (
        f"✅ Заявка <b>№ {number}</b> отправлена. "
        f"Статус: <b>{escape(shown)}</b>.\n\n"
        f"{then} Статус всегда можно посмотреть в разделе «Мои заявки»."
    )


def already_open(number: int, status: str, role: str | None) -> str:
    role_text = f" на роль «{escape(role)}»" if role else ""
    return (
        f"У вас уже есть заявка <b>№ {number}</b>{role_text}, статус: "
        f"<b>{escape(STATUS_NAMES.get(status, status))}</b>. Вторая такая же заявка не нужна — "
        "следите за статусом в разделе «Мои заявки». Если нужна другая роль, измените "
        "должность или роль ниже; иначе нажмите «Отмена»."
    )


def already_submitted(number: int) -> str:
    # Plain text: a callback answer is not HTML.
    return f"Заявка № {number} уже отправлена. Статус — в разделе «Мои заявки»."


NOT_SUBMITTED = "Заявка не отправлена — заполните её заново: «📝 Подать заявку»."
