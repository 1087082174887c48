"""When the broker loses its logs, sources report and rewind and producers re-send; and no false alarms."""

from __future__ import annotations

from typing import Any

from fraudcore.stream.offsets import OffsetTracker
from fraudcore.stream.ports import Record
from fraudcore.stream.resend import ResendingProducer
from simulator.output import Refused


def records(topic: str, partition: int, offsets: range) -> list[Record]:
    return [Record(topic, partition, o, None, b"") for o in offsets]


def test_a_rebalance_redelivering_uncommitted_records_is_not_a_loss() -> None:
    tracker = OffsetTracker(log_resets=False)
    tracker.read(records("tx", 0, range(0, 100)), {("tx", 0): 100})
    tracker.committed({("tx", 0): 50})  # 50..99 were read but their batch was not committed
    tracker.read(records("tx", 0, range(50, 100)), {("tx", 0): 100})  # the partition's new owner: us again
    assert tracker.lost == []


def test_offsets_below_the_committed_one_are_a_lost_log_counted_from_the_broker_end() -> None:
    tracker = OffsetTracker(log_resets=False)
    tracker.read(records("tx", 1, range(0, 40)), {("tx", 1): 55})  # 15 more on the broker, not read yet
    tracker.committed({("tx", 1): 40})
    tracker.read(records("tx", 1, range(0, 3)), {("tx", 1): 3})
    [lost] = tracker.lost
    assert (lost.committed, lost.read_to, lost.broker_end, lost.unread, lost.restarted_at) == (
        40,
        40,
        55,
        15,
        0,
    )
    # tansu may serve the new log's start again right after: one loss, not two
    tracker.committed({("tx", 1): 3})
    tracker.read(records("tx", 1, range(1, 5)), {("tx", 1): 5})
    assert len(tracker.lost) == 1


def test_a_commit_of_a_batch_read_from_the_lost_log_is_dropped() -> None:
    tracker = OffsetTracker(log_resets=False)
    tracker.read(records("tx", 0, range(0, 300)), {("tx", 0): 300})
    tracker.committed({("tx", 0): 200})
    tracker.read(records("tx", 0, range(0, 10)), {("tx", 0): 10})  # the new log
    # the batch 200..299 finishes writing after the loss: its offset means nothing on the new log
    assert tracker.committable({("tx", 0): 300}) == {}
    assert tracker.committable({("tx", 0): 10}) == {("tx", 0): 10}


def test_a_lost_topic_reported_by_the_watch_is_rewound_once_and_reported_once() -> None:
    tracker = OffsetTracker(log_resets=False)
    tracker.read(records("tx", 0, range(0, 20)) + records("labels", 0, range(0, 5)), {("tx", 0): 25})
    tracker.committed({("tx", 0): 20, ("labels", 0): 5})
    assert not tracker.rewind_due_pending()
    tracker.topics_lost(["tx"])  # from the BrokerWatch thread
    assert tracker.rewind_due_pending()
    assert tracker.rewind_due() == {"tx"}
    assert [(lost.topic, lost.unread) for lost in tracker.lost] == [("tx", 5)]
    assert tracker.rewind_due() == set()
    tracker.read(records("tx", 0, range(0, 4)), {("tx", 0): 4})  # read from the new log's start
    assert len(tracker.lost) == 1  # already reported: offsets from 0 are expected now


def test_the_producer_resends_only_its_window_and_only_after_a_loss() -> None:
    now = [0.0]
    sent: list[tuple[str, bytes | None]] = []

    class Broker:
        def send(self, topic: str, key: bytes | None = None, value: bytes | None = None) -> None:
            sent.append((topic, value))

        def flush(self, timeout: float | None = None) -> None:
            pass

    out = ResendingProducer(
        Broker(), {"legit"}, window_s=60, max_messages=3, clock=lambda: now[0], log_resends=False
    )
    for i in range(5):
        now[0] = i * 20.0  # at 0, 20, 40, 60, 80 s
        out.send("legit", None, str(i).encode())
    assert out.resend_if_lost() == 0
    out.lost(["fraud"])  # not a topic it keeps
    assert out.resend_if_lost() == 0
    out.lost(["legit"])
    assert out.resend_if_lost() == 3  # at most 3 kept, and 20 s (40, 60, 80) is within the last 60 s
    assert sent[-3:] == [("legit", b"2"), ("legit", b"3"), ("legit", b"4")]


def test_the_simulator_sends_again_what_the_broker_refused() -> None:
    class Future:
        def __init__(self, fail: bool) -> None:
            self.fail = fail

        def add_errback(self, callback: Any, *args: Any) -> Future:
            if self.fail:
                callback(*args, RuntimeError("UnknownError"))
            return self

    class Flaky:
        def __init__(self) -> None:
            self.delivered: list[bytes] = []
            self.refuse = 2

        def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> Future:
            if self.refuse:
                self.refuse -= 1
                return Future(True)
            self.delivered.append(value)
            return Future(False)

        def flush(self, timeout: float | None = None) -> None:
            pass

    broker = Flaky()
    refused = Refused(ResendingProducer(broker, set(), window_s=0, max_messages=0))
    refused.PAUSE_S = 0
    for i in range(4):
        refused.send("transactions", None, str(i).encode())
    assert broker.delivered == [b"2", b"3"] and len(refused.waiting) == 2
    refused.drain()
    assert sorted(broker.delivered) == [b"0", b"1", b"2", b"3"] and refused.resent == 2
