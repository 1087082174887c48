"""The API's liveness and readiness, against the real servers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from fraudcore.settings import Settings
from tests.helpers import free_port


def test_liveness(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/live").json() == {"status": "ok"}


def test_readiness_reports_every_dependency(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {d["name"]: d["ok"] for d in body["dependencies"]} == {
        "kafka": True,
        "mongodb": True,
        "postgres": True,
        "redis": True,
    }


@pytest.mark.parametrize(
    ("dependency", "group", "update"),
    [
        ("redis", "redis", lambda port: {"url": f"redis://127.0.0.1:{port}/0", "timeout_s": 1.0}),
        ("kafka", "kafka", lambda port: {"bootstrap_servers": f"127.0.0.1:{port}"}),
        (
            "mongodb",
            "mongo",
            lambda port: {"uri": f"mongodb://127.0.0.1:{port}/?directConnection=true", "timeout_ms": 1000},
        ),
        ("postgres", "postgres", lambda port: {"dsn": f"postgresql://fraud:x@127.0.0.1:{port}/fraud"}),
    ],
)
def test_readiness_names_a_dependency_that_is_down_and_answers_quickly(
    settings: Settings, dependency: str, group: str, update: Callable[[int], dict[str, object]]
) -> None:
    section = getattr(settings, group)
    broken = settings.model_copy(update={group: section.model_copy(update=update(free_port()))})
    started = time.monotonic()
    with TestClient(create_app(broken)) as client:
        response = client.get("/health/ready")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    down = [d for d in response.json()["dependencies"] if not d["ok"]]
    assert [d["name"] for d in down] == [dependency]
    assert down[0]["error"]
    # the probes are bounded (a few seconds), never the clients' 30 s defaults
    assert elapsed < 15, elapsed


def test_metrics_and_docs_are_served(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics/").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "Crypto fraud detection API"
