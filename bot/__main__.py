"""`python -m bot` runs the bot; `python -m bot import-organizations FILE` loads the directory."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot import texts
from bot.config import Settings
from services.role_matrix import RoleMatrixError, load_role_matrix

if TYPE_CHECKING:
    from services.organizations import OrgRow


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="ВИМИС ОНКО access bot")
    commands = parser.add_subparsers(dest="command")
    imp = commands.add_parser(
        "import-organizations", help="load an FRMO export (CSV or XLSX) into the directory"
    )
    imp.add_argument("file", type=Path)
    exp = commands.add_parser(
        "export",
        help="write approved requests in the order's form (XLSX or CSV by the file's suffix); "
        "without --batch/--all takes the new ones and marks them exported",
    )
    exp.add_argument("--out", type=Path, required=True)
    which = exp.add_mutually_exclusive_group()
    which.add_argument("--batch", type=int, help="export batch N again")
    which.add_argument("--all", action="store_true", help="every approved request again")
    bak = commands.add_parser(
        "backup",
        help="a consistent copy of the running SQLite database (SQLite's online backup); "
        "PostgreSQL: pg_dump, see docs/operations.md",
    )
    bak.add_argument("--out", type=Path, required=True)
    commands.add_parser(
        "reapply-erasures",
        help="after restoring a backup: replay every recorded erasure and export (the journal "
        "and the database's own records) and the retention rule",
    )
    return parser


def _settings() -> Settings | None:
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]).upper()
            print(f"Ошибка настройки {field}: {err['msg']}", file=sys.stderr)
        return None


async def _import(settings: Settings, rows: list[OrgRow]) -> None:
    from db.database import Database
    from db.migrate import upgrade_to_head
    from services.organizations import import_rows

    db = Database(settings.database_url)
    try:
        await upgrade_to_head(db)
        async with db.write() as session:
            report = await import_rows(session, rows, settings.region_name)
    finally:
        await db.dispose()
    print(
        f"Импорт завершён: добавлено {report.added}, обновлено {report.updated}, "
        f"скрыто удалённых {report.deleted}, пропущено строк другого региона "
        f"{report.skipped_other_region}."
    )


async def _export(settings: Settings, out: Path, batch: int | None, everything: bool) -> int:
    """Beside a running bot too: the rows are streamed, the file is built before anything is
    marked, and the marks and the export's audit row are written in short transactions."""
    import tempfile

    from db.database import Database
    from db.migrate import at_head, upgrade_to_head
    from services import export

    db = Database(settings.database_url)
    try:
        if not await at_head(db):
            await upgrade_to_head(db)
        # Time for the bot's writes between two transactions: SQLite has one write lock;
        # PostgreSQL's row locks keep the bot's writes and these apart anyway.
        pause = export.PAUSE_BESIDE_BOT if db.is_sqlite else 0.0
        if batch is not None and not await export.batch_exists(db, batch):
            print(texts.cli_no_batch(batch), file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="vimis-export-") as tmp:
            if batch is None and not everything:
                result = await export.run_new(
                    db,
                    None,
                    Path(tmp),
                    "form",
                    pause=pause,
                    cli=True,
                    journal=settings.erasure_journal,
                )
            else:
                result = await export.run_again(
                    db,
                    None,
                    Path(tmp),
                    "form",
                    str(batch or "all"),
                    batch_id=batch,
                    cli=True,
                    journal=settings.erasure_journal,
                )
            if result.files is not None:
                made = result.files.csv if out.suffix.lower() == ".csv" else result.files.xlsx
                _place(made, out)
    finally:
        await db.dispose()
    marked = f", отмечены выгрузкой № {result.batch_id}" if result.batch_id else ""
    done = f"Записано заявок: {result.count} в {out}{marked}."
    print(done if result.count else texts.CLI_NOTHING)
    return 0


def _place(made: Path, out: Path) -> None:
    """The export's file at `out`, created there by this copy alone (O_EXCL, mode 0600): a
    file that appeared meanwhile is never replaced (FileExistsError)."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as target, made.open("rb") as source:
        while chunk := source.read(1 << 20):
            target.write(chunk)


def _backup(settings: Settings, out: Path) -> int:
    from services import backup

    try:
        source = backup.sqlite_file(settings.database_url)
    except backup.NotSqlite:
        print(texts.CLI_BACKUP_POSTGRES, file=sys.stderr)
        return 2
    if out.exists():
        print(texts.cli_backup_exists(str(out)), file=sys.stderr)
        return 2
    try:
        count = backup.backup_sqlite(source, out)
    except FileNotFoundError:
        print(texts.cli_backup_no_database(str(source)), file=sys.stderr)
        return 2
    print(texts.cli_backup_done(str(out), count))
    return 0


async def _reapply(settings: Settings) -> None:
    from db.database import Database
    from db.migrate import upgrade_to_head
    from services import backup

    db = Database(settings.database_url)
    try:
        await upgrade_to_head(db)
        replay = await backup.reapply(db, settings.erasure_journal, settings.retention_days)
    finally:
        await db.dispose()
    print(
        texts.cli_reapplied(
            replay.records, len(replay.erased), len(replay.retention), len(replay.exported)
        )
    )


def main(argv: list[str] | None = None) -> int:
    # 152-FZ art. 19: the database, its -wal/-shm, exports and the data directory hold
    # personal data; whatever umask the shell had, what the bot and its tools create is
    # the service user's alone (files 0600, directories 0700).
    os.umask(0o077)
    args = _parser().parse_args(argv)
    settings = _settings()
    if settings is None:
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "import-organizations":
        from services.organizations import ImportError_, read_rows

        if not args.file.is_file():
            print(texts.cli_import_not_found(str(args.file)), file=sys.stderr)
            return 2
        try:  # read before the database is touched: a bad file changes nothing
            rows = read_rows(args.file)
        except ImportError_ as exc:
            print(
                texts.cli_import_refused(str(args.file), exc.reason, exc.columns), file=sys.stderr
            )
            return 2
        asyncio.run(_import(settings, rows))
        return 0
    if args.command == "export":
        # Refused before anything is marked exported, as `backup` refuses: an export is
        # personal data someone may still need, never silently replaced.
        if args.out.exists():
            print(texts.cli_export_exists(str(args.out)), file=sys.stderr)
            return 2
        try:
            return asyncio.run(_export(settings, args.out, args.batch, args.all))
        except FileExistsError:  # created meanwhile: the batch stays, re-export it by number
            print(texts.cli_export_exists(str(args.out)), file=sys.stderr)
            return 2
    if args.command == "backup":
        return _backup(settings, args.out)
    if args.command == "reapply-erasures":
        asyncio.run(_reapply(settings))
        return 0
    if settings.bot_token is None and settings.max_token is None:
        print(texts.NO_TOKEN, file=sys.stderr)
        return 2
    try:
        matrix = load_role_matrix(settings.role_matrix_path)
    except RoleMatrixError as exc:
        print(f"Ошибка в матрице ролей: {exc}", file=sys.stderr)
        return 2
    from bot.guard import Refused, check_settings

    try:
        check_settings(settings, settings.database_url.startswith("sqlite"))
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 2
    if settings.workers > 1:
        from bot.supervisor import supervise

        return supervise(settings)
    # Imported here: aiogram is heavy, and the commands above do not need it.
    from aiogram.utils.token import TokenValidationError

    from bot.app import run

    try:
        return run(settings, matrix)
    except TokenValidationError:
        print(texts.BAD_TOKEN, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
