"""``mcubench bench``: statistics, profile, schema, gate; through the pytest plugin and the CLI.

The model is generated (conv, depthwise, pool, fully connected, softmax: about 2M
instructions on qemu-m4), so these tests run without ../shared. Emulated counts are
deterministic up to the counter's tick, which the assertions allow for.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mcubench.bench import latency_stats
from mcubench.boards import get_board
from mcubench.build import FirmwareOptions, build_firmware
from mcubench.cli import main
from mcubench.emulator import emulator_for
from mcubench.errors import BoardError, MismatchError, RegressionError
from mcubench.pytest_plugin import BoardHandle
from mcubench.results import load_document, schema_errors

from .tflite_builder import ModelBuilder

pytestmark = pytest.mark.emulated
BoardFixture = Callable[[str], BoardHandle]


def conv_net() -> bytes:
    """A small int8 image net: CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, FC, SOFTMAX."""
    rng = np.random.default_rng(5)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 16, 16, 4], name="image", scales=0.02, zero_points=-4)
    w1 = g.add_tensor([16, 3, 3, 4], scales=[0.01] * 16, zero_points=[0] * 16,
                      data=rng.integers(-127, 128, size=(16, 3, 3, 4)))
    h1 = g.add_tensor([1, 16, 16, 16], scales=0.05, zero_points=-10)
    w2 = g.add_tensor([1, 3, 3, 16], scales=[0.02] * 16, zero_points=[0] * 16,
                      quantized_dimension=3, data=rng.integers(-127, 128, size=(1, 3, 3, 16)))
    h2 = g.add_tensor([1, 8, 8, 16], scales=0.1, zero_points=3)
    h3 = g.add_tensor([1, 1, 1, 16], scales=0.1, zero_points=3)
    shape = g.add_tensor([2], "INT32", data=np.array([1, 16]))
    h4 = g.add_tensor([1, 16], scales=0.1, zero_points=3)
    w3 = g.add_tensor([10, 16], scales=0.01, zero_points=0,
                      data=rng.integers(-127, 128, size=(10, 16)))
    logits = g.add_tensor([1, 10], scales=0.2, zero_points=0)
    y = g.add_tensor([1, 10], name="probabilities", scales=1 / 256, zero_points=-128)
    g.add_operator("CONV_2D", [x, w1], [h1], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                              "fused_activation_function": "RELU"})
    g.add_operator("DEPTHWISE_CONV_2D", [h1, w2], [h2],
                   {"padding": "SAME", "stride_w": 2, "stride_h": 2, "depth_multiplier": 1})
    g.add_operator("AVERAGE_POOL_2D", [h2], [h3], {"padding": "VALID", "stride_w": 8,
                                                  "stride_h": 8, "filter_width": 8,
                                                  "filter_height": 8})
    g.add_operator("RESHAPE", [h3, shape], [h4])
    g.add_operator("FULLY_CONNECTED", [h4, w3, -1], [logits])
    g.add_operator("SOFTMAX", [logits], [y], {"beta": 1.0})
    g.set_io([x], [y])
    return mb.build()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "conv_net.tflite"
    path.write_bytes(conv_net())
    return path


def test_latency_stats() -> None:
    stats = latency_stats([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (stats["min"], stats["median"], stats["max"], stats["mean"]) == (1, 3, 5, 3)
    assert stats["p90"] == pytest.approx(4.6) and stats["p99"] == pytest.approx(4.96)
    assert stats["stdev"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    assert stats["samples"] == [5.0, 1.0, 3.0, 2.0, 4.0]
    assert latency_stats([7.0])["stdev"] == 0.0


def test_plugin_run_and_bench_with_profile(mcubench_board: BoardFixture, net: Path) -> None:
    """What a user's CI writes: run (bit for bit) and bench, through the fixture."""
    dev = mcubench_board("qemu-m4")
    x = np.random.default_rng(3).integers(-128, 128, size=(1, 16, 16, 4), dtype=np.int8)
    r = dev.run(net, x)
    assert r.bit_exact and r.unit == "instructions" and r.latency > 100_000
    assert dev.run(net, x).outputs[0].tobytes() == r.outputs[0].tobytes()

    b = dev.bench(net, runs=5, profile=True, inputs=[x])
    assert b.bit_exact and b.unit == "instructions"
    record = b.record
    tick = 40  # SysTick at 25 MHz of virtual time: one tick, 40 instructions
    assert abs(b.median - r.latency) <= tick
    assert schema_errors({"schema_version": 1, "created": "now", "results": [record]}) == []
    ops = record["ops"]
    assert [op["op"] for op in ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D",
                                       "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert ops[0]["macs"] == 16 * 16 * 16 * 9 * 4 and ops[0]["shape"] == "1x16x16x4 -> 1x16x16x16"
    assert sum(op["share"] for op in ops) == pytest.approx(1.0)
    # The operators add up to the whole inference, and the profiler costs under 1%.
    profile = record["profile"]
    assert abs(sum(op["counts"] for op in ops) / profile["profiled_median"] - 1) < 0.01
    assert 0.99 < profile["ops_sum_ratio"] <= 1.0
    assert abs(profile["overhead"]) < 0.01
    provenance = record["provenance"]
    assert provenance["emulated"] and provenance["target"] == "qemu"
    assert "mps2-an386" in provenance["emulator"] and len(provenance["firmware_sha256"]) == 64
    assert provenance["host"]["packages"]["tflite-micro"]
    assert record["latency_us"] is None  # never time for an emulator
    assert record["firmware"]["flash_bytes"] > 10_000


def test_cli_bench_json_csv_markdown(net: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["bench", str(net), "--board", "qemu-rv32", "--board", "qemu-m4", "--runs", "3",
                 "--json", str(out_json), "--csv", str(out_csv), "--markdown"]) == 0
    text = capsys.readouterr().out
    document = load_document(out_json)  # validates against docs/results.schema.json
    results = document["results"]
    assert [r["board"] for r in results] == ["qemu-rv32", "qemu-m4"]
    rv32 = results[0]
    # minstret counts every instruction: the same inference, the same count.
    assert len(set(rv32["latency"]["samples"])) == 1 and rv32["runs"] == 3
    assert rv32["counts_per_mac"] == pytest.approx(rv32["latency"]["median"] / rv32["macs"])
    rows = list(csv.DictReader(out_csv.open()))
    assert [row["board"] for row in rows] == ["qemu-rv32", "qemu-m4"]
    assert float(rows[0]["median"]) == rv32["latency"]["median"]
    assert "| conv_net | qemu-rv32 | instructions |" in text
    assert f"{rv32['latency']['median']:,.0f}" in text


def test_gate_trips_on_a_slower_or_larger_build(net: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """-O2 firmware is faster and bigger than -Os: each is the other's regression."""
    def bench(name: str, *extra: str) -> tuple[int, Path]:
        path = tmp_path / name
        code = main(["bench", str(net), "--board", "qemu-m4", "--runs", "3", "--json", str(path),
                     *extra])
        return code, path

    code, fast = bench("o2.json", "--opt", "O2")
    assert code == 0
    code, small = bench("os.json", "--baseline", str(fast), "--max-regression", "5%")
    assert code == RegressionError.exit_code
    said = capsys.readouterr().out
    assert "REGRESSION" in said and "latency median" in said
    o2, os_ = load_document(fast)["results"][0], load_document(small)["results"][0]
    assert o2["firmware"]["flash_bytes"] > os_["firmware"]["flash_bytes"]
    assert o2["latency"]["median"] * 1.05 < os_["latency"]["median"]

    code, _ = bench("o2-again.json", "--opt", "O2", "--baseline", str(small))
    assert code == RegressionError.exit_code
    assert "flash" in capsys.readouterr().out
    code, _ = bench("os-again.json", "--baseline", str(small), "--max-regression", "1%")
    assert code == 0, capsys.readouterr().out
    assert "passed" in capsys.readouterr().out


def test_bench_fails_when_not_bit_exact(net: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong answer fails the benchmark (exit 9), with the result still written."""
    import mcubench.bench as bench_module  # noqa: PLC0415

    real = bench_module.reference_outputs

    def off_by_one(*args: object, **kwargs: object) -> list[np.ndarray]:
        outputs = real(*args, **kwargs)  # type: ignore[arg-type]
        return [(o.astype(np.int16) + 1).clip(-128, 127).astype(o.dtype) for o in outputs]

    monkeypatch.setattr(bench_module, "reference_outputs", off_by_one)
    out = tmp_path / "r.json"
    code = main(["bench", str(net), "--board", "native", "--runs", "2", "--json", str(out)])
    assert code == MismatchError.exit_code
    result = json.loads(out.read_text())["results"][0]
    assert result["bit_exact"] is False and result["outputs"][0]["max_abs_diff"] == 1
    assert result["latency_us"] is not None  # the native build's clock is a real one


@pytest.mark.native
def test_bench_on_a_port_profiles_the_firmware_it_finds(net: Path, tmp_path: Path) -> None:
    """A board at --port runs what it was flashed with: profiled when it has the profiler,
    refused with the fix when it has not; no firmware sizes, as nothing was built here."""
    native = get_board("native")
    out = tmp_path / "r.json"
    profiler = build_firmware(native, FirmwareOptions(profile=True)).elf
    with emulator_for(native, profiler) as board:
        assert main(["bench", str(net), "--port", board.url, "--runs", "2", "--profile",
                     "--json", str(out)]) == 0
    result = load_document(out)["results"][0]
    assert [op["index"] for op in result["ops"]] == list(range(6))
    assert "overhead" not in result["profile"] and 0 < result["profile"]["ops_sum_ratio"] <= 1
    assert result["firmware"]["flash_bytes"] is None
    assert result["provenance"]["firmware_sha256"] is None
    assert result["latency_us"]["median"] == pytest.approx(result["latency"]["median"] / 1000)
    with emulator_for(native, build_firmware(native).elf) as board:
        assert main(["bench", str(net), "--port", board.url, "--profile"]) == BoardError.exit_code
