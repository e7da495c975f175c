"""The bundled segmentation networks: U-Net (Ronneberger et al. 2015) and torchvision's
FCN-ResNet50, graphs with skips from far back and sizes taken from other tensors.

Every figure here is a literal (issue 12's PyTorch measurement, torchvision's documentation) or a
hand count written out from the layer formulas, never produced by running convcalc (STYLE.md
rule 5): the U-Net sum layer by layer, FCN-ResNet50's MACs at any input size from its strides,
and U-Net's receptive field by following each output unit's dependencies back to the input.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml
from click.testing import CliRunner

from convcalc.analysis.engine import LayerReport, Report, analyse
from convcalc.cli import cli
from convcalc.load import load
from convcalc.shape import Shape
from convcalc.spec import catalog
from convcalc.spec.model import with_input
from convcalc.spec.yaml_reader import parse_yaml


def report_at(name: str, hwc: str = "") -> Report:
    """A bundled spec at its own input, or at ``hwc`` as ``--input`` runs it."""
    if not hwc:
        return analyse(load(name))
    h, w, c = (int(v) for v in hwc.split("x"))
    return analyse(with_input(load(name), Shape((h, w), c)))


def by_name(report: Report) -> Dict[str, LayerReport]:
    return {r.full_name: r for r in report.layers}


# --- U-Net ------------------------------------------------------------------------------------

def conv3(ci: int, co: int, out: int) -> Tuple[int, int]:
    """An unpadded 3x3 conv with bias: 9·Ci·Co + Co params, out²·9·Ci·Co MACs."""
    return 9 * ci * co + co, out * out * 9 * ci * co


def upconv(ci: int, co: int, out: int) -> Tuple[int, int]:
    """A 2x2 stride-2 transposed conv: 4·Ci·Co + Co params; each output pixel meets one tap of
    the kernel, so out²·Ci·Co MACs (the same as in²·4·Ci·Co)."""
    return 4 * ci * co + co, out * out * ci * co


# Ronneberger et al. Fig. 1, 572x572x1 in; each entry at its output size.
UNET_LAYERS = [
    conv3(1, 64, 570), conv3(64, 64, 568),              # enc1, then pool to 284
    conv3(64, 128, 282), conv3(128, 128, 280),          # enc2, pool to 140
    conv3(128, 256, 138), conv3(256, 256, 136),         # enc3, pool to 68
    conv3(256, 512, 66), conv3(512, 512, 64),           # enc4, pool to 32
    conv3(512, 1024, 30), conv3(1024, 1024, 28),        # bottom
    upconv(1024, 512, 56), conv3(1024, 512, 54), conv3(512, 512, 52),   # crop enc4 64 -> 56
    upconv(512, 256, 104), conv3(512, 256, 102), conv3(256, 256, 100),  # crop enc3 136 -> 104
    upconv(256, 128, 200), conv3(256, 128, 198), conv3(128, 128, 196),  # crop enc2 280 -> 200
    upconv(128, 64, 392), conv3(128, 64, 390), conv3(64, 64, 388),      # crop enc1 568 -> 392
    (64 * 2 + 2, 388 * 388 * 64 * 2),                  # the 1x1 conv to 2 classes
]


def test_unet_by_hand_equals_the_issue_and_the_engine():
    params = sum(p for p, _ in UNET_LAYERS)
    macs = sum(m for _, m in UNET_LAYERS)
    assert (params, macs) == (31_030_658, 150_428_424_448)  # issue 12, measured with PyTorch
    report = report_at("unet")
    assert (report.totals.params, report.totals.macs) == (params, macs)
    assert str(report.output) == "388x388x2"
    convs = [(r.params, r.macs) for r in report.layers if r.params]
    assert convs == UNET_LAYERS


def unet_sizes(n: int) -> Dict[str, int]:
    """Each level's side at input side ``n`` (valid 3x3 convs take 4 per double conv)."""
    s: Dict[str, int] = {}
    s["enc1"] = n - 4
    s["enc2"] = s["enc1"] // 2 - 4
    s["enc3"] = s["enc2"] // 2 - 4
    s["enc4"] = s["enc3"] // 2 - 4
    s["bottom"] = s["enc4"] // 2 - 4
    s["up4"] = 2 * s["bottom"]
    s["dec4"] = s["up4"] - 4
    s["up3"] = 2 * s["dec4"]
    s["dec3"] = s["up3"] - 4
    s["up2"] = 2 * s["dec3"]
    s["dec2"] = s["up2"] - 4
    s["up1"] = 2 * s["dec2"]
    s["dec1"] = s["up1"] - 4
    return s


@pytest.mark.parametrize("n", [188, 508, 572])
def test_unet_crops_follow_the_input(n: int):
    # Valid sides are 16·k + 124 (every pool meets an even size), k ≥ 4; the output is n − 184.
    assert (n - 124) % 16 == 0
    report = report_at("unet", f"{n}x{n}x1")
    layers = by_name(report)
    s = unet_sizes(n)
    assert str(report.output) == f"{n - 184}x{n - 184}x2" == f"{s['dec1']}x{s['dec1']}x2"
    for level in (1, 2, 3, 4):
        up, enc = s[f"up{level}"], s[f"enc{level}"]
        crop = layers[f"crop{level}"]
        assert crop.input.spatial == (enc, enc) and crop.output.spatial == (up, up)
        # the margins are the same at every valid size: 4, 16, 40, 88 pixels a side
        assert (enc - up) // 2 == {4: 4, 3: 16, 2: 40, 1: 88}[level]
    assert not report.warnings


def test_unet_at_an_invalid_size_says_which_pool_does_not_fit():
    # 580 = 572 + 8: enc4 is 65 wide, so pool4 floors (65 − 2)/2 + 1 = 32.5; the crops still centre
    report = report_at("unet", "580x580x1")
    assert [r.full_name for r, _ in report.warnings] == ["pool4"]


def test_unet_table_at_another_input_through_the_cli():
    result = CliRunner().invoke(cli, ["table", "unet", "--input", "508x508x1", "--depth", "0", "--width", "120"])
    assert result.exit_code == 0, result.output
    assert "CROP to 48x48 (like up4)" in result.output and "324x324x2" in result.output


# U-Net's receptive field, by brute force: each output unit's input interval followed back
# through every path (the paper gives no figure). Per axis, a 3x3 valid conv reads units o..o+2,
# a 2x2 pool 2o..2o+1, the 2x2 stride-2 up-conv unit o//2, a crop unit o + margin; a concat
# reads both of its inputs at o. Every map is monotone, so an interval maps to an interval.

Fields = List[Tuple[int, int]]  # per unit of a tensor: the first and last input pixel it sees


def _conv3(x: Fields) -> Fields:
    return [(x[o][0], x[o + 2][1]) for o in range(len(x) - 2)]


def _double(x: Fields) -> Fields:
    return _conv3(_conv3(x))


def _pool(x: Fields) -> Fields:
    return [(x[2 * o][0], x[2 * o + 1][1]) for o in range(len(x) // 2)]


def _up(x: Fields) -> Fields:
    return [x[o // 2] for o in range(2 * len(x))]


def _crop_cat(skip: Fields, up: Fields) -> Fields:
    m = (len(skip) - len(up)) // 2  # centre crop, then the union of both inputs' fields
    return [(min(skip[o + m][0], u[0]), max(skip[o + m][1], u[1])) for o, u in enumerate(up)]


def unet_field(n: int = 572) -> Fields:
    enc1 = _double([(i, i) for i in range(n)])
    enc2 = _double(_pool(enc1))
    enc3 = _double(_pool(enc2))
    enc4 = _double(_pool(enc3))
    bottom = _double(_pool(enc4))
    dec4 = _double(_crop_cat(enc4, _up(bottom)))
    dec3 = _double(_crop_cat(enc3, _up(dec4)))
    dec2 = _double(_crop_cat(enc2, _up(dec3)))
    return _double(_crop_cat(enc1, _up(dec2)))  # the 1x1 head reads one unit


def test_unet_receptive_field_by_brute_force():
    field = unet_field()
    assert len(field) == 388
    # The recurrence r' = r + (F − 1)·j gives 5 (enc1) → 6 j2 → 14 → 16 j4 → 32 → 36 j8 → 68 →
    # 76 j16 → 140 (bottom); each up-conv keeps it and each decoder double conv adds 4 units of
    # its jump: 140 + 32 + 16 + 8 + 4 = 200. But an up-conv's output units 2i and 2i + 1 both
    # read unit i, so a window of the next conv meets 2 or 3 distinct units below depending on
    # where it starts: the true fields are 188 or 204 pixels wide, period 16 (4 narrow, 12 wide).
    widths = [hi - lo + 1 for lo, hi in field]
    assert widths[:16] == [188] * 4 + [204] * 12 and all(widths[o] == widths[o % 16] for o in range(388))
    assert field[0] == (0, 187) and field[-1] == (384, 571)  # the corners see the tile's corners
    centres = [Fraction(lo + hi, 2) - o for o, (lo, hi) in enumerate(field[:16])]
    assert sum(centres) / 16 == 92  # on average unit o is centred on pixel o + 92 (572 = 388 + 2·92)


def test_unet_receptive_field_along_the_encoder():
    report = report_at("unet")
    fields = dict(zip((r.full_name for r in report.layers), report.fields))
    # the recurrence r' = r + (F − 1)·j on the contracting path, as above
    assert fields["enc4.relu2"].text() == "68 j8" and fields["bottom.relu2"].text() == "140 j16"
    assert fields["up4"].text() == "140 j8"  # one input unit per output: the field is kept
    assert [fields[f"crop{k}"].text() for k in (4, 3, 2, 1)] == ["68 j8", "32 j4", "14 j2", "5 j1"]


def test_unet_output_field_is_not_claimed_exact():
    # The brute force above finds fields of 188 and 204: one exact "size j jump" would be wrong.
    # Today the engine says "not aligned" (it anchors the up-conv's field on output unit 0, so
    # crop4's centre 131/2 and up4's 139/2 differ); whatever it says, it must not claim exactness.
    field = report_at("unet").fields[-1]
    assert field.status == "unaligned" or not field.exact, field.text()
    if field.status == "local":
        assert all(a.size >= 204 for a in field.axes), field.text()  # an upper bound, then


def test_verify_unet_at_its_smallest_valid_input():
    # 188 = 16·4 + 124: the bottom is 4x4, the output 4x4x2
    result = CliRunner().invoke(cli, ["verify", "unet", "--input", "188x188x1", "--width", "120"])
    assert result.exit_code == 0, result.output
    assert "53 of 53 layers verified" in result.output


# --- FCN-ResNet50 -----------------------------------------------------------------------------

def out_size(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


def fcn_macs(h: int, w: int, aux: bool = False) -> int:
    """torchvision's fcn_resnet50 at h x w, from the layer formulas (MACs = output positions ×
    kernel area × in channels × out channels). Dilation changes no count: layer3 and layer4 stay
    at layer2's size; a bottleneck of width c reading 4c channels costs P·(4c·c + 9c² + 4c²)."""
    h1, w1 = out_size(h, 7, 2, 3), out_size(w, 7, 2, 3)          # conv1
    macs = h1 * w1 * 7 * 7 * 3 * 64
    h2, w2 = out_size(h1, 3, 2, 1), out_size(w1, 3, 2, 1)        # maxpool
    p1 = h2 * w2
    macs += p1 * (64 * 64 + 9 * 64 * 64 + 64 * 256 + 64 * 256)  # layer1.0 with its 1x1 shortcut
    macs += 2 * p1 * (256 * 64 + 9 * 64 * 64 + 64 * 256)
    p2 = out_size(h2, 3, 2, 1) * out_size(w2, 3, 2, 1)            # layer2's stride; then no more
    macs += p1 * 256 * 128 + p2 * (9 * 128 * 128 + 128 * 512 + 256 * 512)
    macs += 3 * p2 * (512 * 128 + 9 * 128 * 128 + 128 * 512)
    macs += p2 * (512 * 256 + 9 * 256 * 256 + 256 * 1024 + 512 * 1024)
    macs += 5 * p2 * (1024 * 256 + 9 * 256 * 256 + 256 * 1024)
    macs += p2 * (1024 * 512 + 9 * 512 * 512 + 512 * 2048 + 1024 * 2048)
    macs += 2 * p2 * (2048 * 512 + 9 * 512 * 512 + 512 * 2048)
    macs += p2 * (9 * 2048 * 512 + 512 * 21)                    # FCNHead(2048, 21)
    if aux:
        macs += p2 * (9 * 1024 * 256 + 256 * 21)                # FCNHead(1024, 21) on layer3
    return macs


def test_fcn_by_hand():
    assert fcn_macs(520, 520) == 142_725_772_800  # issue 12's PyTorch measurement
    assert fcn_macs(480, 640) == 162_149_990_400  # 60x80 = 4,800 positions after layer2
    assert fcn_macs(520, 520, aux=True) == 152_716_512_000  # torchvision's docs: 152.717 GFLOPS


@pytest.mark.parametrize("hwc, positions, macs", [
    ("520x520x3", (65, 65), 142_725_772_800),
    ("480x640x3", (60, 80), 162_149_990_400),
])
def test_fcn_resnet50_at_two_inputs(hwc: str, positions: Tuple[int, int], macs: int):
    report = report_at("fcn_resnet50", "" if hwc == "520x520x3" else hwc)
    h, w, _ = (int(v) for v in hwc.split("x"))
    assert report.totals.params == 32_957_013  # the same at every input
    assert report.totals.macs == macs == fcn_macs(h, w)
    layers = by_name(report)
    assert layers["backbone.layer4.2.relu1"].output == Shape(positions, 2048)  # output stride 8
    assert str(report.output) == f"{h}x{w}x21"
    assert layers["out"].output == Shape((h, w), 21)


def fcn_with_aux(hwc: Tuple[int, int, int] = (520, 520, 3)):
    """The bundled spec plus the auxiliary head its header describes (aux_loss=True, as the
    pretrained weights): FCNHead(1024, 21) on layer3, upsampled to the input, a second output."""
    path = Path(catalog.directory()) / "fcn_resnet50.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["input"] = list(hwc)
    data["layers"] += [
        {"from": "layer3", "seq": ["conv256k3p1nb bn relu dropout0.1 conv21k1"], "name": "aux_classifier"},
        {"upsample": {"like": "input", "mode": "bilinear"}, "name": "aux"},
    ]
    data["outputs"] = ["out", "aux"]
    return analyse(parse_yaml(yaml.safe_dump(data, sort_keys=False), "fcn_resnet50_aux.yaml"))


@pytest.mark.parametrize("hwc", [(520, 520, 3), (480, 640, 3)])
def test_fcn_with_the_aux_head_is_torchvisions_published_model(hwc):
    report = fcn_with_aux(hwc)
    # FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1: num_params 35,322,218 = 32,957,013 + the aux
    # head's 9·1,024·256 + 2·256 + 256·21 + 21 = 2,365,205
    assert report.totals.params == 35_322_218 == 32_957_013 + 2_365_205
    assert report.totals.macs == fcn_macs(hwc[0], hwc[1], aux=True)
    layers = by_name(report)
    assert layers["out"].output == layers["aux"].output == Shape(hwc[:2], 21)
    assert [(o.name, o.shape) for o in report.outputs] == [("out", Shape(hwc[:2], 21)), ("aux", Shape(hwc[:2], 21))]
