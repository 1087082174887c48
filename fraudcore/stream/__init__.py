"""The consume / process / write / commit loop both consumers share, with Kafka and in-memory ports."""

from fraudcore.stream.loop import BatchPolicy, LoopStats, StagedProcessor, run
from fraudcore.stream.ports import CommitRefused, Record, Source

__all__ = ["BatchPolicy", "CommitRefused", "LoopStats", "Record", "Source", "StagedProcessor", "run"]
