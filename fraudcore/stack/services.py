"""The services the embedded stack runs after its servers, and where a user opens them.

A service appears here once it exists; each runs as ``python -m <module>``, reading
the same settings (handed down as environment variables) as the stack itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fraudcore.settings import Settings


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    description: str
    url: Callable[[Settings], str] | None = None
    port: Callable[[Settings], int] | None = None


SERVICES: tuple[Service, ...] = (
    Service(
        "api",
        "api",
        "REST API, OpenAPI docs and health",
        url=lambda s: f"{s.api.url}/docs",
        port=lambda s: s.api.port,
    ),
    Service(
        "ml_consumer",
        "ml_consumer",
        "scoring consumer, Prometheus metrics",
        url=lambda s: f"http://127.0.0.1:{s.scoring.metrics_port}/metrics",
        port=lambda s: s.scoring.metrics_port,
    ),
    Service(
        "storage_consumer",
        "storage_consumer",
        "storage consumer, Prometheus metrics",
        url=lambda s: f"http://127.0.0.1:{s.storage.metrics_port}/metrics",
        port=lambda s: s.storage.metrics_port,
    ),
    Service(
        "dash_app",
        "dash_app",
        "Dash live operations monitor",
        url=lambda s: s.dash.url,
        port=lambda s: s.dash.port,
    ),
    Service(
        "streamlit_app",
        "streamlit_app",
        "Streamlit: real-time fraud analysis",
        url=lambda s: s.streamlit.url,
        port=lambda s: s.streamlit.port,
    ),
    Service(
        "retrainer",
        "retrainer",
        "retraining on a schedule (RETRAIN__EVERY_HOURS) and on request (POST /retrain)",
    ),
    Service(
        "simulator",
        "simulator",
        "synthetic transactions and delayed labels to Kafka, at SIMULATOR__RATE per second",
    ),
)
