"""`python -m retrainer train|evaluate`: train a version or evaluate on a dataset folder. See `--help`."""

import sys

from fraudcore.service import run_service
from fraudcore.settings import Settings


def main(settings: Settings) -> None:
    from retrainer.cli import main as cli

    sys.exit(cli(settings))


if __name__ == "__main__":
    run_service("retrainer", main)
