#!/usr/bin/env python3
"""Writes the seed corpus for tests/fuzz/fuzz_protocol.c into tests/fuzz/corpus/.

Each seed is: one byte (bits 0-4: number n of control bytes, bit 7: "fix
CRCs" mode), n control bytes (slice size and time step), then the bytes the
host sends; see fuzz_protocol.c.
Standard library only; the output is deterministic.
"""

from __future__ import annotations

import pathlib
import struct
import zlib

HELLO, INFO, PING = 0x01, 0x02, 0x03
WRITE_BEGIN, WRITE_DATA, WRITE_END, READ, CRC = 0x10, 0x11, 0x12, 0x13, 0x14
MODEL_LOAD, TENSOR_INFO, INVOKE, RESET, PROFILE = 0x20, 0x21, 0x22, 0x23, 0x24
LOG_START, LOG_READ, LOG_STOP = 0x28, 0x29, 0x2A
LOG_OPS, LOG_DIGEST, LOG_TOP1 = 1, 2, 4
# A small valid model (FULLY_CONNECTED 8 -> 5, int8) from the model corpus.
MODEL_SEED = pathlib.Path(__file__).resolve().parent / "corpus_model" / "ok-fc-int8.tflite"
MAX_PAYLOAD = 4096


def crc8(data: bytes) -> int:
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


def frame(op: int, seq: int, payload: bytes = b"", *, length: int | None = None,
          bad_crc: bool = False) -> bytes:
    n = len(payload) if length is None else length
    head = bytes([op, seq]) + struct.pack("<H", n)
    head += bytes([crc8(head)])
    crc = zlib.crc32(head + payload) ^ (1 if bad_crc else 0)
    return b"\xa5\x5a" + head + payload + struct.pack("<I", crc)


def u32s(*values: int) -> bytes:
    return struct.pack("<" + "I" * len(values), *values)


def log_read(from_seq: int, max_records: int) -> bytes:
    return struct.pack("<IHH", from_seq, max_records, 0)


def seed(data: bytes, ctl: bytes = b"", *, fix_crcs: bool = False) -> bytes:
    return bytes([len(ctl) | (0x80 if fix_crcs else 0)]) + ctl + data


def seeds() -> dict[str, bytes]:
    s: dict[str, bytes] = {}
    s["hello"] = seed(frame(HELLO, 1, struct.pack("<H", 1)))
    s["hello_v2"] = seed(frame(HELLO, 2, struct.pack("<H", 2)))
    s["info"] = seed(frame(INFO, 3))
    s["ping_empty"] = seed(frame(PING, 4))
    s["ping_small"] = seed(frame(PING, 5, b"mcubench"))
    s["ping_max"] = seed(frame(PING, 6, bytes(range(256)) * (MAX_PAYLOAD // 256)))
    s["write_begin"] = seed(frame(WRITE_BEGIN, 7, u32s(0, 100)))
    s["write_data_nosession"] = seed(frame(WRITE_DATA, 8, u32s(0) + b"abc"))
    s["write_end_nosession"] = seed(frame(WRITE_END, 9))
    s["read"] = seed(frame(READ, 10, u32s(16, 64)))
    s["crc"] = seed(frame(CRC, 11, u32s(0, 1024)))
    s["unknown_opcode"] = seed(frame(0x7F, 12))
    s["response_opcodes"] = seed(frame(0x83, 15, b"echo") + frame(0xFF, 16, b"\x01\x00\x03x")
                                 + frame(0x00, 17))
    s["bad_crc"] = seed(frame(PING, 13, b"x", bad_crc=True))
    s["too_large"] = seed(frame(PING, 14, length=MAX_PAYLOAD + 1)[:7])

    session = (frame(HELLO, 20, struct.pack("<H", 1)) + frame(WRITE_BEGIN, 21, u32s(8, 300))
               + frame(WRITE_DATA, 22, u32s(8) + b"A" * 100)
               + frame(WRITE_DATA, 23, u32s(108) + b"B" * 100)
               + frame(WRITE_DATA, 24, u32s(7) + b"C")  # out of sequence
               + frame(WRITE_DATA, 25, u32s(208) + b"C" * 100)
               + frame(WRITE_END, 26) + frame(READ, 27, u32s(8, 300))
               + frame(CRC, 28, u32s(8, 300)))
    s["session"] = seed(session)
    s["session_sliced"] = seed(session, bytes([0x00, 0x31, 0x0B, 0x4C, 0x02]))

    bad_lengths = (frame(HELLO, 50, b"\x01") + frame(INFO, 51, b"x")
                   + frame(WRITE_BEGIN, 52, b"\x00" * 5) + frame(WRITE_DATA, 53, b"\x00" * 3)
                   + frame(WRITE_END, 54, b"x") + frame(READ, 55, b"\x00" * 7)
                   + frame(CRC, 56, b"\x00" * 9))
    s["bad_lengths"] = seed(bad_lengths)
    out_of_range = (frame(WRITE_BEGIN, 60, u32s(60000, 10000)) + frame(READ, 61, u32s(65530, 100))
                    + frame(READ, 62, u32s(0, 5000)) + frame(CRC, 63, u32s(0xFFFFFFFF, 2))
                    + frame(WRITE_BEGIN, 64, u32s(65000, 536))
                    + frame(WRITE_DATA, 65, u32s(65000) + b"D" * 600) + frame(WRITE_END, 66))
    s["out_of_range"] = seed(out_of_range)
    s["fix_session"] = seed(session, fix_crcs=True)
    s["fix_bad_lengths"] = seed(bad_lengths, fix_crcs=True)
    s["fix_out_of_range"] = seed(out_of_range, bytes([0x0C, 0x3A]), fix_crcs=True)

    garbage = b"\x00\xa5\xa5\x5a\x01\xa5\x5a\x03\x04\x05\x06\x07\xff"
    s["garbage_between"] = seed(garbage + frame(PING, 30, b"1") + garbage + frame(PING, 31))
    s["hidden_in_false_header"] = seed(b"\xa5\x5a\x03" + frame(PING, 32, b"hidden"))

    truncated = frame(PING, 40, b"t" * 100)[:64]
    # 64 bytes (ctl 0x0A), then 1 s of silence before the rest (ctl 0xBD)
    s["truncated_then_pause"] = seed(truncated + frame(PING, 41, b"ok"), bytes([0x0A, 0xBD]))
    s["truncated_then_frame"] = seed(truncated + frame(PING, 42, b"v" * 80) + frame(PING, 43))
    # 4 header bytes, then 150 ms of silence before a whole frame
    s["partial_header_stall"] = seed(frame(PING, 44)[:4] + frame(PING, 45), bytes([0x03, 0xA8]))
    if MODEL_SEED.is_file():
        model = MODEL_SEED.read_bytes()
        chunks = [model[i:i + 1024] for i in range(0, len(model), 1024)]
        upload = frame(WRITE_BEGIN, 70, u32s(0, len(model)))
        upload += b"".join(frame(WRITE_DATA, 71 + i, u32s(1024 * i) + c)
                           for i, c in enumerate(chunks))
        upload += frame(WRITE_END, 90)
        run = (frame(MODEL_LOAD, 91, bytes(4) + u32s(0, len(model)))
               + frame(TENSOR_INFO, 92, bytes(4) + u32s(0))
               + frame(TENSOR_INFO, 93, b"\x01\0\0\0" + u32s(0))
               + frame(TENSOR_INFO, 94, b"\x02\0\0\0" + u32s(1))
               + frame(INVOKE, 95, u32s(2)) + frame(PROFILE, 100, u32s(0))
               + frame(PROFILE, 101, u32s(1)) + frame(INVOKE, 96, u32s(1, 0))
               + frame(RESET, 97) + frame(MODEL_LOAD, 98, b"\x01" + bytes(11))
               + frame(INVOKE, 99, u32s(1)))
        s["inference"] = seed(upload + run)
        s["fix_inference"] = seed(upload + run, fix_crcs=True)
        s.update(log_seeds(upload, len(model)))
    return s


def log_seeds(upload: bytes, model_bytes: int) -> dict[str, bytes]:
    """LOG_START, LOG_READ, LOG_STOP: logging that runs between requests, the refusals,
    and a write into the arena that ends the log."""
    s: dict[str, bytes] = {}
    load = frame(MODEL_LOAD, 110, bytes(4) + u32s(0, model_bytes))
    inputs = frame(WRITE_BEGIN, 111, u32s(model_bytes + 16, 8))  # somewhere in the arena
    log = (frame(LOG_START, 112, u32s(0, LOG_OPS | LOG_DIGEST | LOG_TOP1, 7))
           + frame(LOG_READ, 113, log_read(0, 0xFFFF))
           + frame(INVOKE, 114, u32s(1)) + frame(RESET, 115) + frame(PROFILE, 116, u32s(0))
           + frame(MODEL_LOAD, 117, bytes(4) + u32s(0, model_bytes))
           + frame(LOG_START, 118, u32s(0, LOG_DIGEST, 8))  # already logging
           + frame(LOG_READ, 119, log_read(2, 3))
           + frame(LOG_READ, 120, log_read(0xFFFF, 1))  # the future
           + frame(LOG_STOP, 121) + frame(LOG_READ, 122, log_read(1, 0xFFFF))
           + frame(LOG_STOP, 123) + frame(PROFILE, 124, u32s(0)))
    # One byte a slice: the log runs between every two bytes of the requests.
    s["log"] = seed(upload + load + log, bytes([0x00]))
    s["fix_log"] = seed(upload + load + log, bytes([0x00, 0x0A]), fix_crcs=True)
    refused = (frame(LOG_START, 130, u32s(0, LOG_TOP1, 1))  # no model yet
               + frame(LOG_READ, 131, log_read(0, 1)) + frame(LOG_STOP, 132)
               + load + frame(LOG_START, 133, u32s(0, 8, 1))  # unknown flag
               + frame(LOG_START, 134, b"\0" * 11)
               + frame(LOG_START, 135, u32s(1000, LOG_TOP1, 2)))  # every 1000 ticks
    # A write into the arena's free middle ends the log; reading then is STATE.
    ended = (inputs + frame(LOG_READ, 136, log_read(0, 16))
             + frame(WRITE_BEGIN, 137, u32s(60000, 64)) + frame(LOG_READ, 138, log_read(0, 1))
             + frame(LOG_STOP, 139))
    s["log_refused"] = seed(upload + refused + ended, bytes([0x02, 0x0A]))
    s["fix_log_refused"] = seed(upload + refused + ended, bytes([0x03]), fix_crcs=True)
    return s


def main() -> None:
    out = pathlib.Path(__file__).resolve().parent / "corpus"
    out.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (out / name).write_bytes(data)
    print(f"wrote {len(seeds())} seeds to {out}")


if __name__ == "__main__":
    main()
