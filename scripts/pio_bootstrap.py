"""Make PlatformIO usable with no network.

PlatformIO insists on its core package ``tool-scons ~4.41101.0`` and would fetch it
from its registry, which this project cannot reach. That package is SCons 4.11.1 plus
PlatformIO's metadata, so we assemble it from the PyPI ``scons==4.11.1`` that is
installed in the virtualenv.

Usage: python scripts/pio_bootstrap.py CORE_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import SCons

SCONS_VERSION = "4.11.1"
PIO_VERSION = "4.41101.0"  # PlatformIO's encoding of SCons 4.11.1

LAUNCHER = """\
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from SCons.Script.Main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
"""


def install_tool_scons(core_dir: Path) -> bool:
    """Create ``packages/tool-scons`` under ``core_dir``; return True if anything changed."""
    target = core_dir / "packages" / "tool-scons"
    meta_path = target / ".piopm"
    if meta_path.is_file() and json.loads(meta_path.read_text())["version"] == PIO_VERSION:
        return False
    if SCons.__version__ != SCONS_VERSION:
        sys.exit(f"pio_bootstrap: need scons=={SCONS_VERSION}, found {SCons.__version__}")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copytree(Path(SCons.__file__).parent, target / "SCons",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (target / "scons.py").write_text(LAUNCHER)
    (target / "package.json").write_text(json.dumps(
        {"name": "tool-scons", "version": PIO_VERSION, "description": "SCons from PyPI"},
        indent=2))
    meta_path.write_text(json.dumps({
        "type": "tool",
        "name": "tool-scons",
        "version": PIO_VERSION,
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons",
                 "requirements": None, "uri": None},
    }))
    return True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if install_tool_scons(Path(sys.argv[1])):
        print(f"pio_bootstrap: installed tool-scons {PIO_VERSION} into {sys.argv[1]}")
