"""Scoring one micro-batch: validate, featurise, score, store in MongoDB, route to fraud / legit.

The processor is plain logic over injected ports (a MongoDB database, a producer, the feature
store, the model watcher), so tests run it on in-memory sources. It returns only when
everything is durably written (MongoDB acknowledged, the producer flushed); the shared loop
(:mod:`fraudcore.stream.loop`) commits offsets after that.

Writes are idempotent on ``tx_id`` (the MongoDB ``_id``): a batch read again after a crash
inserts nothing twice, is not remembered twice by the feature state, and is routed again with
the score first stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import BulkWriteError

from fraudcore.features import FeatureEngine, TxFeatures
from fraudcore.logging import get_logger
from fraudcore.models.base import Inputs
from fraudcore.models.registry import ModelWatcher
from fraudcore.schemas import (
    DeadLetter,
    InvalidMessage,
    Label,
    ScoredTransaction,
    Transaction,
    decode,
    encode,
)
from fraudcore.settings import Settings
from fraudcore.stream.ports import Record
from ml_consumer import metrics

log = get_logger("ml_consumer")
DUPLICATE_KEY = 11000
SERVICE = "ml_consumer"
PENDING_RECHECK_S = 5.0  # labels kept by another instance are found within this


class NoModel(RuntimeError):
    """No approved model version: scoring cannot start (the message says how to make one)."""


@dataclass
class BatchResult:
    scored: int = 0
    replayed: int = 0
    dead: int = 0
    labels: int = 0
    fraud: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class ScoringProcessor:
    def __init__(
        self,
        settings: Settings,
        db: Database[dict[str, Any]],
        producer: Any,
        engine: FeatureEngine,
        models: ModelWatcher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.transactions = db["transactions"]
        self.pending_labels = db["pending_labels"]
        self.producer = producer
        self.engine = engine
        self.models = models
        self.clock = clock
        self.topics = settings.topics
        self.last = BatchResult()
        self._pending_checked = 0.0
        self._pending_exist = True  # until the first look says otherwise

    # --- the batch ------------------------------------------------------------------

    def process(self, records: list[Record]) -> None:
        result = BatchResult()
        started = time.perf_counter()
        version = self.models.current()
        if version is None:
            raise NoModel(
                f"no approved model version in {self.settings.models.dir}: train one with `make models` "
                "(or `python -m retrainer train --data DIR`)"
            )
        metrics.MODEL_VERSION.info({"version": version.name})
        failures: list[BaseException] = []
        txs: list[Transaction] = []
        labels: list[Label] = []
        for record in records:
            if record.topic == self.topics.labels.name:
                label = self._decode(Label, record, result, failures)
                if label is not None:
                    labels.append(label)
            else:
                tx = self._decode(Transaction, record, result, failures)
                if tx is not None:
                    txs.append(tx)
        txs = list({tx.tx_id: tx for tx in txs}.values())  # a tx_id twice in one batch is scored once
        result.timings["decode"] = time.perf_counter() - started
        t = time.perf_counter()
        stored = self._already_stored([tx.tx_id for tx in txs])
        result.timings["replay check"] = time.perf_counter() - t
        fresh = [tx for tx in txs if tx.tx_id not in stored]
        result.replayed = len(txs) - len(fresh)
        t = time.perf_counter()
        features = self.engine.transform(fresh)
        result.timings["features"] = time.perf_counter() - t
        t = time.perf_counter()
        scored = self._score(fresh, features, version)
        result.timings["score"] = time.perf_counter() - t
        t = time.perf_counter()
        self._store(scored)
        result.timings["mongo"] = time.perf_counter() - t
        t = time.perf_counter()
        for doc in [
            *scored,
            *(ScoredTransaction.model_validate(_from_mongo(d), strict=False) for d in stored.values()),
        ]:
            topic = self.topics.fraud.name if doc.predicted_fraud else self.topics.legit.name
            self.producer.send(topic, key=doc.key, value=encode(doc)).add_errback(failures.append)
            result.fraud += doc.predicted_fraud
        self._learn(labels, {tx.tx_id: tx.receiver_address for tx in fresh}, result)
        self.producer.flush()
        result.timings["produce"] = time.perf_counter() - t
        if failures:
            raise RuntimeError(f"the broker refused {len(failures)} message(s): {failures[0]}")
        result.scored = len(scored)
        for doc in scored:
            metrics.SCORES.observe(doc.score)
        metrics.MESSAGES.labels("scored").inc(len(scored))
        metrics.MESSAGES.labels("replayed").inc(result.replayed)
        metrics.MESSAGES.labels("label").inc(result.labels)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        self.last = result

    def _decode(
        self, model: type[Any], record: Record, result: BatchResult, failures: list[BaseException]
    ) -> Any:
        try:
            return decode(model, record.value)
        except InvalidMessage as exc:
            letter = DeadLetter.of(
                service=SERVICE,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                reason=exc.reason,
                original=record.value or b"",
            )
            self.producer.send(
                self.topics.dead_letters.name, key=record.key, value=encode(letter)
            ).add_errback(failures.append)
            result.dead += 1
            metrics.MESSAGES.labels("dead_letter").inc()
            log.warning("dead letter", topic=record.topic, offset=record.offset, reason=exc.reason[:200])
            return None

    def _already_stored(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        return {d["_id"]: d for d in self.transactions.find({"_id": {"$in": ids}})}

    def _score(
        self, txs: list[Transaction], features: list[TxFeatures], version: Any
    ) -> list[ScoredTransaction]:
        if not txs:
            return []
        steps = int(version.manifest.get("sequence_length", self.engine.config.sequence_length))
        inputs = Inputs.of_features(features, steps)
        combined, p_xgb, p_lstm = version.score(inputs)
        k = self.settings.scoring.reasons
        reasons = version.explain(inputs.x, k) if k else [[] for _ in txs]
        threshold = version.threshold
        now = self.clock()
        out = []
        for i, tx in enumerate(txs):
            score = float(combined[i])
            out.append(  # from a validated transaction and the model's own floats: no re-validation needed
                ScoredTransaction.model_construct(
                    **tx.__dict__,
                    score=score,
                    predicted_fraud=score >= threshold,
                    threshold=threshold,
                    model_version=version.name,
                    xgb_score=float(p_xgb[i]),
                    lstm_score=float(p_lstm[i]),
                    reasons=reasons[i],
                    scored_at=now,
                )
            )
        return out

    def _store(self, scored: list[ScoredTransaction]) -> None:
        if not scored:
            return
        docs = [{"_id": s.tx_id, **s.model_dump(mode="python", exclude={"tx_id"})} for s in scored]
        try:
            self.transactions.insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # already there (a replay): fine; anything else is not
            other = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
            if other:
                raise

    def _learn(self, labels: list[Label], scored_receivers: dict[str, str], result: BatchResult) -> None:
        """Fraud labels teach the feature engine which addresses are bad (exposure features)."""
        fraud = [label for label in labels if label.is_fraud]
        marks: list[tuple[str, float]] = []
        if fraud:
            found = {
                d["_id"]: d["receiver_address"]
                for d in self.transactions.find(
                    {"_id": {"$in": [x.tx_id for x in fraud]}}, {"receiver_address": 1}
                )
            }
            waiting = []
            for label in fraud:
                if label.tx_id in found:
                    marks.append((found[label.tx_id], label.labelled_at.timestamp()))
                else:  # the transaction is not scored yet: keep the label until it is
                    waiting.append({"_id": label.tx_id, "labelled_at": label.labelled_at})
            for doc in waiting:
                self.pending_labels.replace_one({"_id": doc["_id"]}, doc, upsert=True)
            self._pending_exist = self._pending_exist or bool(waiting)
            result.labels = len(fraud)
        if scored_receivers and self._labels_may_be_waiting():
            # a label that came before its transaction: the receiver is in the batch just scored
            early = list(self.pending_labels.find({"_id": {"$in": list(scored_receivers)}}))
            if early:
                marks += [(scored_receivers[e["_id"]], e["labelled_at"].timestamp()) for e in early]
                self.pending_labels.delete_many({"_id": {"$in": [e["_id"] for e in early]}})
        self.engine.learn_labels(marks)

    def _labels_may_be_waiting(self) -> bool:
        """Whether to look for early labels: a cheap count every few seconds spares a query per batch."""
        now = time.monotonic()
        if now - self._pending_checked > PENDING_RECHECK_S:
            self._pending_checked = now
            self._pending_exist = self.pending_labels.estimated_document_count() > 0
        return self._pending_exist


def _from_mongo(doc: dict[str, Any]) -> dict[str, Any]:
    """The stored scored transaction, without what other services added to the document (labels)."""
    out = {k: v for k, v in doc.items() if k in ScoredTransaction.model_fields and v is not None}
    out["tx_id"] = doc["_id"]
    return out
