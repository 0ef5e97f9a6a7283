"""The exception tree, and the one place that maps it to exit codes.

Every error the CLI can report is an ``McubenchError``; its class decides the process
exit code. Code raising an error picks the most specific class and writes a message a
user can act on.
"""

from __future__ import annotations


class McubenchError(Exception):
    """Base of every error mcubench reports to a user."""

    exit_code = 1


class UsageError(McubenchError):
    """The command line or a file named on it is wrong."""

    exit_code = 2


class BoardError(McubenchError):
    """Unknown board, or a board that cannot do what was asked."""

    exit_code = 3


class BuildError(McubenchError):
    """The firmware build (PlatformIO, compilers) failed."""

    exit_code = 4


class EmulatorError(McubenchError):
    """The emulator could not be started or died."""

    exit_code = 5


class TransportError(McubenchError):
    """The serial link failed: cannot open, closed under us, or nothing answered."""

    exit_code = 6


class DeviceTimeout(TransportError):
    """The device did not answer within the named timeout."""


class ProtocolError(McubenchError):
    """The device answered with something the protocol does not allow."""

    exit_code = 7


class DeviceError(ProtocolError):
    """The device answered a request with a typed ERROR frame."""

    def __init__(self, code: int, name: str, request_opcode: int, message: str) -> None:
        super().__init__(
            f"device error {name} ({code}) on request 0x{request_opcode:02x}: {message}"
        )
        self.code = code
        self.name = name
        self.request_opcode = request_opcode
        self.device_message = message


class IntegrityError(ProtocolError):
    """Data arrived but its checksum does not match what was sent."""


class ModelError(McubenchError):
    """A .tflite file is malformed, or uses something mcubench does not support."""

    exit_code = 8


class MismatchError(McubenchError):
    """The device ran the model, and its outputs differ from TFLM's."""

    exit_code = 9


class RegressionError(McubenchError):
    """A benchmark got slower or bigger than its baseline allows (the CI gate)."""

    exit_code = 10


def exit_code_for(error: BaseException) -> int:
    """The process exit code for an error escaping the CLI."""
    if isinstance(error, McubenchError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 130
    return 70  # an internal bug: EX_SOFTWARE
