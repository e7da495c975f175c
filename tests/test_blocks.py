"""Blocks: branches that merge (add, concat, mul), reusable YAML blocks with arguments, repetition,
the compact string forms, and the new layer kinds of issue 3."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis.engine import analyse
from convcalc.errors import ShapeError, SpecError
from convcalc.layers import Add, Concat, Conv
from convcalc.report.rows import table_rows
from convcalc.spec.layer_string import parse_string
from convcalc.spec.model import BlockSpec, LayerSpec, NetworkSpec
from convcalc.spec.yaml_reader import parse_yaml

BASIC = """
name: two-blocks
input: [56, 56, 64]
blocks:
  basic:
    args: {filters: 64, stride: 1}
    layers:
      - add:
          - conv${filters}k3s${stride}p1nb bn relu conv${filters}k3p1nb bn
          - []
      - relu
  down:
    args: {filters: 128, stride: 2}
    layers:
      - add:
          - - conv: {filters: $filters, kernel: 3, stride: $stride, padding: 1, bias: false}
            - bn
            - relu
            - conv: {filters: $filters, kernel: 3, padding: 1, bias: false}
            - bn
          - conv${filters}k1s${stride}nb bn
      - relu
layers:
  - seq:
      - basic: {filters: 64}
        repeat: 2
    name: layer1
  - down: {filters: 128}
    name: layer2.1
"""


def test_yaml_blocks_and_the_string_form_agree():
    """The same residual stage written in YAML and as a layer string gives the same numbers."""
    yaml_report = analyse(parse_yaml(BASIC, "basic.yaml"))
    text = ("56x56x64 (res(conv64k3p1nb bn relu conv64k3p1nb bn) relu)x2 "
            "res(conv128k3s2p1nb bn relu conv128k3p1nb bn | conv128k1s2nb bn) relu")
    string_report = analyse(parse_string(text))
    for column in ("params", "buffers", "macs", "activations"):
        assert getattr(yaml_report.totals, column) == getattr(string_report.totals, column), column
    assert yaml_report.output == string_report.output
    # 2 x (2 · 3·3·64·64 weights + 2 · 2·64 bn) + (3·3·64·128 + 3·3·128·128 + 64·128 + 3 · 2·128)
    assert yaml_report.totals.params == 2 * (2 * 36_864 + 256) + (73_728 + 147_456 + 8_192 + 768)


def test_block_names_paths_and_subtotals():
    report = analyse(parse_yaml(BASIC, "basic.yaml"))
    names = [r.full_name for r in report.layers]
    assert names[:7] == ["layer1.basic1.add1.conv1", "layer1.basic1.add1.bn1", "layer1.basic1.add1.relu1",
                         "layer1.basic1.add1.conv2", "layer1.basic1.add1.bn2", "layer1.basic1.add1.add",
                         "layer1.basic1.relu1"]
    assert "layer2.1.add1.b2.conv1" in names  # a projection shortcut is a branch of its own
    by_name = {b.full_name: b for b in report.blocks}
    assert set(by_name) >= {"layer1", "layer1.basic1", "layer1.basic2", "layer2.1", "layer2.1.add1"}
    for block in report.blocks:
        inside = report.layers[block.first - 1:block.last]
        assert block.params == sum(r.params for r in inside)
        assert block.macs == sum(r.macs for r in inside)
    assert by_name["layer2.1.add1"].label == "ADD, 2 branches"
    assert by_name["layer1.basic1.add1"].label == "ADD, identity shortcut"
    assert by_name["layer2.1"].output.dims == (28, 28, 128)


@pytest.mark.parametrize("depth", [None, 0, 1, 2, 3])
def test_table_rows_add_up_at_every_depth(depth):
    report = analyse(parse_yaml(BASIC, "basic.yaml"))
    rows = [r for r in table_rows(report, depth) if r.counted]
    assert sum(r.params for r in rows) == report.totals.params
    assert sum(r.macs for r in rows) == report.totals.macs
    assert sum(r.activations for r in rows) + report.spec.input.elements == report.totals.activations
    if depth is not None:
        assert max(r.depth for r in table_rows(report, depth)) <= depth


def test_broken_residual_names_the_block_the_shapes_and_the_layer():
    text = "56x56x64 res(conv128k3s2p1nb bn relu conv128k3p1nb bn | conv128k1nb bn)"
    with pytest.raises(ShapeError) as info:
        analyse(parse_string(text))
    e = info.value
    assert (e.loc.line, e.loc.column) == (1, 10)
    assert "block 'res1' (res)" in e.message
    assert "28x28x128, 56x56x128" in e.message
    assert "'conv1' (56x56x64 → 28x28x128 at <string>:1:14)" in e.message
    assert "same stride" in e.hint


def test_broken_shortcut_in_yaml_points_at_the_block():
    spec = BASIC.replace("conv${filters}k1s${stride}nb bn", "conv${filters}k1nb bn")
    with pytest.raises(ShapeError) as info:
        analyse(parse_yaml(spec, "broken.yaml"))
    assert str(info.value.loc) == "broken.yaml:15:9"  # the 'add:' of block 'down'
    assert "block 'layer2.1.add1'" in info.value.message
    assert "28x28x128, 56x56x128" in info.value.message


def test_concat_adds_channels_and_needs_equal_sizes():
    report = analyse(parse_string("28x28x192 cat(conv64k1 | conv96k1 conv128k3p1 | conv16k1 conv32k5p2 | maxpool3s1p1 conv32k1)"))
    assert report.output.dims == (28, 28, 256)  # GoogLeNet's inception 3a: 64 + 128 + 32 + 32
    with pytest.raises(ShapeError, match="concat needs branches of the same spatial size"):
        analyse(parse_string("28x28x192 cat(conv64k1 | conv64k3)"))


def test_a_concat_that_does_not_meet_gets_a_concat_hint():
    with pytest.raises(ShapeError) as info:
        analyse(parse_string("28x28x192 cat(conv64k1 | conv96k1 conv128k3 | maxpool3s1p1 conv32k1)"))
    hint = info.value.hint
    assert "shortcut" not in hint  # a concat has no shortcut
    assert hint.startswith("concat stacks channels, so every branch must end at the same H×W (28x28 here")
    assert "branch 2 ends 26x26 at 'conv2' (28x28x96 → 26x26x128)" in hint
    assert "branch 1" not in hint and "branch 3" not in hint  # the branches that keep the size are fine
    with pytest.raises(ShapeError) as info:  # an add keeps the residual-shortcut hint
        analyse(parse_string("28x28x64 add(conv64k3 | )"))
    assert "same stride" in info.value.hint


def test_squeeze_and_excitation_as_an_ordinary_block():
    report = analyse(parse_string("14x14x64 mul( | gap pwconv16 relu pwconv64 sigmoid)"))
    assert report.output.dims == (14, 14, 64)
    assert report.totals.params == (64 * 16 + 16) + (16 * 64 + 64)
    with pytest.raises(ShapeError, match="mul needs"):
        analyse(parse_string("14x14x64 mul( | gap pwconv16)"))


def test_yaml_block_errors_are_located():
    cases = {
        "basic: {filterz: 64}": ("has no arg 'filterz' — did you mean 'filters'?", 3, 13),
        "basic: {filters: $x}": ("'$' arguments work only inside a block", 3, 22),
        "bsaic: {filters: 64}": ("did you mean 'basic'?", 3, 7),
    }
    for item, (fragment, line, column) in cases.items():
        text = BASIC.split("layers:\n  - seq:")[0] + f"layers:\n  - seq:\n      - {item}\n"
        with pytest.raises(SpecError) as info:
            parse_yaml(text, "b.yaml")
        assert fragment in info.value.message, info.value.message
        line_of_item = text.count("\n", 0, text.index(item)) + 1
        assert info.value.loc.line == line_of_item


def test_a_block_that_contains_itself_is_an_error():
    text = "input: [8, 8, 3]\nblocks:\n  loop:\n    layers:\n      - loop: {}\nlayers:\n  - loop: {}\n"
    with pytest.raises(SpecError, match="contains itself"):
        parse_yaml(text)


def test_argument_expressions():
    text = ("input: [8, 8, 16]\nblocks:\n  b:\n    args: {w: 4}\n    layers:\n"
            "      - conv: {filters: $w*4, kernel: '${w - 1}'}\n      - conv${w // 2}k1\n"
            "layers:\n  - b: {w: 8}\n")
    [conv_a, conv_b] = analyse(parse_yaml(text)).layers
    assert (conv_a.layer.filters, conv_a.layer.kernel) == (32, (7,))
    assert conv_b.layer.filters == 4
    with pytest.raises(SpecError, match="cannot evaluate"):
        parse_yaml(text.replace("$w*4", "$w**4"))
    with pytest.raises(SpecError, match="cannot evaluate"):
        parse_yaml(text.replace("$w*4", "$w + __import__('os').getpid()"))


def block_spec(layer: str, given: str = "x: 8", args: str = "x: 4") -> str:
    return (f"input: [16, 16, 8]\nblocks:\n  b:\n    args: {{{args}}}\n    layers:\n      - {layer}\n"
            f"layers:\n  - b: {{{given}}}\n")


@pytest.mark.parametrize("layer, given, args, message, line", [
    ("conv${x}k3", "x: [3]", "x: 4", "arg 'x' of block 'b' is a list; an arg is one number or word", 8),
    ("conv${x}k3", "x: 8", "x: [3, 5]", "arg 'x' of block 'b' is a list", 4),
    ("conv${-x}k3", "x: abc", "x: 4", "cannot evaluate '${-x}': 'abc' is not a number", 6),
    ("conv${x + 1}k3", "x: abc", "x: 4", "'abc' is not a number", 6),
    ("conv${1e308/1e-308}k3", "x: 8", "x: 4", "larger than 1e+18", 6),
    ("conv${x/0}k3", "x: 8", "x: 4", "division by zero", 6),
    ("conv${x//0}k3", "x: 8", "x: 4", "division by zero", 6),
    ("conv${x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x}k3", "x: 8", "x: 4", "larger than 1e+18", 6),
    # YAML's .inf and .nan are not numbers to convcalc (numbers are read from their text)
    ("conv: {filters: '${x + 1}', kernel: 3}", "x: .inf", "x: 4", "'.inf' is not a number", 6),
    ("conv: {filters: '${x}', kernel: 3}", "x: .nan", "x: 4", "the string '.nan'", 6),
    ("conv: {filters: $x, kernel: 3}", "x: 99999999999999999999", "x: 4", "larger than 1e+18", 6),
    ("conv${2**10}k3", "x: 8", "x: 4", "only numbers, arguments, + - * / // and parentheses", 6),
    ("conv${${x}}k3", "x: 8", "x: 4", "a '${' without its '}', or one inside another", 6),
    ("conv${x k3", "x: 8", "x: 4", "a '${' without its '}'", 6),
    ("conv: {filters: '${${x}}', kernel: 3}", "x: 8", "x: 4", "a '${' without its '}'", 6),
    ("conv${7/2}k3", "x: 8", "x: 4", "expected a whole number, got the number 3.5", 6),
    ("relu: null\n        repeat: '${x/3}'", "x: 8", "x: 4", "repeat:", 7),
])
def test_block_arguments_that_cannot_be_used_are_located_errors(layer, given, args, message, line):
    with pytest.raises(SpecError) as info:  # each was an internal error (exit 3) or a misleading message
        parse_yaml(block_spec(layer, given, args), "b.yaml")
    assert message in info.value.message, info.value.message
    assert info.value.loc is not None and info.value.loc.line == line


def test_an_unknown_argument_suggests_the_closest():
    text = block_spec("conv${filtres}k3", "filters: 8", "filters: 4")
    for written in ("conv${filtres}k3", "conv$filtres", "'conv: {filters: $filtres, kernel: 3}'"[1:-1]):
        with pytest.raises(SpecError) as info:
            parse_yaml(text.replace("conv${filtres}k3", written), "b.yaml")
        assert "no argument 'filtres' — did you mean 'filters'?" in info.value.message, info.value.message
        assert info.value.hint == "this block's args: filters"


@pytest.mark.parametrize("name", ["stage", "group", "residual", "sum", "add", "Seq", "multiply", "from"])
def test_reserved_block_names_say_they_are_reserved(name):
    text = f"input: [8, 8, 3]\nblocks:\n  {name}:\n    layers: [relu]\nlayers:\n  - relu\n"
    with pytest.raises(SpecError) as info:
        parse_yaml(text, "b.yaml")
    assert f"a block cannot be called '{name}': that is a reserved word" in info.value.message
    assert "add, sum, residual, mul, multiply, concat, cat, seqcat, matmul, bmm, seq, sequential, group, stage, name, repeat, expect, from" in info.value.message
    assert (info.value.loc.line, info.value.loc.column) == (3, 3)
    with pytest.raises(SpecError, match="that is a layer kind"):
        parse_yaml(text.replace(name, "conv"), "b.yaml")


def test_repeat_is_bounded_before_anything_is_built():
    text = "input: [8, 8, 3]\nlayers:\n  - relu\n    repeat: 1000000000000\n"
    with pytest.raises(SpecError, match="larger than convcalc's limit"):
        parse_yaml(text.replace("  - relu\n    repeat", "  - relu: null\n    repeat"))
    with pytest.raises(SpecError, match="repeat 2,000,000 would make more than"):
        parse_yaml(text.replace("  - relu\n    repeat: 1000000000000", "  - relu: null\n    repeat: 2000000"))
    with pytest.raises(SpecError, match="more than"):
        parse_string("8x8x3 (res(relu)x1000)x1000000")


def test_yaml_alias_bomb_expands_once():
    lines = ["input: [4, 4, 1]", "blocks:", "  x:", "    layers:", "      - &a0 relu"]
    for i in range(1, 30):
        lines.append(f"      - &a{i} {{seq: [*a{i - 1}, *a{i - 1}]}}")
    lines += ["layers:", "  - x: {}"]
    with pytest.raises(SpecError, match="more than"):
        parse_yaml("\n".join(lines) + "\n")


# --- a chain is a one-branch block --------------------------------------------------------------

LAYERS = st.sampled_from(["conv8k3p1", "conv4k1", "maxpool2", "relu", "bn", "dwconv3p1", "conv8k3s2p1", "avgpool2s1"])


@settings(max_examples=60, deadline=None)
@given(st.lists(LAYERS, min_size=1, max_size=6), st.integers(8, 20))
def test_any_chain_as_a_one_branch_block_gives_the_same_numbers(tokens, size):
    chain = parse_string(f"{size}x{size}x4 " + " ".join(tokens))
    try:
        plain = analyse(chain)
    except ShapeError:
        return
    as_block = NetworkSpec(chain.input, (BlockSpec((chain.layers,), name="b"),))
    nested = analyse(as_block)
    assert nested.totals == plain.totals
    assert [(r.output, r.params, r.macs) for r in nested.layers] == [(r.output, r.params, r.macs) for r in plain.layers]
    as_residual_branch = analyse(NetworkSpec(chain.input, (BlockSpec((chain.layers, chain.layers), Concat()),)))
    assert as_residual_branch.totals.params == 2 * plain.totals.params
    assert as_residual_branch.output.channels == 2 * plain.output.channels


# --- transposed conv undoes a conv's shape --------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3))
def test_transposed_conv_undoes_the_shape_of_a_conv(size, kernel, stride, pad, dilation):
    taps = dilation * (kernel - 1) + 1
    if size + 2 * pad < taps:
        return
    down = analyse(parse_string(f"{size}x{size}x3 conv5k{kernel}s{stride}p{pad}d{dilation}")).output
    left_over = (size + 2 * pad - taps) % stride  # what the conv's floor dropped
    if left_over >= max(stride, dilation):
        return  # no output_padding can restore it (PyTorch requires output_padding < stride or dilation)
    up = analyse(parse_string(f"{down}".replace("x5", "x5") + f" convtranspose3k{kernel}s{stride}p{pad}d{dilation}op{left_over}"))
    assert up.output.spatial == (size, size)


def test_transposed_conv_counts_macs_over_input_positions():
    [layer] = analyse(parse_string("4x4x16 convtranspose8k4s2p1")).layers
    assert layer.output.dims == (8, 8, 8)
    assert layer.params == 4 * 4 * 16 * 8 + 8
    assert layer.macs == 4 * 4 * (4 * 4 * 16 * 8)  # every input pixel scatters a full kernel
    with pytest.raises(ShapeError, match="output padding 2 must be smaller"):
        analyse(parse_string("4x4x16 convtranspose8k4s2p1op2"))


# --- the other new kinds --------------------------------------------------------------------------


@pytest.mark.parametrize("text, shape, params, macs", [
    ("100x4 conv1d8k3", (98, 8), 3 * 4 * 8 + 8, 98 * 3 * 4 * 8),
    ("8x16x16x3 conv3d4k3p1", (8, 16, 16, 4), 27 * 3 * 4 + 4, 8 * 16 * 16 * 27 * 3 * 4),
    ("8x16x16x3 maxpool3d2", (4, 8, 8, 3), 0, 0),
    ("32x32x8 dwconv3p1", (32, 32, 8), 9 * 8 + 8, 32 * 32 * 9 * 8),
    ("32x32x8 dwconv3p1m2nb", (32, 32, 16), 9 * 16, 32 * 32 * 9 * 16),
    ("32x32x8 sepconv16k3p1", (32, 32, 16), 9 * 8 + 8 * 16 + 16, 32 * 32 * (9 * 8 + 8 * 16)),
    ("32x32x8 pwconv16", (32, 32, 16), 8 * 16 + 16, 32 * 32 * 8 * 16),
    ("7x7x8 upsample2", (14, 14, 8), 0, 0),
    ("10x10x8 upsample1.5", (15, 15, 8), 0, 0),
    ("7x7x8 pad2", (11, 11, 8), 0, 0),
    ("7x7x8 shuffle4", (7, 7, 8), 0, 0),
    ("7x7x8 layernorm", (7, 7, 8), 16, 0),
    ("7x7x8 groupnorm4", (7, 7, 8), 16, 0),
    ("13x13x8 adaptiveavgpool6", (6, 6, 8), 0, 0),
])
def test_new_kinds(text, shape, params, macs):
    [layer] = analyse(parse_string(text)).layers
    assert layer.output.dims == shape
    assert (layer.params, layer.macs) == (params, macs)


@pytest.mark.parametrize("text, fragment", [
    ("32x32x3 conv1d8k3", "conv1d needs a 1-D input \\(LxC\\)"),
    ("7x7x8 shuffle3", "groups 3 must divide the channels 8"),
    ("7x7x6 groupnorm4", "groups 4 must divide the channels 6"),
    ("4096 upsample2", "does not match the input 4096"),
])
def test_new_kinds_refuse_what_cannot_compute(text, fragment):
    with pytest.raises(ShapeError, match=fragment):
        analyse(parse_string(text))


def test_block_keywords_in_strings_are_checked():
    with pytest.raises(SpecError, match="unknown block 'rse\\(' — did you mean 'res'"):
        parse_string("8x8x3 rse(relu)")
    with pytest.raises(SpecError, match="needs at least two branches"):
        parse_string("8x8x3 cat(relu)")
    with pytest.raises(SpecError, match="'\\|' separates branches"):
        parse_string("8x8x3 (relu | relu)")


def test_the_spec_values_are_what_the_string_says():
    [block] = parse_string("8x8x3 res(conv3k3p1)").layers
    assert isinstance(block, BlockSpec) and isinstance(block.merge, Add)
    assert block.branches == ((LayerSpec(Conv(3, (3,), padding=(1,))),), ())
    assert math.prod(parse_string("8x8x3 res(conv3k3p1)x3").input.dims) == 192


def test_tokens_after_an_argument_keep_their_columns():
    text = ("input: [8, 8, 4]\nblocks:\n  b:\n    args: {w: 4}\n    layers:\n"
            "      - conv${w}k3p1 bn cnov\nlayers:\n  - b: {}\n")
    with pytest.raises(SpecError) as info:
        parse_yaml(text, "b.yaml")
    assert str(info.value.loc) == "b.yaml:6:25"  # 'cnov' where it stands in the source


def test_a_block_that_is_one_merge_is_that_merge():
    text = ("input: [8, 8, 4]\nblocks:\n  inc:\n    layers:\n      - concat: [conv4k1, conv4k3p1]\n"
            "layers:\n  - inc: {}\n    name: inception3a\n")
    report = analyse(parse_yaml(text))
    assert [r.full_name for r in report.layers] == ["inception3a.b1.conv1", "inception3a.b2.conv1",
                                                    "inception3a.concat"]
    assert report.blocks[0].label == "INC (concat, 2 branches)"


def test_default_names_of_kinds_ending_in_a_digit():
    report = analyse(parse_string("8x8x4 relu6 relu6 conv4k1"))
    assert [r.name for r in report.layers] == ["relu6_1", "relu6_2", "conv1"]
