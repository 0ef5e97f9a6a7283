"""Build small ``.tflite`` models in tests, with flatbuffers and tflite_micro's schema module.

    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 4], "INT8", scales=0.5, zero_points=-3)
    w = g.add_tensor([3, 4], "INT8", data=weights, scales=0.01)
    y = g.add_tensor([1, 3], "INT8", scales=0.25, zero_points=1)
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [y], {"fused_activation_function": "RELU"})
    g.set_io(inputs=[x], outputs=[y])
    model_bytes = mb.build()

Options are given like ``mcubench.model`` reads them: snake_case schema field names, enum
fields by name. The builder checks nothing about the graph (tests build broken models on
purpose); buffer data is 16-byte aligned, as TFLM and the firmware want it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from mcubench.model.tflite import FILE_IDENTIFIER, OPERATOR_CODES, OPTION_ENUMS, SCHEMA_VERSION
from mcubench.reference import NUMPY_DTYPES

# Ops whose options table is not named after the op.
_OPTIONS_TYPE_OF = {
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions", "MEAN": "ReducerOptions", "SUM": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions", "REDUCE_MIN": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
}
_OPTIONS_BY_LOWER: dict[str, str] = {
    name.lower(): name for name in vars(schema.BuiltinOptions) if name.endswith("Options")
}


def options_type_for(op: str) -> str:
    """The BuiltinOptions table name of a builtin op ('' when it takes none)."""
    if op in _OPTIONS_TYPE_OF:
        return _OPTIONS_TYPE_OF[op]
    return _OPTIONS_BY_LOWER.get(op.replace("_", "").lower() + "options", "")


@dataclass
class SubgraphBuilder:
    """Tensors, operators and the inputs/outputs of one subgraph."""

    model: ModelBuilder
    index: int
    name: str
    tensors: list[Any] = field(default_factory=list)  # schema.TensorT
    operators: list[Any] = field(default_factory=list)  # schema.OperatorT
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def add_tensor(
        self,
        shape: Sequence[int],
        dtype: str = "INT8",
        *,
        name: str = "",
        data: np.ndarray | bytes | None = None,
        buffer: int | None = None,
        scales: float | Sequence[float] | None = None,
        zero_points: int | Sequence[int] | None = None,
        quantized_dimension: int = 0,
        variable: bool = False,
        shape_signature: Sequence[int] | None = None,
    ) -> int:
        """A tensor; ``data`` makes it constant (converted to ``dtype``). Returns its index."""
        t = schema.TensorT()
        t.shape = list(shape)
        t.type = getattr(schema.TensorType, dtype)
        t.name = name or f"t{len(self.tensors)}"
        if data is not None:
            if not isinstance(data, bytes):
                data = np.ascontiguousarray(data, dtype=NUMPY_DTYPES[dtype]).tobytes()
            buffer = self.model.add_buffer(data)
        t.buffer = 0 if buffer is None else buffer
        if scales is not None:
            scale_list = [float(scales)] if isinstance(scales, float | int) else list(scales)
            zp = 0 if zero_points is None else zero_points
            zp_list = [int(zp)] * len(scale_list) if isinstance(zp, int) else list(zp)
            t.quantization = schema.QuantizationParametersT()
            t.quantization.scale = scale_list
            t.quantization.zeroPoint = zp_list
            t.quantization.quantizedDimension = quantized_dimension
        t.isVariable = variable
        if shape_signature is not None:
            t.shapeSignature = list(shape_signature)
        self.tensors.append(t)
        return len(self.tensors) - 1

    def add_operator(
        self,
        op: str,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Mapping[str, Any] | None = None,
        *,
        options_type: str | None = None,
        custom: bool = False,
        version: int = 1,
    ) -> int:
        """An operator (builtin by BuiltinOperator name, or custom). Returns its index."""
        o = schema.OperatorT()
        o.opcodeIndex = self.model.opcode_index(op, custom=custom, version=version)
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        kind = options_type if options_type is not None else "" if custom else options_type_for(op)
        if kind:
            o.builtinOptionsType = getattr(schema.BuiltinOptions, kind)
            o.builtinOptions = _options_table(kind, options or {})
        elif options:
            raise ValueError(f"{op} takes no builtin options, got {dict(options)}")
        self.operators.append(o)
        return len(self.operators) - 1

    def set_io(self, inputs: Sequence[int], outputs: Sequence[int]) -> None:
        self.inputs, self.outputs = list(inputs), list(outputs)


class ModelBuilder:
    """Buffers, operator codes and subgraphs of one model; ``build()`` gives the bytes."""

    def __init__(self, description: str = "mcubench test model") -> None:
        self.description = description
        self.buffers: list[bytes] = [b""]  # buffer 0 is the empty sentinel, by convention
        self.opcodes: list[tuple[str, bool, int]] = []  # (name, custom, version)
        self.subgraphs: list[SubgraphBuilder] = []

    def add_subgraph(self, name: str = "") -> SubgraphBuilder:
        sg = SubgraphBuilder(self, len(self.subgraphs), name or f"subgraph{len(self.subgraphs)}")
        self.subgraphs.append(sg)
        return sg

    def add_buffer(self, data: bytes = b"") -> int:
        self.buffers.append(data)
        return len(self.buffers) - 1

    def opcode_index(self, op: str, *, custom: bool = False, version: int = 1) -> int:
        key = (op, custom, version)
        if key not in self.opcodes:
            self.opcodes.append(key)
        return self.opcodes.index(key)

    def build(self) -> bytes:
        b = flatbuffers.Builder(1024)
        # Buffers first and by hand: the generated Pack() does not align their data.
        buffers = [_pack_buffer(b, data) for data in self.buffers]
        codes = [_opcode(*key).Pack(b) for key in self.opcodes]
        subgraphs = [_subgraph(sg).Pack(b) for sg in self.subgraphs]
        description = b.CreateString(self.description)
        code_vec = _offsets(b, schema.ModelStartOperatorCodesVector, codes)
        subgraph_vec = _offsets(b, schema.ModelStartSubgraphsVector, subgraphs)
        buffer_vec = _offsets(b, schema.ModelStartBuffersVector, buffers)
        schema.ModelStart(b)
        schema.ModelAddVersion(b, SCHEMA_VERSION)
        schema.ModelAddOperatorCodes(b, code_vec)
        schema.ModelAddSubgraphs(b, subgraph_vec)
        schema.ModelAddDescription(b, description)
        schema.ModelAddBuffers(b, buffer_vec)
        b.Finish(schema.ModelEnd(b), file_identifier=FILE_IDENTIFIER)
        return bytes(b.Output())


def fully_connected_model(
    batch: int = 1, depth: int = 4, units: int = 3, seed: int = 0,
    activation: str = "NONE",
) -> bytes:
    """A one-op int8 FULLY_CONNECTED model with seeded weights and bias."""
    rng = np.random.default_rng(seed)
    mb = ModelBuilder()
    g = mb.add_subgraph("main")
    x = g.add_tensor([batch, depth], "INT8", name="input", scales=0.05, zero_points=-3)
    w = g.add_tensor([units, depth], "INT8", name="weights", scales=0.02,
                     data=rng.integers(-127, 128, size=(units, depth)))
    bias = g.add_tensor([units], "INT32", name="bias", scales=0.05 * 0.02,
                        data=rng.integers(-500, 500, size=units))
    y = g.add_tensor([batch, units], "INT8", name="output", scales=0.1, zero_points=2)
    g.add_operator("FULLY_CONNECTED", [x, w, bias], [y],
                   {"fused_activation_function": activation})
    g.set_io([x], [y])
    return mb.build()


def accumulator_model(width: int = 16) -> bytes:
    """Two subgraphs and a resource variable: ``state = state + x; return state``.

    Subgraph 1 (run once by CALL_ONCE) sets the state to 0, 1, 2, ...; every invocation
    of subgraph 0 adds its int8 input (scale 0.5, zero point 0) to the state.
    """
    mb = ModelBuilder()
    main, init = mb.add_subgraph("main"), mb.add_subgraph("init")
    x = main.add_tensor([1, width], name="x", scales=0.5)
    handle = main.add_tensor([], "RESOURCE", name="handle")
    state = main.add_tensor([1, width], name="state", scales=0.5)
    y = main.add_tensor([1, width], name="y", scales=0.5)
    main.add_operator("CALL_ONCE", [], [], {"init_subgraph_index": init.index})
    main.add_operator("VAR_HANDLE", [], [handle], {"shared_name": "acc"})
    main.add_operator("READ_VARIABLE", [handle], [state])
    main.add_operator("ADD", [state, x], [y])
    main.add_operator("ASSIGN_VARIABLE", [handle, y], [])
    main.set_io([x], [y])
    init_handle = init.add_tensor([], "RESOURCE", name="handle")
    start = init.add_tensor([1, width], name="start", data=np.arange(width), scales=0.5)
    init.add_operator("VAR_HANDLE", [], [init_handle], {"shared_name": "acc"})
    init.add_operator("ASSIGN_VARIABLE", [init_handle, start], [])
    return mb.build()


def _options_table(kind: str, options: Mapping[str, Any]) -> Any:
    table = getattr(schema, kind + "T")()
    for key, value in options.items():
        parts = key.split("_")
        camel = parts[0] + "".join(p.capitalize() for p in parts[1:])
        if not hasattr(table, camel):
            raise KeyError(f"{kind} has no field {key!r}")
        if key in OPTION_ENUMS and isinstance(value, str):
            codes = {name: code for code, name in OPTION_ENUMS[key].items()}
            setattr(table, camel, codes[value])
        else:
            setattr(table, camel, value)
    return table


def _opcode(op: str, custom: bool, version: int) -> Any:
    code = schema.OperatorCodeT()
    code.version = version
    if custom:
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
        code.customCode = op
    else:
        code.builtinCode = OPERATOR_CODES[op]
        # The old int8 field holds 127 (PLACEHOLDER_FOR_GREATER_OP_CODES) for larger codes.
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
    return code


def _subgraph(sg: SubgraphBuilder) -> Any:
    t = schema.SubGraphT()
    t.tensors, t.operators = sg.tensors, sg.operators
    t.inputs, t.outputs, t.name = sg.inputs, sg.outputs, sg.name
    return t


def _pack_buffer(b: flatbuffers.Builder, data: bytes) -> int:
    vector = None
    if data:
        b.StartVector(1, len(data), 16)
        b.head -= len(data)
        b.Bytes[b.head:b.head + len(data)] = data
        vector = b.EndVector()
    schema.BufferStart(b)
    if vector is not None:
        schema.BufferAddData(b, vector)
    return int(schema.BufferEnd(b))


def _offsets(b: flatbuffers.Builder, start: Any, items: list[int]) -> int:
    start(b, len(items))
    for item in reversed(items):
        b.PrependUOffsetTRelative(item)
    return int(b.EndVector())
