"""``mcubench report run.jsonl``: the latency-log report, from logs written here by hand.

The logs follow the line formats of the log design (header, record, gap, event, summary)
and carry what the report must find: a gap the logger reported, records lost when the
device restarted, disconnections, a failed inference, a drift injected into the latency
(which the estimate must recover), outliers, rotation and a torn last line.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image as mpimg

from mcubench.errors import UsageError

from .results_samples import sample_document, sample_result
from .test_report import (
    CHROMIUM,
    PNG_MAGIC,
    PROBE,
    check_pngs_are_the_embedded_plots,
    check_real_picture,
    chromium,
    colour_count,
    parse,
    run_report,
)

T0 = 1_763_800_000.0  # host time of the first record (unix seconds)
BASE = 1_000_000.0  # latency at the start, instructions
OPS = [{"index": 0, "op": "CONV_2D", "shape": "1x49x10x1 -> 1x25x5x64"},
       {"index": 1, "op": "FULLY_CONNECTED", "shape": "1x64 -> 1x12"},
       {"index": 2, "op": "SOFTMAX", "shape": "1x12 -> 1x12"}]
OP_SHARES = (0.6, 0.3, 0.1)
LOG_PNGS = {"log-latency-over-time.png", "log-histogram.png", "log-ops-over-time.png"}


def header(file_index: int = 0, **fields: Any) -> dict[str, Any]:
    line = {"type": "header", "schema": "mcubench-log/1", "created": "2025-11-22T08:26:40Z",
            "command": "mcubench log --board qemu-m4 --model kws.tflite --rate 2",
            "model": "models/kws.tflite", "model_sha256": "ab" * 32, "board": "qemu-m4",
            "counter_unit": "instructions",
            "counter_note": "QEMU -icount: instructions, not time", "mode": "rate",
            "rate_hz": 2.0, "ops": OPS,
            "provenance": {"core": "cortex-m4", "emulated": True, "target": "qemu",
                           "counter_note": "QEMU -icount", "firmware_sha256": "0" * 64,
                           "kernels": "reference",
                           "host": {"python": "3.11", "packages": {"numpy": "2"}}},
            "file_index": file_index, "resumed": False}
    line.update(fields)
    return line


@dataclass
class Log:
    """Lines of a made-up log, and what they hold (worked out as they are added)."""

    lines: list[dict[str, Any]] = field(default_factory=lambda: [header()])
    records: int = 0
    failed: int = 0
    lost: int = 0
    gaps: int = 0
    sessions: set[int] = field(default_factory=set)

    def run(self, session: int, seqs: Iterable[int], start: float, rate: float,
            latency: Any, *, ops: bool = True, fail: frozenset[int] = frozenset()) -> float:
        """Records for ``seqs`` of ``session`` at ``rate`` per host second from ``start``;
        ``latency(t)`` gives each one's latency from its host time. Returns the next time."""
        t = start
        for seq in seqs:
            value = float(latency(t))
            line = {"type": "record", "seq": seq, "session": session,
                    "device_ticks": int(seq * 40_000), "latency": value, "count": seq + 1,
                    "status": 3 if seq in fail else 0, "host_time": t}
            if ops:
                line["ops"] = [value * s for s in OP_SHARES]
            self.lines.append(line)
            self.records += 1
            self.failed += seq in fail
            self.sessions.add(session)
            t += 1 / rate
        return t

    def gap(self, session: int, lo: int, hi: int, t: float, reason: str = "ring overrun"
            ) -> None:
        self.lines.append({"type": "gap", "session": session, "from_seq": lo, "to_seq": hi,
                           "lost": hi - lo, "reason": reason, "host_time": t})
        self.lost += hi - lo
        self.gaps += 1

    def event(self, name: str, t: float, detail: str = "") -> None:
        self.lines.append({"type": "event", "event": name, "host_time": t, "detail": detail})

    def write(self, path: Path, *, torn: str = "") -> None:
        path.write_text("".join(json.dumps(line) + "\n" for line in self.lines) + torn)


DRIFT_PER_HOUR = 2_000.0  # injected: 0.2% of BASE per hour
HOURS = 3.0
RATE = 2.0


def drifting(rng: np.random.Generator) -> Any:
    """Latency with the injected drift, noise, and an outlier every 400th record."""
    count = [0]

    def latency(t: float) -> float:
        count[0] += 1
        spike = 60_000.0 if count[0] % 400 == 0 else 0.0
        return round(BASE + DRIFT_PER_HOUR * (t - T0) / 3600 + rng.normal(0, 1_500) + spike)

    return latency


@dataclass(frozen=True)
class Soak:
    """The main made-up log: two files (rotated), a torn last line, and what it holds."""

    folder: Path
    paths: list[Path]
    log: Log
    seq_gap: tuple[int, int]  # reported by a gap line, and missing from the seqs
    tail: tuple[int, int]  # lost after session 7's last record (the device restarted)


def soak_log(folder: Path) -> Soak:
    log, rng = Log(), np.random.default_rng(1)
    latency = drifting(rng)
    n = int(HOURS * 3600 * RATE)
    first, tail_len, gap = n // 2, 20, (3000, 3250)
    t = log.run(7, range(gap[0]), T0, RATE, latency, fail=frozenset({1234}))
    log.event("disconnected", t, "serial read timed out")
    t += (gap[1] - gap[0]) / RATE  # the device kept running while the host was away
    log.event("reconnected", t, "socket://127.0.0.1:4000")
    log.gap(7, *gap, t)
    t = log.run(7, range(gap[1], first), t, RATE, latency)
    first_file = len(log.lines)
    t += tail_len / RATE
    log.event("device-restarted", t, "LOG_READ: not logging")
    log.gap(7, first, first + tail_len, t, "device restarted")
    log.run(8, range(n - first - tail_len - (gap[1] - gap[0])), t, RATE, latency)
    paths = [folder / "run.jsonl", folder / "run.1.jsonl"]
    Log(log.lines[:first_file]).write(paths[0])
    Log([header(1), *log.lines[first_file:]]).write(paths[1], torn='{"type": "record", "se')
    return Soak(folder, paths, log, gap, (first, first + tail_len))


@dataclass(frozen=True)
class Rendered:
    soak: Soak
    html_path: Path
    html: str
    png_dir: Path
    csv_path: Path
    output: str
    seconds: float


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    folder = tmp_path_factory.mktemp("log-report")
    soak = soak_log(folder)
    html_path, png_dir, csv_path = folder / "log.html", folder / "plots", folder / "log.csv"
    start = time.perf_counter()
    code, output = run_report(soak.paths[0], "--html", html_path, "--png", png_dir,
                              "--csv", csv_path)
    seconds = time.perf_counter() - start
    assert code == 0
    return Rendered(soak, html_path, html_path.read_text(encoding="utf-8"), png_dir, csv_path,
                    output, seconds)


def field_table(html: str, title: str) -> dict[str, str]:
    """The field/value table after the <h3> ``title``."""
    part = html.split(f"<h3>{title}</h3>", 1)[1]
    rows = parse(part).tables[0]
    return {row[0]: row[1] for row in rows[1:]}


def _records(soak: Soak) -> list[dict[str, Any]]:
    return [line for line in soak.log.lines if line["type"] == "record"]


def test_summary_counts_what_the_log_holds(rendered: Rendered) -> None:
    log = rendered.soak.log
    run = field_table(rendered.html, "Run")
    times = [r["host_time"] for r in _records(rendered.soak)]
    duration = max(times) - min(times)
    assert run["records"] == f"{log.records:,}"
    assert run["failed inferences"].startswith(f"{log.failed} ")
    assert run["sessions"] == str(len(log.sessions))
    assert run["gaps"] == f"{log.gaps}, {log.lost} record(s) lost"
    assert run["sequence check"].startswith("agrees with the gap lines")
    gap, tail = rendered.soak.seq_gap, rendered.soak.tail
    assert f"seq numbers show {gap[1] - gap[0]} missing" in run["sequence check"]
    assert f"{tail[1] - tail[0]} more lost after" in run["sequence check"]
    assert run["duration"] == f"{duration / 3600:.2f} h of host time"
    assert run["achieved rate"] == f"{log.records / duration:,.2f} records per host second"
    assert run["events"] == "disconnected 1, reconnected 1, device-restarted 1"
    assert run["files"] == "run.jsonl, run.1.jsonl"  # the rotated file was read too
    assert run["damaged lines"].startswith("1 skipped: run.1.jsonl:")  # the torn last line
    assert "torn last line" in run["damaged lines"]
    assert run["ended"].startswith("without a summary line")
    assert run["counter unit"] == "instructions"
    assert "time" not in run["counter unit"]


def test_latency_statistics(rendered: Rendered) -> None:
    ok = np.array([r["latency"] for r in _records(rendered.soak) if r["status"] == 0])
    table = field_table(rendered.html, "Latency")
    expected = {"min": ok.min(), "median": np.median(ok), "mean": ok.mean(),
                "p90": np.percentile(ok, 90), "p99": np.percentile(ok, 99), "max": ok.max(),
                "stdev": ok.std(ddof=1)}
    for name, value in expected.items():
        assert table[name] == f"{value:,.0f}", name
    assert table["inferences"] == f"{ok.size:,}"


def drift_rows(html: str) -> dict[str, list[str]]:
    part = html.split('id="drift"', 1)[1]
    return {row[0]: row[1:] for row in parse(part).tables[0][1:]}


def test_drift_finds_the_injected_trend(rendered: Rendered) -> None:
    rows = drift_rows(rendered.html)
    for name, tolerance in (("least squares", 0.05), ("Theil-Sen", 0.10),
                            ("least squares over the rolling median", 0.10)):
        row = next(v for k, v in rows.items() if k.startswith(name))
        slope = float(row[0].replace(",", ""))
        assert slope == pytest.approx(DRIFT_PER_HOUR, rel=tolerance), name
        per_cent = float(row[1].rstrip("%"))
        assert per_cent == pytest.approx(100 * DRIFT_PER_HOUR / BASE, rel=2 * tolerance)
    assert "agree" in rendered.html.split('id="drift"', 1)[1].split("</p>", 1)[0]
    caption = re.search(r'id="fig-log-latency-over-time".*?<figcaption>(.*?)</figcaption>',
                        rendered.html, re.S)
    assert caption is not None and "least-squares trend" in caption.group(1)


def test_gap_session_and_event_tables(rendered: Rendered) -> None:
    soak = rendered.soak
    part = rendered.html.split('id="losses"', 1)[1].split("</section>", 1)[0]
    gaps, sessions, events = parse(part).tables[:3]
    assert [row[:4] for row in gaps[1:]] == [
        ["7", f"{lo:,}", f"{hi:,}", f"{hi - lo:,}"] for lo, hi in (soak.seq_gap, soak.tail)]
    per_session = {s: [r for r in _records(soak) if r["session"] == s] for s in (7, 8)}
    assert [row[:5] for row in sessions[1:]] == [
        [str(s), f"{len(rs):,}", "0", f"{rs[-1]['seq']:,}",
         f"{soak.seq_gap[1] - soak.seq_gap[0] if s == 7 else 0:,}"]
        for s, rs in per_session.items()]
    assert {row[0]: row[1] for row in events[1:]} == {
        "disconnected": "1", "reconnected": "1", "device-restarted": "1"}


def test_caption_says_how_the_points_are_drawn(rendered: Rendered) -> None:
    n = rendered.soak.log.records - rendered.soak.log.failed
    caption = re.search(r'id="fig-log-latency-over-time".*?<figcaption>(.*?)</figcaption>',
                        rendered.html, re.S)
    assert caption is not None
    text = caption.group(1)
    window = max(50, n // 200)
    assert f"sliding windows of {window:,} records" in text
    if n > 20_000:
        assert "min-max envelope" in text and "random 20,000" in text
    else:
        assert f"All {n:,} inferences" in text
    assert "Red: 2 gap(s), 270 records lost" in text
    assert "Grey: 1 disconnection" in text and "Dotted: 1 device restart" in text


def test_html_is_self_contained(rendered: Rendered) -> None:
    html = rendered.html
    assert re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", html, re.I) is None
    assert "@import" not in html and "url(" not in html and "<script" not in html.lower()
    page = parse(html)
    assert len(page.images) == len(LOG_PNGS)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert "host time" in html and "which is not time" in html


def test_png_files_are_the_embedded_plots(rendered: Rendered) -> None:
    check_pngs_are_the_embedded_plots(rendered.png_dir, rendered.output, rendered.html,
                                      LOG_PNGS)


@pytest.mark.parametrize("name", sorted(LOG_PNGS))
def test_png_is_a_real_picture(rendered: Rendered, name: str) -> None:
    pixels = check_real_picture(rendered.png_dir / name, 300)
    assert np.any(pixels[..., :3] < 0.9, axis=2).mean() > 0.05  # drawn on, not blank


def test_csv_export(rendered: Rendered) -> None:
    with rendered.csv_path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    records = _records(rendered.soak)
    assert len(rows) == len(records)
    assert f"wrote {rendered.csv_path} ({len(records):,} records)" in rendered.output
    for row, record in zip(rows, records, strict=True):
        assert (int(row["session"]), int(row["seq"]), float(row["latency"])) == \
            (record["session"], record["seq"], record["latency"])
    assert float(rows[0]["op_0"]) == pytest.approx(records[0]["ops"][0])


def check_page_in_chromium(html_path: Path, images: int, tmp_path: Path) -> None:
    """Open the page in headless Chromium: every plot decodes whole at 1000 px, in colour,
    and a screenshot of the page is not blank (the probe of tests/test_report.py)."""
    probe = tmp_path / "probe.html"
    html = html_path.read_text(encoding="utf-8")
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dump = chromium("--dump-dom", probe.as_uri(), profile=tmp_path / "profile")
    dom = dump.stdout.decode("utf-8", "replace")
    assert 'data-probed="yes"' in dom, dump.stderr.decode(errors="replace")[-2000:]
    seen = [dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag))
            for tag in re.findall(r"<img [^>]*>", dom)]
    assert len(seen) == images
    for image in seen:
        assert image["natural-width"] == "1000"
        assert image["opaque"] == "1.0000"
        assert int(image["colours"]) > 20
    shot = tmp_path / "page.png"
    run = chromium(f"--screenshot={shot}", "--window-size=1200,2000", html_path.as_uri(),
                   profile=tmp_path / "profile")
    assert shot.exists(), run.stderr.decode(errors="replace")[-2000:]
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    assert colour_count(pixels) > 100  # text, tables and plots
    assert np.any(pixels < 0.9, axis=2).mean() > 0.03


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian chromium)")
def test_page_renders_in_headless_chromium(rendered: Rendered, tmp_path: Path) -> None:
    check_page_in_chromium(rendered.html_path, len(LOG_PNGS), tmp_path)


def test_console_summary(rendered: Rendered) -> None:
    code, text = run_report(rendered.soak.paths[0])
    assert code == 0
    assert re.search(rf"records\s*│\s*{rendered.soak.log.records:,}\s", text)
    for words in ("sequence check", "agrees with the gap lines", "latency p99", "drift",
                  "instructions"):
        assert words in text
    assert sorted(p.name for p in rendered.soak.folder.iterdir() if p.suffix == ".jsonl") == \
        ["run.1.jsonl", "run.jsonl"]


# --- logs that tell a different story ---------------------------------------------------


def write(folder: Path, log: Log, name: str = "run.jsonl") -> Path:
    path = folder / name
    log.write(path)
    return path


def test_disagreement_is_reported(tmp_path: Path) -> None:
    """Holes no gap line reports, a gap line for records that are there, a duplicate."""
    log = Log()
    t = log.run(1, range(100), T0, 10, lambda t: BASE)
    t = log.run(1, range(110, 200), t, 10, lambda t: BASE)  # 100..109: no gap line
    log.gap(1, 150, 160, t)  # but these records are in the log
    log.run(1, [199, 200], t, 10, lambda t: BASE)  # 199 twice
    html = tmp_path / "r.html"
    assert run_report(write(tmp_path, log), "--html", html)[0] == 0
    check = field_table(html.read_text(), "Run")["sequence check"]
    assert check.startswith("DISAGREES with the gap lines")
    assert "seq 100-109 missing, with no gap line" in check
    assert "gap lines say seq 150-159 were lost, but those records are in the log" in check
    assert "1 record(s) repeat" in check
    assert "DISAGREES" in run_report(tmp_path / "run.jsonl")[1]  # the console says so too


def test_drift_estimate_is_robust_to_outliers(tmp_path: Path) -> None:
    """Flat latency with a burst of large outliers near the end: least squares sees a
    trend, Theil-Sen and the rolling median do not, and the report says they differ."""
    log = Log()
    n = 3600
    log.run(1, range(n), T0, 1.0, lambda t: BASE + (80_000 if (t - T0) % 50 < 3 and
                                                     t - T0 > 0.8 * n else 0))
    html = tmp_path / "r.html"
    assert run_report(write(tmp_path, log), "--html", html)[0] == 0
    page = html.read_text()
    rows = drift_rows(page)
    ls = float(rows["least squares"][0].replace(",", ""))
    ts = float(next(v for k, v in rows.items() if k.startswith("Theil-Sen"))[0].replace(",", ""))
    assert ls > 1_000  # pulled up by the outliers
    assert abs(ts) < 1  # the outliers are 6% of the records: the median slope is flat
    assert "The robust estimates differ" in page


def test_short_log_has_no_drift_verdict(tmp_path: Path) -> None:
    log = Log()
    log.run(1, range(300), T0, 10.0, lambda t: BASE + 1e5 * (t - T0))  # 30 s
    html = tmp_path / "r.html"
    assert run_report(write(tmp_path, log), "--html", html)[0] == 0
    page = html.read_text()
    assert "a drift estimate over less than a minute is not meaningful" in page
    assert "least-squares trend" not in page  # no trend line drawn


def test_identical_latencies_without_ops(tmp_path: Path) -> None:
    """An emulated board with constant inputs: every inference counts the same."""
    log = Log([header(ops=None)])
    log.run(1, range(2000), T0, 5.0, lambda t: 1_234_567.0, ops=False)
    log.lines.append({"type": "summary", "records": 2000, "lost": 0, "gaps": 0,
                      "duration_s": 400.0, "rate_hz": 5.0, "median": 1_234_567.0,
                      "p99": 1_234_567.0, "unit": "instructions", "host_time": T0 + 401})
    html, pngs = tmp_path / "r.html", tmp_path / "png"
    assert run_report(write(tmp_path, log), "--html", html, "--png", pngs)[0] == 0
    page = html.read_text()
    assert {p.name for p in pngs.iterdir()} == LOG_PNGS - {"log-ops-over-time.png"}
    assert "All of them are identical" in page and 'id="ops"' not in page
    assert "cleanly: a summary line follows the last record" in page
    assert drift_rows(page)["least squares"][0] == "+0"
    for png in pngs.iterdir():
        assert colour_count(mpimg.imread(png)) > 20


def test_records_without_host_times_use_the_index(tmp_path: Path) -> None:
    log = Log()
    log.run(1, range(500), T0, 5.0, lambda t: BASE)
    for line in log.lines[1:]:
        line["host_time"] = float("nan")  # Python's json writes NaN; mcubench never does
    html = tmp_path / "r.html"
    assert run_report(write(tmp_path, log), "--html", html)[0] == 0
    page = html.read_text()
    assert "no drift estimate" in page
    assert "absent from the records: plots use the record index" in page
    assert "x: the record index (the records carry no host time)" in page  # the caption


def test_single_record(tmp_path: Path) -> None:
    log = Log()
    log.run(1, [0], T0, 1.0, lambda t: BASE)
    html = tmp_path / "r.html"
    assert run_report(write(tmp_path, log), "--html", html)[0] == 0
    assert len(parse(html.read_text()).images) == 3


# --- big logs ---------------------------------------------------------------------------


def write_big_log(path: Path, n: int) -> None:
    """``n`` records at 50 Hz with a slow drift, written fast (no json.dumps per line)."""
    rng = np.random.default_rng(2)
    t = T0 + np.arange(n) / 50.0
    latency = np.round(BASE + 500 * (t - T0) / 3600 + rng.normal(0, 800, n))
    head = json.dumps(header(ops=None, rate_hz=50.0)) + "\n"
    body = "".join(
        f'{{"type":"record","seq":{i},"session":1,"device_ticks":{i * 40_000},'
        f'"latency":{latency[i]:.1f},"count":{i + 1},"status":0,"host_time":{t[i]:.3f}}}\n'
        for i in range(n))
    path.write_text(head + body)


def test_200k_records_render_quickly(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    write_big_log(path, 200_000)
    html, pngs = tmp_path / "big.html", tmp_path / "png"
    start = time.perf_counter()
    code, _ = run_report(path, "--html", html, "--png", pngs)
    seconds = time.perf_counter() - start
    print(f"\n200,000-record log: report (read, HTML, PNGs) in {seconds:.1f} s")
    assert code == 0
    assert field_table(html.read_text(), "Run")["records"] == "200,000"
    assert colour_count(mpimg.imread(pngs / "log-latency-over-time.png")) > 20


# --- what the command refuses -----------------------------------------------------------


def test_results_and_logs_do_not_mix(tmp_path: Path) -> None:
    log = Log()
    log.run(1, range(10), T0, 1.0, lambda t: BASE)
    results = tmp_path / "r.json"
    results.write_text(json.dumps(sample_document(sample_result())))
    with pytest.raises(UsageError, match="separate calls"):
        run_report(results, write(tmp_path, log))


def test_one_log_per_report_but_its_rotated_files_may_be_named(tmp_path: Path) -> None:
    soak = soak_log(tmp_path)
    other = Log()
    other.run(1, range(10), T0, 1.0, lambda t: BASE)
    with pytest.raises(UsageError, match="one latency log per report"):
        run_report(soak.paths[0], write(tmp_path, other, "other.jsonl"))
    # A shell glob lists run.1.jsonl first; the report still reads the series from run.jsonl.
    code, text = run_report(*sorted(soak.paths), "--csv", tmp_path / "all.csv")
    assert code == 0 and f"({soak.log.records:,} records)" in text


@pytest.mark.parametrize("case", ["csv for results", "csv on the log", "csv in a folder",
                                  "no records", "not a log"])
def test_bad_requests_are_usage_errors(tmp_path: Path, case: str) -> None:
    log = Log()
    log.run(1, range(10), T0, 1.0, lambda t: BASE)
    path = write(tmp_path, log)
    rotated = tmp_path / "run.1.jsonl"
    rotated.write_text(json.dumps(header(1)) + "\n")
    results = tmp_path / "r.json"
    results.write_text(json.dumps(sample_document(sample_result())))
    empty = write(tmp_path, Log(), "empty.jsonl")
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"type": "record"}\n')
    argv, message = {
        "csv for results": ((results, "--csv", tmp_path / "x.csv"), "mcubench bench --csv"),
        "csv on the log": ((path, "--csv", rotated), "would be overwritten"),
        "csv in a folder": ((path, "--csv", tmp_path), "is a directory"),
        "no records": ((empty,), "has no records"),
        "not a log": ((junk,), "not an mcubench log header"),
    }[case]
    before = path.read_bytes()
    with pytest.raises(UsageError, match=message):
        run_report(*argv)
    assert path.read_bytes() == before and rotated.exists()
