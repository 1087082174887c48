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

A **two-stage** processor (:class:`StagedProcessor`: ``prepare`` then ``write``) lets the
loop overlap one batch's writes with the next batch's work: while batch N is written on
one background thread, batch N+1 is polled and prepared on the loop's thread. The
guarantee is the same: at most one batch is being written at a time; ``prepare`` always
runs on the loop's thread, batch after batch, in order (state that must follow the stream,
such as features, is updated there); the offsets of batch N are committed on the loop's
thread, only after ``write(N)`` has returned, and before ``write(N+1)`` starts. A failed
write is never committed: the loop stops with the error (after the transient retries), and
a restarted consumer reads the batch again.

The loop also moves what is alive when it starts, and again after its first batch (the
libraries, the loaded models, TensorFlow's traced graph), out of the cyclic garbage
collector's way (:func:`gc.freeze`): otherwise the collector walks those millions of
objects again and again while a batch allocates its own (measured: 40 % of the scoring
core's CPU). Frozen objects are still freed when no longer referenced.

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

import gc
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError
from psycopg2 import InterfaceError as PgInterfaceError
from psycopg2 import OperationalError as PgOperationalError
from pymongo.errors import AutoReconnect, ConnectionFailure, ExecutionTimeout, NetworkTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import RetryCallState, retry, retry_if_exception_type, wait_exponential

from fraudcore.logging import get_logger
from fraudcore.stream.ports import CommitRefused, Record, Source

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
    PgOperationalError,
    PgInterfaceError,
    ConnectionError,
    TimeoutError,
)
T = TypeVar("T")


class Processor(Protocol):
    def process(self, records: list[Record]) -> None:
        """Handle the batch and write all of it durably before returning."""
        ...


@runtime_checkable
class StagedProcessor(Protocol):
    """A processor in two stages, so the loop can write one batch while it prepares the next."""

    def prepare(self, records: list[Record]) -> Any:
        """Everything that must follow the stream in order (decode, state, scores); no output yet.

        Runs on the loop's thread, batch after batch; returns the work ``write`` needs.
        """
        ...

    def write(self, work: Any) -> None:
        """Write one prepared batch durably (databases, output topics flushed), then return.

        May run on a background thread while the next batch is prepared; idempotent, as it
        may be retried or run again after a crash.
        """
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
    last_batch_s: float = 0.0  # from the end of its poll to its commit
    # where the loop's own thread spent its time (overlapped runs: the writes are on another thread)
    polling_s: float = 0.0
    preparing_s: float = 0.0
    waiting_for_writes_s: float = 0.0
    committing_s: float = 0.0
    # the first batch carries the one-off costs (group join, model warm-up): steady rates start after it
    first_committed_at: float = 0.0  # time.perf_counter()
    first_batch_records: int = 0
    last_committed_at: float = 0.0


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "a server did not answer; retrying the same batch (nothing is committed until it is written)",
        attempt=state.attempt_number,
        error=f"{type(error).__name__}: {error}"[:300],
    )


def run(
    source: Source,
    processor: Processor | StagedProcessor,
    policy: BatchPolicy | None = None,
    stop: threading.Event | None = None,
    stop_when_idle: bool = False,
    max_records: int | None = None,
    on_batch: Callable[[list[Record], float], None] | None = None,
    overlap: bool = True,
) -> LoopStats:
    """Run until ``stop`` is set (tests and benchmarks: or until idle, or ``max_records`` are done).

    A :class:`StagedProcessor` has its writes overlapped with the next batch's work unless
    ``overlap=False``; any other processor runs batch by batch.
    """
    policy = policy or BatchPolicy()
    stop = stop or threading.Event()
    stats = LoopStats()
    _freeze_heap()

    def retried(step: Callable[[Any], T]) -> Callable[[Any], T]:
        @retry(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential(multiplier=0.2, max=5),
            before_sleep=_log_retry,
            reraise=True,
        )
        def attempt(arg: Any) -> T:
            try:
                return step(arg)
            except TRANSIENT:
                stats.retries += 1
                if stop.is_set():
                    raise SystemExit("stopping while a server is down: the batch is not committed") from None
                raise

        return attempt

    if isinstance(processor, StagedProcessor) and overlap:
        _overlapped(source, processor, policy, stop, stop_when_idle, max_records, on_batch, stats, retried)
        return stats
    staged: Callable[[list[Record]], None] = (
        (lambda batch: processor.write(processor.prepare(batch)))
        if isinstance(processor, StagedProcessor)
        else processor.process
    )
    process = retried(staged)
    while not stop.is_set():
        t = time.perf_counter()
        batch = _collect(source, policy, stop)
        stats.polling_s += time.perf_counter() - t
        if not batch:
            if stop_when_idle:
                break
            continue
        started = time.perf_counter()
        process(batch)
        stats.preparing_s += time.perf_counter() - started
        _commit(source, batch, stats, started)
        if on_batch is not None:
            on_batch(batch, stats.last_batch_s)
        if stats.batches == 1:
            _freeze_heap()
        if max_records is not None and stats.records >= max_records:
            break
    return stats


def _overlapped(
    source: Source,
    processor: StagedProcessor,
    policy: BatchPolicy,
    stop: threading.Event,
    stop_when_idle: bool,
    max_records: int | None,
    on_batch: Callable[[list[Record], float], None] | None,
    stats: LoopStats,
    retried: Callable[[Callable[[Any], Any]], Callable[[Any], Any]],  # the transient-failure retries
) -> None:
    """Poll and prepare batch N+1 while batch N is written; commit N once its write returned."""
    prepare, write = retried(processor.prepare), retried(processor.write)
    polled = 0
    inflight: tuple[list[Record], Future[Any], float] | None = None

    def finish() -> None:
        """Wait for the batch being written; commit it only if its write returned."""
        nonlocal inflight
        if inflight is None:
            return
        batch, future, started = inflight
        inflight = None
        t = time.perf_counter()
        try:
            future.result()  # raises the write's error: then nothing of this batch is committed
        finally:
            stats.waiting_for_writes_s += time.perf_counter() - t
        _commit(source, batch, stats, started)
        if on_batch is not None:
            on_batch(batch, stats.last_batch_s)
        if stats.batches == 1:
            _freeze_heap()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer") as writer:
        try:
            while not stop.is_set() and (max_records is None or polled < max_records):
                t = time.perf_counter()
                batch = _collect(source, policy, stop)
                started = time.perf_counter()
                stats.polling_s += started - t
                work = prepare(batch) if batch else None
                stats.preparing_s += time.perf_counter() - started
                finish()
                if batch:
                    polled += len(batch)
                    inflight = (batch, writer.submit(write, work), started)
                elif stop_when_idle:
                    break
            finish()
        except BaseException:
            # leave no write running behind our back; a write that did complete may be committed
            if inflight is not None:
                try:
                    finish()
                except BaseException as exc:  # the first error is the one to report
                    log.warning("the batch being written failed too; not committed", error=str(exc)[:200])
            raise


def _freeze_heap() -> None:
    """Collect the garbage there is, then exempt every object alive now from future collections."""
    gc.collect()
    gc.freeze()


def _commit(source: Source, batch: list[Record], stats: LoopStats, started: float) -> None:
    t = time.perf_counter()
    try:
        source.commit(batch)
    except (CommitFailedError, RebalanceInProgressError, CommitRefused) as exc:
        # the group rebalanced during the batch (its new owner reads it again), or the broker is away (a
        # later commit covers the batch, or it is read again after a restart): the writes are idempotent
        log.warning(
            "commit not stored (the group rebalanced or the broker is unavailable); the batch is written, "
            "and a later commit covers it or it is read again",
            error=str(exc)[:200],
        )
    now = time.perf_counter()
    stats.committing_s += now - t
    stats.last_batch_s = now - started
    stats.batches += 1
    stats.records += len(batch)
    stats.last_committed_at = now
    if stats.batches == 1:
        stats.first_committed_at, stats.first_batch_records = now, len(batch)


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
