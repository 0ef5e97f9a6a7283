"""Frame encoding and the streaming, resynchronising frame parser (docs/protocol.md)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import Enum

from mcubench.protocol.codes import (
    FRAME_OVERHEAD,
    HEADER_SIZE,
    MAX_FRAME_PAYLOAD,
    SOF,
    SOF0,
    TRAILER_SIZE,
)

Buffer = bytes | bytearray | memoryview

_HEADER_FIELDS = struct.Struct("<BBH")  # opcode, seq, len: bytes 2..5 of the frame


def _make_crc8_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8 = _make_crc8_table(0x07)


def crc8(data: Buffer, crc: int = 0) -> int:
    """CRC-8, poly 0x07, init 0, no reflection: the frame header check."""
    table = _CRC8
    for byte in bytes(data):
        crc = table[crc ^ byte]
    return crc


def encode_frame(opcode: int, seq: int, payload: Buffer = b"") -> bytes:
    """One complete frame, SOF to CRC-32."""
    if not 0 <= opcode <= 0xFF:
        raise ValueError(f"opcode {opcode} does not fit a byte")
    if not 0 <= seq <= 0xFF:
        raise ValueError(f"seq {seq} does not fit a byte")
    if len(payload) > MAX_FRAME_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    fields = _HEADER_FIELDS.pack(opcode, seq, len(payload))
    body = fields + bytes((crc8(fields),)) + bytes(payload)
    return SOF + body + zlib.crc32(body).to_bytes(TRAILER_SIZE, "little")


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame whose header and CRC-32 checked out."""

    opcode: int
    seq: int
    payload: bytes = b""

    def encode(self) -> bytes:
        """The frame's bytes on the wire."""
        return encode_frame(self.opcode, self.seq, self.payload)

    @property
    def wire_size(self) -> int:
        """Bytes this frame takes on the wire."""
        return FRAME_OVERHEAD + len(self.payload)


class BadFrameReason(Enum):
    """Why a frame with a good header was dropped."""

    BAD_CRC = "bad CRC-32"
    TOO_LARGE = "payload larger than MAX_PAYLOAD"


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A dropped frame. Its header passed the CRC-8, so opcode and seq are trusted."""

    opcode: int
    seq: int
    length: int
    reason: BadFrameReason


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes skipped while hunting for a frame start."""

    data: bytes


FrameEvent = Frame | BadFrame | Garbage


@dataclass(slots=True)
class ParserStats:
    """What a parser has seen, for ``--trace`` and link statistics."""

    frames: int = 0
    garbage_bytes: int = 0
    false_starts: int = 0  # SOF found but the header CRC-8 did not match
    bad_crc: int = 0
    too_large: int = 0

    @property
    def bad_frames(self) -> int:
        """Frames with a valid header that were dropped."""
        return self.bad_crc + self.too_large


@dataclass
class FrameParser:
    """Turns a byte stream into frame events, resynchronising as docs/protocol.md says.

    ``max_payload`` is the largest payload accepted; a longer header is reported as
    ``BadFrame(TOO_LARGE)`` and hunting restarts after it.
    """

    max_payload: int = MAX_FRAME_PAYLOAD
    stats: ParserStats = field(default_factory=ParserStats)
    _buf: bytearray = field(default_factory=bytearray, init=False, repr=False)

    @property
    def pending(self) -> int:
        """Bytes held back as the possible start of a frame."""
        return len(self._buf)

    def reset(self) -> list[FrameEvent]:
        """Drop a partly received frame (after a timeout); it is reported as garbage."""
        if not self._buf:
            return []
        dropped = bytes(self._buf)
        self._buf.clear()
        self.stats.garbage_bytes += len(dropped)
        return [Garbage(dropped)]

    def feed(self, data: Buffer) -> list[FrameEvent]:
        """Consume bytes; return the frames, dropped frames and garbage they complete."""
        buf = self._buf
        buf += data
        size = len(buf)
        stats = self.stats
        crc_table = _CRC8
        events: list[FrameEvent] = []
        pos = 0  # everything before pos is consumed
        junk = 0  # start of the garbage run not yet reported
        while True:
            start = buf.find(SOF, pos)
            if start < 0:
                # A trailing SOF0 may be the first half of a SOF split across feeds.
                pos = size - 1 if size > pos and buf[-1] == SOF0 else size
                break
            if size - start < HEADER_SIZE:
                pos = start
                break
            hcrc = crc_table[buf[start + 2]]
            hcrc = crc_table[hcrc ^ buf[start + 3]]
            hcrc = crc_table[hcrc ^ buf[start + 4]]
            hcrc = crc_table[hcrc ^ buf[start + 5]]
            if hcrc != buf[start + 6]:
                # A false start: rescan from the byte after SOF0, so a real frame whose
                # SOF lies inside these header bytes is still found.
                stats.false_starts += 1
                pos = start + 1
                continue
            length = buf[start + 4] | (buf[start + 5] << 8)
            if length > self.max_payload:
                self._flush_garbage(events, buf, junk, start)
                stats.too_large += 1
                events.append(
                    BadFrame(buf[start + 2], buf[start + 3], length, BadFrameReason.TOO_LARGE)
                )
                pos = junk = start + HEADER_SIZE
                continue
            body_end = start + HEADER_SIZE + length
            end = body_end + TRAILER_SIZE
            if size < end:
                pos = start
                break
            self._flush_garbage(events, buf, junk, start)
            payload = bytes(buf[start + HEADER_SIZE : body_end])
            crc = zlib.crc32(payload, zlib.crc32(buf[start + 2 : start + HEADER_SIZE]))
            if crc == int.from_bytes(buf[body_end:end], "little"):
                stats.frames += 1
                events.append(Frame(buf[start + 2], buf[start + 3], payload))
            else:
                stats.bad_crc += 1
                events.append(
                    BadFrame(buf[start + 2], buf[start + 3], length, BadFrameReason.BAD_CRC)
                )
            pos = junk = end
        self._flush_garbage(events, buf, junk, pos)
        del buf[:pos]
        return events

    def _flush_garbage(
        self, events: list[FrameEvent], buf: bytearray, start: int, end: int
    ) -> None:
        if end > start:
            self.stats.garbage_bytes += end - start
            events.append(Garbage(bytes(buf[start:end])))
