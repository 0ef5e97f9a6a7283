"""``mcubench log``: on-device latency records, for hours, with an exact account of losses.

Two ways to get records:

- **On the device** (``--rate HZ`` or ``--max-rate``): LOG_START makes the firmware run
  the model on its own schedule and keep a record per inference in a ring; the host pulls
  pages with LOG_READ. While the host is away (cable pulled, host restarted) the device
  keeps running and the ring keeps the newest records; when the host comes back it asks
  from the first sequence number it lacks, and anything the ring no longer holds is a gap
  of exactly known size.
- **Replay** (``--inputs``): the host writes each input, invokes once and reads the
  outputs: the device runs only when asked, so nothing can be lost.

A link that fails is retried with backoff. A device that answers but is no longer logging
our session has restarted: the host says so, logs what it knows was lost, and starts a new
session (a new session id; sequence numbers restart at 0).
"""

from __future__ import annotations

import contextlib
import secrets
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mcubench.counters import CounterUnit
from mcubench.errors import (
    DeviceError,
    EmulatorError,
    ProtocolError,
    TransportError,
    UsageError,
)
from mcubench.inference import (
    LoadedInference,
    LogReader,
    attach_logging,
    load_on_device,
    log_stop,
)
from mcubench.logstats import LatencyHistogram, LiveWindow
from mcubench.protocol.codes import ErrorCode, LogFlags
from mcubench.protocol.messages import LogPage, LogRecord
from mcubench.session import Session, open_session

# Link failures the logger rides out. A device's refusal (DeviceError, also a
# ProtocolError) is not one: it would only be refused again.
LINK_ERRORS = (TransportError, EmulatorError, ProtocolError, OSError)
_NOT_LOGGING = ErrorCode.STATE  # LOG_READ's answer once the device lost the session


class Sink(Protocol):
    """Where lines go: the log file writer (mcubench.logfile.LogWriter)."""

    def write(self, lines: Sequence[dict[str, Any]]) -> object: ...


@dataclass(frozen=True)
class LogPlan:
    """What to log and how."""

    mode: str  # "rate", "max-rate" or "replay"
    rate_hz: float | None = None  # device-time rate for "rate"
    profile: bool = False  # per-operator ticks in every record
    duration_s: float | None = None  # host seconds; None: until stopped
    poll_s: float = 0.05  # pause between LOG_READs when the device has nothing new
    page_records: int = 4096  # records asked for per LOG_READ
    backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0)  # between reconnect attempts
    max_attempts: int = 0  # 0: reconnect forever


@dataclass
class Account:
    """Counts for the summary and the live line."""

    records: int = 0
    lost: int = 0
    gaps: int = 0
    duplicates: int = 0  # records received twice and dropped (a re-read after a reconnect)
    reconnects: int = 0
    restarts: int = 0
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    live: LiveWindow = field(default_factory=LiveWindow)
    started: float = field(default_factory=time.monotonic)

    def received(self, latencies: Sequence[float]) -> None:
        """Records written to the log, in counter units."""
        self.records += len(latencies)
        for latency in latencies:
            self.histogram.add(latency)
        self.live.add(latencies)


@dataclass
class SessionState:
    """The device session being logged: its id and the next sequence number we need."""

    session: int
    expected: int = 0  # the next seq the host has not received
    device_next: int = 0  # the device's next_seq at the last read (what it had made)
    flags: LogFlags = field(default_factory=lambda: LogFlags(0))
    ops: int = 0


@dataclass
class Connection:
    """One connected device, and how to put the model on it."""

    session: Session
    model: bytes
    inputs: Sequence[np.ndarray]  # what the device logs on (replay: the first set)
    embedded: bool = False  # the model is the one linked into the firmware

    def load(self) -> LoadedInference:
        """Load the model and write the inputs (LOG_START snapshots them)."""
        inference = load_on_device(self.session.device, self.model, embedded=self.embedded)
        inference.set_inputs(self.inputs)
        return inference

    def attach(self, state: SessionState) -> LogReader:
        """The model as already loaded on a device that is (we hope) still logging."""
        return attach_logging(self.session.device, state.flags, state.ops)

    def period_ticks(self, plan: LogPlan) -> int:
        """The schedule in device counter ticks: 0 is as fast as it can."""
        if plan.mode != "rate" or not plan.rate_hz:
            return 0
        hz = self.session.info.counter_hz
        if not hz:
            raise UsageError(f"{self.session.info.board} does not say its counter's rate: "
                             "use --max-rate")
        return max(1, round(hz / plan.rate_hz))


def open_connection(*, board: str | None, port: str | None, model: bytes,
                    inputs: Sequence[np.ndarray], elf: Path | None = None,
                    embedded: bool = False,
                    baudrate: int = 115200) -> contextlib.AbstractContextManager[Connection]:
    """A fresh session each time (for --board, a fresh emulator): the logger reconnects
    by calling this again."""

    @contextlib.contextmanager
    def opened() -> Iterator[Connection]:
        with open_session(board=board, port=port, baudrate=baudrate, elf=elf) as session:
            yield Connection(session, model, inputs, embedded)

    return opened()


def record_line(record: LogRecord, state: SessionState, counter: CounterUnit,
                host_time: float) -> dict[str, Any]:
    line: dict[str, Any] = {
        "type": "record", "seq": record.seq, "session": state.session,
        "device_ticks": record.start_ticks, "latency": counter.convert(record.ticks),
        "count": record.seq + 1, "status": record.status, "host_time": host_time,
    }
    if record.digest is not None:
        line["digest"] = f"{record.digest:08x}"
    if record.top1 is not None:
        line["top1"] = record.top1
    if record.op_ticks is not None:
        line["ops"] = [counter.convert(t) for t in record.op_ticks]
    return line


def event_line(event: str, detail: str) -> dict[str, Any]:
    return {"type": "event", "event": event, "host_time": time.time(), "detail": detail}


def gap_line(state: SessionState, from_seq: int, to_seq: int, reason: str) -> dict[str, Any]:
    return {"type": "gap", "session": state.session, "from_seq": from_seq, "to_seq": to_seq,
            "lost": to_seq - from_seq, "reason": reason, "host_time": time.time()}


def accept_page(page: LogPage, state: SessionState, counter: CounterUnit,
                account: Account) -> list[dict[str, Any]]:
    """The lines a page adds: a gap where the ring moved past what we had, then the
    records we did not have yet, in order."""
    lines: list[dict[str, Any]] = []
    now = time.time()
    if page.oldest_seq > state.expected:
        lines.append(gap_line(state, state.expected, page.oldest_seq,
                              "overwritten in the device's ring before the host read it"))
        account.lost += page.oldest_seq - state.expected
        account.gaps += 1
        state.expected = page.oldest_seq
    latencies = []
    for record in page.records:
        if record.seq < state.expected:
            account.duplicates += 1
            continue
        if record.seq > state.expected:  # the device never skips; a bug if it did
            raise ProtocolError(f"LOG_READ+ skipped from seq {state.expected} to {record.seq}")
        line = record_line(record, state, counter, now)
        lines.append(line)
        latencies.append(line["latency"])
        state.expected += 1
    account.received(latencies)
    state.device_next = max(state.device_next, page.next_seq)
    return lines


class Logger:
    """Runs one log until its duration ends or ``stop`` is set (Ctrl-C)."""

    def __init__(self, connect: Callable[[], contextlib.AbstractContextManager[Connection]],
                 plan: LogPlan, sink: Sink, *, replay_inputs: Sequence[Sequence[np.ndarray]]
                 = (), on_update: Callable[[Account], None] | None = None,
                 resume: SessionState | None = None) -> None:
        self.connect = connect
        self.plan = plan
        self.sink = sink
        self.replay_inputs = replay_inputs
        self.on_update = on_update
        self.state = resume  # a session an earlier `mcubench log` left running
        self.account = Account()
        self.stopping = False

    def run(self) -> Account:
        deadline = (time.monotonic() + self.plan.duration_s) if self.plan.duration_s else None
        attempt = 0
        while not self._done(deadline):
            try:
                with self.connect() as connection:
                    attempt = 0
                    self._log(connection, deadline)
                    return self.account
            except DeviceError:
                raise
            except LINK_ERRORS as exc:
                self.sink.write([event_line("disconnected", str(exc))])
                attempt += 1
                if self.plan.max_attempts and attempt > self.plan.max_attempts:
                    raise
                self.account.reconnects += 1
                self._sleep(self.plan.backoff_s[min(attempt, len(self.plan.backoff_s)) - 1],
                            deadline)
        return self.account

    # -- one connection ------------------------------------------------------------------

    def _log(self, connection: Connection, deadline: float | None) -> None:
        counter = connection.session.counter
        if self.plan.mode == "replay":
            self._replay(connection, counter, deadline)
            return
        inference = self._attach_or_start(connection)
        while not self._done(deadline):
            assert self.state is not None
            try:
                page = inference.log_read(self.state.expected, self.plan.page_records)
            except DeviceError as exc:
                if exc.code != _NOT_LOGGING:
                    raise
                self._device_restarted()  # reset under us, the link never broke
                inference = self._start(connection)
                continue
            lines = accept_page(page, self.state, counter, self.account)
            if lines:
                self.sink.write(lines)
            if self.on_update is not None:
                self.on_update(self.account)
            if self.state.expected >= page.next_seq:  # caught up: let the device work
                self._sleep(self.plan.poll_s, deadline)
        self._stop_and_drain(inference, counter)

    def _stop_and_drain(self, inference: LogReader, counter: CounterUnit) -> None:
        """LOG_STOP, then read what the ring still holds, so every sequence number the
        device made is either in the file or in a gap line."""
        assert self.state is not None
        final = inference.log_stop()
        while self.state.expected < final:
            page = inference.log_read(self.state.expected, self.plan.page_records)
            lines = accept_page(page, self.state, counter, self.account)
            if lines:
                self.sink.write(lines)
            if not page.records:
                break

    def _attach_or_start(self, connection: Connection) -> LogReader:
        """Pick up our session if the device still runs it; else (re)start one."""
        if self.state is not None:
            try:
                inference = connection.attach(self.state)
                page = inference.log_read(self.state.expected, 1)
                if page.session == self.state.session:
                    self.sink.write([event_line("reconnected", f"session {self.state.session} "
                                                f"still running; resuming at seq "
                                                f"{self.state.expected}")])
                    return inference
            except DeviceError as exc:
                if exc.code != _NOT_LOGGING:
                    raise
            self._device_restarted()
        return self._start(connection)

    def _start(self, connection: Connection) -> LoadedInference:
        """A new session: load the model, write the inputs, LOG_START. A log the device
        still runs (another session, or one a crashed host left) is stopped first: the
        device refuses to load a model while it logs."""
        with contextlib.suppress(DeviceError):  # STATE: there was no log
            log_stop(connection.session.device)
        inference = connection.load()
        flags = LogFlags.DIGEST | LogFlags.TOP1 | (LogFlags.OPS if self.plan.profile else 0)
        session = secrets.randbits(32)
        period = connection.period_ticks(self.plan)
        started = inference.log_start(period, flags, session)
        self.state = SessionState(session, flags=flags, ops=started.ops)
        self.sink.write([event_line("started", f"session {session}: ring of "
                                    f"{started.ring_records} records, period {period} ticks")])
        return inference

    def _device_restarted(self) -> None:
        """The device lost our session (reset, power, emulator restarted)."""
        assert self.state is not None
        state = self.state
        lines = [event_line("device-restarted",
                            f"session {state.session} is gone; the host had seq "
                            f"0..{state.expected - 1}; records made after the last read are "
                            "unknown")]
        if state.device_next > state.expected:  # made and reported, never received
            lines.append(gap_line(state, state.expected, state.device_next,
                                  "made before the device restarted, never read"))
            self.account.lost += state.device_next - state.expected
            self.account.gaps += 1
        self.account.restarts += 1
        self.sink.write(lines)

    def _replay(self, connection: Connection, counter: CounterUnit,
                deadline: float | None) -> None:
        """Host-driven: each input set in turn, one invoke each."""
        inference = connection.load()
        if self.state is None:
            self.state = SessionState(secrets.randbits(32))
        state = self.state
        while not self._done(deadline):
            arrays = self.replay_inputs[state.expected % len(self.replay_inputs)]
            inference.set_inputs(arrays)
            ticks = inference.invoke(1).total_ticks
            outputs = inference.get_outputs()
            op_ticks = tuple(inference.profile().ticks) if self.plan.profile else None
            record = LogRecord(seq=state.expected, status=0, start_ticks=0, ticks=ticks,
                               digest=_digest(outputs), top1=_top1(outputs[0]),
                               op_ticks=op_ticks)
            line = record_line(record, state, counter, time.time())
            line["device_ticks"] = None  # the host asked: INVOKE does not say when it began
            self.sink.write([line])
            self.account.received([line["latency"]])
            state.expected += 1
            if self.on_update is not None:
                self.on_update(self.account)

    def _done(self, deadline: float | None) -> bool:
        return self.stopping or (deadline is not None and time.monotonic() >= deadline)

    def _sleep(self, seconds: float, deadline: float | None) -> None:
        end = time.monotonic() + seconds
        if deadline is not None:
            end = min(end, deadline)
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))


def _digest(outputs: Sequence[np.ndarray]) -> int:
    crc = 0
    for output in outputs:
        crc = zlib.crc32(np.ascontiguousarray(output).tobytes(), crc)
    return crc


def _top1(output: np.ndarray) -> int:
    return int(np.argmax(output.reshape(-1))) if output.size else -1

