"""In-memory source for tests: the loop and the processors run on it with no broker.

>>> source = ListSource([b"a", b"b", b"c"])
>>> [r.value for r in source.poll(2, 0.0)], source.committed
([b'a', b'b'], -1)
>>> source.commit(source.poll(5, 0.0)); source.committed
2
"""

from __future__ import annotations

from collections.abc import Iterable

from fraudcore.stream.ports import Record


class ListSource:
    """Serves the given values as one partition of topic ``topic``; remembers the last committed offset."""

    def __init__(
        self, values: Iterable[bytes | None], topic: str = "memory", keys: Iterable[bytes] | None = None
    ):
        self.records = [
            Record(topic, 0, offset, key, value)
            for offset, (value, key) in enumerate(zip(values, keys or _nones(), strict=False))
        ]
        self.position = 0
        self.committed = -1
        self.closed = False

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        batch = self.records[self.position : self.position + max_records]
        self.position += len(batch)
        return batch

    def commit(self, records: list[Record]) -> None:
        if records:
            self.committed = max(self.committed, max(r.offset for r in records))

    def rewind(self) -> None:
        """Start again after the last commit, as a restarted consumer would."""
        self.position = self.committed + 1

    @property
    def exhausted(self) -> bool:
        return self.position >= len(self.records)

    def close(self) -> None:
        self.closed = True


def _nones() -> Iterable[None]:
    while True:
        yield None
