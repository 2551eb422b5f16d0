"""WORKERS > 1: `python -m bot` starts that many worker processes and watches them.

Kept free of aiogram (it costs ≈ 165 MB and seconds to import): the supervisor only starts
`python -m bot` children with WORKERS=1, passes SIGTERM/SIGINT on and restarts a worker that
dies. The workers listen on one port together (SO_REUSEPORT): the kernel spreads the
connections Telegram (or a reverse proxy) opens.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from bot.config import Settings

log = logging.getLogger(__name__)


def supervise(settings: Settings) -> int:
    """Returns when every worker has stopped: 0, or 2 when a worker refused to start (a
    setting to fix: restarting would not help)."""
    env = {**os.environ, "WORKERS": "1"}
    stopping = False

    def spawn(index: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "bot"], env={**env, "WORKER_INDEX": str(index)}
        )

    children = {i: spawn(i) for i in range(settings.workers)}

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    while children:
        for index, child in list(children.items()):
            result = child.poll()
            if result is None:
                continue
            del children[index]
            if stopping:
                continue
            if result == 2:
                code = 2
                forward(signal.SIGTERM, None)
                continue
            log.error("worker %d exited (%d): restarting it", index, result)
            children[index] = spawn(index)
        time.sleep(0.2)
    return code
