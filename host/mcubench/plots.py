"""Figures for ``mcubench report``, drawn off-screen and handed back as PNG bytes.

No pyplot: every figure is a plain ``Figure`` on an Agg canvas, so nothing needs a display
or touches pyplot's global list of open figures (reports run in CI, tests and threads).
Every axis carrying a latency names its counter unit, and results counted in different
units never share an axis: latency figures are drawn one per unit.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from mcubench.report import Entry, profiled, type_totals

if TYPE_CHECKING:
    from mcubench.log_analysis import LogReport, LogView

DPI = 100
WIDTH = 10.0  # inches: 1000 px, the width of the HTML page's content column
TOP_OPS = 15  # operators per bar chart; the per-op table has them all

# What an axis in each counter unit measures. Emulated boards count instructions: QEMU's
# icount makes virtual time an instruction count, so it is never labelled as time.
UNIT_AXIS = {
    "instructions": "instructions per inference (counted, not time)",
    "cycles": "core cycles per inference",
    "ns": "nanoseconds per inference (host clock)",
}


@dataclass(frozen=True)
class Plot:
    name: str  # file stem, stable for the same input: "latency-instructions"
    title: str
    caption: str
    png: bytes
    width: int  # pixels
    height: int


def unit_axis(unit: str) -> str:
    return UNIT_AXIS.get(unit, f"{unit} per inference")


def by_unit(entries: Iterable[Entry]) -> list[tuple[str, list[Entry]]]:
    """Entries grouped by counter unit, units in order of first appearance."""
    groups: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        groups[e.unit].append(e)
    return list(groups.items())


def slug(text: str) -> str:
    """A file-name-safe form of a label: lower case, [a-z0-9_-] only."""
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-") or "x"


def count_text(value: float) -> str:
    """A counter value for a tick or a label: thousands separated, no exponent."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _safe(text: str, limit: int = 48) -> str:
    """A string from a results file as matplotlib text: '$' would start mathtext."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _figure(height: float, width: float = WIDTH) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Figure, name: str, title: str, caption: str) -> Plot:
    buffer = io.BytesIO()
    # No Software tag: the same results give the same bytes whatever matplotlib wrote them.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    width, height = (round(v * DPI) for v in fig.get_size_inches())
    return Plot(name, title, caption, buffer.getvalue(), width, height)


def _count_axis(ax: Axes, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: count_text(v)))
    target.set_major_locator(MaxNLocator(6))


def _palette(keys: Sequence[str], cmap: str = "tab10") -> dict[str, Any]:
    colours = colormaps[cmap].colors  # type: ignore[attr-defined]
    return {k: colours[i % len(colours)] for i, k in enumerate(keys)}


def series_colours(entries: Sequence[Entry]) -> dict[str, Any]:
    """One colour per board (series), the same in every figure."""
    return _palette(list(dict.fromkeys(e.series for e in entries)))


# --- latency distribution -----------------------------------------------------------------


def latency_plots(entries: Sequence[Entry]) -> list[Plot]:
    colours = series_colours(entries)
    return [_latency_figure(unit, group, colours) for unit, group in by_unit(entries)]


def _latency_figure(unit: str, group: list[Entry], colours: dict[str, Any]) -> Plot:
    """One row per result, each on its own x range: emulated runs are often identical, and
    a shared range would flatten every distribution to a line. Models are compared in the
    board figure."""
    fig = _figure(1.1 + 1.0 * len(group))
    axes = fig.subplots(len(group), 1, squeeze=False)[:, 0]
    rng = np.random.default_rng(0)  # fixed jitter: the same file draws the same picture
    for ax, e in zip(axes, group, strict=True):
        _latency_row(ax, e, colours[e.series], rng)
    axes[-1].set_xlabel(unit_axis(unit))
    fig.suptitle(f"Latency distribution, in {unit}", fontsize=12, x=0.01, ha="left")
    return _finish(
        fig, f"latency-{slug(unit)}", f"Latency distribution ({unit})",
        f"Every measured inference (dots), box from the 25th to the 75th percentile, line at "
        f"the median, whiskers from min to max. Each row has its own scale; unit: {unit}.")


def _latency_row(ax: Axes, e: Entry, colour: Any, rng: np.random.Generator) -> None:
    lat = e.result["latency"]
    low, median, high = float(lat["min"]), float(lat["median"]), float(lat["max"])
    samples = np.asarray(lat.get("samples") or [], dtype=float)
    ax.hlines(0, low, high, color="0.35", lw=1.2)
    ax.vlines([low, high], -0.15, 0.15, color="0.35", lw=1.2)
    if samples.size:
        q1, q3 = np.percentile(samples, [25, 75])
        ax.broken_barh([(q1, max(q3 - q1, 0.0))], (-0.22, 0.44), facecolor=colour,
                       alpha=0.25, edgecolor=colour)
        ax.scatter(samples, rng.uniform(-0.18, 0.18, samples.size), s=12, color=colour,
                   alpha=0.7, zorder=3, linewidths=0)
    ax.vlines(median, -0.3, 0.3, color="black", lw=2.2, zorder=4)
    spread = high - low
    pad = max(spread * 0.08, abs(median) * 0.004, 1.0)
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(-0.5, 0.5)
    ax.set_yticks([])
    _count_axis(ax)
    runs = samples.size or int(e.result.get("runs", 0))
    detail = (f"all {runs} runs identical" if spread == 0 and runs > 1
              else f"spread {spread / median:.2%}" if median else "")
    if not samples.size:
        detail += " (no samples in the file: min, median, max only)"
    verdict = "" if e.result["bit_exact"] else "   NOT bit-exact"
    ax.set_title(f"{_safe(e.label, 60)}:  median {count_text(median)}, {detail}{verdict}",
                 loc="left", fontsize=9.5, color="firebrick" if verdict else "black")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


# --- per-operator profile -----------------------------------------------------------------


def op_colours(entries: Sequence[Entry]) -> dict[str, Any]:
    """One colour per op type, the busiest types first, shared by every ops figure."""
    weight: dict[str, float] = defaultdict(float)
    for e in entries:
        totals = type_totals(e.result["ops"])
        whole = sum(t[2] for t in totals.values()) or 1.0
        for op_type, (_, _, counts) in totals.items():
            weight[op_type] += counts / whole
    return _palette(sorted(weight, key=lambda k: -weight[k]), "tab20")


def ops_plots(entries: Sequence[Entry]) -> list[Plot]:
    """Share by op type across profiled results, then each result's busiest operators."""
    done = profiled(entries)
    if not done:
        return []
    colours = op_colours(done)
    plots = [_ops_by_type(done, colours)]
    names: set[str] = set()
    for e in done:
        name = f"ops-{slug(e.model)}-{slug(e.series)}"
        while name in names:  # labels that slug alike: keep every file
            name += "-x"
        names.add(name)
        plots.append(_ops_top(e, name, colours))
    return plots


def _ops_by_type(entries: list[Entry], colours: dict[str, Any]) -> Plot:
    fig = _figure(1.6 + 0.55 * len(entries) + 0.25 * ((len(colours) + 4) // 5))
    ax = fig.subplots()
    labels = [_safe(e.label, 40) for e in entries]
    left = np.zeros(len(entries))
    for op_type, colour in colours.items():
        widths = []
        for e in entries:
            totals = type_totals(e.result["ops"])
            whole = sum(t[2] for t in totals.values()) or 1.0
            widths.append(100 * totals.get(op_type, (0, 0, 0.0))[2] / whole)
        bars = ax.barh(labels, widths, left=left, color=colour, label=_safe(op_type),
                       edgecolor="white", linewidth=0.5)
        ax.bar_label(bars, labels=[f"{w:.0f}%" if w >= 6 else "" for w in widths],
                     label_type="center", fontsize=8)
        left += widths
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the operators' counts (%), a ratio: comparable across units")
    fig.legend(loc="outside lower center", ncols=min(5, len(colours)), fontsize=8,
               frameon=False)
    ax.set_title("Where the counts go, by operator type", loc="left", fontsize=12)
    return _finish(fig, "ops-by-type", "Per-operator share by type",
                   "Each bar is one profiled result; segments are operator types, "
                   "as a share of the sum of all operators' counts.")


def _ops_top(e: Entry, name: str, colours: dict[str, Any]) -> Plot:
    ops = sorted(e.result["ops"], key=lambda op: -op["counts"])
    top = ops[:TOP_OPS]
    whole = sum(op["counts"] for op in ops) or 1.0
    fig = _figure(1.3 + 0.3 * len(top))
    ax = fig.subplots()
    labels = [f"#{op['index']} {_safe(op['op'], 30)}" for op in top]
    counts = [op["counts"] for op in top]
    bars = ax.barh(labels, counts, color=[colours[op["op"]] for op in top])
    ax.bar_label(bars, labels=[f" {c / whole:.1%}" for c in counts], fontsize=8)
    ax.invert_yaxis()
    ax.margins(x=0.12)
    _count_axis(ax)
    ax.set_xlabel(f"mean {unit_axis(e.unit)}")
    shown = sum(counts) / whole
    scope = (f"all {len(ops)} operators" if len(top) == len(ops) else
             f"top {len(top)} of {len(ops)} operators ({shown:.0%} of counts)")
    ax.set_title(f"{_safe(e.label, 60)}: {scope}", loc="left", fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _finish(fig, name, f"Operators of {e.label}",
                   f"Counts per operator in {e.unit} (mean per inference); the label is the "
                   "operator's share of the whole.")


# --- board comparison ---------------------------------------------------------------------


def board_plots(entries: Sequence[Entry]) -> list[Plot]:
    colours = series_colours(entries)
    plots = [_board_latency(unit, group, colours) for unit, group in by_unit(entries)]
    plots.append(_board_memory(entries, colours))
    return plots


def _grouped_bars(ax: Axes, entries: Sequence[Entry], value: Callable[[Entry], float | None],
                  *, colours: dict[str, Any],
                  error: Callable[[Entry], tuple[float, float]] | None = None,
                  fmt: Callable[[float], str] = count_text) -> None:
    """Bars per model (x), one per series (colour) that has a value, centred on the model."""
    models = list(dict.fromkeys(e.model for e in entries))
    series = list(dict.fromkeys(e.series for e in entries))
    groups = [sorted((e for e in entries if e.model == m and value(e) is not None),
                     key=lambda e: series.index(e.series)) for m in models]
    width = min(0.3, 0.8 / max(1, *(len(g) for g in groups)))  # one bar: not a slab
    placed: dict[str, list[tuple[float, float, tuple[float, float]]]] = defaultdict(list)
    for x, group in enumerate(groups):
        if not group:
            ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=8, color="0.4")
        for k, e in enumerate(group):
            v = value(e)
            assert v is not None
            placed[e.series].append((x + (k - (len(group) - 1) / 2) * width, v,
                                     error(e) if error else (0.0, 0.0)))
    bar_px = WIDTH * DPI * 0.85 / len(models) * width
    for s in series:
        if not placed[s]:
            continue
        xs, heights, errs = zip(*placed[s], strict=True)
        bars = ax.bar(xs, heights, width * 0.92, color=colours[s], label=_safe(s, 40),
                      yerr=np.array(errs).T if error else None, capsize=3, ecolor="0.3")
        ax.bar_label(bars, labels=[fmt(h) for h in heights], fontsize=7, padding=3,
                     rotation=90 if bar_px < 60 else 0)
    crowded = sum(len(m) for m in models) > 80  # characters of tick labels per axis
    ax.set_xticks(range(len(models)), [_safe(m, 28) for m in models],
                  rotation=20 if crowded else 0, ha="right" if crowded else "center")
    ax.margins(y=0.2)
    ax.set_xlim(-0.6, len(models) - 0.4)  # the same slot width for one model as for many
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _board_latency(unit: str, group: list[Entry], colours: dict[str, Any]) -> Plot:
    fig = _figure(4.6)
    ax = fig.subplots()
    _grouped_bars(
        ax, group, lambda e: float(e.result["latency"]["median"]), colours=colours,
        error=lambda e: (e.result["latency"]["median"] - e.result["latency"]["min"],
                         e.result["latency"]["max"] - e.result["latency"]["median"]))
    medians = [float(e.result["latency"]["median"]) for e in group]
    if min(medians) > 0 and max(medians) / min(medians) > 50:
        ax.set_yscale("log")  # small and large models side by side: both stay readable
        ax.set_title("log scale", loc="right", fontsize=8, color="0.4")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: count_text(v)))
    else:
        _count_axis(ax, "y")
    ax.set_ylabel(f"median {unit_axis(unit)}", fontsize=9)
    fig.legend(loc="outside upper right", ncols=min(4, len(colours)), fontsize=8,
               frameon=False, title="board")
    ax.set_title(f"Median latency per model and board, in {unit}", loc="left", fontsize=12)
    return _finish(fig, f"boards-latency-{slug(unit)}", f"Board comparison ({unit})",
                   f"Median latency in {unit}; whiskers from min to max.")


def _board_memory(entries: Sequence[Entry], colours: dict[str, Any]) -> Plot:
    fig = _figure(6.4)
    flash_ax, arena_ax = fig.subplots(2, 1)

    def kib(value: float | None) -> float | None:
        return None if value is None else value / 1024

    def kib_text(value: float) -> str:
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"

    _grouped_bars(flash_ax, entries, lambda e: kib(e.result["firmware"]["flash_bytes"]),
                  colours=colours, fmt=kib_text)
    _grouped_bars(arena_ax, entries, lambda e: kib(e.result["arena_bytes"]),
                  colours=colours, fmt=kib_text)
    flash_ax.set_ylabel("KiB")
    arena_ax.set_ylabel("KiB")
    flash_ax.set_title("Firmware flash (text + data)", loc="left", fontsize=11)
    arena_ax.set_title("Tensor arena the model needs", loc="left", fontsize=11)
    handles, labels = arena_ax.get_legend_handles_labels()  # arena: every series has one
    fig.legend(handles, labels, loc="outside upper right", ncols=min(4, len(colours)),
               fontsize=8, frameon=False, title="board")
    missing = sum(e.result["firmware"]["flash_bytes"] is None for e in entries)
    note = (f" {missing} result(s) ran on firmware not built here: no flash size."
            if missing else "")
    return _finish(fig, "boards-memory", "Flash and arena per model and board",
                   "Firmware flash from the ELF and the arena the model needs, in KiB "
                   f"(1024 bytes).{note}")


# --- latency logs -------------------------------------------------------------------------

RAW_POINTS = 20_000  # dots drawn at most; bigger logs get an envelope and a subsample
ENVELOPE_BINS = 1000
GAP_LABELS = 8  # the largest gaps get their size written on the plot
OPS_SHOWN = 7  # operators in the stacked shares; the rest are "other"
OPS_BINS = 100


def log_plots(report: LogReport) -> list[Plot]:
    plots = [_log_over_time(report), _log_histogram(report)]
    if report.ops is not None:
        plots.append(_log_ops(report))
    return plots


def _time_scale(view: LogView) -> tuple[float, str]:
    """Divisor and axis label for the x-axis: hours, minutes or seconds of host time."""
    if not view.timed:
        return 1.0, "record index (the records carry no host time)"
    duration = view.duration or 0.0
    divisor, unit = (3600.0, "h") if duration >= 3 * 3600 else \
        (60.0, "min") if duration >= 180 else (1.0, "s")
    return divisor, f"host time since the first record ({unit})"


def slices(xs: npt.NDArray[np.float64], bins: int
           ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """``bins`` equal slices of sorted ``xs``: each one's first index, whether it holds any
    value, and its centre."""
    edges = np.linspace(xs[0], xs[-1], bins + 1)
    starts = np.searchsorted(xs, edges[:-1], "left")
    filled = np.diff(np.append(starts, xs.size)) > 0
    return starts, filled, (edges[:-1] + edges[1:]) / 2


def envelope(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], bins: int
             ) -> tuple[npt.NDArray[np.float64], ...]:
    """Slice centres and the min and max of y in equal slices of x (NaN where a slice is
    empty, so a stretch with no records stays blank)."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    starts, filled, centres = slices(xs, bins)
    low, high = np.full(bins, np.nan), np.full(bins, np.nan)
    low[filled] = np.minimum.reduceat(ys, starts[filled])
    high[filled] = np.maximum.reduceat(ys, starts[filled])
    return centres, low, high


def broken_at_jumps(x: npt.NDArray[np.float64], *ys: npt.NDArray[np.float64]
                    ) -> tuple[npt.NDArray[np.float64], ...]:
    """x and ys with a NaN wherever x jumps by over 10 typical steps and 1% of its span,
    so a line is not drawn across a stretch with no records (a gap, the host away)."""
    steps = np.diff(x)
    if steps.size == 0:
        return (x, *ys)
    limit = max(10 * float(np.median(steps)), 0.01 * float(x[-1] - x[0]))
    cut = np.flatnonzero(steps > limit) + 1
    return tuple(np.insert(a, cut, np.nan) for a in (x, *ys))


def _log_over_time(report: LogReport) -> Plot:
    view, rolling, drift = report.view, report.rolling, report.drift
    divisor, xlabel = _time_scale(view)
    x, y = view.x / divisor, view.latency
    fig = _figure(5.2)
    ax = fig.subplots()
    if y.size <= RAW_POINTS:
        ax.scatter(x, y, s=5, color="tab:blue", alpha=0.45, linewidths=0, label="inference")
        raw = f"All {y.size:,} inferences as dots"
    else:
        centres, low, high = envelope(x, y, ENVELOPE_BINS)
        ax.fill_between(centres, low, high, step="mid", color="tab:blue", alpha=0.25,
                        linewidth=0, label="min-max per bin")
        pick = np.random.default_rng(0).choice(y.size, RAW_POINTS, replace=False)
        ax.scatter(x[pick], y[pick], s=3, color="tab:blue", alpha=0.35, linewidths=0,
                   label=f"random {RAW_POINTS:,}")
        raw = (f"{y.size:,} inferences, drawn as their min-max envelope in {ENVELOPE_BINS:,} "
               f"equal slices of the x-axis (shaded) and a random {RAW_POINTS:,} of them (dots)")
    rx, median, p99 = broken_at_jumps(rolling.x / divisor, rolling.median, rolling.p99)
    ax.plot(rx, median, color="black", lw=1.5, label="rolling median")
    ax.plot(rx, p99, color="tab:orange", lw=1.3, label="rolling p99")
    trend = ""
    if drift.meaningful and drift.slope is not None:
        ends = np.array([0.0, float(view.x.max())])
        ax.plot(ends / divisor, drift.intercept + drift.slope * ends / 3600, color="tab:red",
                lw=1.2, ls="--", label=f"trend {signed_slope(drift.slope)}/h")
        trend = ("; dashed: the least-squares trend "
                 f"({signed_slope(drift.slope)} {view.unit} per hour)")
    marks = _draw_marks(ax, report, divisor)
    _count_axis(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(unit_axis(view.unit), fontsize=9)
    ax.margins(x=0.01)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.legend(loc="outside lower center", ncols=6, fontsize=8, frameon=False)
    model = str(view.header.get("model", "")).rsplit("/", 1)[-1].removesuffix(".tflite")
    title = f"{_safe(model, 40)} on {_safe(str(view.header.get('board', '')), 30)}: " \
            f"latency over {'host time' if view.timed else 'the record index'}"
    ax.set_title(title, loc="left", fontsize=12)
    return _finish(
        fig, "log-latency-over-time", "Latency over time",
        f"{raw}. Lines: median and p99 of sliding windows of {rolling.window:,} records "
        f"(drawn at {rolling.x.size:,} windows){trend}.{marks} "
        f"y: latency in {view.unit}; x: "
        + ("host time (the host's wall clock at receipt)." if view.timed else
           "the record index (the records carry no host time)."))


def signed_slope(value: float) -> str:
    return f"{value:+,.0f}" if abs(value) >= 1000 else f"{value:+.3g}"


def _draw_marks(ax: Axes, report: LogReport, divisor: float) -> str:
    """Shade gaps and disconnections, draw restarts; the caption's sentence about them."""
    gaps = [m for m in report.marks if m.kind == "gap"]
    away = [m for m in report.marks if m.kind == "away"]
    restarts = [m for m in report.marks if m.kind == "restart"]
    for i, m in enumerate(away):
        ax.axvspan(m.x0 / divisor, m.x1 / divisor, color="0.55", alpha=0.18, linewidth=0,
                   label="host disconnected" if i == 0 else None)
    for i, m in enumerate(gaps):
        label = "gap (records lost)" if i == 0 else None
        if m.x1 > m.x0:
            ax.axvspan(m.x0 / divisor, m.x1 / divisor, color="tab:red", alpha=0.2,
                       linewidth=0, label=label)
        else:
            ax.axvline(m.x0 / divisor, color="tab:red", lw=1, alpha=0.7, label=label)
    for i, m in enumerate(restarts):
        ax.axvline(m.x0 / divisor, color="0.2", lw=1, ls=":",
                   label="device restarted" if i == 0 else None)
    labelled = sorted(gaps, key=lambda m: -m.lost)[:GAP_LABELS]
    for m in labelled:
        ax.annotate(f"-{m.lost:,}", ((m.x0 + m.x1) / 2 / divisor, 0.99),
                    xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=7,
                    color="firebrick", bbox={"boxstyle": "round,pad=0.15", "fc": "white",
                                             "ec": "none", "alpha": 0.85})
    parts = []
    if gaps:
        lost = sum(m.lost for m in gaps)
        which = "each labelled" if len(gaps) <= GAP_LABELS else \
            f"the {GAP_LABELS} largest labelled"
        parts.append(f" Red: {len(gaps)} gap(s), {lost:,} records lost ({which} with its "
                     "size)")
    if away:
        parts.append(f" Grey: {len(away)} disconnection(s) of the host")
    if restarts:
        parts.append(f" Dotted: {len(restarts)} device restart(s)")
    return ".".join(parts) + ("." if parts else "")


def _log_histogram(report: LogReport) -> Plot:
    view, stats = report.view, report.stats
    y = view.latency
    fig = _figure(4.2)
    ax = fig.subplots()
    if stats["max"] == stats["min"]:
        edges = np.array([stats["min"] - 0.5, stats["min"] + 0.5])
        counts = np.array([y.size])
    else:
        bins = int(np.clip(2 * y.size ** (1 / 3), 10, 150))  # the Rice rule, bounded
        counts, edges = np.histogram(y, bins=bins)
    ax.stairs(counts, edges, fill=True, color="tab:blue", alpha=0.7)
    filled = counts[counts > 0]
    log = bool(filled.max() / filled.min() > 100)  # a tail a linear axis would hide
    if log:
        ax.set_yscale("log")
    for name, colour in (("median", "black"), ("p99", "tab:orange"), ("max", "tab:red")):
        ax.axvline(stats[name], color=colour, lw=1.2, ls="--" if name != "median" else "-",
                   label=f"{name} {count_text(stats[name])}")
    if stats["max"] == stats["min"]:
        ax.set_xlim(stats["min"] - max(1.0, abs(stats["min"]) * 0.001),
                    stats["max"] + max(1.0, abs(stats["max"]) * 0.001))
    _count_axis(ax)
    ax.set_xlabel(unit_axis(view.unit))
    ax.set_ylabel("inferences" + (" (log scale)" if log else ""))
    ax.legend(fontsize=8, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    same = " All of them are identical." if stats["max"] == stats["min"] else ""
    ax.set_title(f"Latency distribution, {y.size:,} inferences, in {view.unit}", loc="left",
                 fontsize=12)
    return _finish(fig, "log-histogram", "Latency distribution",
                   f"{y.size:,} inferences in {counts.size} bins"
                   + ("; counts on a log scale, so the tail stays visible" if log else "")
                   + f". Latency in {view.unit}.{same}")


def _log_ops(report: LogReport) -> Plot:
    ops, view = report.ops, report.view
    assert ops is not None
    divisor, xlabel = _time_scale(view)
    top = np.argsort(-ops.counts.mean(axis=0), kind="stable")[:OPS_SHOWN]
    order = np.argsort(ops.x, kind="stable")
    xs, counts = ops.x[order] / divisor, ops.counts[order]
    starts, filled, centres = slices(xs, min(OPS_BINS, xs.size))
    starts, centres = starts[filled], centres[filled]
    sums = np.add.reduceat(counts, starts, axis=0)
    total = sums.sum(axis=1, keepdims=True)
    shares = 100 * sums / np.where(total > 0, total, 1.0)
    layers = [shares[:, i] for i in top]
    labels = [_safe(ops.names[i], 30) for i in top]
    if ops.counts.shape[1] > top.size:
        layers.append(100 - np.sum(layers, axis=0))
        labels.append("other")
    if centres.size == 1:  # one slice: a band of one record's width still reads
        centres = np.array([centres[0], centres[0] + 1.0])
        layers = [np.repeat(layer, 2) for layer in layers]
    fig = _figure(4.4)
    ax = fig.subplots()
    colours = _palette(labels, "tab20")
    ax.stackplot(centres, layers, labels=labels, colors=[colours[k] for k in labels])
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of the operators' counts (%)")
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)
    ax.set_title("Where the counts go over time, by operator", loc="left", fontsize=12)
    return _finish(fig, "log-ops-over-time", "Per-operator share over time",
                   f"The {top.size} busiest operators' share of the operators' counts "
                   f"({view.unit}), in {starts.size} slices of the x-axis; the rest are "
                   "'other'.")
