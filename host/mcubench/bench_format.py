"""Benchmark results as tables: rich for the terminal, markdown for CI comments, CSV.

All three come from the same flat rows, so they never disagree.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from mcubench.errors import UsageError
from mcubench.results import Result, model_label

# (column title, row key, cell format): the summary, one row per model and board.
_SUMMARY: tuple[tuple[str, str, str], ...] = (
    ("model", "model", "{}"),
    ("board", "board", "{}"),
    ("unit", "counter_unit", "{}"),
    ("min", "min", "{:,.0f}"),
    ("median", "median", "{:,.0f}"),
    ("mean", "mean", "{:,.0f}"),
    ("p90", "p90", "{:,.0f}"),
    ("p99", "p99", "{:,.0f}"),
    ("max", "max", "{:,.0f}"),
    ("stdev", "stdev", "{:,.1f}"),
    ("MACs", "macs", "{:,}"),
    ("per MAC", "counts_per_mac", "{:.3f}"),
    ("arena B", "arena_bytes", "{:,}"),
    ("flash B", "flash_bytes", "{:,}"),
    ("RAM B", "ram_bytes", "{:,}"),
    ("bit-exact", "bit_exact", "{}"),
)
_OPS: tuple[tuple[str, str, str], ...] = (
    ("#", "index", "{}"),
    ("op", "op", "{}"),
    ("shape", "shape", "{}"),
    ("MACs", "macs", "{:,}"),
    ("counts", "counts", "{:,.0f}"),
    ("share", "share", "{:.1%}"),
    ("per MAC", "counts_per_mac", "{:.3f}"),
)


def summary_row(result: Result) -> dict[str, Any]:
    """One flat row per result: what the summary table and the CSV show."""
    latency = result["latency"]
    return {
        "model": model_label(result), "board": result["board"],
        "counter_unit": result["counter_unit"],
        **{k: latency.get(k) for k in ("min", "median", "mean", "p90", "p99", "max", "stdev")},
        "macs": result["macs"], "counts_per_mac": result.get("counts_per_mac"),
        "arena_bytes": result["arena_bytes"],
        "flash_bytes": result["firmware"].get("flash_bytes"),
        "ram_bytes": result["firmware"].get("ram_bytes"),
        "bit_exact": result["bit_exact"], "runs": result["runs"],
        "model_sha256": result["model_sha256"],
        "firmware_sha256": result["provenance"].get("firmware_sha256"),
    }


def _cell(fmt: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return fmt.format(value)


def summary_tables(results: Sequence[Result]) -> list[Table]:
    """The summary as two tables that fit a terminal: latency, then size and accuracy."""
    latency = Table(*(title for title, _, _ in _SUMMARY[:10]), title="latency per inference",
                    caption="in each board's counter unit: emulated boards count "
                            "instructions, never time")
    footprint = Table(*(title for title, _, _ in (_SUMMARY[:2] + _SUMMARY[10:])),
                      title="work, memory and outputs",
                      caption="per MAC: median latency / MACs; arena: what the model needs "
                              "on the device; bit-exact: outputs equal tflite_micro's")
    for result in results:
        row = summary_row(result)
        cells = [escape(_cell(fmt, row[key])) for _, key, fmt in _SUMMARY]
        if not result["bit_exact"]:
            cells[-1] = "[bold red]NO[/bold red]"
        latency.add_row(*cells[:10])
        footprint.add_row(*(cells[:2] + cells[10:]))
    return [latency, footprint]


def ops_table(result: Result) -> Table:
    unit = result["counter_unit"]
    table = Table(*(title if key != "counts" else f"{unit}" for title, key, _ in _OPS),
                  title=f"{escape(model_label(result))} on {result['board']}: per operator "
                        f"({unit} per inference)")
    for op in result.get("ops", []):
        table.add_row(*(escape(_cell(fmt, op.get(key))) for _, key, fmt in _OPS))
    return table


def _markdown(columns: Sequence[tuple[str, str, str]], rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |",
             "| " + " | ".join("---" for _ in columns) + " |"]
    for row in rows:
        cells = (_cell(fmt, row.get(key)).replace("|", "\\|") for _, key, fmt in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(results: Sequence[Result]) -> str:
    """The summary and every profile as GitHub-flavoured markdown."""
    parts = [_markdown(_SUMMARY, [summary_row(r) for r in results])]
    for result in results:
        if result.get("ops"):
            parts.append(f"**{model_label(result)} on {result['board']}** "
                         f"({result['counter_unit']} per inference)")
            parts.append(_markdown(_OPS, result["ops"]))
    return "\n\n".join(parts) + "\n"


def write_csv(path: Path, results: Sequence[Result]) -> None:
    """One row per result, every summary field (numbers unformatted)."""
    rows = [summary_row(r) for r in results]
    try:
        with path.open("w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else ["model"])
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
