"""``mcubench log``: the command line around ``mcubench.logger``.

Opens the output first (an unwritable path fails before any board boots), resumes into an
existing log of the same model and board, shows one live line, and turns the first Ctrl-C
into a clean stop: LOG_STOP, the ring drained, a summary line written and printed.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from mcubench.bench import ModelSource, embed_model, provenance, shape_summary
from mcubench.boards import get_board
from mcubench.build import BuildResult, FirmwareOptions, build_firmware
from mcubench.errors import ModelError, UsageError
from mcubench.kernels import unsupported_nodes
from mcubench.logfile import LogWriter, resume_state
from mcubench.logger import Account, Connection, Logger, LogPlan, SessionState
from mcubench.logstats import parse_duration, parse_size
from mcubench.model import load_model
from mcubench.model.catalog import resolve_model
from mcubench.protocol.codes import LogFlags
from mcubench.reference import check_inputs, random_inputs
from mcubench.session import open_session


def add_log_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("log", help="record on-device latency for hours: one JSON line per "
                                   "inference, losses accounted for exactly")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--board", help="boot this board in its emulator")
    target.add_argument("--port", help="serial URL of a running board")
    p.add_argument("--baud", type=int, default=115200, help="baud rate for --port (115200)")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="a .tflite file, or pymicro-wakeword:NAME")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--rate", type=float, metavar="HZ",
                      help="the device runs the model HZ times a second of device time "
                           "(virtual time under an emulator)")
    mode.add_argument("--max-rate", action="store_true",
                      help="the device runs the model back to back (the default)")
    mode.add_argument("--inputs", metavar="DIR|X.npy",
                      help="replay: the host writes each input set (a .npy or .npz per set "
                           "in DIR, or one .npy) and invokes once per record, round and round")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random inputs the device logs on (without --inputs)")
    p.add_argument("--profile", action="store_true",
                   help="per-operator counts in every record (profiler firmware)")
    p.add_argument("--duration", type=parse_duration, metavar="T",
                   help="stop after T of host time: 90s, 15m, 2h, 1d (default: Ctrl-C)")
    p.add_argument("--out", required=True, type=Path, metavar="RUN.jsonl",
                   help="the log (appended to when it already holds this model and board)")
    p.add_argument("--rotate-size", type=parse_size, metavar="SIZE",
                   help="start the next file (RUN.1.jsonl, ...) past SIZE: 100M, 1G")
    p.add_argument("--rotate-time", type=parse_duration, metavar="T",
                   help="start the next file every T: 1h, 1d")
    p.add_argument("--no-live", action="store_true", help="no live line on stderr")
    p.set_defaults(handler=cmd_log)


def replay_sets(spec: str, source: ModelSource) -> list[list[np.ndarray]]:
    """--inputs: a folder of .npy/.npz files (one input set each, sorted by name), or one."""
    path = Path(spec)
    files = sorted(f for f in path.iterdir() if f.suffix in (".npy", ".npz")) \
        if path.is_dir() else [path]
    if not files:
        raise UsageError(f"{path}: no .npy or .npz files")
    sets = []
    for file in files:
        try:
            loaded = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read input {file}: {exc}") from exc
        arrays = [loaded[k] for k in loaded.files] if isinstance(loaded, np.lib.npyio.NpzFile) \
            else [loaded]
        check_inputs(source.model, arrays)
        sets.append(arrays)
    return sets


def _plan(args: argparse.Namespace) -> LogPlan:
    if args.rate is not None and args.rate <= 0:
        raise UsageError("--rate takes a positive number of inferences per second")
    mode = "replay" if args.inputs else "rate" if args.rate else "max-rate"
    return LogPlan(mode=mode, rate_hz=args.rate, profile=args.profile,
                   duration_s=args.duration)


def _source(name: str) -> ModelSource:
    path = resolve_model(name)
    model = load_model(path)
    unsupported = list(unsupported_nodes(model))
    if unsupported:
        raise ModelError(f"{name}: {unsupported[0]}")
    try:
        return ModelSource(name, path.read_bytes(), model)
    except OSError as exc:
        raise UsageError(f"cannot read model {path}: {exc.strerror}") from exc


def _resume(args: argparse.Namespace, source: ModelSource) -> SessionState | None:
    """An earlier log at --out of the same model and board: where to pick it up."""
    state = resume_state(args.out)
    if state is None:
        return None
    header = state.header or {}
    board = args.board or header.get("board")
    if header.get("model_sha256") != source.sha256 or header.get("board") != board:
        raise UsageError(f"{args.out} already logs {header.get('model')} on "
                         f"{header.get('board')}; name another --out for this one")
    if state.session is None or state.next_seq is None:
        return None
    flags = LogFlags.DIGEST | LogFlags.TOP1 | (LogFlags.OPS if header.get("ops") else 0)
    return SessionState(state.session, expected=state.next_seq, device_next=state.next_seq,
                        flags=flags, ops=len(header.get("ops") or []))


def cmd_log(args: argparse.Namespace, out: Console) -> int:
    source = _source(args.model)
    plan = _plan(args)
    sets = replay_sets(args.inputs, source) if args.inputs else [
        random_inputs(source.model, args.seed)]
    resume = _resume(args, source)
    header: dict[str, Any] = {
        "command": "mcubench " + " ".join(sys.argv[1:]), "model": args.model,
        "model_sha256": source.sha256, "board": args.board, "mode": plan.mode,
        "rate_hz": plan.rate_hz,
        "ops": [{"index": op.index, "op": op.op,
                 "shape": shape_summary(source.model.subgraphs[0], op.index)}
                for op in source.model.subgraphs[0].operators] if plan.profile else None,
    }
    # Opened first: an unwritable --out fails before any firmware is built or board booted.
    with LogWriter(args.out, header, rotate_bytes=args.rotate_size,
                   rotate_seconds=args.rotate_time, resume=True) as writer:
        build = _build(args, source, plan)
        unit = {"counter_unit": "?"}  # learnt on connecting

        @contextlib.contextmanager
        def connect() -> Iterator[Connection]:
            with open_session(board=args.board, port=args.port, baudrate=args.baud,
                              elf=build.elf if build else None) as session:
                counter = session.counter
                unit["counter_unit"] = counter.unit
                writer.update_header({"board": session.info.board,
                                      "counter_unit": counter.unit,
                                      "counter_note": counter.note,
                                      "provenance": provenance(session, build)})
                embedded = build is not None and build.options.model is not None
                yield Connection(session, source.data, sets[0], embedded)

        logger = Logger(connect, plan, writer, replay_inputs=sets, resume=resume)
        account = _run(logger, args, out)
        summary = summary_line(account, unit["counter_unit"])
        writer.write([summary])
    _print_summary(out, summary, args.out)
    return 0


def _build(args: argparse.Namespace, source: ModelSource, plan: LogPlan) -> BuildResult | None:
    if not args.board:
        return None
    board = get_board(args.board)
    model = source.data if embed_model(source, board) else None
    return build_firmware(board, FirmwareOptions(model=model, profile=plan.profile))


def _run(logger: Logger, args: argparse.Namespace, out: Console) -> Account:
    """The logger with a live line, and Ctrl-C as a clean stop (twice: abort)."""
    err = Console(stderr=True, highlight=False)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if logger.stopping:
            raise KeyboardInterrupt
        logger.stopping = True
        err.print("stopping: draining the device's ring (Ctrl-C again to abort)")

    # Signal handlers belong to the main thread (a test may run the command in another).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main else None
    try:
        if args.no_live:
            return logger.run()
        with Live(Text("connecting ..."), console=err, refresh_per_second=4,
                  transient=False) as live:
            logger.on_update = lambda account: live.update(Text(live_line(account)))
            return logger.run()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)


def live_line(account: Account) -> str:
    live = account.live
    return (f"records {account.records:,}  rate {live.rate:,.0f}/s  median "
            f"{live.median():,.0f}  p99 {live.p99():,.0f}  lost {account.lost:,} in "
            f"{account.gaps} gap(s)  reconnects {account.reconnects}")


def summary_line(account: Account, unit: str) -> dict[str, Any]:
    duration = time.monotonic() - account.started
    return {"type": "summary", "records": account.records, "lost": account.lost,
            "gaps": account.gaps, "duplicates_dropped": account.duplicates,
            "reconnects": account.reconnects, "device_restarts": account.restarts,
            "duration_s": duration, "rate_hz": account.records / duration if duration else 0.0,
            "median": account.histogram.quantile(0.5), "p99": account.histogram.quantile(0.99),
            "unit": unit, "host_time": time.time()}


def _print_summary(out: Console, summary: dict[str, Any], path: Path) -> None:
    out.print(f"[bold]{escape(str(path))}[/bold]: {summary['records']:,} records in "
              f"{summary['duration_s']:,.1f} s ({summary['rate_hz']:,.1f}/s); median "
              f"{summary['median']:,.0f}, p99 {summary['p99']:,.0f} {summary['unit']}; "
              f"{summary['lost']:,} lost in {summary['gaps']} gap(s); "
              f"{summary['reconnects']} reconnect(s), {summary['device_restarts']} device "
              "restart(s)")
