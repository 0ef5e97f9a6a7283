"""The firmware's TFLite model reader (firmware/runtime/model.c, flatbuf.c) on the host.

tests/native/model_dump.c, built here with ASan and UBSan, prints everything the reader's
accessors return. The same fields are read with the Python flatbuffers code of the TFLite
schema (tflite_micro's schema_py_generated) and must agree field by field, so a mistake on
either side fails. Corrupted models (truncations, seeded byte flips, patched fields) must
give a summary that agrees with Python or a precise error: never a crash or a sanitizer
report. Real models come from ../shared/models (or $MCUBENCH_MODELS); those tests skip
when it is absent (tests/models.py). The tiny seeds of tests/fuzz/corpus_model/ say in
their names what the reader must answer.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flatbuffers
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

from .models import SHARED_MODELS, model_path, models_folder
from .native_tools import ROOT, SANITIZE, SANITIZER_ENV, build_tool

SEEDS = ROOT / "tests" / "fuzz" / "corpus_model"
MSG_SIZE = 96  # MCB_MODEL_MSG_SIZE, NUL included
MCB_ERR_ARG = -1
MCB_ERR_FORMAT = -6


def model_names() -> list[str]:
    """The models of the shared README, plus any other .tflite in the folder."""
    folder = models_folder()
    extra = {p.name for p in folder.glob("*.tflite")} if folder.is_dir() else set()
    return sorted(set(SHARED_MODELS) | extra)


# Each test gets the path from model_path(), which skips with a reason if it is absent.
MODELS = [pytest.param(name, id=name.removesuffix(".tflite")) for name in model_names()]


def error_names() -> set[str]:
    header = (ROOT / "firmware" / "include" / "mcb" / "model.h").read_text()
    block = header[header.index("#define MCB_MODEL_ERRORS(X)"):]
    block = block[:block.index("\n\n")]
    return set(re.findall(r"X\((\w+), \d+\)", block))


ERROR_NAMES = error_names()


@pytest.fixture(scope="session")
def model_dump() -> Path:
    """tests/native/model_dump.c with ASan + UBSan, built once per session."""
    # protocol/ for crc.c: the dump prints a CRC of each buffer.
    return build_tool("model_dump", "model_dump.c", ["runtime", "protocol"], *SANITIZE)


@dataclass
class Dump:
    returncode: int
    out: dict[str, Any]


def run_dump(tool: Path, path: Path, *, misalign: bool = False) -> Dump:
    args = [str(tool), *(["--misalign"] if misalign else []), str(path)]
    env = {**os.environ, **SANITIZER_ENV}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    # No sanitizer report, no accessor failure (3), no crash: only "opened" or "rejected".
    assert done.returncode in (0, 1), f"{path.name}: exit {done.returncode}\n{done.stderr[-4000:]}"
    assert done.stderr == "", done.stderr[-4000:]
    return Dump(done.returncode, json.loads(done.stdout))


def run_many(tool: Path, folder: Path,
             cases: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes, Dump]]:
    """Runs the tool on every case (name, bytes), two at a time per CPU."""
    items = list(cases)
    for name, data in items:
        (folder / name).write_bytes(data)
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        dumps = list(pool.map(lambda item: run_dump(tool, folder / item[0]), items))
    return [(name, data, dump) for (name, data), dump in zip(items, dumps, strict=True)]


# ---- the Python side ------------------------------------------------------------------------


def schema() -> Any:
    return schema_py_generated


def vector_pos(tab: Any, voff: int) -> int:
    """Position of a vector field's first element, -1 if the field is absent."""
    o = tab.Offset(voff)
    return int(tab.Vector(o)) if o else -1


def text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")  # the tool escapes byte by byte


def u32_at(buf: bytes, pos: int) -> int:
    return int(struct.unpack_from("<I", buf, pos)[0])


def tensor_summary(model: Any, buf: bytes, t: Any) -> dict[str, Any]:
    b = model.Buffers(t.Buffer())
    n_data = b.DataLength()
    data_pos = vector_pos(b._tab, 4) if n_data else -1
    q = t.Quantization()
    n_scales = q.ScaleLength() if q else 0
    n_zero_points = q.ZeroPointLength() if q else 0
    scale_pos = vector_pos(q._tab, 8) if n_scales else -1
    zp_pos = vector_pos(q._tab, 10) if n_zero_points else -1
    return {
        "name": text(t.Name()),
        "type": t.Type(),
        "shape": [t.Shape(j) for j in range(t.ShapeLength())],
        "buffer": t.Buffer(),
        "buffer_bytes": n_data,
        "data_offset": data_pos,
        "data_crc32": zlib.crc32(buf[data_pos:data_pos + n_data]) if n_data else 0,
        "is_variable": t.IsVariable(),
        "n_scales": n_scales,
        "n_zero_points": n_zero_points,
        "scale0_bits": u32_at(buf, scale_pos) if n_scales else 0,
        "zero_point0": q.ZeroPoint(0) if n_zero_points else 0,
        "scales_crc32": zlib.crc32(buf[scale_pos:scale_pos + 4 * n_scales]) if n_scales else 0,
        "zero_points_crc32":
            zlib.crc32(buf[zp_pos:zp_pos + 8 * n_zero_points]) if n_zero_points else 0,
        "quantized_dimension": q.QuantizedDimension() if q else 0,
    }


def builtin_code(oc: Any) -> int:
    return max(int(oc.DeprecatedBuiltinCode()), int(oc.BuiltinCode()))


def operator_summary(model: Any, op: Any) -> dict[str, Any]:
    oc = model.OperatorCodes(op.OpcodeIndex())
    options = op.BuiltinOptions() if op.BuiltinOptionsType() else None
    options2 = op.BuiltinOptions2() if op.BuiltinOptions2Type() else None
    return {
        "opcode_index": op.OpcodeIndex(),
        "builtin_code": builtin_code(oc),
        "custom": text(oc.CustomCode()),
        "inputs": [op.Inputs(j) for j in range(op.InputsLength())],
        "outputs": [op.Outputs(j) for j in range(op.OutputsLength())],
        "intermediates": [op.Intermediates(j) for j in range(op.IntermediatesLength())],
        "options_type": op.BuiltinOptionsType(),
        "options_offset": options.Pos if options is not None else -1,
        "options2_type": op.BuiltinOptions2Type(),
        "options2_offset": options2.Pos if options2 is not None else -1,
    }


def python_summary(buf: bytes) -> dict[str, Any]:
    """What model_dump must print, read with the Python schema module."""
    model = schema().Model.GetRootAs(buf, 0)
    buffers = [model.Buffers(i) for i in range(model.BuffersLength())]
    subgraphs = [model.Subgraphs(i) for i in range(model.SubgraphsLength())]
    return {
        "ok": True,
        "bytes": len(buf),
        "operator_codes": [
            {"builtin_code": builtin_code(oc), "version": oc.Version(),
             "custom": text(oc.CustomCode())}
            for oc in (model.OperatorCodes(i) for i in range(model.OperatorCodesLength()))
        ],
        "buffers": [{"bytes": b.DataLength(),
                     "data_offset": vector_pos(b._tab, 4) if b.DataLength() else -1}
                    for b in buffers],
        "subgraphs": [
            {
                "name": text(sg.Name()),
                "inputs": [sg.Inputs(j) for j in range(sg.InputsLength())],
                "outputs": [sg.Outputs(j) for j in range(sg.OutputsLength())],
                "tensors": [tensor_summary(model, buf, sg.Tensors(j))
                            for j in range(sg.TensorsLength())],
                "operators": [operator_summary(model, sg.Operators(j))
                              for j in range(sg.OperatorsLength())],
            }
            for sg in subgraphs
        ],
    }


def first_difference(got: Any, want: Any, path: str = "") -> str | None:
    """Where two JSON values first differ (C's output, Python's reading), or None."""
    if isinstance(got, dict) and isinstance(want, dict):
        if got.keys() != want.keys():
            return f"{path or '.'}: keys {sorted(got)} != {sorted(want)}"
        for key in want:
            found = first_difference(got[key], want[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return f"{path}: {len(got)} items in C, {len(want)} in Python"
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if got != want or type(got) is not type(want):
        return f"{path}: C {got!r}, Python {want!r}"
    return None


def assert_matches_python(name: str, dump: Dump, data: bytes) -> None:
    assert dump.returncode == 0, dump.out
    try:
        want = python_summary(data)
    except Exception as e:  # the C side accepted bytes Python cannot even read
        raise AssertionError(f"{name}: C accepted it, Python's reader fails: {e!r}") from e
    diff = first_difference(dump.out, want)
    assert diff is None, f"{name}: {diff}"


def assert_precise_error(name: str, dump: Dump) -> None:
    """An error names a known code, points at consistent indices and says where."""
    out = dump.out
    assert dump.returncode == 1 and out["ok"] is False, out
    expected = MCB_ERR_ARG if out["code"] == "ARG" else MCB_ERR_FORMAT
    assert out["status"] == expected, out
    assert out["code"] in ERROR_NAMES - {"NONE"}, out
    message: str = out["message"]
    assert 0 < len(message) < MSG_SIZE, out
    sg, op, tensor = out["subgraph"], out["operator"], out["tensor"]
    assert min(sg, op, tensor) >= -1, out
    assert op < 0 or tensor < 0, out
    if sg >= 0:
        where = f"subgraph {sg}" + (f" operator {op}" if op >= 0 else
                                    f" tensor {tensor}" if tensor >= 0 else "")
        assert re.match(re.escape(where) + r"[ :]", message), f"{name}: {out}"
    else:
        assert op < 0 and tensor < 0, out
        assert re.match(r"(model|operator code \d+|buffer \d+)[ :]", message), f"{name}: {out}"


def check_any(name: str, dump: Dump, data: bytes) -> None:
    if dump.returncode == 0:
        assert_matches_python(name, dump, data)
    else:
        assert_precise_error(name, dump)


# ---- real models ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_shared_model_matches_python(name: str, model_dump: Path) -> None:
    model = model_path(name)
    dump = run_dump(model_dump, model)
    assert_matches_python(model.name, dump, model.read_bytes())
    assert dump.out["subgraphs"] and dump.out["subgraphs"][0]["operators"]


@pytest.mark.parametrize("name", MODELS)
def test_truncated_model(name: str, model_dump: Path, tmp_path: Path) -> None:
    model = model_path(name)
    data = model.read_bytes()
    n = len(data)
    lengths = set(range(0, 48)) | {n * k // 32 for k in range(32)} | {n - d for d in (1, 2, 4, 16)}
    cases = [(f"cut{cut}", data[:cut]) for cut in sorted(lengths) if 0 <= cut < n]
    for case, cut, dump in run_many(model_dump, tmp_path, cases):
        check_any(case, dump, cut)
        if len(cut) < 8:
            assert dump.out["code"] == "NOT_FLATBUFFER", dump.out


def structure_positions(data: bytes) -> list[int]:
    """Byte positions outside the buffers' data: tables, vtables, vectors, strings."""
    model = schema().Model.GetRootAs(data, 0)
    in_data = bytearray(len(data))
    for i in range(model.BuffersLength()):
        b = model.Buffers(i)
        if b.DataLength():
            pos = vector_pos(b._tab, 4)
            in_data[pos:pos + b.DataLength()] = b"\x01" * b.DataLength()
    return [i for i, flag in enumerate(in_data) if not flag]


FLIPS_PER_MODEL = 120


@pytest.mark.parametrize("name", MODELS)
def test_byte_flips(name: str, model_dump: Path, tmp_path: Path) -> None:
    model = model_path(name)
    data = model.read_bytes()
    rng = random.Random(f"flips-{model.name}")
    structure = structure_positions(data)
    cases = []
    for k in range(FLIPS_PER_MODEL):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            # Mostly where the reader has something to check; weights now and then.
            pos = rng.choice(structure) if rng.random() < 0.9 else rng.randrange(len(data))
            mutant[pos] ^= 1 << rng.randrange(8) if rng.random() < 0.5 else rng.randrange(1, 256)
        cases.append((f"flip{k}", bytes(mutant)))
    results = run_many(model_dump, tmp_path, cases)
    for case, flipped, dump in results:
        check_any(case, dump, flipped)
    rejected = sum(dump.returncode for _, _, dump in results)
    assert 0 < rejected < len(results), "flips should give both outcomes"


@pytest.mark.parametrize("name", MODELS)
def test_wrong_identifier(name: str, model_dump: Path, tmp_path: Path) -> None:
    model = model_path(name)
    path = tmp_path / "tfl2.tflite"
    path.write_bytes(model.read_bytes()[:4] + b"TFL2" + model.read_bytes()[8:])
    dump = run_dump(model_dump, path)
    assert_precise_error(path.name, dump)
    assert dump.out["code"] == "BAD_IDENTIFIER"
    assert dump.out["message"] == 'model: file identifier 0x54 0x46 0x4c 0x32, expected "TFL3"'


def patched(data: bytes, pos: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, pos, value)
    return bytes(out)


@pytest.mark.parametrize("name", MODELS)
def test_operator_input_out_of_range(name: str, model_dump: Path, tmp_path: Path) -> None:
    model = model_path(name)
    data = model.read_bytes()
    sg = schema().Model.GetRootAs(data, 0).Subgraphs(0)
    n_tensors = sg.TensorsLength()
    # The middle operator that has inputs; its last input becomes tensor 999 (or more).
    ops = [k for k in range(sg.OperatorsLength()) if sg.Operators(k).InputsLength() > 0]
    k = ops[len(ops) // 2]
    op = sg.Operators(k)
    j = op.InputsLength() - 1
    bad = max(999, n_tensors + 7)
    path = tmp_path / "bad_input.tflite"
    path.write_bytes(patched(data, vector_pos(op._tab, 6) + 4 * j, "<i", bad))
    dump = run_dump(model_dump, path)
    assert_precise_error(path.name, dump)
    assert (dump.out["code"], dump.out["subgraph"], dump.out["operator"], dump.out["tensor"]) == \
        ("BAD_INDEX", 0, k, -1)
    assert dump.out["message"] == \
        f"subgraph 0 operator {k} input {j}: tensor index {bad} >= {n_tensors} tensors"


@pytest.mark.parametrize("name", MODELS)
def test_patched_fields(name: str, model_dump: Path, tmp_path: Path) -> None:
    """Version, a tensor's type and buffer index, each patched in place."""
    model = model_path(name)
    data = model.read_bytes()
    root = schema().Model.GetRootAs(data, 0)
    sg = root.Subgraphs(0)
    last = sg.TensorsLength() - 1
    t = sg.Tensors(last)
    n_buffers = root.BuffersLength()
    cases = {  # case: (table, vtable offset, format, value, code, tensor, message)
        "version": (root, 4, "<I", 2, "BAD_VERSION", -1, "model: schema version 2, expected 3"),
        "type": (t, 6, "<b", 23, "BAD_TYPE", last,
                 f"subgraph 0 tensor {last} type 23 is not a TensorType (0..22)"),
        "buffer": (t, 8, "<I", n_buffers, "BAD_INDEX", last,
                   f"subgraph 0 tensor {last} buffer index {n_buffers} >= {n_buffers} buffers"),
    }
    for case, (table, voff, fmt, value, code, tensor, message) in cases.items():
        field = table._tab.Offset(voff)
        if not field:
            continue  # absent (default value): nothing to patch in place
        path = tmp_path / f"{case}.tflite"
        path.write_bytes(patched(data, table._tab.Pos + field, fmt, value))
        dump = run_dump(model_dump, path)
        assert_precise_error(case, dump)
        assert (dump.out["code"], dump.out["tensor"], dump.out["message"]) == \
            (code, tensor, message)


# ---- generated seeds ------------------------------------------------------------------------

SEED_MESSAGES = {
    "err-BAD_INDEX-op-input": "subgraph 0 operator 0 input 2: tensor index 7 >= 4 tensors",
    "err-BAD_QUANT-zero-points": "subgraph 0 tensor 1 quantization: 2 zero points for 3 scales",
    "err-LIMIT-rank9": "subgraph 0 tensor 3 shape: rank 9 > 8",
    "err-LIMIT-17-subgraphs": "model subgraphs: 17 > 16",
    "err-BAD_BUFFER-size": "subgraph 0 tensor 1 buffer 1: 11 bytes, shape and type need 12",
    "err-MISSING-custom-code": "operator code 1 custom_code: absent for a CUSTOM operator",
    "err-UNSUPPORTED-buffer-offset":
        "buffer 1 offset/size: data outside the flatbuffer (models over 2 GB) not supported",
}


def seed_files() -> list[Path]:
    return sorted(SEEDS.glob("*.tflite"))


def test_seed_outcomes(model_dump: Path) -> None:
    seeds = seed_files()
    assert len(seeds) >= 20
    for path in seeds:
        dump = run_dump(model_dump, path)
        kind, _, rest = path.stem.partition("-")
        if kind == "ok":
            assert_matches_python(path.name, dump, path.read_bytes())
            continue
        assert_precise_error(path.name, dump)
        code = rest.split("-")[0]
        assert dump.out["code"] == code, (path.name, dump.out)
        if path.stem in SEED_MESSAGES:
            assert dump.out["message"] == SEED_MESSAGES[path.stem]


def test_seed_custom_names_and_large_codes(model_dump: Path) -> None:
    out = run_dump(model_dump, SEEDS / "ok-custom-op.tflite").out
    ops = out["subgraphs"][0]["operators"]
    assert [(op["builtin_code"], op["custom"]) for op in ops] == \
        [(9, None), (32, "MyCustomOp"), (150, None)]
    assert ops[1]["inputs"] == [3, -1]
    tensors = out["subgraphs"][0]["tensors"]
    assert (tensors[4]["type"], tensors[4]["buffer_bytes"]) == (17, 3)  # 5 int4 values, packed
    two = run_dump(model_dump, SEEDS / "ok-two-subgraphs.tflite").out
    assert [sg["name"] for sg in two["subgraphs"]] == ["main", "init"]
    assert [t["shape"] for t in two["subgraphs"][1]["tensors"]] == [[2, 2], [4], [], []]


def test_misaligned_buffer_is_refused(model_dump: Path) -> None:
    dump = run_dump(model_dump, SEEDS / "ok-fc-int8.tflite", misalign=True)
    assert (dump.out["code"], dump.out["message"]) == \
        ("ARG", "model: buffer not 4-byte aligned")


def shared_table_model(n_tensors: int, n_operators: int) -> bytes:
    """One subgraph whose tensor and operator vectors repeat one table (legal, and small)."""
    tfl = schema()
    b = flatbuffers.Builder(1024)

    def vector(start: Any, item: int, n: int) -> int:
        start(b, n)
        for _ in range(n):
            b.PrependUOffsetTRelative(item)
        return int(b.EndVector())

    tfl.TensorStart(b)
    tfl.TensorAddType(b, 9)
    tensor = tfl.TensorEnd(b)
    tfl.OperatorStart(b)
    op = tfl.OperatorEnd(b)
    tensors = vector(tfl.SubGraphStartTensorsVector, tensor, n_tensors)
    operators = vector(tfl.SubGraphStartOperatorsVector, op, n_operators)
    tfl.SubGraphStart(b)
    tfl.SubGraphAddTensors(b, tensors)
    tfl.SubGraphAddOperators(b, operators)
    subgraphs = vector(tfl.ModelStartSubgraphsVector, tfl.SubGraphEnd(b), 1)
    tfl.OperatorCodeStart(b)
    tfl.OperatorCodeAddBuiltinCode(b, 9)
    codes = vector(tfl.ModelStartOperatorCodesVector, tfl.OperatorCodeEnd(b), 1)
    tfl.BufferStart(b)
    buffers = vector(tfl.ModelStartBuffersVector, tfl.BufferEnd(b), 1)
    tfl.ModelStart(b)
    tfl.ModelAddVersion(b, 3)
    tfl.ModelAddOperatorCodes(b, codes)
    tfl.ModelAddSubgraphs(b, subgraphs)
    tfl.ModelAddBuffers(b, buffers)
    b.Finish(tfl.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_tensor_and_operator_limits(model_dump: Path, tmp_path: Path) -> None:
    cases = [("limit_tensors", shared_table_model(65536, 1)),
             ("limit_operators", shared_table_model(1, 65536)),
             ("shared_tables", shared_table_model(300, 200))]
    results = {name: (data, dump) for name, data, dump in run_many(model_dump, tmp_path, cases)}
    for name, what in (("limit_tensors", "tensors"), ("limit_operators", "operators")):
        dump = results[name][1]
        assert_precise_error(name, dump)
        assert (dump.out["code"], dump.out["message"]) == \
            ("LIMIT", f"subgraph 0: 65536 {what} > 65535")
    data, dump = results["shared_tables"]
    assert_matches_python("shared_tables", dump, data)


def test_seed_corpus_is_current(tmp_path: Path) -> None:
    """tests/fuzz/corpus_model/ is exactly what make_model_corpus.py writes."""
    script = ROOT / "tests" / "fuzz" / "make_model_corpus.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, timeout=120)
    fresh = {p.name: p.read_bytes() for p in tmp_path.glob("*.tflite")}
    committed = {p.name: p.read_bytes() for p in seed_files()}
    assert fresh.keys() == committed.keys()
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"regenerate with {script.relative_to(ROOT)}: {stale}"
    assert sum(map(len, committed.values())) < 50_000
