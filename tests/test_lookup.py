"""One-line lookups: ``convcalc conv|pool|fc`` and the working they show.

The working is checked two ways: its figures are the engine's (the same layer through a layer
string and ``analyse`` gives the same numbers), and every expression shown evaluates to the value
it claims, so the substituted formula can never drift from the result next to it.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from fractions import Fraction

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis.engine import analyse
from convcalc.analysis.working import Step, axis_names, nearest_strides
from convcalc.cli import cli
from convcalc.errors import ShapeError
from convcalc.layers import AvgPool, Conv, Layer, Linear, MaxPool
from convcalc.shape import Shape
from convcalc.spec.layer_string import parse_string
from convcalc.tools.lookup import lookup


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def shape(text: str) -> Shape:
    dims = [int(d) for d in text.split("x")]
    return Shape(tuple(dims[:-1]), dims[-1])


# --- the examples, exactly ---------------------------------------------------------


def test_conv_alexnet_conv1_shows_the_working():
    result = run("conv", "227x227x3", "-n", "96", "-k", "11", "-s", "4")
    assert result.exit_code == 0
    assert result.stdout == (
        "CONV 96 11x11 s4 p0 on 227x227x3 → 55x55x96\n"
        "  H2 = W2 = (227 − 11 + 2·0)/4 + 1 = 55\n"
        "  D2 = K = 96\n"
        "  params = 11·11·3·96 + 96 = 34,944\n"
        "  MACs = 55·55·11·11·3·96 = 105,415,200\n"
        "  memory = 55·55·96 = 290,400 activations (1,161,600 bytes at float32)\n"
    )


def test_pool_alexnet_pool1():
    result = run("pool", "55x55x96", "-k", "3", "-s", "2")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "MAX POOL 3x3 s2 on 55x55x96 → 27x27x96"
    assert "  H2 = W2 = (55 − 3 + 2·0)/2 + 1 = 27" in lines
    assert "  params = 0 (no weights)" in lines


def test_fc_alexnet_fc6_flattens():
    result = run("fc", "6x6x256", "-n", "4096")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:4] == [
        "  inputs = 6·6·256 = 9,216 (flattened)",
        "  params = 9216·4096 + 4096 = 37,752,832",
        "  MACs = 9216·4096 = 37,748,736",
    ]


def test_stride_that_does_not_fit_shows_the_fraction_and_what_would_fit():
    # the lecture notes: 7x7 input, 3x3 filter, stride 3 "doesn't fit": (7 − 3)/3 + 1 = 2.33
    result = run("conv", "7x7x1", "-n", "1", "-k", "3", "-s", "3")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1] == "  H2 = W2 = (7 − 3 + 2·0)/3 + 1 = 4/3 + 1 = 2.33 → 2"
    assert lines[2] == ("  ⚠ stride 3 does not fit: floored to 2 as PyTorch does, so the last input row/column is never "
                        "read (ceil would give 3). Padding 1 would fit (output 3). Stride 2 would fit (output 3).")
    strict = run("conv", "7x7x1", "-n", "1", "-k", "3", "-s", "3", "--strict")
    assert strict.exit_code == 1
    assert strict.stderr.startswith("error: --strict: stride 3 does not fit")


def test_options_mirror_the_layer_string_grammar():
    cases = [
        (["conv", "32x32x3", "-n", "8", "-k", "3x5", "-p", "1x2"], "32x32x3 conv8k3x5p1x2"),
        (["conv", "224x224x3", "-n", "64", "-k", "7", "-s", "2", "-p", "same"], "224x224x3 conv64k7s2psame"),
        (["conv", "32x32x3", "-n", "8", "-k", "3", "-d", "2", "-p", "2"], "32x32x3 conv8k3d2p2"),
        (["conv", "56x56x256", "-n", "256", "-k", "3", "-p", "1", "-g", "32"], "56x56x256 conv256k3p1g32"),
        (["conv", "56x56x256", "-n", "256", "-k", "1", "--no-bias"], "56x56x256 conv256k1nb"),
        (["pool", "56x56x64", "-k", "3", "-s", "2", "--ceil"], "56x56x64 maxpool3s2ceil"),
        (["pool", "8x8x4", "--avg"], "8x8x4 avgpool2"),
        (["fc", "4096", "-n", "1000"], "4096 fc1000"),
    ]
    for args, string in cases:
        data = json.loads(run(*args, "--format", "json").stdout)
        r = analyse(parse_string(string)).layers[0]
        assert (data["output"]["text"], data["params"], data["macs"], data["activations"]) == \
            (str(r.output), r.params, r.macs, r.activations), args
        assert data["description"] == r.layer.describe()


def test_json_has_exact_figures_and_the_working():
    data = json.loads(run("conv", "227x227x3", "-n", "96", "-k", "11", "-s", "4", "--format", "json").stdout)
    assert data["schema_version"] == 1
    assert (data["params"], data["macs"], data["activations"], data["activation_bytes"]) == \
        (34_944, 105_415_200, 290_400, 1_161_600)
    assert data["output"]["shape"] == [55, 55, 96]
    texts = [w["text"] for w in data["working"]]
    assert "params = 11·11·3·96 + 96 = 34,944" in texts
    assert data["notes"] == [] and data["advice"] == []


def test_same_padding_dilation_groups_and_ceil_are_explained():
    same = lookup(Conv(64, (7,), (2,), "same"), shape("224x224x3")).lines()
    assert "  P = 'same': 2 before, 3 after, so that H2 = ⌈224/2⌉ (TensorFlow's rule)" in same
    assert "  H2 = W2 = (224 − 7 + 2 + 3)/2 + 1 = 112" in same
    dilated = lookup(Conv(8, (3,), (1,), (2,), (2,)), shape("32x32x3")).lines()
    assert dilated[1:3] == ["  F_eff = 2·(3 − 1) + 1 = 5", "  H2 = W2 = (32 − 5 + 2·2)/1 + 1 = 32"]
    grouped = lookup(Conv(256, (3,), (1,), (1,), (1,), 32), shape("14x14x256")).lines()
    assert "  params = 3·3·(256/32)·256 + 256 = 18,688" in grouped
    ceil = lookup(MaxPool((3,), (2,), (0,), True), shape("56x56x8")).lines()
    assert "  H2 = W2 = ⌈(56 − 3 + 2·0)/2⌉ + 1 = ⌈53/2⌉ + 1 = 28" in ceil


def test_ceil_mode_drop_of_a_window_starting_in_the_padding_is_explained():
    # PyTorch: (5 + 2 − 2)/2 rounds up to 3, so 4 windows, but the 4th would start at 6 ≥ 5 + 1
    r = lookup(MaxPool((2,), (2,), (1,), True), shape("5x5x1"))
    assert r.output == shape("3x3x1")
    assert any("− 1 = 3 (the last window would start in the right padding; PyTorch drops it)" in line
               for line in r.lines())


def test_non_square_layers_get_one_line_per_axis():
    lines = lookup(Conv(32, (3, 5), (2, 1)), shape("9x9x32")).lines()
    assert lines[1:3] == ["  H2 = (9 − 3 + 2·0)/2 + 1 = 4", "  W2 = (9 − 5 + 2·0)/1 + 1 = 5"]


def test_stride_advice_names_the_axis_when_only_one_does_not_fit():
    r = lookup(Conv(1, (3,), (3, 1)), shape("7x9x1"))
    assert len(r.advice) == 1 and "does not fit along H" in r.advice[0]


def test_a_stride_that_skips_only_padding_is_a_remark_not_a_warning():
    # ResNet's conv1: (224 − 7 + 2·3)/2 + 1 = 112.5; the half left over is padding (the engine's call)
    r = lookup(Conv(64, (7,), (2,), (3,)), shape("224x224x3"))
    assert r.warnings == ()
    assert r.advice == ("ℹ stride 2 leaves 1 over: floored to 112 as PyTorch does; what is left over is padding, so "
                        "no input is lost. No symmetric padding fits; input 223 or 225 would.",)
    assert run("conv", "224x224x3", "-n", "64", "-k", "7", "-s", "2", "-p", "3", "--strict").exit_code == 0


# --- errors: exit 2, a message that names the flag and what it got ---------------------------


@pytest.mark.parametrize("args, message", [
    (["conv", "227x227x3", "-n", "0", "-k", "11"], "error: -n/--filters: expected a positive whole number, got 0"),
    (["conv", "227x227x3", "-n", "96", "-k", "3y3"], "error: -k/--kernel: expected a whole number, got the string '3y3'"),
    (["conv", "227x227x3", "-n", "96", "-k", "3", "-p", "half"], "error: -p/--padding:"),
    (["conv", "227x227x3", "-n", "9" * 5000, "-k", "3"], "error: -n/--filters: a number of 5,000 digits is larger than"),
    (["conv", "227x227x3", "-n", "8", "-k", "3x" + "9" * 5000], "error: -k/--kernel: a number of 5,000 digits"),
    # '²' passes str.isdigit() but is no number (issue 11, 4): exit 2, never an internal error
    (["conv", "8x8x3", "-n", "²", "-k", "3"], "error: -n/--filters: expected a whole number (digits 0-9), got '²'"),
    (["conv", "8x8x3", "-n", "３", "-k", "3"], "error: -n/--filters: expected a whole number (digits 0-9), got '３'"),
    (["conv", "8x8x3", "-n", "8", "-k", "3x３"], "error: -k/--kernel: expected a whole number, got the string '3x３'"),
    (["pool", "8x8x3", "-s", "²"], "error: -s/--stride: expected a whole number (digits 0-9), got '²'"),
    (["fc", "8x8x3", "-n", "²"], "error: -n/--units: expected a whole number (digits 0-9), got '²'"),
    (["solve", "--in", "²", "-k", "3"], "error: --in: expected a whole number (digits 0-9), got '²'"),
    (["solve", "--in", "32", "-k", "²"], "error: -k/--kernel: expected a whole number (digits 0-9), got '²'"),
    (["conv", "8x8x3", "-n", "8", "-k", "٣"], "error: -k/--kernel: expected a whole number (digits 0-9)"),
    (["conv", "8x8x3", "-n", "8", "-k", "3", "-p", "-1"], "error: -p/--padding: must be 0 or more, got -1"),
    (["conv", "8x8x3", "-n", "8", "-k", "3", "-p", "1x-1"], "error: -p/--padding: must be 0 or more, got -1"),
    (["solve", "--in", "32", "-k", "3", "-p", "-1"], "error: -p/--padding: must be 0 or more, got -1"),
    (["conv", "8x8x3", "-n", "-8", "-k", "3"], "error: -n/--filters: expected a positive whole number, got -8"),
    (["conv", "5x5x3", "-n", "8", "-k", "11"], "error: CONV 8 11x11 s1 p0 on input 5x5x3: kernel 11 exceeds padded input 5"),
    (["conv", "8x8x3", "-n", "8", "-k", "3", "-g", "2"], "groups 2 must divide both the input channels 3"),
    (["conv", "22a", "-n", "8", "-k", "3"], "error: expected an input shape like 227x227x3, got '22a'"),
    (["pool", "8x8x3", "-k", "2", "-p", "2"], "padding 2 is more than half the kernel 2"),
    (["fc", "6x6x256", "-n", "-3"], "error: -n/--units:"),
])
def test_bad_input_exits_2_with_a_clear_message(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_usage_errors_exit_2():
    assert run("conv", "227x227x3", "-k", "3").exit_code == 2  # no -n
    assert run("fc", "4096").exit_code == 2
    assert run("conv", "227x227x3", "-n", "8", "-k", "3", "--format", "xml").exit_code == 2


def test_json_errors_are_json():
    result = run("conv", "227x227x3", "-n", "0", "-k", "3", "--format", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["message"] == "-n/--filters: expected a positive whole number, got 0"


def test_lookups_start_without_yaml_or_rich():
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "convcalc", "conv", "227x227x3", "-n", "96",
                           "-k", "11", "-s", "4"], capture_output=True, text=True, check=True)
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "convcalc.tools.lookup" in imported
    assert not [m for m in imported if m.split(".")[0] in ("yaml", "rich", "_yaml")]
    # the working is exact: nothing to round, nothing to draw (grid only measures the terminal)
    assert [m for m in imported if m.startswith(("convcalc.report.", "convcalc.draw"))] == ["convcalc.report.grid"]


# --- the working against the engine, and against its own arithmetic --------------------------


def evaluate(expression: str) -> Fraction:
    """An expression as shown (·, −, /, ⌈ ⌉) in exact arithmetic; ⌈x⌉ is a ceiling."""
    text = expression.replace("·", "*").replace("−", "-").replace("⌈", "C(").replace("⌉", ")")
    text = re.sub(r"\d+", lambda m: f"F({m.group(0)})", text)
    return eval(text, {"F": Fraction, "C": lambda x: Fraction(math.ceil(x))})  # noqa: S307 - digits and operators only


def check_working(layer: Layer, x: Shape) -> None:
    """Every expression shown evaluates to the engine's value next to it."""
    r = lookup(layer, x)
    names = axis_names(x.rank)
    for s in r.steps:
        if not s.expression or not s.expression[0] in "(⌈0123456789":
            continue  # 'D2 = K = 96' names, it does not compute
        value = evaluate(s.expression)
        if s.topic == "size" and s.quantity.endswith("2"):
            axis = names.index(s.quantity.split(" = ")[0][:-1])
            assert s.value == r.output.spatial[axis]
            if math.floor(value) != s.value:  # PyTorch's ceil mode drops a window starting in the padding
                assert math.floor(value) == s.value + 1 and s.result.endswith("PyTorch drops it)"), s
        elif s.topic != "size":
            assert value == s.value, s
    assert {s.topic for s in r.steps} >= {"params", "macs", "memory"}
    memory = next(s for s in r.steps if s.topic == "memory")
    assert memory.value == r.output.elements


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 64), kernel=st.integers(1, 7), stride=st.integers(1, 5), pad=st.integers(0, 3),
       dilation=st.integers(1, 3), filters=st.integers(1, 16), groups=st.sampled_from([1, 2, 4]),
       bias=st.booleans())
def test_conv_working_evaluates_to_the_engine_values(size, kernel, stride, pad, dilation, filters, groups, bias):
    x = Shape((size, size), 4 * groups)
    layer = Conv(filters * groups, (kernel,), (stride,), (pad,), (dilation,), groups, bias)
    try:
        layer.out_shape(x)
    except Exception:
        return
    check_working(layer, x)
    r = lookup(layer, x)
    string = f"{x} conv{filters * groups}k{kernel}s{stride}p{pad}d{dilation}g{groups}{'' if bias else 'nb'}"
    engine = analyse(parse_string(string)).layers[0]
    assert (r.output, r.report.params, r.report.macs, r.report.notes) == \
        (engine.output, engine.params, engine.macs, engine.notes)


@settings(max_examples=100, deadline=None)
@given(size=st.integers(1, 40), kernel=st.integers(1, 6), stride=st.integers(1, 6), pad=st.integers(0, 3),
       ceil=st.booleans(), avg=st.booleans())
def test_pool_working_evaluates_to_the_engine_values(size, kernel, stride, pad, ceil, avg):
    layer = (AvgPool if avg else MaxPool)((kernel,), (stride,), (pad,), ceil)
    x = Shape((size, size), 3)
    try:
        layer.out_shape(x)
    except Exception:
        return
    check_working(layer, x)


@settings(max_examples=50, deadline=None)
@given(dims=st.lists(st.integers(1, 9), min_size=1, max_size=3), units=st.integers(1, 100), bias=st.booleans())
def test_fc_working_evaluates_to_the_engine_values(dims, units, bias):
    check_working(Linear(units, bias), Shape(tuple(dims[:-1]), dims[-1]))


def test_a_layer_that_cannot_compute_is_a_shape_error_without_the_engines_layer_number():
    with pytest.raises(ShapeError, match=r"^CONV 8 5x5 s1 p0 on input 3x3x1: kernel 5 exceeds"):
        lookup(Conv(8, (5,)), shape("3x3x1"))


def test_nearest_strides_are_divisors_of_the_span_either_side():
    assert nearest_strides(4, 3) == (2, 4)
    assert nearest_strides(7, 3) == (1, 7)
    assert nearest_strides(12, 5) == (4, 6)
    assert nearest_strides(2_000_000_014, 3) == (2, 1_000_000_007)  # 2 × a prime; a square root, not a scan


def test_step_reads_like_the_notes():
    assert str(Step("params", "params", "11·11·3·96 + 96", 34_944, "34,944")) == "params = 11·11·3·96 + 96 = 34,944"
    assert str(Step("params", "params", "", 0, "0 (no weights)")) == "params = 0 (no weights)"


@pytest.mark.parametrize("columns", [40, 60, 80, 100])
def test_advice_wraps_at_the_terminal_width_between_words(monkeypatch, columns):
    """A pipe gets one line per piece of advice (above); a terminal gets it wrapped at its own
    width (it was wrapped at 100 and then split mid-word by an 80-column terminal)."""
    import convcalc.report.grid

    monkeypatch.setattr(convcalc.report.grid, "terminal_width", lambda file: columns)
    lines = run("conv", "7x7x1", "-n", "1", "-k", "3", "-s", "3").stdout.splitlines()
    advice = lines[2:lines.index("  D2 = K = 1")]
    assert len(advice) > 1 and all(len(line) < columns for line in advice)
    words = " ".join(line.strip() for line in advice).split()
    assert words == ("⚠ stride 3 does not fit: floored to 2 as PyTorch does, so the last input row/column is "
                     "never read (ceil would give 3). Padding 1 would fit (output 3). Stride 2 would fit "
                     "(output 3).").split()



def test_pool_suggests_only_padding_it_accepts():
    # 8x8, 3x3 stride 3: padding 2 would fit, but a pool takes at most half its kernel (1)
    result = CliRunner().invoke(cli, ["pool", "8x8x16", "-k", "3", "-s", "3"])
    assert result.exit_code == 0
    assert "Padding 2" not in result.output and "at most 1" in result.output
    assert CliRunner().invoke(cli, ["pool", "8x8x16", "-k", "3", "-s", "3", "-p", "2"]).exit_code == 2


def test_lookup_says_pytorch_refuses_strided_same():
    result = CliRunner().invoke(cli, ["conv", "32x32x3", "-n", "8", "-k", "3", "-s", "2", "-p", "same"])
    assert result.exit_code == 0 and "PyTorch would refuse this layer" in result.output
