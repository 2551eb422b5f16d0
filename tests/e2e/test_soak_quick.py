"""`python -m bench.soak --quick` as a test of its ledger (not of timings): a small population
against a real polling bot on SQLite with the stand-in's faults and one SIGKILL; every request
in the database once with its card posted once, every notice, answer and reminder once, every
question at the desk once, nobody stuck."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.conftest import ROOT


async def test_the_quick_soak_keeps_its_ledger() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
    env.pop("SOAK_PROFILE", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.soak",
        "--quick",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(400):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()  # its own finally stops the bot it started
            await proc.wait()
    report = out.decode(errors="replace")
    ledger = report.split("ledger:", 1)[-1]
    assert "ledger:" in report, report
    assert "  NOT " not in ledger, ledger
    assert proc.returncode == 0, report
