"""Bad bytes on the line: each gets a typed ERROR or is skipped, nothing hangs, and the
next valid request works. Runs against the real firmware (native and emulated)."""

from __future__ import annotations

import random
import struct
import time
import zlib

import pytest

from mcubench.device import Device
from mcubench.errors import DeviceError
from mcubench.protocol.codes import OPCODE_ERROR, ErrorCode, Opcode
from mcubench.protocol.frame import Frame, crc8, encode_frame
from mcubench.protocol.messages import decode_error

from .conftest import BootFn

BOARDS = ["native", "qemu-m4", "qemu-rv32", "stm32f4"]


def raw_header(opcode: int, seq: int, length: int) -> bytes:
    fields = struct.pack("<BBH", opcode, seq, length)
    return b"\xa5\x5a" + fields + bytes((crc8(fields),))


def next_frame(device: Device, seq: int, timeout: float = 5.0) -> Frame:
    """The device's answer with ``seq``; late answers to retried HELLOs are skipped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in device.transport.receive(0.05):
            if isinstance(event, Frame) and event.seq == seq:
                return event
    raise AssertionError(f"no frame with seq {seq} from the device within {timeout} s")


def drain(device: Device, quiet_s: float = 0.3) -> None:
    """Drop what is still on the line (a late answer to a retried HELLO, say)."""
    while device.transport.receive(quiet_s):
        pass


def expect_error(device: Device, seq: int, code: ErrorCode) -> str:
    frame = next_frame(device, seq)
    assert frame.opcode == OPCODE_ERROR, f"expected ERROR, got opcode 0x{frame.opcode:02x}"
    assert frame.seq == seq
    error = decode_error(frame.payload)
    assert error.code == code, error
    return error.device_message


def still_works(device: Device) -> None:
    payload = random.Random(7).randbytes(300)
    assert device.request(Opcode.PING, payload) == payload


@pytest.mark.parametrize("board", BOARDS)
def test_garbage_is_skipped(board: str, boot: BootFn) -> None:
    rng = random.Random(1)
    with boot(board) as (_, device):
        noise = bytes(b for b in rng.randbytes(4096) if b != 0xA5)
        false_starts = b"\xa5\x5a\x01\x02\x03\x04\x05" * 20  # SOF with a bad header check
        device.transport.write(noise + false_starts + noise[:100])
        still_works(device)


@pytest.mark.parametrize("board", BOARDS)
def test_random_bytes_never_wedge_the_device(board: str, boot: BootFn) -> None:
    rng = random.Random(2)
    with boot(board) as (_, device):
        for _ in range(20):
            device.transport.write(rng.randbytes(rng.randrange(1, 600)))
        # Whatever those bytes started, HELLO resynchronises and the device answers.
        device.hello()
        still_works(device)


@pytest.mark.parametrize("board", BOARDS)
def test_bad_crc_gets_bad_crc(board: str, boot: BootFn) -> None:
    with boot(board) as (_, device):
        drain(device)
        frame = bytearray(encode_frame(Opcode.PING, 17, b"hello"))
        frame[-1] ^= 0xFF
        device.transport.write(bytes(frame))
        expect_error(device, 17, ErrorCode.BAD_CRC)
        still_works(device)


@pytest.mark.parametrize("board", BOARDS)
def test_oversize_length_gets_frame_too_large(board: str, boot: BootFn) -> None:
    with boot(board) as (_, device):
        too_long = device.info().max_payload + 1
        drain(device)
        device.transport.write(raw_header(Opcode.PING, 33, too_long))
        assert str(too_long) in expect_error(device, 33, ErrorCode.FRAME_TOO_LARGE)
        still_works(device)


@pytest.mark.parametrize("board", BOARDS)
def test_unknown_opcode_is_named(board: str, boot: BootFn) -> None:
    with boot(board) as (_, device), pytest.raises(DeviceError) as error:
        device.request(0x55)
    assert error.value.code == ErrorCode.UNKNOWN_OPCODE
    assert error.value.request_opcode == 0x55


@pytest.mark.parametrize("board", BOARDS)
def test_truncated_frame_times_out_and_the_next_request_works(board: str, boot: BootFn) -> None:
    with boot(board) as (_, device):
        drain(device)
        frame = encode_frame(Opcode.PING, 44, bytes(200))
        device.transport.write(frame[:60])  # header and part of the payload, then silence
        expect_error(device, 44, ErrorCode.FRAME_TIMEOUT)
        still_works(device)


@pytest.mark.parametrize("board", BOARDS)
def test_requests_that_do_not_fit_are_refused_with_reasons(board: str, boot: BootFn) -> None:
    with boot(board) as (_, device):
        pool = device.info().pool_bytes
        cases = [
            (Opcode.READ, struct.pack("<II", pool - 8, 16), ErrorCode.OUT_OF_RANGE),
            (Opcode.CRC, struct.pack("<II", 0xFFFFFFF0, 0x20), ErrorCode.OUT_OF_RANGE),
            (Opcode.WRITE_BEGIN, struct.pack("<II", 0, pool + 1), ErrorCode.OUT_OF_RANGE),
            (Opcode.WRITE_BEGIN, b"\x00", ErrorCode.BAD_LENGTH),
            (Opcode.WRITE_DATA, struct.pack("<I", 0) + b"x", ErrorCode.STATE),
            (Opcode.WRITE_END, b"", ErrorCode.STATE),
            (Opcode.HELLO, struct.pack("<H", 99), ErrorCode.UNSUPPORTED_VERSION),
        ]
        for opcode, payload, code in cases:
            with pytest.raises(DeviceError) as error:
                device.request(opcode, payload)
            assert error.value.code == code, (opcode, error.value)
            assert error.value.device_message  # says why, not just a number
        still_works(device)


@pytest.mark.parametrize("board", BOARDS)
def test_write_data_out_of_order_is_a_sequence_error(board: str, boot: BootFn) -> None:
    with boot(board) as (_, device):
        device.request(Opcode.WRITE_BEGIN, struct.pack("<II", 0, 64))
        with pytest.raises(DeviceError) as error:
            device.request(Opcode.WRITE_DATA, struct.pack("<I", 32) + bytes(32))
        assert error.value.code == ErrorCode.SEQUENCE
        data = bytes(range(64))
        device.upload(0, data)  # a fresh session still works
        assert device.crc(0, 64) == zlib.crc32(data)
