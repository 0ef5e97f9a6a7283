"""A scripted client for the EEMBC / MLPerf Tiny benchmark UART protocol (docs/mlperf_tiny.md).

Firmware built with ``mcubench build --app mlperf-tiny --model M`` speaks this protocol
instead of mcubench's framed one, so the official MLPerf Tiny runner can drive the board.
This client does what that runner does (``name``, ``profile``, ``db load``, ``db`` chunks,
``infer N W``, ``results``), with typed replies and clear errors, for tests and scripts.

Every command is text ending in ``%``; the device answers with lines ending in CR LF, the
last one ``m-ready``. A failed command answers ``e-[why]`` (then ``m-ready``): the client
raises ``MlperfTinyError`` with that text, after reading up to ``m-ready`` so the next
command starts clean.

Laps: ``m-lap-us-N`` is the device's own counter turned into microseconds by the firmware.
On hardware whose counter is a clock these are real microseconds. Under QEMU (``-icount
shift=0``, one instruction per nanosecond of virtual time) they are *virtual*
microseconds: thousands of instructions, not time. On the native board they are the host's
monotonic clock. The client reports the raw values and never converts them.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import numpy as np

from mcubench.errors import DeviceTimeout, ProtocolError, UsageError
from mcubench.model.tflite import Model, Tensor
from mcubench.transport import Transport

READY = "m-ready"
DEFAULT_TIMEOUT_S = 10.0
# Bytes per "db" command: what the official runner sends ("db " + 62 hex digits + "%"), well
# inside the reference harness's 80-character command buffer.
DEFAULT_CHUNK_BYTES = 31
MAX_COMMAND_CHARS = 256  # the firmware's limit before '%' (MCB_EE_LINE_MAX)
SYNC_RETRY_S = 2.0
LAP_UNIT_NOTE = (
    "m-lap-us is the device counter in microseconds: real time on hardware, virtual time "
    "under QEMU -icount shift=0 (1 us = 1000 instructions), the host clock on native"
)

_LAP = re.compile(r"^m-lap-us-(\d+)$")
_RESULTS = re.compile(r"^m-results-\[([^\]]*)\]$")
_NAME = re.compile(r"^m-name-dut-\[([^\]]+)\]$")
_PROFILE = re.compile(r"^m-(profile|model)-\[([^\]]+)\]$")
_MCUBENCH = re.compile(r"^m-mcubench-\[([^\]]*)\]$")
_BUFFER = re.compile(r"^m-buffer-((?:[0-9a-f]{2}-)*[0-9a-f]{2})$")


class MlperfTinyError(ProtocolError):
    """The device answered a command with ``e-[...]``."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(f"device refused {command!r}: {message}")
        self.command = command
        self.device_message = message


@dataclass(frozen=True)
class Reply:
    """The lines a command produced, ``m-ready`` left out."""

    command: str
    lines: tuple[str, ...]

    def errors(self) -> list[str]:
        """The text inside each ``e-[...]`` line."""
        return [_error_text(line) for line in self.lines if line.startswith("e-")]


@dataclass(frozen=True)
class DeviceProfile:
    """``profile%``: the harness version, the benchmark the model is taken for, and
    mcubench's own line (board, counter rate, input size; empty from other firmware)."""

    profile: str
    model: str  # "kws01", "vww01", "ic01", "ad01" or "unknown"
    details: dict[str, str] = field(default_factory=dict)

    @property
    def input_bytes(self) -> int | None:
        value = self.details.get("input_bytes")
        return int(value) if value is not None else None


@dataclass(frozen=True)
class InferResult:
    """``infer N W%``: the two laps around the N timed inferences, and the results."""

    iterations: int
    warmups: int
    lap_start_us: int  # raw m-lap-us values: see LAP_UNIT_NOTE for what they count
    lap_end_us: int
    results: tuple[float, ...]
    results_text: str  # between the brackets of m-results-[...], as the device printed it

    @property
    def elapsed_us(self) -> int:
        """Counter microseconds for all N inferences (virtual ones under QEMU)."""
        return self.lap_end_us - self.lap_start_us

    @property
    def per_inference_us(self) -> float:
        return self.elapsed_us / self.iterations


class MlperfTinyClient:
    """One connection to a board running the MLPerf Tiny firmware (a pyserial URL)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S,
                 baudrate: int = 115200) -> None:
        self.url = url
        self.timeout = timeout
        self._transport = Transport(url, baudrate=baudrate)
        self._pending = b""
        self._synced = False

    def open(self) -> None:
        self._transport.open()

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---- lines ------------------------------------------------------------------------

    def _read_line(self, deadline: float, waiting_for: str) -> str:
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._synced = False
                seen = self._pending.decode(errors="replace")
                raise DeviceTimeout(f"no complete reply to {waiting_for!r} from {self.url} "
                                    f"within {self.timeout:g} s (partial line: {seen!r})")
            self._pending += self._transport.read(timeout=min(remaining, 0.5))
        raw, _, self._pending = self._pending.partition(b"\n")
        return raw.decode(errors="replace").strip("\r\0")

    def sync(self) -> None:
        """Discard whatever the device said before (its boot banner, replies nobody read).

        Ends any partly sent command with ``%``, then sends an unknown command with a
        random name: its ``e-[...]`` reply names it, so the ``m-ready`` after it is the
        last line of old output. Unanswered, it is sent again with a new name every
        SYNC_RETRY_S (bytes can be lost while a link comes up); the device answers in
        order, so the newest name's answer comes after all the others.
        """
        self._transport.reset_input()
        self._pending = b""
        deadline = time.monotonic() + self.timeout
        while True:
            nonce = f"sync-{secrets.token_hex(4)}"
            self._transport.write(f"%{nonce}%".encode())
            retry_at = min(deadline, time.monotonic() + SYNC_RETRY_S)
            try:
                while nonce not in self._read_line(retry_at, "sync"):
                    pass
            except DeviceTimeout:
                if time.monotonic() >= deadline:
                    raise
                continue
            while self._read_line(deadline, "sync") != READY:
                pass
            self._synced = True
            return

    def send(self, command: str, *, timeout: float | None = None) -> Reply:
        """Send one command; return its lines up to ``m-ready``, whatever they say."""
        if "%" in command or len(command) > MAX_COMMAND_CHARS:
            raise UsageError(f"not a single command of at most {MAX_COMMAND_CHARS} characters "
                             f"without '%': {command[:40]!r}")
        self.write_raw(f"{command}%".encode())
        return self.read_reply(command, timeout=timeout)

    def write_raw(self, data: bytes) -> None:
        """Bytes as they are, e.g. half a command, or one no well-behaved host would send
        (robustness tests); ``read_reply`` then collects the answer to a finished one."""
        if not self._synced:
            self.sync()
        self._transport.write(data)

    def read_reply(self, label: str, *, timeout: float | None = None) -> Reply:
        """The lines up to the next ``m-ready``; ``label`` names the command in errors."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines = []
        while (line := self._read_line(deadline, label)) != READY:
            if line:
                lines.append(line)
        return Reply(label, tuple(lines))

    def command(self, command: str, *, timeout: float | None = None) -> Reply:
        """``send``, raising MlperfTinyError if the device answered ``e-[...]``."""
        reply = self.send(command, timeout=timeout)
        errors = reply.errors()
        if errors:
            raise MlperfTinyError(command, "; ".join(errors))
        return reply

    # ---- commands ---------------------------------------------------------------------

    def name(self) -> str:
        """``name%``: what is inside ``m-name-dut-[...]``."""
        return _one(self.command("name"), _NAME).group(1)

    def profile(self) -> DeviceProfile:
        reply = self.command("profile")
        found = {m.group(1): m.group(2) for line in reply.lines if (m := _PROFILE.match(line))}
        if "profile" not in found or "model" not in found:
            raise ProtocolError(f"profile: no m-profile-[...] and m-model-[...] in {reply.lines}")
        details: dict[str, str] = {}
        for line in reply.lines:
            if m := _MCUBENCH.match(line):
                details = dict(item.partition("=")[::2] for item in m.group(1).split(","))
        return DeviceProfile(found["profile"], found["model"], details)

    def timestamp(self) -> int:
        """``timestamp%``: one raw m-lap-us value (see LAP_UNIT_NOTE)."""
        return int(_one(self.command("timestamp"), _LAP).group(1))

    def load(self, data: bytes, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        """``db load N`` and ``db`` chunks of hex, as the official runner uploads an input."""
        if not data:
            raise UsageError("nothing to load: the input is empty")
        if not 1 <= chunk_bytes <= (MAX_COMMAND_CHARS - 3) // 2:
            raise UsageError(f"chunk_bytes must be 1..{(MAX_COMMAND_CHARS - 3) // 2}")
        self.command(f"db load {len(data)}")
        reply = None
        for at in range(0, len(data), chunk_bytes):
            reply = self.command(f"db {data[at:at + chunk_bytes].hex()}")
        if reply is None or "m-load-done" not in reply.lines:
            raise ProtocolError(f"db: {len(data)} bytes sent, but no m-load-done after the last "
                                "chunk")

    def db_print(self, count: int | None = None, offset: int | None = None) -> bytes:
        """``db print [N [offset]]``: the device's input buffer."""
        args = "" if count is None else f" {count}" + ("" if offset is None else f" {offset}")
        reply = self.command(f"db print{args}")
        return bytes.fromhex("".join(m.group(1).replace("-", "") for line in reply.lines
                                     if (m := _BUFFER.match(line))))

    def infer(self, iterations: int = 1, warmups: int = 0, *,
              timeout: float | None = None) -> InferResult:
        """``infer N W%``: W warmups, N timed inferences, their laps and the results."""
        if iterations < 1 or warmups < 0:
            raise UsageError("infer needs iterations >= 1 and warmups >= 0")
        reply = self.command(f"infer {iterations} {warmups}", timeout=timeout)
        laps = [int(m.group(1)) for line in reply.lines if (m := _LAP.match(line))]
        if len(laps) != 2 or "m-infer-done" not in reply.lines:
            raise ProtocolError(f"infer: expected two m-lap-us lines and m-infer-done, got "
                                f"{reply.lines}")
        text, values = _results(reply)
        return InferResult(iterations, warmups, laps[0], laps[1], values, text)

    def results(self) -> tuple[float, ...]:
        """``results%``: the last infer's results, parsed."""
        return _results(self.command("results"))[1]


def _error_text(line: str) -> str:
    body = line[2:]
    return body[1:-1] if body.startswith("[") and body.endswith("]") else body


def _one(reply: Reply, pattern: re.Pattern[str]) -> re.Match[str]:
    for line in reply.lines:
        if m := pattern.match(line):
            return m
    raise ProtocolError(f"{reply.command}: no line matching {pattern.pattern} in {reply.lines}")


def _results(reply: Reply) -> tuple[str, tuple[float, ...]]:
    text = _one(reply, _RESULTS).group(1)
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise ProtocolError(f"{reply.command}: results are not numbers: {text[:80]!r}") from exc
    return text, values


# ---- the results format, as the firmware prints it (ee_session.c, msg_value) --------------

FLOAT_DECIMALS = 6
_DEQUANTIZED = ("INT8", "UINT8", "INT16")
_PRINTABLE = (*_DEQUANTIZED, "INT32", "INT64", "BOOL", "FLOAT32")


def decimals_for_scale(scale: float) -> int:
    """The firmware's precision for a quantised output: the smallest d in 3..9 with
    2 * 10^-d <= scale, so every step of the scale prints differently."""
    for d in range(3, 9):
        if float(np.float32(scale)) * 10**d >= 2.0:
            return d
    return 9


def format_fixed(value: float, decimals: int) -> str:
    """Fixed point, correctly rounded (ties to even), as the firmware prints floats."""
    if math.isnan(value):
        return "nan"
    return f"{value:.{decimals}f}"


def _format_output(tensor: Tensor, values: np.ndarray) -> list[str]:
    flat = values.reshape(-1)
    quant = tensor.quantization
    if tensor.dtype == "FLOAT32":
        return [format_fixed(float(v), FLOAT_DECIMALS) for v in flat.astype(np.float32)]
    if tensor.dtype in _DEQUANTIZED and quant is not None and len(quant.scales) == 1:
        scale = np.float32(quant.scales[0])
        zero_point = np.int64(quant.zero_points[0] if quant.zero_points else 0)
        # TFLM's DequantizeInt8ToFloat: (float)(q - zero_point) * scale, in single precision.
        real = (flat.astype(np.int64) - zero_point).astype(np.float32) * scale
        decimals = decimals_for_scale(float(scale))
        return [format_fixed(float(v), decimals) for v in real]
    return [str(int(v)) for v in flat]


def format_results(model: Model, outputs: Sequence[np.ndarray]) -> str:
    """What the firmware prints inside ``m-results-[...]`` for these outputs of subgraph 0:
    8- and 16-bit quantised outputs dequantised (decimals_for_scale), float32 with 6
    decimals, other integers as integers; all outputs in order, comma-separated."""
    graph = model.subgraphs[0]
    tensors = [graph.tensors[i] for i in graph.outputs]
    if len(outputs) != len(tensors):
        raise UsageError(f"the model has {len(tensors)} outputs, got {len(outputs)} arrays")
    texts: list[str] = []
    for tensor, values in zip(tensors, outputs, strict=True):
        if tensor.dtype not in _PRINTABLE:
            raise UsageError(f"output {tensor.name!r} is {tensor.dtype}: the MLPerf Tiny "
                             f"firmware prints only {', '.join(_PRINTABLE)}")
        texts.extend(_format_output(tensor, np.asarray(values)))
    return ",".join(texts)


def quantized_from_results(tensor: Tensor, values: Sequence[float]) -> np.ndarray:
    """The integers behind one dequantised output's printed values: round(v / scale + zp).

    Exact for every printed value: the firmware prints enough decimals that the rounding
    error stays under a quarter of a step."""
    quant = tensor.quantization
    if tensor.dtype not in _DEQUANTIZED or quant is None or len(quant.scales) != 1:
        raise UsageError(f"output {tensor.name!r} is not a per-tensor quantised "
                         f"{'/'.join(_DEQUANTIZED)} tensor")
    zero_point = quant.zero_points[0] if quant.zero_points else 0
    ints = np.rint(np.asarray(values, dtype=np.float64) / quant.scales[0]) + zero_point
    return ints.astype(np.int64)
