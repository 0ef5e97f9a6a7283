"""The shared real models (``../shared/models`` or ``$MCUBENCH_MODELS``) and what they hold."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcubench.boards import project_root
from mcubench.model.catalog import wake_word_models


@dataclass(frozen=True)
class SharedModel:
    """What the shared models' README table and DESIGN.md's reference numbers say."""

    ops: frozenset[str]
    input: tuple[str, tuple[int, ...]]  # dtype, shape
    output: tuple[str, tuple[int, ...]]
    macs: int | None  # None: no reference number


_CNN_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE",
                      "FULLY_CONNECTED", "SOFTMAX"})

SHARED_MODELS: dict[str, SharedModel] = {
    "kws_ref_model.tflite": SharedModel(
        _CNN_OPS, ("INT8", (1, 49, 10, 1)), ("INT8", (1, 12)), 2_656_768),
    "vww_96_int8.tflite": SharedModel(
        _CNN_OPS, ("INT8", (1, 96, 96, 3)), ("INT8", (1, 2)), 7_489_664),
    "pretrainedResnet_quant.tflite": SharedModel(
        frozenset({"CONV_2D", "ADD", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED",
                   "SOFTMAX"}), ("INT8", (1, 32, 32, 3)), ("INT8", (1, 10)), 12_501_632),
    "ad01_int8.tflite": SharedModel(
        frozenset({"FULLY_CONNECTED"}), ("INT8", (1, 640)), ("INT8", (1, 640)), 264_192),
    "hello_world_int8.tflite": SharedModel(
        frozenset({"FULLY_CONNECTED"}), ("INT8", (1, 1)), ("INT8", (1, 1)), None),
    "micro_speech_quantized.tflite": SharedModel(
        frozenset({"RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"}),
        ("INT8", (1, 1960)), ("INT8", (1, 4)), 336_000),
    "keyword_scrambled.tflite": SharedModel(
        frozenset({"QUANTIZE", "SVDF", "FULLY_CONNECTED", "SOFTMAX"}),
        ("INT16", (1, 96)), ("INT32", (1, 2)), None),
}


def models_folder() -> Path:
    """Where the shared models should be, whether or not they are there."""
    override = os.environ.get("MCUBENCH_MODELS")
    return Path(override) if override else project_root().parent / "shared" / "models"


def models_dir() -> Path:
    """The shared models folder; skips the calling test when it is absent."""
    folder = models_folder()
    if not folder.is_dir():
        pytest.skip(f"shared models not found at {folder} (set MCUBENCH_MODELS to their folder)")
    return folder


def model_path(name: str) -> Path:
    """One shared model; skips the calling test when it is missing."""
    path = models_dir() / name
    if not path.is_file():
        pytest.skip(f"shared model {name} not found in {path.parent}")
    return path


# ---- the real-model matrix: tests/test_run_models.py and scripts/check_models.py -----------

UPLOAD_LIMIT = 64 * 1024  # bytes: larger models are linked into flash on emulated boards
MATRIX_BOARDS = ("native", "qemu-m4", "qemu-m55", "qemu-rv32", "stm32f4")


def pymicro_wakeword_models() -> list[Path]:
    """The four streaming wake-word models of the pymicro-wakeword package (PyPI)."""
    return list(wake_word_models().values())


def run_args(model: Path, board: str, runs: int, seed: int = 0) -> list[str]:
    """``mcubench run`` arguments for one model on one board.

    Small models go up with the bulk upload; larger ones are linked into flash, as a user
    of that board would do, which also spares the emulated UART (about 16 KiB/s).
    """
    args = ["run", str(model), "--board", board, "--random", str(runs), "--seed", str(seed),
            "--json"]
    if board != "native" and model.stat().st_size > UPLOAD_LIMIT:
        args.append("--embedded")
    return args
