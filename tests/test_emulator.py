"""Emulator lifecycle: clean start and stop, QEMU's own words on failure, a board that
vanishes mid-run, and ``mcubench emulate`` until Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mcubench.boards import get_board, project_root
from mcubench.cli import main
from mcubench.device import Device
from mcubench.emulator import NativeProcess, QemuEmulator, emulator_for
from mcubench.errors import EmulatorError, TransportError
from mcubench.session import open_session

from .conftest import BootFn


def test_qemu_refusing_to_start_shows_its_own_words(firmware: Callable[[str], Path]) -> None:
    board = get_board("qemu-m4")
    assert board.emulator is not None
    typo = replace(board, emulator=replace(board.emulator, machine="mps2-an999"))
    emulator = QemuEmulator(typo, firmware("qemu-m4"))
    with pytest.raises(EmulatorError, match="mps2-an999"):
        emulator.start()
    assert not emulator.is_running()


def test_firmware_that_crashes_qemu_is_reported_with_qemu_stderr(
    firmware: Callable[[str], Path],
) -> None:
    wrong_arch = firmware("native")  # an x86-64 ELF: the Cortex-M4 locks up at once
    with pytest.raises(EmulatorError, match="Lockup"), \
            open_session(board="qemu-m4", elf=wrong_arch):
        pass


def test_missing_firmware_is_named(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match="does not exist"):
        NativeProcess(get_board("native"), tmp_path / "nope.elf").start()


@pytest.mark.parametrize("board", ["qemu-m4", "native"])
def test_stop_leaves_no_process(board: str, firmware: Callable[[str], Path]) -> None:
    with emulator_for(get_board(board), firmware(board)) as emulator:
        proc = emulator._proc
        assert proc is not None and proc.poll() is None
    assert proc.poll() is not None


@pytest.mark.parametrize("board", ["qemu-m4", "native"])
def test_board_vanishing_mid_run_is_a_transport_error(board: str, boot: BootFn) -> None:
    with boot(board) as (emulator, device):
        assert emulator._proc is not None
        os.killpg(emulator._proc.pid, signal.SIGKILL)
        emulator._proc.wait()
        started = time.monotonic()
        with pytest.raises(TransportError):
            device.upload(0, bytes(64 * 1024))
        assert time.monotonic() - started < 30  # fails fast, never hangs


def test_emulate_prints_a_url_that_works_and_stops_on_ctrl_c(
    capsys: pytest.CaptureFixture[str],
) -> None:
    command = [sys.executable, "-m", "mcubench.cli", "emulate", "--board", "qemu-m4"]
    proc = subprocess.Popen(command, cwd=project_root(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            found = re.search(r"socket://127\.0\.0\.1:\d+", line)
            url = found.group(0) if found else None
        assert url is not None, "emulate printed no serial URL"
        with Device.open(url) as device:
            device.hello()
            assert device.info().board == "qemu-m4"
        # Reached through --port, a QEMU-only board is still known to count instructions.
        assert main(["info", "--port", url, "--json"]) == 0
        record = json.loads(capsys.readouterr().out)
        assert (record["target"], record["counter_unit"]) == ("qemu", "instructions")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
