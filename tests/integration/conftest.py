"""Embedded stacks on OS-chosen free ports, with their data in throw-away folders.

``stack``: the four real servers, no service, for the whole session; tests isolate themselves
with unique topic, group, collection and table names. ``live_stack``: a second stack with every
service (what `make up` runs) fed by the simulator, for the browser tests of the dashboards;
started only when such a test asks for it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudcore.settings import Settings
from fraudcore.stack import EmbeddedStack
from tests.helpers import stack_settings


def make_data_dir() -> Path:
    # world-traversable, so the PostgreSQL OS user can reach it when the tests run as root
    path = Path(tempfile.mkdtemp(prefix="fraud-stack-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def stack() -> Iterator[EmbeddedStack]:
    data_dir = make_data_dir()
    embedded = EmbeddedStack(stack_settings(data_dir), services=())
    try:
        embedded.up()
        yield embedded
    finally:
        embedded.down()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(stack: EmbeddedStack) -> Settings:
    return stack.settings


@pytest.fixture(scope="session")
def live_stack(trained: tuple[Path, Any]) -> Iterator[EmbeddedStack]:
    """Every service on its own servers, the simulator feeding it live (a short backfill first)."""
    data_dir = make_data_dir()
    shutil.copytree(trained[0], data_dir / "models")
    settings = stack_settings(
        data_dir,
        simulator={"seed": 11, "accounts": 2000, "rate": 20, "backfill": 3000},
        dash={"refresh_ms": 1000},
    )
    embedded = EmbeddedStack(settings)
    try:
        embedded.up()
        yield embedded
    finally:
        embedded.down()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Service processes a test starts; any still running at its end are killed with their group."""
    running: list[subprocess.Popen[bytes]] = []
    yield running
    for p in running:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
