"""Model-zoo deploy files, generated here layer for layer as their authors released them (BVLC
GoogLeNet, He et al.'s ResNet-50, DeepScale's SqueezeNet v1.0 and v1.1, shicai's MobileNet v1),
read by ``read_caffe`` and checked against the bundled specs ``googlenet-paper``,
``resnet50-v1``, ``squeezenet1_0``, ``squeezenet1_1`` and ``mobilenet_v1``: the same network
written two ways gives the same totals, or differs exactly where the release does.

The text follows the released files' structure (names, blob wiring, in-place ReLU / BatchNorm /
Scale, Concat, Eltwise, the ``param { lr_mult }`` and ``weight_filler`` fields convcalc ignores),
so a difference in the counts is a difference in the reader, not in the fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Tuple

from click.testing import CliRunner

from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.importers.caffe import read_caffe
from convcalc.load import load
from convcalc.shape import Shape
from convcalc.spec.model import with_input

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


# --- SqueezeNet (forresti/SqueezeNet, SqueezeNet_v1.0/ and SqueezeNet_v1.1/deploy.prototxt) ----
# DeepScale's files are terse: no param or filler blocks, every conv with Caffe's default bias,
# pad written only where it is not 0, and the 227x227 crops of the Caffe ImageNet recipe.
# squeezenet("1.0") and squeezenet("1.1") give the released files token for token, comments
# included (checked against forresti/SqueezeNet at 51147dc when these were written).

CITE = ("# please cite:\n# @article{SqueezeNet,\n#     Author = {Forrest N. Iandola and Matthew W. Moskewicz and "
        "Khalid Ashraf and Song Han and William J. Dally and Kurt Keutzer},\n"
        "#     Title = {SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and $<$1MB model size},\n"
        "#     Journal = {arXiv:1602.07360},\n#     Year = {2016}\n")  # then "#}" (v1.0) or "# }" (v1.1)


def sq_conv(name: str, bottom: str, n: int, k: int, pad: int = 0, stride: int = 1) -> str:
    return (f'layer {{\n  name: "{name}"\n  type: "Convolution"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            f"  convolution_param {{\n    num_output: {n}\n" + (f"    pad: {pad}\n" if pad else "")
            + f"    kernel_size: {k}\n" + (f"    stride: {stride}\n" if stride != 1 else "") + "  }\n}\n")


def fire(n: int, bottom: str, s: int, e: int) -> str:
    """fireN: squeeze1x1, expand1x1 and expand3x3 (pad 1), each with its ReLU in place, a Concat."""
    p = f"fire{n}"
    return "".join([
        sq_conv(f"{p}/squeeze1x1", bottom, s, 1), inplace("ReLU", f"{p}/relu_squeeze1x1", f"{p}/squeeze1x1"),
        sq_conv(f"{p}/expand1x1", f"{p}/squeeze1x1", e, 1), inplace("ReLU", f"{p}/relu_expand1x1", f"{p}/expand1x1"),
        sq_conv(f"{p}/expand3x3", f"{p}/squeeze1x1", e, 3, pad=1),
        inplace("ReLU", f"{p}/relu_expand3x3", f"{p}/expand3x3"),
        merge("Concat", f"{p}/concat", [f"{p}/expand1x1", f"{p}/expand3x3"]),
    ])


# (squeeze, expand) of fire2 ... fire9, the paper's Table 1; the max pools after the named fires
FIRES = [(16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256), (64, 256)]


def squeezenet(version: str, side: int = 227) -> str:
    if version == "1.0":  # input + input_shape; conv1 7x7/2 96; pools after fire4 and fire8
        text = [CITE, "#}\n\n", f'input: "data"\ninput_shape {{\n  dim: 10\n  dim: 3\n  dim: {side}\n  dim: {side}\n}}\n',
                sq_conv("conv1", "data", 96, 7, stride=2)]
        pools_after, conv10_pad = (4, 8), 1  # the released conv10 says pad: 1 (see below)
    else:                 # an Input layer; conv1 3x3/2 64; pools after fire3 and fire5
        text = [CITE, "# }\n\n", data((10, 3, side, side)), sq_conv("conv1", "data", 64, 3, stride=2)]
        pools_after, conv10_pad = (3, 5), 0
    text += [inplace("ReLU", "relu_conv1", "conv1"), pool("pool1", "conv1", 3, 2)]
    bottom = "pool1"
    for n, (s, e) in enumerate(FIRES, 2):
        text.append(fire(n, bottom, s, e))
        bottom = f"fire{n}/concat"
        if n in pools_after:
            text.append(pool(f"pool{n}", bottom, 3, 2))
            bottom = f"pool{n}"
    text += [inplace("Dropout", "drop9", "fire9/concat", "  dropout_param {\n    dropout_ratio: 0.5\n  }\n"),
             sq_conv("conv10", "fire9/concat", 1000, 1, pad=conv10_pad), inplace("ReLU", "relu_conv10", "conv10"),
             'layer {\n  name: "pool10"\n  type: "Pooling"\n  bottom: "conv10"\n  top: "pool10"\n'
             "  pooling_param {\n    pool: AVE\n    global_pooling: true\n  }\n}\n",
             'layer {\n  name: "prob"\n  type: "Softmax"\n  bottom: "pool10"\n  top: "prob"\n}\n']
    return "".join(text)


def test_squeezenet_v1_1_release(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, squeezenet("1.1"), "deploy.prototxt")))
    bundled = analyse(load("squeezenet1_1"))
    assert report.totals.params == bundled.totals.params == 1_235_496  # the same convs, all with a bias
    # The release takes 227x227 crops, torchvision 224. At 227 conv1 fits ((227 − 3)/2 + 1 = 113),
    # and Caffe's rounding up now matters: 113 -> 56, 56 -> (56 − 3)/2 + 1 = 27.5 -> 28,
    # 28 -> 13.5 -> 14 (at 224: 111 -> 55 -> 27 -> 13, all exact). By hand, H²·s·(C_in + 10·e)
    # per Fire as in squeezenet1_1.yaml's header:
    #   conv1 113²·1,728 = 22,064,832       fire2 56²·11,264 = 35,323,904
    #   fire3 56²·12,288 = 38,535,168       fire4 28²·45,056 = 35,323,904
    #   fire5 28²·49,152 = 38,535,168       fire6 14²·104,448 = 20,471,808
    #   fire7 14²·110,592 = 21,676,032      fire8 14²·188,416 = 36,929,536
    #   fire9 14²·196,608 = 38,535,168      conv10 14²·512,000 = 100,352,000
    #   total 387,747,520 (torchvision's 224: 349,151,936)
    assert report.totals.macs == 387_747_520
    sizes = {r.name: r.output.spatial[0] for r in report.layers}
    assert [sizes[n] for n in ("conv1", "pool1", "pool3", "pool5", "conv10", "pool10")] == [113, 56, 28, 14, 14, 1]
    # where the input sizes agree, so do the MACs: the bundled spec at 227, the release at 224
    assert analyse(with_input(load("squeezenet1_1"), Shape((227, 227), 3))).totals.macs == 387_747_520
    at_224 = analyse(read_caffe(write(tmp_path, squeezenet("1.1", side=224), "deploy224.prototxt")))
    assert (at_224.totals.params, at_224.totals.macs) == (1_235_496, 349_151_936) == \
        (bundled.totals.params, bundled.totals.macs)
    # and at 227 nothing is left unread, where torchvision's 224 leaves conv1's last row and column
    assert report.warnings == () and [r.name for r, _ in bundled.warnings] == ["0"]


def test_squeezenet_v1_0_release(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, squeezenet("1.0"), "deploy.prototxt")))
    bundled = analyse(load("squeezenet1_0"))
    assert report.totals.params == bundled.totals.params == 1_248_424  # padding adds no weight
    # Two differences. The 227x227 input: conv1 (227 − 7)/2 + 1 = 111, pools 111 -> 55 -> 27 ->
    # 13 (exact, where torchvision's 224 gives 109 -> 54 -> 27 -> 13 with one rounding up). And
    # the released conv10 says "pad: 1" on its 1x1 kernel: 13 -> 15, a ring of positions that
    # see only padding (their output is ReLU(bias)), which pool10's global average takes in.
    # torchvision's conv10 has no padding. By hand:
    #   conv1 111²·14,112 = 173,873,952     fire2 55²·11,776 = 35,622,400
    #   fire3 55²·12,288 = 37,171,200       fire4 55²·45,056 = 136,294,400
    #   fire5 ... fire8 at 27, as at 224: 35,831,808 + 76,142,592 + 80,621,568 + 137,355,264
    #   fire9 13²·196,608 = 33,226,752      conv10 15²·512,000 = 115,200,000
    #   total 861,339,936 (torchvision's 224: 818,924,576)
    assert report.totals.macs == 861_339_936
    layers = {r.name: r for r in report.layers}
    assert [layers[n].output.spatial[0] for n in ("conv1", "pool1", "pool4", "pool8")] == [111, 55, 27, 13]
    assert str(layers["conv10"].input) == "13x13x512" and str(layers["conv10"].output) == "15x15x1000"
    # at the same input the only difference is conv10's padding: (15² − 13²)·512,000 = 28,672,000
    at_224 = analyse(read_caffe(write(tmp_path, squeezenet("1.0", side=224), "deploy224.prototxt")))
    assert at_224.totals.macs == bundled.totals.macs + 28_672_000 == 818_924_576 + 28_672_000
    at_227 = analyse(with_input(load("squeezenet1_0"), Shape((227, 227), 3)))
    assert report.totals.macs == at_227.totals.macs + 28_672_000


# --- MobileNet v1 (shicai/MobileNet-Caffe, mobilenet_deploy.prototxt) --------------------------
# Every conv bias-free (Convolution, group = channels for the depthwise ones, engine: CAFFE),
# each followed in place by BatchNorm (three param blocks, use_global_stats), Scale (γ and β)
# and ReLU; the classifier fc7 is a 1x1 Convolution with Caffe's default bias. mobilenet() gives
# the released file token for token (checked against shicai/MobileNet-Caffe at a0b0c46).

BN_PARAMS = "  param {\n    lr_mult: 0\n    decay_mult: 0\n  }\n" * 3
SCALE_PARAMS = "  param {\n    lr_mult: 1\n    decay_mult: 0\n  }\n" * 2


def mb_conv_bn(name: str, relu: str, bottom: str, n: int, k: int, stride: int, group: int = 1) -> str:
    pad = (k - 1) // 2
    return (f'layer {{\n  name: "{name}"\n  type: "Convolution"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            "  param {\n    lr_mult: 1\n    decay_mult: 1\n  }\n"
            f"  convolution_param {{\n    num_output: {n}\n    bias_term: false\n    pad: {pad}\n    kernel_size: {k}\n"
            + (f"    group: {group}\n    engine: CAFFE\n" if group > 1 else "")
            + f'    stride: {stride}\n    weight_filler {{\n      type: "msra"\n    }}\n  }}\n}}\n'
            + inplace("BatchNorm", f"{name}/bn", name,
                      BN_PARAMS + "  batch_norm_param {\n    use_global_stats: true\n    eps: 1e-5\n  }\n")
            + inplace("Scale", f"{name}/scale", name, SCALE_PARAMS + "  scale_param {\n    filler {\n      value: 1\n"
                      "    }\n    bias_term: true\n    bias_filler {\n      value: 0\n    }\n  }\n")
            + inplace("ReLU", relu, name))


# Caffe's names and (output channels, depthwise stride) of the 13 separable pairs, Table 1's order
PAIRS = [("2_1", 64, 1), ("2_2", 128, 2), ("3_1", 128, 1), ("3_2", 256, 2), ("4_1", 256, 1), ("4_2", 512, 2),
         ("5_1", 512, 1), ("5_2", 512, 1), ("5_3", 512, 1), ("5_4", 512, 1), ("5_5", 512, 1), ("5_6", 1024, 2),
         ("6", 1024, 1)]


def mobilenet() -> str:
    text = ['name: "MOBILENET"\n#  transform_param {\n#    scale: 0.017\n#    mirror: false\n#    crop_size: 224\n'
            "#    mean_value: [103.94,116.78,123.68]\n#  }\n"
            'input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 224\ninput_dim: 224\n',
            mb_conv_bn("conv1", "relu1", "data", 32, 3, 2)]
    bottom, c = "conv1", 32
    for tag, out, stride in PAIRS:
        text += [mb_conv_bn(f"conv{tag}/dw", f"relu{tag}/dw", bottom, c, 3, stride, group=c),
                 mb_conv_bn(f"conv{tag}/sep", f"relu{tag}/sep", f"conv{tag}/dw", out, 1, 1)]
        bottom, c = f"conv{tag}/sep", out
    text += ['layer {\n  name: "pool6"\n  type: "Pooling"\n  bottom: "conv6/sep"\n  top: "pool6"\n'
             "  pooling_param {\n    pool: AVE\n    global_pooling: true\n  }\n}\n",
             'layer {\n  name: "fc7"\n  type: "Convolution"\n  bottom: "pool6"\n  top: "fc7"\n'
             "  param {\n    lr_mult: 1\n    decay_mult: 1\n  }\n  param {\n    lr_mult: 2\n    decay_mult: 0\n  }\n"
             '  convolution_param {\n    num_output: 1000\n    kernel_size: 1\n    weight_filler {\n      type: "msra"\n'
             '    }\n    bias_filler {\n      type: "constant"\n      value: 0\n    }\n  }\n}\n',
             'layer {\n  name: "prob"\n  type: "Softmax"\n  bottom: "fc7"\n  top: "prob"\n}\n']
    return "".join(text)


def test_shicai_mobilenet_equals_mobilenet_v1(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, mobilenet(), "mobilenet_deploy.prototxt")))
    bundled = analyse(load("mobilenet_v1"))
    # Same input (224), same counts: BatchNorm's mean and variance are the bundled batchnorm's
    # buffers, Scale's γ and β its params, and fc7 as a 1x1 conv with a bias on the 1x1x1024
    # pooled map counts what an fc 1024 -> 1000 counts (1,025,000 params, 1,024,000 MACs).
    assert (report.totals.params, report.totals.macs, report.totals.buffers) == \
        (bundled.totals.params, bundled.totals.macs, bundled.totals.buffers) == (4_231_976, 568_740_352, 21_888)
    weighted = [(r.params, r.macs) for r in report.layers if r.layer.kind in ("conv", "dwconv", "pwconv", "fc")]
    assert weighted == [(r.params, r.macs) for r in bundled.layers if r.layer.kind in ("conv", "dwconv", "pwconv", "fc")]
    assert len(weighted) == 28
    layers = {r.name: r for r in report.layers}
    assert layers["conv2_1.dw"].params == 9 * 32  # group = channels: one 3x3 filter per channel
    assert [str(layers[f"conv{t}.sep"].output) for t in ("2_1", "3_2", "5_6", "6")] == \
        ["112x112x64", "28x28x256", "7x7x1024", "7x7x1024"]
    assert str(layers["fc7"].output) == "1x1x1000"  # a conv keeps the map; the bundled fc flattens


def test_releases_import_to_yaml_and_back(tmp_path: Path) -> None:
    """convcalc import on each release, then table on the YAML it wrote: the same totals."""
    runner = CliRunner()
    for name, text in [("sq10", squeezenet("1.0")), ("sq11", squeezenet("1.1")), ("mobilenet", mobilenet())]:
        path = write(tmp_path, text, f"{name}.prototxt")
        direct = json.loads(runner.invoke(cli, ["table", path, "--format", "json"]).output)["totals"]
        imported = runner.invoke(cli, ["import", path])
        assert imported.exit_code == 0, imported.output
        back = write(tmp_path, imported.output, f"{name}.yaml")
        again = runner.invoke(cli, ["table", back, "--format", "json"])
        assert again.exit_code == 0, again.output
        assert json.loads(again.output)["totals"] == direct, name
    assert (direct["params"], direct["macs"]) == (4_231_976, 568_740_352)


# --- FCN-32s (shelhamer/fcn.berkeleyvision.org, voc-fcn32s/deploy.prototxt) ---------------------

VGG_BLOCKS = [(1, 64, 2), (2, 128, 2), (3, 256, 3), (4, 512, 3), (5, 512, 3)]


def fcn32s() -> str:
    """VGG-16 made fully convolutional: conv1_1 pads by 100, fc6/fc7 are 7x7 and 1x1 convs,
    score_fr scores 21 classes, upscore (Deconvolution 64 stride 32, no bias) upsamples them,
    and score crops that to the input's size at offset 19."""
    parts = ['layer {\n  name: "data"\n  type: "Input"\n  top: "data"\n'
             "  input_param {\n    shape {\n      dim: 1\n      dim: 3\n      dim: 500\n      dim: 500\n    }\n  }\n}\n"]
    bottom = "data"
    for block, n, convs in VGG_BLOCKS:
        for i in range(1, convs + 1):
            name = f"conv{block}_{i}"
            parts += [conv(name, bottom, n, 3, pad=100 if name == "conv1_1" else 1), inplace("ReLU", f"relu{block}_{i}", name)]
            bottom = name
        parts.append(pool(f"pool{block}", bottom, 2, 2))
        bottom = f"pool{block}"
    for name, n, k, src in [("fc6", 4096, 7, "pool5"), ("fc7", 4096, 1, "fc6")]:
        parts += [conv(name, src, n, k), inplace("ReLU", f"relu{name[2]}", name),
                  inplace("Dropout", f"drop{name[2]}", name, "  dropout_param {\n    dropout_ratio: 0.5\n  }\n")]
    parts.append(conv("score_fr", "fc7", 21, 1))
    parts.append('layer {\n  name: "upscore"\n  type: "Deconvolution"\n  bottom: "score_fr"\n  top: "upscore"\n'
                 "  param {\n    lr_mult: 0\n  }\n"
                 "  convolution_param {\n    num_output: 21\n    bias_term: false\n    kernel_size: 64\n    stride: 32\n  }\n}\n")
    parts.append('layer {\n  name: "score"\n  type: "Crop"\n  bottom: "upscore"\n  bottom: "data"\n  top: "score"\n'
                 "  crop_param {\n    axis: 2\n    offset: 19\n  }\n}\n")
    return "".join(parts)


def test_fcn32s_upscore_and_crop(tmp_path: Path) -> None:
    """Hand-worked sizes at 500x500: conv1_1 pads 100 → 698; the pools round up (Caffe): 349,
    175, 88, 44, 22; fc6 (7x7, no pad) → 16; upscore (16 − 1)·32 + 64 = 544; score crops that
    to the input's 500x500 (Caffe at offset 19: 19 + 500 ≤ 544). Params: VGG-16's convs
    14,714,688, fc6 7·7·512·4096 + 4096, fc7 4096² + 4096, score_fr 4096·21 + 21, upscore
    21·21·64·64 (no bias); the crop 0."""
    report = analyse(read_caffe(write(tmp_path, fcn32s(), "deploy.prototxt")))
    out = {r.name: r.output for r in report.layers}
    assert [out[f"pool{b}"].spatial for b in range(1, 6)] == [(349, 349), (175, 175), (88, 88), (44, 44), (22, 22)]
    assert out["conv1_1"].spatial == (698, 698) and out["fc6"].spatial == (16, 16)
    assert out["upscore"] == Shape((544, 544), 21) and out["score"] == Shape((500, 500), 21)
    by_name = {r.name: r for r in report.layers}
    assert (by_name["upscore"].params, by_name["score"].params, by_name["score"].macs) == (21 * 21 * 64 * 64, 0, 0)
    assert by_name["score"].layer.describe() == "CROP to 500x500 (like input)"
    assert report.totals.params == (14_714_688 + 7 * 7 * 512 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 21 + 21
                                    + 21 * 21 * 64 * 64)


# --- SSD300 (weiliu89/caffe, models/VGGNet/VOC0712/SSD_300x300/deploy.prototxt): two heads ----------


def ssd_head(src: str, loc: int, conf: int) -> str:
    parts = []
    for kind, n in (("loc", loc), ("conf", conf)):
        name = f"{src}_mbox_{kind}"
        parts += [conv(name, src, n, 3, pad=1),
                  f'layer {{\n  name: "{name}_perm"\n  type: "Permute"\n  bottom: "{name}"\n  top: "{name}_perm"\n'
                  "  permute_param {\n    order: 0\n    order: 2\n    order: 3\n    order: 1\n  }\n}\n",
                  f'layer {{\n  name: "{name}_flat"\n  type: "Flatten"\n  bottom: "{name}_perm"\n  top: "{name}_flat"\n'
                  "  flatten_param {\n    axis: 1\n  }\n}\n"]
    return "".join(parts)


def ssd_two_heads() -> str:
    """fc7 (1024 x 19 x 19, given as the input here) and conv6_2 (from conv6_1 1x1 256, then 3x3
    stride 2 to 512 x 10 x 10), each with 6 priors: loc 6·4 = 24 and conf 6·21 = 126 channels,
    permuted to N x H x W x C and flattened, concatenated, then the confidences reshaped to
    (N, priors, 21), softmaxed over the classes (axis 2) and flattened, as the release does."""
    return ('layer {\n  name: "fc7"\n  type: "Input"\n  top: "fc7"\n'
            "  input_param {\n    shape {\n      dim: 1\n      dim: 1024\n      dim: 19\n      dim: 19\n    }\n  }\n}\n"
            + conv("conv6_1", "fc7", 256, 1) + inplace("ReLU", "conv6_1_relu", "conv6_1")
            + conv("conv6_2", "conv6_1", 512, 3, pad=1, stride=2) + inplace("ReLU", "conv6_2_relu", "conv6_2")
            + ssd_head("fc7", 24, 126) + ssd_head("conv6_2", 24, 126)
            + merge("Concat", "mbox_loc", ["fc7_mbox_loc_flat", "conv6_2_mbox_loc_flat"], "  concat_param {\n    axis: 1\n  }\n")
            + merge("Concat", "mbox_conf", ["fc7_mbox_conf_flat", "conv6_2_mbox_conf_flat"], "  concat_param {\n    axis: 1\n  }\n")
            + 'layer {\n  name: "mbox_conf_reshape"\n  type: "Reshape"\n  bottom: "mbox_conf"\n  top: "mbox_conf_reshape"\n'
              "  reshape_param {\n    shape {\n      dim: 0\n      dim: -1\n      dim: 21\n    }\n  }\n}\n"
            + 'layer {\n  name: "mbox_conf_softmax"\n  type: "Softmax"\n  bottom: "mbox_conf_reshape"\n'
              '  top: "mbox_conf_softmax"\n  softmax_param {\n    axis: 2\n  }\n}\n'
            + 'layer {\n  name: "mbox_conf_flatten"\n  type: "Flatten"\n  bottom: "mbox_conf_softmax"\n'
              '  top: "mbox_conf_flatten"\n  flatten_param {\n    axis: 1\n  }\n}\n')


def test_ssd_permute_flatten_reshape(tmp_path: Path) -> None:
    """Hand-worked: fc7_mbox_loc_flat 19·19·24 = 8,664 and conv6_2's 10·10·24 = 2,400 (the
    release's blob sizes), mbox_loc 11,064; confidences 19·19·126 + 10·10·126 = 58,086, reshaped
    to 2,766 priors x 21 classes. Params: conv6_1 1024·256 + 256, conv6_2 9·256·512 + 512, and per
    head 9·C·24 + 24 and 9·C·126 + 126; the views add none."""
    report = analyse(read_caffe(write(tmp_path, ssd_two_heads(), "deploy.prototxt")))
    out = {r.full_name.removesuffix(".concat"): r.output.dims for r in report.layers}
    assert out["fc7_mbox_loc"] == (19, 19, 24) and out["fc7_mbox_loc_perm"] == (19, 24, 19)
    assert out["fc7_mbox_loc_flat"] == (8_664,) and out["conv6_2_mbox_loc_flat"] == (2_400,)
    assert out["mbox_loc"] == (11_064,) and out["mbox_conf"] == (58_086,)
    assert out["mbox_conf_reshape"] == (21, 2_766) and out["mbox_conf_flatten"] == (58_086,)
    heads = sum(9 * c * n + n for c in (1024, 512) for n in (24, 126))
    assert report.totals.params == 1024 * 256 + 256 + 9 * 256 * 512 + 512 + heads
    assert sum(r.params + r.macs for r in report.layers if r.layer.kind in ("permute", "flatten", "reshape")) == 0
