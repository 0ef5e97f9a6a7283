"""SOFTMAX, RESHAPE, AVERAGE_POOL_2D and MAX_POOL_2D on the native build, against TFLM.

Generated one-operator models (tests/tflite_builder.py) run through tests/native/model_run.c
(the firmware's interpreter and reference kernels, ASan + UBSan); every output must equal
tflite_micro's byte for byte:

- SOFTMAX int8: rank 1 to 4, rows of 1 to 3000, betas 0.1..10, input scales 1e-3..10 (up to
  the capped multiplier, left shift 31), input zero points at the extremes, rows of equal
  values and of widely spread ones;
- RESHAPE: int8, uint8, int16, int32, float32; shape from the option, from a second (shape)
  input, or from neither;
- AVERAGE_POOL_2D / MAX_POOL_2D int8: 1x1x1 to 13x13 inputs, filters 1..5, strides 1..3,
  SAME and VALID, every fused activation, scales over three orders of magnitude, zero points
  -128 and 127.

Plus what TFLM rejects in Prepare and so must we: a softmax output scale other than 1/256,
pooling whose output is quantised differently from its input; a softmax row TFLM aborts on
fails our invoke instead. And every shared model whose operators all have a reference kernel
(whoever wrote it) is bit-exact on 20 seeded inputs.
"""

from __future__ import annotations

from pathlib import Path

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
    zero_point,
)
from .tflite_builder import ModelBuilder

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


# ---- SOFTMAX ------------------------------------------------------------------------------------


def softmax_case(index: int, out_dtype: str = "INT8") -> Case:
    """int8 in; int8 out (scale 1/256, zero point -128) or int16 (1/65536, -32768)."""
    rng = np.random.default_rng(1000 + index)
    depth = int(rng.choice([1, 2, 3, 5, 10, 12, 33, 100, 257, 1000, 3000]
                           if index % 10 else [1, 2, 7]))
    rank = int(rng.integers(1, 5))
    lead = [int(rng.integers(1, 4)) for _ in range(rank - 1)]
    shape = [*lead, depth]
    beta = log_uniform(rng, -1, 1)
    in_scale = log_uniform(rng, -3, 1)
    kind = index % 4
    if kind == 0:  # the full int8 range
        data = rng.integers(-128, 128, size=shape)
    elif kind == 1:  # a narrow band: many near the maximum, ties
        centre = int(rng.integers(-120, 120))
        data = np.clip(centre + rng.integers(-3, 4, size=shape), -128, 127)
    elif kind == 2:  # all equal
        data = np.full(shape, int(rng.integers(-128, 128)))
    else:  # extremes
        data = rng.choice([-128, 127, 126, -127, 0], size=shape)
    # int8 out: TFLM aborts (TFLITE_CHECK) on a row whose exps sum to 512 or more: keep well
    # below. int16 out has no such limit: long rows of ties stay in.
    rows = data.reshape(-1, depth).astype(np.float64)
    sums = np.exp(beta * in_scale * (rows - rows.max(axis=1, keepdims=True))).sum(axis=1)
    if sums.max() > 200 and out_dtype == "INT8":
        data = data[..., :100]
        shape = [*lead, min(depth, 100)]
        depth = shape[-1]
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, "INT8", name="x", scales=in_scale, zero_points=zero_point(rng))
    if out_dtype == "INT8":
        y = g.add_tensor(shape, "INT8", name="y", scales=1 / 256, zero_points=-128)
    else:
        y = g.add_tensor(shape, "INT16", name="y", scales=1 / 65536, zero_points=-32768)
    g.add_operator("SOFTMAX", [x], [y], {"beta": beta})
    g.set_io([x], [y])
    return Case(f"softmax{out_dtype}_{index}_d{depth}_b{beta:.3g}_s{in_scale:.3g}", mb.build(),
                data.astype(np.int8))


def test_softmax_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [softmax_case(i) for i in range(300)]
    # The cases reach the capped multiplier (left shift 31) and small ones alike.
    products = [float(c.name.split("_b")[1].split("_s")[0]) * float(c.name.split("_s")[-1])
                for c in cases]
    assert max(products) * 2**26 > 2**31 and min(products) < 0.01
    check_bit_exact(model_run, tmp_path, cases)


def test_softmax_int16_output_bit_exact(model_run: Path, tmp_path: Path) -> None:
    """int8 in, int16 out (the keyword benchmark model's last node), rows up to 3000 long."""
    check_bit_exact(model_run, tmp_path, [softmax_case(i, "INT16") for i in range(200)])


def test_softmax_int16_output_quantisation_checked(model_run: Path, tmp_path: Path) -> None:
    """TFLM: scale within 0.1 % of 1/65536 and zero point -32768, else Prepare fails."""
    for scale, zp, ok in [(1 / 65536 * 1.0009, -32768, True), (1 / 65536 * 1.002, -32768, False),
                          (1 / 65536, 0, False)]:
        mb = ModelBuilder()
        g = mb.add_subgraph("main")
        x = g.add_tensor([1, 8], "INT8", scales=0.1)
        y = g.add_tensor([1, 8], "INT16", scales=scale, zero_points=zp)
        g.add_operator("SOFTMAX", [x], [y], {"beta": 1.0})
        g.set_io([x], [y])
        path = tmp_path / f"s{zp}_{scale}.tflite"
        path.write_bytes(mb.build())
        rc, (report,) = run_tool(model_run, [path])
        assert (rc == 0) == ok, report
        if not ok:
            assert "int16 output must have scale 1/65536 and zero point -32768" in \
                report["message"]
            with pytest.raises(ModelError):
                ReferenceRunner(path.read_bytes())


def test_softmax_row_tflm_aborts_on_fails_the_invoke(model_run: Path, tmp_path: Path) -> None:
    """600 equal values: the sum of exps is 600 >= 512, where TFLM's TFLITE_CHECK aborts."""
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 600], "INT8", scales=0.1)
    y = g.add_tensor([1, 600], "INT8", scales=1 / 256, zero_points=-128)
    g.add_operator("SOFTMAX", [x], [y], {"beta": 1.0})
    g.set_io([x], [y])
    (tmp_path / "m.tflite").write_bytes(mb.build())
    (tmp_path / "x.bin").write_bytes(bytes(600))
    rc, (report,) = run_tool(model_run, [tmp_path / "m.tflite", tmp_path / "x.bin",
                                         tmp_path / "y.bin"])
    assert rc == 1 and report["code"] == "INVOKE", report


# ---- RESHAPE ------------------------------------------------------------------------------------

RESHAPE_TYPES = ["INT8", "UINT8", "INT16", "INT32", "FLOAT32"]


def factor_shape(rng: np.random.Generator, n: int, rank: int) -> list[int]:
    """A random shape of ``rank`` dimensions with n elements."""
    dims = []
    for _ in range(rank - 1):
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        d = int(rng.choice(divisors))
        dims.append(d)
        n //= d
    return [*dims, n]


def reshape_case(index: int) -> Case:
    rng = np.random.default_rng(2000 + index)
    dtype = RESHAPE_TYPES[index % len(RESHAPE_TYPES)]
    n = int(rng.choice([1, 2, 6, 12, 30, 49, 64, 120, 250, 490]))
    in_shape = factor_shape(rng, n, int(rng.integers(1, 5)))
    out_shape = factor_shape(rng, n, int(rng.integers(1, 5)))
    how = index % 3  # 0: new_shape option, 1: shape input, 2: neither
    quant = {"scales": log_uniform(rng, -3, 0), "zero_points": zero_point(rng)} \
        if dtype in ("INT8", "INT16") else {}
    if dtype == "INT16":
        quant["zero_points"] = 0
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(in_shape, dtype, name="x", **quant)  # type: ignore[arg-type]
    y = g.add_tensor(out_shape, dtype, name="y", **quant)  # type: ignore[arg-type]
    new_shape = list(out_shape)
    if rng.random() < 0.3:  # a -1 the converter leaves in the option / shape input
        new_shape[int(rng.integers(0, len(new_shape)))] = -1
    if how == 0:
        g.add_operator("RESHAPE", [x], [y], {"new_shape": new_shape})
    elif how == 1:
        s = g.add_tensor([len(new_shape)], "INT32", name="shape", data=np.array(new_shape))
        g.add_operator("RESHAPE", [x, s], [y])
    else:
        g.add_operator("RESHAPE", [x], [y])
    g.set_io([x], [y])
    np_type = NUMPY_DTYPES[dtype]
    if dtype == "FLOAT32":
        data = rng.standard_normal(size=in_shape).astype(np.float32)
    else:
        info = np.iinfo(np_type)  # type: ignore[type-var]
        data = rng.integers(int(info.min), int(info.max) + 1, size=in_shape).astype(np_type)
    return Case(f"reshape{index}_{dtype}_{'opt' if how == 0 else 'input' if how == 1 else 'none'}",
                mb.build(), data)


def test_reshape_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [reshape_case(i) for i in range(150)]
    check_bit_exact(model_run, tmp_path, cases)
    # A copy, byte for byte.
    assert all(reference_output(c) == c.input_bytes() for c in cases[:10])


# ---- AVERAGE_POOL_2D / MAX_POOL_2D --------------------------------------------------------------


def out_size(padding: str, size: int, filt: int, stride: int) -> int:
    return (size + stride - 1) // stride if padding == "SAME" else (size - filt + stride) // stride


def pool_case(op: str, index: int) -> Case:
    rng = np.random.default_rng((3000 if op == "AVERAGE_POOL_2D" else 4000) + index)
    batch = int(rng.choice([1, 1, 2]))
    if index % 12 == 0:
        h = w = 1
    else:
        h, w = int(rng.integers(1, 14)), int(rng.integers(1, 14))
    c = int(rng.choice([1, 2, 3, 5, 8]))
    fh, fw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = "SAME" if index % 2 == 0 else "VALID"
    if padding == "VALID":  # the filter must fit
        fh, fw = min(fh, h), min(fw, w)
    activation = ACTIVATIONS[(index // 2) % len(ACTIVATIONS)]
    scale = log_uniform(rng, -3, 0)
    zp = int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
    oh, ow = out_size(padding, h, fh, sh), out_size(padding, w, fw, sw)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([batch, h, w, c], "INT8", name="x", scales=scale, zero_points=zp)
    y = g.add_tensor([batch, oh, ow, c], "INT8", name="y", scales=scale, zero_points=zp)
    g.add_operator(op, [x], [y], {"padding": padding, "stride_w": sw, "stride_h": sh,
                                  "filter_width": fw, "filter_height": fh,
                                  "fused_activation_function": activation})
    g.set_io([x], [y])
    data = rng.integers(-128, 128, size=(batch, h, w, c), dtype=np.int8)
    if index % 5 == 1:  # sums exactly half-way between two integers, either sign
        data = rng.choice(np.array([-128, -1, 0, 1, 127], dtype=np.int8), size=data.shape)
    return Case(f"{op.lower()}{index}_{h}x{w}x{c}_f{fh}x{fw}_s{sh}x{sw}_{padding}_{activation}",
                mb.build(), data)


@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_pool_bit_exact(op: str, model_run: Path, tmp_path: Path) -> None:
    cases = [pool_case(op, i) for i in range(250)]
    assert sum("_SAME_" in c.name for c in cases) == sum("_VALID_" in c.name for c in cases)
    check_bit_exact(model_run, tmp_path, cases)


# ---- what TFLM rejects --------------------------------------------------------------------------


def rejected(tool: Path, tmp_path: Path, name: str, data: bytes) -> dict[str, object]:
    with pytest.raises(ModelError):
        ReferenceRunner(data)
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    rc, (report,) = run_tool(tool, [path])
    assert rc == 1 and report["ok"] is False and report["code"] == "PREPARE", report
    return report


def test_softmax_output_scale_must_be_1_over_256(model_run: Path, tmp_path: Path) -> None:
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 10], "INT8", scales=0.1)
    y = g.add_tensor([1, 10], "INT8", scales=1 / 255, zero_points=-128)
    g.add_operator("SOFTMAX", [x], [y], {"beta": 1.0})
    g.set_io([x], [y])
    report = rejected(model_run, tmp_path, "softmax_scale", mb.build())
    assert report["message"] == \
        "node 0 (SOFTMAX): int8 output must have scale 1/256 and zero point -128"


def test_pool_quantisation_must_match(model_run: Path, tmp_path: Path) -> None:
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 4, 4, 2], "INT8", scales=0.1, zero_points=3)
    y = g.add_tensor([1, 2, 2, 2], "INT8", scales=0.1, zero_points=4)
    g.add_operator("AVERAGE_POOL_2D", [x], [y], {"padding": "VALID", "stride_w": 2,
                                                 "stride_h": 2, "filter_width": 2,
                                                 "filter_height": 2})
    g.set_io([x], [y])
    report = rejected(model_run, tmp_path, "pool_zp", mb.build())
    assert report["message"] == "node 0 (AVERAGE_POOL_2D): input and output quantisation differ"
