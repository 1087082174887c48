"""Bootstrapping is idempotent: a second run, as every service does at start, changes nothing."""

from __future__ import annotations

from fraudcore.bootstrap import bootstrap
from fraudcore.settings import Settings


def test_a_second_bootstrap_changes_nothing(settings: Settings) -> None:
    report = bootstrap(settings, timeout_s=10)
    assert report.created_topics == []
    assert report.applied_migrations == []
