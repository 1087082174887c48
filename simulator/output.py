"""Where the economy's events go: Kafka at a target rate (live) or a Parquet dataset (offline)."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fraudcore.dataset import DatasetWriter
from fraudcore.heartbeat import Heartbeat
from fraudcore.logging import get_logger
from fraudcore.schemas import Label, encode
from fraudcore.settings import Settings
from fraudcore.stream.resend import ResendingProducer
from simulator.economy import Economy, Event, SimulatedTransaction

log = get_logger("simulator")


@dataclass
class Summary:
    """What a run produced; printed at the end and written next to an offline dataset."""

    seed: int
    transactions: int = 0
    labels: int = 0
    withheld: int = 0
    per_typology: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    simulated_s: float = 0.0

    @property
    def fraud(self) -> int:
        return sum(n for name, n in self.per_typology.items() if name != "legit")

    @property
    def fraud_rate(self) -> float:
        return self.fraud / self.transactions if self.transactions else 0.0

    @property
    def rate(self) -> float:
        return self.transactions / self.elapsed_s if self.elapsed_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "transactions": self.transactions,
            "fraud": self.fraud,
            "fraud_rate": round(self.fraud_rate, 5),
            "per_typology": dict(self.per_typology.most_common()),
            "labels_published": self.labels,
            "fraud_never_labelled": self.withheld,
            "elapsed_s": round(self.elapsed_s, 2),
            "rate_tx_per_s": round(self.rate, 1),
            "simulated_days": round(self.simulated_s / 86400, 3),
            "clock_speed": round(self.simulated_s / self.elapsed_s, 1) if self.elapsed_s else None,
        }

    def render(self) -> str:
        lines = [
            f"seed {self.seed}: {self.transactions:,} transactions in {self.elapsed_s:.1f} s "
            f"({self.rate:,.0f} tx/s), {self.simulated_s / 86400:.2f} simulated days",
            f"fraud {self.fraud:,} ({self.fraud_rate:.2%}); labels published {self.labels:,}, "
            f"fraud never labelled {self.withheld:,}",
        ]
        for name, count in self.per_typology.most_common():
            lines.append(f"  {name:<22}{count:>10,}")
        return "\n".join(lines)


def take(economy: Economy, count: int | None, seconds: float | None = None) -> Iterator[Event]:
    """The economy's events until ``count`` transactions or ``seconds`` of simulated time (both optional)."""
    made = 0
    for event in economy.events():
        if isinstance(event, SimulatedTransaction):
            if (count is not None and made >= count) or (seconds is not None and economy.now > seconds):
                return
            made += 1
        yield event


def write_offline(economy: Economy, folder: Path, count: int, progress: bool = True) -> Summary:
    """Write ``count`` transactions, their published labels and the ground truth as a Parquet dataset."""
    summary = Summary(economy.seed)
    started = time.perf_counter()
    with (
        DatasetWriter(folder) as writer,
        tqdm(total=count, unit="tx", disable=not progress, mininterval=1.0) as bar,
    ):
        for event in take(economy, count):
            if isinstance(event, SimulatedTransaction):
                writer.add(event.tx, event.typology)
                summary.transactions += 1
                if summary.transactions % 5000 == 0:
                    bar.update(5000)
            else:
                writer.add_label(event)
                summary.labels += 1
        bar.update(summary.transactions % 5000)
        for label in economy.pending_labels():  # due after the last transaction: still part of history
            writer.add_label(label)
            summary.labels += 1
        _finish(summary, economy, started)
        writer.write_summary(
            {**summary.as_dict(), "start": economy.start.isoformat(), "config": economy.config.model_dump()}
        )
    return summary


def simulator_producer(settings: Settings, client_id: str) -> Any:
    """The simulator's Kafka producer: requests gathered for ``SIMULATOR__LINGER_MS``, batches of 512 KiB."""
    from fraudcore.clients.kafka import make_producer  # Kafka only when producing: offline runs need none

    return make_producer(settings, client_id, linger_ms=settings.simulator.linger_ms, batch_size=512 * 1024)


def produce_live(
    economy: Economy,
    settings: Settings,
    rate: float,
    count: int | None = None,
    duration_s: float | None = None,
    producer: Any = None,
    report_every_s: float = 10.0,
    backfill: int = 0,
    watch_broker: bool = True,
) -> Summary:
    """Produce transactions (keyed by sender) and labels (keyed by tx_id) to Kafka at ``rate`` per second.

    The first ``backfill`` transactions go at full speed (recent history, so the scorer's
    wallet state is warm when the paced stream starts). Stops after ``count`` transactions
    or ``duration_s`` seconds of wall time, whichever comes first, or never when both are
    None (Ctrl-C or SIGTERM stops it cleanly).

    A broker that restarts does not stop it: what the broker refuses is sent again, and with
    ``watch_broker`` a :class:`~fraudcore.stream.broker_watch.BrokerWatch` recreates lost
    topics and the last ``KAFKA__RESEND_WINDOW_S`` seconds are sent again (the scorer stores
    each transaction once).
    """
    from fraudcore.stream.broker_watch import BrokerWatch

    own_producer = producer is None
    producer = producer or simulator_producer(settings, "simulator")
    topics = settings.topics
    summary = Summary(economy.seed)
    started = time.perf_counter()
    heartbeat = Heartbeat(settings.heartbeat_file)
    kafka = settings.kafka
    resending = ResendingProducer(
        producer, [topics.transactions.name, topics.labels.name], kafka.resend_window_s, kafka.resend_max
    )
    refused = Refused(resending)
    watch = (
        BrokerWatch(settings, [topics.transactions, topics.labels], [resending.lost]).start()
        if watch_broker
        else None
    )
    try:
        _produce(
            refused,
            economy,
            topics,
            summary,
            rate,
            count,
            duration_s,
            report_every_s,
            started,
            backfill,
            heartbeat,
        )
    except KeyboardInterrupt:
        log.info("stopping: sending what is buffered")
    finally:
        refused.drain()
        if watch is not None:
            watch.stop()
        _finish(summary, economy, started)  # labels not yet due when it stopped were never sent
        if own_producer:
            producer.close(timeout=10)
    return summary


def _produce(
    refused: Refused,
    economy: Economy,
    topics: Any,
    summary: Summary,
    rate: float,
    count: int | None,
    duration_s: float | None,
    report_every_s: float,
    started: float,
    backfill: int = 0,
    heartbeat: Heartbeat | None = None,
) -> None:
    step = max(1, int(rate / 200))  # check the pace about every 5 ms
    last_report = paced_from = started

    for event in take(economy, count):
        if isinstance(event, Label):
            refused.send(topics.labels.name, event.tx_id.encode(), encode(event))
            summary.labels += 1
            continue
        tx = event.tx
        refused.send(topics.transactions.name, tx.key, encode(tx))
        summary.transactions += 1
        if heartbeat is not None:
            heartbeat.beat()
        refused.producer.resend_if_lost()  # the broker lost the topics: the last minute again
        if refused.waiting:
            refused.send_again()
        if summary.transactions <= backfill:
            if summary.transactions == backfill:
                paced_from = time.perf_counter()
                log.info(
                    "backfill sent; now paced",
                    transactions=backfill,
                    seconds=round(paced_from - started, 1),
                    rate=rate,
                )
            continue
        if summary.transactions % step == 0:
            now = time.perf_counter()
            ahead = paced_from + (summary.transactions - backfill) / rate - now
            if ahead > 0:
                time.sleep(ahead)
            if now - last_report >= report_every_s:
                last_report = now
                log.info(
                    "producing",
                    sent=summary.transactions,
                    rate=round(summary.transactions / (now - started)),
                    simulated=economy.time_at(economy.now).isoformat(timespec="seconds"),
                )
            if duration_s is not None and now - started >= duration_s:
                break


class Refused:
    """Messages the broker refused (it restarted, or lost a topic): sent again, never dropped.

    kafka-python retries what it can; a refusal it gives up on comes back to its error
    callback, from the producer's I/O thread. Those are queued here and the producing
    loop sends them again after a pause (a broker that restarts is back in seconds). A
    re-sent transaction arrives after newer ones of the same wallet: the scorer features
    it late, which is better than never.
    """

    PAUSE_S = 0.5

    def __init__(self, producer: ResendingProducer) -> None:
        self.producer = producer
        self.waiting: deque[tuple[str, bytes | None, bytes]] = deque()
        self.resent = 0
        self._said = 0.0

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.producer.send(topic, key=key, value=value).add_errback(self._refused, topic, key, value)

    def _refused(self, topic: str, key: bytes | None, value: bytes, error: BaseException) -> None:
        self.waiting.append((topic, key, value))
        if time.monotonic() - self._said > 10:
            self._said = time.monotonic()
            log.warning(
                "the broker refused messages; sending them again",
                topic=topic,
                error=f"{type(error).__name__}: {error}"[:200],
            )

    def send_again(self) -> None:
        time.sleep(self.PAUSE_S)
        for _ in range(len(self.waiting)):
            self.send(*self.waiting.popleft())
            self.resent += 1

    def drain(self, attempts: int = 120) -> None:
        """At the end: flush, and send again what was refused, until none is (or give up, saying how many)."""
        self.producer.flush()
        for _ in range(attempts):
            if not self.waiting:
                return
            self.send_again()
            self.producer.flush()
        log.error("the broker kept refusing messages; they were not sent", messages=len(self.waiting))


def _finish(summary: Summary, economy: Economy, started: float) -> None:
    summary.elapsed_s = time.perf_counter() - started
    summary.simulated_s = economy.now
    summary.per_typology = Counter(economy.counts)
    summary.withheld = economy.labels_withheld
