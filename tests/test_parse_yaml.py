"""The YAML spec format: its forms, and errors located to the line and column.

Every error test asserts the error class (SpecError: the text cannot be read; ShapeError: it
reads but does not compute -- the CLI maps both to exit 2), the exact ``line:column`` the CLI
prints, and that the message says what was received (STYLE.md rule 4).
"""

from __future__ import annotations

from typing import List, Type

import pytest

from convcalc.analysis.engine import analyse
from convcalc.errors import ConvcalcError, ShapeError, SpecError
from convcalc.layers import (
    LRN,
    Activation,
    AdaptiveAvgPool,
    BatchNorm,
    Conv,
    ConvTranspose,
    Dropout,
    Layer,
    Linear,
    MaxPool,
    Softmax,
    ZeroPad,
)
from convcalc.shape import Shape
from convcalc.spec.layer_string import parse_string
from convcalc.spec.yaml_reader import parse_yaml


def layers(text: str) -> List[Layer]:
    return [ls.layer for ls in parse_yaml(text).layers]


def net(*items: str, input: str = "[32, 32, 3]") -> str:
    """A spec with ``items`` as its layer list, one per line from line 3."""
    return f"input: {input}\nlayers:\n" + "".join(f"  - {item}\n" for item in items)


def fails(text: str, error: Type[ConvcalcError] = SpecError) -> ConvcalcError:
    """The error reading (and, for ShapeError, analysing) ``text`` raises."""
    with pytest.raises(ConvcalcError) as info:
        analyse(parse_yaml(text, "net.yaml"))
    assert type(info.value) is error, info.value.render()
    assert info.value.exit_code == 2
    return info.value


def where(e: ConvcalcError):
    assert e.loc is not None, e.render()
    assert e.loc.file == "net.yaml"
    return (e.loc.line, e.loc.column)


# --- the forms of a spec -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "input",
    [
        "[224, 224, 3]",
        "\n  - 224\n  - 224\n  - 3",
        "{height: 224, width: 224, channels: 3}",
        "\n  height: 224\n  width: 224\n  channels: 3",
        "{channels: 3, width: 224, height: 224}",
        "224x224x3",
        "'224x224x3'",
        "224×224×3",
        "224 x 224 x 3",
    ],
)
def test_input_forms(input):
    assert parse_yaml(f"input: {input}\nlayers: []\n").input == Shape((224, 224), 3)


def test_non_square_and_flat_inputs():
    assert parse_yaml("input: {height: 480, width: 640, channels: 3}\nlayers: []").input == Shape((480, 640), 3)
    assert parse_yaml("input: [100, 3]\nlayers: []").input == Shape((100,), 3)
    assert parse_yaml("input: [4096]\nlayers: []").input == Shape((), 4096)


def test_top_level_texts():
    spec = parse_yaml(
        "name: tiny\n"
        "title: A tiny network\n"
        "reference: nowhere, 2024\n"
        "description: |\n"
        "  anything at all\n"
        "input: [8, 8, 3]\n"
        "layers: [relu]\n",
        "tiny.yaml",
    )
    assert (spec.name, spec.title, spec.reference, spec.origin) == ("tiny", "A tiny network", "nowhere, 2024",
                                                                   "tiny.yaml")
    assert [ls.layer for ls in spec.layers] == [Activation("relu")]


def test_mapping_items_with_options():
    assert layers(net(
        "conv: {filters: 64, kernel: 3, stride: 1, padding: 1}",
        "conv: {filters: 64, kernel: [3, 5], stride: [1, 2], padding: [1, 2], dilation: 2, groups: 4, bias: false}",
        "conv: {filters: 8, kernel: 3x5, padding: same}",
        "conv: {filters: 8, kernel: 3, padding: valid}",
        "maxpool: {kernel: 3, stride: 2, padding: 1, ceil_mode: true}",
        "fc: {units: 10, bias: false}",
    )) == [
        Conv(filters=64, kernel=(3,), stride=(1,), padding=(1,)),
        Conv(filters=64, kernel=(3, 5), stride=(1, 2), padding=(1, 2), dilation=(2,), groups=4, bias=False),
        Conv(filters=8, kernel=(3, 5), padding="same"),
        Conv(filters=8, kernel=(3,), padding="valid"),
        MaxPool(kernel=(3,), stride=(2,), padding=(1,), ceil_mode=True),
        Linear(units=10, bias=False),
    ]


# --- numbers are read from the scalar's own text, as the layer string reads them (issue 11, 2) --


def test_0x3_is_padding_0_by_3_not_hexadecimal():
    # Inception's 1x7 conv with (0, 3) padding: YAML 1.1 made 0x3 the hexadecimal 3 (23x17 output)
    spec = parse_yaml(net("conv: {filters: 8, kernel: 1x7, padding: 0x3}", input="[17, 17, 8]"))
    assert spec.layers[0].layer == Conv(filters=8, kernel=(1, 7), padding=(0, 3))
    assert analyse(spec).layers[-1].output == Shape((17, 17), 8)
    assert layers(net("conv: {filters: 8, kernel: 3, padding: 0x10}")) == [
        Conv(filters=8, kernel=(3,), padding=(0, 10))]
    assert layers(net("convtranspose: {filters: 8, kernel: 3, stride: 2, output_padding: 0x1}")) == [
        ConvTranspose(filters=8, kernel=(3,), stride=(2,), output_padding=(0, 1))]
    assert layers(net("pad: 0x3")) == [ZeroPad(padding=(0, 3))]
    assert layers(net("conv: {filters: 8, kernel: 3, padding: 1x0}")) == [
        Conv(filters=8, kernel=(3,), padding=(1, 0))]


def test_leading_zeros_are_decimal():
    # YAML 1.1 reads 010 as octal 8; convcalc reads digits as decimal everywhere, as the layer string does
    assert layers(net("conv: {filters: 010, kernel: 03}")) == [Conv(filters=10, kernel=(3,))]
    assert parse_yaml("input: [032, 32, 3]\nlayers: []\n").input == Shape((32, 32), 3)


@pytest.mark.parametrize("written", ["1_0", "1:30", "0o7", "0xA", "0xa", "0b11", "+0x3", "1_0.5", ".inf", ".nan"])
def test_yaml_1_1_number_forms_are_errors_not_other_numbers(written):
    for item, column in ((f"conv: {{filters: {written}, kernel: 3}}", 21), (f"fc: {written}", 9)):
        e = fails(net(item))
        assert where(e) == (3, column), e.render()
        assert f"'{written}'" in e.message, e.render()
    e = fails(f"input: [8, {written}, 3]\nlayers: []\n")
    assert f"'{written}'" in e.message
    e = fails(net(f"relu:\n    repeat: {written}"))
    assert f"'{written}'" in e.message


def test_yaml_numbers_that_stay_numbers():
    assert layers(net("dropout: 0.25", "dropout: 5e-1", "dropout: .5", "lrn: {alpha: 1.0e-4, beta: +0.75}")) == \
        layers(net("dropout: 0.25", "dropout: 0.5", "dropout: 0.5", "lrn: {alpha: 0.0001, beta: 0.75}"))
    assert layers(net("relu:\n    repeat: +2")) == [Activation("relu")] * 2


def test_a_negative_padding_says_so_once():
    for item, column in (("conv: {filters: 8, kernel: 3, padding: -1}", 44), ("pad: -1", 10),
                         ("conv: {filters: 8, kernel: 3, padding: [1, -1]}", 44), ("conv8k3p-1", 12)):
        e = fails(net(item))
        assert where(e) == (3, column), e.render()
        assert "padding: must be 0 or more, got -1" in e.message, e.render()


NINES = "9" * 5000


@pytest.mark.parametrize("item, column", [
    (f"conv: {{filters: 8, kernel: '3x{NINES}'}}", 32),
    (f"conv: {{filters: 8, kernel: {NINES}}}", 32),
    (f"conv: {{filters: 8, kernel: [3, {NINES}]}}", 36),
    (f"fc: {NINES}", 9),
    (f"fc: {NINES}.5", 9),
    (f"relu:\n    repeat: {NINES}", 13),
    (f"conv: {{filters: 8, kernel: 3}}\n    expect: {{rf: {NINES}}}", 18),
    (f"conv: {{filters: 8, kernel: 3}}\n    expect: {{rf: '3x{NINES}'}}", 18),
    (f"conv: {{filters: 8, kernel: 3}}\n    expect: {{params: {NINES}}}", 22),
    (f"conv: {{filters: 8, kernel: 3}}\n    expect: {{params: '1e{NINES}'}}", 22),
])
def test_numbers_past_pythons_digit_limit_are_located_errors(item, column):
    e = fails(net(item))
    assert where(e)[1] == column, e.render()
    assert "limit" in e.message or "too large" in e.message, e.render()


def test_block_mapping_options():
    text = (
        "input: [32, 32, 3]\n"
        "layers:\n"
        "  - conv:\n"
        "      filters: 16\n"
        "      kernel: 3\n"
        "      padding: 1\n"
        "    name: stem\n"
    )
    [ls] = parse_yaml(text).layers
    assert ls.layer == Conv(filters=16, kernel=(3,), padding=(1,))
    assert ls.name == "stem"


@pytest.mark.parametrize(
    "item, layer",
    [
        ("conv: {out_channels: 8, kernel_size: 3, pad: 1}", Conv(filters=8, kernel=(3,), padding=(1,))),
        ("conv: {num_filters: 8, size: 3, strides: 2}", Conv(filters=8, kernel=(3,), stride=(2,))),
        ("conv: {channels: 8, kernel_size: [3, 3], dilation_rate: 2, use_bias: false}",
         Conv(filters=8, kernel=(3, 3), dilation=(2,), bias=False)),
        ("maxpool: {pool_size: 2, strides: 2}", MaxPool(kernel=(2,), stride=(2,))),
        ("maxpool: {kernel_size: 3, stride: 2, ceil: true}", MaxPool(kernel=(3,), stride=(2,), ceil_mode=True)),
        ("fc: {out_features: 10}", Linear(units=10)),
        ("linear: {neurons: 10, use_bias: false}", Linear(units=10, bias=False)),
        ("dense: {units: 10}", Linear(units=10)),
        ("dropout: {rate: 0.3}", Dropout(p=0.3)),
        ("adaptiveavgpool: {output_size: 7}", AdaptiveAvgPool(output=(7,))),
        ("lrn: {local_size: 5}", LRN(size=5)),
        ("Conv2D: {filters: 8, kernel: 3}", Conv(filters=8, kernel=(3,))),  # kinds ignore case, '2d' aliases
        ("BatchNorm2d:", BatchNorm()),  # as a key; the bare string hits the digits bug (test_parse_string)
    ],
)
def test_option_and_kind_aliases(item, layer):
    assert layers(net(item)) == [layer]


@pytest.mark.parametrize(
    "item, layer",
    [
        ("fc: 4096", Linear(units=4096)),
        ("conv3-64", Conv(filters=64, kernel=(3,), padding=(1,))),
        ("maxpool: 3", MaxPool(kernel=(3,), stride=(3,))),
        ("dropout: 0.25", Dropout(p=0.25)),
        ("lrn: 5", LRN(size=5)),
        ("relu", Activation("relu")),
        ("relu:", Activation("relu")),
        ("relu: null", Activation("relu")),
        ("relu: {}", Activation("relu")),
        ("softmax", Softmax()),
        ("maxpool2s2", MaxPool(kernel=(2,), stride=(2,))),
        ("conv64k3p1", Conv(filters=64, kernel=(3,), padding=(1,))),
    ],
)
def test_scalar_leading_option_and_bare_strings(item, layer):
    assert layers(net(item)) == [layer]


def test_a_bare_string_item_may_hold_several_layers_and_groups():
    assert layers(net("(conv8k3p1 relu)x2 maxpool")) == layers(net(
        "conv8k3p1", "relu", "conv8k3p1", "relu", "maxpool"))


def test_names():
    spec = parse_yaml(net("conv: {filters: 8, kernel: 3}\n    name: conv1_1", "name: act\n    relu:", "fc: 10"))
    assert [ls.name for ls in spec.layers] == ["conv1_1", "act", None]
    report = analyse(spec)
    assert [r.name for r in report.layers] == ["conv1_1", "act", "fc2"]


def test_layers_remember_where_their_kind_was_written():
    spec = parse_yaml(net("conv: {filters: 8, kernel: 3}", "relu", "name: f\n    fc: 10", "conv3-8 tanh"))
    assert [(ls.loc.line, ls.loc.column) for ls in spec.layers] == [(3, 5), (4, 5), (6, 5), (7, 5), (7, 13)]


def test_flow_style_and_anchors():
    text = "input: [8, 8, 3]\nlayers: [relu, {fc: 10}, softmax]\n"
    assert layers(text) == [Activation("relu"), Linear(units=10), Softmax()]
    text = net("conv: &c {filters: 8, kernel: 3, padding: 1}", "conv: *c")
    assert layers(text) == [Conv(filters=8, kernel=(3,), padding=(1,))] * 2


def test_yaml_and_string_agree():
    yaml_spec = parse_yaml(net("conv: {filters: 64, kernel: 11, stride: 4}", "maxpool: {kernel: 3, stride: 2}",
                               "norm", "fc: 4096", input="227x227x3"))
    string_spec = parse_string("227x227x3 conv64k11s4 maxpool3s2 norm fc4096")
    assert yaml_spec.input == string_spec.input
    assert yaml_spec.layers == string_spec.layers  # locations do not take part in equality


# --- errors ------------------------------------------------------------------------------------

ERRORS = [
    # unknown names, with did-you-mean
    (net("cnov: {filters: 8, kernel: 3}"), SpecError, 3, 5, ["unknown layer 'cnov'", "did you mean 'conv'?"]),
    (net("relu", "maxpol: 2"), SpecError, 4, 5, ["unknown layer 'maxpol'", "did you mean 'maxpool'?"]),
    (net("conv: {filters: 8, kernal: 3}"), SpecError, 3, 24, ["conv has no option 'kernal'",
                                                              "did you mean 'kernel'?"]),
    (net("conv: {filters: 8, kernel: 3, strdie: 2}"), SpecError, 3, 35, ["'strdie'", "did you mean 'stride'?"]),
    ("input: [8, 8, 3]\nlayers:\n  - conv:\n      filters: 8\n      kernel: 3\n      paddign: 1\n",
     SpecError, 6, 7, ["conv has no option 'paddign'", "did you mean 'padding'?"]),
    (net("relu: {x: 1}"), SpecError, 3, 12, ["relu has no option 'x'"]),
    ("input: [8, 8, 3]\nlayres:\n  - relu\n", SpecError, 2, 1, ["unknown key 'layres'", "did you mean 'layers'?"]),
    ("input: [8, 8, 3]\nlayers: []\nauthor: me\n", SpecError, 3, 1, ["unknown key 'author'"]),
    ("input: {hieght: 8, width: 8, channels: 3}\nlayers: []\n", SpecError, 1, 9,
     ["unknown input key 'hieght'", "did you mean 'height'?"]),
    # duplicate keys
    ("input: [8, 8, 3]\ninput: [9, 9, 3]\nlayers: []\n", SpecError, 2, 1, ["'input' is given twice"]),
    (net("conv: {filters: 8, kernel: 3, filters: 4}"), SpecError, 3, 35, ["'filters' is given twice"]),
    (net("conv: {filters: 8, kernel: 3, out_channels: 4}"), SpecError, 3, 35, ["'filters' is given twice"]),
    (net("conv: {filters: 8, kernel: 3}\n    conv: {filters: 8, kernel: 3}"), SpecError, 4, 5,
     ["'conv' is given twice"]),
    (net("fc: 10\n    name: a\n    name: b"), SpecError, 5, 5, ["'name' is given twice"]),
    # two kinds in one item
    (net("conv: {filters: 8, kernel: 3}\n    relu:"), SpecError, 4, 5,
     ["one layer per list item", "'conv'", "'relu'"]),
    (net("conv: {filters: 8, kernel: 3}\n    nmae: c1"), SpecError, 4, 5,
     ["one layer per list item", "'nmae'", "did you mean 'name'?"]),
    # wrong types and values
    (net("conv: {filters: 8, kernel: 3.0}"), SpecError, 3, 32, ["conv kernel", "whole number", "write 3"]),
    (net("conv: {filters: 8, kernel: 3.5}"), SpecError, 3, 32, ["conv kernel", "whole number", "3.5"]),
    (net("conv: {filters: 8, kernel: true}"), SpecError, 3, 32, ["conv kernel", "the boolean true"]),
    (net("conv: {filters: 8, kernel: three}"), SpecError, 3, 32, ["conv kernel", "the string 'three'"]),
    (net("conv: {filters: '8', kernel: 3}"), SpecError, 3, 21, ["conv filters", "the string '8'"]),
    (net("conv: {filters: 8, kernel: -1}"), SpecError, 3, 32, ["conv kernel", "positive", "-1"]),
    (net("conv: {filters: 8, kernel: 0}"), SpecError, 3, 32, ["conv kernel", "positive", "got 0"]),
    (net("conv: {filters: 8, kernel: 3, padding: -1}"), SpecError, 3, 44, ["conv padding", "-1"]),
    (net(f"conv: {{filters: 8, kernel: {10**100}}}"), SpecError, 3, 32, ["conv kernel", "limit"]),
    (net(f"fc: {10**100}"), SpecError, 3, 9, ["fc units", "limit"]),
    (net("conv: {filters: 8, kernel: null}"), SpecError, 3, 32, ["conv kernel", "nothing"]),
    (net("conv: {filters: 8, kernel: []}"), SpecError, 3, 32, ["conv kernel", "empty list"]),
    (net("conv: {filters: 8, kernel: {a: 1}}"), SpecError, 3, 32, ["a mapping"]),
    (net("conv: {filters: 8, kernel: [3, [3]]}"), SpecError, 3, 36, ["a list"]),
    (net("conv: {filters: 8, kernel: 3, padding: semi}"), SpecError, 3, 44, ["conv padding", "'semi'",
                                                                            "'same' / 'valid'"]),
    (net("conv: {filters: 8, kernel: 3, bias: 'no'}"), SpecError, 3, 41, ["conv bias", "the string 'no'"]),
    (net("fc: 4096.0"), SpecError, 3, 9, ["fc units", "write 4096"]),
    (net("dropout: 1.5"), SpecError, 3, 14, ["dropout p", "1.5"]),
    (net("relu: 3"), SpecError, 3, 11, ["relu takes no value", "3"]),
    (net("conv: 64"), SpecError, 3, 5, ["conv needs 'kernel'"]),
    (net("42"), SpecError, 3, 5, ["expected a layer", "42"]),
    (net("conv: {filters: 8, kernel: 3}\n    name: [a]"), SpecError, 4, 11, ["'name' should be text"]),
    (net("name: lonely"), SpecError, 3, 5, ["has a name but no kind"]),
    ("input: [8, 8, 3.0]\nlayers: []\n", SpecError, 1, 8, ["input shape", "write 3"]),
    ("input: [8, 8, true]\nlayers: []\n", SpecError, 1, 8, ["input shape", "the boolean true"]),
    ("input: [8, 8, -3]\nlayers: []\n", SpecError, 1, 8, ["input shape", "-3"]),
    (f"input: [8, 8, {10**100}]\nlayers: []\n", SpecError, 1, 8, ["input shape", "limit"]),
    ("input: []\nlayers: []\n", SpecError, 1, 8, ["input shape is empty"]),
    ("input: 224\nlayers: []\n", SpecError, 1, 8, ["expected the input as [H, W, C]", "'224'"]),
    ("input: 32 by 32\nlayers: []\n", SpecError, 1, 8, ["expected an input shape like 227x227x3", "'32 by 32'"]),
    ("input: {height: 8, width: 8}\nlayers: []\n", SpecError, 1, 8, ["the input has no 'channels'"]),
    ("input: [8, 8, 3]\nlayers: relu\n", SpecError, 2, 9, ["'layers' should be a list", "'relu'"]),
    ("input: [8, 8, 3]\nlayers: {relu: null}\n", SpecError, 2, 9, ["'layers' should be a list", "a mapping"]),
    (net("conv8k3 cnov"), SpecError, 3, 13, ["unknown layer 'cnov'", "did you mean 'conv'?"]),
    (net("conv8k3q2"), SpecError, 3, 12, ["conv has no option 'q'"]),
    (net("relu3"), SpecError, 3, 9, ["relu takes no number"]),
    (net("(relu"), SpecError, 3, 5, ["'(' is never closed"]),
    (net("8x8x3"), SpecError, 3, 5, ["a shape '8x8x3' can only come first"]),
    # missing parts, wrong roots
    ("layers:\n  - relu\n", SpecError, 1, 1, ["the spec has no 'input'"]),
    ("input: [8, 8, 3]\n", SpecError, 1, 1, ["the spec has no 'layers'"]),
    ("", SpecError, 1, 1, ["empty spec"]),
    ("\n\n", SpecError, 1, 1, ["empty spec"]),
    ("# nothing but a comment\n", SpecError, 1, 1, ["empty spec"]),
    ("- relu\n- fc: 10\n", SpecError, 1, 1, ["should be a mapping", "a list"]),
    ("hello\n", SpecError, 1, 1, ["should be a mapping", "'hello'"]),
    ("3\n", SpecError, 1, 1, ["should be a mapping", "'3'"]),
    ("42: x\ninput: [8, 8, 3]\nlayers: []\n", SpecError, 1, 1, ["keys in the spec are names", "42"]),
    # YAML syntax, tabs, tags, several documents: the location and "YAML syntax" are the promise;
    # what follows is PyYAML's own wording, which changes between releases, so it is not asserted
    (net("conv: filters: 8"), SpecError, 3, 18, ["YAML syntax"]),
    ("input: [8, 8, 3\nlayers:\n  - relu\n", SpecError, 2, 7, ["YAML syntax"]),
    (net("relu") + " - tanh\n", SpecError, 4, 2, ["YAML syntax"]),
    ("input: [8, 8, 3]\nlayers:\n\t- relu\n", SpecError, 3, 1, ["YAML syntax"]),
    (net("fc: !!python/object/apply:os.system 'echo hi'"), SpecError, 3, 9,
     ["cannot read this value", "python/object/apply:os.system"]),
    (net("conv: {filters: 8, kernel: !!python/name:os.system 3}"), SpecError, 3, 32, ["python/name:os.system"]),
    ("input: [8, 8, 3]\nlayers: []\n---\ninput: [8, 8, 3]\nlayers: []\n", SpecError, 3, 1,
     ["YAML syntax"]),
    # reads fine, does not compute: ShapeError, located at the layer's kind
    (net("relu", "conv: {filters: 8, kernel: 40}"), ShapeError, 4, 5,
     ["layer 2 'conv1'", "kernel 40 exceeds padded input 32", "on input 32x32x3"]),
    (net("conv: {filters: 8, kernel: 3, dilation: 20}"), ShapeError, 3, 5,
     ["kernel 3 (dilated 41) exceeds padded input 32"]),
    (net("conv: {filters: 64, kernel: 3, groups: 5}"), ShapeError, 3, 5,
     ["groups 5 must divide both the input channels 3 and the filters 64"]),
    (net("maxpool: {kernel: 3, padding: 2}"), ShapeError, 3, 5, ["padding 2 is more than half the kernel 3"]),
    (net("fc: 10", "conv: {filters: 8, kernel: 3}"), ShapeError, 4, 5,
     ["layer 2", "needs a spatial input", "flat vector 10"]),
    (net("conv: {filters: 8, kernel: 3, padding: [1, 1, 1]}"), ShapeError, 3, 5,
     ["padding 1x1x1 has 3 values", "2 spatial axes"]),
]


@pytest.mark.parametrize("text, error, line, column, fragments", ERRORS)
def test_errors(text, error, line, column, fragments):
    e = fails(text, error)
    assert where(e) == (line, column), e.render()
    for fragment in fragments:
        assert fragment in e.message, e.render()


def test_hints():
    assert "YAML does not allow tabs" in fails("input: [8, 8, 3]\nlayers:\n\t- relu\n").hint
    assert "no tags" in fails(net("fc: !!python/object/apply:os.system 'x'")).hint
    assert "first given on line 1" in fails("input: [8, 8, 3]\ninput: [9, 9, 3]\nlayers: []\n").hint
    assert "filters, kernel, stride" in fails(net("conv: {filters: 8, kernal: 3}")).hint
    assert "start each layer with its own '- '" in fails(net("fc: 10\n    relu:")).hint
    assert "use a kernel of at most 32" in fails(net("conv: {filters: 8, kernel: 40}"), ShapeError).hint


@pytest.mark.parametrize("item, quoted", [
    ("se: {squeeze: ${c//4}}", "'${c//4}'"),
    ("seq: [conv${c}k1, relu]", "'conv${c}k1'"),
])
def test_an_argument_inside_a_flow_collection_gets_a_hint_to_quote_it(item, quoted):
    text = f"input: [8, 8, 16]\nblocks:\n  b:\n    args: {{c: 16}}\n    layers:\n      - {item}\nlayers:\n  - b: {{}}\n"
    e = fails(text)
    assert e.message.startswith("YAML syntax:") and e.loc.line == 6
    assert f"write {quoted} in quotes" in e.hint
    assert "in quotes" not in fails("input: [8, 8, 3]\nlayers: [relu, {conv: {filters: 8}]\n").hint


def test_render_shows_the_line_and_a_caret():
    e = fails(net("conv: {filters: 8, kernal: 3}"))
    lines = e.render().split("\n")
    assert lines[0] == "error: net.yaml:3:24: conv has no option 'kernal' — did you mean 'kernel'?"
    assert lines[1] == "    - conv: {filters: 8, kernal: 3}"
    assert lines[2] == "  " + " " * 23 + "^^^^^^"


def test_the_default_file_name():
    with pytest.raises(SpecError) as info:
        parse_yaml("input: [8, 8, 3]\n")
    assert str(info.value).startswith("<yaml>:1:1: ")


def test_errors_raise_from_none():
    for text in (net("conv: {filters: 8, kernel: 3.0}"), "input: [8, 8, 3\n"):
        with pytest.raises(SpecError) as info:
            parse_yaml(text)
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_python_tags_are_never_constructed(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(SpecError):
        parse_yaml(net(f"fc: !!python/object/apply:os.system ['touch {marker}']"))
    with pytest.raises(SpecError):
        parse_yaml(net(f"fc: !!python/object/apply:os.system 'touch {marker}'"))
    assert not marker.exists()


# --- bare-string items, empty items, tags, control characters ------------------------------


@pytest.mark.parametrize(
    "text, line, column",
    [
        pytest.param(net('"conv8k3p1  cnov"'), 3, 17, id="double-quoted"),
        pytest.param(net("'cnov'"), 3, 6, id="single-quoted"),
        pytest.param(net("conv8k3p1 relu\n    cnov"), 4, 5, id="plain-multiline"),
        pytest.param(net("|\n    conv8k3p1 relu\n    cnov"), 5, 5, id="block-literal"),
        pytest.param(net(">\n    conv8k3p1 relu\n    cnov"), 5, 5, id="block-folded"),
    ],
)
def test_bare_string_items_locate_their_tokens(text, line, column):
    e = fails(text)
    assert where(e) == (line, column), e.render()


def test_plain_bare_string_items_locate_their_tokens():
    # an unquoted single-line item: its tokens stand where the scalar does
    assert where(fails(net("conv8k3p1  cnov"))) == (3, 16)


def test_an_empty_item_does_not_claim_a_name():
    e = fails(net("{}"))
    assert where(e) == (3, 5)
    assert "name" not in e.message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(net("!!python/object:os.system {}"), id="tagged-mapping-item"),
        pytest.param("input: !!python/tuple [32, 32, 3]\nlayers: [relu]\n", id="tagged-sequence-input"),
        pytest.param("!!python/object:convcalc.Spec\ninput: [8, 8, 3]\nlayers: [relu]\n", id="tagged-root"),
    ],
)
def test_tags_on_collections_are_refused(text):
    e = fails(text)
    assert "tag" in e.message or "tag" in e.hint


def test_control_characters_are_located():
    e = fails(net("relu\x07"))
    assert where(e) == (3, 9)


def test_text_with_lone_surrogates_is_a_spec_error():
    fails(net("'\udcff'"))


# --- issue 19: messages that sent users the wrong way name the fix --------------------------------


@pytest.mark.parametrize("item, line, column, hint", [
    # was "one layer per list item ... start each layer with its own '- '"
    ("pwlinear: 8\n    bias: false", 4, 5, "- pwlinear: {units: 8, bias: false}"),
    ("{pwlinear: 8, bias: false}", 3, 19, "- pwlinear: {units: 8, bias: false}"),
    ("{pwlinear: '${2*c}', bias: false}", 3, 26, "- pwlinear: {units: '${2*c}', bias: false}"),
    ("conv: 16\n    kernel: 3\n    stride: 2", 4, 5, "- conv: {filters: 16, kernel: 3, stride: 2}"),
    ("conv:\n    kernel: 3\n    filters: 8", 4, 5, "- conv: {kernel: 3, filters: 8}"),  # not indented under it
    ("conv: {filters: 8}\n    kernel_size: 3", 4, 5, "- conv: {filters: 8, kernel_size: 3}"),  # an alias too
])
def test_options_beside_their_kind_are_told_to_go_under_it(item, line, column, hint):
    e = fails(net(item))
    assert where(e) == (line, column), e.render()
    assert "sits beside" in e.message and "as if it were another layer" in e.message
    assert e.hint == f"put the options under the kind: {hint}"


def test_two_kinds_in_one_item_still_get_their_own_dash():
    e = fails(net("conv: {filters: 8, kernel: 3}\n    relu:"))
    assert "one layer per list item" in e.message and "start each layer with its own '- '" in e.hint


@pytest.mark.parametrize("text, line, hint", [
    # a '- ' left of its list: PyYAML's "did not find expected key", which had no hint
    ("input: [8, 8, 3]\nlayers:\n  - conv8k3\n - relu\n", 4,
     "this '- ' is at column 2; a list item lines its '- ' up with the item before it (line 3, column 3)"),
    ("input: [8, 8, 3]\nlayers:\n  - conv: {filters: 8}\n   - relu\n", 4, "(line 3, column 3): indent it by 2 spaces"),
    ("input: [8, 8, 3]\nlayers:\n  - conv: 8\n    name: a\n   - relu\n", 5, "(line 3, column 3)"),
])
def test_a_misindented_item_says_where_its_dash_goes(text, line, hint):
    e = fails(text)
    assert e.message.startswith("YAML syntax:") and e.loc.line == line
    assert hint in e.hint


def test_a_dash_inside_a_layer_string_says_what_a_dash_starts():
    e = fails("input: [8, 8, 3]\nlayers:\n  - conv8k3\n    - relu\n")  # YAML reads 'conv8k3 - relu'
    assert "got '-'" in e.message and "'- ' starts a list item" in e.hint
