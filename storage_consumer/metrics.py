"""Prometheus metrics of the storage consumer, served on STORAGE__METRICS_PORT (``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "fraud_storage_messages_total",
    "Messages handled, by outcome (stored, replayed, label, label_waiting, dead_letter, dead_letter_seen)",
    ["outcome"],
)
BATCH_SECONDS = Histogram(
    "fraud_storage_batch_seconds",
    "Time to write one micro-batch to PostgreSQL, MongoDB and Redis",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
