"""The bundled architectures against numbers published for the real networks.

Every expectation here is a literal written down from a paper, torchvision's documentation or
the cs231n notes in the project's seeds, or a hand count shown in a comment next to it. None is
produced by running convcalc, so the engine is checked against an independent oracle
(STYLE.md rule 5), not against itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from convcalc.analysis.engine import Report, analyse
from convcalc.spec import catalog
from convcalc.spec.layer_string import parse_string
from convcalc.spec.model import NetworkSpec
from convcalc.spec.yaml_reader import parse_yaml

BUNDLED = (
    "alexnet",
    "alexnet-torchvision",
    "lenet5",
    "vgg-a",
    "vgg-a-lrn",
    "vgg-b",
    "vgg-c",
    "vgg-d",
    "vgg-e",
    "zfnet",
)


def path_of(name: str) -> Path:
    return Path(catalog.directory()) / f"{name}.yaml"


def spec_of(name: str) -> NetworkSpec:
    path = path_of(name)
    return parse_yaml(path.read_text(encoding="utf-8"), str(path))


def report_of(name: str) -> Report:
    return analyse(spec_of(name))


def by_name(report: Report) -> Dict[str, object]:
    return {r.name: r for r in report.layers}


# --- 1. published totals ------------------------------------------------------------------

# (architecture, params, MACs or None where nothing exact is published)
PUBLISHED: List[Tuple[str, int, Optional[int]]] = [
    # LeNet-5 with a dense C3. LeCun et al. 1998, Section II.B, gives C1 156 parameters,
    # C5 48,120 and F6 10,164; a dense C3 has 5·5·6·16 + 16 = 2,416 (the paper's sparse C3 has
    # 1,516), the plain average pools none, and the 10-way output 84·10 + 10 = 850:
    #   156 + 2,416 + 48,120 + 10,164 + 850 = 61,706, the figure usually quoted for it.
    # MACs, the paper's connections without the bias terms:
    #   C1 28·28·(5·5·1)·6 = 117,600; C3 10·10·(5·5·6)·16 = 240,000; C5 400·120 = 48,000;
    #   F6 120·84 = 10,080; output 84·10 = 840; total 416,520.
    ("lenet5", 61_706, 416_520),
    # AlexNet as the cs231n listing (seeds 001/003), no groups. Per layer, weights + biases:
    #   conv1 11·11·3·96 + 96 = 34,944       conv2 5·5·96·256 + 256 = 614,656
    #   conv3 3·3·256·384 + 384 = 885,120    conv4 3·3·384·384 + 384 = 1,327,488
    #   conv5 3·3·384·256 + 256 = 884,992    fc6 9,216·4,096 + 4,096 = 37,752,832
    #   fc7 4,096·4,096 + 4,096 = 16,781,312 fc8 4,096·1,000 + 1,000 = 4,097,000
    #   total 62,378,344 (the usual figure for single-GPU AlexNet; the paper's "60 million" has
    #   conv2, conv4, conv5 split in two groups).
    # MACs = output positions × weights per position:
    #   conv1 55²·34,848 = 105,415,200       conv2 27²·614,400 = 447,897,600
    #   conv3 13²·884,736 = 149,520,384      conv4 13²·1,327,104 = 224,280,576
    #   conv5 13²·884,736 = 149,520,384      fc6 + fc7 + fc8 = 58,621,952
    #   total 1,135,256,096.
    ("alexnet", 62_378_344, 1_135_256_096),
    # torchvision docs, AlexNet_Weights.IMAGENET1K_V1: num_params 61,100,840, GFLOPS 0.71
    # (torchvision's "GFLOPS" count multiply-accumulates). Exact MACs by hand:
    #   conv1 55²·(11·11·3·64) = 70,276,800   conv2 27²·(5·5·64·192) = 223,948,800
    #   conv3 13²·(3·3·192·384) = 112,140,288 conv4 13²·(3·3·384·256) = 149,520,384
    #   conv5 13²·(3·3·256·256) = 99,680,256  fc6 + fc7 + fc8 = 58,621,952
    #   total 714,188,480.
    ("alexnet-torchvision", 61_100_840, 714_188_480),
    # torchvision docs, VGG11/13/16/19_Weights.IMAGENET1K_V1, num_params; VGG-16's MACs are
    # torchvision's "15.47 GFLOPS" counted exactly:
    #   convs 15,346,630,656 + fc 25,088·4,096 + 4,096·4,096 + 4,096·1,000 = 123,633,664.
    ("vgg-a", 132_863_336, None),
    ("vgg-b", 133_047_848, None),
    ("vgg-d", 138_357_544, 15_470_264_320),
    ("vgg-e", 143_667_240, None),
    # Not in torchvision; by hand from Table 1 of Simonyan & Zisserman 2014.
    # vgg-a-lrn is A plus one LRN layer, which has no parameters and no MACs:
    #   params 132,863,336 and MACs 7,609,090,048, configuration A's.
    # vgg-c is D with conv3_3, conv4_3, conv5_3 1x1 instead of 3x3. Each of those loses
    # 8/9 of its weights; biases stay:
    #   conv3_3 3·3·256·256 − 256·256 = 524,288 fewer weights
    #   conv4_3, conv5_3 3·3·512·512 − 512·512 = 2,097,152 fewer each
    #   params 138,357,544 − 524,288 − 2·2,097,152 = 133,638,952 (the paper's Table 2: 134M)
    #   MACs 15,470,264,320 − 56²·524,288 − 28²·2,097,152 − 14²·2,097,152
    #      = 15,470,264,320 − 1,644,167,168 − 1,644,167,168 − 411,041,792 = 11,770,888,192
    ("vgg-a-lrn", 132_863_336, 7_609_090_048),
    ("vgg-c", 133_638_952, 11_770_888_192),
    # torchvision's fasterrcnn_resnet50_fpn backbone at 800x800x3 (FrozenBatchNorm2d, five
    # outputs), issue 12's PyTorch figures; by hand in the file's header and in
    # tests/test_architectures_fpn.py: body 23,454,912 + FPN 3,344,384 params;
    # 52,131,840,000 + 4,915,200,000 + 31,334,400,000 MACs.
    ("resnet50_fpn", 26_799_296, 88_381_440_000),
    # U-Net, Ronneberger et al. 2015, 572x572x1 -> 388x388x2: the paper gives no count; issue 12
    # measured a faithful PyTorch implementation. The hand sum, layer by layer, is written out in
    # tests/test_architectures_seg.py (UNET_LAYERS) and in architectures/unet.yaml's header.
    ("unet", 31_030_658, 150_428_424_448),
    # torchvision's fcn_resnet50() (aux_loss None: no auxiliary head) at 520x520x3, issue 12's
    # PyTorch measurement: ResNet-50 without avgpool and fc, 25,557,032 − 2,049,000 = 23,508,032,
    # plus FCNHead(2048, 21) 9·2,048·512 + 2·512 + 512·21 + 21 = 9,448,981. MACs by hand in
    # tests/test_architectures_seg.py (fcn_macs).
    ("fcn_resnet50", 32_957_013, 142_725_772_800),
]


@pytest.mark.parametrize("name, params, macs", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_totals(name: str, params: int, macs: Optional[int]) -> None:
    totals = report_of(name).totals
    assert totals.params == params
    if macs is not None:
        assert totals.macs == macs


# torchvision's documentation rounds MACs to two decimals of a billion ("GFLOPS").
TORCHVISION_GMACS = [
    ("alexnet-torchvision", 0.71),
    ("vgg-a", 7.61),
    ("vgg-b", 11.31),
    ("vgg-d", 15.47),
    ("vgg-e", 19.63),
]


@pytest.mark.parametrize("name, gmacs", TORCHVISION_GMACS, ids=[t[0] for t in TORCHVISION_GMACS])
def test_torchvision_gflops(name: str, gmacs: float) -> None:
    assert round(report_of(name).totals.macs / 1e9, 2) == gmacs


# Table 1's header row: "11 weight layers" ... "19 weight layers".
VGG_DEPTH = [("vgg-a", 11), ("vgg-a-lrn", 11), ("vgg-b", 13), ("vgg-c", 16), ("vgg-d", 16), ("vgg-e", 19)]


@pytest.mark.parametrize("name, depth", VGG_DEPTH, ids=[v[0] for v in VGG_DEPTH])
def test_vgg_weight_layers(name: str, depth: int) -> None:
    assert sum(1 for r in report_of(name).layers if r.params) == depth


# --- 2. the lecture notes, line by line -----------------------------------------------------

# cs231n "Full (simplified) AlexNet architecture", seeds 001 and 003, as bracketed there.
CS231N_ALEXNET = [
    ("conv1", "55x55x96"),
    ("pool1", "27x27x96"),
    ("norm1", "27x27x96"),
    ("conv2", "27x27x256"),
    ("pool2", "13x13x256"),
    ("norm2", "13x13x256"),
    ("conv3", "13x13x384"),
    ("conv4", "13x13x384"),
    ("conv5", "13x13x256"),
    ("pool3", "6x6x256"),
    ("fc6", "4096"),
    ("fc7", "4096"),
    ("fc8", "1000"),
]


def test_cs231n_alexnet_listing() -> None:
    report = report_of("alexnet")
    assert str(report.spec.input) == "227x227x3"
    layers = by_name(report)
    assert [(n, str(layers[n].output)) for n, _ in CS231N_ALEXNET] == CS231N_ALEXNET
    # "Parameters: (11*11*3)*96 = 35K"
    assert layers["conv1"].params - 96 == 34_848
    # the listing's order: only conv, pool, norm and fc layers carry its names
    weighted = [r.name for r in report.layers if r.layer.kind in ("conv", "maxpool", "lrn", "fc")]
    assert weighted == [n for n, _ in CS231N_ALEXNET]


# cs231n's VGG-16 table, seeds 002: label, shape, memory (output elements) and
# params "not counting biases", as printed there.
CS231N_VGG16 = [
    ("CONV3-64", "224x224x64", 224 * 224 * 64, 1_728),
    ("CONV3-64", "224x224x64", 224 * 224 * 64, 36_864),
    ("POOL2", "112x112x64", 112 * 112 * 64, 0),
    ("CONV3-128", "112x112x128", 112 * 112 * 128, 73_728),
    ("CONV3-128", "112x112x128", 112 * 112 * 128, 147_456),
    ("POOL2", "56x56x128", 56 * 56 * 128, 0),
    ("CONV3-256", "56x56x256", 56 * 56 * 256, 294_912),
    ("CONV3-256", "56x56x256", 56 * 56 * 256, 589_824),
    ("CONV3-256", "56x56x256", 56 * 56 * 256, 589_824),
    ("POOL2", "28x28x256", 28 * 28 * 256, 0),
    ("CONV3-512", "28x28x512", 28 * 28 * 512, 1_179_648),
    ("CONV3-512", "28x28x512", 28 * 28 * 512, 2_359_296),
    ("CONV3-512", "28x28x512", 28 * 28 * 512, 2_359_296),
    ("POOL2", "14x14x512", 14 * 14 * 512, 0),
    ("CONV3-512", "14x14x512", 14 * 14 * 512, 2_359_296),
    ("CONV3-512", "14x14x512", 14 * 14 * 512, 2_359_296),
    ("CONV3-512", "14x14x512", 14 * 14 * 512, 2_359_296),
    ("POOL2", "7x7x512", 7 * 7 * 512, 0),
    ("FC", "1x1x4096", 4096, 102_760_448),
    ("FC", "1x1x4096", 4096, 16_777_216),
    ("FC", "1x1x1000", 1000, 4_096_000),
]

_KIND_OF_LABEL = {"CONV3": "conv", "POOL2": "maxpool", "FC": "fc"}


def test_cs231n_vgg16_table() -> None:
    report = report_of("vgg-d")
    assert str(report.spec.input) == "224x224x3" and report.spec.input.elements == 224 * 224 * 3
    rows = [r for r in report.layers if r.layer.kind in ("conv", "maxpool", "fc")]
    assert len(rows) == len(CS231N_VGG16)
    for row, (label, shape, memory, weights) in zip(rows, CS231N_VGG16):
        assert row.layer.kind == _KIND_OF_LABEL[label.split("-")[0]], (row.name, label)
        # the table writes an fc output as 1x1xN; convcalc as the flat vector N
        assert str(row.output) == shape.replace("1x1x", ""), (row.name, label)
        assert row.activations == memory, (row.name, label)
        biases = row.output.channels if row.params else 0
        assert row.params - biases == weights, (row.name, label)
    # the table's sum of weights is VGG-16's total less one bias per conv filter and fc unit
    assert sum(w for *_, w in CS231N_VGG16) == 138_357_544 - (2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 + 2 * 4096 + 1000)


# Zeiler & Fergus 2013, Fig. 3: the side of every map, layer by layer.
ZFNET_FIG3 = [("conv1", 110), ("pool1", 55), ("conv2", 26), ("pool2", 13),
              ("conv3", 13), ("conv4", 13), ("conv5", 13), ("pool3", 6)]
ZFNET_DEPTHS = {"conv1": 96, "pool1": 96, "conv2": 256, "pool2": 256,
                "conv3": 384, "conv4": 384, "conv5": 256, "pool3": 256}


def test_zfnet_figure_3_sizes() -> None:
    layers = by_name(report_of("zfnet"))
    sizes = [(n, layers[n].output.spatial) for n, _ in ZFNET_FIG3]
    assert sizes == [(n, (s, s)) for n, s in ZFNET_FIG3]
    assert {n: layers[n].output.channels for n in ZFNET_DEPTHS} == ZFNET_DEPTHS
    # "6 · 6 · 256 = 9216 dimensions" into fc6
    assert layers["fc6"].input.elements == 9216


# Strides that do not fit are flagged exactly where the header comments say so, and nowhere
# else. In both bundled cases what is left over is padding only ((224 + 4 − 11) mod 4 = 1 ≤ 2;
# (224 + 2 − 7) mod 2 = 1 ≤ 1), so no input is lost: an info note, not a warning.
EXPECTED_MISFITS = {"alexnet-torchvision": ["conv1"], "zfnet": ["conv1"]}


@pytest.mark.parametrize("name", BUNDLED)
def test_misfits_only_where_documented(name: str) -> None:
    report = report_of(name)
    flagged = [(r.name, n.code) for r in report.layers for n in r.notes if n.code.startswith("stride-")]
    assert flagged == [(n, "stride-skips-padding") for n in EXPECTED_MISFITS.get(name, [])]
    assert report.warnings == ()


# --- 3. the YAML file and the layer string agree ------------------------------------------

ALEXNET_STRING = (
    "227x227x3 conv96k11s4 relu maxpool3s2 lrn "
    "conv256k5p2 relu maxpool3s2 lrn "
    "conv384k3p1 relu conv384k3p1 relu conv256k3p1 relu maxpool3s2 "
    "fc4096 relu dropout fc4096 relu dropout fc1000 softmax"
)


def test_alexnet_yaml_equals_layer_string() -> None:
    from_yaml = spec_of("alexnet")
    from_string = parse_string(ALEXNET_STRING)
    assert from_yaml.input == from_string.input
    assert [ls.layer for ls in from_yaml.layers] == [ls.layer for ls in from_string.layers]


# --- 4. every file is well formed ---------------------------------------------------------


# Networks built from blocks (residual, inception): checked in test_architectures_graph.py.
GRAPHS = ("convnext_tiny", "googlenet", "googlenet-paper", "mobilenet_v2", "resnet18", "resnet34", "resnet50",
          "resnet50-v1", "shufflenet_v2_x1_0", "vit_b_16",
          "resnet50_fpn", "densenet121", "resnet152", "squeezenet1_0", "squeezenet1_1", "mobilenet_v1", "swin_t", "maxvit_t")


# Segmentation networks (named references, crops and upsampling to other tensors' sizes):
# checked in test_architectures_seg.py.
SEGMENTATION = ("fcn_resnet50", "unet")


def test_bundled_names() -> None:
    assert tuple(catalog.names()) == tuple(sorted(BUNDLED + GRAPHS + SEGMENTATION))


@pytest.mark.parametrize("name", BUNDLED)
def test_file_is_well_formed(name: str) -> None:
    path = path_of(name)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    assert text.startswith("# "), "each file opens with a comment citing its source"
    spec = spec_of(name)
    assert spec.name == path.stem == name
    assert spec.title and spec.reference
    assert spec.layers
    for ls in spec.layers:
        assert ls.loc is not None and ls.loc.file == str(path)
        assert 0 < ls.loc.line <= len(lines)
        assert ls.loc.source == lines[ls.loc.line - 1]
        # conv, pool, norm and fc layers carry the names of their sources; only the
        # parameter-free activations, dropouts and softmax are left to default names
        if ls.layer.family not in ("act", "dropout", "softmax"):
            assert ls.name, f"{name}: line {ls.loc.line} has no name"
    names = [r.name for r in analyse(spec).layers]
    assert len(names) == len(set(names)), "layer names are unique"


# --- 5. the catalog finds them ------------------------------------------------------------


@pytest.mark.parametrize(
    "asked, file",
    [
        ("VGG16", "vgg-d"),
        ("vgg16", "vgg-d"),
        ("vgg-d", "vgg-d"),
        ("VGG-D", "vgg-d"),
        ("Vgg11", "vgg-a"),
        ("vgg13", "vgg-b"),
        ("VGG19", "vgg-e"),
        ("vgg-a-lrn", "vgg-a-lrn"),
        ("AlexNet", "alexnet"),
        ("alexnet-torchvision", "alexnet-torchvision"),
        ("ZFNet", "zfnet"),
        ("LeNet-5", "lenet5"),
        ("ConvNeXt-T", "convnext_tiny"),
        ("convnext_tiny", "convnext_tiny"),
        ("ViT-B-16", "vit_b_16"),
        ("vit_b_16", "vit_b_16"),
        ("ShuffleNetV2", "shufflenet_v2_x1_0"),
        ("shufflenet_v2", "shufflenet_v2_x1_0"),
        ("ResNet50-FPN", "resnet50_fpn"),
    ],
)
def test_catalog_finds(asked: str, file: str) -> None:
    assert Path(catalog.find(asked)) == path_of(file)


def test_catalog_misses() -> None:
    assert catalog.find("vgg17") is None
    assert catalog.find("") is None


# --- what a file's header says about its notes is what `convcalc table` shows (issue 11) -------

NOTE_PHRASES = ("does not fit", "skips padding", "skips by design")


@pytest.mark.parametrize("name", catalog.names())
def test_the_header_quotes_only_notes_the_table_shows(name: str):
    import re

    header = "\n".join(line[1:] for line in path_of(name).read_text(encoding="utf-8").splitlines()
                       if line.startswith("#"))
    quoted = {p for p in re.findall(r'"([^"]+)"', " ".join(header.split())) if p in NOTE_PHRASES}
    shown = " ".join(n.brief or n.text for r in analyse(spec_of(name)).layers for n in r.notes)
    for phrase in quoted:
        assert phrase in shown, f"{name}.yaml's header quotes \"{phrase}\"; the table has no such note"



def test_googlenet_runs_on_16x16_as_torchvision() -> None:
    """Ceil-mode pools whose window is larger than the padded input but starts inside it give
    one output, as PyTorch's: torchvision's GoogLeNet runs on 16x16 (maxpool3 and maxpool4 see
    a 2x2 and a 1x1 input)."""
    text = path_of("googlenet").read_text(encoding="utf-8").replace("input: [224, 224, 3]", "input: [16, 16, 3]")
    report = analyse(parse_yaml(text, "googlenet-16.yaml"))
    layers = by_name(report)
    assert str(layers["maxpool3"].input) == "2x2x480" and str(layers["maxpool3"].output) == "1x1x480"
    assert str(layers["maxpool4"].output) == "1x1x832"
    assert str(report.output) == "1000"
