"""One place that turns "--board B" or "--port URL" into a connected Device."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mcubench.boards import Board, get_board
from mcubench.build import build_firmware, firmware_elf
from mcubench.counters import CounterUnit, counter_unit
from mcubench.device import Device
from mcubench.emulator import Emulator, emulator_for
from mcubench.errors import EmulatorError, TransportError, UsageError
from mcubench.protocol.messages import DeviceInfo


@dataclass
class Session:
    device: Device
    info: DeviceInfo
    url: str
    board: Board | None  # None for a real board whose name the host does not know
    emulator: Emulator | None

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

    @property
    def counter(self) -> CounterUnit:
        spec = self.board.emulator if (self.board is not None and self.emulated) else None
        return counter_unit(self.info.counter_source, self.info.counter_hz, spec)


@contextlib.contextmanager
def open_session(
    *,
    board: str | None = None,
    port: str | None = None,
    baudrate: int = 115200,
    build: bool = True,
    elf: Path | None = None,
    trace: Callable[[str], None] | None = None,
) -> Iterator[Session]:
    """Connect to ``port`` (a real board), or boot ``board`` in its emulator and connect."""
    if port is None and board is None:
        raise UsageError("name a board to emulate (--board B) or a serial port (--port URL)")
    known = get_board(board) if board is not None else None
    if port is not None:
        with Device.open(port, baudrate=baudrate, trace=trace) as device:
            device.hello()
            yield Session(device, device.info(), port, known, None)
        return
    assert known is not None
    if elf is None:
        elf = build_firmware(known).elf if build else firmware_elf(known)
    with emulator_for(known, elf) as emulator:
        try:
            with Device.open(emulator.url, baudrate=baudrate, trace=trace) as device:
                device.hello()
                yield Session(device, device.info(), emulator.url, known, emulator)
        except TransportError as exc:
            # A dead emulator explains a dead link better than the link does.
            try:
                emulator.check_alive()
            except EmulatorError as died:
                raise died from exc
            raise
