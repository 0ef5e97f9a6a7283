"""Shape and data-movement kernels on the native build, against TFLM.

MEAN, PAD, PADV2, CONCATENATION, STRIDED_SLICE, SPLIT, SPLIT_V, SQUEEZE and TRANSPOSE, in
generated one-operator models run through tests/native/model_run.c (ASan + UBSan); every
output (all of them, concatenated, for the multi-output SPLIT / SPLIT_V) must equal
tflite_micro's byte for byte:

- MEAN int8 / int16 / float32: ranks 1 to 5, random, negative and repeated axes, keep_dims
  either way, the 4D spatial mean, output quantised as the input (TFLM's integer division)
  or not (its float requantisation: scales over orders of magnitude, exact 2x / 0.5x ratios
  for rounding ties, zero points at the extremes);
- PAD / PADV2 int8 / int16 / int32 / float32, ranks 1 to 5, paddings 0 to 3 per side,
  the image-style 4D case, a constant_values input or the default pad value;
- CONCATENATION of every type TFLM takes, 1 to 10 inputs, ranks 1 to 6, any axis (negative
  too), constant inputs among them;
- STRIDED_SLICE of every type TFLM takes, ranks 1 to 4, negative and out-of-range
  begin / end, strides -3 to 3, begin / end / shrink masks, and the ellipsis / new_axis
  masks and offset TFLM micro ignores;
- SPLIT / SPLIT_V of every type TFLM takes, 1 to 5 outputs, negative axes, -1 in
  size_splits, scalar and [1] axis tensors;
- SQUEEZE of many types, TRANSPOSE of int8 / int16 / float32 up to rank 5;
- the exact CONCATENATION / STRIDED_SLICE / SPLIT_V operators of the pymicro_wakeword
  streaming models, rebuilt as one-operator models, and the whole models over 16 streaming
  invocations (once every operator they use has a kernel).

Plus what TFLM rejects and so must we, in prepare (TFLM fails some of these only in its
invoke): a fused activation or more than 10 inputs or requantisation in CONCATENATION,
non-constant parameter tensors, ranks over TFLM's limits, bad axes and permutations,
zero strides, PADV2 constants quantised unlike the output, types TFLM does not support.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from mcubench.errors import ModelError
from mcubench.model.tflite import read_model
from mcubench.reference import NUMPY_DTYPES, ReferenceRunner, random_inputs

from .models import pymicro_wakeword_models
from .test_interpreter_native import (
    Case,
    check_bit_exact,
    log_uniform,
    run_tool,
)
from .tflite_builder import ModelBuilder

WAKEWORD_MODELS = pymicro_wakeword_models()


# ---- helpers ------------------------------------------------------------------------------------


def random_data(rng: np.random.Generator, shape: list[int], dtype: str) -> np.ndarray:
    np_type = np.dtype(NUMPY_DTYPES[dtype])
    if dtype == "BOOL":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np_type.kind == "f":
        return np.asarray(rng.standard_normal(size=shape) * 10.0 ** rng.uniform(-2, 3),
                          dtype=np_type)
    info = np.iinfo(np_type)
    return rng.integers(int(info.min), int(info.max), size=shape, dtype=np_type, endpoint=True)


def quant(rng: np.random.Generator, dtype: str) -> dict[str, Any]:
    """Per-tensor quantisation for the integer types TFLM quantises, none otherwise."""
    if dtype == "INT8":
        return {"scales": log_uniform(rng, -3, 1),
                "zero_points": int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))}
    if dtype == "INT16":
        return {"scales": log_uniform(rng, -4, 0), "zero_points": 0}
    return {}


def random_shape(rng: np.random.Generator, rank: int, high: int = 5) -> list[int]:
    return [int(rng.integers(1, high + 1)) for _ in range(rank)]


def i32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.int32)


# ---- MEAN ---------------------------------------------------------------------------------------

MEAN_TYPES = ["INT8", "INT8", "INT8", "INT16", "FLOAT32"]


def mean_case(index: int) -> Case:
    rng = np.random.default_rng(10_000 + index)
    dtype = MEAN_TYPES[index % len(MEAN_TYPES)]
    keep = bool(rng.integers(0, 2))
    if index % 6 == 0:  # the common 4D spatial mean
        shape = [int(rng.choice([1, 2])), int(rng.integers(1, 12)), int(rng.integers(1, 12)),
                 int(rng.choice([1, 3, 8, 32, 64]))]
        axes = [1, 2] if rng.random() < 0.7 else [2, 1] if rng.random() < 0.5 else [-3, -2]
        keep = index % 12 == 0 or keep
    else:
        rank = int(rng.integers(1, 6))
        shape = random_shape(rng, rank, 6 if rank < 4 else 4)
        n_axes = int(rng.integers(0 if index % 17 == 1 else 1, rank + 1))
        axes = [int(a) for a in rng.choice(rank, size=n_axes, replace=False)]
        axes = [a - rank if rng.random() < 0.3 else a for a in axes]
        if axes and rng.random() < 0.2:  # a repeat, maybe as its negative twin
            axes.append(axes[0] if rng.random() < 0.5 else axes[0] % rank - rank)
    rank = len(shape)
    reduced = {a % rank for a in axes}
    if keep:
        out_shape = [1 if d in reduced else s for d, s in enumerate(shape)]
    else:
        out_shape = [s for d, s in enumerate(shape) if d not in reduced]
    q_in = quant(rng, dtype)
    q_out = dict(q_in)
    how = "float"
    if dtype != "FLOAT32":
        kind = index % 4
        if kind == 0:
            how = "same"
        elif kind == 1:  # exact ratios: many rounding ties
            q_out = {"scales": q_in["scales"] * float(rng.choice([0.5, 2.0, 0.25, 1.0])),
                     "zero_points": int(rng.integers(-128, 128)) if dtype == "INT8" else 0}
            how = "ratio"
        else:
            q_out = quant(rng, dtype)
            if dtype == "INT16" and rng.random() < 0.3:
                q_in["zero_points"] = int(rng.integers(-1000, 1000))
            how = "requant"
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, dtype, name="x", **q_in)
    a = g.add_tensor([len(axes)], "INT32", name="axes", data=i32(axes))
    y = g.add_tensor(out_shape, dtype, name="y", **q_out)
    g.add_operator("MEAN", [x, a], [y], {"keep_dims": keep})
    g.set_io([x], [y])
    data = random_data(rng, shape, dtype)
    if dtype == "INT8" and index % 7 == 3:  # extremes only
        data = rng.choice(np.array([-128, 127, -127, 0], np.int8), size=shape)
    return Case(f"mean{index}_{dtype}_{shape}_{axes}_{keep}_{how}", mb.build(), data)


def test_mean_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [mean_case(i) for i in range(240)]
    assert {c.name.split("_")[-1] for c in cases} == {"float", "same", "ratio", "requant"}
    check_bit_exact(model_run, tmp_path, cases)


def test_mean_large_spatial(model_run: Path, tmp_path: Path) -> None:
    """Larger reductions (and the pooled-features shape of small CNNs)."""
    cases = []
    for i, (dtype, shape) in enumerate(itertools.product(
            ["INT8", "INT16", "FLOAT32"], [[1, 49, 10, 64], [1, 25, 5, 96], [2, 7, 7, 128]])):
        rng = np.random.default_rng(11_000 + i)
        mb = ModelBuilder()
        g = mb.add_subgraph("main")
        q_in, q_out = quant(rng, dtype), quant(rng, dtype)
        x = g.add_tensor(shape, dtype, **q_in)
        a = g.add_tensor([2], "INT32", data=i32([1, 2]))
        y = g.add_tensor([shape[0], 1, 1, shape[3]], dtype, **q_out)
        g.add_operator("MEAN", [x, a], [y], {"keep_dims": True})
        g.set_io([x], [y])
        cases.append(Case(f"mean_large{i}_{dtype}", mb.build(), random_data(rng, shape, dtype)))
    check_bit_exact(model_run, tmp_path, cases)


# ---- PAD / PADV2 --------------------------------------------------------------------------------

PAD_TYPES = ["INT8", "INT16", "INT32", "FLOAT32"]


def pad_case(index: int) -> Case:
    rng = np.random.default_rng(20_000 + index)
    dtype = PAD_TYPES[index % len(PAD_TYPES)]
    op = "PADV2" if index % 3 == 0 else "PAD"
    constant = (op == "PADV2" and index % 9 != 0) or index % 10 == 1  # PAD takes one too
    rank = int(rng.integers(1, 6))
    shape = random_shape(rng, rank, 5 if rank < 4 else 3)
    pads = rng.integers(0, 4, size=(rank, 2))
    if rank == 4 and index % 2 == 0:  # image style: batch and channels unpadded
        pads[0] = pads[3] = 0
    out_shape = [s + int(p.sum()) for s, p in zip(shape, pads, strict=True)]
    q = quant(rng, dtype)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, dtype, name="x", **q)
    p = g.add_tensor([rank, 2], "INT32", name="paddings", data=i32(pads))
    inputs = [x, p]
    if constant:
        value = random_data(rng, [], dtype)
        inputs.append(g.add_tensor([] if index % 2 else [1], dtype, name="value",
                                   data=np.asarray(value).reshape(-1 if index % 2 == 0 else ()),
                                   **q))
    y = g.add_tensor(out_shape, dtype, name="y", **q)
    g.add_operator(op, inputs, [y])
    g.set_io([x], [y])
    return Case(f"pad{index}_{op}_{dtype}_{shape}_{pads.tolist()}_{constant}", mb.build(),
                random_data(rng, shape, dtype))


def test_pad_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [pad_case(i) for i in range(200)]
    check_bit_exact(model_run, tmp_path, cases)


# ---- CONCATENATION ------------------------------------------------------------------------------

CONCAT_TYPES = ["INT8", "INT8", "INT16", "INT32", "FLOAT32", "INT64", "BOOL"]


def concat_case(index: int) -> Case:
    rng = np.random.default_rng(30_000 + index)
    dtype = CONCAT_TYPES[index % len(CONCAT_TYPES)]
    rank = int(rng.integers(1, 7))
    base = random_shape(rng, rank, 4 if rank < 5 else 2)
    axis = int(rng.integers(0, rank))
    n = int(rng.integers(1, 11)) if index % 5 else int(rng.choice([1, 10]))
    shapes = []
    for _ in range(n):
        s = list(base)
        s[axis] = int(rng.integers(1, 5))  # (model_run takes no empty graph inputs)
        shapes.append(s)
    out_shape = list(base)
    out_shape[axis] = sum(s[axis] for s in shapes)
    q = quant(rng, dtype)
    if dtype == "INT16" and index % 2:  # TFLM checks only int8's quantisation
        q["scales"] *= 2
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    inputs, arrays, graph_inputs = [], [], []
    for k, s in enumerate(shapes):
        data = random_data(rng, s, dtype)
        if k > 0 and rng.random() < 0.2:  # a constant input among them
            inputs.append(g.add_tensor(s, dtype, name=f"c{k}", data=data, **q))
        else:
            t = g.add_tensor(s, dtype, name=f"x{k}", **q)
            inputs.append(t)
            graph_inputs.append(t)
            arrays.append(data)
    if dtype == "INT16" and index % 2:
        q["scales"] /= 2
    y = g.add_tensor(out_shape, dtype, name="y", **q)
    signed_axis = axis - rank if rng.random() < 0.4 else axis
    g.add_operator("CONCATENATION", inputs, [y],
                   {"axis": signed_axis, "fused_activation_function": "NONE"})
    g.set_io(graph_inputs, [y])
    return Case(f"concat{index}_{dtype}_{n}x_{out_shape}_axis{signed_axis}", mb.build(),
                tuple(arrays))


def test_concatenation_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [concat_case(i) for i in range(210)]
    check_bit_exact(model_run, tmp_path, cases)


# ---- STRIDED_SLICE ------------------------------------------------------------------------------

SLICE_TYPES = ["INT8", "INT8", "INT16", "INT32", "FLOAT32", "BOOL"]


def slice_count(begin: int, end: int, stride: int, size: int, *, bmask: bool,
                emask: bool) -> int:
    """Elements along one axis, as TFLM's StartForAxis / StopForAxis compute them."""
    def clamp(v: int, lo: int, hi: int) -> int:
        return max(lo, min(hi, v))
    lo, hi = (0, size) if stride > 0 else (-1, size - 1)
    start = (0 if stride > 0 else size - 1) if bmask else clamp(begin + size * (begin < 0), lo, hi)
    stop = (size if stride > 0 else -1) if emask else clamp(end + size * (end < 0), lo, hi)
    span = stop - start if stride > 0 else start - stop
    return max(0, -(-span // abs(stride)))


def slice_case(index: int) -> Case:
    rng = np.random.default_rng(40_000 + index)
    dtype = SLICE_TYPES[index % len(SLICE_TYPES)]
    rank = int(rng.integers(1, 5))
    shape = random_shape(rng, rank, 7 if rank < 3 else 5)
    begin, end, strides, out_shape = [], [], [], []
    bmask = emask = shrink = 0
    for d, size in enumerate(shape):
        if rng.random() < 0.15:  # shrink: one valid element
            b = int(rng.integers(-size, size))
            begin.append(b)
            end.append(int(rng.integers(-10, 10)))  # never read
            strides.append(int(rng.integers(1, 3)))
            shrink |= 1 << d
            bmask |= int(rng.random() < 0.2) << d
            continue
        while True:  # (model_run takes no empty outputs: retry down to the whole axis)
            stride = int(rng.choice([1, 1, 2, 3, -1, -2, -3]))
            b = int(rng.integers(-size - 2, size + 3))
            e = int(rng.integers(-size - 2, size + 3))
            bm, em = rng.random() < 0.25, rng.random() < 0.25
            count = slice_count(b, e, stride, size, bmask=bm, emask=em)
            if count > 0:
                break
        begin.append(b)
        end.append(e)
        strides.append(stride)
        bmask |= int(bm) << d
        emask |= int(em) << d
        out_shape.append(count)
    if index % 11 == 0:  # every element, the identity slice
        begin, end, strides, out_shape = [0] * rank, list(shape), [1] * rank, list(shape)
        bmask = emask = shrink = 0
    options = {"begin_mask": bmask, "end_mask": emask, "shrink_axis_mask": shrink,
               # TFLM micro ignores these three: so must we
               "ellipsis_mask": int(rng.integers(0, 16)) if index % 4 == 1 else 0,
               "new_axis_mask": int(rng.integers(0, 16)) if index % 4 == 2 else 0,
               "offset": bool(index % 4 == 3)}
    q = quant(rng, dtype)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, dtype, name="x", **q)
    tb = g.add_tensor([rank], "INT32", name="begin", data=i32(begin))
    te = g.add_tensor([rank], "INT32", name="end", data=i32(end))
    ts = g.add_tensor([rank], "INT32", name="strides", data=i32(strides))
    y = g.add_tensor(out_shape, dtype, name="y", **q)
    g.add_operator("STRIDED_SLICE", [x, tb, te, ts], [y], options)
    g.set_io([x], [y])
    return Case(f"slice{index}_{dtype}_{shape}_{begin}_{end}_{strides}_{bmask}_{emask}_{shrink}",
                mb.build(), random_data(rng, shape, dtype))


def test_strided_slice_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [slice_case(i) for i in range(260)]
    assert sum("-" in c.name for c in cases) > 100  # negative indices and strides
    check_bit_exact(model_run, tmp_path, cases)


# ---- SPLIT / SPLIT_V ----------------------------------------------------------------------------

SPLIT_TYPES = ["INT8", "INT16", "INT32", "FLOAT32"]


def split_case(index: int, variable: bool) -> Case:
    rng = np.random.default_rng((60_000 if variable else 50_000) + index)
    dtype = SPLIT_TYPES[index % len(SPLIT_TYPES)]
    rank = int(rng.integers(1, 6))
    shape = random_shape(rng, rank, 4 if rank < 4 else 3)
    axis = int(rng.integers(0, rank))
    n = int(rng.integers(1, 6))
    if variable:
        sizes = [int(rng.integers(1, 4)) for _ in range(n)]  # (model_run: no empty outputs)
        shape[axis] = sum(sizes)
    else:
        shape[axis] = n * int(rng.integers(1, 4))
        sizes = [shape[axis] // n] * n
    signed_axis = axis - rank if rng.random() < 0.4 else axis
    q = quant(rng, dtype)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, dtype, name="x", **q)
    a = g.add_tensor([] if index % 2 else [1], "INT32", name="axis",
                     data=i32(signed_axis).reshape([] if index % 2 else [1]))
    outputs = [g.add_tensor([k if d == axis else s for d, s in enumerate(shape)], dtype,
                            name=f"y{i}", **q) for i, k in enumerate(sizes)]
    if variable:
        listed = list(sizes)
        if n > 1 and index % 3 == 0:
            listed[int(rng.integers(0, n))] = -1
        s = g.add_tensor([n], "INT32", name="size_splits", data=i32(listed))
        g.add_operator("SPLIT_V", [x, s, a], outputs, {"num_splits": n})
    else:
        g.add_operator("SPLIT", [a, x], outputs, {"num_splits": n})
    g.set_io([x], outputs)
    return Case(f"split{'v' if variable else ''}{index}_{dtype}_{shape}_{signed_axis}_{sizes}",
                mb.build(), random_data(rng, shape, dtype))


@pytest.mark.parametrize("variable", [False, True], ids=["SPLIT", "SPLIT_V"])
def test_split_bit_exact(variable: bool, model_run: Path, tmp_path: Path) -> None:
    cases = [split_case(i, variable) for i in range(120)]
    check_bit_exact(model_run, tmp_path, cases)


# ---- SQUEEZE / TRANSPOSE ------------------------------------------------------------------------

SQUEEZE_TYPES = ["INT8", "UINT8", "INT16", "INT32", "FLOAT32", "INT64", "BOOL"]


def squeeze_case(index: int) -> Case:
    rng = np.random.default_rng(70_000 + index)
    dtype = SQUEEZE_TYPES[index % len(SQUEEZE_TYPES)]
    rank = int(rng.integers(1, 7))
    shape = [1 if rng.random() < 0.5 else int(rng.integers(2, 5)) for _ in range(rank)]
    ones = [d for d, s in enumerate(shape) if s == 1]
    if ones and index % 3:
        dims = [int(d) for d in rng.choice(ones, size=int(rng.integers(1, len(ones) + 1)),
                                            replace=False)]
        dims = [d - rank if rng.random() < 0.4 else d for d in dims]
        gone = {d % rank for d in dims}
    else:
        dims, gone = [], set(ones)
    out_shape = [s for d, s in enumerate(shape) if d not in gone]
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, dtype, name="x", **quant(rng, dtype))
    y = g.add_tensor(out_shape, dtype, name="y", **quant(rng, dtype))
    g.add_operator("SQUEEZE", [x], [y], {"squeeze_dims": dims})
    g.set_io([x], [y])
    return Case(f"squeeze{index}_{dtype}_{shape}_{dims}", mb.build(),
                random_data(rng, shape, dtype))


def transpose_case(index: int) -> Case:
    rng = np.random.default_rng(80_000 + index)
    dtype = ["INT8", "INT16", "FLOAT32"][index % 3]
    rank = int(rng.integers(1, 6))
    shape = random_shape(rng, rank, 6 if rank < 4 else 4)
    perm = [int(p) for p in rng.permutation(rank)]
    q = quant(rng, dtype)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, dtype, name="x", **q)
    p = g.add_tensor([rank], "INT32", name="perm", data=i32(perm))
    y = g.add_tensor([shape[k] for k in perm], dtype, name="y", **q)
    g.add_operator("TRANSPOSE", [x, p], [y])
    g.set_io([x], [y])
    return Case(f"transpose{index}_{dtype}_{shape}_{perm}", mb.build(),
                random_data(rng, shape, dtype))


def test_squeeze_and_transpose_bit_exact(model_run: Path, tmp_path: Path) -> None:
    cases = [squeeze_case(i) for i in range(70)] + [transpose_case(i) for i in range(160)]
    check_bit_exact(model_run, tmp_path, cases)


# ---- the pymicro_wakeword streaming models' operators -------------------------------------------


def wakeword_cases() -> list[Case]:
    """Each CONCATENATION / STRIDED_SLICE / SPLIT_V of the models, alone, exactly as there."""
    cases: list[Case] = []
    for path in WAKEWORD_MODELS:
        data = path.read_bytes()
        model = read_model(data)
        raw = schema.Model.GetRootAs(data, 0)
        graph = model.subgraphs[0]
        rng = np.random.default_rng(len(cases))
        for op in graph.operators:
            if op.op not in ("CONCATENATION", "STRIDED_SLICE", "SPLIT_V"):
                continue
            mb = ModelBuilder()
            g = mb.add_subgraph("main")
            ids: dict[int, int] = {}
            arrays, graph_inputs = [], []
            for t in {*op.inputs, *op.outputs}:
                tensor = graph.tensors[t]
                q = tensor.quantization
                kwargs: dict[str, Any] = {} if q is None else {
                    "scales": list(q.scales), "zero_points": list(q.zero_points)}
                value = None
                if tensor.is_constant:
                    buf = raw.Buffers(tensor.buffer).DataAsNumpy().tobytes()
                    value = np.frombuffer(buf, NUMPY_DTYPES[tensor.dtype]).reshape(tensor.shape)
                ids[t] = g.add_tensor(list(tensor.shape), tensor.dtype, name=tensor.name,
                                      data=value, **kwargs)
                if t in op.inputs and value is None:
                    graph_inputs.append(ids[t])
            for t in op.inputs:  # inputs in the operator's order
                if ids[t] in graph_inputs:
                    arrays.append(random_data(rng, list(graph.tensors[t].shape),
                                              graph.tensors[t].dtype))
            g.add_operator(op.op, [ids[t] for t in op.inputs], [ids[t] for t in op.outputs],
                           dict(op.options))
            g.set_io([ids[t] for t in op.inputs if ids[t] in graph_inputs],
                     [ids[t] for t in op.outputs])
            cases.append(Case(f"{path.stem}_op{op.index}_{op.op}", mb.build(), tuple(arrays)))
    return cases


def test_wakeword_operators_bit_exact(model_run: Path, tmp_path: Path) -> None:
    if not WAKEWORD_MODELS:
        pytest.skip("pymicro_wakeword not installed")
    cases = wakeword_cases()
    for op in ["CONCATENATION", "STRIDED_SLICE", "SPLIT_V"]:
        assert any(c.name.endswith(op) for c in cases), op
    check_bit_exact(model_run, tmp_path, cases)


@pytest.mark.parametrize("path", WAKEWORD_MODELS, ids=[p.stem for p in WAKEWORD_MODELS])
def test_wakeword_model_streams_bit_exact(path: Path, model_run: Path, tmp_path: Path) -> None:
    """The whole streaming model, 16 invocations in a row (its state carries over)."""
    data = path.read_bytes()
    rc, (report,) = run_tool(model_run, [path])
    if rc != 0:  # an operator of another group's without its kernel yet
        assert report["code"] == "UNSUPPORTED_OP", report
        pytest.skip(report["message"])
    model = read_model(data)
    runner = ReferenceRunner(data)
    inputs = [random_inputs(model, seed)[0] for seed in range(16)]
    want = b"".join(np.ascontiguousarray(o).tobytes() for x in inputs for o in runner.invoke([x]))
    (tmp_path / "x.bin").write_bytes(b"".join(x.tobytes() for x in inputs))
    rc, (report,) = run_tool(model_run, [path, tmp_path / "x.bin", tmp_path / "y.bin"])
    assert rc == 0, report
    assert (tmp_path / "y.bin").read_bytes() == want


# ---- what TFLM rejects --------------------------------------------------------------------------


def one_op(op: str, inputs: list[tuple[list[int], str, Any]], outputs: list[tuple[list[int], str]],
           options: dict[str, Any] | None = None, q: dict[str, Any] | None = None, *,
           quants: list[dict[str, Any]] | None = None) -> bytes:
    """A one-operator model; inputs (shape, dtype, constant data or None)."""
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    ins = []
    for k, (shape, dtype, data) in enumerate(inputs):
        kw = (quants[k] if quants else q) or {}
        ins.append(g.add_tensor(shape, dtype, data=data, **(kw if data is None or dtype != "INT32"
                                                             else {})))
    outs = [g.add_tensor(shape, dtype, **((quants[-1] if quants else q) or {}))
            for shape, dtype in outputs]
    g.add_operator(op, ins, outs, options)
    g.set_io([t for t, (_, _, d) in zip(ins, inputs, strict=True) if d is None], outs)
    return mb.build()


Q8 = {"scales": 0.1, "zero_points": 0}
REJECTED: list[tuple[str, bytes, str]] = [  # (name, model, message: PREPARE or UNSUPPORTED_OP)
    ("concat_activation", one_op("CONCATENATION", [([1, 2], "INT8", None)] * 2, [([1, 4], "INT8")],
                                 {"axis": 1, "fused_activation_function": "RELU"}, Q8),
     "fused activation 1 (TFLM takes NONE only)"),
    ("concat_11_inputs", one_op("CONCATENATION", [([1, 2], "INT8", None)] * 11,
                                [([1, 22], "INT8")], {"axis": 1}, Q8),
     "11 inputs, TFLM takes at most 10"),
    ("concat_requantise", one_op("CONCATENATION", [([1, 2], "INT8", None)] * 2,
                                 [([1, 4], "INT8")], {"axis": 1},
                                 quants=[Q8, {"scales": 0.2, "zero_points": 0}, Q8]),
     "input 1 quantised unlike the output (TFLM does not requantise)"),
    ("concat_zero_point", one_op("CONCATENATION", [([1, 2], "INT8", None)] * 2,
                                 [([1, 4], "INT8")], {"axis": 1},
                                 quants=[Q8, Q8, {"scales": 0.1, "zero_points": 3}]),
     "input 0 quantised unlike the output (TFLM does not requantise)"),
    ("concat_uint8", one_op("CONCATENATION", [([1, 2], "UINT8", None)] * 2, [([1, 4], "UINT8")],
                            {"axis": 1}), "UINT8 input not supported by the reference kernels"),
    ("concat_rank7", one_op("CONCATENATION", [([1, 1, 1, 1, 1, 1, 2], "INT8", None)] * 2,
                            [([1, 1, 1, 1, 1, 1, 4], "INT8")], {"axis": 6}, Q8),
     "rank 7, TFLM supports up to 6"),
    ("slice_rank5", one_op("STRIDED_SLICE", [([1, 1, 1, 1, 4], "INT8", None),
                                             ([5], "INT32", i32([0] * 5)),
                                             ([5], "INT32", i32([1, 1, 1, 1, 2])),
                                             ([5], "INT32", i32([1] * 5))],
                           [([1, 1, 1, 1, 2], "INT8")], {}, Q8),
     "input rank 5, TFLM supports up to 4"),
    ("slice_begin_not_constant", one_op("STRIDED_SLICE", [([4], "INT8", None), ([1], "INT32", None),
                                                          ([1], "INT32", i32([2])),
                                                          ([1], "INT32", i32([1]))],
                                        [([2], "INT8")], {}, Q8),
     "begin, end and strides must be constant INT32"),
    ("slice_zero_stride", one_op("STRIDED_SLICE", [([4], "INT8", None), ([1], "INT32", i32([0])),
                                                   ([1], "INT32", i32([2])),
                                                   ([1], "INT32", i32([0]))],
                                 [([2], "INT8")], {}, Q8), "stride of axis 0 is 0"),
    ("slice_wrong_output", one_op("STRIDED_SLICE", [([6], "INT8", None), ([1], "INT32", i32([1])),
                                                    ([1], "INT32", i32([5])),
                                                    ([1], "INT32", i32([2]))],
                                  [([3], "INT8")], {}, Q8), "output dimension 0 should be 2"),
    ("pad_not_constant", one_op("PAD", [([2], "INT8", None), ([1, 2], "INT32", None)],
                                [([4], "INT8")], None, Q8),
     "paddings must be a constant INT32 tensor"),
    ("pad_rank6", one_op("PAD", [([1, 1, 1, 1, 1, 2], "INT8", None),
                                 ([6, 2], "INT32", i32([[0, 0]] * 5 + [[1, 1]]))],
                         [([1, 1, 1, 1, 1, 4], "INT8")], None, Q8),
     "input rank 6, output rank 6 (up to 5)"),
    ("pad_wrong_output", one_op("PAD", [([2], "INT8", None), ([1, 2], "INT32", i32([[1, 1]]))],
                                [([5], "INT8")], None, Q8),
     "output dimension 0 is 5, padding gives 4"),
    ("padv2_constant_quantisation", one_op(
        "PADV2", [([2], "INT8", None), ([1, 2], "INT32", i32([[1, 1]])),
                  ([], "INT8", np.int8(3))], [([4], "INT8")], None,
        quants=[Q8, Q8, {"scales": 0.1, "zero_points": 1}, Q8]),
     "constant_values quantised unlike the output"),
    ("transpose_rank6", one_op("TRANSPOSE", [([1, 1, 1, 1, 1, 2], "INT8", None),
                                             ([6], "INT32", i32([5, 4, 3, 2, 1, 0]))],
                               [([2, 1, 1, 1, 1, 1], "INT8")], None, Q8),
     "rank 6, TFLM supports 1 to 5"),
    ("transpose_perm_not_constant", one_op("TRANSPOSE", [([2, 3], "INT8", None),
                                                         ([2], "INT32", None)],
                                           [([3, 2], "INT8")], None, Q8),
     "the permutation must be a constant INT32 tensor"),
    ("transpose_perm_out_of_bounds", one_op("TRANSPOSE", [([2, 3], "INT8", None),
                                                          ([2], "INT32", i32([1, 2]))],
                                            [([3, 2], "INT8")], None, Q8),
     "permutation entry 1 (2) out of bounds or repeated"),
    ("transpose_int32", one_op("TRANSPOSE", [([2, 3], "INT32", None), ([2], "INT32", i32([1, 0]))],
                               [([3, 2], "INT32")]),
     "INT32 input not supported by the reference kernels"),
    ("split_axis_not_constant", one_op("SPLIT", [([], "INT32", None), ([2, 4], "INT8", None)],
                                       [([2, 2], "INT8")] * 2, {"num_splits": 2}, Q8),
     "the axis must be a constant INT32 tensor"),
    ("split_axis_out_of_range", one_op("SPLIT", [([], "INT32", i32(2)), ([2, 4], "INT8", None)],
                                       [([2, 2], "INT8")] * 2, {"num_splits": 2}, Q8),
     "axis 2 outside the input's rank 2"),
    ("split_v_axis_out_of_range", one_op("SPLIT_V", [([2, 4], "INT8", None),
                                                     ([2], "INT32", i32([1, 3])),
                                                     ([], "INT32", i32(-3))],
                                         [([2, 1], "INT8"), ([2, 3], "INT8")],
                                         {"num_splits": 2}, Q8),
     "axis -3 outside the input's rank 2"),
    ("split_uint8", one_op("SPLIT", [([], "INT32", i32(1)), ([2, 4], "UINT8", None)],
                           [([2, 2], "UINT8")] * 2, {"num_splits": 2}), "type 3 not supported"),
    ("squeeze_not_one", one_op("SQUEEZE", [([1, 2, 1], "INT8", None)], [([1, 1], "INT8")],
                               {"squeeze_dims": [1]}, Q8),
     "squeeze_dims 1: no dimension of size 1 there"),
    ("squeeze_output_too_small", one_op("SQUEEZE", [([1, 2, 1, 3], "INT8", None)],
                                        [([6], "INT8")], {"squeeze_dims": []}, Q8),
     "output dimension 1 too small for input's 3"),
    ("mean_float_bad_axis", one_op("MEAN", [([2, 3], "FLOAT32", None), ([1], "INT32", i32([2]))],
                                   [([2, 3], "FLOAT32")], {"keep_dims": True}),
     "axis 2 outside the input's rank 2"),
    ("mean_uint8", one_op("MEAN", [([2, 3], "UINT8", None), ([1], "INT32", i32([1]))],
                          [([2, 1], "UINT8")], {"keep_dims": True}, Q8),
     "UINT8 input not supported by the reference kernels"),
]


@pytest.mark.parametrize("name,data,message", REJECTED, ids=[r[0] for r in REJECTED])
def test_prepare_rejects_what_tflm_rejects(name: str, data: bytes, message: str,
                                           model_run: Path, tmp_path: Path) -> None:
    """TFLM fails in its Prepare or (for some) its first invoke; we reject in prepare.

    (Or before it, where no reference kernel takes the input type at all.)
    """
    model = read_model(data)
    graph = model.subgraphs[0]
    with pytest.raises(ModelError):
        runner = ReferenceRunner(data)
        runner.invoke([np.zeros(graph.tensors[t].shape, NUMPY_DTYPES[graph.tensors[t].dtype])
                       for t in graph.inputs])
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    rc, (report,) = run_tool(model_run, [path])
    code = "UNSUPPORTED_OP" if "reference kernels" in message else "PREPARE"
    assert rc == 1 and report["code"] == code, report
    assert report["message"].endswith(message), report


def test_tflm_quirks_we_reject(model_run: Path, tmp_path: Path) -> None:
    """Where TFLM runs on and computes nonsense, we reject in prepare instead.

    An int8 MEAN over an axis outside the rank: TFLM zeroes the output and succeeds. A
    negative padding: TFLM pads from the wrong place. A shrunk STRIDED_SLICE axis with a
    negative stride: TFLM copies nothing, the output keeps whatever was there.
    """
    mean = one_op("MEAN", [([2, 3], "INT8", None), ([1], "INT32", i32([5]))],
                  [([2, 3], "INT8")], {"keep_dims": True}, Q8)
    out = ReferenceRunner(mean).invoke([np.full([2, 3], 7, np.int8)])
    assert not out[0].any()
    pad = one_op("PAD", [([3, 3], "INT8", None), ([2, 2], "INT32", i32([[-1, 0], [0, -1]]))],
                 [([2, 2], "INT8")], None, Q8)
    x = np.arange(9, dtype=np.int8).reshape(3, 3)
    assert ReferenceRunner(pad).invoke([x])[0].tolist() != x[1:, :2].tolist()
    shrink = one_op("STRIDED_SLICE", [([2, 3], "INT8", None), ([2], "INT32", i32([1, 0])),
                                      ([2], "INT32", i32([2, 3])), ([2], "INT32", i32([-1, 1]))],
                    [([3], "INT8")], {"shrink_axis_mask": 1}, Q8)
    ReferenceRunner(shrink).invoke([np.zeros([2, 3], np.int8)])  # runs
    for name, data, message in [
            ("mean", mean, "axis 5 outside the input's rank 2"),
            ("pad", pad, "negative padding in dimension 0"),
            ("shrink", shrink, "shrunk axis 0: begin 1 outside the dimension or negative stride")]:
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(data)
        rc, (report,) = run_tool(model_run, [path])
        assert rc == 1 and report["code"] == "PREPARE", report
        assert report["message"].endswith(message), report
