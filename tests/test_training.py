"""Saved-for-backward bytes and training MACs (analysis/training.py) against what PyTorch keeps.

The figures below were measured by benchmarks/measure_saved_tensors.py (torch 2.14.1+cu130,
torchvision 0.29.1, CPU, float32, train mode: PyTorch's CPU rules, ``backend="cpu"``): the bytes of the unique non-parameter storages
the pack hook of ``torch.autograd.graph.saved_tensors_hooks`` saw in one forward pass of the
torchvision model on a (batch, 3, 224, 224) input. torch is not a dependency of these tests:
rerun the script to check them. Batch 2 is not twice batch 1 where there is batchnorm: its 4
per-channel vectors are saved once, whatever the batch.
"""

from __future__ import annotations

import json

import pytest

from convcalc.analysis.engine import analyse
from convcalc.analysis.plan_result import SAVED_ROLES
from convcalc.analysis.training import training
from convcalc.load import load
from convcalc.spec.yaml_reader import parse_yaml

VGG16_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
# torchvision's VGG-16: the bundled vgg-d is the paper's network (a softmax at the end, no
# adaptive average pool), so torchvision's is written out as a layer string
VGG16_TORCHVISION = ("224x224x3 " + " ".join("maxpool" if c == "M" else f"conv{c}k3p1 relu" for c in VGG16_CONFIG)
                     + " adaptiveavgpool7 fc4096 relu dropout fc4096 relu dropout fc1000")

MEASURED = {  # spec -> bytes saved for backward at batch 1, batch 2
    "resnet50": (86_334_464, 172_243_968),
    VGG16_TORCHVISION: (73_355_264, 146_710_528),
    "resnet18": (22_256_640, 44_436_480),
    "alexnet-torchvision": (3_741_184, 7_482_368),
    "googlenet": (48_287_360, 96_458_240),  # aux_logits=False, as the bundled spec
    "squeezenet1_0": (35_767_328, 71_534_656),
    "resnet34": (32_351_232, 64_566_272),
    "resnet152": (178_641_920, 356_072_448),
    "squeezenet1_1": (21_069_728, 42_139_456),
    "densenet121": (131_030_528, 261_391_872),  # concat, transition avg pools
    "mobilenet_v2": (78_482_432, 156_691_968),  # dwconv; ReLU6 saves its input
    "shufflenet_v2_x1_0": (20_514_400, 40_899_360),  # chunks are views, the shuffle a copy
    "fcn_resnet50": (1_059_319_552, 2_118_205_952),  # 520x520; dilated convs, bilinear upsampling
    "resnet50_fpn": (584_132_352, 1_168_158_464),  # 800x800; FrozenBatchNorm2d, nearest upsampling
    # torchvision's convnext_tiny(stochastic_depth_prob=0.0) ('convnext_tiny_no_drop_path' in the
    # script): layer norms, per-position linears, GELU, layer scale
    "convnext_tiny": (109_155_808, 218_311_616),
    "vit_b_16": (118_160_680, 236_321_360),  # attention, tokens, class token, position embedding
    # torchvision's swin_t and maxvit_t with every StochasticDepth's p set to 0 ('*_no_drop_path'
    # in the script): shifted window attention with a relative position bias (padded, rolled,
    # masked; at batch 1 the last stage's one window keeps the whole qkv), patch merging's reshape
    # and permute (the reshape after the permute a copy); MaxViT's block and grid attention,
    # squeeze-and-excitation's mul
    "swin_t": (107_165_680, 213_498_752),
    "maxvit_t": (308_439_160, 615_272_000),
}


def test_stochastic_depth_is_the_only_difference_from_convnext_as_torchvision_trains_it() -> None:
    # torchvision's default stochastic depth 0.1 keeps one float32 of noise per sample in 17 of
    # its 18 blocks (the first has p = 0): 68 B a sample, which the spec does not model
    measured_with_drop_path = (109_155_876, 218_311_752)
    for batch in (1, 2):
        assert measured_with_drop_path[batch - 1] - saved("convnext_tiny", batch) == 17 * 4 * batch


@pytest.mark.parametrize("spec, noise_per_sample", [("swin_t", 22), ("maxvit_t", 50)])
def test_stochastic_depth_is_the_only_difference_from_swin_and_maxvit_as_torchvision_trains_them(
        spec: str, noise_per_sample: int) -> None:
    # swin_t: 24 stochastic depths (attention and MLP of 12 blocks), the first block's p = 0;
    # maxvit_t: 5 per layer (MBConv; the window and the grid layers call theirs twice), 11
    # layers, the first p = 0. Each keeps one float32 of noise per sample; the specs leave it out
    measured_with_drop_path = {"swin_t": (107_165_768, 213_498_928), "maxvit_t": (308_439_360, 615_272_400)}
    for batch in (1, 2):
        assert measured_with_drop_path[spec][batch - 1] - saved(spec, batch) == noise_per_sample * 4 * batch


def saved(spec: str, batch: int = 1) -> int:
    t = training(analyse(load(spec), batch=batch), backend="cpu")
    assert t.complete, t.unsupported
    return t.saved_bytes


@pytest.mark.parametrize("spec", MEASURED, ids=lambda s: s if len(s) < 30 else "vgg16-torchvision")
@pytest.mark.parametrize("batch", [1, 2])
def test_saved_bytes_equal_pytorchs_exactly(spec: str, batch: int) -> None:
    assert saved(spec, batch) == MEASURED[spec][batch - 1]


def test_nothing_before_the_first_trained_layer_is_saved() -> None:
    # the pool reads the network's input, which needs no gradient: autograd does not record it
    rows = training(analyse(load("32x32x3 maxpool conv8k3 relu")), backend="cpu").layers
    assert rows[0].saved_bytes == 0
    assert rows[1].saved == (16 * 16 * 3 * 4, 0, 0, 0, 0, 0)  # the conv saves its input all the same
    assert rows[1].grad_input_macs == 0 and rows[1].grad_weight_macs == rows[1].forward_macs > 0


def test_a_tensor_two_layers_save_is_counted_once() -> None:
    # relu saves its output; the conv after it saves the same tensor as its input
    rows = training(analyse(load("8x8x2 conv4k1 relu conv4k1")), backend="cpu").layers
    assert rows[1].saved[SAVED_ROLES.index("outputs")] == 8 * 8 * 4 * 4
    assert rows[2].saved_bytes == 0


def test_maxpool_indices_are_int64_and_batchnorm_statistics_do_not_grow_with_the_batch() -> None:
    for batch in (1, 3):
        rows = training(analyse(load("8x8x2 conv4k1 bn maxpool"), dtype="float16", batch=batch), backend="cpu").layers
        assert rows[1].saved == (8 * 8 * 4 * 2 * batch, 0, 0, 0, 4 * 4 * 2, 0)
        assert rows[2].saved[SAVED_ROLES.index("indices")] == 4 * 4 * 4 * 8 * batch


def test_a_layer_saving_a_chunk_keeps_the_whole_tensor() -> None:
    # x.chunk(2, dim=1)[1] is a view: the conv that saves it keeps all of x, counted once
    spec = parse_yaml("input: [4, 4, 8]\nlayers:\n  - conv8k1\n  - concat:\n      - chunk2i0\n"
                      "      - chunk2i1 conv4k1\n")
    rows = training(analyse(spec), backend="cpu").layers
    assert [row.saved_bytes for row in rows] == [4 * 4 * 8 * 4, 0, 0, 4 * 4 * 8 * 4, 0]


# One small network per rule the torchvision CNNs above do not exercise, built in both and
# measured at batch 2 by ``benchmarks/measure_saved_tensors.py --small`` (its nn.Sequential
# equivalents, layernorm over the channels at each position as ConvNeXt's LayerNorm2d).
SMALL = {
    "8x8x3 conv8k3p1 tanh maxpool conv8k3p1 sigmoid fc10 softmax": 9_808,  # outputs
    "8x8x3 conv8k3p1 gelu conv8k3p1 silu conv8k3p1 hardswish conv8k3p1 leakyrelu fc10": 34_304,  # inputs
    "8x8x3 conv8k3p1 lrn conv8k3p1 groupnorm2 conv8k3p1 layernorm": 37_408,  # statistics
    "8x8x3 conv8k3p1 convtranspose4k2s2 upsample2 conv4k1 globalmaxpool fc10": 71_264,
    "8x8x3 conv8k3p1 relu6 conv8k3p1 prelu conv8k3p1 frozenbn fc10": 22_048,
    # a crop is a slice, a view: the conv that saves it keeps the whole map; dropout(0) returns its input
    "8x8x3 conv8k3p1 crop4 conv8k3p1 dropout0 conv4k1": 6_656,
}


@pytest.mark.parametrize("spec", SMALL)
def test_saved_bytes_of_the_other_rules_equal_pytorchs(spec: str) -> None:
    assert saved(spec, 2) == SMALL[spec]


# benchmarks/measure_saved_tensors.py --small's token networks, batch 2, channels last in both
PERMUTED = "input: [4, 6, 8]\nlayers:\n  - pwlinear8\n  - relu\n  - permute: {order: [1, 0, 2]}\n" \
           "  - reshape: {to: [6, 32]}\n  - pwlinear4\n"


def test_a_reshape_of_a_permuted_tensor_is_a_copy_and_of_a_contiguous_one_a_view() -> None:
    # the linear after the copy saves a second tensor (4,608 B measured); after the view it saves
    # the ReLU's output again, counted once (3,072 B measured)
    assert training(analyse(parse_yaml(PERMUTED), batch=2), backend="cpu").saved_bytes == 4_608
    assert saved("4x6x8 pwlinear8 relu reshape4x48 pwlinear4", 2) == 3_072


def test_a_permute_that_moves_only_dims_of_one_is_no_copy() -> None:
    # 1x6x8 -> 6x1x8: the elements stay in their storage's order, so the reshape is a view again
    spec = parse_yaml(PERMUTED.replace("[4, 6, 8]", "[1, 6, 8]").replace("[6, 32]", "[6, 8]"))
    assert training(analyse(spec), backend="cpu").saved_bytes == 2 * 6 * 8 * 4  # linear1's input and the ReLU's output


@pytest.mark.parametrize("spec", ["10x10x8 pwlinear8 attention2w7rb", "10x10x8 pwlinear8 attention2w7shrb"])
def test_window_attention_on_a_grid_it_must_pad_equals_pytorchs(spec: str) -> None:
    # torchvision's ShiftedWindowAttention(8, [7, 7], shift, 2) after a Linear(8, 8), measured by
    # the script's --small: 10x10 padded to 14x14, 4 windows, so q, k and v are copies at batch 1 too
    assert (saved(spec, 1), saved(spec, 2)) == (130_600, 241_992)


def test_relu6_in_place_saves_its_output_the_tensor_the_next_conv_saves() -> None:
    from convcalc.analysis.result import Conventions

    spec = load("8x8x2 conv4k1 relu6 conv4k1")
    apart, inplace = (training(analyse(spec, conventions=Conventions(inplace=flag)), backend="cpu") for flag in (False, True))
    assert apart.saved_bytes - inplace.saved_bytes == 8 * 8 * 4 * 4  # one tensor fewer


def test_a_kind_without_a_rule_is_named_and_the_total_incomplete() -> None:
    # take (x[..., i]) has no rule yet
    t = training(analyse(load("8x8x4 conv4k1 take attention2")), backend="cpu")
    assert t.unsupported == (("take", 1),) and not t.complete
    assert [row.supported for row in t.layers] == [True, False, True]


def test_backward_macs_resnet50() -> None:
    # the 4.089 GMAC forward, 8.06 GMAC backward: twice the forward less the grad-input
    # of conv1, which reads the network input
    r = analyse(load("resnet50"))
    t = training(r)
    assert t.forward_macs == r.totals.macs == 4_089_184_256
    assert t.backward_macs == 2 * r.totals.macs - r.layers[0].macs == 8_060_354_560


def test_frozen_layers_have_no_weight_gradient() -> None:
    spec = parse_yaml("input: [8, 8, 2]\nlayers:\n  - conv: {filters: 4, kernel: 1}\n    frozen: true\n"
                      "  - conv: {filters: 4, kernel: 1}\n")
    rows = training(analyse(spec)).layers
    assert rows[0].backward_macs == 0 and rows[0].saved_bytes == 0  # nothing needs a gradient there
    assert (rows[1].grad_input_macs, rows[1].grad_weight_macs) == (0, 8 * 8 * 4 * 4)  # 4 channels in, 4 out


# --- convcalc plan -------------------------------------------------------------------------


def plan(*args: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from convcalc.cli import cli

    return CliRunner().invoke(cli, ["plan", *args], catch_exceptions=False)


def test_plan_json_carries_the_measured_total_and_per_layer_figures() -> None:
    result = plan("resnet18", "--batch", "2", "--format", "json", "--backend", "cpu")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["totals"]["saved_activation_bytes"] == MEASURED["resnet18"][1]
    assert sum(layer["saved_activation_bytes"] for layer in doc["layers"]) == MEASURED["resnet18"][1]
    assert sum(doc["totals"]["saved"].values()) == MEASURED["resnet18"][1]
    conv1 = doc["layers"][0]
    assert (conv1["name"], conv1["saved"]["inputs"]) == ("conv1", 2 * 224 * 224 * 3 * 4)
    assert conv1["backward_macs"] == conv1["forward_macs"] == 118_013_952  # weight gradient only
    assert doc["totals"]["backward_macs_per_step"] == 2 * doc["totals"]["backward_macs"]
    assert doc["complete"] and doc["backend"] == "cpu" and "saved_activation_bytes" in doc["conventions"]


def test_plan_table_states_its_totals_and_conventions() -> None:
    result = plan("resnet50", "--backend", "cpu")
    assert result.exit_code == 0
    assert "saved for backward: 86,334,464 B" in result.output
    assert "forward 4,089,184,256 MACs, backward 8,060,354,560 MACs per sample" in result.output
    assert "PyTorch's CPU rules" in result.output and "incomplete" not in result.output


def test_plan_counts_flops_as_twice_the_macs() -> None:
    result = plan("resnet50", "--count", "flops")
    assert result.exit_code == 0
    forward, backward = 2 * 4_089_184_256, 2 * 8_060_354_560  # the MACs measured above, 2 FLOPs each
    assert f"forward {forward:,} FLOPs, backward {backward:,} FLOPs per sample" in result.output
    assert "fwd FLOPs" in result.output and "FLOPs = 2 × MACs" in result.output
    doc = json.loads(plan("8x8x3 conv4k3p1 relu fc10", "--count", "flops", "-f", "json", "--batch", "3").output)
    assert doc["count"] == "flops"
    assert doc["totals"]["forward_flops"] == 2 * doc["totals"]["forward_macs"]
    assert doc["totals"]["backward_flops_per_step"] == 3 * 2 * doc["totals"]["backward_macs"]
    assert [layer["backward_flops"] for layer in doc["layers"]] == [2 * 6912, 0, 2 * 2 * 2560]


def test_plan_names_what_it_cannot_count() -> None:
    result = plan("8x8x4 conv4k1 take")
    assert result.exit_code == 0
    assert "incomplete: no saved-tensor rule yet for take ×1" in result.output
    doc = json.loads(plan("8x8x4 conv4k1 take", "-f", "json").output)
    assert doc["unsupported"] == {"take": 1} and not doc["complete"]
    assert [layer["saved_activation_bytes"] for layer in doc["layers"]] == [8 * 8 * 4 * 4, None]


def test_plan_bad_input_is_a_located_error_not_a_traceback() -> None:
    result = plan("8x8x2 conv4k9")
    assert result.exit_code == 2 and "Traceback" not in result.output


# FlopCounterMode's forward and backward counts, halved, on torchvision's models without grouped
# convolutions (its grouped-conv backward overcounts in torch 2.14): benchmarks/measure_backward_flops.py
FLOP_COUNTER_MACS = {
    "resnet18": (1_814_073_344, 3_510_132_736),
    "resnet50": (4_089_184_256, 8_060_354_560),
    VGG16_TORCHVISION: (15_470_264_320, 30_853_824_512),
    "alexnet-torchvision": (714_188_480, 1_358_100_160),
    "densenet121": (2_834_161_664, 5_550_309_376),
}


@pytest.mark.parametrize("spec", FLOP_COUNTER_MACS, ids=lambda s: s.split()[0] if " " not in s[:12] else "vgg16")
def test_backward_macs_equal_flop_counter_modes(spec):
    forward, backward = FLOP_COUNTER_MACS[spec]
    kept = training(analyse(load(spec)))
    assert (kept.forward_macs, kept.backward_macs) == (forward, backward)
