"""Client factories for Kafka, MongoDB, PostgreSQL and Redis, with timeouts and readiness waits.

Every service builds its clients here from :class:`~fraudcore.settings.Settings`,
so timeouts, retries and the embedded broker's quirks are set in one place.
"""

from __future__ import annotations

from fraudcore.clients.retry import NotReady, redact, wait_until_ready

__all__ = ["NotReady", "redact", "wait_until_ready"]
