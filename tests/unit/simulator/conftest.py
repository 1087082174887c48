"""One seeded 200k-transaction stream, shared by the simulator's tests (about 5 s to make)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from fraudcore.schemas import Label
from fraudcore.settings import SimulatorSettings
from simulator.economy import Economy, SimulatedTransaction
from simulator.output import take

START = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class Stream:
    economy: Economy
    txs: list[SimulatedTransaction]
    labels: list[Label]
    order: list[object]  # transactions and labels as they came out


@pytest.fixture(scope="session")
def stream() -> Stream:
    economy = Economy(SimulatorSettings(), seed=11, start=START)
    txs: list[SimulatedTransaction] = []
    labels: list[Label] = []
    order: list[object] = []
    for event in take(economy, 200_000):
        order.append(event)
        if isinstance(event, SimulatedTransaction):
            txs.append(event)
        else:
            labels.append(event)
    return Stream(economy, txs, labels, order)
