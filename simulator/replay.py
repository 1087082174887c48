"""Replay a user's CSV or Parquet file through a column mapping, to Kafka or to a Parquet dataset.

Rows that do not fit are never dropped silently: each is counted, logged with its row
number (the first few), and written with its reason to a rejects CSV. The label column,
when mapped, does not travel on the transaction: it is published on the labels topic once
its arrival time has passed (the mapped label time, or the event time plus the label delay).
"""

from __future__ import annotations

import csv
import heapq
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fraudcore.dataset import DatasetWriter
from fraudcore.logging import get_logger
from fraudcore.mapping import ColumnMapping, MappedRow, RejectedRow, map_file
from fraudcore.schemas import Label, encode
from fraudcore.settings import Settings
from simulator.output import simulator_producer

log = get_logger("simulator.replay")
SHOW_REJECTS = 5


@dataclass
class ReplaySummary:
    rows: int = 0
    produced: int = 0
    labels: int = 0
    rejected: int = 0
    rejects_file: Path | None = None
    first_rejects: list[RejectedRow] = field(default_factory=list)
    elapsed_s: float = 0.0

    def render(self) -> str:
        lines = [
            f"{self.rows:,} rows read: {self.produced:,} transactions, {self.labels:,} labels, "
            f"{self.rejected:,} rows rejected, in {self.elapsed_s:.1f} s"
        ]
        for bad in self.first_rejects:
            lines.append(f"  row {bad.row}: {bad.reason}")
        if self.rejected > len(self.first_rejects):
            lines.append(f"  ... and {self.rejected - len(self.first_rejects):,} more")
        if self.rejected:
            lines.append(f"every rejected row, with its reason: {self.rejects_file}")
        return "\n".join(lines)


class _Labels:
    """Labels held back until their arrival time, released in order as the replay's clock passes it."""

    def __init__(self, delay: timedelta) -> None:
        self.delay = delay
        self.heap: list[tuple[Any, int, Label]] = []

    def add(self, row: MappedRow) -> None:
        if not row.is_fraud:
            return  # as with chargebacks, only fraud is reported; the rest counts as legitimate once mature
        due = row.label_time or row.tx.event_time + self.delay
        label = Label(tx_id=row.tx.tx_id, is_fraud=True, typology=_code(row.typology), labelled_at=due)
        heapq.heappush(self.heap, (due, row.row, label))

    def due(self, now: Any) -> list[Label]:
        out = []
        while self.heap and self.heap[0][0] <= now:
            out.append(heapq.heappop(self.heap)[2])
        return out

    def rest(self) -> list[Label]:
        return [heapq.heappop(self.heap)[2] for _ in range(len(self.heap))]


def _code(typology: str | None) -> str | None:
    if not typology:
        return None
    cleaned = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in typology.strip())[:32]
    return cleaned or None


def replay(
    path: str | Path,
    mapping: ColumnMapping,
    settings: Settings,
    *,
    rate: float = 0.0,
    speed: float = 0.0,
    out: Path | None = None,
    rejects: Path | None = None,
    producer: Any = None,
) -> ReplaySummary:
    """Replay ``path`` to Kafka (or into the dataset folder ``out``), in event-time order.

    Paced by ``speed`` (the file's own clock sped up that many times), or by ``rate``
    (transactions per second); with neither, as fast as it can.
    """
    path = Path(path)
    summary = ReplaySummary(rejects_file=rejects or path.with_name(path.name + ".rejects.csv"))
    labels = _Labels(timedelta(hours=settings.simulator.label_delay_hours))
    started = time.perf_counter()
    writer = DatasetWriter(out) if out is not None else None
    own_producer = producer is None and writer is None
    if own_producer:
        producer = simulator_producer(settings, "simulator-replay")
    topics = settings.topics
    reject_file = reject_writer = None
    try:
        first_event: float | None = None
        for good, bad in map_file(path, mapping, in_time_order=True):
            summary.rows += len(good) + len(bad)
            if bad:
                if reject_writer is None:
                    reject_file = summary.rejects_file.open("w", newline="")  # type: ignore[union-attr]
                    reject_writer = csv.writer(reject_file)
                    reject_writer.writerow(["row", "reason"])
                reject_writer.writerows((b.row, b.reason) for b in bad)
                for b in bad[: SHOW_REJECTS - len(summary.first_rejects)]:
                    log.warning("row rejected", row=b.row, reason=b.reason)
                    summary.first_rejects.append(b)
                summary.rejected += len(bad)
            for row in good:
                for label in labels.due(row.tx.event_time):
                    _send_label(label, writer, producer, topics.labels.name)
                    summary.labels += 1
                if writer is not None:
                    writer.add(row.tx, (row.typology or "fraud") if row.is_fraud else None)
                else:
                    producer.send(topics.transactions.name, key=row.tx.key, value=encode(row.tx))
                labels.add(row)
                summary.produced += 1
                if speed > 0:  # the file's clock, ``speed`` times faster
                    t = row.tx.event_time.timestamp()
                    first_event = t if first_event is None else first_event
                    ahead = started + (t - first_event) / speed - time.perf_counter()
                    if ahead > 0.002:
                        if producer is not None:
                            producer.flush()  # what is due now goes out before the pause
                        time.sleep(ahead)
                elif rate > 0 and summary.produced % max(1, int(rate / 200)) == 0:
                    ahead = started + summary.produced / rate - time.perf_counter()
                    if ahead > 0:
                        time.sleep(ahead)
        for label in labels.rest():
            _send_label(label, writer, producer, topics.labels.name)
            summary.labels += 1
        if producer is not None:
            producer.flush()
    finally:
        summary.elapsed_s = time.perf_counter() - started
        if reject_file is not None:
            reject_file.close()
        if writer is not None:
            writer.write_summary(
                {
                    "source": str(path),
                    "rows": summary.rows,
                    "transactions": summary.produced,
                    "labels": summary.labels,
                    "rejected": summary.rejected,
                }
            )
            writer.close()
        if own_producer:
            producer.close(timeout=10)
    return summary


def _send_label(label: Label, writer: DatasetWriter | None, producer: Any, topic: str) -> None:
    if writer is not None:
        writer.add_label(label)
    else:
        producer.send(topic, key=label.tx_id.encode(), value=encode(label))
