"""A TCP relay between the host and an emulated board's UART socket that can cut the host.

``drop()`` closes the host's side, as a pulled cable would: the device keeps running (the
relay keeps its own connection to QEMU), and what the device sends meanwhile is lost, as
it would be on a UART with nobody listening. The host reconnects to ``url``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class FlakyLink:
    def __init__(self, upstream_url: str) -> None:
        host, port = upstream_url.removeprefix("socket://").rsplit(":", 1)
        self._upstream = socket.create_connection((host, int(port)))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._client: socket.socket | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.drops = 0
        self.bytes_discarded = 0  # device output while no host was connected
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._from_device, daemon=True).start()

    def drop(self) -> None:
        """Cut the host off (its next read or write fails)."""
        if self._cut():
            self.drops += 1

    def _cut(self) -> bool:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        return client is not None

    def close(self) -> None:
        self._closed = True
        self._cut()
        for sock in (self._listener, self._upstream):
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> FlakyLink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._cut()  # one host at a time
            with self._lock:
                self._client = client
            threading.Thread(target=self._to_device, args=(client,), daemon=True).start()

    def _to_device(self, client: socket.socket) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                self._upstream.sendall(data)
            except OSError:
                return

    def _from_device(self) -> None:
        while not self._closed:
            try:
                data = self._upstream.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                client = self._client
            if client is None:
                self.bytes_discarded += len(data)
                continue
            try:
                client.sendall(data)
            except OSError:
                self.bytes_discarded += len(data)
