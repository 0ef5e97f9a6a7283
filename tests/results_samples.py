"""Results documents (docs/results.schema.json) made up for tests of what reads them.

Numbers are invented; the shape is the schema's. ``bench`` itself is tested on devices.
"""

from __future__ import annotations

import copy
from typing import Any

_HOST = {"python": "3.11.7", "platform": "Linux-x86_64",
         "packages": {"mcubench": "0.1.0", "numpy": "2.1.0", "tflite-micro": "0.dev0"}}


def sample_result(model: str = "kws.tflite", board: str = "qemu-m4", *,
                  median: float = 1_000_000.0, flash: int = 70_000, arena: int = 20_000,
                  bit_exact: bool = True, profiled: bool = True,
                  op_counts: tuple[float, ...] = (600_000.0, 300_000.0, 100_000.0),
                  ) -> dict[str, Any]:
    """One result; latency samples spread a little around ``median``."""
    samples = [median * f for f in (0.99, 1.0, 1.0, 1.01, 1.02)]
    total_ops = sum(op_counts)
    names = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "ADD")
    result: dict[str, Any] = {
        "model": model,
        "model_sha256": f"{abs(hash(model)):064x}"[-64:],
        "model_bytes": 50_000,
        "board": board,
        "counter_unit": "instructions",
        "runs": len(samples),
        "warmup": 1,
        "input": "seed 0",
        "latency": {"min": min(samples), "median": median, "mean": sum(samples) / len(samples),
                    "p90": max(samples), "p99": max(samples), "max": max(samples),
                    "stdev": median * 0.01, "samples": samples},
        "latency_us": None,
        "macs": 500_000,
        "counts_per_mac": median / 500_000,
        "arena_bytes": arena,
        "arena": {"nonpersistent_bytes": arena - 2_000, "scratch_bytes": 0,
                  "persistent_bytes": 2_000, "available_bytes": 4_000_000},
        "bit_exact": bit_exact,
        "outputs": [{"index": 0, "name": "out", "dtype": "int8", "shape": [1, 12],
                     "bit_exact": bit_exact, "max_abs_diff": 0.0 if bit_exact else 3.0}],
        "firmware": {"flash_bytes": flash, "ram_bytes": 21_000, "text": flash - 24,
                     "data": 24, "bss": 20_976, "model_in_flash": False, "opt": "Os"},
        "provenance": {
            "core": "cortex-m4", "clock_hz": 25_000_000, "emulated": True, "target": "qemu",
            "emulator": "qemu-system-arm, machine mps2-an386",
            "counter_note": "SysTick at 25 MHz of QEMU virtual time: 40 instructions per tick",
            "compiler": "gcc 12.2.1", "build_flags": "-Os -mcpu=cortex-m4",
            "kernels": "reference", "firmware_version": "0.1.0", "firmware_git": "abc1234",
            "firmware_sha256": "0" * 64, "protocol_version": 1, "url": "socket://127.0.0.1:1",
            "date": "2026-11-22T06:00:00Z", "host": copy.deepcopy(_HOST),
        },
    }
    if profiled:
        result["ops"] = [
            {"index": i, "op": names[i % len(names)], "shape": "1x49x10x1 -> 1x25x5x64",
             "macs": 100_000 * (i + 1), "counts": c, "share": c / total_ops,
             "counts_per_mac": c / (100_000 * (i + 1))}
            for i, c in enumerate(op_counts)
        ]
        result["profile"] = {"overhead": 0.002, "plain_median": median,
                             "profiled_median": median * 1.002, "ops_sum_ratio": 0.999}
    return result


def sample_document(*results: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "created": "2026-11-22T06:00:00Z",
            "command": "mcubench bench kws.tflite --board qemu-m4",
            "results": list(results) or [sample_result()]}
