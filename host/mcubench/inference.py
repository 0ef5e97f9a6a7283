"""A model on a device: load it, set inputs, invoke, read outputs (docs/protocol.md, *Inference*).

The model goes into the pool at offset 0 with the bulk WRITE requests (or is the one linked
into the firmware); MODEL_LOAD gives the rest of the pool to the interpreter as its arena.
Inputs and outputs live in the arena, so they travel with the same bulk WRITE and READ, at
the pool offsets TENSOR_INFO reports.

Logging (docs/protocol.md, *Logging*): ``LoadedInference.log_start`` makes the device run
the model on its own, from its main loop, into a ring of records, read with ``log_read``
and ended with ``log_stop``. Those two are a ``LogReader``'s, which a ``LoadedInference``
is; a host that reconnected to a device that is still logging gets one from
``attach_logging(device, flags, ops)`` and reads on without loading the model again
(which would end the log: MODEL_LOAD is refused while logging, and the upload before it
overwrites the arena). ``log_read`` and ``log_stop`` also exist as module functions.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mcubench.device import Device, Progress
from mcubench.errors import (
    BoardError,
    DeviceError,
    IntegrityError,
    ModelError,
    ProtocolError,
    UsageError,
)
from mcubench.model.tflite import TENSOR_TYPES
from mcubench.protocol import messages
from mcubench.protocol.codes import (
    Capability,
    ErrorCode,
    LogFlags,
    ModelSource,
    Opcode,
    TensorSelect,
)
from mcubench.protocol.messages import (
    LOG_MAX_RECORDS,
    InvokeResult,
    LoadedModel,
    LogPage,
    LogStarted,
    ProfilePage,
    TensorInfo,
)
from mcubench.reference import NUMPY_DTYPES

MODEL_OFFSET = 0  # where an uploaded model goes in the pool (16-byte aligned)
BUILD_HINT = "mcubench build --board {board} --model MODEL, then run with --embedded"

# Device errors that say something about the model, not the link.
_MODEL_ERRORS = frozenset({ErrorCode.MODEL_INVALID, ErrorCode.UNSUPPORTED_OP,
                           ErrorCode.PREPARE_FAILED, ErrorCode.ARENA_TOO_SMALL,
                           ErrorCode.INVOKE_FAILED, ErrorCode.NO_MODEL})


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for the device's answer, beyond the link's own time."""

    load: float = 30.0  # MODEL_LOAD: open, check and prepare the model
    invoke: float = 600.0  # one INVOKE of any count (an emulator may be slow)
    log: float = 30.0  # a LOG_* answer: the device may be in the middle of an inference


class LogReader:
    """Reads and stops the log of one device: its session's record layout (``log_flags``,
    and ``log_ops`` operator fields). A ``LoadedInference`` is one once it ran
    ``log_start``; ``attach_logging`` makes one for a session started earlier."""

    def __init__(self, device: Device, timeouts: Timeouts, flags: LogFlags | None = None,
                 ops: int = 0) -> None:
        self.device = device
        self.timeouts = timeouts
        self.log_flags = flags  # None: no session known yet
        self.log_ops = ops

    def log_read(self, from_seq: int, max_records: int = LOG_MAX_RECORDS) -> LogPage:
        """Records from ``from_seq`` on: see the module function ``log_read``."""
        if self.log_flags is None:
            raise UsageError("log_read before log_start: for a session started earlier "
                             "use attach_logging(device, flags, ops)")
        return log_read(self.device, from_seq, self.log_flags, self.log_ops, max_records,
                        timeout=self.timeouts.log)

    def log_stop(self) -> int:
        """Stop logging; returns ``next_seq`` (records 0 .. next_seq - 1 were made). The ring
        stays readable until the next LOG_START, MODEL_LOAD or write into the arena."""
        return log_stop(self.device, timeout=self.timeouts.log)


def attach_logging(device: Device, flags: LogFlags, ops: int, *,
                   timeouts: Timeouts | None = None) -> LogReader:
    """A reader for the session a device may still be running, started (by this host
    before it reconnected, say) with ``flags``; ``ops`` as LOG_START+ said (0 without
    ``OPS``). Asks the device nothing: the first ``log_read`` tells whether the session
    is there (``page.session``) or gone (``DeviceError`` STATE)."""
    return LogReader(device, timeouts or Timeouts(), LogFlags(flags), ops)


class LoadedInference(LogReader):
    """One model loaded on one device. Make it with ``load_on_device``."""

    def __init__(self, device: Device, loaded: LoadedModel, inputs: list[TensorInfo],
                 outputs: list[TensorInfo], timeouts: Timeouts) -> None:
        super().__init__(device, timeouts)
        self.loaded = loaded
        self.inputs = inputs
        self.outputs = outputs
        self.log_session: LogStarted | None = None  # the last log_start's answer

    def set_inputs(self, arrays: Sequence[np.ndarray]) -> None:
        """Write one array per model input (dtype and shape must match)."""
        if len(arrays) != len(self.inputs):
            raise UsageError(f"the model takes {len(self.inputs)} input(s), got {len(arrays)}")
        for n, (array, tensor) in enumerate(zip(arrays, self.inputs, strict=True)):
            data = _tensor_bytes(n, array, tensor)
            if tensor.pool_offset is None:
                raise ModelError(f"input {n} (tensor {tensor.tensor}) is not in the arena")
            self.device.upload(tensor.pool_offset, data)

    def invoke(self, count: int = 1, *, last_node: int | None = None) -> InvokeResult:
        """Run ``count`` times on the current inputs; ticks of the device's counter.

        ``last_node``: run subgraph 0's operators 0..last_node only, so that the outputs
        of ``last_node`` can be read before later operators reuse their memory.
        """
        payload = _model_request(self.device, Opcode.INVOKE,
                                 messages.encode_invoke(count, last_node), self.timeouts.invoke)
        return InvokeResult.decode(payload)

    def get_outputs(self) -> list[np.ndarray]:
        return [self.read_tensor(t) for t in self.outputs]

    def read_tensor(self, tensor: TensorInfo) -> np.ndarray:
        """A tensor's current value (it must be in the pool: not a constant in flash)."""
        if tensor.pool_offset is None:
            raise ModelError(f"tensor {tensor.tensor} is not in the pool; its data cannot be read")
        raw = self.device.download(tensor.pool_offset, tensor.size)
        return np.frombuffer(raw, dtype=_numpy_dtype(tensor)).reshape(tensor.shape).copy()

    def tensor_info(self, index: int) -> TensorInfo:
        """TENSOR_INFO for tensor ``index`` of subgraph 0."""
        return _tensor_info(self.device, TensorSelect.TENSOR, index)

    def profile(self) -> ProfilePage:
        """Ticks per operator of subgraph 0 over the last ``invoke`` (summed over its count).

        Only firmware built with the profiler (``FirmwareOptions(profile=True)``) has it.
        """
        if Capability.PROFILE not in (self.device.device_info or self.device.info()).capabilities:
            raise BoardError("the firmware has no profiler: build it with --profile "
                             "(mcubench bench --profile does)")
        ticks: list[int] = []
        page = ProfilePage.decode(_model_request(
            self.device, Opcode.PROFILE, messages.encode_profile(0), self.timeouts.load))
        ticks.extend(page.ticks)
        while len(ticks) < page.nodes:
            page = ProfilePage.decode(_model_request(
                self.device, Opcode.PROFILE, messages.encode_profile(len(ticks)),
                self.timeouts.load))
            if page.first != len(ticks) or not page.ticks:
                raise ProtocolError(f"PROFILE+ for node {len(ticks)} came back for node "
                                    f"{page.first} with {len(page.ticks)} entries")
            ticks.extend(page.ticks)
        return ProfilePage(page.nodes, page.invocations, 0, tuple(ticks))

    def reset(self) -> None:
        """Variable tensors and resource variables back to their initial state (as TFLM)."""
        _model_request(self.device, Opcode.RESET, b"", self.timeouts.load)

    def log_start(self, period_ticks: int, flags: LogFlags, session: int) -> LogStarted:
        """Start logging: the device runs the model on the inputs in the arena now (set
        them first, as for ``invoke``) every ``period_ticks`` ticks of its counter (0: back
        to back), keeping the newest ``ring_records`` records.

        ``flags``: ``OPS`` per-operator ticks (firmware built with the profiler),
        ``DIGEST`` CRC-32 of the outputs, ``TOP1`` argmax of output 0. ``session`` is the
        host's id (u32), echoed by every ``LOG_READ`` so a host can tell a rebooted device
        or someone else's session. Refusals: ``ModelError`` (NO_MODEL, ARENA_TOO_SMALL:
        the ring does not fit beside the activations), ``DeviceError`` STATE (already
        logging; OPS without the profiler) or OUT_OF_RANGE (unknown flags).
        """
        info = self.device.device_info or self.device.info()
        if Capability.LOG not in info.capabilities:
            raise BoardError(f"the firmware on {info.board} cannot log (no LOG capability): "
                             "rebuild and flash it")
        started = LogStarted.decode(_model_request(
            self.device, Opcode.LOG_START,
            messages.encode_log_start(period_ticks, flags, session), self.timeouts.log,
            hints={ErrorCode.ARENA_TOO_SMALL: _LOG_ARENA_HINT}))
        if started.session != session:
            raise ProtocolError(f"LOG_START+ echoes session {started.session}, sent {session}")
        if started.ops and LogFlags.OPS not in LogFlags(flags):
            raise ProtocolError(f"LOG_START+ gives {started.ops} operator fields without OPS")
        self.log_session = started
        self.log_flags = LogFlags(flags)
        self.log_ops = started.ops
        return started


_LOG_ARENA_HINT = (". The log keeps the inputs and its ring in the arena between the "
                   "activations and the persistent part: a smaller model, fewer OPS fields, "
                   "or a board with more RAM leaves room")


def log_read(device: Device, from_seq: int, flags: LogFlags, ops: int,
             max_records: int = LOG_MAX_RECORDS, *, timeout: float = Timeouts.log,
             retries: int | None = None) -> LogPage:
    """One LOG_READ: up to ``max_records`` records from ``from_seq`` (or from the ring's
    oldest, if ``from_seq`` was overwritten: ``page.oldest_seq - from_seq`` records were
    lost), and at most as many as fit one payload. Nothing is consumed, so it is retried
    (``retries``, default ``device.retries.idempotent``) after a timeout or a damaged
    answer.

    ``flags`` and ``ops`` say how records are laid out: as given to and answered by
    LOG_START (``ops`` is 0 without ``OPS``, else subgraph 0's operator count). A host that
    reconnected passes what it started the session with; it checks ``page.session``.
    ``timeout`` must allow one inference: the device answers nothing while it runs one.

    Raises ``DeviceError`` STATE when the device has no log (it rebooted, or a
    MODEL_LOAD or a write into the arena ended it), OUT_OF_RANGE for a ``from_seq`` past
    ``next_seq``; ``ProtocolError`` when the records are not laid out as ``flags`` say.
    """
    info = device.device_info or device.info()
    wire = info.max_payload * 10 / device.transport.baudrate  # the longest answer, 8N1
    payload = device.request(
        Opcode.LOG_READ, messages.encode_log_read(from_seq, max_records), timeout=timeout + wire,
        retries=device.retries.idempotent if retries is None else retries)
    return LogPage.decode(payload, flags=flags, ops=ops)


def log_stop(device: Device, *, timeout: float = Timeouts.log) -> int:
    """LOG_STOP: the device stops logging and returns ``next_seq``. Safe to repeat while
    the ring exists; ``DeviceError`` STATE when there is no log at all."""
    payload = device.request(Opcode.LOG_STOP, b"", timeout=timeout,
                             retries=device.retries.idempotent)
    return messages.decode_log_stop_response(payload)


def load_on_device(device: Device, model: bytes, *, embedded: bool = False,
               timeouts: Timeouts | None = None,
               progress: Progress | None = None) -> LoadedInference:
    """Upload ``model`` (or select the embedded copy, checked to be the same) and prepare it.

    Raises ``ModelError`` when the board cannot take it: larger than the pool, an
    unsupported operator, an arena too small; the message says what would help.
    """
    timeouts = timeouts or Timeouts()
    info = device.device_info or device.info()
    if Capability.INFERENCE not in info.capabilities:
        raise BoardError(f"the firmware on {info.board} does not run models (no INFERENCE "
                         "capability): rebuild and flash it")
    if embedded:
        if not info.embedded_model_bytes:
            raise UsageError(f"the firmware on {info.board} has no embedded model: "
                             + BUILD_HINT.format(board=info.board))
        payload = messages.encode_model_load(ModelSource.EMBEDDED)
    else:
        if len(model) > info.pool_bytes:
            raise ModelError(
                f"the model is {len(model):,} bytes; {info.board} has {info.pool_bytes:,} bytes "
                f"of RAM for the model and its arena. Link it into flash: "
                + BUILD_HINT.format(board=info.board))
        device.upload(MODEL_OFFSET, model, progress)
        payload = messages.encode_model_load(ModelSource.POOL, MODEL_OFFSET, len(model))
    arena_hint = "" if embedded else (
        f". The pool of {info.pool_bytes:,} bytes holds the model ({len(model):,} bytes) and "
        "the arena; to free it for the arena: " + BUILD_HINT.format(board=info.board))
    loaded = LoadedModel.decode(_model_request(
        device, Opcode.MODEL_LOAD, payload, timeouts.load,
        hints={ErrorCode.ARENA_TOO_SMALL: arena_hint}))
    if loaded.model_bytes != len(model) or (
            embedded and loaded.model_crc32 != zlib.crc32(model)):
        raise IntegrityError(
            f"the device's model ({loaded.model_bytes:,} bytes, CRC-32 "
            f"0x{loaded.model_crc32:08x}) is not this one ({len(model):,} bytes, CRC-32 "
            f"0x{zlib.crc32(model):08x})" + ("; rebuild: " + BUILD_HINT.format(board=info.board)
                                               if embedded else ""))
    inputs = [_tensor_info(device, TensorSelect.INPUT, i) for i in range(loaded.inputs)]
    outputs = [_tensor_info(device, TensorSelect.OUTPUT, i) for i in range(loaded.outputs)]
    return LoadedInference(device, loaded, inputs, outputs, timeouts)


def _model_request(device: Device, opcode: Opcode, payload: bytes, timeout: float, *,
                   hints: Mapping[int, str] | None = None) -> bytes:
    """A request whose refusal is about the model: DeviceError becomes ModelError, with what
    ``hints`` adds to the device's message for its error code."""
    try:
        return device.request(opcode, payload, timeout=timeout)
    except DeviceError as exc:
        if exc.code in _MODEL_ERRORS:
            hint = (hints or {}).get(exc.code, "")
            raise ModelError(f"{exc.name}: {exc.device_message}{hint}") from exc
        raise


def _tensor_info(device: Device, select: TensorSelect, index: int) -> TensorInfo:
    payload = _model_request(device, Opcode.TENSOR_INFO,
                             messages.encode_tensor_info(select, index), device.timeouts.request)
    return TensorInfo.decode(payload)


def _numpy_dtype(tensor: TensorInfo) -> np.dtype[np.generic]:
    name = TENSOR_TYPES.get(tensor.type, f"type {tensor.type}")
    if name not in NUMPY_DTYPES:
        raise ModelError(f"tensor {tensor.tensor}: no numpy dtype for {name}")
    return np.dtype(NUMPY_DTYPES[name])


def _tensor_bytes(n: int, array: np.ndarray, tensor: TensorInfo) -> bytes:
    dtype = _numpy_dtype(tensor)
    if array.dtype != dtype or tuple(array.shape) != tensor.shape:
        raise UsageError(f"input {n}: {array.dtype} {list(array.shape)}, the model wants "
                         f"{dtype} {list(tensor.shape)}")
    data = np.ascontiguousarray(array).tobytes()
    if len(data) != tensor.size:
        raise ModelError(f"input {n}: {len(data)} bytes, the device's tensor has {tensor.size}")
    return data
