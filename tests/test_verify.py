"""``convcalc verify``: the engine against the reference, layer by layer, and the receptive field
against a brute-force one (perturb one input pixel, see which outputs change)."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Set, Tuple

import pytest
from click.testing import CliRunner
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from convcalc import layers
from convcalc import reference as ref
from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.errors import ShapeError
from convcalc.load import load
from convcalc.reference import Tensor
from convcalc.reference import verify as verify_module
from convcalc.reference.verify import Settings, verify, verify_layer
from convcalc.reference.verify import runs as runs_module
from convcalc.shape import Window

SETTINGS = settings(max_examples=40, deadline=None)


def run(*args: str):
    return CliRunner().invoke(cli, ["verify", *args], catch_exceptions=False)


# --- the bundled networks -----------------------------------------------------------------------


def test_alexnet_verifies_with_its_big_layers_scaled():
    v = verify(analyse(load("alexnet")))
    assert v.ok and v.count("verified") == len(v.layers) == 23
    by_name = {c.name: c for c in v.layers}
    conv2 = by_name["conv2"]
    assert conv2.scaled == "channels 96→4, filters 256→4"
    assert [r.label for r in conv2.runs] == ["true spatial size, channels 96→4, filters 256→4",
                                             "true channels, one window"]
    assert conv2.measured == conv2.engine
    assert conv2.engine.macs == 27 * 27 * 5 * 5 * 96 * 256  # the lecture notes' conv2
    spatial, channel = conv2.runs
    assert spatial.inputs[0].dims == (27, 27, 4) and spatial.measured.output.dims == (27, 27, 4)
    assert channel.inputs[0].dims == (5, 5, 96) and channel.measured.output.dims == (1, 1, 256)
    assert conv2.measured.macs == channel.measured.macs * 27 * 27  # per position × positions
    fc6 = by_name["fc6"]
    assert fc6.scaled == "units 4,096→4, channels 256→4"
    assert fc6.measured.params == 6 * 6 * 256 * 4096 + 4096 == 37_752_832
    assert by_name["relu1"].scaled == "" and [r.label for r in by_name["relu1"].runs] == ["true size"]


def test_vgg16_through_the_cli_as_json():
    result = run("vgg16", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"schema_version", "convcalc_version", "network", "input", "settings", "ok", "summary",
                         "seconds", "layers"}
    assert data["ok"] is True
    assert data["summary"] == {"layers": 39, "verified": 39, "failed": 0, "not_verified": 0}
    assert data["settings"] == {"seed": 0, "full": False, "max_channels": 4, "budget": verify_module.BUDGET}
    assert sum(layer["measured"]["params"] for layer in data["layers"]) == 138_357_544
    assert sum(layer["measured"]["macs"] for layer in data["layers"]) == 15_470_264_320
    conv = data["layers"][0]
    assert conv["agree"] == {"output": True, "params": True, "buffers": True, "macs": True}
    assert conv["runs"][0]["inputs"] == ["224x224x3"] and conv["runs"][0]["agree"] is True
    assert conv["scaled"] == "filters 64→4"


def test_table_says_what_was_scaled_and_how_long_it_took():
    result = run("alexnet", "--width", "200")
    assert result.exit_code == 0
    out = result.stdout
    assert "verify AlexNet" in out and "seed 0" in out
    conv1 = next(line for line in out.splitlines() if " conv1 " in line)
    assert "55x55x96 ✓" in conv1 and "34,944 ✓" in conv1 and "105,415,200 ✓" in conv1
    assert conv1.rstrip().endswith("scaled: filters 96→4")
    assert "✓ 23 of 23 layers verified" in out
    assert "Scaled (8 layers, 'measured on'): run at the true spatial size with at most 4 channels," in out
    assert out.strip().splitlines()[-1].startswith("Took ") and "(seed 0)" in out


def test_small_networks_run_at_true_size():
    result = run("lenet5")
    assert result.exit_code == 0
    assert "✓ 12 of 12 layers verified" in result.stdout
    assert "Every layer ran at its true size." in result.stdout
    full = verify(analyse(load("32x32x16 conv16k3p1 fc10")), full=True)
    assert full.ok and all([r.label for r in c.runs] == ["true size"] for c in full.layers)


def test_blocks_and_new_kinds():
    text = ("32x32x64 res(conv64k3p1nb bn relu conv64k3p1nb bn) mul( | gap pwconv16 relu pwconv64 sigmoid) "
            "cat(conv32k1 | conv32k3p1 | maxpool3s1p1 conv16k1) convtranspose32k4s2p1 convtranspose16k3s2p1op1 "
            "dwconv3p1m2 sepconv64k3p1s2 conv64k3p1g8 upsample2 pad1 shuffle4 layernorm groupnorm16 "
            "maxpool3s2ceil avgpool3s2p1 adaptiveavgpool3 flatten fc10 softmax")
    v = verify(analyse(load(text)), budget=0)  # budget 0: every layer that can be scaled is
    assert v.ok, [(c.name, c.reason, c.runs) for c in v.layers if c.status != "verified"]
    kinds = {c.kind for c in v.layers}
    assert {"add", "mul", "concat", "convtranspose", "dwconv", "sepconv", "upsample"} <= kinds
    grouped = next(c for c in v.layers if c.description.startswith("CONV 64 3x3 s1 p1 g8"))
    assert grouped.scaled == "channels 64→4, filters 64→4, groups 8→4"
    concat = next(c for c in v.layers if c.kind == "concat")
    assert concat.scaled == "channels 32+32+16→4+4+4" and concat.measured.output.channels == 80


def test_other_ranks():
    for text in ("64x8 conv1d16k3 maxpool1d2", "8x16x16x5 conv3d8k3p1 avgpool3d2"):
        v = verify(analyse(load(text)), budget=0)
        assert v.ok, text


# --- it catches wrong formulas ------------------------------------------------------------------


def test_a_wrong_mac_formula_is_caught_at_full_size(monkeypatch):
    """A formula wrong only with more than 4 channels: the scaled run agrees, the composition does not."""
    right = layers.Conv.macs
    monkeypatch.setattr(layers.Conv, "macs", lambda self, x: right(self, x) + (x.channels > 4))
    result = run("32x32x16 conv16k3p1", "--width", "140")
    assert result.exit_code == 1
    assert "2,359,297 ≠ 2,359,296 ✗" in result.stdout  # 32·32 · 3·3·16 · 16, plus the mutant's 1
    assert "✗ 1 of 1 layer disagrees with the reference:" in result.stdout
    assert ("true channels, one window (3x3x16 → CONV 16 3x3 s1 p0): macs engine 2,305 ≠ measured 2,304"
            in result.stdout)
    assert "full size: macs engine 2,359,297 ≠ measured 2,359,296" in result.stdout
    assert "true spatial size, channels" not in result.stdout  # with 4 channels the mutant is right


def test_transposed_conv_macs_over_output_positions_are_caught(monkeypatch):
    def by_output(self, x):
        return math.prod(self.out_shape(x).spatial) * self.weights(x)

    monkeypatch.setattr(layers.ConvTranspose, "macs", by_output)
    [check] = verify(analyse(load("8x8x4 convtranspose4k3s2p1op1"))).layers
    assert check.status == "failed" and not check.agrees("macs") and check.agrees("output")


def test_a_missing_bias_and_a_wrong_shape_are_caught(monkeypatch):
    monkeypatch.setattr(layers.Linear, "params", lambda self, x: x.elements * self.units)
    data = json.loads(run("4x4x2 fc3", "--format", "json").stdout)
    assert data["ok"] is False and data["layers"][0]["agree"]["params"] is False
    monkeypatch.undo()
    monkeypatch.setattr(Window, "out_size", property(lambda w: w.span // w.stride + 1))  # ceil mode ignored
    [check] = verify(analyse(load("6x6x1 maxpool3s2ceil"))).layers
    assert check.status == "failed" and not check.agrees("output")


def test_a_kind_without_a_reference_is_reported_not_skipped(monkeypatch):
    monkeypatch.delitem(verify_module.VERIFIERS, layers.Conv)
    result = run("8x8x3 conv4k3 relu", "--width", "140")
    assert result.exit_code == 0
    assert "not verified (no reference for conv)" in result.stdout
    assert "– 1 not verified: 1 'conv1' (no reference for conv)." in result.stdout
    data = json.loads(run("8x8x3 conv4k3 relu", "--format", "json").stdout)
    assert data["summary"]["not_verified"] == 1 and data["layers"][0]["status"] == "not verified"
    assert data["layers"][0]["measured"] is None


def test_every_kind_has_a_verifier():
    """A new layer kind needs one entry in verify.VERIFIERS (and BUILDERS)."""
    rules = {k.rule for k in layers.KINDS} | set(layers.MERGES.values())
    assert sorted(r.__name__ for r in rules - set(verify_module.VERIFIERS)) == []
    assert sorted(r.__name__ for r in rules - set(verify_module.BUILDERS)) == []


def test_errors_are_located_and_options_checked():
    result = run("8x8x3 cnov4k3")
    assert result.exit_code == 2 and "did you mean 'conv'?" in result.stderr
    assert run("lenet5", "--channels", "0").exit_code == 2
    help_text = CliRunner().invoke(cli, ["verify", "--help"]).stdout
    assert "Examples:" in help_text and "convcalc verify vgg16" in help_text and "Exit codes" in help_text


# --- property: random layers, engine == reference -----------------------------------------------


@st.composite
def single_layers(draw) -> str:
    """A layer string for one conv, transposed conv or pool with small random hyperparameters."""
    kind = draw(st.sampled_from(["conv", "convtranspose", "maxpool", "avgpool"]))
    rank = draw(st.integers(1, 2))
    sizes = [draw(st.integers(1, 9)) for _ in range(rank)]
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 3))
    kernel = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    shape = "x".join(map(str, [*sizes, channels]))
    kinds = {1: {"conv": "conv1d", "maxpool": "maxpool1d", "avgpool": "avgpool1d"}, 2: {}}[rank]
    name = kinds.get(kind, kind)
    if kind == "conv":
        pad = draw(st.sampled_from(["0", "1", "2", "same", "valid"]))
        return (f"{shape} {name}{groups * draw(st.integers(1, 3))}k{kernel}s{stride}p{pad}"
                f"d{draw(st.integers(1, 3))}g{groups}{draw(st.sampled_from(['', 'nb']))}")
    if kind == "convtranspose":
        dilation = draw(st.integers(1, 2))
        op = draw(st.integers(0, max(stride, dilation) - 1))
        return (f"{shape} convtranspose{groups * draw(st.integers(1, 3))}k{kernel}s{stride}p{draw(st.integers(0, 2))}"
                f"op{op}d{dilation}g{groups}")
    pad = draw(st.integers(0, kernel // 2))
    return f"{shape} {name}{kernel}s{stride}p{pad}{draw(st.sampled_from(['', 'ceil']))}"


@SETTINGS
@given(single_layers(), st.integers(1, 3))
@example("5x5x3 conv2k3s2p1", 4)  # the cs231n demo layout
@example("7x7x1 conv1k3s3", 1)  # the notes' stride that does not fit
@example("5x5x1 maxpool2s2p1ceil", 1)  # PyTorch drops the window that would start in the padding
@example("4x4x2 convtranspose2k3s2p1op1", 2)
def test_engine_equals_reference_for_random_layers(text, most):
    try:
        report = analyse(load(text))
    except ShapeError:
        return  # the engine refuses it; test_formulas checks why
    [r] = report.layers
    full = verify_layer(r, Settings(full=True))
    assert full.status == "verified", (full.reason, full.runs)
    assert full.measured == full.engine
    # and through the scaled path: a spatial run and a channel run, composed
    scaled = verify_layer(r, Settings(budget=0, max_channels=most))
    assert scaled.status == "verified", (scaled.reason, scaled.runs)


# --- the receptive field, brute force -----------------------------------------------------------


Layer = Tuple[str, Dict[str, int]]


def forward(chain: Sequence[object], x: Tensor) -> Tensor:
    for layer in chain:
        x = layer(x).output  # type: ignore[operator]
    return x


def brute_force_fields(chain: Sequence[object], size: int, channels: int = 1, seed: int = 0) -> List[Set[int]]:
    """For each output unit of a 1-D chain, the input pixels whose change changes it.

    Each pixel is pushed far up and far down in turn (a max pool only notices the rise, a ReLU
    may swallow one of the two); the union of both is the set of pixels the unit depends on.
    """
    rng = random.Random(seed)
    x = Tensor.random((channels, size), rng)
    base = forward(chain, x)
    n_out = base.plane
    fields: List[Set[int]] = [set() for _ in range(n_out)]
    for i in range(size):
        for push in (1e6, -1e6):
            data = list(x.data)
            for c in range(channels):
                data[c * size + i] += push
            out = forward(chain, Tensor(x.shape, data))
            for o in range(n_out):
                if any(not math.isclose(out.data[c * n_out + o], base.data[c * n_out + o], rel_tol=1e-12, abs_tol=1e-12)
                       for c in range(base.channels)):
                    fields[o].add(i)
    return fields


def field_of(fields: List[Set[int]]) -> Optional[Tuple[int, int, Fraction]]:
    """Size, jump and first centre from the units that see a whole field (the widest ones)."""
    extent = [max(f) - min(f) + 1 if f else 0 for f in fields]
    widest = max(extent)
    whole = [o for o, e in enumerate(extent) if e == widest]
    if len(whole) < 2 or whole[1] != whole[0] + 1:
        return None
    o = whole[0]
    jump = min(fields[o + 1]) - min(fields[o])
    centre = Fraction(min(fields[o]) + max(fields[o]), 2)
    return widest, jump, centre - o * jump


def test_brute_force_field_on_hand_cases():
    rng = random.Random(0)

    def conv(k, s=1, p=0, d=1):
        return ref.Conv.random(rng, 1, 1, k, 1, s, p, d)

    assert field_of(brute_force_fields([conv(3), conv(3)], 20)) == (5, 1, 2)  # two 3x3 convs see 5x5
    assert field_of(brute_force_fields([conv(3, 2), conv(3)], 20)) == (7, 2, 3)
    assert field_of(brute_force_fields([conv(3, p=1)], 10)) == (3, 1, 0)  # padding 1: the first unit is centred on pixel 0
    assert field_of(brute_force_fields([conv(3, d=2)], 12)) == (5, 1, 2)  # dilation 2: 5 wide, with holes
    holes = brute_force_fields([conv(3, d=2)], 12)[0]
    assert holes == {0, 2, 4}
    # AlexNet's conv1 and pool1: 11 + (3 − 1)·4 = 19, jump 4·2 = 8
    assert field_of(brute_force_fields([conv(11, 4), ref.MaxPool(3, 2)], 60)) == (19, 8, 9)


@st.composite
def chains(draw) -> str:
    layers_: List[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv", "maxpool", "avgpool", "relu"]))
        k, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        if kind == "conv":
            layers_.append(f"conv1d2k{k}s{s}p{draw(st.integers(0, 2))}d{draw(st.integers(1, 2))}")
        elif kind == "relu":
            layers_.append("relu")
        else:
            layers_.append(f"{kind}1d{k}s{s}p{draw(st.integers(0, k // 2))}{draw(st.sampled_from(['', 'ceil']))}")
    return "48x2 " + " ".join(layers_)


def reference_chain(report) -> List[object]:
    rng = random.Random(0)
    return [verify_module.BUILDERS[type(r.layer)](r.layer, (r.input,), rng) for r in report.layers]


@SETTINGS
@given(chains())
@example("48x2 conv1d2k3s2p1d2 maxpool1d3s2p1ceil avgpool1d2")
@example("48x2 conv1d2k3 relu conv1d2k3s2")
def test_engine_receptive_field_equals_brute_force(text):
    report = analyse(load(text))
    field = report.fields[-1]
    fields = brute_force_fields(reference_chain(report), 48, channels=2)
    found = field_of(fields)
    assume(found is not None)  # a short output may have no two whole fields side by side
    assert field.status == "local"
    [axis] = field.axes
    size, jump, start = found
    assert (axis.size, axis.jump, axis.start) == (size, jump, start)


# --- the budget: every run planned before any starts --------------------------------------------


@pytest.mark.parametrize("spec, needs", [("8x8x1 pad100000", "80,006,400,192 elements"),
                                         ("1000000000x1x1 relu", "2,000,000,000 elements"),
                                         ("1000x1000x1 conv1k500", "62,750,250,000 multiplies")])
def test_a_run_over_the_budget_is_refused_before_anything_runs(spec, needs):
    import time

    start = time.perf_counter()
    result = run(spec)
    assert time.perf_counter() - start < 5  # a bound against a hang (it was a MemoryError, or swap)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: <string>:1:")
    assert needs in result.stderr and "verify's budget is" in result.stderr
    assert "hint: verify the layer on a smaller input" in result.stderr


def test_full_says_when_scaling_would_fit():
    result = run("vgg16", "--full")
    assert result.exit_code == 2
    assert "layer 32 'fc6' (FC 4096): verifying it needs 102,793,728 elements" in result.stderr
    assert "vgg-d.yaml:" in result.stderr and "hint: drop --full" in result.stderr


def test_the_plan_is_the_runs_that_are_made(monkeypatch):
    """A dry run goes through the same verifiers: a budget just under a run's need refuses it."""
    report = analyse(load("32x32x16 conv16k3p1 relu fc10"))
    needs = []
    real = runs_module.elements_held
    monkeypatch.setattr(runs_module, "elements_held", lambda *a: needs.append(real(*a)) or needs[-1])
    verify(report)
    made = list(needs[len(needs) // 2:])  # the plan's runs, then the same ones for real
    assert needs[:len(needs) // 2] == made
    monkeypatch.setattr(runs_module, "MAX_ELEMENTS", max(made) - 1)
    with pytest.raises(ShapeError, match="verify's budget is"):
        verify(report)


def test_the_budget_is_stated_in_help_and_readme():
    from pathlib import Path

    help_text = " ".join(CliRunner().invoke(cli, ["verify", "--help"]).stdout.split())
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8").split())
    for text in (help_text, readme):
        assert f"{verify_module.MAX_ELEMENTS:,} elements" in text
        assert f"{verify_module.MAX_MACS:,} multiplies" in text
