"""A round trip through the embedded Kafka broker: topics, producing, a group that commits and resumes."""

from __future__ import annotations

from typing import Any

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from fraudcore.clients.kafka import ensure_topics, make_admin, make_consumer, make_producer, partition_counts
from fraudcore.settings import Settings, TopicSpec
from tests.helpers import unique


def poll_until(consumer, count: int, timeout_s: float = 30.0) -> list:  # type: ignore[no-untyped-def]
    import time

    records: list = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def test_bootstrap_created_every_topic_with_its_partitions(settings: Settings) -> None:
    admin = make_admin(settings)
    try:
        counts = partition_counts(admin, [t.name for t in settings.topics.all()])
    finally:
        admin.close()
    assert counts == {t.name: t.partitions for t in settings.topics.all()}


def test_ensure_topics_is_idempotent(settings: Settings) -> None:
    name = unique("idem")
    admin = make_admin(settings)
    try:
        assert ensure_topics(admin, [TopicSpec(name=name, partitions=2)]) == [name]
        assert ensure_topics(admin, [TopicSpec(name=name, partitions=2)]) == []
        # asking for more partitions than the topic has: added where the broker can (real Kafka),
        # a warning where it cannot (tansu has no CreatePartitions); never a crash at start-up
        assert ensure_topics(admin, [TopicSpec(name=name, partitions=3)]) == []
        assert partition_counts(admin, [name])[name] >= 2
    finally:
        admin.close()


def test_a_consumer_group_commits_and_resumes_where_it_left_off(settings: Settings) -> None:
    topic, group = unique("roundtrip"), unique("group")
    admin = make_admin(settings)
    ensure_topics(admin, [TopicSpec(name=topic, partitions=1)])
    admin.close()

    producer = make_producer(settings)
    for i in range(10):
        producer.send(topic, key=b"wallet-1", value=f"m{i}".encode())
    producer.flush()
    producer.close()

    first = make_consumer(settings, group, topic)
    seen = poll_until(first, 10)
    assert [r.value for r in seen] == [f"m{i}".encode() for i in range(10)]
    # only the first six were "safely written": commit exactly those
    first.commit({TopicPartition(topic, 0): OffsetAndMetadata(6, "", -1)})
    first.close()

    second = make_consumer(settings, group, topic)
    resumed = poll_until(second, 4)
    second.close()
    assert [r.value for r in resumed] == [b"m6", b"m7", b"m8", b"m9"]


def test_the_broker_watch_recreates_a_missing_topic_and_reports_a_recreated_one(settings: Settings) -> None:
    from fraudcore.stream.broker_watch import BrokerWatch

    specs = [TopicSpec(name=unique("watched"), partitions=2), TopicSpec(name=unique("watched"), partitions=1)]
    told: list[list[str]] = []
    watch = BrokerWatch(settings, specs, on_lost=[told.append], every_s=60)
    admin = make_admin(settings)
    try:
        assert watch.check() == [s.name for s in specs]  # missing: created with their partitions, reported
        assert partition_counts(admin, [s.name for s in specs]) == {s.name: s.partitions for s in specs}
        assert watch.check() == [] and told == [[s.name for s in specs]]
        admin.delete_topics([specs[0].name])  # another client deletes and recreates it: its id changes
        ensure_topics(admin, [specs[0]])
        assert watch.check() == [specs[0].name] and told[-1] == [specs[0].name]
    finally:
        watch.stop()
        admin.close()


def test_after_a_lost_topic_the_source_joins_again_and_reads_it_from_the_beginning(
    settings: Settings,
) -> None:
    """What the source does once the BrokerWatch reports a topic lost (a broker restarted empty).

    The topic is not deleted here: librdkafka 2.16 crashes (SIGSEGV) when a subscribed topic is
    deleted and recreated under a running consumer on tansu. So the old log stays, and the test
    shows the source joining again and starting at offset 0 although its group committed 20.
    """
    import time

    from fraudcore.clients.rdkafka import make_rd_consumer, make_rd_producer
    from fraudcore.stream.offsets import OffsetTracker
    from fraudcore.stream.ports import Record
    from fraudcore.stream.rdkafka import RdKafkaSource

    spec = TopicSpec(name=unique("rejoined"), partitions=2)
    admin = make_admin(settings)
    producer = make_rd_producer(settings, "rejoin-test")

    def read(source: RdKafkaSource, count: int) -> list[Record]:
        records: list[Record] = []
        deadline = time.monotonic() + 30
        while len(records) < count and time.monotonic() < deadline:
            records += source.poll(100, 0.5)
        return records

    offsets = OffsetTracker(log_resets=False)
    source = RdKafkaSource(make_rd_consumer(settings, unique("rejoiners")), [spec.name], offsets)
    try:
        ensure_topics(admin, [spec])
        for i in range(20):
            producer.send(spec.name, key=f"k{i}".encode(), value=f"v{i}".encode())
        producer.flush(10)
        first = read(source, 20)
        source.commit(first)
        assert len(first) == 20
        offsets.topics_lost([spec.name])  # what the BrokerWatch reports after a restart
        again = read(source, 20)
        assert sorted(r.value for r in again) == sorted(r.value for r in first)  # all of it, once more
        assert min(r.offset for r in again) == 0
        assert {lost.topic for lost in offsets.lost} == {spec.name}  # and the loss is reported
    finally:
        source.close()
        producer.close()
        admin.close()


def test_the_source_joins_again_narrowed_then_whole_without_leaving_the_group(settings: Settings) -> None:
    """After a broker loss the source joins again twice: without its last topic, then with all of them.

    A changed subscription is changed protocol metadata, so tansu 0.6 starts a new generation and
    takes the new assignment (joining again unchanged, it hands back the stored one). And the member
    id stays: no ``LeaveGroup`` is sent (tansu keeps a member that leaves a forming group as its
    leader, and every member joining after it waits for that leader forever).
    """
    import time

    from confluent_kafka import TopicPartition as RdTopicPartition

    from fraudcore.clients.rdkafka import make_rd_consumer
    from fraudcore.stream.rdkafka import RdKafkaSource

    first, last = (
        TopicSpec(name=unique("rejoin-a"), partitions=2),
        TopicSpec(name=unique("rejoin-b"), partitions=2),
    )
    admin = make_admin(settings)
    ensure_topics(admin, [first, last])
    source = RdKafkaSource(make_rd_consumer(settings, unique("stayers")), [first.name, last.name])
    assignments: list[set[str]] = []
    assign = source._assigned

    def noted(consumer: Any, partitions: list[RdTopicPartition]) -> None:
        assignments.append({tp.topic for tp in partitions})
        assign(consumer, partitions)

    source._assigned = noted  # type: ignore[method-assign]

    def settled() -> None:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and (source._unassigned_since is not None or source.rejoining):
            source.poll(10, 0.1)
        assert source._unassigned_since is None, "no partitions assigned"

    try:
        source._subscribe()  # with the noting callback
        settled()
        member = source.consumer.memberid()
        assignments.clear()
        source._rejoin(set())
        settled()
        assert assignments[0] == {first.name}  # narrowed: a new generation, a new assignment
        assert assignments[-1] == {first.name, last.name}
        assert len(source.consumer.assignment()) == 4
        assert source.consumer.memberid() == member
    finally:
        source.close()
        admin.close()


def test_a_group_left_by_its_leader_while_forming_is_reported_stuck(settings: Settings) -> None:
    """The embedded broker's stuck group (tansu 0.6), and the error that tells the user what to do.

    A bare consumer joins and leaves (closes) while its group forms; tansu keeps it as the group's
    leader, so the source joining after it is never assigned anything and says so.
    """
    import time

    from fraudcore.clients.rdkafka import make_rd_consumer
    from fraudcore.stream.rdkafka import RdKafkaSource

    spec = TopicSpec(name=unique("stuck"), partitions=2)
    admin = make_admin(settings)
    ensure_topics(admin, [spec])
    group = unique("stuck-group")
    leaver = make_rd_consumer(settings, group)
    leaver.subscribe([spec.name])
    deadline = time.monotonic() + 10
    while not leaver.memberid() and time.monotonic() < deadline:
        leaver.poll(0.05)  # a member id, then its join, held by the broker: the forming group's leader
    until = time.monotonic() + 0.3
    while time.monotonic() < until:
        leaver.poll(0.05)
    leaver.close()  # LeaveGroup while the group forms
    source = RdKafkaSource(make_rd_consumer(settings, group), [spec.name], stall_s=3.0)
    try:
        deadline = time.monotonic() + 20
        while source.stalls == 0 and time.monotonic() < deadline:
            source.poll(10, 0.2)
        assert source.stalls >= 1
        assert source._unassigned_since is not None  # never assigned: the group is stuck
    finally:
        source.close()
        admin.close()
