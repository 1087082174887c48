"""The API on the real servers, over data the storage processor wrote to fresh databases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from fraudcore.schemas import Label, ScoredTransaction, encode
from tests.helpers import isolated_topics
from tests.integration.stores import Storage, feed, simulated_scored


@dataclass
class Served:
    client: TestClient
    storage: Storage
    txs: list[ScoredTransaction]
    labels: list[Label]


@pytest.fixture
def served(storage: Storage, trained: tuple[Path, Any]) -> Iterator[Served]:
    settings = isolated_topics(storage.settings)
    settings = settings.model_copy(
        update={
            "models": settings.models.model_copy(update={"dir": trained[0]}),
            "api": settings.api.model_copy(update={"page_max": 200, "ws_heartbeat_s": 0.5}),
        }
    )
    storage.settings = settings
    storage.processor.topics = settings.topics
    txs, labels = simulated_scored(1500, seed=80)
    feed(storage, [encode(t) for t in txs], settings.topics.legit.name)
    feed(storage, [encode(x) for x in labels], settings.topics.labels.name)
    with TestClient(create_app(settings)) as client:
        yield Served(client, storage, txs, labels)
