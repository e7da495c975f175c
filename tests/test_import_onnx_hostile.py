"""Hostile and huge ONNX files (issue 14): each is a located error and exit 2, or a result, never a
traceback, a hang or a memory blow-up. Models are built with onnx.helper; a huge one is written
as a header whose length prefix announces the weights, then extended with f.truncate (a sparse
file: the bytes are never in memory, and the reader must never read them either)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from test_hostile import FUZZ, assert_clean, run  # noqa: E402
from test_import_onnx import conv, lenet, model, save, weight  # noqa: E402

from convcalc.analysis.engine import analyse  # noqa: E402
from convcalc.importers.onnx_wire import (  # noqa: E402
    MAX_FIELDS,
    MAX_NODES,
    SMALL,
    VERBATIM,
    read_graph,
    varint_bytes,
)
from convcalc.load import load  # noqa: E402

GOOD = lenet().SerializeToString()


def key(field: int, wire: int) -> bytes:
    return varint_bytes(field << 3 | wire)


def with_weights(path: Path, m, name: str, nbytes: int) -> Path:
    """``m`` written with initializer ``name`` holding ``nbytes`` of raw_data, the last bytes of the
    file: the header is written, then the file is extended to its length without writing the data."""
    graph = m.graph
    tensor = next(t for t in graph.initializer if t.name == name)
    graph.initializer.remove(tensor)
    head = tensor.SerializeToString() + key(9, 2) + varint_bytes(nbytes)  # raw_data: field 9
    entry = key(5, 2) + varint_bytes(len(head) + nbytes) + head  # GraphProto.initializer: field 5
    graph_bytes = graph.SerializeToString()
    m.ClearField("graph")
    out = m.SerializeToString() + key(7, 2) + varint_bytes(len(graph_bytes) + len(entry) + nbytes)  # graph: 7
    with open(path, "wb") as f:
        f.write(out + graph_bytes + entry)
        f.truncate(f.tell() + nbytes)
    return path


def lenet_totals():
    return analyse(load("lenet5")).totals


def figures(totals):
    return totals.params, totals.macs


# --- huge files: the weights are passed over, never read ------------------------------------

@pytest.mark.parametrize("nbytes", [1_500_000_000, 3 * 2**30], ids=["1.5GB", "3GiB-over-protobufs-2GiB"])
def test_a_huge_initializer_is_seeked_over(tmp_path, nbytes):
    m = lenet()
    fc = next(t for t in m.graph.initializer if len(t.dims) == 2)
    path = with_weights(tmp_path / "huge.onnx", m, fc.name, nbytes)
    assert path.stat().st_size > nbytes
    start = time.perf_counter()
    result = run("table", str(path), "--format", "json")
    assert time.perf_counter() - start < 5
    assert_clean(result, (0,))
    assert figures(analyse(load(str(path))).totals) == figures(lenet_totals())


def test_small_constants_keep_their_values_and_large_ones_only_their_dims(tmp_path):
    import numpy as np
    from onnx import numpy_helper

    kept = [numpy_helper.from_array(np.arange(SMALL, dtype=np.float32), "small"),
            h.make_tensor("typed", T.INT64, [3], [2, -1, 7])]  # int64_data, not raw_data
    dropped = [numpy_helper.from_array(np.ones(VERBATIM, np.float32), "big"),  # more bytes than a small tensor has
               h.make_tensor("big_typed", T.FLOAT, [VERBATIM], [1.0] * VERBATIM)]
    constant = h.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.zeros((50, 50), np.float32)))
    m = model([constant, h.make_node("Relu", ["x"], ["y"])], kept + dropped)
    skimmed = onnx.load_model_from_string(read_graph(Path(save(tmp_path, m)), "m.onnx"))
    inits = {t.name: t for t in skimmed.graph.initializer}
    for t in kept:
        assert numpy_helper.to_array(inits[t.name]).tolist() == numpy_helper.to_array(t).tolist()
    for t in dropped:
        assert list(inits[t.name].dims) == list(t.dims) and inits[t.name].data_type == t.data_type
        assert not inits[t.name].raw_data and not inits[t.name].float_data
    k = skimmed.graph.node[0].attribute[0].t
    assert list(k.dims) == [50, 50] and not k.raw_data
    for t in dropped:
        m.graph.initializer.remove(t) or m.graph.initializer.append(inits[t.name])
    m.graph.node[0].attribute[0].t.ClearField("raw_data")
    assert skimmed == m  # every other byte is the file's


def set_aside(t) -> None:
    """The oracle: what the skim leaves out of tensor ``t``, computed on onnx's parsed objects."""
    # at most SMALL elements of a number type are at most 1 KiB (64 complex128): kept
    small = math.prod(t.dims) <= SMALL and min(t.dims, default=0) >= 0 and t.data_type != T.STRING
    if t.ByteSize() > VERBATIM and not small:
        for name in ("raw_data", "float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data"):
            t.ClearField(name)


def set_aside_in(g) -> None:
    for t in g.initializer:
        set_aside(t)
    for s in g.sparse_initializer:
        set_aside(s.values)
        set_aside(s.indices)
    for n in g.node:
        for a in n.attribute:
            for t in ([a.t] if a.HasField("t") else []) + list(a.tensors):
                set_aside(t)
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                set_aside_in(sub)


ONNX_TEST_MODELS = sorted(Path(onnx.__file__).parent.glob("backend/test/data/**/*.onnx"))


@pytest.mark.skipif(not ONNX_TEST_MODELS, reason="this onnx wheel ships no backend test models")
def test_every_model_onnx_ships_reads_as_onnx_reads_it_large_data_aside():
    for path in ONNX_TEST_MODELS:  # written by onnx's and PyTorch's exporters, not by these tests
        expected = onnx.load(str(path), load_external_data=False)
        set_aside_in(expected.graph)
        assert onnx.load_model_from_string(read_graph(path, path.name)) == expected, path


# --- broken protobuf: located by byte offset --------------------------------------------------

def assert_refused(path: Path, *located: str) -> str:
    start = time.perf_counter()
    result = run("table", str(path))
    assert time.perf_counter() - start < 5
    assert_clean(result, (2,))
    for text in (path.name, *located):
        assert text in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize("cut", sorted({*range(0, 40), *range(40, len(GOOD), 37), len(GOOD) - 1}))
def test_truncated_at_any_offset(tmp_path, cut):
    path = tmp_path / "cut.onnx"
    path.write_bytes(GOOD[:cut])
    result = run("table", str(path))
    assert_clean(result, (0, 1, 2))  # a cut at a field boundary can leave a whole, smaller model
    if result.exit_code == 2:
        assert "cut.onnx" in result.stderr


@FUZZ
@given(st.data())
def test_flipped_and_truncated_bytes(tmp_path_factory, data):
    raw = bytearray(GOOD)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path_factory.mktemp("fuzz") / "flip.onnx"
    path.write_bytes(bytes(raw))
    start = time.perf_counter()
    result = run("table", str(path))
    assert time.perf_counter() - start < 5
    assert_clean(result)


def test_a_length_past_the_end(tmp_path):
    path = tmp_path / "long.onnx"
    path.write_bytes(key(2, 2) + varint_bytes(10**9) + b"onnx")  # producer_name
    assert "runs past the end of the file" in assert_refused(path, "at byte 1")
    path.write_bytes(key(7, 2) + varint_bytes(10**9) + b"\x0a\x00")  # the graph: walked to where the file ends
    assert "ends inside this graph, 999,999,992 bytes short" in assert_refused(path, "(graph)")


def test_a_length_past_the_end_of_its_message(tmp_path):
    graph = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g" * 2000, [], [])
    inner = graph.SerializeToString() + key(10, 2) + varint_bytes(5000)  # doc_string longer than the graph
    path = tmp_path / "inner.onnx"
    path.write_bytes(key(7, 2) + varint_bytes(len(inner)) + inner + b"x" * 5000)
    assert "past the end of its message" in assert_refused(path, "(graph)")


def test_a_number_running_past_the_end_of_its_message(tmp_path):
    graph = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g" * 2000, [], []).SerializeToString()
    path = tmp_path / "over.onnx"  # the graph ends 4 bytes into a fixed64 field (wire type 1)
    path.write_bytes(key(7, 2) + varint_bytes(len(graph) + 5) + graph + key(20, 1) + b"\x00" * 8)
    assert "past the end of its message" in assert_refused(path, "(graph)")


def test_a_varint_of_eleven_bytes(tmp_path):
    path = tmp_path / "varint.onnx"
    path.write_bytes(key(1, 0) + b"\xff" * 10 + b"\x01")  # ir_version
    assert "varint longer than 10 bytes" in assert_refused(path, "at byte 1")


@pytest.mark.parametrize("wire", [3, 4, 6, 7])
def test_wire_types_onnx_does_not_use(tmp_path, wire):
    path = tmp_path / "wire.onnx"
    path.write_bytes(key(1, wire) + b"\x00" * 8)
    assert_refused(path, "wire type")


def test_a_truncated_node_says_which_node(tmp_path):
    m = lenet()
    m.graph.node[2].doc_string = "d" * 5000  # big enough to be walked, not copied whole
    raw = m.SerializeToString()
    path = tmp_path / "node.onnx"
    path.write_bytes(raw[: raw.index(b"d" * 100) + 100])
    assert_refused(path, "(graph > node 3 's2')")


# --- huge numbers: exact, or refused by convcalc's bounds -------------------------------------

def test_a_2_40_dim_in_an_initializer(tmp_path):
    node, inits = conv("c1", "x", "y", 2**40, 3)
    result = run("table", save(tmp_path, model([node], inits), "dim.onnx"))
    assert_clean(result, (2,))
    assert "dim.onnx" in result.stderr and "'c1'" in result.stderr


def test_a_2_40_dim_in_an_initializer_that_is_not_read(tmp_path):
    node, inits = conv("c1", "x", "y", 8, 3)
    spare = weight("spare", [2**40, 2**40])  # 2**80 elements: its size is never computed as data
    result = run("table", save(tmp_path, model([node], inits + [spare]), "spare.onnx"), "--format", "json")
    assert_clean(result, (0,))


@pytest.mark.parametrize("where", [1, 2])
def test_a_2_40_dim_in_the_input_shape(tmp_path, where):
    shape = ["N", 3, 32, 32]
    shape[where] = 2**40
    node, inits = conv("c1", "x", "y", 8, 3)
    inits[0] = weight("c1.w", [8, shape[1], 3, 3])
    result = run("table", save(tmp_path, model([node], inits, shape=shape), "input.onnx"))
    assert_clean(result, (2,))
    assert "input.onnx" in result.stderr


def test_an_attribute_without_a_type(tmp_path):
    m = lenet()
    m.graph.node[2].attribute[0].type = 0  # UNDEFINED: what one flipped byte made of AveragePool's kernel_shape
    assert "attribute 'kernel_shape' has no type" in assert_refused(Path(save(tmp_path, m, "untyped.onnx")),
                                                                    "node 3 's2'")


@pytest.mark.parametrize("node, attribute", [("s2", h.make_attribute("kernel_shape", 2)),
                                             ("s2", h.make_attribute("strides", 2.0)),
                                             ("s2", h.make_attribute("kernel_shape", "ab")),
                                             ("c1", h.make_attribute("group", "x"))])
def test_an_attribute_of_another_type_than_onnx_defines(tmp_path, node, attribute):
    m = lenet()
    n = next(n for n in m.graph.node if n.name == node)
    for a in [a for a in n.attribute if a.name == attribute.name]:
        n.attribute.remove(a)
    n.attribute.append(attribute)
    assert f"attribute '{attribute.name}' is" in assert_refused(Path(save(tmp_path, m, "typed.onnx")), f"'{node}'")


def test_a_constant_of_100_000_dims_is_refused_before_its_size_is_multiplied(tmp_path):
    big = weight("shape", [2**62] * 100_000)  # its product alone took 38 s
    m = model([h.make_node("Reshape", ["x", "shape"], ["y"], name="r")], [big])
    assert "100,000 dimensions" in assert_refused(Path(save(tmp_path, m, "rank.onnx")), "'shape'")


def test_an_input_of_100_000_dims(tmp_path):
    m = model([h.make_node("Relu", ["x"], ["y"], name="r")], [], shape=[1] * 100_000)
    assert "100,000 dimensions" in assert_refused(Path(save(tmp_path, m, "rank.onnx")), "'x'")


# --- graphs that are not networks -------------------------------------------------------------

def test_a_node_reading_a_tensor_nobody_makes(tmp_path):
    m = model([h.make_node("Relu", ["x"], ["a"], name="one"), h.make_node("Add", ["a", "ghost"], ["y"], name="two")], [])
    assert_refused(Path(save(tmp_path, m, "ghost.onnx")), "'two'", "ghost")


def test_two_nodes_reading_each_others_outputs(tmp_path):
    m = model([h.make_node("Add", ["x", "b"], ["a"], name="one"), h.make_node("Relu", ["a"], ["b"], name="two"),
               h.make_node("Relu", ["b"], ["y"], name="three")], [])
    assert "cycle" in assert_refused(Path(save(tmp_path, m, "cycle.onnx")), "'one'")


def test_a_node_reading_its_own_output(tmp_path):
    m = model([h.make_node("Add", ["x", "a"], ["a"], name="self"), h.make_node("Relu", ["a"], ["y"], name="r")], [])
    assert "cycle" in assert_refused(Path(save(tmp_path, m, "loop.onnx")), "'self'")


def chain(n: int):
    nodes = [h.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"r{i}") for i in range(n)]
    nodes[0].input[0], nodes[-1].output[0] = "x", "y"
    return model(nodes, [])


def test_more_nodes_than_the_limit(tmp_path):
    path = tmp_path / "many.onnx"
    path.write_bytes(chain(100_000).SerializeToString())
    assert f"more than {MAX_NODES:,} nodes" in assert_refused(path)


def test_a_graph_at_the_node_limit_reads(tmp_path):
    path = tmp_path / "limit.onnx"
    path.write_bytes(chain(MAX_NODES).SerializeToString())
    spec = load(str(path))
    assert len(spec.layers) == MAX_NODES


# --- files that are not ONNX at all -----------------------------------------------------------

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d49444154789c63f8cf"
                    "c0f01f0005000201ffa1d4e3b40000000049454e44ae426082")


@pytest.mark.parametrize("content", [b"", PNG, b"layers:\n  - conv: {filters: 8}\n", b"\x00" * 100, b"\xff" * 100,
                                     b"name: not onnx\n" * 1000],
                         ids=["empty", "png", "yaml", "zeros", "ff", "yaml-long"])
def test_a_file_that_is_not_onnx(tmp_path, content):
    path = tmp_path / "x.onnx"
    path.write_bytes(content)
    assert_refused(path)


def test_a_directory_named_onnx(tmp_path):
    (tmp_path / "x.onnx").mkdir()
    assert "directory" in assert_refused(tmp_path / "x.onnx")


@pytest.mark.parametrize("where", ["tensor", "node"])
def test_millions_of_tiny_fields(tmp_path, where):
    if where == "tensor":  # int64_data written unpacked, one field per element
        body = key(1, 0) + b"\x05" + (key(7, 0) + b"\x00") * 2_000_000
        field = key(5, 2)  # GraphProto.initializer
    else:  # empty input names
        body = (key(1, 2) + b"\x00") * 2_000_000
        field = key(1, 2)  # GraphProto.node
    graph = field + varint_bytes(len(body)) + body
    path = tmp_path / "tiny.onnx"
    path.write_bytes(key(7, 2) + varint_bytes(len(graph)) + graph)
    assert f"more than {MAX_FIELDS:,} protobuf fields" in assert_refused(path)


def test_a_graph_over_the_byte_limit(tmp_path, monkeypatch):
    import convcalc.importers.onnx_wire as wire

    monkeypatch.setattr(wire, "MAX_GRAPH_BYTES", 1000)
    m = lenet()
    m.graph.doc_string = "d" * 2000
    assert "limit of 1,000 bytes" in assert_refused(Path(save(tmp_path, m, "wordy.onnx")))


def test_the_node_named_in_a_cycle_is_on_the_cycle(tmp_path):
    # 'after' reads the cycle and waits forever too, and comes first in the file: it is not named
    m = model([h.make_node("Relu", ["b"], ["y"], name="after"), h.make_node("Add", ["x", "b"], ["a"], name="one"),
               h.make_node("Relu", ["a"], ["b"], name="two")], [])
    stderr = assert_refused(Path(save(tmp_path, m, "cycle.onnx")), "cycle")
    assert "'one'" in stderr or "'two'" in stderr, stderr
