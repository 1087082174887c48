"""One probe per dependency, reporting whether it answers and how fast.

Used by the API's readiness endpoint and by ``python -m fraudcore.stack status``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel

from fraudcore.clients.kafka import make_admin
from fraudcore.clients.mongo import make_mongo
from fraudcore.clients.postgres import connect_postgres
from fraudcore.clients.redis import make_redis
from fraudcore.settings import Settings


class DependencyStatus(BaseModel):
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None


def _timed(name: str, probe: Callable[[], Any]) -> DependencyStatus:
    start = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # a probe reports any failure; it never raises
        return DependencyStatus(
            name=name, ok=False, latency_ms=_ms(start), error=f"{type(exc).__name__}: {exc}"[:300]
        )
    return DependencyStatus(name=name, ok=True, latency_ms=_ms(start))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


PROBE_TIMEOUT_MS = 3000


def _kafka(settings: Settings) -> None:
    admin = make_admin(settings, "fraud-health", timeout_ms=PROBE_TIMEOUT_MS)
    try:
        admin.list_topics()
    finally:
        admin.close()


def _mongo(settings: Settings) -> None:
    client = make_mongo(settings)
    try:
        client.admin.command("ping")
    finally:
        client.close()


def _postgres(settings: Settings) -> None:
    conn = connect_postgres(settings, "fraud-health")
    try:
        with conn.cursor() as cur:
            cur.execute("select 1")
    finally:
        conn.close()


def _redis(settings: Settings) -> None:
    client = make_redis(settings)
    try:
        client.ping()
    finally:
        client.close()


PROBES: dict[str, Callable[[Settings], None]] = {
    "kafka": _kafka,
    "mongodb": _mongo,
    "postgres": _postgres,
    "redis": _redis,
}


def check_dependencies(settings: Settings, names: list[str] | None = None) -> list[DependencyStatus]:
    """Probe each named dependency (all by default) once, in parallel: as slow as the slowest probe."""
    chosen = names or list(PROBES)
    with ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="health") as pool:
        return list(pool.map(lambda name: _timed(name, lambda: PROBES[name](settings)), chosen))
