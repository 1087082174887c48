"""The live views in Redis: what the dashboards and the WebSocket read fast, written by the storage consumer.

One class owns the key layout, so the writer (``storage_consumer``) and the readers (``api``,
``dash_app``) cannot drift apart. Every key is bounded in size or expires:

- ``recent``, ``alerts``, ``dead_letters``: lists of the latest scored transactions, flagged
  ones and dead letters (JSON, newest first), trimmed to ``LIVE__RECENT``;
- ``minute:<epoch minute>``: a hash per minute (count, fraud, USD volume, fraud USD, dead
  letters, a 20-bucket score histogram ``h0``..``h19``), expiring after ``LIVE__WINDOW_HOURS``;
- ``risky:<epoch hour>``: a sorted set of alerts per wallet (sender or receiver of a flagged
  transaction), trimmed to ``LIVE__TOP_WALLETS``, expiring like the minutes;
- ``totals``: a hash of counters since the views were created (a fixed set of fields).

Minutes are those of ``scored_at`` (wall-clock time at scoring), so the series show the
pipeline's throughput as it happens. Every scored transaction is also published on the
``LIVE__CHANNEL`` pub/sub channel, one message per batch: a JSON array of ScoredTransaction
objects (the schema of :mod:`fraudcore.schemas`).

>>> from fraudcore.settings import LiveSettings
>>> LiveViews(None, LiveSettings()).minute_key(60.0)
'live:minute:1'
>>> bucket(0.0), bucket(0.5), bucket(1.0)
(0, 10, 19)
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from fraudcore.schemas import DeadLetter, ScoredTransaction, encode
from fraudcore.settings import LiveSettings

BUCKETS = 20  # score histogram: [0, 0.05), [0.05, 0.1), ... [0.95, 1]
MINUTE_FIELDS = ("n", "fraud", "usd", "fraud_usd", "dead")


def bucket(score: float) -> int:
    return min(max(int(score * BUCKETS), 0), BUCKETS - 1)


@dataclass
class Minute:
    """One minute of the pipeline (``at``: its start, Unix seconds)."""

    at: int
    n: int = 0
    fraud: int = 0
    usd: float = 0.0
    fraud_usd: float = 0.0
    dead: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * BUCKETS)


@dataclass
class Snapshot:
    """What a dashboard shows at a glance, over the last ``minutes`` minutes."""

    minutes: list[Minute]
    totals: dict[str, float]
    histogram: list[int]
    transactions: int
    fraud: int
    fraud_rate: float
    volume_usd: float
    fraud_usd: float
    per_second: float  # over the last complete minute
    dead_letters: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "transactions": self.transactions,
            "fraud": self.fraud,
            "fraud_rate": self.fraud_rate,
            "volume_usd": self.volume_usd,
            "fraud_usd": self.fraud_usd,
            "per_second": self.per_second,
            "dead_letters": self.dead_letters,
            "histogram": self.histogram,
            "totals": self.totals,
            "minutes": [m.__dict__ for m in self.minutes],
        }


@dataclass
class Pipeline:
    """The pipeline's health as the latest stored transactions show it (``sample`` of them).

    ``freshness_s``: seconds since the newest stored transaction was scored (a stalled simulator,
    scoring consumer or storage consumer makes it grow). ``delays_s``: produced → scored of each
    sampled transaction that carries ``produced_at``, i.e. how long it waited in Kafka and in the
    scoring consumer: the scoring consumer's lag, in seconds rather than offsets.
    """

    sampled: int
    newest_scored_at: float | None
    freshness_s: float | None
    model_version: str | None
    model_versions: dict[str, int]
    threshold: float | None
    delays_s: list[float]
    dead_letters_total: int
    last_dead_letter: dict[str, Any] | None

    def delay_quantile(self, q: float) -> float | None:
        """A quantile of ``delays_s`` (nearest rank), None without any.

        >>> Pipeline(3, None, None, None, {}, None, [0.3, 0.1, 0.2], 0, None).delay_quantile(0.5)
        0.2
        """
        if not self.delays_s:
            return None
        ordered = sorted(self.delays_s)
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class LiveViews:
    def __init__(self, redis: Any, settings: LiveSettings, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.settings = settings
        self.prefix = settings.prefix
        self.clock = clock
        self.ttl_s = int(settings.window_hours * 3600) + 120

    # --- key names ------------------------------------------------------------------

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def minute_key(self, unix_s: float) -> str:
        return self.key(f"minute:{int(unix_s // 60)}")

    def risky_key(self, unix_s: float) -> str:
        return self.key(f"risky:{int(unix_s // 3600)}")

    # --- writing (the storage consumer) ---------------------------------------------

    def record(self, scored: list[ScoredTransaction], encoded: list[bytes] | None = None) -> None:
        """Count, keep and publish a batch of newly stored transactions (one round trip)."""
        if not scored:
            return
        encoded = encoded if encoded is not None else [encode(s) for s in scored]
        keep = self.settings.recent
        minutes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        risky: dict[str, Counter[str]] = defaultdict(Counter)
        totals: dict[str, float] = defaultdict(float)
        alerts: list[bytes] = []
        for tx, raw in zip(scored, encoded, strict=True):
            at = tx.scored_at.timestamp()
            m = minutes[self.minute_key(at)]
            m["n"] += 1
            m["usd"] += tx.amount_usd
            m[f"h{bucket(tx.score)}"] += 1
            if tx.predicted_fraud:
                m["fraud"] += 1
                m["fraud_usd"] += tx.amount_usd
                alerts.append(raw)
                hour = risky[self.risky_key(at)]
                hour[tx.sender_address] += 1
                hour[tx.receiver_address] += 1
        for m in minutes.values():
            for name in MINUTE_FIELDS[:4]:
                totals[name] += m[name]
        pipe = self.redis.pipeline(transaction=False)
        # LPUSH puts the last argument first: oldest first in, newest ends at the head
        pipe.lpush(self.key("recent"), *encoded[-keep:])
        pipe.ltrim(self.key("recent"), 0, keep - 1)
        if alerts:
            pipe.lpush(self.key("alerts"), *alerts[-keep:])
            pipe.ltrim(self.key("alerts"), 0, keep - 1)
        for key, counts in minutes.items():
            _add(pipe, key, counts)
            pipe.expire(key, self.ttl_s)
        for key, wallets in risky.items():
            for wallet, n in wallets.items():
                pipe.zincrby(key, n, wallet)
            pipe.zremrangebyrank(key, 0, -self.settings.top_wallets - 1)
            pipe.expire(key, self.ttl_s)
        _add(pipe, self.key("totals"), totals)
        pipe.hsetnx(self.key("totals"), "since", self.clock())
        pipe.publish(self.settings.channel, b"[" + b",".join(encoded) + b"]")
        pipe.execute()

    def record_dead_letters(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        keep = self.settings.recent
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self.key("dead_letters"), *[encode(d) for d in letters[-keep:]])
        pipe.ltrim(self.key("dead_letters"), 0, keep - 1)
        per_minute = Counter(self.minute_key(d.failed_at.timestamp()) for d in letters)
        for key, n in per_minute.items():
            pipe.hincrby(key, "dead", n)
            pipe.expire(key, self.ttl_s)
        pipe.hincrby(self.key("totals"), "dead", len(letters))
        pipe.execute()

    # --- reading (the API, the dashboards) ------------------------------------------

    def recent(self, limit: int = 50, alerts_only: bool = False) -> list[dict[str, Any]]:
        raw = self.redis.lrange(self.key("alerts" if alerts_only else "recent"), 0, max(limit, 1) - 1)
        return [orjson.loads(r) for r in raw]

    def dead_letters(self, limit: int = 50) -> list[dict[str, Any]]:
        return [orjson.loads(r) for r in self.redis.lrange(self.key("dead_letters"), 0, max(limit, 1) - 1)]

    def minutes(self, count: int = 60) -> list[Minute]:
        """The last ``count`` minutes, oldest first, the current (incomplete) one last."""
        now = int(self.clock() // 60)
        starts = list(range(now - count + 1, now + 1))
        pipe = self.redis.pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(self.key(f"minute:{start}"))
        out = []
        for start, fields in zip(starts, pipe.execute(), strict=True):
            f = {k.decode(): float(v) for k, v in fields.items()}
            out.append(
                Minute(
                    at=start * 60,
                    n=int(f.get("n", 0)),
                    fraud=int(f.get("fraud", 0)),
                    usd=f.get("usd", 0.0),
                    fraud_usd=f.get("fraud_usd", 0.0),
                    dead=int(f.get("dead", 0)),
                    histogram=[int(f.get(f"h{i}", 0)) for i in range(BUCKETS)],
                )
            )
        return out

    def totals(self) -> dict[str, float]:
        return {k.decode(): float(v) for k, v in self.redis.hgetall(self.key("totals")).items()}

    def snapshot(self, minutes: int = 60) -> Snapshot:
        series = self.minutes(minutes)
        n = sum(m.n for m in series)
        fraud = sum(m.fraud for m in series)
        last_complete = series[-2] if len(series) > 1 else series[-1]
        return Snapshot(
            minutes=series,
            totals=self.totals(),
            histogram=[sum(m.histogram[i] for m in series) for i in range(BUCKETS)],
            transactions=n,
            fraud=fraud,
            fraud_rate=fraud / n if n else 0.0,
            volume_usd=sum(m.usd for m in series),
            fraud_usd=sum(m.fraud_usd for m in series),
            per_second=last_complete.n / 60,
            dead_letters=sum(m.dead for m in series),
        )

    def pipeline(self, sample: int = 200) -> Pipeline:
        """Model version, freshness and scoring delay from the latest ``sample`` stored transactions."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.lrange(self.key("recent"), 0, max(sample, 1) - 1)
        pipe.lindex(self.key("dead_letters"), 0)
        pipe.hget(self.key("totals"), "dead")
        raw, last_dead, dead = pipe.execute()
        recent = [orjson.loads(r) for r in raw]
        versions = Counter(str(tx["model_version"]) for tx in recent)
        delays = []
        for tx in recent:
            if tx.get("produced_at"):
                delays.append(_unix(tx["scored_at"]) - _unix(tx["produced_at"]))
        newest = max((_unix(tx["scored_at"]) for tx in recent), default=None)
        return Pipeline(
            sampled=len(recent),
            newest_scored_at=newest,
            freshness_s=max(0.0, self.clock() - newest) if newest is not None else None,
            model_version=str(recent[0]["model_version"]) if recent else None,
            model_versions=dict(versions.most_common()),
            threshold=float(recent[0]["threshold"]) if recent else None,
            delays_s=delays,
            dead_letters_total=int(dead or 0),
            last_dead_letter=orjson.loads(last_dead) if last_dead else None,
        )

    def risky_wallets(self, limit: int = 20, hours: int = 24) -> list[tuple[str, int]]:
        """Wallets on either side of the most alerts over the last ``hours`` (within the window kept)."""
        now = self.clock()
        hours = max(1, min(hours, int(self.settings.window_hours) + 1))
        pipe = self.redis.pipeline(transaction=False)
        for h in range(hours):
            pipe.zrevrange(self.risky_key(now - h * 3600), 0, limit * 5, withscores=True)
        counts: Counter[str] = Counter()
        for rows in pipe.execute():
            for wallet, n in rows:
                counts[wallet.decode()] += int(n)
        return counts.most_common(limit)

    def keys(self) -> list[bytes]:
        """Every key the views own."""
        return list(self.redis.scan_iter(match=f"{self.prefix}*", count=500))


def decode_published(message: bytes) -> list[dict[str, Any]]:
    """One pub/sub message of the ``LIVE__CHANNEL``: the batch's scored transactions as dicts."""
    batch = orjson.loads(message)
    return batch if isinstance(batch, list) else [batch]


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _add(pipe: Any, key: str, counts: dict[str, float]) -> None:
    for name, value in counts.items():
        if name.endswith("usd"):
            pipe.hincrbyfloat(key, name, value)
        else:
            pipe.hincrby(key, name, int(value))
