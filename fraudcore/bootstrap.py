"""Idempotent start-up work every entry point runs: topics, migrations, indexes.

Start-up order is code, not sleeps: wait for each server to answer, then make sure
what the services rely on exists. Running it twice, or from several services at
once, changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fraudcore.clients.kafka import ensure_topics, wait_kafka
from fraudcore.clients.mongo import ensure_indexes, mongo_db, wait_mongo
from fraudcore.clients.postgres import wait_postgres
from fraudcore.logging import get_logger
from fraudcore.migrations import apply_migrations
from fraudcore.settings import Settings

log = get_logger(__name__)


@dataclass
class BootstrapReport:
    """What one bootstrap run changed."""

    created_topics: list[str] = field(default_factory=list)
    applied_migrations: list[str] = field(default_factory=list)


def bootstrap(
    settings: Settings,
    *,
    kafka: bool = True,
    postgres: bool = True,
    mongo: bool = True,
    timeout_s: float | None = None,
) -> BootstrapReport:
    """Wait for the servers a service needs and prepare them; see the module doc."""
    timeout = timeout_s if timeout_s is not None else settings.stack.ready_timeout_s
    report = BootstrapReport()
    if kafka:
        admin = wait_kafka(settings, timeout)
        try:
            report.created_topics = ensure_topics(admin, settings.topics.all())
        finally:
            admin.close()
    if postgres:
        wait_postgres(settings, timeout)
        report.applied_migrations = apply_migrations(str(settings.postgres.dsn))
    if mongo:
        client = wait_mongo(settings, timeout)
        try:
            ensure_indexes(mongo_db(client, settings))
        finally:
            client.close()
    log.info("bootstrap done", **report.__dict__)
    return report
