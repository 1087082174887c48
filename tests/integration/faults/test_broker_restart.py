"""The broker restarts mid-stream and comes back empty (the embedded tansu keeps nothing).

Both consumers run as processes, the simulator's producer keeps sending. After the restart,
with no manual step: the topics are back (recreated by the services' broker watches; a
client's stale write may get there first, and then the broker's own 4 partitions), the
simulator sends again what the broker refused while it was away, the consumers are told the
topics were lost and read the new logs from their start (reporting what they knew was
unread), and both producers re-send their last minute, so what the broker held unread when
it died, or acknowledged just after it came back and then dropped, arrives after all.

Reconciled at the end, transaction by transaction: every transaction the broker acknowledged
is in MongoDB once and in PostgreSQL once.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraudcore.clients.kafka import make_admin, make_producer, partition_counts
from fraudcore.clients.mongo import make_mongo
from fraudcore.clients.postgres import connect_postgres
from fraudcore.settings import Settings, SimulatorSettings
from fraudcore.stack import EmbeddedStack
from simulator.economy import Economy
from simulator.output import produce_live
from tests.helpers import start_service, stop_services, wait_for
from tests.integration.faults.conftest import counts

pytestmark = [pytest.mark.faults, pytest.mark.broker_restart, pytest.mark.timeout(900)]
RATE, COUNT = 60, 6000


class Acknowledged:
    """A producer that notes when the broker acknowledged each transaction (tx_id -> monotonic time)."""

    def __init__(self, settings: Settings) -> None:
        self.producer = make_producer(settings, "fault-test", linger_ms=20)
        self.topic = settings.topics.transactions.name
        self.at: dict[str, float] = {}
        self.where: dict[str, tuple[int, int]] = {}  # tx_id -> (partition, offset)

    def send(self, topic: str, key: bytes | None = None, value: bytes | None = None) -> Any:
        future = self.producer.send(topic, key=key, value=value)
        if topic == self.topic and value is not None:
            tx_id = orjson.loads(value)["tx_id"]
            future.add_callback(self._acknowledged, tx_id)
        return future

    def _acknowledged(self, tx_id: str, meta: Any) -> None:
        self.at[tx_id] = time.monotonic()
        self.where[tx_id] = (meta.partition, meta.offset)

    def flush(self, timeout: float | None = None) -> None:
        self.producer.flush(timeout)

    def close(self, timeout: float = 10) -> None:
        self.producer.close(timeout=timeout)


def stored_ids(settings: Settings) -> tuple[list[str], list[str]]:
    mongo = make_mongo(settings)
    try:
        in_mongo = [d["_id"] for d in mongo[settings.mongo.database]["transactions"].find({}, {"_id": 1})]
    finally:
        mongo.close()
    conn = connect_postgres(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tx_id FROM scored_transactions")
            in_postgres = [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
    return in_mongo, in_postgres


def settled(settings: Settings, quiet_s: float = 8.0, timeout_s: float = 240.0) -> None:
    """Wait until both stores stop changing for ``quiet_s`` (the pipeline has drained)."""
    last, since, deadline = counts(settings), time.monotonic(), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(1)
        now = counts(settings)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s and now[0] == now[1]:
            return
    raise AssertionError(f"the stores did not settle: {last}")


def test_broker_restart_without_its_data_recovers_and_reports_the_loss(
    fault_stack: EmbeddedStack, tmp_path: Path
) -> None:
    settings = fault_stack.settings
    logs = {m: tmp_path / f"{m}.log" for m in ("ml_consumer", "storage_consumer")}
    # the group protocol in the consumers' logs: what a consumer did if it does not come back
    traced = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"client_debug": "cgrp"})})
    consumers = [start_service(m, traced, log) for m, log in logs.items()]
    economy = Economy(
        SimulatorSettings(accounts=500, fraud_rate=0.02),
        seed=51,
        start=datetime(2026, 7, 2, tzinfo=UTC),
        stamp_produced_at=True,
    )
    producer = Acknowledged(settings)
    sender = threading.Thread(
        target=produce_live,
        args=(economy, settings),
        kwargs={"rate": RATE, "count": COUNT, "producer": producer},
    )
    try:
        sender.start()
        wait_for(lambda: counts(settings)[1] > 1000, 180, "the pipeline to store its first transactions")
        supervisor = fault_stack.client.supervisor
        down_at = time.monotonic()
        supervisor.stopProcess("servers:kafka", True)
        stopped_at = time.monotonic()  # the broker takes a few seconds to stop: it still takes messages then
        time.sleep(2)
        supervisor.startProcess("servers:kafka", True)
        started_at = time.monotonic()
        fault_stack.wait_servers()
        before = counts(settings)
        try:
            wait_for(lambda: min(counts(settings)[:2]) > max(before[:2]), 120, "progress after the restart")
        except AssertionError:
            for name, path in logs.items():  # shown with the failure: CI keeps no tmp_path
                lines = [  # our own lines and librdkafka's group protocol, without what repeats every second
                    x
                    for x in path.read_text(errors="replace").splitlines()
                    if not any(
                        n in x for n in ("Connection refused", "|HEARTBEAT|", "|DUMP", "|COMMIT|", "|FETCH")
                    )
                ]
                print(f"--- {name}, last 150 lines ---", *lines[-150:], sep="\n")
            raise
        sender.join(300)
        assert not sender.is_alive(), "the simulator did not finish sending"
        settled(settings)
        assert all(c.poll() is None for c in consumers), "a consumer died"

    finally:
        stop_services(consumers)
        producer.close()

    in_mongo, in_postgres = stored_ids(settings)
    acknowledged = producer.at
    assert len(in_mongo) == len(set(in_mongo)) and len(in_postgres) == len(set(in_postgres))  # once each
    assert set(in_postgres) == set(in_mongo)  # all scored reached PostgreSQL (re-sent if the broker lost it)
    assert set(in_mongo) <= set(acknowledged)
    lost = set(acknowledged) - set(in_mongo)
    # the simulator re-sent its last minute once the topics were back: nothing the broker lost is missing
    assert not lost, (
        f"{len(lost)} acknowledged, never scored; (s from the stop request, (partition, offset)): "
        f"{sorted((round(acknowledged[t] - down_at, 2), producer.where[t]) for t in lost)[:20]} (the broker "
        f"stopped at {stopped_at - down_at:.2f} s and started at {started_at - down_at:.2f} s)"
    )

    admin = make_admin(settings)
    try:  # every topic is back; with its configured partitions unless a client's stale produce beat the watch
        partitions = partition_counts(admin, [t.name for t in settings.topics.all()])
    finally:
        admin.close()
    assert all(partitions.get(t.name, 0) >= t.partitions for t in settings.topics.all()), partitions

    scorer_log, storage_log = (logs[m].read_text() for m in ("ml_consumer", "storage_consumer"))
    for text in (scorer_log, storage_log):
        assert "the broker lost topics" in text or "topics were recreated on the broker" in text
        assert "Traceback" not in text
    assert "reading the new log from its start" in scorer_log  # the scorer noticed its input was lost
    reported = sum(int(n) for n in re.findall(r"lost_unread=(\d+)", scorer_log))
    resent = re.findall(r"messages=(\d+) ", scorer_log)
    print(  # the figures for the resolve note
        f"acknowledged {len(acknowledged)}, scored {len(in_mongo)}, stored {len(in_postgres)}, "
        f"reported unread by the scorer when the broker lost them {reported}, "
        f"re-sent by the scorer: {resent}; partitions after: {partitions}"
    )
