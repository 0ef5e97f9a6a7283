"""An in-process fake device: the device side of protocol v1, with injectable faults.

It listens on a loopback TCP port (``socket://127.0.0.1:PORT``, the same URL kind QEMU's
UART gives) and serves one connection in a thread, so ``Device`` and ``Transport`` run
unmodified against it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, auto
from types import TracebackType
from typing import Self

from mcubench.errors import ProtocolError
from mcubench.protocol import messages
from mcubench.protocol.codes import (
    FRAME_OVERHEAD,
    HEADER_SIZE,
    OPCODE_ERROR,
    PROTOCOL_VERSION,
    Capability,
    CounterSource,
    ErrorCode,
    Opcode,
)
from mcubench.protocol.frame import BadFrame, BadFrameReason, Frame, FrameParser, Garbage
from mcubench.protocol.messages import DeviceInfo
from mcubench.transport import Transport

ALL_CAPABILITIES = Capability.BULK_WRITE | Capability.BULK_READ | Capability.CRC


class Fault(Enum):
    """What goes wrong with one request (see ``FakeDevice.faults``)."""

    DAMAGE_REQUEST = auto()  # the request arrived with a bad CRC: ERROR BAD_CRC, no effect
    LOSE_REQUEST = auto()  # the request never arrived: no effect, no answer
    LOSE_ANSWER = auto()  # handled, but the answer never arrives
    DAMAGE_ANSWER = auto()  # handled, the answer arrives with a bad CRC-32
    WRONG_SEQ = auto()  # handled, the answer carries the wrong seq
    FLIP_DATA = auto()  # WRITE_DATA stored with one bit flipped, acknowledged as fine
    GO_SILENT = auto()  # from this request on, the device answers nothing
    SWALLOWED = auto()  # lost inside an earlier session's half frame, which then times out
    CLOSE = auto()  # the device closes the link on receiving this request


class _RefusedError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _WriteSession:
    start: int
    end: int
    next: int


class FakeDevice:
    """Serves protocol v1 on a loopback socket until closed. Use as a context manager.

    ``faults`` maps (opcode, n) to a Fault for the n-th (0-based) good frame with that
    opcode. ``turnaround`` is the time spent per request, so that a host that does not
    pipeline shows it. ``max_pending_bytes`` records the most request bytes the device
    held unanswered at once: the window the host actually used.
    """

    def __init__(
        self,
        *,
        max_payload: int = 256,
        rx_window: int = 1024,
        pool_bytes: int = 64 * 1024,
        protocol_version: int = PROTOCOL_VERSION,
        capabilities: Capability = ALL_CAPABILITIES,
        turnaround: float = 0.0,
        faults: Mapping[tuple[Opcode, int], Fault] | None = None,
        preamble: bytes = b"",
    ) -> None:
        self.info = DeviceInfo(
            protocol_version=protocol_version,
            firmware_version="0.0.0-fake",
            board="fake",
            core="python",
            clock_hz=1_000_000,
            counter_source=CounterSource.MONOTONIC_NS,
            counter_hz=1_000_000_000,
            max_payload=max_payload,
            rx_window=rx_window,
            pool_bytes=pool_bytes,
            capabilities=capabilities,
            firmware_git="0000000",
            compiler="cpython",
        )
        self.pool = bytearray(pool_bytes)
        self.turnaround = turnaround
        self.faults = {(int(op), n): fault for (op, n), fault in (faults or {}).items()}
        self.preamble = preamble
        self.requests: list[Frame] = []  # good request frames, in arrival order
        self.bad_frames: list[BadFrame] = []
        self.max_pending_bytes = 0
        self.errors: list[BaseException] = []
        self._counts: dict[int, int] = {}
        self._session: _WriteSession | None = None
        self._silent = False
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="fake-device", daemon=True)

    @property
    def url(self) -> str:
        port = self._listener.getsockname()[1]
        return f"socket://127.0.0.1:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        if self.errors and exc is None:
            raise AssertionError("fake device failed") from self.errors[0]

    def opcodes(self) -> list[int]:
        """Opcodes of the good request frames received, in order."""
        return [frame.opcode for frame in self.requests]

    # The device loop

    def _run(self) -> None:
        try:
            self._listener.settimeout(0.02)
            while not self._stop.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    self._conn = conn
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conn.settimeout(5)
                    self._serve(conn)
                return
        except BaseException as exc:  # surfaced by __exit__
            self.errors.append(exc)

    def _serve(self, conn: socket.socket) -> None:
        parser = FrameParser(self.info.max_payload)
        queue: deque[Frame | BadFrame] = deque()
        while not self._stop.is_set():
            ready, _, _ = select.select([conn], [], [], 0 if queue else 0.01)
            if ready:
                try:
                    data = conn.recv(65536)
                except ConnectionError:
                    return
                if not data:
                    return  # the host closed the link
                if self.preamble:
                    # Leftovers of an earlier session, sent once the host is listening
                    # (pyserial discards input that arrives before it opens).
                    conn.sendall(self.preamble)
                    self.preamble = b""
                queue.extend(e for e in parser.feed(data) if not isinstance(e, Garbage))
                pending = parser.pending + sum(_wire_size(e) for e in queue)
                self.max_pending_bytes = max(self.max_pending_bytes, pending)
                continue  # read everything there is before answering
            if not queue:
                continue
            if self.turnaround:
                time.sleep(self.turnaround)  # processing time, before the answer
            if not self._handle(conn, queue.popleft()):
                return

    def _handle(self, conn: socket.socket, event: Frame | BadFrame) -> bool:
        """Answer one frame; False when the link is to be closed."""
        if isinstance(event, BadFrame):
            self.bad_frames.append(event)
            code = (
                ErrorCode.BAD_CRC
                if event.reason is BadFrameReason.BAD_CRC
                else ErrorCode.FRAME_TOO_LARGE
            )
            self._answer(conn, Frame(OPCODE_ERROR, event.seq, _error(code, event.opcode, "")))
            return True
        self.requests.append(event)
        count = self._counts.get(event.opcode, 0)
        self._counts[event.opcode] = count + 1
        fault = self.faults.get((event.opcode, count))
        if fault is Fault.CLOSE:
            conn.shutdown(socket.SHUT_RDWR)
            return False
        if fault is Fault.GO_SILENT:
            self._silent = True
        if fault is Fault.LOSE_REQUEST:
            return True
        if fault is Fault.SWALLOWED:
            stale = (event.seq + 128) & 0xFF  # the half frame's seq, from the earlier session
            error = _error(ErrorCode.FRAME_TIMEOUT, Opcode.WRITE_DATA, "frame stalled")
            self._answer(conn, Frame(OPCODE_ERROR, stale, error))
            return True
        if fault is Fault.DAMAGE_REQUEST:
            answer = Frame(OPCODE_ERROR, event.seq, _error(ErrorCode.BAD_CRC, event.opcode, ""))
        else:
            answer = self._dispatch(event, flip=fault is Fault.FLIP_DATA)
        if fault is Fault.LOSE_ANSWER:
            return True
        if fault is Fault.WRONG_SEQ:
            answer = Frame(answer.opcode, (answer.seq + 1) & 0xFF, answer.payload)
        raw = bytearray(answer.encode())
        if fault is Fault.DAMAGE_ANSWER:
            raw[-1] ^= 0xFF
        self._answer(conn, answer, bytes(raw))
        return True

    def _answer(self, conn: socket.socket, frame: Frame, raw: bytes | None = None) -> None:
        if not self._silent:
            conn.sendall(frame.encode() if raw is None else raw)

    # Requests, as docs/protocol.md says

    def _dispatch(self, frame: Frame, *, flip: bool) -> Frame:
        try:
            payload = self._execute(frame, flip=flip)
        except _RefusedError as refused:
            return Frame(
                OPCODE_ERROR, frame.seq, _error(refused.code, frame.opcode, refused.message)
            )
        except ProtocolError as exc:  # a payload of the wrong size
            return Frame(
                OPCODE_ERROR, frame.seq, _error(ErrorCode.BAD_LENGTH, frame.opcode, str(exc))
            )
        return Frame(frame.opcode | 0x80, frame.seq, payload)

    def _execute(self, frame: Frame, *, flip: bool) -> bytes:
        payload = frame.payload
        try:
            opcode = Opcode(frame.opcode)
        except ValueError:
            raise _RefusedError(ErrorCode.UNKNOWN_OPCODE, f"opcode 0x{frame.opcode:02x}") from None
        if opcode is Opcode.HELLO:
            version = messages.decode_hello(payload)
            if version != self.info.protocol_version:
                raise _RefusedError(ErrorCode.UNSUPPORTED_VERSION, f"host speaks {version}")
            self._session = None
            return messages.encode_hello_response(self.info.protocol_version)
        if opcode is Opcode.INFO:
            return self.info.encode()
        if opcode is Opcode.PING:
            return payload
        if opcode is Opcode.WRITE_BEGIN:
            offset, length = messages.decode_write_begin(payload)
            self._check_range(offset, length)
            self._session = _WriteSession(offset, offset + length, offset)
            return b""
        if opcode is Opcode.WRITE_DATA:
            return self._write_data(payload, flip=flip)
        if opcode is Opcode.WRITE_END:
            session = self._require_session()
            self._session = None
            written = self.pool[session.start : session.next]
            return messages.encode_write_end_response(len(written), zlib.crc32(written))
        if opcode is Opcode.READ:
            offset, length = messages.decode_read(payload)
            if length > self.info.max_chunk:
                raise _RefusedError(ErrorCode.BAD_LENGTH, f"READ of {length} bytes")
            self._check_range(offset, length)
            return messages.encode_read_response(offset, self.pool[offset : offset + length])
        offset, length = messages.decode_crc(payload)  # Opcode.CRC
        self._check_range(offset, length)
        return messages.encode_u32(zlib.crc32(self.pool[offset : offset + length]))

    def _write_data(self, payload: bytes, *, flip: bool) -> bytes:
        session = self._require_session()
        offset, data = messages.decode_write_data(payload)
        if offset != session.next:
            raise _RefusedError(ErrorCode.SEQUENCE, f"offset {offset}, expected {session.next}")
        if offset + len(data) > session.end:
            raise _RefusedError(ErrorCode.OUT_OF_RANGE, "past the end of the write session")
        if flip and data:
            data = bytes([data[0] ^ 0x01]) + data[1:]
        self.pool[offset : offset + len(data)] = data
        session.next += len(data)
        return messages.encode_u32(session.next)

    def _require_session(self) -> _WriteSession:
        if self._session is None:
            raise _RefusedError(ErrorCode.STATE, "no write session")
        return self._session

    def _check_range(self, offset: int, length: int) -> None:
        if offset + length > len(self.pool):
            raise _RefusedError(
                ErrorCode.OUT_OF_RANGE,
                f"{offset}+{length} is outside the {len(self.pool)}-byte pool",
            )


def _error(code: ErrorCode, opcode: int, message: str) -> bytes:
    return messages.encode_error(code, opcode, message)


def _wire_size(event: Frame | BadFrame) -> int:
    if isinstance(event, Frame):
        return event.wire_size
    if event.reason is BadFrameReason.TOO_LARGE:
        return HEADER_SIZE
    return FRAME_OVERHEAD + event.length


class CorruptingTransport(Transport):
    """A Transport that flips one payload byte of the frames ``damage`` picks, on the wire."""

    def __init__(self, url: str, damage: Callable[[Frame], bool]) -> None:
        super().__init__(url)
        self.damage = damage
        self.damaged = 0

    def send(self, frames: Iterable[Frame]) -> int:
        data = bytearray()
        for frame in frames:
            raw = bytearray(frame.encode())
            if self.damage(frame):
                raw[HEADER_SIZE] ^= 0x40  # first payload byte: the CRC-32 catches it
                self.damaged += 1
            data += raw
        self.write(bytes(data))
        return len(data)


def free_port_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    with contextlib.closing(socket.create_server(("127.0.0.1", 0))) as probe:
        port = probe.getsockname()[1]
    return f"socket://127.0.0.1:{port}"
