"""The ONNX reader meeting PyTorch's exporter halfway (issue 22, item 4): rows named by the module
paths the dynamo exporter records, a mean over any axes, a bias passed on through an Identity,
and what the exporter's BatchNorm folding changes said in a note.

The fixtures (tests/fixtures/onnx/*-scopes.onnx.gz) are torch 2.14's dynamo exports with their
nodes' module paths kept (make.py --scopes); the expected names come from the recorded
torch.export program of the same model (tests/fixtures/torch), read by the other importer.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

pytest.importorskip("onnx")

from onnx import helper as h  # noqa: E402
from test_from_torch import replayed  # noqa: E402
from test_import_onnx import model, save, weight  # noqa: E402

from convcalc.analysis.engine import analyse  # noqa: E402
from convcalc.load import load  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "onnx"


def unpack(name: str, tmp_path: Path) -> str:
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(gzip.decompress((FIXTURES / f"{name}.onnx.gz").read_bytes()))
    return str(path)


def test_rows_are_named_by_the_module_paths_the_exporter_recorded(tmp_path):
    """Every conv and the fc carry the names torch.export's program gives the same modules."""
    onnx_rows = analyse(load(unpack("resnet18-scopes", tmp_path))).layers
    torch_rows = analyse(replayed("resnet18")).layers
    weighted = sorted(r.full_name for r in onnx_rows if r.layer.kind in ("conv", "fc"))
    assert weighted == sorted(r.full_name for r in torch_rows if r.layer.kind in ("conv", "fc"))
    assert "layer2.0.downsample.0" in weighted
    names = {r.full_name for r in onnx_rows}
    assert {"layer1.0.relu", "layer1.0.relu_2", "layer1.0.add.add", "maxpool", "avgpool"} <= names


def test_a_batchnorm_folded_into_its_conv_is_said(tmp_path):
    """The file holds 20 convs with a bias of C where the module has BatchNorm's 2·C params (and
    2·C buffers): the note says so, and the figures are the bundled spec's folded that way."""
    spec = load(unpack("resnet18-scopes", tmp_path))
    assert len(spec.notes) == 1 and "folded 20 BatchNorms" in spec.notes[0]
    ours, bundled = analyse(spec), analyse(load("resnet18"))
    bn = [r for r in bundled.layers if r.layer.kind == "batchnorm"]
    assert ours.totals.macs == bundled.totals.macs
    assert ours.totals.params == bundled.totals.params - sum(r.params for r in bn) + sum(r.output.channels for r in bn)


def test_a_mean_over_tokens_is_counted(tmp_path):
    """x.mean(1) on N x L x C (a ReduceMean over axis 1): a pool over the tokens, nothing unknown."""
    report = analyse(load(unpack("tokens_mean-scopes", tmp_path)))
    assert report.unknown_ops == {}
    assert [r.full_name for r in report.layers] == ["conv", "relu", "transpose", "mean.pool", "mean", "fc"]
    assert report.output.dims == (4,)
    assert report.totals.macs == 8 * 8 * 8 * (3 * 3 * 3) + 8 * 4  # the conv's and the fc's


@pytest.mark.parametrize("axes, keep, out", [
    ([2], 0, (1, 4, 5)),        # over H of N x C x H x W: C x W left
    ([1], 1, (1, 1, 6, 5)),     # over the channels, kept
    ([1, 3], 0, (1, 6)),        # over C and W
    ([2, 3], 0, (1, 4)),        # every position: a global pool, then C
])
def test_a_mean_over_any_axes_but_the_batch(tmp_path, axes, keep, out):
    nodes = [h.make_node("ReduceMean", ["x"], ["m"], name="mean", axes=axes, keepdims=keep),
             h.make_node("Relu", ["m"], ["y"], name="relu")]
    m = model(nodes, [], shape=(1, 4, 6, 5))
    m.opset_import[0].version = 13
    report = analyse(load(save(tmp_path, m)))
    assert report.unknown_ops == {}
    assert report.output.dims == out[1:]  # the file's dims, the batch left out


def test_a_mean_over_the_batch_stays_unknown(tmp_path):
    nodes = [h.make_node("ReduceMean", ["x"], ["y"], name="mean", axes=[0], keepdims=1)]
    report = analyse(load(save(tmp_path, model(nodes, [], shape=(1, 4, 6, 5)))))
    assert report.unknown_ops == {"ReduceMean": 1}


def test_a_bias_passed_on_through_an_identity_is_the_linear_s_bias(tmp_path):
    """MatMul, then Add of Identity(bias): one fc with its bias, as without the Identity."""
    def linear(identity: bool):
        nodes = [h.make_node("Flatten", ["x"], ["f"], name="flat"),
                 h.make_node("MatMul", ["f", "w"], ["p"], name="fc")]
        if identity:
            nodes.append(h.make_node("Identity", ["b"], ["b2"], name="pass"))
        nodes.append(h.make_node("Add", ["p", "b2" if identity else "b"], ["y"], name="bias"))
        return model(nodes, [weight("w", [12, 4]), weight("b", [4])], shape=(1, 3, 2, 2))

    plain, passed = (analyse(load(save(tmp_path, linear(i), f"m{i}.onnx"))) for i in (False, True))
    assert passed.unknown_ops == {}
    assert passed.totals.params == plain.totals.params == 12 * 4 + 4
    assert [r.layer for r in passed.layers] == [r.layer for r in plain.layers]


def test_the_namespace_form_names_rows_too(tmp_path):
    """A file with ``namespace`` (and no name_scopes): 'root/block: type/block.conv: type/op: op'."""
    node = h.make_node("Relu", ["x"], ["y"], name="node_relu_7")
    entry = node.metadata_props.add()
    entry.key, entry.value = "namespace", ": Net/block: Block/block.act: ReLU/relu: aten.relu.default"
    report = analyse(load(save(tmp_path, model([node], [], shape=(1, 3, 4, 4)))))
    assert [r.full_name for r in report.layers] == ["block.act"]


def test_a_damaged_scope_falls_back_to_the_node_s_name(tmp_path):
    node = h.make_node("Relu", ["x"], ["y"], name="node_relu_7")
    entry = node.metadata_props.add()
    entry.key, entry.value = "pkg.torch.onnx.name_scopes", "['', 'a'"  # cut short
    report = analyse(load(save(tmp_path, model([node], [], shape=(1, 3, 4, 4)))))
    assert [r.full_name for r in report.layers] == ["node_relu_7"]
