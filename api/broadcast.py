"""Fan-out of the live channel to WebSocket clients, each with its own bounded queue.

One task per API process listens to the Redis pub/sub channel the storage consumer publishes
on (:mod:`fraudcore.live`) and offers each transaction to every connected client. A client's
queue holds at most ``API__WS_QUEUE`` messages: when a slow client falls behind, its oldest
messages are dropped (and counted, and reported to it in the heartbeat), so it never slows the
others or the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from fraudcore.live import decode_published
from fraudcore.logging import get_logger
from fraudcore.settings import Settings

log = get_logger("api.ws")
CLIENTS = Gauge("fraud_api_ws_clients", "WebSocket clients connected")
MESSAGES = Counter(
    "fraud_api_ws_messages_total", "WebSocket messages, by outcome (sent, dropped)", ["outcome"]
)


class Filters(BaseModel):
    """What a client wants to see; sent as query parameters on connect, or as JSON at any time."""

    model_config = ConfigDict(extra="forbid")

    fraud_only: bool = False
    min_score: float = Field(default=0.0, ge=0, le=1)
    asset: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")

    def accepts(self, tx: dict[str, Any]) -> bool:
        if self.fraud_only and not tx.get("predicted_fraud"):
            return False
        if tx.get("score", 0.0) < self.min_score:
            return False
        return self.asset is None or str(tx.get("asset", "")).upper() == self.asset.upper()


@dataclass(eq=False)
class Subscriber:
    filters: Filters
    size: int
    queue: deque[dict[str, Any]] = field(init=False)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0
    sent: int = 0

    def __post_init__(self) -> None:
        self.queue = deque(maxlen=self.size)

    def offer(self, tx: dict[str, Any]) -> None:
        if not self.filters.accepts(tx):
            return
        if len(self.queue) == self.size:
            self.dropped += 1  # the deque drops its oldest on append
            MESSAGES.labels("dropped").inc()
        self.queue.append(tx)
        self.ready.set()

    def take(self) -> list[dict[str, Any]]:
        items = list(self.queue)
        self.queue.clear()
        self.ready.clear()
        return items


class Broadcaster:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subscribers: set[Subscriber] = set()
        self.connected = False  # whether the listener is subscribed to Redis right now
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, filters: Filters) -> Subscriber:
        sub = Subscriber(filters, self.settings.api.ws_queue)
        self.subscribers.add(sub)
        CLIENTS.set(len(self.subscribers))
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        CLIENTS.set(len(self.subscribers))

    def publish(self, txs: list[dict[str, Any]]) -> None:
        for sub in list(self.subscribers):
            for tx in txs:
                sub.offer(tx)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="live-channel")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        """Listen forever; when Redis goes away, say so, wait, and subscribe again."""
        channel = self.settings.live.channel
        delay = 0.5
        while True:
            redis = Redis.from_url(str(self.settings.redis.url), socket_connect_timeout=3)
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    self.connected, delay = True, 0.5
                    log.info("listening to the live channel", channel=channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            try:
                                self.publish(decode_published(message["data"]))
                            except ValueError as exc:
                                log.warning("unreadable message on the live channel", error=str(exc)[:200])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected:
                    log.warning(
                        "lost the live channel; retrying (is Redis up? make up)", error=str(exc)[:200]
                    )
                self.connected = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self.connected = False
                await redis.aclose()
