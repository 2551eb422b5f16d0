"""`python -m bot` as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from db.database import Database
from db.models import Organization
from tests.conftest import ROOT, SAMPLE_ORGS


def run_bot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_token_one_clear_line_and_exit_code_2(tmp_path: Path) -> None:
    result = run_bot([], {}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "BOT_TOKEN" in lines[0] and "@BotFather" in lines[0]
    assert "Traceback" not in result.stderr


def test_broken_role_matrix_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "matrix.yaml"
    broken.write_text("roles:\n  - name: Куратор\n    level: x\n", encoding="utf-8")
    env = {"BOT_TOKEN": "42:TEST-token-0123456789abcdef", "ROLE_MATRIX_PATH": str(broken)}
    result = run_bot([], env, tmp_path)
    assert result.returncode == 2
    assert "roles.0.positions" in result.stderr
    assert "Traceback" not in result.stderr


async def test_import_organizations_is_idempotent(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    env = {"DATABASE_URL": database_url}
    first = run_bot(["import-organizations", str(SAMPLE_ORGS)], env, ROOT)
    assert first.returncode == 0, first.stderr
    assert "добавлено 11" in first.stdout
    second = run_bot(["import-organizations", str(SAMPLE_ORGS)], env, ROOT)
    assert "добавлено 0, обновлено 0" in second.stdout
    async with db.read() as session:
        total = await session.scalar(select(func.count()).select_from(Organization))
    # 13 rows: one deleted, one of another region; and the health department, made once by
    # the first import (item 3.1: chief specialists pick it)
    assert total == 12


def test_import_of_a_missing_file(tmp_path: Path) -> None:
    result = run_bot(["import-organizations", "nope.csv"], {}, tmp_path)
    assert result.returncode == 2
    assert "nope.csv" in result.stderr


async def test_export_from_the_command_line(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    from openpyxl import load_workbook

    from services.requests import NewRequest, Status, decide, submit

    async with db.write() as session:
        result = await submit(
            session,
            NewRequest(
                account_id=5,
                snils="006-012-788 00",
                full_name="Петров Пётр",
                email="p@example.ru",
                region="Костромская область",
                organization_id=None,
                org_full_name="Больница",
                org_short_name="Б",
                org_manual=True,
                position="Врач",
                position_in_matrix=False,
                role="Куратор 1 уровня",
                role_level="Медицинская организация РФ",
                component="ВИМИС ОНКО",
            ),
        )
        await decide(session, result.request.id, Status.APPROVED, actor_id=1)  # type: ignore[union-attr]
    env = {"DATABASE_URL": database_url}
    out = tmp_path / "batch.xlsx"
    first = run_bot(["export", "--out", str(out)], env, ROOT)
    assert first.returncode == 0, first.stderr
    assert "Записано заявок: 1" in first.stdout and "выгрузкой № 1" in first.stdout
    rows = list(load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert rows[1][1] == "006-012-788 00"
    again = run_bot(["export", "--out", str(tmp_path / "again.csv"), "--all"], env, ROOT)
    assert "Записано заявок: 1" in again.stdout and "выгрузкой" not in again.stdout
    assert (tmp_path / "again.csv").read_bytes().startswith("\ufeff".encode())


def test_every_bad_organisations_file_gets_one_russian_line_and_exit_code_2(
    tmp_path: Path, database_url: str
) -> None:
    from openpyxl import Workbook

    damaged = tmp_path / "frmo.xlsx"
    damaged.write_bytes(b"PK\x03\x04 not really a workbook" * 10)
    no_columns = tmp_path / "columns.xlsx"
    book = Workbook()
    book.active.append(["oid", "Наименование"])  # type: ignore[union-attr]
    book.save(no_columns)
    csv_columns = tmp_path / "columns.csv"
    csv_columns.write_text("oid;name\n1;Больница\n", encoding="utf-8")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"oid,nameFull\x00\x98\x98\n\x00\x00\x98")
    old_excel = tmp_path / "frmo.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    env = {"DATABASE_URL": database_url}
    for bad in (damaged, no_columns, csv_columns, binary, old_excel):
        result = run_bot(["import-organizations", str(bad)], env, ROOT)
        assert result.returncode == 2, (bad.name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (bad.name, result.stderr)
        assert "Traceback" not in result.stderr and "missing" not in lines[0]
        assert lines[0].startswith(f"Файл {bad} не загружен: "), lines[0]
    result = run_bot(["import-organizations", str(no_columns)], env, ROOT)
    assert "nameFull, nameShort, regionName" in result.stderr


async def test_export_of_a_batch_that_does_not_exist_says_so(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    env = {"DATABASE_URL": database_url}
    out = tmp_path / "batch.xlsx"
    result = run_bot(["export", "--out", str(out), "--batch", "99"], env, ROOT)
    assert result.returncode == 2, result.stderr
    assert "Выгрузки № 99 нет" in result.stderr and "Заявок для выгрузки нет" not in result.stdout
    assert not out.exists()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_database_and_its_wal_are_the_service_users_alone(tmp_path: Path) -> None:
    """152-FZ art. 19: personal data readable by the service user only, whatever umask the
    shell that started the bot had."""
    data = tmp_path / "data"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{data}/vimis_bot.db"}
    clean = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    # A shell with the usual umask 022: the bot must not inherit it.
    script = "import os, runpy, sys; os.umask(0o022); sys.argv = ['bot', 'reapply-erasures']; "
    script += "runpy.run_module('bot', run_name='__main__')"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, **env, "ERASURE_JOURNAL": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert _mode(data) == 0o700  # the data directory, made by the bot
    made = sorted(p.name for p in data.iterdir())
    assert "vimis_bot.db" in made
    for name in made:
        assert _mode(data / name) == 0o600, (name, oct(_mode(data / name)))


async def test_an_export_file_is_the_service_users_alone_and_never_replaced(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    from services.requests import NewRequest, Status, decide, submit

    async with db.write() as session:
        result = await submit(
            session,
            NewRequest(
                account_id=5,
                snils="006-012-788 00",
                full_name="Петров Пётр",
                email="p@example.ru",
                region="Костромская область",
                organization_id=None,
                org_full_name="Больница",
                org_short_name="Б",
                org_manual=True,
                position="Врач",
                position_in_matrix=False,
                role="Куратор 1 уровня",
                role_level="Медицинская организация РФ",
                component="ВИМИС ОНКО",
            ),
        )
        await decide(session, result.request.id, Status.APPROVED, actor_id=1)  # type: ignore[union-attr]
    env = {"DATABASE_URL": database_url}
    out = tmp_path / "batch.csv"
    first = run_bot(["export", "--out", str(out)], env, ROOT)
    assert first.returncode == 0, first.stderr
    assert _mode(out) == 0o600
    kept = out.read_bytes()
    again = run_bot(["export", "--out", str(out), "--all"], env, ROOT)
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "уже существует" in lines[0], again.stderr
    assert out.read_bytes() == kept
