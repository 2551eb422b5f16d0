"""`python -m bot` runs the bot; `python -m bot import-organizations FILE` loads the directory."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from bot import texts
from bot.config import Settings
from services.role_matrix import RoleMatrixError, load_role_matrix


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="ВИМИС ОНКО access bot")
    commands = parser.add_subparsers(dest="command")
    imp = commands.add_parser(
        "import-organizations", help="load an FRMO export (CSV or XLSX) into the directory"
    )
    imp.add_argument("file", type=Path)
    return parser


def _settings() -> Settings | None:
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]).upper()
            print(f"Ошибка настройки {field}: {err['msg']}", file=sys.stderr)
        return None


async def _import(settings: Settings, file: Path) -> None:
    from db.database import Database
    from db.migrate import upgrade_to_head
    from services.organizations import import_rows, read_rows

    db = Database(settings.database_url)
    try:
        await upgrade_to_head(db)
        rows = read_rows(file)
        async with db.write() as session:
            report = await import_rows(session, rows, settings.region_name)
    finally:
        await db.dispose()
    print(
        f"Импорт завершён: добавлено {report.added}, обновлено {report.updated}, "
        f"скрыто удалённых {report.deleted}, пропущено строк другого региона "
        f"{report.skipped_other_region}."
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings()
    if settings is None:
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "import-organizations":
        from services.organizations import ImportError_

        if not args.file.is_file():
            print(f"Файл не найден: {args.file}", file=sys.stderr)
            return 2
        try:
            asyncio.run(_import(settings, args.file))
        except ImportError_ as exc:
            print(f"Файл не похож на выгрузку ФРМО: {exc}", file=sys.stderr)
            return 2
        return 0
    if settings.bot_token is None:
        print(texts.NO_TOKEN, file=sys.stderr)
        return 2
    try:
        matrix = load_role_matrix(settings.role_matrix_path)
    except RoleMatrixError as exc:
        print(f"Ошибка в матрице ролей: {exc}", file=sys.stderr)
        return 2
    # Imported here: aiogram is heavy, and the commands above do not need it.
    from aiogram.utils.token import TokenValidationError

    from bot.app import run

    try:
        run(settings, matrix)
    except TokenValidationError:
        print(texts.BAD_TOKEN, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
