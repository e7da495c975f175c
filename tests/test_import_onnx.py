"""ONNX import: small graphs built with onnx.helper, against the bundled specs and hand counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from test_hostile import assert_clean, run  # noqa: E402

from convcalc.analysis.engine import analyse  # noqa: E402
from convcalc.load import load  # noqa: E402
from convcalc.spec.yaml_reader import parse_yaml  # noqa: E402
from convcalc.spec.yaml_writer import to_yaml  # noqa: E402


def weight(name, dims):
    """An initializer with dims and no data, as a model whose weights are stored elsewhere."""
    t = T()
    t.name, t.data_type = name, T.FLOAT
    t.dims.extend(dims)
    return t


def const(name, values, dtype=T.FLOAT):
    return h.make_tensor(name, dtype, [len(values)], values)


def model(nodes, inits, shape=("N", 3, 32, 32), outputs=("y",)):
    graph = h.make_graph(nodes, "net", [h.make_tensor_value_info("x", T.FLOAT, list(shape))],
                         [h.make_tensor_value_info(o, T.FLOAT, None) for o in outputs], inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])


def save(tmp_path: Path, m, name="model.onnx") -> str:
    path = tmp_path / name
    path.write_bytes(m.SerializeToString())
    return str(path)


def conv(name, x, y, k_out, c_in, k=3, bias=True, **attrs):
    inputs = [x, f"{name}.w"] + ([f"{name}.b"] if bias else [])
    inits = [weight(f"{name}.w", [k_out, c_in // attrs.get("group", 1), k, k])] + ([weight(f"{name}.b", [k_out])] if bias else [])
    return h.make_node("Conv", inputs, [y], name=name, kernel_shape=[k, k], **attrs), inits


def lenet():
    nodes, inits = [], []
    for node, ws in (conv("c1", "x", "c1", 6, 1, 5), conv("c3", "s2", "c3", 16, 6, 5)):
        nodes.append(node)
        inits += ws
    nodes[1:1] = [h.make_node("Tanh", ["c1"], ["t1"], name="t1"),
                  h.make_node("AveragePool", ["t1"], ["s2"], name="s2", kernel_shape=[2, 2], strides=[2, 2])]
    nodes += [h.make_node("Tanh", ["c3"], ["t3"], name="t3"),
              h.make_node("AveragePool", ["t3"], ["s4"], name="s4", kernel_shape=[2, 2], strides=[2, 2]),
              h.make_node("Flatten", ["s4"], ["f"], name="flat")]
    last = "f"
    for name, n_in, n_out in (("c5", 400, 120), ("f6", 120, 84), ("output", 84, 10)):
        nodes.append(h.make_node("Gemm", [last, f"{name}.w", f"{name}.b"], [name], name=name, transB=1))
        inits += [weight(f"{name}.w", [n_out, n_in]), weight(f"{name}.b", [n_out])]
        last = name
        if name != "output":
            nodes.append(h.make_node("Tanh", [name], [f"t_{name}"], name=f"t_{name}"))
            last = f"t_{name}"
    nodes.append(h.make_node("Softmax", [last], ["y"], name="prob"))
    return model(nodes, inits, ("N", 1, 32, 32))


def residual():
    (c1, w1), (c2, w2) = conv("conv1", "x", "a", 8, 3, pads=[1] * 4, bias=False), conv("conv2", "r", "b", 8, 8, pads=[1] * 4, bias=False)
    nodes = [h.make_node("Conv", ["x", "stem.w"], ["s"], name="stem", kernel_shape=[1, 1]),
             c1, h.make_node("BatchNormalization", ["a", "g", "be", "m", "v"], ["bn"], name="bn1"),
             h.make_node("Relu", ["bn"], ["r"], name="relu1"), c2,
             h.make_node("Add", ["b", "s"], ["sum"], name="add"), h.make_node("Relu", ["sum"], ["y"], name="out")]
    nodes[1].input[0] = "x"
    inits = [weight("stem.w", [8, 3, 1, 1]), *w1, *w2, *(weight(n, [8]) for n in ("g", "be", "m", "v"))]
    return model(nodes, inits)


def test_lenet_gives_the_bundled_totals(tmp_path):
    imported = analyse(load(save(tmp_path, lenet())))
    bundled = analyse(load("lenet5"))
    assert (imported.totals.params, imported.totals.macs) == (bundled.totals.params, bundled.totals.macs) == (61_706, 416_520)
    assert [r.name for r in imported.layers][:3] == ["c1", "t1", "s2"]


def test_residual_add_is_a_merge_of_named_tensors(tmp_path):
    report = analyse(load(save(tmp_path, residual())))
    add = next(r for r in report.layers if r.name == "add")
    assert len(add.sources) == 2 and str(add.output) == "32x32x8"
    # stem 1x1 (24), two 3x3 convs (216 + 576), none with a bias; batchnorm 16 params + 16 buffers
    assert report.totals.params == 24 + 216 + 576 + 16 and report.totals.buffers == 16


def test_inception_concat_resize_and_pad(tmp_path):
    (a, wa), (b, wb) = conv("b1", "x", "p", 4, 3, 1), conv("b2", "x", "q", 6, 3, 3, pads=[1] * 4)
    nodes = [a, b, h.make_node("Concat", ["p", "q"], ["cat"], name="cat", axis=1),
             h.make_node("Resize", ["cat", "", "scales"], ["up"], name="up", mode="nearest"),
             h.make_node("Pad", ["up", "pads"], ["y"], name="pad")]
    inits = [*wa, *wb, const("scales", [1.0, 1.0, 2.0, 2.0]), const("pads", [0, 0, 1, 1, 0, 0, 1, 1], T.INT64)]
    report = analyse(load(save(tmp_path, model(nodes, inits))))
    assert [str(r.output) for r in report.layers[-3:]] == ["32x32x10", "64x64x10", "66x66x10"]


def test_same_upper_and_asymmetric_pads(tmp_path):
    node, ws = conv("c", "x", "y", 4, 3, 3, strides=[2, 2], pads=[0, 0, 1, 1])  # TF 'same' written out
    assert str(analyse(load(save(tmp_path, model([node], ws)))).output) == "16x16x4"


def recorded(m, name):
    """The shape ONNX's own shape inference gives a tensor, as convcalc writes it (HxWxC)."""
    inferred = onnx.shape_inference.infer_shapes(m).graph
    dims = next(v for v in (*inferred.value_info, *inferred.output) if v.name == name).type.tensor_type.shape.dim
    return "x".join(str(d.dim_value) for d in (*dims[2:], dims[1]))


def test_asymmetric_pads_are_a_pad_layer_then_the_layer_unpadded(tmp_path):
    # pads [H_begin, W_begin, H_end, W_end]: 2 rows above, 1 column after, stride 2
    node, ws = conv("odd", "x", "c", 4, 3, 3, pads=[2, 0, 0, 1], strides=[2, 2], bias=False)
    nodes = [node, h.make_node("MaxPool", ["c"], ["m"], name="mp", kernel_shape=[2, 2], pads=[0, 1, 1, 0]),
             h.make_node("Pad", ["m", "pads"], ["y"], name="pad")]
    m = model(nodes, [*ws, const("pads", [0, 0, 0, 3, 0, 0, 1, 0], T.INT64)])
    report = analyse(load(save(tmp_path, m)))
    names = [(r.name, str(r.output)) for r in report.layers]
    assert names == [("odd.pad", "34x33x3"), ("odd", "16x16x4"), ("mp.pad", "17x17x4"), ("mp", "16x16x4"),
                     ("pad", "17x19x4")]
    assert [names[i][1] for i in (1, 3, 4)] == [recorded(m, t) for t in ("c", "m", "y")]
    conv_row = report.layers[1]
    assert (conv_row.macs, conv_row.params) == (16 * 16 * 3 * 3 * 3 * 4, 3 * 3 * 3 * 4)  # every output × kernel
    ceil = h.make_node("MaxPool", ["x"], ["y"], name="ceil", kernel_shape=[2, 2], pads=[0, 0, 1, 1], ceil_mode=1,
                       strides=[2, 2])
    result = run("table", save(tmp_path, model([ceil], []), "ceil.onnx"))
    assert_clean(result, (2,))
    assert "node 1 'ceil' (MaxPool)" in result.stderr and "ceil_mode" in result.stderr


def test_unknown_operators_are_reported_with_their_count(tmp_path):
    nodes = [h.make_node("Hardmax", ["x"], ["e"], name="hm1"), h.make_node("Hardmax", ["e"], ["y"], name="hm2")]
    path = save(tmp_path, model(nodes, []))
    data = json.loads(run("table", path, "--format", "json").stdout)
    assert data["incomplete"] == {"unknown_ops": {"Hardmax": 2}}
    assert [w["code"] for w in data["warnings"]] == ["unknown-op", "unknown-op"]
    table = run("table", path)
    assert table.exit_code == 0 and "incomplete: not counted: Hardmax ×2" in table.stdout
    assert run("table", path, "--strict").exit_code == 1


def test_element_wise_functions_are_counted_as_such(tmp_path):
    """Erf (a traced GELU's), Exp, Sqrt ...: no params, no MACs, and the totals are complete."""
    nodes = [h.make_node("Erf", ["x"], ["e"], name="erf"), h.make_node("Sqrt", ["e"], ["y"], name="root")]
    report = analyse(load(save(tmp_path, model(nodes, []))))
    assert [(r.layer.kind, r.layer.describe()) for r in report.layers] == [("elementwise", "ERF"), ("elementwise", "SQRT")]
    assert not report.unknown_ops and report.totals.macs == 0


def test_unknown_operator_without_a_shape_stops_located(tmp_path):
    nodes = [h.make_node("Frobnicate", ["x"], ["y"], name="mystery", domain="com.example")]
    m = model(nodes, [])
    m.opset_import.append(h.make_opsetid("com.example", 1))
    result = run("table", save(tmp_path, m))
    assert_clean(result, (2,))
    assert "node 1 'mystery' (Frobnicate)" in result.stderr


def test_hostile_files_are_located_errors(tmp_path):
    good = lenet().SerializeToString()
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(good[: len(good) // 2])
    result = run("table", str(truncated))
    assert_clean(result, (2,))
    assert "cut.onnx" in result.stderr

    dangling = model([h.make_node("Relu", ["nowhere"], ["y"], name="lost")], [])
    result = run("table", save(tmp_path, dangling, "dangling.onnx"))
    assert_clean(result, (2,))
    assert "'lost'" in result.stderr and "nowhere" in result.stderr

    cycle = model([h.make_node("Add", ["x", "b"], ["a"], name="one"), h.make_node("Relu", ["a"], ["b"], name="two"),
                   h.make_node("Relu", ["a"], ["y"], name="three")], [])
    result = run("table", save(tmp_path, cycle, "cycle.onnx"))
    assert_clean(result, (2,))
    assert "cycle" in result.stderr


def test_without_onnx_installed_the_error_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    path = save(tmp_path, lenet())
    real = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == "onnx":
            raise ImportError("no onnx")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    result = run("table", path)
    assert_clean(result, (2,))
    assert "convcalc[onnx]" in result.stderr


def figures(report):
    return ([(r.full_name, str(r.output), r.params, r.buffers, r.macs, r.sources) for r in report.layers],
            report.totals, [(o.name, str(o.shape)) for o in report.outputs])


@pytest.mark.parametrize("build", [lenet, residual])
def test_import_then_yaml_gives_the_same_report(tmp_path, build):
    path = save(tmp_path, build())
    result = run("import", path)
    assert result.exit_code == 0 and result.stdout.startswith("# imported by convcalc import from ")
    assert figures(analyse(parse_yaml(result.stdout, "x.yaml"))) == figures(analyse(load(path)))
    assert to_yaml(load(path)) in result.stdout


def test_yaml_writer_round_trips_every_bundled_spec():
    from convcalc.spec import catalog

    for name in catalog.names():
        spec = load(name)
        assert figures(analyse(parse_yaml(to_yaml(spec), "x.yaml"))) == figures(analyse(spec)), name


def test_an_operator_handled_in_place_is_not_also_unknown(tmp_path):
    # MatMul + bias Add: one fc with a bias; a Gemm with transA: one unknown, not two
    nodes = [h.make_node("Flatten", ["x"], ["f"], name="flat"), h.make_node("MatMul", ["f", "w"], ["mm"], name="fc"),
             h.make_node("Add", ["mm", "b"], ["a"], name="bias"),
             h.make_node("Gemm", ["a", "w2"], ["y"], name="odd", transA=1)]
    m = model(nodes, [weight("w", [3 * 32 * 32, 10]), weight("b", [10]), weight("w2", [10, 10])])
    m.graph.output[0].CopyFrom(h.make_tensor_value_info("y", T.FLOAT, ["N", 10]))
    report = analyse(load(save(tmp_path, m)))
    assert [(r.name, r.params) for r in report.layers] == [("flat", 0), ("fc", 3 * 32 * 32 * 10 + 10), ("odd", 0)]


def test_split_and_slice_along_the_channels_are_split_parts(tmp_path):
    # a 12-channel conv split 4/8 (sizes as an input, opset 13), the 8 chunked in two by a Split
    # without sizes, a Slice of channels [1, 3) of the 4 (starts/ends from Constant nodes)
    c, ws = conv("c", "x", "c", 12, 3, 1)
    nodes = [c, h.make_node("Split", ["c", "sizes"], ["a", "b"], name="sp", axis=1),
             h.make_node("Split", ["b"], ["b0", "b1"], name="halves", axis=1),
             h.make_node("Constant", [], ["st"], value=const("st", [1], T.INT64)),
             h.make_node("Constant", [], ["en"], value=const("en", [3], T.INT64)),
             h.make_node("Constant", [], ["ax"], value=const("ax", [1], T.INT64)),
             h.make_node("Slice", ["a", "st", "en", "ax"], ["s"], name="sl"),
             h.make_node("Slice", ["a", "st", "en", "two"], ["w"], name="across"),  # along H: not channels
             h.make_node("Concat", ["s", "b0", "b1"], ["cat"], name="cat", axis=1)]
    m = model(nodes, [*ws, const("sizes", [4, 8], T.INT64), const("two", [2], T.INT64)], outputs=("cat", "w"))
    report = analyse(load(save(tmp_path, m)))
    rows = {r.name: (r.layer.describe(), str(r.output)) for r in report.layers}
    assert [rows[n][1] for n in ("sp.0", "sp.1", "halves.0", "halves.1", "sl")] == \
        ["32x32x4", "32x32x8", "32x32x4", "32x32x4", "32x32x2"]
    assert [(o.name, str(o.shape)) for o in report.outputs] == [("cat", "32x32x10"), ("across", "2x32x4")]
    assert [report.layers[i].layer.kind for i in range(1, 6)] == ["split", "split", "chunk", "chunk", "split"]
    # along H it is a slice of rows 1 and 2, which the file's own inference agrees with
    assert rows["across"] == ("SLICE axis 0 1:3", "2x32x4") and recorded(m, "w") == "2x32x4"
    assert json.loads(run("table", save(tmp_path, m), "--format", "json").stdout)["incomplete"] is None


def test_transpose_before_a_flatten_is_the_same_tensor(tmp_path):
    c, ws = conv("c", "x", "c", 4, 3, 1)
    nodes = [c, h.make_node("Transpose", ["c"], ["t"], name="nhwc", perm=[0, 2, 3, 1]),
             h.make_node("Flatten", ["t"], ["f"], name="flat"), h.make_node("Gemm", ["f", "w", "b"], ["y"], name="fc", transB=1),
             h.make_node("Transpose", ["c"], ["other"], name="perm", perm=[0, 1, 3, 2])]
    m = model(nodes, [*ws, weight("w", [10, 4 * 32 * 32]), weight("b", [10])], outputs=("y", "other"))
    report = analyse(load(save(tmp_path, m)))
    assert [r.name for r in report.layers] == ["c", "flat", "fc", "perm"]
    assert report.layers[2].params == 4 * 32 * 32 * 10 + 10
    # any other permutation is convcalc's permute: (N, C, H, W) -> (N, C, W, H) is still a grid,
    # W x H x C, so of the grid's dims (H, W, C) it takes 1, 0, 2
    other = report.layers[3]
    assert other.layer.kind == "permute" and other.layer.order == (1, 0, 2) and other.output.dims == (32, 32, 4)


@pytest.mark.parametrize("permute_first", [False, True])
def test_grid_to_tokens_then_per_token_layers(tmp_path, permute_first):
    # a ViT-style patch embedding: 4x4 stride 4 conv to 8x8x16, to 64 tokens of 16, LayerNorm,
    # MatMul + bias (a Linear on each token), an unknown Hardmax whose recorded (N, 64, 32) is 64 tokens of 32
    c, ws = conv("embed", "x", "e", 16, 3, 4, strides=[4, 4])
    if permute_first:
        plumbing = [h.make_node("Transpose", ["e"], ["p"], name="perm", perm=[0, 2, 3, 1]),
                    h.make_node("Reshape", ["p", "shape"], ["t"], name="to_tokens")]
    else:
        plumbing = [h.make_node("Reshape", ["e", "shape3"], ["p"], name="flat"),  # torch's flatten(2)
                    h.make_node("Transpose", ["p"], ["t"], name="to_tokens", perm=[0, 2, 1])]
    nodes = [c, *plumbing, h.make_node("LayerNormalization", ["t", "g", "be"], ["n"], name="ln", axis=-1),
             h.make_node("MatMul", ["n", "w"], ["mm"], name="fc1"), h.make_node("Add", ["mm", "b"], ["a"], name="bias"),
             h.make_node("Hardmax", ["a"], ["y"], name="erf")]
    inits = [*ws, const("shape", [0, 64, 16], T.INT64), const("shape3", [0, 16, 64], T.INT64), weight("g", [16]),
             weight("be", [16]), weight("w", [16, 32]), weight("b", [32])]
    m = model(nodes, inits)
    m.opset_import[0].version = 17
    path = save(tmp_path, m)
    report = analyse(load(path))
    assert figures(analyse(parse_yaml(run("import", path).stdout, "x.yaml"))) == figures(report)
    rows = [(r.name, r.layer.kind, str(r.output), r.params, r.macs) for r in report.layers]
    assert rows == [("embed", "conv", "8x8x16", 4 * 4 * 3 * 16 + 16, 64 * 4 * 4 * 3 * 16),
                    ("to_tokens", "tokens", "64x16", 0, 0), ("ln", "layernorm", "64x16", 32, 0),
                    ("fc1", "pwlinear", "64x32", 16 * 32 + 32, 64 * 16 * 32), ("erf", "unknown", "64x32", 0, 0)]


def test_asymmetric_pads_on_a_transposed_conv_are_a_crop_after_it(tmp_path):
    # 3 channels of 32x32 up by stride 2, kernel 3, pads begin (0, 1) end (1, 2): the common part
    # (0, 1) is the layer's padding; the rest, one row and one column at the end, a crop.
    # Output (32 − 1)·2 − 0 − 1 + 3 = 64 rows, (32 − 1)·2 − 1 − 2 + 3 = 62 columns, as ONNX infers.
    node = h.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[3, 3], strides=[2, 2],
                       pads=[0, 1, 1, 2])
    m = model([node], [weight("w", [3, 8, 3, 3])])
    report = analyse(load(save(tmp_path, m)))
    assert [(r.name, r.layer.kind, str(r.output)) for r in report.layers] == [
        ("up", "convtranspose", "65x63x8"), ("up.crop", "crop", "64x62x8")]
    assert str(report.output) == recorded(m, "y")
    assert report.layers[0].macs == 32 * 32 * 3 * 3 * 3 * 8  # every input position × kernel × filters


def test_instance_normalization_is_a_group_norm_of_one_channel_per_group(tmp_path):
    node = h.make_node("InstanceNormalization", ["x", "g", "b"], ["y"], name="inorm")
    report = analyse(load(save(tmp_path, model([node], [weight("g", [3]), weight("b", [3])]))))
    layer = report.layers[0]
    assert (layer.layer.kind, layer.layer.groups, layer.params) == ("groupnorm", 3, 2 * 3)


@pytest.mark.parametrize("slope, params", [([3, 1, 1], 3), ([1], 1), ([1, 1, 1], 1)])
def test_prelu_learns_a_slope_per_channel_or_one(tmp_path, slope, params):
    node = h.make_node("PRelu", ["x", "a"], ["y"], name="act")
    report = analyse(load(save(tmp_path, model([node], [weight("a", slope)]))))
    layer = report.layers[0]
    assert (layer.layer.kind, layer.params, layer.macs) == ("prelu", params, 0)


def test_a_roll_and_a_strided_slice_are_slices_and_a_concat_along_an_axis(tmp_path):
    """torch.roll(x, 3, dims=2) as exporters write it, Slice of the last 3 rows then the rest,
    joined along H; then x[:, :, ::2, 1::2] (patch merging's Slices with a step, two axes)."""
    i64 = T.INT64
    nodes = [h.make_node("Slice", ["x", "s0", "e0", "ax"], ["tail"], name="tail"),
             h.make_node("Slice", ["x", "s1", "e1", "ax"], ["head"], name="head"),
             h.make_node("Concat", ["tail", "head"], ["rolled"], name="roll", axis=2),
             h.make_node("Slice", ["rolled", "s2", "e2", "ax2", "st2"], ["y"], name="merge")]
    inits = [const("s0", [-3], i64), const("e0", [2**62], i64), const("s1", [0], i64), const("e1", [-3], i64),
             const("ax", [2], i64), const("s2", [0, 1], i64), const("e2", [2**62, 2**62], i64),
             const("ax2", [2, 3], i64), const("st2", [2, 2], i64)]
    m = model(nodes, inits)
    report = analyse(load(save(tmp_path, m)))
    rows = [(r.name, r.layer.describe(), str(r.output)) for r in report.layers]
    assert rows == [("tail", "SLICE axis 0 29:", "3x32x3"), ("head", "SLICE axis 0 0:29", "29x32x3"),
                    ("concat", "CONCAT axis 0", "32x32x3"), ("merge", "SLICE axis 0 0::2", "16x32x3"),
                    ("merge.1", "SLICE axis 1 1::2", "16x16x3")]
    assert str(report.output) == recorded(m, "y") and not report.unknown_ops
    back = analyse(parse_yaml(run("import", save(tmp_path, m)).stdout, "x.yaml"))
    assert back.output == report.output and back.totals == report.totals
