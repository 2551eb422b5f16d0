"""Work started by a handler that the person need not wait for (posting the admin card after a
submit). Shutdown waits for it, like for handlers in flight."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)
_tasks: set[asyncio.Task[Any]] = set()


def spawn(work: Coroutine[Any, Any, Any], name: str) -> None:
    task = asyncio.create_task(work, name=name)
    _tasks.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        log.error("background %s failed: %s", task.get_name(), type(exc).__name__)


async def drain(seconds: float) -> bool:
    """Wait for the work started so far; false if some is still running after `seconds`."""
    while _tasks:
        _, pending = await asyncio.wait(list(_tasks), timeout=seconds)
        if pending:
            return False
    return True
