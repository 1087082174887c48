"""The API's liveness and readiness, against the real servers."""

from __future__ import annotations

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


def test_readiness_names_a_dependency_that_is_down(settings: Settings) -> None:
    broken = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(
                update={"url": f"redis://127.0.0.1:{free_port()}/0", "timeout_s": 1.0}
            )
        }
    )
    with TestClient(create_app(broken)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    down = [d for d in response.json()["dependencies"] if not d["ok"]]
    assert [d["name"] for d in down] == ["redis"]
    assert "Connection" in down[0]["error"]


def test_metrics_and_docs_are_served(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics/").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "Crypto fraud detection API"
