"""Models by name from installed packages, so a first run needs no model file of its own.

``pymicro-wakeword:NAME`` is one of the streaming wake-word models shipped in the
pymicro-wakeword package (PyPI): ``alexa``, ``hey_jarvis``, ``hey_mycroft``, ``okay_nabu``.
Anything else is a path.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from mcubench.errors import UsageError

WAKE_WORD_PREFIX = "pymicro-wakeword:"


def wake_word_models() -> dict[str, Path]:
    """Name -> path of the pymicro-wakeword models ({} when the package is missing)."""
    spec = find_spec("pymicro_wakeword")
    if spec is None or spec.origin is None:
        return {}
    return {p.stem: p for p in sorted((Path(spec.origin).parent / "models").glob("*.tflite"))}


def resolve_model(spec: str) -> Path:
    """The file a model argument names: a path, or ``pymicro-wakeword:NAME``."""
    if not spec.startswith(WAKE_WORD_PREFIX):
        return Path(spec)
    name = spec.removeprefix(WAKE_WORD_PREFIX)
    models = wake_word_models()
    if name not in models:
        known = ", ".join(models) or "none: pip install pymicro-wakeword"
        raise UsageError(f"no wake-word model {name!r} (known: {known})")
    return models[name]
