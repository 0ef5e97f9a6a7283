"""Firmware builds: PlatformIO, offline, on the project's local dev-platform."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mcubench.boards import Board, project_root
from mcubench.elfsize import ElfSize, elf_size
from mcubench.errors import BuildError

# Keep PlatformIO off the network: no telemetry, no upgrade check (either can stall a
# finished build by about a minute of retries on this project's machines).
PIO_ENV = {
    "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
    "PLATFORMIO_DISABLE_UPGRADE_CHECK": "true",
    "PLATFORMIO_NO_ANSI": "true",
}


@dataclass(frozen=True)
class BuildResult:
    board: Board
    elf: Path
    size: ElfSize


def pio_executable() -> str:
    """PlatformIO from mcubench's own virtualenv first, then PATH."""
    here = Path(sys.executable).parent / "pio"
    if here.is_file():
        return str(here)
    found = shutil.which("pio")
    if not found:
        raise BuildError("PlatformIO (pio) not found: run scripts/setup")
    return found


def firmware_elf(board: Board) -> Path:
    return project_root() / ".pio" / "build" / board.name / "firmware.elf"


def build_firmware(board: Board, *, verbose: bool = False) -> BuildResult:
    """Build (incrementally) the firmware for ``board``; raise BuildError with the log tail."""
    root = project_root()
    if not (root / ".pio-core" / "packages" / "tool-scons").is_dir():
        raise BuildError("PlatformIO is not bootstrapped for offline use: run scripts/setup")
    command = [pio_executable(), "run", "--project-dir", str(root), "--environment", board.name]
    env = {**os.environ, **PIO_ENV, "PLATFORMIO_CORE_DIR": str(root / ".pio-core")}
    result = subprocess.run(
        command,
        env=env,
        stdout=None if verbose else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        log = (result.stdout or "").strip().splitlines()
        tail = "\n".join(log[-40:])
        raise BuildError(f"firmware build for {board.name} failed ({' '.join(command)}):\n{tail}")
    elf = firmware_elf(board)
    if not elf.is_file():
        raise BuildError(f"PlatformIO reported success but {elf} is missing")
    return BuildResult(board=board, elf=elf, size=elf_size(elf))
