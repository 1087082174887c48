"""Prometheus metrics of the scoring consumer, served on SCORING__METRICS_PORT (``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, Info

MESSAGES = Counter(
    "fraud_scoring_messages_total",
    "Messages handled, by outcome (scored, replayed, dead_letter, label)",
    ["outcome"],
)
BATCH_SECONDS = Histogram(
    "fraud_scoring_batch_seconds",
    "Time to process one micro-batch, from decode to flushed output",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SCORES = Histogram(
    "fraud_scoring_score",
    "Fraud scores given",
    buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99),
)
MODEL_VERSION = Info("fraud_scoring_model", "The model version scoring now")
