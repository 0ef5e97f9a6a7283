"""Activation kernels on the native build, against TFLM, byte for byte.

Generated one-operator models run through tests/native/model_run.c (the firmware's
interpreter and reference kernels, ASan + UBSan), several invocations per model; every output
must equal tflite_micro's:

- LOGISTIC and TANH int8 (TFLM's gemmlowp fixed point), int16 (the sigmoid table; power-of-two
  input scales and others) and float32;
- RELU and RELU6 int8, int16 and float32;
- LEAKY_RELU int8, int16 and float32, alpha negative, zero, small, above 1;
- HARD_SWISH int8 (TFLM's int16 fixed point) and float32;
- SOFTMAX float32.

Shapes of rank 1 to 4, scales over orders of magnitude, zero points at the extremes, the whole
int8 range in every int8 model (one invocation holds each of -128..127), int16 extremes, and
float specials (+-0, +-inf, NaN, denormals, TFLM's logistic cut-offs; finite ones only for
SOFTMAX, where an inf turns into competing NaNs whose sign depends on operand order). The
float kernels call the C library's expf / tanhf as TFLM does: natively that is the same
glibc, hence exact (on a board, picolibc's may differ in the last bit).

TFLM quirks pinned: int8 TANH ignores the output's scale and zero point, int8 LOGISTIC its
scale, RELU6 both (no requantisation). What TFLM rejects in Prepare we reject too; input
scales where TFLM's arithmetic is undefined are refused with a message.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    zero_point,
)
from .tflite_builder import ModelBuilder

INVOCATIONS = 4
Q15 = 2.0 ** -15


# ---- model and data generation ------------------------------------------------------------------


def one_op_model(op: str, dtype: str, shape: list[int], in_q: dict[str, Any],
                 out_q: dict[str, Any], *, options: dict[str, Any] | None = None,
                 out_dtype: str | None = None) -> bytes:
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(shape, dtype, name="x", **in_q)
    y = g.add_tensor(shape, out_dtype or dtype, name="y", **out_q)
    g.add_operator(op, [x], [y], options)
    g.set_io([x], [y])
    return mb.build()


def random_shape(rng: np.random.Generator, min_elements: int = 1) -> list[int]:
    """Rank 1 to 4; the last dimension grown to reach min_elements."""
    shape = [int(rng.choice([1, 2, 3, 4, 5, 7, 8, 16, 33])) for _ in range(int(rng.integers(1, 5)))]
    lead = int(np.prod(shape[:-1]))
    shape[-1] = max(shape[-1], -(-min_elements // lead))
    return shape


def int_data(rng: np.random.Generator, dtype: str, shape: list[int]) -> np.ndarray:
    """INVOCATIONS arrays of shape: the first covers the type's range (all of it for int8)."""
    n = int(np.prod(shape))
    if dtype == "INT8":
        full = np.resize(rng.permutation(np.arange(-128, 128)), n)
        low, high = -128, 128
    else:
        edges = np.array([-32768, -32767, -1, 0, 1, 32766, 32767])
        full = np.resize(np.concatenate([edges, rng.integers(-32768, 32768, size=n)]), n)
        low, high = -32768, 32768
    arrays = [full]
    for k in range(1, INVOCATIONS):
        if k == 1:  # a narrow band around a random centre
            centre = int(rng.integers(low, high))
            arrays.append(np.clip(centre + rng.integers(-40, 41, size=n), low, high - 1))
        else:
            arrays.append(rng.integers(low, high, size=n))
    np_type = np.int8 if dtype == "INT8" else np.int16
    return np.stack([a.reshape(shape) for a in arrays]).astype(np_type)


FLOAT_SPECIALS = np.array(
    [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-38, 3e38, -3e38, 3.0, -3.0, 6.0,
     -9.0, -9.000001, 16.619047164916992188, 16.62, 88.7, -88.7, -103.0, 0.5, -0.5, 1e-8],
    dtype=np.float32)


def float_data(rng: np.random.Generator, shape: list[int], finite: bool = False) -> np.ndarray:
    """INVOCATIONS arrays; the first holds FLOAT_SPECIALS (only the finite ones if asked)."""
    n = int(np.prod(shape))
    specials = FLOAT_SPECIALS[np.isfinite(FLOAT_SPECIALS)] if finite else FLOAT_SPECIALS
    arrays = []
    for k in range(INVOCATIONS):
        magnitude = [1.0, 5.0, 30.0, 1e-3][k]
        a = (rng.standard_normal(n) * magnitude).astype(np.float32)
        if k == 0:
            a[: min(n, len(specials))] = specials[: min(n, len(specials))]
            rng.shuffle(a)
        arrays.append(a.reshape(shape))
    return np.stack(arrays)


# ---- per-op case generators ---------------------------------------------------------------------


def int8_logistic_tanh(op: str, rng: np.random.Generator, index: int) -> tuple[Any, ...]:
    # Scales from 2^-20 to 2^5: radius from 2^28 down to 0 (every input saturates from 16 on).
    in_scale = log_uniform(rng, -6, 1.5) if index % 5 else float(rng.choice(
        [2.0 ** -20, 2.0 ** -28, 1 / 16, 0.5, 1.0, 8.0, 16.0, 32.0, 0.1]))
    in_q = {"scales": in_scale, "zero_points": zero_point(rng)}
    if op == "LOGISTIC":  # TFLM checks the zero point only
        out_scale = 1 / 256 if index % 3 else log_uniform(rng, -3, 1)
        out_q = {"scales": out_scale, "zero_points": -128}
    else:  # TFLM checks neither
        out_q = {"scales": 1 / 128, "zero_points": 0} if index % 3 else \
            {"scales": log_uniform(rng, -3, 1), "zero_points": zero_point(rng)}
    return in_q, out_q, None


def int16_logistic_tanh(op: str, rng: np.random.Generator, index: int) -> tuple[Any, ...]:
    kind = index % 4
    if kind == 0:  # the power-of-two fast path
        in_scale = 2.0 ** -12 if op == "LOGISTIC" or index % 8 else 2.0 ** -11
    elif kind == 1:  # other powers of two, and near ones (CheckedLog2 tolerates 1e-3)
        in_scale = 2.0 ** int(rng.integers(-20, 1)) * float(rng.choice([1.0, 1.0002, 0.9995]))
    else:
        in_scale = log_uniform(rng, -7, 0.4)
    return {"scales": in_scale, "zero_points": 0}, {"scales": Q15, "zero_points": 0}, None


def int_relu(rng: np.random.Generator, dtype: str) -> tuple[Any, ...]:
    in_scale, out_scale = log_uniform(rng, -4, 1), log_uniform(rng, -4, 1)
    if dtype == "INT8":
        return ({"scales": in_scale, "zero_points": zero_point(rng)},
                {"scales": out_scale, "zero_points": zero_point(rng)}, None)
    return {"scales": in_scale, "zero_points": 0}, {"scales": out_scale, "zero_points": 0}, None


def int_relu6(rng: np.random.Generator, dtype: str) -> tuple[Any, ...]:
    # TFLM keeps the input's quantisation: the output's may be anything.
    in_scale = log_uniform(rng, -4, 0.5) if dtype == "INT8" else log_uniform(rng, -5, -1)
    in_zp = zero_point(rng) if dtype == "INT8" else int(rng.choice([0, 0, -32768, 1000, -777]))
    return ({"scales": in_scale, "zero_points": in_zp},
            {"scales": log_uniform(rng, -4, 1), "zero_points": zero_point(rng)}, None)


ALPHAS = [0.0, 0.01, 0.1, 0.2, 0.3, 1.0, 1.5, 3.0, -0.5, -2.0]


def int_leaky(rng: np.random.Generator, dtype: str) -> tuple[Any, ...]:
    alpha = float(np.float32(rng.choice(ALPHAS) if rng.random() < 0.6 else rng.uniform(-3, 3)))
    in_scale, out_scale = log_uniform(rng, -4, 0), log_uniform(rng, -4, 0)
    if dtype == "INT8":
        zps = zero_point(rng), zero_point(rng)
    else:
        zps = int(rng.choice([0, -32768, 32767, 5])), int(rng.choice([0, -32768, 32767, -3]))
    return ({"scales": in_scale, "zero_points": zps[0]},
            {"scales": out_scale, "zero_points": zps[1]}, {"alpha": alpha})


def int8_hard_swish(rng: np.random.Generator) -> tuple[Any, ...]:
    in_scale = log_uniform(rng, -4, 1)
    # TFLM requires input_scale / 128 <= output_scale.
    out_scale = float(np.float32(in_scale / 128 * 10 ** rng.uniform(0, 3)))
    return ({"scales": in_scale, "zero_points": zero_point(rng)},
            {"scales": out_scale, "zero_points": zero_point(rng)}, None)


def make_case(op: str, dtype: str, index: int) -> Case:
    rng = np.random.default_rng([zlib.crc32(op.encode()), len(dtype), index])
    shape = random_shape(rng, 256 if dtype == "INT8" else 1)
    params: tuple[Any, ...]
    if dtype == "FLOAT32":
        params = ({}, {}, {"beta": float(np.float32(rng.choice([1.0, 0.5, 2.0, 0.1, 10.0, 0.0])))}
                  if op == "SOFTMAX" else {"alpha": float(np.float32(rng.choice(ALPHAS)))}
                  if op == "LEAKY_RELU" else None)
        # SOFTMAX: an inf makes inf - inf, and which of two NaNs a sum keeps is up to the
        # compiler's operand order (and the CPU): not something to be bit-exact about.
        data = float_data(rng, shape, finite=op == "SOFTMAX")
    else:
        generators: dict[str, Callable[[], tuple[Any, ...]]] = {
            "LOGISTIC": lambda: (int8_logistic_tanh if dtype == "INT8" else int16_logistic_tanh)(
                op, rng, index),
            "TANH": lambda: (int8_logistic_tanh if dtype == "INT8" else int16_logistic_tanh)(
                op, rng, index),
            "RELU": lambda: int_relu(rng, dtype),
            "RELU6": lambda: int_relu6(rng, dtype),
            "LEAKY_RELU": lambda: int_leaky(rng, dtype),
            "HARD_SWISH": lambda: int8_hard_swish(rng),
        }
        params = generators[op]()
        data = int_data(rng, dtype, shape)
    in_q, out_q, options = params
    model = one_op_model(op, dtype, shape, in_q, out_q, options=options)
    return Case(f"{op.lower()}_{dtype.lower()}_{index}", model, data)


def reference_invocations(case: Case) -> bytes:
    """tflite_micro on each invocation of the case in turn (one interpreter)."""
    runner = ReferenceRunner(case.model)
    assert isinstance(case.input, np.ndarray)
    return b"".join(np.ascontiguousarray(runner.invoke([x])[0]).tobytes() for x in case.input)


KERNELS = [
    ("LOGISTIC", "INT8", 300), ("LOGISTIC", "INT16", 200), ("LOGISTIC", "FLOAT32", 100),
    ("TANH", "INT8", 300), ("TANH", "INT16", 200), ("TANH", "FLOAT32", 100),
    ("RELU", "INT8", 200), ("RELU", "INT16", 200), ("RELU", "FLOAT32", 100),
    ("RELU6", "INT8", 200), ("RELU6", "INT16", 200), ("RELU6", "FLOAT32", 100),
    ("LEAKY_RELU", "INT8", 200), ("LEAKY_RELU", "INT16", 200), ("LEAKY_RELU", "FLOAT32", 100),
    ("HARD_SWISH", "INT8", 300), ("HARD_SWISH", "FLOAT32", 100),
    ("SOFTMAX", "FLOAT32", 200),
]


@pytest.mark.parametrize("op", sorted({k[0] for k in KERNELS}))
def test_bit_exact(op: str, model_run: Path, tmp_path: Path) -> None:
    cases = [make_case(op, dtype, i) for name, dtype, count in KERNELS if name == op
             for i in range(count)]
    check_bit_exact(model_run, tmp_path, cases, reference_invocations)


def test_every_int8_value_is_fed() -> None:
    """Each int8 case's first invocation holds all of -128..127."""
    for op, dtype, _ in KERNELS:
        if dtype == "INT8":
            data = make_case(op, dtype, 1).input
            assert isinstance(data, np.ndarray)
            assert set(np.unique(data[0]).tolist()) == set(range(-128, 128)), op


# ---- quirks -------------------------------------------------------------------------------------


def test_output_quantisation_tflm_ignores(model_run: Path, tmp_path: Path) -> None:
    """int8 TANH and RELU6 give the same bytes whatever the output's quantisation, LOGISTIC
    whatever the output's scale: TFLM never requantises to it; and so do we, exactly."""
    data = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    in_q = {"scales": 0.05, "zero_points": 3}
    variants = {
        "TANH": [{"scales": 1 / 128, "zero_points": 0}, {"scales": 0.3, "zero_points": 50}],
        "RELU6": [{"scales": 0.05, "zero_points": 3}, {"scales": 2.0, "zero_points": -100}],
        "LOGISTIC": [{"scales": 1 / 256, "zero_points": -128}, {"scales": 0.7,
                                                                 "zero_points": -128}],
    }
    cases = []
    for op, outs in variants.items():
        cases += [Case(f"quirk_{op}_{k}", one_op_model(op, "INT8", [1, 256], in_q, out_q),
                       data[None]) for k, out_q in enumerate(outs)]
    check_bit_exact(model_run, tmp_path, cases, reference_invocations)
    for k in range(0, len(cases), 2):
        assert reference_invocations(cases[k]) == reference_invocations(cases[k + 1])


def test_leaky_relu_negative_alpha_ties_round_toward_zero(model_run: Path,
                                                          tmp_path: Path) -> None:
    """alpha -0.75, equal scales: -2 -> 1.5 -> 1 (TFLM scales by |alpha| and negates)."""
    model = one_op_model("LEAKY_RELU", "INT8", [4], {"scales": 0.5}, {"scales": 0.5},
                         options={"alpha": -0.75})
    case = Case("leaky_tie", model, np.array([[-2, -6, -10, 2]], np.int8))
    assert reference_invocations(case) == bytes([1, 4, 7, 2])
    check_bit_exact(model_run, tmp_path, [case], reference_invocations)


# ---- Prepare rejections -------------------------------------------------------------------------


def rejected(model_run: Path, tmp_path: Path, name: str, model: bytes, tflm_rejects: bool) -> str:
    if tflm_rejects:
        with pytest.raises(ModelError):
            ReferenceRunner(model)
    report = one_error(model_run, write(tmp_path, name, model))
    assert report["code"] == "PREPARE" and report["node"] == 0, report
    return str(report["message"])


def test_prepare_rejects_what_tflm_rejects(model_run: Path, tmp_path: Path) -> None:
    s8 = {"scales": 0.05, "zero_points": 0}
    cases: list[tuple[str, bytes, str]] = [
        ("logistic_zp", one_op_model("LOGISTIC", "INT8", [4], s8,
                                     {"scales": 1 / 256, "zero_points": -100}),
         "node 0 (LOGISTIC): output zero point must be -128"),
        ("logistic16_zp", one_op_model("LOGISTIC", "INT16", [4], {"scales": 2 ** -12,
                                                                  "zero_points": 3},
                                       {"scales": Q15}),
         "node 0 (LOGISTIC): int16 input and output need zero point 0"),
        ("tanh16_out_scale", one_op_model("TANH", "INT16", [4], {"scales": 2 ** -12},
                                          {"scales": 2 ** -14}),
         "node 0 (TANH): int16 output scale must be 2^-15"),
        ("relu16_zp", one_op_model("RELU", "INT16", [4], {"scales": 0.1},
                                   {"scales": 0.1, "zero_points": 4}),
         "node 0 (RELU): int16 input and output need zero point 0"),
        ("hard_swish_exponent", one_op_model("HARD_SWISH", "INT8", [4], {"scales": 1.0},
                                             {"scales": 1 / 256}),
         "node 0 (HARD_SWISH): input scale / 128 must not exceed output scale"),
        ("tanh_types", one_op_model("TANH", "INT8", [4], s8, {"scales": Q15},
                                    out_dtype="INT16"),
         "node 0 (TANH): input type 9, output type 7"),
        ("leaky_types", one_op_model("LEAKY_RELU", "FLOAT32", [4], {}, s8, options={"alpha": 0.2},
                                     out_dtype="INT8"),
         "node 0 (LEAKY_RELU): input type 0, output type 9"),
        ("softmax_types", one_op_model("SOFTMAX", "FLOAT32", [1, 4], {}, s8, options={"beta": 1.0},
                                       out_dtype="INT8"),
         "node 0 (SOFTMAX): input type 0, output type 9"),
    ]
    for name, model, message in cases:
        assert rejected(model_run, tmp_path, name, model, True) == message, name


def test_undefined_tflm_arithmetic_is_refused(model_run: Path, tmp_path: Path) -> None:
    """Input scales where TFLM shifts by a negative amount (int8 LOGISTIC / TANH below 2^-28)
    or its int16 product overflows (int16 scale over 2.67): a clear rejection instead."""
    tiny = one_op_model("TANH", "INT8", [4], {"scales": 1e-9}, {"scales": 1 / 128})
    assert rejected(model_run, tmp_path, "tiny", tiny, False) == \
        "node 0 (TANH): input scale out of range (2^-28 .. 2^35)"
    big = one_op_model("LOGISTIC", "INT16", [4], {"scales": 3.0}, {"scales": Q15})
    assert rejected(model_run, tmp_path, "big", big, False) == \
        "node 0 (LOGISTIC): int16 input scale too large (over 2.67)"
