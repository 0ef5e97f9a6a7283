"""``mcubench compare`` and the regression gate, on made-up results documents.

Expected ratios and texts are computed here from the sample numbers, not copied from output.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mcubench.compare import (
    MISSING,
    UNITS_DIFFER,
    Comparison,
    GateReport,
    ResultComparison,
    add_compare_parser,
    check_regressions,
    compare_documents,
    comparison_tables,
    format_gate_report,
    parse_threshold,
)
from mcubench.errors import RegressionError, UsageError, exit_code_for
from mcubench.results import schema_errors

from .results_samples import sample_document, sample_result

BASE_MEDIAN = 1_000_000.0
BASE_FLASH = 70_000
BASE_ARENA = 20_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcubench")
    add_compare_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(argv: list[str], out: Console | None = None) -> int:
    """The handler's exit code, a failed gate's included (as ``mcubench.cli.main`` maps it)."""
    args = _parser().parse_args(["compare", *argv])
    try:
        code: int = args.handler(args, out or Console(width=400, highlight=False))
    except RegressionError as exc:
        return exit_code_for(exc)
    return code


def _write(tmp_path: Path, name: str, *results: dict[str, Any]) -> Path:
    document = sample_document(*results)
    assert schema_errors(document) == []
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def _only(comparison: Comparison, model: str = "kws", board: str = "qemu-m4") -> ResultComparison:
    matches = [r for r in comparison.results if (r.model, r.board) == (model, board)]
    assert len(matches) == 1, comparison.results
    return matches[0]


def _metric(rc: ResultComparison, metric: str) -> list[Any]:
    return list(next(m for m in rc.metrics if m.metric == metric).cells)


# -- the side-by-side comparison -------------------------------------------------------

def test_ratios_are_later_file_over_first() -> None:
    medians, flashes, arenas = (BASE_MEDIAN, 1_052_000.0, 990_000.0), (70_000, 69_000, 70_100), \
        (20_000, 24_000, 20_000)
    documents = [sample_document(sample_result(median=m, flash=f, arena=a))
                 for m, f, a in zip(medians, flashes, arenas, strict=True)]
    rc = _only(compare_documents(["a", "b", "c"], documents))
    for metric, values in (("latency.median", medians), ("firmware.flash_bytes", flashes),
                           ("arena_bytes", arenas)):
        cells = _metric(rc, metric)
        assert [c.value for c in cells] == list(values)
        assert cells[0].ratio is None
        assert [c.ratio for c in cells[1:]] == pytest.approx([v / values[0] for v in values[1:]])
    assert [c.value for c in _metric(rc, "bit_exact")] == [True, True, True]


def test_rich_table_shows_ratios_coloured_by_direction() -> None:
    slower, faster, same = BASE_MEDIAN * 1.052, BASE_MEDIAN * 0.9, BASE_MEDIAN * 1.004
    documents = [sample_document(sample_result(median=m, profiled=False))
                 for m in (BASE_MEDIAN, slower, faster, same)]
    buffer = io.StringIO()
    console = Console(file=buffer, width=400, force_terminal=True, color_system="standard")
    for renderable in comparison_tables(compare_documents(["a", "b", "c", "d"], documents)):
        console.print(renderable)
    text = buffer.getvalue()
    red, green = "\x1b[31m", "\x1b[32m"
    assert f"{red}{slower / BASE_MEDIAN:.3f}x" in text
    assert f"{green}{faster / BASE_MEDIAN:.3f}x" in text
    plain = f"{same / BASE_MEDIAN:.3f}x"
    assert plain in text and f"{red}{plain}" not in text and f"{green}{plain}" not in text


def test_cli_table_names_files_and_values(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", sample_result())
    b = _write(tmp_path, "b.json", sample_result(median=BASE_MEDIAN * 1.25, flash=80_000))
    assert _run([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert str(a) in out and str(b) in out and "kws on qemu-m4" in out
    assert f"{BASE_MEDIAN * 1.25:,.0f} instructions" in out
    assert f"{1.25:.3f}x" in out and f"{80_000 / BASE_FLASH:.3f}x" in out
    assert "per-op counts" in out


def test_different_counter_units_are_never_divided(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cycles = sample_result(median=BASE_MEDIAN * 3)
    cycles["counter_unit"] = "cycles"
    rc = _only(compare_documents(["a", "b"], [sample_document(sample_result()),
                                              sample_document(cycles)]))
    latency = _metric(rc, "latency.median")[1]
    assert latency.ratio is None and latency.remark == UNITS_DIFFER
    assert "cycles" in latency.text
    assert _metric(rc, "arena_bytes")[1].ratio == pytest.approx(1.0)  # bytes are bytes
    assert rc.ops is not None
    assert all(op.cells[1].ratio is None and op.cells[1].remark == UNITS_DIFFER
               for op in rc.ops.rows)
    a = _write(tmp_path, "a.json", sample_result())
    b = _write(tmp_path, "b.json", cycles)
    assert _run([str(a), str(b)]) == 0
    assert UNITS_DIFFER in capsys.readouterr().out


def test_results_in_only_some_files_are_missing_there() -> None:
    a = sample_document(sample_result(), sample_result("vww.tflite", "qemu-m55"))
    b = sample_document(sample_result())
    c = sample_document(sample_result("vww.tflite", "qemu-m55"), sample_result("new.tflite"))
    comparison = compare_documents(["a", "b", "c"], [a, b, c])
    assert [(r.model, r.board) for r in comparison.results] == \
        [("kws", "qemu-m4"), ("vww", "qemu-m55"), ("new", "qemu-m4")]
    kws, vww, new = comparison.results
    assert [c.text for c in _metric(kws, "arena_bytes")][2] == MISSING
    assert kws.notes == ("missing in c",)
    assert [c.text for c in _metric(vww, "bit_exact")][1] == MISSING
    assert [c.value is None for c in _metric(new, "latency.median")] == [True, True, False]
    assert _metric(new, "latency.median")[2].ratio is None  # nothing to divide by
    assert set(new.notes) == {"missing in a", "missing in b"}


def test_a_changed_model_pairs_by_name_and_says_so() -> None:
    retrained = sample_result("models/kws.tflite", median=BASE_MEDIAN * 1.1)
    retrained["model_sha256"] = "f" * 64
    comparison = compare_documents(["a", "b"], [sample_document(sample_result()),
                                                sample_document(retrained)])
    rc = _only(comparison)
    assert rc.model_sha256[1] == "f" * 64 and rc.model_sha256[0] != rc.model_sha256[1]
    assert any("model changed" in note for note in rc.notes)
    assert _metric(rc, "latency.median")[1].ratio == pytest.approx(1.1)


def test_null_flash_is_unknown_not_a_ratio() -> None:
    no_elf = sample_result()
    no_elf["firmware"]["flash_bytes"] = None
    rc = _only(compare_documents(["a", "b", "c"], [sample_document(sample_result()),
                                                   sample_document(no_elf),
                                                   sample_document(sample_result())]))
    flash = _metric(rc, "firmware.flash_bytes")
    assert flash[1].value is None and flash[1].ratio is None and flash[1].text == "unknown"
    assert flash[2].ratio == pytest.approx(1.0)


# -- per-op ------------------------------------------------------------------------------

def test_per_op_ratios_on_the_same_graph() -> None:
    base_ops, new_ops = (600_000.0, 300_000.0, 100_000.0), (600_000.0, 330_000.0, 95_000.0)
    rc = _only(compare_documents(["a", "b"], [
        sample_document(sample_result(op_counts=base_ops)),
        sample_document(sample_result(op_counts=new_ops))]))
    assert rc.ops is not None and not rc.ops.graphs_differ and rc.ops.message is None
    assert [op.index for op in rc.ops.rows] == [0, 1, 2]
    assert [op.cells[1].ratio for op in rc.ops.rows] == \
        pytest.approx([n / b for n, b in zip(new_ops, base_ops, strict=True)])


def test_per_op_on_differing_graphs_matches_only_agreeing_types() -> None:
    new = sample_result(op_counts=(500_000.0, 300_000.0, 90_000.0, 10_000.0))
    new["ops"][1]["op"] = "ADD"  # index 1 is a different operator now
    rc = _only(compare_documents(["old", "new"], [sample_document(sample_result()),
                                                  sample_document(new)]))
    assert rc.ops is not None and rc.ops.graphs_differ
    assert rc.ops.message is not None
    assert "old: 3 ops" in rc.ops.message and "new: 4 ops" in rc.ops.message
    by_index = {op.index: op for op in rc.ops.rows}
    assert by_index[0].cells[1].ratio == pytest.approx(500_000 / 600_000)
    assert by_index[1].op == "DEPTHWISE_CONV_2D"
    assert by_index[1].cells[1].ratio is None and by_index[1].cells[1].remark is not None
    assert "ADD" in by_index[1].cells[1].text
    assert by_index[2].cells[1].ratio == pytest.approx(90_000 / 100_000)
    assert by_index[3].cells[0].value is None and by_index[3].cells[1].ratio is None


def test_no_per_op_table_unless_both_sides_are_profiled() -> None:
    documents = [sample_document(sample_result(profiled=p)) for p in (True, False)]
    assert _only(compare_documents(["a", "b"], documents)).ops is None
    documents = [sample_document(sample_result(profiled=p)) for p in (False, True)]
    assert _only(compare_documents(["a", "b"], documents)).ops is None


# -- thresholds --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("5%", 0.05), ("0.05", 0.05), ("5", 0.05), ("0.5%", 0.005), (" 12.5 % ", 0.125),
    ("0", 0.0), ("0%", 0.0), ("1", 0.01), ("150%", 1.5), ("+5%", 0.05),
])
def test_parse_threshold_accepts(text: str, expected: float) -> None:
    assert parse_threshold(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["-3%", "-0.05", "abc", "", "%", "5%%", "nan", "inf", "5x"])
def test_parse_threshold_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="regression limit"):
        parse_threshold(text)


def test_bad_threshold_on_the_command_line_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", sample_result())
    for bad in ("--max-regression=-3%", "--max-regression=abc"):
        with pytest.raises(SystemExit) as exit_info:
            _run([str(a), str(a), bad])
        assert exit_info.value.code == 2
        assert f"bad regression limit '{bad.split('=')[1]}'" in capsys.readouterr().err


# -- the gate ----------------------------------------------------------------------------

def _gate(current: dict[str, Any], baseline: dict[str, Any] | None = None,
          limit: float = 0.05) -> GateReport:
    return check_regressions(sample_document(baseline or sample_result()),
                             sample_document(current), limit)


def test_identical_documents_pass() -> None:
    document = sample_document(sample_result(), sample_result("vww.tflite", "qemu-m55"))
    report = check_regressions(document, document, 0.0)
    assert report.passed and report.regressions == () and report.notes == ()
    assert report.compared == 2
    assert "passed" in format_gate_report(report)


def test_six_percent_slower_trips_a_five_percent_gate() -> None:
    slower = BASE_MEDIAN * 1.06
    report = _gate(sample_result(median=slower))
    assert not report.passed
    (regression,) = report.regressions
    assert regression.metric == "latency.median"
    assert (regression.baseline, regression.current) == (BASE_MEDIAN, slower)
    assert regression.ratio == pytest.approx(1.06)
    assert (regression.model, regression.board) == ("kws", "qemu-m4")
    assert "latency" in regression.message
    text = format_gate_report(report)
    assert "FAILED" in text and "latency" in text and "kws on qemu-m4" in text
    assert f"{BASE_MEDIAN:,.0f}" in text and f"{slower:,.0f}" in text
    assert f"{(slower / BASE_MEDIAN - 1) * 100:+.2f}%" in text


def test_four_percent_slower_passes_a_five_percent_gate() -> None:
    assert _gate(sample_result(median=BASE_MEDIAN * 1.04)).passed


def test_the_limit_itself_passes_and_one_more_fails() -> None:
    base = sample_result(median=1000.0)
    assert _gate(sample_result(median=1500.0), base, limit=0.5).passed
    assert not _gate(sample_result(median=1501.0), base, limit=0.5).passed


def test_bigger_flash_trips() -> None:
    bigger = int(BASE_FLASH * 1.1)
    (regression,) = _gate(sample_result(flash=bigger)).regressions
    assert regression.metric == "firmware.flash_bytes"
    assert (regression.baseline, regression.current) == (BASE_FLASH, bigger)
    assert f"{bigger:,}" in format_gate_report(_gate(sample_result(flash=bigger)))


def test_bigger_arena_trips() -> None:
    bigger = int(BASE_ARENA * 1.2)
    (regression,) = _gate(sample_result(arena=bigger)).regressions
    assert regression.metric == "arena_bytes"
    assert regression.ratio == pytest.approx(bigger / BASE_ARENA)


def test_smaller_and_faster_pass() -> None:
    assert _gate(sample_result(median=BASE_MEDIAN / 2, flash=1, arena=1)).passed


def test_losing_bit_exactness_trips_whatever_the_limit() -> None:
    report = _gate(sample_result(bit_exact=False), limit=10.0)
    (regression,) = report.regressions
    assert regression.metric == "bit_exact"
    assert (regression.baseline, regression.current) == (True, False)
    assert "no longer bit-exact" in format_gate_report(report)


def test_not_bit_exact_in_both_still_fails() -> None:
    report = _gate(sample_result(bit_exact=False), sample_result(bit_exact=False))
    (regression,) = report.regressions
    assert regression.metric == "bit_exact" and regression.baseline is False
    assert "not bit-exact" in regression.message


def test_null_flash_is_a_note_not_a_silent_skip() -> None:
    no_elf = sample_result(flash=BASE_FLASH * 2)
    no_elf["firmware"]["flash_bytes"] = None
    report = _gate(no_elf)
    assert report.passed
    assert any("flash" in n.message and "this run" in n.message for n in report.notes)
    report = _gate(sample_result(flash=BASE_FLASH * 2), no_elf)
    assert report.passed and any("the baseline" in n.message for n in report.notes)
    assert "note" in format_gate_report(report)


def test_different_units_are_a_note_not_a_regression() -> None:
    cycles = sample_result(median=BASE_MEDIAN * 40)
    cycles["counter_unit"] = "cycles"
    report = _gate(cycles)
    assert report.passed
    assert any("latency not compared" in n.message for n in report.notes)


def test_missing_result_is_a_note_unless_asked() -> None:
    baseline = sample_document(sample_result(), sample_result("vww.tflite", "qemu-m55"))
    current = sample_document(sample_result())
    report = check_regressions(baseline, current, 0.05)
    assert report.passed and report.compared == 1
    assert [(n.model, n.board) for n in report.notes] == [("vww", "qemu-m55")]
    strict = check_regressions(baseline, current, 0.05, missing_is_regression=True)
    assert [(r.model, r.metric) for r in strict.regressions] == [("vww", "missing")]


def test_new_result_is_a_note() -> None:
    current = sample_document(sample_result(), sample_result("new.tflite"))
    report = check_regressions(sample_document(sample_result()), current, 0.05)
    assert report.passed and [n.model for n in report.notes] == ["new"]


def test_negative_limit_is_refused() -> None:
    with pytest.raises(UsageError):
        _gate(sample_result(), limit=-0.01)


# -- CLI outputs -------------------------------------------------------------------------

def _md_tables(text: str) -> list[list[list[str]]]:
    """Markdown tables as rows of cells (escaped pipes kept inside cells)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = line.strip().strip("|").replace("\\|", "\0").split("|")
            current.append([c.strip().replace("\0", "|") for c in cells])
        elif current:
            tables.append(current)
            current = []
    return tables


def test_markdown_tables_are_well_formed(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    odd = sample_result("we|ird.tflite")
    a = _write(tmp_path, "a.json", sample_result(), odd)
    b = _write(tmp_path, "b.json", sample_result(median=BASE_MEDIAN * 1.06), odd)
    code = _run([str(a), str(b), "--markdown", "--max-regression", "5%"])
    assert code == RegressionError.exit_code
    text = capsys.readouterr().out
    tables = _md_tables(text)
    for table in tables:
        assert len({len(row) for row in table}) == 1, table  # every row has every column
        assert set(table[1][0]) <= {"-", ":"}
    metrics = tables[0]
    assert metrics[0] == ["metric", f"`{a}`", f"`{b}`"]
    latency = next(row for row in metrics if row[0] == "latency median")
    assert f"{1.06:.3f}x" in latency[2]
    assert "### we\\|ird on qemu-m4" in text
    gate = tables[-1]
    assert gate[0][:3] == ["model", "board", "metric"]
    assert gate[2][:3] == ["kws", "qemu-m4", "latency.median"]
    assert gate[2][-1] == f"{0.06 * 100:+.2f}%"
    assert "FAILED" in text


def test_json_output_parses_and_carries_ratios_and_gate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", sample_result(), sample_result("vww.tflite", "qemu-m55"))
    b = _write(tmp_path, "b.json", sample_result(arena=BASE_ARENA * 2))
    code = _run([str(a), str(b), "--json", "--max-regression", "0.05", "--fail-on-missing"])
    assert code == RegressionError.exit_code
    record = json.loads(capsys.readouterr().out)
    assert [f["label"] for f in record["files"]] == [str(a), str(b)]
    kws = next(r for r in record["results"] if r["model"] == "kws")
    arena = next(m for m in kws["metrics"] if m["metric"] == "arena_bytes")
    assert [c["value"] for c in arena["cells"]] == [BASE_ARENA, BASE_ARENA * 2]
    assert arena["cells"][1]["ratio"] == pytest.approx(2.0)
    assert kws["ops"]["rows"][0]["cells"][1]["ratio"] == pytest.approx(1.0)
    (gate,) = record["gates"]
    assert gate["passed"] is False and gate["max_regression"] == pytest.approx(0.05)
    assert sorted(r["metric"] for r in gate["regressions"]) == ["arena_bytes", "missing"]


def test_passing_gate_exits_zero_and_says_so(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", sample_result())
    b = _write(tmp_path, "b.json", sample_result(median=BASE_MEDIAN * 1.01))
    assert _run([str(a), str(b), "--max-regression", "5%"]) == 0
    assert "passed" in capsys.readouterr().out


def test_cli_usage_errors(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.json", sample_result())
    with pytest.raises(UsageError, match="two or more"):
        _run([str(a)])
    with pytest.raises(UsageError, match="--max-regression"):
        _run([str(a), str(a), "--fail-on-missing"])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UsageError, match=r"bad\.json"):
        _run([str(a), str(tmp_path / "bad.json")])


def test_same_file_twice_gets_distinct_labels(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", sample_result())
    assert _run([str(a), str(a), "--json"]) == 0
    labels = [f["label"] for f in json.loads(capsys.readouterr().out)["files"]]
    assert labels == [str(a), f"{a} #2"]
