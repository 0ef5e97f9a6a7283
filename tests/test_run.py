"""``mcubench run`` and the inference requests, in-process, on the native board and QEMU.

The happy path (outputs equal tflite_micro's, JSON fields, the exit code on a mismatch) and
each error path the runtime issue names: an unsupported operator (named with its node, by
the host before any upload and by the device when the host check is bypassed), an arena
too small (how many bytes are needed, exactly), a model larger than the board's RAM
(pointing to ``build --model``), a truncated or corrupt model (host and device), and a
bulk write over a loaded model, which unloads it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcubench.boards import get_board
from mcubench.build import FirmwareOptions, build_dir, firmware_elf
from mcubench.cli import main
from mcubench.device import Device
from mcubench.emulator import emulator_for
from mcubench.errors import DeviceError, IntegrityError, ModelError
from mcubench.inference import LoadedInference, load_on_device
from mcubench.model import read_model
from mcubench.model.catalog import wake_word_models
from mcubench.protocol.codes import Opcode
from mcubench.protocol.messages import INVOKE_MAX_COUNT, encode_invoke
from mcubench.reference import ReferenceRunner, SecondOpinion, random_inputs
from mcubench.run import OutputCheck, compare

from .conftest import BootFn
from .models import model_path
from .tflite_builder import ModelBuilder, fully_connected_model


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    """Exit code, the JSON record ({} if none) and stderr."""
    code = main(["run", *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def small_model() -> bytes:
    return fully_connected_model(depth=8, units=5, seed=7)


def reshape_model(elements: int) -> bytes:
    """A RESHAPE whose input and output take ``elements`` bytes each: a big arena, tiny file."""
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, elements], "INT8", scales=0.5, zero_points=0)
    y = g.add_tensor([elements, 1], "INT8", scales=0.5, zero_points=0)
    g.add_operator("RESHAPE", [x], [y])
    g.set_io([x], [y])
    return mb.build()


def unsupported_model() -> bytes:
    """FULLY_CONNECTED, then a FLOOR (no kernel for it) as node 1."""
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 4], "FLOAT32")
    w = g.add_tensor([4, 4], "FLOAT32", data=np.eye(4, dtype=np.float32))
    h = g.add_tensor([1, 4], "FLOAT32")
    y = g.add_tensor([1, 4], "FLOAT32")
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [h])
    g.add_operator("FLOOR", [h], [y])
    g.set_io([x], [y])
    return mb.build()


# ---- the happy path --------------------------------------------------------------------------


def test_run_json_says_bit_exact(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = small_model()
    path = write(tmp_path, "fc.tflite", data)
    code, record, err = run_json(capsys, str(path), "--board", "native", "--random", "4",
                                 "--seed", "10")
    assert code == 0, err
    assert record["bit_exact"] is True
    assert record["board"] == "native" and record["target"] == "native"
    assert record["runs"] == 4 and record["exact_runs"] == 4
    assert [r["input"] for r in record["per_run"]] == [f"seed {s}" for s in range(10, 14)]
    assert record["outputs"][0]["max_abs_diff"] == 0
    assert record["model_sha256"] == hashlib.sha256(data).hexdigest()
    assert record["latency"]["unit"] == "ns"
    assert record["arena"]["required_bytes"] >= record["arena"]["nonpersistent_bytes"] > 0


def test_run_takes_inputs_from_npy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = small_model()
    path = write(tmp_path, "fc.tflite", data)
    x = np.arange(-4, 4, dtype=np.int8).reshape(1, 8)
    np.save(tmp_path / "x.npy", x)
    code, record, _ = run_json(capsys, str(path), "--board", "native", "--input",
                               str(tmp_path / "x.npy"))
    assert code == 0 and record["bit_exact"] and record["runs"] == 1
    # A wrong dtype is a usage error, found before any board boots.
    np.save(tmp_path / "bad.npy", x.astype(np.int16))
    code, _, err = run_json(capsys, str(path), "--board", "no-such-board", "--input",
                            str(tmp_path / "bad.npy"))
    assert code == 2
    assert "int16" in err and "the model wants INT8" in err


def test_mismatch_exits_9_with_the_difference(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict path: a reference that is off by 3 in one element of the second run."""
    calls = iter(range(100))
    real = ReferenceRunner.invoke

    def skewed(self: ReferenceRunner, inputs: Any) -> list[np.ndarray]:
        outputs = real(self, inputs)
        if next(calls) == 1:
            outputs[0].flat[2] = np.int8(outputs[0].flat[2] - 3 if outputs[0].flat[2] > 0
                                         else outputs[0].flat[2] + 3)
        return outputs

    monkeypatch.setattr(ReferenceRunner, "invoke", skewed)
    path = write(tmp_path, "fc.tflite", small_model())
    code, record, err = run_json(capsys, str(path), "--board", "native", "--random", "3")
    assert code == 9
    assert record["bit_exact"] is False and record["exact_runs"] == 2
    assert record["outputs"][0]["max_abs_diff"] == 3
    assert [r["bit_exact"] for r in record["per_run"]] == [True, False, True]
    assert "1 of 3 run(s) differ from tflite_micro" in err


def test_run_table_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "fc.tflite", small_model())
    assert main(["run", str(path), "--board", "native", "--random", "2"]) == 0
    out = capsys.readouterr().out
    assert "bit-exact with tflite_micro over 2 run(s)" in out
    assert "CLOCK_MONOTONIC" in out  # says what the counter counts


# ---- error paths ---------------------------------------------------------------------------


def test_unsupported_op_named_before_upload(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    path = write(tmp_path, "floor.tflite", unsupported_model())
    assert main(["run", str(path), "--board", "native"]) == 8
    err = capsys.readouterr().err
    assert "node 1 (FLOOR" in err and "no kernel" in err


@pytest.fixture
def native_device(boot: BootFn) -> Iterator[Device]:
    with boot("native") as (_, device):
        yield device


def test_device_names_an_unsupported_op(native_device: Device) -> None:
    """Past the host's check (an older host, a newer model), the device names it too."""
    with pytest.raises(ModelError, match=r"UNSUPPORTED_OP: .*node 1 \(FLOOR\)"):
        load_on_device(native_device, unsupported_model())


def test_device_rejects_a_corrupt_model(native_device: Device) -> None:
    data = bytearray(small_model())
    with pytest.raises(ModelError, match="MODEL_INVALID"):
        load_on_device(native_device, bytes(data[: len(data) // 2]))
    data[4:8] = b"XXXX"  # the file identifier
    with pytest.raises(ModelError, match="MODEL_INVALID"):
        load_on_device(native_device, bytes(data))
    # The device is still well: a good model loads and runs after the bad ones.
    inference = load_on_device(native_device, small_model())
    assert inference.invoke(3).count == 3


def test_host_rejects_a_truncated_model(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    data = small_model()
    path = write(tmp_path, "cut.tflite", data[: len(data) - 40])
    assert main(["run", str(path), "--board", "native"]) == 8
    assert "error:" in capsys.readouterr().err
    path = write(tmp_path, "missing.tflite", b"")
    path.unlink()
    assert main(["run", str(path), "--board", "native"]) == 2


def test_arena_too_small_says_how_much_is_needed(boot: BootFn) -> None:
    """stm32f4's pool (109 KB) takes this 1 KB model but not its 2 x 80,000-byte arena.

    The figure is exact for the device's own pointer size and arena address (the native
    tests check exactness by retrying with that many bytes); here: the two tensors, plus a
    persistent part of a few hundred bytes.
    """
    data = reshape_model(80_000)
    with boot("stm32f4") as (_, device):
        with pytest.raises(ModelError) as caught:
            load_on_device(device, data)
        have = device.info().pool_bytes - 16 * ((len(data) + 15) // 16)
    message = str(caught.value)
    found = re.search(r"arena too small: need (\d+) bytes, have (\d+)", message)
    assert found, message
    assert int(found[2]) == have
    assert 2 * 80_000 < int(found[1]) < 2 * 80_000 + 512
    assert "mcubench build --board stm32f4 --model" in message


def test_model_larger_than_ram_points_to_build_model(capsys: pytest.CaptureFixture[str]) -> None:
    path = model_path("vww_96_int8.tflite")
    assert main(["run", str(path), "--board", "stm32f4"]) == 8
    err = " ".join(capsys.readouterr().err.split())
    found = re.search(r"the model is 333,288 bytes; stm32f4 has ([\d,]+) bytes", err)
    assert found and 64 * 1024 < int(found[1].replace(",", "")) < 333_288, err
    assert "Link it into flash" in err
    assert "mcubench build --board stm32f4 --model" in err


def test_a_write_over_the_model_unloads_it(native_device: Device) -> None:
    inference: LoadedInference = load_on_device(native_device, small_model())
    inference.set_inputs([np.ones((1, 8), np.int8)])  # into the arena: stays loaded
    assert inference.invoke().count == 1
    native_device.upload(0, b"\0" * 64)  # over the model
    with pytest.raises(ModelError, match="NO_MODEL"):
        inference.invoke()
    with pytest.raises(Exception, match="NO_MODEL"):
        native_device.request(Opcode.INVOKE, encode_invoke(1))


# ---- --locate ------------------------------------------------------------------------------


def chain_model() -> bytes:
    """FULLY_CONNECTED -> RESHAPE -> FULLY_CONNECTED: three nodes, two intermediates."""
    rng = np.random.default_rng(11)
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 8], scales=0.05, zero_points=-3)
    w1 = g.add_tensor([6, 8], data=rng.integers(-127, 128, size=(6, 8)), scales=0.02)
    h1 = g.add_tensor([1, 6], scales=0.1, zero_points=2)
    h2 = g.add_tensor([2, 3], scales=0.1, zero_points=2)
    shape = g.add_tensor([2], "INT32", data=np.array([2, 3]))
    w2 = g.add_tensor([4, 3], data=rng.integers(-127, 128, size=(4, 3)), scales=0.03)
    y = g.add_tensor([2, 4], scales=0.2, zero_points=0)
    g.add_operator("FULLY_CONNECTED", [x, w1, -1], [h1])
    g.add_operator("RESHAPE", [h1, shape], [h2])
    g.add_operator("FULLY_CONNECTED", [h2, w2, -1], [y])
    g.set_io([x], [y])
    return mb.build()


def test_locate_finds_nothing_when_bit_exact(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    path = write(tmp_path, "chain.tflite", chain_model())
    code, record, err = run_json(capsys, str(path), "--board", "native", "--locate")
    assert code == 0, err
    assert record["locate"]["divergence"] is None
    assert record["locate"]["input"] == "seed 0"


def test_locate_names_the_first_differing_node(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """TFLM's intermediate after node 1 (RESHAPE, tensor 3) is skewed: node 0 still agrees,
    node 1 is the first to differ, and the device's values reach the host intact."""
    real = ReferenceRunner.tensor

    def skewed(self: ReferenceRunner, index: int, subgraph: int = 0) -> np.ndarray:
        value = real(self, index, subgraph)
        if index == 3:
            value.flat[4] = np.int8(value.flat[4] ^ 1)
        return value

    monkeypatch.setattr(ReferenceRunner, "tensor", skewed)
    path = write(tmp_path, "chain.tflite", chain_model())
    code, record, _ = run_json(capsys, str(path), "--board", "native", "--locate")
    assert code == 0  # the outputs themselves agree
    found = record["locate"]["divergence"]
    assert (found["node"], found["op"], found["tensor"]) == (1, "RESHAPE", 3)
    assert found["differing_elements"] == 1 and found["max_abs_diff"] == 1


def test_partial_invoke_checks_its_node_and_count(native_device: Device) -> None:
    inference = load_on_device(native_device, chain_model())
    assert inference.invoke(last_node=2).count == 1
    with pytest.raises(ModelError, match="node 3 past the last of 3"):
        inference.invoke(last_node=3)
    # The device answers nothing while it runs: counts are capped, so the wait is finite.
    assert inference.invoke(INVOKE_MAX_COUNT).count == INVOKE_MAX_COUNT
    for count in (0, INVOKE_MAX_COUNT + 1):
        with pytest.raises(DeviceError, match=f"invoke count {count} is not in 1..65535"):
            native_device.request(Opcode.INVOKE, struct.pack("<I", count))


# ---- the second opinion --------------------------------------------------------------------


def test_second_opinion_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "chain.tflite", chain_model())
    code, record, err = run_json(capsys, str(path), "--board", "native", "--random", "3",
                                 "--second-opinion")
    assert code == 0, err
    second = record["second_opinion"]
    assert second["runtime"].startswith("ai-edge-litert") and "BUILTIN_REF" in second["runtime"]
    # TFLite's reference FULLY_CONNECTED and RESHAPE round as TFLM does on this model.
    assert second["runs_equal_to_tflm"] == second["runs_equal_to_device"] == 3
    assert second["max_abs_diff_vs_tflm"] == 0


@pytest.mark.parametrize("name", ["kws_ref_model.tflite", "ad01_int8.tflite"])
def test_second_opinion_on_shared_models(name: str) -> None:
    """Where the two references agree (KWS) and where they do not (AD01: TFLite's reference
    FULLY_CONNECTED rounds differently, by 1): the second opinion is an opinion."""
    data = model_path(name).read_bytes()
    model = read_model(data)
    tflm, litert = ReferenceRunner(data, model), SecondOpinion(data, model)
    diffs = [compare(0, a, b).max_abs_diff
             for seed in range(3)
             for a, b in zip(tflm.invoke(random_inputs(model, seed)),
                             litert.invoke(random_inputs(model, seed)), strict=True)]
    assert max(diffs) == (0 if name.startswith("kws") else 1)


# ---- a model in flash ----------------------------------------------------------------------


def test_build_model_then_run_embedded(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    """From empty build folders (PlatformIO empties a new one: the sources live beside it)."""
    data = chain_model()
    options = FirmwareOptions(model=data)
    for folder in (build_dir(options), build_dir(options).parent.parent / "embedded-src" /
                   hashlib.sha256(data).hexdigest()[:16]):
        shutil.rmtree(folder, ignore_errors=True)
    path = write(tmp_path, "chain.tflite", data)
    assert main(["build", "--board", "native", "--model", str(path)]) == 0
    assert "linked into flash" in " ".join(capsys.readouterr().out.split())
    code, record, err = run_json(capsys, str(path), "--board", "native", "--embedded",
                                 "--random", "2")
    assert code == 0, err
    assert record["embedded"] is True and record["bit_exact"] is True
    # The embedded copy is checked against the file: another model is refused.
    with emulator_for(get_board("native"), firmware_elf(get_board("native"), options)) as board, \
            Device.open(board.url) as device:
        device.hello()
        assert device.info().embedded_model_bytes == len(data)
        with pytest.raises(IntegrityError, match="is not this one"):
            load_on_device(device, small_model(), embedded=True)
        assert load_on_device(device, data, embedded=True).invoke().count == 1


def test_compare_is_bitwise() -> None:
    f32 = np.float32
    assert compare(0, np.array([1, 5], np.int8), np.array([1, 2], np.int8)) == \
        OutputCheck(0, False, 3.0, 1)
    # -0.0 and 0.0 are equal numbers but not the same bits.
    assert compare(0, np.array([-0.0], f32), np.array([0.0], f32)) == OutputCheck(0, False, 0.0, 1)
    assert compare(0, np.array([np.nan], f32), np.array([np.nan], f32)).bit_exact
    assert compare(0, np.array([np.nan, 1], f32), np.array([2, 1], f32)).max_abs_diff == np.inf
    assert compare(0, np.zeros(3, np.int8), np.zeros(4, np.int8)) == \
        OutputCheck(0, False, np.inf, 4)


# ---- models by name ------------------------------------------------------------------------


def test_wake_word_models_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command runs one of these with no model file of the user's."""
    assert sorted(wake_word_models()) == ["alexa", "hey_jarvis", "hey_mycroft", "okay_nabu"]
    code, record, err = run_json(capsys, "pymicro-wakeword:alexa", "--board", "native",
                                 "--random", "3")
    assert code == 0, err
    assert record["bit_exact"] and record["model"].endswith("alexa.tflite")
    assert main(["run", "pymicro-wakeword:hey_siri", "--board", "native"]) == 2
    assert "no wake-word model 'hey_siri' (known: alexa, hey_jarvis" in capsys.readouterr().err
