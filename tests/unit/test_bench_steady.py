"""`make bench`'s steady rate: the input rate when the pipeline keeps up, its own rate when it does not."""

from __future__ import annotations

import pytest

from bench.end_to_end import by_second, steady


def test_a_pipeline_that_keeps_up_in_batches_scores_the_input_rate() -> None:
    # 0.4 s behind, plus the sawtooth of batches of 4,000: received / (20 s + 0.7 s) would say 4,831/s
    latencies: list[float | None] = [0.4 + 0.3 * ((i % 4000) / 4000) for i in range(100_000)]
    rate, growth = steady(5000, latencies)
    assert rate == pytest.approx(5000, rel=0.002) and abs(growth) < 1


def test_a_backlog_shows_as_the_pipelines_own_rate() -> None:
    # scoring 4,700 a second while 5,000 arrive: transaction i arrives at i / 4,700 + 0.3 s
    latencies: list[float | None] = [i / 4700 - i / 5000 + 0.3 for i in range(100_000)]
    rate, growth = steady(5000, latencies)
    assert rate == pytest.approx(4700, rel=0.001) and growth == pytest.approx(63.8, abs=0.1)


def test_too_few_arrivals_give_nothing() -> None:
    assert steady(5000, [None] * 1000) == (0.0, 0.0)


def test_each_second_has_its_percentiles_and_a_backlog_rises() -> None:
    latencies: list[float | None] = [i / 4700 - i / 5000 + 0.3 for i in range(15_000)]  # 3 s at 5,000/s
    latencies[5000:10_000] = [None] * 5000  # a second whose transactions never arrived is left out
    seconds = by_second(5000, latencies)
    assert len(seconds["p50"]) == len(seconds["p99"]) == 2
    assert seconds["p50"][0] == pytest.approx(300 + 2500 * (1 / 4.7 - 1 / 5), abs=1)  # ms
    assert seconds["p50"][0] < seconds["p99"][0] < seconds["p50"][1]
