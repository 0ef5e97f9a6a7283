"""Soak test for ``mcubench log``: one long run on an emulated board, then an audit.

Prints the records, how many were lost or duplicated (from the sequence numbers, not from
the logger's own counts), and the host process's resident memory at the start, the end
and its peak, sampled every second while logging.

    .venv/bin/python scripts/soak_log.py                      # 100,000+ records, qemu-rv32
    .venv/bin/python scripts/soak_log.py --board qemu-m4 --records 200000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from mcubench.cli import main
from mcubench.logfile import read_log, resume_state
from mcubench.model.catalog import resolve_model


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main_soak() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--board", default="qemu-rv32")
    parser.add_argument("--model", default=str(Path(__file__).resolve().parents[2] / "shared"
                                                / "models" / "hello_world_int8.tflite"))
    parser.add_argument("--records", type=int, default=100_000, help="at least this many")
    parser.add_argument("--rate", type=float, default=5_000.0,
                        help="device-time Hz (virtual under QEMU); low enough for the UART")
    parser.add_argument("--out", type=Path, help="keep the log here (default: a temp dir)")
    args = parser.parse_args()
    model = str(resolve_model(args.model))
    folder = tempfile.TemporaryDirectory()
    out = args.out or Path(folder.name) / "soak.jsonl"

    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss_kib())
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    total = 0
    while total < args.records:  # appended runs: also exercises resume
        code = main(["log", "--board", args.board, "--model", model, "--rate", str(args.rate),
                     "--duration", f"{max(10.0, (args.records - total) / 1000):.0f}s",
                     "--out", str(out), "--no-live"])
        if code:
            return code
        state = resume_state(out)  # counts without holding the records
        total = state.records if state else 0
    done.set()
    sampler.join()
    series = read_log(out)
    seqs = Counter((r["session"], r["seq"]) for r in series.records)
    duplicated = sum(n - 1 for n in seqs.values())
    lost = 0
    for session in {s for s, _ in seqs}:
        got = sorted(q for s, q in seqs if s == session)
        lost += got[-1] + 1 - len(got)
    print(f"{args.board}: {len(series.records):,} records in {time.monotonic() - started:.0f} s "
          f"({len(series.files)} file(s), {sum(f.stat().st_size for f in series.files):,} bytes)")
    print(f"sequence audit: {lost} lost, {duplicated} duplicated, gap lines "
          f"{len(series.gaps)}, skipped lines {series.skipped_lines}")
    quarters = [samples[len(samples) * q // 4] for q in range(1, 4)]
    print(f"host RSS: start {samples[0]:,} KiB, at 1/4, 1/2, 3/4 "
          f"{', '.join(f'{q:,}' for q in quarters)} KiB, end {samples[-1]:,} KiB, peak "
          f"{max(samples):,} KiB ({len(samples)} samples, 1 s apart)")
    return 0 if lost == 0 and duplicated == 0 else 1


if __name__ == "__main__":
    sys.exit(main_soak())
