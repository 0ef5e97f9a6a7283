"""Device and Transport against the in-process fake device (tests/fakes.py)."""

from __future__ import annotations

import os
import random
import time
import tty
import zlib
from collections.abc import Iterator

import pytest

from mcubench.device import Device, Retries, Timeouts
from mcubench.errors import (
    BoardError,
    DeviceError,
    DeviceTimeout,
    IntegrityError,
    ProtocolError,
    TransportError,
)
from mcubench.protocol.codes import Capability, Opcode
from mcubench.protocol.frame import Frame
from mcubench.transport import Transport

from .fakes import CorruptingTransport, FakeDevice, Fault, free_port_url

# Tests that go through a timeout use short ones to finish fast (the fake answers in
# milliseconds); the others keep the defaults, so a loaded machine cannot fail them.
FAST = Timeouts(hello=0.2, request=0.25, bulk_frame=0.3, checksum=0.25, write=1.0)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def connect(
    fake: FakeDevice, *, timeouts: Timeouts | None = None, retries: Retries | None = None
) -> Device:
    device = Device.open(fake.url, timeouts=timeouts, retries=retries)
    device.hello()
    device.info()
    return device


@pytest.fixture
def fake() -> Iterator[FakeDevice]:
    with FakeDevice() as device:
        yield device


# Session


def test_hello_info_ping(fake: FakeDevice) -> None:
    with Device.open(fake.url) as device:
        assert device.hello() == 1
        info = device.info()
        assert info == fake.info
        assert device.device_info is info
        assert device.ping(b"\x00\xa5\x5a" * 20) < 1.0
    assert fake.opcodes() == [Opcode.HELLO, Opcode.INFO, Opcode.PING]


def test_hello_skips_leftovers_of_an_earlier_session() -> None:
    stale = Frame(0x93, 0, b"\x00" * 40).encode() + Frame(0x81, 1, b"\x01\x00MCUB").encode()
    leftovers = b"boot log\r\n" + stale + Frame(0x91, 2, b"\x00\x00").encode()[:9]
    with FakeDevice(preamble=leftovers) as fake, connect(fake, timeouts=FAST) as device:
        # The half frame at the end of the leftovers (an earlier session's answer cut
        # off) may swallow the first HELLO's answer; HELLO is retried.
        assert device.ping() >= 0
        assert device.crc(0, 10) == zlib.crc32(bytes(10))
        assert device.stats.stale_responses + device.stats.retries > 0


def test_hello_retries_when_a_hello_is_lost() -> None:
    faults = {(Opcode.HELLO, 0): Fault.LOSE_REQUEST, (Opcode.HELLO, 1): Fault.DAMAGE_REQUEST}
    with FakeDevice(faults=faults) as fake, Device.open(fake.url, timeouts=FAST) as device:
        assert device.hello() == 1
        assert device.stats.retries >= 2  # more only if the machine is very slow
        assert fake.opcodes() == [Opcode.HELLO] * (device.stats.retries + 1)


def test_hello_swallowed_by_a_stale_half_frame_is_resent_at_once() -> None:
    with (
        FakeDevice(faults={(Opcode.HELLO, 0): Fault.SWALLOWED}) as fake,
        Device.open(fake.url, timeouts=Timeouts(hello=5.0)) as device,
    ):
        started = time.monotonic()
        assert device.hello() == 1
        assert time.monotonic() - started < 2.5  # not the 5 s HELLO timeout
        assert device.stats.retries == 1
        assert fake.opcodes() == [Opcode.HELLO, Opcode.HELLO]


def test_hello_late_answer_to_an_earlier_attempt_is_dropped() -> None:
    # The device is slow: the first HELLO's answer arrives during the second attempt.
    timeouts = Timeouts(hello=0.15, request=1.0)
    with FakeDevice(turnaround=0.2) as fake, Device.open(fake.url, timeouts=timeouts) as device:
        device.hello()
        assert device.stats.retries == 1
        # The second attempt's answer comes later and is dropped, not taken for the
        # answer to INFO.
        assert device.info().board == "fake"
        assert device.stats.stale_responses == 1
        assert fake.opcodes() == [Opcode.HELLO, Opcode.HELLO, Opcode.INFO]


def test_unsupported_version_is_a_device_error_not_retried() -> None:
    with (
        FakeDevice(protocol_version=2) as fake,
        Device.open(fake.url) as device,
        pytest.raises(DeviceError) as caught,
    ):
        device.hello()
    assert caught.value.name == "UNSUPPORTED_VERSION"
    assert "host speaks 1" in str(caught.value)
    assert fake.opcodes() == [Opcode.HELLO]


def test_nothing_answers_hello() -> None:
    faults = {(Opcode.HELLO, 0): Fault.GO_SILENT}
    retries = Retries(hello=3)
    with (
        FakeDevice(faults=faults) as fake,
        Device.open(fake.url, timeouts=FAST, retries=retries) as device,
    ):
        started = time.monotonic()
        with pytest.raises(DeviceTimeout, match="after 3 attempts"):
            device.hello()
        assert time.monotonic() - started < 3 * FAST.hello + 0.5


def test_error_reply_surfaces_as_device_error(fake: FakeDevice) -> None:
    with connect(fake) as device:
        with pytest.raises(DeviceError) as caught:
            device.upload(fake.info.pool_bytes - 4, b"12345678")
        error = caught.value
        assert error.name == "OUT_OF_RANGE"
        assert error.request_opcode == Opcode.WRITE_BEGIN
        assert "outside the 65536-byte pool" in error.device_message
        assert "OUT_OF_RANGE" in str(error)
        # The session goes on.
        assert device.ping()


def test_unknown_opcode_error(fake: FakeDevice) -> None:
    with connect(fake) as device, pytest.raises(DeviceError, match="UNKNOWN_OPCODE"):
        device.request(0x42)


def test_response_with_wrong_seq_is_a_protocol_error() -> None:
    with (
        FakeDevice(faults={(Opcode.PING, 0): Fault.WRONG_SEQ}) as fake,
        connect(fake) as device,
        pytest.raises(ProtocolError, match="unexpected PING\\+ with seq"),
    ):
        device.ping()


def test_device_goes_silent_times_out_within_the_named_timeout() -> None:
    faults = {(Opcode.CRC, 0): Fault.GO_SILENT}
    with (
        FakeDevice(faults=faults) as fake,
        connect(fake, timeouts=FAST, retries=Retries(idempotent=1)) as device,
    ):
        started = time.monotonic()
        with pytest.raises(DeviceTimeout, match="no answer to CRC"):
            device.crc(0, 100)
        elapsed = time.monotonic() - started
        assert 2 * FAST.checksum <= elapsed < 2 * FAST.checksum + 1.0  # two attempts


def test_silent_during_upload_gives_up_in_bounded_time() -> None:
    faults = {(Opcode.WRITE_DATA, 3): Fault.GO_SILENT}
    retries = Retries(bulk_recoveries=2)
    with FakeDevice(faults=faults) as fake, connect(fake, timeouts=FAST, retries=retries) as device:
        started = time.monotonic()
        with pytest.raises(IntegrityError, match="gave up"):
            device.upload(0, payload(5000))
        assert time.monotonic() - started < 3 * FAST.bulk_frame + 1.0


def test_idempotent_request_retried_after_damaged_answer() -> None:
    with (
        FakeDevice(faults={(Opcode.INFO, 0): Fault.DAMAGE_ANSWER}) as fake,
        Device.open(fake.url) as device,
    ):
        device.hello()
        assert device.info().board == "fake"
        assert device.stats.retries == 1


def test_missing_capability_is_a_board_error() -> None:
    with (
        FakeDevice(capabilities=Capability.BULK_READ) as fake,
        connect(fake) as device,
        pytest.raises(BoardError, match="BULK_WRITE"),
    ):
        device.upload(0, b"x")


# Upload


def test_upload_windowed_keeps_the_line_busy_within_rx_window() -> None:
    data = payload(20_000)
    with FakeDevice(max_payload=256, rx_window=1024, turnaround=0.0005) as fake:
        with connect(fake) as device:
            seen: list[tuple[int, int]] = []
            device.upload(128, data, progress=lambda done, total: seen.append((done, total)))
        assert fake.pool[128 : 128 + len(data)] == data
        assert fake.opcodes().count(Opcode.WRITE_DATA) == -(-len(data) // 252)
        frame = 11 + 256
        # Several frames in flight at once, never more than the window.
        assert 2 * frame < fake.max_pending_bytes <= 1024
        assert seen[0] == (0, len(data))
        assert seen[-1] == (len(data), len(data))
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)
        assert device.stats.retries == 0


def test_upload_shrinks_frames_so_two_fit_a_tight_window() -> None:
    # 2 * (11 + 256) - 11: one byte short of two full WRITE_DATA frames, like a device
    # advertising its receive buffer plus one maximum frame.
    data = payload(5000, seed=2)
    with FakeDevice(max_payload=256, rx_window=523, turnaround=0.0005) as fake:
        with connect(fake) as device:
            device.upload(0, data)
        assert fake.pool[: len(data)] == data
        sizes = {len(f.payload) for f in fake.requests if f.opcode == Opcode.WRITE_DATA}
        assert max(sizes) == 523 // 2 - 11  # 250 data bytes + the offset
        assert 2 * (11 + 250) <= fake.max_pending_bytes <= 523


def test_upload_empty(fake: FakeDevice) -> None:
    with connect(fake) as device:
        device.upload(0, b"")


def test_upload_recovers_from_a_corrupted_write_data_frame_on_the_wire() -> None:
    data = payload(6000, seed=1)
    with FakeDevice() as fake:
        count = 0

        def third_data_frame(frame: Frame) -> bool:
            nonlocal count
            if frame.opcode != Opcode.WRITE_DATA:
                return False
            count += 1
            return count == 3

        transport = CorruptingTransport(fake.url, third_data_frame)
        transport.open()
        with Device(transport) as device:
            device.hello()
            device.info()
            device.upload(0, data)
            assert device.stats.retries == 1
        assert transport.damaged == 1
        assert len(fake.bad_frames) == 1  # the fake's parser saw the bad CRC-32
        assert fake.pool[: len(data)] == data


@pytest.mark.parametrize(
    "fault",
    [Fault.DAMAGE_REQUEST, Fault.LOSE_REQUEST, Fault.LOSE_ANSWER, Fault.DAMAGE_ANSWER],
)
@pytest.mark.parametrize("index", [0, 5, 23])  # first, middle, last of 24 frames
def test_upload_recovers_from_one_fault(fault: Fault, index: int) -> None:
    data = payload(24 * 252, seed=index)  # 24 frames of 256-byte payloads
    with FakeDevice(faults={(Opcode.WRITE_DATA, index): fault}) as fake:
        with connect(fake, timeouts=FAST) as device:
            device.upload(0, data)
            assert device.stats.retries <= 2
        assert fake.pool[: len(data)] == data
        # Recovery resends at most what was in flight (1024 // 267 = 3 frames), instead
        # of carrying on with frames the device is bound to refuse.
        assert fake.opcodes().count(Opcode.WRITE_DATA) <= 24 + 3


def test_upload_gives_up_after_bounded_recoveries() -> None:
    faults = {(Opcode.WRITE_DATA, i): Fault.DAMAGE_REQUEST for i in range(2, 200)}
    with (
        FakeDevice(faults=faults) as fake,
        connect(fake, retries=Retries(bulk_recoveries=3)) as device,
    ):
        with pytest.raises(IntegrityError, match="after 3 resends"):
            device.upload(0, payload(5000))
        # The answers still in flight are dropped; the link stays usable.
        assert device.ping()


def test_upload_crc_mismatch_is_an_integrity_error() -> None:
    with (
        FakeDevice(faults={(Opcode.WRITE_DATA, 1): Fault.FLIP_DATA}) as fake,
        connect(fake) as device,
        pytest.raises(IntegrityError, match="CRC-32"),
    ):
        device.upload(0, payload(2000))


def test_link_closed_mid_upload_is_a_transport_error() -> None:
    patient = Timeouts(bulk_frame=5.0)  # so noticing the close cannot be a timeout
    with (
        FakeDevice(faults={(Opcode.WRITE_DATA, 4): Fault.CLOSE}) as fake,
        Device.open(fake.url, timeouts=patient) as device,
    ):
        device.hello()
        device.info()
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            device.upload(0, payload(20_000))
        assert not isinstance(caught.value, DeviceTimeout)
        assert fake.url in str(caught.value)
        assert time.monotonic() - started < 2.0


# Download


def test_download_round_trip_and_device_crc(fake: FakeDevice) -> None:
    data = payload(30_000, seed=3)
    fake.pool[1000 : 1000 + len(data)] = data
    with connect(fake) as device:
        seen: list[int] = []
        assert device.download(1000, len(data), progress=lambda d, t: seen.append(d)) == data
        assert seen[-1] == len(data)
        assert device.crc(1000, len(data)) == zlib.crc32(data)
        assert device.download(0, 0) == b""
        assert device.stats.retries == 0


@pytest.mark.parametrize("fault", [Fault.LOSE_ANSWER, Fault.DAMAGE_ANSWER, Fault.DAMAGE_REQUEST])
@pytest.mark.parametrize("index", [0, 7, 19])  # 20 chunks: first, middle, last
def test_download_retries_a_lost_or_damaged_chunk(fault: Fault, index: int) -> None:
    data = payload(20 * 252, seed=4)
    with FakeDevice(faults={(Opcode.READ, index): fault}) as fake:
        fake.pool[: len(data)] = data
        with connect(fake, timeouts=FAST) as device:
            assert device.download(0, len(data)) == data
            assert device.stats.retries == 1
        # The chunk was read twice.
        assert len([f for f in fake.requests if f.opcode == Opcode.READ]) == 21


def test_download_out_of_range_is_a_device_error(fake: FakeDevice) -> None:
    with connect(fake) as device, pytest.raises(DeviceError, match="OUT_OF_RANGE"):
        device.download(fake.info.pool_bytes - 10, 100)


# Transport


def test_transport_open_failure_names_the_url() -> None:
    url = free_port_url()
    with pytest.raises(TransportError, match=url.replace(".", r"\.")):
        Device.open(url)
    with pytest.raises(TransportError, match="/nonexistent/tty"):
        Transport("/nonexistent/tty").open()


def test_transport_over_a_pty_and_unplug() -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    path = os.ttyname(slave)
    try:
        with Transport(path) as transport:
            transport.send([Frame(Opcode.PING, 1, b"abc")])
            assert os.read(master, 100) == Frame(Opcode.PING, 1, b"abc").encode()
            assert transport.read(100, timeout=0.05) == b""
            os.write(master, b"junk" + Frame(0x83, 1, b"abc").encode())
            time.sleep(0.02)
            events = transport.receive(timeout=0.5)
            assert events[-1] == Frame(0x83, 1, b"abc")
            assert transport.parser.stats.garbage_bytes == 4
            os.close(master)
            master = -1
            os.close(slave)
            slave = -1
            with pytest.raises(TransportError, match="lost while reading"):
                transport.receive(timeout=0.5)
    finally:
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)


def test_trace_shows_both_directions(fake: FakeDevice) -> None:
    lines: list[str] = []
    with Device.open(fake.url, trace=lines.append) as device:
        device.hello()
    assert lines[0].startswith("-> HELLO seq=")
    assert lines[1].startswith("<- HELLO+ seq=")
    assert "a5 5a 81" in lines[1]


def test_closed_transport_and_double_close(fake: FakeDevice) -> None:
    transport = Transport(fake.url)
    with pytest.raises(TransportError, match="not open"):
        transport.write(b"x")
    transport.open()
    transport.close()
    transport.close()
