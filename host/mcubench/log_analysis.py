"""A latency log's numbers: arrays, losses checked against sequence numbers, rolling
quantiles, drift, marks on the time axis, per-operator statistics.

A log (mcubench.logfile) is turned into arrays once; every table and figure of its report
(mcubench.report, mcubench.plots) comes from the ``LogReport`` made here. Host time is
wall-clock time, taken by the host at receipt; latency stays in the board's counter unit,
which on emulated boards counts instructions and is not time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mcubench.errors import UsageError

if TYPE_CHECKING:
    from mcubench.logfile import LogSeries

DRIFT_MIN_SECONDS = 60.0  # shorter logs: the drift estimate is not meaningful
THEIL_SEN_POINTS = 1000  # records in the Theil-Sen subsample (half a million pairs)
ROLLING_POINTS = 2000  # rolling windows evaluated at most (strided beyond that)
ROLLING_BUDGET = 4_000_000  # latency values the rolling quantiles hold at once
TABLE_ROWS = 200  # rows of a gap or event table before it is cut
HEADER_FIELDS = ("model", "model_sha256", "board", "counter_unit", "mode", "rate_hz")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LogView:
    """A log's records as arrays, in file order. Latency statistics and plots use the
    inferences that ran (``ok``: status 0); loss accounting uses every record."""

    series: LogSeries
    name: str  # the file the user named
    header: dict[str, Any]  # the first header
    conflicts: dict[str, list[str]]  # header fields later headers change: every value
    unit: str
    latency_all: FloatArray
    x_all: FloatArray  # host seconds since the first record, or the record index
    ok: npt.NDArray[np.bool_]
    session: IntArray
    seq: IntArray
    start: float | None  # unix time of the first record; None: no host times

    @property
    def timed(self) -> bool:
        return self.start is not None

    @property
    def latency(self) -> FloatArray:
        return self.latency_all[self.ok]

    @property
    def x(self) -> FloatArray:
        return self.x_all[self.ok]

    @property
    def duration(self) -> float | None:
        """Host seconds from the first record to the last."""
        return float(self.x_all.max()) if self.timed else None


def log_view(series: LogSeries, name: str) -> LogView:
    if not series.headers:
        raise UsageError(f"{name} has no header line: not an mcubench log")
    n = len(series.records)
    if n == 0:
        raise UsageError(f"{name} has no records: nothing to report")
    conflicts = {}
    for key in HEADER_FIELDS:
        values = list(dict.fromkeys(str(h.get(key)) for h in series.headers))
        if len(values) > 1:
            conflicts[key] = values
    if "counter_unit" in conflicts:
        units = ", ".join(conflicts["counter_unit"])
        raise UsageError(f"{name}: the log's headers count latency in different units "
                         f"({units}), which never share an axis; report each file on its own")
    status = np.fromiter((int(r["status"]) for r in series.records), np.int64, n)
    session = np.asarray(series.session_array(), dtype=np.int64)
    times = np.asarray(series.host_time_array(), dtype=np.float64)
    start = float(times.min()) if times.size == n and np.isfinite(times).all() else None
    x_all = times - start if start is not None else np.arange(n, dtype=np.float64)
    ok = status == 0
    if not ok.any():
        raise UsageError(f"{name}: all {n:,} inferences in the log failed (status not 0); "
                         "there is no latency to report")
    return LogView(series, name, series.headers[0], conflicts,
                   str(series.headers[0].get("counter_unit") or "counts"),
                   np.asarray(series.latency_array(), dtype=np.float64), x_all, ok, session,
                   np.asarray(series.seq_array(), dtype=np.int64), start)


def latency_stats(values: FloatArray) -> dict[str, float]:
    q = np.percentile(values, [50, 90, 99])
    return {"min": float(values.min()), "median": float(q[0]), "mean": float(values.mean()),
            "p90": float(q[1]), "p99": float(q[2]), "max": float(values.max()),
            "stdev": float(values.std(ddof=1)) if values.size > 1 else 0.0}


# Loss accounting. The gap lines are the logger's account; the sequence numbers are the
# evidence. Holes inside a session must match the gap lines exactly; records lost after a
# session's last one received (the device rebooted) leave no hole, so only a gap line knows.

Ranges = list[tuple[int, int]]  # [from, to) pairs, sorted, disjoint


@dataclass(frozen=True)
class SessionRow:
    session: int
    records: int
    first_seq: int
    last_seq: int
    missing: int  # sequence numbers absent from 0 to last_seq
    start: float  # x of its first record


@dataclass(frozen=True)
class Losses:
    gaps: int  # gap lines
    lost: int  # their ``lost``, summed
    seq_missing: int  # holes in the sequence numbers, counting from 0 in each session
    tail: int  # gap lines' records after a session's last received one
    duplicates: int  # records whose (session, seq) appeared before
    out_of_order: int  # records whose seq is below the previous one's in their session
    disagreements: tuple[str, ...]  # empty: the gap lines and the seqs tell one story
    sessions: tuple[SessionRow, ...]


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    merged: Ranges = []
    for lo, hi in sorted(r for r in ranges if r[1] > r[0]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def subtract_ranges(a: Ranges, b: Ranges) -> Ranges:
    """The parts of ``a`` not covered by ``b``."""
    out: Ranges = []
    for start, hi in a:
        lo = start
        for blo, bhi in b:
            if bhi <= lo or blo >= hi:
                continue
            if blo > lo:
                out.append((lo, blo))
            lo = max(lo, bhi)
            if lo >= hi:
                break
        if lo < hi:
            out.append((lo, hi))
    return out


def seq_holes(unique_seqs: IntArray) -> Ranges:
    """Missing [from, to) ranges in sorted unique sequence numbers, counting from 0."""
    edges = np.concatenate(([-1], unique_seqs))
    return [(int(edges[i]) + 1, int(edges[i + 1]))
            for i in np.flatnonzero(np.diff(edges) > 1)]


def _ranges_text(ranges: Ranges, limit: int = 4) -> str:
    shown = ", ".join(f"{lo}-{hi - 1}" if hi - lo > 1 else str(lo) for lo, hi in ranges[:limit])
    return shown + (f" and {len(ranges) - limit} more range(s)" if len(ranges) > limit else "")


def session_order(view: LogView) -> IntArray:
    """Session ids in the order their first record appears."""
    ids, first = np.unique(view.session, return_index=True)
    return ids[np.argsort(first)]


def log_losses(view: LogView) -> Losses:
    gaps = view.series.gaps
    said: dict[int, list[tuple[int, int]]] = defaultdict(list)
    problems = []
    for g in gaps:
        said[int(g["session"])].append((int(g["from_seq"]), int(g["to_seq"])))
        if int(g["lost"]) != int(g["to_seq"]) - int(g["from_seq"]):
            problems.append(f"a gap line in session {g['session']} says {g['lost']} lost "
                            f"for seq {g['from_seq']} to {g['to_seq']} (exclusive)")
    rows = []
    seq_missing = tail = duplicates = out_of_order = 0
    for sid in session_order(view):
        mask = view.session == sid
        seqs = view.seq[mask]
        unique = np.unique(seqs)
        out_of_order += int((np.diff(seqs) < 0).sum())
        duplicates += int(seqs.size - unique.size)
        holes = seq_holes(unique)
        missing = sum(hi - lo for lo, hi in holes)
        seq_missing += missing
        end = int(unique[-1]) + 1
        claimed = merge_ranges(said.pop(int(sid), []))
        tail += sum(hi - max(lo, end) for lo, hi in claimed if hi > end)
        within = merge_ranges((lo, min(hi, end)) for lo, hi in claimed)
        unclaimed, wrong = subtract_ranges(holes, within), subtract_ranges(within, holes)
        if unclaimed:
            problems.append(f"session {sid}: seq {_ranges_text(unclaimed)} missing, "
                            "with no gap line")
        if wrong:
            problems.append(f"session {sid}: gap lines say seq {_ranges_text(wrong)} were "
                            "lost, but those records are in the log")
        rows.append(SessionRow(int(sid), int(seqs.size), int(unique[0]), end - 1, missing,
                               float(view.x_all[mask][0])))
    for claimed in said.values():  # gap lines of sessions with no record in the log
        tail += sum(hi - lo for lo, hi in merge_ranges(claimed))
    if duplicates:
        problems.append(f"{duplicates:,} record(s) repeat a (session, seq) seen before")
    return Losses(len(gaps), sum(int(g["lost"]) for g in gaps), seq_missing, tail,
                  duplicates, out_of_order, tuple(problems), tuple(rows))


# Latency over time: rolling quantiles and drift.


@dataclass(frozen=True)
class Rolling:
    window: int  # records per window
    x: FloatArray  # x of each window's middle record
    median: FloatArray
    p99: FloatArray


def rolling_window(n: int) -> int:
    return min(n, max(50, n // 200))


def rolling_quantiles(view: LogView) -> Rolling:
    """Median and p99 of sliding windows of records, evaluated at up to ROLLING_POINTS
    evenly spaced windows: the plot cannot show more, and all n windows of a long log
    would hold n x window values."""
    y, x = view.latency, view.x
    window = rolling_window(y.size)
    count = y.size - window + 1
    points = max(1, min(ROLLING_POINTS, count, ROLLING_BUDGET // window))
    starts = np.unique(np.linspace(0, count - 1, points).round().astype(np.int64))
    windows = np.lib.stride_tricks.sliding_window_view(y, window)[starts]
    median, p99 = np.percentile(windows, [50, 99], axis=1)
    return Rolling(window, x[starts + window // 2], median, p99)


@dataclass(frozen=True)
class Drift:
    """Trend of latency against host time, in counter units per hour."""

    hours: float  # host time covered
    median: float
    slope: float | None  # least squares
    intercept: float  # of the least-squares line at x = 0
    theil_sen: float | None  # median of pairwise slopes over a random subsample
    rolling: float | None  # least squares over the rolling medians
    meaningful: bool  # timed and at least DRIFT_MIN_SECONDS long
    timed: bool = True  # False: the records carry no host times

    def relative(self, slope: float | None) -> float | None:
        """A slope as a fraction of the median per hour."""
        return None if slope is None or not self.median else slope / self.median


def _slope(x: FloatArray, y: FloatArray) -> tuple[float, float] | None:
    """Least-squares (slope, intercept), centred: a flat series gives exactly 0."""
    if x.size < 2 or float(np.ptp(x)) == 0:
        return None
    dx, dy = x - x.mean(), y - y.mean()
    slope = float(dx @ dy / (dx @ dx))
    return slope, float(y.mean() - slope * x.mean())


def theil_sen(x: FloatArray, y: FloatArray, points: int = THEIL_SEN_POINTS) -> float | None:
    """Median slope over every pair of a fixed random subsample (pairs at one host time,
    records received in one batch, have no slope and are left out)."""
    rng = np.random.default_rng(0)  # the same log gives the same estimate
    pick = np.sort(rng.choice(x.size, min(points, x.size), replace=False))
    xs, ys = x[pick], y[pick]
    i, j = np.triu_indices(xs.size, 1)
    dx = xs[j] - xs[i]
    keep = dx != 0
    if not keep.any():
        return None
    return float(np.median((ys[j] - ys[i])[keep] / dx[keep]))


def log_drift(view: LogView, median: float, rolling: Rolling) -> Drift:
    if not view.timed:
        return Drift(0.0, median, None, median, None, None, False, timed=False)
    hours = (view.duration or 0.0) / 3600
    x_h, y = view.x / 3600, view.latency
    fit = _slope(x_h, y)
    slope, intercept = fit if fit else (None, median)
    ts = theil_sen(x_h, y)
    roll = _slope(rolling.x / 3600, rolling.median)
    meaningful = hours * 3600 >= DRIFT_MIN_SECONDS and slope is not None
    return Drift(hours, median, slope, intercept, ts, roll[0] if roll else None, meaningful)


# Marks on the time axis: gaps, the host's disconnections, device restarts.


@dataclass(frozen=True)
class Mark:
    kind: str  # "gap" (records lost), "away" (disconnected), "restart" (device restarted)
    x0: float
    x1: float  # == x0: a line
    lost: int  # gaps only


def _gap_marks(view: LogView) -> list[Mark]:
    """Each gap spans from the record before it to the record after it (same session);
    a gap with no record after it (the device restarted) is a line at its last record."""
    ids, code = np.unique(view.session, return_inverse=True)
    key = code.astype(np.int64) << 32 | view.seq
    order = np.argsort(key, kind="stable")
    keys = key[order]
    marks = []
    for g in view.series.gaps:
        sid, lost = int(g["session"]), int(g["lost"])
        at = np.searchsorted(ids, sid)
        if at < ids.size and ids[at] == sid:
            pos = int(np.searchsorted(keys, at << 32 | int(g["from_seq"])))
            before = pos > 0 and keys[pos - 1] >> 32 == at
            after = pos < keys.size and keys[pos] >> 32 == at
            if before or after:
                x0 = float(view.x_all[order[pos - 1 if before else pos]])
                x1 = float(view.x_all[order[pos]]) if after else x0
                marks.append(Mark("gap", x0, x1, lost))
                continue
        if view.start is not None and g.get("host_time") is not None:
            x = float(g["host_time"]) - view.start
            marks.append(Mark("gap", x, x, lost))
    return marks


def _event_marks(view: LogView) -> list[Mark]:
    if view.start is None:
        return []
    marks, away = [], None
    for e in view.series.events:
        x = float(e.get("host_time", view.start)) - view.start
        if e.get("event") == "device-restarted":
            marks.append(Mark("restart", x, x, 0))
        elif e.get("event") == "disconnected" and away is None:
            away = x
        elif e.get("event") == "reconnected" and away is not None:
            marks.append(Mark("away", away, x, 0))
            away = None
    if away is not None:
        marks.append(Mark("away", away, float(view.x_all.max()), 0))
    return marks


@dataclass(frozen=True)
class OpsStats:
    """Per-operator latency of the records that carry ``ops``."""

    names: list[str]  # "#index OP"
    shapes: list[str]
    x: FloatArray  # x of those records
    counts: FloatArray  # records x ops, counter unit


def log_ops(view: LogView) -> OpsStats | None:
    """The per-operator counts of the inferences that ran, if their records carry them
    (all with the same number of operators)."""
    records = view.series.records
    has = view.ok & np.fromiter((bool(r.get("ops")) for r in records), bool, len(records))
    rows = [records[i]["ops"] for i in np.flatnonzero(has)]
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    counts = np.asarray(rows, dtype=np.float64)
    described = {int(op["index"]): op for op in view.header.get("ops") or []}
    names, shapes = [], []
    for i in range(counts.shape[1]):
        op = described.get(i, {})
        names.append(f"#{i} {op.get('op', 'op')}")
        shapes.append(str(op.get("shape", "")))
    return OpsStats(names, shapes, view.x_all[has], counts)


@dataclass(frozen=True)
class LogReport:
    view: LogView
    stats: dict[str, float]
    losses: Losses
    rolling: Rolling
    drift: Drift
    marks: tuple[Mark, ...]
    ops: OpsStats | None


def analyse_log(series: LogSeries, name: str) -> LogReport:
    view = log_view(series, name)
    stats = latency_stats(view.latency)
    rolling = rolling_quantiles(view)
    return LogReport(view, stats, log_losses(view), rolling,
                     log_drift(view, stats["median"], rolling),
                     (*_gap_marks(view), *_event_marks(view)), log_ops(view))
