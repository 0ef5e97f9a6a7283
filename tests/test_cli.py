"""The CLI, driven in-process through ``mcubench.cli.main`` (no subprocess)."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from mcubench.boards import project_root
from mcubench.cli import main

from .conftest import ALL_BOARDS


def test_boards_lists_every_board(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boards", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["board"] for row in rows] == sorted(ALL_BOARDS)
    for row in rows:
        if row["board"].startswith("qemu"):
            assert row["counter_units"] == {"qemu": "instructions"}
    stm32 = next(row for row in rows if row["board"] == "stm32f4")
    assert stm32["counter_units"] == {"qemu": "instructions", "hardware": "cycles"}


def test_boards_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "mps3-an547" in out and "Cortex-M55" in out


def test_unknown_board_is_a_board_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--board", "esp32-s9", "--json"]) == 3
    assert "unknown board 'esp32-s9'" in capsys.readouterr().err


def test_port_with_nothing_behind_it_is_a_transport_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["info", "--port", "socket://127.0.0.1:9"]) == 6
    assert "socket://127.0.0.1:9" in capsys.readouterr().err


def test_info_needs_a_board_or_a_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["info"])
    assert exit_info.value.code == 2


def test_build_prints_flash_and_ram(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--board", "qemu-m4"]) == 0
    out = capsys.readouterr().out
    assert "flash" in out and "RAM" in out and "firmware.elf" in out


def test_trace_dumps_every_frame(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--trace", "info", "--board", "native", "--json"]) == 0
    captured = capsys.readouterr()
    assert "HELLO" in captured.err and "INFO" in captured.err
    assert json.loads(captured.out)["board"] == "native"


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_info_json_answers_for_every_board(
    board: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "--board", board, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["board"] == board
    assert record["protocol_version"] == 1
    assert record["firmware_version"] == "0.1.0"
    assert record["core"] and record["clock_hz"] >= 0
    assert record["target"] == ("native" if board == "native" else "qemu")
    expected_unit = "ns" if board == "native" else "instructions"
    assert record["counter_unit"] == expected_unit  # never time on an emulator
    assert record["pool_bytes"] > 64 * 1024
    assert "INFERENCE" in record["capabilities"] and record["kernels"] == "reference"
    assert record["embedded_model_bytes"] == 0


def test_readme_first_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command (after scripts/setup), as it is written there."""
    readme = (project_root() / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("scripts/setup && "))
    args = shlex.split(line.split(".venv/bin/mcubench", 1)[1])
    assert args[0] == "bench" and "--board" in args and "--profile" in args
    assert main(args) == 0, capsys.readouterr().err
    said = " ".join(capsys.readouterr().out.split())
    assert "latency per inference" in said and "per operator" in said
    assert re.search(r"profiler: per-operator counts add up to 99\.\d+% of the whole", said)
    assert "okay_nabu" in said and " NO " not in said
