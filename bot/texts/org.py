"""Texts for organisations' responsible persons (order No 922, items 2.1, 2.3) and about them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from bot.texts.common import STATUS_NAMES, _left, clip, messenger_name, person
from services.accounts import native_id

# --- becoming a responsible person ----------------------------------------------------------------


def welcome_responsible(organization: str) -> str:
    return (
        f"Вы — ответственное лицо организации «{escape(organization)}» (п. 2.1 приказа № 922). "
        "Заявки сотрудников вашей организации будут приходить вам на подтверждение. "
        "Команда /org — заявки организации, фильтры и форма заявки (XLSX) на подпись "
        "руководителю."
    )


RESPONSIBLE_HOW = (
    "Чтобы стать ответственным лицом вашей медицинской организации (п. 2.1 приказа № 922), "
    "напишите /responsible и слова из её названия, например: <code>/responsible ЦРБ</code>. "
    "Администратор МИАЦ рассмотрит запрос."
)
RESPONSIBLE_NONE = "В справочнике ничего не нашлось. Попробуйте другие слова из названия."


def responsible_found(total: int, shown: int) -> str:
    more = f" Показаны первые {shown} из {total}: уточните запрос." if total > shown else ""
    return f"Выберите вашу организацию — запрос уйдёт администраторам МИАЦ.{more}"


def application_confirm(organization: str, appointment: str, scan: bool) -> str:
    attached = "скан приложен" if scan else "без скана"
    return (
        f"Попросить администраторов МИАЦ назначить вас ответственным лицом организации "
        f"«{escape(organization)}»?\nНазначение: {escape(appointment)} ({attached}).\n"
        "Администратор увидит ваше имя в Telegram."
    )


# The head's appointment (item 2.1: the heads of the organisations appoint them).
APPOINTMENT_PROMPT = (
    "По п. 2.1 приказа № 922 ответственное лицо назначает руководитель организации. Напишите "
    "номер и дату приказа (или письма) о вашем назначении, например: «приказ № 45-к от "
    "12.09.2022». Передумали — /cancel."
)
APPOINTMENT_LIMIT = 200
APPOINTMENT_EMPTY = (
    "Нужны номер и дата приказа или письма текстом, например: «№ 45-к от 12.09.2022»."
)
APPOINTMENT_TOO_LONG = (
    f"Слишком длинно: не больше {APPOINTMENT_LIMIT} символов. Напишите только номер и дату."
)
APPOINTMENT_NEEDS_DATE = (
    "Не вижу даты. Напишите номер и дату приказа или письма, например: «№ 45-к от 12.09.2022»."
)
APPOINTMENT_SCAN = (
    "Если есть скан приказа или письма, пришлите его PDF-файлом или фото. Скан увидят только "
    "администраторы МИАЦ. Можно и без него — нажмите кнопку."
)
APPOINTMENT_SCAN_NEEDED = (
    "Пришлите скан PDF-файлом или фото — или нажмите «📨 Отправить запрос без скана»."
)
APPOINTMENT_CANCELLED = "Хорошо, запрос не отправлен."
BTN_APPLICATION_SEND_NO_SCAN = "📨 Отправить запрос без скана"


BTN_APPLICATION_SEND = "📨 Отправить запрос"
APPLICATION_FILED = (
    "Запрос отправлен администраторам МИАЦ. Когда его рассмотрят, я напишу вам здесь."
)
APPLICATION_PENDING = "Ваш прошлый запрос ещё рассматривается: дождитесь ответа."
APPLICATION_ALREADY_STAFF = "Вы уже сотрудник в боте: роль меняет администратор МИАЦ."


# --- the request, as admins decide it -------------------------------------------------------------


def application_card(
    number: int,
    name: str,
    uid: int,
    organization: str,
    outcome: str | None,
    by: str | None,
    appointment: str | None = None,
    scan: bool = False,
) -> str:
    lines = [
        f"🏥 <b>Запрос № {number}</b>: назначить ответственным лицом организации",
        f"«{escape(organization)}»",
        # The messenger named with the id: in a desk serving both, a bare id is ambiguous.
        f"Кто просит: {person(name)} ({messenger_name(uid)}, id <code>{native_id(uid)}</code>)",
        f"Назначение руководителем (п. 2.1): {escape(appointment or 'не указано')}"
        + ("; скан — в следующем сообщении" if scan else "; скана нет"),
    ]
    if outcome is not None:
        verdict = "назначен(а)" if outcome == "approved" else "отказано"
        lines += ["", f"Итог: {verdict}" + (f" — {by}" if by else "")]
    return "\n".join(lines)


def application_scan_caption(number: int) -> str:
    return f"Скан назначения к запросу № {number}"


BTN_APPLICATION_APPROVE = "✅ Назначить"
BTN_APPLICATION_DECLINE = "❌ Отказать"
APPLICATION_TAKEN = "Этот запрос уже рассмотрен."


def application_approved(organization: str) -> str:
    return "Запрос одобрен. " + welcome_responsible(organization)


APPLICATION_DECLINED = (
    "Администратор МИАЦ отклонил запрос назначить вас ответственным лицом организации. "
    "Если это ошибка, задайте вопрос через «❓ Задать вопрос» в меню."
)


# --- /org: the organisation's requests ------------------------------------------------------------

ORG_COMMANDS = {"org": "Заявки моей организации, подтверждение, форма XLSX"}
ORG_FILTERS = {
    "all": "Все",
    "wait": "Ждут меня",
    "ret": "На доработке",
    "appr": "Одобрены",
    "gap": "Нет заявок",
}
ORG_NO_ROWS = "Заявок нет."
ORG_MATRIX_LABEL = "Должности матрицы ролей без заявок"


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


# --- the organisation's confirmation --------------------------------------------------------------

ORG_STATES = {
    "awaiting": "⏳ ждёт подтверждения организации",
    "overdue": "⏳ организация не ответила в срок",
    "confirmed": "✅ подтверждена организацией",
    "declined": "❌ не подтверждена организацией",
    "not_required": "подтверждение организации не требуется",
    "no_responsible": "у организации нет ответственного лица",
    "unanswered": "организация не ответила до решения МИАЦ",
    "only_applicant": (
        "заявитель — единственное ответственное лицо организации, подтвердить некому"
    ),
    "responsible_gone": ("ответственное лицо организации удалено, других нет — подтвердить некому"),
}
ORG_LABEL = "Подтверждение организации"


def org_state(state: str | None, reason: str | None = None) -> str:
    """Plain text (the card escapes it): what the organisation said."""
    text = ORG_STATES.get(state or "", "—")
    if state == "declined" and reason:
        text += f": {reason}"
    return text


def org_state_card(state: str | None, reason: str | None, held_until_answer: bool) -> str:
    text = org_state(state, reason)
    if state in ("overdue", "responsible_gone"):
        text += " — карточка опубликована без подтверждения"
    if state == "declined":
        text += " — решите, одобрять ли заявку"
    if held_until_answer:
        text += " (карточка ждёт ответа)"
    return text


def org_ask(block: str) -> str:
    return (
        "🏥 <b>Новая заявка сотрудника вашей организации</b>\n\n"
        f"{block}\n\n"
        "Подтвердите, что этот человек работает у вас в указанной должности (п. 2.3 "
        "приказа № 922)."
    )


def org_ask_decided(block: str, number: int, status: str) -> str:
    """The ask once МИАЦ decided before the organisation answered: no buttons, what was
    decided, and how to tell МИАЦ if the person does not work there (item 2.3)."""
    return (
        f"🏥 <b>Заявка № {number} сотрудника вашей организации</b>\n\n"
        f"{block}\n\n"
        f"МИАЦ уже принял решение: <b>{escape(STATUS_NAMES.get(status, status))}</b>. "
        "Подтверждать её больше не нужно.\n"
        f"{ORG_TELL_MIAC.format(number=number)}"
    )


ORG_TELL_MIAC = (
    "Если этот человек у вас не работает или занимает другую должность, сообщите МИАЦ: "
    "кнопка «❓ Задать вопрос» в меню бота, укажите заявку № {number}."
)


def org_decided_already(number: int, status: str) -> str:
    """The answer to an old «Подтверждаю» / «Не подтверждаю» (a callback alert: plain)."""
    return (
        f"Заявка № {number}: МИАЦ уже принял решение — {STATUS_NAMES.get(status, status)}. "
        "Если человек у вас не работает, напишите МИАЦ через «❓ Задать вопрос»."
    )


def org_ask_erased(number: int) -> str:
    """Replaces a responsible person's «Новая заявка» message once the applicant's data are
    erased (consent withdrawn, or the retention period ended)."""
    return f"Заявка № {number}: данные заявителя удалены."


BTN_ORG_CONFIRM = "✅ Подтверждаю"
BTN_ORG_DECLINE = "❌ Не подтверждаю"
BTN_ORG_CANCEL = "Отмена"
ORG_REASON_LIMIT = 300
ORG_REASON_PLACEHOLDER = "Причина"  # the reply field of «Не подтверждаю»
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


def org_confirmed_done(number: int) -> str:
    return f"Заявка № {number}: вы подтвердили. Спасибо!"


def org_declined_done(number: int) -> str:
    return f"Заявка № {number}: вы не подтвердили её. Причина передана МИАЦ и заявителю."


# --- the form to sign (XLSX) ----------------------------------------------------------------------

BTN_ORG_XLSX = "📄 Форма заявки (XLSX)"
ORG_XLSX_EMPTY = "У организации пока нет заявок для формы."
ORG_FORM_SIGNATURE = (
    "Руководитель",
    "______________ (подпись)",
    "______________ (ФИО)",
    "«___» ____________ 20___ г.",
)
ORG_FORM_HIDDEN = "скрыт"
# The role of a position typed outside the role matrix, before МИАЦ chooses it.
ORG_FORM_ROLE_PENDING = "роль назначит МИАЦ"


# --- the signed form, sent back (item 2.3) -------------------------------------------------------

BTN_ORG_SIGNED = "📎 Отправить подписанную форму"
BTN_ORG_SIGNED_DONE = "✅ Готово"
ORG_SIGNED_PROMPT = (
    "Пришлите скан формы заявки, подписанной руководителем: PDF-файлом или фотографиями "
    "страниц (по одной, потом нажмите «✅ Готово»). Скан увидят только администраторы МИАЦ. "
    "Передумали — /cancel."
)
ORG_SIGNED_LIMIT = 4096
ORG_SIGNED_NEEDS_FILE = "Нужен скан: PDF-файл или фотография страницы формы."
ORG_SIGNED_TOO_LONG = ORG_SIGNED_NEEDS_FILE
ORG_SIGNED_NOT_PDF = "Этот файл не PDF. Пришлите скан формы PDF-файлом или фотографиями страниц."
ORG_SIGNED_TOO_MANY = "Страниц уже много. Нажмите «✅ Готово», чтобы отправить форму."
ORG_SIGNED_NOTHING = "Сначала пришлите скан формы: PDF-файл или фото страниц."
ORG_SIGNED_NO_REQUESTS = (
    "У организации нет заявок, которые могла бы покрывать форма: скан не сохранён."
)
ORG_SIGNED_CANCELLED = "Хорошо, форма не отправлена."


def org_signed_page(count: int) -> str:
    return f"Страница {count} получена. Пришлите следующую фотографией или нажмите «✅ Готово»."


def org_signed_saved(request_ids: Sequence[int]) -> str:
    listed = ", ".join(f"№ {n}" for n in request_ids)
    return (
        f"Подписанная форма получена и передана МИАЦ. Она относится к заявкам {listed}. "
        "Если заявок станет больше, сформируйте форму заново и пришлите её снова."
    )


def org_xlsx_caption(organization: str, count: int) -> str:
    return (
        f"Форма заявки организации «{escape(organization)}»: {count} чел. СНИЛС и e-mail в ней "
        "скрыты; полные данные уже в заявках. Подпишите у руководителя."
    )


# --- deadline reminder ----------------------------------------------------------------------------


def reminder_responsible(days: int, deadline: date, organization: str) -> str:
    return (
        f"⏰ Доступ к ВИМИС ОНКО: {_left(days, deadline)}. От организации "
        f"«{escape(organization)}» ещё нет ни одной заявки. Попросите сотрудников подать "
        "заявки в этом боте (кнопка «📝 Подать заявку»); /org покажет, по каким должностям "
        "матрицы ролей заявок нет."
    )
