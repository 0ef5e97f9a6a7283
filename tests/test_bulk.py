"""1 MiB of random bytes up to every emulated board and back, checked by CRC and by copy."""

from __future__ import annotations

import random
import zlib

import pytest

from .conftest import ALL_BOARDS, BootFn

MIB = 1 << 20


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_one_mib_round_trip(board: str, boot: BootFn) -> None:
    data = random.Random(board).randbytes(MIB)
    with boot(board) as (_, device):
        pool = device.info().pool_bytes
        # Boards with less RAM than 1 MiB (stm32f4: 128 KB) take it in pool-sized pieces.
        piece = min(MIB, pool)
        for start in range(0, MIB, piece):
            chunk = data[start:start + piece]
            device.upload(0, chunk)  # checks the device's CRC of the range itself
            assert device.crc(0, len(chunk)) == zlib.crc32(chunk)
            assert device.download(0, len(chunk)) == chunk
