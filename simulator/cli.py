"""The simulator's command line: ``live`` (the default), ``offline`` and ``replay``."""

from __future__ import annotations

import argparse
import random
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fraudcore.logging import get_logger
from fraudcore.mapping import ColumnMapping, MappingError
from fraudcore.schemas import describe
from fraudcore.settings import Settings, SimulatorSettings
from simulator.economy import Economy
from simulator.typologies import TYPOLOGIES

log = get_logger("simulator")

EPILOG = """examples:
  python -m simulator                                   live to Kafka at SIMULATOR__RATE tx/s, until stopped
  python -m simulator live --rate 2000 --count 100000   live, 100k transactions at 2,000 tx/s
  python -m simulator offline --out data/history --count 1000000 --seed 7
  python -m simulator replay transfers.csv --map sender_address=from --map receiver_address=to \\
      --map amount=value --map event_time=timestamp --map label=is_fraud --speed 60

fraud typologies: """ + ", ".join(TYPOLOGIES)


def parser(defaults: SimulatorSettings) -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m simulator",
        description="A synthetic crypto economy with fraud, to Kafka or Parquet; or a replay of your file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    economy = argparse.ArgumentParser(add_help=False)
    group = economy.add_argument_group("the economy (defaults from SIMULATOR__* settings)")
    group.add_argument(
        "--seed", type=int, default=defaults.seed, help="same seed, same stream (default: random)"
    )
    group.add_argument(
        "--accounts", type=int, default=defaults.accounts, help="customer wallets (%(default)s)"
    )
    group.add_argument(
        "--fraud-rate",
        type=float,
        default=defaults.fraud_rate,
        help="share of transactions that are fraud (%(default)s)",
    )
    group.add_argument(
        "--label-delay-hours",
        type=float,
        default=defaults.label_delay_hours,
        help="median delay of a fraud label, simulated hours (%(default)s)",
    )
    group.add_argument(
        "--unlabelled-fraction",
        type=float,
        default=defaults.unlabelled_fraction,
        help="share of fraud never labelled (%(default)s)",
    )
    group.add_argument(
        "--start",
        type=_time,
        default=None,
        help="simulated start time, ISO 8601 (live: now; offline: 30 days ago, midnight UTC)",
    )

    commands = main.add_subparsers(dest="command", metavar="{live,offline,replay}")
    live = commands.add_parser("live", parents=[economy], help="produce to Kafka at a target rate (default)")
    live.add_argument(
        "--rate", type=float, default=defaults.rate, help="transactions per second (%(default)s)"
    )
    live.add_argument("--count", type=int, default=None, help="stop after this many transactions")
    live.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    live.add_argument(
        "--backfill",
        type=int,
        default=defaults.backfill,
        help="transactions of recent history sent first at full speed, so the scorer starts warm "
        "(%(default)s)",
    )

    offline = commands.add_parser("offline", parents=[economy], help="write a Parquet dataset")
    offline.add_argument("--out", type=Path, required=True, help="output directory")
    offline.add_argument("--count", type=int, default=1_000_000, help="transactions (%(default)s)")
    offline.add_argument("--no-progress", action="store_true", help="no progress bar")

    replay = commands.add_parser(
        "replay", help="replay your own CSV or Parquet file through a column mapping"
    )
    replay.add_argument("file", type=Path)
    replay.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="map a transaction field to a column (repeat it); fields: "
        + ", ".join(ColumnMapping.model_fields),
    )
    replay.add_argument("--mapping", type=Path, help="a YAML or JSON file of field: column pairs")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=_speed,
        default=None,
        help="replay the file's own clock this many times faster (60: an hour a minute; max: as fast as "
        "it can, the default)",
    )
    pace.add_argument(
        "--rate", type=float, default=0.0, help="transactions per second instead (0: as fast as it can)"
    )
    replay.add_argument("--out", type=Path, help="write a Parquet dataset here instead of producing to Kafka")
    replay.add_argument("--rejects", type=Path, help="where rejected rows go (default: FILE.rejects.csv)")
    return main


def _speed(text: str) -> float:
    if text.strip().lower() in {"max", "inf", "0"}:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a factor (60, 0.5) or max, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return value


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main(settings: Settings, argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in {"-h", "--help"}):
        args_list = ["live", *args_list]
    args = parser(settings.simulator).parse_args(args_list)
    if args.command == "replay":
        return _replay(settings, args)

    config = settings.simulator.model_copy(
        update={
            "accounts": args.accounts,
            "fraud_rate": args.fraud_rate,
            "label_delay_hours": args.label_delay_hours,
            "unlabelled_fraction": args.unlabelled_fraction,
        }
    )
    try:
        config = SimulatorSettings.model_validate(config.model_dump())  # re-check the overridden values
    except ValidationError as exc:
        print(f"simulator: {describe(exc).replace('_', '-')}", file=sys.stderr)  # noqa: T201
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    if args.command == "offline":
        from simulator.output import write_offline

        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        economy = Economy(config, seed, args.start or today - timedelta(days=30))
        summary = write_offline(economy, args.out, args.count, progress=not args.no_progress)
        print(summary.render())  # noqa: T201
        print(f"dataset: {args.out}")  # noqa: T201
        return 0

    from fraudcore.clients.kafka import ensure_topics, wait_kafka
    from simulator.output import produce_live

    admin = wait_kafka(settings)
    ensure_topics(admin, [settings.topics.transactions, settings.topics.labels])
    admin.close()
    economy = Economy(config, seed, args.start or datetime.now(UTC), stamp_produced_at=True)
    if args.start is None and args.backfill:  # start the clock early enough that the backfill ends about now
        economy.start -= timedelta(seconds=args.backfill / economy.natural_rate)
    log.info(
        "producing",
        topic=settings.topics.transactions.name,
        rate=args.rate,
        seed=seed,
        backfill=args.backfill,
    )
    _stop_on_sigterm()
    summary = produce_live(
        economy, settings, args.rate, count=args.count, duration_s=args.duration, backfill=args.backfill
    )
    print(summary.render())  # noqa: T201
    return 0


def _replay(settings: Settings, args: Any) -> int:
    from simulator.replay import replay

    try:
        mapping = ColumnMapping.from_args(args.mapping, args.map)
        if args.out is None:
            from fraudcore.clients.kafka import ensure_topics, wait_kafka

            admin = wait_kafka(settings)
            ensure_topics(admin, [settings.topics.transactions, settings.topics.labels])
            admin.close()
        summary = replay(
            args.file,
            mapping,
            settings,
            rate=args.rate,
            speed=args.speed or 0.0,
            out=args.out,
            rejects=args.rejects,
        )
    except MappingError as exc:
        print(f"simulator replay: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print(summary.render())  # noqa: T201
    return 1 if summary.rejected and not summary.produced else 0


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
