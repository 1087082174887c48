"""A file whose age says a service's loop is still turning: the healthcheck of a service without a port.

The simulator and the retrainer serve nothing a probe could ask, and a running process
proves little (a producer blocked on a dead broker is running). So, when
``HEARTBEAT_FILE`` is set, the loop touches that file at most every ``every_s`` seconds,
and the healthcheck (Docker Compose's) asks how old it is::

    python -m fraudcore.heartbeat /tmp/heartbeat --max-age 60    # exit 0 if fresh, 1 if not

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "beat"
>>> check(path, max_age_s=60)
1
>>> Heartbeat(path).beat()
>>> check(path, max_age_s=60)
0
>>> Heartbeat(None).beat()  # unset: does nothing
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


class Heartbeat:
    """Touches ``path`` on :meth:`beat`, at most once every ``every_s`` seconds; ``None``: a no-op."""

    def __init__(self, path: Path | None, every_s: float = 5.0) -> None:
        self.path = path
        self.every_s = every_s
        self._last = float("-inf")

    def beat(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.path.touch()


def check(path: Path, max_age_s: float) -> int:
    """0 if ``path`` was touched within ``max_age_s`` seconds, else 1 (the exit code of a healthcheck)."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 1
    return 0 if age <= max_age_s else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fraudcore.heartbeat", description="exit 0 if the heartbeat file is fresh, 1 if not"
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--max-age", type=float, default=60.0, help="seconds (%(default)s)")
    args = parser.parse_args(argv)
    status = check(args.path, args.max_age)
    if status:
        print(f"{args.path}: missing or older than {args.max_age:g} s", file=sys.stderr)  # noqa: T201
    return status


if __name__ == "__main__":
    sys.exit(main())
