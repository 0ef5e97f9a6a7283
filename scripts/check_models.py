#!/usr/bin/env python3
"""The full real-model matrix: every shared model on every matrix board, 20 seeds each, and
the four pymicro-wakeword models over 50 invocations with their state carried.

    .venv/bin/python scripts/check_models.py [--seeds 20] [--board B ...] [--model NAME ...]

Prints one line per (model, board) with the verdict, the runs and the median latency in the
board's counter unit, then exits 1 if anything is not bit-exact. The test suite runs the
same matrix (tests/test_run_models.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.models import (  # noqa: E402
    MATRIX_BOARDS,
    SHARED_MODELS,
    models_folder,
    pymicro_wakeword_models,
    run_args,
)

from mcubench.cli import main as mcubench  # noqa: E402


def run_one(model: Path, board: str, runs: int) -> tuple[bool, str]:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = mcubench(run_args(model, board, runs))
    took = time.monotonic() - started
    try:
        record = json.loads(out.getvalue())
    except json.JSONDecodeError:
        return False, f"exit {code}: {err.getvalue().strip()[-300:]}"
    lat = record["latency"]
    how = "embedded" if record["embedded"] else "uploaded"
    return record["bit_exact"] and code == 0, (
        f"{record['exact_runs']}/{record['runs']} bit-exact, median {lat['median']:,.0f} "
        f"{lat['unit']}, {how}, {took:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--invocations", type=int, default=50,
                        help="consecutive invocations of each wake-word model (50)")
    parser.add_argument("--board", action="append", help=f"default: {', '.join(MATRIX_BOARDS)}")
    parser.add_argument("--model", action="append", help="shared model or wake-word name")
    args = parser.parse_args()
    boards = args.board or list(MATRIX_BOARDS)
    jobs = [(models_folder() / name, args.seeds) for name in sorted(SHARED_MODELS)]
    jobs += [(path, args.invocations) for path in pymicro_wakeword_models()]
    if args.model:
        jobs = [(p, n) for p, n in jobs if p.name in args.model or p.stem in args.model]
    failed = 0
    for model, runs in jobs:
        for board in boards:
            ok, line = run_one(model, board, runs)
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {model.name:32} {board:10} {line}", flush=True)
    print(f"{failed} of {len(jobs) * len(boards)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
