"""Short runs of the fuzz targets (protocol; model reader) with libFuzzer, ASan and UBSan.

The long run is ``scripts/fuzz`` (1,000,000 executions by default)."""

from __future__ import annotations

import re
import subprocess

from mcubench.boards import project_root

SMOKE_RUNS = 100_000
MODEL_SMOKE_RUNS = 50_000


def test_fuzz_smoke_survives() -> None:
    result = subprocess.run(
        ["scripts/fuzz", str(SMOKE_RUNS)], cwd=project_root(), capture_output=True, text=True,
        timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # libFuzzer's own count, so a harness that ran nothing cannot pass.
    done = re.search(r"Done (\d+) runs", result.stderr)
    assert done is not None and int(done.group(1)) >= SMOKE_RUNS, result.stderr[-2000:]


def test_model_fuzz_smoke_survives() -> None:
    result = subprocess.run(
        ["scripts/fuzz", str(MODEL_SMOKE_RUNS), "model"], cwd=project_root(), capture_output=True,
        text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    done = re.search(r"Done (\d+) runs", result.stderr)
    assert done is not None and int(done.group(1)) >= MODEL_SMOKE_RUNS, result.stderr[-2000:]
