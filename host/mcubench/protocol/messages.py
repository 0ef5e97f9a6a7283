"""Payload encoders and decoders for every request and response (docs/protocol.md).

Both directions are here: the host uses the request encoders and response decoders,
test fakes and the trace use the rest. Decoders raise ``ProtocolError`` on a payload
the spec does not allow.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from mcubench.errors import DeviceError, ProtocolError
from mcubench.protocol.codes import (
    INFO_TAG_TYPES,
    PROTOCOL_VERSION,
    TENSOR_NOT_IN_POOL,
    Capability,
    CounterSource,
    InfoTag,
    LogFlags,
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


# Logging (LOG_START, LOG_READ, LOG_STOP)

_LOG_START_REQUEST = struct.Struct("<III")
_LOG_START_RESPONSE = struct.Struct("<IIHH")
_LOG_READ_REQUEST = struct.Struct("<IHH")
_LOG_PAGE_HEAD = struct.Struct("<IIIHHQ")
_LOG_RECORD_FIXED = "IIQQ"  # seq, status, start_ticks, ticks
LOG_RECORD_FIXED_BYTES = struct.calcsize("<" + _LOG_RECORD_FIXED)
LOG_MIN_RECORDS = 16  # fewer fit the arena: LOG_START answers ARENA_TOO_SMALL
LOG_MAX_RECORDS = 0xFFFF  # the most LOG_START's ring and one LOG_READ hold
LOG_PAGE_HEAD_BYTES = _LOG_PAGE_HEAD.size
_U32_MASK = 0xFFFF_FFFF


def encode_log_start(period_ticks: int, flags: LogFlags | int, session: int) -> bytes:
    """LOG_START request: run the model every ``period_ticks`` device counter ticks (0: back
    to back) on the inputs in the arena now, recording what ``flags`` asks for under the
    host's ``session`` id (echoed by every LOG_READ)."""
    _check_u32("period_ticks", period_ticks)
    _check_u32("flags", int(flags))
    _check_u32("session", session)
    return _LOG_START_REQUEST.pack(period_ticks, int(flags), session)


def decode_log_start_request(payload: Buffer) -> tuple[int, int, int]:
    """LOG_START request: (period_ticks, flags, session); flags as sent, unknown bits kept."""
    period, flags, session = _unpack(_LOG_START_REQUEST, payload, "LOG_START")
    return int(period), int(flags), int(session)


@dataclass(frozen=True)
class LogStarted:
    """The LOG_START response: the ring the device made for this session."""

    session: int  # the host's id, echoed
    ring_records: int  # records the ring keeps (16..65535): the newest ones
    record_bytes: int  # every record's size, fixed for the session
    ops: int  # per-operator fields per record (subgraph 0's operators with OPS, else 0)

    def encode(self) -> bytes:
        return _LOG_START_RESPONSE.pack(self.session, self.ring_records, self.record_bytes,
                                        self.ops)

    @classmethod
    def decode(cls, payload: Buffer) -> LogStarted:
        session, ring, record_bytes, ops = _unpack(_LOG_START_RESPONSE, payload, "LOG_START+")
        if not LOG_MIN_RECORDS <= ring <= LOG_MAX_RECORDS:
            raise ProtocolError(f"LOG_START+ says the ring holds {ring} records, not "
                                f"{LOG_MIN_RECORDS}..{LOG_MAX_RECORDS}")
        if record_bytes - LOG_RECORD_FIXED_BYTES - 4 * ops not in (0, 4, 8):  # DIGEST, TOP1
            raise ProtocolError(f"LOG_START+ says records of {record_bytes} bytes with {ops} "
                                "operators: no set of flags makes that")
        return cls(int(session), int(ring), int(record_bytes), int(ops))


def encode_log_read(from_seq: int, max_records: int = LOG_MAX_RECORDS) -> bytes:
    """LOG_READ request: up to ``max_records`` records from ``from_seq`` (or the oldest the
    ring still holds, if that is later). Nothing is consumed: reading again is safe."""
    _check_u32("from_seq", from_seq)
    if not 0 <= max_records <= LOG_MAX_RECORDS:
        raise ValueError(f"max_records {max_records} is not in 0..{LOG_MAX_RECORDS}")
    return _LOG_READ_REQUEST.pack(from_seq, max_records, 0)


def decode_log_read_request(payload: Buffer) -> tuple[int, int]:
    """LOG_READ request: (from_seq, max_records)."""
    from_seq, max_records, _ = _unpack(_LOG_READ_REQUEST, payload, "LOG_READ")
    return int(from_seq), int(max_records)


def log_record_bytes(flags: LogFlags, ops: int) -> int:
    """The size of one record for ``flags``; ``ops`` counts only with ``LogFlags.OPS``."""
    return _log_record_format(LogFlags(flags), ops).size


@lru_cache(maxsize=64)
def _log_record_format(flags: LogFlags, ops: int) -> struct.Struct:
    if ops < 0 or (ops and LogFlags.OPS not in flags):
        raise ValueError(f"{ops} per-operator fields without LogFlags.OPS")
    fmt = ("<" + _LOG_RECORD_FIXED + ("I" if LogFlags.DIGEST in flags else "")
           + ("i" if LogFlags.TOP1 in flags else "") + "I" * ops)
    return struct.Struct(fmt)


@dataclass(frozen=True)
class LogRecord:
    """One logged inference. Ticks are the device counter's (INFO ``COUNTER_SOURCE``)."""

    seq: int  # 0 for the session's first inference, +1 each (modulo 2**32)
    status: int  # 0: ran; else the interpreter's error code (the run failed)
    start_ticks: int  # the 64-bit device counter at the inference's start
    ticks: int  # the inference
    digest: int | None = None  # DIGEST: zlib.crc32 of all outputs' bytes; 0 if it failed
    top1: int | None = None  # TOP1: argmax of output 0 (first on ties); -1 if it failed
    op_ticks: tuple[int, ...] | None = None  # OPS: per operator, saturated at 2**32 - 1

    @property
    def flags(self) -> LogFlags:
        """The flags a session must have had to carry this record's optional fields."""
        flags = LogFlags(0)
        if self.op_ticks is not None:
            flags |= LogFlags.OPS
        if self.digest is not None:
            flags |= LogFlags.DIGEST
        if self.top1 is not None:
            flags |= LogFlags.TOP1
        return flags

    def encode(self) -> bytes:
        """The record as the device lays it out (for fakes and tests)."""
        ops = self.op_ticks or ()
        fmt = _log_record_format(self.flags, len(ops))
        optional = [v for v in (self.digest, self.top1) if v is not None]
        return fmt.pack(self.seq, self.status, self.start_ticks, self.ticks, *optional, *ops)


@dataclass(frozen=True)
class LogPage:
    """A LOG_READ response: the ring's state and the records from the requested seq on.

    ``oldest_seq`` is the oldest record the ring still holds: a host that wanted an earlier
    one lost ``oldest_seq - wanted`` records, overwritten while it was away. ``next_seq`` is
    the seq the next inference will get. Records are consecutive; a page holds at most
    what one payload carries, so ask again from ``end_seq`` until it reaches ``next_seq``.
    """

    session: int  # the id the host gave LOG_START
    oldest_seq: int
    next_seq: int
    record_bytes: int
    now_ticks: int  # the device counter when it answered
    records: tuple[LogRecord, ...]

    def encode(self) -> bytes:
        head = _LOG_PAGE_HEAD.pack(self.session, self.oldest_seq, self.next_seq,
                                   self.record_bytes, len(self.records), self.now_ticks)
        return head + b"".join(r.encode() for r in self.records)

    @property
    def end_seq(self) -> int:
        """The seq after the last record here (the next to ask for)."""
        if not self.records:
            return self.next_seq
        return (self.records[-1].seq + 1) & _U32_MASK

    @classmethod
    def decode(cls, payload: Buffer, *, flags: LogFlags, ops: int) -> LogPage:
        """Parse a LOG_READ+ payload of a session started with ``flags`` (and ``ops``
        operators, as LOG_START+ said; 0 without OPS)."""
        if len(payload) < _LOG_PAGE_HEAD.size:
            raise ProtocolError(f"LOG_READ+ payload is {len(payload)} bytes, expected at least "
                                f"{_LOG_PAGE_HEAD.size}")
        session, oldest, next_seq, record_bytes, n, now = _LOG_PAGE_HEAD.unpack_from(payload)
        fmt = _log_record_format(LogFlags(flags), ops)
        if record_bytes != fmt.size:
            raise ProtocolError(f"LOG_READ+ records are {record_bytes} bytes; flags "
                                f"{LogFlags(flags)!r} with {ops} operators make {fmt.size}: "
                                "the device runs a session with other flags")
        body = memoryview(payload)[_LOG_PAGE_HEAD.size:]
        if len(body) != n * record_bytes:
            raise ProtocolError(f"LOG_READ+ says {n} records of {record_bytes} bytes, carries "
                                f"{len(body)} bytes")
        records = _log_records(body, fmt, LogFlags(flags)) if n else ()
        _check_log_page(oldest, next_seq, records)
        return cls(session, oldest, next_seq, record_bytes, now, records)


def _log_records(body: memoryview, fmt: struct.Struct, flags: LogFlags) -> tuple[LogRecord, ...]:
    """Records from ``body``; one comprehension per layout, as a host may ingest thousands
    a second."""
    digest, top1, ops = (LogFlags.DIGEST in flags, LogFlags.TOP1 in flags,
                         LogFlags.OPS in flags)
    rows = fmt.iter_unpack(body)
    if not ops:
        if top1 and not digest:
            return tuple(LogRecord(v[0], v[1], v[2], v[3], None, v[4]) for v in rows)
        return tuple(LogRecord(*v) for v in rows)  # the fields in LogRecord's order
    at = 4 + digest + top1
    return tuple(LogRecord(v[0], v[1], v[2], v[3], v[4] if digest else None,
                           v[at - 1] if top1 else None, v[at:]) for v in rows)


def _check_log_page(oldest: int, next_seq: int, records: tuple[LogRecord, ...]) -> None:
    """Records consecutive, within [oldest, next) (seqs count modulo 2**32)."""
    held = (next_seq - oldest) & _U32_MASK
    if held > LOG_MAX_RECORDS:
        raise ProtocolError(f"LOG_READ+ says the ring holds seq {oldest}..{next_seq}: more "
                            f"than {LOG_MAX_RECORDS} records")
    if not records:
        return
    first = records[0].seq
    if (first - oldest) & _U32_MASK >= held or \
            ((first - oldest) & _U32_MASK) + len(records) > held:
        raise ProtocolError(f"LOG_READ+ carries seq {first}..+{len(records)}, outside the "
                            f"ring's {oldest}..{next_seq}")
    for k, record in enumerate(records):
        if record.seq != (first + k) & _U32_MASK:
            raise ProtocolError(f"LOG_READ+ record {k} has seq {record.seq}, expected "
                                f"{(first + k) & _U32_MASK}")


def decode_log_stop_response(payload: Buffer) -> int:
    """LOG_STOP+ response: the seq the next inference would have had (records 0..it-1)."""
    (next_seq,) = _unpack(_U32, payload, "LOG_STOP+")
    return int(next_seq)
