"""End to end, МИАЦ's admins on MAX alone, in the real `python -m bot` process against the
MAX stand-in (long polling, the bot's name from GET /me, MAX's uploads with their «not ready
yet» refusal and the process's real pauses): /export's files arrive in the MAX admins'
group; a viewer invited from /staff there joins by opening the max.ru link (a bot_started
update with its payload) and gets /stats' figures and chart."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot import texts
from db.database import Database
from tests.e2e.max_standin import BOT_USERNAME, MaxApiStandin
from tests.e2e.support import BotProcess
from tests.e2e.test_e2e_max import MaxPerson, walk_form_from_directory
from tests.e2e.test_e2e_max_desks import max_only_env

ADMIN = 900001
APPLICANT = 5550300
VIEWER = 5550301
LINK = re.compile(r"https://max\.ru/(\w+)\?start=(\S+)")


@pytest.mark.usefixtures("directory")
async def test_export_and_a_viewer_invited_by_a_max_link_in_the_real_process(
    mx: MaxApiStandin, database_url: str, tmp_path: Path, db: Database
) -> None:
    mx.introduce(ADMIN, "Админ")
    admins = mx.create_group("МИАЦ: заявки", members=[ADMIN])
    env = max_only_env(mx, database_url, tmp_path)
    env.update(MAX_ADMIN_CHAT_ID=str(admins))
    bot = BotProcess(env)  # MAX alone: up when MAX has its commands
    await bot.start_until(lambda: bool(mx.commands))
    try:
        await walk_form_from_directory(MaxPerson(mx, APPLICANT))
        await mx.wait_for_message(admins, lambda r: "Заявка №" in (r.text or ""), timeout=20)
        mark = len(mx.sent)
        mx.press(ADMIN, texts.BTN_APPROVE, chat_id=admins)
        await mx.wait_for_message(
            admins, lambda r: "Одобрена" in (r.text or ""), timeout=20, after=mark
        )

        # /export: the caption with its button, then both files uploaded to MAX.
        mark = len(mx.sent)
        mx.push_message(ADMIN, "/export", chat_id=admins)
        caption = await mx.wait_for_message(
            admins, lambda r: "Выгрузка № 1" in (r.text or ""), timeout=30, after=mark
        )
        assert caption.buttons == [texts.btn_granted(1)]
        xlsx = await mx.wait_for_message(
            admins,
            lambda r: any((f.filename or "").endswith(".xlsx") for f in r.files),
            timeout=30,
            after=mark,
        )
        await mx.wait_for_message(
            admins,
            lambda r: any((f.filename or "").endswith(".csv") for f in r.files),
            timeout=30,
            after=mark,
        )
        book = load_workbook(io.BytesIO(xlsx.files[0].content), read_only=True)
        cells = [c for row in book.worksheets[0].iter_rows(values_only=True) for c in row]
        assert "006-012-788 00" in cells

        # /staff → «пригласить наблюдателя»: the max.ru link in the admin's own dialog.
        mark = len(mx.sent)
        mx.push_message(ADMIN, "/staff", chat_id=admins)
        await mx.wait_for_message(
            admins,
            lambda r: texts.BTN_INVITE_VIEWER in r.buttons,
            timeout=20,
            after=mark,
        )
        mark = len(mx.sent)
        mx.press(ADMIN, texts.BTN_INVITE_VIEWER, chat_id=admins)
        private = await mx.wait_for_message(
            mx.dialog_chat_id(ADMIN), lambda r: "max.ru" in (r.text or ""), timeout=20, after=mark
        )
        found = LINK.search(private.text or "")
        assert found is not None and found.group(1) == BOT_USERNAME

        viewer = MaxPerson(mx, VIEWER, "Пётр")
        await viewer.starts(texts.WELCOME_VIEWER[:40], payload=found.group(2))
        mark = len(mx.sent)
        mx.push_message(VIEWER, "/stats")
        await viewer.expect(mark, "Статистика заявок")
        chart = await mx.wait_for_message(
            viewer.chat_id, lambda r: bool(r.files), timeout=30, after=mark
        )
        assert chart.files[0].type == "image"
    finally:
        code, output = await bot.stop()
    assert code == 0, output
    # MAX's «not ready yet» for a fresh upload is expected and waited out; nothing else.
    refused = [e for e in mx.errors if e.code != "attachment.not.ready"]
    assert refused == [], [f"{e.method} {e.path}: {e.code} {e.message}" for e in refused]
    assert mx.stripped_tags == []
    assert "006-012-788 00" not in output
