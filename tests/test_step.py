"""The peak of a training step (analysis/step.py) against PyTorch's MemTracker.

The figures below were measured by benchmarks/measure_step_peak.py (torch 2.14.1, torchvision
0.29.1, MemTracker under FakeTensorMode, CPU, float32, train mode): the peak total of a
steady-state step (the optimizer's state made by a step before) of the torchvision model on a
(batch, 3, 224, 224) input with int64 labels, cross-entropy loss, input and labels tracked.
torch is not a dependency of these tests: rerun the script to check them.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from test_training import VGG16_TORCHVISION

from convcalc.analysis.engine import analyse
from convcalc.analysis.plan_result import STEP_CATEGORIES, Step
from convcalc.analysis.result import Conventions
from convcalc.analysis.step import largest_batch, step, step_at
from convcalc.analysis.training import training
from convcalc.load import load
from convcalc.spec import catalog
from convcalc.spec.yaml_reader import parse_yaml

SPECS = {"vgg16": VGG16_TORCHVISION, "alexnet": "alexnet-torchvision"}

MEMTRACKER_PEAK = {  # (model, batch, optimizer) -> MemTracker's peak total, bytes
    ("resnet18", 1, "sgd"): 111_502_576,
    ("resnet18", 1, "momentum"): 158_260_624,
    ("resnet18", 1, "adam"): 206_549_540,
    ("resnet18", 8, "sgd"): 257_455_400,
    ("resnet18", 8, "momentum"): 304_213_448,
    ("resnet18", 8, "adam"): 350_971_744,
    ("resnet18", 32, "sgd"): 782_497_256,
    ("resnet18", 32, "momentum"): 829_255_304,
    ("resnet18", 32, "adam"): 876_013_600,
    ("resnet50", 1, "sgd"): 268_574_200,
    ("resnet50", 1, "momentum"): 370_802_328,
    ("resnet50", 1, "adam"): 473_031_100,
    ("resnet50", 8, "sgd"): 840_166_960,
    ("resnet50", 8, "momentum"): 942_395_088,
    ("resnet50", 8, "adam"): 1_044_623_860,
    ("resnet50", 32, "sgd"): 2_885_381_872,
    ("resnet50", 32, "momentum"): 2_987_610_000,
    ("resnet50", 32, "adam"): 3_089_838_772,
    ("vgg16", 1, "sgd"): 1_169_562_704,
    ("vgg16", 1, "momentum"): 1_722_992_880,
    ("vgg16", 1, "adam"): 3_036_408_588,
    ("vgg16", 8, "sgd"): 1_665_586_312,
    ("vgg16", 8, "momentum"): 2_219_016_488,
    ("vgg16", 8, "adam"): 3_040_623_428,
    ("vgg16", 32, "sgd"): 3_433_387_336,
    ("vgg16", 32, "momentum"): 3_986_817_512,
    ("vgg16", 32, "adam"): 4_540_247_816,
    ("mobilenet_v2", 1, "sgd"): 100_250_352,
    ("mobilenet_v2", 1, "momentum"): 114_269_840,
    ("mobilenet_v2", 1, "adam"): 128_289_960,
    ("mobilenet_v2", 8, "sgd"): 649_025_320,
    ("mobilenet_v2", 8, "momentum"): 663_044_808,
    ("mobilenet_v2", 8, "adam"): 677_064_928,
    ("mobilenet_v2", 32, "sgd"): 2_537_850_856,
    ("mobilenet_v2", 32, "momentum"): 2_551_870_344,
    ("mobilenet_v2", 32, "adam"): 2_565_890_464,
    ("densenet121", 1, "sgd"): 172_943_128,
    ("densenet121", 1, "momentum"): 204_858_552,
    ("densenet121", 1, "adam"): 236_775_432,
    ("densenet121", 8, "sgd"): 1_082_754_896,
    ("densenet121", 8, "momentum"): 1_114_670_320,
    ("densenet121", 8, "adam"): 1_146_587_200,
    ("densenet121", 32, "sgd"): 4_220_962_832,
    ("densenet121", 32, "momentum"): 4_252_878_256,
    ("densenet121", 32, "adam"): 4_284_795_136,
    ("vit_b_16", 1, "sgd"): 694_404_472,
    ("vit_b_16", 1, "momentum"): 1_040_675_096,
    ("vit_b_16", 1, "adam"): 1_405_173_996,
    ("vit_b_16", 8, "sgd"): 1_318_590_344,
    ("vit_b_16", 8, "momentum"): 1_664_860_968,
    ("vit_b_16", 8, "adam"): 2_011_132_200,
    ("vit_b_16", 32, "sgd"): 4_197_982_280,
    ("vit_b_16", 32, "momentum"): 4_544_252_904,
    ("vit_b_16", 32, "adam"): 4_890_524_136,
    ("resnet50", 64, "momentum"): 5_762_142_352,
    ("resnet50", 112, "momentum"): 9_923_940_880,
    # more rules, at batch 8 (the script's "more" networks, stochastic depth off as in the specs)
    ("alexnet", 8, "sgd"): 516_412_040,
    ("alexnet", 8, "adam"): 1_284_421_380,
    ("googlenet", 8, "sgd"): 419_153_616,
    ("googlenet", 8, "adam"): 472_153_540,
    ("squeezenet1_0", 8, "sgd"): 301_948_392,
    ("squeezenet1_0", 8, "adam"): 311_935_992,
    ("shufflenet_v2_x1_0", 8, "sgd"): 179_602_552,
    ("shufflenet_v2_x1_0", 8, "adam"): 197_832_064,
    ("convnext_tiny", 8, "sgd"): 1_018_732_040,
    ("convnext_tiny", 8, "adam"): 1_247_445_792,
    ("swin_t", 8, "sgd"): 997_120_912,
    ("swin_t", 8, "adam"): 1_223_428_436,
}

MIB = 1 << 20


def peak_of(spec: str, batch: int, optimizer: str, **options: object) -> Step:
    report = analyse(load(SPECS.get(spec, spec)), batch=batch, **options)  # type: ignore[arg-type]
    return step(report, training(report, backend="cpu"), optimizer)  # MemTracker ran on the CPU


@pytest.mark.parametrize("case", MEMTRACKER_PEAK, ids=lambda c: f"{c[0]}-b{c[1]}-{c[2]}")
def test_the_peak_is_within_3_percent_of_memtrackers(case: tuple) -> None:  # type: ignore[type-arg]
    name, batch, optimizer = case
    ours = peak_of(name, batch, optimizer).peak_bytes
    assert abs(ours - MEMTRACKER_PEAK[case]) <= 0.03 * MEMTRACKER_PEAK[case]


@pytest.mark.parametrize("case", [c for c in MEMTRACKER_PEAK if c != ("vit_b_16", 1, "adam")],
                         ids=lambda c: f"{c[0]}-b{c[1]}-{c[2]}")
def test_the_peak_is_memtrackers_to_the_byte(case: tuple) -> None:  # type: ignore[type-arg]
    # ViT-B/16 at batch 1 with Adam peaks in the optimizer's step, where MemTracker counts
    # 602,112 B (196·768 floats) of gradients beyond the parameters' size, which convcalc does
    # not model (0.04%); every other peak is exact
    assert peak_of(*case).peak_bytes == MEMTRACKER_PEAK[case]


def test_vit_b16s_peak_at_batch_1_falls_inside_an_attentions_backward() -> None:
    # in_proj's backward of the first block: the packed Q, K, V gradient, the input's gradient
    # and in_proj's weight gradients made; what the flash kernel saved already freed
    measured = (346_270_624, 0, 336_206_752, 0, 1_211_952, 10_113_024, 602_120)
    s = peak_of("vit_b_16", 1, "sgd")
    assert s.peak.bytes == measured and s.peak.layer == 6


def test_resnet50s_peak_is_memtrackers_to_the_byte_by_category() -> None:
    # MemTracker at batch 32, momentum: Parameter, Buffer, Gradient, Optstate, Activation, Temp,
    # Other (the input and labels); the peak falls in backward at the last block's ReLU
    measured = (102_228_128, 212_904, 8_196_000, 102_228_128, 2_729_786_888, 25_690_112, 19_267_840)
    s = peak_of("resnet50", 32, "momentum")
    assert s.peak.bytes == measured
    assert (s.peak.phase, s.peak.layer) == ("backward", 172)


def test_the_issues_figures_leave_the_input_out() -> None:
    # issue 20: ResNet-50 batch 32 momentum 2,831 MiB (activations 2,603), Adam 2,928 MiB,
    # batch 64 momentum 5,459 MiB; VGG-16 batch 32 momentum 3,784 MiB
    for spec, batch, optimizer, mib in [("resnet50", 32, "momentum", 2831), ("resnet50", 32, "adam", 2928),
                                        ("resnet50", 64, "momentum", 5459), ("vgg16", 32, "momentum", 3784)]:
        peak = peak_of(spec, batch, optimizer).peak.breakdown()
        assert abs((sum(peak.values()) - peak["input"]) / MIB - mib) < 1  # the issue's MiB, rounded its way
    assert round(peak_of("resnet50", 32, "momentum").peak.breakdown()["activations"] / MIB) == 2603


def test_adams_peak_is_its_step_when_the_weights_outweigh_the_activations() -> None:
    # VGG-16 at batch 1: grads, exp_avg and exp_avg_sq of 138M parameters, and the division's
    # two temporaries of fc6's weight (25088x4096) after fc5's bias
    s = peak_of("vgg16", 1, "adam")
    assert s.peak.phase == "optimizer"
    by = s.peak.breakdown()
    assert by["gradients"] == by["parameters"] == 553_430_176
    assert by["optimizer_state"] == 2 * 553_430_176 + 4 * 32 + 4 * (512 + 2 * 25088 * 4096)


def test_frozen_layers_have_no_gradient_and_no_optimizer_state() -> None:
    free = analyse(load("8x8x3 conv4k3p1 relu fc10"), batch=2)
    frozen = analyse(parse_yaml("input: [8, 8, 3]\nlayers:\n  - conv: {filters: 4, kernel: 3, padding: 1}\n"
                                "    frozen: true\n  - relu\n  - fc10\n"), batch=2)
    a, b = (step(r, training(r), "momentum") for r in (free, frozen))
    conv = 3 * 3 * 3 * 4 + 4
    fc = 8 * 8 * 4 * 10 + 10
    end = {e.phase: e for e in a.events}["optimizer"].breakdown()
    end_frozen = {e.phase: e for e in b.events}["optimizer"].breakdown()
    assert end["gradients"] == end["optimizer_state"] == 4 * (conv + fc)
    assert end_frozen["gradients"] == end_frozen["optimizer_state"] == 4 * fc
    assert end_frozen["buffers"] == 4 * conv


def test_optimizer_state_by_optimizer() -> None:
    start = {o: peak_of("resnet18", 1, o).events[0].breakdown()["optimizer_state"]
             for o in ("sgd", "momentum", "adam", "adamw")}
    params = 11_689_512 * 4
    assert start == {"sgd": 0, "momentum": params, "adam": 2 * params + 62 * 4, "adamw": 2 * params + 62 * 4}


def test_the_step_ends_as_it_began_and_every_event_is_drawable() -> None:
    s = peak_of("densenet121", 2, "adam")
    first, last = s.events[0].breakdown(), s.events[-1].breakdown()
    assert last["gradients"] == last["temporaries"] == 0
    assert last["activations"] == 4  # the loss, still held
    assert {k: v for k, v in first.items() if k != "activations"} == {k: v for k, v in last.items()
                                                                      if k != "activations"}
    assert all(len(e.bytes) == len(STEP_CATEGORIES) and min(e.bytes) >= 0 for e in s.events)
    assert [e.phase for e in s.events][:2] == ["start", "forward"]
    assert s.peak_bytes == max(e.total for e in s.events)


def plan(*args: str) -> Result:

    from convcalc.cli import cli

    return CliRunner().invoke(cli, ["plan", *args], catch_exceptions=False)


def test_resnet50_on_a_16gb_v100_fits_nvidias_batch_of_112() -> None:
    # NVIDIA's DeepLearningExamples train ResNet-50 at batch 112 on a 16 GB V100 in FP32 (momentum)
    report = analyse(load("resnet50"))
    fit = largest_batch(lambda n: step_at(report, n, "momentum"), 16 << 30, 1 << 30)
    assert fit.batch >= 112
    assert fit.peak.peak_bytes <= fit.usable_bytes < fit.over  # it fits, and one more does not
    assert step_at(report, fit.batch + 1, "momentum").peak_bytes == fit.over
    assert peak_of("resnet50", fit.batch, "momentum").peak_bytes == fit.peak.peak_bytes  # as a fresh analysis says


def test_the_largest_batch_is_the_one_a_search_over_every_batch_finds() -> None:
    # weights, their state and batchnorm's per-channel statistics do not grow with the batch,
    # and the peak moves from the optimizer's step (small batches) into backward: checked by
    # brute force on a small budget
    report = analyse(load("resnet18"))
    budget = 600 * MIB
    fit = largest_batch(lambda n: step_at(report, n, "adam"), budget, 0)
    peaks = [step_at(report, n, "adam").peak_bytes for n in range(1, fit.batch + 3)]
    assert max(n for n, p in enumerate(peaks, 1) if p <= budget) == fit.batch
    assert step_at(report, 1, "adam").peak.phase == "optimizer" != fit.peak.peak.phase


def test_when_nothing_fits_the_largest_batch_is_0() -> None:
    report = analyse(load("vgg16"))
    fit = largest_batch(lambda n: step_at(report, n, "adam"), 1 << 30, 0)
    assert fit.batch == 0 and fit.over > 1 << 30


def test_plan_names_the_peak_where_it_binds_and_the_largest_batch() -> None:
    result = plan("resnet50", "--batch", "32", "--optimizer", "momentum", "--device", "V100 16GB", "--width", "200")
    assert result.exit_code == 0
    assert "peak of one training step (momentum, batch 32): 2.8 GiB (2,987,610,000 B), at the backward of layer " \
           "172 layer4.2.relu1" in result.output
    assert "largest batch that fits V100 16GB (16.0 GiB) less 1.0 GiB headroom" in result.output


def test_plan_json_carries_the_peak_its_breakdown_the_timeline_and_the_fit() -> None:
    import json

    data = json.loads(plan("resnet18", "--format", "json", "--optimizer", "adam", "--memory", "8GiB",
                           "--headroom", "512MiB").output)
    assert set(data["peak_breakdown"]) >= {"parameters", "buffers", "gradients", "optimizer_state", "activations",
                                           "temporaries"}
    assert sum(data["peak_breakdown"].values()) == data["peak_bytes"] == peak_of("resnet18", 1, "adam").peak_bytes
    assert data["peak_at"]["phase"] == "optimizer"
    events = data["timeline"]["events"]
    assert max(sum(e["bytes"]) for e in events) == data["peak_bytes"]
    assert data["timeline"]["categories"][:6] == ["parameters", "buffers", "gradients", "optimizer_state",
                                                  "activations", "temporaries"]
    assert (data["memory_bytes"], data["headroom_bytes"]) == (8 << 30, 512 << 20)
    assert data["peak_bytes_at_max_batch"] <= (8 << 30) - (512 << 20) < data["peak_bytes_one_more"]
    assert "max_batch" in data and "headroom" in data["conventions"]["max_batch"]


@pytest.mark.parametrize("args, message", [
    (["--memory", "16"], "'16' has no byte unit; write a size with its unit, e.g. 16GiB"),
    (["--memory", "lots"], "cannot read 'lots'"),
    (["--memory", "0.5B"], "not a whole number of bytes"),
    (["--device", "V200"], "no device called 'V200'; known: V100 16GB, V100 32GB"),
    (["--device", "T4", "--memory", "1GiB"], "give --memory or --device, not both"),
    (["--headroom", "1 gallon"], "unknown unit"),
    (["--memory", "512MiB"], "--headroom (1,073,741,824 B) leaves nothing of --memory (536,870,912 B)"),
])
def test_bad_memory_sizes_and_devices_exit_2_with_an_example(args: list, message: str) -> None:  # type: ignore[type-arg]
    result = plan("resnet18", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_the_tables_training_figure_is_the_plans_peak() -> None:
    # one truth: the table's "training" was every activation kept + weights + grads + state
    for optimizer in ("sgd", "momentum", "adam"):
        report = analyse(load("resnet50"), batch=32, conventions=Conventions(optimizer=optimizer))
        plan = analyse(load("resnet50"), batch=32)
        assert report.memory.training_bytes == step(plan, training(plan), optimizer).peak_bytes  # plan's default


SMALL = """\
input: [32, 32, 3]
layers:
  - conv: {filters: 16, kernel: 3, padding: 1}
  - relu
  - fc: 10
expect:
  train: TRAIN
"""


def check(*args: str) -> Result:
    from convcalc.cli import cli

    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


def small_spec(tmp_path: object, train: str) -> str:
    from pathlib import Path

    path = Path(str(tmp_path)) / "small.yaml"
    path.write_text(SMALL.replace("TRAIN", train), encoding="utf-8")
    return str(path)


def test_a_specs_training_budget_holds_or_fails_with_the_peak_and_the_batch_that_fits(tmp_path: object) -> None:
    report = analyse(load("32x32x3 conv16k3p1 relu fc10"), batch=64)
    peak = step(report, training(report), "adam").peak_bytes
    over = check(small_spec(tmp_path, f"{{batch: 64, optimizer: adam, peak: {{max: {peak - 1}B}}}}"))
    assert over.exit_code == 1
    assert f"training peak (batch 64, adam) {peak:,} B > {peak - 1}B" in over.output
    assert "hint: the largest batch whose peak fits" in over.output
    fits = check(small_spec(tmp_path, f"{{batch: 64, optimizer: adam, peak: {{max: {peak}B}}}}"))
    assert fits.exit_code == 0 and f"training peak (batch 64, adam) {peak:,} B ≤ {peak}B" in fits.output


@pytest.mark.parametrize("train, message, at", [
    ("{batch: 64, optimiser: adam, peak: {max: 1GiB}}", "train: no field 'optimiser' — did you mean 'optimizer'?",
     "optimiser"),
    ("{batch: 64, optimizer: adamm, peak: {max: 1GiB}}", "train: no optimizer 'adamm' — did you mean 'adam'?",
     "adamm"),
    ("{batch: 0, peak: {max: 1GiB}}", "train: expected batch to be a whole number of at least 1, got", "0"),
    ("{batch: 8}", "train: which peak? 'peak' is missing", "{"),
    ("{peak: {max: 16}}", "train: peak '16' has no byte unit", "16"),
    ("{peak: {least: 1GiB}}", "train: peak takes 'max' only, got 'least'", "least"),
    ("64", "expected train: a mapping, got", "64"),
])
def test_a_bad_training_budget_is_a_located_error(tmp_path: object, train: str, message: str, at: str) -> None:
    result = check(small_spec(tmp_path, train))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert f"small.yaml:7:{len('  train: ') + train.index(at) + 1}:" in result.output  # at the field written wrong


def test_train_belongs_to_the_networks_expect(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "layer.yaml"
    path.write_text("input: [8, 8, 3]\nlayers:\n  - conv: {filters: 4, kernel: 3}\n"
                    "    expect: {train: {peak: {max: 1GiB}}}\n", encoding="utf-8")
    result = check(str(path))
    assert result.exit_code == 2 and "'train' goes under the network's 'expect', not a layer's" in result.output


def test_check_max_train_memory_exits_1_when_over() -> None:
    over = check("resnet50", "--max-train-memory", "16GiB", "--batch", "256", "--optimizer", "momentum")
    assert over.exit_code == 1
    assert "resnet50: ✗ budget: training peak (batch 256, momentum)" in over.output
    assert "over by" in over.output and "hint: the largest batch whose peak fits 16GiB is 19" in over.output
    fits = check("resnet50", "--max-train-memory", "16GiB", "--batch", "64", "--optimizer", "momentum", "--strict")
    assert fits.exit_code == 0
    assert check("resnet50", "--max-train-memory", "16").exit_code == 2


@pytest.mark.parametrize("name", catalog.names())
def test_every_bundled_network_steps_cleanly(name: str) -> None:
    # nothing negative at any moment, nothing left over but the loss, the peak the largest moment
    report = analyse(load(name), batch=2)
    s = step(report, training(report), "adam")
    assert s.complete and all(min(e.bytes) >= 0 for e in s.events)
    first, last = s.events[0].breakdown(), s.events[-1].breakdown()
    assert (last["activations"], last["temporaries"], last["gradients"]) == (4, 0, 0)
    assert first["optimizer_state"] == last["optimizer_state"] >= 2 * first["parameters"]
    assert s.peak_bytes == max(e.total for e in s.events) > first["parameters"] + first["optimizer_state"]


def test_a_memory_size_with_control_characters_is_shown_escaped() -> None:
    from click.testing import CliRunner

    from convcalc.cli import cli

    for args in (["plan", "resnet18", "--memory", "1\x1bGiB"], ["check", "resnet18", "--max-train-memory", "1\x1bG"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and "\x1b" not in result.output and "\\x1b" in result.output, result.output
