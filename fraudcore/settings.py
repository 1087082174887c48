"""The one configuration of every service, read from the environment (and `.env`).

Every service calls :func:`get_settings` once at start-up. Nested groups map to
environment variables with a double underscore, e.g. ``KAFKA__BOOTSTRAP_SERVERS``
or ``TOPICS__TRANSACTIONS__PARTITIONS``. The defaults serve the embedded stack
(``make up``); Docker Compose overrides them through the environment.

A wrong setting fails at start-up with a message naming the variable:

>>> try:
...     load_settings(_env_file=None, api={"port": 70000})
... except SettingsError as exc:
...     print(exc)
Invalid configuration:
  API__PORT = 70000: Input should be less than or equal to 65535
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    MongoDsn,
    PostgresDsn,
    RedisDsn,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_NESTED_DELIMITER = "__"
PLACEHOLDER_SECRETS = frozenset({"changethis", "change-me", ""})
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-]+:\d{1,5}$")


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TopicSpec(_Group):
    """A Kafka topic, its partition count and the configs it is created with."""

    name: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._\-]+$")
    partitions: int = Field(default=4, ge=1, le=1024)
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)


class TopicSettings(_Group):
    """Every topic of the pipeline. Names and partition counts live only here.

    ``transactions`` has a partition for each scoring consumer that may share the work (up to
    4); the others one each, as one storage consumer reads them: a partition more is a batch
    more each producer sends per flush and a log more each fetch reads (the embedded broker's
    CPU a transaction at 5,000 tx/s: 46-49 µs with fraud 2, legit 4, labels 2; 39-44 with 1 each).
    """

    transactions: TopicSpec = TopicSpec(name="transactions", partitions=4)
    fraud: TopicSpec = TopicSpec(name="fraud", partitions=1)
    legit: TopicSpec = TopicSpec(name="legit", partitions=1)
    labels: TopicSpec = TopicSpec(name="labels", partitions=1)
    dead_letters: TopicSpec = TopicSpec(name="dead-letters", partitions=1, retention_ms=30 * 24 * 3600 * 1000)

    def all(self) -> list[TopicSpec]:
        return [self.transactions, self.fraud, self.legit, self.labels, self.dead_letters]

    @model_validator(mode="before")
    @classmethod
    def _merge_with_defaults(cls, data: Any) -> Any:
        # TOPICS__FRAUD__PARTITIONS=6 alone keeps the fraud topic's default name and retention
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for field_name, field in cls.model_fields.items():
            given = data.get(field_name)
            if isinstance(given, dict) and isinstance(field.default, TopicSpec):
                merged[field_name] = {**field.default.model_dump(), **given}
        return merged

    @model_validator(mode="after")
    def _distinct_names(self) -> TopicSettings:
        names = [t.name for t in self.all()]
        if len(set(names)) != len(names):
            raise ValueError(f"TOPICS__*__NAME must be distinct, got {names}")
        return self


class KafkaSettings(_Group):
    """Broker address and client knobs.

    The defaults suit both real Kafka and the embedded tansu broker: short group
    session timeouts (tansu holds a group join for about half of it) and no idempotent
    producer (kafka-python's fails every send after a tansu restart).
    """

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "fraud"
    session_timeout_ms: int = Field(default=6000, ge=1000)
    heartbeat_interval_ms: int = Field(default=1000, ge=100)
    request_timeout_ms: int = Field(default=30000, ge=1000)
    enable_idempotence: bool = False
    producer_linger_ms: int = Field(default=5, ge=0)
    max_poll_records: int = Field(default=2000, ge=1)
    fetch_max_wait_ms: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="how long the broker may hold a fetch; tansu holds it ~half this even with data waiting",
    )
    fetch_min_bytes: int = Field(
        default=65536,
        ge=1,
        le=50_000_000,
        description="the broker answers a fetch once it has this much (or fetch_max_wait_ms passed): "
        "fewer, fuller fetches (measured: the embedded broker's CPU a transaction -11 % at 5,000 tx/s)",
    )
    watch_every_s: float = Field(
        default=2.0, gt=0, le=300, description="how often services check the broker still has every topic"
    )
    client_debug: str = Field(
        default="",
        pattern=r"^[a-z,]*$",
        description="librdkafka debug contexts for the scorer's and storage consumer's clients "
        "(e.g. cgrp,fetch: the group protocol in their logs); empty: none",
    )
    resend_window_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="producers re-send this much output if the broker loses it (0: no)",
    )
    resend_max: int = Field(
        default=100_000, ge=0, description="at most this many recent messages kept to re-send"
    )

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        bad = [s for s in servers if not _HOST_PORT.match(s) or not 0 < int(s.rsplit(":", 1)[1]) < 65536]
        if not servers or bad:
            raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return ",".join(servers)

    @model_validator(mode="after")
    def _heartbeat_below_session(self) -> KafkaSettings:
        if self.heartbeat_interval_ms * 3 > self.session_timeout_ms:
            raise ValueError(
                "KAFKA__HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA__SESSION_TIMEOUT_MS"
            )
        return self

    @property
    def servers(self) -> list[str]:
        return self.bootstrap_servers.split(",")


class MongoSettings(_Group):
    """MongoDB connection. The embedded SecantusDB needs ``directConnection=true``."""

    uri: MongoDsn = MongoDsn("mongodb://127.0.0.1:27017/?directConnection=true")
    database: str = Field(default="fraud", min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    timeout_ms: int = Field(default=5000, ge=100)


class PostgresSettings(_Group):
    """PostgreSQL connection (a libpq URL)."""

    dsn: PostgresDsn = PostgresDsn("postgresql://fraud:fraud@127.0.0.1:5432/fraud")
    connect_timeout_s: int = Field(default=5, ge=1)

    @property
    def database(self) -> str:
        return (urlsplit(str(self.dsn)).path or "/").lstrip("/") or "postgres"


class RedisSettings(_Group):
    """Redis connection."""

    url: RedisDsn = RedisDsn("redis://127.0.0.1:6379/0")
    timeout_s: float = Field(default=5.0, gt=0)


class ModelSettings(_Group):
    """Where model versions live, and how a version is trained and approved."""

    dir: Path = Path("models")
    sequence_length: int = Field(
        default=20, ge=2, le=200, description="transactions the LSTM sees per sender"
    )
    target_alert_rate: float = Field(default=0.01, gt=0, lt=1, description="share of transactions flagged")
    target_precision: float | None = Field(
        default=None, gt=0, le=1, description="if set, the threshold aims at this precision instead"
    )
    label_gap_hours: float = Field(default=24.0, ge=0, description="gap between training data and its use")
    min_average_precision: float = Field(
        default=0.5, ge=0, le=1, description="a version below is not approved"
    )


class ApiSettings(_Group):
    """The FastAPI service."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    key: SecretStr = SecretStr("changethis")
    cors_origins: list[str] = ["*"]
    public_url: str = ""
    page_max: int = Field(default=500, ge=1, le=10_000, description="most rows one list request returns")
    ws_queue: int = Field(
        default=1000, ge=1, le=1_000_000, description="WebSocket: per-client buffer, oldest dropped"
    )
    ws_heartbeat_s: float = Field(default=15.0, gt=0, le=3600, description="WebSocket heartbeat interval")

    @property
    def url(self) -> str:
        """The address a browser or a dashboard uses to reach the API."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}"


class DashSettings(_Group):
    """The Dash live operations monitor (``python -m dash_app``), which reads Redis only."""

    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)
    refresh_ms: int = Field(default=1500, ge=250, le=60_000, description="how often the page reads Redis")
    window_minutes: int = Field(default=60, ge=5, le=360, description="the time series' span")
    alerts: int = Field(default=15, ge=1, le=200, description="latest alerts listed")

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}/"


class ScoringSettings(_Group):
    """The scoring consumer (``python -m ml_consumer``)."""

    group_id: str = Field(default="ml-consumer", min_length=1)
    batch_max_records: int = Field(
        default=4000,
        ge=1,
        le=100_000,
        description="the most records in one batch (bigger: fewer flushes and commits when behind)",
    )
    batch_max_wait_ms: int = Field(
        default=10,
        ge=0,
        le=60_000,
        description="wait for more after a batch's first record (latency at low rates)",
    )
    reload_check_s: float = Field(
        default=5.0, gt=0, description="how often to look for a newer model version"
    )
    compile_lstm: bool = Field(
        default=True,
        description="compile the LSTM with XLA once a version is loaded (~10 s of CPU in the background; "
        "then half the LSTM's CPU a row). False: TensorFlow's kernels only",
    )
    metrics_port: int = Field(default=9101, ge=0, le=65535, description="0: no metrics endpoint")
    state_ttl_days: float = Field(default=30.0, gt=0, description="an idle wallet's feature state expires")
    reasons: int = Field(default=3, ge=0, le=10, description="reasons given with a score")
    reasons_from: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="reasons for the transactions scoring at least this share of the model's threshold "
        "(flagged ones and those close to it; 0: every transaction)",
    )


class StorageSettings(_Group):
    """The storage consumer (``python -m storage_consumer``): topics into PostgreSQL, MongoDB and Redis."""

    group_id: str = Field(default="storage-consumer", min_length=1)
    batch_max_records: int = Field(default=4000, ge=1, le=100_000)
    batch_max_wait_ms: int = Field(default=20, ge=0, le=60_000)
    metrics_port: int = Field(default=9102, ge=0, le=65535, description="0: no metrics endpoint")


class LiveSettings(_Group):
    """What Redis keeps for the dashboards and the WebSocket; every key is bounded or expires."""

    prefix: str = Field(default="live:", min_length=1, max_length=40)
    recent: int = Field(default=500, ge=10, le=100_000, description="latest transactions and alerts kept")
    window_hours: float = Field(default=6.0, gt=0, le=168, description="per-minute series kept this long")
    top_wallets: int = Field(default=1000, ge=10, le=100_000, description="risky wallets kept per hour")
    channel: str = Field(default="live:scored", min_length=1, description="pub/sub channel of scored txs")


class StreamlitSettings(_Group):
    """The Streamlit analyst app (``python -m streamlit_app``), which reads through the API only."""

    host: str = "127.0.0.1"
    port: int = Field(default=8501, ge=1, le=65535)
    refresh_s: float = Field(default=5.0, ge=1, le=600, description="how often the live parts refresh")
    api_url: str = Field(default="", description="the API the app reads; empty: API__PUBLIC_URL / host:port")

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}/"


class RetrainSettings(_Group):
    """The retrainer (``python -m retrainer``): when it runs, on what, and what it takes to promote."""

    every_hours: float = Field(default=6.0, gt=0, le=24 * 30, description="interval between runs")
    cron: str | None = Field(
        default=None, description="a crontab line instead of every_hours, e.g. '0 3 * * *'"
    )
    window_hours: float = Field(
        default=72.0, gt=0, description="scored transactions pulled (by scoring time)"
    )
    max_rows: int = Field(default=300_000, ge=1000, description="at most this many transactions per run")
    holdout_fraction: float = Field(default=0.2, gt=0, lt=0.9, description="the newest part, for evaluation")
    metric: Literal["average_precision", "roc_auc", "recall_at_1pct_fpr"] = "average_precision"
    tolerance: float = Field(default=0.01, ge=0, le=1, description="how much worse than the champion passes")
    min_labels: int = Field(default=20, ge=2, description="fraud labels needed in training and holdout")
    lstm: Literal["fine_tune", "fresh"] = Field(
        default="fine_tune", description="continue the champion's LSTM, or train a new one"
    )
    fine_tune_epochs: int = Field(default=2, ge=1, le=50)
    request_poll_s: float = Field(default=5.0, gt=0, description="how often to look for requested runs")
    lock_ttl_s: float = Field(
        default=3600.0, gt=0, description="a run holding the lock longer is presumed dead"
    )


class SimulatorSettings(_Group):
    """The synthetic economy of ``python -m simulator`` (its command-line options override these)."""

    seed: int | None = Field(default=None, ge=0, description="None: a fresh seed each run, printed")
    accounts: int = Field(default=5000, ge=50, le=1_000_000)
    rate: float = Field(default=20.0, gt=0, le=100_000, description="live mode, transactions per second")
    backfill: int = Field(
        default=30_000,
        ge=0,
        description="live mode: transactions of recent history sent first, at full speed",
    )
    fraud_rate: float = Field(default=0.007, ge=0, le=0.2, description="share of transactions")
    label_delay_hours: float = Field(default=6.0, ge=0, description="median, in simulated time")
    unlabelled_fraction: float = Field(default=0.05, ge=0, le=1, description="fraud never labelled")
    reporting_threshold_usd: float = Field(default=10_000.0, gt=0)
    linger_ms: int = Field(
        default=50,
        ge=0,
        le=1000,
        description=(
            "how long the producer gathers transactions into one request: fewer, larger batches cost "
            "the broker less (tansu: ~1 ms of CPU a request), each transaction waits up to this long"
        ),
    )


class StackSettings(_Group):
    """Knobs of the embedded stack (``make up``); ignored under Docker Compose."""

    data_dir: Path = Path(".stack")
    postgres_os_user: str = Field(default="fraudpg", pattern=r"^[a-z_][a-z0-9_\-]{0,30}$")
    ready_timeout_s: float = Field(default=60.0, gt=0)


class Settings(BaseSettings):
    """Everything a service may need. Built once per process by :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_ignore_empty=True,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="ignore",
        frozen=True,
    )

    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    heartbeat_file: Path | None = Field(
        default=None, description="touched while a service's loop runs (healthchecks; fraudcore.heartbeat)"
    )

    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    mongo: MongoSettings = MongoSettings()
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    models: ModelSettings = ModelSettings()
    api: ApiSettings = ApiSettings()
    dash: DashSettings = DashSettings()
    scoring: ScoringSettings = ScoringSettings()
    storage: StorageSettings = StorageSettings()
    live: LiveSettings = LiveSettings()
    retrain: RetrainSettings = RetrainSettings()
    streamlit: StreamlitSettings = StreamlitSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    stack: StackSettings = StackSettings()

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.api.key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "API__KEY is unset or a placeholder; set a real secret when ENVIRONMENT=production"
            )
        return self

    def to_env(self) -> dict[str, str]:
        """This configuration as environment variables, for child processes to read back."""
        env: dict[str, str] = {}
        _flatten(self.model_dump(mode="json"), "", env)
        env["API__KEY"] = self.api.key.get_secret_value()  # dumped masked, handed down as it is
        return env


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}{ENV_NESTED_DELIMITER if prefix else ''}{key.upper()}", out)
    elif isinstance(value, list):
        out[prefix] = json.dumps(value)
    elif value is None:
        return  # unset: the child falls back to the same default
    else:
        out[prefix] = str(value)


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names each offending variable."""


def env_var_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable for a pydantic error location, e.g. ``KAFKA__BOOTSTRAP_SERVERS``."""
    parts = [str(p).upper() for p in loc if not str(p).isdigit()]
    return ENV_NESTED_DELIMITER.join(parts) or "(settings)"


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings, raising :class:`SettingsError` with readable lines."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            name = env_var_name(error["loc"])
            value = error.get("input")
            scalar = isinstance(value, str | int | float | bool)
            secret = any(word in name for word in ("KEY", "DSN", "URI", "URL", "PASSWORD"))
            shown = f" = {value}" if scalar and not secret else ""
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"  {name}{shown}: {message}")
        raise SettingsError("Invalid configuration:\n" + "\n".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use (never at import time)."""
    return load_settings()
