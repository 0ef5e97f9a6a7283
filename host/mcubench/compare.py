"""``mcubench compare`` and the regression gate ``bench --baseline`` uses.

Results pair up across files by model bytes (sha256) and board. Results still unpaired
then pair up by the model's file name and board, so a retrained model that kept its name is
compared with its old self: that is the "a model got bigger" a CI gate is for. The row or
the gate then says the model bytes changed.

Every ratio is later file / first file, and for every metric here lower is better. Latencies
in different counter units (instructions on an emulator, cycles on hardware) are never
divided by each other.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mcubench.errors import RegressionError, UsageError
from mcubench.results import Document, Result, load_document, model_label, result_key

# What ``compare --max-regression`` returns when the gate fails. A stand-in until errors.py
# has a RegressionError carrying this exit code.

PLAIN_BAND = 0.01  # ratios within 1% of 1.0 are printed without colour
MISSING = "missing"
UNKNOWN = "unknown"  # a null in the file: flash of a firmware not built here (--port)
UNITS_DIFFER = "n/a (units differ)"

Value = float | bool | None
Row = list[Result | None]  # one result (or none) per file


# -- pairing ---------------------------------------------------------------------------

def _name_key(result: Result) -> tuple[str, str]:
    return model_label(result), result["board"]


def _anchor(row: Row) -> Result:
    return next(r for r in row if r is not None)


def align(documents: Sequence[Document]) -> list[Row]:
    """The documents' results side by side: one row per model and board, first seen first.

    A row holds at most one result per file; a result with no partner starts a row of its
    own. Exact pairs (same sha256) are made before name pairs, so a file holding both the
    old and a new model under one name pairs each with the right one.
    """
    rows: list[Row] = []
    for column, document in enumerate(documents):
        pending: list[Result] = list(document["results"])
        for same in (result_key, _name_key):
            unpaired = []
            for result in pending:
                row = next((r for r in rows
                            if r[column] is None and same(_anchor(r)) == same(result)), None)
                if row is None:
                    unpaired.append(result)
                else:
                    row[column] = result
            pending = unpaired
        for result in pending:
            row = [None] * len(documents)
            row[column] = result
            rows.append(row)
    return rows


def ratio(baseline: float, current: float) -> float | None:
    """current / baseline; None when the baseline is 0 and the current is not."""
    if baseline == 0:
        return 1.0 if current == 0 else None
    return current / baseline


# -- the comparison, as data -----------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One file's value of one metric, formatted, with its ratio to the first file's."""

    value: Value  # None: the result is missing, or the file has null here
    text: str  # the value formatted, or why there is none
    ratio: float | None = None  # to the first file; None on the first file or not comparable
    remark: str | None = None  # why a later file's cell has no ratio


@dataclass(frozen=True)
class MetricRow:
    metric: str  # the JSON path in a result: "latency.median", "firmware.flash_bytes"
    label: str  # how a table names it
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class OpRow:
    index: int
    op: str  # the type in the first file that has this index
    shape: str
    cells: tuple[Cell, ...]  # counts per file


@dataclass(frozen=True)
class OpTable:
    graphs_differ: bool
    message: str | None  # what differs, when the graphs do
    rows: tuple[OpRow, ...]


@dataclass(frozen=True)
class ResultComparison:
    model: str
    board: str
    model_sha256: tuple[str | None, ...]  # per file, None where missing
    counter_unit: tuple[str | None, ...]  # per file, None where missing
    notes: tuple[str, ...]
    metrics: tuple[MetricRow, ...]
    ops: OpTable | None  # when the first file and another have a per-op profile


@dataclass(frozen=True)
class Comparison:
    labels: tuple[str, ...]  # the files, as named on the command line
    results: tuple[ResultComparison, ...]


def compare_documents(labels: Sequence[str], documents: Sequence[Document]) -> Comparison:
    """Every model and board of ``documents`` side by side, ratios to the first document."""
    if len(labels) != len(documents):
        raise ValueError("one label per document")
    return Comparison(tuple(labels),
                      tuple(_compare_row(labels, row) for row in align(documents)))


def _compare_row(labels: Sequence[str], row: Row) -> ResultComparison:
    anchor = _anchor(row)
    shas = tuple(None if r is None else str(r["model_sha256"]) for r in row)
    notes = [f"missing in {label}" for label, r in zip(labels, row, strict=True) if r is None]
    if len({s for s in shas if s is not None}) > 1:
        notes.append("the model changed (sha256 differs), paired by file name: "
                     + ", ".join(f"{label} {s[:12]}" for label, s in zip(labels, shas, strict=True)
                                 if s is not None))
    return ResultComparison(
        model=model_label(anchor), board=str(anchor["board"]), model_sha256=shas,
        counter_unit=tuple(None if r is None else str(r["counter_unit"]) for r in row),
        notes=tuple(notes), metrics=_metric_rows(row), ops=_op_table(labels, row))


def _latency(r: Result) -> float:
    return float(r["latency"]["median"])


def _arena(r: Result) -> float:
    return int(r["arena_bytes"])


def _flash(r: Result) -> float | None:
    flash = r["firmware"]["flash_bytes"]
    return None if flash is None else int(flash)


def _metric_rows(row: Row) -> tuple[MetricRow, ...]:
    return (
        MetricRow("latency.median", "latency median",
                  _numeric_cells(row, _latency, lambda r, v: f"{_num(v)} {r['counter_unit']}",
                                 same_units=True)),
        MetricRow("arena_bytes", "arena bytes",
                  _numeric_cells(row, _arena, lambda r, v: _num(v), same_units=False)),
        MetricRow("firmware.flash_bytes", "flash bytes",
                  _numeric_cells(row, _flash, lambda r, v: _num(v), same_units=False)),
        MetricRow("bit_exact", "bit-exact", tuple(
            Cell(None, MISSING) if r is None else
            Cell(bool(r["bit_exact"]), "yes" if r["bit_exact"] else "NO") for r in row)),
    )


def _numeric_cells(row: Row, get: Callable[[Result], float | None],
                   fmt: Callable[[Result, float], str], *, same_units: bool) -> tuple[Cell, ...]:
    """Cells of one lower-is-better metric; ``same_units``: ratios only within one unit."""
    first = row[0]
    first_value = None if first is None else get(first)
    cells = []
    for column, result in enumerate(row):
        value = None if result is None else get(result)
        if result is None or value is None:
            cells.append(Cell(None, MISSING if result is None else UNKNOWN))
        elif column == 0 or first is None:  # no ratio; the first column says "missing"
            cells.append(Cell(value, fmt(result, value)))
        elif first_value is None:
            cells.append(Cell(value, fmt(result, value), remark=f"n/a ({UNKNOWN} in the first)"))
        elif same_units and result["counter_unit"] != first["counter_unit"]:
            cells.append(Cell(value, fmt(result, value), remark=UNITS_DIFFER))
        else:
            r = ratio(first_value, value)
            cells.append(Cell(value, fmt(result, value), r,
                              None if r is not None else "n/a (first is 0)"))
    return tuple(cells)


def _op_types(result: Result) -> list[str]:
    return [op["op"] for op in sorted(result["ops"], key=lambda op: int(op["index"]))]


def _op_table(labels: Sequence[str], row: Row) -> OpTable | None:
    """Per-op counts side by side, matched by index where the op types agree."""
    first = row[0]
    if first is None or "ops" not in first:
        return None
    profiled = [(label, r) for label, r in zip(labels, row, strict=True)
                if r is not None and "ops" in r]
    if len(profiled) < 2:
        return None
    differ = [(label, r) for label, r in profiled[1:] if _op_types(r) != _op_types(first)]
    message = None
    if differ:
        sizes = ", ".join(f"{label}: {len(r['ops'])} ops" for label, r in [profiled[0], *differ])
        message = (f"the operator graphs differ ({sizes}); ops are compared by index only "
                   "where their types agree")
    by_index = [None if r is None or "ops" not in r else {int(op["index"]): op for op in r["ops"]}
                for r in row]
    indices = sorted({i for ops in by_index if ops is not None for i in ops})
    rows = []
    for index in indices:
        ref = next(ops[index] for ops in by_index if ops is not None and index in ops)
        rows.append(OpRow(index, str(ref["op"]), str(ref["shape"]),
                          _op_cells(row, by_index, index, str(ref["op"]))))
    return OpTable(bool(differ), message, tuple(rows))


def _op_cells(row: Row, by_index: Sequence[dict[int, dict[str, Any]] | None], index: int,
              op_type: str) -> tuple[Cell, ...]:
    first_ops = by_index[0]
    first_op = None if first_ops is None else first_ops.get(index)
    cells = []
    for column, (result, ops) in enumerate(zip(row, by_index, strict=True)):
        if result is None or ops is None:
            cells.append(Cell(None, MISSING if result is None else "not profiled"))
            continue
        op = ops.get(index)
        if op is None:
            cells.append(Cell(None, "no such op"))
            continue
        counts = float(op["counts"])
        text = _num(counts) if op["op"] == op_type else f"{_num(counts)} ({op['op']})"
        if column == 0:
            cells.append(Cell(counts, text))
        elif op["op"] != op_type:
            cells.append(Cell(counts, text, remark="n/a (op differs)"))
        elif first_op is None:  # the first column says "no such op" or "missing"
            cells.append(Cell(counts, text))
        elif row[0] is not None and result["counter_unit"] != row[0]["counter_unit"]:
            cells.append(Cell(counts, text, remark=UNITS_DIFFER))
        else:
            r = ratio(float(first_op["counts"]), counts)
            cells.append(Cell(counts, text, r, None if r is not None else "n/a (first is 0)"))
    return tuple(cells)


def _num(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"


# -- the gate --------------------------------------------------------------------------

@dataclass(frozen=True)
class Regression:
    """One metric of one model on one board that got worse beyond the limit.

    ``message`` says what happened without naming the model and board (the fields do);
    ``format_gate_report`` prints both.
    """

    model: str
    board: str
    metric: str  # "latency.median", "arena_bytes", "firmware.flash_bytes", "bit_exact", "missing"
    baseline: Value
    current: Value
    ratio: float | None  # current / baseline; None for bit_exact, missing, or a 0 baseline
    message: str
    unit: str = ""  # of baseline and current: "instructions", "bytes"; "" for bit_exact


@dataclass(frozen=True)
class GateNote:
    """Something the gate did not compare, and why; never a failure by itself."""

    model: str | None
    board: str | None
    message: str


@dataclass(frozen=True)
class GateReport:
    max_regression: float
    regressions: tuple[Regression, ...]
    notes: tuple[GateNote, ...]
    compared: int  # result pairs found in both documents

    @property
    def passed(self) -> bool:
        return not self.regressions


def parse_threshold(text: str) -> float:
    """A regression limit as a fraction: "5%" -> 0.05.

    A bare number below 1 is a fraction ("0.05" is 5%); a bare number of 1 or more is in
    percent ("5" is 5%), since nobody means a limit of 500%. Write "0.5%" for half a percent.
    "0%" is allowed: emulator counts are deterministic, so any increase is a change.
    """
    cleaned = text.strip()
    percent = cleaned.endswith("%")
    number = cleaned.removesuffix("%").strip() if percent else cleaned
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or number.startswith("-"):
        raise UsageError(f"bad regression limit {text!r}: give a percentage like 5% "
                         "(or a fraction like 0.05), 0 or more")
    return value / 100 if percent or value >= 1 else value


def threshold_type(text: str) -> float:
    """``parse_threshold`` as an argparse ``type=``: a bad value is a usage message."""
    try:
        return parse_threshold(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def check_regressions(baseline: Document, current: Document, max_regression: float, *,
                      missing_is_regression: bool = False) -> GateReport:
    """What got worse from ``baseline`` to ``current`` by more than ``max_regression``.

    Regressions: latency median, arena or firmware flash above baseline * (1 + limit), and
    any current result that is not bit-exact (whatever the baseline says). A baseline result
    with no counterpart is a note, or a regression with ``missing_is_regression``: a CI run
    that should fail when a benchmark silently stops running asks for that. Things that
    cannot be compared (null flash, different counter units) are notes, never silent.
    """
    if not math.isfinite(max_regression) or max_regression < 0:
        raise UsageError(f"the regression limit must be 0 or more, not {max_regression}")
    regressions: list[Regression] = []
    notes: list[GateNote] = []
    compared = 0
    for base, cur in align([baseline, current]):
        if base is None:
            assert cur is not None
            notes.append(GateNote(model_label(cur), cur["board"],
                                  "not in the baseline: nothing to compare it with"))
        elif cur is None:
            _missing(base, missing_is_regression, regressions, notes)
        else:
            compared += 1
            _check_pair(base, cur, max_regression, regressions, notes)
    if not baseline["results"]:
        notes.append(GateNote(None, None, "the baseline has no results: nothing was compared"))
    return GateReport(max_regression, tuple(regressions), tuple(notes), compared)


def _missing(base: Result, as_regression: bool, regressions: list[Regression],
             notes: list[GateNote]) -> None:
    model, board = model_label(base), str(base["board"])
    message = "in the baseline but not in this run: the benchmark did not run"
    if as_regression:
        regressions.append(Regression(model, board, "missing", None, None, None, message))
    else:
        notes.append(GateNote(model, board, message))


def _check_pair(base: Result, cur: Result, limit: float, regressions: list[Regression],
                notes: list[GateNote]) -> None:
    model, board = model_label(cur), str(cur["board"])

    def note(message: str) -> None:
        notes.append(GateNote(model, board, message))

    def check(metric: str, label: str, unit: str, old: float, new: float) -> None:
        if new > old * (1 + limit):
            r = ratio(old, new)
            change = "from 0" if r is None else f"{_pct(r - 1)}"
            regressions.append(Regression(
                model, board, metric, old, new, r,
                f"{label} {_num(old)} -> {_num(new)} {unit} ({change}), over the "
                f"{_limit_text(limit)} limit", unit))

    if base["model_sha256"] != cur["model_sha256"]:
        note("the model changed (sha256 differs); compared by file name")
    if base["counter_unit"] != cur["counter_unit"]:
        note(f"latency not compared: counted in {base['counter_unit']} in the baseline, "
             f"{cur['counter_unit']} now")
    else:
        check("latency.median", "latency median", str(cur["counter_unit"]),
              _latency(base), _latency(cur))
    check("arena_bytes", "arena", "bytes", _arena(base), _arena(cur))
    old_flash, new_flash = _flash(base), _flash(cur)
    if old_flash is None or new_flash is None:
        where = " and ".join(w for w, v in (("the baseline", old_flash), ("this run", new_flash))
                             if v is None)
        note(f"firmware flash not compared: unknown in {where} (firmware not built here)")
    else:
        check("firmware.flash_bytes", "firmware flash", "bytes", old_flash, new_flash)
    if not cur["bit_exact"]:
        was = bool(base["bit_exact"])
        regressions.append(Regression(
            model, board, "bit_exact", was, False, None,
            "outputs are no longer bit-exact with tflite_micro (they were in the baseline)" if was
            else "outputs are not bit-exact with tflite_micro (nor were they in the baseline)"))


def _pct(fraction: float) -> str:
    return f"{fraction * 100:+.2f}%"


def _limit_text(limit: float) -> str:
    return f"+{limit * 100:g}%"


def format_gate_report(report: GateReport) -> str:
    """Plain text for a terminal or a CI log: the verdict, each regression, then notes."""
    limit = _limit_text(report.max_regression)
    n = len(report.regressions)
    verdict = "passed" if report.passed else f"FAILED, {n} regression{'s' if n != 1 else ''}"
    lines = [f"regression gate (limit {limit}): {verdict}; "
             f"{report.compared} result{'s' if report.compared != 1 else ''} compared"]
    lines += [f"  REGRESSION {_where(r.model, r.board)}: [{r.metric}] {r.message}"
              for r in report.regressions]
    lines += [f"  note: {_note_text(note)}" for note in report.notes]
    return "\n".join(lines)


def _where(model: str | None, board: str | None) -> str:
    return f"{model} on {board}"


def gate_record(report: GateReport) -> dict[str, Any]:
    """The report as JSON-ready data."""
    return {"passed": report.passed, **asdict(report)}


# -- output ----------------------------------------------------------------------------

def _ratio_text(r: float) -> str:
    return f"{r:.3f}x"


def _rich_cell(cell: Cell) -> str:
    text = escape(cell.text)
    if cell.value is False:
        text = f"[bold red]{text}[/bold red]"
    if cell.ratio is not None:
        shown = _ratio_text(cell.ratio)
        if cell.ratio > 1 + PLAIN_BAND:
            shown = f"[red]{shown}[/red]"
        elif cell.ratio < 1 - PLAIN_BAND:
            shown = f"[green]{shown}[/green]"
        return f"{text} {shown}"
    if cell.remark:
        return f"{text} [dim]{escape(cell.remark)}[/dim]"
    return text


def comparison_tables(comparison: Comparison) -> list[Table | str]:
    """Rich renderables: per model and board, a metric table and a per-op table."""
    out: list[Table | str] = []
    labels = [escape(label) for label in comparison.labels]
    for rc in comparison.results:
        title = f"{escape(rc.model)} on {escape(rc.board)}"
        table = Table("metric", *labels, title=title,
                      caption="ratios: later file / first file" if len(labels) > 1 else None)
        for metric in rc.metrics:
            table.add_row(metric.label, *(_rich_cell(c) for c in metric.cells))
        out.append(table)
        out += [f"  [yellow]note[/yellow]: {escape(n)}" for n in rc.notes]
        if rc.ops is not None:
            ops = Table("#", "op", *labels, title=f"per-op counts: {title}",
                        caption=escape(rc.ops.message) if rc.ops.message else None)
            for op in rc.ops.rows:
                ops.add_row(str(op.index), escape(op.op), *(_rich_cell(c) for c in op.cells))
            out.append(ops)
    return out


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(cell: Cell) -> str:
    text = _md(cell.text)
    if cell.value is False:
        text = f"**{text}**"
    if cell.ratio is not None:
        shown = _ratio_text(cell.ratio)
        return f"{text} (**{shown}**)" if cell.ratio > 1 + PLAIN_BAND else f"{text} ({shown})"
    return f"{text} {_md(cell.remark)}" if cell.remark else text


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> str:
    align_row = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = [header, align_row, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def comparison_markdown(comparison: Comparison,
                        gates: Sequence[tuple[str, GateReport]] = ()) -> str:
    """GitHub-flavoured markdown: the tables, then each gate (for CI comments)."""
    labels = [_md(f"`{label}`") for label in comparison.labels]
    parts: list[str] = []
    for rc in comparison.results:
        parts.append(f"### {_md(rc.model)} on {_md(rc.board)}")
        parts.append(_md_table(["metric", *labels],
                               [[m.label, *(_md_cell(c) for c in m.cells)] for m in rc.metrics],
                               numeric_from=1))
        parts += [f"> note: {_md(n)}" for n in rc.notes]
        if rc.ops is not None:
            parts.append(f"#### per-op counts: {_md(rc.model)} on {_md(rc.board)}")
            if rc.ops.message:
                parts.append(f"> {_md(rc.ops.message)}")
            parts.append(_md_table(
                ["#", "op", *labels],
                [[str(op.index), _md(op.op), *(_md_cell(c) for c in op.cells)]
                 for op in rc.ops.rows], numeric_from=2))
    for label, report in gates:
        parts.append(_gate_markdown(comparison.labels[0], label, report))
    return "\n\n".join(parts) + "\n"


def _gate_markdown(baseline: str, current: str, report: GateReport) -> str:
    limit = _limit_text(report.max_regression)
    verdict = "passed" if report.passed else f"**FAILED**: {len(report.regressions)} regression(s)"
    lines = [f"### Regression gate: `{_md(current)}` against `{_md(baseline)}` "
             f"(limit {limit})", "", f"{verdict}, {report.compared} result(s) compared"]
    if report.regressions:
        lines += ["", _md_table(
            ["model", "board", "metric", "baseline", "current", "change"],
            [[_md(r.model), _md(r.board), r.metric, _md(_value_text(r.baseline, r.unit)),
              _md(_value_text(r.current, r.unit)),
              "n/a" if r.ratio is None else _pct(r.ratio - 1)] for r in report.regressions],
            numeric_from=3)]
    if report.notes:
        lines += ["", *(f"- note: {_md(_note_text(n))}" for n in report.notes)]
    return "\n".join(lines)


def _value_text(value: Value, unit: str) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "bit-exact" if value else "not bit-exact"
    return f"{_num(value)} {unit}".rstrip()


def _note_text(note: GateNote) -> str:
    return f"{_where(note.model, note.board)}: {note.message}" if note.model else note.message


def comparison_record(comparison: Comparison, documents: Sequence[Document],
                      gates: Sequence[tuple[str, GateReport]] = ()) -> dict[str, Any]:
    """``compare --json``: the files, every cell and ratio, and the gates if asked."""
    record: dict[str, Any] = {
        "files": [{"label": label, "created": d.get("created"), "command": d.get("command")}
                  for label, d in zip(comparison.labels, documents, strict=True)],
        "results": [asdict(rc) for rc in comparison.results],
    }
    if gates:
        record["gates"] = [{"baseline": comparison.labels[0], "current": label,
                            **gate_record(report)} for label, report in gates]
    return record


# -- CLI -------------------------------------------------------------------------------

def _labels(paths: Sequence[Path]) -> list[str]:
    """Files as named on the command line; a file named twice gets '#2' on its second use."""
    labels: list[str] = []
    for path in paths:
        label = str(path)
        labels.append(label if label not in labels else f"{label} #{labels.count(label) + 1}")
    return labels


def cmd_compare(args: argparse.Namespace, out: Console) -> int:
    paths: list[Path] = args.files
    if len(paths) < 2:
        raise UsageError("compare needs two or more results files (the first is the reference)")
    if args.fail_on_missing and args.max_regression is None:
        raise UsageError("--fail-on-missing only means something with --max-regression")
    documents = [load_document(path) for path in paths]
    labels = _labels(paths)
    comparison = compare_documents(labels, documents)
    gates = [] if args.max_regression is None else [
        (label, check_regressions(documents[0], document, args.max_regression,
                                  missing_is_regression=args.fail_on_missing))
        for label, document in zip(labels[1:], documents[1:], strict=True)]
    if args.json:
        print(json.dumps(comparison_record(comparison, documents, gates), indent=2))
    elif args.markdown:
        print(comparison_markdown(comparison, gates), end="")
    else:
        for renderable in comparison_tables(comparison):
            out.print(renderable)
        for label, report in gates:
            out.print(f"\n[bold]{escape(label)}[/bold] against [bold]{escape(labels[0])}[/bold]:")
            out.print(format_gate_report(report), markup=False)
    failed = sum(len(report.regressions) for _, report in gates)
    if failed:
        raise RegressionError(f"{failed} regression(s) beyond the limit (see above)")
    return 0


def add_compare_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "compare", help="compare results files side by side (bench --json), ratios to the first",
        description="Per model and board: median latency, arena, flash and bit-exactness in "
                    "each file, with each later file's ratio to the first; per-op counts when "
                    "profiled. With --max-regression, a gate: the first file is the baseline.")
    p.add_argument("files", nargs="+", type=Path, metavar="RESULTS.json",
                   help="two or more files written by mcubench bench --json")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the comparison as JSON")
    output.add_argument("--markdown", action="store_true",
                        help="print GitHub-flavoured markdown tables (for CI comments)")
    p.add_argument("--max-regression", type=threshold_type, metavar="LIMIT",
                   help=f"fail (exit {RegressionError.exit_code}) when a later file's latency, "
                        "arena or flash exceeds the first's by more than LIMIT (5%%, or 0.05), "
                        "or it is not bit-exact")
    p.add_argument("--fail-on-missing", action="store_true",
                   help="with --max-regression: a result of the first file missing from a "
                        "later one is a regression, not a note")
    p.set_defaults(handler=cmd_compare)
