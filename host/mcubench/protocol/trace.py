"""Human-readable frame traces for ``--trace``."""

from __future__ import annotations

from enum import Enum

from mcubench.errors import ProtocolError
from mcubench.protocol.codes import OPCODE_ERROR, opcode_name
from mcubench.protocol.frame import BadFrame, Frame, FrameEvent, Garbage
from mcubench.protocol.messages import decode_error


class Direction(Enum):
    """Which way a frame travelled; the value is the arrow shown."""

    TX = "->"  # host to device
    RX = "<-"  # device to host


def hexdump(data: bytes, *, indent: str = "    ", max_bytes: int | None = None) -> str:
    """Offset, 16 hex bytes and their printable ASCII, one line per 16 bytes."""
    shown = data if max_bytes is None else data[:max_bytes]
    lines = []
    for at in range(0, len(shown), 16):
        row = shown[at : at + 16]
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
        lines.append(f"{indent}{at:04x}  {row.hex(' '):<47}  {text}")
    if len(shown) < len(data):
        lines.append(f"{indent}... {len(data) - len(shown)} more bytes")
    return "\n".join(lines)


def format_frame_trace(
    direction: Direction, frame: FrameEvent, *, max_bytes: int | None = None
) -> str:
    """A summary line naming the opcode, then a hex dump of the frame's bytes.

    ``max_bytes`` limits the dump (None: all of it).
    """
    arrow = direction.value
    if isinstance(frame, Garbage):
        head = f"{arrow} garbage, {len(frame.data)} bytes"
        return head + "\n" + hexdump(frame.data, max_bytes=max_bytes)
    if isinstance(frame, BadFrame):
        return (
            f"{arrow} dropped frame ({frame.reason.value}): {opcode_name(frame.opcode)} "
            f"seq={frame.seq} len={frame.length}"
        )
    head = f"{arrow} {opcode_name(frame.opcode)} seq={frame.seq} len={len(frame.payload)}"
    if frame.opcode == OPCODE_ERROR:
        head += " " + _error_summary(frame)
    return head + "\n" + hexdump(frame.encode(), max_bytes=max_bytes)


def _error_summary(frame: Frame) -> str:
    try:
        error = decode_error(frame.payload)
    except ProtocolError as exc:
        return f"(malformed: {exc})"
    return f"{error.name} on {opcode_name(error.request_opcode)}" + (
        f": {error.device_message}" if error.device_message else ""
    )
