"""Board metadata, read from the PlatformIO board manifests (one source of truth).

Each ``boards/platform/boards/<board>.json`` carries PlatformIO's ``build`` section and
an ``mcubench`` section with what the host needs: core, where it runs, clock, and how
to emulate it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mcubench.errors import BoardError, UsageError


def project_root() -> Path:
    """The mcubench checkout: firmware, boards and platformio.ini live there."""
    override = os.environ.get("MCUBENCH_ROOT")
    root = Path(override) if override else Path(__file__).resolve().parents[2]
    if not (root / "platformio.ini").is_file():
        raise UsageError(
            f"no mcubench checkout at {root} (platformio.ini missing); "
            "install mcubench editable from its checkout or set MCUBENCH_ROOT"
        )
    return root


@dataclass(frozen=True)
class EmulatorSpec:
    """How QEMU runs a board."""

    binary: str
    machine: str
    serial_index: int  # which -serial the firmware's UART is
    counter_hz: int  # SysTick rate in virtual time; 0 when the counter is not a clock
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    core: str
    runs_on: str
    clock_hz: int
    port: str
    emulator: EmulatorSpec | None
    hardware: tuple[str, ...] = ()  # real boards this firmware also runs on

    @property
    def is_native(self) -> bool:
        return self.port == "native"

    @property
    def is_emulated(self) -> bool:
        """True when mcubench can boot it without hardware (QEMU or the native process)."""
        return self.emulator is not None or self.is_native

    @property
    def counter_units(self) -> dict[str, str]:
        """Unit of reported latency, by where the board runs: "qemu", "native", "hardware".

        Under QEMU (``-icount shift=0``) every counter counts instructions; the native
        build reads the host's clock; silicon counts core cycles.
        """
        units = {}
        if self.is_native:
            units["native"] = "ns"
        elif self.emulator is not None:
            units["qemu"] = "instructions"
        if self.hardware:
            units["hardware"] = "cycles"
        return units


def _board_from_manifest(name: str, manifest: dict[str, Any]) -> Board:
    meta = manifest["mcubench"]
    emu = meta.get("emulator")
    emulator = None
    if emu:
        emulator = EmulatorSpec(
            binary=emu["binary"],
            machine=emu["machine"],
            serial_index=int(emu["serial_index"]),
            counter_hz=int(emu["counter_hz"]),
            extra_args=tuple(emu.get("extra_args", ())),
        )
    return Board(
        name=name,
        title=manifest["name"],
        core=meta["core"],
        runs_on=meta["runs_on"],
        clock_hz=int(meta["clock_hz"]),
        port=manifest["build"]["port"],
        emulator=emulator,
        hardware=tuple(meta.get("hardware", ())),
    )


@cache
def all_boards() -> dict[str, Board]:
    """Every board with a manifest, by name, in a stable order."""
    folder = project_root() / "boards" / "platform" / "boards"
    boards = {}
    for path in sorted(folder.glob("*.json")):
        boards[path.stem] = _board_from_manifest(path.stem, json.loads(path.read_text()))
    return boards


def get_board(name: str) -> Board:
    boards = all_boards()
    try:
        return boards[name]
    except KeyError:
        raise BoardError(f"unknown board {name!r}; known boards: {', '.join(boards)}") from None
