"""Read a ``.tflite`` flatbuffer into frozen dataclasses, checking it on the way.

The generated schema module inside ``tflite_micro`` does the decoding. flatbuffers'
Python runtime checks almost nothing (a cut-off string comes back short, a negative
vtable offset wraps around to the end of the file), so before a table is used its vtable
and fields are checked to lie inside the file, vector lengths are checked to be
plausible, strings to be whole, and every index against what it points at. Anything
wrong is a ``ModelError`` that says what and where (subgraph, operator, tensor index).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np
from flatbuffers.table import Table
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from mcubench.errors import ModelError, UsageError

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3  # the only version TFLM accepts


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


OPERATOR_NAMES: Mapping[int, str] = _enum_names(schema.BuiltinOperator)
OPERATOR_CODES: Mapping[str, int] = {name: code for code, name in OPERATOR_NAMES.items()}
TENSOR_TYPES: Mapping[int, str] = _enum_names(schema.TensorType)
_OPTIONS_TYPES = _enum_names(schema.BuiltinOptions)
_OPTIONS2_TYPES = _enum_names(schema.BuiltinOptions2)
_CUSTOM = schema.BuiltinOperator.CUSTOM

# Bytes per element as TFLM's TfLiteTypeSizeOf has them; TFLM cannot allocate the others.
DTYPE_SIZES: Mapping[str, int] = {
    "FLOAT16": 2, "FLOAT32": 4, "FLOAT64": 8, "INT16": 2, "INT32": 4, "UINT32": 4,
    "UINT8": 1, "INT8": 1, "INT64": 8, "UINT64": 8, "BOOL": 1, "RESOURCE": 4,
    "COMPLEX64": 8, "COMPLEX128": 16, "INT4": 1,
}

# Option fields holding an enum, shown by name (schema field name -> value -> name).
OPTION_ENUMS: Mapping[str, Mapping[int, str]] = {
    "padding": _enum_names(schema.Padding),
    "fused_activation_function": _enum_names(schema.ActivationFunctionType),
    "weights_format": _enum_names(schema.FullyConnectedOptionsWeightsFormat),
    "quantized_bias_type": TENSOR_TYPES,
    "output_type": TENSOR_TYPES,
    "in_data_type": TENSOR_TYPES,
    "out_data_type": TENSOR_TYPES,
    "idx_out_type": TENSOR_TYPES,
}

OptionValue: TypeAlias = (
    "bool | int | float | str | tuple[OptionValue, ...] | Mapping[str, OptionValue] | None"
)


@dataclass(frozen=True)
class Quantization:
    """Affine quantisation: real = scale * (q - zero_point), per tensor or per channel."""

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    quantized_dimension: int

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1


@dataclass(frozen=True)
class Tensor:
    """One tensor of a subgraph. ``shape_signature`` is ``shape`` when the file has none."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str  # TensorType name: INT8, INT16, INT32, FLOAT32, ...
    buffer: int
    is_constant: bool  # its buffer holds data (weights, biases, shape operands)
    is_variable: bool
    quantization: Quantization | None

    @property
    def elements(self) -> int:
        return math.prod(self.shape)  # a scalar (shape ()) has one element, as in TFLM

    @property
    def nbytes(self) -> int | None:
        """Bytes TFLM allocates for it; None for dtypes TFLM cannot allocate."""
        size = DTYPE_SIZES.get(self.dtype)
        return None if size is None else size * self.elements


@dataclass(frozen=True)
class OperatorCode:
    """An entry of the model's operator code table."""

    name: str  # BuiltinOperator name, or the custom_code of a custom op
    builtin_code: int  # max(builtin_code, deprecated_builtin_code), as the schema says
    custom: bool
    version: int


@dataclass(frozen=True)
class Operator:
    """One node, in execution order. Input ``-1`` is an absent optional input."""

    index: int
    opcode_index: int
    op: str
    custom: bool
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...]
    # Builtin options, snake_case schema field names; a read-only dict, left out of hash().
    options: Mapping[str, OptionValue] = field(hash=False)


@dataclass(frozen=True)
class Subgraph:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]


@dataclass(frozen=True)
class Model:
    """A checked ``.tflite`` model. ``buffer_sizes[i]`` is the data length of buffer i."""

    version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    operator_codes: tuple[OperatorCode, ...]
    buffer_sizes: tuple[int, ...]
    size_bytes: int
    sha256: str

    @property
    def constant_bytes(self) -> int:
        return sum(self.buffer_sizes)


def load_model(path: str | Path) -> Model:
    """Read and check a ``.tflite`` file; an unreadable file is a UsageError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read model {path}: {exc.strerror or exc}") from exc
    return read_model(data)


def read_model(data: bytes) -> Model:
    """Parse and check a ``.tflite`` flatbuffer held in memory."""
    buf = _Bounded(data)
    if len(buf) < 8:
        raise ModelError(f"not a TFLite model: {len(buf)} bytes is too short for a flatbuffer")
    if buf[4:8] != FILE_IDENTIFIER:
        raise ModelError(
            f"not a TFLite model: file identifier is {bytes(buf[4:8])!r}, "
            f"expected {FILE_IDENTIFIER!r}"
        )
    with _at("model"):
        root = schema.Model.GetRootAs(buf, 0)
        _check_table(root._tab)
        version = root.Version()
        if version != SCHEMA_VERSION:
            raise ModelError(f"model: schema version {version}, only {SCHEMA_VERSION} is supported")
        description = _text(root.Description())
    with _at("model buffers"):
        buffer_sizes = tuple(
            _read_buffer(root, i, len(buf))
            for i in range(_count(root.BuffersLength(), 4, len(buf), "buffers"))
        )
    with _at("model operator codes"):
        n_codes = _count(root.OperatorCodesLength(), 4, len(buf), "operator codes")
    codes = tuple(_read_opcode(root, i) for i in range(n_codes))
    with _at("model subgraphs"):
        n_subgraphs = _count(root.SubgraphsLength(), 4, len(buf), "subgraphs")
    if n_subgraphs == 0:
        raise ModelError("model: no subgraphs")
    subgraphs = tuple(_read_subgraph(root, i, codes, buffer_sizes) for i in range(n_subgraphs))
    return Model(
        version=version,
        description=description,
        subgraphs=subgraphs,
        operator_codes=codes,
        buffer_sizes=buffer_sizes,
        size_bytes=len(buf),
        sha256=hashlib.sha256(data).hexdigest(),
    )


class _Bounded(bytes):
    """Bytes whose slices fail past the end: flatbuffers' String() slices, never checks."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice) and key.stop is not None and key.stop > len(self):
            raise IndexError(f"bytes {key.start}..{key.stop} run past the end ({len(self)})")
        return super().__getitem__(key)


@contextmanager
def _at(where: str) -> Iterator[None]:
    """Turn the errors flatbuffers raises on bad input into a ModelError naming ``where``."""
    try:
        yield
    except (IndexError, struct.error, ValueError, TypeError, OverflowError,
            UnicodeDecodeError) as exc:
        raise ModelError(f"{where}: truncated or corrupt flatbuffer ({exc})") from exc


def _check_table(tab: Table) -> None:
    """The table, its vtable and every field it names lie inside the file."""
    buf, pos, end = tab.Bytes, tab.Pos, len(tab.Bytes)
    if not 0 <= pos <= end - 4:
        raise IndexError(f"table at {pos} is outside the file")
    vtable = pos - struct.unpack_from("<i", buf, pos)[0]
    if not 0 <= vtable <= end - 4:
        raise IndexError(f"vtable at {vtable} is outside the file")
    vt_len, table_len = struct.unpack_from("<HH", buf, vtable)
    if vt_len < 4 or vt_len % 2 or vtable + vt_len > end or pos + table_len > end:
        raise IndexError(f"vtable at {vtable} describes a table past the end of the file")
    for slot in range(4, vt_len, 2):
        offset = struct.unpack_from("<H", buf, vtable + slot)[0]
        if offset and offset >= table_len:
            raise IndexError(f"field at +{offset} lies outside its {table_len}-byte table")


def _count(n: int, elem_size: int, file_size: int, what: str) -> int:
    # Every element is stored in the file, so a longer vector is corrupt (and would
    # otherwise make us loop over billions of garbage entries).
    if n * elem_size > file_size:
        raise ModelError(f"{what}: vector of {n} entries cannot fit in a {file_size}-byte file")
    return n


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", errors="replace")


def _ints(length: int, as_numpy: Any, file_size: int, what: str) -> tuple[int, ...]:
    if length == 0:
        return ()
    _count(length, 4, file_size, what)
    return tuple(int(v) for v in as_numpy())  # numpy raises if the data runs past the end


def _read_buffer(root: Any, i: int, file_size: int) -> int:
    with _at(f"buffer {i}"):
        b = root.Buffers(i)
        _check_table(b._tab)
        offset, size = b.Offset(), b.Size()
        if offset > 1:  # data stored after the flatbuffer (models over 2 GB)
            if offset + size > file_size:
                raise ModelError(
                    f"buffer {i}: data at {offset}+{size} lies past the end of the "
                    f"{file_size}-byte file"
                )
            return int(size)
        if b.DataIsNone():
            return 0
        return int(b.DataAsNumpy().size)


def _read_opcode(root: Any, i: int) -> OperatorCode:
    where = f"operator code {i}"
    with _at(where):
        oc = root.OperatorCodes(i)
        _check_table(oc._tab)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        custom_code = _text(oc.CustomCode())
        version = oc.Version()
    if code == _CUSTOM:
        if not custom_code:
            raise ModelError(f"{where}: custom operator without a custom_code name")
        return OperatorCode(custom_code, code, True, version)
    if code not in OPERATOR_NAMES:
        raise ModelError(f"{where}: unknown builtin operator {code}")
    return OperatorCode(OPERATOR_NAMES[code], code, False, version)


def _read_subgraph(
    root: Any, s: int, codes: tuple[OperatorCode, ...], buffer_sizes: tuple[int, ...]
) -> Subgraph:
    where = f"subgraph {s}"
    size = len(root._tab.Bytes)
    with _at(where):
        sg = root.Subgraphs(s)
        _check_table(sg._tab)
        name = _text(sg.Name())
        n_tensors = _count(sg.TensorsLength(), 4, size, f"{where}: tensors")
        n_ops = _count(sg.OperatorsLength(), 4, size, f"{where}: operators")
        inputs = _ints(sg.InputsLength(), sg.InputsAsNumpy, size, f"{where}: inputs")
        outputs = _ints(sg.OutputsLength(), sg.OutputsAsNumpy, size, f"{where}: outputs")
    for kind, indices in (("input", inputs), ("output", outputs)):
        for t in indices:
            if not 0 <= t < n_tensors:
                raise ModelError(f"{where}: {kind} tensor {t} out of range (0..{n_tensors - 1})")
    tensors = tuple(_read_tensor(sg, s, t, buffer_sizes) for t in range(n_tensors))
    operators = tuple(_read_operator(sg, s, i, codes, n_tensors) for i in range(n_ops))
    return Subgraph(s, name, inputs, outputs, tensors, operators)


def _read_tensor(sg: Any, s: int, t: int, buffer_sizes: tuple[int, ...]) -> Tensor:
    where = f"subgraph {s}, tensor {t}"
    size = len(sg._tab.Bytes)
    with _at(where):
        fb = sg.Tensors(t)
        _check_table(fb._tab)
        name = _text(fb.Name())
        shape = _ints(fb.ShapeLength(), fb.ShapeAsNumpy, size, f"{where}: shape")
        signature = _ints(fb.ShapeSignatureLength(), fb.ShapeSignatureAsNumpy, size,
                          f"{where}: shape_signature")
        type_code, buffer, is_variable = fb.Type(), fb.Buffer(), bool(fb.IsVariable())
        quantization = _read_quantization(fb.Quantization(), size, where)
    if type_code not in TENSOR_TYPES:
        raise ModelError(f"{where} ({name!r}): unknown tensor type {type_code}")
    if any(d < 0 for d in shape):
        raise ModelError(f"{where} ({name!r}): negative dimension in shape {list(shape)}")
    if not 0 <= buffer < len(buffer_sizes):
        raise ModelError(
            f"{where} ({name!r}): buffer {buffer} out of range (0..{len(buffer_sizes) - 1})"
        )
    return Tensor(
        index=t, name=name, shape=shape, shape_signature=signature or shape,
        dtype=TENSOR_TYPES[type_code], buffer=buffer,
        is_constant=buffer_sizes[buffer] > 0, is_variable=is_variable,
        quantization=quantization,
    )


def _read_quantization(q: Any, size: int, where: str) -> Quantization | None:
    if q is None:
        return None
    _check_table(q._tab)
    n_scales, n_zeros = q.ScaleLength(), q.ZeroPointLength()
    if n_scales == 0:
        return None  # min/max only, or an empty table: not quantised
    _count(n_scales, 4, size, f"{where}: quantization scales")
    _count(n_zeros, 8, size, f"{where}: quantization zero points")
    scales = tuple(float(v) for v in q.ScaleAsNumpy())
    zero_points = tuple(int(v) for v in q.ZeroPointAsNumpy()) if n_zeros else ()
    if zero_points and len(zero_points) != len(scales):
        raise ModelError(
            f"{where}: {len(scales)} quantization scales but {len(zero_points)} zero points"
        )
    return Quantization(scales, zero_points or (0,) * len(scales), q.QuantizedDimension())


def _read_operator(
    sg: Any, s: int, i: int, codes: tuple[OperatorCode, ...], n_tensors: int
) -> Operator:
    where = f"subgraph {s}, operator {i}"
    size = len(sg._tab.Bytes)
    with _at(where):
        fb = sg.Operators(i)
        _check_table(fb._tab)
        opcode_index = fb.OpcodeIndex()
        inputs = _ints(fb.InputsLength(), fb.InputsAsNumpy, size, f"{where}: inputs")
        outputs = _ints(fb.OutputsLength(), fb.OutputsAsNumpy, size, f"{where}: outputs")
        intermediates = _ints(fb.IntermediatesLength(), fb.IntermediatesAsNumpy, size,
                              f"{where}: intermediates")
    if not 0 <= opcode_index < len(codes):
        raise ModelError(
            f"{where}: operator code index {opcode_index} out of range (0..{len(codes) - 1})"
        )
    code = codes[opcode_index]
    where = f"{where} ({code.name})"
    for kind, indices, lowest in (("input", inputs, -1), ("output", outputs, 0),
                                  ("intermediate", intermediates, 0)):
        for n, t in enumerate(indices):
            if not lowest <= t < n_tensors:
                raise ModelError(
                    f"{where}: {kind} {n} is tensor {t}, out of range (0..{n_tensors - 1})"
                )
    with _at(where):
        options = _read_options(fb, where)
    return Operator(i, opcode_index, code.name, code.custom, inputs, outputs, intermediates,
                    options)


def _read_options(fb: Any, where: str) -> Mapping[str, OptionValue]:
    """The builtin options table as a read-only dict, enum fields by name."""
    kind = fb.BuiltinOptionsType()
    if kind:
        if kind not in _OPTIONS_TYPES:
            raise ModelError(f"{where}: unknown builtin options type {kind}")
        table, creator = fb.BuiltinOptions(), schema.BuiltinOptionsCreator
    else:
        kind = fb.BuiltinOptions2Type()
        if not kind:
            return MappingProxyType({})
        if kind not in _OPTIONS2_TYPES:
            raise ModelError(f"{where}: unknown builtin options2 type {kind}")
        table, creator = fb.BuiltinOptions2(), schema.BuiltinOptions2Creator
    if table is None:
        return MappingProxyType({})
    _check_table(table)
    unpacked = creator(kind, table)
    if unpacked is None:
        return MappingProxyType({})
    return MappingProxyType(_plain(unpacked, where))


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")  # before every capital: dilationWFactor too


def snake_case(camel: str) -> str:
    """``fusedActivationFunction`` -> ``fused_activation_function`` (the schema's names)."""
    return _CAMEL.sub("_", camel).lower()


def _plain(obj: Any, where: str) -> dict[str, OptionValue]:
    out: dict[str, OptionValue] = {}
    for camel, value in vars(obj).items():
        key = snake_case(camel)
        if key in OPTION_ENUMS and isinstance(value, int) and not isinstance(value, bool):
            names = OPTION_ENUMS[key]
            if value not in names:
                raise ModelError(f"{where}: unknown {key} {value}")
            out[key] = names[value]
        else:
            out[key] = _value(value, where)
    return out


def _value(value: Any, where: str) -> OptionValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.ndarray | list | tuple):
        return tuple(_value(v.item() if isinstance(v, np.generic) else v, where)
                     for v in value)
    if isinstance(value, np.generic):
        return _value(value.item(), where)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return MappingProxyType(_plain(value, where))  # a nested table (StableHLO options)
