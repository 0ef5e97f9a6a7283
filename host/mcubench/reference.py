"""The oracle: models run on ``tflite_micro``, the real TensorFlow Lite Micro, on the host.

TFLM reports its problems with ``MicroPrintf`` on file descriptor 2, not in the Python
exception, so calls into it capture that descriptor and put what it said into the
``ModelError``. Its allocation figures (``print_allocations``) arrive the same way.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from typing import Any, TypeVar

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from mcubench.errors import ModelError, UsageError
from mcubench.model.arena import plan_arena
from mcubench.model.tflite import Model, Tensor, read_model

NUMPY_DTYPES: dict[str, type[np.generic]] = {
    "INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "UINT16": np.uint16,
    "INT32": np.int32, "UINT32": np.uint32, "INT64": np.int64, "UINT64": np.uint64,
    "FLOAT16": np.float16, "FLOAT32": np.float32, "FLOAT64": np.float64, "BOOL": np.bool_,
}

T = TypeVar("T")


@dataclass(frozen=True)
class TflmArena:
    """TFLM's arena use after allocation, from its RecordingMicroAllocator."""

    total_bytes: int
    non_persistent_bytes: int  # the head: planned activations and scratch buffers
    persistent_bytes: int  # the tail: structs, quantisation, variables (size depends on pointers)


class ReferenceRunner:
    """One tflite_micro interpreter. Variables keep their state from one invoke to the next."""

    def __init__(self, model_bytes: bytes, model: Model | None = None, *,
                 preserve_all_tensors: bool = False) -> None:
        """``preserve_all_tensors``: every intermediate tensor keeps its value (``tensor``)."""
        self.model = model if model is not None else read_model(model_bytes)
        # Room for the planned activations plus the persistent part, which never exceeds
        # the model itself by much; unused arena costs nothing (pages are never touched).
        # Preserving every tensor places each one apart: their sum bounds the arena then.
        planned = (sum(t.nbytes or 0 for sg in self.model.subgraphs for t in sg.tensors)
                   if preserve_all_tensors else plan_arena(self.model).peak_bytes)
        arena = 2 * (len(model_bytes) + planned) + (1 << 20)
        config = (runtime.InterpreterConfig.kPreserveAllTensors if preserve_all_tensors
                  else runtime.InterpreterConfig.kAllocationRecording)
        self._interpreter: Any = _tflm("could not load the model", lambda: (
            runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena,
                                           intrepreter_config=config)))

    def invoke(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Set the inputs, run once, return copies of the outputs."""
        check_inputs(self.model, inputs)
        for n, array in enumerate(inputs):
            _tflm(f"setting input {n} failed",
                  partial(self._interpreter.set_input, np.ascontiguousarray(array), n))
        _tflm("invoke failed", self._interpreter.invoke)
        return [np.array(_tflm(f"reading output {n} failed",
                               partial(self._interpreter.get_output, n)), copy=True)
                for n in range(len(self.model.subgraphs[0].outputs))]

    def tensor(self, index: int, subgraph: int = 0) -> np.ndarray:
        """Tensor ``index``'s value after the last invoke (needs ``preserve_all_tensors``
        for anything but inputs, outputs and constants)."""
        found = _tflm(f"reading tensor {index} failed",
                      partial(self._interpreter.GetTensor, index, subgraph))
        return np.array(found["tensor_data"], copy=True)

    def reset(self) -> None:
        """Back to the state right after allocation (variables cleared)."""
        _tflm("reset failed", self._interpreter.reset)

    def arena(self) -> TflmArena:
        """What TFLM's recording allocator says the arena holds."""
        _, text = _tflm_said("print_allocations failed", self._interpreter.print_allocations)
        figures = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text))
        if len(figures) != 3:
            raise ModelError(f"tflite_micro printed no arena figures: {text.strip()!r}")
        return TflmArena(int(figures["total"]), int(figures["head"]), int(figures["tail"]))


class SecondOpinion:
    """TFLite's own reference kernels (LiteRT's BUILTIN_REF op resolver) on the same model.

    Not the oracle: TFLite and TFLM may round some operators differently. ``mcubench run
    --second-opinion`` reports whether it agrees with tflite_micro and with the device.
    """

    def __init__(self, model_bytes: bytes, model: Model | None = None) -> None:
        from ai_edge_litert import interpreter as litert  # noqa: PLC0415 (loads TFLite)

        self.model = model if model is not None else read_model(model_bytes)
        self.name = f"ai-edge-litert {version('ai-edge-litert')} BUILTIN_REF"
        try:
            self._interpreter: Any = litert.Interpreter(
                model_content=bytes(model_bytes),
                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"LiteRT could not load the model: {exc}") from exc

    def invoke(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        check_inputs(self.model, inputs)
        for detail, array in zip(self._interpreter.get_input_details(), inputs, strict=True):
            self._interpreter.set_tensor(detail["index"], np.ascontiguousarray(array))
        self._interpreter.invoke()
        return [np.array(self._interpreter.get_tensor(d["index"]), copy=True)
                for d in self._interpreter.get_output_details()]


def run_reference(model_bytes: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Outputs of one inference on a fresh tflite_micro interpreter."""
    return ReferenceRunner(model_bytes).invoke(inputs)


def random_inputs(model: Model, seed: int) -> list[np.ndarray]:
    """Seeded inputs for subgraph 0: integers over their dtype's full range, floats in [-1, 1)."""
    rng = np.random.default_rng(seed)
    graph = model.subgraphs[0]
    arrays = []
    for t in (graph.tensors[i] for i in graph.inputs):
        if t.dtype not in NUMPY_DTYPES:
            raise ModelError(f"input tensor {t.index} ({t.name!r}): no random data for "
                             f"dtype {t.dtype}")
        dtype = np.dtype(NUMPY_DTYPES[t.dtype])
        if dtype.kind == "b":
            arrays.append(rng.integers(0, 2, size=t.shape).astype(dtype))
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, size=t.shape, dtype=dtype,
                                       endpoint=True))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, size=t.shape).astype(dtype))
    return arrays


def check_inputs(model: Model, inputs: Sequence[np.ndarray]) -> None:
    """UsageError unless there is one array per input of subgraph 0, of its dtype and shape."""
    graph = model.subgraphs[0]
    expected = [graph.tensors[t] for t in graph.inputs]
    if len(inputs) != len(expected):
        raise UsageError(f"the model takes {len(expected)} input(s), got {len(inputs)}")
    for n, (array, tensor) in enumerate(zip(inputs, expected, strict=True)):
        _check_input(n, array, tensor)


def _check_input(n: int, array: np.ndarray, tensor: Tensor) -> None:
    expected = NUMPY_DTYPES.get(tensor.dtype)
    if expected is None or array.dtype != np.dtype(expected):
        raise UsageError(f"input {n} ({tensor.name!r}): dtype {array.dtype}, the model wants "
                         f"{tensor.dtype}")
    if tuple(array.shape) != tensor.shape:
        raise UsageError(f"input {n} ({tensor.name!r}): shape {list(array.shape)}, the model "
                         f"wants {list(tensor.shape)}")


def _tflm(what: str, call: Callable[[], T]) -> T:
    """Call into TFLM; a failure becomes a ModelError with what TFLM printed."""
    return _tflm_said(what, call)[0]


def _tflm_said(what: str, call: Callable[[], T]) -> tuple[T, str]:
    """Like ``_tflm``, also returning what TFLM printed on fd 2."""
    failure: Exception | None = None
    with _captured_stderr() as captured:
        try:
            result = call()
        except (RuntimeError, ValueError) as exc:
            failure = exc
    said = captured[0].strip()
    if failure is not None:
        detail = f"\n{said}" if said else ""
        raise ModelError(f"tflite_micro: {what}: {failure}{detail}") from failure
    return result, said


@contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Redirect file descriptor 2 (where C code prints) and hand back what was written."""
    sys.stderr.flush()
    captured: list[str] = [""]
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured[0] = sink.read().decode("utf-8", errors="replace")
