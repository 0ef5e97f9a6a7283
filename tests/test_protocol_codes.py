"""codes.py mirrors firmware/include/mcb/protocol_defs.h exactly, in both directions."""

from __future__ import annotations

import dataclasses
import re
from enum import Enum
from pathlib import Path

import pytest

from mcubench.protocol import codes
from mcubench.protocol.messages import DeviceInfo

HEADER = Path(__file__).resolve().parents[1] / "firmware" / "include" / "mcb" / "protocol_defs.h"


def _header() -> str:
    return HEADER.read_text()


def _x_macro(name: str) -> list[tuple[str, ...]]:
    """The X(...) items of ``#define NAME(X) ...`` with backslash continuations."""
    match = re.search(
        rf"^#define {name}\(X\)((?:[^\n]*\\\n)*[^\n]*)$", _header(), flags=re.MULTILINE
    )
    assert match is not None, f"{name} not found in {HEADER}"
    items = re.findall(r"X\(([^)]*)\)", match.group(1))
    assert items, f"{name} has no items"
    return [tuple(part.strip() for part in item.split(",")) for item in items]


def _define(name: str) -> int:
    match = re.search(rf"^#define {name}\s+(0x[0-9A-Fa-f]+|\d+)u?\b", _header(), re.MULTILINE)
    assert match is not None, f"#define {name} not found in {HEADER}"
    return int(match.group(1), 0)


def _members(enum: type[Enum]) -> dict[str, int]:
    return {member.name: int(member.value) for member in enum}


@pytest.mark.parametrize(
    ("macro", "enum"),
    [
        ("MCB_OPCODES", codes.Opcode),
        ("MCB_ERRORS", codes.ErrorCode),
        ("MCB_COUNTER_SOURCES", codes.CounterSource),
    ],
)
def test_enum_matches_header(macro: str, enum: type[Enum]) -> None:
    header = {name: int(value, 0) for name, value in _x_macro(macro)}
    assert _members(enum) == header


def test_info_tags_and_types_match_header() -> None:
    header = {name: (int(value, 0), kind) for name, value, kind in _x_macro("MCB_INFO_TAGS")}
    python = {tag.name: (tag.value, tag.type.value) for tag in codes.InfoTag}
    assert python == header


def test_capabilities_match_header() -> None:
    header = {name: 1 << int(bit, 0) for name, bit in _x_macro("MCB_CAPABILITIES")}
    python = {flag.name: flag.value for flag in codes.Capability}
    assert python == header


@pytest.mark.parametrize(
    ("define", "value"),
    [
        ("MCB_PROTOCOL_VERSION", codes.PROTOCOL_VERSION),
        ("MCB_FRAME_SOF0", codes.SOF0),
        ("MCB_FRAME_SOF1", codes.SOF1),
        ("MCB_FRAME_HEADER_SIZE", codes.HEADER_SIZE),
        ("MCB_FRAME_TRAILER_SIZE", codes.TRAILER_SIZE),
        ("MCB_RESPONSE_BIT", codes.RESPONSE_BIT),
        ("MCB_OPCODE_ERROR", codes.OPCODE_ERROR),
        ("MCB_MODEL_SOURCE_POOL", codes.ModelSource.POOL),
        ("MCB_MODEL_SOURCE_EMBEDDED", codes.ModelSource.EMBEDDED),
        ("MCB_TENSOR_SELECT_INPUT", codes.TensorSelect.INPUT),
        ("MCB_TENSOR_SELECT_OUTPUT", codes.TensorSelect.OUTPUT),
        ("MCB_TENSOR_SELECT_TENSOR", codes.TensorSelect.TENSOR),
        ("MCB_TENSOR_FLAG_WRITABLE", codes.TensorFlag.WRITABLE),
        ("MCB_TENSOR_FLAG_CONSTANT", codes.TensorFlag.CONSTANT),
        ("MCB_TENSOR_FLAG_VARIABLE", codes.TensorFlag.VARIABLE),
        ("MCB_TENSOR_NOT_IN_POOL", codes.TENSOR_NOT_IN_POOL),
    ],
)
def test_constants_match_header(define: str, value: int) -> None:
    assert _define(define) == value


def test_every_header_define_is_checked() -> None:
    """A new numeric #define in the header must be added to the test above."""
    checked = {
        "MCB_PROTOCOL_VERSION",
        "MCB_FRAME_SOF0",
        "MCB_FRAME_SOF1",
        "MCB_FRAME_HEADER_SIZE",
        "MCB_FRAME_TRAILER_SIZE",
        "MCB_RESPONSE_BIT",
        "MCB_OPCODE_ERROR",
        "MCB_MODEL_SOURCE_POOL",
        "MCB_MODEL_SOURCE_EMBEDDED",
        "MCB_TENSOR_SELECT_INPUT",
        "MCB_TENSOR_SELECT_OUTPUT",
        "MCB_TENSOR_SELECT_TENSOR",
        "MCB_TENSOR_FLAG_WRITABLE",
        "MCB_TENSOR_FLAG_CONSTANT",
        "MCB_TENSOR_FLAG_VARIABLE",
        "MCB_TENSOR_NOT_IN_POOL",
    }
    numeric = set(re.findall(r"^#define (MCB_\w+)\s+(?:0x)?[0-9A-Fa-f]+u?\b", _header(), re.M))
    assert numeric == checked


def test_derived_constants() -> None:
    assert codes.SOF == b"\xa5\x5a"
    assert codes.FRAME_OVERHEAD == 11
    assert codes.Opcode.READ.response == 0x93
    assert all(op.value < codes.RESPONSE_BIT for op in codes.Opcode)


def test_device_info_has_a_field_per_tag() -> None:
    fields = {field.name for field in dataclasses.fields(DeviceInfo)}
    assert {tag.name.lower() for tag in codes.InfoTag} == fields


def test_names() -> None:
    assert codes.opcode_name(0x11) == "WRITE_DATA"
    assert codes.opcode_name(0x91) == "WRITE_DATA+"
    assert codes.opcode_name(0xFF) == "ERROR"
    assert codes.opcode_name(0x7E) == "0x7e"
    assert codes.error_name(6) == "SEQUENCE"
    assert codes.error_name(999) == "UNKNOWN_999"
