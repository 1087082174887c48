"""`python -m simulator`: live to Kafka (default), `offline` to Parquet, or `replay` a file. See `--help`."""

import sys

from fraudcore.service import run_service
from fraudcore.settings import Settings


def main(settings: Settings) -> None:
    from simulator.cli import main as cli

    sys.exit(cli(settings))


if __name__ == "__main__":
    run_service("simulator", main)
