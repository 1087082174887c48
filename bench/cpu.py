"""CPU seconds (user + system) of named processes, each with its children, between two marks.

The benchmarks run everything on one machine: the figure that says where the cores went is
CPU time per transaction, per process (PostgreSQL serves each connection from a child of
its postmaster, so children count with their parent).
"""

from __future__ import annotations

from collections.abc import Mapping

import psutil


def cpu_seconds(process: psutil.Process, children: bool = True) -> float:
    """This process's (and its live children's) user + system CPU seconds (0 once it is gone)."""
    total = 0.0
    try:
        family = [process, *(process.children(recursive=True) if children else [])]
    except psutil.NoSuchProcess:
        return 0.0
    for p in family:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


class CpuMeter:
    """``mark()``, run something, then ``since()``: CPU seconds each named process used meanwhile."""

    def __init__(self, processes: Mapping[str, psutil.Process], alone: frozenset[str] = frozenset()) -> None:
        self.processes = dict(processes)
        self.alone = alone  # names counted without their children (measured under names of their own)
        self.start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: cpu_seconds(p, children=name not in self.alone) for name, p in self.processes.items()}

    def mark(self) -> None:
        self.start = self._now()

    def since(self) -> dict[str, float]:
        return {name: t - self.start.get(name, 0.0) for name, t in self._now().items()}
