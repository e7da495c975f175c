"""Disagreements with PyTorch that benchmarks/differential_torch.py found, pinned without torch.

Every figure here was measured with torch 2.14.1 and torchvision 0.29.1 (CPU) as its comment
says, and is written in as a constant: the suite never imports torch.
"""

from __future__ import annotations

import pytest

from convcalc import reference as ref
from convcalc.analysis.engine import analyse
from convcalc.layers.resize import centre_start
from convcalc.reference import Tensor
from convcalc.reference.verify import Settings, verify_layer
from convcalc.spec.layer_string import parse_string

# torchvision's center_crop keeps int(round(margin / 2.0)) pixels before the window, Python
# rounding a half to even. Measured: for m in range(10),
#   center_crop(torch.arange(12.).reshape(1, 1, 1, 12), [1, 12 - m])[0, 0, 0, 0]
TORCHVISION_CROP_STARTS = [0, 0, 1, 2, 2, 2, 3, 4, 4, 4]


@pytest.mark.parametrize("margin", range(10))
def test_crop_starts_where_torchvision_center_crop_starts(margin: int):
    assert centre_start(margin) == TORCHVISION_CROP_STARTS[margin]
    # the rule's receptive step carries the start: unit o of the crop is input pixel o + start
    report = analyse(parse_string(f"1x12x1 crop1x{12 - margin}"))
    layer = report.layers[0]
    steps = layer.layer.receptive(layer.input)
    assert steps is not None and [int(s.shift) for s in steps] == [0, TORCHVISION_CROP_STARTS[margin]]


def test_reference_crop_keeps_torchvision_pixels():
    # center_crop(torch.arange(49.).reshape(1, 1, 7, 7), [4, 4]): a margin of 3 starts at 2, not 1
    measured = [[16.0, 17.0, 18.0, 19.0], [23.0, 24.0, 25.0, 26.0], [30.0, 31.0, 32.0, 33.0],
                [37.0, 38.0, 39.0, 40.0]]
    x = Tensor((1, 7, 7), [float(i) for i in range(49)])
    assert ref.Crop(4)(x).output.nested() == [measured]


def test_crop_field_start_moves_with_the_window():
    # 7 → 4: the first output unit is input pixel 2 (torchvision), so the field starts there
    report = analyse(parse_string("7x7x1 crop4"))
    [axis, _] = report.fields[-1].axes
    assert axis.start == 2


# nn.GroupNorm(G, C, affine=False | bias=False) and nn.LayerNorm(C, elementwise_affine=False |
# bias=False) are layers PyTorch builds that convcalc could not write. Measured for C = 12, G = 3,
# sum(p.numel() for p in m.parameters()) (no buffers in any of them):
#   GroupNorm(3, 12) 24, GroupNorm(3, 12, bias=False) 12, GroupNorm(3, 12, affine=False) 0,
#   LayerNorm(12) 24, LayerNorm(12, bias=False) 12, LayerNorm(12, elementwise_affine=False) 0
NORMS = [("4x4x12 groupnorm3", 24), ("4x4x12 groupnorm3nb", 12), ("4x4x12 groupnorm3na", 0),
         ("4x4x12 layernorm", 24), ("4x4x12 layernormnb", 12), ("4x4x12 layernormna", 0), ("16x12 lnna", 0)]


@pytest.mark.parametrize("spec, params", NORMS)
def test_norms_without_affine_parameters(spec: str, params: int):
    layer = analyse(parse_string(spec)).layers[0]
    assert (layer.params, layer.buffers, layer.macs, layer.output.dims) == (params, 0, 0, layer.input.dims)
    # and the reference layer, built from the rule and run, measures the same
    check = verify_layer(layer, Settings(full=True))
    assert check.status == "verified", (check.reason, check.runs)


# F.interpolate takes each mode on one rank of tensor only. Measured with torch 2.14.1,
# nn.Upsample(scale_factor=2, mode=m)(torch.zeros(shape)):
#   (1, 3, 13) bilinear -> NotImplementedError "Got 3D input, but bilinear mode needs 4D input"
#   (1, 3, 13, 13) linear -> "Got 4D input, but linear mode needs 3D input"
#   (1, 3, 4, 4, 4) bicubic, (1, 3, 4, 4) trilinear -> refused likewise
#   (1, 3, 2, 2, 2, 2) nearest -> "Only 3D, 4D and 5D input Tensors supported (got 6D)"
#   (1, 3, 13) linear -> (1, 3, 26); (1, 3, 4, 4) area -> (1, 3, 8, 8); (1, 3, 4, 4, 4) trilinear -> 8x8x8
@pytest.mark.parametrize("input_, mode", [
    ("13x3", "bilinear"), ("13x13x3", "linear"), ("4x4x4x3", "bicubic"), ("4x4x3", "trilinear"),
    ("13x3", "trilinear"), ("2x2x2x2x3", "nearest"), ("2x2x2x2x3", "area"),
])
def test_upsample_refuses_a_mode_on_a_rank_pytorch_refuses(input_: str, mode: str):
    from convcalc.errors import ShapeError
    from convcalc.spec.yaml_reader import parse_yaml
    dims = ", ".join(input_.split("x"))
    with pytest.raises(ShapeError, match="PyTorch's interpolate refuses it"):
        analyse(parse_yaml(f"input: [{dims}]\nlayers:\n  - upsample: {{scale: 2, mode: {mode}}}\n"))


@pytest.mark.parametrize("input_, mode, output", [
    ("13x3", "linear", (26, 3)), ("4x4x3", "area", (8, 8, 3)), ("4x4x4x3", "trilinear", (8, 8, 8, 3)),
    ("4x4x3", "bicubic", (8, 8, 3)), ("13x3", "nearest", (26, 3)), ("4x4x4x3", "nearest", (8, 8, 8, 3)),
])
def test_upsample_takes_each_mode_where_pytorch_does(input_: str, mode: str, output: tuple):
    from convcalc.spec.yaml_reader import parse_yaml
    dims = ", ".join(input_.split("x"))
    report = analyse(parse_yaml(f"input: [{dims}]\nlayers:\n  - upsample: {{scale: 2, mode: {mode}}}\n"))
    assert report.layers[0].output.dims == output


# Measured with torch 2.14.1 on a (batch, channels) tensor torch.zeros(1, 8):
#   nn.LocalResponseNorm(3) -> ValueError "Expected 3D or higher dimensionality input (got 2 dimensions)"
#   nn.ChannelShuffle(2) -> RuntimeError "channel_shuffle expects input with > 2 dims, but got input with sizes [1, 8]"
# and both accept torch.zeros(1, 8, 5), a 1-D map: (1, 8, 5).
@pytest.mark.parametrize("layer", ["lrn3", "shuffle2"])
def test_lrn_and_shuffle_refuse_a_vector_as_pytorch_does(layer: str):
    from convcalc.errors import ShapeError
    with pytest.raises(ShapeError, match="got the flat vector 8"):
        analyse(parse_string(f"8 {layer}"))
    assert analyse(parse_string(f"5x8 {layer}")).layers[0].output.dims == (5, 8)
