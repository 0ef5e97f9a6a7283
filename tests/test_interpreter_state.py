"""State in the firmware's interpreter against tflite_micro: SVDF, resource variables, CALL_ONCE.

tests/native/model_run.c (built here as ``model_run_state``, ASan + UBSan) runs each model
over many consecutive invocations with its state carried, optionally resetting the
interpreter every N invocations (``--reset-every``), and every output of every invocation
must equal tflite_micro's byte for byte, with ``ReferenceRunner.reset()`` at the same points:

- SVDF, int8 with int16 or int8 state (ranks, memory sizes, batches, scales over orders of
  magnitude, zero points, every fused activation, which TFLM's integer SVDF ignores) and
  float32, over 12 invocations each; TFLM's Prepare rejections, and what would crash TFLM;
- VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE / CALL_ONCE models over several subgraphs
  (delay lines, accumulators, shared names across subgraphs, containers, the zero-point fill
  of a variable never assigned, reset);
- keyword_scrambled.tflite (SVDF) and the four pymicro-wakeword streaming models (resource
  variables + CALL_ONCE), 50+ invocations with state carried, and with resets.

Reset semantics pinned against tflite_micro: variables return to their fill (int8 variable
tensors to their zero point, resource variables to the low byte of their zero point) and
CALL_ONCE does not run again.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcubench.errors import ModelError
from mcubench.model.arena import plan_arena
from mcubench.model.tflite import read_model
from mcubench.reference import ReferenceRunner, random_inputs

from .models import model_path, pymicro_wakeword_models
from .test_interpreter_native import run_tool
from .tflite_builder import ModelBuilder, SubgraphBuilder, accumulator_model

CASES_PER_PROCESS = 40
ACTIVATIONS = ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"]


@dataclass(frozen=True)
class Seq:
    """A model and the inputs of each of its consecutive invocations."""

    name: str
    model: bytes
    steps: list[list[np.ndarray]]
    reset_every: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def input_bytes(self) -> bytes:
        return b"".join(np.ascontiguousarray(x).tobytes() for step in self.steps for x in step)


def reference(seq: Seq) -> bytes:
    """tflite_micro's outputs over the invocations, reset where model_run resets."""
    runner = ReferenceRunner(seq.model)
    out: list[bytes] = []
    for k, step in enumerate(seq.steps):
        if seq.reset_every and k and k % seq.reset_every == 0:
            runner.reset()
        out.extend(np.ascontiguousarray(o).tobytes() for o in runner.invoke(step))
    return b"".join(out)


def run_seqs(model_run: Path, folder: Path,
             seqs: Sequence[Seq]) -> list[tuple[dict[str, Any], bytes | None]]:
    """Every sequence through model_run, CASES_PER_PROCESS per process (one reset period each)."""
    jobs: list[tuple[int, list[tuple[int, Path, Path, Path]]]] = []
    by_reset: dict[int, list[tuple[int, Path, Path, Path]]] = {}
    for i, seq in enumerate(seqs):
        paths = (folder / f"{seq.name}.tflite", folder / f"{seq.name}.in",
                 folder / f"{seq.name}.out")
        paths[0].write_bytes(seq.model)
        paths[1].write_bytes(seq.input_bytes())
        paths[2].unlink(missing_ok=True)
        by_reset.setdefault(seq.reset_every, []).append((i, *paths))
    for reset_every, items in by_reset.items():
        jobs += [(reset_every, items[k:k + CASES_PER_PROCESS])
                 for k in range(0, len(items), CASES_PER_PROCESS)]

    def run(job: tuple[int, list[tuple[int, Path, Path, Path]]]) -> list[dict[str, Any]]:
        reset_every, chunk = job
        args: list[str | Path] = ["--reset-every", str(reset_every)]
        _, reports = run_tool(model_run, args + [p for item in chunk for p in item[1:]])
        assert len(reports) == len(chunk)
        return reports

    results: list[tuple[dict[str, Any], bytes | None]] = [({}, None)] * len(seqs)
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        for (_, chunk), reports in zip(jobs, pool.map(run, jobs), strict=True):
            for (i, _, _, out), report in zip(chunk, reports, strict=True):
                results[i] = (report, out.read_bytes() if out.exists() else None)
    return results


def check_all(model_run: Path, folder: Path, seqs: Sequence[Seq]) -> list[dict[str, Any]]:
    """Runs every sequence and compares each with tflite_micro; returns the reports."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        wants = pool.submit(lambda: [reference(s) for s in seqs])
        results = run_seqs(model_run, folder, seqs)
        want_list = wants.result()
    wrong = []
    for seq, (report, got), want in zip(seqs, results, want_list, strict=True):
        assert report.get("ok"), (seq.name, report)
        if got != want:
            wrong.append(seq.name)
    assert not wrong, f"{len(wrong)} of {len(seqs)} differ from tflite_micro: {wrong[:10]}"
    return [report for report, _ in results]


def f32(value: float | np.floating[Any]) -> float:
    return float(np.float32(value))


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return f32(10.0 ** rng.uniform(low, high))


def zero_point(rng: np.random.Generator) -> int:
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


# ---- SVDF -------------------------------------------------------------------------------------


def svdf_model(rng: np.random.Generator, *, batch: int, input_size: int, rank: int, units: int,
               memory: int, activation: str, state_type: str = "INT16", state_zp: int = 0,
               dtype: str = "INT8") -> bytes:
    filters = units * rank
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    if dtype == "FLOAT32":
        x = g.add_tensor([batch, input_size], "FLOAT32", name="input")
        wf = g.add_tensor([filters, input_size], "FLOAT32",
                          data=rng.normal(size=(filters, input_size)))
        wt = g.add_tensor([filters, memory], "FLOAT32", data=rng.normal(size=(filters, memory)))
        b = g.add_tensor([units], "FLOAT32", data=rng.normal(size=units))
        state = g.add_tensor([batch, memory * filters], "FLOAT32", variable=True)
        y = g.add_tensor([batch, units], "FLOAT32", name="output")
    else:
        limit = 1 << 15 if state_type == "INT16" else 1 << 7
        s_in, s_wf = log_uniform(rng, -2.5, -0.5), log_uniform(rng, -3.5, -1.5)
        s_state, s_wt = log_uniform(rng, -4.5, -1.5), log_uniform(rng, -4.5, -1.5)
        s_out = log_uniform(rng, -3.5, 0)
        x = g.add_tensor([batch, input_size], name="input", scales=s_in,
                         zero_points=zero_point(rng))
        wf = g.add_tensor([filters, input_size], scales=s_wf,
                          data=rng.integers(-127, 128, size=(filters, input_size)))
        wt = g.add_tensor([filters, memory], state_type, scales=s_wt,
                          data=rng.integers(-limit + 1, limit, size=(filters, memory)))
        bound = 1 << int(rng.choice([4, 12, 20]))
        b = g.add_tensor([units], "INT32", scales=f32(np.float32(s_state) * np.float32(s_wt)),
                         data=rng.integers(-bound, bound, size=units))
        state = g.add_tensor([batch, memory * filters], state_type, scales=s_state,
                             zero_points=state_zp, variable=True)
        y = g.add_tensor([batch, units], name="output", scales=s_out,
                         zero_points=zero_point(rng))
    g.add_operator("SVDF", [x, wf, wt, b, state], [y],
                   {"rank": rank, "fused_activation_function": activation})
    g.set_io([x], [y])
    return mb.build()


def svdf_seq(index: int, state_type: str, activation: str, reset_every: int = 0) -> Seq:
    rng = np.random.default_rng(1000 + index)
    batch = int(rng.choice([1, 1, 2, 3]))
    input_size = int(rng.choice([1, 3, 8, 16, 40]))
    rank, units = int(rng.choice([1, 2, 3])), int(rng.choice([1, 2, 4, 7]))
    memory = int(rng.choice([1, 2, 4, 8, 10]))
    state_zp = 0
    if state_type == "INT8" and rng.random() < 0.7:
        state_zp = zero_point(rng)  # clamp, then the zero point: wraps when narrowed
    model = svdf_model(rng, batch=batch, input_size=input_size, rank=rank, units=units,
                       memory=memory, activation=activation, state_type=state_type,
                       state_zp=state_zp)
    steps = [[rng.integers(-128, 128, size=(batch, input_size), dtype=np.int8)]
             for _ in range(12)]
    name = f"svdf{index}_{state_type}_{activation}_r{rank}_m{memory}_b{batch}_z{state_zp}"
    return Seq(name, model, steps, reset_every)


def test_svdf_int8_bit_exact(model_run: Path, tmp_path: Path) -> None:
    """180 int16-state and 60 int8-state models, 12 invocations each, some reset every 5."""
    seqs = [svdf_seq(k, "INT16" if k % 4 else "INT8", ACTIVATIONS[k % len(ACTIVATIONS)],
                     reset_every=5 if k % 7 == 0 else 0) for k in range(240)]
    reports = check_all(model_run, tmp_path, seqs)
    # Two scratch buffers per SVDF, planned as TFLM plans them.
    for seq, report in zip(seqs[:20], reports[:20], strict=True):
        assert report["arena"]["nonpersistent_bytes"] == \
            plan_arena(read_model(seq.model)).peak_bytes
        assert report["arena"]["scratch_bytes"] > 0
    runner = ReferenceRunner(seqs[0].model)
    assert reports[0]["arena"]["nonpersistent_bytes"] == runner.arena().non_persistent_bytes


def test_svdf_float32_bit_exact(model_run: Path, tmp_path: Path) -> None:
    seqs = []
    for k, activation in enumerate(["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "SIGN_BIT"] * 12):
        rng = np.random.default_rng(5000 + k)
        batch, input_size = int(rng.choice([1, 2])), int(rng.choice([1, 5, 16]))
        model = svdf_model(rng, batch=batch, input_size=input_size, rank=int(rng.choice([1, 2])),
                           units=int(rng.choice([1, 3])), memory=int(rng.choice([1, 4, 9])),
                           activation=activation, dtype="FLOAT32")
        steps = [[rng.normal(scale=3.0, size=(batch, input_size)).astype(np.float32)]
                 for _ in range(10)]
        seqs.append(Seq(f"svdf_f32_{k}_{activation}", model, steps, 4 if k % 5 == 0 else 0))
    check_all(model_run, tmp_path, seqs)


def svdf_broken(what: str) -> bytes:
    """An int16-state SVDF with one thing wrong."""
    rng = np.random.default_rng(3)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    dtype = "FLOAT32" if what == "tanh" else "INT8"
    q: dict[str, Any] = {} if dtype == "FLOAT32" else {"scales": 0.05}
    bq: dict[str, Any] = {}
    st_type = {"tanh": "FLOAT32", "state_int8": "INT8"}.get(what, "INT16")
    wt_type = "FLOAT32" if what == "tanh" else "INT16"
    x = g.add_tensor([1, 4], dtype, **q)
    wf = g.add_tensor([6, 4], dtype, data=rng.integers(-5, 5, size=(6, 4)), **q)
    wt = g.add_tensor([6, 3], wt_type, data=rng.integers(-5, 5, size=(6, 3)), **q)
    bias_scale = 0.5 if what == "bias_scale" else f32(np.float32(0.05) * np.float32(0.05))
    if dtype != "FLOAT32":
        bq["scales"] = bias_scale
    b = -1 if what == "no_bias" else g.add_tensor(
        [3], "FLOAT32" if dtype == "FLOAT32" else "INT32", data=np.zeros(3), **bq)
    state_q = {**q, "zero_points": -40000} if what == "state_zero_point" else q
    state = g.add_tensor([1, 18], st_type, variable=what != "not_variable", **state_q)
    y = g.add_tensor([1, 2 if what == "output_shape" else 3], dtype, **q)
    rank = 4 if what == "rank" else 2
    g.add_operator("SVDF", [x, wf, wt, b, state], [y],
                   {"rank": rank, "fused_activation_function": "TANH" if what == "tanh" else
                    "NONE"})
    g.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize(("what", "message", "tflm"), [
    ("rank", "rank 4 must divide the 6 filters", "rejects"),
    ("output_shape", "output must be [1, 3]", "rejects"),
    ("not_variable", "state must be a variable tensor", "rejects"),
    ("bias_scale", "bias scale differs from state scale * weights_time scale", "rejects"),
    ("no_bias", "needs a bias (TFLM crashes without one)", "crashes"),
    ("state_int8", "weights_time (type 7) and state (type 9) must both be INT16 or INT8",
     "misreads"),
    ("tanh", "fused activation 4 not supported", "libm"),
    # Found by the model fuzzer: TFLM computes with it and overflows int32.
    ("state_zero_point", "a zero point lies outside its type's range", "overflows"),
])
def test_svdf_prepare_rejects(model_run: Path, tmp_path: Path, what: str, message: str,
                              tflm: str) -> None:
    data = svdf_broken(what)
    if tflm == "rejects":
        with pytest.raises(ModelError):
            ReferenceRunner(data)
    path = tmp_path / f"{what}.tflite"
    path.write_bytes(data)
    rc, (report,) = run_tool(model_run, [path])
    assert rc == 1
    assert (report["code"], report["node"], report["message"]) == \
        ("PREPARE", 0, f"node 0 (SVDF): {message}")


# ---- resource variables and CALL_ONCE --------------------------------------------------------


DTYPES = {"INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "FLOAT32": np.float32}


def var_handle(g: SubgraphBuilder, name: str, container: str | None = None) -> int:
    handle = g.add_tensor([], "RESOURCE", name=f"handle_{name}")
    options = {"shared_name": name} if container is None else \
        {"shared_name": name, "container": container}
    g.add_operator("VAR_HANDLE", [], [handle], options)
    return handle


def delay_model(rng: np.random.Generator) -> tuple[bytes, list[tuple[list[int], str]]]:
    """Every invocation outputs what variable k held, then stores input k in it.

    Variables: several, some shared between subgraph 0's handles; an init subgraph run by
    CALL_ONCE assigns some of them constants; the others start (and reset to) the low byte
    of their value's zero point. Returns the model and each input's shape and type.
    """
    mb = ModelBuilder()
    main = mb.add_subgraph("main")
    init = mb.add_subgraph("init")
    n_vars = int(rng.integers(1, 4))
    inputs: list[int] = []
    outputs: list[int] = []
    shapes: list[tuple[list[int], str]] = []
    with_init = rng.random() < 0.7
    # One container for the model: TFLM crashes comparing a named container with a
    # variable created without one (strcmp on NULL). A handle without one matches any.
    container = str(rng.choice(["", "box"])) or None
    if with_init:
        main.add_operator("CALL_ONCE", [], [], {"init_subgraph_index": init.index})
    for v in range(n_vars):
        dtype = str(rng.choice(list(DTYPES)))
        shape = [1, int(rng.integers(1, 12))] if rng.random() < 0.8 else \
            [int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        zp = int(rng.integers(-128, 128)) if dtype != "FLOAT32" else 0
        quant: dict[str, Any] = {} if dtype == "FLOAT32" else \
            {"scales": 0.25, "zero_points": zp}
        name = f"var{v}"
        x = main.add_tensor(shape, dtype, name=f"x{v}", **quant)
        y = main.add_tensor(shape, dtype, name=f"y{v}", **quant)
        h_read = var_handle(main, name, container)
        main.add_operator("READ_VARIABLE", [h_read], [y])
        # A second handle of the same variable (any container matches a missing one).
        h_write = var_handle(main, name, None) if rng.random() < 0.5 else h_read
        main.add_operator("ASSIGN_VARIABLE", [h_write, x], [])
        inputs.append(x)
        outputs.append(y)
        shapes.append((shape, dtype))
        if with_init and rng.random() < 0.7:
            h_init = var_handle(init, name, container)
            start = init.add_tensor(shape, dtype, name=f"start{v}", **quant,
                                    data=rng.integers(-100, 100, size=shape))
            init.add_operator("ASSIGN_VARIABLE", [h_init, start], [])
    order = rng.permutation(n_vars)
    main.set_io([inputs[i] for i in order], [outputs[i] for i in order])
    init.set_io([], [])
    return mb.build(), [shapes[i] for i in order]


def random_array(rng: np.random.Generator, shape: list[int], dtype: str) -> np.ndarray:
    if dtype == "FLOAT32":
        return rng.normal(size=shape).astype(np.float32)
    bits = {"INT8": 8, "INT16": 16, "INT32": 32}[dtype]
    return rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=shape).astype(DTYPES[dtype])


def test_resource_variables_bit_exact(model_run: Path, tmp_path: Path) -> None:
    """120 delay-line models (handles in 2 subgraphs), some reset every 3."""
    seqs = []
    for k in range(120):
        rng = np.random.default_rng(7000 + k)
        model, shapes = delay_model(rng)
        steps = [[random_array(rng, shape, dtype) for shape, dtype in shapes] for _ in range(7)]
        seqs.append(Seq(f"delay{k}", model, steps, reset_every=3 if k % 3 == 0 else 0))
    reports = check_all(model_run, tmp_path, seqs)
    for seq, report in zip(seqs[:10], reports[:10], strict=True):
        assert report["arena"]["nonpersistent_bytes"] == \
            plan_arena(read_model(seq.model)).peak_bytes


@pytest.mark.parametrize("reset_every", [0, 1, 2, 3])
def test_accumulator_and_reset(model_run: Path, tmp_path: Path, reset_every: int) -> None:
    """CALL_ONCE sets the state once; a reset zeroes it and CALL_ONCE does not run again."""
    rng = np.random.default_rng(reset_every)
    seqs = [Seq(f"acc{width}_{reset_every}", accumulator_model(width=width),
                [[rng.integers(-3, 4, size=(1, width), dtype=np.int8)] for _ in range(9)],
                reset_every)
            for width in (1, 5, 16, 33)]
    check_all(model_run, tmp_path, seqs)
    # What tflite_micro does, pinned: after a reset, no CALL_ONCE, the state starts from 0.
    runner = ReferenceRunner(accumulator_model(width=4))
    zero = np.zeros((1, 4), np.int8)
    assert runner.invoke([zero])[0].tolist() == [[0, 1, 2, 3]]
    runner.reset()
    assert runner.invoke([zero])[0].tolist() == [[0, 0, 0, 0]]


def test_int8_variable_tensor_resets_to_zero_point(model_run: Path, tmp_path: Path) -> None:
    """int8 SVDF state with zero points at the extremes, reset every 2 and every 4."""
    seqs = []
    for k, (zp, reset_every) in enumerate(itertools.product([-128, -37, 0, 90, 127], [2, 4])):
        rng = np.random.default_rng(9000 + k)
        model = svdf_model(rng, batch=2, input_size=6, rank=2, units=3, memory=3,
                           activation="NONE", state_type="INT8", state_zp=zp)
        steps = [[rng.integers(-128, 128, size=(2, 6), dtype=np.int8)] for _ in range(9)]
        seqs.append(Seq(f"zp{k}", model, steps, reset_every))
    check_all(model_run, tmp_path, seqs)


def test_error_in_other_subgraph_names_it(model_run: Path, tmp_path: Path) -> None:
    mb = ModelBuilder()
    main, init = mb.add_subgraph("main"), mb.add_subgraph("init")
    x = main.add_tensor([1, 4], name="x", scales=0.5)
    y = main.add_tensor([1, 4], name="y", scales=0.5)
    main.add_operator("CALL_ONCE", [], [], {"init_subgraph_index": init.index})
    main.add_operator("RESHAPE", [x], [y])
    main.set_io([x], [y])
    a = init.add_tensor([1, 4], "FLOAT32")
    b = init.add_tensor([1, 4], "FLOAT32")
    init.add_operator("LOG_SOFTMAX", [a], [b])
    init.set_io([a], [b])
    path = tmp_path / "sg1.tflite"
    path.write_bytes(mb.build())
    rc, (report,) = run_tool(model_run, [path])
    assert rc == 1
    assert (report["code"], report["node"], report["message"]) == \
        ("UNSUPPORTED_OP", 0,
         "subgraph 1 node 0 (LOG_SOFTMAX): operator not supported by the reference kernels")


def test_call_once_prepare_rejects(model_run: Path, tmp_path: Path) -> None:
    """CALL_ONCE with an input: TFLM's Prepare refuses it, and so do we."""
    mb = ModelBuilder()
    main, init = mb.add_subgraph("main"), mb.add_subgraph("init")
    x = main.add_tensor([1, 4], name="x", scales=0.5)
    y = main.add_tensor([1, 4], name="y", scales=0.5)
    main.add_operator("CALL_ONCE", [x], [], {"init_subgraph_index": init.index})
    main.add_operator("RESHAPE", [x], [y])
    main.set_io([x], [y])
    data = mb.build()
    with pytest.raises(ModelError):
        ReferenceRunner(data)
    path = tmp_path / "call_once.tflite"
    path.write_bytes(data)
    rc, (report,) = run_tool(model_run, [path])
    assert (rc, report["code"], report["message"]) == \
        (1, "PREPARE", "node 0 (CALL_ONCE): takes no inputs and no outputs (has 1 and 0)")


# ---- real models ------------------------------------------------------------------------------


def model_seq(path: Path, seeds: int, reset_every: int = 0) -> Seq:
    data = path.read_bytes()
    model = read_model(data)
    return Seq(f"{path.stem}_{reset_every}", data,
               [random_inputs(model, seed) for seed in range(seeds)], reset_every)


def test_keyword_scrambled(model_run: Path, tmp_path: Path) -> None:
    """TFLM's keyword benchmark (7 SVDFs, int16 state): 20 seeds x 3 invocations, then 60."""
    path = model_path("keyword_scrambled.tflite")
    data = path.read_bytes()
    model = read_model(data)
    seqs = [Seq(f"kw{seed}", data, [random_inputs(model, 100 * seed + k) for k in range(3)])
            for seed in range(20)]
    seqs.append(model_seq(path, 60, reset_every=25))
    reports = check_all(model_run, tmp_path, seqs)
    assert reports[0]["arena"]["nonpersistent_bytes"] == \
        ReferenceRunner(data).arena().non_persistent_bytes


@pytest.mark.parametrize("path", pymicro_wakeword_models(), ids=lambda p: p.stem)
def test_wakeword_streaming(model_run: Path, tmp_path: Path, path: Path) -> None:
    """60 consecutive invocations with state carried, then again with a reset every 20."""
    reports = check_all(model_run, tmp_path, [model_seq(path, 60), model_seq(path, 60, 20)])
    assert reports[0]["arena"]["nonpersistent_bytes"] == \
        ReferenceRunner(path.read_bytes()).arena().non_persistent_bytes


def test_arena_need_is_exact_with_state(model_run: Path, tmp_path: Path) -> None:
    """Resource buffers and variable tensors are counted: need - 1 fails exactly, need runs."""
    for path in [pymicro_wakeword_models()[0], model_path("keyword_scrambled.tflite")]:
        rc, (ok,) = run_tool(model_run, [path])
        assert rc == 0, ok
        need = ok["arena"]["required_bytes"]
        _, (small,) = run_tool(model_run, ["--arena", str(need - 1), path])
        assert (small["code"], small["arena_need"], small["arena_need_exact"]) == \
            ("ARENA", need, True)
        _, (tiny,) = run_tool(model_run, ["--arena", str(need // 3), path])
        assert tiny["code"] == "ARENA" and need // 3 < tiny["arena_need"] <= need
        seq = model_seq(path, 5)
        (tmp_path / "x.in").write_bytes(seq.input_bytes())
        rc, _ = run_tool(model_run, ["--arena", str(need), path, tmp_path / "x.in", tmp_path / "y"])
        assert rc == 0 and (tmp_path / "y").read_bytes() == reference(seq)
