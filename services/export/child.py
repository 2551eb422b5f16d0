"""The export's child processes, started through services/child_process.py:

    python -m services.export.child build             both files of a large export, straight
                                                       from the database (files.py); the
                                                       `BuildSpec` comes pickled on standard input
    python -m services.export.child xlsx PATH [ROWS]  the sheet, from rows pickled on standard
                                                       input (xlsx.py); streamed when ROWS says
                                                       how many will come

The build child (started by batches.py) starts an XLSX child of its own (`XlsxProcess`). Only
the arguments are read here; the work is the writers'. Like them, this module imports nothing
heavy (not the database layer), so a process starts in a tenth of a second.
"""

from __future__ import annotations

import pickle
import sys

from services.export.files import BuildSpec, build_from_database
from services.export.xlsx import write_received

USAGE = "usage: python -m services.export.child build | xlsx PATH [ROWS]"


def main(args: list[str]) -> int:
    match args:
        case ["build"]:
            spec: BuildSpec = pickle.load(sys.stdin.buffer)
            build_from_database(spec)
        case ["xlsx", path]:
            write_received(path, None, sys.stdin.buffer)
        case ["xlsx", path, rows]:
            write_received(path, int(rows), sys.stdin.buffer)
        case _:
            print(USAGE, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
