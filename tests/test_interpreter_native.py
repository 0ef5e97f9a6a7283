"""The firmware's interpreter, planner and reference kernels on the host, against TFLM.

tests/native/model_run.c, built here with ASan and UBSan, prepares a model with
firmware/runtime/interpreter.c and the reference kernel set, runs it on raw input bytes and
prints its arena figures. Every output must equal tflite_micro's byte for byte:

- the FULLY_CONNECTED-only shared models (hello_world, ad01) on 20 seeded inputs each;
- a few hundred generated FULLY_CONNECTED models (batch, depth, units, per-tensor and
  per-channel scales over orders of magnitude, zero points at -128 and 127, bias or none,
  every fused activation, keep_num_dims), a few cases per process;
- the planner (mcb_plan_model) places every tensor and scratch buffer of every shared model
  exactly where mcubench.model.arena (TFLM's GreedyMemoryPlanner) does, and the
  interpreter's non-persistent peak equals it and tflite_micro's own figure.

Error paths: an operator without a kernel is named with its node before any kernel
prepares; an arena too small says how many bytes are needed, exactly; a node TFLM rejects in
Prepare is rejected too. The wheel's rounding (TFLITE_SINGLE_ROUNDING or not) is settled by
building the single-rounding variant too and seeing it differ.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcubench.errors import ModelError
from mcubench.kernels import reference_kernels
from mcubench.model.arena import plan_arena
from mcubench.model.tflite import read_model
from mcubench.reference import ReferenceRunner, random_inputs

from .models import SHARED_MODELS, model_path
from .native_tools import SANITIZER_ENV, build_tool
from .tflite_builder import ModelBuilder, accumulator_model

RUNNABLE = sorted(SHARED_MODELS)  # every shared model has a kernel for each of its operators
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH"]
CASES_PER_PROCESS = 40


def build_model_run(name: str, *flags: str) -> Path:
    """tests/native/model_run.c with the runtime and the reference kernels."""
    return build_tool(name, "model_run.c", ["runtime", "kernels/reference"], *flags)


@pytest.fixture(scope="session")
def model_run_single_rounding() -> Path:
    return build_model_run("model_run_single_rounding", "-O2", "-DMCB_SINGLE_ROUNDING=1")


def run_tool(tool: Path, args: Sequence[str | Path]) -> tuple[int, list[dict[str, Any]]]:
    """Exit status (0 or 1) and the JSON lines; a sanitizer report or crash fails the test."""
    done = subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **SANITIZER_ENV}, timeout=120, check=False)
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{done.stderr[-4000:]}"
    assert done.stderr == "", done.stderr[-4000:]
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


@dataclass(frozen=True)
class Case:
    """One model and what it is run on: one array per model input (several in order)."""

    name: str
    model: bytes
    input: np.ndarray | tuple[np.ndarray, ...]

    @property
    def inputs(self) -> list[np.ndarray]:
        return list(self.input) if isinstance(self.input, tuple) else [self.input]

    def input_bytes(self) -> bytes:
        return b"".join(np.ascontiguousarray(x).tobytes() for x in self.inputs)


@dataclass(frozen=True)
class Result:
    report: dict[str, Any]
    output: bytes | None


def run_cases(tool: Path, folder: Path, cases: Sequence[Case]) -> list[Result]:
    """Every case through the tool, CASES_PER_PROCESS per process, two processes per CPU."""
    triples: list[tuple[Path, Path, Path]] = []
    for case in cases:
        paths = (folder / f"{case.name}.tflite", folder / f"{case.name}.in",
                 folder / f"{case.name}.out")
        paths[0].write_bytes(case.model)
        paths[1].write_bytes(case.input_bytes())
        paths[2].unlink(missing_ok=True)
        triples.append(paths)
    chunks = [triples[i:i + CASES_PER_PROCESS] for i in range(0, len(triples), CASES_PER_PROCESS)]

    def run(chunk: list[tuple[Path, Path, Path]]) -> list[dict[str, Any]]:
        _, reports = run_tool(tool, [p for triple in chunk for p in triple])
        assert len(reports) == len(chunk)
        return reports

    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        reports = [r for chunk in pool.map(run, chunks) for r in chunk]
    return [Result(report, out.read_bytes() if out.exists() else None)
            for report, (_, _, out) in zip(reports, triples, strict=True)]


def reference_output(case: Case) -> bytes:
    """All of tflite_micro's outputs, raw bytes in order (as model_run writes them)."""
    outputs = ReferenceRunner(case.model).invoke(case.inputs)
    return b"".join(np.ascontiguousarray(o).tobytes() for o in outputs)


def check_bit_exact(tool: Path, folder: Path, cases: list[Case],
                    reference: Callable[[Case], bytes] = reference_output) -> None:
    """Every case runs, and its outputs equal ``reference``'s (tflite_micro's) byte for byte."""
    results = run_cases(tool, folder, cases)
    wrong = []
    for case, result in zip(cases, results, strict=True):
        assert result.report["ok"], (case.name, result.report)
        want = reference(case)
        if result.output != want:
            got = np.frombuffer(result.output or b"", np.uint8)
            ref = np.frombuffer(want, np.uint8)
            where = int(np.argmax(got != ref)) if got.shape == ref.shape else "size"
            wrong.append(f"{case.name}: first differing byte {where}")
    assert not wrong, f"{len(wrong)} of {len(cases)} differ from tflite_micro: {wrong[:10]}"


# ---- generated FULLY_CONNECTED cases ------------------------------------------------------------


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A float32-representable scale, 10**U(low, high)."""
    return float(np.float32(10.0 ** rng.uniform(low, high)))


def zero_point(rng: np.random.Generator) -> int:
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def fc_case(index: int, per_channel: bool, bias: bool, activation: str, keep: bool) -> Case:
    rng = np.random.default_rng(index)
    depth = int(rng.choice([1, 2, 3, 8, 16, 17, 64, 130, 300]))
    units = int(rng.choice([1, 2, 3, 7, 16, 33]))
    lead = [int(rng.integers(1, 4)), int(rng.integers(1, 5))]
    if keep:
        in_shape, out_shape = [*lead, depth], [*lead, units]
    elif rng.random() < 0.3:  # rank-3 input flattened into rows
        in_shape, out_shape = [*lead, depth], [lead[0] * lead[1], units]
    else:
        batch = int(rng.choice([1, 2, 3, 5]))
        in_shape, out_shape = [batch, depth], [batch, units]
    in_scale, out_scale = log_uniform(rng, -4, 0), log_uniform(rng, -3, 1)
    if per_channel:
        filter_scales: list[float] = [log_uniform(rng, -5, -1) for _ in range(units)]
        filter_zp = 0
    else:
        filter_scales = [log_uniform(rng, -4, -1)]
        filter_zp = int(rng.choice([0, 0, 0, int(rng.integers(-20, 21))]))
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor(in_shape, "INT8", name="input", scales=in_scale, zero_points=zero_point(rng))
    w = g.add_tensor([units, depth], "INT8", name="weights", scales=filter_scales,
                     zero_points=[filter_zp] * len(filter_scales),
                     data=rng.integers(-128, 128, size=(units, depth)))
    b = -1
    if bias:
        # Bias scales as converters write them: the float32 product of input and filter scale.
        bias_scales = [float(np.float32(in_scale) * np.float32(s)) for s in filter_scales]
        bound = 1 << int(rng.choice([8, 16, 24]))
        b = g.add_tensor([units], "INT32", name="bias", scales=bias_scales,
                         zero_points=[0] * len(bias_scales),
                         data=rng.integers(-bound, bound, size=units))
    y = g.add_tensor(out_shape, "INT8", name="output", scales=out_scale,
                     zero_points=zero_point(rng))
    g.add_operator("FULLY_CONNECTED", [x, w, b], [y],
                   {"fused_activation_function": activation, "keep_num_dims": keep})
    g.set_io([x], [y])
    name = (f"fc{index}_{'pc' if per_channel else 'pt'}_{'b' if bias else 'nb'}_{activation}"
            f"{'_keep' if keep else ''}")
    data = rng.integers(-128, 128, size=in_shape, dtype=np.int8)
    return Case(name, mb.build(), data)


def fc_cases() -> list[Case]:
    """10 cases for each of per-channel x bias x activation x keep_num_dims: 400."""
    combos = itertools.product([False, True], [False, True], ACTIVATIONS, [False, True])
    return [fc_case(10 * k + i, *combo)
            for k, combo in enumerate(combos) for i in range(10)]


@pytest.fixture(scope="module")
def generated() -> list[tuple[Case, bytes]]:
    """The generated cases and tflite_micro's output for each."""
    return [(case, reference_output(case)) for case in fc_cases()]


def test_generated_fully_connected_bit_exact(model_run: Path, tmp_path: Path,
                                             generated: list[tuple[Case, bytes]]) -> None:
    results = run_cases(model_run, tmp_path, [case for case, _ in generated])
    wrong = []
    for (case, want), result in zip(generated, results, strict=True):
        assert result.report["ok"], (case.name, result.report)
        if result.output != want:
            got = np.frombuffer(result.output or b"", np.int8).astype(int)
            ref = np.frombuffer(want, np.int8).astype(int)
            wrong.append(f"{case.name}: max |diff| "
                         f"{np.abs(got - ref).max() if got.shape == ref.shape else 'shape'}")
        # The interpreter's head equals the host's plan (TFLM's greedy planner).
        assert result.report["arena"]["nonpersistent_bytes"] == \
            plan_arena(read_model(case.model)).peak_bytes, case.name
    assert not wrong, f"{len(wrong)} of {len(results)} differ from tflite_micro: {wrong[:10]}"
    per_channel = sum("_pc_" in case.name for case, _ in generated)
    assert len(results) >= 400 and per_channel >= 200


def test_single_rounding_differs_from_the_wheel(model_run_single_rounding: Path,
                                                tmp_path: Path,
                                                generated: list[tuple[Case, bytes]]) -> None:
    """The wheel is built without TFLITE_SINGLE_ROUNDING: that variant differs (rarely: ties)."""
    results = run_cases(model_run_single_rounding, tmp_path, [case for case, _ in generated])
    differ = sum(r.output != want for (_, want), r in zip(generated, results, strict=True))
    assert all(r.report["ok"] for r in results)
    assert differ > 0, "the cases do not tell the two roundings apart"


# ---- the shared models the reference kernels cover -----------------------------------------------


@pytest.mark.parametrize("name", RUNNABLE)
def test_shared_model_bit_exact(name: str, model_run: Path, tmp_path: Path) -> None:
    data = model_path(name).read_bytes()
    model = read_model(data)
    assert {op.op for op in model.subgraphs[0].operators} <= reference_kernel_ops()
    runner = ReferenceRunner(data, model)
    cases = [Case(f"{Path(name).stem}_{seed}", data, tuple(random_inputs(model, seed)))
             for seed in range(20)]
    results = run_cases(model_run, tmp_path, cases)
    for case, result in zip(cases, results, strict=True):
        assert result.report["ok"], result.report
        # model_run starts each case afresh: so does the reference (state in SVDF models).
        fresh = ReferenceRunner(data, model)
        want = b"".join(o.tobytes() for o in fresh.invoke(case.inputs))
        assert result.output == want, case.name
    # Arena: our head is TFLM's head, byte for byte.
    arena = results[0].report["arena"]
    assert arena["nonpersistent_bytes"] == plan_arena(model).peak_bytes == \
        runner.arena().non_persistent_bytes
    # Scratch buffers: SVDF's two (keyword_scrambled); none in the other models.
    ops = {op.op for op in model.subgraphs[0].operators}
    assert (arena["scratch_bytes"] > 0) == ("SVDF" in ops)
    assert arena["required_bytes"] == arena["persistent_bytes"] + \
        max(arena["nonpersistent_bytes"], arena["planner_bytes"])


# ---- the planner on every shared model ----------------------------------------------------------


def host_plan(data: bytes) -> tuple[int, list[list[Any]]]:
    plan = plan_arena(read_model(data))
    return plan.peak_bytes, [[b.subgraph, b.tensor, b.scratch_of, b.size, b.first_use,
                              b.last_use, b.offset] for b in plan.buffers]


def firmware_plan(tool: Path, path: Path) -> tuple[int, list[list[Any]]]:
    rc, (report,) = run_tool(tool, ["--plan", path])
    assert rc == 0 and report["ok"], report
    return report["peak"], report["buffers"]


@pytest.mark.parametrize("name", sorted(SHARED_MODELS))
def test_planner_matches_host_on_shared_model(name: str, model_run: Path) -> None:
    path = model_path(name)
    peak, buffers = firmware_plan(model_run, path)
    assert (peak, buffers) == host_plan(path.read_bytes())
    if name == "keyword_scrambled.tflite":  # SVDF: scratch buffers planned too
        assert any(b[1] is None for b in buffers)


def control_flow_model() -> bytes:
    """CALL_ONCE into subgraph 1 (an activation of its own), subgraph 2 never reached."""
    mb = ModelBuilder()
    main, init, unused = mb.add_subgraph("main"), mb.add_subgraph("init"), mb.add_subgraph("x")
    x = main.add_tensor([1, 40], name="x")
    h = main.add_tensor([1, 24], name="h")
    y = main.add_tensor([1, 24], name="y")
    w = main.add_tensor([24, 40], data=np.ones((24, 40)), scales=0.1)
    main.add_operator("CALL_ONCE", [], [], {"init_subgraph_index": init.index})
    main.add_operator("FULLY_CONNECTED", [x, w, -1], [h])
    main.add_operator("RELU", [h], [y])
    main.set_io([x], [y])
    a = init.add_tensor([1, 64], name="a", data=np.ones((1, 64)))
    t = init.add_tensor([1, 64], name="t")
    u = init.add_tensor([1, 64], name="u")
    init.add_operator("RELU", [a], [t])
    init.add_operator("RELU", [t], [u])
    init.set_io([], [u])
    p = unused.add_tensor([1, 48], name="p")
    q = unused.add_tensor([1, 48], name="q")
    unused.add_operator("RELU", [p], [q])
    unused.set_io([p], [q])
    return mb.build()


@pytest.mark.parametrize("name", ["control_flow", "accumulator"])
def test_planner_matches_host_on_generated(name: str, model_run: Path, tmp_path: Path) -> None:
    """Subgraphs called by CALL_ONCE, subgraphs never reached, VAR_HANDLE resources."""
    data = control_flow_model() if name == "control_flow" else accumulator_model(width=24)
    peak, buffers = firmware_plan(model_run, write(tmp_path, name, data))
    assert (peak, buffers) == host_plan(data)
    if name == "control_flow":
        assert {b[0] for b in buffers} == {0, 1, 2}
        assert [b[4:6] for b in buffers if b[0] == 2] == [[-1, -1]] * 2  # never reached


# ---- error paths ------------------------------------------------------------------------------


def one_error(tool: Path, path: Path, *args: str) -> dict[str, Any]:
    rc, (report,) = run_tool(tool, [*args, path])
    assert rc == 1 and report["ok"] is False, report
    return report


def test_arena_too_small_says_what_is_needed(model_run: Path, tmp_path: Path) -> None:
    """Every arena size: fits iff >= need, else the error names the need (exact, or a bound)."""
    path = model_path("ad01_int8.tflite")
    rc, (ok,) = run_tool(model_run, [path])
    need = ok["arena"]["required_bytes"]
    sizes = sorted({0, 1, 64, need - 1, need - 8, need - 16, need, need + 1,
                    *range(0, need, 97)})

    def attempt(size: int) -> dict[str, Any]:
        return run_tool(model_run, ["--arena", str(size), path])[1][0]

    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        reports = dict(zip(sizes, pool.map(attempt, sizes), strict=True))
    exact = 0
    for size, report in reports.items():
        if size >= need:
            assert report["ok"] and report["arena"]["required_bytes"] == need, (size, report)
            continue
        assert report["code"] == "ARENA", (size, report)
        if report["arena_need_exact"]:
            exact += 1
            assert report["arena_need"] == need, (size, report)
            assert report["message"] == f"arena too small: need {need} bytes, have {size}"
        else:
            assert size < report["arena_need"] <= need, (size, report)
            assert report["message"] == \
                f"arena too small: need at least {report['arena_need']} bytes, have {size}"
    # Exact as soon as the node table and the planner's array fit (both below this sum).
    bookkeeping = ok["arena"]["persistent_bytes"] + ok["arena"]["planner_bytes"]
    assert all(r["ok"] or r["arena_need_exact"] for s, r in reports.items() if s >= bookkeeping)
    assert exact >= 5 and reports[need - 1]["arena_need_exact"]
    # And at exactly that size it runs, still bit-exact.
    data = path.read_bytes()
    x = random_inputs(read_model(data), 7)[0]
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    rc, _ = run_tool(model_run, ["--arena", str(need), path, tmp_path / "x.bin",
                                 tmp_path / "y.bin"])
    assert rc == 0
    assert (tmp_path / "y.bin").read_bytes() == ReferenceRunner(data).invoke([x])[0].tobytes()


def reference_kernel_ops() -> set[str]:
    """Operators with a row in firmware/kernels/reference/registry.c's kernel table."""
    return {op for op, _ in reference_kernels()}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    return path


def test_unsupported_op_named_before_any_prepare(model_run: Path, tmp_path: Path) -> None:
    """Node 0 is a FULLY_CONNECTED its kernel would reject; node 1 has no kernel: node 1 wins."""
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 4], scales=0.5)
    w = g.add_tensor([3, 5], data=np.ones((3, 5)), scales=0.5)  # depth 5 != 4
    y = g.add_tensor([1, 3], scales=0.5)
    z = g.add_tensor([1, 3], scales=16 / 256, zero_points=127)
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    g.add_operator("LOG_SOFTMAX", [y], [z])  # not in the reference set (nor in issue 3's list)
    g.set_io([x], [z])
    assert "LOG_SOFTMAX" not in reference_kernel_ops()
    report = one_error(model_run, write(tmp_path, "log_softmax", mb.build()))
    assert (report["code"], report["node"], report["message"]) == \
        ("UNSUPPORTED_OP", 1,
         "node 1 (LOG_SOFTMAX): operator not supported by the reference kernels")


def test_unsupported_custom_op_and_input_type(model_run: Path, tmp_path: Path) -> None:
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 4], "FLOAT32")
    y = g.add_tensor([1, 4], "FLOAT32")
    g.add_operator("MyOp", [x], [y], custom=True)
    g.set_io([x], [y])
    report = one_error(model_run, write(tmp_path, "custom", mb.build()))
    assert (report["code"], report["node"], report["message"]) == \
        ("UNSUPPORTED_OP", 0, "node 0: custom operator 'MyOp' not supported")

    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 4], "UINT8", scales=0.5)
    w = g.add_tensor([3, 4], "UINT8", data=np.ones((3, 4)), scales=0.5)
    y = g.add_tensor([1, 3], "UINT8", scales=0.5)
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    g.set_io([x], [y])
    report = one_error(model_run, write(tmp_path, "fc_u8", mb.build()))
    assert (report["code"], report["node"], report["message"]) == \
        ("UNSUPPORTED_OP", 0, "node 0 (FULLY_CONNECTED): UINT8 input not supported by the "
                              "reference kernels")


def test_prepare_rejects_what_tflm_rejects(model_run: Path, tmp_path: Path) -> None:
    """A bias scale far from input scale * filter scale: TFLM's Prepare fails, and so do we."""
    rng = np.random.default_rng(3)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 8], scales=0.05)
    w = g.add_tensor([4, 8], data=rng.integers(-127, 128, size=(4, 8)), scales=0.02)
    b = g.add_tensor([4], "INT32", data=np.zeros(4), scales=0.5)  # should be 0.001
    y = g.add_tensor([1, 4], scales=0.1)
    g.add_operator("FULLY_CONNECTED", [x, w, b], [y])
    g.set_io([x], [y])
    data = mb.build()
    with pytest.raises(ModelError):
        ReferenceRunner(data)
    report = one_error(model_run, write(tmp_path, "bias_scale", data))
    assert (report["code"], report["node"], report["message"]) == \
        ("PREPARE", 0, "node 0 (FULLY_CONNECTED): bias scale differs from input scale * filter "
                       "scale")


def test_prepare_checks_shapes(model_run: Path, tmp_path: Path) -> None:
    """The output claims 4 units where the filter has 5."""
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([2, 6], scales=0.05, zero_points=-3)
    w = g.add_tensor([5, 6], data=np.zeros((5, 6)), scales=0.02)
    y = g.add_tensor([2, 4], scales=0.1)
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    g.set_io([x], [y])
    report = one_error(model_run, write(tmp_path, "units", mb.build()))
    assert (report["code"], report["node"], report["message"]) == \
        ("PREPARE", 0, "node 0 (FULLY_CONNECTED): output's last dimension must be 5 units")


def test_unplannable_tensor(model_run: Path, tmp_path: Path) -> None:
    """An activation of a type TFLM cannot allocate: the planner says which, as the host does."""
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([1, 4], scales=0.5)
    w = g.add_tensor([3, 4], data=np.ones((3, 4)), scales=0.5)
    y = g.add_tensor([1, 3], scales=0.5)
    g.add_tensor([2], "STRING", name="label")
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    g.set_io([x], [y])
    data = mb.build()
    with pytest.raises(ModelError, match="tensor 3"):
        plan_arena(read_model(data))
    report = one_error(model_run, write(tmp_path, "string", data))
    assert (report["code"], report["node"], report["message"]) == \
        ("PLAN", -1, "subgraph 0 tensor 3: TFLM cannot allocate a STRING tensor")
