"""Watching the broker for lost topics, and putting them back as the settings describe them.

Real Kafka keeps its topics across a restart. The embedded tansu broker keeps everything in
memory: after a restart every topic is gone. The pipeline's own clients never create topics
implicitly (producers and consumers ask with auto-creation off), because an auto-created
topic gets the broker's default partition count, not the one in the settings. Instead each
long-running service runs a :class:`BrokerWatch`: a thread that asks the broker every few
seconds which topics it has, recreates missing ones with their partition counts and
configs (:func:`~fraudcore.clients.kafka.ensure_topics`: idempotent, several services may
race), and notices a topic that was recreated behind its back (its topic id changed).
Either way the topic's earlier messages are gone: it logs that, counts it, and calls the
service's ``on_lost`` callbacks (the scoring consumer re-sends its recent output then).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from kafka import KafkaAdminClient
from prometheus_client import Counter

from fraudcore.clients.kafka import ensure_topics, make_admin
from fraudcore.logging import get_logger
from fraudcore.settings import Settings, TopicSpec

log = get_logger("broker_watch")
TOPICS_LOST = Counter(
    "fraud_broker_topics_lost",
    "Topics the broker lost (found missing or recreated) and that were put back",
    ["topic"],
)


class BrokerWatch:
    """A daemon thread; :meth:`check` is one look at the broker (what the thread does every ``every_s``)."""

    def __init__(
        self,
        settings: Settings,
        specs: list[TopicSpec] | None = None,
        on_lost: list[Callable[[list[str]], None]] | None = None,
        every_s: float | None = None,
        name: str = "broker-watch",
    ) -> None:
        self.settings = settings
        self.specs = specs if specs is not None else settings.topics.all()
        self.on_lost = list(on_lost or [])
        self.every_s = every_s if every_s is not None else settings.kafka.watch_every_s
        self.name = name
        self.ids: dict[str, str] = {}  # topic name -> the broker's id for it, as last seen
        self.lost: list[str] = []
        self._admin: KafkaAdminClient | None = None
        self._down = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> BrokerWatch:
        self.check()  # the first look happens before the service starts: it knows the topic ids
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._close()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.check()

    def check(self) -> list[str]:
        """Look once; recreate what is missing. Returns the topics found lost (none if the broker is down)."""
        try:
            admin = self._admin or make_admin(self.settings, self.name, timeout_ms=5000)
            self._admin = admin
            seen = self._describe(admin)
            missing = [s.name for s in self.specs if s.name not in seen]
            if missing:
                ensure_topics(admin, [s for s in self.specs if s.name in missing])
                seen = self._describe(admin)
        except Exception as exc:  # the broker is down or restarting: look again later
            if not self._down:
                log.warning(
                    "the broker is not answering; watching for it", error=f"{type(exc).__name__}: {exc}"[:200]
                )
            self._down = True
            self._close()
            return []
        if self._down:
            log.info("the broker answers again")
            self._down = False
        lost = [
            name
            for name in (s.name for s in self.specs)
            if name in missing or self.ids.get(name, seen.get(name)) != seen.get(name)
        ]
        self.ids.update(seen)
        if lost:
            self._report(lost, recreated=[n for n in lost if n in missing])
        return lost

    def _describe(self, admin: KafkaAdminClient) -> dict[str, str]:
        topics = admin.describe_topics([s.name for s in self.specs])
        return {t["name"]: str(t.get("topic_id")) for t in topics if not t.get("error_code")}

    def _report(self, lost: list[str], recreated: list[str]) -> None:
        self.lost.extend(lost)
        for name in lost:
            TOPICS_LOST.labels(name).inc()
        log.warning(
            "the broker lost topics (it restarted without its data?): their unread messages are gone; "
            "recreated them with the configured partitions"
            if recreated
            else "topics were recreated on the broker: their earlier messages are gone",
            topics=lost,
            recreated_here=recreated,
        )
        for callback in self.on_lost:
            try:
                callback(lost)
            except Exception as exc:
                log.error("a lost-topic callback failed", error=f"{type(exc).__name__}: {exc}"[:200])

    def _close(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):  # closing a client of a broker that is gone
                self._admin.close()
            self._admin = None
