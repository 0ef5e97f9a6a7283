"""Builds the host-native C test tools (tests/native/*.c) against the firmware sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mcubench.boards import project_root

ROOT = project_root()
BUILD = ROOT / ".build" / "native"
SANITIZE = ("-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")
# Sanitizer reports get exit codes of their own: the tools use 1 for "model rejected".
SANITIZER_ENV = {
    "ASAN_OPTIONS": "exitcode=86:detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "halt_on_error=1:exitcode=87:print_stacktrace=1",
}


def build_tool(name: str, main: str, firmware_dirs: list[str], *flags: str) -> Path:
    """Compile tests/native/``main`` with every .c of ``firmware_dirs`` into .build/native."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    sources = [src for folder in firmware_dirs
               for src in sorted((ROOT / "firmware" / folder).glob("*.c"))]
    BUILD.mkdir(parents=True, exist_ok=True)
    tool = BUILD / name
    # -ffp-contract=off: TFLM's float kernels round every product (no fused multiply-add).
    cmd = ["gcc", "-std=c11", "-g", "-ffp-contract=off", "-Wall", "-Wextra", "-Wpedantic",
           "-Wshadow", "-Wstrict-prototypes", "-Werror", *flags,
           f"-I{ROOT / 'firmware' / 'include'}", *map(str, sources),
           str(ROOT / "tests" / "native" / main), "-o", str(tool), "-lm"]
    built = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    return tool
