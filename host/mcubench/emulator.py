"""Boot boards without hardware: QEMU for the bare-metal boards, a process for native.

An emulator is a context manager; once started, ``url`` is what pyserial opens to reach
the firmware's UART. Stopping is always clean: terminate, wait, then kill, also on
Ctrl-C, and QEMU's stderr is shown when it fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from mcubench.boards import Board
from mcubench.errors import EmulatorError

BOOT_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
STOP_TIMEOUT_S = 3.0


_prctl = ctypes.CDLL(None).prctl  # resolved here: the forked child only makes the call


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if mcubench dies, so no emulator is orphaned."""
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def free_tcp_port() -> int:
    """A loopback port that was free a moment ago (QEMU start is retried if it was taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Emulator(ABC):
    """A running board that mcubench started itself."""

    def __init__(self, board: Board, elf: Path) -> None:
        self.board = board
        self.elf = elf
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._url: str | None = None
        self._argv: list[str] = []

    @property
    def url(self) -> str:
        if self._url is None:
            raise EmulatorError(f"{self.board.name} emulator is not running")
        return self._url

    @abstractmethod
    def start(self) -> None:
        """Boot the board; return once ``url`` accepts a connection."""

    def _spawn(self, argv: list[str], *, stdout: int) -> subprocess.Popen[bytes]:
        if not self.elf.is_file():
            raise EmulatorError(f"firmware {self.elf} does not exist: build it first")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self._argv = argv
        try:
            # A session of its own: Ctrl-C reaches us, and we stop the emulator in order.
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=self._stderr,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (one C call, nothing to lock)
            )
        except OSError as exc:
            raise EmulatorError(f"cannot start {argv[0]}: {exc} (run scripts/setup)") from exc
        return self._proc

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def check_alive(self, grace_s: float = 0.0) -> None:
        """Raise EmulatorError, with the emulator's own words, if it has exited.

        ``grace_s`` waits that long for an exit already under way: a dying QEMU resets
        its socket before the process is gone.
        """
        if self._proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=grace_s)
        if self._proc.poll() is not None:
            detail = self.stderr_text() or "(no output)"
            raise EmulatorError(
                f"{self.board.name} emulator exited with status {self._proc.returncode}:\n"
                f"{detail}\ncommand: {shlex.join(self._argv)}"
            )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        self._url = None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class QemuEmulator(Emulator):
    """QEMU with ``-icount shift=0``: one instruction per ns of virtual time, deterministic."""

    def command(self, tcp_port: int) -> list[str]:
        spec = self.board.emulator
        if spec is None:
            raise EmulatorError(f"board {self.board.name} has no emulator")
        # Ports before the firmware's UART get nothing; wait=on holds the guest until the
        # host connects, so no byte the firmware sends is lost.
        serials = ["-serial", "null"] * spec.serial_index + ["-serial", "chardev:uart"]
        return [
            spec.binary, "-machine", spec.machine, "-display", "none", "-monitor", "none",
            "-icount", "shift=0", "-kernel", str(self.elf),
            # nodelay: QEMU sends each UART byte as its own TCP segment; with Nagle on,
            # every response would wait ~40 ms for the host's delayed ACK.
            "-chardev",
            f"socket,id=uart,host=127.0.0.1,port={tcp_port},server=on,wait=on,nodelay=on",
            *serials, *spec.extra_args,
        ]

    def start(self) -> None:
        for _attempt in range(3):
            tcp_port = free_tcp_port()
            self._spawn(self.command(tcp_port), stdout=subprocess.DEVNULL)
            if self._wait_listening(tcp_port):
                self._url = f"socket://127.0.0.1:{tcp_port}"
                return
            if "Address already in use" not in self.stderr_text():
                break
            self.stop()
        try:
            self.check_alive()
            raise EmulatorError(f"QEMU did not open its UART socket within {BOOT_TIMEOUT_S:.0f} s")
        finally:
            self.stop()

    def _wait_listening(self, tcp_port: int) -> bool:
        """Wait for QEMU's UART server; the probe connection is closed again at once."""
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.is_running():
                return False
            try:
                with socket.create_connection(("127.0.0.1", tcp_port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.005)
        return False


class NativeProcess(Emulator):
    """The native firmware build: a Linux process serving the protocol on a pty."""

    PTY_LINE_PREFIX = b"MCUBENCH_PTY "

    def start(self) -> None:
        proc = self._spawn([str(self.elf)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], BOOT_TIMEOUT_S)
        line = proc.stdout.readline() if ready else b""
        if not line.startswith(self.PTY_LINE_PREFIX):
            try:
                self.check_alive()
                raise EmulatorError(f"native firmware did not announce its pty (got {line!r})")
            finally:
                self.stop()
        self._url = line[len(self.PTY_LINE_PREFIX):].strip().decode()


def emulator_for(board: Board, elf: Path) -> Emulator:
    if board.is_native:
        return NativeProcess(board, elf)
    if board.emulator is None:
        raise EmulatorError(
            f"board {board.name} runs on hardware only: connect it and pass --port"
        )
    return QemuEmulator(board, elf)
