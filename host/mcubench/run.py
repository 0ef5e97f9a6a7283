"""``mcubench run``: a model on a device against tflite_micro, bit for bit.

Each run sets the inputs, invokes once, reads every output and compares it byte for byte
with what tflite_micro (the real TFLM) computes from the same inputs. Runs follow one
another on one loaded model and one reference interpreter, so a model with state
(variables) is compared over the whole sequence, as it would run in the field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcubench.counters import CounterUnit
from mcubench.inference import LoadedInference
from mcubench.model import Model
from mcubench.reference import ReferenceRunner, SecondOpinion


@dataclass(frozen=True)
class OutputCheck:
    """One output of one run, compared with tflite_micro's."""

    index: int
    bit_exact: bool
    max_abs_diff: float  # 0 when bit-exact
    differing_elements: int


@dataclass(frozen=True)
class RunResult:
    label: str  # where the inputs came from: "seed 3", "x.npy"
    ticks: int  # device counter ticks for the inference
    outputs: list[OutputCheck]
    # With a second opinion (TFLite's BUILTIN_REF): its outputs against TFLM's and the device's.
    second_vs_tflm: list[OutputCheck] | None = None
    second_vs_device: list[OutputCheck] | None = None

    @property
    def bit_exact(self) -> bool:
        return all(o.bit_exact for o in self.outputs)


@dataclass
class RunReport:
    runs: list[RunResult] = field(default_factory=list)

    @property
    def bit_exact(self) -> bool:
        return bool(self.runs) and all(r.bit_exact for r in self.runs)

    def max_abs_diff(self, output: int) -> float:
        return max((r.outputs[output].max_abs_diff for r in self.runs), default=0.0)

    def exact_runs(self, output: int) -> int:
        return sum(r.outputs[output].bit_exact for r in self.runs)


def compare(index: int, got: np.ndarray, want: np.ndarray) -> OutputCheck:
    """Bit-exact means the same bytes (so -0.0 differs from 0.0, and a NaN equals itself)."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return OutputCheck(index, False, float("inf"), int(want.size))
    if got.tobytes() == want.tobytes():
        return OutputCheck(index, True, 0.0, 0)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    diff[np.isnan(diff)] = np.inf  # a NaN against anything but the same bits: infinitely off
    differing = int(np.count_nonzero(np.any(_elements(got) != _elements(want), axis=1)))
    return OutputCheck(index, False, float(diff.max()) if diff.size else 0.0, differing)


def _elements(a: np.ndarray) -> np.ndarray:
    """One row of raw bytes per element."""
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8).reshape(a.size, -1)


def _compare_all(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> list[OutputCheck]:
    return [compare(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True))]


def run_model(inference: LoadedInference, model_bytes: bytes, model: Model,
              inputs: Sequence[tuple[str, Sequence[np.ndarray]]], *,
              on_run: Callable[[RunResult], None] | None = None,
              second: SecondOpinion | None = None) -> RunReport:
    """Every input set through the device and tflite_micro (and ``second``), in order."""
    reference = ReferenceRunner(model_bytes, model)
    report = RunReport()
    for label, arrays in inputs:
        inference.set_inputs(arrays)
        timing = inference.invoke()
        got = inference.get_outputs()
        want = reference.invoke(arrays)
        other = second.invoke(arrays) if second is not None else None
        result = RunResult(label, timing.total_ticks, _compare_all(got, want),
                           None if other is None else _compare_all(other, want),
                           None if other is None else _compare_all(other, got))
        report.runs.append(result)
        if on_run is not None:
            on_run(result)
    return report


def second_opinion_record(report: RunReport, name: str) -> dict[str, Any]:
    """How TFLite's reference kernels compare with TFLM and with the device, over the runs."""
    def agreeing(checks: Callable[[RunResult], list[OutputCheck] | None]) -> int:
        return sum(all(c.bit_exact for c in checks(r) or []) for r in report.runs)

    return {
        "runtime": name,
        "runs_equal_to_tflm": agreeing(lambda r: r.second_vs_tflm),
        "runs_equal_to_device": agreeing(lambda r: r.second_vs_device),
        "max_abs_diff_vs_tflm": _json_diff(max((c.max_abs_diff for r in report.runs
                                                for c in r.second_vs_tflm or []), default=0.0)),
    }


def _json_diff(value: float) -> float | None:
    """JSON has no infinity: null stands for a NaN or a shape/dtype mismatch."""
    return value if np.isfinite(value) else None


def report_record(report: RunReport, model: Model, counter: CounterUnit) -> dict[str, Any]:
    """The ``run --json`` fields that describe the runs (the CLI adds board and provenance)."""
    graph = model.subgraphs[0]
    latencies = [counter.convert(r.ticks) for r in report.runs]
    return {
        "bit_exact": report.bit_exact,
        "runs": len(report.runs),
        "exact_runs": sum(r.bit_exact for r in report.runs),
        "outputs": [
            {"index": i, "tensor": t, "name": graph.tensors[t].name,
             "dtype": graph.tensors[t].dtype, "shape": list(graph.tensors[t].shape),
             "bit_exact_runs": report.exact_runs(i),
             "max_abs_diff": _json_diff(report.max_abs_diff(i))}
            for i, t in enumerate(graph.outputs)
        ],
        "latency": {
            "unit": counter.unit,
            "counter": counter.note,
            "min": min(latencies, default=0.0),
            "median": float(np.median(latencies)) if latencies else 0.0,
            "max": max(latencies, default=0.0),
        },
        "per_run": [{"input": r.label, "bit_exact": r.bit_exact,
                     "latency": counter.convert(r.ticks),
                     "max_abs_diff": [_json_diff(o.max_abs_diff) for o in r.outputs]}
                    for r in report.runs],
    }
