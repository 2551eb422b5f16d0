"""Running a module of this project as a process of its own (`python -m …`), for CPU-heavy
work that would otherwise hold the interpreter away from the event loop."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def module_env() -> dict[str, str]:
    """The environment, with this project importable whatever the working directory."""
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
