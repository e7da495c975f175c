"""Receptive fields against published figures, hand-worked networks and a brute-force oracle."""

from __future__ import annotations

from fractions import Fraction
from typing import List, Set, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis.engine import analyse
from convcalc.analysis.receptive import Field
from convcalc.load import load
from convcalc.spec.layer_string import parse_string


def fields_by_name(spec: str) -> dict:
    report = analyse(load(spec))
    return {r.full_name: f for r, f in zip(report.layers, report.fields)}


def rf(field: Field) -> Tuple[Fraction, Fraction]:
    [axis] = {(a.size, a.jump) for a in field.axes}  # square
    return axis


# --- published figures -------------------------------------------------------------------------


@pytest.mark.parametrize("name, layer, size, jump", [
    # VGG-16 (Araujo, Norris & Sim, Distill 2019, and the usual tables): conv5_3 196/16, pool5 212/32
    ("vgg16", "conv5_3", 196, 16),
    ("vgg16", "pool5", 212, 32),
    ("vgg16", "conv1_1", 3, 1),
    ("vgg16", "pool1", 6, 2),
    # AlexNet as the cs231n listing builds it: conv5 163/16, pool3 195/32
    ("alexnet", "conv5", 163, 16),
    ("alexnet", "pool3", 195, 32),
    ("alexnet", "conv1", 11, 4),
    ("alexnet", "pool1", 19, 8),  # 11 + (3 − 1)·4
    ("alexnet", "conv2", 51, 8),  # 19 + (5 − 1)·8
])
def test_published_receptive_fields(name, layer, size, jump):
    assert rf(fields_by_name(name)[layer]) == (size, jump)


def test_fc_and_global_pooling_see_everything():
    fields = fields_by_name("vgg16")
    assert fields["fc6"].status == "global" and fields["fc6"].text() == "all"
    report = analyse(load("vgg16"))
    covering = report.covering
    assert report.layers[covering - 1].name == "fc6"  # pool5's 212 < 224: fc6 is the first to see it all


def test_covering_before_the_classifier():
    # 32x32 input, four 3x3 convs stride 2 pad 1: r = 3, 7, 15, 31; jump 16; then a fifth: 63 ≥ 32
    report = analyse(parse_string("32x32x3 conv8k3s2p1 conv8k3s2p1 conv8k3s2p1 conv8k3s2p1 conv8k3s2p1 gap"))
    fields = report.fields
    assert [rf(f)[0] for f in fields[:5]] == [3, 7, 15, 31, 63]
    assert report.covering == 5


# --- hand-worked small networks ------------------------------------------------------------------


def test_start_follows_padding_and_even_kernels():
    # conv 3x3 pad 1: centred on pixel 0. conv 2x2 pad 0: between pixels 0 and 1 (½).
    # Then maxpool 2 stride 2 on jump 1: start ½ + ½ = 1, size 3, jump 2.
    report = analyse(parse_string("16x16x1 conv1k3p1 conv1k2 maxpool2"))
    fields = report.fields
    assert [(a.size, a.jump, a.start) for a in (f.axes[0] for f in fields)] == [
        (3, 1, 0), (4, 1, Fraction(1, 2)), (5, 2, 1)]


def test_asymmetric_kernels_strides_and_dilation_per_axis():
    [field] = analyse(parse_string("32x32x1 conv1k3x5s1x2d2")).fields
    # F_eff = D·(F − 1) + 1: 5 along H, 9 along W; jump 1 and 2; start (F_eff − 1)/2
    assert [(a.size, a.jump, a.start) for a in field.axes] == [(5, 1, 2), (9, 2, 4)]
    assert field.text() == "5x9 j1x2"


def test_resnet_stem_and_first_stage():
    # conv1 7x7 s2 p3: r 7, j 2, start 0. maxpool 3 s2 p1: r 7 + 2·2 = 11, j 4, start 0.
    # Each basic block adds two 3x3 convs at jump 4: +8 each, so layer1 ends at 11 + 4·8 = 43.
    fields = fields_by_name("56x56x64 res(conv64k3p1 bn relu conv64k3p1 bn)x2")
    assert rf(fields["res2.add"]) == (9, 1)  # 1 + 4 convs · (3 − 1) on a bare input
    text = "224x224x3 conv64k7s2p3 maxpool3s2p1 (res(conv64k3p1 relu conv64k3p1) relu)x2"
    report = analyse(parse_string(text))
    fields = report.fields
    assert [(a.size, a.jump, a.start) for a in fields[1].axes][0] == (11, 4, 0)
    assert rf(fields[-1]) == (43, 4)


def test_inception_branches_agree_when_centred():
    # 1x1, 3x3 p1, 5x5 p2 and 3x3-pool p1 then 1x1: same jump, same centre; the union is the widest (5)
    fields = fields_by_name("28x28x192 cat(conv64k1 | conv96k1 conv128k3p1 | conv16k1 conv32k5p2 | maxpool3s1p1 conv32k1)")
    merged = fields["concat1.concat"]
    assert merged.status == "local" and rf(merged) == (5, 1)


@pytest.mark.parametrize("text, why", [
    # 3x3 pad 1, or pad 1 then 3x3: the same centre, so the fields align
    ("28x28x8 cat(conv8k3p1 | pad1 conv8k3)", None),
    # a 1x1 stride-2 conv samples pixel 0 first; a 2x2 stride-2 pool is centred on ½
    ("28x28x8 add(conv8k1s2 | maxpool2s2)", "disagree on the centre: 0, 1/2"),
])
def test_alignment(text, why):
    report = analyse(parse_string(text))
    field = report.fields[-1]
    if why is None:
        assert field.status == "local"
    else:
        assert field.status == "unaligned" and why in field.why
        assert field.text() == "not aligned"


def test_upsampling_and_transposed_conv_keep_fractions():
    report = analyse(parse_string("8x8x4 conv4k3s2p1 upsample2"))
    up = report.fields[-1].axes[0]
    assert (up.size, up.jump) == (3, 1)  # nearest: one input pixel per output; jump 2/2
    report = analyse(parse_string("8x8x4 conv4k3s2p1 upsample4"))
    assert report.fields[-1].axes[0].jump == Fraction(1, 2)
    report = analyse(parse_string("8x8x4 convtranspose4k4s2p1"))
    convt = report.fields[-1]
    assert convt.axes[0].jump == Fraction(1, 2) and convt.axes[0].size == 2 and convt.exact
    assert convt.text() == "2 j1/2"
    report = analyse(parse_string("8x8x4 convtranspose4k3s2p1"))
    assert not report.fields[-1].exact  # some outputs read one input, others two


# --- a brute-force oracle ------------------------------------------------------------------------
#
# Follow dependencies instead of the recurrence: unit o of a window layer reads units
# o·S − P + k·D (k < F) of its input. Padding positions are treated as units too (the field
# counts them, as the recurrence does), so every tensor is indexed by all integers. The field
# of unit 0 gives the size and centre; units 0 and 1 give the jump.

Window1D = Tuple[int, int, int, int]  # kernel, stride, padding, dilation


def brute_field(layers: List[Window1D]) -> Tuple[int, Fraction, Fraction]:
    def reads(level: int, unit: int) -> Set[int]:
        if level == 0:
            return {unit}
        kernel, stride, pad, dilation = layers[level - 1]
        return set().union(*(reads(level - 1, unit * stride - pad + k * dilation) for k in range(kernel)))

    first, second = reads(len(layers), 0), reads(len(layers), 1)
    centre = Fraction(max(first) + min(first), 2)
    return max(first) - min(first) + 1, Fraction(max(second) + min(second), 2) - centre, centre


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2)),
                min_size=1, max_size=4))
def test_recurrence_matches_brute_force(layers):
    # 2000 wide: four stride-3 layers with a dilated 9-wide kernel still leave room (300 did not)
    text = "2000x1 " + " ".join(f"conv1d1k{k}s{s}p{p}d{d}" for k, s, p, d in layers)
    field = analyse(parse_string(text)).fields[-1].axes[0]
    assert (field.size, field.jump, field.start) == brute_field(layers)


def test_brute_force_oracle_on_the_notes_example():
    # "Each successive convolution adds K − 1 to the receptive field size. With L layers the
    # receptive field size is 1 + L·(K − 1)" (seed 001): three 3x3 convs see 7 pixels.
    assert brute_field([(3, 1, 0, 1)] * 3) == (7, 1, 3)
    assert brute_field([(3, 1, 1, 1)] * 3) == (7, 1, 0)


def test_resnet18_by_hand():
    # conv1 7x7 s2 p3: 7, jump 2. maxpool 3 s2 p1: 7 + 2·2 = 11, jump 4.
    # layer1: four 3x3 convs at jump 4, +8 each: 43. layer2.0: 3x3 s2 +8 = 51 (jump 8), 3x3 +16 = 67;
    # its 1x1 s2 shortcut keeps 43 with the same jump 8 and centre 0, so the add is aligned: 67.
    # layer2.1: +16 +16 = 99. layer3: +16 (s2, jump 16), +32, +32, +32 = 211. layer4: +32 (s2, jump 32),
    # +64, +64, +64 = 435 — the figure usually quoted for ResNet-18.
    report = analyse(load("resnet18"))
    fields = {r.full_name: f for r, f in zip(report.layers, report.fields)}
    adds = [(name, rf(f)) for name, f in fields.items() if name.endswith(".add")]
    assert [v for _, v in adds] == [(27, 4), (43, 4), (67, 8), (99, 8), (147, 16), (211, 16), (307, 32), (435, 32)]
    assert all(f.axes[0].start == 0 for name, f in fields.items() if name.endswith(".add"))
    assert fields["avgpool"].status == "global"


def test_googlenet_by_hand():
    # torchvision's GoogLeNet: conv1 7x7 s2 p3 → 7/2; maxpool1 3 s2 (ceil, no padding) → 11/4 and
    # the centre moves to 2; conv3 3x3 p1 → 19; maxpool2 → 27/8. Each inception module's widest
    # branch is a 3x3 (torchvision's "5x5" branch is a 3x3 too), all centred, so each adds 2·jump:
    # 3a 43, 3b 59; maxpool3 → 75/16; 4a..4e 107, 139, 171, 203, 235; maxpool4 2x2 s2 → 251/32;
    # 5a 315, 5b 379.
    report = analyse(load("googlenet"))
    fields = {r.full_name: f for r, f in zip(report.layers, report.fields)}
    merges = [rf(f)[0] for name, f in fields.items() if name.endswith(".concat")]
    assert merges == [43, 59, 107, 139, 171, 203, 235, 315, 379]
    assert rf(fields["maxpool4"]) == (251, 32) and fields["maxpool4"].axes[0].start == 22
