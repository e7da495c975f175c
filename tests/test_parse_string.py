"""The compact layer string: grammar, VGG's notation pasted as is, and located errors.

Layers are compared as values (frozen value classes), so a test states exactly which rule and
options a token means. Errors are asserted down to the column, because the CLI prints a caret
there (STYLE.md rule 4).
"""

from __future__ import annotations

from typing import List

import pytest

from convcalc.analysis.engine import analyse
from convcalc.errors import ConvcalcError, ShapeError, SpecError
from convcalc.layers import (
    LRN,
    Activation,
    AvgPool,
    BatchNorm,
    Conv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    Linear,
    MaxPool,
    Softmax,
)
from convcalc.shape import Shape
from convcalc.spec.layer_string import parse_string
from convcalc.spec.yaml_reader import parse_yaml


def layers(text: str) -> List[Layer]:
    return [ls.layer for ls in parse_string(text).layers]


def spec_error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_string(text)
    return info.value


def where(e: ConvcalcError):
    assert e.loc is not None
    return (e.loc.line, e.loc.column)


SMALL = [Conv(filters=4, kernel=(3,), padding=(1,)), Activation("relu"), MaxPool(kernel=(2,), stride=(2,)),
         Linear(units=10)]


# --- separators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "8x8x3 conv4k3p1 relu maxpool2s2 fc10",
        "8x8x3   conv4k3p1    relu maxpool2s2 fc10   ",
        "8x8x3,conv4k3p1,relu,maxpool2s2,fc10",
        "8x8x3, conv4k3p1, relu, maxpool2s2, fc10",
        "8x8x3 -> conv4k3p1 -> relu -> maxpool2s2 -> fc10",
        "8x8x3->conv4k3p1->relu->maxpool2s2->fc10",
        "8x8x3 → conv4k3p1 → relu → maxpool2s2 → fc10",
        "8x8x3\nconv4k3p1\nrelu\nmaxpool2s2\nfc10\n",
        "8x8x3\r\nconv4k3p1\r\nrelu\r\nmaxpool2s2\r\nfc10\r\n",
        "8x8x3\tconv4k3p1\trelu\tmaxpool2s2\tfc10",
        "\n\n  8x8x3\n\n  conv4k3p1 relu,\n  maxpool2s2 -> fc10\n",
        "8x8x3 ,-> conv4k3p1 -> -> relu maxpool2s2,,fc10",
    ],
)
def test_separators(text):
    spec = parse_string(text)
    assert spec.input == Shape((8, 8), 3)
    assert [ls.layer for ls in spec.layers] == SMALL


def test_tokens_keep_their_line_and_column():
    spec = parse_string("8x8x3\nconv4k3p1 relu\n  maxpool2s2, fc10")
    assert [(ls.loc.line, ls.loc.column) for ls in spec.layers] == [(2, 1), (2, 11), (3, 3), (3, 15)]
    assert spec.layers[2].loc.source == "  maxpool2s2, fc10"


# --- input shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, shape",
    [
        ("224x224x3", Shape((224, 224), 3)),
        ("224X224X3", Shape((224, 224), 3)),
        ("224×224×3", Shape((224, 224), 3)),
        ("28x28x1", Shape((28, 28), 1)),
        ("100x3", Shape((100,), 3)),  # a 1-D signal
        ("16x16x16x4", Shape((16, 16, 16), 4)),  # a volume
        ("4096", Shape((), 4096)),  # a flat vector
    ],
)
def test_input_shapes(text, shape):
    assert parse_string(text).input == shape
    assert parse_string(text).layers == ()


# --- kinds, counts and options --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token, layer",
    [
        ("conv64k3", Conv(filters=64, kernel=(3,))),
        ("conv64k3x5", Conv(filters=64, kernel=(3, 5))),
        ("conv64k3s2", Conv(filters=64, kernel=(3,), stride=(2,))),
        ("conv64k3s1x2", Conv(filters=64, kernel=(3,), stride=(1, 2))),
        ("conv64k3p1", Conv(filters=64, kernel=(3,), padding=(1,))),
        ("conv64k3p1x2", Conv(filters=64, kernel=(3,), padding=(1, 2))),
        ("conv64k3p0", Conv(filters=64, kernel=(3,), padding=(0,))),
        ("conv64k3psame", Conv(filters=64, kernel=(3,), padding="same")),
        ("conv64k3pvalid", Conv(filters=64, kernel=(3,), padding="valid")),
        ("conv64k3d2", Conv(filters=64, kernel=(3,), dilation=(2,))),
        ("conv64k3g2", Conv(filters=64, kernel=(3,), groups=2)),
        ("conv64k3nb", Conv(filters=64, kernel=(3,), bias=False)),
        ("conv96k11s4p0", Conv(filters=96, kernel=(11,), stride=(4,), padding=(0,))),
        ("conv64k3s2p1d2g4nb", Conv(filters=64, kernel=(3,), stride=(2,), padding=(1,), dilation=(2,),
                                    groups=4, bias=False)),
        ("conv64nbk3p1", Conv(filters=64, kernel=(3,), padding=(1,), bias=False)),  # any order
        ("conv3-64", Conv(filters=64, kernel=(3,), padding=(1,))),  # VGG: 3x3, stride 1, pad 1
        ("conv1-256", Conv(filters=256, kernel=(1,), padding=(0,))),  # VGG column C: 1x1, pad 0
        ("conv5-32", Conv(filters=32, kernel=(5,), padding=(2,))),
        ("maxpool", MaxPool()),
        ("maxpool2", MaxPool(kernel=(2,))),
        ("maxpool3s2", MaxPool(kernel=(3,), stride=(2,))),
        ("maxpool3s2ceil", MaxPool(kernel=(3,), stride=(2,), ceil_mode=True)),
        ("maxpool3s2p1", MaxPool(kernel=(3,), stride=(2,), padding=(1,))),
        ("maxpoolk3s2", MaxPool(kernel=(3,), stride=(2,))),
        ("maxpools2", MaxPool(kernel=(2,), stride=(2,))),  # the longest kind the letters start with
        ("avgpool2s2", AvgPool(kernel=(2,), stride=(2,))),
        ("fc4096", Linear(units=4096)),
        ("FC-4096", Linear(units=4096)),  # VGG's notation, as the paper prints it
        ("soft-max", Softmax()),
        ("fc10nb", Linear(units=10, bias=False)),
        ("FC-4096", Linear(units=4096)),
        ("relu", Activation("relu")),
        ("tanh", Activation("tanh")),
        ("softmax", Softmax()),
        ("soft-max", Softmax()),
        ("flatten", Flatten()),
        ("gap", GlobalAvgPool()),
        ("dropout", Dropout()),
        ("dropout0.3", Dropout(p=0.3)),
        ("lrn", LRN()),
        ("LRN", LRN()),
        ("batchnorm", BatchNorm()),
    ],
)
def test_tokens(token, layer):
    assert layers(f"32x32x8 {token}") == [layer]


def test_a_bare_maxpool_is_2x2_stride_2():
    assert layers("8x8x3 maxpool") == layers("8x8x3 maxpool2s2")
    assert str(analyse(parse_string("8x8x3 maxpool")).output) == "4x4x3"


@pytest.mark.parametrize(
    "alias, canonical",
    [
        ("linear10", "fc10"),
        ("dense10", "fc10"),
        ("fullyconnected10", "fc10"),
        ("bn", "batchnorm"),
        ("norm", "lrn"),
        ("pool2s2", "maxpool2s2"),
        ("max_pool2s2", "maxpool2s2"),
        ("Max-Pool2s2", "maxpool2s2"),
        ("drop", "dropout"),
        ("swish", "silu"),
        ("convolution8k3", "conv8k3"),
    ],
)
def test_aliases(alias, canonical):
    assert layers(f"8x8x3 {alias}") == layers(f"8x8x3 {canonical}")


@pytest.mark.parametrize(
    "upper, lower",
    [
        ("CONV64K3P1", "conv64k3p1"),
        ("Conv64K3S2P1Nb", "conv64k3s2p1nb"),
        ("CONV64K3PSAME", "conv64k3psame"),
        ("Conv64k3PValid", "conv64k3pvalid"),
        ("MaxPool3S2Ceil", "maxpool3s2ceil"),
        ("ReLU", "relu"),
        ("FC-1000", "fc1000"),
        ("CONV3-64", "conv3-64"),
        ("BN", "bn"),
        ("Soft-Max", "softmax"),
    ],
)
def test_case_does_not_matter(upper, lower):
    assert layers(f"32X32X3 {upper}") == layers(f"32x32x3 {lower}")


# Kind names with digits (relu6, and the framework spellings conv2d, maxpool2d, batchnorm2d ...)
# win over a count: the lexer takes the longest start of a token that names a kind.
@pytest.mark.parametrize(
    "token, layer",
    [
        ("relu6", Activation("relu6")),
        ("batchnorm2d", BatchNorm()),
        ("maxpool2d", MaxPool()),
        ("conv2d64k3", Conv(filters=64, kernel=(3,))),
        ("maxpool2s2", MaxPool(kernel=(2,), stride=(2,))),
    ],
)
def test_kind_names_with_digits(token, layer):
    assert layers(f"32x32x8 {token}") == [layer]


# --- repetition ---------------------------------------------------------------------------------


def test_repetition():
    assert layers("8x8x3 (conv4k3p1 relu)x2") == layers("8x8x3 conv4k3p1 relu conv4k3p1 relu")


@pytest.mark.parametrize("group", ["(relu tanh)x3", "(relu tanh) x3", "(relu tanh)X3", "(relu tanh)×3",
                                   "(relu tanh)*3", "(relu tanh) x 3", "( relu,tanh )x3"])
def test_repetition_spellings(group):
    assert layers(f"8x8x3 {group}") == [Activation("relu"), Activation("tanh")] * 3


def test_group_without_count_is_used_once():
    assert layers("8x8x3 (relu tanh) softmax") == [Activation("relu"), Activation("tanh"), Softmax()]


def test_nested_repetition():
    block = ["conv8k3p1", "relu"]
    flat = " ".join((block * 2 + ["maxpool"]) * 3)
    assert layers("32x32x3 ((conv8k3p1 relu)x2 maxpool)x3") == layers(f"32x32x3 {flat}")
    assert len(layers("32x32x3 (((relu)x2)x3)x4")) == 24


def test_repeated_layers_keep_the_location_of_their_token():
    spec = parse_string("8x8x3 (conv4k3p1 relu)x2")
    assert [ls.loc.column for ls in spec.layers] == [8, 18, 8, 18]


def test_vgg_style_block_through_analyse():
    report = analyse(parse_string("224x224x3 ((conv64k3p1 relu)x2 maxpool2s2)x2"))
    assert [str(r.output) for r in report.layers][-1] == "56x56x64"


# --- VGG notation, pasted as is ---------------------------------------------------------------


VGG_A_LRN = """input (224 × 224 RGB image)
conv3-64 LRN
maxpool
conv3-128
maxpool
conv3-256 conv3-256
maxpool
conv3-512 conv3-512
maxpool
conv3-512 conv3-512
maxpool
FC-4096
FC-4096
FC-1000
soft-max"""


def test_vgg_table_column_pasted_as_is():
    spec = parse_string(VGG_A_LRN)
    assert spec.input == Shape((224, 224), 3)
    got = [ls.layer for ls in spec.layers]
    conv = lambda k: Conv(filters=k, kernel=(3,), padding=(1,))  # noqa: E731
    pool = MaxPool(kernel=(2,), stride=(2,))
    assert got == [
        conv(64), LRN(), pool, conv(128), pool, conv(256), conv(256), pool, conv(512), conv(512), pool,
        conv(512), conv(512), pool, Linear(4096), Linear(4096), Linear(1000), Softmax(),
    ]
    report = analyse(spec)
    assert str(report.layers[-2].input) == "4096"
    assert str(report.layers[-4].input) == "7x7x512"


def test_vgg_header_keeps_columns_after_it():
    spec = parse_string("input (224 × 224 RGB image) conv3-64 conv3-64")
    assert [ls.loc.column for ls in spec.layers] == [29, 38]


def test_vgg_header_after_blank_lines():
    spec = parse_string("\n  input (224 × 224 RGB image)\n conv3-64")
    assert spec.input == Shape((224, 224), 3)
    assert (spec.layers[0].loc.line, spec.layers[0].loc.column) == (3, 2)


@pytest.mark.parametrize(
    "header, shape",
    [
        ("input (224 × 224 RGB image)", Shape((224, 224), 3)),
        ("INPUT (224 x 224 rgb image)", Shape((224, 224), 3)),
        ("input (28 × 28 gray image)", Shape((28, 28), 1)),
        ("input (32 × 32 × 3)", Shape((32, 32), 3)),
    ],
)
def test_vgg_header_forms(header, shape):
    assert parse_string(f"{header} relu").input == shape


# --- errors, located to the column -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, column, fragments",
    [
        ("32x32x3 cnov64k3", 1, 9, ["unknown layer 'cnov'", "did you mean 'conv'?"]),
        ("32x32x3 conv64k3 relu maxpol2s2", 1, 23, ["unknown layer 'maxpol'", "did you mean 'maxpool'?"]),
        ("32x32x3 conv64k3 rleu", 1, 18, ["unknown layer 'rleu'", "did you mean 'relu'?"]),
        ("32x32x3 zzz", 1, 9, ["unknown layer 'zzz'"]),
        ("32x32x3\nconv64k3\n  cnov3", 3, 3, ["unknown layer 'cnov'", "did you mean 'conv'?"]),
        ("32x32x3,conv64k3,cnov", 1, 18, ["'cnov'"]),
        ("32x32x3->conv64k3->cnov", 1, 20, ["'cnov'"]),
        ("32x32x3\tconv64k3\tcnov", 1, 18, ["'cnov'"]),
        ("32x32x3 ((relu)x2 cnov)x2", 1, 19, ["'cnov'"]),
        ("input (224 × 224 RGB image)\nconv3-64 LRN\nmaxpol", 3, 1, ["'maxpol'", "did you mean 'maxpool'?"]),
        ("input (224 × 224 RGB image) cnov3-64", 1, 29, ["'cnov'"]),
        # a kind that takes no number
        ("32x32x3 conv64k3 relu3", 1, 22, ["relu takes no number", "'3'"]),
        ("32x32x3 softmax10", 1, 16, ["softmax takes no number", "'10'"]),
        # an unknown option letter, or one with no value
        ("32x32x3 conv64k3q2", 1, 17, ["conv has no option 'q'", "conv64k3q2"]),
        ("32x32x3 maxpool2s2x", 1, 19, ["maxpool has no option 'x'"]),
        ("32x32x3 conv4k3ceil", 1, 16, ["conv has no option 'ceil'"]),
        ("32x32x3 fc10k3", 1, 13, ["fc has no option 'k'"]),
        ("32x32x3 conv64k3s", 1, 17, ["option 's' of conv needs a value"]),
        # a negative padding: one message, the converter's, wherever it is written (issue 11, 7)
        ("32x32x3 conv64k3p-1", 1, 17, ["conv padding: must be 0 or more, got -1"]),
        ("32x32x3 conv64k3p1x-2", 1, 17, ["conv padding: must be 0 or more, got -2"]),
        ("32x32x3 conv64k-3", 1, 15, ["conv kernel", "positive", "got -3"]),
        # only VGG's notation has a dash: anything else would read a minus sign as nothing (issue 11, 2)
        ("568x568x64 pad-88", 1, 15, ["padding: must be 0 or more, got -88", "no crop layer"]),
        ("32x32x3 conv-8k3", 1, 13, ["unexpected '-' in 'conv-8k3'", "conv's number"]),
        ("32x32x3 fc-5", 1, 11, ["unexpected '-' in 'fc-5'"]),
        ("32x32x3 Fc-4096", 1, 11, ["unexpected '-'"]),
        ("32x32x3 maxpool-2", 1, 16, ["unexpected '-'"]),
        ("32x32x3 conv-", 1, 13, ["unexpected '-'"]),
        # digits are ASCII: '²' and fullwidth '３' are not numbers (issue 11, 4)
        ("32x32x3 conv３k3", 1, 13, ["cannot read '３k3'"]),
        ("32x32x3 conv8k²", 1, 14, ["option 'k' of conv needs a value"]),
        ("32x32x3 (relu)x３", 1, 15, ["unknown layer 'x'"]),
        ("3２x32x3 relu", 1, 1, ["expected an input shape"]),
        # option values
        ("32x32x3 conv0k3", 1, 13, ["conv filters", "positive", "got 0"]),
        ("32x32x3 conv64k0", 1, 15, ["conv kernel", "positive", "got 0"]),
        ("32x32x3 conv3.5k3", 1, 13, ["conv filters", "whole number", "3.5"]),
        ("32x32x3 conv99999999999k3", 1, 13, ["99999999999", "limit"]),
        ("32x32x3 conv64k3s2s2", 1, 19, ["conv option 'stride' is given twice"]),
        ("32x32x3 dropout1.5", 1, 16, ["dropout p", "1.5"]),
        # missing required options
        ("32x32x3 conv64", 1, 9, ["conv needs 'kernel'"]),
        ("32x32x3 fc", 1, 9, ["fc needs 'units'"]),
        # parentheses
        ("32x32x3 (conv64k3 relu", 1, 9, ["'(' is never closed"]),
        ("32x32x3 ((conv64k3 relu)x2", 1, 9, ["'(' is never closed"]),
        ("32x32x3 conv64k3 relu)", 1, 22, ["')' without a matching '('"]),
        ("32x32x3 (relu))x2", 1, 15, ["')' without a matching '('"]),
        ("32x32x3 (relu)x0", 1, 14, ["repeated 0 times"]),
        ("32x32x3 (relu)x9999999", 1, 14, ["more than 20,000 layers"]),
        ("32x32x3 (relu)x99999999999", 1, 14, ["99999999999", "limit"]),
        # shapes and the input
        ("32x32x3 conv64k3 8x8x3 relu", 1, 18, ["a shape '8x8x3' can only come first"]),
        ("32x32x3\n16x16x3", 2, 1, ["a shape '16x16x3' can only come first"]),
        ("conv64k3 relu", 1, 1, ["starts with the input shape", "'conv64k3'"]),
        ("  relu", 1, 3, ["starts with the input shape", "'relu'"]),
        ("32x32x0 relu", 1, 1, ["input shape", "positive", "got 0"]),
        ("32x32xq relu", 1, 1, ["expected an input shape", "'32x32xq'"]),
        ("input (RGB image) relu", 1, 1, ["cannot read an input shape", "input (RGB image)"]),
        ("", 1, 1, ["empty layer string"]),
        ("  \n ", 1, 1, ["empty layer string"]),
        # anything else
        ("32x32x3 conv64k3 %", 1, 18, ["expected a layer", "'%'"]),
    ],
)
def test_errors_are_located(text, line, column, fragments):
    e = spec_error(text)
    assert where(e) == (line, column), e.render()
    assert e.loc.file == "<string>"
    for fragment in fragments:
        assert fragment in e.message, e.render()
    assert e.exit_code == 2


def test_error_names_the_file():
    with pytest.raises(SpecError) as info:
        parse_string("8x8x3 cnov", file="net.txt")
    assert str(info.value).startswith("net.txt:1:7: unknown layer 'cnov'")


def test_render_draws_a_caret_under_the_bad_token():
    e = spec_error("32x32x3 conv64k3 cnov8k3 relu")
    lines = e.render().split("\n")
    assert lines[0] == "error: <string>:1:18: unknown layer 'cnov' — did you mean 'conv'?"
    assert lines[1] == "  32x32x3 conv64k3 cnov8k3 relu"
    assert lines[2] == "  " + " " * 17 + "^^^^"
    assert lines[3].startswith("  hint: ")


@pytest.mark.parametrize(
    "text, source, caret",
    [
        ("32x32x3 conv64k3q2", "32x32x3 conv64k3q2", " " * 16 + "^^"),  # under the option
        ("32x32x3 relu3", "32x32x3 relu3", " " * 12 + "^"),  # under the number
        ("8x8x3\n  (relu\n tanh", "  (relu", "  ^"),  # under the '('
        ("8x8x3\tcnov", "8x8x3\tcnov", " " * 6 + "^^^^"),  # a tab is one column
    ],
)
def test_render_caret_positions(text, source, caret):
    lines = spec_error(text).render().split("\n")
    assert lines[1] == "  " + source.expandtabs(1)
    assert lines[2] == "  " + caret


def test_a_long_line_is_quoted_around_the_caret():
    text = "8x8x3 " + "relu " * 2000 + "cnov" + "x" * 20_000 + " relu"
    lines = spec_error(text).render().split("\n")
    assert lines[0].startswith("error: <string>:1:10007: unknown layer 'cnovxxx")
    assert len(lines[0]) < 250  # the 20,004-letter word is cut in its middle, not quoted whole
    assert lines[1].startswith("  …") and lines[1].endswith("…") and len(lines[1]) < 200
    column = lines[2].index("^")
    assert lines[1][column:column + 4] == "cnov"  # the caret is still under the word's first letter


def test_kind_lookup_stops_at_the_longest_kind_name():
    import time

    from convcalc.spec.layer_string import longest_kind

    start = time.perf_counter()
    assert longest_kind("conv" + "9" * 20_000) == "conv"  # was 8.5 s: every prefix normalised
    with pytest.raises(SpecError, match="larger than convcalc's limit"):
        parse_string("8x8x3 conv" + "9" * 20_000)
    assert time.perf_counter() - start < 2  # a bound against hangs, not a benchmark
    assert (longest_kind("relu6"), longest_kind("maxpool2s2"), longest_kind("conv2d64k3")) == ("relu6", "maxpool", "conv2d")


def test_errors_raise_from_none():
    e = spec_error("8x8x3 conv0k3")
    assert e.__cause__ is None and e.__suppress_context__


def test_a_kernel_too_large_is_a_shape_error_not_a_spec_error():
    spec = parse_string("8x8x3 conv4k3 conv4k9")  # reads fine ...
    with pytest.raises(ShapeError) as info:  # ... but does not compute
        analyse(spec)
    assert where(info.value) == (1, 15)
    assert "kernel 9 exceeds padded input 6" in info.value.message


# --- the two parsers agree -------------------------------------------------------------------


def test_yaml_and_string_agree():
    string = parse_string("32x32x3 (conv16k3p1 relu)x2 maxpool2s2 conv32k3x1s2x1p1nb bn dropout0.25 fc10 softmax")
    yaml = parse_yaml(
        "input: [32, 32, 3]\n"
        "layers:\n"
        "  - conv: {filters: 16, kernel: 3, padding: 1}\n"
        "  - relu\n"
        "  - conv: {out_channels: 16, kernel_size: 3, pad: 1}\n"
        "  - relu: null\n"
        "  - maxpool: {pool_size: 2, strides: 2}\n"
        "  - conv: {filters: 32, kernel: [3, 1], stride: 2x1, padding: 1, bias: false}\n"
        "  - batchnorm\n"
        "  - dropout: 0.25\n"
        "  - dense: {units: 10}\n"
        "  - softmax\n"
    )
    assert yaml.input == string.input
    assert [ls.layer for ls in yaml.layers] == [ls.layer for ls in string.layers]
    assert yaml.layers == string.layers  # LayerSpec equality ignores the location
    assert analyse(yaml).totals == analyse(string).totals


# --- numbers past Python's 4,300-digit limit (issue 11, 4) ----------------------------------------

NINES = "9" * 5000


@pytest.mark.parametrize(
    "text, column",
    [
        (f"8x8x3 conv4k3x{NINES}", 12),  # a per-axis value: converted before its length was checked
        (f"8x8x3 conv4k{NINES}", 12),
        (f"8x8x3 conv{NINES}k3", 11),
        (f"8x8x3 conv4k3p1x{NINES}", 14),
        (f"8x8x3 (relu)x{NINES}", 12),
        (f"8x{NINES}x3 relu", 1),
    ],
)
def test_huge_numbers_are_located_errors_at_once(text, column):
    import time

    start = time.perf_counter()
    e = spec_error(text)
    assert time.perf_counter() - start < 5  # generous: a hang, not a speed goal
    assert where(e) == (1, column), e.render()
    assert "limit" in e.message and len(e.message) < 200


@pytest.mark.parametrize("text, column, written, joined", [
    # issue 19: 'conv16k3 s2' said "unknown layer 's'", with no word of the space
    ("32x32x3 conv16k3 s2", 18, "'s2' stands apart from 'conv16k3'", "conv16k3s2"),
    ("32x32x3 conv16k3 p1 relu", 18, "'p1' stands apart from 'conv16k3'", "conv16k3p1"),
    ("32x32x3 maxpool3 s2", 18, "'s2' stands apart from 'maxpool3'", "maxpool3s2"),
    ("32x32x3 fc10 nb", 14, "'nb' stands apart from 'fc10'", "fc10nb"),
])
def test_an_option_written_apart_is_told_to_join_its_token(text, column, written, joined):
    with pytest.raises(SpecError) as info:
        parse_string(text)
    assert where(info.value) == (1, column) and written in info.value.message
    assert info.value.hint == f"an option joins its layer's token, without a space: {joined}"


@pytest.mark.parametrize("text", ["32x32x3 relu s2", "32x32x3 s2", "32x32x3 conv16k3 x2", "32x32x3 (conv16k3) s2",
                                  "32x32x3 conv3-64 p2"])
def test_a_letter_the_layer_before_does_not_take_is_an_unknown_layer(text):
    with pytest.raises(SpecError, match="unknown layer"):
        parse_string(text)
