"""The firmware and host agree on the release they belong to."""

from __future__ import annotations

import re
import tomllib

import mcubench
from mcubench.boards import project_root


def test_firmware_host_and_package_versions_match() -> None:
    root = project_root()
    header = (root / "firmware" / "include" / "mcb" / "version.h").read_text()
    match = re.search(r'#define MCB_FIRMWARE_VERSION "([^"]+)"', header)
    assert match is not None
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert match.group(1) == mcubench.__version__ == pyproject["project"]["version"]
