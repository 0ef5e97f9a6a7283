"""``mcubench inspect``, driven in-process through ``mcubench.cli.main``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mcubench.cli import main

from .models import SHARED_MODELS, model_path
from .tflite_builder import fully_connected_model


def test_inspect_json_for_kws(capsys: pytest.CaptureFixture[str]) -> None:
    path = model_path("kws_ref_model.tflite")
    assert main(["inspect", str(path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["model"] == str(path)
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["size_bytes"] == path.stat().st_size
    assert record["macs_total"] == SHARED_MODELS[path.name].macs
    assert record["arena_bytes_estimate"] == 16_000  # = TFLM's, see test_model_reader
    (graph,) = record["subgraphs"]
    ops = graph["operators"]
    assert [op["op"] for op in ops][:3] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
    assert ops[0]["macs"] == 25 * 5 * 64 * 10 * 4 * 1
    assert ops[0]["options"]["stride_h"] == 2 and ops[0]["options"]["padding"] == "SAME"
    assert sum(op["macs"] for op in ops) == record["macs_total"]
    tensor = graph["tensors"][graph["inputs"][0]]
    assert tensor["dtype"] == "INT8" and tensor["shape"] == [1, 49, 10, 1]
    assert tensor["quantization"]["zero_points"] == [83]
    assert set(ops[0]) >= {"index", "op", "inputs", "outputs", "macs"}


def test_inspect_table_for_resnet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(model_path("pretrainedResnet_quant.tflite"))]) == 0
    out = capsys.readouterr().out
    for text in ("CONV_2D", "ADD", "AVERAGE_POOL_2D", "12,501,632", "arena estimate",
                 "49,152 bytes", "sha256", "1x32x32x3", "zero point"):
        assert text in out, text


def test_inspect_built_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "fc.tflite"
    path.write_bytes(fully_connected_model(batch=2, depth=8, units=5))
    assert main(["inspect", str(path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["macs_total"] == 2 * 5 * 8
    assert record["arena_bytes_estimate"] == 32  # input 16 bytes + output 10 -> 16
    (op,) = record["subgraphs"][0]["operators"]
    assert (op["op"], op["inputs"], op["outputs"]) == ("FULLY_CONNECTED", [0, 1, 2], [3])
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "FULLY_CONNECTED" in out and "2x8, 5x8, 5 -> 2x5" in out
    assert "scale 0.05, zero point -3" in out


def test_malformed_model_exits_8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cut.tflite"
    path.write_bytes(fully_connected_model()[:300])
    assert main(["inspect", str(path)]) == 8
    assert "truncated or corrupt flatbuffer" in capsys.readouterr().err
    path.write_bytes(b"\x00" * 16)
    assert main(["inspect", str(path), "--json"]) == 8
    captured = capsys.readouterr()
    assert "not a TFLite model" in captured.err and captured.out == ""


def test_missing_model_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["inspect", str(tmp_path / "absent.tflite")]) == 2
    assert "absent.tflite" in capsys.readouterr().err
