"""A stack of its own for each fault-test module (a fault may leave a server changed), and store counts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudcore.clients.mongo import make_mongo
from fraudcore.clients.postgres import connect_postgres
from fraudcore.settings import Settings
from fraudcore.stack import EmbeddedStack
from tests.helpers import stack_settings
from tests.integration.conftest import make_data_dir


@pytest.fixture(scope="module")
def fault_stack(trained: tuple[Path, Any]) -> Iterator[EmbeddedStack]:
    data_dir = make_data_dir()
    shutil.copytree(trained[0], data_dir / "models")
    stack = EmbeddedStack(stack_settings(data_dir), services=())
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(data_dir, ignore_errors=True)


def counts(settings: Settings) -> tuple[int, int, int]:
    """(MongoDB documents, PostgreSQL rows, distinct PostgreSQL tx_ids); -1 for a server that is down."""
    try:
        mongo = make_mongo(settings)[settings.mongo.database]["transactions"].count_documents({})
    except Exception:
        mongo = -1
    try:
        conn = connect_postgres(settings)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT tx_id) FROM scored_transactions")
            rows, distinct = cur.fetchone() or (0, 0)
        conn.close()
    except Exception:
        rows = distinct = -1
    return mongo, int(rows), int(distinct)
