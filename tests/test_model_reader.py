"""The .tflite reader, MAC counts and the arena estimate, on the shared models and built ones."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from mcubench.errors import ModelError
from mcubench.model import model_macs, plan_arena, read_model, subgraph_macs
from mcubench.reference import ReferenceRunner

from .models import SHARED_MODELS, model_path
from .tflite_builder import ModelBuilder, accumulator_model, fully_connected_model

# The estimate mirrors TFLM's planner (lifetimes, 16-byte sizes, greedy placement, SVDF
# scratch), so it must equal TFLM's non-persistent arena. A difference means TFLM changed
# (a kernel's scratch request, the planner) or the estimate drifted.
ARENA_TOLERANCE_BYTES = 0


# --- the shared models ---------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SHARED_MODELS))
def test_shared_model_ops_and_io_match_the_readme(name: str) -> None:
    expected = SHARED_MODELS[name]
    model = read_model(model_path(name).read_bytes())
    assert len(model.subgraphs) == 1
    graph = model.subgraphs[0]
    assert {op.op for op in graph.operators} == expected.ops
    (inp,), (out,) = ([graph.tensors[t] for t in ts] for ts in (graph.inputs, graph.outputs))
    assert (inp.dtype, inp.shape) == expected.input
    assert (out.dtype, out.shape) == expected.output
    assert inp.quantization is not None and not inp.is_constant


@pytest.mark.parametrize("name", sorted(n for n, m in SHARED_MODELS.items() if m.macs))
def test_macs_equal_the_reference_numbers(name: str) -> None:
    model = read_model(model_path(name).read_bytes())
    assert model_macs(model) == SHARED_MODELS[name].macs


def test_svdf_macs_count_feature_and_time_weights() -> None:
    graph = read_model(model_path("keyword_scrambled.tflite").read_bytes()).subgraphs[0]
    macs = dict(zip((op.index for op in graph.operators), subgraph_macs(graph), strict=True))
    assert macs[1] == 64 * (96 + 8)  # SVDF: 64 filters, input 96, memory 8
    assert macs[9] == 32 * (16 + 32)
    assert macs[2] == 16 * 64  # FULLY_CONNECTED 64 -> 16
    assert macs[0] == macs[13] == 0  # QUANTIZE, SOFTMAX
    assert sum(macs.values()) == 21_056


@pytest.mark.parametrize("name", sorted(SHARED_MODELS))
def test_arena_estimate_matches_tflm(name: str) -> None:
    data = model_path(name).read_bytes()
    ours = plan_arena(read_model(data)).peak_bytes
    tflm = ReferenceRunner(data).arena()
    assert abs(ours - tflm.non_persistent_bytes) <= ARENA_TOLERANCE_BYTES, (
        f"{name}: estimate {ours} bytes, TFLM non-persistent {tflm.non_persistent_bytes} "
        f"(total {tflm.total_bytes}, persistent {tflm.persistent_bytes})"
    )


@pytest.mark.parametrize("sevenths", range(1, 7))
def test_truncated_real_model_is_a_model_error(sevenths: int) -> None:
    data = model_path("kws_ref_model.tflite").read_bytes()
    with pytest.raises(ModelError, match="truncated or corrupt"):
        read_model(data[: len(data) * sevenths // 7])


# --- built models: what the reader returns -------------------------------------------

def test_built_model_reads_back() -> None:
    model = read_model(fully_connected_model(batch=2, depth=8, units=5, activation="RELU"))
    assert model.version == 3 and model.description == "mcubench test model"
    graph = model.subgraphs[0]
    assert graph.name == "main" and graph.inputs == (0,) and graph.outputs == (3,)
    x, w, bias, _ = graph.tensors
    assert (x.name, x.shape, x.dtype, x.is_constant) == ("input", (2, 8), "INT8", False)
    assert x.quantization is not None
    assert x.quantization.zero_points == (-3,) and x.quantization.scales[0] == pytest.approx(0.05)
    assert (w.shape, w.is_constant, bias.dtype) == ((5, 8), True, "INT32")
    assert model.buffer_sizes[w.buffer] == 40 and model.buffer_sizes[bias.buffer] == 20
    (op,) = graph.operators
    assert (op.op, op.inputs, op.outputs, op.custom) == ("FULLY_CONNECTED", (0, 1, 2), (3,), False)
    assert op.options["fused_activation_function"] == "RELU"
    assert op.options["keep_num_dims"] is False
    assert model_macs(model) == 2 * 5 * 8
    assert hash(model) == hash(read_model(fully_connected_model(2, 8, 5, activation="RELU")))


def test_options_per_channel_quantisation_and_custom_ops_read_back() -> None:
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 9, 9, 3], "INT8", scales=0.5, zero_points=-128)
    w = g.add_tensor([4, 3, 3, 3], "INT8", data=np.ones((4, 3, 3, 3)),
                     scales=[0.1, 0.2, 0.3, 0.4], zero_points=0, quantized_dimension=0)
    y = g.add_tensor([1, 5, 5, 4], "INT8", scales=1.0, shape_signature=[-1, 5, 5, 4])
    z = g.add_tensor([1, 5, 5, 4], "INT8", scales=1.0)
    state = g.add_tensor([1, 4], "INT16", variable=True)
    g.add_operator("CONV_2D", [x, w, -1], [y], {
        "padding": "SAME", "stride_w": 2, "stride_h": 2, "dilation_w_factor": 1,
        "fused_activation_function": "RELU6"})
    g.add_operator("MY_FANCY_OP", [y, state], [z], custom=True)
    g.set_io([x], [z])
    model = read_model(mb.build())
    graph = model.subgraphs[0]
    conv, custom = graph.operators
    assert conv.options["padding"] == "SAME" and conv.options["stride_w"] == 2
    assert conv.options["dilation_w_factor"] == 1
    assert conv.options["fused_activation_function"] == "RELU6"
    assert conv.inputs == (x, w, -1)
    quant = graph.tensors[w].quantization
    assert quant is not None and quant.per_channel and len(quant.zero_points) == 4
    assert graph.tensors[y].shape_signature == (-1, 5, 5, 4)
    assert graph.tensors[z].shape_signature == (1, 5, 5, 4)  # none in the file: the shape
    assert graph.tensors[state].is_variable and graph.tensors[state].quantization is None
    assert (custom.op, custom.custom, dict(custom.options)) == ("MY_FANCY_OP", True, {})
    assert model.operator_codes[custom.opcode_index].custom
    assert subgraph_macs(graph) == (5 * 5 * 4 * 3 * 3 * 3, 0)


def test_buffer_data_is_16_byte_aligned() -> None:
    data = fully_connected_model(depth=3, units=3)
    root = schema.Model.GetRootAs(data, 0)
    for i in range(1, root.BuffersLength()):
        tab = root.Buffers(i)._tab
        assert tab.Vector(tab.Offset(4)) % 16 == 0


# --- malformed models -----------------------------------------------------------------

def test_every_truncation_of_a_small_model_is_a_model_error() -> None:
    data = fully_connected_model()
    for n in range(len(data)):
        with pytest.raises(ModelError):
            read_model(data[:n])


def test_wrong_identifier_is_named() -> None:
    data = bytearray(fully_connected_model())
    data[4:8] = b"TFL2"
    with pytest.raises(ModelError, match=r"file identifier is b'TFL2', expected b'TFL3'"):
        read_model(bytes(data))


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_a_model_error(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = bytearray(rng.integers(0, 256, size=int(rng.integers(0, 4000)), dtype=np.uint8))
    with pytest.raises(ModelError):
        read_model(bytes(data))
    if len(data) >= 8:  # with the right identifier the garbage reaches the tables
        data[4:8] = b"TFL3"
        with pytest.raises(ModelError):
            read_model(bytes(data))


def test_corrupted_models_fail_only_with_model_error() -> None:
    """Random byte changes: the model reads, or the reader, MACs and arena say ModelError."""
    original = fully_connected_model(depth=6, units=5)
    rng = np.random.default_rng(7)
    rejected = 0
    for _ in range(1500):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        try:
            model = read_model(bytes(data))
            model_macs(model)
            plan_arena(model)
        except ModelError:
            rejected += 1
    assert rejected > 500  # most changes land in structure, not in weights


def _operator_inputs_position(data: bytes) -> int:
    op = schema.Model.GetRootAs(data, 0).Subgraphs(0).Operators(0)
    return int(op._tab.Vector(op._tab.Offset(6)))  # slot 6: Operator.inputs


def test_operator_input_out_of_range_is_named() -> None:
    data = bytearray(fully_connected_model())
    struct.pack_into("<i", data, _operator_inputs_position(bytes(data)) + 4, 99)  # input 1
    with pytest.raises(ModelError) as error:
        read_model(bytes(data))
    assert str(error.value) == ("subgraph 0, operator 0 (FULLY_CONNECTED): input 1 is tensor "
                                "99, out of range (0..3)")


def test_unknown_opcode_is_named() -> None:
    data = bytearray(fully_connected_model())
    code = schema.Model.GetRootAs(bytes(data), 0).OperatorCodes(0)
    struct.pack_into("<i", data, code._tab.Pos + code._tab.Offset(10), 9999)  # builtin_code
    with pytest.raises(ModelError, match=r"^operator code 0: unknown builtin operator 9999$"):
        read_model(bytes(data))


def _broken(kind: str) -> bytes:
    """A one-op model broken in one way, by construction (the builder checks nothing)."""
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 4], scales=0.1)
    w = g.add_tensor([2, 4], data=np.zeros((2, 4)), scales=0.1)
    y = g.add_tensor([1, 2], scales=0.1)
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [-1 if kind == "output" else y])
    g.set_io([x], [7 if kind == "graph output" else y])
    if kind == "opcode index":
        g.operators[0].opcodeIndex = 3
    if kind == "buffer":
        g.tensors[w].buffer = 42
    if kind == "shape":
        g.tensors[x].shape = [1, -4]
    return mb.build()


@pytest.mark.parametrize(("kind", "message"), [
    ("opcode index", "subgraph 0, operator 0: operator code index 3 out of range (0..0)"),
    ("buffer", "subgraph 0, tensor 1 ('t1'): buffer 42 out of range (0..1)"),
    ("output", "subgraph 0, operator 0 (FULLY_CONNECTED): output 0 is tensor -1, "
               "out of range (0..2)"),
    ("graph output", "subgraph 0: output tensor 7 out of range (0..2)"),
    ("shape", "subgraph 0, tensor 0 ('t0'): negative dimension in shape [1, -4]"),
])
def test_broken_indices_are_named(kind: str, message: str) -> None:
    with pytest.raises(ModelError) as error:
        read_model(_broken(kind))
    assert str(error.value) == message


def test_mac_rule_names_a_malformed_filter() -> None:
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 4, 4, 2])
    w = g.add_tensor([3, 3, 2], data=np.zeros((3, 3, 2)))
    y = g.add_tensor([1, 2, 2, 3])
    g.add_operator("CONV_2D", [x, w, -1], [y])
    g.set_io([x], [y])
    with pytest.raises(ModelError, match=r"operator 0 \(CONV_2D\): filter \(tensor 1\) has "
                                         r"shape \[3, 3, 2\], expected 4 dimensions"):
        model_macs(read_model(mb.build()))


# --- the arena planner against TFLM on built graphs ------------------------------------

def _random_fc_graph(seed: int) -> bytes:
    """FULLY_CONNECTED layers each reading a random earlier activation: mixed lifetimes."""
    rng = np.random.default_rng(seed)
    mb = ModelBuilder()
    g = mb.add_subgraph()
    width = int(rng.integers(1, 200))
    x = g.add_tensor([1, width], scales=0.1)
    activations = [(x, width)]
    for _ in range(int(rng.integers(2, 12))):
        source, depth = activations[int(rng.integers(0, len(activations)))]
        units = int(rng.integers(1, 300))
        w = g.add_tensor([units, depth], scales=0.01,
                         data=rng.integers(-127, 128, size=(units, depth)))
        y = g.add_tensor([1, units], scales=0.1)
        g.add_operator("FULLY_CONNECTED", [source, w, -1], [y])
        activations.append((y, units))
    outputs = [activations[-1][0]]
    if rng.random() < 0.5:
        outputs.insert(0, activations[int(rng.integers(1, len(activations) - 1))][0])
    if rng.random() < 0.5:  # never written nor read: TFLM still plans it
        g.add_tensor([1, int(rng.integers(1, 100))], scales=0.1)
    g.set_io([x], list(dict.fromkeys(outputs)))
    return mb.build()


@pytest.mark.parametrize("seed", range(30))
def test_arena_estimate_matches_tflm_on_random_graphs(seed: int) -> None:
    data = _random_fc_graph(seed)
    ours = plan_arena(read_model(data)).peak_bytes
    tflm = ReferenceRunner(data).arena().non_persistent_bytes
    assert ours == tflm, f"seed {seed}: estimate {ours} bytes, TFLM {tflm}"


def test_arena_plan_places_every_activation_without_overlap() -> None:
    model = read_model(_random_fc_graph(3))
    plan = plan_arena(model)
    graph = model.subgraphs[0]
    planned = {b.tensor for b in plan.buffers}
    assert planned == {t.index for t in graph.tensors if not t.is_constant}
    for a in plan.buffers:
        assert a.size % 16 == 0
        for b in plan.buffers:
            live_together = a is not b and a.first_use <= b.last_use and b.first_use <= a.last_use
            if live_together:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset


def test_missing_models_folder_skips_with_its_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MCUBENCH_MODELS", str(tmp_path / "nowhere"))
    with pytest.raises(pytest.skip.Exception, match="nowhere"):
        model_path("kws_ref_model.tflite")


def test_tensors_nothing_uses_are_planned_like_tflm() -> None:
    """TFLM gives them lifetime (-1, -1): they overlap one another, so they stack up."""
    mb = ModelBuilder()
    g = mb.add_subgraph()
    x = g.add_tensor([1, 8], scales=0.1)
    w = g.add_tensor([4, 8], data=np.ones((4, 8)), scales=0.1)
    y = g.add_tensor([1, 4], scales=0.1)
    g.add_operator("FULLY_CONNECTED", [x, w, -1], [y])
    for _ in range(3):
        g.add_tensor([1, 1000], scales=0.1)
    g.set_io([x], [y])
    data = mb.build()
    ours = plan_arena(read_model(data)).peak_bytes
    assert ours == 3 * 1008
    assert ours == ReferenceRunner(data).arena().non_persistent_bytes


def test_arena_with_call_once_and_resource_variables_matches_tflm() -> None:
    """Subgraph 1 is planned inside CALL_ONCE's lifetime; VAR_HANDLE outputs are not planned."""
    data = accumulator_model(width=40)
    model = read_model(data)
    plan = plan_arena(model)
    assert {(b.subgraph, b.tensor) for b in plan.buffers} == {(0, 0), (0, 2), (0, 3)}
    assert plan.peak_bytes == 3 * 48
    assert plan.peak_bytes == ReferenceRunner(data).arena().non_persistent_bytes
    assert [op.options for op in model.subgraphs[0].operators[:2]] == [
        {"init_subgraph_index": 1}, {"container": None, "shared_name": "acc"}]
