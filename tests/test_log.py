"""``mcubench log``: records, exact loss accounting, reconnects, resume, bad outputs.

The exactness check everywhere: in each device session, the received sequence numbers and
the gap lines' ranges tile 0 .. the last sequence number the device made, with no overlap
and no record twice.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcubench.bench import ModelSource
from mcubench.boards import get_board
from mcubench.build import build_firmware
from mcubench.cli import main
from mcubench.counters import CounterUnit
from mcubench.emulator import Emulator, emulator_for
from mcubench.errors import DeviceError, UsageError
from mcubench.logfile import LogSeries, LogWriter, read_log
from mcubench.logger import Account, Connection, Logger, LogPlan, SessionState, accept_page
from mcubench.model import read_model
from mcubench.protocol.codes import LogFlags
from mcubench.protocol.messages import LogPage, LogRecord
from mcubench.reference import ReferenceRunner, random_inputs
from mcubench.session import open_session

from .flaky_link import FlakyLink
from .test_bench import conv_net


def write_model(tmp_path: Path) -> Path:
    path = tmp_path / "conv_net.tflite"
    path.write_bytes(conv_net())
    return path


def tiles_exactly(series: LogSeries) -> dict[int, int]:
    """Per session: received seqs and gap ranges cover 0..end without overlap; the ends."""
    covered: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for record in series.records:
        covered[record["session"]].append((record["seq"], record["seq"] + 1))
    for gap in series.gaps:
        assert gap["lost"] == gap["to_seq"] - gap["from_seq"] > 0
        covered[gap["session"]].append((gap["from_seq"], gap["to_seq"]))
    ends = {}
    for session, spans in covered.items():
        spans.sort()
        position = 0
        for start, end in spans:
            assert start == position, f"session {session}: {position} then {start}"
            position = end
        ends[session] = position
    return ends


def expected_digest(model: bytes, seed: int = 0) -> tuple[str, int]:
    """CRC-32 of tflite_micro's outputs and output 0's argmax, for the seeded inputs."""
    parsed = read_model(model)
    outputs = ReferenceRunner(model, parsed).invoke(random_inputs(parsed, seed))
    crc = 0
    for output in outputs:
        crc = zlib.crc32(np.ascontiguousarray(output).tobytes(), crc)
    return f"{crc:08x}", int(np.argmax(outputs[0].reshape(-1)))


@pytest.mark.native
def test_log_records_every_inference_and_resumes(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    model = write_model(tmp_path)
    out = tmp_path / "run.jsonl"
    args = ["log", "--board", "native", "--model", str(model), "--duration", "2s",
            "--out", str(out), "--no-live"]
    assert main(args) == 0
    said = " ".join(capsys.readouterr().out.split())
    first = out.read_bytes()
    series = read_log(out)
    header = series.headers[0]
    assert header["model_sha256"] and header["board"] == "native" and header["mode"] == "max-rate"
    assert header["counter_unit"] == "ns" and header["provenance"]["firmware_sha256"]
    assert len(series.records) > 10 and not series.gaps and series.skipped_lines == 0
    digest, top1 = expected_digest(model.read_bytes())
    assert {r["digest"] for r in series.records} == {digest}
    assert {r["top1"] for r in series.records} == {top1}
    assert all(r["status"] == 0 and r["latency"] > 0 for r in series.records)
    summary = series.summaries[-1]
    assert summary["records"] == len(series.records) and summary["lost"] == 0
    assert f"{len(series.records):,} records" in said
    tiles_exactly(series)

    # Again into the same file: appended after the earlier bytes, which stay as they were.
    assert main(args) == 0
    assert out.read_bytes().startswith(first)
    again = read_log(out)
    assert [h["resumed"] for h in again.headers] == [False, True]
    assert len({r["session"] for r in again.records}) == 2  # a new native process
    assert any(e["event"] == "device-restarted" for e in again.events)
    tiles_exactly(again)


@pytest.mark.native
def test_log_refuses_an_unwritable_output_before_booting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_model(tmp_path)
    code = main(["log", "--board", "native", "--model", str(model), "--duration", "1s",
                 "--out", str(tmp_path / "missing" / "run.jsonl"), "--no-live"])
    assert code == UsageError.exit_code
    assert "missing" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    with LogWriter(other, {"model": "x", "model_sha256": "0" * 64, "board": "native"}) as w:
        w.write([{"type": "event", "event": "started", "host_time": 0.0, "detail": ""}])
    before = other.read_bytes()
    code = main(["log", "--board", "native", "--model", str(model), "--duration", "1s",
                 "--out", str(other), "--no-live"])
    assert code == UsageError.exit_code and "another --out" in capsys.readouterr().err
    assert other.read_bytes() == before


@pytest.mark.emulated
def test_log_survives_five_pulled_cables(tmp_path: Path) -> None:
    """The host's link is cut five times; the device keeps logging into its ring, and the
    log resumes each time with nothing written twice and every gap exact."""
    model = write_model(tmp_path)
    out = tmp_path / "run.jsonl"
    board = get_board("qemu-rv32")
    with emulator_for(board, build_firmware(board).elf) as emulator, \
            FlakyLink(emulator.url) as link:
        result: dict[str, Any] = {}
        runner = threading.Thread(target=lambda: result.update(code=main([
            "log", "--port", link.url, "--model", str(model), "--duration", "14s",
            "--out", str(out), "--no-live"])))
        runner.start()
        snapshot = b""
        for n in range(5):
            time.sleep(2.0)
            if n == 2:
                snapshot = out.read_bytes()
            link.drop()
        runner.join(timeout=120)
        assert not runner.is_alive() and result["code"] == 0
    assert link.drops == 5
    text = out.read_bytes()
    assert text.startswith(snapshot[:snapshot.rfind(b"\n") + 1])  # earlier lines untouched
    series = read_log(out)
    assert series.skipped_lines == 0
    assert len({r["session"] for r in series.records}) == 1
    assert sum(e["event"] == "disconnected" for e in series.events) >= 5
    assert sum(e["event"] == "reconnected" for e in series.events) >= 5
    seqs = [r["seq"] for r in series.records]
    assert len(seqs) == len(set(seqs))
    ends = tiles_exactly(series)
    summary = series.summaries[-1]
    assert summary["lost"] == sum(g["lost"] for g in series.gaps)
    assert summary["records"] + summary["lost"] == next(iter(ends.values()))


@pytest.mark.emulated
def test_log_starts_a_new_session_when_the_board_restarts(tmp_path: Path) -> None:
    """The emulator is killed twice mid-log; each restart is an event, a new session
    begins, and what the host knew was made but never read is a gap."""
    model = conv_net()
    board = get_board("qemu-rv32")
    elf = build_firmware(board).elf
    emulators: list[Emulator] = []
    inputs = random_inputs(read_model(model), 0)

    @contextlib.contextmanager
    def connect() -> Iterator[Connection]:
        with emulator_for(board, elf) as emulator:
            emulators.append(emulator)
            with open_session(port=emulator.url) as session:
                yield Connection(session, model, inputs)

    out = tmp_path / "run.jsonl"
    with LogWriter(out, {"model": "conv_net", "model_sha256": ModelSource(
            "m", model, read_model(model)).sha256, "board": "qemu-rv32"}) as writer:
        logger = Logger(connect, LogPlan(mode="max-rate", duration_s=10.0,
                                         backoff_s=(0.1,)), writer)
        def kill_twice() -> None:
            for _ in range(2):
                time.sleep(3.0)
                emulators[-1].stop()

        killer = threading.Thread(target=kill_twice)
        killer.start()
        account = logger.run()
        killer.join()
    series = read_log(out)
    assert account.restarts == 2 and len(emulators) == 3
    assert sum(e["event"] == "device-restarted" for e in series.events) == 2
    assert len({r["session"] for r in series.records}) == 3
    tiles_exactly(series)
    assert account.lost == sum(g["lost"] for g in series.gaps)


@pytest.mark.native
def test_log_replays_host_inputs_in_turn(tmp_path: Path) -> None:
    """--inputs DIR: the host writes each set in turn; each record's digest is its set's."""
    model = write_model(tmp_path)
    data = model.read_bytes()
    parsed = read_model(data)
    folder = tmp_path / "inputs"
    folder.mkdir()
    for n in range(3):
        np.save(folder / f"{n}.npy", random_inputs(parsed, 10 + n)[0])
    out = tmp_path / "replay.jsonl"
    assert main(["log", "--board", "native", "--model", str(model), "--inputs", str(folder),
                 "--duration", "1.5s", "--out", str(out), "--no-live"]) == 0
    series = read_log(out)
    assert series.headers[0]["mode"] == "replay" and len(series.records) >= 6
    digests = [expected_digest(data, 10 + n)[0] for n in range(3)]
    assert [r["digest"] for r in series.records] == [
        digests[r["seq"] % 3] for r in series.records]
    assert [r["seq"] for r in series.records] == list(range(len(series.records)))


@pytest.mark.native
def test_log_with_profile_carries_per_operator_counts(tmp_path: Path) -> None:
    model = write_model(tmp_path)
    out = tmp_path / "ops.jsonl"
    assert main(["log", "--board", "native", "--model", str(model), "--profile",
                 "--duration", "1s", "--out", str(out), "--no-live"]) == 0
    series = read_log(out)
    ops = series.headers[0]["ops"]
    assert [op["op"] for op in ops][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert series.records and all(len(r["ops"]) == len(ops) for r in series.records)
    for record in series.records:  # the operators add up to the inference, but its return
        assert 0.9 * record["latency"] <= sum(record["ops"]) <= record["latency"]


@pytest.mark.native
def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path: Path) -> None:
    """The first SIGINT drains the device's ring and writes the summary; exit code 0."""
    model = write_model(tmp_path)
    out = tmp_path / "run.jsonl"
    build_firmware(get_board("native"))  # before the clock starts
    process = subprocess.Popen(
        [sys.executable, "-m", "mcubench.cli", "log", "--board", "native", "--model",
         str(model), "--out", str(out), "--no-live", "--rotate-size", "16K"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "run.2.jsonl").exists():
        time.sleep(0.2)  # until rotation has started a third file
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "stopping" in stderr and "records in" in " ".join(stdout.split())
    series = read_log(out)
    assert len(series.files) >= 3  # rotated at 16 KiB, each file with its header
    assert len(series.headers) == len(series.files)
    summary = series.summaries[-1]
    assert summary["records"] == len(series.records) > 0
    ends = tiles_exactly(series)
    assert summary["records"] + summary["lost"] == next(iter(ends.values()))


def test_a_page_past_what_the_host_has_is_an_exact_gap() -> None:
    """The ring moved on while the host was away: oldest_seq says exactly how far."""
    counter = CounterUnit("instructions", 40.0, "test")
    state = SessionState(session=7, expected=10)
    account = Account()
    records = tuple(LogRecord(seq, 0, 100 * seq, 5, 0xABC, 1, None) for seq in range(25, 30))
    lines = accept_page(LogPage(7, 25, 31, 32, 0, records), state, counter, account)
    assert lines[0] == {**lines[0], "type": "gap", "from_seq": 10, "to_seq": 25, "lost": 15}
    assert [line["seq"] for line in lines[1:]] == [25, 26, 27, 28, 29]
    assert lines[1]["latency"] == 200.0 and lines[1]["digest"] == "00000abc"
    assert (state.expected, state.device_next, account.lost, account.gaps) == (30, 31, 15, 1)
    # The same records again (a re-read after a reconnect) are dropped, not written twice.
    reread = (*records[-2:], LogRecord(30, 0, 3000, 5, 0xABC, 1, None))
    again = accept_page(LogPage(7, 25, 31, 32, 0, reread), state, counter, account)
    assert [line["seq"] for line in again] == [30] and account.duplicates == 2
    assert account.records == 6 and account.histogram.quantile(0.5) == 200.0


@pytest.mark.native
def test_a_refusal_stops_the_log_and_a_stale_log_is_taken_over(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--profile on firmware without the profiler is an error, not a reconnect loop; a
    device still logging someone else's session is stopped and logged afresh."""
    model = write_model(tmp_path)
    native = get_board("native")
    with emulator_for(native, build_firmware(native).elf) as board:
        code = main(["log", "--port", board.url, "--model", str(model), "--profile",
                     "--duration", "5s", "--out", str(tmp_path / "a.jsonl"), "--no-live"])
        assert code == DeviceError.exit_code
        assert "profiler" in " ".join(capsys.readouterr().err.split())
        with open_session(port=board.url) as session:  # another host starts a log, leaves
            Connection(session, model.read_bytes(), random_inputs(
                read_model(model.read_bytes()), 1)).load().log_start(0, LogFlags.DIGEST, 42)
        out = tmp_path / "b.jsonl"
        assert main(["log", "--port", board.url, "--model", str(model), "--duration", "1s",
                     "--out", str(out), "--no-live"]) == 0
    series = read_log(out)
    assert series.records and 42 not in {r["session"] for r in series.records}
    assert {r["digest"] for r in series.records} == {expected_digest(model.read_bytes())[0]}
