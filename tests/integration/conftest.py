"""One embedded stack (the four real servers, no service) for the whole integration session.

It runs on OS-chosen free ports with its data in a throw-away folder, and is stopped
and deleted at the end. Tests isolate themselves with unique topic, group, collection
and table names.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
