"""How fast the simulator produces to Kafka from one process: target rate against achieved rate.

Needs a broker: `make up` (or KAFKA__BOOTSTRAP_SERVERS). Each rate runs for a few seconds
into a throw-away topic; the achieved rate is what the broker holds afterwards (read back
by consuming the topic: the embedded broker's end offsets can fall short), not what the
producer queued.

    python bench/simulator_rate.py [--rates 1,100,1000,5000,10000,20000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime

from fraudcore.clients.kafka import ensure_topics, make_consumer, wait_kafka
from fraudcore.settings import Settings, TopicSpec, get_settings
from simulator.economy import Economy
from simulator.output import produce_live, simulator_producer


def count_records(settings: Settings, topic: str, expected: int, patience_s: float = 10.0) -> int:
    consumer = make_consumer(settings, f"bench-{topic}", topic, max_poll_records=10_000)
    seen, idle_since = 0, time.monotonic()
    while seen < expected and time.monotonic() - idle_since < patience_s:
        batch = consumer.poll(timeout_ms=500)
        if batch:
            seen += sum(len(records) for records in batch.values())
            idle_since = time.monotonic()
    consumer.close()
    return seen


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rates", default="1,100,1000,5000,10000,20000")
    args.add_argument("--seconds", type=float, default=8.0)
    options = args.parse_args()
    base = get_settings()
    admin = wait_kafka(base)
    print(f"{'target tx/s':>12} {'achieved tx/s':>14} {'confirmed':>10} {'seconds':>8}")
    for rate in (float(r) for r in options.rates.split(",")):
        topic = f"bench-sim-{uuid.uuid4().hex[:8]}"
        spec = TopicSpec(name=topic, partitions=base.topics.transactions.partitions)
        ensure_topics(admin, [spec])
        settings = base.model_copy(update={"topics": base.topics.model_copy(update={"transactions": spec})})
        economy = Economy(base.simulator, seed=1, start=datetime.now(UTC), stamp_produced_at=True)
        producer = simulator_producer(settings, "bench-simulator")
        seconds = max(options.seconds, 10.0) if rate < 10 else options.seconds
        started = time.perf_counter()
        summary = produce_live(
            economy, settings, rate, duration_s=seconds, producer=producer, report_every_s=1e9
        )
        elapsed = time.perf_counter() - started
        producer.close()
        confirmed = count_records(settings, topic, expected=summary.transactions)
        admin.delete_topics([topic])
        print(f"{rate:>12,.0f} {confirmed / elapsed:>14,.0f} {confirmed:>10,} {elapsed:>8.1f}")
        assert confirmed == summary.transactions, (confirmed, summary.transactions)
    admin.close()


if __name__ == "__main__":
    main()
