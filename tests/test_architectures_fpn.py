"""The bundled ResNet-50-FPN detection backbone (torchvision's fasterrcnn_resnet50_fpn body and
FPN): a graph with five outputs, laterals reading earlier stages and a top-down pathway sized
from other tensors.

Every expectation is a literal from issue 12 (measured with PyTorch) or a hand count written out
next to it from torchvision's sources (resnet.py, detection/backbone_utils.py,
ops/feature_pyramid_network.py), never produced by running convcalc (STYLE.md rule 5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from click.testing import CliRunner

from convcalc.analysis.engine import LayerReport, Report, analyse
from convcalc.cli import cli
from convcalc.load import load
from convcalc.spec import catalog
from convcalc.spec.model import with_input
from convcalc.spec.shapes import parse_shape

OUTPUTS = ("p2", "p3", "p4", "p5", "pool")  # torchvision's '0', '1', '2', '3', 'pool'


def report_at(shape: str = "") -> Report:
    spec = load("resnet50_fpn")
    return analyse(with_input(spec, parse_shape(shape)) if shape else spec)


def by_name(report: Report) -> Dict[str, LayerReport]:
    return {r.full_name: r for r in report.layers}


def output_shapes(report: Report) -> List[Tuple[str, str]]:
    return [(o.name, str(o.shape)) for o in report.outputs]


# --- totals -------------------------------------------------------------------------------

# FrozenBatchNorm2d after every conv of the body: conv1 64; a bottleneck of width w has 6·w
# channels of norm, a stage's first block 4·w more on its shortcut:
#   64 + (3·6·64 + 256) + (4·6·128 + 512) + (6·6·256 + 1024) + (3·6·512 + 2048)
#   = 64 + 1,408 + 3,584 + 10,240 + 11,264 = 26,560 channels
NORM_CHANNELS = 26_560


def test_totals_at_800() -> None:
    totals = report_at().totals
    assert (totals.params, totals.macs) == (26_799_296, 88_381_440_000)
    assert totals.buffers == 4 * NORM_CHANNELS == 106_240


def test_totals_by_hand() -> None:
    """The header's hand count: resnet50 without fc and without batchnorm's γ, β, plus the FPN."""
    body = 25_557_032 - (2048 * 1000 + 1000) - 2 * NORM_CHANNELS
    laterals = (256 + 512 + 1024 + 2048) * 256 + 4 * 256
    outputs = 4 * (9 * 256 * 256 + 256)
    assert (body, laterals + outputs) == (23_454_912, 3_344_384)
    assert body + laterals + outputs == 26_799_296
    # MACs: the body's maps are 25/7 as wide as at 224, so its convs do 625/49 of resnet50's
    # 4,087,136,256 (4,089,184,256 less fc's 2,048,000)
    body_macs = 4_087_136_256 * 625 // 49
    lateral_macs = 256 * (200**2 * 256 + 100**2 * 512 + 50**2 * 1024 + 25**2 * 2048)
    output_macs = 9 * 256 * 256 * (200**2 + 100**2 + 50**2 + 25**2)
    assert body_macs + lateral_macs + output_macs == 88_381_440_000
    blocks = {b.full_name: b for b in report_at().blocks}
    assert (blocks["body"].params, blocks["fpn"].params) == (body, laterals + outputs)
    assert (blocks["body"].macs, blocks["fpn"].macs) == (body_macs, lateral_macs + output_macs)


def test_every_norm_is_frozen() -> None:
    """53 FrozenBatchNorm2d (conv1's, 16 blocks × 3, 4 shortcuts): no params, 4·C buffers each."""
    norms = [r for r in report_at().layers if r.layer.family == "bn"]
    assert len(norms) == 1 + 16 * 3 + 4
    assert all(r.layer.kind == "frozenbatchnorm" and r.params == 0 for r in norms)
    assert sum(r.output.channels for r in norms) == NORM_CHANNELS
    assert sum(r.buffers for r in norms) == 4 * NORM_CHANNELS


def test_params_are_counted_whether_trained_or_not() -> None:
    """trainable_backbone_layers=3 freezes conv1 and layer1; they are parameters all the same
    (torchvision's sum over parameters() counts them): 9,408 + 212,992."""
    layers = by_name(report_at())
    layer1 = sum(r.params for r in report_at().layers if r.full_name.startswith("body.layer1."))
    # layer1.0: 64·64 + 9·64·64 + 64·256 + 64·256 (shortcut); layer1.1, .2: 256·64 + 9·64·64 + 64·256
    assert layer1 == 73_728 + 2 * 69_632 == 212_992
    assert layers["body.conv1"].params == 7 * 7 * 3 * 64 == 9_408


# --- outputs at any input -----------------------------------------------------------------

# H_out = floor((H + 2P − F)/S) + 1 for each stride-2 step: conv1 7x7 s2 p3, maxpool 3 s2 p1,
# the 3x3 s2 p1 of layer2.0, layer3.0, layer4.0 (ceil(H/2) for all three), pool 1 s2 p0.
#   800: 400, 200 (C2), 100, 50, 25, pool (25 − 1)/2 + 1 = 13
#   512: 256, 128, 64, 32, 16, pool floor(15/2) + 1 = 8;  768: 384, 192, 96, 48, 24, pool 12
#   600: floor(599/2) + 1 = 300, 150, 75, 38 (= ceil(75/2)), 19, pool 10
#   1000: 500, 250, 125, 63, 32, pool floor(31/2) + 1 = 16
SHAPES = {
    "": [("p2", "200x200x256"), ("p3", "100x100x256"), ("p4", "50x50x256"), ("p5", "25x25x256"),
         ("pool", "13x13x256")],
    "512x768x3": [("p2", "128x192x256"), ("p3", "64x96x256"), ("p4", "32x48x256"), ("p5", "16x24x256"),
                  ("pool", "8x12x256")],
    # odd sizes: 2·19 = 38 fits C4, but 2·38 = 76 ≠ 75 and 2·63 = 126 ≠ 125: only the size
    # rule of F.interpolate(size=lateral.shape[-2:]) (upsample: {like: ...}) meets the lateral
    "600x1000x3": [("p2", "150x250x256"), ("p3", "75x125x256"), ("p4", "38x63x256"), ("p5", "19x32x256"),
                   ("pool", "10x16x256")],
}


@pytest.mark.parametrize("shape", list(SHAPES), ids=lambda s: s or "800x800x3")
def test_five_outputs(shape: str) -> None:
    report = report_at(shape)
    assert output_shapes(report) == SHAPES[shape]
    layers = by_name(report)
    assert [o.tensor for o in report.outputs] == [layers[f"fpn.{n}"].index for n in OUTPUTS]


def test_macs_at_512x768() -> None:
    """Every map at 512x768 has 384/625 of its positions at 800x800 (16·24 against 25·25, and so
    on up to conv1's 256·384 against 400·400), and params do not change."""
    totals = report_at("512x768x3").totals
    assert totals.macs == 88_381_440_000 * 384 // 625 == 54_301_556_736
    assert totals.params == 26_799_296


def test_table_and_json_list_the_outputs() -> None:
    result = CliRunner().invoke(cli, ["table", "resnet50-fpn", "--input", "600x1000x3", "--depth", "0",
                                      "--width", "200"])
    assert result.exit_code == 0, result.output
    assert ("5 outputs: p2 150x250x256 (layer 186) · p3 75x125x256 (layer 182) · p4 38x63x256 (layer 178) · "
            "p5 19x32x256 (layer 174) · pool 10x16x256 (layer 187)") in result.output
    result = CliRunner().invoke(cli, ["table", "resnet50_fpn", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(o["name"], o["text"]) for o in data["outputs"]] == SHAPES[""]


# --- the graph: each layer once, laterals reading earlier stages --------------------------


def test_each_layer_counted_once() -> None:
    """p5 is an output and also read by pool; lat5 feeds p5 and the top-down path: each is one
    layer, counted once. 4 stem layers + 4 projection bottlenecks of 12 + 12 bottlenecks of 10
    = 172 in the body; the FPN has lat5, p5, 3 × (lateral, upsample, add, conv), pool = 15."""
    report = report_at()
    names = [r.full_name for r in report.layers]
    assert len(names) == len(set(names)) == 172 + 15
    assert sum(r.params for r in report.layers) == report.totals.params
    layers = by_name(report)
    readers = {n: [r.full_name for r in report.layers if layers[n].index in r.sources]
               for n in ("fpn.p5", "fpn.lat5")}
    assert readers == {"fpn.p5": ["fpn.pool"], "fpn.lat5": ["fpn.p5", "fpn.up4"]}


def test_laterals_read_the_stages() -> None:
    report = report_at()
    layers = by_name(report)
    blocks = {b.full_name: b for b in report.blocks}
    stage_tensor = {f"body.layer{k}": blocks[f"body.layer{k}"].last for k in (1, 2, 3, 4)}
    for lateral, stage, channels in (("lat2", 1, 256), ("lat3", 2, 512), ("lat4", 3, 1024), ("lat5", 4, 2048)):
        r = layers[f"fpn.{lateral}"]
        assert r.sources == (stage_tensor[f"body.layer{stage}"],)
        assert r.input.channels == channels and r.params == channels * 256 + 256
    # C2 (layer1's output) is read by layer2.0's two branches and then only by lat2, the 13th
    # FPN layer: it stays alive across layer2 ... layer4 and most of the FPN
    c2 = stage_tensor["body.layer1"]
    assert [r.full_name for r in report.layers if c2 in r.sources][-1] == "fpn.lat2"


# --- memory -------------------------------------------------------------------------------


def test_inference_peak_keeps_the_finished_outputs() -> None:
    """The peak is at fpn.inner2's add: lat2, the upsampled inner3 and their sum (200·200·256
    each) while P3, P4 and P5, finished outputs, are kept to the end. ResNet-50's own peak at
    800x800 is 3·200·200·256, in layer1 (a block's input, its last bn and their sum); C2, kept
    alive for lat2, never coincides with anything as large. (PyTorch holds more: the body returns
    C2..C5 in a dict that lives until the FPN returns; convcalc frees each tensor after its last
    reader.)"""
    fpn = report_at()
    assert fpn.memory.peak == 3 * 200 * 200 * 256 + (100 * 100 + 50 * 50 + 25 * 25) * 256 == 34_080_000
    resnet50 = analyse(with_input(load("resnet50"), parse_shape("800x800x3")))
    assert resnet50.memory.peak == 3 * 200 * 200 * 256 == 30_720_000


# --- receptive fields ---------------------------------------------------------------------


def test_receptive_fields_per_output() -> None:
    """By hand (r' = r + (F − 1)·j): conv1 7 j2, maxpool 11 j4; layer1's three 3x3 add 8 each: 35;
    layer2's 3x3 s2 at j4 adds 8, three more 16 each: 91 j8; layer3 16 + 5·32: 267 j16; layer4
    32 + 2·64: 427 j32. P5 = 427 + 2·32 = 491 j32; pool 491 j64. P2..P4: the top-down field of
    an odd unit is centred one lateral step away (nearest upsampling by 2), so no single field
    describes them: 'not aligned', first at fpn.inner4."""
    report = report_at()
    fields = dict(zip((r.full_name for r in report.layers), report.fields))
    sizes = {n: (fields[n].axes[0].size, fields[n].axes[0].jump, fields[n].axes[0].start)
             for n in ("fpn.lat2", "fpn.lat3", "fpn.lat4", "fpn.lat5", "fpn.p5", "fpn.pool")}
    assert sizes == {"fpn.lat2": (35, 4, 0), "fpn.lat3": (91, 8, 0), "fpn.lat4": (267, 16, 0),
                     "fpn.lat5": (427, 32, 0), "fpn.p5": (491, 32, 0), "fpn.pool": (491, 64, 0)}
    for name in ("fpn.p2", "fpn.p3", "fpn.p4"):
        assert fields[name].status == "unaligned"
        assert "'fpn.inner4'" in fields[name].why


def test_json_receptive_field_of_each_output() -> None:
    data = json.loads(CliRunner().invoke(cli, ["table", "resnet50_fpn", "--format", "json"]).output)
    field = {o["name"]: data["layers"][o["tensor"] - 1]["receptive_field"] for o in data["outputs"]}
    assert [field[n]["status"] for n in OUTPUTS] == ["unaligned"] * 3 + ["local"] * 2
    assert (field["p5"]["size"], field["p5"]["jump"]) == ([491, 491], [32, 32])
    assert (field["pool"]["size"], field["pool"]["jump"]) == ([491, 491], [64, 64])


def test_catalog_alias() -> None:
    assert Path(catalog.find("ResNet50-FPN")) == Path(catalog.directory()) / "resnet50_fpn.yaml"


# --- a top-down path that does not meet its lateral: the error names both producers ----------


def test_literal_upsampling_fails_at_an_odd_size_and_says_where(tmp_path: Path) -> None:
    """With 'upsample: 2' in place of 'like: lat3', 600x1000 gives up3 76x126 against lat3's
    75x125 (see SHAPES). The error names the merge, both tensors it reads with their shapes and
    locations, and no 'keeps the input' (the branches read named tensors, not the block's input)."""
    text = (Path(catalog.directory()) / "resnet50_fpn.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    lat3 = next(i for i, line in enumerate(lines, 1) if line.strip() == "name: lat3") - 2  # its '- conv:'
    up3 = next(i for i, line in enumerate(lines, 1) if "upsample: {like: lat3}" in line)
    spec = tmp_path / "fpn.yaml"
    spec.write_text(text.replace("upsample: {like: lat3}", "upsample: 2"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["table", str(spec), "--input", "600x1000x3"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    first = result.output.splitlines()[0]
    assert "block 'fpn.inner3': add needs branches of the same shape, got 75x125x256, 76x126x256" in first
    assert f"branch 1 is 'fpn.lat3' (at {spec}:{lat3}:9), 75x125x256" in first
    assert f"branch 2 is 'fpn.up3' (at {spec}:{up3}:9), 76x126x256" in first
    assert "keeps the input" not in result.output
    assert "upsample: {like: NAME}" in result.output
    # at 800x800 every size is even and the literal scale happens to fit
    assert CliRunner().invoke(cli, ["table", str(spec)]).exit_code == 0
