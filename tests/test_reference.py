"""The reference runner on tflite_micro, and seeded random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from mcubench.errors import ModelError, UsageError
from mcubench.model import read_model
from mcubench.reference import ReferenceRunner, random_inputs, run_reference

from .models import SHARED_MODELS, model_path
from .tflite_builder import ModelBuilder, accumulator_model, fully_connected_model


@pytest.mark.parametrize("name", sorted(SHARED_MODELS))
def test_every_shared_model_runs_and_is_deterministic(name: str) -> None:
    data = model_path(name).read_bytes()
    model = read_model(data)
    inputs = random_inputs(model, seed=1)
    first = run_reference(data, inputs)
    again = run_reference(data, random_inputs(model, seed=1))
    graph = model.subgraphs[0]
    assert len(first) == len(graph.outputs)
    for out, t in zip(first, (graph.tensors[i] for i in graph.outputs), strict=True):
        assert (out.dtype.name.upper(), out.shape) == (t.dtype, t.shape)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_random_inputs_are_seeded_and_span_the_dtype() -> None:
    model = read_model(model_path("vww_96_int8.tflite").read_bytes())
    (a,), (b,), (c,) = (random_inputs(model, seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.int8 and a.shape == (1, 96, 96, 3)
    assert (a.min(), a.max()) == (-128, 127)  # 27,648 draws: both ends certainly hit


@pytest.mark.parametrize(("dtype", "low", "high"), [
    ("INT16", -32768, 32767), ("FLOAT32", -1.0, 1.0), ("UINT8", 0, 255),
])
def test_random_inputs_per_dtype(dtype: str, low: float, high: float) -> None:
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 100_000], dtype)
    g.set_io([x], [x])
    (a,) = random_inputs(read_model(mb.build()), seed=0)
    assert a.dtype.name.upper() == dtype and a.shape == (1, 100_000)
    assert low <= a.min() and a.max() <= high
    span = high - low
    assert a.min() < low + span / 50 and a.max() > high - span / 50


def test_built_model_agrees_with_float_arithmetic() -> None:
    """Checks the builder's quantisation wiring: TFLM's int8 result ~ the float result."""
    data = fully_connected_model(batch=3, depth=16, units=7, seed=4)
    model = read_model(data)
    graph = model.subgraphs[0]
    x, w, bias, y = graph.tensors
    (inp,) = random_inputs(model, seed=2)
    (out,) = run_reference(data, [inp])
    rng = np.random.default_rng(4)  # the builder helper's draws, in its order
    weights = rng.integers(-127, 128, size=(7, 16))
    b = rng.integers(-500, 500, size=7)
    assert x.quantization and w.quantization and bias.quantization and y.quantization
    real = ((inp.astype(np.float64) - x.quantization.zero_points[0]) * x.quantization.scales[0]) \
        @ (weights * w.quantization.scales[0]).T + b * bias.quantization.scales[0]
    expected = np.clip(np.round(real / y.quantization.scales[0]) + y.quantization.zero_points[0],
                       -128, 127)
    assert np.abs(out.astype(np.int32) - expected).max() <= 1


def test_runner_rejects_wrong_inputs() -> None:
    data = fully_connected_model(depth=4)
    runner = ReferenceRunner(data)
    with pytest.raises(UsageError, match="takes 1 input"):
        runner.invoke([])
    with pytest.raises(UsageError, match=r"shape \[1, 5\], the model wants \[1, 4\]"):
        runner.invoke([np.zeros((1, 5), np.int8)])
    with pytest.raises(UsageError, match="dtype int16, the model wants INT8"):
        runner.invoke([np.zeros((1, 4), np.int16)])


def test_tflm_failures_carry_what_tflm_printed() -> None:
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x, y = g.add_tensor([1, 4]), g.add_tensor([1, 4])
    g.add_operator("MY_OP", [x], [y], custom=True)
    g.set_io([x], [y])
    with pytest.raises(ModelError, match=r"(?s)tflite_micro: could not load the model.*CUSTOM"):
        run_reference(mb.build(), [np.zeros((1, 4), np.int8)])


def test_state_carries_across_invocations_and_reset_zeroes_it() -> None:
    """TFLM's own semantics, which the firmware must copy: Reset() zeroes resource
    variables, and CALL_ONCE does not run its init subgraph again afterwards."""
    runner = ReferenceRunner(accumulator_model(width=16))
    ones = np.ones((1, 16), np.int8)
    (first,) = runner.invoke([ones])
    (second,) = runner.invoke([ones])
    np.testing.assert_array_equal(first, [np.arange(16) + 1])
    np.testing.assert_array_equal(second, [np.arange(16) + 2])
    runner.reset()
    (after_reset,) = runner.invoke([ones])
    np.testing.assert_array_equal(after_reset, ones)
