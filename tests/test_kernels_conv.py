"""int8 CONV_2D and DEPTHWISE_CONV_2D of the reference kernels against tflite_micro, bit for bit.

Generated one-operator models run through tests/native/model_run.c (ASan + UBSan) and through
tflite_micro; every output byte must match. Cases cover input sizes from 1x1 to odd sizes,
kernels 1..5, strides 1..3, dilations 1..3, SAME and VALID padding, depth multipliers 1..3,
grouped convolution, per-tensor and per-channel filter scales over orders of magnitude, zero
points at -128 and 127, bias or none, and the activations NONE / RELU / RELU6 / RELU_N1_TO_1.
Also: prepare rejects what would make invoke leave its tensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .test_interpreter_native import (
    Case,
    check_bit_exact,
    log_uniform,
    one_error,
    write,
    zero_point,
)
from .tflite_builder import ModelBuilder

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
CASES_PER_OP = 320


def out_size(padding: str, size: int, k: int, stride: int, dilation: int) -> int:
    """TFLM's ComputeOutSize (the output shape a converter writes)."""
    effective = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else \
        (size + stride - effective) // stride


Shapes = tuple[list[int], list[int], tuple[int, int, int], tuple[int, int], tuple[int, int], int]


def geometry(rng: np.random.Generator, padding: str, depthwise: bool) -> Shapes:
    """Input shape, filter shape, output (h, w, depth), strides, dilations, depth multiplier."""
    while True:
        k_h, k_w = (int(v) for v in rng.integers(1, 6, size=2))
        s_h, s_w = (int(v) for v in rng.integers(1, 4, size=2))
        d_h, d_w = (int(v) for v in rng.choice([1, 1, 2, 3], size=2))
        size_choices = [1, 1, 2, 3, 5, 7, 8, 9, 11, 16]
        in_h, in_w = (int(v) for v in rng.choice(size_choices, size=2))
        o_h = out_size(padding, in_h, k_h, s_h, d_h)
        o_w = out_size(padding, in_w, k_w, s_w, d_w)
        if o_h >= 1 and o_w >= 1:
            break
    batch = int(rng.choice([1, 1, 1, 2]))
    if depthwise:
        in_d = int(rng.choice([1, 2, 3, 5, 8, 16]))
        mult = int(rng.integers(1, 4))
        out_d = in_d * mult
        filter_shape = [1, k_h, k_w, out_d]
    else:
        mult = 1
        filter_d = int(rng.choice([1, 2, 3, 4, 8, 17]))
        groups = int(rng.choice([1, 1, 1, 1, 2, 3]))
        in_d = filter_d * groups
        out_d = groups * int(rng.choice([1, 2, 3, 5, 8]))
        filter_shape = [out_d, k_h, k_w, filter_d]
    return ([batch, in_h, in_w, in_d], filter_shape, (o_h, o_w, out_d), (s_h, s_w), (d_h, d_w),
            mult)


def conv_case(index: int, depthwise: bool) -> Case:
    """One random CONV_2D or DEPTHWISE_CONV_2D; each axis drawn so every edge shows up."""
    rng = np.random.default_rng(1000 * depthwise + index)
    padding = "SAME" if index % 2 == 0 else "VALID"
    activation = ACTIVATIONS[(index // 2) % len(ACTIVATIONS)]
    bias = (index // 8) % 2 == 0
    per_channel = (index // 16) % 2 == 0
    (batch, in_h, in_w, in_d), filter_shape, (o_h, o_w, out_d), strides, dilations, mult = \
        geometry(rng, padding, depthwise)
    (s_h, s_w), (d_h, d_w), (k_h, k_w) = strides, dilations, filter_shape[1:3]
    qdim = 3 if depthwise else 0
    in_scale = log_uniform(rng, -3, 0)
    filter_scales = [log_uniform(rng, -5, -1) for _ in range(out_d if per_channel else 1)]
    # Output scale near the accumulator's spread (times 10**U(-1.5, 1)), so that most outputs
    # land inside int8 rather than on the clamp; channels far from the median still saturate.
    taps = k_h * k_w * (1 if depthwise else filter_shape[3])
    spread = in_scale * float(np.median(filter_scales)) * 73.0 * 74.0 * np.sqrt(taps) / 40.0
    out_scale = float(np.float32(spread * 10.0 ** rng.uniform(-1.5, 1.0)))
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([batch, in_h, in_w, in_d], name="input", scales=in_scale,
                     zero_points=zero_point(rng))
    w = g.add_tensor(filter_shape, name="filter", scales=filter_scales,
                     zero_points=[0] * len(filter_scales), quantized_dimension=qdim,
                     data=rng.integers(-127, 128, size=filter_shape))
    b = -1
    if bias:
        bias_scales = [float(np.float32(in_scale) * np.float32(s)) for s in filter_scales]
        bound = 1 << int(rng.choice([8, 16, 22]))
        b = g.add_tensor([out_d], "INT32", name="bias", scales=bias_scales,
                         zero_points=[0] * len(bias_scales),
                         data=rng.integers(-bound, bound, size=out_d))
    y = g.add_tensor([batch, o_h, o_w, out_d], name="output", scales=out_scale,
                     zero_points=zero_point(rng))
    options = {"padding": padding, "stride_w": s_w, "stride_h": s_h,
               "dilation_w_factor": d_w, "dilation_h_factor": d_h,
               "fused_activation_function": activation}
    if depthwise:
        options["depth_multiplier"] = mult
    # No bias: omitted (-1) or left out. tflite_micro's depthwise Prepare dereferences the
    # omitted bias (a segfault), so depthwise leaves it out.
    inputs = [x, w, b] if bias or (not depthwise and index % 3 == 0) else [x, w]
    g.add_operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", inputs, [y], options)
    g.set_io([x], [y])
    name = (f"{'dw' if depthwise else 'conv'}{index}_{padding}_{activation}"
            f"_{'pc' if per_channel else 'pt'}_{'b' if bias else 'nb'}")
    data = rng.integers(-128, 128, size=[batch, in_h, in_w, in_d], dtype=np.int8)
    return Case(name, mb.build(), data)


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_generated_bit_exact(depthwise: bool, model_run: Path, tmp_path: Path) -> None:
    cases = [conv_case(i, depthwise) for i in range(CASES_PER_OP)]
    check_bit_exact(model_run, tmp_path, cases)
    # The draw covered what it should.
    names = [c.name for c in cases]
    assert sum("_pc_" in n for n in names) >= CASES_PER_OP // 3
    assert sum("_SAME_" in n for n in names) >= CASES_PER_OP // 3


def test_extremes_bit_exact(model_run: Path, tmp_path: Path) -> None:
    """Accumulators far from zero: all-extreme inputs and filters, zero points at the ends."""
    cases = []
    for i, (depthwise, in_zp, value) in enumerate(
            [(d, zp, v) for d in (False, True) for zp in (-128, 127) for v in (-128, 127)]):
        mb = ModelBuilder()
        g = mb.add_subgraph("main")
        in_d, out_d = (4, 8) if depthwise else (64, 3)
        shape = [1, 5, 5, out_d] if depthwise else [out_d, 5, 5, in_d]
        x = g.add_tensor([1, 6, 6, in_d], scales=0.02, zero_points=in_zp)
        w = g.add_tensor(shape, scales=[0.5 ** k for k in range(out_d)],
                         zero_points=[0] * out_d, quantized_dimension=3 if depthwise else 0,
                         data=np.full(shape, -127 if value > 0 else 127))
        y = g.add_tensor([1, 6, 6, out_d], scales=0.7, zero_points=-in_zp - 1)
        options = {"padding": "SAME", "stride_w": 1, "stride_h": 1}
        if depthwise:
            options["depth_multiplier"] = 2
        g.add_operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, w], [y], options)
        g.set_io([x], [y])
        cases.append(Case(f"extreme{i}", mb.build(), np.full([1, 6, 6, in_d], value, np.int8)))
    check_bit_exact(model_run, tmp_path, cases)


def bad_conv(filter_shape: list[int], output_shape: list[int], depthwise: bool,
             **options: int) -> bytes:
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 5, 5, 4], scales=0.05)
    w = g.add_tensor(filter_shape, data=np.ones(filter_shape), scales=0.02)
    y = g.add_tensor(output_shape, scales=0.1)
    opts = {"padding": "SAME", "stride_w": 1, "stride_h": 1, **options}
    g.add_operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, w], [y], opts)
    g.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize(("name", "model", "message"), [
    ("conv_channels", bad_conv([6, 3, 3, 4], [1, 5, 5, 5], False),
     "CONV_2D): filter has 6 output channels, output 5"),
    ("conv_groups", bad_conv([6, 3, 3, 3], [1, 5, 5, 6], False),
     "CONV_2D): groups: filter depth 3, input depth 4, output depth 6"),
    ("conv_stride", bad_conv([6, 3, 3, 4], [1, 5, 5, 6], False, stride_w=0),
     "CONV_2D): strides and dilations must be >= 1"),
    ("dw_multiplier", bad_conv([1, 3, 3, 8], [1, 5, 5, 8], True, depth_multiplier=1),
     "DEPTHWISE_CONV_2D): output depth 8 != input depth 4 * depth multiplier 1"),
])
def test_prepare_rejects_bad_shapes(name: str, model: bytes, message: str, model_run: Path,
                                    tmp_path: Path) -> None:
    report = one_error(model_run, write(tmp_path, name, model))
    assert report["code"] == "PREPARE" and report["message"] == f"node 0 ({message}", report
