"""Texts the server's administrator reads in the console: start-up checks, command-line tools."""

from __future__ import annotations

# --- start-up -------------------------------------------------------------------------------------

NO_TOKEN = (
    "Не задан BOT_TOKEN: создайте бота у @BotFather в Telegram (команда /newbot) и укажите "
    "BOT_TOKEN=<токен> в файле .env или в переменных окружения (для бота только в MAX — "
    "MAX_TOKEN, см. docs/operations.md)."
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
SUPPORT_EXTRA_WITHOUT_MAIN = (
    "SUPPORT_EXTRA_CHAT_IDS задан без SUPPORT_CHAT_ID: дополнительные группы поддержки "
    "работают рядом с основной — задайте SUPPORT_CHAT_ID."
)
SUPPORT_EXTRA_NOT_GROUPS = (
    "В SUPPORT_EXTRA_CHAT_IDS не id группы Telegram: id группы отрицательный "
    "(например -1001234567890), через запятую."
)
SUPPORT_EXTRA_IS_ANOTHER_CHAT = (
    "В SUPPORT_EXTRA_CHAT_IDS указан чат администраторов (ADMIN_CHAT_ID) или чат отчёта "
    "(REPORT_CHAT_ID): для вопросов заявителей нужна отдельная группа."
)
MAX_ONLY_TELEGRAM_CHATS = (
    "Бот запущен только в MAX (MAX_TOKEN без BOT_TOKEN), а ADMIN_CHAT_ID, SUPPORT_CHAT_ID или "
    "REPORT_CHAT_ID указывают на чат Telegram: задайте BOT_TOKEN или перенесите эти чаты в MAX "
    "(MAX_ADMIN_CHAT_ID, MAX_SUPPORT_CHAT_ID; REPORT_CHAT_ID=max:<id чата>)."
)
MAX_ONLY_TELEGRAM_ADMINS = (
    "Бот запущен только в MAX (MAX_TOKEN без BOT_TOKEN), а в ADMIN_IDS есть id Telegram: "
    "укажите владельцев их id в MAX с приставкой max: (например ADMIN_IDS=max:123456) или "
    "задайте BOT_TOKEN."
)
MAX_WORKERS_NEED_WEBHOOK = (
    "WORKERS > 1 вместе с MAX_TOKEN работает только с вебхуком MAX: задайте MAX_WEBHOOK_URL "
    "(опрашивать MAX может лишь один процесс)."
)
MAX_BAD_TOKEN = (
    "MAX отклонил MAX_TOKEN: скопируйте токен бота целиком на платформе MAX для партнёров "
    "(business.max.ru/self, «Чат-боты» → ⋮ → «Настройки»). Бот в Telegram работает дальше."
)


# --- command-line tools ---------------------------------------------------------------------------

CLI_NOTHING = "Заявок для выгрузки нет: файл не записан."
_IMPORT_REFUSED = {
    "xlsx": "он повреждён или это не книга Excel (XLSX). Выгрузите справочник ФРМО заново",
    "text": (
        "это не текстовый файл CSV (или кодировка не UTF-8 и не Windows-1251). Выгрузите "
        "справочник ФРМО заново в CSV или XLSX"
    ),
    "format": "такой формат не читается. Сохраните выгрузку ФРМО как XLSX или CSV",
    "read": "его не удалось прочитать (нет прав на чтение?)",
}


def cli_no_batch(batch: int) -> str:
    return (
        f"Выгрузки № {batch} нет: файл не записан. Номера выгрузок — в подписях к файлам "
        "в чате администраторов."
    )


def cli_import_not_found(path: str) -> str:
    return f"Файл не найден: {path}"


def cli_import_refused(path: str, reason: str, columns: tuple[str, ...]) -> str:
    """One line: why the file is not an FRMO export, and what to do."""
    if columns:
        why = (
            f"в нём нет столбцов выгрузки ФРМО: {', '.join(columns)} (нужны oid, nameFull, "
            "nameShort, regionName в первой строке)"
        )
    else:
        why = _IMPORT_REFUSED.get(reason, "это не выгрузка справочника ФРМО")
    return f"Файл {path} не загружен: {why}."


CLI_BACKUP_POSTGRES = (
    "Эта команда копирует только базу SQLite. Базу PostgreSQL копируйте её средствами: "
    'pg_dump --format=custom --file=backup.dump "$DATABASE_URL" (без «+asyncpg» в адресе), '
    "восстановление — pg_restore --clean --if-exists --dbname=… backup.dump; затем "
    "python -m bot reapply-erasures. Подробнее — docs/operations.md, «Backups and restore»."
)


def cli_backup_exists(path: str) -> str:
    return f"Файл {path} уже существует: укажите новый, копия не перезаписывает файлы."


def cli_export_exists(path: str) -> str:
    return f"Файл {path} уже существует: укажите новый, выгрузка не перезаписывает файлы."


def cli_backup_no_database(path: str) -> str:
    return f"Базы данных {path} нет: копировать нечего."


def cli_backup_done(path: str, requests: int) -> str:
    return (
        f"Резервная копия записана: {path} (заявок: {requests}). В ней персональные данные: "
        "храните её только там, где разрешено (см. docs/personal-data.md), и после "
        "восстановления выполните python -m bot reapply-erasures."
    )


def cli_reapplied(records: int, erased: int, by_retention: int, exported: int = 0) -> str:
    return (
        f"Записей об удалении: {records}; удалено снова по ним: {erased}; "
        f"по сроку хранения: {by_retention}; снова отмечено выгруженными: {exported}."
    )
