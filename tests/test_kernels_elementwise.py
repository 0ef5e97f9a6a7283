"""ADD, SUB, MUL, QUANTIZE and DEQUANTIZE on the native build, against TFLM.

Generated one-operator models (tests/tflite_builder.py) run through tests/native/model_run.c
(the firmware's interpreter and reference kernels, ASan + UBSan); every output must equal
tflite_micro's byte for byte:

- ADD / SUB / MUL in int8, int16 and float32: two non-constant inputs, or one of them
  constant; numpy broadcasting over ranks 1 to 7 with size-1 dimensions and inputs of lower
  rank; scales over orders of magnitude, zero points at the extremes (int16 ADD / SUB with
  non-zero ones too, which TFLM applies), every fused activation; float sums and products
  that overflow (clamped to +-FLT_MAX as TFLM clamps them);
- QUANTIZE: every type pair TFLM evaluates (float32 -> int8 / int16, int8 -> int8 / uint8 /
  int16 / int32, uint8 -> int8, int16 -> int8 / int16 / int32, int32 -> int8 / int16), ties of
  the float rounding, the int8 <-> uint8 shift by 128;
- DEQUANTIZE: int8, uint8 and int16 to float32, per-channel inputs (channel 0's parameters).

Plus what TFLM rejects in Prepare (MUL of mixed types, int16 MUL with zero points, QUANTIZE
to a per-channel or unquantised output, DEQUANTIZE of int32), what it fails in Eval
(QUANTIZE float32 -> uint8) and what it aborts on or computes garbage for (an ADD output scale
too small, mixed types, shapes that do not broadcast, 8-dimensional broadcasting): all
rejected in our prepare. The shared ResNet (ADD) is bit-exact on seeded inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcubench.errors import ModelError
from mcubench.reference import NUMPY_DTYPES, ReferenceRunner

from .test_interpreter_native import (
    Case,
    check_bit_exact,
    log_uniform,
    reference_output,
    run_tool,
)
from .tflite_builder import ModelBuilder

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH"]
BINARY_OPS = ["ADD", "SUB", "MUL"]
BINARY_TYPES = ["INT8", "INT16", "FLOAT32"]
FLT_MAX = float(np.finfo(np.float32).max)
ELEMENTWISE_OPS = {"ADD", "SUB", "MUL", "QUANTIZE", "DEQUANTIZE"}


def random_data(rng: np.random.Generator, dtype: str, shape: list[int],
                spread: float = 1.0) -> np.ndarray:
    """Integers over the type's full range (now and then only its extremes); floats ~ spread."""
    if dtype == "FLOAT32":
        values = rng.standard_normal(size=shape) * spread
        return np.clip(values, -FLT_MAX, FLT_MAX).astype(np.float32)  # finite
    np_type = NUMPY_DTYPES[dtype]
    info = np.iinfo(np_type)  # type: ignore[type-var]
    if rng.random() < 0.15:
        return rng.choice(np.array([info.min, info.min + 1, 0, info.max - 1, info.max]),
                          size=shape).astype(np_type)
    return rng.integers(int(info.min), int(info.max), size=shape, endpoint=True).astype(np_type)


# ---- ADD / SUB / MUL ----------------------------------------------------------------------------


def broadcast_shapes(rng: np.random.Generator, rank: int) -> tuple[list[int], list[int], list[int]]:
    """Output shape of ``rank`` dimensions and two input shapes that broadcast to it."""
    out = [int(rng.choice([1, 2, 3, 4, 5, 7])) for _ in range(rank)]
    budget = 2000
    while int(np.prod(out)) > budget:
        out[int(np.argmax(out))] = max(1, out[int(np.argmax(out))] // 2)
    shapes = []
    for _ in range(2):
        s = [d if rng.random() < 0.6 else 1 for d in out]
        drop = int(rng.integers(0, rank)) if rng.random() < 0.3 else 0  # a lower rank
        shapes.append(s[drop:])
    if rng.random() < 0.4:  # the plain elementwise case, often
        shapes = [list(out), list(out)]
    elif rng.random() < 0.2:  # one of them a single element
        shapes[int(rng.integers(0, 2))] = [1] * int(rng.integers(1, rank + 1))
    # Every output dimension must come from some input.
    for i in range(1, rank + 1):
        a = shapes[0][-i] if i <= len(shapes[0]) else 1
        b = shapes[1][-i] if i <= len(shapes[1]) else 1
        if max(a, b) != out[-i]:
            shapes[0] = [1] * (rank - len(shapes[0])) + shapes[0]
            shapes[0][-i] = out[-i]
    return shapes[0], shapes[1], out


def quant_params(rng: np.random.Generator, op: str, dtype: str) -> list[dict[str, Any]]:
    """Scales and zero points of input 1, input 2 and the output."""
    if dtype == "FLOAT32":
        return [{}, {}, {}]
    s1, s2 = log_uniform(rng, -4, 1), log_uniform(rng, -4, 1)
    if rng.random() < 0.2:
        s2 = s1
    if op == "MUL":
        so = float(np.float32(s1 * s2 * 10.0 ** rng.uniform(-1.5, 2.5)))
    else:  # the output multiplier must stay below 1: so > 2 max(s) / 2^20
        so = float(np.float32(max(s1, s2) * 10.0 ** rng.uniform(-1.5, 1.5)))

    def zp() -> int:
        if dtype == "INT8":
            return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
        if op == "MUL" or rng.random() < 0.6:  # TFLM's int16 MUL insists on 0
            return 0
        return int(rng.choice([-32768, 32767, int(rng.integers(-300, 300))]))

    return [{"scales": s, "zero_points": zp()} for s in (s1, s2, so)]


def binary_case(op: str, dtype: str, index: int) -> Case:
    seed = (BINARY_OPS.index(op) * 10 + BINARY_TYPES.index(dtype)) * 1000 + index
    rng = np.random.default_rng(seed)
    rank = int(rng.choice([1, 2, 3, 4, 4, 5])) if index % 25 else int(rng.choice([6, 7]))
    s1, s2, so = broadcast_shapes(rng, rank)
    q1, q2, qo = quant_params(rng, op, dtype)
    activation = ACTIVATIONS[index % len(ACTIVATIONS)]
    spread = float(10.0 ** rng.uniform(-3, 3))
    if dtype == "FLOAT32" and index % 17 == 3:  # sums / products that overflow float32
        spread = 3e38 if op != "MUL" else 3e19
    d1 = random_data(rng, dtype, s1, spread)
    d2 = random_data(rng, dtype, s2, spread)
    const = index % 3  # 0: both inputs fed, 1: input 1 constant, 2: input 2 constant
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    a = g.add_tensor(s1, dtype, name="a", data=d1 if const == 1 else None, **q1)
    b = g.add_tensor(s2, dtype, name="b", data=d2 if const == 2 else None, **q2)
    y = g.add_tensor(so, dtype, name="y", **qo)
    options: dict[str, Any] = {"fused_activation_function": activation}
    if op != "MUL" and dtype == "INT16":
        options["pot_scale_int16"] = bool(index % 2)  # TFLM micro ignores it
    g.add_operator(op, [a, b], [y], options)
    fed = [a, b] if const == 0 else [b] if const == 1 else [a]
    g.set_io(fed, [y])
    inputs = (d1, d2) if const == 0 else (d2,) if const == 1 else (d1,)
    name = f"{op.lower()}_{dtype.lower()}_{index}_{'x'.join(map(str, s1))}_" \
           f"{'x'.join(map(str, s2))}_{activation}_c{const}"
    return Case(name, mb.build(), inputs)


@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_bit_exact(op: str, model_run: Path, tmp_path: Path) -> None:
    cases = [binary_case(op, dtype, i) for dtype in BINARY_TYPES for i in range(100)]
    # The generator reaches what it means to: broadcasting, high ranks, constants.
    assert any("_c0" in c.name for c in cases) and any("_c1" in c.name for c in cases)
    check_bit_exact(model_run, tmp_path, cases)


def test_float_overflow_clamps_to_flt_max(model_run: Path, tmp_path: Path) -> None:
    """TFLM clamps even without an activation: an overflowing sum is FLT_MAX, not inf."""
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    a = g.add_tensor([4], "FLOAT32")
    b = g.add_tensor([1], "FLOAT32")
    y = g.add_tensor([4], "FLOAT32")
    g.add_operator("ADD", [a, b], [y])
    g.set_io([a, b], [y])
    x = np.array([3e38, -3e38, 1.0, -0.0], np.float32)
    case = Case("add_overflow", mb.build(), (x, np.array([3e38], np.float32)))
    want = np.frombuffer(reference_output(case), np.float32)
    assert want[0] == FLT_MAX and want[2] == np.float32(3e38)
    check_bit_exact(model_run, tmp_path, [case])


# ---- QUANTIZE / DEQUANTIZE ----------------------------------------------------------------------

QUANTIZE_PAIRS = [("FLOAT32", "INT8"), ("FLOAT32", "INT16"), ("INT8", "INT8"), ("INT8", "UINT8"),
                  ("INT8", "INT16"), ("INT8", "INT32"), ("UINT8", "INT8"), ("INT16", "INT8"),
                  ("INT16", "INT16"), ("INT16", "INT32"), ("INT32", "INT8"), ("INT32", "INT16")]
ZERO_POINTS = {"INT8": [-128, 127, 0], "UINT8": [0, 128, 255], "INT16": [0, -32768, 32767],
               "INT32": [0, -1000, 1000]}


def type_zero_point(rng: np.random.Generator, dtype: str) -> int:
    options = ZERO_POINTS[dtype]
    if rng.random() < 0.6:
        return int(rng.choice(options))
    return int(rng.integers(min(options), max(options) + 1))


def quantize_case(index: int) -> Case:
    rng = np.random.default_rng(50_000 + index)
    src, dst = QUANTIZE_PAIRS[index % len(QUANTIZE_PAIRS)]
    shape = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 5)))]
    out_scale = log_uniform(rng, -4, 1)
    out_zp = type_zero_point(rng, dst)
    in_q: dict[str, Any] = {}
    if src == "FLOAT32":
        # Values reaching past the output's range, and ties k + 0.5 of the rounding.
        kind = index % 3
        spread = float(np.iinfo(NUMPY_DTYPES[dst]).max) * out_scale * 1.5  # type: ignore[type-var]
        if kind == 0:
            data = rng.uniform(-spread, spread, size=shape).astype(np.float32)
        elif kind == 1:
            k = rng.integers(-300, 300, size=shape)
            data = ((k + 0.5) * np.float32(out_scale)).astype(np.float32)
        else:
            data = (rng.standard_normal(size=shape) * out_scale * 20).astype(np.float32)
    else:
        in_scale = float(np.float32(out_scale * 10.0 ** rng.uniform(-3, 2.5)))
        if index % 24 == 3:  # same scale: int8 <-> uint8 by 128 is TFLM's x ^ 0x80 path
            in_scale = out_scale
        in_q = {"scales": in_scale, "zero_points": type_zero_point(rng, src)}
        if src == "INT32":
            data = rng.integers(-(1 << 20), 1 << 20, size=shape).astype(np.int32)
        else:
            data = random_data(rng, src, shape)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, src, name="x", **in_q)
    y = g.add_tensor(shape, dst, name="y", scales=out_scale, zero_points=out_zp)
    g.add_operator("QUANTIZE", [x], [y])
    g.set_io([x], [y])
    return Case(f"quantize{index}_{src}_{dst}", mb.build(), data)


def keyword_quantize_case() -> Case:
    """keyword_scrambled.tflite's first node: int16 (0.000625, 0) -> int8 (0.0592083, -128)."""
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 96], "INT16", scales=0.0006249999860301614, zero_points=0)
    y = g.add_tensor([1, 96], "INT8", scales=0.05920833349227905, zero_points=-128)
    g.add_operator("QUANTIZE", [x], [y])
    g.set_io([x], [y])
    data = np.random.default_rng(5).integers(-32768, 32768, size=(1, 96)).astype(np.int16)
    return Case("quantize_keyword", mb.build(), data)


def test_quantize_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [quantize_case(i) for i in range(264)] + [keyword_quantize_case()]
    check_bit_exact(model_run, tmp_path, cases)


def test_quantize_int8_uint8_shift() -> None:
    """The pymicro-wakeword ending: same scale, zero points -128 and 0, x + 128 exactly."""
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([256], "INT8", scales=0.0039, zero_points=-128)
    y = g.add_tensor([256], "UINT8", scales=0.0039, zero_points=0)
    g.add_operator("QUANTIZE", [x], [y])
    g.set_io([x], [y])
    data = np.arange(-128, 128, dtype=np.int8)
    want = ReferenceRunner(mb.build()).invoke([data])[0]
    assert np.array_equal(want, np.arange(256, dtype=np.uint8))


def dequantize_case(index: int) -> Case:
    rng = np.random.default_rng(60_000 + index)
    src = ["INT8", "UINT8", "INT16"][index % 3]
    shape = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 5)))]
    scale = log_uniform(rng, -6, 2)
    zp = type_zero_point(rng, src)
    quant: dict[str, Any] = {"scales": scale, "zero_points": zp}
    if index % 10 == 7:  # per channel along dimension 0: TFLM takes channel 0's
        quant = {"scales": [scale * (c + 1) for c in range(shape[0])],
                 "zero_points": [zp] * shape[0], "quantized_dimension": 0}
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, src, name="x", **quant)
    y = g.add_tensor(shape, "FLOAT32", name="y")
    g.add_operator("DEQUANTIZE", [x], [y])
    g.set_io([x], [y])
    return Case(f"dequantize{index}_{src}", mb.build(), random_data(rng, src, shape))


def test_dequantize_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [dequantize_case(i) for i in range(150)]
    check_bit_exact(model_run, tmp_path, cases)


# ---- what TFLM rejects, fails or aborts on ------------------------------------------------------


def our_rejection(tool: Path, tmp_path: Path, name: str, data: bytes,
                  code: str = "PREPARE") -> str:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    rc, (report,) = run_tool(tool, [path])
    assert rc == 1 and report["ok"] is False and report["code"] == code, report
    return str(report["message"])


def binary_model(op: str, types: tuple[str, str, str], shapes: tuple[list[int], ...],
                 quant: tuple[dict[str, Any], ...] | None = None,
                 options: dict[str, Any] | None = None) -> bytes:
    q = quant or tuple({"scales": 0.05} if t != "FLOAT32" else {} for t in types)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    a = g.add_tensor(shapes[0], types[0], **q[0])
    b = g.add_tensor(shapes[1], types[1], **q[1])
    y = g.add_tensor(shapes[2], types[2], **q[2])
    g.add_operator(op, [a, b], [y], options or {})
    g.set_io([a, b], [y])
    return mb.build()


def unary_model(op: str, types: tuple[str, str], quant: tuple[dict[str, Any], ...]) -> bytes:
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([2, 3], types[0], **quant[0])
    y = g.add_tensor([2, 3], types[1], **quant[1])
    g.add_operator(op, [x], [y])
    g.set_io([x], [y])
    return mb.build()


TFLM_PREPARE_REJECTS = {
    "mul_mixed_inputs": (binary_model("MUL", ("INT8", "INT16", "INT8"), ([2, 3],) * 3),
                         "node 0 (MUL): input types 9 and 7 differ"),
    "mul_int16_zero_point": (
        binary_model("MUL", ("INT16",) * 3, ([2, 3],) * 3,
                     ({"scales": 0.05, "zero_points": 3}, {"scales": 0.05}, {"scales": 0.05})),
        "node 0 (MUL): int16 zero points must be 0, got 3, 0, 0"),
    "quantize_per_channel_output": (
        unary_model("QUANTIZE", ("FLOAT32", "INT8"),
                    ({}, {"scales": [0.5, 0.25], "zero_points": [0, 0]})),
        "node 0 (QUANTIZE): output must be quantised per tensor, has 2 scales"),
    "quantize_to_float": (
        unary_model("QUANTIZE", ("INT8", "FLOAT32"), ({"scales": 0.5}, {})),
        "node 0 (QUANTIZE): output must be quantised per tensor, has 0 scales"),
    "dequantize_int32": (  # no kernel takes it: the interpreter says so before any prepare
        unary_model("DEQUANTIZE", ("INT32", "FLOAT32"), ({"scales": 0.5}, {})),
        "node 0 (DEQUANTIZE): INT32 input not supported by the reference kernels"),
}


@pytest.mark.parametrize("name", sorted(TFLM_PREPARE_REJECTS))
def test_prepare_rejects_what_tflm_rejects(name: str, model_run: Path, tmp_path: Path) -> None:
    data, message = TFLM_PREPARE_REJECTS[name]
    with pytest.raises(ModelError, match="could not load the model"):
        ReferenceRunner(data)
    code = "UNSUPPORTED_OP" if "reference kernels" in message else "PREPARE"
    assert our_rejection(model_run, tmp_path, name, data, code) == message


def test_prepare_rejects_what_tflm_fails_to_invoke(model_run: Path, tmp_path: Path) -> None:
    """QUANTIZE float32 -> uint8 prepares in TFLM, then its Eval fails."""
    data = unary_model("QUANTIZE", ("FLOAT32", "UINT8"), ({}, {"scales": 0.5, "zero_points": 7}))
    with pytest.raises(ModelError, match="invoke failed"):
        ReferenceRunner(data).invoke([np.zeros((2, 3), np.float32)])
    assert our_rejection(model_run, tmp_path, "quantize_f32_u8", data) == \
        "node 0 (QUANTIZE): input type 0, output type 3 not supported"


# Nodes TFLM aborts on (TFLITE_CHECK: not run here, it would take pytest down) or computes
# garbage for (reads one type as another, indexes past an input, leaves the output unwritten).
OUR_REJECTIONS = {
    "add_output_scale_too_small": (
        binary_model("ADD", ("INT8",) * 3, ([2, 3],) * 3,
                     ({"scales": 0.5}, {"scales": 0.5}, {"scales": 1e-9})),
        "node 0 (ADD): output scale too small for the input scales (TFLM aborts)"),
    "add_unquantised_input": (
        binary_model("ADD", ("INT8",) * 3, ([2, 3],) * 3, ({}, {"scales": 0.5}, {"scales": 0.5})),
        "node 0 (ADD): inputs and output must be quantised (positive scales)"),
    "add_mixed_output": (binary_model("ADD", ("INT8", "INT8", "INT16"), ([2, 3],) * 3),
                         "node 0 (ADD): input type 9, output type 7: must be the same"),
    "sub_mixed_inputs": (binary_model("SUB", ("FLOAT32", "INT8", "FLOAT32"), ([2, 3],) * 3,
                                      ({}, {"scales": 0.5}, {})),
                         "node 0 (SUB): input types 0 and 9 differ"),
    "add_shapes_do_not_broadcast": (
        binary_model("ADD", ("INT8",) * 3, ([2, 3], [3, 3], [2, 3])),
        "node 0 (ADD): input shapes do not broadcast to the output's"),
    "mul_wrong_output_shape": (
        binary_model("MUL", ("FLOAT32",) * 3, ([2, 3], [1, 3], [3, 3])),
        "node 0 (MUL): input shapes do not broadcast to the output's"),
    "add_broadcast_rank_8": (
        binary_model("ADD", ("FLOAT32",) * 3, ([2, 1, 1, 1, 1, 1, 1, 2], [2], [2] + [1] * 6 + [2])),
        "node 0 (ADD): broadcast over 8 dimensions, at most 7"),
    "mul_multiplier_overflows": (
        binary_model("MUL", ("INT8",) * 3, ([2, 3],) * 3,
                     ({"scales": 0.5}, {"scales": 0.5}, {"scales": 1e-12})),
        "node 0 (MUL): requantisation multiplier out of range (input scales / output scale >= "
        "2^31)"),
}


@pytest.mark.parametrize("name", sorted(OUR_REJECTIONS))
def test_prepare_rejects_what_tflm_gets_wrong(name: str, model_run: Path, tmp_path: Path) -> None:
    data, message = OUR_REJECTIONS[name]
    assert our_rejection(model_run, tmp_path, name, data) == message


def test_rank_8_without_broadcasting_runs(model_run: Path, tmp_path: Path) -> None:
    """Eight dimensions are fine as long as the two inputs have the same shape."""
    shape = [2, 1, 2, 1, 2, 1, 2, 3]
    rng = np.random.default_rng(7)
    data = binary_model("ADD", ("INT8",) * 3, (shape,) * 3,
                        ({"scales": 0.02, "zero_points": -5}, {"scales": 0.3, "zero_points": 9},
                         {"scales": 0.25, "zero_points": 1}))
    inputs = (random_data(rng, "INT8", shape), random_data(rng, "INT8", shape))
    check_bit_exact(model_run, tmp_path, [Case("add_rank8", data, inputs)])


