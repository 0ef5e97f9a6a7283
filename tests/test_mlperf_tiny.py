"""MLPerf Tiny mode: the firmware app that speaks the EEMBC / MLPerf Tiny UART protocol.

- The pure command module (firmware/mlperf_tiny/ee_parse.c) through ctypes: command
  assembly (CR/LF, over-long commands), parsing of every command and its bad forms, and
  the fixed-point float printing against Python's own formatting over many floats.
- The native board (the firmware as a Linux process): a session with a two-input,
  three-output stateful model whose results equal tflite_micro's, printed exactly as the
  host formats them; each error path answers e-[...] and m-ready and the device keeps
  working; without a model it can run (none embedded, or one with an operator it has
  no kernel for) every command says why, and how to build one.
- qemu-m4: a scripted runner session on the MLPerf Tiny KWS model (name, profile,
  db load, 31-byte db chunks, infer 10 1, results) whose results equal tflite_micro's, as
  text and as the int8 values behind them.
"""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from mcubench.boards import get_board, project_root
from mcubench.build import FirmwareOptions, build_firmware
from mcubench.emulator import emulator_for
from mcubench.mlperf_tiny import (
    DEFAULT_CHUNK_BYTES,
    MlperfTinyClient,
    MlperfTinyError,
    decimals_for_scale,
    format_fixed,
    format_results,
    quantized_from_results,
)
from mcubench.model import read_model
from mcubench.reference import ReferenceRunner, random_inputs

from .models import model_path
from .test_run import unsupported_model
from .tflite_builder import ModelBuilder

ROOT = project_root()
APP = ROOT / "firmware" / "mlperf_tiny"
BUILD = ROOT / ".build" / "native"
WARNINGS = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wstrict-prototypes",
            "-Werror", "-ffp-contract=off", f"-I{ROOT / 'firmware' / 'include'}"]
KINDS = ["EMPTY", "NAME", "PROFILE", "TIMESTAMP", "HELP", "DB_LOAD", "DB_DATA", "DB_PRINT",
         "INFER", "RESULTS", "UNKNOWN", "BAD"]
LINE_MAX = 256


# ---- the pure module, through ctypes -------------------------------------------------------


class Command(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("n", ctypes.c_uint32), ("w", ctypes.c_uint32),
                ("has_n", ctypes.c_bool), ("has_w", ctypes.c_bool), ("arg", ctypes.c_void_p),
                ("arg_len", ctypes.c_uint32), ("message", ctypes.c_char * 80)]


class Line(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_char * LINE_MAX), ("len", ctypes.c_uint32),
                ("total", ctypes.c_uint32), ("done", ctypes.c_bool)]


class Msg(ctypes.Structure):
    _fields_ = [("text", ctypes.c_void_p), ("cap", ctypes.c_size_t), ("len", ctypes.c_size_t)]


@pytest.fixture(scope="module")
def ee() -> ctypes.CDLL:
    """ee_parse.c (and the runtime's msg.c it builds on) as a shared library, with UBSan."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    BUILD.mkdir(parents=True, exist_ok=True)
    lib = BUILD / "libmcb_ee_parse.so"
    cmd = ["gcc", *WARNINGS, "-O1", "-g", "-shared", "-fPIC", "-fsanitize=undefined",
           "-fno-sanitize-recover=all", str(APP / "ee_parse.c"),
           str(ROOT / "firmware" / "runtime" / "msg.c"), "-o", str(lib)]
    built = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    dll = ctypes.CDLL(str(lib))
    dll.mcb_ee_parse.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.POINTER(Command)]
    dll.mcb_ee_line_feed.argtypes = [ctypes.POINTER(Line), ctypes.c_uint8]
    dll.mcb_ee_line_feed.restype = ctypes.c_int
    dll.mcb_msg_init.argtypes = [ctypes.POINTER(Msg), ctypes.c_char_p, ctypes.c_size_t]
    dll.mcb_ee_msg_fixed.argtypes = [ctypes.POINTER(Msg), ctypes.c_float, ctypes.c_uint32]
    dll.mcb_ee_decimals_for_scale.argtypes = [ctypes.c_float]
    dll.mcb_ee_decimals_for_scale.restype = ctypes.c_uint32
    return dll


def test_app_sources_compile_warning_free() -> None:
    """Every file of the app with the firmware's warning flags, -Werror, at -Os and -O2."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    for opt in ("-Os", "-O2"):
        for source in sorted(APP.glob("*.c")):
            cmd = ["gcc", *WARNINGS, opt, "-c", str(source), "-o", "/dev/null"]
            built = subprocess.run(cmd, capture_output=True, text=True, check=False)
            assert built.returncode == 0, f"{source.name} {opt}:\n{built.stderr}"


def parse(ee: ctypes.CDLL, text: str) -> tuple[str, int, int, str]:
    """(kind, n, w, argument or error message) of one command."""
    raw = text.encode()
    out = Command()
    ee.mcb_ee_parse(raw, len(raw), ctypes.byref(out))
    kind = KINDS[out.kind]
    if kind == "BAD":
        detail = out.message.decode()
    elif out.arg:
        detail = ctypes.string_at(out.arg, out.arg_len).decode()
    else:
        detail = ""
    return kind, out.n, out.w, detail


@pytest.mark.parametrize(("text", "expected"), [(case[0], case[1:]) for case in [
    ("", "EMPTY", 0, 0, ""),
    (" \t ", "EMPTY", 0, 0, ""),
    ("name", "NAME", 0, 0, ""),
    ("profile", "PROFILE", 0, 0, ""),
    ("timestamp", "TIMESTAMP", 0, 0, ""),
    ("results", "RESULTS", 0, 0, ""),
    ("help", "HELP", 0, 0, ""),
    ("name now", "BAD", 0, 0, "name takes no arguments"),
    ("db load 490", "DB_LOAD", 490, 0, ""),
    ("  db \t load  7 ", "DB_LOAD", 7, 0, ""),
    ("db load 4294967295", "DB_LOAD", 4294967295, 0, ""),
    ("db load", "BAD", 0, 0, "Command 'db load' requires the # of bytes"),
    ("db load 0", "BAD", 0, 0, "Command 'db load' must be >0 bytes"),
    ("db load -1", "BAD", 0, 0, "db load N: '-1' is not a number"),
    ("db load 12x", "BAD", 0, 0, "db load N: '12x' is not a number"),
    ("db load 4294967296", "BAD", 0, 0, "db load N: '4294967296' is not a number"),
    ("db load 1 2", "BAD", 0, 0, "db load takes one number: db load N"),
    ("db 00ff7F", "DB_DATA", 0, 0, "00ff7F"),
    ("db 0", "BAD", 0, 0, "Odd number of hex digits (1): two per byte"),
    ("db 0g", "BAD", 0, 0, "Invalid hex digit 'g' at position 1"),
    ("db 00 11", "BAD", 0, 0, "db takes one run of hex digits, without spaces"),
    ("db", "BAD", 0, 0, "Command 'db' requires a subcommand: load N, print, or hex bytes"),
    ("db print", "DB_PRINT", 0, 0, ""),
    ("db print 4 2", "DB_PRINT", 4, 2, ""),
    ("db print x", "BAD", 0, 0, "db print N: 'x' is not a number"),
    ("db print 1 2 3", "BAD", 0, 0, "db print takes at most two numbers: db print N offset"),
    ("infer", "INFER", 1, 10, ""),
    ("infer 5", "INFER", 5, 10, ""),
    ("infer 10 1", "INFER", 10, 1, ""),
    ("infer 1 0", "INFER", 1, 0, ""),
    ("infer 0", "BAD", 0, 10, "Inference iterations must be >0"),
    ("infer 100001", "BAD", 100001, 10, "infer N W: at most 100000 each"),
    ("infer 1 100001", "BAD", 1, 100001, "infer N W: at most 100000 each"),
    ("infer a", "BAD", 1, 10, "infer N: 'a' is not a number"),
    ("infer 1 2 3", "BAD", 1, 10, "infer takes at most two numbers: infer N W"),
    ("Name", "UNKNOWN", 0, 0, "Name"),
    ("dbload 3", "UNKNOWN", 0, 0, "dbload"),
]])
def test_parse(ee: ctypes.CDLL, text: str, expected: tuple[str, int, int, str]) -> None:
    """(kind, n, w, argument or error message) of each command."""
    assert parse(ee, text) == expected


def feed(ee: ctypes.CDLL, line: Line, data: bytes) -> list[tuple[str, bytes]]:
    """Events of feeding data byte by byte: ("COMMAND", text) or ("TOO_LONG", b"")."""
    events = []
    for byte in data:
        ev = ee.mcb_ee_line_feed(ctypes.byref(line), byte)
        if ev == 1:
            events.append(("COMMAND", ctypes.string_at(ctypes.addressof(line), line.len)))
        elif ev == 2:
            events.append(("TOO_LONG", b""))
    return events


def test_line_assembly(ee: ctypes.CDLL) -> None:
    line = Line()
    assert feed(ee, line, b"na\r\nme%%db load 4%") == [
        ("COMMAND", b"name"), ("COMMAND", b""), ("COMMAND", b"db load 4")]
    exact = b"x" * LINE_MAX
    assert feed(ee, line, exact + b"%") == [("COMMAND", exact)]
    assert feed(ee, line, exact + b"y%name%") == [("TOO_LONG", b""), ("COMMAND", b"name")]
    assert feed(ee, line, b"z" * 100_000 + b"%\x00\xff%") == [
        ("TOO_LONG", b""), ("COMMAND", b"\x00\xff")]


def fixed(ee: ctypes.CDLL, value: float, decimals: int) -> str:
    storage = ctypes.create_string_buffer(128)
    msg = Msg()
    ee.mcb_msg_init(ctypes.byref(msg), storage, len(storage))
    ee.mcb_ee_msg_fixed(ctypes.byref(msg), value, decimals)
    return storage.value.decode()


def test_fixed_point_matches_python(ee: ctypes.CDLL) -> None:
    """Correct rounding from the exact binary value, ties to even, every magnitude."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, size=3000, dtype=np.uint64).astype(np.uint32)
    values = [float(v) for v in bits.view(np.float32)]
    steps = [float(v) for v in (np.arange(-300, 300, dtype=np.float32) * np.float32(1 / 256))]
    edges = [0.0, -0.0, 0.0625, 0.0005, 0.0015, 2.5, -2.5, 0.125, 1e-45, -1e-45,
             float(np.finfo(np.float32).max), float(np.finfo(np.float32).min), 8388607.5,
             16777216.0, 0.9999995, math.inf, -math.inf, math.nan]
    for value in values + steps + edges:
        for decimals in range(10):
            want = format_fixed(float(np.float32(value)), decimals)
            assert fixed(ee, value, decimals) == want, (value, decimals)


@pytest.mark.parametrize("scale", [10.0, 0.002, 0.0019999, 1 / 256, 0.0015, 2e-4, 1.9e-4,
                                   2e-8, 1e-12, 0.0, -1.0, math.nan])
def test_decimals_for_scale(ee: ctypes.CDLL, scale: float) -> None:
    assert ee.mcb_ee_decimals_for_scale(scale) == decimals_for_scale(scale)


def test_printed_values_give_back_every_integer() -> None:
    """Enough decimals that round(printed / scale) + zero point is the integer, down to
    tiny scales."""
    q = np.arange(-128, 128, dtype=np.int64)
    for scale in (1.0, 1 / 256, 0.0015, 3.3e-5, 7e-9):
        decimals = decimals_for_scale(scale)
        real = (q + 3).astype(np.float32) * np.float32(scale)
        printed = [float(format_fixed(float(v), decimals)) for v in real]
        back = np.rint(np.array(printed) / np.float32(scale)) - 3
        assert back.tolist() == q.tolist(), scale
    graph = read_model(session_model()).subgraphs[0]
    h = graph.tensors[graph.outputs[1]]  # int8, scale 0.0015, zero point 2
    ints = np.array([[-128, -1, 0, 1, 127]], dtype=np.int8)
    text = format_results(read_model(session_model()),
                          [np.zeros((1, WIDTH), np.int8), ints, np.zeros((1, WIDTH), np.float32)])
    values = [float(v) for v in text.split(",")[WIDTH:WIDTH + 5]]
    assert quantized_from_results(h, values).tolist() == ints.reshape(-1).tolist()


# ---- the native board ------------------------------------------------------------------------

WIDTH = 16  # the state's width in session_model


def session_model() -> bytes:
    """Two inputs, three outputs of three print formats, and state across invocations.

    Subgraph 0: y = state + x (int8, scale 0.5; the state is a resource variable that
    CALL_ONCE's subgraph 1 sets to 0, 1, 2, ...), state = y; h = FULLY_CONNECTED(b) (int8,
    scale 0.0015: printed with 4 decimals); z = DEQUANTIZE(y) (float32). Outputs y, h, z.
    """
    rng = np.random.default_rng(3)
    mb = ModelBuilder()
    main, init = mb.add_subgraph("main"), mb.add_subgraph("init")
    x = main.add_tensor([1, WIDTH], name="x", scales=0.5)
    b = main.add_tensor([1, 8], name="b", scales=0.05, zero_points=-3)
    handle = main.add_tensor([], "RESOURCE", name="handle")
    state = main.add_tensor([1, WIDTH], name="state", scales=0.5)
    y = main.add_tensor([1, WIDTH], name="y", scales=0.5)
    w = main.add_tensor([5, 8], name="w", scales=0.002, data=rng.integers(-127, 128, (5, 8)))
    bias = main.add_tensor([5], "INT32", name="bias", scales=0.05 * 0.002,
                           data=rng.integers(-300, 300, 5))
    h = main.add_tensor([1, 5], name="h", scales=0.0015, zero_points=2)
    z = main.add_tensor([1, WIDTH], "FLOAT32", name="z")
    main.add_operator("CALL_ONCE", [], [], {"init_subgraph_index": init.index})
    main.add_operator("VAR_HANDLE", [], [handle], {"shared_name": "acc"})
    main.add_operator("READ_VARIABLE", [handle], [state])
    main.add_operator("ADD", [state, x], [y])
    main.add_operator("ASSIGN_VARIABLE", [handle, y], [])
    main.add_operator("FULLY_CONNECTED", [b, w, bias], [h])
    main.add_operator("DEQUANTIZE", [y], [z])
    main.set_io([x, b], [y, h, z])
    init_handle = init.add_tensor([], "RESOURCE", name="handle")
    start = init.add_tensor([1, WIDTH], name="start", data=np.arange(WIDTH), scales=0.5)
    init.add_operator("VAR_HANDLE", [], [init_handle], {"shared_name": "acc"})
    init.add_operator("ASSIGN_VARIABLE", [init_handle, start], [])
    return mb.build()


@pytest.fixture(scope="module")
def native_elf() -> Callable[[bytes | None], Path]:
    """MLPerf Tiny firmware for the native board, per embedded model, built once."""
    built: dict[bytes | None, Path] = {}

    def get(model: bytes | None) -> Path:
        if model not in built:
            options = FirmwareOptions(app="mlperf-tiny", model=model)
            built[model] = build_firmware(get_board("native"), options).elf
        return built[model]

    return get


@pytest.fixture
def native_session(native_elf: Callable[[bytes | None], Path]) -> Iterator[MlperfTinyClient]:
    with emulator_for(get_board("native"), native_elf(session_model())) as emulator, \
            MlperfTinyClient(emulator.url, timeout=10.0) as client:
        yield client


def upload(client: MlperfTinyClient, inputs: list[np.ndarray], chunk: int) -> bytes:
    data = b"".join(a.tobytes() for a in inputs)
    client.load(data, chunk_bytes=chunk)
    return data


def tflm_results(runner: ReferenceRunner, inputs: list[np.ndarray], steps: int) -> str:
    outputs: list[np.ndarray] = []
    for _ in range(steps):
        outputs = runner.invoke(inputs)
    return format_results(runner.model, outputs)


@pytest.mark.native
def test_native_session_matches_tflm(native_session: MlperfTinyClient) -> None:
    """W + N steps from the model's initial state per infer, two inputs back to back."""
    client = native_session
    model_bytes = session_model()
    assert client.name() == "mcubench native"
    profile = client.profile()
    assert (profile.profile, profile.model) == ("ULPMark for tinyML Firmware V0.0.1", "unknown")
    assert profile.input_bytes == WIDTH + 8
    assert profile.details["output_values"] == str(WIDTH + 5 + WIDTH)

    runner = ReferenceRunner(model_bytes)
    inputs = random_inputs(runner.model, seed=5)
    data = upload(client, inputs, chunk=5)
    assert client.db_print() == data
    assert client.db_print(3, 4) == data[4:7]

    first = client.infer(3, 2)
    assert first.results_text == tflm_results(runner, inputs, 5)
    assert first.elapsed_us >= 0
    # A second infer starts from the initial state again (TFLM: reset), not from step 5.
    runner.reset()
    second = client.infer(2, 0)
    assert second.results_text == tflm_results(runner, inputs, 2)
    assert second.results_text != first.results_text
    assert client.results() == second.results

    # A new input, in chunks of the runner's size.
    other = random_inputs(runner.model, seed=6)
    upload(client, other, chunk=DEFAULT_CHUNK_BYTES)
    runner.reset()
    assert client.infer(1, 0).results_text == tflm_results(runner, other, 1)


N_IN = WIDTH + 8  # session_model's input bytes
# (command bytes, what the e-[...] says); each must leave the device answering.
ERROR_CASES: list[tuple[bytes, str]] = [
    (b"db 00%", "db without db load: send db load N first"),
    (b"db print%", "nothing to print: db load N first"),
    (b"infer 1 0%", f"no input loaded: the model takes {N_IN} bytes (db load {N_IN}, then db "
                    "chunks)"),
    (b"results%", "no results: run infer N W first"),
    (b"db load 25%", f"db load 25: the model's input takes {N_IN} bytes"),
    (b"db load 99999999999%", "db load N: '99999999999' is not a number"),
    (b"db load 4%db 0011223344%", "db chunk of 5 bytes: only 4 of 4 remain (nothing stored)"),
    (b"db 0g%", "Invalid hex digit 'g' at position 1"),
    (b"db 123%", "Odd number of hex digits (3): two per byte"),
    (b"db 001122%db 33%db 44%", "all 4 bytes are loaded: db load N starts over"),
    (b"infer 1 0%", f"db load 4 does not fit the model: the model takes {N_IN} bytes (db load "
                    f"{N_IN}, then db chunks)"),
    (b"db print 5 0%", "db print: bytes 0.. (5 of them) are outside the 4 of db load"),
    (b"db print 1 5%", "db print: bytes 5.. (1 of them) are outside the 4 of db load"),
    (b"db load 24%db 0011%infer%", "input incomplete: 2 of 24 bytes loaded; the model takes 24 "
                                   "bytes (db load 24, then db chunks)"),
    (b"infer 0%", "Inference iterations must be >0"),
    (b"infer 1 -1%", "infer N W: '-1' is not a number"),
    (b"bogus thing%", "Unknown command: bogus"),
    (b"\x00\xff[x]%", "Unknown command: ???x?"),
    (b"a" * 300 + b"%", "Command too long: more than 256 characters before %, ignored"),
    (b"b" * 5000 + b"%", "Command too long: more than 256 characters before %, ignored"),
]


@pytest.mark.native
def test_native_error_paths(native_session: MlperfTinyClient) -> None:
    client = native_session
    for data, message in ERROR_CASES:
        client.write_raw(data)
        replies = [client.read_reply(repr(data)) for _ in range(data.count(b"%"))]
        errors = [e for reply in replies for e in reply.errors()]
        assert errors == [message], (data, replies)
        assert client.name() == "mcubench native"  # still answering

    # A command split over several writes, then a whole valid session after all that.
    client.write_raw(b"na")
    client.write_raw(b"me")
    client.write_raw(b"%")
    assert client.read_reply("name").lines == ("m-name-dut-[mcubench native]",)
    runner = ReferenceRunner(session_model())
    inputs = random_inputs(runner.model, seed=9)
    upload(client, inputs, chunk=7)
    assert client.infer(1, 1).results_text == tflm_results(runner, inputs, 2)
    with pytest.raises(MlperfTinyError, match="Unknown command: nope"):
        client.command("nope")


@pytest.mark.native
@pytest.mark.parametrize(("model", "reason"), [
    (None, "no model in this firmware: build it with mcubench build --board native --app "
           "mlperf-tiny --model M"),
    (unsupported_model(), "the embedded model cannot run: node 1 (FLOOR): "),
], ids=["no model", "unsupported operator"])
def test_native_without_usable_model(native_elf: Callable[[bytes | None], Path],
                                     model: bytes | None, reason: str) -> None:
    """The official runner never uploads a model: without one it can run, every command
    says why (and how to build one), after the command's word."""
    with emulator_for(get_board("native"), native_elf(model)) as emulator, \
            MlperfTinyClient(emulator.url) as client:
        for command in ("name", "profile", "timestamp", "db load 4", "db 00", "db print",
                        "infer 1 0", "results", "help", "whatever x"):
            errors = client.send(command).errors()
            assert len(errors) == 1, (command, errors)
            assert errors[0].startswith(f"{command.split()[0]}: {reason}"), errors
        assert client.send("").lines == ()
        with pytest.raises(MlperfTinyError, match=r"name: "):
            client.name()


# ---- an emulated board -----------------------------------------------------------------------


@pytest.mark.emulated
def test_qemu_m4_kws_session_matches_tflm() -> None:
    """The official runner's session on the MLPerf Tiny KWS model, on qemu-m4."""
    model_bytes = model_path("kws_ref_model.tflite").read_bytes()
    board = get_board("qemu-m4")
    elf = build_firmware(board, FirmwareOptions(app="mlperf-tiny", model=model_bytes)).elf
    runner = ReferenceRunner(model_bytes)
    output = runner.model.subgraphs[0].tensors[runner.model.subgraphs[0].outputs[0]]
    with emulator_for(board, elf) as emulator, \
            MlperfTinyClient(emulator.url, timeout=60.0) as client:
        assert client.name() == "mcubench qemu-m4"
        profile = client.profile()
        assert profile.model == "kws01"
        assert profile.input_bytes == 490
        first, second = client.timestamp(), client.timestamp()
        assert second >= first

        for seed, (iterations, warmups) in ((0, (10, 1)), (1, (1, 0))):
            inputs = random_inputs(runner.model, seed)
            data = upload(client, inputs, chunk=DEFAULT_CHUNK_BYTES)  # 16 db chunks
            assert client.db_print() == data
            result = client.infer(iterations, warmups)
            expected = tflm_results(runner, inputs, iterations + warmups)
            assert result.results_text == expected
            device_int8 = quantized_from_results(output, result.results)
            assert device_int8.tolist() == runner.invoke(inputs)[0].reshape(-1).tolist()
            # Virtual microseconds: about 65k per KWS inference (65 M instructions).
            assert result.elapsed_us > 1000 * iterations
            print(f"kws01 on qemu-m4: {result.per_inference_us:.0f} virtual us per inference "
                  f"({iterations} timed, {warmups} warm-up)")
        assert client.results() == result.results
