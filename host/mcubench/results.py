"""Benchmark result files: what ``bench --json`` writes and ``compare`` and ``report`` read.

The format is published as a JSON Schema (docs/results.schema.json); every file is
checked against it on the way in and on the way out, so a hand-edited or truncated file
gets a clear error instead of a KeyError deep in a table.
"""

from __future__ import annotations

import datetime
import functools
import json
from pathlib import Path
from typing import Any, cast

import jsonschema

from mcubench.boards import project_root
from mcubench.errors import UsageError

SCHEMA_VERSION = 1
Result = dict[str, Any]  # one model on one board; the schema's $defs/result
Document = dict[str, Any]  # a whole file


def schema_path() -> Path:
    return project_root() / "docs" / "results.schema.json"


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(schema_path().read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def schema_errors(document: Any) -> list[str]:
    """Every way ``document`` breaks the schema, as 'where: what' lines (empty if none)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in errors]


def new_document(results: list[Result], command: str) -> Document:
    return {"schema_version": SCHEMA_VERSION, "created": utc_now(), "command": command,
            "results": results}


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_document(path: Path) -> Document:
    """Read and check a results file; UsageError naming the file and the first problems."""
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read results {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc
    errors = schema_errors(document)
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise UsageError(f"{path} is not an mcubench results file "
                         f"({schema_path().name}): " + "; ".join(errors[:3]) + more)
    return cast(Document, document)


def write_document(path: Path, document: Document) -> None:
    """Write ``document`` after checking it (a bug here must not leave a bad file)."""
    errors = schema_errors(document)
    if errors:
        raise AssertionError("bench produced a result outside its schema: " + "; ".join(errors))
    try:
        path.write_text(json.dumps(document, indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def result_key(result: Result) -> tuple[str, str]:
    """What identifies a result across files: the model's bytes and the board."""
    return result["model_sha256"], result["board"]


def model_label(result: Result) -> str:
    """A short model name for tables and plots: the file name without .tflite."""
    name = str(result["model"]).rsplit("/", 1)[-1]
    return name.removesuffix(".tflite")
