"""The roofline bound (analysis/roofline.py) and the device figures it uses (analysis/devices.py).

The bound must never exceed what was measured: at the matching precision, the bound's time per
image is at most the measured time per image. The measured figures are NVIDIA's own, for
ResNet-50 v1.5 (torchvision's resnet50, the bundled 'resnet50'), from DeepLearningExamples:

- PyTorch/Classification/ConvNets/resnet50v1.5/README.md, "Training performance results"
  (pytorch-21.03 NGC container, 1 GPU, batch sizes from ConvNets/configs.yml: DGX1V FP32 112,
  AMP 256; DGXA100 TF32 256, AMP 256): NVIDIA DGX-1 16GB (V100 16GB) FP32 367 img/s, mixed
  precision 1200 img/s; NVIDIA DGX A100 (A100 80GB) TF32 938 img/s, mixed precision 2470 img/s.
- TensorFlow/Classification/ConvNets/resnet50v1.5/README.md, "Training performance results"
  (TensorFlow 20.06-tf1-py3, XLA, 1 GPU): V100 16G FP32 412 img/s at batch 128, mixed
  precision 1270 img/s at batch 256; A100 40GB TF32 909 img/s, mixed precision 2375 img/s at
  batch 256. XLA fuses layers, which the bound does not model (it bounds layers run one by
  one, as eager PyTorch runs them); these hold anyway and are kept as a second check.

Issue 20 quotes "1,261 img/s FP32 on a V100 (batch 256)" as a training figure. In that README
1,261 img/s is the V100 16GB's FP32 *inference* throughput at batch 256; FP32 training is 367
img/s. No FP32 training step can reach 1,261 img/s on a V100: the bound below says at most 477.
Mixed precision (AMP) keeps FP32 master weights and runs some layers in FP32; --dtype float16
moves fewer bytes than that, so its bound is lower still, and a bound.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from convcalc.analysis.devices import DEVICES, find_device, tera
from convcalc.analysis.engine import analyse
from convcalc.analysis.plan_result import Roofline
from convcalc.analysis.roofline import roofline
from convcalc.analysis.training import training
from convcalc.load import load
from convcalc.report.numbers import duration, significant

# device, dtype, batch, measured img/s, the source
PUBLISHED = [
    ("V100 16GB", "float32", 112, 367, "DLE PyTorch RN50 v1.5, DGX-1 16GB, 1 GPU, FP32"),
    ("V100 16GB", "float16", 256, 1200, "DLE PyTorch RN50 v1.5, DGX-1 16GB, 1 GPU, mixed precision"),
    ("A100 80GB", "float32", 256, 938, "DLE PyTorch RN50 v1.5, DGX A100 80GB, 1 GPU, TF32"),
    ("A100 80GB", "float16", 256, 2470, "DLE PyTorch RN50 v1.5, DGX A100 80GB, 1 GPU, mixed precision"),
    ("V100 16GB", "float32", 128, 412, "DLE TensorFlow RN50 v1.5 + XLA, DGX-1 16G, 1 GPU, FP32"),
    ("V100 16GB", "float16", 256, 1270, "DLE TensorFlow RN50 v1.5 + XLA, DGX-1 16G, 1 GPU, mixed precision"),
    ("A100 40GB", "float32", 256, 909, "DLE TensorFlow RN50 v1.5 + XLA, DGX A100 40GB, 1 GPU, TF32"),
    ("A100 40GB", "float16", 256, 2375, "DLE TensorFlow RN50 v1.5 + XLA, DGX A100 40GB, 1 GPU, mixed precision"),
]


def bound_of(spec: str, device: str, dtype: str = "float32", batch: int = 1, optimizer: str = "sgd") -> Roofline:
    report = analyse(load(spec), dtype=dtype, batch=batch)
    found = find_device(device)
    assert found is not None
    return roofline(report, training(report), found, optimizer)


@pytest.mark.parametrize("device, dtype, batch, measured, source", PUBLISHED)
def test_the_bound_never_exceeds_what_nvidia_measured(device: str, dtype: str, batch: int, measured: int,
                                                      source: str) -> None:
    bound = bound_of("resnet50", device, dtype, batch, "momentum")  # NVIDIA trains with SGD + momentum
    assert not bound.missing
    assert bound.step_seconds / batch <= Fraction(1, measured), source
    # and it is not vacuous (a bound of 0 s would pass the line above): within 3x of the measurement
    assert bound.images_per_second is not None and bound.images_per_second <= 3 * measured, source


def test_a_v100_cannot_train_resnet50_at_1261_images_a_second_in_fp32() -> None:
    # the figure is FP32 inference; FP32 training is bound well below it, even by FLOPs alone
    bound = bound_of("resnet50", "v100-16", "float32", 256)
    assert bound.precision == "fp32" and bound.images_per_second is not None
    assert bound.images_per_second < 1261
    compute_only = Fraction(bound.flops, bound.peak_flops) / 256
    assert compute_only > Fraction(1, 1261)  # 24.3 GFLOP an image at 15.7 TFLOP/s: 1.55 ms > 0.79 ms


# "8x8x3 conv4k3p1 relu fc10" at batch 2, float32 (4 B): tensors of 192, 256 and 10 elements a sample,
# conv 3*3*3*4 + 4 = 112 params, fc 256*10 + 10 = 2570. Each figure below is written out by hand.
TINY = "8x8x3 conv4k3p1 relu fc10"
X, Y, Z, W_CONV, W_FC = 192 * 4 * 2, 256 * 4 * 2, 10 * 4 * 2, 112 * 4, 2570 * 4


def test_each_pass_moves_what_it_must_read_and_write() -> None:
    bound = bound_of(TINY, "v100-16", "float32", 2)
    conv, relu, fc = bound.layers
    assert conv.forward.bytes == X + W_CONV + Y  # read x and w, write y
    # the network's input needs no gradient: read dy and the saved x, write dw (no dx, so w not read)
    assert conv.backward.bytes == Y + X + W_CONV
    assert relu.forward.bytes == Y + Y
    assert relu.backward.bytes == Y + Y + Y  # read dy and the saved output, write dx
    assert fc.forward.bytes == Y + W_FC + Z
    assert fc.backward.bytes == Z + Y + W_FC + Y + W_FC  # read dy, saved x, w; write dx, dw
    assert bound.optimizer_bytes == 3 * (112 + 2570) * 4  # SGD: read w and dw, write w


def test_flops_are_twice_the_macs_of_the_whole_batch_and_times_their_maximum() -> None:
    bound = bound_of(TINY, "v100-16", "float32", 2)
    conv = bound.layers[0]
    macs = 8 * 8 * 4 * 27  # per sample
    assert conv.forward.flops == conv.backward.flops == 2 * macs * 2  # backward: the weight gradient only
    peak, bandwidth = 15_700_000_000_000, 900_000_000_000
    assert conv.forward.seconds == max(Fraction(conv.forward.flops, peak), Fraction(conv.forward.bytes, bandwidth))
    assert bound.step_seconds == sum((r.seconds for r in bound.layers), Fraction(bound.optimizer_bytes, bandwidth))


def test_a_layer_is_compute_bound_when_its_intensity_reaches_the_ridge() -> None:
    # a 3x3 conv of 256 channels on 56x56 does ~4.6 KFLOP per byte moved at batch 64: compute-bound;
    # batchnorm and ReLU do no counted FLOPs: memory-bound
    bound = bound_of("56x56x256 conv256k3p1 bn relu", "a100-80", "float16", 64)
    conv, bn, relu = bound.layers
    assert conv.intensity is not None and conv.intensity >= bound.ridge and conv.bound == "compute"
    assert conv.forward.bound == conv.backward.bound == "compute"
    assert bn.bound == relu.bound == "memory" and bn.intensity == 0
    assert bound.ridge == Fraction(312 * 10**12, 2039 * 10**9)  # FP16 tensor cores 312 TFLOP/s over 2,039 GB/s


def test_layers_before_the_first_trained_one_have_no_backward() -> None:
    bound = bound_of("8x8x3 maxpool conv4k3p1", "t4", "float32", 1)
    pool, conv = bound.layers
    assert pool.backward.bytes == 0 and pool.backward.bound == "" and pool.forward.bytes > 0
    assert conv.backward.bytes > 0


def test_pooling_backward_reads_its_indices_not_its_saved_input() -> None:
    # max pooling saves its input (for its shape) and int64 indices; backward reads dy and the
    # indices and writes dx
    bound = bound_of("8x8x4 conv4k1 maxpool", "t4", "float32", 1)
    pool = bound.layers[1]
    dy, indices, dx = 4 * 4 * 4 * 4, 4 * 4 * 4 * 8, 8 * 8 * 4 * 4
    assert pool.backward.bytes == dy + indices + dx
    assert pool.forward.bytes == dx + dy + indices  # read x, write y and the indices


def test_a_tensor_read_twice_is_moved_once_at_the_least() -> None:
    # x·x: forward reads x and writes the product; backward reads dy and x, writes one dx
    mul = bound_of("8x8x4 conv4k1 mul( | )", "t4").layers[1]
    x = 8 * 8 * 4 * 4
    assert mul.forward.bytes == x + x and mul.backward.bytes == x + x + x


def test_views_and_additions_move_nothing_backward() -> None:
    bound = bound_of("8x8x4 conv4k1 flatten fc2", "t4", "float32", 1)
    flatten = bound.layers[1]
    assert flatten.forward.bytes == flatten.backward.bytes == 0 and flatten.bound == ""
    spec = "8x8x4 conv4k1 add(conv4k1 | )"
    add = next(b for r, b in zip(analyse(load(spec)).layers, bound_of(spec, "t4").layers) if r.layer.kind == "add")
    assert add.backward.bytes == 0 and add.forward.bytes == 3 * 8 * 8 * 4 * 4  # read both, write the sum


def test_the_optimizer_step_moves_more_with_more_state() -> None:
    params = sum(r.params for r in analyse(load(TINY)).layers)
    for optimizer, tensors in (("sgd", 3), ("momentum", 5), ("adam", 7), ("adamw", 7)):
        assert bound_of(TINY, "v100-16", optimizer=optimizer).optimizer_bytes == tensors * params * 4


def test_precision_follows_the_dtype_and_says_when_the_device_has_none() -> None:
    assert bound_of(TINY, "a100-80").precision == "tf32"  # cuDNN may use TF32 for float32 by default
    assert bound_of(TINY, "v100-16").precision == "fp32"  # no TF32 on Volta
    assert bound_of(TINY, "v100-16", "float16").peak_flops == 125 * 10**12
    none = bound_of(TINY, "v100-16", "bfloat16")
    assert none.missing == "V100 16GB has no BF16 peak in its datasheet for --dtype bfloat16" and not none.layers
    orin = bound_of(TINY, "jetson agx orin 64")
    assert orin.missing.startswith("Jetson AGX Orin 64GB: not given") and orin.step_seconds == 0


def test_device_figures_are_exact_and_dense() -> None:
    assert tera("15.7") == 15_700_000_000_000 and tera("989.5") == 989_500_000_000_000 and tera("125") == 125 * 10**12
    with_figures = [d for d in DEVICES if d.bandwidth]
    assert {d.name for d in DEVICES} - {d.name for d in with_figures} == {"Jetson AGX Orin 32GB",
                                                                         "Jetson AGX Orin 64GB"}
    for d in with_figures:
        assert d.fp32_flops and d.fp16_flops and d.compute_source, d.name
        # tensor cores are never slower than the CUDA cores, FP16 at least TF32's rate; BF16 runs at
        # FP16's on every part that has it (a sparsity figure left undivided would break these)
        assert d.fp32_flops <= (d.tf32_flops or d.fp32_flops) <= d.fp16_flops, d.name
        assert d.bf16_flops in (None, d.fp16_flops), d.name
    h100 = find_device("h100")
    assert h100 is not None and h100.fp16_flops == 1_979 * 10**12 // 2  # the datasheet's sparse 1,979 halved
    assert "halved" in h100.compute_source


def test_rounded_figures_stay_bounds() -> None:
    assert duration(Fraction(2352, 10**4)) == "235 ms"  # 235.2 ms: down
    assert duration(Fraction(23599, 10**5)) == "235 ms"  # 235.99 ms: still down, never up to 236
    assert duration(Fraction(97, 10**9)) == "97.0 ns" and duration(Fraction(3, 2)) == "1.50 s"
    assert significant(Fraction(47609, 100), up=True) == "477"


def plan(*args: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from convcalc.cli import cli

    return CliRunner().invoke(cli, ["plan", *args], catch_exceptions=False)


def test_plan_json_carries_the_bound_per_layer_and_in_total() -> None:
    result = plan(TINY, "--batch", "2", "--device", "v100-16", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    conv = doc["layers"][0]
    assert conv["bound"] == "memory" and conv["arithmetic_intensity"] == (2 * 6912 * 2 * 2) / (2 * (X + W_CONV + Y))
    assert conv["roofline"]["forward"]["bytes_per_step"] == X + W_CONV + Y
    roof = doc["roofline"]
    exact = Fraction(roof["step_time_lower_bound_s_exact"])
    assert doc["totals"]["step_time_lower_bound_s"] == roof["step_time_lower_bound_s"] == float(exact)
    assert roof["images_per_s_upper_bound"] == float(2 / exact)
    assert (roof["peak_flops_per_s"], roof["bandwidth_bytes_per_s"]) == (15_700_000_000_000, 900_000_000_000)
    assert "lower bound, never a prediction" in roof["conventions"]["step_time_lower_bound_s"]


def test_plan_table_labels_the_roofline_a_bound() -> None:
    result = plan("resnet50", "--batch", "256", "--dtype", "float16", "--device", "v100-16")
    assert result.exit_code == 0
    assert "roofline on V100 16GB, FP16 tensor cores — a lower bound on time, not a prediction" in result.output
    assert "no faster than 127 ms per step of batch 256" in result.output
    assert "at most 2,010 samples/s on V100 16GB" in result.output  # SGD's step, the least: 2,009.4 rounded up
    assert "a bound, not a prediction" in result.output


def test_plan_without_figures_says_why_and_an_unknown_device_is_a_usage_error() -> None:
    result = plan(TINY, "--device", "jetson agx orin 32")
    assert result.exit_code == 0 and "roofline: no bound — Jetson AGX Orin 32GB: not given" in result.output
    result = plan(TINY, "--device", "h200")
    assert result.exit_code == 2 and "no device called 'h200'; known: V100 16GB, V100 32GB, T4" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("device, dtype, batch, measured, source", [p for p in PUBLISHED if p[1] == "float16"])
def test_plan_with_amp_bounds_at_the_half_precision_peak(device: str, dtype: str, batch: int, measured: int,
                                                         source: str) -> None:
    # NVIDIA's mixed-precision runs are autocast over a float32 model: `plan --amp fp16` is that run, and its
    # bound must not claim fewer images a second than were measured (at the FP32 peak it would: 477 < 1,200)
    result = plan("resnet50", "--batch", str(batch), "--amp", "fp16", "--device", device, "-f", "json")
    assert result.exit_code == 0, result.output
    roof = json.loads(result.output)["roofline"]
    assert roof["precision"] == "fp16"
    assert Fraction(roof["step_time_lower_bound_s_exact"]) / batch <= Fraction(1, measured), source
