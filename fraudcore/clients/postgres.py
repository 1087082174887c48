"""PostgreSQL connections (psycopg2) and readiness wait."""

from __future__ import annotations

import psycopg2
from psycopg2.extensions import connection as PgConnection

from fraudcore.clients.retry import redact, wait_until_ready
from fraudcore.settings import Settings


def connect_postgres(
    settings: Settings, application_name: str = "fraud", dsn: str | None = None
) -> PgConnection:
    return psycopg2.connect(
        dsn or str(settings.postgres.dsn),
        connect_timeout=settings.postgres.connect_timeout_s,
        application_name=application_name,
    )


def wait_postgres(settings: Settings, timeout_s: float = 60.0, dsn: str | None = None) -> None:
    def probe() -> None:
        with connect_postgres(settings, "fraud-ready-probe", dsn) as conn, conn.cursor() as cur:
            cur.execute("select 1")
        conn.close()

    wait_until_ready("PostgreSQL", probe, timeout_s, redact(dsn or str(settings.postgres.dsn)))
