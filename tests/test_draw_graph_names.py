"""What the graph style's boxes and legends say: each box's block path at every depth, a run of
identical blocks drawn once as first…last ×N (all of it with --every-layer), a block drawn once
at every depth in every style, and legends in a reader's words."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Dict, List

import pytest

from convcalc.analysis.engine import analyse
from convcalc.draw.blocks import blocks_svg, drawn_items
from convcalc.draw.graph import graph_svg
from convcalc.draw.names import kind_name
from convcalc.load import load

SVG = "{http://www.w3.org/2000/svg}"


def box_names(svg: str) -> Dict[str, str]:
    """data-name -> the name line drawn in the box."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            line = [t.text for t in g.iter(f"{SVG}text") if t.get("class") == "name"]
            out[g.get("data-name")] = line[0] if line else ""
    return out


def height(svg: str) -> int:
    return int(re.search(r'height="(\d+)"', svg).group(1))


def legend(svg: str) -> List[str]:
    """The names beside the legend's swatches."""
    root = ET.fromstring(svg)
    found, names = False, []
    for el in root.iter():
        if el.tag == f"{SVG}rect" and el.get("class") == "swatch":
            found = True
        elif found and el.tag == f"{SVG}text":
            names.append(el.text)
            found = False
    return names


def test_a_bottlenecks_convs_show_their_block_path():
    names = box_names(graph_svg(analyse(load("resnet50")), every_layer=True))
    assert names["layer3.4.add1.conv2"] == "layer3.4 / conv2"  # the engine's add1 left out
    # beside its projection shortcut's conv1, the main path's conv1 needs its branch to be told apart
    assert names["layer1.0.add1.b1.conv1"] == "layer1.0.b1 / conv1"
    assert names["layer1.0.add1.b2.conv1"] == "layer1.0.b2 / conv1"


@pytest.mark.parametrize("net", ["googlenet", "resnet50", "shufflenet_v2_x1_0", "squeezenet1_0", "resnet50_fpn"])
def test_no_two_boxes_named_alike(net: str):
    """An inception module's four branches each drew "inception3a / conv1"; a bottleneck's
    conv1 and its projection shortcut's, "layer1.0 / conv1" both."""
    report = analyse(load(net))
    for depth in (None, 1, 2):
        shown = [n for n in box_names(graph_svg(report, depth=depth)).values() if n]
        assert len(shown) == len(set(shown)), (depth, sorted(n for n in shown if shown.count(n) > 1))
    names = box_names(graph_svg(report))
    if net == "googlenet":
        assert names["inception3a.b1.conv1"] == "inception3a.b1 / conv1"
        assert names["inception3a.b4.conv1"] == "inception3a.b4 / conv1"


def test_googlenets_stem_and_vits_mlp_are_told_apart():
    stem = box_names(graph_svg(analyse(load("googlenet"))))
    assert [stem[n] for n in ("conv1.conv1", "conv2.conv1", "conv3.conv1")] == \
        ["conv1 / conv1", "conv2 / conv1", "conv3 / conv1"]
    vit = box_names(graph_svg(analyse(load("vit_b_16")), every_layer=True))
    assert vit["encoder.layers.encoder_layer_0.add2.mlp.0"] == "encoder.layers.encoder_layer_0.mlp / 0"
    assert vit["encoder.layers.encoder_layer_0.add2.mlp.3"] == "encoder.layers.encoder_layer_0.mlp / 3"


def test_identical_blocks_in_a_row_drawn_once():
    report = analyse(load("resnet50"))
    folded, every = graph_svg(report), graph_svg(report, every_layer=True)
    root = ET.fromstring(folded)
    frames = {r.get("data-copies"): r.get("data-hidden") for r in root.iter(f"{SVG}rect") if r.get("class") == "fold"}
    by_name = {r.full_name: r.index for r in report.layers}
    # layer3.0 has the projection shortcut; layer3.1 ... layer3.5 are one bottleneck five times
    copies = " ".join(f"layer3.{i}" for i in range(1, 6))
    first_of_2 = min(r.index for r in report.layers if r.full_name.startswith("layer3.2."))
    assert frames[copies] == f"{first_of_2} {by_name['layer3.5.relu1']}"
    names = box_names(folded)
    assert names["layer3.1.add1.conv1"] == "layer3.1…5 ×5 / conv1"
    assert not any(n.startswith("layer3.2.") for n in names)
    assert "layer3.2.add1.conv1" in box_names(every)  # --every-layer draws every copy
    assert height(folded) < 0.6 * height(every)


@pytest.mark.parametrize("name, before", [("resnet152", 21785), ("vit_b_16", 7199), ("convnext_tiny", 8465)])
def test_folding_cuts_the_tallest_pictures(name: str, before: int):
    """Heights (px) before folding, measured on this picture's previous version."""
    assert height(graph_svg(analyse(load(name)))) < before / 2


def test_a_run_is_folded_only_where_nothing_reads_inside_it():
    # b's second copy's conv is read from outside the run: drawing it once would hide that read
    spec = "32x32x3 conv8k3p1 res(conv8k3p1 conv8k3p1) res(conv8k3p1:x conv8k3p1) res(conv8k3p1 conv8k3p1) add(@x | conv8k1)"
    names = box_names(graph_svg(analyse(load(spec))))
    assert "res2.x" in names
    plain = "32x32x3 conv8k3p1 res(conv8k3p1 conv8k3p1) res(conv8k3p1 conv8k3p1) res(conv8k3p1 conv8k3p1) conv8k1"
    names = box_names(graph_svg(analyse(load(plain))))
    assert names["res1.conv1"] == "res1…3 ×3 / conv1" and "res2.conv1" not in names


def test_googlenet_at_depth_1_draws_each_inception_once():
    report = analyse(load("googlenet"))
    items = [it.name for it in drawn_items(report, 1)]
    assert "inception3a" in items and not any(n.endswith(".concat") for n in items)
    assert sum(it.macs * it.count for it in drawn_items(report, 1)) == report.totals.macs
    for depth in (0, 1):
        graph = box_names(graph_svg(report, depth=depth))
        assert not ("inception3a" in graph and "inception3a.concat" in graph), depth


@pytest.mark.parametrize("kind, name", [("bottleneck_proj", "bottleneck"), ("inverted_res", "inverted residual"),
                                        ("cnblock", "ConvNeXt block"), ("DOUBLE_CONV", "double conv"),
                                        ("conv", "conv"), ("my_block-2", "my block 2")])
def test_kind_names(kind: str, name: str):
    assert kind_name(kind) == name


@pytest.mark.parametrize("net, wanted, unwanted", [
    ("resnet50", "bottleneck", "bottleneck_proj"), ("mobilenet_v2", "inverted residual", "inverted_res"),
    ("convnext_tiny", "ConvNeXt block", "cnblock"), ("unet", "double conv", "double_conv")])
def test_legends_read_as_words(net: str, wanted: str, unwanted: str):
    report = analyse(load(net))
    seen = 0
    for depth in (None, 0, 1, 2, 3):
        for svg in (blocks_svg(report, depth=depth), graph_svg(report, depth=depth)):
            names = legend(svg)
            assert unwanted not in names and names.count(wanted) <= 1, (depth, names)
            seen += wanted in names
    assert seen


def test_alternating_blocks_folded_in_pairs():
    """Swin's blocks alternate plain and shifted windows: features.5's six are three pairs."""
    report = analyse(load("swin_t"))
    names = box_names(graph_svg(report))
    assert names["features.5.0.add1.attn"] == "features.5.0…4 ×3 / attn"
    assert names["features.5.1.add1.attn"] == "features.5.1…5 ×3 / attn"
    assert names["features.5.0.add2.mlp.0"] == "features.5.0…4.mlp ×3 / 0"
    assert not any(n.startswith(("features.5.2.", "features.5.5.")) for n in names)
    assert "shifted" in [g for g in report.layers if g.full_name == "features.5.1.add1.attn"][0].layer.describe()


@pytest.mark.parametrize("net", ["vit_b_16", "maxvit_t", "swin_t"])
def test_one_swatch_per_colour(net: str):
    """ViT's legend showed three swatches of one teal (tokens, cls, pos) and two of one purple
    (linear, fc): kinds of a family share a colour, so the legend names them together."""
    report = analyse(load(net))
    for svg in (graph_svg(report), blocks_svg(report, depth=None)):
        root = ET.fromstring(svg)
        fills = [r.get("fill") for r in root.iter(f"{SVG}rect") if r.get("class") == "swatch"]
        assert len(fills) == len(set(fills)), fills
    names = legend(graph_svg(report))
    if net == "vit_b_16":
        assert "tokens, cls, pos" in names and "linear, fc" in names, names


def test_a_collapsed_block_says_what_it_folds_away():
    """At --depth 1 resnet50_fpn's stages were four plain "BLOCK" boxes, as if a chain."""
    root = ET.fromstring(graph_svg(analyse(load("resnet50_fpn")), depth=1))
    said = {g.get("data-name"): [t.text for t in g.iter(f"{SVG}text") if t.get("class") == "inside"]
            for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    assert said["body.layer1"] == ["3 residual blocks ⊕"] and said["body.layer3"] == ["6 residual blocks ⊕"]
    assert said["fpn.lat5"] == []
