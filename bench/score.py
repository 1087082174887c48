"""How fast one scoring process goes, and where the time goes: measured in one run on the running stack.

Needs `make up` (or the servers at the configured addresses) and a model version (`make models`).
It fills a throw-away topic with simulated transactions, then measures, on the same data:

  consume only     the loop reading the topic and committing, doing nothing else (Kafka's ceiling here)
  MongoDB only     insert_many of the scored documents into an empty collection (MongoDB's ceiling here)
  scoring core     decode + features (Redis state) + XGBoost + LSTM + reasons, no MongoDB, no Kafka output
  end to end       the real ScoringProcessor in the real loop, built as `python -m ml_consumer` builds
                   it: consume, score, MongoDB, fraud/legit, commit; each batch's writes overlapped
                   with the next batch's work, as the service runs
  no overlap       the same, batch after batch (each batch written before the next is polled)

and prints transactions per second for each, the ratios, the CPU each transaction cost end to
end (this process, all its threads, and each server on this machine: figures that hold when
other work shares the cores, unlike the rates), where the loop's time went, and the top of a
profile of the end-to-end run (the loop's thread: the writes run on another one).
Run it with the services stopped (`python -m fraudcore.stack up --servers-only`): a running
simulator or ml_consumer would share the same cores.

    PYTHONPATH=. python bench/score.py [--count 30000] [--batch 2000]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psutil

from bench.cpu import CpuMeter
from fraudcore.clients.kafka import ensure_topics, make_consumer, wait_kafka
from fraudcore.clients.mongo import make_mongo
from fraudcore.clients.rdkafka import make_rd_consumer, make_rd_producer
from fraudcore.clients.redis import make_redis
from fraudcore.features import FeatureConfig, FeatureEngine, RedisStore
from fraudcore.models.base import Inputs
from fraudcore.models.registry import ModelWatcher
from fraudcore.schemas import Transaction, decode
from fraudcore.settings import Settings, TopicSpec, get_settings
from fraudcore.stack.servers import Endpoints
from fraudcore.stream import BatchPolicy, LoopStats, run
from fraudcore.stream.rdkafka import RdKafkaSource
from ml_consumer.processor import ScoringProcessor
from simulator.economy import Economy
from simulator.output import produce_live


def scratch(base: Settings, tag: str) -> Settings:
    names = {}
    for name in ("transactions", "fraud", "legit", "labels", "dead_letters"):
        spec = getattr(base.topics, name)
        names[name] = TopicSpec(name=f"bench-{tag}-{spec.name}", partitions=spec.partitions)
    topics = base.topics.model_copy(update=names)
    return base.model_copy(
        update={
            "topics": topics,
            "mongo": base.mongo.model_copy(update={"database": f"bench_{tag}"}),
            "scoring": base.scoring.model_copy(update={"group_id": f"bench-{tag}"}),
        }
    )


def steady(stats: LoopStats) -> float:
    """Records per second after the first batch: the group join (tansu holds it ~3 s) is start-up."""
    return (stats.records - stats.first_batch_records) / (stats.last_committed_at - stats.first_committed_at)


def servers(settings: Settings) -> dict[str, psutil.Process]:
    """The processes listening on the Kafka, MongoDB and Redis ports, if they run on this machine."""
    ends = Endpoints.of(settings)
    ports = {ends.kafka[1]: "Kafka", ends.mongodb[1]: "MongoDB", ends.redis[1]: "Redis"}
    found = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in ports and conn.pid:
            found[ports[conn.laddr.port]] = psutil.Process(conn.pid)
    return found


class Nothing:
    def process(self, records: list[Any]) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    base = get_settings()
    watcher = ModelWatcher(base.models.dir)
    if watcher.current() is None:
        raise SystemExit(f"no approved model version in {base.models.dir}: run `make models` first")
    tag = uuid.uuid4().hex[:8]
    settings = scratch(base, tag)
    admin = wait_kafka(settings)
    ensure_topics(admin, settings.topics.all())
    economy = Economy(settings.simulator, seed=5, start=datetime.now(UTC), stamp_produced_at=True)
    produce_live(economy, settings, rate=1e9, count=args.count)
    policy = BatchPolicy(max_records=args.batch, max_wait_s=0.05)
    results: dict[str, float] = {}

    # 1. consume only, with the service's own consumer
    source = RdKafkaSource(
        make_rd_consumer(settings, f"bench-{tag}-consume"), [settings.topics.transactions.name]
    )
    stats = run(source, Nothing(), policy, max_records=args.count)
    results["consume only"] = steady(stats)
    source.close()

    # 2. scoring core, on decoded-from-bytes transactions, state in Redis (its own keys)
    consumer = make_consumer(
        settings, f"bench-{tag}-read", settings.topics.transactions.name, max_poll_records=5000
    )
    raw: list[bytes] = []
    while len(raw) < args.count:
        raw += [m.value for ms in consumer.poll(timeout_ms=1000).values() for m in ms]
    consumer.close()
    redis = make_redis(settings)
    engine = FeatureEngine(RedisStore(redis, prefix=f"bench-{tag}-core:"), FeatureConfig.from_settings(base))
    version = watcher.current()
    assert version is not None
    started = time.perf_counter()
    for i in range(0, len(raw), args.batch):
        txs = [decode(Transaction, v) for v in raw[i : i + args.batch]]
        inputs = Inputs.of_features(engine.transform(txs), base.models.sequence_length)
        version.score(inputs)
        version.explain(inputs.x, base.scoring.reasons)
    results["scoring core"] = len(raw) / (time.perf_counter() - started)

    # 3. end to end: the rate (not profiled), where the time went, then a profiled run
    mongo = make_mongo(settings)
    db = mongo[settings.mongo.database]
    producer = make_rd_producer(settings, "bench-score")
    stages: dict[str, float] = {}
    meter = CpuMeter({"this process": psutil.Process(), **servers(settings)})
    cpu: dict[str, float] = {}

    def end_to_end(
        group: str, prefix: str, profile: cProfile.Profile | None = None, overlap: bool = True
    ) -> tuple[float, LoopStats]:
        engine = FeatureEngine(RedisStore(redis, prefix=prefix), FeatureConfig.from_settings(base))
        processor = ScoringProcessor(settings, db, producer, engine, watcher)
        source = RdKafkaSource(make_rd_consumer(settings, group), [settings.topics.transactions.name])

        def tally(records: list[Any], seconds: float) -> None:
            if not stages:  # the first batch committed: the steady part starts, as in steady()
                meter.mark()
            for name, value in processor.last.timings.items():
                stages[name] = stages.get(name, 0.0) + value

        started = time.perf_counter()
        if profile:
            profile.enable()
        stats = run(
            source,
            processor,
            policy,
            stop=threading.Event(),
            max_records=args.count,
            on_batch=None if profile or not overlap else tally,
            overlap=overlap,
        )
        if profile:
            profile.disable()
        elapsed = time.perf_counter() - started
        source.close()
        return elapsed, stats

    elapsed, loop = end_to_end(settings.scoring.group_id, f"bench-{tag}-e2e:")
    cpu = meter.since()
    results["end to end"] = steady(loop)
    with_start = args.count / elapsed
    stored = db["transactions"].count_documents({})
    db.drop_collection("transactions")  # the other runs score the same messages again, from scratch
    _, sequential = end_to_end(f"{settings.scoring.group_id}-seq", f"bench-{tag}-seq:", overlap=False)
    results["no overlap"] = steady(sequential)
    db.drop_collection("transactions")
    profile = cProfile.Profile()
    end_to_end(f"{settings.scoring.group_id}-profiled", f"bench-{tag}-prof:", profile)

    # 4. MongoDB alone: the same documents into an empty collection
    docs = list(db["transactions"].find({}))
    ceiling = db["ceiling"]
    started = time.perf_counter()
    for i in range(0, len(docs), args.batch):
        ceiling.insert_many(docs[i : i + args.batch], ordered=False)
    results["MongoDB only"] = len(docs) / (time.perf_counter() - started)

    print(
        f"\n{args.count:,} transactions, batches of {args.batch}, model {version.name}; stored {stored:,}\n"
    )
    for name, rate in results.items():
        print(f"  {name:<14}{rate:>10,.0f} tx/s   {rate / results['end to end']:>5.1f}x end to end")
    print(
        f"\nKafka-reading rates are steady rates, after the first batch; end to end from the start, "
        f"group join and model warm-up included: {with_start:,.0f} tx/s"
    )
    counted = loop.records - loop.first_batch_records
    print("\nend to end, CPU per transaction (after the first batch; the servers on this machine):")
    for name, seconds in cpu.items():
        print(f"  {name:<30}{seconds / counted * 1e6:>7.0f} µs")
    print(f"  {'all together':<30}{sum(cpu.values()) / counted * 1e6:>7.0f} µs")
    print(f"\nend to end, where the loop's thread spent its {elapsed:.2f} s (the first poll: the join):")
    main = {
        "polling Kafka": loop.polling_s,
        "preparing (decode .. encode)": loop.preparing_s,
        "waiting for the writer": loop.waiting_for_writes_s,
        "committing": loop.committing_s,
    }
    for name, seconds in main.items():
        print(f"  {name:<30}{seconds:>7.2f} s  {seconds / elapsed:>5.0%}")
    print("\neach stage, summed over the batches (mongo and produce on the writer thread):")
    for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<30}{seconds:>7.2f} s  {seconds / elapsed:>5.0%} of the run")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(18)
    print("\nwhere the end-to-end time goes (cumulative):")
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    print("\n".join(lines[:32]))
    mongo.drop_database(settings.mongo.database)
    for key in redis.scan_iter(match=f"bench-{tag}-*", count=5000):
        redis.delete(key)
    admin.delete_topics([t.name for t in settings.topics.all()])
    admin.close()
    producer.close()


if __name__ == "__main__":
    main()
