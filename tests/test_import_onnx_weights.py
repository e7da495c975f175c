"""ONNX weights checked against the graph (issue 19): every initializer's shape agrees with what
its node implies, every window attribute holds one value per spatial axis (pads two), or the file
is refused (exit 2) naming the node, the initializer, what it is and what it must be. And names
or string attributes that are not UTF-8 are shown escaped or refused, never an internal error.

Models are built with onnx.helper; the weights have dims and no data, as convcalc reads them."""

from __future__ import annotations

from typing import List, NamedTuple, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from test_hostile import assert_clean, run  # noqa: E402
from test_import_onnx import const, model, recorded, save, weight  # noqa: E402

from convcalc.analysis.engine import analyse  # noqa: E402
from convcalc.load import load  # noqa: E402


def node(op: str, inputs: Sequence[str], name: str = "n", out: str = "y", **attrs):
    return h.make_node(op, list(inputs), [out], name=name, **attrs)


FLAT = node("Flatten", ["x"], "flat", "f")  # (N, 3x32x32) = (N, 3072)


class Case(NamedTuple):
    nodes: List
    inits: List
    said: Tuple[str, ...]  # what the message must say besides the node: found, expected
    shape: Tuple = ("N", 3, 32, 32)


W = weight
MISFITS = {
    # Conv: W is filters x channels/group x kernel, B one per filter
    "conv-weight-channels": Case([node("Conv", ["x", "w"], kernel_shape=[3, 3])], [W("w", [8, 5, 3, 3])],
                                 ("'w' is 8x5x3x3", "3 channels", "8x3x3x3")),
    "conv-weight-channels-per-group": Case([node("Conv", ["x", "w"], group=2)], [W("w", [8, 4, 3, 3])],
                                           ("'w' is 8x4x3x3", "4 channels in 2 groups", "8x2x3x3"), ("N", 4, 8, 8)),
    "conv-filters-not-in-groups": Case([node("Conv", ["x", "w"], group=2)], [W("w", [7, 2, 3, 3])],
                                       ("'w' is 7x2x3x3", "into 2 groups"), ("N", 4, 8, 8)),
    "conv-kernel-not-kernel_shape": Case([node("Conv", ["x", "w"], kernel_shape=[5, 5])], [W("w", [8, 3, 3, 3])],
                                         ("'w' is 8x3x3x3", "kernel 3x3 is not kernel_shape 5x5")),
    "conv-bias": Case([node("Conv", ["x", "w", "b"])], [W("w", [8, 3, 3, 3]), W("b", [7])],
                      ("'b' is 7", "8 filters")),
    "conv-weight-of-rank-2": Case([node("Conv", ["x", "w"])], [W("w", [8, 3])], ("'w' is 8x3", "rank 3 or more")),
    "conv-2d-weight-on-3d-input": Case([node("Conv", ["x", "w"])], [W("w", [8, 3, 3, 3])],
                                       ("rank 5", "takes rank 4"), ("N", 3, 8, 8, 8)),
    "conv-pads-one": Case([node("Conv", ["x", "w"], pads=[1])], [W("w", [8, 3, 3, 3])],
                          ("pads [1] has 1 value", "takes 4")),
    "conv-pads-three": Case([node("Conv", ["x", "w"], pads=[1, 2, 3])], [W("w", [8, 3, 3, 3])],
                            ("pads [1, 2, 3] has 3 values", "takes 4")),
    "conv-strides": Case([node("Conv", ["x", "w"], strides=[2])], [W("w", [8, 3, 3, 3])],
                         ("strides [2] has 1 value", "takes 2")),
    "conv-dilations": Case([node("Conv", ["x", "w"], dilations=[1, 1, 1])], [W("w", [8, 3, 3, 3])],
                           ("dilations [1, 1, 1] has 3 values", "takes 2")),
    "conv-kernel_shape-length": Case([node("Conv", ["x", "w"], kernel_shape=[3])], [W("w", [8, 3, 3, 3])],
                                     ("kernel_shape [3] has 1 value", "takes 2")),
    # ConvTranspose: W is channels x filters/group x kernel
    "convtranspose-weight-channels": Case([node("ConvTranspose", ["x", "w"])], [W("w", [5, 8, 3, 3])],
                                          ("'w' is 5x8x3x3", "3 channels", "3x8x3x3")),
    "convtranspose-bias-counts-every-group": Case([node("ConvTranspose", ["x", "w", "b"], group=2)],
                                                  [W("w", [4, 3, 3, 3]), W("b", [3])],
                                                  ("'b' is 3", "6 filters"), ("N", 4, 8, 8)),
    "convtranspose-output_padding": Case([node("ConvTranspose", ["x", "w"], strides=[2, 2], output_padding=[1])],
                                         [W("w", [3, 8, 3, 3])], ("output_padding [1] has 1 value", "takes 2")),
    # Gemm and MatMul: the weight's features are the input's, the bias one per unit
    "gemm-transB-weight": Case([FLAT, node("Gemm", ["f", "w"], transB=1)], [W("w", [10, 100])],
                               ("'w' is 10x100", "3072 features", "10x3072")),
    "gemm-weight": Case([FLAT, node("Gemm", ["f", "w"])], [W("w", [100, 10])],
                        ("'w' is 100x10", "3072 features", "3072x10")),
    "gemm-bias": Case([FLAT, node("Gemm", ["f", "w", "c"], transB=1)], [W("w", [10, 3072]), W("c", [9])],
                      ("'c' is 9", "10 units")),
    "gemm-bias-of-another-axis": Case([FLAT, node("Gemm", ["f", "w", "c"], transB=1)],
                                      [W("w", [10, 3072]), W("c", [10, 1])], ("'c' is 10x1", "10 units")),
    "gemm-weight-of-rank-3": Case([FLAT, node("Gemm", ["f", "w"])], [W("w", [1, 3072, 10])],
                                  ("'w' is 1x3072x10", "rank 2")),
    "matmul-weight": Case([FLAT, node("MatMul", ["f", "w"])], [W("w", [100, 10])],
                          ("'w' is 100x10", "3072 features", "3072x10")),
    # the norms: one value per channel
    "batchnorm-scale": Case([node("BatchNormalization", ["x", "s", "b", "m", "v"])],
                            [W("s", [4]), W("b", [3]), W("m", [3]), W("v", [3])], ("scale 's' is 4", "3 channels")),
    "batchnorm-mean": Case([node("BatchNormalization", ["x", "s", "b", "m", "v"])],
                           [W("s", [3]), W("b", [3]), W("m", [5]), W("v", [3])], ("mean 'm' is 5", "3 channels")),
    "batchnorm-variance-as-a-column": Case([node("BatchNormalization", ["x", "s", "b", "m", "v"])],
                                           [W("s", [3]), W("b", [3]), W("m", [3]), W("v", [3, 1])],
                                           ("variance 'v' is 3x1", "3 channels")),
    "instancenorm-shift": Case([node("InstanceNormalization", ["x", "s", "b"])], [W("s", [3]), W("b", [2])],
                               ("shift 'b' is 2", "3 channels")),
    "layernorm-scale": Case([FLAT, node("LayerNormalization", ["f", "s", "b"], axis=-1)],
                            [W("s", [100]), W("b", [3072])], ("scale 's' is 100", "3072")),
    # PRelu: the slope broadcasts from the last axis
    "prelu-slope-of-other-channels": Case([node("PRelu", ["x", "s"])], [W("s", [4, 1, 1])],
                                          ("slope 's' is 4x1x1", "1x3x32x32")),
    "prelu-slope-per-channel-without-its-axes": Case([node("PRelu", ["x", "s"])], [W("s", [3])],
                                                     ("slope 's' is 3", "broadcast")),
    # pools and Pad: one value per axis
    "maxpool-pads": Case([node("MaxPool", ["x"], kernel_shape=[2, 2], pads=[1, 1])], [],
                         ("pads [1, 1] has 2 values", "takes 4")),
    "avgpool-strides": Case([node("AveragePool", ["x"], kernel_shape=[2, 2], strides=[2, 2, 2])], [],
                            ("strides [2, 2, 2] has 3 values", "takes 2")),
    "maxpool-3d-kernel-on-2d-input": Case([node("MaxPool", ["x"], kernel_shape=[2, 2, 2])], [],
                                          ("rank 4", "takes rank 5")),
    "resize-scales": Case([node("Resize", ["x", "", "s"])], [const("s", [1.0, 1.0, 2.0])],
                          ("scales [1, 1, 2] has 3 values", "rank 4 takes 4")),
    "resize-sizes": Case([node("Resize", ["x", "", "", "s"])], [const("s", [1, 3, 64, 64, 64], T.INT64)],
                         ("sizes [1, 3, 64, 64, 64] has 5 values", "rank 4 takes 4")),
    "pad-pads": Case([node("Pad", ["x", "p"])], [const("p", [0, 0, 1, 1], T.INT64)],
                     ("pads [0, 0, 1, 1] has 4 values", "rank 4 takes 8")),
}


@pytest.mark.parametrize("case", MISFITS.values(), ids=MISFITS.keys())
def test_a_file_whose_weights_do_not_fit_its_graph_is_refused(tmp_path, case):
    m = model(case.nodes, case.inits, case.shape)
    result = run("table", save(tmp_path, m))
    assert_clean(result, (2,))
    culprit = case.nodes[-1]
    assert f"node {len(case.nodes)} '{culprit.name}' ({culprit.op_type})" in result.stderr, result.stderr
    for text in case.said:
        assert text in result.stderr, result.stderr


FITS = {  # the same operators as ONNX defines them: read, and counted as a hand counts them
    "depthwise-conv": ([node("Conv", ["x", "w", "b"], group=3, pads=[1] * 4)], [W("w", [3, 1, 3, 3]), W("b", [3])],
                       3 * 9 + 3),
    "grouped-convtranspose": ([node("ConvTranspose", ["x", "w", "b"], group=3, strides=[2, 2])],
                              [W("w", [3, 2, 3, 3]), W("b", [6])], 3 * 2 * 9 + 6),
    "gemm-bias-as-a-row": ([FLAT, node("Gemm", ["f", "w", "c"], transB=1)], [W("w", [10, 3072]), W("c", [1, 10])],
                           3072 * 10 + 10),
    "matmul-then-bias": ([FLAT, node("MatMul", ["f", "w"], out="m"), node("Add", ["m", "c"], "add")],
                         [W("w", [3072, 10]), W("c", [10])], 3072 * 10 + 10),
    "prelu-per-channel": ([node("PRelu", ["x", "s"])], [W("s", [3, 1, 1])], 3),
    "prelu-shared": ([node("PRelu", ["x", "s"])], [W("s", [1])], 1),
    "batchnorm": ([node("BatchNormalization", ["x", "s", "b", "m", "v"])], [W(n, [3]) for n in "sbmv"], 6),
    "layernorm": ([FLAT, node("LayerNormalization", ["f", "s", "b"], axis=-1)], [W("s", [3072]), W("b", [3072])],
                  2 * 3072),
}


@pytest.mark.parametrize("case", FITS.values(), ids=FITS.keys())
def test_weights_that_fit_are_read(tmp_path, case):
    nodes, inits, params = case
    m = model(nodes, inits)
    m.opset_import[0].version = 17  # LayerNormalization's first
    report = analyse(load(save(tmp_path, m)))
    assert report.totals.params == params
    assert str(report.output) == (recorded(m, "y") if "Flatten" not in [n.op_type for n in nodes] else
                                  "x".join(str(d) for d in inferred(m, "y")[1:]))


def inferred(m, name):
    """A tensor's dims as ONNX's own shape inference gives them."""
    graph = onnx.shape_inference.infer_shapes(m).graph
    return [d.dim_value for d in next(v for v in graph.output if v.name == name).type.tensor_type.shape.dim]


def test_a_conv_bias_made_by_a_constant_node_is_checked_too(tmp_path):
    nodes = [h.make_node("Constant", [], ["b"], name="bias", value=const("v", [0.0] * 7)),
             node("Conv", ["x", "w", "b"], "c")]
    result = run("table", save(tmp_path, model(nodes, [W("w", [8, 3, 3, 3])])))
    assert_clean(result, (2,))
    assert "node 2 'c' (Conv): its bias 'b' is 7" in result.stderr


# --- a family: a small valid network, then any one dim of any one initializer changed ---------------

class Net(NamedTuple):
    c: int
    groups: int
    per_group: int  # filters per group
    k: int
    stride: int
    pad: int
    units: int
    trans_b: bool

    @property
    def filters(self) -> int:
        return self.groups * self.per_group

    @property
    def side(self) -> int:  # the conv's output side on a 12x12 input
        return (12 + 2 * self.pad - self.k) // self.stride + 1

    def model(self):
        f, side = self.filters, self.side
        features = f * side * side
        nodes = [node("Conv", ["x", "cw", "cb"], "conv", "a", kernel_shape=[self.k] * 2, strides=[self.stride] * 2,
                      pads=[self.pad] * 4, group=self.groups),
                 node("BatchNormalization", ["a", "bs", "bb", "bm", "bv"], "bn", "b"),
                 node("PRelu", ["b", "ps"], "prelu", "p"), node("Flatten", ["p"], "flat", "f"),
                 node("Gemm", ["f", "gw", "gc"], "fc", "y", transB=int(self.trans_b))]
        inits = [W("cw", [f, self.c // self.groups, self.k, self.k]), W("cb", [f]),
                 *(W(n, [f]) for n in ("bs", "bb", "bm", "bv")), W("ps", [f, 1, 1]),
                 W("gw", [self.units, features] if self.trans_b else [features, self.units]), W("gc", [self.units])]
        return model(nodes, inits, ("N", self.c, 12, 12))

    def params(self) -> int:
        """Counted by hand: conv weights and biases, batchnorm's scale and shift, a slope per
        channel, the fc's weights and biases."""
        f = self.filters
        return (f * (self.c // self.groups) * self.k ** 2 + f) + 2 * f + f + (f * self.side ** 2 + 1) * self.units


nets = st.builds(lambda g, cpg, fpg, k, s, units, tb: Net(g * cpg, g, fpg, k, s, k // 2, units, tb),
                 st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 3, 5]),
                 st.integers(1, 2), st.integers(1, 12), st.booleans())
HOLDERS = {"cw": "conv", "cb": "conv", "bs": "bn", "bb": "bn", "bm": "bn", "bv": "bn", "ps": "prelu",
           "gw": "fc", "gc": "fc"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(net=nets, data=st.data())
def test_any_one_dim_of_any_initializer_changed_is_refused_at_its_node(tmp_path, net, data):
    m = net.model()
    assert analyse(load(save(tmp_path, m))).totals.params == net.params()
    name = data.draw(st.sampled_from(sorted(HOLDERS)), label="initializer")
    tensor = next(t for t in m.graph.initializer if t.name == name)
    axis = data.draw(st.integers(0, len(tensor.dims) - 1), label="axis")
    tensor.dims[axis] += data.draw(st.sampled_from([1, -1] if tensor.dims[axis] > 1 else [1]), label="change")
    result = run("table", save(tmp_path, m, "changed.onnx"))
    if name == "ps" and set(tensor.dims) == {1}:  # one slope for every channel: PRelu's shared slope
        assert_clean(result, (0,))
        return
    assert_clean(result, (2,))
    holder = HOLDERS[name]
    assert f"'{holder}' (" in result.stderr, result.stderr  # the node holding it is named ...
    # ... and the initializer, or the one of the same node whose size it now contradicts
    assert any(f"'{other}' is" in result.stderr for other, at in HOLDERS.items() if at == holder), result.stderr


# --- names and string attributes that are not UTF-8 ---------------------------------------------

def with_bytes(m, text: bytes, stray: bytes = b"\xff\xfe") -> bytes:
    """``m`` serialised with every ``text`` ending in bytes that are not UTF-8."""
    raw = m.SerializeToString()
    assert text in raw
    return raw.replace(text, text[:-len(stray)] + stray)


def conv_net(name="QQQQ", **attrs):
    return model([node("Conv", ["x", "w"], name, "a", **attrs), node("Relu", ["a"], "relu")], [W("w", [8, 3, 3, 3])])


@pytest.mark.parametrize("where", ["node", "graph", "tensor", "op"])
def test_a_name_that_is_not_utf8_is_shown_escaped(tmp_path, where):
    m = conv_net()
    if where == "graph":
        m.graph.name = "QQQQ"
        m.graph.node[0].name = "conv"
    if where == "tensor":  # the conv's output, read by the relu: the wiring holds
        m.graph.node[0].output[0] = m.graph.node[1].input[0] = "QQQQ"
    if where == "op":
        m.graph.node[1].op_type = "QQQQ"
    path = tmp_path / "named.onnx"
    path.write_bytes(with_bytes(m, b"QQQQ"))
    result = run("table", str(path))
    assert_clean(result, (0, 2))
    if where == "op":  # an operator nobody defines, without a recorded shape: located, escaped
        assert result.exit_code == 2 and "node 2 'relu' (QQ\\xff\\xfe)" in result.stderr, result.stderr
    else:
        assert result.exit_code == 0, result.output
        assert "30x30x8" in result.stdout  # the conv, read through its name or its output's
        if where == "node":
            assert "QQ_xff_xfe" in result.stdout  # escaped, then made a convcalc name (safe_name)


def test_two_tensor_names_shown_alike_are_refused(tmp_path):
    m = conv_net()
    m.graph.node[0].output[0] = m.graph.node[1].input[0] = "QQQQ"  # will be QQ\xff\xfe: shown QQ\\xff\\xfe
    m.graph.node.append(node("Relu", ["x"], "other", "QQ\\xff\\xfe"))
    m.graph.node.append(node("Add", ["y", "QQ\\xff\\xfe"], "sum", "z"))
    path = tmp_path / "alike.onnx"
    path.write_bytes(with_bytes(m, b"QQQQ"))
    result = run("table", str(path))
    assert_clean(result, (2,))
    assert "both shown as" in result.stderr


@pytest.mark.parametrize("op, attribute", [("Conv", "auto_pad"), ("Resize", "mode")])
def test_a_string_attribute_that_is_not_utf8_is_a_located_error(tmp_path, op, attribute):
    if op == "Conv":
        m = conv_net("c", auto_pad="SAME_QQ")
    else:
        m = model([node("Resize", ["x", "", "s"], "c", mode="linearQQ")], [const("s", [1.0, 1.0, 2.0, 2.0])])
    path = tmp_path / "attribute.onnx"
    path.write_bytes(with_bytes(m, b"linearQQ" if op == "Resize" else b"SAME_QQ", b"\xff"))
    result = run("table", str(path))
    assert_clean(result, (2,))
    assert f"node 1 'c' ({op}): attribute '{attribute}' is b'" in result.stderr and "not text" in result.stderr


def test_a_mode_in_a_custom_domain_that_is_not_utf8_is_a_located_error_too(tmp_path):
    """The walk reads a Conv by its op type whatever its domain: its auto_pad is read as text
    there, not in the file's check of ONNX's own operators."""
    m = conv_net("c", auto_pad="SAME_QQ")
    m.graph.node[0].domain = "com.example"
    m.opset_import.append(h.make_opsetid("com.example", 1))
    path = tmp_path / "custom.onnx"
    path.write_bytes(with_bytes(m, b"SAME_QQ", b"\xff"))
    result = run("table", str(path))
    assert_clean(result, (2,))
    assert "node 1 'c' (Conv): attribute auto_pad is 'SAME_Q\\xff'" in result.stderr, result.stderr


@pytest.mark.parametrize("op, attrs", [("Conv", {"auto_pad": "SAME"}), ("ConvTranspose", {"auto_pad": "same_upper"}),
                                       ("MaxPool", {"auto_pad": "VALID_", "kernel_shape": [2, 2]}),
                                       ("Resize", {"mode": "bilinear_"})])
def test_a_mode_onnx_does_not_define_is_refused_not_guessed(tmp_path, op, attrs):
    inputs = {"Resize": ["x", "", "s"], "MaxPool": ["x"]}.get(op, ["x", "w"])
    inits = [const("s", [1.0, 1.0, 2.0, 2.0])] if op == "Resize" else [] if op == "MaxPool" else [W("w", [3, 3, 3, 3])]
    result = run("table", save(tmp_path, model([node(op, inputs, "m", **attrs)], inits)))
    assert_clean(result, (2,))
    key, text = next(iter(attrs.items()))
    assert f"node 1 'm' ({op}): attribute {key} is '{text}', where ONNX's {op} takes" in result.stderr, result.stderr
