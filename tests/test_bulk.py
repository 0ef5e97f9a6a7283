"""Random bytes up to every board and back, checked by CRC and by copy: 1 MiB on native, 256 KiB
(hundreds of windowed frames, more than the stm32f4 pool) through the slower emulated UARTs,
about 16 KiB/s host to device on CMSDK and STM32."""

from __future__ import annotations

import random
import zlib

import pytest

from .conftest import ALL_BOARDS, BootFn

MIB = 1 << 20


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_bulk_round_trip(board: str, boot: BootFn) -> None:
    size = MIB if board == "native" else MIB // 4
    data = random.Random(board).randbytes(size)
    with boot(board) as (_, device):
        pool = device.info().pool_bytes
        # Boards with less RAM (stm32f4: 108 KB of pool) take it in pool-sized pieces.
        piece = min(size, pool)
        for start in range(0, size, piece):
            chunk = data[start:start + piece]
            device.upload(0, chunk)  # checks the device's CRC of the range itself
            assert device.crc(0, len(chunk)) == zlib.crc32(chunk)
            assert device.download(0, len(chunk)) == chunk
