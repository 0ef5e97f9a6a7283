"""Protocol v1 numbers, mirroring ``firmware/include/mcb/protocol_defs.h``.

``tests/test_protocol_codes.py`` parses the C header and fails if this module and the
header disagree in either direction, so edit both together.
"""

from __future__ import annotations

from enum import Enum, IntEnum, IntFlag

PROTOCOL_VERSION = 1

SOF0 = 0xA5
SOF1 = 0x5A
SOF = bytes((SOF0, SOF1))
HEADER_SIZE = 7  # SOF0 SOF1 opcode seq len_lo len_hi hcrc8
TRAILER_SIZE = 4  # CRC-32, little endian
FRAME_OVERHEAD = HEADER_SIZE + TRAILER_SIZE
MAX_FRAME_PAYLOAD = 0xFFFF  # what the u16 length field can carry
RESPONSE_BIT = 0x80  # OK response opcode = request opcode | RESPONSE_BIT
OPCODE_ERROR = 0xFF  # the only response that is not request | RESPONSE_BIT


class Opcode(IntEnum):
    """Request opcodes; OK responses carry ``opcode | RESPONSE_BIT``."""

    HELLO = 0x01
    INFO = 0x02
    PING = 0x03
    WRITE_BEGIN = 0x10
    WRITE_DATA = 0x11
    WRITE_END = 0x12
    READ = 0x13
    CRC = 0x14
    MODEL_LOAD = 0x20
    TENSOR_INFO = 0x21
    INVOKE = 0x22
    RESET = 0x23
    PROFILE = 0x24
    LOG_START = 0x28
    LOG_READ = 0x29
    LOG_STOP = 0x2A

    @property
    def response(self) -> int:
        """The opcode of this request's OK response."""
        return self.value | RESPONSE_BIT


class ErrorCode(IntEnum):
    """Codes carried by an ERROR response."""

    BAD_CRC = 1
    FRAME_TOO_LARGE = 2
    UNKNOWN_OPCODE = 3
    BAD_LENGTH = 4
    OUT_OF_RANGE = 5
    SEQUENCE = 6
    STATE = 7
    FRAME_TIMEOUT = 8
    UNSUPPORTED_VERSION = 9
    INTERNAL = 10
    NO_MODEL = 11
    MODEL_INVALID = 12
    UNSUPPORTED_OP = 13
    PREPARE_FAILED = 14
    ARENA_TOO_SMALL = 15
    INVOKE_FAILED = 16


class TagType(Enum):
    """How an INFO TLV value is encoded."""

    U8 = "u8"
    U16 = "u16"
    U32 = "u32"
    STR = "str"

    @property
    def size(self) -> int | None:
        """Fixed encoded size in bytes, or None for strings."""
        return _TAG_TYPE_SIZES[self]


_TAG_TYPE_SIZES: dict[TagType, int | None] = {
    TagType.U8: 1,
    TagType.U16: 2,
    TagType.U32: 4,
    TagType.STR: None,
}


class InfoTag(IntEnum):
    """Tags of the INFO response's TLV items."""

    PROTOCOL_VERSION = 0x01
    FIRMWARE_VERSION = 0x02
    FIRMWARE_GIT = 0x03
    BOARD = 0x04
    CORE = 0x05
    CLOCK_HZ = 0x06
    COUNTER_SOURCE = 0x07
    COUNTER_HZ = 0x08
    MAX_PAYLOAD = 0x09
    RX_WINDOW = 0x0A
    POOL_BYTES = 0x0B
    CAPABILITIES = 0x0C
    COMPILER = 0x0D
    BUILD_FLAGS = 0x0E
    KERNELS = 0x0F
    EMBEDDED_MODEL_BYTES = 0x10

    @property
    def type(self) -> TagType:
        """How this tag's value is encoded."""
        return INFO_TAG_TYPES[self]


INFO_TAG_TYPES: dict[InfoTag, TagType] = {
    InfoTag.PROTOCOL_VERSION: TagType.U16,
    InfoTag.FIRMWARE_VERSION: TagType.STR,
    InfoTag.FIRMWARE_GIT: TagType.STR,
    InfoTag.BOARD: TagType.STR,
    InfoTag.CORE: TagType.STR,
    InfoTag.CLOCK_HZ: TagType.U32,
    InfoTag.COUNTER_SOURCE: TagType.U8,
    InfoTag.COUNTER_HZ: TagType.U32,
    InfoTag.MAX_PAYLOAD: TagType.U16,
    InfoTag.RX_WINDOW: TagType.U32,
    InfoTag.POOL_BYTES: TagType.U32,
    InfoTag.CAPABILITIES: TagType.U32,
    InfoTag.COMPILER: TagType.STR,
    InfoTag.BUILD_FLAGS: TagType.STR,
    InfoTag.KERNELS: TagType.STR,
    InfoTag.EMBEDDED_MODEL_BYTES: TagType.U32,
}


class CounterSource(IntEnum):
    """What the device's counter counts (INFO ``COUNTER_SOURCE``)."""

    DWT_CYCCNT = 1
    SYSTICK = 2
    MCYCLE = 3
    MINSTRET = 4
    MONOTONIC_NS = 5


class Capability(IntFlag):
    """Capability flags (INFO ``CAPABILITIES``)."""

    BULK_WRITE = 1 << 0
    BULK_READ = 1 << 1
    CRC = 1 << 2
    INFERENCE = 1 << 3
    PROFILE = 1 << 4
    LOG = 1 << 5


class ModelSource(IntEnum):
    """Where MODEL_LOAD takes the model from."""

    POOL = 0
    EMBEDDED = 1


class TensorSelect(IntEnum):
    """What TENSOR_INFO's index counts: subgraph 0's inputs, outputs, or all its tensors."""

    INPUT = 0
    OUTPUT = 1
    TENSOR = 2


class TensorFlag(IntFlag):
    """TENSOR_INFO flags."""

    WRITABLE = 0x01  # in the arena: WRITE to it and READ from it at its pool offset
    CONSTANT = 0x02  # data in the model
    VARIABLE = 0x04


class LogFlags(IntFlag):
    """What LOG_START adds to each record, after its fixed 24 bytes (in this order)."""

    OPS = 1 << 0  # u32 ticks per operator of subgraph 0 (needs capability PROFILE)
    DIGEST = 1 << 1  # u32 CRC-32 (zlib) of all outputs' bytes, in output order
    TOP1 = 1 << 2  # i32 index of output 0's largest element (the first on ties)


TENSOR_NOT_IN_POOL = 0xFFFFFFFF  # TENSOR_INFO pool offset of a tensor outside the pool


def opcode_name(opcode: int) -> str:
    """A readable name for any opcode byte: ``READ``, ``READ+`` (OK response), ``ERROR``."""
    if opcode == OPCODE_ERROR:
        return "ERROR"
    base = opcode & ~RESPONSE_BIT
    try:
        name = Opcode(base).name
    except ValueError:
        return f"0x{opcode:02x}"
    return name + "+" if opcode & RESPONSE_BIT else name


def error_name(code: int) -> str:
    """The name of an error code, or ``UNKNOWN_<n>`` for one this host does not know."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"UNKNOWN_{code}"
