"""`python -m retrainer [serve|run|train|evaluate]`: the retraining service, one run now, or a dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fraudcore.settings import Settings

EPILOG = """examples:
  python -m retrainer                                        the service: scheduled runs and requested ones
  python -m retrainer run                                    one retraining run now, from MongoDB's labels
  python -m retrainer train --data data/history              a new version under MODELS__DIR (make models)
  python -m retrainer evaluate --data data/history --out reports/evaluation
The dataset folder is what `python -m simulator offline` (or `replay --out`) writes."""


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m retrainer",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main.add_subparsers(dest="command", metavar="{serve,run,train,evaluate}")
    commands.add_parser("serve", help="(default) retrain on a schedule and on request")
    commands.add_parser("run", help="one retraining run now, from MongoDB; prints its record")
    train = commands.add_parser("train", help="train a version from a dataset and register it")
    train.add_argument("--data", type=Path, required=True, help="dataset folder")
    train.add_argument("--no-progress", action="store_true")
    evaluate = commands.add_parser("evaluate", help="prequential evaluation: a JSON report and PR curves")
    evaluate.add_argument("--data", type=Path, required=True, help="dataset folder")
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
    evaluate.add_argument("--no-progress", action="store_true")
    return main


def main(settings: Settings, argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command in (None, "serve"):
        from retrainer.service import serve

        serve(settings)
        return 0
    if args.command == "run":
        return run_once(settings)
    if not (args.data / "transactions.parquet").is_file():
        print(  # noqa: T201
            f"retrainer: {args.data} is not a dataset folder (no transactions.parquet); make one with "
            "`python -m simulator offline --out DIR`",
            file=sys.stderr,
        )
        return 2
    from fraudcore.training.evaluate import Protocol
    from fraudcore.training.pipeline import evaluate_dataset, train_from_dataset

    if args.command == "train":
        trained = train_from_dataset(settings, args.data, progress=not args.no_progress)
        combined = trained.validation["combined"]
        where = settings.models.dir / trained.version
        verdict = "approved" if trained.approved else "NOT approved"
        print(f"{trained.version} written to {where} in {trained.seconds:.0f} s; {verdict}")  # noqa: T201
        print("validation (combined): " + json.dumps(combined))  # noqa: T201
        return 0
    gap = args.gap_hours if args.gap_hours is not None else settings.models.label_gap_hours
    protocol = Protocol(folds=args.folds, test_days=args.test_days, gap_hours=gap)
    report, json_path, png_path = evaluate_dataset(
        settings, args.data, args.out, protocol, progress=not args.no_progress
    )
    for name, m in report["models"].items():
        figures = "  ".join(
            f"{label} {m[key]:.3f}"
            for label, key in (
                ("AP", "average_precision"),
                ("ROC AUC", "roc_auc"),
                ("recall@1%FPR", "recall_at_1pct_fpr"),
                ("precision@threshold", "precision_at_threshold"),
                ("recall@threshold", "recall_at_threshold"),
            )
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
