"""The consume / process / write / commit loop both consumers share, with Kafka and in-memory ports."""

from fraudcore.stream.loop import BatchPolicy, LoopStats, run
from fraudcore.stream.ports import Record, Source

__all__ = ["BatchPolicy", "LoopStats", "Record", "Source", "run"]
