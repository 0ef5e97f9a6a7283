#!/usr/bin/env python3
"""Arena and code size: mcubench's runtime beside TFLM's, per real model.

    .venv/bin/python scripts/bench_arena.py [MODEL ...]

Arena: our interpreter (the firmware's C, built natively, tests/native/model_run.c) and
tflite_micro's recording allocator on the same model. The non-persistent part (planned
activations and scratch, TFLM's "head") is the comparable figure; both persistent parts
are printed for x86-64, where TFLM's pointers and structs make its own larger than on a
32-bit MCU. Target: ours no larger than TFLM's for every model.

Code size: the runtime (model reader, interpreter, planner) and every reference kernel in
the qemu-m4 firmware at -Os, from the linker map (only sections kept after
--gc-sections), text plus read-only data.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.models import SHARED_MODELS, models_folder, pymicro_wakeword_models  # noqa: E402
from tests.native_tools import build_tool  # noqa: E402

from mcubench.boards import get_board  # noqa: E402
from mcubench.build import build_firmware  # noqa: E402
from mcubench.reference import ReferenceRunner  # noqa: E402

# An input section in a GNU ld map: name, then (maybe on the next line) address, size, object.
_SECTION = re.compile(
    r"^ (\.(?:text|rodata)\S*)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.o\)?)$", re.MULTILINE)


def arena_rows(models: list[Path]) -> list[tuple[str, int, int, int, int]]:
    tool = build_tool("model_run_bench", "model_run.c", ["runtime", "kernels/reference"], "-O2")
    rows = []
    for path in models:
        done = subprocess.run([str(tool), str(path)], capture_output=True, text=True,
                              check=False)
        report = json.loads(done.stdout.splitlines()[0]) if done.stdout else {}
        if not report.get("ok"):
            print(f"{path.name}: our runtime rejects it: {report.get('message', done.stderr)}")
            continue
        ours = report["arena"]
        tflm = ReferenceRunner(path.read_bytes()).arena()
        rows.append((path.name, ours["nonpersistent_bytes"], tflm.non_persistent_bytes,
                     ours["persistent_bytes"], tflm.persistent_bytes))
    return rows


def code_size(board: str = "qemu-m4") -> dict[str, int]:
    """Bytes of text + rodata kept in the firmware, per source folder."""
    elf = build_firmware(get_board(board)).elf
    text = (elf.parent / "firmware.map").read_text()
    text = text[text.index("Linker script and memory map"):]
    text = re.sub(r"^ (\.\S+)\n\s+", r" \1 ", text, flags=re.MULTILINE)  # one line each
    sizes: dict[str, int] = defaultdict(int)
    for _name, _addr, size, obj in _SECTION.findall(text):
        parts = Path(obj).parts
        group = ("/".join(parts[parts.index("src") + 1:-1]) if "src" in parts
                 else "C library and libgcc")
        sizes[group] += int(size, 16)
    return dict(sizes)


def main() -> int:
    if len(sys.argv) > 1:
        models = [Path(a) for a in sys.argv[1:]]
    else:
        models = [models_folder() / name for name in sorted(SHARED_MODELS)]
        models = [m for m in models if m.is_file()] + pymicro_wakeword_models()
    rows = arena_rows(models)
    print(f"{'model':34} {'ours non-persistent':>20} {'TFLM non-persistent':>20} "
          f"{'ours persistent*':>17} {'TFLM persistent*':>17}")
    worse = 0
    for name, ours, tflm, ours_p, tflm_p in rows:
        mark = "" if ours <= tflm else "  <-- larger than TFLM"
        worse += ours > tflm
        print(f"{name:34} {ours:>20,} {tflm:>20,} {ours_p:>17,} {tflm_p:>17,}{mark}")
    print("* persistent parts measured on x86-64 (64-bit pointers), for both runtimes")
    print(f"non-persistent arena no larger than TFLM's: {len(rows) - worse} of {len(rows)} "
          "models")

    sizes = code_size()
    runtime = sizes.get("runtime", 0)
    kernels = sizes.get("kernels/reference", 0)
    print("\ncode size on qemu-m4, -Os, text + rodata kept by the linker:")
    for group, size in sorted(sizes.items()):
        print(f"  {group:24} {size:>9,} bytes")
    print(f"  runtime + all reference kernels: {runtime + kernels:,} bytes")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
