"""Real exports: torchvision's models as PyTorch's exporter writes them (tests/fixtures/onnx,
made by make.py there, weights stripped), read by convcalc and checked against the bundled specs
written by hand from torchvision's sources, and against torchvision's published figures.

The exporter folds each BatchNorm that directly follows a conv into that conv (eval mode), so
the file holds fewer parameters than torchvision's count: the expected figures are derived
from the bundled spec by that one rule (``folded``), never copied from convcalc's output.
MACs do not change with folding: they equal the bundled spec's exactly.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Tuple

import pytest

pytest.importorskip("onnx")

from convcalc.analysis.engine import Report, analyse  # noqa: E402
from convcalc.importers.recover import recover  # noqa: E402
from convcalc.layers import Conv, DepthwiseConv  # noqa: E402
from convcalc.load import load  # noqa: E402
from convcalc.spec.yaml_reader import parse_yaml  # noqa: E402
from convcalc.spec.yaml_writer import to_yaml  # noqa: E402
from tests.test_hostile import assert_clean, run  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "onnx"

BUNDLED = {  # file -> the bundled spec of the same torchvision model
    "alexnet": "alexnet-torchvision", "vgg16": "vgg16", "resnet18": "resnet18", "resnet50": "resnet50",
    "googlenet": "googlenet", "densenet121": "densenet121", "mobilenet_v2": "mobilenet_v2",
    "shufflenet_v2_x1_0": "shufflenet_v2_x1_0", "squeezenet1_0": "squeezenet1_0", "squeezenet1_1": "squeezenet1_1",
    "convnext_tiny": "convnext_tiny", "vit_b_16": "vit_b_16",
}


def unpack(name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(gzip.decompress((FIXTURES / f"{name}.onnx.gz").read_bytes()))
    return path


def folded(report: Report) -> Tuple[int, int]:
    """Params and buffers an eval-mode export removes: a BatchNorm of C channels right after a
    conv becomes that conv's bias, so its 2·C γ, β and 2·C running statistics go and C bias
    params come (none when the conv already had a bias, as the bias is then adjusted)."""
    params = buffers = 0
    for r in report.layers:
        if r.layer.kind != "batchnorm" or len(r.sources) != 1 or r.sources[0] == 0:
            continue
        conv = report.layers[r.sources[0] - 1].layer
        if isinstance(conv, (Conv, DepthwiseConv)):
            params += r.params - (0 if conv.bias else r.output.channels)
            buffers += r.buffers
    return params, buffers


# The same models through PyTorch's older TorchScript exporter, with a symbolic batch: its
# reshapes read sizes computed by Shape -> Gather -> Div -> Concat programs, GELU is written out
# with Erf, and the attention scale is computed from a shape (onnx_fold runs those programs).
TORCHSCRIPT = {f"{name}-torchscript": BUNDLED[name]
               for name in ("resnet18", "shufflenet_v2_x1_0", "convnext_tiny", "vit_b_16")}


@pytest.mark.parametrize("name", sorted(BUNDLED) + sorted(TORCHSCRIPT))
def test_an_export_gives_its_bundled_spec_less_the_folded_batchnorm(name, tmp_path):
    imported = analyse(load(str(unpack(name, tmp_path))))
    bundled = analyse(load({**BUNDLED, **TORCHSCRIPT}[name]))
    gone_params, gone_buffers = folded(bundled)
    assert not imported.unknown_ops, imported.unknown_ops
    assert imported.totals.macs == bundled.totals.macs
    assert imported.totals.params == bundled.totals.params - gone_params
    assert imported.totals.buffers == bundled.totals.buffers - gone_buffers
    assert imported.output == bundled.output
    weights = ("conv", "pwconv", "dwconv", "fc")
    assert [r.output for r in imported.layers if r.layer.kind in weights and r.macs] == \
        [r.output for r in bundled.layers if r.layer.kind in weights and r.macs] or name.startswith("vit_b_16")


@pytest.mark.parametrize("name, params, bn_channels, gmacs", [
    # torchvision's published params (sum of numel) and GFLOPS metadata (`_ops`, which are MACs),
    # and the channels of the BatchNorms the export folds (sum of num_features, all after convs)
    ("efficientnet_b0", 5_288_548, 21_008, 0.386),
    ("mobilenet_v3_small", 2_542_856, 6_056, 0.057),
])
def test_exports_without_a_bundled_spec_give_the_published_figures(name, params, bn_channels, gmacs, tmp_path):
    imported = analyse(load(str(unpack(name, tmp_path))))
    assert not imported.unknown_ops, imported.unknown_ops
    assert imported.totals.params == params - bn_channels and imported.totals.buffers == 0
    assert round(imported.totals.macs / 1e9, 3) == gmacs


def test_vit_attention_is_two_products_per_layer(tmp_path):
    """The export writes each encoder layer's attention out: heads split by Reshape/Transpose,
    Q·Kᵀ and A·V as MatMuls of two activations: 12 layers, two products of 12·197·197·64 each."""
    report = analyse(load(str(unpack("vit_b_16", tmp_path))))
    products = [r for r in report.layers if r.layer.kind == "matmul"]
    assert len(products) == 24 and {r.macs for r in products} == {12 * 197 * 197 * 64}


@pytest.mark.parametrize("name", ["vit_b_16", "convnext_tiny", "shufflenet_v2_x1_0", "googlenet"])
def test_import_writes_a_spec_that_reads_back_the_same(name, tmp_path):
    path = unpack(name, tmp_path)
    result = run("import", str(path))
    assert_clean(result, (0,))
    back = analyse(parse_yaml(result.output, "imported.yaml"))
    original = analyse(load(str(path)))
    assert back.totals == original.totals and back.output == original.output
    assert analyse(parse_yaml(to_yaml(recover(load(str(path)))), "r.yaml")).totals == original.totals


def test_swin_reads_with_what_it_cannot_count_listed(tmp_path):
    """Swin-T's export writes the shifted windows' roll as Slices and Concats along the spatial
    axes (``slice`` and ``concat`` along an axis) and patch merging as Slices with a step; it adds
    each block's relative position bias as a constant the exporter computed from the learned
    169 x heads table, and the shifted blocks' masks: those Adds of a broadcast constant are
    listed (incomplete) and the rest counted. Params: torchvision's 28,288,354 less the tables,
    Σ 169·heads over the blocks (heads 3, 3, 6, 6, 12 ×6, 24, 24); MACs: the published 4.49 G."""
    report = analyse(load(str(unpack("swin_t", tmp_path))))
    assert set(report.unknown_ops) == {"Add"}
    assert sum(1 for r in report.layers if r.layer.kind == "slice") == 58
    assert report.totals.params == 28_288_354 - 169 * (3 + 3 + 6 + 6 + 12 * 6 + 24 + 24)
    assert round(report.totals.macs / 1e9, 2) == 4.49
    assert report.output.dims == (1000,)
    result = run("table", str(tmp_path / "swin_t.onnx"), "--strict")
    assert_clean(result, (1,))
