"""Multiply-accumulates per operator, with the convention of MLPerf Tiny's reference numbers.

Counted, from the static shapes in the model (N batch, OH/OW/OC output height, width,
channels, KH/KW kernel size):

- ``CONV_2D``: N*OH*OW*OC * KH*KW*IC, IC taken from the filter ``[OC, KH, KW, IC]``
  (so a grouped convolution counts only the channels each output sees);
- ``DEPTHWISE_CONV_2D``: N*OH*OW*OC * KH*KW (OC = input channels * depth multiplier);
- ``FULLY_CONNECTED``: output elements * accumulation depth (= batch * units * inputs);
- ``SVDF``: N * filters * (input size + memory size): the feature matmul plus the
  time-weighted sum over the memory (the rank reduction and bias are additions).

Everything else counts 0: pooling (AVERAGE_POOL_2D adds, it does not multiply-accumulate
weights), element-wise ops (ADD, MUL), activations, SOFTMAX, and data movement. Bias
additions and requantisation are not MACs either. Ops with weights that are not in the
list above (TRANSPOSE_CONV, BATCH_MATMUL, LSTM) also count 0 until they get a rule.

These rules give exactly the reference totals: KWS DS-CNN 2,656,768, VWW 7,489,664,
IC ResNet-8 12,501,632, AD 264,192, micro_speech 336,000. Counting ResNet-8's three ADDs
(one per output element) would add 28,672 and break the ResNet-8 figure; counting the
two average pools would break KWS, VWW and ResNet-8.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from mcubench.errors import ModelError
from mcubench.model.tflite import Model, Operator, Subgraph


def operator_macs(subgraph: Subgraph, op: Operator) -> int:
    """MACs of one operator of ``subgraph`` (0 for ops that are not counted)."""
    rule = None if op.custom else _RULES.get(op.op)
    return 0 if rule is None else rule(_Shapes(subgraph, op))


def subgraph_macs(subgraph: Subgraph) -> tuple[int, ...]:
    """MACs of every operator of a subgraph, in execution order."""
    return tuple(operator_macs(subgraph, op) for op in subgraph.operators)


def model_macs(model: Model) -> int:
    """MACs of one inference: every operator of every subgraph once."""
    return sum(sum(subgraph_macs(sg)) for sg in model.subgraphs)


class _Shapes:
    """Shapes of an operator's operands, with errors that name the operator."""

    def __init__(self, subgraph: Subgraph, op: Operator) -> None:
        self.subgraph, self.op = subgraph, op

    def _fail(self, message: str) -> ModelError:
        return ModelError(
            f"subgraph {self.subgraph.index}, operator {self.op.index} ({self.op.op}): {message}"
        )

    def _check(self, what: str, tensor: int, rank: int) -> tuple[int, ...]:
        shape = self.subgraph.tensors[tensor].shape
        if len(shape) != rank:
            raise self._fail(f"{what} (tensor {tensor}) has shape {list(shape)}, "
                             f"expected {rank} dimensions")
        return shape

    def input(self, n: int, what: str, rank: int) -> tuple[int, ...]:
        if n >= len(self.op.inputs) or self.op.inputs[n] < 0:
            raise self._fail(f"{what} (input {n}) is missing")
        return self._check(what, self.op.inputs[n], rank)

    def output(self, rank: int | None = None) -> tuple[int, ...]:
        if not self.op.outputs:
            raise self._fail("has no output")
        tensor = self.op.outputs[0]
        if rank is None:
            return self.subgraph.tensors[tensor].shape
        return self._check("output", tensor, rank)


def _conv(s: _Shapes) -> int:
    _, kh, kw, ic = s.input(1, "filter", 4)
    return math.prod(s.output(4)) * kh * kw * ic


def _depthwise(s: _Shapes) -> int:
    _, kh, kw, _ = s.input(1, "filter", 4)
    return math.prod(s.output(4)) * kh * kw


def _fully_connected(s: _Shapes) -> int:
    _, depth = s.input(1, "weights", 2)
    return math.prod(s.output()) * depth


def _svdf(s: _Shapes) -> int:
    batch, _ = s.input(0, "input", 2)
    filters, input_size = s.input(1, "weights_feature", 2)
    _, memory = s.input(2, "weights_time", 2)
    return batch * filters * (input_size + memory)


_RULES: dict[str, Callable[[_Shapes], int]] = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "SVDF": _svdf,
}
