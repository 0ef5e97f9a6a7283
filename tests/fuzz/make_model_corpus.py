#!/usr/bin/env python3
"""Writes tiny .tflite seeds for tests/fuzz/fuzz_model.c into tests/fuzz/corpus_model/.

Usage: make_model_corpus.py [OUTDIR]

Built with the flatbuffers object API of the TFLite schema inside tflite_micro (no
TensorFlow). Each file name says what the model reader must answer:
``ok-<what>.tflite`` opens; ``err-<CODE>-<what>.tflite`` is rejected with error CODE
(tests/test_model_reader_c.py checks both). Deterministic output, a few KB in all.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

INT8, INT16, INT32, INT4, FLOAT32 = 9, 7, 2, 17, 0
FULLY_CONNECTED, RESHAPE, CALL_ONCE, CUSTOM = 9, 22, 129, 32


def tensor(shape: list[int] | None, ttype: int, buffer: int = 0, name: str = "", *,
           scales: list[float] | None = None, zero_points: list[int] | None = None,
           qdim: int = 0) -> Any:
    t = tfl.TensorT()
    t.shape = shape
    t.type = ttype
    t.buffer = buffer
    t.name = name
    if scales is not None or zero_points is not None:
        q = tfl.QuantizationParametersT()
        q.scale = scales
        q.zeroPoint = zero_points
        q.quantizedDimension = qdim
        t.quantization = q
    return t


def buffer(data: bytes | None = None) -> Any:
    b = tfl.BufferT()
    b.data = list(data) if data is not None else None
    return b


def opcode(builtin: int, custom: str | None = None, version: int = 1) -> Any:
    c = tfl.OperatorCodeT()
    c.deprecatedBuiltinCode = min(builtin, 127)  # 127: PLACEHOLDER_FOR_GREATER_OP_CODES
    c.builtinCode = builtin
    c.customCode = custom
    c.version = version
    return c


def operator(index: int, inputs: list[int], outputs: list[int], options_type: int = 0,
             options: Any = None) -> Any:
    op = tfl.OperatorT()
    op.opcodeIndex = index
    op.inputs = inputs
    op.outputs = outputs
    op.builtinOptionsType = options_type
    op.builtinOptions = options
    return op


def fc_model() -> Any:
    """int8 FULLY_CONNECTED [1,4] x [3,4] + bias [3] -> [1,3], per-channel weights."""
    sg = tfl.SubGraphT()
    sg.name = "main"
    sg.tensors = [
        tensor([1, 4], INT8, 0, "input", scales=[0.5], zero_points=[-128]),
        tensor([3, 4], INT8, 1, "weights", scales=[0.01, 0.02, 0.03], zero_points=[0, 0, 0]),
        tensor([3], INT32, 2, "bias", scales=[0.005, 0.01, 0.015], zero_points=[0, 0, 0]),
        tensor([1, 3], INT8, 0, "output", scales=[0.25], zero_points=[5]),
    ]
    sg.inputs = [0]
    sg.outputs = [3]
    options = tfl.FullyConnectedOptionsT()
    options.fusedActivationFunction = 1
    sg.operators = [operator(0, [0, 1, 2], [3], tfl.BuiltinOptions.FullyConnectedOptions,
                             options)]
    m = tfl.ModelT()
    m.version = 3
    m.description = "mcubench fuzz seed"
    m.operatorCodes = [opcode(FULLY_CONNECTED, version=4)]
    m.buffers = [buffer(), buffer(bytes(range(12))), buffer(struct.pack("<3i", 1, -2, 3))]
    m.subgraphs = [sg]
    return m


def pack(model: Any, identifier: bytes = b"TFL3") -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=identifier)
    return bytes(builder.Output())


def variant(change: Callable[[Any], None]) -> bytes:
    m = fc_model()
    change(m)
    return pack(m)


def two_subgraphs(m: Any) -> None:
    """CALL_ONCE in subgraph 0 running subgraph 1 (a RESHAPE with an int16 scalar)."""
    init = tfl.SubGraphT()
    init.name = "init"
    init.tensors = [tensor([2, 2], INT16, 3, "c", scales=[1.0], zero_points=[0]),
                    tensor([4], INT16, 0, "r"), tensor([], INT32, 0, "scalar"),
                    tensor(None, FLOAT32, 0, "noshape")]
    init.tensors[1].isVariable = True
    init.inputs = []
    init.outputs = [1]
    init.operators = [operator(2, [0], [1])]
    m.buffers.append(buffer(struct.pack("<4h", 1, 2, 3, 4)))
    m.subgraphs.append(init)
    m.operatorCodes += [opcode(CALL_ONCE), opcode(RESHAPE)]
    call = tfl.CallOnceOptionsT()
    call.initSubgraphIndex = 1
    m.subgraphs[0].operators.insert(0, operator(1, [], [], tfl.BuiltinOptions.CallOnceOptions,
                                                call))


def custom_op(m: Any) -> None:
    """A custom operator (name, optional input -1) and a builtin code above 127."""
    m.operatorCodes += [opcode(CUSTOM, "MyCustomOp"), opcode(150)]
    m.subgraphs[0].operators += [operator(1, [3, -1], [0]), operator(2, [0], [3])]
    m.subgraphs[0].tensors.append(tensor([5], INT4, 3, "int4 packed"))
    m.buffers.append(buffer(b"\x12\x34\x05"))


def seeds() -> dict[str, bytes]:
    """Every seed: valid models, then format and index errors, then the rest."""
    s: dict[str, bytes] = {}
    s["ok-fc-int8"] = pack(fc_model())
    s["ok-two-subgraphs"] = variant(two_subgraphs)
    s["ok-custom-op"] = variant(custom_op)
    s["err-BAD_IDENTIFIER-tfl2"] = pack(fc_model(), b"TFL2")
    s["err-NOT_FLATBUFFER-short"] = s["ok-fc-int8"][:7]
    s["err-BAD_VERSION-v2"] = variant(lambda m: setattr(m, "version", 2))
    s["err-MISSING-no-subgraphs"] = variant(lambda m: setattr(m, "subgraphs", []))
    s["err-MISSING-custom-code"] = variant(lambda m: m.operatorCodes.append(opcode(CUSTOM)))

    def op_input(m: Any) -> None:
        m.subgraphs[0].operators[0].inputs = [0, 1, 7]
    s["err-BAD_INDEX-op-input"] = variant(op_input)
    s["err-BAD_INDEX-opcode"] = variant(
        lambda m: setattr(m.subgraphs[0].operators[0], "opcodeIndex", 3))
    s["err-BAD_INDEX-buffer"] = variant(lambda m: setattr(m.subgraphs[0].tensors[3], "buffer", 9))
    s["err-BAD_INDEX-subgraph-output"] = variant(
        lambda m: setattr(m.subgraphs[0], "outputs", [-1]))
    return s | type_and_quant_seeds() | limit_seeds(s["ok-fc-int8"])


def type_and_quant_seeds() -> dict[str, bytes]:
    """Types, shapes, data sizes and quantisation out of range."""
    s: dict[str, bytes] = {}
    s["err-BAD_TYPE-tensor"] = variant(lambda m: setattr(m.subgraphs[0].tensors[0], "type", 50))
    s["err-BAD_TYPE-options"] = variant(
        lambda m: setattr(m.subgraphs[0].operators[0], "builtinOptionsType", 200))
    s["err-BAD_TYPE-builtin-code"] = variant(
        lambda m: m.operatorCodes.append(opcode(-3)))
    s["err-BAD_SHAPE-negative"] = variant(
        lambda m: setattr(m.subgraphs[0].tensors[3], "shape", [1, -3]))
    s["err-BAD_BUFFER-size"] = variant(lambda m: setattr(m.buffers[1], "data", list(range(11))))

    def zero_points(m: Any) -> None:
        m.subgraphs[0].tensors[1].quantization.zeroPoint = [0, 0]
    s["err-BAD_QUANT-zero-points"] = variant(zero_points)

    def channels(m: Any) -> None:
        m.subgraphs[0].tensors[3].quantization.scale = [1.0, 2.0]
        m.subgraphs[0].tensors[3].quantization.zeroPoint = [0, 0]
        m.subgraphs[0].tensors[3].quantization.quantizedDimension = 1
    s["err-BAD_QUANT-channels"] = variant(channels)
    s["err-BAD_QUANT-dimension"] = variant(
        lambda m: setattr(m.subgraphs[0].tensors[1].quantization, "quantizedDimension", 2))
    s["err-BAD_QUANT-negative-dimension"] = variant(
        lambda m: setattr(m.subgraphs[0].tensors[0].quantization, "quantizedDimension", -1))
    s["err-BAD_TYPE-options2"] = variant(
        lambda m: setattr(m.subgraphs[0].operators[0], "builtinOptions2Type", 24))

    def quant_details(m: Any) -> None:
        m.subgraphs[0].tensors[0].quantization.detailsType = \
            tfl.QuantizationDetails.BlockwiseQuantization
        m.subgraphs[0].tensors[0].quantization.details = tfl.BlockwiseQuantizationT()
    s["err-UNSUPPORTED-quant-details"] = variant(quant_details)
    return s


def limit_seeds(fc: bytes) -> dict[str, bytes]:
    """Over a limit, unsupported, or out of bounds."""
    s: dict[str, bytes] = {}
    s["err-LIMIT-rank9"] = variant(lambda m: setattr(m.subgraphs[0].tensors[3], "shape", [1] * 9))

    def many_subgraphs(m: Any) -> None:
        m.subgraphs += [tfl.SubGraphT() for _ in range(16)]
    s["err-LIMIT-17-subgraphs"] = variant(many_subgraphs)

    def buffer_offset(m: Any) -> None:
        m.buffers[1].data = None
        m.buffers[1].offset = 4096
        m.buffers[1].size = 12
    s["err-UNSUPPORTED-buffer-offset"] = variant(buffer_offset)
    s["err-UNSUPPORTED-external-buffer"] = variant(
        lambda m: setattr(m.subgraphs[0].tensors[1], "externalBuffer", 1))

    def sparse(m: Any) -> None:
        m.subgraphs[0].tensors[1].sparsity = tfl.SparsityParametersT()
        m.subgraphs[0].tensors[1].sparsity.traversalOrder = [0, 1]
    s["err-UNSUPPORTED-sparse"] = variant(sparse)

    def large_custom(m: Any) -> None:
        m.subgraphs[0].operators[0].largeCustomOptionsOffset = 8192
        m.subgraphs[0].operators[0].largeCustomOptionsSize = 16
    s["err-UNSUPPORTED-large-custom-options"] = variant(large_custom)
    s["err-OUT_OF_BOUNDS-tensors-length"] = patch_tensors_length(fc)
    return s


def patch_tensors_length(data: bytes) -> bytes:
    """Subgraph 0's tensors vector claims 65536 entries: it runs past the end of the file."""
    sg = tfl.Model.GetRootAs(data, 0).Subgraphs(0)
    length_pos = sg._tab.Vector(sg._tab.Offset(4)) - 4
    out = bytearray(data)
    struct.pack_into("<I", out, length_pos, 65536)
    return bytes(out)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("corpus_model")
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (out / f"{name}.tflite").write_bytes(data)


if __name__ == "__main__":
    main()
