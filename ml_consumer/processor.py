"""Scoring one micro-batch: validate, featurise, score, store in MongoDB, route to fraud / legit.

The processor is plain logic over injected ports (a MongoDB database, a producer, the feature
store, the model watcher), so tests run it on in-memory sources. It works in two stages
(:class:`fraudcore.stream.loop.StagedProcessor`):

* :meth:`ScoringProcessor.prepare`, on the loop's thread, batch after batch: decode and
  validate (invalid messages to the dead-letter topic, with the reason), find replays,
  featurise (the feature state in Redis follows the stream in order), score, explain, and
  encode the MongoDB documents and the fraud / legit messages; labels teach the feature
  state here too. The states are saved while the batch is scored, and confirmed by Redis
  before ``prepare`` returns;
* :meth:`ScoringProcessor.write`, which the loop may run on a background thread while the
  next batch is prepared: insert the documents into MongoDB (acknowledged), send the
  messages and flush the producer (acknowledged, or it raises). The loop commits offsets
  only after it returns.

Writes are idempotent on ``tx_id`` (the MongoDB ``_id``): a batch read again after a crash
inserts nothing twice, is not remembered twice by the feature state, and is routed again with
the score first stored. A transaction of the batch prepared just before (whose write may
still be under way) is routed again with that batch's score and inserted again (ignored if
already there), never scored twice.

Finding replays costs no MongoDB query in the steady state: a transaction can be stored only
if it was prepared before, and preparing it put its id in its sender's state (the last 64
sends, in Redis, saved before the write). So MongoDB is asked only about the transactions
their sender's state remembers (after a crash: the batch read again). One the state forgot
(a wallet that sent 64 more since) is caught by the insert (duplicate ``_id``) and routed with
the stored score all the same.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import orjson
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from fraudcore.features import AddressState, FeatureEngine, TxFeatures
from fraudcore.features.state import Preloaded
from fraudcore.logging import get_logger
from fraudcore.models.base import Inputs
from fraudcore.models.registry import ModelVersion, ModelWatcher
from fraudcore.schemas import (
    Label,
    ScoredTransaction,
    Transaction,
    encode,
)
from fraudcore.settings import Settings
from fraudcore.stream.dead_letters import DeadLetters
from fraudcore.stream.ports import Record
from ml_consumer import metrics

log = get_logger("ml_consumer")
DUPLICATE_KEY = 11000
SERVICE = "ml_consumer"
PENDING_RECHECK_S = 5.0  # labels kept by another instance are found within this
JSON_OPTIONS = orjson.OPT_UTC_Z  # "...T10:00:00Z", as pydantic writes it


class NoModel(RuntimeError):
    """No approved model version: scoring cannot start (the message says how to make one)."""


class Producer(Protocol):
    """Where routed messages and dead letters go (:class:`fraudcore.clients.rdkafka.RdProducer`)."""

    def send(self, topic: str, key: bytes | None = None, value: bytes | None = None) -> Any: ...

    def flush(self, timeout: float | None = None) -> None:
        """Return once everything sent is acknowledged; raise if anything was refused."""
        ...


@dataclass
class BatchResult:
    scored: int = 0
    replayed: int = 0
    dead: int = 0
    labels: int = 0
    fraud: int = 0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Routed:
    """One scored transaction, ready to write: its MongoDB document and its fraud / legit message."""

    doc: dict[str, Any]
    topic: str
    key: bytes
    value: bytes


@dataclass
class Prepared:
    """A prepared batch: what :meth:`ScoringProcessor.write` stores and sends."""

    docs: list[dict[str, Any]]  # to insert (idempotent on _id)
    messages: list[tuple[str, bytes | None, bytes]]  # (topic, key, value); the scored ones first
    scored_ids: list[str]  # the transactions scored in this batch, in the order of their messages
    scores: list[float]
    result: BatchResult


class ScoringProcessor:
    def __init__(
        self,
        settings: Settings,
        db: Database[dict[str, Any]],
        producer: Producer,
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
        self._previous: dict[str, Routed] = {}  # the batch prepared last: its write may be under way

    # --- the batch ------------------------------------------------------------------

    def process(self, records: list[Record]) -> None:
        """Both stages in one call: returns once the batch is written."""
        self.write(self.prepare(records))

    def prepare(self, records: list[Record]) -> Prepared:
        with _collector_paused():
            return self._prepare(records)

    def _prepare(self, records: list[Record]) -> Prepared:
        result = BatchResult()
        started = time.perf_counter()
        version = self.models.current()
        if version is None:
            raise NoModel(
                f"no approved model version in {self.settings.models.dir}: train one with `make models` "
                "(or `python -m retrainer train --data DIR`)"
            )
        metrics.MODEL_VERSION.info({"version": version.name})
        txs: list[Transaction] = []
        labels: list[Label] = []
        # invalid messages: sent now, flushed by this batch's write, before its commit
        dead = DeadLetters(self.producer, self.topics.dead_letters.name, SERVICE)
        for record in records:
            if record.topic == self.topics.labels.name:
                label = dead.decode(Label, record)
                if label is not None:
                    labels.append(label)
            else:
                tx = dead.decode(Transaction, record)
                if tx is not None:
                    txs.append(tx)
        result.dead = dead.count
        if dead.count:
            metrics.MESSAGES.labels("dead_letter").inc(dead.count)
        txs = list({tx.tx_id: tx for tx in txs}.values())  # a tx_id twice in one batch is scored once
        result.timings["decode"] = time.perf_counter() - started
        t = time.perf_counter()
        again = [self._previous[tx.tx_id] for tx in txs if tx.tx_id in self._previous]
        candidates = [tx for tx in txs if tx.tx_id not in self._previous]
        states = self.engine.store.load(
            {a for tx in candidates for a in (tx.sender_address, tx.receiver_address)}
        )
        loading = time.perf_counter() - t
        t = time.perf_counter()
        stored = self._already_stored([tx.tx_id for tx in candidates if _remembered(states, tx)])
        result.timings["replay check"] = time.perf_counter() - t
        fresh = [tx for tx in candidates if tx.tx_id not in stored]
        result.replayed = len(txs) - len(fresh)
        t = time.perf_counter()
        # the engine, on the states just loaded: they are not loaded twice
        engine = FeatureEngine(Preloaded(states, self.engine.store), self.engine.config)
        features = engine.transform(fresh)
        result.timings["features"] = loading + time.perf_counter() - t
        t = time.perf_counter()
        scored = self._score(fresh, features, version)
        result.timings["score"] = time.perf_counter() - t
        t = time.perf_counter()
        batch = [*scored, *again]
        messages: list[tuple[str, bytes | None, bytes]] = [(r.topic, r.key, r.value) for r in batch]
        # stored by an earlier run: routed again with the stored score
        messages += [self._stored_message(doc) for doc in stored.values()]
        result.fraud = sum(1 for topic, _, _ in messages if topic == self.topics.fraud.name)
        known = (  # a label's transaction may be in this batch or the one before, maybe not yet in MongoDB
            {r.doc["_id"]: r.doc["receiver_address"] for r in (*self._previous.values(), *batch)}
            if any(label.is_fraud for label in labels)
            else {}
        )
        self._learn(labels, known, {tx.tx_id: tx.receiver_address for tx in fresh}, result)
        self._previous = {r.doc["_id"]: r for r in batch}
        # the states were sent to Redis after the features; Redis stored them while this batch was
        # scored and encoded: the batch is prepared once Redis confirms them (or raises, retried whole)
        self.engine.store.sync()
        result.timings["labels"] = time.perf_counter() - t
        result.scored = len(scored)
        ids = [r.doc["_id"] for r in scored]
        return Prepared([r.doc for r in batch], messages, ids, [r.doc["score"] for r in scored], result)

    def write(self, work: Prepared) -> None:
        result = work.result
        t = time.perf_counter()
        already = self._store(work.docs)
        late = [i for i, tx_id in enumerate(work.scored_ids) if tx_id in already]
        if late:  # stored before, though its sender's state forgot it: routed with the stored score
            self._route_as_stored(work, late)
        result.timings["mongo"] = time.perf_counter() - t
        t = time.perf_counter()
        for topic, key, value in work.messages:
            self.producer.send(topic, key=key, value=value)
        self.producer.flush()  # raises if the broker refused anything: then nothing is committed
        result.timings["produce"] = time.perf_counter() - t
        for score in work.scores:
            metrics.SCORES.observe(score)
        metrics.MESSAGES.labels("scored").inc(result.scored)
        metrics.MESSAGES.labels("replayed").inc(result.replayed)
        metrics.MESSAGES.labels("label").inc(result.labels)
        metrics.BATCH_SECONDS.observe(sum(result.timings.values()))
        self.last = result

    def _already_stored(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        return {d["_id"]: d for d in self.transactions.find({"_id": {"$in": ids}})}

    def _score(
        self, txs: list[Transaction], features: list[TxFeatures], version: ModelVersion
    ) -> list[Routed]:
        if not txs:
            return []
        steps = int(version.manifest.get("sequence_length", self.engine.config.sequence_length))
        inputs = Inputs.of_features(features, steps)
        combined, p_xgb, p_lstm = version.score(inputs)
        threshold = version.threshold
        reasons: list[list[str]] = [[] for _ in txs]
        k = self.settings.scoring.reasons
        # explained: the flagged and those close to it (a legit transaction's "why" is rarely read, and
        # the contributions and phrases of every row were 16 % of this process's CPU; ~3 % are explained)
        wanted = np.flatnonzero(combined >= self.settings.scoring.reasons_from * threshold)
        if k and len(wanted):
            for i, why in zip(wanted.tolist(), version.explain(inputs.x[wanted], k), strict=True):
                reasons[i] = why
        now = self.clock()
        fraud, legit = self.topics.fraud.name, self.topics.legit.name
        out = []
        # from validated transactions and the model's own floats: the ScoredTransaction schema's fields,
        # without building and re-dumping a pydantic object per row (a test decodes what this writes)
        for tx, score, xgb, lstm, why in zip(
            txs, combined.tolist(), p_xgb.tolist(), p_lstm.tolist(), reasons, strict=True
        ):
            row = {
                **tx.__dict__,
                "score": score,
                "predicted_fraud": score >= threshold,
                "threshold": threshold,
                "model_version": version.name,
                "xgb_score": xgb,
                "lstm_score": lstm,
                "reasons": why,
                "scored_at": now,
            }
            value = orjson.dumps({f: v for f, v in row.items() if v is not None}, option=JSON_OPTIONS)
            doc = {"_id": row.pop("tx_id"), **row}
            out.append(Routed(doc, fraud if score >= threshold else legit, tx.key, value))
        return out

    def _store(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert ``docs``; returns the ids that were stored already (a replay)."""
        if not docs:
            return set()
        try:
            self.transactions.insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # already there (a replay): fine; anything else is not
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()

    def _route_as_stored(self, work: Prepared, late: list[int]) -> None:
        """Route the transactions at ``late`` (indexes into the scored ones) with their stored score."""
        ids = [work.scored_ids[i] for i in late]
        found = {d["_id"]: d for d in self.transactions.find({"_id": {"$in": ids}})}
        for i, tx_id in zip(late, ids, strict=True):
            work.messages[i] = self._stored_message(found[tx_id])
        result = work.result
        result.scored -= len(late)
        result.replayed += len(late)
        result.fraud = sum(1 for topic, _, _ in work.messages if topic == self.topics.fraud.name)
        gone = set(late)
        work.scores = [score for i, score in enumerate(work.scores) if i not in gone]

    def _stored_message(self, doc: dict[str, Any]) -> tuple[str, bytes | None, bytes]:
        first = ScoredTransaction.model_validate(_from_mongo(doc), strict=False)
        topic = self.topics.fraud.name if first.predicted_fraud else self.topics.legit.name
        return topic, first.key, encode(first)

    def _learn(
        self,
        labels: list[Label],
        known: dict[str, str],
        scored_receivers: dict[str, str],
        result: BatchResult,
    ) -> None:
        """Fraud labels teach the feature engine which addresses are bad (exposure features).

        ``known`` maps the transactions of this batch and of the one before (maybe not yet in
        MongoDB) to their receivers; ``scored_receivers`` those first scored in this batch.
        """
        fraud = [label for label in labels if label.is_fraud]
        marks: list[tuple[str, float]] = []
        if fraud:
            ask = [x.tx_id for x in fraud if x.tx_id not in known]
            found = {
                d["_id"]: d["receiver_address"]
                for d in (
                    self.transactions.find({"_id": {"$in": ask}}, {"receiver_address": 1}) if ask else []
                )
            }
            waiting = []
            for label in fraud:
                receiver = known.get(label.tx_id) or found.get(label.tx_id)
                if receiver is not None:
                    marks.append((receiver, label.labelled_at.timestamp()))
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


def _remembered(states: dict[str, AddressState | None], tx: Transaction) -> bool:
    """Whether the sender's state remembers this transaction: prepared before, maybe stored."""
    sender = states.get(tx.sender_address)
    return sender is not None and tx.tx_id in sender.recent_ids


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is prepared; the first allocation after it may run one.

    A batch allocates hundreds of thousands of short-lived containers (the wallets' states
    from Redis, their event lists) that reference counting frees; the collector, triggered
    every 700 allocations, would walk the live ones again and again. Run after the batch, it
    finds them gone. Measured (prepare, batches of 2,000): 155 -> 133 µs of CPU per
    transaction.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _from_mongo(doc: dict[str, Any]) -> dict[str, Any]:
    """The stored scored transaction, without what other services added to the document (labels)."""
    out = {k: v for k, v in doc.items() if k in ScoredTransaction.model_fields and v is not None}
    out["tx_id"] = doc["_id"]
    return out
