"""A commit refused because the group is rebalancing (a consumer joined or left) does not stop the loop."""

from __future__ import annotations

import pytest
from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError

from fraudcore.stream.loop import BatchPolicy, run
from fraudcore.stream.memory import ListSource
from fraudcore.stream.ports import Record


class RebalancingSource(ListSource):
    """Refuses its first commit with ``error``, as kafka-python does while the group rebalances."""

    def __init__(self, values: list[bytes], error: KafkaError) -> None:
        super().__init__(values)
        self.error: KafkaError | None = error

    def commit(self, records: list[Record]) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        super().commit(records)


class Collect:
    def __init__(self) -> None:
        self.seen: list[bytes | None] = []

    def process(self, records: list[Record]) -> None:
        self.seen.extend(r.value for r in records)


@pytest.mark.parametrize("error", [RebalanceInProgressError(), CommitFailedError()])
def test_a_commit_refused_during_a_rebalance_is_logged_and_the_loop_goes_on(error: KafkaError) -> None:
    values = [str(i).encode() for i in range(5)]
    source = RebalancingSource(values, error)
    processor = Collect()
    stats = run(source, processor, BatchPolicy(max_records=2, max_wait_s=0), stop_when_idle=True)
    assert processor.seen == values
    assert stats.records == 5
    assert source.committed == 4  # the refused batch is covered by the next commit
