"""Statistics a latency log keeps in flat memory, however long it runs.

A log may run for days at hundreds of records a second, so nothing here grows with the
number of records: quantiles come from a histogram of values rounded to four significant
digits (relative error under 0.05%, a few thousand buckets at most for any real latency
distribution), the live view from a bounded window.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

SIGNIFICANT_DIGITS = 4


def rounded(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` to ``digits`` significant digits (exact for small integers)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def quantile(counts: Counter[float], q: float) -> float:
    """The q-quantile (0..1, nearest rank) of a histogram of values."""
    total = sum(counts.values())
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    return max(counts)


@dataclass
class LatencyHistogram:
    """Every latency seen, bucketed: median and p99 of the whole log."""

    counts: Counter[float] = field(default_factory=Counter)
    n: int = 0

    def add(self, value: float) -> None:
        self.counts[rounded(value)] += 1
        self.n += 1

    def quantile(self, q: float) -> float:
        return quantile(self.counts, q)


@dataclass
class LiveWindow:
    """The last ``size`` latencies and the receive times of the last ``seconds``: the live
    line's median, p99 and rate."""

    size: int = 2000
    seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    latencies: deque[float] = field(init=False)
    arrivals: deque[tuple[float, int]] = field(init=False)

    def __post_init__(self) -> None:
        self.latencies = deque(maxlen=self.size)
        self.arrivals = deque()

    def add(self, values: Sequence[float]) -> None:
        if not values:
            return
        self.latencies.extend(values)
        now = self.clock()
        self.arrivals.append((now, len(values)))
        while self.arrivals and self.arrivals[0][0] < now - self.seconds:
            self.arrivals.popleft()

    @property
    def rate(self) -> float:
        """Records per second over the window (0 before two batches)."""
        if len(self.arrivals) < 2:
            return 0.0
        span = self.arrivals[-1][0] - self.arrivals[0][0]
        return sum(n for _, n in list(self.arrivals)[1:]) / span if span > 0 else 0.0

    def median(self) -> float:
        return float(np.median(self.latencies)) if self.latencies else math.nan

    def p99(self) -> float:
        return float(np.percentile(self.latencies, 99)) if self.latencies else math.nan


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '2h', '1d' -> seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    body, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        value = float(body)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 2h, 1d)") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    return value * units[unit]


def parse_size(text: str) -> int:
    """'100M', '2G', '500k', '4096' -> bytes (powers of 1024)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    body, unit = (text[:-1], text[-1].lower()) if text and text[-1].lower() in units \
        else (text, "")
    try:
        value = float(body)
    except ValueError:
        raise ValueError(f"{text!r} is not a size (e.g. 100M, 1G)") from None
    size = int(value * units.get(unit, 1))
    if size < 4096:
        raise ValueError(f"{text!r}: rotate at 4 KiB or more")
    return size
