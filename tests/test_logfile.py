"""Latency log files (mcubench.logfile): writing, rotation, resume, reading, CSV, errors.

Pure host code, no device. Failures of the disk (full, I/O errors) are injected by
replacing os.write / os.fsync / os.ftruncate for the log's file descriptor only; /dev/full
gives a real ENOSPC from the kernel where it exists.
"""

from __future__ import annotations

import csv
import datetime
import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcubench.boards import project_root
from mcubench.errors import UsageError
from mcubench.logfile import (
    CSV_COLUMNS,
    SCHEMA,
    LogWriter,
    export_csv,
    read_log,
    resume_state,
    series_file,
    series_paths,
)

HEADER: dict[str, Any] = {"command": "mcubench log --out run.jsonl", "model": "kws.tflite",
                          "model_sha256": "ab" * 32, "board": "qemu-m4",
                          "counter_unit": "instructions", "mode": "max-rate", "rate_hz": None}


def record(seq: int, session: int = 7, **extra: Any) -> dict[str, Any]:
    return {"type": "record", "seq": seq, "session": session, "device_ticks": 1000 * seq + 5,
            "latency": 1234.5 + seq, "count": seq + 1, "status": 0,
            "host_time": 1.7e9 + seq / 8, **extra}


def records(start: int, stop: int, session: int = 7) -> list[dict[str, Any]]:
    return [record(s, session) for s in range(start, stop)]


def gap(from_seq: int, to_seq: int, session: int = 7) -> dict[str, Any]:
    return {"type": "gap", "session": session, "from_seq": from_seq, "to_seq": to_seq,
            "lost": to_seq - from_seq, "reason": "ring overrun", "host_time": 1.7e9}


class Clock:
    """An injectable clock: unix seconds, moved by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


# --- Writing and reading ----------------------------------------------------------------

def test_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    clock = Clock()
    event = {"type": "event", "event": "started", "host_time": 1.7e9, "detail": "session 7"}
    summary = {"type": "summary", "records": 5, "lost": 2, "gaps": 1, "duration_s": 1.0,
               "rate_hz": 5.0, "median": 1236.5, "p99": 1240.0, "unit": "instructions",
               "host_time": 1.7e9 + 1}
    written = [event, *records(0, 3), gap(3, 5),
               record(5, digest="0badf00d", top1=3, ops=[10.0, 20.5]), record(6), summary]
    with LogWriter(out, HEADER, clock=clock) as writer:
        assert writer.write(written[:2]) == 2
        assert writer.write(written[2:]) == len(written) - 2
        assert writer.lines_written == len(written)
    series = read_log(out)
    assert series.files == [out]
    assert series.skipped_lines == 0 and series.problems == []
    assert series.records == [x for x in written if x["type"] == "record"]
    assert series.gaps == [written[4]] and series.events == [event]
    assert series.summaries == [summary]
    (header,) = series.headers
    assert header == {"type": "header", "schema": SCHEMA, "created": "2023-11-14T22:13:20.000Z",
                      **HEADER, "file_index": 0, "resumed": False}
    expected = datetime.datetime.fromtimestamp(clock.now, datetime.UTC)
    assert datetime.datetime.fromisoformat(header["created"]) == expected
    # One line per object, the header first, compact separators.
    text = out.read_text()
    assert text.endswith("\n") and text.count("\n") == len(written) + 1
    assert ", " not in text and '": ' not in text
    assert lines_of(out)[0]["type"] == "header"


def test_numpy_helpers(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    written = [*records(0, 4, session=1), *records(0, 3, session=2)]
    with LogWriter(out, HEADER) as writer:
        writer.write(written)
    series = read_log(out)
    np.testing.assert_array_equal(series.latency_array(), [r["latency"] for r in written])
    np.testing.assert_array_equal(series.host_time_array(), [r["host_time"] for r in written])
    np.testing.assert_array_equal(series.seq_array(), [0, 1, 2, 3, 0, 1, 2])
    np.testing.assert_array_equal(series.session_array(), [1] * 4 + [2] * 3)
    assert series.seq_array().dtype == np.int64
    assert series.latency_array().dtype == np.float64


def test_header_is_written_with_the_first_batch(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    writer = LogWriter(out, HEADER)
    assert out.exists() and out.stat().st_size == 0  # opened (fail fast), nothing written
    # Learnt after opening (the device's provenance); the writer's own keys stay its own.
    writer.update_header({"provenance": {"firmware": "1.2"}, "file_index": 99, "type": "x"})
    writer.write([])  # an empty batch writes the pending header only
    writer.write([])
    writer.write(records(0, 2))
    writer.close()
    lines = lines_of(out)
    assert [x["type"] for x in lines] == ["header", "record", "record"]
    assert lines[0]["provenance"] == {"firmware": "1.2"}
    assert lines[0]["type"] == "header" and lines[0]["file_index"] == 0


def test_untouched_new_file_is_removed_on_close(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER):
        assert out.exists()
    assert not out.exists()


@pytest.mark.parametrize("bad", [
    {"type": "header", "x": 1},
    {"type": "nonsense"},
    {"seq": 1},
    {**record(0), "latency": object()},
])
def test_bad_lines_are_refused_and_nothing_is_written(tmp_path: Path,
                                                      bad: dict[str, Any]) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 2))
        before = out.read_bytes()
        with pytest.raises(ValueError, match=r"type|JSON"):
            writer.write([record(2), bad])
        assert out.read_bytes() == before
        writer.write([record(2)])
    assert read_log(out).seq_array().tolist() == [0, 1, 2]


def test_nan_and_infinity_are_written_as_null(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    summary = {"type": "summary", "records": 0, "median": float("nan"),
               "p99": float("inf"), "nested": {"x": [1.5, float("-inf")]}}
    with LogWriter(out, {**HEADER, "rate_hz": float("nan")}) as writer:
        writer.write([record(0), summary])
    assert b"NaN" not in out.read_bytes() and b"Infinity" not in out.read_bytes()
    series = read_log(out)
    assert series.headers[0]["rate_hz"] is None
    assert series.summaries == [{**summary, "median": None, "p99": None,
                                 "nested": {"x": [1.5, None]}}]
    assert series.records == [record(0)]


def test_header_that_is_not_json_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="header"):
        LogWriter(tmp_path / "run.jsonl", {**HEADER, "ops": {1, 2}})
    assert not (tmp_path / "run.jsonl").exists()


def test_reader_skips_bad_lines_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 2))
    good = out.read_bytes()
    junk = [b"not json\n", b"[1, 2]\n", b'{"type": "mystery"}\n', b'{"type": "record"}\n',
            b"\n"]
    out.write_bytes(good + b"".join(junk) + json.dumps(record(2)).encode() + b"\n"
                    + b'{"type": "record", "se')
    series = read_log(out)
    assert series.seq_array().tolist() == [0, 1, 2]
    assert series.skipped_lines == len(junk) + 1
    assert len(series.problems) == len(junk) + 1
    assert series.problems[0] == f"{out}:4: not JSON"
    assert "not a JSON object" in series.problems[1]
    assert "unknown type 'mystery'" in series.problems[2]
    assert "record without count, device_ticks" in series.problems[3]
    assert series.problems[-1] == f"{out}:{4 + len(junk) + 1}: torn last line " \
                                  "(the writer stopped mid-line)"


def test_reader_needs_an_existing_log(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no log at"):
        read_log(tmp_path / "missing.jsonl")


# --- Rotation ---------------------------------------------------------------------------

def test_rotation_by_size(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    limit = 1500
    batches = [records(s, s + 3) for s in range(0, 60, 3)]
    with LogWriter(out, HEADER, rotate_bytes=limit) as writer:
        for batch in batches:
            writer.write(batch)
    files = series_paths(out)
    assert len(files) > 3
    assert files == [series_file(out, i) for i in range(len(files))]
    assert files[1].name == "run.1.jsonl" and files[2].name == "run.2.jsonl"
    assert writer.files == files
    for index, path in enumerate(files):
        lines = lines_of(path)
        assert lines[0]["type"] == "header" and lines[0]["file_index"] == index
        assert lines[0]["resumed"] is False
        assert [x["type"] for x in lines[1:]] == ["record"] * (len(lines) - 1)
        assert (len(lines) - 1) % 3 == 0  # batches are never split across files
        assert path.stat().st_size <= limit
    series = read_log(out)
    assert series.seq_array().tolist() == list(range(60))
    assert len(series.headers) == len(files)


def test_a_batch_bigger_than_the_limit_stays_in_one_file(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER, rotate_bytes=100) as writer:
        writer.write(records(0, 5))
        writer.write(records(5, 10))
    assert [len(lines_of(p)) for p in series_paths(out)] == [6, 6]


def test_rotation_by_time(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    clock = Clock()
    with LogWriter(out, HEADER, rotate_seconds=60, clock=clock) as writer:
        for seq in range(10):
            writer.write([record(seq)])
            clock.now += 25  # 0, 25, 50 | 75, 100, 125 | 150, ...: a new file every 3
    files = series_paths(out)
    per_file = [[x["seq"] for x in lines_of(p) if x["type"] == "record"] for p in files]
    assert per_file == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    created = [lines_of(p)[0]["created"] for p in files]
    assert created[1] == "2023-11-14T22:14:35.000Z"  # 75 s after the first
    assert read_log(out).seq_array().tolist() == list(range(10))


def test_rotation_settings_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="size"):
        LogWriter(tmp_path / "run.jsonl", HEADER, rotate_bytes=0)
    with pytest.raises(UsageError, match="interval"):
        LogWriter(tmp_path / "run.jsonl", HEADER, rotate_seconds=-1)


# --- Resume -----------------------------------------------------------------------------

def test_an_existing_log_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 2))
    before = out.read_bytes()
    with pytest.raises(UsageError, match="already holds a log"):
        LogWriter(out, HEADER)
    assert out.read_bytes() == before


def test_resume_after_a_clean_stop(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write([*records(0, 4), gap(4, 7), *records(7, 9)])
        writer.write([*records(0, 2, session=8), gap(2, 3, session=8), record(3, session=8)])
    before = out.read_bytes()
    state = resume_state(out)
    assert state is not None
    assert (state.file_index, state.last_file, state.file_bytes) == (0, out, len(before))
    assert (state.session, state.last_seq, state.next_seq) == (8, 3, 4)
    assert (state.records, state.lost, state.gaps) == (9, 4, 2)
    assert not state.torn and state.ends_with_newline and state.skipped_lines == 0
    assert state.header is not None and state.header["model"] == HEADER["model"]

    with LogWriter(out, HEADER, resume=True) as writer:
        assert writer.resume_state == state
        writer.write(records(4, 6, session=8))
    after = out.read_bytes()
    assert after.startswith(before)
    lines = lines_of(out)
    resumed_header = lines[len(before.splitlines())]
    assert resumed_header["type"] == "header" and resumed_header["resumed"] is True
    assert resumed_header["file_index"] == 0
    state = resume_state(out)
    assert state is not None and (state.records, state.last_seq, state.next_seq) == (11, 5, 6)


def test_resume_after_a_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 5))
    line = json.dumps(record(5)).encode()
    out.write_bytes(out.read_bytes() + line[: len(line) // 2])  # crashed mid-write
    before = out.read_bytes()
    state = resume_state(out)
    assert state is not None and state.torn and not state.ends_with_newline
    assert (state.records, state.last_seq, state.next_seq, state.skipped_lines) == (5, 4, 5, 1)

    with LogWriter(out, HEADER, resume=True) as writer:
        writer.write(records(5, 8))
    after = out.read_bytes()
    assert after[: len(before)] == before
    assert after[len(before): len(before) + 1] == b"\n"  # the fragment stays its own line
    series = read_log(out)
    assert series.seq_array().tolist() == list(range(8))
    assert series.skipped_lines == 1
    assert [h["resumed"] for h in series.headers] == [False, True]
    state = resume_state(out)
    assert state is not None and not state.torn and state.skipped_lines == 1


def test_a_whole_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 2))
    out.write_bytes(out.read_bytes() + json.dumps(record(2)).encode())  # newline lost
    state = resume_state(out)
    assert state is not None and state.torn and not state.ends_with_newline
    assert state.records == 3 and state.skipped_lines == 0
    with LogWriter(out, HEADER, resume=True) as writer:
        writer.write([record(3)])
    series = read_log(out)
    assert series.seq_array().tolist() == [0, 1, 2, 3] and series.skipped_lines == 0


def test_resume_appends_to_the_last_file_of_a_series(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER, rotate_bytes=900) as writer:
        for s in range(0, 12, 2):
            writer.write(records(s, s + 2))
    files = series_paths(out)
    assert len(files) >= 3
    snapshot = {p: p.read_bytes() for p in files}
    state = resume_state(out)
    assert state is not None and state.file_index == len(files) - 1 and state.records == 12
    # A large limit: it continues in the last file.
    with LogWriter(out, HEADER, rotate_bytes=10_000, resume=True) as writer:
        assert writer.current_path == files[-1]
        writer.write(records(12, 14))
    assert series_paths(out) == files
    for path in files[:-1]:
        assert path.read_bytes() == snapshot[path]
    assert files[-1].read_bytes().startswith(snapshot[files[-1]])
    assert read_log(out).seq_array().tolist() == list(range(14))


def test_resume_rotates_when_the_last_file_is_full(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 4))
    before = out.read_bytes()
    out.write_bytes(before + b'{"type":"rec')  # torn too: the full file is left as it is
    with LogWriter(out, HEADER, rotate_bytes=len(before), resume=True) as writer:
        assert writer.file_index == 1
        writer.write(records(4, 6))
    assert out.read_bytes() == before + b'{"type":"rec'
    first = lines_of(series_file(out, 1))[0]
    assert first["type"] == "header" and first["file_index"] == 1 and first["resumed"] is True
    series = read_log(out)
    assert series.seq_array().tolist() == list(range(6)) and series.skipped_lines == 1


def test_resume_with_nothing_to_resume_starts_a_new_log(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    assert resume_state(out) is None
    out.touch()
    assert resume_state(out) is None
    with LogWriter(out, HEADER, resume=True) as writer:
        assert writer.resume_state is None
        writer.write([record(0)])
    assert read_log(out).headers[0]["resumed"] is False


# --- CSV --------------------------------------------------------------------------------

def test_export_csv(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    written = [record(0, digest="0000abcd", top1=2, ops=[1.0, 2.5, 3.0]), record(1),
               record(2, ops=[4.0])]
    with LogWriter(out, HEADER) as writer:
        writer.write([{"type": "event", "event": "started", "host_time": 0.0, "detail": ""},
                      *written, gap(3, 4)])
    csv_path = tmp_path / "run.csv"
    assert export_csv(read_log(out), csv_path) == 3
    with csv_path.open(newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == [*CSV_COLUMNS, "op_0", "op_1", "op_2"]
    assert len(rows) == 1 + len(written)
    for row, rec in zip(rows[1:], written, strict=True):
        cells = dict(zip(rows[0], row, strict=True))
        assert int(cells["seq"]) == rec["seq"] and int(cells["count"]) == rec["count"]
        assert float(cells["latency"]) == rec["latency"]
        assert float(cells["host_time"]) == rec["host_time"]
        assert cells["digest"] == rec.get("digest", "")
        assert cells["top1"] == str(rec.get("top1", ""))
        ops = [float(cells[f"op_{i}"]) for i in range(3) if cells[f"op_{i}"]]
        assert ops == rec.get("ops", [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv", "run.jsonl"]  # no .tmp


def test_export_csv_without_ops_has_no_op_columns(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 2))
    csv_path = tmp_path / "run.csv"
    export_csv(read_log(out), csv_path)
    assert csv_path.read_text().splitlines()[0] == ",".join(CSV_COLUMNS)


def test_export_csv_errors(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 2))
    series = read_log(out)
    with pytest.raises(UsageError, match="does not exist; create it"):
        export_csv(series, tmp_path / "nowhere" / "run.csv")
    (tmp_path / "folder").mkdir()
    with pytest.raises(UsageError, match="it is a folder"):
        export_csv(series, tmp_path / "folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "run.jsonl"]


# --- Errors -----------------------------------------------------------------------------

def test_a_missing_folder_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"folder .*nowhere does not exist; create it"):
        LogWriter(tmp_path / "nowhere" / "run.jsonl", HEADER)
    assert not (tmp_path / "nowhere").exists()


def test_a_folder_as_output_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="it is a folder"):
        LogWriter(tmp_path, HEADER)


def test_a_file_as_folder_fails_at_open(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        LogWriter(tmp_path / "file" / "run.jsonl", HEADER)


@pytest.mark.parametrize(("code", "message"), [
    (errno.EACCES, "permission denied; choose a writable output path"),
    (errno.EROFS, "read-only; choose an output path on a writable disk"),
    (errno.ENOSPC, "the disk is full"),
    (errno.EIO, "Input/output error; check the disk"),
])
def test_open_errors_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      code: int, message: str) -> None:
    out = tmp_path / "run.jsonl"
    real_open = os.open

    def failing_open(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        if Path(path) == out:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", failing_open)
    with pytest.raises(UsageError, match=message) as info:
        LogWriter(out, HEADER)
    assert str(out) in str(info.value)


def _fail_for(path: Path, real: Callable[..., Any], code: int,
              partial: bool = False) -> Callable[..., Any]:
    """os.write/os.fsync stand-in failing with ``code`` on ``path``'s descriptor only.

    With ``partial``, a write first stores half its bytes (a short write), as a disk
    filling up mid-batch does, and the retry of the rest fails.
    """
    def fake(fd: int, *args: Any) -> Any:
        if not os.path.samestat(os.fstat(fd), path.stat()):
            return real(fd, *args)
        if partial and args and len(args[0]) > 1 and not getattr(fake, "done", False):
            fake.done = True  # type: ignore[attr-defined]
            return real(fd, args[0][: len(args[0]) // 2])
        raise OSError(code, os.strerror(code))
    return fake


@pytest.mark.parametrize(("target", "partial"), [("write", False), ("write", True),
                                                 ("fsync", False)])
def test_disk_full_loses_only_the_failed_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               target: str, partial: bool) -> None:
    out = tmp_path / "run.jsonl"
    with LogWriter(out, HEADER) as writer:
        writer.write(records(0, 50))
        before = out.read_bytes()
        with monkeypatch.context() as patch:
            patch.setattr(os, target, _fail_for(out, getattr(os, target), errno.ENOSPC, partial))
            with pytest.raises(UsageError, match="disk is full") as info:
                writer.write(records(50, 100))
        assert "this batch was not written; everything written before it is intact" \
            in str(info.value)
        assert out.read_bytes() == before  # cut back: whole batches only
        series = read_log(out)
        assert series.seq_array().tolist() == list(range(50)) and series.skipped_lines == 0
        # Space is back: the same writer carries on where it was.
        writer.write(records(50, 100))
    assert out.read_bytes().startswith(before)
    assert read_log(out).seq_array().tolist() == list(range(100))


def test_a_failure_that_cannot_be_undone_costs_at_most_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run.jsonl"
    writer = LogWriter(out, HEADER)
    writer.write(records(0, 50))
    before = out.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", _fail_for(out, os.write, errno.ENOSPC, partial=True))
        patch.setattr(os, "ftruncate", _fail_for(out, os.ftruncate, errno.EIO))
        with pytest.raises(UsageError, match=r"disk is full.*may be cut off"):
            writer.write(records(50, 100))
    assert writer.closed
    with pytest.raises(UsageError, match="could not be undone"):
        writer.write(records(50, 100))
    writer.close()
    assert out.read_bytes().startswith(before)
    series = read_log(out)
    received = series.seq_array().tolist()
    assert received == list(range(len(received))) and len(received) >= 50
    assert series.skipped_lines <= 1
    # A restart resumes from what is there, after the fragment.
    state = resume_state(out)
    assert state is not None and state.next_seq == len(received)
    with LogWriter(out, HEADER, resume=True) as resumed:
        resumed.write(records(len(received), 100))
    series = read_log(out)
    assert series.seq_array().tolist() == list(range(100)) and series.skipped_lines <= 1


@pytest.mark.skipif(not os.access("/dev/full", os.W_OK), reason="no writable /dev/full")
def test_real_enospc_from_dev_full() -> None:
    writer = LogWriter("/dev/full", HEADER)
    with pytest.raises(UsageError, match="/dev/full: the disk is full"):
        writer.write(records(0, 3))
    writer.close()
    assert Path("/dev/full").exists()


def test_bench_script_runs(tmp_path: Path) -> None:
    """The ingest benchmark (timing is printed, not asserted)."""
    result = subprocess.run(
        [sys.executable, "scripts/bench_log_ingest.py", "--records", "3000", "--batch", "1000",
         "--ops", "2", "--dir", str(tmp_path)],
        cwd=project_root(), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "records/s written" in result.stdout

