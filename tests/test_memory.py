"""The memory model and the counting conventions, against the seeds and by hand."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from convcalc.analysis.engine import Conventions, analyse
from convcalc.cli import cli
from convcalc.load import load
from convcalc.report.numbers import human_bytes
from convcalc.spec.layer_string import parse_string

# cs231n's VGG-16 listing (seed 002), the "memory" of every line: input, 13 convs, 5 pools, 3 fc.
VGG16_LISTING_VALUES = (224 * 224 * 3 + 2 * 224 * 224 * 64 + 112 * 112 * 64 + 2 * 112 * 112 * 128 + 56 * 56 * 128
                        + 3 * 56 * 56 * 256 + 28 * 28 * 256 + 3 * 28 * 28 * 512 + 14 * 14 * 512
                        + 3 * 14 * 14 * 512 + 7 * 7 * 512 + 4096 + 4096 + 1000)


def test_vgg16_forward_memory_is_the_listing_when_activations_run_in_place():
    report = analyse(load("vgg16"), conventions=Conventions(inplace=True))
    assert VGG16_LISTING_VALUES == 15_237_608
    # The bundled spec also has a softmax (1,000 values) the listing does not show.
    assert report.totals.activations == VGG16_LISTING_VALUES + 1000
    # With every ReLU and dropout output stored apart (PyTorch without inplace=True):
    everything = analyse(load("vgg16")).totals.activations
    assert everything == report.totals.activations + 13_547_520 + 2 * 4096 + 2 * 4096  # 13 conv ReLUs, 2 fc ReLUs, 2 dropouts


def test_vgg16_params_without_biases_are_the_listing():
    report = analyse(load("vgg16"), conventions=Conventions(bias=False))
    # the listing's "params: (3·3·3)·64 = 1,728 ..." lines, which do "not count biases"
    assert report.totals.counted_params == 138_357_544 - (64 * 2 + 128 * 2 + 256 * 3 + 512 * 6 + 4096 * 2 + 1000)
    assert report.totals.counted_params == 138_344_128
    assert [report.counted_params(r) for r in report.layers if r.layer.kind == "conv"][:2] == [1_728, 36_864]


def test_the_training_figure_is_the_peak_of_a_step_not_every_activation_kept():
    # issue 20: the old figure (every activation kept + weights + gradients + state) was 5,134 MB
    # for ResNet-50 at batch 32 with momentum; a real step peaks at 2,831 MiB (tests/test_step.py)
    from convcalc.analysis.step import step
    from convcalc.analysis.training import training

    report = analyse(load("resnet50"), dtype="float32", batch=32, conventions=Conventions(optimizer="momentum"))
    m = report.memory
    params = 25_557_032
    assert m.weight_bytes == (params + 53_120) * 4
    assert m.gradient_bytes == params * 4
    assert m.optimizer_bytes == params * 4  # momentum: one buffer per parameter
    assert m.training_bytes == step(report, training(report), "momentum").peak_bytes
    everything_kept = m.forward_bytes + m.weight_bytes + m.gradient_bytes + m.optimizer_bytes
    assert m.training_bytes < 0.6 * everything_kept


@pytest.mark.parametrize("dtype, size", [("float32", 4), ("float16", 2), ("bfloat16", 2), ("int8", 1)])
def test_dtype_scales_every_byte_figure(dtype, size):
    m = analyse(load("alexnet"), dtype=dtype).memory
    assert m.forward_bytes == m.activations * size
    assert m.weight_bytes == 62_378_344 * size


def test_inference_peak_along_a_chain_is_the_largest_input_output_pair():
    # 4x4x1 (16) -> conv 8 (128) -> conv 2 (32): live pairs 16 + 128, then 128 + 32
    report = analyse(parse_string("4x4x1 conv8k1 conv2k1"))
    assert report.memory.peak == 128 + 32


def test_inference_peak_through_a_block_keeps_the_input_and_waiting_branches():
    # input 64; branch 1 makes 128 then 64; branch 2 makes 64; concat makes 128.
    # While branch 1 runs the input (needed by branch 2) stays: 64 + 64 + 128 = 256.
    # While branch 2 runs, branch 1's output waits: 64 (b1 out) + 64 (input) + 64 (b2 out) = 192.
    # The concat: 64 + 64 + 128 = 256.
    report = analyse(parse_string("8x8x1 cat(conv2k1 conv1k1 | conv1k1)"))
    assert report.memory.peak == 256
    # a residual block: the identity shortcut keeps the input alive until the add
    report = analyse(parse_string("8x8x1 res(conv4k1 conv1k1)"))
    # input (64, kept for the add) + the first conv's output (256) + the second's (64)
    assert report.memory.peak == 64 + 256 + 64


def test_count_ops_adds_element_wise_work():
    text = "8x8x4 conv4k3p1 bn relu maxpool2"
    plain = analyse(parse_string(text)).totals
    conv_macs = 8 * 8 * 9 * 4 * 4
    assert plain.work == conv_macs
    every = analyse(parse_string(text), conventions=Conventions(ops=("norm", "act", "pool"))).totals
    assert every.work == conv_macs + 256 + 256 + 4 * 4 * 4 * 4  # bn and relu per element, pool per window element
    flops = analyse(parse_string(text), conventions=Conventions(count="flops", ops=("norm",))).totals
    assert flops.work == 2 * conv_macs + 2 * 256  # folded batchnorm: a multiply and an add per element


def test_every_output_states_its_conventions():
    result = CliRunner().invoke(cli, ["table", "vgg16", "--format", "json", "--no-bias", "--count", "flops",
                                      "--count-ops", "norm,act", "--inplace", "--optimizer", "momentum",
                                      "--dtype", "float16", "--batch", "8"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    c = data["conventions"]
    assert (c["count"], c["bias"], c["ops"], c["inplace"], c["optimizer"], c["dtype"], c["batch"]) == (
        "flops", False, ["norm", "act"], True, "momentum", "float16", 8)
    assert data["totals"]["counted"]["params"] == 138_344_128
    assert data["totals"]["params"] == 138_357_544  # raw figures never change
    assert data["totals"]["counted"]["work"] == 2 * 15_470_264_320 + sum(
        layer["ops"] for layer in data["layers"] if layer["kind"] == "relu")
    assert data["memory"]["optimizer_bytes"] == 138_357_544 * 2
    table = CliRunner().invoke(cli, ["table", "vgg16", "--no-bias", "--inplace", "--width", "150"])
    assert "params: weights only (biases left out)" in table.stdout
    assert "in-place activations left out" in table.stdout


def test_bad_ops_are_usage_errors():
    result = CliRunner().invoke(cli, ["table", "lenet5", "--count-ops", "norm,relu"])
    assert result.exit_code == 2
    assert "'relu' is not one of norm, act, pool, all" in result.output


def test_human_bytes_uses_binary_prefixes():
    assert human_bytes(96 * 2**20) == "96.0 MiB"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(3 * 2**30) == "3.0 GiB"


def test_why_tools_disagree_figures():
    """The figures the README's "Why tools disagree" table quotes."""
    grouped = ("227x227x3 conv96k11s4 maxpool3s2 lrn conv256k5p2g2 maxpool3s2 lrn conv384k3p1 conv384k3p1g2 "
               "conv256k3p1g2 maxpool3s2 fc4096 fc4096 fc1000")
    totals = analyse(parse_string(grouped)).totals
    assert (totals.params, totals.macs) == (60_965_224, 724_406_816)  # "61M", "0.7 GFLOP"
    vgg = analyse(load("vgg16"), conventions=Conventions(ops=("norm", "act", "pool"))).totals
    assert vgg.work == 15_489_941_504
    conv1_2 = next(r for r in analyse(load("vgg16")).layers if r.name == "conv1_2")
    assert 15_470_264_320 - conv1_2.macs == 13_620_576_256  # the slide's "13.6 GFLOP"
    resnet = analyse(load("resnet50")).totals
    assert resnet.params + resnet.buffers == 25_610_152  # Keras-style total: + moving mean and variance
    readme = (__import__("pathlib").Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for figure in ("60,965,224", "724,406,816", "15,489,941,504", "13,620,576,256", "25,610,152", "138,344,128",
                   "15,237,608", "30,940,528,640"):
        assert figure in readme
