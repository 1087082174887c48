"""The consume / process / write / commit loop, written down once.

Per micro-batch, in this order and no other:

1. **poll** records until the batch is full (``max_records``) or ``max_wait_s`` has passed
   since its first record;
2. **process**: the processor decodes, works, and *durably writes* everything (databases,
   output topics flushed); it returns only once all of it is safely stored;
3. **commit** the batch's offsets.

A crash anywhere before 3 leaves the offsets where they were, so the batch is read again
(at-least-once); the processors' writes are idempotent on ``tx_id``, so a replay changes
nothing. A server that stops answering is waited for (the same batch is retried with
backoff), never skipped. A stop request (SIGTERM) ends the loop after the current batch is
committed.

>>> from fraudcore.stream.memory import ListSource
>>> class Upper:
...     def __init__(self): self.out = []
...     def process(self, records): self.out += [r.value.upper() for r in records]
>>> source, processor = ListSource([b"a", b"b", b"c"]), Upper()
>>> stats = run(source, processor, BatchPolicy(max_records=2, max_wait_s=0), stop_when_idle=True)
>>> processor.out, source.committed, stats.batches
([b'A', b'B', b'C'], 2, 2)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError
from pymongo.errors import AutoReconnect, ConnectionFailure, ExecutionTimeout, NetworkTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import RetryCallState, retry, retry_if_exception_type, wait_exponential

from fraudcore.logging import get_logger
from fraudcore.stream.ports import Record, Source

log = get_logger("stream")

# failures of a server that comes back: wait for it and retry the same batch
TRANSIENT = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ExecutionTimeout,
    RedisConnectionError,
    RedisTimeoutError,
    KafkaError,
    ConnectionError,
    TimeoutError,
)


class Processor(Protocol):
    def process(self, records: list[Record]) -> None:
        """Handle the batch and write all of it durably before returning."""
        ...


@dataclass(frozen=True)
class BatchPolicy:
    max_records: int = 2000
    max_wait_s: float = 0.05  # once a batch has its first record, how long to wait for more
    idle_poll_s: float = 1.0  # how long one poll waits when nothing is coming


@dataclass
class LoopStats:
    batches: int = 0
    records: int = 0
    retries: int = 0
    last_batch_s: float = 0.0


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "a server did not answer; retrying the same batch (nothing is committed until it is written)",
        attempt=state.attempt_number,
        error=f"{type(error).__name__}: {error}"[:300],
    )


def run(
    source: Source,
    processor: Processor,
    policy: BatchPolicy | None = None,
    stop: threading.Event | None = None,
    stop_when_idle: bool = False,
    max_records: int | None = None,
    on_batch: Callable[[list[Record], float], None] | None = None,
) -> LoopStats:
    """Run until ``stop`` is set (tests and benchmarks: or until idle, or ``max_records`` are done)."""
    policy = policy or BatchPolicy()
    stop = stop or threading.Event()
    stats = LoopStats()

    @retry(
        retry=retry_if_exception_type(TRANSIENT),
        wait=wait_exponential(multiplier=0.2, max=5),
        before_sleep=_log_retry,
        reraise=True,
    )
    def process(batch: list[Record]) -> None:
        try:
            processor.process(batch)
        except TRANSIENT:
            stats.retries += 1
            if stop.is_set():
                raise SystemExit("stopping while a server is down: the batch is not committed") from None
            raise

    while not stop.is_set():
        batch = _collect(source, policy, stop)
        if not batch:
            if stop_when_idle:
                break
            continue
        started = time.perf_counter()
        process(batch)
        try:
            source.commit(batch)
        except (CommitFailedError, RebalanceInProgressError) as exc:
            # the group rebalanced during the batch: its new owner reads it again; the writes are idempotent
            log.warning(
                "commit refused after a rebalance; the batch will be read again", error=str(exc)[:200]
            )
        stats.last_batch_s = time.perf_counter() - started
        stats.batches += 1
        stats.records += len(batch)
        if on_batch is not None:
            on_batch(batch, stats.last_batch_s)
        if max_records is not None and stats.records >= max_records:
            break
    return stats


def _collect(source: Source, policy: BatchPolicy, stop: threading.Event) -> list[Record]:
    batch = source.poll(policy.max_records, policy.idle_poll_s)
    if not batch:
        return batch
    deadline = time.monotonic() + policy.max_wait_s
    while len(batch) < policy.max_records and not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        more = source.poll(policy.max_records - len(batch), left)
        if not more:
            break
        batch.extend(more)
    return batch
