"""The feature engine as it was before its speed-up (commit d9659cd), kept as the oracle of
``test_engine_equivalence``: the engine must give the same features and leave the same state.

Only the per-transaction code is copied; the feature lists, the config and the store are the engine's own.
Its state is the state as it was then too (:class:`RowState`: event lists as ``[time, usd, peer, ...]``
rows); :func:`as_state` turns one into the engine's :class:`AddressState` to compare them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from fraudcore.features.engine import FEATURES, STEP_DECIMALS, STEP_FEATURES, FeatureConfig, TxFeatures
from fraudcore.features.state import AddressState, Events, MemoryStore, StateStore, pack_rows, unpack_rows
from fraudcore.schemas import Transaction

NAN = math.nan
HOUR, DAY = 3600.0, 86400.0
MAX_EVENTS = 200
MAX_COUNTERPARTIES = 40
MAX_DEVICES = 8
MAX_RECENT_IDS = 64


@dataclass(slots=True)
class RowState:
    """:class:`AddressState` with its event lists as rows, as it was."""

    first_seen: float
    n_sent: int = 0
    last_sent: float | None = None
    log_mean: float = 0.0
    log_m2: float = 0.0
    total_sent_usd: float = 0.0
    sent: list[list[Any]] = field(default_factory=list)  # [time, usd, receiver, was new], last 24 h
    counterparties: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    last_new_access: float | None = None
    near_threshold: list[float] = field(default_factory=list)
    sequence: bytes = b""
    n_received: int = 0
    inflow: list[list[Any]] = field(default_factory=list)  # [time, usd, sender], last 24 h
    bad_at: float | None = None
    exposed_at: float | None = None
    recent_ids: list[str] = field(default_factory=list)


def as_state(old: RowState) -> AddressState:
    values = {f.name: getattr(old, f.name) for f in fields(RowState)}
    return AddressState(**values | {"sent": Events.of_rows(old.sent), "inflow": Events.of_rows(old.inflow)})


class ReferenceEngine:
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
        changed: dict[str, RowState] = {}
        exposed: dict[str, float] = {}
        for address, at in marks:
            state = changed.get(address) or loaded.get(address) or RowState(first_seen=at)
            if state.bad_at is None or at < state.bad_at:
                state.bad_at = at
            changed[address] = state
            for entry in (*state.inflow, *state.sent):
                exposed.setdefault(entry[2], at)
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

    def _one(self, tx: Transaction, states: dict[str, RowState | None], sequences: bool) -> TxFeatures:
        t = tx.event_time.timestamp()
        usd = tx.amount_usd
        s = states.get(tx.sender_address)
        if s is None:
            s = states[tx.sender_address] = RowState(first_seen=t)
        r = states.get(tx.receiver_address)
        receiver_seen = r is not None
        if r is None:
            r = states[tx.receiver_address] = RowState(first_seen=t)
        _expire(s, t)
        _expire(r, t)

        log_usd = math.log1p(usd)
        has_history = s.n_sent > 0
        usual = math.expm1(s.log_mean) if has_history else NAN
        std = math.sqrt(s.log_m2 / (s.n_sent - 1)) if s.n_sent > 1 else NAN
        sent_1h = _last_hour(s.sent, t)
        age_days = max((t - s.first_seen) / DAY, 1.0)
        counterparties = s.counterparties
        new_counterparty = 0.0 if tx.receiver_address in counterparties else 1.0
        inflow_24h = sum(e[1] for e in s.inflow)
        threshold = self.config.reporting_threshold_usd
        near = 1.0 if 0.9 * threshold <= usd < threshold else 0.0
        r_senders_24h = {e[2] for e in r.inflow}
        r_senders_1h = {e[2] for e in _last_hour(r.inflow, t)}
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
        values = [
            log_usd,
            float(len(sent_1h)),
            float(len(s.sent)),
            math.log1p(sum(e[1] for e in s.sent)),
            math.log1p(s.n_sent),
            math.log1p(max(t - s.last_sent, 0.0)) if s.last_sent is not None else NAN,
            max(t - s.first_seen, 0.0) / HOUR,
            (usd + 1) / (usual + 1) if has_history else NAN,
            (log_usd - s.log_mean) / std if std and std > 0 else NAN,
            usd / (s.total_sent_usd / age_days + 1) if has_history else NAN,
            new_counterparty if has_history else NAN,
            float(len({e[2] for e in sent_1h if e[3]})),
            float(len({e[2] for e in sent_1h})),
            float(sum(1 for e in s.sent if e[1] == usd)),
            new_device,
            new_country,
            new_channel,
            since_new_access,
            usd / (inflow_24h + 1) if inflow_24h > 0 else NAN,
            math.log1p(inflow_24h),
            near,
            float(len(s.near_threshold)) + near,
            1.0 if receiver_seen else 0.0,
            max(t - r.first_seen, 0.0) / HOUR,
            float(len(r_senders_1h)),
            float(len(r_senders_24h)),
            math.log1p(sum(e[1] for e in r.inflow)),
            math.log1p(r.n_received),
            _lookalike(tx.receiver_address, counterparties),
            _lookalike(tx.sender_address, r.counterparties),
            1.0 if r.bad_at is not None else 0.0,
            1.0 if r.exposed_at is not None else 0.0,
            1.0 if s.bad_at is not None else 0.0,
            1.0 if s.exposed_at is not None else 0.0,
        ]
        named = dict(zip(FEATURES, values, strict=True))
        step = [
            log_usd,
            _zero(named["seconds_since_last_log"]),
            math.log(named["amount_vs_usual"]) if has_history else 0.0,
            _zero(named["new_counterparty"]),
            _zero(new_device),
            _zero(new_country),
            named["receiver_seen_before"],
            math.log1p(named["receiver_senders_24h"]),
            named["lookalike_receiver"],
            named["receiver_known_bad"],
            named["receiver_exposed"],
            min(_zero(named["pass_through"]), 5.0),
            near,
        ]
        step = [round(v, STEP_DECIMALS) for v in step]  # kept and fed to the LSTM to 4 decimals
        if (
            tx.tx_id in s.recent_ids
        ):  # a replay (the consumer restarted before committing): remembered already
            sequence = [*_rows(s)[-self.config.sequence_length + 1 :], step] if sequences else []
            return TxFeatures(tx.tx_id, values, step, pack_rows(sequence))
        self._remember(tx, t, usd, log_usd, near, s, r, step)
        return TxFeatures(tx.tx_id, values, step, s.sequence if sequences else b"")

    def _remember(
        self,
        tx: Transaction,
        t: float,
        usd: float,
        log_usd: float,
        near: float,
        s: RowState,
        r: RowState,
        step: list[float],
    ) -> None:
        _push(s.recent_ids, tx.tx_id, MAX_RECENT_IDS)
        s.n_sent += 1
        delta = log_usd - s.log_mean
        s.log_mean += delta / s.n_sent
        s.log_m2 += delta * (log_usd - s.log_mean)
        s.total_sent_usd += usd
        s.last_sent = t
        _push(s.sent, [t, usd, tx.receiver_address, int(step[3])], MAX_EVENTS)
        if tx.receiver_address in s.counterparties:
            s.counterparties.remove(tx.receiver_address)
        _push(s.counterparties, tx.receiver_address, MAX_COUNTERPARTIES)
        for value, seen in ((tx.device_id, s.devices), (tx.ip_country, s.countries)):
            if value is not None and value not in seen:
                _push(seen, value, MAX_DEVICES)
        if tx.channel is not None and tx.channel.value not in s.channels:
            s.channels.append(tx.channel.value)
        if near:
            _push(s.near_threshold, t, 50)
        rows = _rows(s)  # the state keeps them packed (as the engine does since): unpacked, pushed, packed
        _push(rows, step, self.config.sequence_length)
        s.sequence = pack_rows(rows)
        r.n_received += 1
        _push(r.inflow, [t, usd, tx.sender_address], MAX_EVENTS)
        # dealing with a known-bad address exposes the other side (one hop)
        if r.bad_at is not None and s.exposed_at is None:
            s.exposed_at = t
        if s.bad_at is not None and r.exposed_at is None:
            r.exposed_at = t


def _rows(state: RowState) -> list[list[float]]:
    return unpack_rows(state.sequence, len(STEP_FEATURES))


def _last_hour(events: list[list[Any]], t: float) -> list[list[Any]]:
    """The events of the last hour: a scan from the end, as events are kept in time order."""
    start = len(events)
    while start and events[start - 1][0] > t - HOUR:
        start -= 1
    return events[start:]


def _expire(state: RowState, t: float) -> None:
    if state.sent and state.sent[0][0] <= t - DAY:
        state.sent = [e for e in state.sent if e[0] > t - DAY]
    if state.inflow and state.inflow[0][0] <= t - DAY:
        state.inflow = [e for e in state.inflow if e[0] > t - DAY]
    if state.near_threshold and state.near_threshold[0] <= t - 7 * DAY:
        state.near_threshold = [x for x in state.near_threshold if x > t - 7 * DAY]


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
