"""``mcubench report``: benchmark results or a latency log as one self-contained HTML page,
PNGs, or a table.

A report is a list of sections, each a sequence of HTML fragments and plots; the page
writer and the PNG writer only see that: benchmark results and latency logs (``.jsonl``
from ``mcubench log``) bring their own sections and share both. The page embeds its plots
as base64 PNG and its CSS inline: it opens offline, from a CI artifact or a mail
attachment, and loads nothing.

Every string that comes from a results file goes through ``html.escape`` on its way in.
matplotlib is imported only when plots are drawn, so the console summary and every other
``mcubench`` command start without it.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import html
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from mcubench import __version__
from mcubench.errors import UsageError
from mcubench.log_analysis import (
    TABLE_ROWS,
    Drift,
    LogReport,
    LogView,
    Losses,
    analyse_log,
)
from mcubench.results import Result, load_document, model_label, utc_now

if TYPE_CHECKING:
    from mcubench.logfile import LogSeries
    from mcubench.plots import Plot

NONE = "-"  # a value the result does not have
UNIT_NOTE = ("Latency is in each board's counter unit. Emulated boards count instructions "
             "(QEMU -icount), which is not time; cycles are core clock cycles; ns is the "
             "host clock of the native build. Results in different units are never drawn "
             "on one axis.")


@dataclass(frozen=True)
class Entry:
    """One result, with the names it goes by in tables and plots."""

    result: Result
    source: Path
    model: str  # short model name (model_label)
    series: str  # the board; plus the file when one model and board come from several

    @property
    def label(self) -> str:
        return f"{self.model} @ {self.series}"

    @property
    def unit(self) -> str:
        return str(self.result["counter_unit"])


@dataclass(frozen=True)
class Source:
    path: Path
    created: str
    command: str | None
    results: int


@dataclass(frozen=True)
class Section:
    anchor: str  # id in the page, for the table of contents
    title: str
    blocks: tuple[str | Plot, ...]  # HTML fragments (already escaped) and plots, in order


# --- input ------------------------------------------------------------------------------


def load_entries(paths: Sequence[Path]) -> tuple[list[Entry], list[Source]]:
    """Every result of every file, in order; labels made unique across files."""
    loaded: list[tuple[Path, Result]] = []
    sources = []
    for path in paths:
        if path.suffix == ".jsonl":
            raise UsageError(f"{path} looks like a latency log: `mcubench report` reads "
                             "benchmark results (.json from `mcubench bench --json`)")
        document = load_document(path)
        sources.append(Source(path, document["created"], document.get("command"),
                              len(document["results"])))
        loaded.extend((path, r) for r in document["results"])
    if not loaded:
        raise UsageError("no results to report: the results list is empty in "
                         + ", ".join(str(p) for p in paths))
    keys = Counter((model_label(r), r["board"]) for _, r in loaded)
    entries = []
    for path, r in loaded:
        model, series = model_label(r), str(r["board"])
        if keys[(model, r["board"])] > 1:
            series = f"{series} ({path.name})"
        entries.append(Entry(r, path, model, series))
    seen: Counter[str] = Counter()
    unique = []
    for e in entries:  # still alike (the same file twice): number them
        seen[e.label] += 1
        n = seen[e.label]
        unique.append(e if n == 1 else Entry(e.result, e.source, e.model, f"{e.series} #{n}"))
    return unique, sources


def profiled(entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if e.result.get("ops")]


def type_totals(ops: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int, float]]:
    """Op type -> (nodes, MACs, counts), types by counts, largest first."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for op in ops:
        t = totals[op["op"]]
        t[0] += 1
        t[1] += op["macs"]
        t[2] += op["counts"]
    ordered = sorted(totals.items(), key=lambda kv: -kv[1][2])
    return {k: (int(v[0]), int(v[1]), float(v[2])) for k, v in ordered}


# --- numbers as text ----------------------------------------------------------------------


def _count(value: Any) -> str:
    if value is None:
        return NONE
    v = float(value)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _int(value: Any) -> str:
    return NONE if value is None else f"{int(value):,}"


def _ratio(value: Any) -> str:
    return NONE if value is None else f"{float(value):,.2f}"


def _pct(value: Any) -> str:
    return NONE if value is None else f"{100 * float(value):.1f}%"


def summary_rows(entries: Sequence[Entry]) -> list[dict[str, str]]:
    """The summary table's cells, as text (escaping is the renderer's job)."""
    rows = []
    for e in entries:
        r, lat = e.result, e.result["latency"]
        us = r.get("latency_us")
        rows.append({
            "model": e.model, "board": e.series, "unit": e.unit, "runs": str(r["runs"]),
            "min": _count(lat["min"]), "median": _count(lat["median"]),
            "p99": _count(lat.get("p99")), "max": _count(lat["max"]),
            "median µs": _count(us["median"]) if us else NONE,
            "MACs": _int(r["macs"]), "counts/MAC": _ratio(r.get("counts_per_mac")),
            "arena B": _int(r["arena_bytes"]), "flash B": _int(r["firmware"]["flash_bytes"]),
            "bit-exact": "yes" if r["bit_exact"] else "NO",
        })
    return rows


NUMERIC = {"runs", "min", "median", "p99", "max", "median µs", "MACs", "counts/MAC",
           "arena B", "flash B"}


# --- console ------------------------------------------------------------------------------


def summary_table(entries: Sequence[Entry], sources: Sequence[Source]) -> Table:
    rows = summary_rows(entries)
    columns = [c for c in rows[0] if c not in ("p99", "median µs")]
    table = Table(title=f"{len(entries)} result(s) from "
                        + ", ".join(rich_escape(s.path.name) for s in sources),
                  caption="latency in each row's unit; instructions are not time")
    for c in columns:
        table.add_column(c, justify="right" if c in NUMERIC else "left")
    for row in rows:
        cells = [rich_escape(row[c]) for c in columns]
        if row["bit-exact"] == "NO":
            cells[-1] = "[bold red]NO[/bold red]"
        table.add_row(*cells)
    return table


# --- HTML ---------------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]],
               numeric: Sequence[bool] | None = None, cls: str = "") -> str:
    """A table from already escaped cells; numeric columns right-aligned."""
    numeric = numeric or [False] * len(header)
    head = "".join(f'<th class="{"num" if n else ""}">{h}</th>'
                   for h, n in zip(header, numeric, strict=True))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if n else ""}">{c}</td>'
                         for c, n in zip(row, numeric, strict=True)) + "</tr>"
        for row in rows)
    return (f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _figure_html(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    return (f'<figure id="fig-{esc(plot.name)}"><img src="data:image/png;base64,{data}" '
            f'width="{plot.width}" height="{plot.height}" alt="{esc(plot.title)}">'
            f"<figcaption>{esc(plot.caption)} <span class=file>{esc(plot.name)}.png</span>"
            "</figcaption></figure>")


CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --band: #f4f6fa; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
main { max-width: 1140px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 28px 0 8px; }
p.meta, figcaption, .note { color: var(--muted); font-size: 13px; }
nav { margin: 12px 0 0; font-size: 14px; }
nav a { margin-right: 14px; color: #2458b8; text-decoration: none; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0 4px; }
th, td { padding: 4px 6px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: var(--band); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num, .nowrap { white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafbfd; }
.bad { color: var(--bad); font-weight: 700; }
.good { color: #067647; }
code, .hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
              font-size: 12px; word-break: break-all; }
figure { margin: 16px 0 28px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 4px; }
figcaption { margin-top: 6px; }
.file { font-family: ui-monospace, monospace; font-size: 11px; color: #8a93a5; }
.bar { display: inline-block; height: 9px; background: #5b8def; border-radius: 2px;
       margin-right: 6px; vertical-align: baseline; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr));
         gap: 8px 24px; }
.cards h3 { margin-top: 12px; }
details > summary { cursor: pointer; color: var(--muted); font-size: 13px; margin: 6px 0; }
"""


def html_page(title: str, intro: str, sections: Sequence[Section]) -> str:
    """The whole page: ``intro`` and sections are trusted (escaped) HTML."""
    nav = "".join(f'<a href="#{esc(s.anchor)}">{esc(s.title)}</a>' for s in sections)
    body = []
    for s in sections:
        blocks = "".join(b if isinstance(b, str) else _figure_html(b) for b in s.blocks)
        body.append(f'<section id="{esc(s.anchor)}"><h2>{esc(s.title)}</h2>{blocks}</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><main><header><h1>{esc(title)}</h1>{intro}<nav>{nav}</nav></header>"
            + "".join(body) + "</main></body></html>\n")


def section_plots(sections: Sequence[Section]) -> list[Plot]:
    return [b for s in sections for b in s.blocks if not isinstance(b, str)]


# --- the benchmark report's sections ------------------------------------------------------


def benchmark_sections(entries: Sequence[Entry]) -> list[Section]:
    from mcubench import plots  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    return [
        Section("summary", "Summary", (_summary_html(entries),)),
        Section("latency", "Latency distribution",
                (f'<p class="note">{esc(UNIT_NOTE)}</p>', *plots.latency_plots(entries))),
        Section("boards", "Board comparison", tuple(plots.board_plots(entries))),
        Section("ops", "Per-operator profile", _ops_blocks(entries, plots.ops_plots(entries))),
        Section("provenance", "Provenance", _provenance_blocks(entries)),
    ]


def _summary_html(entries: Sequence[Entry]) -> str:
    rows = summary_rows(entries)
    header = [c for c in rows[0] if c != "median µs" or any(r[c] != NONE for r in rows)]
    cells = []
    for row in rows:
        line = [f'<span class="nowrap">{esc(row[c])}</span>' if c in ("board", "unit")
                else esc(row[c]) for c in header]
        line[-1] = ('<span class="good">yes</span>' if row["bit-exact"] == "yes"
                    else '<span class="bad">NO</span>')
        cells.append(line)
    return (html_table([esc(c) for c in header], cells, [c in NUMERIC for c in header])
            + '<p class="note">min / median / p99 / max in the row\'s unit; counts/MAC = '
              "median / MACs; arena = planned activations + persistent; flash = text + data "
              "of the firmware ELF; bit-exact = every output equals tflite_micro's.</p>")


def _ops_blocks(entries: Sequence[Entry], figures: list[Plot]) -> tuple[str | Plot, ...]:
    done = profiled(entries)
    if not done:
        return ('<p class="note">No profiled results (run <code>mcubench bench '
                "--profile</code> for a per-operator breakdown).</p>",)
    blocks: list[str | Plot] = [figures[0]]
    for e, figure in zip(done, figures[1:], strict=True):
        blocks.append(f"<h3>{esc(e.label)}</h3>")
        blocks.append(_profile_note(e))
        blocks.append(figure)
        blocks.append(_type_table(e))
        blocks.append(f"<details open><summary>all {len(e.result['ops'])} operators"
                      f"</summary>{_op_table(e)}</details>")
    return tuple(blocks)


def _profile_note(e: Entry) -> str:
    p = e.result.get("profile") or {}
    parts = [f"counts in {esc(e.unit)} (mean per inference)"]
    if "overhead" in p:
        parts.append(f"profiler overhead {100 * p['overhead']:.2f}%")
    if "ops_sum_ratio" in p:
        parts.append(f"sum of operators / whole inference = {p['ops_sum_ratio']:.4f}")
    return f'<p class="note">{"; ".join(parts)}</p>'


def _share_cell(share: float) -> str:
    width = max(1.0, 60 * share)  # px: a bar to scan the table by
    return f'<span class="bar" style="width:{width:.0f}px"></span>{_pct(share)}'


def _type_table(e: Entry) -> str:
    totals = type_totals(e.result["ops"])
    whole = sum(t[2] for t in totals.values()) or 1.0
    rows = [[esc(op_type), str(nodes), _int(macs), _count(counts), _share_cell(counts / whole),
             _ratio(counts / macs if macs else None)]
            for op_type, (nodes, macs, counts) in totals.items()]
    return html_table(["op type", "nodes", "MACs", f"counts ({esc(e.unit)})", "share",
                       "counts/MAC"], rows, [False, True, True, True, False, True])


def _op_table(e: Entry) -> str:
    rows = [[str(op["index"]), esc(op["op"]), f"<code>{esc(op['shape'])}</code>",
             _int(op["macs"]), _count(op["counts"]), _share_cell(float(op["share"])),
             _ratio(op.get("counts_per_mac"))]
            for op in sorted(e.result["ops"], key=lambda op: op["index"])]
    return html_table(["#", "op", "shape", "MACs", f"counts ({esc(e.unit)})", "share",
                       "counts/MAC"], rows, [True, False, False, True, True, False, True])


def provenance_fields(e: Entry) -> dict[str, str]:
    """What a result says about where and how it was measured, as field -> text."""
    r, p = e.result, e.result["provenance"]
    fw = r["firmware"]
    clock = p.get("clock_hz")
    fields = {
        "board": r["board"], "core": p["core"],
        "clock": f"{clock / 1e6:g} MHz" if clock else None,
        "target": p["target"], "emulated": "yes" if p["emulated"] else "no",
        "emulator": p.get("emulator"), "counter unit": r["counter_unit"],
        "counter": p["counter_note"], "compiler": p.get("compiler"),
        "build flags": p.get("build_flags"), "optimisation": fw.get("opt"),
        "model in flash": None if "model_in_flash" not in fw else
        ("yes" if fw["model_in_flash"] else "no"),
        "kernels": p["kernels"], "firmware version": p.get("firmware_version"),
        "firmware git": p.get("firmware_git"), "firmware sha256": p["firmware_sha256"],
        "protocol version": p.get("protocol_version"), "connection": p.get("url"),
        "model": r["model"], "model sha256": r["model_sha256"],
        "model bytes": _int(r.get("model_bytes")) if "model_bytes" in r else None,
        "inputs": r.get("input"), "runs / warmup": f"{r['runs']} / {r['warmup']}",
        "date": p.get("date"), "python": p["host"]["python"],
        "platform": p["host"].get("platform"),
    }
    for name, version in sorted(p["host"]["packages"].items()):
        fields[f"package {name}"] = version if version is not None else "not installed"
    fields["results file"] = e.source.name
    return {k: str(v) for k, v in fields.items() if v is not None}


HASHES = {"firmware sha256", "model sha256", "firmware git"}


def _field_rows(fields: dict[str, str]) -> list[list[str]]:
    return [[f'<span class="nowrap">{esc(k)}</span>',
             f'<span class="hash">{esc(v)}</span>' if k in HASHES else esc(v)]
            for k, v in fields.items()]


def _provenance_blocks(entries: Sequence[Entry]) -> tuple[str, ...]:
    """Fields every result shares, once; then each result's own."""
    per_entry = [provenance_fields(e) for e in entries]
    common = {k: v for k, v in per_entry[0].items()
              if len(entries) > 1 and all(f.get(k) == v for f in per_entry[1:])}
    blocks = []
    if common:
        blocks.append("<h3>Common to every result</h3>"
                      + html_table(["field", "value"], _field_rows(common)))
    cards = []
    for e, fields in zip(entries, per_entry, strict=True):
        own = {k: v for k, v in fields.items() if k not in common}
        cards.append(f"<div><h3>{esc(e.label)}</h3>"
                     + html_table(["field", "value"], _field_rows(own)) + "</div>")
    blocks.append(f'<div class="cards">{"".join(cards)}</div>')
    return tuple(blocks)


def benchmark_intro(entries: Sequence[Entry], sources: Sequence[Source]) -> str:
    files = "".join(
        f"<li><code>{esc(s.path.name)}</code>: {s.results} result(s), written "
        f"{esc(s.created)}" + (f", by <code>{esc(s.command)}</code>" if s.command else "")
        + "</li>" for s in sources)
    units = ", ".join(sorted({e.unit for e in entries}))
    return (f'<p class="meta">{len(entries)} result(s) on '
            f"{len({e.result['board'] for e in entries})} board(s), latency in {esc(units)}; "
            f"report made {esc(utc_now())} by mcubench {esc(__version__)}</p>"
            f'<ul class="meta note">{files}</ul>')


# --- latency logs: input ------------------------------------------------------------------


def is_log_path(path: Path) -> bool:
    return path.suffix == ".jsonl"


def load_log(paths: Sequence[Path]) -> LogSeries:
    """One log series. Its rotated files are read with it, so naming them too (a shell glob
    such as run*.jsonl) is fine; a second log is not."""
    from mcubench.logfile import read_log  # noqa: PLC0415 (only the log report needs it)

    for path in paths:
        _check_log_header(path)
    series = None
    for path in sorted(paths, key=lambda p: (len(p.name), p.name)):  # run.jsonl first
        if series is None:
            series = read_log(path)
        elif path.resolve() not in {f.resolve() for f in series.files}:
            files = ", ".join(f.name for f in series.files)
            raise UsageError(f"{path.name} is not part of the log {series.files[0].name} "
                             f"(files {files}): one latency log per report")
    assert series is not None  # argparse: at least one path
    return series


def _check_log_header(path: Path) -> None:
    """Every file of a log starts with a header line: without one, say so (naming the file)
    before anything is read whole."""
    try:
        with path.open("rb") as file:
            first = file.readline(1 << 20)
    except OSError as exc:
        raise UsageError(f"cannot read log {path}: {exc.strerror}") from exc
    try:
        line = json.loads(first)
    except ValueError:
        line = None
    if not isinstance(line, dict) or line.get("type") != "header":
        raise UsageError(f"{path} looks like a latency log (.jsonl), but its first line is "
                         "not an mcubench log header")


# --- latency logs: text, page and console -------------------------------------------------


def signed(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{value:+,.0f}" if abs(value) >= 1000 else f"{value:+.3g}"


def signed_pct(fraction: float | None) -> str:
    return NONE if fraction is None else f"{100 * fraction:+.3f}%"


def drift_verdict(d: Drift, unit: str) -> str:
    """The drift estimate in words: the least-squares slope, and whether the robust ones
    agree."""
    if not d.timed:
        return ("The records carry no host times, so latency cannot be set against time: no "
                "drift estimate.")
    if not d.meaningful:
        return (f"The log covers {duration_text(d.hours * 3600)} of host time: a drift "
                "estimate over less than a minute is not meaningful.")
    assert d.slope is not None
    rel = d.relative(d.slope)
    text = (f"Least squares: {signed(d.slope)} {unit} per hour ({signed_pct(rel)} of the "
            f"median per hour, {signed_pct(None if rel is None else rel * d.hours)} over the "
            f"{duration_text(d.hours * 3600)} logged).")
    # Agreement: within 20% of the slope, or within 0.01% of the median per hour when the
    # slope is that small anyway (a flat log's estimates all sit near zero).
    tolerance = max(0.2 * abs(d.slope), 1e-4 * abs(d.median))
    others = [s for s in (d.theil_sen, d.rolling) if s is not None]
    if others and all(abs(s - d.slope) <= tolerance for s in others):
        text += (" Theil-Sen and the slope of the rolling median agree, so the trend is not "
                 "the work of a few outliers.")
    elif others:
        text += (f" The robust estimates differ (Theil-Sen {signed(d.theil_sen)}, rolling "
                 f"median {signed(d.rolling)} {unit} per hour): outliers or a step change "
                 "rather than a steady trend move the least-squares line; read the plot.")
    return text


def duration_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.1f} min"
    hours = minutes / 60
    return f"{hours:.2f} h" if hours < 48 else f"{hours / 24:.2f} days"


def utc_text(unix: float) -> str:
    moment = datetime.datetime.fromtimestamp(unix, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def offset_text(seconds: float) -> str:
    """Host time after the first record (before it: an event logged ahead of it)."""
    return ("-" if seconds < 0 else "+") + duration_text(abs(seconds))


def _offset(view: LogView, unix: Any) -> str:
    if view.start is None or unix is None:
        return NONE
    return offset_text(float(unix) - view.start)


def _header_value(view: LogView, key: str) -> str:
    values = view.conflicts.get(key)
    if values:
        return " / ".join(values) + " (the log's headers differ)"
    value = view.header.get(key)
    return NONE if value is None else str(value)


def run_fields(report: LogReport) -> dict[str, str]:
    """The log's summary as field -> text; latency statistics are ``latency_rows``."""
    view, losses = report.view, report.losses
    mode = _header_value(view, "mode")
    rate = view.header.get("rate_hz")
    if rate and "rate_hz" not in view.conflicts:
        mode += f", {float(rate):g} Hz requested"
    fields = {"model": _header_value(view, "model"), "board": _header_value(view, "board"),
              "mode": mode, "counter unit": view.unit,
              "counter": str(view.header.get("counter_note") or NONE)}
    duration = view.duration
    if view.start is not None and duration is not None:
        fields["first record"] = utc_text(view.start)
        fields["last record"] = utc_text(view.start + duration)
        fields["duration"] = f"{duration_text(duration)} of host time"
        n = view.x_all.size
        fields["achieved rate"] = (f"{n / duration:,.2f} records per host second"
                                   if duration > 0 else NONE)
    else:
        fields["host time"] = "absent from the records: plots use the record index"
    fields["records"] = f"{view.x_all.size:,}"
    failed = int((~view.ok).sum())
    fields["failed inferences"] = f"{failed:,}" + (" (left out of the latency statistics)"
                                                  if failed else "")
    fields["sessions"] = str(len(losses.sessions))
    fields["gaps"] = f"{losses.gaps:,}, {losses.lost:,} record(s) lost"
    fields["sequence check"] = sequence_verdict(losses)
    counts = Counter(str(e.get("event")) for e in view.series.events)
    fields["events"] = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
    fields["ended"] = _ending(view)
    fields["files"] = ", ".join(p.name for p in view.series.files)
    skipped = view.series.skipped_lines
    if skipped:
        problems = view.series.problems or ["line not readable"]
        more = f" and {skipped - 1:,} more" if skipped > 1 else ""
        fields["damaged lines"] = f"{skipped:,} skipped: {_file_line(problems[0])}{more}"
    return fields


def _file_line(problem: str) -> str:
    """A reader's "/path/to/run.jsonl:12: why" with the file's name only."""
    place, _, why = problem.rpartition(".jsonl:")
    return f"{Path(place).name}.jsonl:{why}" if place else problem


def sequence_verdict(losses: Losses) -> str:
    seen = f"seq numbers show {losses.seq_missing:,} missing"
    if losses.tail:
        seen += (f"; {losses.tail:,} more lost after a session's last record, which only "
                 "the gap lines can know")
    if losses.disagreements:
        return f"DISAGREES with the gap lines: {'; '.join(losses.disagreements)} ({seen})"
    if losses.out_of_order:
        seen += f"; {losses.out_of_order:,} record(s) out of order"
    return f"agrees with the gap lines ({seen}, no duplicates)"


def _ending(view: LogView) -> str:
    last = view.series.summaries[-1] if view.series.summaries else None
    end = (view.start or 0.0) + float(view.x_all.max())
    if last is not None and (view.start is None or float(last.get("host_time", 0)) >= end):
        return "cleanly: a summary line follows the last record"
    return ("without a summary line after the last record: the logger was killed or "
            "crashed, or is still running")


def latency_rows(report: LogReport) -> list[tuple[str, str]]:
    stats = report.stats
    rows = [(name, _count(stats[name])) for name in
            ("min", "median", "mean", "p90", "p99", "max", "stdev")]
    median = stats["median"]
    spread = (stats["p99"] - median) / median if median else None
    rows.append(("p99 / median - 1", NONE if spread is None else f"{100 * spread:.2f}%"))
    rows.append(("inferences", f"{report.view.latency.size:,}"))
    return rows


def _fields_table(fields: dict[str, str], bad: Iterable[str] = ()) -> str:
    flagged = set(bad)
    rows = [[f'<span class="nowrap">{esc(k)}</span>',
             f'<span class="bad">{esc(v)}</span>' if k in flagged else esc(v)]
            for k, v in fields.items()]
    return html_table(["field", "value"], rows)


def log_sections(report: LogReport) -> list[Section]:
    from mcubench import plots  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    figures = {p.name: p for p in plots.log_plots(report)}
    sections = [
        Section("summary", "Summary", _log_summary_blocks(report)),
        Section("over-time", "Latency over time",
                (figures["log-latency-over-time"], f'<p class="note">{esc(LOG_UNIT_NOTE)}</p>')),
        Section("drift", "Drift", _drift_blocks(report)),
        Section("histogram", "Distribution", (figures["log-histogram"],)),
        Section("losses", "Gaps, sessions and events", _loss_blocks(report)),
    ]
    if report.ops is not None:
        sections.append(Section("ops", "Per-operator latency",
                                (figures["log-ops-over-time"], _ops_table(report))))
    sections.append(Section("provenance", "Provenance", _log_provenance(report.view)))
    return sections


LOG_UNIT_NOTE = ("The x-axis is host time: the host's wall clock when it received each "
                 "record. Latency is in the board's counter unit; on emulated boards that "
                 "counts instructions (QEMU -icount), which is not time.")


def _log_summary_blocks(report: LogReport) -> tuple[str, ...]:
    fields = run_fields(report)
    bad = [k for k in ("sequence check",) if fields[k].startswith("DISAGREES")]
    if report.losses.lost:
        bad.append("gaps")
    latency = html_table(["statistic", f"latency ({esc(report.view.unit)})"],
                         [[esc(k), esc(v)] for k, v in latency_rows(report)], [False, True])
    return (f'<div class="cards"><div><h3>Run</h3>{_fields_table(fields, bad)}</div>'
            f"<div><h3>Latency</h3>{latency}"
            f'<p class="note">Drift: {esc(drift_verdict(report.drift, report.view.unit))}</p>'
            "</div></div>",)


def _drift_blocks(report: LogReport) -> tuple[str, ...]:
    d, unit = report.drift, esc(report.view.unit)
    rows = [["least squares", signed(d.slope), signed_pct(d.relative(d.slope))],
            ["Theil-Sen (random 1,000 records, every pair)", signed(d.theil_sen),
             signed_pct(d.relative(d.theil_sen))],
            [f"least squares over the rolling median ({report.rolling.window:,} records)",
             signed(d.rolling), signed_pct(d.relative(d.rolling))]]
    table = html_table(["estimate", f"{unit} per hour", "% of the median per hour"],
                       [[esc(c) for c in row] for row in rows], [False, True, True])
    return (f"<p>{esc(drift_verdict(d, report.view.unit))}</p>", table,
            '<p class="note">Slopes of latency against host time. The least-squares line is '
            "drawn on the latency plot. Theil-Sen (the median of the slopes between pairs of "
            "records) and the rolling median's slope shrug off outliers: when they agree "
            "with least squares, the trend is steady.</p>")


def _loss_blocks(report: LogReport) -> tuple[str, ...]:
    view, losses = report.view, report.losses
    blocks = [f"<p>Sequence check: {esc(sequence_verdict(losses))}.</p>"]
    gaps = view.series.gaps
    if gaps:
        rows = [[_int(g.get("session")), _int(g.get("from_seq")), _int(g.get("to_seq")),
                 _int(g.get("lost")), esc(g.get("reason", NONE)),
                 esc(_offset(view, g.get("host_time")))] for g in gaps[:TABLE_ROWS]]
        blocks.append("<h3>Gaps</h3>" + html_table(
            ["session", "from seq", "to seq (excl.)", "lost", "reason", "noticed at"], rows,
            [True, True, True, True, False, True]) + _cut_note(len(gaps)))
    sessions = [[str(s.session), f"{s.records:,}", f"{s.first_seq:,}", f"{s.last_seq:,}",
                 f"{s.missing:,}",
                 esc(offset_text(s.start) if view.timed else f"record {s.start:,.0f}")]
                for s in losses.sessions]
    blocks.append("<h3>Sessions</h3>" + html_table(
        ["session", "records", "first seq", "last seq", "missing seq", "first record at"],
        sessions[:TABLE_ROWS], [True, True, True, True, True, True])
        + _cut_note(len(sessions))
        + '<p class="note">A session is one LOG_START on the device; a new one begins when '
          "the device restarted. Times are host time after the first record.</p>")
    events = view.series.events
    if events:
        counts = Counter(str(e.get("event")) for e in events)
        blocks.append("<h3>Events</h3>" + html_table(
            ["event", "count"], [[esc(k), str(v)] for k, v in counts.items()], [False, True]))
        rows = [[esc(_offset(view, e.get("host_time"))),
                 esc(utc_text(float(e["host_time"])) if "host_time" in e else NONE),
                 esc(e.get("event", NONE)), esc(e.get("detail", ""))]
                for e in events[:TABLE_ROWS]]
        blocks.append(f"<details><summary>all {len(events)} events</summary>"
                      + html_table(["at", "host time", "event", "detail"], rows,
                                   [True, False, False, False])
                      + _cut_note(len(events)) + "</details>")
    return tuple(blocks)


def _cut_note(total: int) -> str:
    return (f'<p class="note">First {TABLE_ROWS} of {total:,} shown.</p>'
            if total > TABLE_ROWS else "")


def _ops_table(report: LogReport) -> str:
    ops = report.ops
    assert ops is not None
    medians = np.median(ops.counts, axis=0)
    p99 = np.percentile(ops.counts, 99, axis=0)
    means = ops.counts.mean(axis=0)
    whole = float(means.sum()) or 1.0
    rows = [[esc(name), f"<code>{esc(shape)}</code>", _count(m), _count(p), _count(a),
             _share_cell(float(a) / whole)]
            for name, shape, m, p, a in zip(ops.names, ops.shapes, medians, p99, means,
                                            strict=True)]
    unit = esc(report.view.unit)
    return (html_table(["operator", "shape", f"median ({unit})", f"p99 ({unit})",
                        f"mean ({unit})", "share of the mean"], rows,
                       [False, False, True, True, True, False])
            + f'<p class="note">From the {ops.counts.shape[0]:,} records that carry '
              "per-operator counts (logged with --profile).</p>")


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix} {k}".strip().replace("_", " ")))
        return out
    return {prefix: NONE if value is None else str(value)}


def _log_provenance(view: LogView) -> tuple[str, ...]:
    h = view.header
    fields = {k: str(h[k]) for k in ("schema", "created", "command", "model", "model_sha256",
                                      "board", "counter_unit", "counter_note", "mode",
                                      "rate_hz") if h.get(k) is not None}
    fields.update(_flatten(h.get("provenance") or {}))
    fields = {k.replace("_", " "): v for k, v in fields.items()}
    note = (f'<p class="note">From the first of {len(view.series.headers)} header lines '
            "(each file, and each resumed run, starts with one).</p>")
    return (note, html_table(["field", "value"], _field_rows(fields)))


def log_intro(report: LogReport) -> str:
    view = report.view
    span = (f" over {duration_text(view.duration)} of host time"
            if view.duration is not None else "")
    files = "".join(f"<li><code>{esc(p.name)}</code></li>" for p in view.series.files)
    skipped = ""
    if view.series.skipped_lines:
        problems = "".join(f"<li>{esc(_file_line(p))}</li>"
                           for p in view.series.problems[:5])
        skipped = (f'<p class="note">{view.series.skipped_lines:,} line(s) of the log could not '
                   "be read and were skipped (a torn last line after a crash is expected; "
                   f'nothing is rewritten):</p><ul class="note">{problems}</ul>')
    return (f'<p class="meta">{esc(_header_value(view, "model"))} on '
            f"{esc(_header_value(view, 'board'))}: {view.x_all.size:,} records{esc(span)}, "
            f"latency in {esc(view.unit)}; report made {esc(utc_now())} by mcubench "
            f'{esc(__version__)}</p><ul class="meta note">{files}</ul>{skipped}')


def log_console_table(report: LogReport) -> Table:
    table = Table(title=f"latency log {rich_escape(report.view.name)}",
                  caption=f"latency in {rich_escape(report.view.unit)}; durations and "
                          "rates in host time",
                  show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for k, v in run_fields(report).items():
        table.add_row(rich_escape(k), rich_escape(v))
    for k, v in latency_rows(report):
        table.add_row(rich_escape(f"latency {k}"), rich_escape(v))
    table.add_row("drift", rich_escape(drift_verdict(report.drift, report.view.unit)))
    return table


# --- command ------------------------------------------------------------------------------


def add_report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="HTML page, PNG plots or a table from benchmark results "
                                      "or a latency log")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json|LOG.jsonl",
                   help="results from `mcubench bench --json` (several are concatenated), "
                        "or one latency log from `mcubench log --out` (its rotated files "
                        "are read with it)")
    p.add_argument("--html", type=Path, metavar="OUT.html",
                   help="write one self-contained HTML page (plots embedded)")
    p.add_argument("--png", type=Path, metavar="DIR",
                   help="write each plot as DIR/<name>.png")
    p.add_argument("--csv", type=Path, metavar="OUT.csv",
                   help="latency logs: write the records as CSV, one row per inference")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace, out: Console) -> int:
    inputs: list[Path] = args.results
    logs = [p for p in inputs if is_log_path(p)]
    if logs and len(logs) < len(inputs):
        others = [p.name for p in inputs if not is_log_path(p)]
        raise UsageError(f"{', '.join(p.name for p in logs)} is a latency log and "
                         f"{', '.join(others)} benchmark results: report them in separate "
                         "calls")
    if args.csv is not None and not logs:
        raise UsageError("--csv exports a latency log (.jsonl); for benchmark results, "
                         "`mcubench bench --csv` writes the CSV")
    for option in ("html", "csv"):
        if getattr(args, option) is not None:
            _check_out_path(f"--{option}", getattr(args, option), inputs)
    if args.png is not None:
        _make_png_dir(args.png)
    if logs:
        return _report_log(args, logs, out)
    entries, sources = load_entries(inputs)
    if args.html is None and args.png is None:
        out.print(summary_table(entries, sources))
        return 0
    sections = benchmark_sections(entries)
    page = html_page("mcubench benchmark report", benchmark_intro(entries, sources),
                     sections) if args.html is not None else None
    _write_outputs(args, page, sections, out)
    return 0


def _report_log(args: argparse.Namespace, paths: Sequence[Path], out: Console) -> int:
    series = load_log(paths)
    for option in ("html", "csv"):  # the rotated files were not on the command line
        if getattr(args, option) is not None:
            _check_out_path(f"--{option}", getattr(args, option), series.files)
    report = analyse_log(series, paths[0].name)
    if args.csv is not None:
        from mcubench.logfile import export_csv  # noqa: PLC0415 (only the log report)

        rows = export_csv(series, args.csv)
        out.print(f"wrote {rich_escape(str(args.csv))} ({rows:,} records)")
    if args.html is None and args.png is None:
        if args.csv is None:
            out.print(log_console_table(report))
        return 0
    sections = log_sections(report)
    page = html_page(f"mcubench latency log: {paths[0].name}", log_intro(report),
                     sections) if args.html is not None else None
    _write_outputs(args, page, sections, out)
    return 0


def _write_outputs(args: argparse.Namespace, page: str | None, sections: Sequence[Section],
                   out: Console) -> None:
    if page is not None:
        _write(args.html, page.encode("utf-8"))
        out.print(f"wrote {rich_escape(str(args.html))} ({len(page) / 1024:,.0f} KiB, "
                  f"{len(section_plots(sections))} plots)")
    if args.png is not None:
        for plot in section_plots(sections):
            path = args.png / f"{plot.name}.png"
            _write(path, plot.png)
            out.print(rich_escape(str(path)))


def _check_out_path(option: str, path: Path, inputs: Sequence[Path]) -> None:
    """Fail before the work: a missing folder, a folder in the way, or an input file."""
    if any(path.resolve() == p.resolve() for p in inputs):
        raise UsageError(f"{option} {path} is one of the input files; it would be overwritten")
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory; give a file name such as "
                         f"{path / ('report.html' if option == '--html' else 'log.csv')}")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {option} {path}: folder {path.parent} does not exist")


def _make_png_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise UsageError(f"--png {path} exists and is not a directory") from exc
    except OSError as exc:
        raise UsageError(f"cannot create --png directory {path}: {exc.strerror}") from exc


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
