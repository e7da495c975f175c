"""Every worked example of the lecture notes (/work/shared/seeds), through the public API.

Text -> ``parse_string`` / ``parse_yaml`` -> ``engine.analyse``, with the numbers written as the
notes write them, so a test reads like the slide it comes from. Seed files:

- 000  JHU EN.601.482 "Convolutional Neural Networks" (Unberath; the cs231n slides)
- 001  SJTU "Computer Vision: Convolutional neural networks" (Siheng Chen)
- 002  UTSA EE 6973 "Convolution Neural Networks" (Paul Rad)
- 003  "Deep Learning: CNN" (AlexNet case study, complexity slides)
- 004  NYU Summer STEM "Day 8: Convolutional Neural Networks"

Out of scope: the receptive-field remark "1 + L*(K-1)" (001), the locally connected
"1000x1000 image, 10x10 filters, 100M parameters" (003), and the memory totals
"AlexNet 1.9 MB / VGG-16 48.6 MB" (001), whose convention the notes do not state.
"""

from __future__ import annotations

import pytest

from convcalc.analysis.engine import Report, analyse
from convcalc.shape import Shape
from convcalc.spec.layer_string import parse_string
from convcalc.spec.yaml_reader import parse_yaml


def run(text: str) -> Report:
    return analyse(parse_string(text))


def only(report: Report):
    assert len(report.layers) == 1
    return report.layers[0]


# --- seed 000: the cs231n conv-layer examples ------------------------------------------------


def test_ten_5x5_filters_stride_1_pad_2_on_32x32x3():
    # 000, "Examples time": Input volume 32x32x3, 10 5x5 filters with stride 1, pad 2
    # -> (32 + 2*2 - 5)/1 + 1 = 32 spatially, so 32x32x10;
    # "each filter has 5*5*3 + 1 = 76 params (+1 for bias) => 76*10 = 760"
    layer = only(run("32x32x3 conv10k5s1p2"))
    assert str(layer.output) == "32x32x10"
    assert layer.output == Shape((32, 32), 10)
    assert layer.params == 760
    assert layer.params // 10 == 76
    assert layer.layer.weights(layer.input) == 5 * 5 * 3 * 10


def test_ten_5x5_filters_written_in_yaml():
    # the same 000 example, in the YAML format
    report = analyse(parse_yaml(
        "input: [32, 32, 3]\n"
        "layers:\n"
        "  - conv: {filters: 10, kernel: 5, stride: 1, padding: 2}\n"
    ))
    assert str(report.output) == "32x32x10"
    assert report.totals.params == 760


@pytest.mark.parametrize("filters", [6, 5])
def test_5x5_filters_on_32x32x3_give_28x28_activation_maps(filters):
    # 000: "if we had 6 5x5 filters, we'll get 6 separate activation maps ... a 'new image' of
    # size 28x28x6"; "E.g. with 5 filters, CONV layer consists of neurons arranged in a 3D grid
    # (28x28x5)"; 001: "6 x 3 x 5 x 5 filters", "2 x 6 x 28 x 28 batch of outputs"
    layer = only(run(f"32x32x3 conv{filters}k5"))
    assert layer.output == Shape((28, 28), filters)


def test_a_filter_is_a_75_dimensional_dot_product_plus_bias():
    # 001: "3x5x5 chunk of the image (i.e. 3 x 5 x 5 = 75-dimensional dot product + bias)"
    layer = only(run("32x32x3 conv1k5"))
    assert layer.params == 75 + 1
    assert layer.macs == 28 * 28 * 75  # one 75-term dot product per output position


@pytest.mark.parametrize(
    "stride, out",
    [
        (1, 5),  # 000: "stride 1 => (7 - 3)/1 + 1 = 5"; 001: "Input: 7x7, Filter: 3x3, Output: 5x5"
        (2, 3),  # 000: "stride 2 => (7 - 3)/2 + 1 = 3"; 001: "Stride: 2, Output: 3x3"
    ],
)
def test_7x7_input_3x3_filter(stride, out):
    layer = only(run(f"7x7x1 conv1k3s{stride}"))
    assert layer.output.spatial == (out, out)
    assert layer.notes == ()


def test_7x7_input_3x3_filter_stride_3_does_not_fit():
    # 000: "applied with stride 3? doesn't fit! cannot apply 3x3 filter on 7x7 input with
    # stride 3." -- "stride 3 => (7 - 3)/3 + 1 = 2.33"
    report = run("7x7x1 conv1k3s3")
    layer = only(report)
    warnings = [n for n in layer.notes if n.level == "warning"]
    assert len(warnings) == 1
    assert warnings[0].code == "stride-does-not-fit"
    assert "2.33" in warnings[0].text
    assert report.warnings == ((layer, warnings[0]),)


def test_7x7_input_3x3_filter_pad_1_stride_1_keeps_7x7():
    # 000, "In practice: Common to zero pad the border": input 7x7, 3x3 filter, stride 1,
    # pad with 1 pixel border => "7x7 output!"
    layer = only(run("7x7x1 conv1k3s1p1"))
    assert layer.output.spatial == (7, 7)


@pytest.mark.parametrize("kernel, pad", [(3, 1), (5, 2), (7, 3)])
@pytest.mark.parametrize("size", [7, 32, 224])
def test_pad_f_minus_1_over_2_preserves_size(kernel, pad, size):
    # 000: "common to see CONV layers with stride 1, filters of size FxF, and zero-padding with
    # (F-1)/2 (will preserve size spatially): F = 3 => zero pad with 1, F = 5 => zero pad with 2,
    # F = 7 => zero pad with 3"; 001: "Set P = (K - 1)/2. Then output size = input size"
    layer = only(run(f"{size}x{size}x3 conv8k{kernel}s1p{pad}"))
    assert layer.output.spatial == (size, size)


def test_repeated_5x5_convs_shrink_32_28_24():
    # 000, "Remember back to...": "32x32 input convolved repeatedly with 5x5 filters shrinks
    # volumes spatially! (32 -> 28 -> 24 ...)"
    report = run("32x32x3 conv6k5 relu conv10k5 relu")
    sizes = [r.output.spatial[0] for r in report.layers if r.layer.kind == "conv"]
    assert sizes == [28, 24]


@pytest.mark.parametrize(
    "size, kernel, pad, out",
    [
        (7, 3, 0, 5),  # 001: "Output: W - K + 1" -> 7 - 3 + 1 = 5
        (7, 3, 1, 7),  # 001: "Output: W - K + 1 + 2P" -> 7 - 3 + 1 + 2 = 7
        (32, 5, 2, 32),  # 000: (32 + 2*2 - 5)/1 + 1 = 32
    ],
)
def test_stride_1_output_is_w_minus_k_plus_1_plus_2p(size, kernel, pad, out):
    layer = only(run(f"{size}x{size}x1 conv1k{kernel}p{pad}"))
    assert layer.output.spatial == (out, out)


@pytest.mark.parametrize(
    "kernel, stride, pad",
    [(3, 1, 1), (5, 1, 2), (1, 1, 0)],  # 000, "Common settings": F=3,S=1,P=1; F=5,S=1,P=2; F=1,S=1,P=0
)
def test_common_settings_fit_and_keep_the_size(kernel, stride, pad):
    layer = only(run(f"32x32x3 conv64k{kernel}s{stride}p{pad}"))
    assert layer.output == Shape((32, 32), 64)
    assert layer.notes == ()


def test_common_setting_f5_s2_whatever_fits():
    # 000, "Common settings": "F = 5, S = 2, P = ? (whatever fits)". On the notes' 32x32x3 volume
    # no symmetric padding fits ((32 - 5 + 2P) is odd for every P), and convcalc says so.
    layer = only(run("32x32x3 conv64k5s2"))
    [note] = layer.notes
    assert note.code == "stride-does-not-fit"
    assert "No symmetric padding fits; input 31 or 33 would." in note.text
    # on an odd-sized input it does fit: (31 - 5 + 2*0)/2 + 1 = 14
    assert only(run("31x31x3 conv64k5s2")).notes == ()


def test_1x1_convolutions_make_perfect_sense():
    # 000: "(btw, 1x1 convolution layers make perfect sense)" -- a 1x1 conv keeps the size and
    # only mixes channels: F*F*D1*K + K = 1*1*64*32 + 32
    layer = only(run("56x56x64 conv32k1"))
    assert layer.output == Shape((56, 56), 32)
    assert layer.params == 64 * 32 + 32


def test_fc_layer_sees_the_whole_stretched_volume():
    # 000, "Fully Connected Layer": "32x32x3 image -> stretch to 3072 x 1"; "Each neuron looks at
    # the full input volume"
    report = run("32x32x3 flatten fc10")
    flatten, fc = report.layers
    assert flatten.output == Shape((), 3072)
    assert fc.params == 3072 * 10 + 10
    assert fc.macs == 3072 * 10


# --- seed 000 / 001 / 003: pooling -----------------------------------------------------------


@pytest.mark.parametrize(
    "size, kernel, stride",
    [(224, 2, 2), (55, 3, 2), (32, 2, 2), (27, 3, 2), (13, 3, 2)],  # "F = 2, S = 2", "F = 3, S = 2"
)
def test_pooling_formula_w_minus_f_over_s_plus_1(size, kernel, stride):
    # 000, "MAX POOLING": "W2 = (W1 - F)/S + 1, H2 = (H1 - F)/S + 1, D2 = D1; Introduces zero
    # parameters"; "Common settings: F = 2, S = 2; F = 3, S = 2"; 001: "H' = (H - K)/S + 1"
    layer = only(run(f"{size}x{size}x64 maxpool{kernel}s{stride}"))
    out = (size - kernel) // stride + 1
    assert layer.output == Shape((out, out), 64)
    assert layer.params == 0
    assert layer.macs == 0


def test_max_pool_2x2_stride_2_on_64x224x224():
    # 001: "64 x 224 x 224 ... Max pooling with 2x2 kernel size and stride 2" (and 'avg pooling')
    for kind in ("maxpool", "avgpool"):
        layer = only(run(f"224x224x64 {kind}2s2"))
        assert layer.output == Shape((112, 112), 64)
        assert layer.params == 0


SEED_004_A = [
    [12, 20, 30, 0],
    [8, 12, 2, 0],
    [34, 70, 37, 4],
    [112, 100, 25, 12],
]


def max_pool_values(image, size, stride, out):
    """A reference max pool over the window starts 0, S, 2S, ... that the engine's shape implies."""
    return [
        [max(image[i * stride + a][j * stride + b] for a in range(size) for b in range(size))
         for j in range(out[1])]
        for i in range(out[0])
    ]


def test_seed_004_max_pool_2x2_stride_2():
    # 004, "Max-Pooling": A = [[12,20,30,0],[8,12,2,0],[34,70,37,4],[112,100,25,12]],
    # "2 x 2 Max-Pool" -> [[20, 30], [112, 37]]; 003: "max pool with 2x2 filters and stride 2",
    # "No Learnable Parameters"
    layer = only(run("4x4x1 maxpool2s2"))
    assert layer.output == Shape((2, 2), 1)
    assert layer.params == 0
    assert max_pool_values(SEED_004_A, 2, 2, layer.output.spatial) == [[20, 30], [112, 37]]


def test_seed_004_max_pool_of_the_shifted_matrix():
    # 004: B is A shifted right one column, with x = 0 in the first column -> [[12, 30], [112, 100]]
    b = [[0] + row[:3] for row in SEED_004_A]
    layer = only(run("4x4x1 maxpool2s2"))
    assert max_pool_values(b, 2, 2, layer.output.spatial) == [[12, 30], [112, 100]]


def test_mnist_flattens_to_784():
    # 004: "Ex. MNIST numbers (28, 28, 1) -> (28^2, 1)"; "each neuron in the hidden layer is
    # connected to all 28 x 28 = 784 pixels"
    report = run("28x28x1 flatten fc128")
    assert report.layers[0].output == Shape((), 784)
    assert report.layers[1].params == 784 * 128 + 128


# --- seeds 002 / 003: AlexNet ------------------------------------------------------------------


def test_alexnet_conv1():
    # 003: "Input: 227x227x3 images. First layer (CONV1): 96 11x11 filters applied at stride 4";
    # "Hint: (227-11)/4+1 = 55"; "Output volume [55x55x96]";
    # "Parameters: (11 x 11 x 3) x 96 = 35K" (002: "(11*11*3)*96 = 35k")
    layer = only(run("227x227x3 conv96k11s4"))
    assert layer.output == Shape((55, 55), 96)
    assert layer.layer.weights(layer.input) == 34_848  # 11*11*3*96
    assert layer.params == 34_944  # + 96 biases
    assert round(layer.params / 1000) == 35  # "35K"
    # 003, "Complexity: FLOPs": H2 x W2 x F^2 x D1 x D2 = 55*55*11*11*3*96
    assert layer.macs == 105_415_200


def test_alexnet_pool1():
    # 003: "After CONV1: 55x55x96. Second layer (POOL1): 3x3 filters applied at stride 2";
    # "Hint: (55-3)/2+1 = 27"; "Output volume: 27x27x96"; "Parameters: 0!"
    report = run("227x227x3 conv96k11s4 maxpool3s2")
    pool = report.layers[1]
    assert pool.input == Shape((55, 55), 96)
    assert pool.output == Shape((27, 27), 96)
    assert pool.params == 0


ALEXNET = (
    # 002 / 003: "Full (simplified) AlexNet architecture"
    "227x227x3\n"  # [227x227x3] INPUT
    "conv96k11s4p0\n"  # [55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0
    "maxpool3s2\n"  # [27x27x96] MAX POOL1: 3x3 filters at stride 2
    "norm\n"  # [27x27x96] NORM1: Normalization layer
    "conv256k5s1p2\n"  # [27x27x256] CONV2: 256 5x5 filters at stride 1, pad 2
    "maxpool3s2\n"  # [13x13x256] MAX POOL2: 3x3 filters at stride 2
    "norm\n"  # [13x13x256] NORM2: Normalization layer
    "conv384k3s1p1\n"  # [13x13x384] CONV3: 384 3x3 filters at stride 1, pad 1
    "conv384k3s1p1\n"  # [13x13x384] CONV4: 384 3x3 filters at stride 1, pad 1
    "conv256k3s1p1\n"  # [13x13x256] CONV5: 256 3x3 filters at stride 1, pad 1
    "maxpool3s2\n"  # [6x6x256] MAX POOL3: 3x3 filters at stride 2
    "fc4096\n"  # [4096] FC6: 4096 neurons
    "fc4096\n"  # [4096] FC7: 4096 neurons
    "fc1000\n"  # [1000] FC8: 1000 neurons (class scores)
)

ALEXNET_SHAPES = [
    "55x55x96", "27x27x96", "27x27x96", "27x27x256", "13x13x256", "13x13x256",
    "13x13x384", "13x13x384", "13x13x256", "6x6x256", "4096", "4096", "1000",
]


def test_full_simplified_alexnet_shapes():
    report = run(ALEXNET)
    assert [str(r.output) for r in report.layers] == ALEXNET_SHAPES
    assert [r.params for r in report.layers if r.layer.kind in ("maxpool", "lrn")] == [0] * 5


def test_full_simplified_alexnet_in_yaml():
    report = analyse(parse_yaml(
        "input: 227x227x3\n"
        "layers:\n"
        "  - conv: {filters: 96, kernel: 11, stride: 4, padding: 0}\n"
        "  - maxpool: {kernel: 3, stride: 2}\n"
        "  - norm\n"
        "  - conv: {filters: 256, kernel: 5, stride: 1, padding: 2}\n"
        "  - maxpool3s2\n"
        "  - norm\n"
        "  - (conv384k3p1)x2\n"
        "  - conv: {filters: 256, kernel: 3, padding: 1}\n"
        "  - maxpool3s2\n"
        "  - fc: 4096\n"
        "  - fc: 4096\n"
        "  - fc: 1000\n"
    ))
    assert [str(r.output) for r in report.layers] == ALEXNET_SHAPES
    assert report.totals == run(ALEXNET).totals


def test_alexnet_default_names_follow_the_notes():
    # 002 / 003: CONV1, MAX POOL1, NORM1, CONV2, MAX POOL2, NORM2, CONV3, CONV4, CONV5,
    # Max POOL3, FC6, FC7, FC8
    names = [r.name for r in run(ALEXNET).layers]
    assert names == ["conv1", "pool1", "norm1", "conv2", "pool2", "norm2", "conv3", "conv4",
                     "conv5", "pool3", "fc6", "fc7", "fc8"]


def test_alexnet_neuron_counts_from_the_paper_caption():
    # 001, AlexNet "Figure 2" caption: "The network's input is 150,528-dimensional, and the number
    # of neurons in the network's remaining layers is given by
    # 253,440-186,624-64,896-64,896-43,264-4096-4096-1000". The input is the paper's 224x224x3.
    assert Shape((224, 224), 3).elements == 150_528
    report = run(ALEXNET)
    by_name = {r.name: r.activations for r in report.layers}
    assert [by_name[n] for n in ("conv2", "conv3", "conv4", "conv5")] == [186_624, 64_896, 64_896, 43_264]
    assert [r.activations for r in report.layers[-3:]] == [4096, 4096, 1000]
    # The caption's first number does not match its own 55x55x96 CONV1 (a known slip of the
    # paper): 55*55*96 = 290,400, not 253,440.
    assert by_name["conv1"] == 290_400


def test_alexnet_61m_parameters_and_0_7_gflop():
    # 001, "AlexNet vs. VGG": "AlexNet total: 61M", "AlexNet total: 0.7 GFLOP". Those totals are
    # the paper's two-GPU network, whose CONV2, CONV4 and CONV5 see only half their input
    # channels (groups 2); the "simplified" single-tower table of 002/003 has 62.4M.
    grouped = ALEXNET.replace("conv256k5s1p2", "conv256k5s1p2g2").replace(
        "conv384k3s1p1\nconv256k3s1p1", "conv384k3s1p1g2\nconv256k3s1p1g2")
    totals = run(grouped).totals
    assert totals.params == 60_965_224
    assert round(totals.params / 1e6) == 61
    assert round(totals.macs / 1e9, 1) == 0.7  # the notes' "FLOPs" formula counts MACs
    assert run(ALEXNET).totals.params == 62_378_344


# --- seed 002: VGG ------------------------------------------------------------------------------

VGG16_COLUMN_D = """input (224 × 224 RGB image)
conv3-64 conv3-64
maxpool
conv3-128 conv3-128
maxpool
conv3-256 conv3-256 conv3-256
maxpool
conv3-512 conv3-512 conv3-512
maxpool
conv3-512 conv3-512 conv3-512
maxpool
FC-4096
FC-4096
FC-1000
soft-max
"""

# 002, "VGGNet": [shape], memory, "params: ... (not counting biases)" -- row by row
VGG16_TABLE = [
    ("224x224x64", 224 * 224 * 64, (3 * 3 * 3) * 64),  # CONV3-64, params 1,728
    ("224x224x64", 224 * 224 * 64, (3 * 3 * 64) * 64),  # CONV3-64, 36,864
    ("112x112x64", 112 * 112 * 64, 0),  # POOL2
    ("112x112x128", 112 * 112 * 128, (3 * 3 * 64) * 128),  # 73,728
    ("112x112x128", 112 * 112 * 128, (3 * 3 * 128) * 128),  # 147,456
    ("56x56x128", 56 * 56 * 128, 0),
    ("56x56x256", 56 * 56 * 256, (3 * 3 * 128) * 256),  # 294,912
    ("56x56x256", 56 * 56 * 256, (3 * 3 * 256) * 256),  # 589,824
    ("56x56x256", 56 * 56 * 256, (3 * 3 * 256) * 256),  # 589,824
    ("28x28x256", 28 * 28 * 256, 0),
    ("28x28x512", 28 * 28 * 512, (3 * 3 * 256) * 512),  # 1,179,648
    ("28x28x512", 28 * 28 * 512, (3 * 3 * 512) * 512),  # 2,359,296
    ("28x28x512", 28 * 28 * 512, (3 * 3 * 512) * 512),
    ("14x14x512", 14 * 14 * 512, 0),
    ("14x14x512", 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("14x14x512", 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("14x14x512", 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("7x7x512", 7 * 7 * 512, 0),
    ("4096", 4096, 7 * 7 * 512 * 4096),  # FC, 102,760,448
    ("4096", 4096, 4096 * 4096),  # 16,777,216
    ("1000", 1000, 4096 * 1000),  # 4,096,000
]


def weights_without_biases(r) -> int:
    """The VGG table counts weights only: params minus one bias per output unit/filter."""
    return r.params - (r.output.channels if r.layer.kind in ("conv", "fc") else 0)


def test_vgg16_table_pasted_as_is():
    # 002, "ConvNet Configuration", column D (16 weight layers), pasted with its header
    report = run(VGG16_COLUMN_D)
    assert report.spec.input == Shape((224, 224), 3)  # INPUT: [224x224x3]
    rows = [r for r in report.layers if r.layer.kind != "softmax"]
    assert [(str(r.output), r.activations, weights_without_biases(r)) for r in rows] == VGG16_TABLE
    assert [r.layer.weights(r.input) for r in rows if r.layer.kind == "conv"][:2] == [1_728, 36_864]
    assert rows[-3].params == 102_760_448 + 4096
    assert report.layers[-1].layer.kind == "softmax"
    assert report.output == Shape((), 1000)


def test_vgg16_has_138m_parameters():
    # 001: "VGG-16 total: 138M (2.3x)" [than AlexNet's 61M]
    params = run(VGG16_COLUMN_D).totals.params
    assert params == 138_357_544
    assert round(params / 1e6) == 138


def test_vgg_a_lrn_and_c_columns():
    # 002: column A-LRN has "conv3-64 LRN"; column C has "conv1-256": a 1x1 conv, pad 0
    report = run("input (224 × 224 RGB image) conv3-64 LRN maxpool conv3-128 maxpool conv3-256 conv3-256 conv1-256")
    lrn = report.layers[1]
    assert lrn.layer.kind == "lrn" and lrn.params == 0 and lrn.output == Shape((224, 224), 64)
    conv1x1 = report.layers[-1]
    assert conv1x1.layer.kernel == (1,) and conv1x1.layer.padding == (0,)
    assert conv1x1.output == Shape((56, 56), 256)
    assert conv1x1.params == 1 * 1 * 256 * 256 + 256


def test_vgg_only_3x3_conv_stride_1_pad_1_and_2x2_max_pool_stride_2():
    # 002, "Case Study: VGGNet": "Only 3x3 Conv stride 1, pad 1 and 2x2 Max Pool stride 2"
    conv, pool = run("224x224x3 conv3-64 maxpool").layers
    assert (conv.layer.kernel, conv.layer.stride, conv.layer.padding) == ((3,), (1,), (1,))
    assert conv.layer == parse_string("1x1x1 conv64k3s1p1").layers[0].layer
    assert conv.output == Shape((224, 224), 64)
    # a bare 'maxpool' is a 2x2 window whose stride defaults to the window
    assert pool.layer.kernel == (2,) and pool.layer.stride in (None, (2,))
    assert pool.output == Shape((112, 112), 64)


# --- seeds 000 / 001 / 003: the general formulas --------------------------------------------------


@pytest.mark.parametrize(
    "size, kernel, stride, pad, filters, depth",
    [(32, 5, 1, 2, 10, 3), (227, 11, 4, 0, 96, 3), (27, 5, 1, 2, 256, 96), (13, 3, 1, 1, 384, 256)],
)
def test_conv_layer_summary(size, kernel, stride, pad, filters, depth):
    # 000 / 003, "Summary. To summarize, the Conv Layer": W2 = (W1 - F + 2P)/S + 1, D2 = K;
    # "F*F*D1 weights per filter, for a total of (F*F*D1)*K weights and K biases";
    # 003, "Complexity: FLOPs": H2 x W2 x F^2 x D1 x D2
    layer = only(run(f"{size}x{size}x{depth} conv{filters}k{kernel}s{stride}p{pad}"))
    w2 = (size - kernel + 2 * pad) // stride + 1
    assert layer.output == Shape((w2, w2), filters)
    assert layer.params == (kernel * kernel * depth) * filters + filters
    assert layer.macs == w2 * w2 * kernel**2 * depth * filters


def test_weight_matrix_c_out_c_in_kh_kw():
    # 001: "Kernel size: K_H x K_W ... Weight matrix: C_out x C_in x K_H x K_W, Bias vector: C_out"
    layer = only(run("32x32x3 conv6k3x5"))
    assert layer.params == 6 * 3 * 3 * 5 + 6
    assert layer.output == Shape((30, 28), 6)
