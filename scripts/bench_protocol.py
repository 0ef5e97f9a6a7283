"""Protocol benchmark: bulk-upload efficiency on a simulated UART, and boot to HELLO.

Efficiency = payload bytes per second / (baud / 10), the share of an 8N1 line's byte
capacity that carries payload. The link is simulated on the host (``ThrottledLink``):
bytes move no faster than the baud rate allows, and each device answer is held back
1 ms (turnaround). Numbers are host wall-clock seconds: this measures the protocol and
the host, not the device's speed.

Usage: .venv/bin/python scripts/bench_protocol.py [--board native] [--seconds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from mcubench.boards import get_board
from mcubench.build import build_firmware
from mcubench.device import Device
from mcubench.emulator import emulator_for
from mcubench.linksim import ThrottledLink

BAUDS = (115200, 921600)
BOOT_BOARDS = ("qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55", "qemu-rv32", "stm32f4", "native")


def hex_protocol_efficiency(baud: int, chunk: int = 32, turnaround_s: float = 0.001) -> float:
    """Upper bound for MLPerf Tiny's text upload: ``db <hex>%`` per chunk, stop-and-wait.

    Each chunk of ``chunk`` bytes costs 2 characters a byte plus "db " and "%", and the
    runner waits for the device's "m-ready\\r\\n" (9 bytes) after the turnaround.
    """
    byte_time = 10 / baud
    per_chunk = (3 + 2 * chunk + 1 + 9) * byte_time + turnaround_s
    return (chunk / per_chunk) / (baud / 10)


def upload_efficiency(device_url: str, baud: int, seconds: float) -> tuple[float, int]:
    """Upload for about ``seconds`` through a throttled link; return (efficiency, bytes)."""
    size = int(baud / 10 * seconds)
    data = os.urandom(size)
    with ThrottledLink(device_url, baud, turnaround_s=0.001) as link, \
            Device.open(link.url, baudrate=baud) as device:
        device.hello()
        device.info()
        started = time.perf_counter()
        device.upload(0, data)
        elapsed = time.perf_counter() - started
    return (size / elapsed) / (baud / 10), size


def boot_to_hello(board_name: str, runs: int = 5) -> float:
    """Median seconds from starting the emulator to the HELLO answer."""
    board = get_board(board_name)
    elf = build_firmware(board).elf
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with emulator_for(board, elf) as emulator, Device.open(emulator.url) as device:
            device.hello()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="native", help="device behind the link")
    parser.add_argument("--seconds", type=float, default=4.0, help="line time per upload")
    args = parser.parse_args()

    board = get_board(args.board)
    elf = build_firmware(board).elf
    print(f"bulk upload through a simulated 8N1 line, 1 ms turnaround, device: {board.name}")
    print(f"{'baud':>8} {'bytes':>9} {'efficiency':>11} {'MLPerf Tiny hex bound':>22}")
    for baud in BAUDS:
        with emulator_for(board, elf) as emulator:
            efficiency, size = upload_efficiency(emulator.url, baud, args.seconds)
        print(f"{baud:>8} {size:>9} {efficiency:>10.1%} {hex_protocol_efficiency(baud):>21.1%}")

    print("\nemulator start to HELLO answer (host wall clock, median of 5)")
    for name in BOOT_BOARDS:
        print(f"{name:>10} {boot_to_hello(name) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
