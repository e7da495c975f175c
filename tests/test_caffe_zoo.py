"""Model-zoo deploy files, generated here layer for layer as their authors released them (BVLC
GoogLeNet, He et al.'s ResNet-50), read by ``read_caffe`` and checked against the bundled specs
``googlenet-paper`` and ``resnet50-v1``: the same network written two ways gives the same totals.

The text follows the released files' structure (names, blob wiring, in-place ReLU / BatchNorm /
Scale, Concat, Eltwise, the ``param { lr_mult }`` and ``weight_filler`` fields convcalc ignores),
so a difference in the counts is a difference in the reader, not in the fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Tuple

from click.testing import CliRunner

from convcalc.cli import cli
from convcalc.engine import analyse
from convcalc.importers.caffe import read_caffe
from convcalc.load import load

# --- prototxt pieces, spelled as the released deploy files spell them -------------------------


def conv(name: str, bottom: str, n: int, k: int, pad: int = 0, stride: int = 1, bias: bool = True) -> str:
    return (f'layer {{\n  name: "{name}"\n  type: "Convolution"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            "  param {\n    lr_mult: 1\n    decay_mult: 1\n  }\n"
            + ("  param {\n    lr_mult: 2\n    decay_mult: 0\n  }\n" if bias else "")
            + f"  convolution_param {{\n    num_output: {n}\n    pad: {pad}\n    kernel_size: {k}\n"
            + (f"    stride: {stride}\n" if stride != 1 else "")
            + ("" if bias else "    bias_term: false\n")
            + '    weight_filler {\n      type: "xavier"\n      std: 0.1\n    }\n'
            + ('    bias_filler {\n      type: "constant"\n      value: 0.2\n    }\n' if bias else "")
            + "  }\n}\n")


def inplace(kind: str, name: str, blob: str, body: str = "") -> str:
    return f'layer {{\n  name: "{name}"\n  type: "{kind}"\n  bottom: "{blob}"\n  top: "{blob}"\n{body}}}\n'


def pool(name: str, bottom: str, k: int, s: int, method: str = "MAX", pad: int = 0) -> str:
    return (f'layer {{\n  name: "{name}"\n  type: "Pooling"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            f"  pooling_param {{\n    pool: {method}\n    kernel_size: {k}\n    stride: {s}\n"
            + (f"    pad: {pad}\n" if pad else "") + "  }\n}\n")


def lrn(name: str, bottom: str) -> str:
    return (f'layer {{\n  name: "{name}"\n  type: "LRN"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            "  lrn_param {\n    local_size: 5\n    alpha: 0.0001\n    beta: 0.75\n  }\n}\n")


def fc(name: str, bottom: str, n: int) -> str:
    return (f'layer {{\n  name: "{name}"\n  type: "InnerProduct"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            "  param {\n    lr_mult: 1\n    decay_mult: 1\n  }\n  param {\n    lr_mult: 2\n    decay_mult: 0\n  }\n"
            f"  inner_product_param {{\n    num_output: {n}\n"
            '    weight_filler {\n      type: "xavier"\n    }\n'
            '    bias_filler {\n      type: "constant"\n      value: 0\n    }\n  }\n}\n')


def merge(kind: str, name: str, bottoms: List[str], body: str = "") -> str:
    return (f'layer {{\n  name: "{name}"\n  type: "{kind}"\n'
            + "".join(f'  bottom: "{b}"\n' for b in bottoms) + f'  top: "{name}"\n{body}}}\n')


def data(dims: Tuple[int, int, int, int]) -> str:
    return ('layer {\n  name: "data"\n  type: "Input"\n  top: "data"\n  input_param { shape: { '
            + " ".join(f"dim: {d}" for d in dims) + " } }\n}\n")


def write(tmp_path: Path, text: str, name: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- BVLC GoogLeNet (models/bvlc_googlenet/deploy.prototxt) -----------------------------------

# Szegedy et al. 2014, Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
INCEPTIONS = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def inception(name: str, bottom: str, c1: int, r3: int, c3: int, r5: int, c5: int, pp: int) -> str:
    """One inception module as BVLC writes it: four branches, each ReLU in place, a Concat."""
    p = f"inception_{name}"

    def relu(blob: str, what: str) -> str:
        return inplace("ReLU", f"{p}/relu_{what}", blob)

    return "".join([
        conv(f"{p}/1x1", bottom, c1, 1), relu(f"{p}/1x1", "1x1"),
        conv(f"{p}/3x3_reduce", bottom, r3, 1), relu(f"{p}/3x3_reduce", "3x3_reduce"),
        conv(f"{p}/3x3", f"{p}/3x3_reduce", c3, 3, pad=1), relu(f"{p}/3x3", "3x3"),
        conv(f"{p}/5x5_reduce", bottom, r5, 1), relu(f"{p}/5x5_reduce", "5x5_reduce"),
        conv(f"{p}/5x5", f"{p}/5x5_reduce", c5, 5, pad=2), relu(f"{p}/5x5", "5x5"),
        pool(f"{p}/pool", bottom, 3, 1, pad=1),
        conv(f"{p}/pool_proj", f"{p}/pool", pp, 1), relu(f"{p}/pool_proj", "pool_proj"),
        merge("Concat", f"{p}/output", [f"{p}/1x1", f"{p}/3x3", f"{p}/5x5", f"{p}/pool_proj"]),
    ])


def googlenet() -> str:
    text = ['name: "GoogleNet"\n', data((10, 3, 224, 224)),
            conv("conv1/7x7_s2", "data", 64, 7, pad=3, stride=2), inplace("ReLU", "conv1/relu_7x7", "conv1/7x7_s2"),
            pool("pool1/3x3_s2", "conv1/7x7_s2", 3, 2), lrn("pool1/norm1", "pool1/3x3_s2"),
            conv("conv2/3x3_reduce", "pool1/norm1", 64, 1), inplace("ReLU", "conv2/relu_3x3_reduce", "conv2/3x3_reduce"),
            conv("conv2/3x3", "conv2/3x3_reduce", 192, 3, pad=1), inplace("ReLU", "conv2/relu_3x3", "conv2/3x3"),
            lrn("conv2/norm2", "conv2/3x3"), pool("pool2/3x3_s2", "conv2/norm2", 3, 2)]
    bottom = "pool2/3x3_s2"
    for name, channels in INCEPTIONS.items():
        text.append(inception(name, bottom, *channels))
        bottom = f"inception_{name}/output"
        if name in ("3b", "4e"):
            stage = "pool3" if name == "3b" else "pool4"
            text.append(pool(f"{stage}/3x3_s2", bottom, 3, 2))
            bottom = f"{stage}/3x3_s2"
    text += [pool("pool5/7x7_s1", bottom, 7, 1, "AVE"),
             inplace("Dropout", "pool5/drop_7x7_s1", "pool5/7x7_s1", "  dropout_param {\n    dropout_ratio: 0.4\n  }\n"),
             fc("loss3/classifier", "pool5/7x7_s1", 1000),
             'layer {\n  name: "prob"\n  type: "Softmax"\n  bottom: "loss3/classifier"\n  top: "prob"\n}\n']
    return "".join(text)


def test_bvlc_googlenet_equals_googlenet_paper(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, googlenet(), "deploy.prototxt")))
    bundled = analyse(load("googlenet-paper"))
    assert (report.totals.params, report.totals.macs) == (6_998_552, 1_582_671_872)
    assert (report.totals.params, report.totals.macs) == (bundled.totals.params, bundled.totals.macs)
    sizes = {r.name: r.output.spatial for r in report.layers}
    # Table 1's sizes: Caffe's pools round up (112 -> 56, 56 -> 28, 28 -> 14, 14 -> 7)
    assert [sizes[n] for n in ("pool1.3x3_s2", "pool2.3x3_s2", "pool3.3x3_s2", "pool4.3x3_s2", "pool5.7x7_s1")] \
        == [(56, 56), (28, 28), (14, 14), (7, 7), (1, 1)]
    assert report.layers[-1].output.channels == 1000


# --- ResNet-50 (KaimingHe/deep-residual-networks, prototxt/ResNet-50-deploy.prototxt) ---------


def conv_bn(name: str, bottom: str, n: int, k: int, pad: int = 0, stride: int = 1, relu: bool = True) -> str:
    """resN{b}_branch{x} conv without bias, bnN{b}_branch{x} BatchNorm and scaleN{b}_branch{x}
    Scale (γ and β) in place, then its ReLU in place."""
    suffix = name[len("res"):]
    return (conv(name, bottom, n, k, pad, stride, bias=False)
            + inplace("BatchNorm", f"bn{suffix}", name, "  batch_norm_param {\n    use_global_stats: true\n  }\n")
            + inplace("Scale", f"scale{suffix}", name, "  scale_param {\n    bias_term: true\n  }\n")
            + (inplace("ReLU", f"{name}_relu", name) if relu else ""))


def resnet50() -> str:
    text = ['name: "ResNet-50"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 224\ninput_dim: 224\n',
            # conv1 keeps Caffe's default bias_term: true in the released file, unlike every other conv
            conv("conv1", "data", 64, 7, pad=3, stride=2),
            inplace("BatchNorm", "bn_conv1", "conv1", "  batch_norm_param {\n    use_global_stats: true\n  }\n"),
            inplace("Scale", "scale_conv1", "conv1", "  scale_param {\n    bias_term: true\n  }\n"),
            inplace("ReLU", "conv1_relu", "conv1"), pool("pool1", "conv1", 3, 2)]
    bottom = "pool1"
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], 2):
        for b in "abcdef"[:blocks]:
            res = f"res{stage}{b}"
            stride = 2 if b == "a" and stage > 2 else 1  # v1: the stride on the first 1x1
            shortcut = bottom
            if b == "a":
                text.append(conv_bn(f"{res}_branch1", bottom, 4 * width, 1, stride=stride, relu=False))
                shortcut = f"{res}_branch1"
            text += [conv_bn(f"{res}_branch2a", bottom, width, 1, stride=stride),
                     conv_bn(f"{res}_branch2b", f"{res}_branch2a", width, 3, pad=1),
                     conv_bn(f"{res}_branch2c", f"{res}_branch2b", 4 * width, 1, relu=False),
                     merge("Eltwise", res, [shortcut, f"{res}_branch2c"]), inplace("ReLU", f"{res}_relu", res)]
            bottom = res
    text += [pool("pool5", bottom, 7, 1, "AVE"), fc("fc1000", "pool5", 1000),
             'layer {\n  name: "prob"\n  type: "Softmax"\n  bottom: "fc1000"\n  top: "prob"\n}\n']
    return "".join(text)


def test_he_resnet50_equals_resnet50_v1(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, resnet50(), "ResNet-50-deploy.prototxt")))
    bundled = analyse(load("resnet50-v1"))
    # the released conv1 has a bias (64 params, no MACs counted); resnet50-v1 follows torchvision's
    # bias-free conv1. Everything else, Scale's γ and β included, counts the same.
    assert report.totals.params == bundled.totals.params + 64 == 25_557_032 + 64
    assert report.totals.macs == bundled.totals.macs == 3_857_973_248
    # BatchNorm's running mean and variance: 2·C buffers for each of the 53 BatchNorm layers
    assert report.totals.buffers == bundled.totals.buffers
    sizes = {r.name: (r.output.spatial, r.output.channels) for r in report.layers}
    assert sizes["pool1"] == ((56, 56), 64)  # 3x3 s2 without padding, rounded up: 112 -> 56
    assert sizes["res5c_relu"] == ((7, 7), 2048)
    assert sizes["fc1000"][1] == 1000


def test_table_json_of_generated_googlenet(tmp_path: Path) -> None:
    path = write(tmp_path, googlenet(), "deploy.prototxt")
    result = CliRunner().invoke(cli, ["table", path, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    totals = doc["totals"]
    assert (totals["params"], totals["macs"]) == (6_998_552, 1_582_671_872)
