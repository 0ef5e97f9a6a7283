"""Payload encoders and decoders for every request and response (docs/protocol.md).

Both directions are here: the host uses the request encoders and response decoders,
test fakes and the trace use the rest. Decoders raise ``ProtocolError`` on a payload
the spec does not allow.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from mcubench.errors import DeviceError, ProtocolError
from mcubench.protocol.codes import (
    INFO_TAG_TYPES,
    PROTOCOL_VERSION,
    TENSOR_NOT_IN_POOL,
    Capability,
    CounterSource,
    InfoTag,
    ModelSource,
    TagType,
    TensorFlag,
    TensorSelect,
    error_name,
)

Buffer = bytes | bytearray | memoryview

HELLO_MAGIC = b"MCUB"
OFFSET_SIZE = 4  # the u32 offset that leads WRITE_DATA and READ+ payloads
READ_REQUEST_SIZE = 8

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U32_PAIR = struct.Struct("<II")
_HELLO_RESPONSE = struct.Struct("<H4s")
_ERROR_HEAD = struct.Struct("<HB")


def _unpack(fmt: struct.Struct, payload: Buffer, what: str) -> tuple[Any, ...]:
    if len(payload) != fmt.size:
        raise ProtocolError(f"{what} payload is {len(payload)} bytes, expected {fmt.size}")
    return fmt.unpack(payload)


def _check_u32(name: str, value: int) -> None:
    if not 0 <= value <= 0xFFFF_FFFF:
        raise ValueError(f"{name} {value} does not fit a u32")


def _encode_u32_pair(first: str, a: int, second: str, b: int) -> bytes:
    _check_u32(first, a)
    _check_u32(second, b)
    return _U32_PAIR.pack(a, b)


# HELLO


def encode_hello(host_version: int = PROTOCOL_VERSION) -> bytes:
    """HELLO request: the host's protocol version."""
    return _U16.pack(host_version)


def decode_hello(payload: Buffer) -> int:
    """HELLO request: the host's protocol version."""
    (version,) = _unpack(_U16, payload, "HELLO")
    return int(version)


def encode_hello_response(protocol_version: int = PROTOCOL_VERSION) -> bytes:
    """HELLO+ response: the device's protocol version and the magic."""
    return _HELLO_RESPONSE.pack(protocol_version, HELLO_MAGIC)


def decode_hello_response(payload: Buffer) -> int:
    """HELLO+ response: the device's protocol version, after checking the magic."""
    version, magic = _unpack(_HELLO_RESPONSE, payload, "HELLO+")
    if magic != HELLO_MAGIC:
        raise ProtocolError(f"HELLO+ magic is {magic!r}, expected {HELLO_MAGIC!r}")
    return int(version)


# Bulk write


def encode_write_begin(offset: int, length: int) -> bytes:
    """WRITE_BEGIN request."""
    return _encode_u32_pair("offset", offset, "length", length)


def decode_write_begin(payload: Buffer) -> tuple[int, int]:
    """WRITE_BEGIN request: (offset, length)."""
    offset, length = _unpack(_U32_PAIR, payload, "WRITE_BEGIN")
    return int(offset), int(length)


def encode_write_data(offset: int, data: Buffer) -> bytes:
    """WRITE_DATA request: offset then data."""
    _check_u32("offset", offset)
    return _U32.pack(offset) + bytes(data)


def decode_write_data(payload: Buffer) -> tuple[int, bytes]:
    """WRITE_DATA request: (offset, data)."""
    if len(payload) < OFFSET_SIZE:
        raise ProtocolError(f"WRITE_DATA payload is {len(payload)} bytes, expected at least 4")
    (offset,) = _U32.unpack_from(payload)
    return int(offset), bytes(payload[OFFSET_SIZE:])


def encode_u32(value: int) -> bytes:
    """A lone u32: the WRITE_DATA+ next offset, the CRC+ checksum."""
    _check_u32("value", value)
    return _U32.pack(value)


def decode_write_data_response(payload: Buffer) -> int:
    """WRITE_DATA+ response: the next offset the device expects."""
    (next_offset,) = _unpack(_U32, payload, "WRITE_DATA+")
    return int(next_offset)


def encode_write_end_response(length: int, crc32: int) -> bytes:
    """WRITE_END+ response."""
    return _encode_u32_pair("length", length, "crc32", crc32)


def decode_write_end_response(payload: Buffer) -> tuple[int, int]:
    """WRITE_END+ response: (length written, CRC-32 of the written range)."""
    length, crc = _unpack(_U32_PAIR, payload, "WRITE_END+")
    return int(length), int(crc)


# Bulk read and checksum


def encode_read(offset: int, length: int) -> bytes:
    """READ request."""
    return _encode_u32_pair("offset", offset, "length", length)


def decode_read(payload: Buffer) -> tuple[int, int]:
    """READ request: (offset, length)."""
    offset, length = _unpack(_U32_PAIR, payload, "READ")
    return int(offset), int(length)


def encode_read_response(offset: int, data: Buffer) -> bytes:
    """READ+ response: offset then data."""
    _check_u32("offset", offset)
    return _U32.pack(offset) + bytes(data)


def decode_read_response(payload: Buffer) -> tuple[int, bytes]:
    """READ+ response: (offset, data)."""
    if len(payload) < OFFSET_SIZE:
        raise ProtocolError(f"READ+ payload is {len(payload)} bytes, expected at least 4")
    (offset,) = _U32.unpack_from(payload)
    return int(offset), bytes(payload[OFFSET_SIZE:])


def encode_crc(offset: int, length: int) -> bytes:
    """CRC request."""
    return _encode_u32_pair("offset", offset, "length", length)


def decode_crc(payload: Buffer) -> tuple[int, int]:
    """CRC request: (offset, length)."""
    offset, length = _unpack(_U32_PAIR, payload, "CRC")
    return int(offset), int(length)


def decode_crc_response(payload: Buffer) -> int:
    """CRC+ response: the CRC-32 of the range."""
    (crc,) = _unpack(_U32, payload, "CRC+")
    return int(crc)


# ERROR


def encode_error(code: int, request_opcode: int, message: str = "") -> bytes:
    """ERROR response payload."""
    return _ERROR_HEAD.pack(code, request_opcode) + message.encode("utf-8")


def decode_error(payload: Buffer) -> DeviceError:
    """ERROR response payload, as the exception to raise."""
    if len(payload) < _ERROR_HEAD.size:
        raise ProtocolError(f"ERROR payload is {len(payload)} bytes, expected at least 3")
    code, request_opcode = _ERROR_HEAD.unpack_from(payload)
    # A garbled message must not hide the error code, hence "replace".
    message = bytes(payload[_ERROR_HEAD.size :]).decode("utf-8", errors="replace")
    return DeviceError(code, error_name(code), request_opcode, message)


# INFO


_REQUIRED_TAGS = frozenset(InfoTag) - {
    InfoTag.FIRMWARE_GIT,
    InfoTag.COMPILER,
    InfoTag.BUILD_FLAGS,
    InfoTag.KERNELS,  # firmware without the inference service leaves these out
    InfoTag.EMBEDDED_MODEL_BYTES,
}
_INT_FORMATS = {TagType.U8: struct.Struct("<B"), TagType.U16: _U16, TagType.U32: _U32}


@dataclass(frozen=True)
class DeviceInfo:
    """The INFO response. Field names are the INFO tag names in lower case."""

    protocol_version: int
    firmware_version: str
    board: str
    core: str
    clock_hz: int
    counter_source: CounterSource
    counter_hz: int
    max_payload: int
    rx_window: int
    pool_bytes: int
    capabilities: Capability
    firmware_git: str | None = None
    compiler: str | None = None
    build_flags: str | None = None
    kernels: str | None = None
    embedded_model_bytes: int | None = None

    # Smallest MAX_PAYLOAD that carries a READ request and at least one byte of data.
    MIN_MAX_PAYLOAD: ClassVar[int] = READ_REQUEST_SIZE + 1

    @property
    def max_chunk(self) -> int:
        """Largest data chunk of one WRITE_DATA or READ."""
        return self.max_payload - OFFSET_SIZE

    @classmethod
    def decode(cls, payload: Buffer) -> DeviceInfo:
        """Parse the TLV list: unknown tags are skipped, missing required ones rejected."""
        data = bytes(payload)
        values: dict[InfoTag, int | str] = {}
        pos = 0
        while pos < len(data):
            if pos + 2 > len(data):
                raise ProtocolError(f"INFO+ TLV item at byte {pos} is cut short")
            tag_value, length = data[pos], data[pos + 1]
            value = data[pos + 2 : pos + 2 + length]
            if len(value) != length:
                raise ProtocolError(
                    f"INFO+ TLV item 0x{tag_value:02x} at byte {pos} claims {length} bytes, "
                    f"only {len(value)} left"
                )
            pos += 2 + length
            try:
                tag = InfoTag(tag_value)
            except ValueError:
                continue  # a later protocol revision's item
            values[tag] = _decode_tag_value(tag, value)
        missing = sorted(tag.name for tag in _REQUIRED_TAGS - values.keys())
        if missing:
            raise ProtocolError(f"INFO+ lacks required item(s): {', '.join(missing)}")
        kwargs: dict[str, Any] = {tag.name.lower(): value for tag, value in values.items()}
        try:
            kwargs["counter_source"] = CounterSource(kwargs["counter_source"])
        except ValueError:
            raise ProtocolError(
                f"INFO+ COUNTER_SOURCE {kwargs['counter_source']} is not a known counter"
            ) from None
        kwargs["capabilities"] = Capability(kwargs["capabilities"])
        info = cls(**kwargs)
        if info.max_payload < cls.MIN_MAX_PAYLOAD:
            raise ProtocolError(
                f"INFO+ MAX_PAYLOAD {info.max_payload} is below the minimum {cls.MIN_MAX_PAYLOAD}"
            )
        return info

    def encode(self) -> bytes:
        """The TLV list (items in tag order; optional items left out when None)."""
        out = bytearray()
        for tag in InfoTag:
            value = getattr(self, tag.name.lower())
            if value is None:
                continue
            kind = INFO_TAG_TYPES[tag]
            if kind is TagType.STR:
                raw = str(value).encode("utf-8")
                if len(raw) > 0xFF:
                    raise ValueError(f"INFO {tag.name} is longer than 255 bytes")
            else:
                raw = _INT_FORMATS[kind].pack(int(value))
            out += bytes((tag, len(raw))) + raw
        return bytes(out)


def _decode_tag_value(tag: InfoTag, value: bytes) -> int | str:
    kind = INFO_TAG_TYPES[tag]
    if kind is TagType.STR:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"INFO+ {tag.name} is not valid UTF-8: {value!r}") from None
    fmt = _INT_FORMATS[kind]
    if len(value) != fmt.size:
        raise ProtocolError(
            f"INFO+ {tag.name} ({kind.value}) is {len(value)} bytes, expected {fmt.size}"
        )
    return int(fmt.unpack(value)[0])


# MODEL_LOAD

_MODEL_LOAD_REQUEST = struct.Struct("<B3xII")
_MODEL_LOAD_RESPONSE = struct.Struct("<IIIIIIIIHHHH")


def encode_model_load(source: ModelSource, offset: int = 0, length: int = 0) -> bytes:
    """MODEL_LOAD request: the model at pool[offset, offset + length), or the embedded one."""
    _check_u32("offset", offset)
    _check_u32("length", length)
    return _MODEL_LOAD_REQUEST.pack(source, offset, length)


def decode_model_load_request(payload: Buffer) -> tuple[ModelSource, int, int]:
    source, offset, length = _unpack(_MODEL_LOAD_REQUEST, payload, "MODEL_LOAD")
    return ModelSource(source), offset, length


@dataclass(frozen=True)
class LoadedModel:
    """The MODEL_LOAD response: where the arena went and what the model needs of it."""

    model_bytes: int
    model_crc32: int  # of the model as the device has it (as zlib.crc32)
    arena_offset: int  # pool offset of the arena
    arena_bytes: int  # given to the interpreter
    nonpersistent_bytes: int  # peak of the planned activations and scratch (TFLM's "head")
    scratch_bytes: int  # of which scratch buffers
    persistent_bytes: int  # kernel data, node and tensor tables, variables (TFLM's "tail")
    required_bytes: int  # the smallest arena this model runs in
    inputs: int
    outputs: int
    tensors: int
    operators: int

    def encode(self) -> bytes:
        return _MODEL_LOAD_RESPONSE.pack(
            self.model_bytes, self.model_crc32, self.arena_offset, self.arena_bytes,
            self.nonpersistent_bytes, self.scratch_bytes, self.persistent_bytes,
            self.required_bytes, self.inputs, self.outputs, self.tensors, self.operators)

    @classmethod
    def decode(cls, payload: Buffer) -> LoadedModel:
        return cls(*_unpack(_MODEL_LOAD_RESPONSE, payload, "MODEL_LOAD+"))


# TENSOR_INFO

_TENSOR_INFO_REQUEST = struct.Struct("<B3xI")
_TENSOR_INFO_HEAD = struct.Struct("<IBBBxII")
_DIM = struct.Struct("<i")


def encode_tensor_info(select: TensorSelect, index: int) -> bytes:
    """TENSOR_INFO request: input / output ``index`` of subgraph 0, or its tensor ``index``."""
    _check_u32("index", index)
    return _TENSOR_INFO_REQUEST.pack(select, index)


def decode_tensor_info_request(payload: Buffer) -> tuple[TensorSelect, int]:
    select, index = _unpack(_TENSOR_INFO_REQUEST, payload, "TENSOR_INFO")
    return TensorSelect(select), index


@dataclass(frozen=True)
class TensorInfo:
    """The TENSOR_INFO response."""

    tensor: int  # index in subgraph 0
    type: int  # TensorType of the schema
    flags: TensorFlag
    size: int  # bytes of data
    pool_offset: int | None  # where its data is in the pool; None when not in the pool
    shape: tuple[int, ...]

    def encode(self) -> bytes:
        offset = TENSOR_NOT_IN_POOL if self.pool_offset is None else self.pool_offset
        head = _TENSOR_INFO_HEAD.pack(self.tensor, self.type, len(self.shape), self.flags,
                                      self.size, offset)
        return head + b"".join(_DIM.pack(d) for d in self.shape)

    @classmethod
    def decode(cls, payload: Buffer) -> TensorInfo:
        data = bytes(payload)
        if len(data) < _TENSOR_INFO_HEAD.size:
            raise ProtocolError(f"TENSOR_INFO+ payload is {len(data)} bytes, too short")
        tensor, type_, rank, flags, size, offset = _TENSOR_INFO_HEAD.unpack_from(data)
        if len(data) != _TENSOR_INFO_HEAD.size + rank * _DIM.size:
            raise ProtocolError(f"TENSOR_INFO+ payload is {len(data)} bytes for rank {rank}")
        shape = tuple(_DIM.unpack_from(data, _TENSOR_INFO_HEAD.size + i * _DIM.size)[0]
                      for i in range(rank))
        return cls(tensor, type_, TensorFlag(flags), size,
                   None if offset == TENSOR_NOT_IN_POOL else offset, shape)


# INVOKE

_INVOKE_RESPONSE = struct.Struct("<IQQQ")
INVOKE_MAX_COUNT = 65535  # the firmware's MCB_INVOKE_MAX_COUNT


def encode_invoke(count: int = 1, last_node: int | None = None) -> bytes:
    """INVOKE request: run the model ``count`` times (1 or more) on the same inputs;
    with ``last_node``, only subgraph 0's operators 0..last_node (for --locate)."""
    if not 1 <= count <= INVOKE_MAX_COUNT:
        raise ValueError(f"invoke count {count} is not in 1..{INVOKE_MAX_COUNT}")
    if last_node is None:
        return _U32.pack(count)
    _check_u32("last_node", last_node)
    return _U32_PAIR.pack(count, last_node)


def decode_invoke_request(payload: Buffer) -> tuple[int, int | None]:
    """(count, last_node or None)."""
    if len(payload) == _U32_PAIR.size:
        count, last = _U32_PAIR.unpack(payload)
        return int(count), int(last)
    return int(_unpack(_U32, payload, "INVOKE")[0]), None


@dataclass(frozen=True)
class InvokeResult:
    """The INVOKE response: counter ticks per invocation (see INFO COUNTER_SOURCE)."""

    count: int
    total_ticks: int
    min_ticks: int
    max_ticks: int

    def encode(self) -> bytes:
        return _INVOKE_RESPONSE.pack(self.count, self.total_ticks, self.min_ticks,
                                     self.max_ticks)

    @classmethod
    def decode(cls, payload: Buffer) -> InvokeResult:
        return cls(*_unpack(_INVOKE_RESPONSE, payload, "INVOKE+"))


_PROFILE_HEAD = struct.Struct("<IIII")


def encode_profile(first_node: int = 0) -> bytes:
    """PROFILE request: per-operator ticks from node ``first_node`` of subgraph 0 on."""
    _check_u32("first_node", first_node)
    return _U32.pack(first_node)


@dataclass(frozen=True)
class ProfilePage:
    """A PROFILE response: ticks per operator of subgraph 0, summed over ``invocations``
    (the count of the last INVOKE), for nodes ``first`` .. ``first + len(ticks) - 1``."""

    nodes: int
    invocations: int
    first: int
    ticks: tuple[int, ...]

    def encode(self) -> bytes:
        head = _PROFILE_HEAD.pack(self.nodes, self.invocations, self.first, len(self.ticks))
        return head + struct.pack(f"<{len(self.ticks)}Q", *self.ticks)

    @classmethod
    def decode(cls, payload: Buffer) -> ProfilePage:
        if len(payload) < _PROFILE_HEAD.size:
            raise ProtocolError(f"PROFILE+ payload is {len(payload)} bytes, expected at least "
                                f"{_PROFILE_HEAD.size}")
        nodes, invocations, first, n = _PROFILE_HEAD.unpack_from(payload)
        body = memoryview(payload)[_PROFILE_HEAD.size:]
        if len(body) != 8 * n or first + n > nodes:
            raise ProtocolError(f"PROFILE+ says {n} nodes from {first} of {nodes}, "
                                f"carries {len(body)} bytes")
        return cls(nodes, invocations, first, struct.unpack(f"<{n}Q", body))
