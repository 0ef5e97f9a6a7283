"""pytest plugin (entry point ``pytest11``): boards as fixtures for a project's own CI.

    def test_kws(mcubench_board):
        dev = mcubench_board("qemu-m4")
        r = dev.run("kws.tflite", x)
        assert r.bit_exact
        assert dev.bench("kws.tflite", runs=20).median < 70e6

``mcubench_board(name)`` boots the board in its emulator once per test session (or, with
``--mcubench-port URL``, talks to the real board flashed with mcubench's firmware there).
``run`` compares every output with tflite_micro bit for bit; ``bench`` gives the same
result ``mcubench bench --json`` writes (docs/results.schema.json).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mcubench.bench import Bench, BenchConfig, ModelSource, Target
from mcubench.errors import UsageError
from mcubench.inference import LoadedInference, load_on_device
from mcubench.model import load_model, read_model
from mcubench.model.catalog import resolve_model
from mcubench.reference import ReferenceRunner, random_inputs
from mcubench.results import Result
from mcubench.run import OutputCheck, compare
from mcubench.session import Session, open_session

ModelLike = str | Path | bytes  # a .tflite path, pymicro-wakeword:NAME, or the bytes
InputsLike = np.ndarray | Sequence[np.ndarray] | None  # None: seeded random inputs


@dataclass(frozen=True)
class RunOutcome:
    """One inference on the device, against tflite_micro."""

    outputs: list[np.ndarray]  # the device's
    expected: list[np.ndarray]  # tflite_micro's
    checks: list[OutputCheck]
    latency: float  # in ``unit``
    unit: str  # the board's counter unit: instructions under an emulator

    @property
    def bit_exact(self) -> bool:
        return all(c.bit_exact for c in self.checks)


@dataclass(frozen=True)
class BenchOutcome:
    """A benchmark: ``record`` is the schema's result; the common fields as attributes."""

    record: Result

    @property
    def bit_exact(self) -> bool:
        return bool(self.record["bit_exact"])

    @property
    def median(self) -> float:
        return float(self.record["latency"]["median"])

    @property
    def unit(self) -> str:
        return str(self.record["counter_unit"])

    @property
    def arena_bytes(self) -> int:
        return int(self.record["arena_bytes"])


def model_source(model: ModelLike) -> ModelSource:
    if isinstance(model, bytes):
        return ModelSource("<bytes>", model, read_model(model))
    path = resolve_model(str(model))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read model {path}: {exc.strerror}") from exc
    return ModelSource(str(model), data, load_model(path))


def input_arrays(source: ModelSource, inputs: InputsLike, seed: int = 0) -> list[np.ndarray]:
    if inputs is None:
        return random_inputs(source.model, seed)
    if isinstance(inputs, np.ndarray):
        return [inputs]
    return list(inputs)


class BoardHandle:
    """One board for the whole test session; models are loaded as tests ask for them."""

    def __init__(self, name: str, port: str | None, stack: contextlib.ExitStack) -> None:
        self.name = name
        self.port = port
        self._stack = stack
        self._session: Session | None = None
        self._loaded: tuple[str, LoadedInference] | None = None  # (model sha256, inference)

    @property
    def session(self) -> Session:
        if self._session is None:
            session = self._stack.enter_context(open_session(
                board=None if self.port else self.name, port=self.port))
            if session.info.board != self.name:
                raise UsageError(f"the board at {self.port} is {session.info.board}, "
                                 f"not {self.name}")
            self._session = session
        return self._session

    def run(self, model: ModelLike, inputs: InputsLike = None, *, seed: int = 0) -> RunOutcome:
        """One inference from the model's initial state (a stateful model is reset first)."""
        source = model_source(model)
        arrays = input_arrays(source, inputs, seed)
        inference = self._load(source)
        inference.reset()
        inference.set_inputs(arrays)
        ticks = inference.invoke().total_ticks
        got = inference.get_outputs()
        want = ReferenceRunner(source.data, source.model).invoke(arrays)
        checks = [compare(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True))]
        counter = self.session.counter
        return RunOutcome(got, want, checks, counter.convert(ticks), counter.unit)

    def bench(self, model: ModelLike, runs: int = 20, *, warmup: int = 1,
              profile: bool = False, inputs: InputsLike = None, seed: int = 0) -> BenchOutcome:
        """``mcubench bench`` on this board: it boots firmware of its own (profiler, model
        in flash) as the benchmark needs, apart from the board ``run`` uses."""
        source = model_source(model)
        arrays = input_arrays(source, inputs, seed)
        target = Target(port=self.port) if self.port else Target(board=self.name)
        config = BenchConfig(runs=runs, warmup=warmup, profile=profile)
        label = "given inputs" if inputs is not None else f"seed {seed}"
        return BenchOutcome(Bench(target, config).run(source, arrays, label))

    def _load(self, source: ModelSource) -> LoadedInference:
        if self._loaded is None or self._loaded[0] != source.sha256:
            self._loaded = (source.sha256,
                            load_on_device(self.session.device, source.data))
        return self._loaded[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mcubench")
    group.addoption("--mcubench-port", metavar="URL", default=None,
                    help="run mcubench_board fixtures on the board at this serial URL "
                         "(flashed with mcubench's firmware) instead of an emulator")


@pytest.fixture(scope="session")
def mcubench_board(request: pytest.FixtureRequest) -> Iterator[Callable[[str], BoardHandle]]:
    """``mcubench_board("qemu-m4")``: the board, booted once per session and name."""
    port: str | None = request.config.getoption("--mcubench-port")
    boards: dict[str, BoardHandle] = {}
    with contextlib.ExitStack() as stack:

        def get(name: str) -> BoardHandle:
            if name not in boards:
                boards[name] = BoardHandle(name, port, stack)
            return boards[name]

        yield get


__all__ = ["BenchOutcome", "BoardHandle", "RunOutcome", "mcubench_board"]

