"""Shared fixtures: firmware built once per board per test session, boards booted on demand."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mcubench.boards import get_board
from mcubench.build import build_firmware
from mcubench.device import Device
from mcubench.emulator import Emulator, emulator_for

from .native_tools import SANITIZE, build_tool

EMULATED_BOARDS = ["qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55", "qemu-rv32", "stm32f4"]
ALL_BOARDS = [*EMULATED_BOARDS, "native"]

BootFn = Callable[[str], contextlib.AbstractContextManager[tuple[Emulator, Device]]]


@pytest.fixture(scope="session")
def firmware() -> Callable[[str], Path]:
    """Board name -> firmware ELF, built (incrementally) at most once per session."""
    built: dict[str, Path] = {}

    def get(board: str) -> Path:
        if board not in built:
            built[board] = build_firmware(get_board(board)).elf
        return built[board]

    return get


@pytest.fixture(scope="session")
def model_run() -> Path:
    """tests/native/model_run.c with the runtime and every reference kernel, ASan + UBSan.

    Built once for the whole session: compiling all kernels with the sanitizers takes a while.
    """
    return build_tool("model_run", "model_run.c", ["runtime", "kernels/reference"], *SANITIZE)


@pytest.fixture
def boot(firmware: Callable[[str], Path]) -> BootFn:
    """Boot a board in its emulator and open a Device on it (HELLO done)."""

    @contextlib.contextmanager
    def run(board: str) -> Iterator[tuple[Emulator, Device]]:
        with emulator_for(get_board(board), firmware(board)) as emulator, \
                Device.open(emulator.url) as device:
            device.hello()
            yield emulator, device

    return run
