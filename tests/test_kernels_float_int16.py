"""float32 and int16x8 FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D against tflite_micro.

Generated one-operator models run through tests/native/model_run.c (ASan + UBSan) and through
tflite_micro; every output byte must match:

- float32: random normal inputs, filters and biases over four orders of magnitude, bias or
  none, every fused activation (TANH and SIGN_BIT clamp nothing), and sums that overflow: TFLM
  clamps to +-FLT_MAX even without an activation, so no infinity comes out;
- int16 activations with int8 filters (TFLM's 16x8 path): inputs over the whole int16 range
  (and all at the extremes), per-tensor and per-channel filter scales over orders of magnitude,
  int64 bias, int32 bias (CONV_2D, FULLY_CONNECTED: TFLM then accumulates in int32), or none;
  multipliers up to 2^14; nonzero zero points: TFLM's 16x8 convolutions ignore them all (the
  output's still places the activation's clamp), its 16x8 FULLY_CONNECTED applies the input
  and output ones, and the filter's per tensor only;
- shapes as tests/test_kernels_conv.py draws them: 1x1 to 16x16 inputs, kernels 1..5,
  strides 1..3, dilations 1..3, SAME and VALID, depth multipliers 1..3, groups; for
  FULLY_CONNECTED ranks 2 and 3 and keep_num_dims.

Prepare rejects what TFLM rejects (hybrid filters, mismatched output types, a bias scale far
from input * filter scale), and what TFLM would compute wrongly or with undefined behaviour:
an int32 bias for int16 DEPTHWISE_CONV_2D (TFLM reads it as int64), multipliers of 2^14 and
more on the int64 path.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from mcubench.errors import ModelError
from mcubench.reference import ReferenceRunner

from .test_interpreter_native import (
    Case,
    check_bit_exact,
    log_uniform,
    one_error,
    write,
)
from .test_kernels_conv import geometry
from .tflite_builder import ModelBuilder

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH"]
CASES_PER_OP = 320
INT16_STD = 18918.0  # of U(-32768, 32767)
INT8_STD = 73.3  # of U(-127, 127)


def normal(rng: np.random.Generator, shape: list[int], low: float, high: float) -> np.ndarray:
    """float32 N(0, 1) times 10**U(low, high)."""
    scale = float(10.0 ** rng.uniform(low, high))
    return np.asarray(rng.standard_normal(shape) * scale, dtype=np.float32)


def int16_data(rng: np.random.Generator, shape: list[int], index: int) -> np.ndarray:
    """The whole int16 range; every 7th case only its two extremes."""
    if index % 7 == 3:
        return rng.choice(np.array([-32768, 32767], np.int16), size=shape)
    return rng.integers(-32768, 32768, size=shape, dtype=np.int16)


def int16_zero_points(rng: np.random.Generator, index: int) -> tuple[int, int]:
    """0 mostly (the quantisation spec); every 6th case nonzero ones, which TFLM ignores."""
    if index % 6 == 5:
        return int(rng.integers(-300, 301)), int(rng.integers(-300, 301))
    return 0, 0


def bias_kind(index: int, int32_allowed: bool) -> str:
    """'' (none), 'INT64' or 'INT32' for int16 cases, cycling."""
    kinds = ["INT64", "", "INT32" if int32_allowed else "INT64", "INT64"]
    return kinds[(index // 5) % len(kinds)]


def bias_data(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    bits = int(rng.choice([8, 20, 30] if kind == "INT32" else [8, 20, 34, 40]))
    return rng.integers(-(1 << bits), 1 << bits, size=n, dtype=np.int64)


def out_scale_16x8(rng: np.random.Generator, in_scale: float, filter_scales: list[float],
                   taps: int) -> float:
    """Near the accumulator's spread (times 10**U(-1.5, 1)); some channels saturate."""
    spread = in_scale * float(np.median(filter_scales)) * INT8_STD * INT16_STD * np.sqrt(taps)
    return float(np.float32(spread / 8000.0 * 10.0 ** rng.uniform(-1.5, 1.0)))


# ---- CONV_2D and DEPTHWISE_CONV_2D --------------------------------------------------------------


def conv_case(index: int, depthwise: bool, dtype: str) -> Case:
    """One random CONV_2D or DEPTHWISE_CONV_2D in float32 or int16x8."""
    rng = np.random.default_rng(20000 + 5000 * (dtype == "INT16") + 1000 * depthwise + index)
    padding = "SAME" if index % 2 == 0 else "VALID"
    activation = ACTIVATIONS[(index // 2) % len(ACTIVATIONS)]
    in_shape, filter_shape, (o_h, o_w, out_d), (s_h, s_w), (d_h, d_w), mult = \
        geometry(rng, padding, depthwise)
    out_shape = [in_shape[0], o_h, o_w, out_d]
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    if dtype == "FLOAT32":
        kind = "FLOAT32" if (index // 10) % 2 == 0 else ""
        x = g.add_tensor(in_shape, "FLOAT32", name="input")
        w = g.add_tensor(filter_shape, "FLOAT32", name="filter",
                         data=normal(rng, filter_shape, -2, 1))
        b = -1 if not kind else g.add_tensor([out_d], "FLOAT32", name="bias",
                                             data=normal(rng, [out_d], -2, 1))
        y = g.add_tensor(out_shape, "FLOAT32", name="output")
        data = normal(rng, in_shape, -2, 2)
        tag = ""
    else:
        kind = bias_kind(index, int32_allowed=not depthwise)
        per_channel = (index // 2) % 2 == 0
        in_zp, out_zp = int16_zero_points(rng, index)
        in_scale = log_uniform(rng, -5, -2)
        filter_scales = [log_uniform(rng, -4, -1) for _ in range(out_d if per_channel else 1)]
        taps = filter_shape[1] * filter_shape[2] * (1 if depthwise else filter_shape[3])
        out_scale = out_scale_16x8(rng, in_scale, filter_scales, taps)
        x = g.add_tensor(in_shape, "INT16", name="input", scales=in_scale, zero_points=in_zp)
        w = g.add_tensor(filter_shape, "INT8", name="filter", scales=filter_scales,
                         zero_points=[in_zp % 7 if in_zp else 0] * len(filter_scales),
                         quantized_dimension=3 if depthwise else 0,
                         data=rng.integers(-127, 128, size=filter_shape))
        b = -1
        if kind:
            bias_scales = [float(np.float32(in_scale) * np.float32(s)) for s in filter_scales]
            b = g.add_tensor([out_d], kind, name="bias", scales=bias_scales,
                             zero_points=[0] * len(bias_scales), data=bias_data(rng, kind, out_d))
        y = g.add_tensor(out_shape, "INT16", name="output", scales=out_scale,
                         zero_points=out_zp)
        data = int16_data(rng, in_shape, index)
        tag = f"_{'pc' if per_channel else 'pt'}{'_zp' if in_zp or out_zp else ''}"
    options = {"padding": padding, "stride_w": s_w, "stride_h": s_h,
               "dilation_w_factor": d_w, "dilation_h_factor": d_h,
               "fused_activation_function": activation}
    if depthwise:
        options["depth_multiplier"] = mult
    # No bias: omitted (-1) or left out; tflite_micro's depthwise Prepare crashes on -1.
    inputs = [x, w, b] if kind or (not depthwise and index % 3 == 0) else [x, w]
    g.add_operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", inputs, [y], options)
    g.set_io([x], [y])
    name = (f"{'dw' if depthwise else 'conv'}_{dtype.lower()}{index}_{padding}_{activation}"
            f"_{kind.lower() or 'nobias'}{tag}")
    return Case(name, mb.build(), data)


@pytest.mark.parametrize("dtype", ["FLOAT32", "INT16"])
@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_conv_generated_bit_exact(depthwise: bool, dtype: str, model_run: Path,
                                  tmp_path: Path) -> None:
    cases = [conv_case(i, depthwise, dtype) for i in range(CASES_PER_OP)]
    check_bit_exact(model_run, tmp_path, cases)
    names = [c.name for c in cases]
    assert sum("_SAME_" in n for n in names) >= CASES_PER_OP // 3
    if dtype == "INT16":  # the draw covered what it should
        assert sum("_pc" in n for n in names) >= CASES_PER_OP // 3
        assert sum("_zp" in n for n in names) >= CASES_PER_OP // 8
        assert sum("_int32" in n for n in names) >= (0 if depthwise else CASES_PER_OP // 6)


# ---- FULLY_CONNECTED ----------------------------------------------------------------------------


def fc_shapes(rng: np.random.Generator, keep: bool) -> tuple[list[int], list[int], int, int]:
    """Input shape, output shape, depth, units (rank 2, or rank 3 kept or flattened)."""
    depth = int(rng.choice([1, 2, 3, 8, 16, 17, 64, 130, 300]))
    units = int(rng.choice([1, 2, 3, 7, 16, 33]))
    lead = [int(rng.integers(1, 4)), int(rng.integers(1, 5))]
    if keep:
        return [*lead, depth], [*lead, units], depth, units
    if rng.random() < 0.3:
        return [*lead, depth], [lead[0] * lead[1], units], depth, units
    batch = int(rng.choice([1, 2, 3, 5]))
    return [batch, depth], [batch, units], depth, units


def fc_case(index: int, dtype: str) -> Case:
    rng = np.random.default_rng(40000 + 5000 * (dtype == "INT16") + index)
    activation = ACTIVATIONS[index % len(ACTIVATIONS)]
    keep = (index // 5) % 2 == 1
    in_shape, out_shape, depth, units = fc_shapes(rng, keep)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    if dtype == "FLOAT32":
        kind = "FLOAT32" if (index // 10) % 2 == 0 else ""
        x = g.add_tensor(in_shape, "FLOAT32", name="input")
        w = g.add_tensor([units, depth], "FLOAT32", name="weights",
                         data=normal(rng, [units, depth], -2, 1))
        b = -1 if not kind else g.add_tensor([units], "FLOAT32", name="bias",
                                             data=normal(rng, [units], -2, 1))
        y = g.add_tensor(out_shape, "FLOAT32", name="output")
        data = normal(rng, in_shape, -2, 2)
        tag = ""
    else:
        kind = bias_kind(index // 2, int32_allowed=True)
        per_channel = (index // 2) % 2 == 0
        in_zp, out_zp = int16_zero_points(rng, index)
        filter_zp = int(rng.choice([0, 0, 0, int(rng.integers(-20, 21))]))
        in_scale = log_uniform(rng, -5, -2)
        filter_scales = [log_uniform(rng, -4, -1) for _ in range(units if per_channel else 1)]
        out_scale = out_scale_16x8(rng, in_scale, filter_scales, depth)
        x = g.add_tensor(in_shape, "INT16", name="input", scales=in_scale, zero_points=in_zp)
        w = g.add_tensor([units, depth], "INT8", name="weights", scales=filter_scales,
                         zero_points=[filter_zp] * len(filter_scales),
                         data=rng.integers(-127, 128, size=(units, depth)))
        b = -1
        if kind:
            bias_scales = [float(np.float32(in_scale) * np.float32(s)) for s in filter_scales]
            b = g.add_tensor([units], kind, name="bias", scales=bias_scales,
                             zero_points=[0] * len(bias_scales), data=bias_data(rng, kind, units))
        y = g.add_tensor(out_shape, "INT16", name="output", scales=out_scale, zero_points=out_zp)
        data = int16_data(rng, in_shape, index)
        tag = (f"_{'pc' if per_channel else 'pt'}{'_zp' if in_zp or out_zp else ''}"
               f"{'_wzp' if filter_zp else ''}")
    g.add_operator("FULLY_CONNECTED", [x, w, b], [y],
                   {"fused_activation_function": activation, "keep_num_dims": keep})
    g.set_io([x], [y])
    name = (f"fc_{dtype.lower()}{index}_{activation}_{kind.lower() or 'nobias'}"
            f"{'_keep' if keep else ''}{tag}")
    return Case(name, mb.build(), data)


@pytest.mark.parametrize("dtype", ["FLOAT32", "INT16"])
def test_fully_connected_generated_bit_exact(dtype: str, model_run: Path,
                                             tmp_path: Path) -> None:
    cases = [fc_case(i, dtype) for i in range(CASES_PER_OP)]
    check_bit_exact(model_run, tmp_path, cases)
    names = [c.name for c in cases]
    assert sum("_keep" in n for n in names) >= CASES_PER_OP // 3
    if dtype == "INT16":
        assert sum("_pc" in n for n in names) >= CASES_PER_OP // 3
        assert sum("_int32" in n for n in names) >= CASES_PER_OP // 8
        assert sum("_pc" in n and "_wzp" in n for n in names) >= CASES_PER_OP // 20
        assert sum("_pt" in n and "_wzp" in n for n in names) >= CASES_PER_OP // 20
        assert sum("_zp" in n for n in names) >= CASES_PER_OP // 8


# ---- edge cases ---------------------------------------------------------------------------------


Shapes3 = tuple[list[int], list[int], list[int]]


def one_op(op: str, shapes: Shapes3, dtype: str, filter_data: np.ndarray,
           options: dict[str, object], *, bias: tuple[str, np.ndarray] | None = None,
           scales: tuple[float, float, float] = (1.0, 1.0, 1.0), filter_dtype: str = "",
           out_dtype: str = "", bias_scale: float | None = None) -> bytes:
    """One operator on (input, filter, output) shapes; scales only for quantised tensors."""
    in_shape, filter_shape, out_shape = shapes
    in_s, f_s, o_s = scales
    fdt = filter_dtype or ("FLOAT32" if dtype == "FLOAT32" else "INT8")
    odt = out_dtype or dtype

    def scale(dt: str, value: float) -> float | None:
        return None if dt == "FLOAT32" else value

    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(in_shape, dtype, scales=scale(dtype, in_s))
    w = g.add_tensor(filter_shape, fdt, data=filter_data, scales=scale(fdt, f_s))
    inputs = [x, w]
    if bias is not None:
        kind, values = bias
        product = float(np.float32(in_s) * np.float32(f_s))
        inputs.append(g.add_tensor([len(values)], kind, data=values, scales=scale(
            kind, bias_scale if bias_scale is not None else product)))
    elif op == "FULLY_CONNECTED":
        inputs.append(-1)
    y = g.add_tensor(out_shape, odt, scales=scale(odt, o_s))
    g.add_operator(op, inputs, [y], options)
    g.set_io([x], [y])
    return mb.build()


CONV_OPTIONS: dict[str, object] = {"padding": "SAME", "stride_w": 1, "stride_h": 1}
DW_OPTIONS: dict[str, object] = {**CONV_OPTIONS, "depth_multiplier": 1}


def test_float_overflow_clamps_to_flt_max(model_run: Path, tmp_path: Path) -> None:
    """Sums past FLT_MAX: TFLM's NONE range is [lowest, max], so +-FLT_MAX, never infinity."""
    cases = []
    big = np.float32(3e19)
    for i, act in enumerate(["NONE", "TANH", "RELU"]):
        w = np.full([4, 8], big, np.float32)
        w[1] = -big
        w[2, ::2] = -big  # +inf and -inf terms: inf - inf is NaN, clamped as TFLM does
        x = np.full([2, 8], big, np.float32)
        cases.append(Case(f"fc_overflow_{act}", one_op(
            "FULLY_CONNECTED", ([2, 8], [4, 8], [2, 4]), "FLOAT32", w,
            {"fused_activation_function": act}), x))
        f = np.full([3, 3, 3, 2], big, np.float32)
        f[1] = -big
        cases.append(Case(f"conv_overflow_{act}", one_op(
            "CONV_2D", ([1, 4, 4, 2], [3, 3, 3, 2], [1, 4, 4, 3]), "FLOAT32", f,
            {**CONV_OPTIONS, "fused_activation_function": act}),
            np.full([1, 4, 4, 2], big, np.float32)))
        d = np.full([1, 3, 3, 2], big if i != 1 else -big, np.float32)
        cases.append(Case(f"dw_overflow_{act}", one_op(
            "DEPTHWISE_CONV_2D", ([1, 4, 4, 2], [1, 3, 3, 2], [1, 4, 4, 2]), "FLOAT32", d,
            {**DW_OPTIONS, "fused_activation_function": act}),
            np.full([1, 4, 4, 2], big, np.float32)))
    check_bit_exact(model_run, tmp_path, cases)
    out = ReferenceRunner(cases[0].model).invoke(cases[0].inputs)[0]
    assert np.float32(np.finfo(np.float32).max) in out  # the quirk is really exercised


def test_int16_large_multipliers_and_wrapping(model_run: Path, tmp_path: Path) -> None:
    """Shifts up to 14 on the int64 path (results past int32 truncate); int32 bias wraps."""
    cases = []
    rng = np.random.default_rng(77)
    for i, (op, kind, shift) in enumerate(itertools.product(
            ["FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"], ["INT64", "INT32", ""],
            [0.0, 3.0, 7.5, 13.9])):
        if op == "DEPTHWISE_CONV_2D" and kind == "INT32":
            continue
        in_s, f_s = 0.5, 0.25
        out_s = float(np.float32(in_s * f_s / 2.0 ** shift))
        if op == "FULLY_CONNECTED":
            shapes = ([3, 40], [5, 40], [3, 5])
            n = 5
        elif op == "CONV_2D":
            shapes = ([1, 5, 5, 4], [3, 3, 3, 4], [1, 5, 5, 3])
            n = 3
        else:
            shapes = ([1, 5, 5, 4], [1, 3, 3, 4], [1, 5, 5, 4])
            n = 4
        bits = 31 if kind == "INT32" else 45
        bias = None if not kind else (kind, np.concatenate([
            np.array([(1 << bits) - 1, -(1 << bits)]), rng.integers(-(1 << bits), 1 << bits,
                                                                     size=n - 2)]))
        options = {} if op == "FULLY_CONNECTED" else DW_OPTIONS if op.startswith("DEPTH") \
            else CONV_OPTIONS
        model = one_op(op, shapes, "INT16", rng.choice(np.array([-127, 127]), size=shapes[1]),
                       options, bias=bias, scales=(in_s, f_s, out_s))
        data = rng.choice(np.array([-32768, 32767, 1, -1], np.int16), size=shapes[0])
        cases.append(Case(f"large{i}_{op}_{kind or 'none'}_{shift}", model, data))
    check_bit_exact(model_run, tmp_path, cases)


def test_int16_prepare_rejects_what_tflm_would_misread(model_run: Path, tmp_path: Path) -> None:
    """TFLM accepts these but computes garbage or undefined behaviour: we reject them."""
    dw = one_op("DEPTHWISE_CONV_2D", ([1, 4, 4, 2], [1, 3, 3, 2], [1, 4, 4, 2]), "INT16",
                np.ones([1, 3, 3, 2]), DW_OPTIONS, bias=("INT32", np.array([1, 2])),
                scales=(0.5, 0.5, 0.5))
    report = one_error(model_run, write(tmp_path, "dw_int32_bias", dw))
    assert report["code"] == "PREPARE" and report["message"] == \
        "node 0 (DEPTHWISE_CONV_2D): bias type 2, expected INT64", report
    for op, shapes, opts in [
            ("FULLY_CONNECTED", ([1, 4], [3, 4], [1, 3]), {}),
            ("CONV_2D", ([1, 4, 4, 2], [3, 3, 3, 2], [1, 4, 4, 3]), CONV_OPTIONS)]:
        big = one_op(op, shapes, "INT16", np.ones(shapes[1]), opts,
                     scales=(1.0, 1.0, float(np.float32(2.0 ** -14.5))))
        report = one_error(model_run, write(tmp_path, f"{op}_multiplier", big))
        assert report["message"] == \
            f"node 0 ({op}): requantisation multiplier of channel 0 out of range", report


def rejected(tool: Path, tmp_path: Path, name: str, data: bytes) -> str:
    """TFLM rejects the model, and so do we, in prepare; our message."""
    with pytest.raises(ModelError):
        ReferenceRunner(data)
    report = one_error(tool, write(tmp_path, name, data))
    assert report["code"] == "PREPARE", report
    return str(report["message"])


@pytest.mark.parametrize(("name", "message"), [
    ("fc_f32_hybrid", "node 0 (FULLY_CONNECTED): filter type 9 not supported (FLOAT32 only)"),
    ("conv_f32_hybrid", "node 0 (CONV_2D): filter type 9 not supported (FLOAT32 only)"),
    ("dw_f32_hybrid", "node 0 (DEPTHWISE_CONV_2D): filter type 9 not supported (FLOAT32 only)"),
    ("conv_s16_filter16", "node 0 (CONV_2D): filter type 7 not supported (INT8 only)"),
    ("fc_s16_out8", "node 0 (FULLY_CONNECTED): output type 9, input type 7"),
    ("conv_s16_out8", "node 0 (CONV_2D): output type 9, input type 7"),
    ("fc_s16_bias_scale",
     "node 0 (FULLY_CONNECTED): bias scale differs from input scale * filter scale"),
])
def test_prepare_rejects_like_tflm(name: str, message: str, model_run: Path,
                                   tmp_path: Path) -> None:
    fc: Shapes3 = ([2, 4], [3, 4], [2, 3])
    conv: Shapes3 = ([1, 4, 4, 2], [3, 3, 3, 2], [1, 4, 4, 3])
    dw: Shapes3 = ([1, 4, 4, 2], [1, 3, 3, 2], [1, 4, 4, 2])
    models = {
        "fc_f32_hybrid": lambda: one_op("FULLY_CONNECTED", fc, "FLOAT32", np.ones(fc[1]), {},
                                        filter_dtype="INT8"),
        "conv_f32_hybrid": lambda: one_op("CONV_2D", conv, "FLOAT32", np.ones(conv[1]),
                                          CONV_OPTIONS, filter_dtype="INT8"),
        "dw_f32_hybrid": lambda: one_op("DEPTHWISE_CONV_2D", dw, "FLOAT32", np.ones(dw[1]),
                                        DW_OPTIONS, filter_dtype="INT8"),
        "conv_s16_filter16": lambda: one_op("CONV_2D", conv, "INT16", np.ones(conv[1]),
                                            CONV_OPTIONS, filter_dtype="INT16"),
        "fc_s16_out8": lambda: one_op("FULLY_CONNECTED", fc, "INT16", np.ones(fc[1]), {},
                                      out_dtype="INT8"),
        "conv_s16_out8": lambda: one_op("CONV_2D", conv, "INT16", np.ones(conv[1]),
                                        CONV_OPTIONS, out_dtype="INT8"),
        "fc_s16_bias_scale": lambda: one_op("FULLY_CONNECTED", fc, "INT16", np.ones(fc[1]), {},
                                            bias=("INT64", np.array([1, 2, 3])),
                                            scales=(0.5, 0.5, 0.01), bias_scale=0.5),
    }
    assert rejected(model_run, tmp_path, name, models[name]()) == message
