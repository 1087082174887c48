"""Redis client factory and readiness wait."""

from __future__ import annotations

from redis import Redis

from fraudcore.clients.retry import redact, wait_until_ready
from fraudcore.settings import Settings


def make_redis(settings: Settings) -> Redis:
    timeout = settings.redis.timeout_s
    return Redis.from_url(
        str(settings.redis.url),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


def wait_redis(settings: Settings, timeout_s: float = 60.0) -> Redis:
    def probe() -> Redis:
        client = make_redis(settings)
        client.ping()
        return client

    return wait_until_ready("Redis", probe, timeout_s, redact(str(settings.redis.url)))
