"""A simulated serial line between the host and a board, for protocol benchmarks.

``ThrottledLink`` listens on a loopback port and relays to a device URL, delivering
bytes no faster than a UART at ``baud`` with 8N1 framing (10 bits a byte) would, in
both directions, and holding each device response back by ``turnaround_s`` before it
goes on the line, as a real device's processing time would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import serial

from mcubench.protocol.frame import Frame, FrameParser, Garbage

CHUNK = 64  # bytes handed on at a time, so the far side sees a stream, not bursts


class _Line:
    """One direction of a UART: the time each byte finishes on the line.

    Line time is kept on its own clock rather than re-read after each sleep, so the
    host's sleep overshoot delays delivery a little but never idles the line.
    """

    def __init__(self, baud: int) -> None:
        self.byte_time = 10.0 / baud
        self.free_at = 0.0

    def send(self, data: bytes, write: Callable[[bytes], object], ready: float) -> None:
        """Put ``data`` on the line no earlier than ``ready`` (perf_counter seconds)."""
        for start in range(0, len(data), CHUNK):
            piece = data[start:start + CHUNK]
            begin = max(self.free_at, ready)
            self.free_at = begin + len(piece) * self.byte_time
            delay = self.free_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            write(piece)


class ThrottledLink:
    """Relay ``socket://127.0.0.1:<port>`` to ``device_url`` at ``baud``, 8N1."""

    def __init__(self, device_url: str, baud: int, turnaround_s: float = 0.001) -> None:
        self.device_url = device_url
        self.baud = baud
        self.turnaround_s = turnaround_s
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(1)
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._serve, daemon=True)]
        self._threads[0].start()

    def _serve(self) -> None:
        try:
            client, _ = self._server.accept()
        except OSError:  # closed before anyone connected
            return
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        device = serial.serial_for_url(self.device_url, baudrate=115200, timeout=0.01)
        up = threading.Thread(target=self._host_to_device, args=(client, device), daemon=True)
        up.start()
        try:
            self._device_to_host(client, device)
        finally:
            self._stop.set()
            up.join()
            device.close()
            client.close()

    def _host_to_device(self, client: socket.socket, device: serial.SerialBase) -> None:
        line = _Line(self.baud)
        client.settimeout(0.01)
        while not self._stop.is_set():
            try:
                data = client.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            line.send(data, device.write, time.perf_counter())
        self._stop.set()

    def _device_to_host(self, client: socket.socket, device: serial.SerialBase) -> None:
        line = _Line(self.baud)
        parser = FrameParser()
        while not self._stop.is_set():
            data = device.read(4096)
            if not data:
                continue
            arrived = time.perf_counter()
            for event in parser.feed(data):
                if isinstance(event, Frame):
                    # The device's turnaround: it answers turnaround_s after the request.
                    line.send(event.encode(), client.sendall, arrived + self.turnaround_s)
                elif isinstance(event, Garbage):
                    line.send(event.data, client.sendall, arrived)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
