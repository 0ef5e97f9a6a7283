"""The ``mcubench`` command line.

Each sub-command is one function taking the parsed arguments and a Console; errors are
McubenchError subclasses, turned into a message and an exit code only in ``main``.
``main(argv)`` runs in-process, which is how the tests drive it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mcubench import __version__
from mcubench.boards import all_boards, get_board
from mcubench.build import build_firmware, firmware_elf
from mcubench.emulator import emulator_for
from mcubench.errors import McubenchError, exit_code_for
from mcubench.protocol.codes import Capability
from mcubench.session import Session, open_session

Handler = Callable[[argparse.Namespace, Console], int]


def cmd_boards(args: argparse.Namespace, out: Console) -> int:
    boards = all_boards().values()
    if args.json:
        print(json.dumps([
            {"board": b.name, "core": b.core, "runs_on": b.runs_on, "emulated": b.is_emulated,
             "hardware": list(b.hardware), "counter_units": b.counter_units}
            for b in boards
        ], indent=2))
        return 0
    table = Table("board", "core", "runs on", "latency counted in", title="mcubench boards")
    for b in boards:
        units = " / ".join(f"{unit} ({where})" for where, unit in b.counter_units.items())
        table.add_row(b.name, b.core, b.runs_on, units)
    out.print(table)
    return 0


def cmd_build(args: argparse.Namespace, out: Console) -> int:
    board = get_board(args.board)
    with out.status(f"building firmware for {board.name} ..."):
        result = build_firmware(board, verbose=args.verbose)
    size = result.size
    out.print(f"[bold]{board.name}[/bold]: {result.elf}")
    out.print(f"  flash {size.flash_bytes:,} bytes (text {size.text:,} + data {size.data:,})")
    out.print(f"  RAM   {size.ram_bytes:,} bytes (data {size.data:,} + bss {size.bss:,}, "
              "incl. stack)")
    return 0


def cmd_emulate(args: argparse.Namespace, out: Console) -> int:
    board = get_board(args.board)
    elf = firmware_elf(board) if args.no_build else build_firmware(board).elf
    with emulator_for(board, elf) as emulator:
        out.print(f"{board.name} is running. Serial URL: [bold]{emulator.url}[/bold]")
        out.print(f"  e.g. mcubench info --port {emulator.url}    (Ctrl-C stops the emulator)")
        while True:
            emulator.check_alive()
            time.sleep(0.5)


def info_record(session: Session) -> dict[str, Any]:
    info = session.info
    counter = session.counter
    return {
        "board": info.board,
        "core": info.core,
        "clock_hz": info.clock_hz,
        "target": session.target,
        "counter_unit": counter.unit,
        "counter_source": info.counter_source.name,
        "counter_hz": info.counter_hz,
        "counter_note": counter.note,
        "protocol_version": info.protocol_version,
        "firmware_version": info.firmware_version,
        "firmware_git": info.firmware_git,
        "compiler": info.compiler,
        "build_flags": info.build_flags,
        "max_payload": info.max_payload,
        "rx_window": info.rx_window,
        "pool_bytes": info.pool_bytes,
        "capabilities": [c.name for c in Capability if c in info.capabilities],
        "url": session.url,
    }


def cmd_info(args: argparse.Namespace, out: Console) -> int:
    with open_session(board=args.board, port=args.port, baudrate=args.baud,
                      build=not args.no_build, trace=_tracer(args)) as session:
        record = info_record(session)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    table = Table("field", "value", show_header=False, title=f"{record['board']} ({record['url']})")
    for key, value in record.items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    out.print(table)
    return 0


def _tracer(args: argparse.Namespace) -> Callable[[str], None] | None:
    if not args.trace:
        return None
    err = Console(stderr=True, highlight=False)
    return lambda line: err.print(line, markup=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcubench",
        description="Run TensorFlow Lite models on microcontrollers and measure them there.",
    )
    parser.add_argument("--version", action="version", version=f"mcubench {__version__}")
    parser.add_argument("--trace", action="store_true",
                        help="hex dump every protocol frame to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("boards", help="list the boards mcubench knows")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=cmd_boards)

    p = sub.add_parser("build", help="build the firmware for a board (PlatformIO, offline)")
    p.add_argument("--board", required=True)
    p.add_argument("--verbose", action="store_true", help="show PlatformIO's output")
    p.set_defaults(handler=cmd_build)

    p = sub.add_parser("emulate", help="boot a board in its emulator until Ctrl-C")
    p.add_argument("--board", required=True)
    p.add_argument("--no-build", action="store_true", help="use the firmware already built")
    p.set_defaults(handler=cmd_emulate)

    p = sub.add_parser("info", help="ask a board who it is")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--board", help="boot this board in its emulator")
    target.add_argument("--port", help="serial URL of a running board: /dev/ttyACM0, "
                        "socket://127.0.0.1:PORT, a pty path")
    p.add_argument("--baud", type=int, default=115200, help="baud rate for --port (115200)")
    p.add_argument("--no-build", action="store_true", help="use the firmware already built")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    handler: Handler = args.handler
    try:
        return handler(args, out)
    except McubenchError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        err.print("interrupted")
        return exit_code_for(KeyboardInterrupt())


if __name__ == "__main__":
    sys.exit(main())
