"""A model on a device: load it, set inputs, invoke, read outputs (docs/protocol.md, *Inference*).

The model goes into the pool at offset 0 with the bulk WRITE requests (or is the one linked
into the firmware); MODEL_LOAD gives the rest of the pool to the interpreter as its arena.
Inputs and outputs live in the arena, so they travel with the same bulk WRITE and READ, at
the pool offsets TENSOR_INFO reports.
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
from mcubench.protocol.codes import Capability, ErrorCode, ModelSource, Opcode, TensorSelect
from mcubench.protocol.messages import InvokeResult, LoadedModel, ProfilePage, TensorInfo
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


class LoadedInference:
    """One model loaded on one device. Make it with ``load_on_device``."""

    def __init__(self, device: Device, loaded: LoadedModel, inputs: list[TensorInfo],
                 outputs: list[TensorInfo], timeouts: Timeouts) -> None:
        self.device = device
        self.loaded = loaded
        self.inputs = inputs
        self.outputs = outputs
        self.timeouts = timeouts

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
