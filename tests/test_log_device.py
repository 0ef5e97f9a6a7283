"""The device's log service (docs/protocol.md, *Logging*): LOG_START, LOG_READ, LOG_STOP.

On the native board (fast) and on qemu-m4: sequence continuity, digests and top-1 against
tflite_micro, exact overwrite accounting when the host is away, the period between starts,
per-operator ticks with the profiler, every refusal, a write into the arena ending the log,
and a second host connection reading on where the first left off.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import time
import zlib
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from mcubench.boards import get_board
from mcubench.build import FirmwareOptions, build_firmware
from mcubench.device import Device
from mcubench.emulator import emulator_for
from mcubench.errors import DeviceError, ModelError, ProtocolError
from mcubench.inference import LoadedInference, LogReader, attach_logging, load_on_device, log_read
from mcubench.model import read_model
from mcubench.protocol.codes import Capability, ErrorCode, LogFlags, ModelSource, Opcode
from mcubench.protocol.messages import (
    LOG_MIN_RECORDS,
    LogPage,
    LogRecord,
    encode_log_read,
    encode_log_start,
    encode_model_load,
    log_record_bytes,
)
from mcubench.reference import ReferenceRunner, random_inputs

from .test_run import reshape_model
from .tflite_builder import ModelBuilder

HEADER = Path(__file__).resolve().parents[1] / "firmware" / "include" / "mcb" / "protocol_defs.h"
DIGEST_TOP1 = LogFlags.DIGEST | LogFlags.TOP1


# ---- models ----------------------------------------------------------------------------------


def reuse_model(width: int = 32) -> bytes:
    """x -> FC -> h -> FC -> y, all ``width`` int8: the planner puts y where x was, so a log
    that did not restore its inputs would run the second inference on the first's output.
    The second layer's small output scale saturates several outputs: top-1 has ties."""
    rng = np.random.default_rng(3)
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, width], scales=0.05, zero_points=-3)
    w1 = g.add_tensor([width, width], data=rng.integers(-127, 128, (width, width)), scales=0.02)
    h = g.add_tensor([1, width], scales=0.2, zero_points=1)
    w2 = g.add_tensor([width, width], data=rng.integers(-127, 128, (width, width)), scales=0.02)
    y = g.add_tensor([1, width], scales=0.02, zero_points=0)
    g.add_operator("FULLY_CONNECTED", [x, w1, -1], [h])
    g.add_operator("FULLY_CONNECTED", [h, w2, -1], [y])
    g.set_io([x], [y])
    return mb.build()


def float_two_outputs_model() -> bytes:
    """float32 x -> FC -> y1 -> RELU -> y2, outputs listed as (y2, y1): the digest covers
    both in output order, top-1 ranks floats."""
    rng = np.random.default_rng(5)
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 8], "FLOAT32")
    w = g.add_tensor([6, 8], "FLOAT32", data=rng.standard_normal((6, 8)).astype(np.float32))
    y1 = g.add_tensor([1, 6], "FLOAT32")
    y2 = g.add_tensor([1, 6], "FLOAT32")
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [y1])
    g.add_operator("RELU", [y1], [y2])
    g.set_io([x], [y2, y1])
    return mb.build()


def deep_model(layers: int = 6, width: int = 96) -> bytes:
    """A chain of int8 FCs, long enough per inference that per-operator ticks mean something."""
    rng = np.random.default_rng(9)
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = first = g.add_tensor([1, width], scales=0.05, zero_points=0)
    for _ in range(layers):
        w = g.add_tensor([width, width], data=rng.integers(-127, 128, (width, width)),
                         scales=0.01)
        y = g.add_tensor([1, width], scales=0.3, zero_points=0)
        g.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
        x = y
    g.set_io([first], [x])
    return mb.build()


# ---- helpers ---------------------------------------------------------------------------------


def expected(model: bytes, inputs: list[np.ndarray]) -> tuple[int, int]:
    """(digest, top1) of one inference as tflite_micro runs it: CRC-32 of every output's
    bytes in output order, and numpy's argmax of output 0 (the first on ties)."""
    outputs = ReferenceRunner(model).invoke(inputs)
    return (zlib.crc32(b"".join(o.tobytes() for o in outputs)),
            int(np.argmax(outputs[0].reshape(-1))))


def read_records(inference: LogReader, count: int, *, from_seq: int = 0,
                 deadline_s: float = 60.0) -> tuple[list[LogRecord], LogPage]:
    """At least ``count`` records from ``from_seq`` on, checking that the pages join up."""
    records: list[LogRecord] = []
    cursor = from_seq
    stop = time.monotonic() + deadline_s
    while True:
        page = inference.log_read(cursor)
        assert page.oldest_seq <= cursor, "the ring overwrote records while this host read"
        if page.records:
            assert page.records[0].seq == cursor
        records.extend(page.records)
        cursor = page.end_seq
        if len(records) >= count:
            return records, page
        assert time.monotonic() < stop, f"only {len(records)} records in {deadline_s} s"


def assert_consecutive(records: list[LogRecord], first: int = 0) -> None:
    assert [r.seq for r in records] == list(range(first, first + len(records)))


def request_error(device: Device, opcode: Opcode, payload: bytes = b"") -> DeviceError:
    with pytest.raises(DeviceError) as caught:
        device.request(opcode, payload)
    return caught.value


@pytest.fixture(scope="module")
def native() -> Iterator[Device]:
    board = get_board("native")
    with emulator_for(board, build_firmware(board).elf) as emulator, \
            Device.open(emulator.url) as device:
        device.hello()
        yield device


def load(device: Device, model: bytes, seed: int = 0) -> tuple[LoadedInference, list[np.ndarray]]:
    """The model loaded with seeded inputs written, ready for log_start."""
    inference = load_on_device(device, model)
    inputs = random_inputs(read_model(model), seed)
    inference.set_inputs(inputs)
    return inference, inputs


# ---- the ring, in C ---------------------------------------------------------------------------

RING_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "mcb/log_ring.h"

/* argv: capacity, first seq, pushes, then from_seq max pairs. Prints per read:
 * status first n seq... (every record holds its seq). */
int main(int argc, char **argv)
{
    const uint32_t cap = (uint32_t)strtoul(argv[1], NULL, 0);
    static uint8_t mem[64 * 4], out[64 * 4];
    mcb_log_ring r;
    if (mcb_log_ring_init(&r, mem, 4, cap) != MCB_OK) return 2;
    r.next_seq = (uint32_t)strtoul(argv[2], NULL, 0); /* as if that many had gone before */
    for (unsigned long i = 0; i < strtoul(argv[3], NULL, 0); i++) {
        const uint32_t seq = r.next_seq;
        memcpy(mcb_log_ring_push(&r), &seq, 4);
    }
    printf("%u %u\n", mcb_log_ring_oldest(&r), r.next_seq);
    for (int a = 4; a + 1 < argc; a += 2) {
        uint32_t first = 0, n = 0;
        const mcb_status st = mcb_log_ring_copy(&r, (uint32_t)strtoul(argv[a], NULL, 0),
                                                (uint32_t)strtoul(argv[a + 1], NULL, 0), out,
                                                &first, &n);
        printf("%d %u %u", st, first, n);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t seq;
            memcpy(&seq, &out[4 * i], 4);
            printf(" %u", seq);
        }
        printf("\n");
    }
    return 0;
}
"""


def ring_model(capacity: int, start: int, pushes: int, from_seq: int,
               max_records: int) -> tuple[int, int, list[int]] | None:
    """What the spec says a read returns: None for the future, else (first, n, seqs)."""
    mask = 0xFFFF_FFFF
    next_seq = (start + pushes) & mask
    held = min(pushes, capacity)
    ahead = (from_seq - next_seq) & mask
    if 0 < ahead < 2**31:
        return None
    back = min((next_seq - from_seq) & mask, held)
    first = (next_seq - back) & mask
    n = min(back, max_records)
    return first, n, [(first + i) & mask for i in range(n)]


@pytest.mark.parametrize(("capacity", "start", "pushes"), [
    (16, 0, 5), (16, 0, 16), (16, 0, 53), (7, 0xFFFF_FFF0, 40), (5, 0xFFFF_FFFE, 1),
])
def test_ring_keeps_the_newest_and_reads_across_its_end(tmp_path: Path, capacity: int,
                                                        start: int, pushes: int) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    source = tmp_path / "ring.c"
    source.write_text(RING_PROGRAM)
    tool = tmp_path / "ring"
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address,undefined", f"-I{HEADER.parents[1]}", str(source),
                    "-o", str(tool)], check=True)
    mask = 0xFFFF_FFFF
    next_seq = (start + pushes) & mask
    reads = [(start, 64), (next_seq, 64), ((next_seq - 3) & mask, 2), ((next_seq + 1) & mask, 1),
             ((next_seq + 2**31 - 1) & mask, 1), ((next_seq + 2**31) & mask, 64),
             ((next_seq - capacity - 1) & mask, 64),
             ((next_seq - 1) & mask, 0)]
    args = [str(capacity), str(start), str(pushes)] + [str(v) for pair in reads for v in pair]
    lines = subprocess.run([str(tool), *args], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    held = min(pushes, capacity)
    assert lines[0].split() == [str((next_seq - held) & mask), str(next_seq)]
    for line, (from_seq, max_records) in zip(lines[1:], reads, strict=True):
        want = ring_model(capacity, start, pushes, from_seq, max_records)
        got = [int(v) for v in line.split()]
        if want is None:
            assert got[0] != 0, (from_seq, line)  # MCB_ERR_RANGE
        else:
            first, n, seqs = want
            assert got == [0, first, n, *seqs], (from_seq, max_records)


# ---- the header and the capability -----------------------------------------------------------


def test_log_flags_match_header() -> None:
    text = HEADER.read_text()
    found = re.search(r"^#define MCB_LOG_FLAGS\(X\)((?:[^\n]*\\\n)*[^\n]*)$", text, re.M)
    assert found is not None
    header = {name.strip(): 1 << int(bit) for name, bit in
              re.findall(r"X\((\w+),\s*(\d+)\)", found.group(1))}
    assert header == {flag.name: flag.value for flag in LogFlags}


@pytest.mark.native
def test_native_says_it_can_log(native: Device) -> None:
    assert Capability.LOG in native.info().capabilities


# ---- records -----------------------------------------------------------------------------------


@pytest.mark.native
def test_records_are_consecutive_and_match_tflite_micro(native: Device) -> None:
    model = reuse_model()
    inference, inputs = load(native, model, seed=1)
    x, y = inference.inputs[0], inference.outputs[0]
    assert x.pool_offset == y.pool_offset, "the planner no longer reuses x for y: pick a model"
    digest, top1 = expected(model, inputs)
    outputs = ReferenceRunner(model).invoke(inputs)[0].reshape(-1)
    assert (outputs == outputs.max()).sum() > 1, "no tie for top-1: pick other weights"

    started = inference.log_start(0, DIGEST_TOP1, 0xC0FFEE)
    assert started.session == 0xC0FFEE and started.ops == 0
    assert started.record_bytes == log_record_bytes(DIGEST_TOP1, 0) == 32
    assert started.ring_records == 65535  # native's 8 MB arena: the most the protocol allows
    records, page = read_records(inference, 300)
    assert page.session == 0xC0FFEE and page.record_bytes == 32
    assert_consecutive(records)
    assert all(r.status == 0 and r.digest == digest and r.top1 == top1 for r in records)
    assert all(r.ticks > 0 for r in records)
    # Back to back, one after the other, and the counter never goes back.
    for a, b in pairwise(records):
        assert b.start_ticks >= a.start_ticks + a.ticks
    assert page.now_ticks >= records[-1].start_ticks + records[-1].ticks

    next_seq = inference.log_stop()
    assert next_seq >= len(records)
    # Stopped: the ring stays readable, and nothing moves any more.
    tail = inference.log_read(next_seq - 3)
    assert [r.seq for r in tail.records] == [next_seq - 3, next_seq - 2, next_seq - 1]
    assert inference.log_read(0, 0).next_seq == next_seq
    assert inference.log_stop() == next_seq  # repeating it is harmless
    # INVOKE is back, on the inputs the host wrote (the log never changed them for it).
    inference.set_inputs(inputs)
    inference.invoke()
    assert zlib.crc32(inference.get_outputs()[0].tobytes()) == digest


@pytest.mark.native
def test_digest_covers_all_outputs_in_order_and_top1_ranks_floats(native: Device) -> None:
    model = float_two_outputs_model()
    inference, inputs = load(native, model, seed=4)
    digest, top1 = expected(model, inputs)
    y2, y1 = ReferenceRunner(model).invoke(inputs)
    assert digest != zlib.crc32(y1.tobytes() + y2.tobytes())  # the order matters here
    inference.log_start(0, DIGEST_TOP1, 2)
    records, _ = read_records(inference, 20)
    inference.log_stop()
    assert {(r.digest, r.top1) for r in records} == {(digest, top1)}
    # TOP1 alone: records shrink to 28 bytes, the fields not asked for are None.
    started = inference.log_start(0, LogFlags.TOP1, 3)
    assert started.record_bytes == 28
    records, _ = read_records(inference, 5)
    inference.log_stop()
    assert all(r.top1 == top1 and r.digest is None and r.op_ticks is None for r in records)


@pytest.mark.native
def test_writing_inputs_while_logging_changes_nothing(native: Device) -> None:
    """The log runs on its copy of the inputs taken at LOG_START."""
    model = reuse_model()
    inference, inputs = load(native, model, seed=6)
    digest, _ = expected(model, inputs)
    inference.log_start(0, LogFlags.DIGEST, 4)
    first, page = read_records(inference, 10)
    inference.set_inputs(random_inputs(read_model(model), 7))  # into the activations: allowed
    later, _ = read_records(inference, 10, from_seq=page.end_seq)
    inference.log_stop()
    assert {r.digest for r in first + later} == {digest}


# ---- the ring ------------------------------------------------------------------------------------


def tight_reshape(device: Device, spare: int) -> tuple[LoadedInference, int]:
    """A RESHAPE whose activations and input copy leave about ``spare`` bytes of the arena's
    free middle (each element costs 3 bytes: input, output, copy)."""
    probe = load_on_device(device, reshape_model(1024)).loaded
    elements = (probe.arena_bytes - probe.persistent_bytes - spare) // 3
    return load_on_device(device, reshape_model(elements)), elements


@pytest.mark.native
def test_a_host_that_waits_learns_exactly_what_was_overwritten(native: Device) -> None:
    inference, _ = tight_reshape(native, 3000)
    started = inference.log_start(0, LogFlags(0), 5)
    ring = started.ring_records
    assert LOG_MIN_RECORDS <= ring < 100
    deadline = time.monotonic() + 30
    while (head := inference.log_read(0, 0)).next_seq < 3 * ring + 5:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # While it runs: the ring holds exactly the newest ring_records.
    assert head.next_seq - head.oldest_seq == ring
    stopped = inference.log_stop()
    page = inference.log_read(0)  # from seq 0, long overwritten
    assert page.oldest_seq == stopped - ring  # lost: seq 0 .. oldest_seq - 1, exactly
    assert page.next_seq == stopped
    records = list(page.records)
    while records[-1].seq + 1 < stopped:
        records += inference.log_read(records[-1].seq + 1).records
    assert_consecutive(records, stopped - ring)  # everything held, across the ring's end
    assert all(r.status == 0 for r in records)


@pytest.mark.native
def test_ring_too_small_says_how_much_it_needs(native: Device) -> None:
    inference, elements = tight_reshape(native, 300)
    with pytest.raises(ModelError) as caught:
        inference.log_start(0, DIGEST_TOP1, 6)
    found = re.search(r"ARENA_TOO_SMALL: log ring: need (\d+) bytes, have (\d+)", str(caught.value))
    assert found, caught.value
    need, have = int(found[1]), int(found[2])
    loaded = inference.loaded
    # "have" is the free middle: the arena less the activations' peak and the persistent tail.
    assert have == loaded.arena_bytes - loaded.nonpersistent_bytes - loaded.persistent_bytes
    # At least the input copy and 16 records; at most that, alignment and one LOG_READ reply.
    least = elements + LOG_MIN_RECORDS * 32
    assert least <= need <= least + 8 + native.info().max_payload
    assert need > have
    inference.invoke()  # the model is still loaded and runs


# ---- the period --------------------------------------------------------------------------------


@pytest.mark.emulated
def test_qemu_m4_period_max_rate_and_reference() -> None:
    board = get_board("qemu-m4")
    model = reuse_model()
    with emulator_for(board, build_firmware(board).elf) as emulator, \
            Device.open(emulator.url) as device:
        device.hello()
        hz = device.info().counter_hz
        inference, inputs = load(device, model, seed=2)
        digest, top1 = expected(model, inputs)

        period = hz // 500  # 2 ms of device time; the model takes far less
        inference.log_start(period, DIGEST_TOP1, 7)
        records, _ = read_records(inference, 40)
        inference.log_stop()
        assert_consecutive(records)
        assert {(r.digest, r.top1, r.status) for r in records} == {(digest, top1, 0)}
        gaps = [b.start_ticks - a.start_ticks for a, b in pairwise(records)]
        assert min(gaps) >= period
        assert statistics.median(gaps) < period * 1.02, (period, gaps[:10])
        assert max(r.ticks for r in records) < period / 4

        inference.set_inputs(inputs)  # the planner reused x: write it again for a new session
        inference.log_start(0, DIGEST_TOP1, 8)
        records, _ = read_records(inference, 200)
        inference.log_stop()
        assert_consecutive(records)
        assert {(r.digest, r.top1, r.status) for r in records} == {(digest, top1, 0)}
        # Back to back: the next starts when this one ends, bar the main loop's turn.
        idle = [b.start_ticks - a.start_ticks - a.ticks
                for a, b in pairwise(records)]
        assert min(idle) >= 0
        assert statistics.median(idle) < statistics.median(r.ticks for r in records)


# ---- per-operator ticks ------------------------------------------------------------------------


@pytest.mark.native
def test_ops_with_the_profiler_add_up_to_the_inference() -> None:
    board = get_board("native")
    model = deep_model()
    elf = build_firmware(board, FirmwareOptions(profile=True)).elf
    with emulator_for(board, elf) as emulator, Device.open(emulator.url) as device:
        device.hello()
        inference, inputs = load(device, model, seed=3)
        digest, _ = expected(model, inputs)
        flags = LogFlags.OPS | LogFlags.DIGEST
        started = inference.log_start(0, flags, 9)
        assert started.ops == 6 and started.record_bytes == 24 + 4 + 6 * 4
        records, _ = read_records(inference, 100)
        last = inference.log_stop()
        assert_consecutive(records)
        assert all(r.digest == digest and r.op_ticks is not None and len(r.op_ticks) == 6
                   for r in records)
        ratios = [sum(r.op_ticks or ()) / r.ticks for r in records]
        assert all(ratio <= 1 for ratio in ratios)  # the operators are inside the inference
        assert statistics.median(ratios) > 0.95, ratios[:10]
        # PROFILE after the log shows its last inference, as one invocation.
        profile = inference.profile()
        final = inference.log_read(last - 1).records[0]
        assert profile.invocations == 1 and profile.ticks == final.op_ticks


# ---- refusals ------------------------------------------------------------------------------------


@pytest.mark.native
def test_refusals(native: Device) -> None:
    model = reuse_model()
    inference, _ = load(native, model)
    # A write over the model unloads it: no model to log.
    native.upload(0, b"\0" * 16)
    assert request_error(native, Opcode.LOG_START,
                         encode_log_start(0, 0, 1)).code == ErrorCode.NO_MODEL
    with pytest.raises(ModelError, match="NO_MODEL"):
        inference.log_start(0, LogFlags(0), 1)
    # No log at all: LOG_READ and LOG_STOP say so.
    for opcode, payload in ((Opcode.LOG_READ, encode_log_read(0)), (Opcode.LOG_STOP, b"")):
        error = request_error(native, opcode, payload)
        assert error.code == ErrorCode.STATE and "not logging" in error.device_message

    inference, _ = load(native, model)
    error = request_error(native, Opcode.LOG_START, encode_log_start(0, 8, 1))
    assert error.code == ErrorCode.OUT_OF_RANGE and "flags 8" in error.device_message
    with pytest.raises(DeviceError, match="OPS: profiler not compiled in"):
        inference.log_start(0, LogFlags.OPS, 1)
    assert request_error(native, Opcode.LOG_START, b"\0" * 8).code == ErrorCode.BAD_LENGTH

    started = inference.log_start(0, LogFlags.DIGEST, 10)
    while_logging = [
        (Opcode.MODEL_LOAD, encode_model_load(ModelSource.POOL, 0, len(model))),
        (Opcode.RESET, b""), (Opcode.INVOKE, (1).to_bytes(4, "little")),
        (Opcode.PROFILE, bytes(4)), (Opcode.LOG_START, encode_log_start(0, 0, 11)),
    ]
    for opcode, payload in while_logging:
        error = request_error(native, opcode, payload)
        assert error.code == ErrorCode.STATE, opcode
        assert error.device_message == "logging: LOG_STOP first", opcode
    # The future: past next_seq.
    head = inference.log_read(0, 0)
    error = request_error(native, Opcode.LOG_READ, encode_log_read(head.next_seq + 100_000))
    assert error.code == ErrorCode.OUT_OF_RANGE and "past next_seq" in error.device_message
    # None of that disturbed the log.
    records, _ = read_records(inference, 20)
    assert_consecutive(records)
    assert inference.log_read(0, 0).session == started.session
    inference.log_stop()


@pytest.mark.native
def test_a_write_into_the_arena_ends_the_log_safely(native: Device) -> None:
    model = reuse_model()
    inference, inputs = load(native, model, seed=8)
    digest, _ = expected(model, inputs)
    inference.log_start(0, LogFlags.DIGEST, 12)
    read_records(inference, 10)
    loaded = inference.loaded
    # Into the free middle, where the log keeps its copy of the inputs and its ring.
    native.upload(loaded.arena_offset + loaded.nonpersistent_bytes + 64, b"\xa5" * 256)
    error = request_error(native, Opcode.LOG_READ, encode_log_read(0))
    assert error.code == ErrorCode.STATE and "not logging" in error.device_message
    with pytest.raises(ModelError, match="NO_MODEL"):
        inference.invoke()
    native.ping()
    # A fresh load logs again, correctly.
    inference, _ = load(native, model, seed=8)
    inference.log_start(0, LogFlags.DIGEST, 13)
    records, _ = read_records(inference, 10)
    inference.log_stop()
    assert {r.digest for r in records} == {digest}


# ---- a host that reconnects ------------------------------------------------------------------


@pytest.mark.native
def test_a_new_connection_attaches_and_reads_on() -> None:
    """A host that restarted has no LoadedInference (loading would end the log): it reads
    with the flags and operator count it started the session with."""
    board = get_board("native")
    model = reuse_model()
    with emulator_for(board, build_firmware(board).elf) as emulator:
        with Device.open(emulator.url) as first:
            first.hello()
            inference, inputs = load(first, model, seed=5)
            digest, top1 = expected(model, inputs)
            inference.log_start(0, DIGEST_TOP1, 77)
            records, page = read_records(inference, 20)
        with Device.open(emulator.url) as second:
            second.hello()
            reader = attach_logging(second, DIGEST_TOP1, 0)
            more, page = read_records(reader, 20, from_seq=page.end_seq)
            assert page.session == 77
            assert_consecutive(records + more)
            assert {(r.digest, r.top1) for r in records + more} == {(digest, top1)}
            # The module function reads the same; wrong flags: the record size gives it away.
            assert log_read(second, 0, DIGEST_TOP1, 0, 5).records == tuple(records[:5])
            with pytest.raises(ProtocolError, match="other flags"):
                log_read(second, page.end_seq, LogFlags.DIGEST, 0)
            assert reader.log_stop() >= page.end_seq
