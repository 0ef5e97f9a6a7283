"""Arena estimate: where TFLM's planner puts the activations, and the peak it reaches.

This mirrors TFLite Micro's ``AllocationInfoBuilder`` and ``GreedyMemoryPlanner``:

- Planned are the tensors without data that are not variables and not empty (constants
  stay in the model, variables live in the persistent part of the arena), except the
  outputs of VAR_HANDLE: its Prepare points them at the resource id it keeps, and TFLM
  plans only tensors still without data after Prepare. Sizes are rounded up to 16
  bytes, TFLM's ``MicroArenaBufferAlignment()``.
- Lifetimes count allocation scopes: a subgraph's inputs and outputs are created when it
  starts, every operator opens a new scope, an operator's outputs are created in its
  scope (re-creation overrides, as in TFLM, so a graph output lives from its producer),
  its inputs and outputs are used there, and the subgraph's outputs stay alive to its
  end. Control-flow operators (CALL_ONCE, IF, WHILE) plan the subgraphs they call inside
  their own lifetime, starting from subgraph 0; tensors of subgraphs never reached are
  not planned.
- Placement is greedy by size: biggest first (ties in reverse tensor order), each at
  the lowest offset where it overlaps, in time, no buffer placed before it.

Scratch buffers that kernels request while preparing are planned too, after all
tensors and alive during their operator, for the kernels whose requests are known:
TFLM's reference SVDF (``batch * filters`` int32, and for integer SVDF also
``batch * units`` int32). Other kernels of the reference set that the shared models use
request none. Not included: the persistent part of the arena (tensor structs,
quantisation parameters, variables), whose size depends on the pointer width.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from mcubench.errors import ModelError
from mcubench.model.tflite import Model, Operator, Subgraph

ALIGNMENT = 16

# Option fields naming the subgraphs a control-flow operator runs, in TFLM's order.
_CALLS = {
    "CALL_ONCE": ("init_subgraph_index",),
    "IF": ("then_subgraph_index", "else_subgraph_index"),
    "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
}


@dataclass(frozen=True)
class PlannedBuffer:
    """One activation tensor's, or one operator's scratch buffer's, place in the arena."""

    subgraph: int
    tensor: int | None  # None for a scratch buffer
    scratch_of: int | None  # the operator owning a scratch buffer
    size: int  # bytes, rounded up to the alignment
    first_use: int  # allocation scopes, as TFLM counts them
    last_use: int
    offset: int


@dataclass(frozen=True)
class ArenaPlan:
    buffers: tuple[PlannedBuffer, ...]
    peak_bytes: int  # the non-persistent arena TFLM needs for these tensors


def plan_arena(model: Model, alignment: int = ALIGNMENT) -> ArenaPlan:
    """Plan every activation tensor of ``model`` the way TFLM's greedy planner does."""
    lifetimes = _Lifetimes(model)
    lifetimes.mark(0)
    # (subgraph, tensor, scratch_of, bytes, first, last), in TFLM's AddBuffer order.
    wanted: list[tuple[int, int | None, int | None, int, int, int]] = []
    handles = {(sg.index, t) for sg in model.subgraphs for op in sg.operators
               if op.op == "VAR_HANDLE" and not op.custom for t in op.outputs}
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.is_constant or t.is_variable or (sg.index, t.index) in handles:
                continue
            nbytes = t.nbytes
            if nbytes is None:
                raise ModelError(f"subgraph {sg.index}, tensor {t.index} ({t.name!r}): "
                                 f"TFLM cannot allocate a {t.dtype} tensor")
            if nbytes == 0:
                continue
            # TFLM plans a tensor nothing writes or reads with lifetime (-1, -1), where
            # all such tensors overlap one another: mirrored, not cleaned up.
            first, last = lifetimes.span.get((sg.index, t.index), (-1, -1))
            wanted.append((sg.index, t.index, None, nbytes, first, last))
    # Kernels request scratch while preparing: subgraph by subgraph, operator by operator.
    for (s, op_index), (first, last) in sorted(lifetimes.op_span.items()):
        op = model.subgraphs[s].operators[op_index]
        for nbytes in _scratch_requests(model.subgraphs[s], op):
            wanted.append((s, None, op_index, nbytes, first, last))
    sizes = [-(-nbytes // alignment) * alignment for *_, nbytes, _, _ in wanted]
    placed = _place([(size, w[4], w[5]) for size, w in zip(sizes, wanted, strict=True)])
    buffers = tuple(
        PlannedBuffer(s, t, op, size, first, last, offset)
        for (s, t, op, _, first, last), size, offset in zip(wanted, sizes, placed, strict=True)
    )
    return ArenaPlan(buffers, max((b.offset + b.size for b in buffers), default=0))


def _scratch_requests(subgraph: Subgraph, op: Operator) -> list[int]:
    """Bytes of the scratch buffers TFLM's reference kernel asks for in Prepare."""
    if op.op != "SVDF" or op.custom or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
        return []
    input_tensor, weights_feature = (subgraph.tensors[t] for t in op.inputs[:2])
    batch = input_tensor.shape[0] if input_tensor.shape else 1
    filters = weights_feature.shape[0] if weights_feature.shape else 1
    if input_tensor.dtype == "FLOAT32":
        return [batch * filters * 4]
    rank = op.options.get("rank")
    units = filters // rank if isinstance(rank, int) and rank > 0 else filters
    return [batch * filters * 4, batch * units * 4]


class _Lifetimes:
    """First and last allocation scope of every tensor reached from subgraph 0."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.scope = 0
        self.span: dict[tuple[int, int], tuple[int, int]] = {}
        self.op_span: dict[tuple[int, int], tuple[int, int]] = {}  # scratch lifetimes
        self._active: list[int] = []

    def _create(self, s: int, t: int) -> None:
        self.span[(s, t)] = (self.scope, self.scope)

    def _use(self, s: int, t: int) -> None:
        first, _ = self.span.get((s, t), (-1, -1))  # never created: TFLM's -1
        self.span[(s, t)] = (first, self.scope)

    def mark(self, s: int) -> None:
        if s in self._active:
            raise ModelError(f"subgraph {s} calls itself (through subgraphs {self._active})")
        self._active.append(s)
        sg = self.model.subgraphs[s]
        for t in (*sg.inputs, *sg.outputs):
            self._create(s, t)
        for op in sg.operators:
            self.scope += 1
            for t in op.outputs:
                self._create(s, t)
            op_start = self.scope
            for called in self._called(s, op):
                self.scope += 1
                self.mark(called)
            for t in op.inputs:
                if t >= 0:
                    self._use(s, t)
            for t in op.outputs:
                self._use(s, t)
            self.op_span[(s, op.index)] = (op_start, self.scope)
        for t in sg.outputs:
            self._use(s, t)
        self._active.pop()

    def _called(self, s: int, op: Operator) -> list[int]:
        called = []
        for field in _CALLS.get(op.op, ()):
            index = op.options.get(field)
            if not isinstance(index, int) or not 0 <= index < len(self.model.subgraphs):
                raise ModelError(f"subgraph {s}, operator {op.index} ({op.op}): {field} "
                                 f"{index} is not a subgraph (0..{len(self.model.subgraphs) - 1})")
            called.append(index)
        return called


def _place(buffers: list[tuple[int, int, int]]) -> list[int]:
    """Offsets for (size, first, last) buffers: TFLM's GreedyMemoryPlanner, step by step."""
    offsets = [0] * len(buffers)
    by_offset: list[tuple[int, int]] = []  # (offset, buffer) sorted by offset, ties by age
    # TFLM fills its sort array from the tail, then bubble-sorts it by size, which is
    # stable: equal sizes are placed in reverse tensor order, and this changes the peak.
    for i in sorted(reversed(range(len(buffers))), key=lambda i: -buffers[i][0]):
        size, first, last = buffers[i]
        candidate = 0
        for offset, j in by_offset:
            _, j_first, j_last = buffers[j]
            if j_first > last or first > j_last:
                continue  # not alive at the same time: its space is free for us
            if offset - candidate >= size:
                break
            candidate = max(candidate, offset + buffers[j][0])
        offsets[i] = candidate
        # After every entry at the same offset, as TFLM inserts into its linked list.
        by_offset.insert(bisect.bisect_right(by_offset, candidate, key=lambda e: e[0]),
                         (candidate, i))
    return offsets
