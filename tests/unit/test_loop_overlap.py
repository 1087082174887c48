"""The overlapped loop: a batch is committed only after its write returned, and never after a failed one."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from fraudcore.stream import BatchPolicy, Record, run
from fraudcore.stream.memory import ListSource

POLICY = BatchPolicy(max_records=2, max_wait_s=0)


@dataclass
class Staged:
    """Records what happened, in order; ``gate`` holds a write until the test opens it."""

    source: ListSource
    fail_write_of: int | None = None  # the first offset of the batch whose write fails
    fail_prepare_of: int | None = None
    gates: dict[int, threading.Event] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    writing: int = 0
    most_at_once: int = 0
    committed_when_written: dict[int, int] = field(default_factory=dict)

    def prepare(self, records: list[Record]) -> int:
        first = records[0].offset
        self.events.append(f"prepare {first}")
        if first == self.fail_prepare_of:
            raise ValueError(f"cannot prepare {first}")
        return first

    def write(self, first: int) -> None:
        self.writing += 1
        self.most_at_once = max(self.most_at_once, self.writing)
        try:
            self.committed_when_written[first] = self.source.committed  # what was committed as it began
            if first in self.gates:
                assert self.gates[first].wait(5)
            if first == self.fail_write_of:
                raise RuntimeError(f"MongoDB refused batch {first}")
            self.events.append(f"written {first}")
        finally:
            self.writing -= 1


def test_commits_each_batch_after_its_write_and_before_the_next_write() -> None:
    source = ListSource([bytes([i]) for i in range(7)])
    staged = Staged(source)
    stats = run(source, staged, POLICY, stop_when_idle=True)
    assert stats.records == 7 and stats.batches == 4 and source.committed == 6
    assert staged.most_at_once == 1  # at most one batch being written
    # when batch N's write began, batch N-1 (ending at offset first - 1) was committed, no more
    assert staged.committed_when_written == {0: -1, 2: 1, 4: 3, 6: 5}
    assert [e for e in staged.events if e.startswith("prepare")] == [f"prepare {i}" for i in (0, 2, 4, 6)]


def test_the_next_batch_is_prepared_while_one_is_written_but_nothing_is_committed_before_it() -> None:
    source = ListSource([bytes([i]) for i in range(4)])
    staged = Staged(source, gates={0: threading.Event()})
    done = threading.Event()
    thread = threading.Thread(
        target=lambda: (run(source, staged, POLICY, stop_when_idle=True), done.set()), daemon=True
    )
    thread.start()
    deadline = threading.Event()
    for _ in range(100):  # batch 2 gets prepared while batch 0's write is held
        if "prepare 2" in staged.events:
            break
        deadline.wait(0.02)
    assert "prepare 2" in staged.events and "written 0" not in staged.events
    assert source.committed == -1  # batch 0 not written yet: nothing committed
    staged.gates[0].set()
    assert done.wait(5)
    assert source.committed == 3


def test_a_failed_write_is_not_committed_and_stops_the_loop() -> None:
    source = ListSource([bytes([i]) for i in range(8)])
    staged = Staged(source, fail_write_of=4)
    with pytest.raises(RuntimeError, match="MongoDB refused batch 4"):
        run(source, staged, POLICY, stop_when_idle=True)
    assert source.committed == 3  # batches 0 and 2 written and committed; 4 failed; 6 never written
    assert "written 6" not in staged.events
    source.rewind()  # a restarted consumer reads the failed batch again
    assert source.poll(2, 0)[0].offset == 4


def test_a_failed_prepare_still_commits_the_batch_whose_write_completed() -> None:
    source = ListSource([bytes([i]) for i in range(6)])
    staged = Staged(source, fail_prepare_of=2)
    with pytest.raises(ValueError, match="cannot prepare 2"):
        run(source, staged, POLICY, stop_when_idle=True)
    assert "written 0" in staged.events
    assert source.committed == 1  # batch 0 was written: committed; batch 2 never was


def test_without_overlap_the_same_batches_are_committed() -> None:
    source = ListSource([bytes([i]) for i in range(5)])
    staged = Staged(source)
    stats = run(source, staged, POLICY, stop_when_idle=True, overlap=False)
    assert stats.records == 5 and source.committed == 4
    assert staged.events == ["prepare 0", "written 0", "prepare 2", "written 2", "prepare 4", "written 4"]


def test_max_records_stops_after_committing_what_was_polled() -> None:
    source = ListSource([bytes([i]) for i in range(10)])
    stats = run(source, Staged(source), POLICY, max_records=4)
    assert stats.records == 4 and source.committed == 3
