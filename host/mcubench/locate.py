"""``mcubench run --locate``: the first operator whose output differs from TFLM's.

tflite_micro runs the model once with every tensor preserved. On the device, the arena
reuses memory, so an intermediate tensor lives only until its last reader: the device runs
operators 0..k only (INVOKE's ``last_node``), from a reset, and the host reads operator
k's outputs before anything overwrites them. Operators are tried in execution order; the
first whose output differs is where the two runtimes part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mcubench.inference import LoadedInference
from mcubench.model import Model
from mcubench.reference import ReferenceRunner
from mcubench.run import compare


@dataclass(frozen=True)
class Divergence:
    node: int
    op: str
    tensor: int
    name: str
    max_abs_diff: float
    differing_elements: int
    elements: int

    def __str__(self) -> str:
        return (f"node {self.node} ({self.op}) is the first to differ: output tensor "
                f"{self.tensor} {self.name!r}, {self.differing_elements} of {self.elements} "
                f"elements, max |diff| {self.max_abs_diff:g}")


def locate(inference: LoadedInference, model_bytes: bytes, model: Model,
           inputs: Sequence[np.ndarray],
           on_node: Callable[[int, int], None] | None = None) -> Divergence | None:
    """The first operator of subgraph 0 whose output differs, or None if none does."""
    reference = ReferenceRunner(model_bytes, model, preserve_all_tensors=True)
    reference.invoke(inputs)
    graph = model.subgraphs[0]
    for op in graph.operators:
        if on_node is not None:
            on_node(op.index, len(graph.operators))
        inference.reset()
        inference.set_inputs(inputs)
        inference.invoke(last_node=op.index)
        for t in op.outputs:
            if t < 0:
                continue
            got = inference.read_tensor(inference.tensor_info(t))
            check = compare(0, got, reference.tensor(t))
            if not check.bit_exact:
                return Divergence(op.index, op.op, t, graph.tensors[t].name,
                                  check.max_abs_diff, check.differing_elements, got.size)
    return None
