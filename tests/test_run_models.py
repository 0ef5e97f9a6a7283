"""Every shared model and the four pymicro-wakeword models, on every matrix board (native,
qemu-m4, qemu-m55, qemu-rv32, stm32f4), through ``mcubench run``: outputs equal tflite_micro's
bit for bit, 20 seeded inputs per shared model and 50 consecutive invocations per wake-word
model (state carried). Models over 64 KiB are linked into flash on the emulated boards (VWW
on stm32f4 must be: its RAM cannot hold it). ``scripts/check_models.py`` runs the same matrix
outside pytest, with a line per model and board.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcubench.cli import main

from .models import MATRIX_BOARDS, SHARED_MODELS, model_path, pymicro_wakeword_models, run_args

SEEDS = 20
WAKE_WORD_INVOCATIONS = 50


def check(capsys: pytest.CaptureFixture[str], model: Path, board: str, runs: int) -> None:
    code = main(run_args(model, board, runs))
    captured = capsys.readouterr()
    assert captured.out.strip(), captured.err
    record = json.loads(captured.out)
    assert record["runs"] == runs
    assert record["bit_exact"], (
        f"{model.name} on {board}: {runs - record['exact_runs']} of {runs} runs differ; "
        f"max abs diff per output {[o['max_abs_diff'] for o in record['outputs']]}")
    assert code == 0, captured.err


@pytest.mark.parametrize("board", MATRIX_BOARDS)
@pytest.mark.parametrize("name", sorted(SHARED_MODELS))
def test_shared_model_bit_exact(name: str, board: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    check(capsys, model_path(name), board, SEEDS)


@pytest.mark.parametrize("board", MATRIX_BOARDS)
@pytest.mark.parametrize("model", pymicro_wakeword_models(), ids=lambda p: p.stem)
def test_wake_word_sequence_bit_exact(model: Path, board: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """50 invocations on one loaded model: the streaming state carries over, as in TFLM."""
    check(capsys, model, board, WAKE_WORD_INVOCATIONS)
