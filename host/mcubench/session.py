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
from mcubench.errors import BoardError, EmulatorError, TransportError, UsageError
from mcubench.protocol.messages import DeviceInfo


@dataclass
class Session:
    device: Device
    info: DeviceInfo
    url: str
    board: Board | None  # None for a board whose name the host does not know
    target: str  # where the firmware runs: "qemu", "native" (a host process) or "hardware"
    emulator: Emulator | None = None  # set when mcubench started the board itself

    @property
    def counter(self) -> CounterUnit:
        spec = self.board.emulator if (self.board is not None and self.target == "qemu") else None
        return counter_unit(self.info.counter_source, self.info.counter_hz, spec)


def _target_behind_port(info: DeviceInfo) -> tuple[Board | None, str]:
    """Board and target of a device reached through ``--port``.

    A board that exists only in an emulator (``qemu-*``) must be one, e.g. started by
    ``mcubench emulate``; anything else is taken for real hardware.
    """
    try:
        board = get_board(info.board)
    except BoardError:
        return None, "hardware"
    if board.is_native:
        return board, "native"
    if board.emulator is not None and not board.hardware:
        return board, "qemu"
    return board, "hardware"


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
    """Connect to the board at ``port``, or boot ``board`` in its emulator and connect."""
    if port is None and board is None:
        raise UsageError("name a board to emulate (--board B) or a serial port (--port URL)")
    if port is not None:
        with Device.open(port, baudrate=baudrate, trace=trace) as device:
            device.hello()
            info = device.info()
            known, target = _target_behind_port(info)
            yield Session(device, info, port, known, target)
        return
    assert board is not None
    known = get_board(board)
    if elf is None:
        elf = build_firmware(known).elf if build else firmware_elf(known)
    with emulator_for(known, elf) as emulator:
        try:
            with Device.open(emulator.url, baudrate=baudrate, trace=trace) as device:
                device.hello()
                target = "native" if known.is_native else "qemu"
                yield Session(device, device.info(), emulator.url, known, target, emulator)
        except TransportError as exc:
            # A dead emulator explains a dead link better than the link does.
            try:
                emulator.check_alive(grace_s=2.0)
            except EmulatorError as died:
                raise died from exc
            raise
