"""The serial link: pyserial URLs (``/dev/tty*``, pty paths, ``socket://host:port``)
carrying protocol frames, with an optional frame trace.

Every failure of the link itself becomes a ``TransportError`` naming the URL.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol, Self, cast

import serial

from mcubench.errors import DeviceTimeout, TransportError
from mcubench.protocol.codes import MAX_FRAME_PAYLOAD
from mcubench.protocol.frame import Frame, FrameEvent, FrameParser
from mcubench.protocol.trace import Direction, format_frame_trace

TraceSink = Callable[[str], None] | logging.Logger

DEFAULT_BAUDRATE = 115200
_READ_SIZE = 65536
_POLL_INTERVAL = 0.002  # only for pyserial URL handlers without a file descriptor


class _Port(Protocol):
    """What this module uses of a pyserial port (``SerialBase`` subclasses)."""

    def read(self, size: int = 1, /) -> bytes: ...
    def write(self, data: bytes, /) -> int | None: ...
    def reset_input_buffer(self) -> None: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...


class Transport:
    """A byte link to a device, and the frame layer on top of it.

    Construct, then ``open()`` (or use as a context manager). ``read``/``write`` move raw
    bytes; ``send``/``receive`` move frames through one ``FrameParser`` and the trace.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = DEFAULT_BAUDRATE,
        trace: TraceSink | None = None,
        trace_max_bytes: int | None = None,
        write_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.write_timeout = write_timeout
        self.parser = FrameParser(MAX_FRAME_PAYLOAD)
        self.bytes_sent = 0
        self.bytes_received = 0
        self._trace = trace
        self._trace_max_bytes = trace_max_bytes
        self._port: _Port | None = None

    # Lifetime

    @property
    def is_open(self) -> bool:
        """Whether the link is open."""
        return self._port is not None

    def open(self) -> None:
        """Open the link; a no-op if it is open already."""
        if self._port is not None:
            return
        try:
            # timeout=0: reads never block inside pyserial; read() waits with select
            # instead, because changing a posix port's timeout re-runs tcsetattr.
            port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                timeout=0,
                write_timeout=self.write_timeout,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"cannot open {self.url}: {exc}") from exc
        sock = getattr(port, "_socket", None)
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            # pyserial leaves Nagle on; small request frames would then wait for the
            # peer's (possibly delayed) ACK of the previous ones.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._port = cast(_Port, port)

    def close(self) -> None:
        """Close the link; safe to call twice."""
        port, self._port = self._port, None
        if port is None:
            return
        # Closing a link that already broke has nothing left to report.
        with contextlib.suppress(serial.SerialException, OSError):
            sock = getattr(port, "_socket", None)
            if isinstance(sock, socket.socket):
                # pyserial's socket:// close() sleeps 0.3 s "for quick reconnects";
                # nothing here reconnects, so close the socket without the wait.
                raw: Any = port
                raw._socket = None
                raw.is_open = False
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            else:
                port.close()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Bytes

    def write(self, data: bytes) -> None:
        """Write all of ``data``."""
        port = self._require_open()
        try:
            port.write(data)
        except serial.SerialTimeoutException as exc:
            raise DeviceTimeout(
                f"writing to {self.url} timed out after {self.write_timeout} s: "
                "the device is not reading"
            ) from exc
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"link to {self.url} lost while writing: {exc}") from exc
        self.bytes_sent += len(data)

    def read(self, max_bytes: int = _READ_SIZE, timeout: float = 0.0) -> bytes:
        """Up to ``max_bytes`` bytes: what is there, else wait up to ``timeout`` seconds
        for the first ones. Returns b"" on timeout."""
        port = self._require_open()
        deadline = time.monotonic() + timeout
        try:
            while True:
                data = port.read(max_bytes)
                if data:
                    self.bytes_received += len(data)
                    return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return b""
                self._wait_readable(port, remaining)
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"link to {self.url} lost while reading: {exc}") from exc

    def reset_input(self) -> None:
        """Discard bytes received but not yet read, and any partly parsed frame."""
        port = self._require_open()
        try:
            port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"link to {self.url} lost: {exc}") from exc
        self._trace_events(self.parser.reset())

    # Frames

    def send(self, frames: Iterable[Frame]) -> int:
        """Encode and write frames in one write; return the bytes written."""
        chunks = []
        for frame in frames:
            chunks.append(frame.encode())
            if self._trace is not None:
                self._emit(format_frame_trace(Direction.TX, frame, max_bytes=self._trace_max_bytes))
        data = b"".join(chunks)
        self.write(data)
        return len(data)

    def receive(self, timeout: float) -> list[FrameEvent]:
        """Frame events from what arrives within ``timeout`` (maybe none, maybe several)."""
        data = self.read(_READ_SIZE, timeout)
        if not data:
            return []
        events = self.parser.feed(data)
        self._trace_events(events)
        return events

    def drop_partial_frame(self) -> None:
        """Forget a partly received frame, e.g. after a response timed out."""
        self._trace_events(self.parser.reset())

    # Internals

    def _require_open(self) -> _Port:
        if self._port is None:
            raise TransportError(f"link to {self.url} is not open")
        return self._port

    @staticmethod
    def _wait_readable(port: _Port, timeout: float) -> None:
        try:
            fd = port.fileno()
        except (AttributeError, NotImplementedError, OSError):
            time.sleep(min(timeout, _POLL_INTERVAL))
            return
        select.select([fd], [], [], timeout)

    def _trace_events(self, events: list[FrameEvent]) -> None:
        if self._trace is None:
            return
        for event in events:
            self._emit(format_frame_trace(Direction.RX, event, max_bytes=self._trace_max_bytes))

    def _emit(self, text: str) -> None:
        if isinstance(self._trace, logging.Logger):
            self._trace.debug("%s", text)
        elif self._trace is not None:
            self._trace(text)
