"""After the broker restarts empty, the source ends up assigned every partition of its topics.

A broker of its own (tansu, as the embedded stack runs it), restarted again and again under one
subscribed source, its topics recreated a moment apart, as the services' broker watches do:
the first at once, the others up to 3 s later. A member that joined the restarted broker in
between could keep an assignment without the later topics, because tansu 0.6 answers a member
joining again under its id with unchanged metadata with the assignment it stored (seen with a
bare consumer in 6 of 28 restarts; once in CI, as the storage consumer reading only `labels`).
The source's re-join after the loss (narrowed, then whole) must get every partition each time.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudcore.clients.kafka import ensure_topics, wait_kafka
from fraudcore.clients.rdkafka import make_rd_consumer
from fraudcore.settings import Settings, TopicSpec
from fraudcore.stack.servers import kafka_program
from fraudcore.stream.offsets import OffsetTracker
from fraudcore.stream.rdkafka import RdKafkaSource
from tests.helpers import stack_settings, unique

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]
RESTARTS = 8
PARTITIONS = 2


class Broker:
    """One tansu process, started and killed at will (it keeps nothing: memory storage)."""

    def __init__(self, settings: Settings) -> None:
        self.command = kafka_program(settings).command
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[Broker, Settings]]:
    settings = stack_settings(tmp_path)
    broker = Broker(settings)
    broker.start()
    try:
        yield broker, settings
    finally:
        broker.kill()


def create(settings: Settings, specs: list[TopicSpec]) -> None:
    admin = wait_kafka(settings, timeout_s=20)  # the broker may be starting again
    try:
        ensure_topics(admin, specs)
    finally:
        admin.close()


def test_after_each_restart_the_source_is_assigned_every_partition(broker: tuple[Broker, Settings]) -> None:
    process, settings = broker
    specs = [TopicSpec(name=unique(f"t{i}"), partitions=PARTITIONS) for i in range(4)]
    names = [s.name for s in specs]
    create(settings, specs)
    offsets = OffsetTracker(log_resets=False)
    source = RdKafkaSource(make_rd_consumer(settings, unique("restarted")), names, offsets)
    whole = len(specs) * PARTITIONS

    def assigned() -> int:
        return len(source.consumer.assignment())

    def run_until(done: object, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            source.poll(100, 0.1)
            if callable(done) and done():
                return True
        return False

    def recreate_rest(recreated: threading.Event) -> None:
        create(settings, specs[1:])
        offsets.topics_lost(names)  # what the watch that recreated them reports
        recreated.set()

    rng = random.Random(1)  # the delays under which a bare consumer was seen stale
    outcomes = []
    try:
        assert run_until(lambda: assigned() == whole, 30), "not assigned before any restart"
        for _ in range(RESTARTS):
            first, rest = rng.uniform(0, 1.5), rng.uniform(0, 3)
            process.kill()
            time.sleep(rng.uniform(0.2, 2))
            process.start()
            recreated = threading.Event()

            threading.Timer(first, create, args=(settings, specs[:1])).start()
            threading.Timer(first + rest, recreate_rest, args=(recreated,)).start()
            run_until(recreated.is_set, 30)
            back = time.monotonic()
            whole_again = run_until(
                lambda: assigned() == whole and not source.rejoining,
                30,
            )
            run_until(None, 3)  # and it stays so
            outcomes.append((round(first, 2), round(rest, 2), assigned(), round(time.monotonic() - back, 1)))
            assert whole_again and assigned() == whole, f"stale assignment after a restart: {outcomes}"
    finally:
        source.close()
