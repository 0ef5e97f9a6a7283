"""``mcubench bench``: device-timed latency, per-operator profiles, memory, provenance.

One benchmark is one model on one board. The device times every inference with its own
counter (instructions under QEMU, cycles or ns on real clocks: never host time); the host
only asks and collects. After the warmup and the measured runs, the outputs are compared
byte for byte with tflite_micro run the same number of times on the same inputs, so a
stateful model is checked in the state the benchmark left it in.

With a profile, the same benchmark runs a second time on firmware built with the
profiler (``FirmwareOptions(profile=True)``): the latency statistics always come from the
firmware without it, and the difference between the two medians is reported as the
profiler's overhead.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from mcubench.boards import Board, get_board
from mcubench.build import BuildResult, FirmwareOptions, build_firmware
from mcubench.counters import CounterUnit
from mcubench.errors import BoardError, UsageError
from mcubench.inference import LoadedInference, load_on_device
from mcubench.model import Model, Subgraph, subgraph_macs
from mcubench.protocol.codes import Capability
from mcubench.protocol.messages import LoadedModel
from mcubench.reference import ReferenceRunner
from mcubench.results import Result, utc_now
from mcubench.run import OutputCheck, compare
from mcubench.session import Session, open_session

# Emulated boards take a bigger model from flash rather than through QEMU's UART
# (16-20 KiB/s on the CMSDK and STM32 models): a build is quicker than the upload.
EMBED_ABOVE_BYTES_EMULATED = 64 * 1024
# Operators that keep state between invocations: their outputs depend on the history.
_STATEFUL_OPS = frozenset({"VAR_HANDLE", "ASSIGN_VARIABLE", "READ_VARIABLE", "CALL_ONCE"})
_HOST_PACKAGES = ("mcubench", "numpy", "tflite-micro", "pyserial", "platformio")

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class ModelSource:
    """A model as the user named it, with its bytes and parsed form."""

    name: str  # as given on the command line: a path or pymicro-wakeword:NAME
    data: bytes
    model: Model

    @property
    def sha256(self) -> str:
        return self.model.sha256


@dataclass(frozen=True)
class BenchConfig:
    runs: int = 20
    warmup: int = 1
    profile: bool = False
    opt: str = "Os"  # optimisation level of firmware mcubench builds
    embedded: bool | None = None  # None: decided per board (see embed_model)

    def __post_init__(self) -> None:
        if self.runs < 1:
            raise UsageError("--runs takes 1 or more")
        if self.warmup < 0:
            raise UsageError("--warmup takes 0 or more")


@dataclass
class Measurement:
    """What one pass over the device gave, in raw counter ticks."""

    ticks: list[int]  # one per measured inference
    op_ticks: list[int] | None  # per operator of subgraph 0, summed over the measured runs
    outputs: list[np.ndarray]
    loaded: LoadedModel


@dataclass
class Target:
    """Where a benchmark runs: a board mcubench boots (``board``) or one at ``port``."""

    board: str | None = None
    port: str | None = None
    baudrate: int = 115200
    trace: Callable[[str], None] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return self.board or str(self.port)


def embed_model(source: ModelSource, board: Board, asked: bool | None = None) -> bool:
    """Whether to link the model into flash: as ``asked``, else for a big model on an
    emulator."""
    if asked is not None:
        return asked
    return board.emulator is not None and len(source.data) > EMBED_ABOVE_BYTES_EMULATED


def measure(inference: LoadedInference, arrays: Sequence[np.ndarray], config: BenchConfig, *,
            profile: bool, progress: Progress | None = None) -> Measurement:
    """Warm up, then time ``config.runs`` single inferences; outputs read at the end.

    The inputs are written before every inference, as an application would: the planner
    may give an input's memory to a later activation (TFLM's does too), so a second
    invoke on the same arena would run on whatever that activation left there.
    """
    for _ in range(config.warmup):
        inference.set_inputs(arrays)
        inference.invoke(1)
    ticks: list[int] = []
    op_ticks: list[int] | None = None
    for n in range(config.runs):
        inference.set_inputs(arrays)
        ticks.append(inference.invoke(1).total_ticks)
        if profile:
            page = inference.profile()
            op_ticks = list(page.ticks) if op_ticks is None else [
                a + b for a, b in zip(op_ticks, page.ticks, strict=True)]
        if progress is not None:
            progress("run", n + 1, config.runs)
    return Measurement(ticks, op_ticks, inference.get_outputs(), inference.loaded)


def is_stateful(model: Model) -> bool:
    """Whether invocations depend on earlier ones (variable tensors, resource variables)."""
    return any(t.is_variable for sg in model.subgraphs for t in sg.tensors) or any(
        op.op in _STATEFUL_OPS for sg in model.subgraphs for op in sg.operators)


def reference_outputs(source: ModelSource, arrays: Sequence[np.ndarray],
                      invocations: int) -> list[np.ndarray]:
    """tflite_micro's outputs after ``invocations`` runs on ``arrays`` (one if stateless)."""
    runner = ReferenceRunner(source.data, source.model)
    outputs = runner.invoke(arrays)
    for _ in range(invocations - 1 if is_stateful(source.model) else 0):
        outputs = runner.invoke(arrays)
    return outputs


def latency_stats(values: Sequence[float]) -> dict[str, Any]:
    """min, median, mean, p90, p99 (linear interpolation), max, sample stdev, samples."""
    a = np.asarray(values, dtype=np.float64)
    return {
        "min": float(a.min()), "median": float(np.median(a)), "mean": float(a.mean()),
        "p90": float(np.percentile(a, 90)), "p99": float(np.percentile(a, 99)),
        "max": float(a.max()), "stdev": float(a.std(ddof=1)) if a.size > 1 else 0.0,
        "samples": [float(v) for v in a],
    }


def shape_summary(sg: Subgraph, op_index: int) -> str:
    """First input's shape -> first output's shape, e.g. '1x49x10x1 -> 1x25x5x64'."""
    op = sg.operators[op_index]

    def shape(indices: Sequence[int]) -> str:
        for t in indices:
            if t >= 0 and not sg.tensors[t].is_constant:
                return "x".join(str(d) for d in sg.tensors[t].shape) or "scalar"
        return "-"

    return f"{shape(op.inputs)} -> {shape(op.outputs)}"


def op_records(model: Model, op_ticks: Sequence[int], runs: int,
               counter: CounterUnit) -> list[dict[str, Any]]:
    """The per-operator profile: mean counts per inference and each one's share."""
    sg = model.subgraphs[0]
    macs = subgraph_macs(sg)
    total = sum(op_ticks)
    records = []
    for op, op_macs, ticks in zip(sg.operators, macs, op_ticks, strict=True):
        counts = counter.convert(ticks) / runs
        records.append({
            "index": op.index, "op": op.op, "shape": shape_summary(sg, op.index),
            "macs": op_macs, "counts": counts, "share": ticks / total if total else 0.0,
            "counts_per_mac": counts / op_macs if op_macs else None,
        })
    return records


@functools.cache
def host_versions() -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in _HOST_PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "packages": packages}


@functools.cache
def emulator_version(binary: str) -> str:
    """'QEMU emulator version 7.2.x ...' (first line), or the binary's name if it won't say."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return binary
    first = done.stdout.strip().splitlines()[:1]
    return f"{binary}: {first[0]}" if first else binary


def provenance(session: Session, build: BuildResult | None) -> dict[str, Any]:
    info = session.info
    board = session.board
    emulator = None
    if session.target == "qemu" and board is not None and board.emulator is not None:
        emulator = (f"{emulator_version(board.emulator.binary)}, machine "
                    f"{board.emulator.machine}, -icount shift=0")
    return {
        "core": info.core, "clock_hz": info.clock_hz, "emulated": session.target == "qemu",
        "target": session.target, "emulator": emulator,
        "counter_note": session.counter.note, "compiler": info.compiler or "unknown",
        "build_flags": info.build_flags or "unknown", "kernels": info.kernels or "unknown",
        "firmware_version": info.firmware_version, "firmware_git": info.firmware_git or "unknown",
        "firmware_sha256": build.sha256 if build is not None else None,
        "protocol_version": info.protocol_version, "url": session.url, "date": utc_now(),
        "host": host_versions(),
    }


@dataclass
class Pass:
    """One pass over a device: what was built, measured, and what the device said it is."""

    build: BuildResult | None  # None for a board at --port (its firmware was not built here)
    measurement: Measurement
    board: str
    target: str
    counter: CounterUnit
    clock_hz: int
    provenance: dict[str, Any]

    def values(self) -> list[float]:
        """The measured inferences in counter units."""
        return [self.counter.convert(t) for t in self.measurement.ticks]

    def microseconds(self) -> dict[str, Any] | None:
        """Latency in µs where the counter is a real clock; None under an emulator."""
        if self.target == "qemu":
            return None
        if self.counter.unit == "ns":
            return latency_stats([v / 1000.0 for v in self.values()])
        if self.counter.unit == "cycles" and self.clock_hz:
            return latency_stats([v * 1e6 / self.clock_hz for v in self.values()])
        return None


class Bench:
    """Benchmarks of models on one target; ``run`` gives one schema result per model."""

    def __init__(self, target: Target, config: BenchConfig,
                 progress: Progress | None = None) -> None:
        if (target.board is None) == (target.port is None):
            raise UsageError("name a board to emulate (--board B) or a serial port (--port URL)")
        self.target = target
        self.config = config
        self.progress = progress

    def run(self, source: ModelSource, arrays: Sequence[np.ndarray],
            input_label: str) -> Result:
        # A board at --port runs the one firmware it was flashed with: one pass, profiled
        # if asked (then its figures include the profiler, and its cost is not measured).
        on_port = self.target.port is not None
        plain = self._pass(source, arrays, profile=self.config.profile and on_port)
        want = reference_outputs(source, arrays, self.config.warmup + self.config.runs)
        checks = [compare(i, g, w) for i, (g, w) in
                  enumerate(zip(plain.measurement.outputs, want, strict=True))]
        result = self._record(source, input_label, plain, checks)
        if self.config.profile:
            profiled = plain if on_port else self._pass(source, arrays, profile=True)
            result.update(self._profile(source, plain, profiled))
        return result

    def _pass(self, source: ModelSource, arrays: Sequence[np.ndarray], *,
              profile: bool) -> Pass:
        """Build (for --board), boot or connect, load the model, measure."""
        target = self.target
        build = None
        embedded = bool(self.config.embedded)
        if target.board is not None:
            board = get_board(target.board)
            options = FirmwareOptions(
                model=source.data if embed_model(source, board, self.config.embedded) else None,
                profile=profile, opt=self.config.opt)
            self._say(f"building {board.name} firmware ({options.describe()})")
            build = build_firmware(board, options)  # incremental: quick when up to date
            embedded = options.model is not None
        with open_session(board=target.board, port=target.port, baudrate=target.baudrate,
                          elf=build.elf if build is not None else None,
                          trace=target.trace) as session:
            info = session.info
            if profile and Capability.PROFILE not in info.capabilities:
                raise BoardError(f"the firmware on {info.board} has no profiler: flash one "
                                 f"built with mcubench build --board {info.board} --profile")
            self._say(f"loading {Path(source.name).name} on {info.board}")
            inference = load_on_device(session.device, source.data, embedded=embedded)
            measurement = measure(inference, arrays, self.config, profile=profile,
                                  progress=self.progress)
            return Pass(build, measurement, info.board, session.target, session.counter,
                        info.clock_hz, provenance(session, build))

    def _profile(self, source: ModelSource, plain: Pass, profiled: Pass) -> dict[str, Any]:
        """The per-operator profile, and what the profiler cost when two firmwares ran."""
        op_ticks = profiled.measurement.op_ticks
        assert op_ticks is not None
        total = sum(profiled.measurement.ticks)
        profile: dict[str, Any] = {"ops_sum_ratio": sum(op_ticks) / total if total else 0.0}
        if profiled is not plain:
            plain_median = float(np.median(plain.values()))
            profiled_median = float(np.median(profiled.values()))
            profile.update(overhead=profiled_median / plain_median - 1.0 if plain_median else 0.0,
                           plain_median=plain_median, profiled_median=profiled_median)
        return {"ops": op_records(source.model, op_ticks, self.config.runs, profiled.counter),
                "profile": profile}

    def _record(self, source: ModelSource, input_label: str, plain: Pass,
                checks: list[OutputCheck]) -> Result:
        config = self.config
        graph = source.model.subgraphs[0]
        macs = sum(subgraph_macs(graph))
        latency = latency_stats(plain.values())
        loaded = plain.measurement.loaded
        build = plain.build
        size = build.size if build is not None else None
        return {
            "model": source.name, "model_sha256": source.sha256, "model_bytes": len(source.data),
            "board": plain.board, "counter_unit": plain.counter.unit,
            "runs": config.runs, "warmup": config.warmup, "input": input_label,
            "latency": latency, "latency_us": plain.microseconds(),
            "macs": macs, "counts_per_mac": latency["median"] / macs if macs else None,
            "arena_bytes": loaded.required_bytes,
            "arena": {"nonpersistent_bytes": loaded.nonpersistent_bytes,
                      "scratch_bytes": loaded.scratch_bytes,
                      "persistent_bytes": loaded.persistent_bytes,
                      "available_bytes": loaded.arena_bytes},
            "bit_exact": all(c.bit_exact for c in checks),
            "outputs": [{"index": c.index, "name": graph.tensors[t].name,
                         "dtype": graph.tensors[t].dtype, "shape": list(graph.tensors[t].shape),
                         "bit_exact": c.bit_exact,
                         "max_abs_diff": c.max_abs_diff if np.isfinite(c.max_abs_diff) else None}
                        for c, t in zip(checks, graph.outputs, strict=True)],
            "firmware": {
                "flash_bytes": size.flash_bytes if size else None,
                "ram_bytes": size.ram_bytes if size else None,
                "text": size.text if size else None, "data": size.data if size else None,
                "bss": size.bss if size else None,
                "model_in_flash": (build.options.model is not None) if build
                else bool(config.embedded),
                "opt": build.options.opt if build else None,
            },
            "provenance": plain.provenance,
        }

    def _say(self, what: str) -> None:
        if self.progress is not None:
            self.progress(what, 0, 0)
