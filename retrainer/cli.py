"""`python -m retrainer [serve|run|train|evaluate]`: the retraining service, one run now, or a file."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from fraudcore.mapping import ColumnMapping, MappingError
from fraudcore.settings import Settings

EPILOG = """examples:
  python -m retrainer                                        the service: scheduled runs and requested ones
  python -m retrainer run                                    one retraining run now, from MongoDB's labels
  python -m retrainer train --data data/history              a new version under MODELS__DIR (make models)
  python -m retrainer evaluate --data data/history --out reports/evaluation
  python -m retrainer train --data transfers.csv --mapping transfers.yaml      your own labelled file
  python -m retrainer evaluate --data transfers.csv --mapping transfers.yaml --top-k 50
--data is a dataset folder (what `python -m simulator offline` or `replay --out` writes), or a CSV or
Parquet file read through a column mapping (--mapping FILE and/or --map FIELD=COLUMN, as for replay)."""


def _source(command: argparse.ArgumentParser, defaults: Settings) -> None:
    command.add_argument("--data", type=Path, required=True, help="dataset folder, or a CSV / Parquet file")
    command.add_argument("--mapping", type=Path, help="a YAML or JSON file of field: column pairs")
    command.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="map a field to a column of the file (repeat it; overrides --mapping); fields: "
        + ", ".join(ColumnMapping.model_fields),
    )
    command.add_argument(
        "--label-delay-hours",
        type=float,
        default=defaults.simulator.label_delay_hours,
        help="a file's fraud label arrives this long after its transaction, unless label_time is mapped "
        "(%(default)s, SIMULATOR__LABEL_DELAY_HOURS, as replay)",
    )
    command.add_argument("--no-progress", action="store_true")


def parser(defaults: Settings) -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m retrainer",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main.add_subparsers(dest="command", metavar="{serve,run,train,evaluate}")
    commands.add_parser("serve", help="(default) retrain on a schedule and on request")
    commands.add_parser("run", help="one retraining run now, from MongoDB; prints its record")
    train = commands.add_parser("train", help="train a version from a dataset or a file and register it")
    _source(train, defaults)
    evaluate = commands.add_parser("evaluate", help="prequential evaluation: a JSON report and PR curves")
    _source(evaluate, defaults)
    evaluate.add_argument("--out", type=Path, default=Path("reports/evaluation"), help="(%(default)s)")
    evaluate.add_argument("--folds", type=int, default=3, help="(%(default)s)")
    evaluate.add_argument(
        "--test-days", type=float, default=7.0, help="length of each test period (%(default)s)"
    )
    evaluate.add_argument(
        "--gap-hours",
        type=float,
        default=None,
        help="gap between training and test (default MODELS__LABEL_GAP_HOURS)",
    )
    evaluate.add_argument(
        "--top-k",
        type=int,
        default=100,
        help="daily alerts, counted per sender account, whose precision is reported (%(default)s)",
    )
    return main


def main(settings: Settings, argv: list[str] | None = None) -> int:
    args = parser(settings).parse_args(sys.argv[1:] if argv is None else argv)
    if args.command in (None, "serve"):
        from retrainer.service import serve

        serve(settings)
        return 0
    if args.command == "run":
        return run_once(settings)
    mapped = args.mapping is not None or bool(args.map)
    if args.data.is_dir() and not mapped:
        if not (args.data / "transactions.parquet").is_file():
            return _fail(
                f"{args.data} is not a dataset folder (no transactions.parquet); make one with "
                "`python -m simulator offline --out DIR`, or pass a CSV or Parquet file with --mapping"
            )
    elif not args.data.is_file():
        return _fail(f"{args.data}: no such file or dataset folder")
    elif not mapped:
        return _fail(
            f"{args.data} is a file: say which of its columns hold what with --mapping MAP (a YAML or JSON "
            "file of field: column pairs) or --map FIELD=COLUMN; see the README, 'Bring your own data'"
        )
    try:
        mapping = ColumnMapping.from_args(args.mapping, args.map) if mapped else None
        if args.command == "train":
            return _train(settings, args, mapping)
        return _evaluate(settings, args, mapping)
    except MappingError as exc:
        return _fail(str(exc))
    except ValueError as exc:  # too little data to train or evaluate on: the message says what is missing
        return _fail(str(exc))


def _fail(message: str) -> int:
    print(f"retrainer: {message}", file=sys.stderr)  # noqa: T201
    return 2


def _train(settings: Settings, args: Any, mapping: ColumnMapping | None) -> int:
    from fraudcore.training.pipeline import train_from_dataset, train_from_file

    progress = not args.no_progress
    if mapping is None:
        trained = train_from_dataset(settings, args.data, progress=progress)
    else:
        trained = train_from_file(settings, args.data, mapping, args.label_delay_hours, progress=progress)
    combined = trained.validation["combined"]
    where = settings.models.dir / trained.version
    verdict = "approved" if trained.approved else "NOT approved"
    print(f"{trained.version} written to {where} in {trained.seconds:.0f} s; {verdict}")  # noqa: T201
    _print_unavailable(trained.missing_fields, trained.unavailable_features)
    print("validation (combined): " + json.dumps(combined))  # noqa: T201
    return 0


def _evaluate(settings: Settings, args: Any, mapping: ColumnMapping | None) -> int:
    from fraudcore.training.evaluate import Protocol
    from fraudcore.training.pipeline import evaluate_dataset, evaluate_file

    gap = args.gap_hours if args.gap_hours is not None else settings.models.label_gap_hours
    protocol = Protocol(folds=args.folds, test_days=args.test_days, gap_hours=gap, top_k=args.top_k)
    progress = not args.no_progress
    if mapping is None:
        report, json_path, png_path = evaluate_dataset(
            settings, args.data, args.out, protocol, progress=progress
        )
    else:
        report, json_path, png_path = evaluate_file(
            settings, args.data, mapping, args.label_delay_hours, args.out, protocol, progress=progress
        )
    _print_unavailable(report["missing_fields"], report["unavailable_features"])
    for name, m in report["models"].items():
        figures = "  ".join(
            f"{label} {m[key]:.3f}"
            for label, key in (
                ("AP", "average_precision"),
                ("ROC AUC", "roc_auc"),
                ("recall@1%FPR", "recall_at_1pct_fpr"),
                ("precision@threshold", "precision_at_threshold"),
                ("recall@threshold", "recall_at_threshold"),
                (f"top-{args.top_k}/day precision", "daily_top_k_precision"),
            )
            if not math.isnan(m[key])
        )
        print(f"{name:<9} {figures}")  # noqa: T201
    print(f"report: {json_path}\nPR curves: {png_path}")  # noqa: T201
    return 0


def run_once(settings: Settings) -> int:
    """One run now (waits for nothing: if another run holds the lease, says so and exits 1)."""
    from fraudcore.bootstrap import bootstrap
    from fraudcore.clients.mongo import mongo_db, wait_mongo
    from retrainer.service import Retrainer

    bootstrap(settings, kafka=False, postgres=False)
    db = mongo_db(wait_mongo(settings, settings.stack.ready_timeout_s), settings)
    record = Retrainer(settings, db).run_now("cli")
    print(json.dumps(record.model_dump(mode="json"), indent=2))  # noqa: T201
    return {"promoted": 0, "rejected": 0, "skipped": 0}.get(record.status, 1)


def _print_unavailable(missing: Any, unavailable: Any) -> None:
    if missing:
        print(f"fields the data lacks: {', '.join(missing)}")  # noqa: T201
    if unavailable:
        print(f"features left out (their field is missing): {', '.join(unavailable)}")  # noqa: T201
