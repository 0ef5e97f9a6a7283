"""``mcubench report``: benchmark results as one self-contained HTML page, PNGs, or a table.

A report is a list of sections, each a sequence of HTML fragments and plots; the page
writer and the PNG writer only see that, so other kinds of input (latency logs) can bring
their own sections and reuse both. The page embeds its plots as base64 PNG and its CSS
inline: it opens offline, from a CI artifact or a mail attachment, and loads nothing.

Every string that comes from a results file goes through ``html.escape`` on its way in.
matplotlib is imported only when plots are drawn, so the console summary and every other
``mcubench`` command start without it.
"""

from __future__ import annotations

import argparse
import base64
import html
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from mcubench import __version__
from mcubench.errors import UsageError
from mcubench.results import Result, load_document, model_label, utc_now

if TYPE_CHECKING:
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


# --- command ------------------------------------------------------------------------------


def add_report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="HTML page, PNG plots or a table from benchmark results")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json",
                   help="results from `mcubench bench --json` (several are concatenated)")
    p.add_argument("--html", type=Path, metavar="OUT.html",
                   help="write one self-contained HTML page (plots embedded)")
    p.add_argument("--png", type=Path, metavar="DIR",
                   help="write each plot as DIR/<name>.png")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace, out: Console) -> int:
    html_path: Path | None = args.html
    png_dir: Path | None = args.png
    if html_path is not None:
        _check_html_path(html_path, args.results)
    if png_dir is not None:
        _make_png_dir(png_dir)
    entries, sources = load_entries(args.results)
    if html_path is None and png_dir is None:
        out.print(summary_table(entries, sources))
        return 0
    sections = benchmark_sections(entries)
    if html_path is not None:
        page = html_page("mcubench benchmark report", benchmark_intro(entries, sources),
                         sections)
        _write(html_path, page.encode("utf-8"))
        out.print(f"wrote {rich_escape(str(html_path))} ({len(page) / 1024:,.0f} KiB, "
                  f"{len(section_plots(sections))} plots)")
    if png_dir is not None:
        for plot in section_plots(sections):
            path = png_dir / f"{plot.name}.png"
            _write(path, plot.png)
            out.print(rich_escape(str(path)))
    return 0


def _check_html_path(path: Path, inputs: Sequence[Path]) -> None:
    """Fail before the work: a missing folder, a folder in the way, or an input file."""
    if any(path.resolve() == p.resolve() for p in inputs):
        raise UsageError(f"--html {path} is one of the results files; it would be overwritten")
    if path.is_dir():
        raise UsageError(f"--html {path} is a directory; give a file name such as "
                         f"{path / 'report.html'}")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write --html {path}: folder {path.parent} does not exist")


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
