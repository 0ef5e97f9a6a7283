"""The host side of protocol v1: requests, the HELLO resync and windowed bulk transfer.

Recovery in a nutshell (docs/protocol.md, *Window*):

* ``hello`` sends HELLO (idempotent) up to ``Retries.hello`` times, each under a fresh
  seq, and takes the first answer to any of them. Everything else on the line (an
  earlier session's answers and half frames, boot messages) is dropped; the answers
  still to come for the other attempts are remembered as abandoned and dropped later.
* Idempotent requests (INFO, CRC, READ chunks) are retried after a timeout, a corrupted
  response, or ERROR ``BAD_CRC``/``FRAME_TIMEOUT``. The abandoned seq is remembered,
  so a late answer to it is dropped instead of being taken for a protocol violation.
* ``upload`` keeps WRITE_DATA frames in flight up to ``RX_WINDOW`` bytes. ``acked`` is
  the device's write position as far as the host can prove it. After a failed frame the
  device ignores later data, so the host stops sending, lets the frames in flight
  answer, and resends from ``acked``. A ``SEQUENCE`` error for a frame that starts at
  ``acked`` proves the device is already past that frame (its acknowledgement was
  lost), so ``acked`` moves on. Every rewind counts against ``Retries.bulk_recoveries``.
"""

from __future__ import annotations

import random
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from mcubench.errors import (
    BoardError,
    DeviceError,
    DeviceTimeout,
    IntegrityError,
    ProtocolError,
)
from mcubench.protocol import messages
from mcubench.protocol.codes import (
    FRAME_OVERHEAD,
    OPCODE_ERROR,
    PROTOCOL_VERSION,
    Capability,
    ErrorCode,
    Opcode,
    opcode_name,
)
from mcubench.protocol.frame import BadFrame, Frame, Garbage
from mcubench.protocol.messages import DeviceInfo
from mcubench.transport import DEFAULT_BAUDRATE, TraceSink, Transport

Progress = Callable[[int, int], None]
"""Called as ``progress(done_bytes, total_bytes)`` as a transfer advances."""

# Errors that say a request frame was damaged on the way, not that it was refused.
_TRANSIENT_ERRORS = frozenset({ErrorCode.BAD_CRC, ErrorCode.FRAME_TIMEOUT})
_BITS_PER_BYTE = 10  # 8N1
_MAX_IN_FLIGHT = 64  # well inside the 256 seqs, leaving room for abandoned ones
_MAX_ABANDONED = 128
_RESPONSE_ALLOWANCE = 512  # bytes of response assumed when its size is not known


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait, named by what is waited for.

    The time the bytes take on the line at the port's baud rate is added to each, so
    the same values fit a 115200-baud board and an emulator (which has no baud limit).
    """

    hello: float = 0.5  # one HELLO attempt (HELLO is retried, see Retries.hello)
    request: float = 2.0  # the answer to a short request: INFO, PING, WRITE_BEGIN
    bulk_frame: float = 2.0  # the next answer while a transfer has frames in flight
    checksum: float = 10.0  # WRITE_END and CRC: the device checksums a range first
    write: float = 5.0  # a write to the link, if the device stops reading


@dataclass(frozen=True)
class Retries:
    """How often to try again, where trying again is safe."""

    hello: int = 5  # HELLO attempts before giving up
    idempotent: int = 2  # extra attempts for INFO and CRC
    bulk_recoveries: int = 8  # resends (upload) or re-reads (download) per transfer


@dataclass
class DeviceStats:
    """What recovery cost, for ``--trace`` and reports."""

    requests: int = 0  # frames sent
    retries: int = 0  # requests sent again, resends and re-reads
    stale_responses: int = 0  # late answers to abandoned requests, dropped


@dataclass
class _InFlight:
    seq: int
    start: int  # relative to the transfer's offset
    end: int
    request_bytes: int  # what the request frame counts against the window
    response_bytes: int = 0  # what its answer will take on the line


@dataclass
class _Window:
    """Frames sent and not yet answered, in the order sent."""

    frames: deque[_InFlight] = field(default_factory=deque)
    request_bytes: int = 0
    response_bytes: int = 0

    def __len__(self) -> int:
        return len(self.frames)

    def seqs(self) -> set[int]:
        return {item.seq for item in self.frames}

    def add(self, item: _InFlight) -> None:
        self.frames.append(item)
        self.request_bytes += item.request_bytes
        self.response_bytes += item.response_bytes

    def pop_through(self, seq: int) -> tuple[list[_InFlight], _InFlight] | None:
        """Remove frames up to the one with ``seq``: (those before it, it), or None."""
        if all(item.seq != seq for item in self.frames):
            return None
        skipped: list[_InFlight] = []
        while True:
            item = self.frames.popleft()
            self.request_bytes -= item.request_bytes
            self.response_bytes -= item.response_bytes
            if item.seq == seq:
                return skipped, item
            skipped.append(item)

    def clear(self) -> list[_InFlight]:
        items = list(self.frames)
        self.frames.clear()
        self.request_bytes = self.response_bytes = 0
        return items


Response = Frame | BadFrame


class Device:
    """A device speaking protocol v1 over a ``Transport``. Use as a context manager."""

    def __init__(
        self,
        transport: Transport,
        *,
        timeouts: Timeouts | None = None,
        retries: Retries | None = None,
    ) -> None:
        self.transport = transport
        self.timeouts = timeouts or Timeouts()
        self.retries = retries or Retries()
        self.stats = DeviceStats()
        self.device_info: DeviceInfo | None = None  # set by info()
        # A random first seq makes a previous session's late answers unlikely to match.
        self._seq = random.randrange(256)
        self._abandoned: dict[int, None] = {}  # insertion-ordered set
        self._inbox: deque[Response] = deque()

    @classmethod
    def open(
        cls,
        url: str,
        *,
        baudrate: int = DEFAULT_BAUDRATE,
        trace: TraceSink | None = None,
        trace_max_bytes: int | None = None,
        timeouts: Timeouts | None = None,
        retries: Retries | None = None,
    ) -> Device:
        """Open the link at a pyserial URL. Call ``hello()`` next.

        ``trace`` receives a hex dump of every frame, both ways (``trace_max_bytes``
        shortens each dump).
        """
        timeouts = timeouts or Timeouts()
        transport = Transport(
            url,
            baudrate=baudrate,
            trace=trace,
            trace_max_bytes=trace_max_bytes,
            write_timeout=timeouts.write,
        )
        transport.open()
        return cls(transport, timeouts=timeouts, retries=retries)

    def close(self) -> None:
        """Close the link."""
        self.transport.close()

    def __enter__(self) -> Self:
        self.transport.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Session

    def hello(self) -> int:
        """Resynchronise with the device and check its protocol version; return it."""
        attempts: list[int] = []
        failure: Exception | None = None
        try:
            for _ in range(self.retries.hello):
                seq = self._next_seq()
                attempts.append(seq)
                self._send([Frame(Opcode.HELLO, seq, messages.encode_hello(PROTOCOL_VERSION))])
                deadline = time.monotonic() + self.timeouts.hello + self._wire_time(64)
                try:
                    answered, version = self._await_hello(attempts, deadline)
                except (DeviceTimeout, IntegrityError, DeviceError) as exc:
                    if isinstance(exc, DeviceError) and exc.code not in _TRANSIENT_ERRORS:
                        raise
                    failure = exc
                    self.transport.drop_partial_frame()
                    self.stats.retries += 1
                    continue
                attempts.remove(answered)
                if version != PROTOCOL_VERSION:
                    raise ProtocolError(
                        f"device at {self.transport.url} speaks protocol {version}, "
                        f"this host speaks {PROTOCOL_VERSION}"
                    )
                return version
        finally:
            for seq in attempts:  # the other attempts' answers may still come: drop them
                self._abandon(seq)
        raise DeviceTimeout(
            f"no HELLO answer from {self.transport.url} after {self.retries.hello} attempts "
            f"of {self.timeouts.hello:g} s (last: {failure}); is the mcubench firmware "
            "running there, at this baud rate?"
        )

    def info(self) -> DeviceInfo:
        """Ask for INFO; the result is also kept in ``device_info``."""
        payload = self.request(Opcode.INFO, retries=self.retries.idempotent)
        info = DeviceInfo.decode(payload)
        if info.protocol_version != PROTOCOL_VERSION:
            raise ProtocolError(
                f"INFO says protocol {info.protocol_version}, expected {PROTOCOL_VERSION}"
            )
        self.device_info = info
        return info

    def ping(self, payload: bytes = b"mcubench") -> float:
        """Echo ``payload`` and return the round trip in seconds."""
        started = time.monotonic()
        echo = self.request(Opcode.PING, payload)
        elapsed = time.monotonic() - started
        if echo != payload:
            raise IntegrityError(
                f"PING echo differs: sent {len(payload)} bytes, got {len(echo)} bytes back"
            )
        return elapsed

    def crc(self, offset: int, length: int) -> int:
        """CRC-32 (as zlib.crc32) of a pool range, computed by the device."""
        self._require(Capability.CRC)
        payload = self.request(
            Opcode.CRC,
            messages.encode_crc(offset, length),
            timeout=self.timeouts.checksum,
            retries=self.retries.idempotent,
        )
        return messages.decode_crc_response(payload)

    # Requests

    def request(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        timeout: float | None = None,
        retries: int = 0,
    ) -> bytes:
        """Send one request and return its OK response's payload.

        ``timeout`` defaults to ``Timeouts.request``. ``retries`` extra attempts follow a
        timeout, a corrupted response or a transient ERROR: pass them only for requests
        that are safe to repeat. An ERROR response raises ``DeviceError``.
        """
        wait = (self.timeouts.request if timeout is None else timeout) + self._wire_time(
            2 * FRAME_OVERHEAD + len(payload) + max(len(payload), _RESPONSE_ALLOWANCE)
        )
        attempt = 0
        while True:
            seq = self._next_seq()
            self._send([Frame(opcode, seq, payload)])
            try:
                return self._await_response(seq, opcode, time.monotonic() + wait, wait)
            except (DeviceTimeout, IntegrityError, DeviceError) as exc:
                if isinstance(exc, DeviceError):
                    if exc.code not in _TRANSIENT_ERRORS:
                        raise
                else:
                    self._abandon(seq)  # its answer may still come
                    self.transport.drop_partial_frame()
                if attempt >= retries:
                    raise
                attempt += 1
                self.stats.retries += 1

    # Bulk transfer

    def upload(self, offset: int, data: bytes, progress: Progress | None = None) -> None:
        """Write ``data`` into the pool at ``offset`` and check the device's CRC-32."""
        info = self._require(Capability.BULK_WRITE)
        view = memoryview(bytes(data))
        self.request(Opcode.WRITE_BEGIN, messages.encode_write_begin(offset, len(view)))
        upload = _Upload(self, info, offset, view, progress)
        try:
            upload.run()
        finally:
            upload.abandon_window()  # after an error: drop the answers still to come
        length, device_crc = messages.decode_write_end_response(
            self.request(Opcode.WRITE_END, timeout=self.timeouts.checksum)
        )
        host_crc = zlib.crc32(view)
        if length != len(view) or device_crc != host_crc:
            raise IntegrityError(
                f"upload check failed: device wrote {length} bytes with CRC-32 "
                f"0x{device_crc:08x}, host sent {len(view)} bytes with CRC-32 0x{host_crc:08x}"
            )

    def download(self, offset: int, length: int, progress: Progress | None = None) -> bytes:
        """Read ``length`` bytes of the pool at ``offset``."""
        info = self._require(Capability.BULK_READ)
        download = _Download(self, info, offset, length, progress)
        try:
            return download.run()
        finally:
            download.abandon_window()  # after an error: drop the answers still to come

    # Internals

    def _require(self, capability: Capability) -> DeviceInfo:
        info = self.device_info or self.info()
        if capability not in info.capabilities:
            raise BoardError(
                f"device {info.board} at {self.transport.url} lacks capability {capability.name}"
            )
        return info

    def _wire_time(self, nbytes: int) -> float:
        return nbytes * _BITS_PER_BYTE / self.transport.baudrate

    def _next_seq(self, busy: _Window | None = None) -> int:
        in_flight = busy.seqs() if busy is not None else set()
        for _ in range(256):
            self._seq = (self._seq + 1) & 0xFF
            if self._seq not in self._abandoned and self._seq not in in_flight:
                return self._seq
        raise ProtocolError("no free sequence number")  # unreachable with the caps above

    def _abandon(self, seq: int) -> None:
        """Remember that ``seq``'s answer, if it ever comes, is to be dropped."""
        self._abandoned[seq] = None
        while len(self._abandoned) > _MAX_ABANDONED:
            del self._abandoned[next(iter(self._abandoned))]

    def _send(self, frames: list[Frame]) -> None:
        if frames:
            self.transport.send(frames)
            self.stats.requests += len(frames)

    def _next_response(self, deadline: float) -> Response | None:
        """The next frame or dropped frame from the device, or None at the deadline."""
        while True:
            while self._inbox:
                event = self._inbox.popleft()
                if event.seq in self._abandoned:
                    del self._abandoned[event.seq]
                    self.stats.stale_responses += 1
                    continue
                return event
            remaining = deadline - time.monotonic()
            events = self.transport.receive(max(remaining, 0.0))
            self._inbox.extend(e for e in events if not isinstance(e, Garbage))
            if not self._inbox and remaining <= 0:
                return None

    def _await_response(self, seq: int, opcode: int, deadline: float, wait: float) -> bytes:
        name = opcode_name(opcode)
        event = self._next_response(deadline)
        if event is None:
            raise DeviceTimeout(
                f"no answer to {name} from {self.transport.url} within {wait:.1f} s"
            )
        if event.seq != seq:
            raise self._unexpected(event, name)
        if isinstance(event, BadFrame):
            raise IntegrityError(f"the answer to {name} arrived damaged ({event.reason.value})")
        if event.opcode == opcode | 0x80:
            return event.payload
        if event.opcode == OPCODE_ERROR:
            error = messages.decode_error(event.payload)
            if error.request_opcode != opcode:
                raise ProtocolError(f"ERROR for {opcode_name(error.request_opcode)} answers {name}")
            raise error
        raise ProtocolError(f"{opcode_name(event.opcode)} answers {name}")

    def _await_hello(self, seqs: list[int], deadline: float) -> tuple[int, int]:
        """(seq, protocol version) of an answer to one of the HELLOs sent; anything else
        is dropped: leftovers of an earlier session, boot messages."""
        while True:
            event = self._next_response(deadline)
            if event is None:
                raise DeviceTimeout(f"no HELLO answer from {self.transport.url}")
            if event.seq in seqs:
                if isinstance(event, BadFrame):
                    if event.opcode in (Opcode.HELLO.response, OPCODE_ERROR):
                        raise IntegrityError("the answer to HELLO arrived damaged")
                elif event.opcode == Opcode.HELLO.response:
                    return event.seq, messages.decode_hello_response(event.payload)
                elif event.opcode == OPCODE_ERROR:
                    error = messages.decode_error(event.payload)
                    if error.request_opcode == Opcode.HELLO:
                        raise error
            elif isinstance(event, Frame) and event.opcode == OPCODE_ERROR:
                error = messages.decode_error(event.payload)
                if error.code in _TRANSIENT_ERRORS:
                    # A frame an earlier session left half sent has just been dropped,
                    # most likely with our HELLO inside it: try again now rather than
                    # after the timeout.
                    self.stats.stale_responses += 1
                    raise IntegrityError(f"HELLO swallowed by an earlier frame ({error.name})")
            self.stats.stale_responses += 1

    def _unexpected(self, event: Response, waiting_for: str) -> ProtocolError:
        return ProtocolError(
            f"unexpected {opcode_name(event.opcode)} with seq {event.seq} from "
            f"{self.transport.url} while waiting for {waiting_for}"
        )


class _Transfer:
    """State shared by uploads and downloads: the window and the recovery budget."""

    def __init__(
        self, device: Device, info: DeviceInfo, offset: int, total: int, progress: Progress | None
    ) -> None:
        self.device = device
        self.info = info
        self.offset = offset
        self.total = total
        self.progress = progress
        self.window = _Window()
        self.recoveries = 0

    def recover(self, why: str, where: str) -> None:
        """Count one resend; past the budget, give up."""
        self.recoveries += 1
        self.device.stats.retries += 1
        if self.recoveries > self.device.retries.bulk_recoveries:
            raise IntegrityError(
                f"{where} {self.device.transport.url} gave up after "
                f"{self.recoveries - 1} resends (last: {why})"
            )

    def report(self, done: int) -> None:
        if self.progress is not None:
            self.progress(done, self.total)

    def next_response(self, response_bytes: int) -> Response | None:
        """The next answer, or None if none comes within ``Timeouts.bulk_frame``."""
        device = self.device
        wait = device.timeouts.bulk_frame + device._wire_time(
            self.window.request_bytes + FRAME_OVERHEAD + response_bytes
        )
        return device._next_response(time.monotonic() + wait)

    def abandon_window(self) -> list[_InFlight]:
        """Forget the frames in flight; their answers, if they come, will be dropped."""
        items = self.window.clear()
        for item in items:
            self.device._abandon(item.seq)
        if items:
            self.device.transport.drop_partial_frame()
        return items


class _Upload(_Transfer):
    """WRITE_DATA frames kept in flight up to RX_WINDOW, resent from the proven position."""

    def __init__(
        self,
        device: Device,
        info: DeviceInfo,
        offset: int,
        data: memoryview,
        progress: Progress | None,
    ) -> None:
        super().__init__(device, info, offset, len(data), progress)
        self.data = data
        self.acked = 0  # the device's write position as far as proven, relative
        self.sent = 0  # next position to send
        self.draining = False  # a frame failed: let the window empty, then resend
        self.chunk = _upload_chunk(info)

    def run(self) -> None:
        self.report(0)
        while self.acked < self.total:
            if not self.draining:
                self._fill_window()
            event = self.next_response(FRAME_OVERHEAD + 4)
            if event is None:
                self.abandon_window()
                self.draining, self.sent = False, self.acked
                self.recover("no answer to WRITE_DATA in time", "upload to")
                continue
            popped = self.window.pop_through(event.seq)
            if popped is None:
                raise self.device._unexpected(event, "WRITE_DATA")
            # Frames before this one went unanswered; the answers after them tell.
            self._on_answer(event, popped[1])
            if not self.window and self.acked < self.total:
                if self.draining:
                    self.draining, self.sent = False, self.acked
                elif self.sent > self.acked:
                    # The last answers were lost: resend; the device's answers to the
                    # resent frames show where it is.
                    self.sent = self.acked
                    self.recover("answers to the last WRITE_DATA frames lost", "upload to")

    def _fill_window(self) -> None:
        batch = []
        chunk = self.chunk
        window = self.window
        while self.sent < self.total and len(window) < _MAX_IN_FLIGHT:
            start, end = self.sent, min(self.sent + chunk, self.total)
            wire = FRAME_OVERHEAD + messages.OFFSET_SIZE + end - start
            if window and window.request_bytes + wire > self.info.rx_window:
                break
            seq = self.device._next_seq(busy=window)
            payload = messages.encode_write_data(self.offset + start, self.data[start:end])
            batch.append(Frame(Opcode.WRITE_DATA, seq, payload))
            window.add(_InFlight(seq, start, end, wire))
            self.sent = end
        self.device._send(batch)

    def _on_answer(self, event: Response, item: _InFlight) -> None:
        outcome = self._outcome(event, item)
        # OK: the device took the frame. SEQUENCE for a frame at the proven position: the
        # device is past it already (it took an earlier copy whose answer was lost).
        if outcome == "ok" or (outcome == "sequence" and item.start == self.acked):
            if item.end > self.acked:
                self.acked = item.end
                self.report(self.acked)
        elif outcome != "unknown" and not self.draining:
            self.draining = True
            self.recover(f"{outcome} on WRITE_DATA at byte {item.start}", "upload to")

    def _outcome(self, event: Response, item: _InFlight) -> str:
        """'ok', 'sequence', 'damaged' (BAD_CRC or FRAME_TIMEOUT) or 'unknown'."""
        if isinstance(event, BadFrame):
            return "unknown"  # the answer itself was damaged: the next answers tell
        if event.opcode == Opcode.WRITE_DATA.response:
            next_offset = messages.decode_write_data_response(event.payload)
            if next_offset != self.offset + item.end:
                raise ProtocolError(
                    f"WRITE_DATA at {self.offset + item.start} acknowledged with next "
                    f"offset {next_offset}, expected {self.offset + item.end}"
                )
            return "ok"
        if event.opcode == OPCODE_ERROR:
            error = messages.decode_error(event.payload)
            if error.code == ErrorCode.SEQUENCE:
                return "sequence"
            if error.code in _TRANSIENT_ERRORS:
                return error.name
            raise error
        raise self.device._unexpected(event, "WRITE_DATA")


class _Download(_Transfer):
    """READs kept in flight within the window; a chunk that fails is simply read again."""

    def __init__(
        self, device: Device, info: DeviceInfo, offset: int, length: int, progress: Progress | None
    ) -> None:
        super().__init__(device, info, offset, length, progress)
        chunk = info.max_chunk
        self.todo = deque((start, min(start + chunk, length)) for start in range(0, length, chunk))
        self.out = bytearray(length)
        self.done = 0
        # Requests are tiny; also bound the answers in flight, which a retry resends.
        self.response_budget = max(info.rx_window, 2 * (FRAME_OVERHEAD + info.max_payload))

    def run(self) -> bytes:
        self.report(0)
        while self.todo or self.window:
            self._fill_window()
            event = self.next_response(FRAME_OVERHEAD + self.info.max_payload)
            if event is None:
                self._retry(self.abandon_window(), "no answer to READ in time")
                continue
            popped = self.window.pop_through(event.seq)
            if popped is None:
                raise self.device._unexpected(event, "READ")
            skipped, item = popped
            self._retry(skipped, "answers to READ lost")
            data = self._outcome(event, item)
            if data is None:
                self._retry([item], "READ answer damaged, or the request was")
                continue
            self.out[item.start : item.end] = data
            self.done += len(data)
            self.report(self.done)
        return bytes(self.out)

    def _fill_window(self) -> None:
        batch = []
        window = self.window
        while self.todo and len(window) < _MAX_IN_FLIGHT:
            start, end = self.todo[0]
            item = _InFlight(
                0,
                start,
                end,
                FRAME_OVERHEAD + messages.READ_REQUEST_SIZE,
                FRAME_OVERHEAD + messages.OFFSET_SIZE + end - start,
            )
            if window and (
                window.request_bytes + item.request_bytes > self.info.rx_window
                or window.response_bytes + item.response_bytes > self.response_budget
            ):
                break
            self.todo.popleft()
            item.seq = self.device._next_seq(busy=window)
            batch.append(
                Frame(Opcode.READ, item.seq, messages.encode_read(self.offset + start, end - start))
            )
            window.add(item)
        self.device._send(batch)

    def _retry(self, items: list[_InFlight], why: str) -> None:
        """Read these chunks again, first."""
        if items:
            self.recover(why, "download from")
            self.todo.extendleft((item.start, item.end) for item in reversed(items))

    def _outcome(self, event: Response, item: _InFlight) -> bytes | None:
        """The chunk's data, or None if it must be read again."""
        if isinstance(event, BadFrame):
            return None
        if event.opcode == Opcode.READ.response:
            at, data = messages.decode_read_response(event.payload)
            if at != self.offset + item.start or len(data) != item.end - item.start:
                raise ProtocolError(
                    f"READ of {item.end - item.start} bytes at {self.offset + item.start} "
                    f"answered with {len(data)} bytes at {at}"
                )
            return data
        if event.opcode == OPCODE_ERROR:
            error = messages.decode_error(event.payload)
            if error.code in _TRANSIENT_ERRORS:
                return None
            raise error
        raise self.device._unexpected(event, "READ")


def _upload_chunk(info: DeviceInfo) -> int:
    """Data bytes per WRITE_DATA: the most that lets two frames share the window.

    With one frame in flight the line would idle while the device answers it, so a
    window short of two full frames gets slightly smaller ones, unless that would make
    them tiny (then frames go one at a time).
    """
    per_frame = FRAME_OVERHEAD + messages.OFFSET_SIZE
    fits_two = info.rx_window // 2 - per_frame
    if fits_two >= info.max_chunk:
        return info.max_chunk
    return fits_two if fits_two >= info.max_chunk // 2 else info.max_chunk
