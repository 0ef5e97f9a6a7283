"""Latency log files (``mcubench log --out run.jsonl``): JSON Lines, append-only, rotated.

Every line is one JSON object with a ``type``: ``header`` (first line of every file, and
again wherever a restarted writer resumed), ``record``, ``gap``, ``event`` or ``summary``.
A series is ``run.jsonl``, then ``run.1.jsonl``, ``run.2.jsonl``, ... (rotation by size
or time); readers take the first path and read the whole series.

Durability: a batch of lines is encoded first, then written with one ``os.write`` of the
joined bytes and fsynced once. If the write or the fsync fails (disk full, I/O error), the
file is cut back to its size before the batch, so it only ever holds whole batches. Bytes
written by earlier batches, or by an earlier run, are never rewritten or truncated.

Readers skip a line that is not a JSON object with a known ``type`` (a torn last line after
a crash, typically). Nothing is printed or warned: ``LogSeries.skipped_lines`` counts them
and ``LogSeries.problems`` says where and why, for the caller to show.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import errno
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from mcubench.errors import UsageError

SCHEMA = "mcubench-log/1"
LINE_TYPES = frozenset({"record", "gap", "event", "summary"})  # what write() accepts
_ALL_TYPES = LINE_TYPES | {"header"}
# Keys a line must have for the reader to use it (the ones resume and the reports rely on).
_REQUIRED = {
    "record": frozenset({"seq", "session", "device_ticks", "latency", "count", "status",
                         "host_time"}),
    "gap": frozenset({"session", "from_seq", "to_seq", "lost"}),
}
_WRITER_KEYS = ("type", "schema", "created", "file_index", "resumed")  # the writer owns these
CSV_COLUMNS = ("seq", "session", "count", "device_ticks", "latency", "host_time", "status",
               "digest", "top1")
MAX_PROBLEMS = 100  # LogSeries.problems keeps the first ones; skipped_lines counts them all
# Compact and strict: one shared encoder (json.dumps with options builds one per call), and
# NaN/Infinity refused because they are not JSON and other readers reject them; a line
# holding one is written with null there instead (a median of no records, say).
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


# --- Paths of a series ------------------------------------------------------------------

def series_file(path: str | os.PathLike[str], index: int) -> Path:
    """File ``index`` of the series starting at ``path``: run.jsonl, run.1.jsonl, ..."""
    base = Path(path)
    return base if index == 0 else base.with_name(f"{base.stem}.{index}{base.suffix}")


def series_paths(path: str | os.PathLike[str]) -> list[Path]:
    """The files of the series that exist, in order; it ends at the first missing index."""
    paths: list[Path] = []
    while (candidate := series_file(path, len(paths))).exists():
        paths.append(candidate)
    return paths


# --- Errors -----------------------------------------------------------------------------

def _storage_error(action: str, path: Path, exc: OSError, kept: str = "") -> UsageError:
    """A UsageError for a failed open/write that says what the user can do about it."""
    code = exc.errno
    if code == errno.ENOENT:
        why = (f"the folder {path.parent} does not exist; create it or choose another "
               "output path")
    elif code in (errno.EACCES, errno.EPERM):
        why = (f"permission denied; choose a writable output path or fix the permissions "
               f"of {path.parent}")
    elif code == errno.EISDIR:
        why = "it is a folder; give the path of a file (in that folder, say)"
    elif code == errno.ENOTDIR:
        why = "a part of the path is a file, not a folder; fix the output path"
    elif code in (errno.ENOSPC, errno.EDQUOT):
        why = ("the disk is full (or over quota); free some space, then run again with the "
               "same output to resume the log")
    elif code == errno.EROFS:
        why = "the file system is read-only; choose an output path on a writable disk"
    else:
        why = f"{exc.strerror or exc}; check the disk and the output path"
    return UsageError(f"cannot {action} {path}: {why}{kept}")


def _read_error(path: Path, exc: OSError) -> UsageError:
    return UsageError(f"cannot read log {path}: {exc.strerror or exc}")


# --- Reading ----------------------------------------------------------------------------

def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the line's object, "") or (None, why the line is skipped)."""
    try:
        obj = json.loads(raw)
    except ValueError:
        if not raw.endswith(b"\n"):
            return None, "torn last line (the writer stopped mid-line)"
        return None, "not JSON"
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    kind = obj.get("type")
    if kind not in _ALL_TYPES:
        return None, f"unknown type {kind!r}"
    required = _REQUIRED.get(kind)
    if required is not None and not required <= obj.keys():
        return None, f"{kind} without {', '.join(sorted(required - obj.keys()))}"
    return obj, ""


class _Line(NamedTuple):
    path: Path
    number: int  # 1-based, within its file
    obj: dict[str, Any] | None  # None: skipped
    problem: str
    newline: bool  # the line ends with "\n" (only the last line of a file may not)


def _scan(paths: Iterable[Path]) -> Iterator[_Line]:
    for path in paths:
        try:
            with path.open("rb") as stream:
                for number, raw in enumerate(stream, 1):
                    obj, problem = _parse(raw)
                    yield _Line(path, number, obj, problem, raw.endswith(b"\n"))
        except OSError as exc:
            raise _read_error(path, exc) from exc


def _existing_series(path: str | os.PathLike[str]) -> list[Path]:
    paths = series_paths(path)
    if not paths:
        raise UsageError(f"no log at {path}: the file does not exist")
    return paths


@dataclass
class LogSeries:
    """A whole series, read in order. Lines are the parsed JSON objects, unchanged."""

    files: list[Path]
    headers: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    skipped_lines: int = 0
    # "file:line: why" for the first MAX_PROBLEMS skipped lines, for the caller to show.
    problems: list[str] = field(default_factory=list)

    def _column(self, key: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
        return np.fromiter((r[key] for r in self.records), dtype=dtype, count=len(self.records))

    def latency_array(self) -> npt.NDArray[np.float64]:
        """Every record's latency (counter unit), in file order."""
        return self._column("latency", np.float64)

    def host_time_array(self) -> npt.NDArray[np.float64]:
        """Every record's host receive time (unix seconds), in file order."""
        return self._column("host_time", np.float64)

    def seq_array(self) -> npt.NDArray[np.int64]:
        """Every record's sequence number, in file order."""
        return self._column("seq", np.int64)

    def session_array(self) -> npt.NDArray[np.int64]:
        """Every record's session id, in file order (seq restarts with each session)."""
        return self._column("session", np.int64)


def read_log(path: str | os.PathLike[str]) -> LogSeries:
    """Read the series starting at ``path``; UsageError if it does not exist or is unreadable.

    Skipped lines (not JSON, not an object, unknown type, a record or gap missing a field)
    are counted in ``skipped_lines`` and described in ``problems``; no warning is emitted.
    """
    series = LogSeries(files=_existing_series(path))
    lists = {"header": series.headers, "record": series.records, "gap": series.gaps,
             "event": series.events, "summary": series.summaries}
    for line in _scan(series.files):
        if line.obj is None:
            series.skipped_lines += 1
            if len(series.problems) < MAX_PROBLEMS:
                series.problems.append(f"{line.path}:{line.number}: {line.problem}")
        else:
            lists[line.obj["type"]].append(line.obj)
    return series


@dataclass(frozen=True)
class ResumeState:
    """Where an existing series ended: what a restarted ``mcubench log`` continues from."""

    files: tuple[Path, ...]
    file_index: int  # index of the last file (0: run.jsonl itself)
    file_bytes: int  # size of the last file
    session: int | None  # session of the last record or gap line (None: none yet)
    last_seq: int | None  # last seq received in that session (None: no record in it)
    next_seq: int | None  # first seq not yet accounted for (received or gap) in that session
    records: int  # record lines, all sessions
    lost: int  # sum of the gaps' ``lost``
    gaps: int
    skipped_lines: int
    torn: bool  # the last line has no trailing newline or is not valid
    ends_with_newline: bool  # False: a torn fragment the writer must close with a newline
    header: dict[str, Any] | None  # the last header line (to check the model, board, ...)

    @property
    def last_file(self) -> Path:
        return self.files[-1]


def resume_state(path: str | os.PathLike[str]) -> ResumeState | None:
    """Read the series at ``path`` and say where it ended; None if there is nothing to resume.

    "Nothing" is no file, or a single empty one. Reads every line (some 100,000 a second).
    """
    paths = series_paths(path)
    if not paths or (len(paths) == 1 and _size(paths[0]) == 0):
        return None
    records = lost = gaps = skipped = 0
    session: int | None = None
    last_seq: int | None = None
    next_seq: int | None = None
    header: dict[str, Any] | None = None
    last: _Line | None = None
    for line in _scan(paths):
        last = line
        obj = line.obj
        if obj is None:
            skipped += 1
            continue
        kind = obj["type"]
        if kind == "header":
            header = obj
        elif kind in ("record", "gap"):
            if obj["session"] != session:
                session, last_seq, next_seq = obj["session"], None, None
            if kind == "record":
                records += 1
                last_seq = obj["seq"]
                following = obj["seq"] + 1
            else:
                gaps += 1
                lost += obj["lost"]
                following = obj["to_seq"]
            next_seq = following if next_seq is None else max(next_seq, following)
    last_in_last_file = last is not None and last.path == paths[-1]
    ends_with_newline = not last_in_last_file or (last is not None and last.newline)
    torn = last_in_last_file and last is not None and (not last.newline or last.obj is None)
    return ResumeState(
        files=tuple(paths), file_index=len(paths) - 1, file_bytes=_size(paths[-1]),
        session=session, last_seq=last_seq, next_seq=next_seq, records=records, lost=lost,
        gaps=gaps, skipped_lines=skipped, torn=torn, ends_with_newline=ends_with_newline,
        header=header)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise _read_error(path, exc) from exc


# --- Writing ----------------------------------------------------------------------------

def _iso(unix_seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(unix_seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _encode(obj: Mapping[str, Any], what: str) -> str:
    """One compact JSON line; ValueError (a caller's bug) if ``obj`` is not JSON data."""
    try:
        return _ENCODER.encode(obj)
    except ValueError:  # NaN or infinity: the slow path, for the odd line only
        try:
            return _ENCODER.encode(_finite(obj))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what} cannot be written as JSON: {exc}") from exc
    except TypeError as exc:
        raise ValueError(f"{what} cannot be written as JSON: {exc}") from exc


class LogWriter:
    """Appends batches of lines to a log series, one write and one fsync per batch.

    The file is opened (or created) by the constructor, so an unwritable path fails before
    anything else starts; the header is written with the first batch (or ``write([])``), so
    ``update_header`` can still add what is learnt after opening (the device's provenance).
    Without ``resume`` an existing non-empty series is refused (never overwritten); with
    it, the writer appends to the series' last file (``resume_state`` says where it ended).

    Rotation happens between batches, never inside one: before a batch, the next file is
    started if the current one already holds lines and the batch would take it over
    ``rotate_bytes``, or ``rotate_seconds`` have passed since this writer opened it. A
    single batch larger than ``rotate_bytes`` still goes into one file.
    """

    def __init__(self, path: str | os.PathLike[str], header: Mapping[str, Any], *,
                 rotate_bytes: int | None = None, rotate_seconds: float | None = None,
                 resume: bool = False, clock: Callable[[], float] = time.time) -> None:
        if rotate_bytes is not None and rotate_bytes <= 0:
            raise UsageError(f"log rotation size must be positive, not {rotate_bytes}")
        if rotate_seconds is not None and rotate_seconds <= 0:
            raise UsageError(f"log rotation interval must be positive, not {rotate_seconds}")
        self.path = Path(path)
        self._header: dict[str, Any] = {}
        self.update_header(header)
        self._rotate_bytes = rotate_bytes
        self._rotate_seconds = rotate_seconds
        self._clock = clock
        self._fd = -1
        self._index = 0
        self._created = False  # this writer created the current file
        self._file_started = 0.0  # clock() when the current file was opened
        self._header_pending = True  # the current file still needs a header line
        self._broken = ""  # why writing is no longer possible ("" while it is)
        self.lines_written = 0  # lines from write(), not counting headers
        self.files: list[Path] = []  # every file this writer appended to, in order
        if self.path.is_dir():  # say so, rather than "cannot read" or "already holds a log"
            folder_error = IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            raise _storage_error("open log", self.path, folder_error)
        self.resume_state = resume_state(self.path) if resume else None
        if not resume:
            self._refuse_existing()
        state = self.resume_state
        self._index = state.file_index if state else 0
        self._resumed = state is not None  # the next header says resumed: true
        self._open(self._index, exclusive=False)
        self._needs_newline = state is not None and not state.ends_with_newline
        self._has_lines = state is not None and state.file_bytes > 0
        if state and rotate_bytes is not None and state.file_bytes >= rotate_bytes:
            self._rotate()  # the last file is full: leave it exactly as it is

    # Public state ---------------------------------------------------------------------

    @property
    def current_path(self) -> Path:
        return series_file(self.path, self._index)

    @property
    def file_index(self) -> int:
        return self._index

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def update_header(self, fields: Mapping[str, Any]) -> None:
        """Merge ``fields`` into the header of files not yet begun (and of the current file
        if its header is not written yet). ``type``, ``schema``, ``created``, ``file_index``
        and ``resumed`` are the writer's own and are ignored here."""
        merged = {**self._header, **{k: v for k, v in fields.items() if k not in _WRITER_KEYS}}
        _encode(merged, "the log header")  # fail now, not at the first batch
        self._header = merged

    # Writing --------------------------------------------------------------------------

    def write(self, lines: Iterable[dict[str, Any]]) -> int:
        """Append ``lines`` (record/gap/event/summary objects) as one batch; return how many.

        All or nothing: on an OSError the file is cut back to its size before the batch and
        a UsageError says what to do. ValueError for a line of another type or not JSON
        data; a NaN or infinite float is written as null.
        An empty batch writes nothing, except a pending header.
        """
        if self._fd < 0:
            raise UsageError(f"cannot write log {self.current_path}: "
                             f"{self._broken or 'the writer is closed'}")
        body, count = self._encode_batch(lines)
        if not body and not self._header_pending:
            return 0
        if count and self._should_rotate(len(body)):
            self._rotate()
        data = self._prefix() + body
        self._append(data)
        self._needs_newline = self._header_pending = self._resumed = False
        self._has_lines = self._has_lines or count > 0
        self.lines_written += count
        return count

    def close(self) -> None:
        """Close the file; one this writer created and never wrote to is removed again."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            empty = os.fstat(fd).st_size == 0
        except OSError:
            empty = False
        with contextlib.suppress(OSError):
            os.close(fd)
        if self._created and empty:
            with contextlib.suppress(OSError):
                self.current_path.unlink()
                self.files.remove(self.current_path)

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # Internals ------------------------------------------------------------------------

    def _refuse_existing(self) -> None:
        existing = [p for p in series_paths(self.path) if _size(p) > 0]
        if existing or series_file(self.path, 1).exists():
            raise UsageError(
                f"{self.path} already holds a log; to continue it, resume it; otherwise "
                "choose another output path (an existing log is never overwritten)")

    def _open(self, index: int, *, exclusive: bool) -> None:
        """Open file ``index`` for appending and make it current (the old fd is closed)."""
        path = series_file(self.path, index)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        if exclusive:
            flags |= os.O_EXCL
        existed = path.exists()
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise UsageError(f"cannot start log file {path}: it exists already (left "
                                 "from another log?); move it away and resume") from exc
            raise _storage_error("open log", path, exc) from exc
        if not existed:
            _fsync_folder(path.parent)
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd, self._index, self._created = fd, index, not existed
        self._file_started = self._clock()
        self._header_pending = True
        self.files.append(path)

    def _encode_batch(self, lines: Iterable[dict[str, Any]]) -> tuple[bytes, int]:
        parts: list[str] = []
        encode = _ENCODER.encode
        for line in lines:
            if line.get("type") not in LINE_TYPES:
                raise ValueError(f"a log line must have a type among {sorted(LINE_TYPES)}, "
                                 f"not {line.get('type')!r}")
            try:
                parts.append(encode(line))
            except (TypeError, ValueError):
                parts.append(_encode(line, f"log line {line!r}"))
        if not parts:
            return b"", 0
        parts.append("")  # a newline after the last line too
        return "\n".join(parts).encode(), len(parts) - 1

    def _should_rotate(self, batch_bytes: int) -> bool:
        if not self._has_lines:
            return False
        if self._rotate_bytes is not None:
            size = os.fstat(self._fd).st_size
            if size + batch_bytes > self._rotate_bytes:
                return True
        return (self._rotate_seconds is not None
                and self._clock() - self._file_started >= self._rotate_seconds)

    def _rotate(self) -> None:
        self._open(self._index + 1, exclusive=True)
        self._needs_newline = False
        self._has_lines = False

    def _prefix(self) -> bytes:
        prefix = "\n" if self._needs_newline else ""
        if self._header_pending:
            header = {"type": "header", "schema": SCHEMA, "created": _iso(self._clock()),
                      **self._header, "file_index": self._index, "resumed": self._resumed}
            prefix += _encode(header, "the log header") + "\n"
        return prefix.encode()

    def _append(self, data: bytes) -> None:
        """One os.write (looping only on a short write), one fsync; undone on failure."""
        path = self.current_path
        try:
            start = os.fstat(self._fd).st_size
        except OSError as exc:
            raise _storage_error("write log", path, exc) from exc
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
            os.fsync(self._fd)
        except OSError as exc:
            raise _storage_error("write log", path, exc, self._roll_back(start)) from exc

    def _roll_back(self, size: int) -> str:
        """Cut the current file back to ``size``; return what the error message should add."""
        try:
            os.ftruncate(self._fd, size)
        except OSError as exc:
            self._broken = f"an earlier write failed and could not be undone ({exc.strerror})"
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
            return (" (the last batch may be cut off: the log stays readable up to it, at "
                    "worst with one skipped line)")
        with contextlib.suppress(OSError):  # else the next batch's fsync makes it durable
            os.fsync(self._fd)
        return " (this batch was not written; everything written before it is intact)"


def _fsync_folder(folder: Path) -> None:
    """Make a new file's name durable too; best effort (not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- CSV --------------------------------------------------------------------------------

def export_csv(series: LogSeries, path: str | os.PathLike[str]) -> int:
    """Write one CSV row per record (CSV_COLUMNS, then op_0..op_N if any record has ops).

    Absent optional fields are empty cells. Written to a temporary file and renamed, so a
    failure (UsageError) leaves no half-written CSV. Returns the number of rows.
    """
    out = Path(path)
    n_ops = max((len(r.get("ops") or ()) for r in series.records), default=0)
    columns = [*CSV_COLUMNS, *(f"op_{i}" for i in range(n_ops))]
    temporary = out.with_name(f".{out.name}.tmp")
    try:
        with temporary.open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(columns)
            for record in series.records:
                ops = list(record.get("ops") or ())
                writer.writerow([*(record.get(c, "") for c in CSV_COLUMNS), *ops,
                                 *([""] * (n_ops - len(ops)))])
        os.replace(temporary, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise _storage_error("write CSV", out, exc) from exc
    return len(series.records)
