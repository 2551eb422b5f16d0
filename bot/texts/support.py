"""Texts of questions: the applicant asking, the support topic, the operators' desk."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from html import escape

from bot.texts.common import LOCAL_TZ, STATUS_NAMES, account_plain, clip, clip_utf16, person

# --- the applicant asks ---------------------------------------------------------------------------

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


ASK_SENT = "Спасибо! Вопрос передан специалистам МИАЦ, ответ придёт сюда."
LOOSE_QUESTION_OFFER = "Похоже, это вопрос. Передать его специалистам МИАЦ?"
BTN_ASK_THIS = "📨 Передать вопрос специалисту"


def loose_question_offer() -> str:
    return (
        f"{LOOSE_QUESTION_OFFER} Нажмите «{BTN_ASK_THIS}» — сообщение уйдёт как написано, "
        "ответ придёт сюда. Подать заявку или посмотреть свои — кнопки ниже."
    )


ASK_UNAVAILABLE = (
    "Сейчас задать вопрос через бота нельзя: служба поддержки не подключена. "
    "Обратитесь в МИАЦ по телефону или электронной почте."
)
ASK_RESUME = "Чтобы продолжить заполнение заявки, нажмите «Продолжить»."


def out_of_hours(opening: datetime) -> str:
    return (
        "Сейчас нерабочее время МИАЦ. Вопрос сохранён, специалист ответит после "
        f"{opening.astimezone(LOCAL_TZ).strftime('%H:%M %d.%m.%Y')}."
    )


FORWARDED_TO_OPERATOR = "✉️ Передал ваше сообщение специалисту МИАЦ — ответ придёт сюда."
# A reply to a specialist, or more words to a consultation: the same consultation goes on.
REPLY_SENT = "✉️ Передал специалисту МИАЦ — в то же обращение, ответ придёт сюда."


# --- the operator answers, the applicant rates ----------------------------------------------------

OPERATOR_ANSWER_LABEL = "💬 <b>Ответ специалиста МИАЦ</b> 👇"
BTN_REPLY_OPERATOR = "✍️ Ответить специалисту"
REPLY_PROMPT = (
    "Напишите ответ специалисту МИАЦ одним сообщением (можно приложить скриншот или файл). "
    "Ответ на его сообщение (смахните сообщение влево) тоже дойдёт до специалиста."
)
APPLICANT_CLOSED = "Специалист МИАЦ закрыл ваше обращение. Оцените, пожалуйста, ответ — от 1 до 5."
RATING_THANKS = "Спасибо за оценку!"
RATING_NOT_EXPECTED = "Оценка уже учтена или это обращение не ждёт оценки."


# --- the support topic: its name and header -------------------------------------------------------

TOPIC_TITLE_LIMIT = 128  # Telegram's limit for a topic name (counted here in UTF-16 units)
UNNAMED_APPLICANT = "Заявитель"


def thread_title(name: str, organization: str | None) -> str:
    """A topic name (plain text): a Telegram name may be invisible characters only, or emoji
    that count twice in Telegram's limit."""
    if not any(unicodedata.category(ch)[0] in "LNPS" for ch in name):
        name = UNNAMED_APPLICANT
    title = f"{name} · {organization}" if organization else name
    return clip_utf16(title, TOPIC_TITLE_LIMIT)


ERASED_APPLICANT = "Заявитель (данные удалены)"
ERASED_REQUESTS = "Персональные данные заявок удалены по сроку хранения; консультация продолжается."


def thread_name(title: str) -> str:
    """A support thread's stored title, or a neutral one once the person's data were erased
    by the retention rule (services.support.forget_names leaves it empty)."""
    return title or ERASED_APPLICANT


def thread_header(user_id: int, name: str, requests: Sequence[tuple[int, str, str, str]]) -> str:
    lines = [f"👤 <b>{person(name)}</b> ({escape(account_plain(user_id))})"]
    if not requests:
        lines.append(ERASED_REQUESTS if name == ERASED_APPLICANT else "Заявок пока нет.")
    for number, status, organization, masked in requests:
        lines.append(
            f"№ {number} — {escape(STATUS_NAMES.get(status, status))}; "
            f"{escape(clip(organization, 120))}; СНИЛС {escape(masked)}"
        )
    lines.append(
        "\nОтвет в этой теме — или ответ на это сообщение и на сообщения заявителя под ним — "
        "уйдёт заявителю. «//» в начале — заметка для коллег."
    )
    return "\n".join(lines)


# --- notes in the topic ---------------------------------------------------------------------------


def support_ticket(user_id: int, first_name: str | None, step: str | None) -> str:
    who = person(first_name) if first_name else "пользователь"
    lines = [f"❓ <b>Вопрос</b> от {who} ({escape(account_plain(user_id))})"]
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


def question_note(step: str | None) -> str:
    return f"❓ Вопрос с шага заявки: {escape(step)}" if step else "❓ Вопрос"


def edited_note(text: str) -> str:
    return f"✏️ Заявитель изменил сообщение:\n{escape(clip(text, 3500))}"


BLOCKED_NOTE = "⛔ Заявитель заблокировал бота: ответ не доставлен."


def sla_reminder(title: str, hours: float) -> str:
    return f"⏰ Вопрос «{escape(title)}» ждёт ответа {hours:.1f} ч."


# --- the operators' desk --------------------------------------------------------------------------

ANONYMOUS_ADMIN = (
    "🕶 Это сообщение отправлено анонимно (от имени группы): бот не знает, кто его написал, "
    "поэтому не передаёт его заявителю и не выполняет команды.\n"
    "Чтобы ответить: настройки группы → «Администраторы» → вы → выключите «Анонимность» "
    "(Remain Anonymous) и отправьте сообщение ещё раз."
)
THREAD_CLOSED = "Обращение закрыто."
THREAD_REOPENED = "Обращение снова открыто."
THREAD_ALREADY = "Ничего не изменилось."
ANSWER_NOT_LINKED = (
    "⚠️ Этот ответ заявителю не ушёл: сообщение, на которое вы ответили, не относится ни к "
    "одному обращению (например, это повтор шапки после сбоя связи или служебное сообщение бота). "
    "Ответьте на шапку обращения или на вопрос заявителя под ней; /thread и номер заявки покажет, "
    "где начинается обращение."
)
NOT_A_THREAD = (
    "Эта команда работает в теме обращения или ответом на сообщение обращения (в группе без тем)."
)
THREAD_USAGE = (
    "Покажу обращение: /thread и номер заявки (например, /thread 17) или /thread ответом на "
    "сообщение обращения."
)
THREAD_NOT_FOUND = "У заявителя этой заявки нет обращений в поддержку."


def thread_summary(header: str, status: str, waiting: str, relayed: int, here: bool) -> str:
    """/thread: the consultation's header again, its state, and where its chain begins."""
    state = "открыто" if status == "open" else "закрыто"
    where = (
        "Начало цепочки — сообщение, на которое отвечает это."
        if here
        else "Обращение ведётся в другой группе поддержки."
    )
    return (
        f"{header}\n\nОбращение {state}, {escape(waiting)}; пересланных сообщений: "
        f"{relayed}.\n{where}"
    )


FAQ_SENT_NOTE = "Отправлен ответ из частых вопросов:"
FAQ_EMPTY = "Список частых вопросов пуст."
FAQ_PICK = "Выберите ответ — он уйдёт заявителю:"


def faq_sent(question: str) -> str:
    return f"{FAQ_SENT_NOTE} {escape(question)}"


def tickets(rows: Sequence[tuple[str, str]], more: int = 0) -> str:
    if not rows:
        return "Открытых обращений нет."
    lines = ["<b>Открытые обращения</b> (сначала ждущие дольше всех):", ""]
    lines += [f"• {escape(clip(title, 128))} — {escape(wait)}" for title, wait in rows]
    if more:
        lines.append(f"… и ещё {more}")
    return "\n".join(lines)


def waiting_for(hours: float | None) -> str:
    if hours is None:
        return "ответ дан"
    if hours < 1:
        return f"ждёт {int(hours * 60)} мин"
    return f"ждёт {hours:.1f} ч"


# --- a message crossing between Telegram and MAX ----------------------------------------------

CAPTION_LIMIT = 1024  # Telegram's caption; a longer text goes before the file, on its own
EMPTY_RELAY = "(сообщение без текста)"
_KIND_NAMES = {
    "document": "файл",
    "photo": "фото",
    "voice": "голосовое сообщение",
    "video": "видео",
    "video_note": "видеосообщение",
    "audio": "аудио",
    "sticker": "стикер",
    "animation": "анимация",
    "location": "геопозиция",
    "contact": "контакт",
}


def not_carried(kind: str) -> str:
    """Said where an attachment could not cross to the other messenger."""
    name = _KIND_NAMES.get(kind, "вложение")
    return (
        f"<i>[{name}: в другой мессенджер не передаётся — попросите прислать текстом "
        "или файлом]</i>"
    )
