"""The feature engine: one time-ordered pass over transactions, each featurised from the past only.

For every transaction the engine first computes its features from what the sender and
the receiver did *before* it (and from the labels that had arrived by then), then adds
the transaction to their memory. The same code trains (state in memory) and scores
(state in Redis); only the :class:`~fraudcore.features.state.StateStore` differs.

Two outputs per transaction:

* ``values``: the aggregate features, in :data:`FEATURES` order, for XGBoost;
  ``nan`` where a feature has no meaning yet (no history) or its field is missing.
* ``sequence``: the sender's last ``sequence_length`` per-transaction vectors
  (:data:`STEP_FEATURES`, to :data:`STEP_DECIMALS` decimals), oldest first, this transaction
  last, for the LSTM: packed as float32 rows (:func:`~fraudcore.features.state.pack_rows`),
  as the LSTM reads them; ``steps()`` unpacks them.

>>> from datetime import UTC, datetime, timedelta
>>> from fraudcore.schemas import Transaction
>>> engine = FeatureEngine(MemoryStore())
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> def tx(i, usd, to="0xshop"):
...     return Transaction(tx_id=f"t{i}", event_time=t0 + timedelta(minutes=i), sender_account_id="a",
...                        sender_address="0xme", receiver_address=to, amount=usd, amount_usd=usd)
>>> rows = engine.transform([tx(0, 100), tx(1, 110), tx(2, 1400, to="0xnew")])
>>> row = rows[-1].named()
>>> round(row["amount_vs_usual"], 1), row["new_counterparty"], row["sender_tx_1h"]
(13.2, 1.0, 2.0)
>>> steps = rows[-1].steps()
>>> len(steps), len(steps[0]) == len(STEP_FEATURES), len(rows[-1].sequence) == 3 * STEP_BYTES
(3, True, True)
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fraudcore.features.state import AddressState, MemoryStore, StateStore, last_rows, unpack_rows
from fraudcore.schemas import Transaction
from fraudcore.settings import Settings

NAN = math.nan
HOUR, DAY = 3600.0, 86400.0
MAX_EVENTS = 200  # per window list, so a busy exchange address stays a bounded record
MAX_COUNTERPARTIES = 40
MAX_DEVICES = 8
MAX_RECENT_IDS = 64
# the step vectors are kept (in the sender's state, in Redis) and fed to the LSTM to this many
# decimals: full-precision floats made the state's JSON twice as slow to write (15.6 vs 7.8 µs a
# transaction, measured) and 25 % longer, for digits float32 and the LSTM cannot use
STEP_DECIMALS = 4

FEATURES: tuple[str, ...] = (
    "log_amount_usd",
    "sender_tx_1h",
    "sender_tx_24h",
    "sender_usd_24h_log",
    "sender_history_log",
    "seconds_since_last_log",
    "sender_age_hours",
    "amount_vs_usual",
    "amount_zscore",
    "share_of_daily_volume",
    "new_counterparty",
    "new_receivers_1h",
    "distinct_receivers_1h",
    "repeat_amount_24h",
    "new_device",
    "new_country",
    "new_channel",
    "hours_since_new_access",
    "pass_through",
    "sender_inflow_24h_log",
    "near_threshold",
    "near_threshold_7d",
    "receiver_seen_before",
    "receiver_age_hours",
    "receiver_senders_1h",
    "receiver_senders_24h",
    "receiver_inflow_24h_log",
    "receiver_history_log",
    "lookalike_receiver",
    "lookalike_sender",
    "receiver_known_bad",
    "receiver_exposed",
    "sender_known_bad",
    "sender_exposed",
)
# what each transaction contributes to its sender's sequence (the LSTM's time steps)
STEP_FEATURES: tuple[str, ...] = (
    "log_amount_usd",
    "seconds_since_last_log",
    "amount_vs_usual_log",
    "new_counterparty",
    "new_device",
    "new_country",
    "receiver_seen_before",
    "receiver_senders_24h_log",
    "lookalike_receiver",
    "receiver_known_bad",
    "receiver_exposed",
    "pass_through",
    "near_threshold",
)
# fields of a transaction that some features (and the step features of the same name) need; a file
# without them leaves those features out of its model (fraudcore.models.base.Columns)
OPTIONAL_INPUTS: dict[str, tuple[str, ...]] = {
    "device_id": ("new_device", "hours_since_new_access"),
    "ip_country": ("new_country", "hours_since_new_access"),
    "channel": ("new_channel",),
}
ENGINE_VERSION = 1
# one step vector packed as pack_rows packs a row (ROW_DTYPE: float32, little-endian), in C
_STEP = struct.Struct("<" + "f" * len(STEP_FEATURES))
STEP_BYTES = _STEP.size


def unavailable(missing_fields: Iterable[str]) -> set[str]:
    """The feature and step names that need one of ``missing_fields``: a model leaves them out.

    >>> sorted(unavailable(["channel", "ip_country"]))
    ['hours_since_new_access', 'new_channel', 'new_country']
    """
    return {name for field in missing_fields for name in OPTIONAL_INPUTS.get(field, ())}


def schema_version(features: Sequence[str] = FEATURES, steps: Sequence[str] = STEP_FEATURES) -> str:
    """A fingerprint of the feature definitions; a model trained on other features is refused."""
    text = f"{ENGINE_VERSION}|{','.join(features)}|{','.join(steps)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    sequence_length: int = 20
    reporting_threshold_usd: float = 10_000.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FeatureConfig:
        return cls(settings.models.sequence_length, settings.simulator.reporting_threshold_usd)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 0.7 µs against 0.2, per transaction
class TxFeatures:
    tx_id: str
    values: list[float]
    step: list[float]  # this transaction's own vector (the last of ``sequence``)
    sequence: bytes  # the sender's last step vectors, this one last, packed (pack_rows)

    def named(self) -> dict[str, float]:
        return dict(zip(FEATURES, self.values, strict=True))

    def steps(self) -> list[list[float]]:
        """``sequence`` unpacked: a list of step vectors (float32 values), oldest first."""
        return unpack_rows(self.sequence, len(self.step))


class FeatureEngine:
    """Featurises transactions in time order and remembers them; also learns labels as they arrive."""

    def __init__(self, store: StateStore | None = None, config: FeatureConfig | None = None) -> None:
        self.store = store if store is not None else MemoryStore()
        self.config = config or FeatureConfig()

    def transform(self, txs: Sequence[Transaction], sequences: bool = True) -> list[TxFeatures]:
        """Features of each transaction (in the given order, which must be time order), then remember them.

        ``sequences=False`` leaves ``TxFeatures.sequence`` empty (training rebuilds sequences
        from the step vectors, see :mod:`fraudcore.training.history`).
        """
        addresses = {a for tx in txs for a in (tx.sender_address, tx.receiver_address)}
        states = self.store.load(addresses)
        out = [self._one(tx, states, sequences) for tx in txs]
        self.store.save({a: s for a, s in states.items() if s is not None})
        return out

    def learn_labels(self, fraud: Iterable[tuple[str, float]]) -> None:
        """Mark receivers of labelled fraud as known bad from the label's arrival time (Unix seconds).

        Whoever dealt with them in the last day becomes exposed (one hop).
        """
        marks = list(fraud)
        if not marks:
            return
        loaded = self.store.load(a for a, _ in marks)
        changed: dict[str, AddressState] = {}
        exposed: dict[str, float] = {}
        for address, at in marks:
            state = changed.get(address) or loaded.get(address) or AddressState(first_seen=at)
            if state.bad_at is None or at < state.bad_at:
                state.bad_at = at
            changed[address] = state
            for peer in (*state.inflow.peers, *state.sent.peers):
                exposed.setdefault(peer, at)
        others = self.store.load(a for a in exposed if a not in changed)
        for address, at in exposed.items():
            neighbour = changed.get(address) or others.get(address)
            if neighbour is None:
                continue
            if neighbour.exposed_at is None:
                neighbour.exposed_at = at
            changed[address] = neighbour
        self.store.save(changed)

    # --- one transaction ------------------------------------------------------------

    def _one(self, tx: Transaction, states: dict[str, AddressState | None], sequences: bool) -> TxFeatures:
        # The scorer's hot path: sums, sets and filters over the event lists run as C-level map /
        # compress rather than generator expressions (same values, added in the same order).
        t = tx.event_time.timestamp()
        usd = tx.amount_usd
        sender, receiver = tx.sender_address, tx.receiver_address
        s = states.get(sender)
        if s is None:
            s = states[sender] = AddressState(first_seen=t)
        r = states.get(receiver)
        receiver_seen = r is not None
        if r is None:
            r = states[receiver] = AddressState(first_seen=t)
        _expire(s, t)
        _expire(r, t)
        sent, inflow, r_inflow = s.sent, s.inflow, r.inflow

        log_usd = math.log1p(usd)
        n_sent = s.n_sent
        has_history = n_sent > 0
        std = math.sqrt(s.log_m2 / (n_sent - 1)) if n_sent > 1 else NAN
        hour = sent.since(t - HOUR)  # where the last hour's sends start
        sent_peers_1h = sent.peers[hour:]
        sent_usd = sent.usd
        age_days = max((t - s.first_seen) / DAY, 1.0)
        counterparties = s.counterparties
        inflow_24h = sum(inflow.usd)
        threshold = self.config.reporting_threshold_usd
        near = 1.0 if 0.9 * threshold <= usd < threshold else 0.0
        r_senders_24h = float(len(set(r_inflow.peers)))
        new_device = _new(tx.device_id, s.devices, has_history)
        new_country = _new(tx.ip_country, s.countries, has_history)
        new_channel = _new(tx.channel.value if tx.channel else None, s.channels, has_history)
        if tx.device_id is None and tx.ip_country is None:
            since_new_access = NAN
        else:
            if new_device == 1.0 or new_country == 1.0:
                s.last_new_access = t
            since_new_access = (
                max(t - s.last_new_access, 0.0) / HOUR if s.last_new_access is not None else 1e4
            )
        since_last = math.log1p(max(t - s.last_sent, 0.0)) if s.last_sent is not None else NAN
        if has_history:
            vs_usual = (usd + 1) / (math.expm1(s.log_mean) + 1)
            new_counterparty = 0.0 if receiver in counterparties else 1.0
        else:
            vs_usual = new_counterparty = NAN
        pass_through = usd / (inflow_24h + 1) if inflow_24h > 0 else NAN
        receiver_seen_before = 1.0 if receiver_seen else 0.0
        lookalike_receiver = _lookalike(receiver, counterparties)
        receiver_known_bad = 1.0 if r.bad_at is not None else 0.0
        receiver_exposed = 1.0 if r.exposed_at is not None else 0.0
        values = [
            log_usd,
            float(len(sent_peers_1h)),
            float(len(sent)),
            math.log1p(sum(sent_usd)),
            math.log1p(n_sent),
            since_last,
            max(t - s.first_seen, 0.0) / HOUR,
            vs_usual,
            (log_usd - s.log_mean) / std if std and std > 0 else NAN,
            usd / (s.total_sent_usd / age_days + 1) if has_history else NAN,
            new_counterparty,
            float(len(sent.new_peers(hour))),
            float(len(set(sent_peers_1h))),
            float(sent_usd.count(usd)),
            new_device,
            new_country,
            new_channel,
            since_new_access,
            pass_through,
            math.log1p(inflow_24h),
            near,
            float(len(s.near_threshold)) + near,
            receiver_seen_before,
            max(t - r.first_seen, 0.0) / HOUR,
            float(len(set(r_inflow.peers[r_inflow.since(t - HOUR) :]))),
            r_senders_24h,
            math.log1p(sum(r_inflow.usd)),
            math.log1p(r.n_received),
            lookalike_receiver,
            _lookalike(sender, r.counterparties),
            receiver_known_bad,
            receiver_exposed,
            1.0 if s.bad_at is not None else 0.0,
            1.0 if s.exposed_at is not None else 0.0,
        ]
        step = [
            round(log_usd, STEP_DECIMALS),
            round(_zero(since_last), STEP_DECIMALS),
            round(math.log(vs_usual), STEP_DECIMALS) if has_history else 0.0,
            _zero(new_counterparty),
            _zero(new_device),
            _zero(new_country),
            receiver_seen_before,
            round(math.log1p(r_senders_24h), STEP_DECIMALS),
            lookalike_receiver,
            receiver_known_bad,
            receiver_exposed,
            round(min(_zero(pass_through), 5.0), STEP_DECIMALS),
            near,
        ]
        row = _STEP.pack(*step)
        length = self.config.sequence_length
        if (
            tx.tx_id in s.recent_ids
        ):  # a replay (the consumer restarted before committing): remembered already
            sequence = last_rows(s.sequence, length - 1, len(step)) + row if sequences else b""
            return TxFeatures(tx.tx_id, values, step, sequence)
        self._remember(tx, t, usd, log_usd, near, s, r, step)
        s.sequence = last_rows(s.sequence + row, length, len(step))
        return TxFeatures(tx.tx_id, values, step, s.sequence if sequences else b"")

    def _remember(
        self,
        tx: Transaction,
        t: float,
        usd: float,
        log_usd: float,
        near: float,
        s: AddressState,
        r: AddressState,
        step: list[float],
    ) -> None:
        receiver = tx.receiver_address
        _push(s.recent_ids, tx.tx_id, MAX_RECENT_IDS)
        s.n_sent += 1
        delta = log_usd - s.log_mean
        s.log_mean += delta / s.n_sent
        s.log_m2 += delta * (log_usd - s.log_mean)
        s.total_sent_usd += usd
        s.last_sent = t
        s.sent.push(t, usd, receiver, int(step[3]), MAX_EVENTS)
        counterparties = s.counterparties
        if receiver in counterparties:
            counterparties.remove(receiver)
        _push(counterparties, receiver, MAX_COUNTERPARTIES)
        if tx.device_id is not None and tx.device_id not in s.devices:
            _push(s.devices, tx.device_id, MAX_DEVICES)
        if tx.ip_country is not None and tx.ip_country not in s.countries:
            _push(s.countries, tx.ip_country, MAX_DEVICES)
        if tx.channel is not None and tx.channel.value not in s.channels:
            s.channels.append(tx.channel.value)
        if near:
            _push(s.near_threshold, t, 50)
        r.n_received += 1
        r.inflow.push(t, usd, tx.sender_address, 0, MAX_EVENTS)
        # dealing with a known-bad address exposes the other side (one hop)
        if r.bad_at is not None and s.exposed_at is None:
            s.exposed_at = t
        if s.bad_at is not None and r.exposed_at is None:
            r.exposed_at = t


def _expire(state: AddressState, t: float) -> None:
    """Drop the events older than a day (near-threshold times: a week), wherever they are in the list."""
    day_ago = t - DAY
    if state.sent and state.sent.times[0] <= day_ago:
        state.sent.drop_until(day_ago)
    if state.inflow and state.inflow.times[0] <= day_ago:
        state.inflow.drop_until(day_ago)
    week_ago = t - 7 * DAY
    if state.near_threshold and state.near_threshold[0] <= week_ago:
        state.near_threshold = [x for x in state.near_threshold if x > week_ago]


def _push(items: list, value: object, limit: int) -> None:  # type: ignore[type-arg]
    items.append(value)
    if len(items) > limit:
        del items[0]


def _new(value: str | None, seen: list[str], has_history: bool) -> float:
    if value is None:
        return NAN
    if not has_history or not seen:
        return 0.0
    return 0.0 if value in seen else 1.0


def _zero(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def fingerprint(address: str) -> str:
    """What a hurried eye checks: the first and last characters (after a 0x / bc1q prefix)."""
    body = address[2:] if address.startswith("0x") else address[4:] if address.startswith("bc1q") else address
    return body[:4] + "…" + body[-4:]


def _lookalike(address: str, known: list[str]) -> float:
    """1 when ``address`` is not among ``known`` but looks like one of them (address poisoning)."""
    if address in known or len(address) < 12:
        return 0.0
    tail = address[-4:]
    if tail + "\n" not in "\n".join(known) + "\n":  # no known address ends the same: the common case, in C
        return 0.0
    mark = fingerprint(address)
    return 1.0 if any(k.endswith(tail) and fingerprint(k) == mark for k in known) else 0.0
