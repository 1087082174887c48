"""Faults mid-stream: PostgreSQL, MongoDB and Redis each stopped for 20 s while the pipeline runs.

The scoring and storage consumers run as processes (as `make up` runs them) on a stack of their
own; transactions keep coming. After each outage the server comes back, and at the end every
produced transaction is in MongoDB and in PostgreSQL exactly once: nothing lost, nothing twice,
no manual step.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fraudcore.settings import SimulatorSettings
from fraudcore.stack import EmbeddedStack
from simulator.economy import Economy
from simulator.output import produce_live
from tests.helpers import start_service, stop_services, wait_for
from tests.integration.faults.conftest import counts

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]
RATE, COUNT, OUTAGE_S = 60, 9000, 20


def test_each_database_down_for_20_s_loses_and_duplicates_nothing(
    fault_stack: EmbeddedStack, tmp_path: Path
) -> None:
    settings = fault_stack.settings
    log = tmp_path / "consumers.log"
    consumers = [start_service(m, settings, log) for m in ("ml_consumer", "storage_consumer")]
    economy = Economy(
        SimulatorSettings(accounts=500, fraud_rate=0.02),
        seed=50,
        start=datetime(2026, 7, 1, tzinfo=UTC),
        stamp_produced_at=True,
    )
    producer = threading.Thread(
        target=produce_live, args=(economy, settings), kwargs={"rate": RATE, "count": COUNT}
    )
    try:
        producer.start()
        wait_for(lambda: counts(settings)[1] > 500, 180, "the pipeline to store its first transactions")
        supervisor = fault_stack.client.supervisor
        for server in ("postgres", "mongodb", "redis"):
            before = counts(settings)
            supervisor.stopProcess(f"servers:{server}", True)
            time.sleep(OUTAGE_S)
            supervisor.startProcess(f"servers:{server}", True)
            fault_stack.wait_servers()
            wait_for(lambda b=before: min(counts(settings)[:2]) > max(b[:2]), 120, f"progress after {server}")
            assert all(c.poll() is None for c in consumers), f"a consumer died while {server} was down"
        producer.join(300)
        wait_for(
            lambda: counts(settings)[:2] == (COUNT, COUNT), 300, f"all {COUNT} in MongoDB and PostgreSQL"
        )
        time.sleep(3)
        assert counts(settings) == (COUNT, COUNT, COUNT)  # exactly once in each
    finally:
        stop_services(consumers)
    text = log.read_text()
    assert "retrying the same batch" in text  # they did wait for the servers, not skip
    assert "Traceback" not in text
