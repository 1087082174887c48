"""The producer's partitioner caches murmur2 but places every key exactly as Kafka's default does."""

from __future__ import annotations

from kafka.partitioner import DefaultPartitioner

from fraudcore.clients.kafka import KeyCachingPartitioner


class Cluster:
    def __init__(self, partitions: int) -> None:
        self.count = partitions

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.count))

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.count))


def test_same_partition_as_the_default_for_every_key() -> None:
    cached, default = KeyCachingPartitioner(), DefaultPartitioner()
    for partitions in (1, 3, 4, 12):
        cluster = Cluster(partitions)
        for i in range(500):
            key = f"0x{i:040x}".encode()
            expected = default.partition("t", None, key, None, None, cluster)
            assert cached.partition("t", None, key, None, None, cluster) == expected
            assert cached.partition("t", None, key, None, None, cluster) == expected  # from the cache
