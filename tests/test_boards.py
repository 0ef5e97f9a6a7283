"""Board metadata, counter units and emulator command lines (no emulator needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mcubench.boards import all_boards, get_board, project_root
from mcubench.counters import counter_unit
from mcubench.emulator import QemuEmulator
from mcubench.errors import BoardError
from mcubench.protocol.codes import CounterSource

from .conftest import ALL_BOARDS


def test_every_platformio_env_has_a_manifest_and_back() -> None:
    ini = (project_root() / "platformio.ini").read_text()
    envs = re.findall(r"^\[env:([\w-]+)\]", ini, flags=re.MULTILINE)
    assert sorted(envs) == sorted(all_boards()) == sorted(ALL_BOARDS)


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_manifest_names_existing_port_and_linker_script(name: str) -> None:
    manifest = json.loads(
        (project_root() / "boards" / "platform" / "boards" / f"{name}.json").read_text()
    )
    port_dir = project_root() / "firmware" / "ports" / manifest["build"]["port"]
    assert port_dir.is_dir()
    if manifest["build"]["ldscript"]:
        assert (port_dir / manifest["build"]["ldscript"]).is_file()


def test_unknown_board_lists_the_known_ones() -> None:
    with pytest.raises(BoardError, match="qemu-m4"):
        get_board("qemu-m99")


def test_qemu_command_line_counts_instructions_and_wires_the_right_uart() -> None:
    stm32 = QemuEmulator(get_board("stm32f4"), Path("fw.elf")).command(4444)
    assert stm32[stm32.index("-icount") + 1] == "shift=0"
    serials = [stm32[i + 1] for i, arg in enumerate(stm32) if arg == "-serial"]
    assert serials == ["null", "chardev:uart"]  # QEMU's 2nd serial is USART2
    m4 = QemuEmulator(get_board("qemu-m4"), Path("fw.elf")).command(4444)
    assert [m4[i + 1] for i, arg in enumerate(m4) if arg == "-serial"] == ["chardev:uart"]
    assert "port=4444" in " ".join(m4)


def test_systick_under_qemu_is_instructions_not_time() -> None:
    spec = get_board("qemu-m4").emulator
    unit = counter_unit(CounterSource.SYSTICK, 25_000_000, spec)
    assert unit.unit == "instructions"
    assert unit.convert(1000) == pytest.approx(40_000)  # 25 MHz: 40 ns = 40 instructions


def test_same_counter_on_hardware_is_cycles() -> None:
    assert counter_unit(CounterSource.DWT_CYCCNT, 16_000_000, None).unit == "cycles"
    assert counter_unit(CounterSource.SYSTICK, 16_000_000, None).unit == "cycles"
    assert counter_unit(CounterSource.MINSTRET, 0, None).unit == "instructions"
    assert counter_unit(CounterSource.MONOTONIC_NS, 1_000_000_000, None).unit == "ns"
