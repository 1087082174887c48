"""The simulator live against the embedded broker: keyed by sender, in order per wallet, labels apart."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime

from fraudcore.clients.kafka import ensure_topics, make_admin, make_consumer
from fraudcore.schemas import Label, Transaction, decode
from fraudcore.settings import Settings, SimulatorSettings, TopicSettings, TopicSpec
from simulator.economy import Economy
from simulator.output import produce_live
from tests.helpers import unique
from tests.integration.test_kafka import poll_until


def topics_for_test(settings: Settings) -> Settings:
    topics = TopicSettings(
        transactions=TopicSpec(name=unique("sim-tx"), partitions=4),
        labels=TopicSpec(name=unique("sim-labels"), partitions=2),
    )
    admin = make_admin(settings)
    ensure_topics(admin, [topics.transactions, topics.labels])
    admin.close()
    return settings.model_copy(update={"topics": topics})


def test_live_produces_keyed_by_sender_in_order_with_labels(settings: Settings) -> None:
    settings = topics_for_test(settings)
    config = SimulatorSettings(accounts=300, fraud_rate=0.05, label_delay_hours=0.5)
    economy = Economy(config, seed=9, start=datetime(2026, 5, 1, tzinfo=UTC), stamp_produced_at=True)
    summary = produce_live(economy, settings, rate=5000, count=4000)
    assert summary.transactions == 4000 and summary.labels > 20

    consumer = make_consumer(settings, unique("g"), settings.topics.transactions.name)
    records = poll_until(consumer, 4000)
    consumer.close()
    assert len(records) == 4000
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    times: dict[tuple[int, bytes], list[datetime]] = defaultdict(list)
    for record in records:
        tx = decode(Transaction, record.value)
        assert record.key == tx.sender_address.encode() and tx.produced_at is not None
        partition_of[record.key].add(record.partition)
        times[(record.partition, record.key)].append(tx.event_time)
    assert all(len(p) == 1 for p in partition_of.values())  # one wallet, one partition
    assert all(t == sorted(t) for t in times.values())  # a wallet's history stays in order

    consumer = make_consumer(settings, unique("g"), settings.topics.labels.name)
    labels = [decode(Label, r.value) for r in poll_until(consumer, summary.labels)]
    consumer.close()
    assert len(labels) == summary.labels and all(label.is_fraud for label in labels)


def test_the_command_runs_live_for_a_count(settings: Settings) -> None:
    settings = topics_for_test(settings)
    env = {**settings.to_env(), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--rate", "2000", "--count", "1000", "--seed", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "1,000 transactions" in result.stdout and "seed 3" in result.stdout
    consumer = make_consumer(settings, unique("g"), settings.topics.transactions.name)
    assert len(poll_until(consumer, 1000)) == 1000
    consumer.close()
