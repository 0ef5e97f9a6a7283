"""Log ingest benchmark: how many records per second the host stores (issue 5: >= 5,000/s).

Two measurements:

- **Over a socket**: the whole host path of ``mcubench log`` (LOG_READ requests and
  frames over loopback TCP, record decoding, loss accounting, the live statistics, JSON
  lines written with one fsync per page) against a fake device that always has the next
  page ready, so the host is the only limit. The records are 32 bytes on the wire (digest
  and top-1, no per-operator ticks), 4,096-byte payloads as the firmware uses.
- **The file writer alone** (``LogWriter``: JSON encoding, one write and one fsync per
  batch), with records shaped as ``mcubench log`` writes them, per batch size.

Usage: .venv/bin/python scripts/bench_log_ingest.py [--records 200000] [--batch 16 256 4096]
       [--ops 0] [--dir DIR] [--socket-records 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes

from tests.fakes import FakeDevice

from mcubench.logfile import LogWriter, read_log
from mcubench.logger import Account, Connection, Logger, LogPlan, SessionState
from mcubench.protocol import messages
from mcubench.protocol.codes import LogFlags, Opcode
from mcubench.protocol.frame import Frame
from mcubench.protocol.messages import LogPage, LogRecord
from mcubench.session import open_session

SESSION = 0x5EED
FLAGS = LogFlags.DIGEST | LogFlags.TOP1

HEADER: dict[str, Any] = {"command": "bench_log_ingest", "model": "synthetic",
                          "counter_unit": "cycles", "mode": "max-rate", "rate_hz": None}


@dataclass(frozen=True)
class WriterRate:
    records: int
    batch: int
    write_s: float  # inside LogWriter.write (encode + write + fsync)
    build_s: float  # building the record dicts
    file_bytes: int

    @property
    def records_per_s(self) -> float:
        return self.records / self.write_s


def make_batch(start: int, size: int, ops: int, now: float) -> list[dict[str, Any]]:
    """``size`` records from seq ``start``, with digest and top1 (and ``ops`` op ticks)."""
    batch: list[dict[str, Any]] = []
    for seq in range(start, start + size):
        record: dict[str, Any] = {
            "type": "record", "seq": seq, "session": 3735928559, "device_ticks": 1000 * seq,
            "latency": 123456.0 + seq % 97, "count": seq + 1, "status": 0,
            "host_time": now + seq * 1e-4, "digest": f"{seq * 2654435761 & 0xFFFFFFFF:08x}",
            "top1": seq % 12}
        if ops:
            record["ops"] = [float(1000 + i) for i in range(ops)]
        batch.append(record)
    return batch


def bench_writer(path: Path, records: int = 200_000, batch: int = 256,
                 ops: int = 0) -> WriterRate:
    """Write ``records`` records to a new log at ``path`` in batches of ``batch``."""
    write_s = build_s = 0.0
    now = time.time()
    with LogWriter(path, HEADER) as writer:
        for start in range(0, records, batch):
            t0 = time.perf_counter()
            lines = make_batch(start, min(batch, records - start), ops, now)
            t1 = time.perf_counter()
            writer.write(lines)
            t2 = time.perf_counter()
            build_s += t1 - t0
            write_s += t2 - t1
    return WriterRate(records, batch, write_s, build_s, path.stat().st_size)


class EndlessLogDevice(FakeDevice):
    """A device whose ring always holds the next records the host asks for."""

    def _execute(self, frame: Frame, *, flip: bool) -> bytes:
        if frame.opcode == Opcode.LOG_READ:
            from_seq, max_records = messages.decode_log_read_request(frame.payload)
            size = messages.log_record_bytes(FLAGS, 0)
            n = min(max_records, (self.info.max_payload - messages.LOG_PAGE_HEAD_BYTES) // size)
            records = tuple(LogRecord(seq, 0, 1000 * seq, 123_456 + seq % 97,
                                      seq * 2654435761 & 0xFFFFFFFF, seq % 12, None)
                            for seq in range(from_seq, from_seq + n))
            backlog = from_seq + 60_000  # a full ring: always more made than read
            return LogPage(SESSION, from_seq, backlog, size, 1000 * backlog,
                           records).encode()
        if frame.opcode == Opcode.LOG_STOP:
            return messages.encode_u32(0)
        return super()._execute(frame, flip=flip)


def bench_socket(path: Path, records: int) -> tuple[float, Account]:
    """Records per second through ``Logger`` and ``LogWriter`` from a device on a socket."""
    with EndlessLogDevice(max_payload=4096, rx_window=8192) as device:

        @contextlib.contextmanager
        def connect() -> Iterator[Connection]:
            with open_session(port=device.url) as session:
                yield Connection(session, b"", [])

        with LogWriter(path, HEADER) as writer:
            logger = Logger(connect, LogPlan(mode="max-rate"), writer,
                            resume=SessionState(SESSION, flags=FLAGS))

            def stop_at(account: Account) -> None:
                logger.stopping = account.records >= records

            logger.on_update = stop_at
            started = time.perf_counter()
            account = logger.run()
            elapsed = time.perf_counter() - started
    return account.records / elapsed, account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 256, 4096])
    parser.add_argument("--ops", type=int, default=0, help="per-operator ticks per record")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary folder)")
    parser.add_argument("--socket-records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "socket.jsonl"
        socket_rate, account = bench_socket(path, args.socket_records)
        series = read_log(path)
        seqs = [r["seq"] for r in series.records]
        assert seqs == list(range(len(seqs))) and account.lost == 0
        print(f"over a socket: {socket_rate:10,.0f} records/s ingested "
              f"({account.records:,} records: LOG_READ, decode, accounting, JSON lines "
              "with an fsync per page; "
              f"{path.stat().st_size / account.records:.0f} B/record on disk)")
        for batch in args.batch:
            path = Path(folder) / f"bench-{batch}.jsonl"
            rate = bench_writer(path, args.records, batch, args.ops)
            t0 = time.perf_counter()
            series = read_log(path)
            read_s = time.perf_counter() - t0
            assert len(series.records) == args.records and series.skipped_lines == 0
            per_record = rate.file_bytes / rate.records
            print(f"batch {batch:5d}: {rate.records_per_s:10,.0f} records/s written "
                  f"({rate.write_s:.2f} s for {rate.records:,}; {per_record:.0f} B/record; "
                  f"building dicts {rate.build_s:.2f} s); "
                  f"read_log {args.records / read_s:,.0f} records/s")


if __name__ == "__main__":
    main()
