"""Whose rules decide what is saved: CUDA's (the default) against the CPU's, and autocast's.

Two kinds of evidence. Per rule, a small network where the expected bytes are worked out here
from the rule as analysis/precision.py states it (with its source in PyTorch). Per network,
figures measured by benchmarks/measure_saved_tensors.py (torch 2.14.1+cu130, torchvision 0.29.1,
train mode, batch 1 and 2): ``--amp bf16`` in real PyTorch on the CPU, and ``--fake-cuda``
(PyTorch's dispatch for CUDA tensors under FakeTensorMode, no GPU; the attention kernel forced
to the one sdp_utils.cpp picks on an sm80+ GPU, cuDNN's batchnorm reserve space 0 bytes there
as here). torch is not a dependency of these tests: rerun the script to check the figures.
"""

from __future__ import annotations

import json

import pytest
from test_training import MEASURED, SMALL, VGG16_TORCHVISION, plan

from convcalc.analysis.engine import analyse
from convcalc.analysis.plan_result import SAVED_ROLES, Training
from convcalc.analysis.training import training
from convcalc.load import load

MASKS, STATS, INPUTS, OUTPUTS, COPIES = (SAVED_ROLES.index(role) for role in
                                         ("masks", "statistics", "inputs", "outputs", "weight copies"))

# --fake-cuda, float32: where CUDA keeps what the CPU keeps, the CPU's figure (tests/test_training.py)
MEASURED_CUDA = dict(MEASURED, **{
    VGG16_TORCHVISION: (73_330_688, 146_661_376),  # two dropouts: bool masks
    "alexnet-torchvision": (3_701_248, 7_402_496),
    "googlenet": (48_284_288, 96_452_096),
    "squeezenet1_0": (35_507_744, 71_015_488),
    "squeezenet1_1": (20_810_144, 41_620_288),
    "mobilenet_v2": (78_478_592, 156_684_288),
    "fcn_resnet50": (1_052_829_952, 2_105_226_752),
    # mem-efficient attention: logsumexp padded 197 -> 224; its output copied for out_proj at batch 2
    "vit_b_16": (118_176_232, 250_876_880),
})

# --amp bf16 on the CPU, real PyTorch (autocast's CPU lists)
MEASURED_CPU_BF16 = {
    "resnet18": (35_327_360, 47_220_096),
    "resnet50": (95_188_352, 138_945_920),
    VGG16_TORCHVISION: (319_487_360, 362_286_464),
    "mobilenet_v2": (46_317_184, 85_421_952),
    "vit_b_16": (239_005_480, 305_426_000),
}

MEASURED_CPU_BF16.update({
    "convnext_tiny": (112_764_832, 168_481_664),  # the CPU's layer norm takes bfloat16: less than CUDA's
    "googlenet": (43_090_496, 72_845_824),
    "squeezenet1_0": (22_584_912, 42_680_928),
    "shufflenet_v2_x1_0": (15_145_824, 25_639_360),
    "densenet121": (82_441_088, 148_424_576),
    # window and grid attention, stochastic depth 0 as the specs ('*_no_drop_path' in the script)
    "swin_t": (118_945_552, 180_960_704),
    "maxvit_t": (227_341_944, 391_964_864),
})

# --fake-cuda --amp fp16 (and bf16: the same bytes), autocast's CUDA lists; flash attention
MEASURED_CUDA_AMP = {
    "resnet18": (35_327_360, 47_220_096),
    "resnet50": (95_188_352, 138_945_920),
    VGG16_TORCHVISION: (319_479_168, 362_270_080),
    "mobilenet_v2": (46_315_904, 85_419_392),
    "vit_b_16": (239_005_768, 305_426_288),  # the CPU's + flash's 24-byte rng state in 12 blocks
    "alexnet-torchvision": (124_391_552, 126_602_112),
    "densenet121": (82_441_088, 148_424_576),
    "convnext_tiny": (117_656_992, 178_265_984),  # stochastic depth 0, as the spec
    "googlenet": (43_089_472, 72_843_776),
    "squeezenet1_0": (22_498_384, 42_507_872),
    "shufflenet_v2_x1_0": (15_145_824, 25_639_360),
    "resnet34": (60_605_824, 77_516_160),
    "fcn_resnet50": (597_845_248, 1_129_451_648),  # 520x520, bilinear upsampling in half precision
    # FrozenBatchNorm2d's x·scale + shift with float32 buffers gives a float32 map: the ReLU after
    # it saves float32, and the next conv a half-precision copy besides: more than float32 alone
    "resnet50_fpn": (902_686_848, 1_751_672_960),
    "swin_t": (126_396_688, 195_862_976),  # CUDA's layer norms run in float32: more than the CPU's
    "maxvit_t": (234_568_312, 406_417_600),
}


def step(spec: str, batch: int = 1, backend: str = "cuda", amp: str | None = None, dtype: str = "float32") -> Training:
    return training(analyse(load(spec), batch=batch, dtype=dtype), backend=backend, amp=amp)


def ids(spec: str) -> str:
    return spec if len(spec) < 30 else "vgg16-torchvision"


@pytest.mark.parametrize("spec", MEASURED_CUDA, ids=ids)
@pytest.mark.parametrize("batch", [1, 2])
def test_cuda_saved_bytes_equal_pytorchs_cuda_dispatch(spec: str, batch: int) -> None:
    t = step(spec, batch)
    assert t.complete and t.saved_bytes == MEASURED_CUDA[spec][batch - 1]


@pytest.mark.parametrize("spec", MEASURED_CPU_BF16, ids=ids)
@pytest.mark.parametrize("batch", [1, 2])
def test_cpu_autocast_bf16_equals_pytorchs(spec: str, batch: int) -> None:
    t = step(spec, batch, "cpu", "bf16")
    assert t.complete and t.saved_bytes == MEASURED_CPU_BF16[spec][batch - 1]


@pytest.mark.parametrize("spec", MEASURED_CUDA_AMP, ids=ids)
@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_cuda_autocast_equals_pytorchs_cuda_dispatch(spec: str, amp: str) -> None:
    # measured at fp16 (bf16 on the first five too: the same bytes, both 2-byte types)
    assert (step(spec, 1, amp=amp).saved_bytes, step(spec, 2, amp=amp).saved_bytes) == MEASURED_CUDA_AMP[spec]


# the script's --small networks at batch 2 (tests/test_training.py's SMALL, their CPU float32
# figures), under --fake-cuda, --fake-cuda --amp fp16 and --amp bf16 and fp16 (real, CPU)
SMALL_AMP = {  # spec -> (CUDA fp16, CPU bf16)
    # LRN: normalisers float32 on both; x² (avg_pool3d's input) a float32 copy on the CPU only
    "8x8x3 conv8k3p1 lrn conv8k3p1 groupnorm2 conv8k3p1 layernorm": (30_160, 29_136),
    "8x8x3 conv8k3p1 tanh maxpool conv8k3p1 sigmoid fc10 softmax": (10_112, 10_072),  # CUDA's softmax: float32
    "8x8x3 conv8k3p1 gelu conv8k3p1 silu conv8k3p1 hardswish conv8k3p1 leakyrelu fc10": (31_280, 31_280),
    "8x8x3 conv8k3p1 convtranspose4k2s2 upsample2 conv4k1 globalmaxpool fc10": (36_464, 36_464),
    "8x8x3 conv8k3p1 relu6 conv8k3p1 prelu conv8k3p1 frozenbn fc10": (24_032, 24_032),  # PReLU's weight copy
    "8x8x3 conv8k3p1 crop4 conv8k3p1 dropout0 conv4k1": (4_976, 4_976),
}


@pytest.mark.parametrize("spec", SMALL)
def test_the_small_networks_keep_the_same_bytes_on_cuda(spec: str) -> None:
    assert step(spec, 2).saved_bytes == SMALL[spec]


@pytest.mark.parametrize("spec", SMALL_AMP)
def test_the_small_networks_under_autocast_equal_pytorchs(spec: str) -> None:
    assert (step(spec, 2, amp="fp16").saved_bytes, step(spec, 2, "cpu", "bf16").saved_bytes) == SMALL_AMP[spec]
    assert step(spec, 2, "cpu", "fp16").saved_bytes == SMALL_AMP[spec][1]  # CPU autocast fp16: measured the same


def test_the_default_backend_is_cuda() -> None:
    assert training(analyse(load("8x8x3 conv4k1 dropout"))).backend == "cuda"


# --- CUDA's rules, each on a small network, the bytes worked from the rule ---------------------


@pytest.mark.parametrize("batch", [1, 2])
def test_cuda_dropout_keeps_a_bool_mask_the_cpu_one_of_the_inputs_dtype(batch: int) -> None:
    # native_dropout (Dropout.cpp, is_fused_kernel_acceptable: CUDA, 0 < p < 1) saves result1, a bool mask
    elements = 8 * 8 * 8 * batch
    assert step("8x8x3 conv8k3p1 dropout conv4k1", batch).layers[1].saved[MASKS] == elements * 1
    assert step("8x8x3 conv8k3p1 dropout conv4k1", batch, "cpu").layers[1].saved[MASKS] == elements * 4


def test_cuda_batchnorm_keeps_the_batch_statistics_in_the_accumulation_type() -> None:
    # at float16: running mean and variance float16 (the buffers), save_mean and save_invstd float32
    channels = 4
    for dtype, cuda, cpu in (("float16", 2 * 2 + 2 * 4, 4 * 2), ("float32", 4 * 4, 4 * 4), ("float64", 4 * 8, 4 * 8)):
        assert step("8x8x2 conv4k1 bn", 2, dtype=dtype).layers[1].saved[STATS] == channels * cuda
        assert step("8x8x2 conv4k1 bn", 2, "cpu", dtype=dtype).layers[1].saved[STATS] == channels * cpu


def test_cuda_layer_norm_keeps_float32_statistics_group_norm_the_inputs_dtype() -> None:
    # layer_norm_cuda: mean and rstd in toAccumulateType(float16) = float32; group norm: the input's dtype
    positions, batch = 8 * 8, 2
    assert step("8x8x2 conv4k1 layernorm", batch, dtype="float16").layers[1].saved[STATS] == 2 * positions * 4 * batch
    assert step("8x8x2 conv4k1 layernorm", batch, "cpu", dtype="float16").layers[1].saved[STATS] == 2 * positions * 2 * batch
    for backend in ("cuda", "cpu"):
        assert step("8x8x2 conv4k1 groupnorm2", batch, backend, dtype="float16").layers[1].saved[STATS] == 2 * 2 * 2 * batch


@pytest.mark.parametrize("batch", [1, 2])
def test_cuda_float32_attention_is_mem_efficient_padded_logsumexp_and_a_copied_output(batch: int) -> None:
    # 6x6 = 36 tokens, 2 heads, 8 channels. Mem-efficient: logsumexp per head padded to 64 tokens
    # (kAlignLSE 32); its [B, L, H, D] output copied by reshape for out_proj when the batch is over 1
    tokens, heads, channels = 36, 2, 8
    cuda, cpu = (step("6x6x8 pwlinear8 attention2", batch, backend).layers[1] for backend in ("cuda", "cpu"))
    assert cpu.saved[STATS] == heads * tokens * 4 * batch
    assert cuda.saved[STATS] == heads * 64 * 4 * batch
    assert cuda.saved[OUTPUTS] - cpu.saved[OUTPUTS] == (tokens * channels * 4 * batch if batch > 1 else 0)


def test_cuda_half_precision_attention_is_flash_the_cpus_plus_its_rng_state() -> None:
    # flash (fp16/bf16 only) keeps the logsumexp unpadded, as the CPU's kernel, and a {2} and a {} uint64 rng state
    for batch in (1, 2):
        cuda, cpu = (step("6x6x8 pwlinear8 attention2", batch, backend, "bf16") for backend in ("cuda", "cpu"))
        assert cuda.saved_bytes - cpu.saved_bytes == 3 * 8


def test_a_gpu_without_flash_runs_mem_efficient_attention_under_autocast_too() -> None:
    # --fake-cuda --amp fp16 --no-flash (a V100 or T4: no flash before sm80), ViT-B/16
    measured = (239_021_032, 312_719_312)
    assert tuple(training(analyse(load("vit_b_16"), batch=b), amp="fp16", flash=False).saved_bytes
                 for b in (1, 2)) == measured
    # worked from the rule against flash: the logsumexp padded 197 -> 224 tokens (12 blocks, 12
    # heads, float32), the output copied at batch 2 (197 x 768, half), no 24-byte rng state
    for batch, flash in zip((1, 2), MEASURED_CUDA_AMP["vit_b_16"]):
        copies = 197 * 768 * 2 * batch if batch > 1 else 0  # per block
        assert measured[batch - 1] - flash == 12 * (12 * 27 * 4 * batch + copies - 24)


def test_plan_no_flash_is_for_cuda_only_and_stated() -> None:
    doc = json.loads(plan("vit_b_16", "-f", "json", "--amp", "fp16", "--no-flash").output)
    assert doc["flash_attention"] is False and "before sm80" in doc["conventions"]["backend"]
    assert json.loads(plan("vit_b_16", "-f", "json").output)["flash_attention"] is True
    result = plan("vit_b_16", "--backend", "cpu", "--no-flash")
    assert result.exit_code == 2 and "hint" in result.output and "Traceback" not in result.output


def test_float64_attention_on_cuda_has_no_rule() -> None:
    t = step("6x6x8 pwlinear8 attention2", dtype="float64")
    assert t.unsupported == (("attention", 1),) and step("6x6x8 pwlinear8 attention2", backend="cpu",
                                                          dtype="float64").complete


# --- autocast's rules ---------------------------------------------------------------------------


def test_autocast_conv_saves_a_half_copy_of_its_float32_input_and_of_its_weight() -> None:
    row = step("8x8x3 conv4k3p1", 2, amp="fp16").layers[0]
    assert row.saved[INPUTS] == 8 * 8 * 3 * 2 * 2  # the network's float32 input, cast
    assert row.saved[COPIES] == 4 * 3 * 3 * 3 * 2  # the weight (no bias: conv's backward needs none)


def test_autocast_fc_saves_its_weight_copy_only_where_its_input_needs_a_gradient() -> None:
    # addmm saves mat2 (the weight) for mat1's gradient: the network's input needs none
    rows = step("8x8x3 fc10 fc10", amp="bf16").layers
    assert (rows[0].saved[COPIES], rows[1].saved[COPIES]) == (0, 10 * 10 * 2)
    assert rows[1].saved[INPUTS] == 10 * 2  # the first fc's half-precision output, no copy


def test_autocast_layer_norm_runs_in_float32_on_cuda_and_in_its_inputs_dtype_on_the_cpu() -> None:
    batch, elements = 2, 8 * 8 * 4
    cuda, cpu = (step("8x8x2 conv4k1 layernorm", batch, backend, "bf16").layers[1] for backend in ("cuda", "cpu"))
    assert cuda.saved[INPUTS] == elements * 4 * batch  # a float32 copy of the conv's half-precision output
    assert cpu.saved[INPUTS] == elements * 2 * batch  # the conv's output itself
    assert cuda.saved[STATS] == cpu.saved[STATS] == 2 * 8 * 8 * 4 * batch  # float32 either way


def test_autocast_softmax_outputs_float32_on_cuda() -> None:
    cuda, cpu = (step("8x8x3 fc10 softmax", 2, backend, "fp16").layers[1] for backend in ("cuda", "cpu"))
    assert (cuda.saved[OUTPUTS], cpu.saved[OUTPUTS]) == (10 * 4 * 2, 10 * 2 * 2)


def test_autocast_batchnorm_takes_its_inputs_dtype_and_keeps_float32_statistics() -> None:
    row = step("8x8x2 conv4k1 bn", 2, amp="bf16").layers[1]
    assert row.saved[INPUTS] == 8 * 8 * 4 * 2 * 2 and row.saved[STATS] == 4 * 4 * 4


def test_autocast_lrn_keeps_float32_normalisers_and_on_the_cpu_a_float32_x_squared() -> None:
    # 8 channels, size 5: x² padded by 4 channels; the normaliser before and after the power β
    positions, batch = 8 * 8, 2
    padded = positions * (8 + 4) * batch
    cuda, cpu = (step("8x8x3 conv8k3p1 lrn", batch, backend, "fp16").layers[1] for backend in ("cuda", "cpu"))
    assert cuda.saved[STATS] == padded * 2 + 2 * positions * 8 * batch * 4
    assert cpu.saved[STATS] == padded * 4 + 2 * positions * 8 * batch * 4


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("spec", ["10x10x8 pwlinear8 attention2w7rb", "10x10x8 pwlinear8 attention2w7shrb"])
def test_autocast_window_attention_equals_pytorchs(spec: str, batch: int) -> None:
    # torchvision's ShiftedWindowAttention after a Linear (the script's --small), measured the same
    # under --fake-cuda --amp fp16 and CPU --amp bf16
    assert step(spec, batch, "cuda", "fp16").saved_bytes == step(spec, batch, "cpu", "bf16").saved_bytes \
        == (152_248, 284_776)[batch - 1]


def test_autocast_window_attention_keeps_float32_weights_after_softmax_and_a_half_copy() -> None:
    # 10x10 padded to 14x14: 4 windows of 49 tokens, 2 heads; against float32, the scores are
    # the only tensors that do not halve: float32 (softmax) and half (the matmul with v)
    spec, tokens, scores = "10x10x8 pwlinear8 attention2w7rb", 4 * 49 * 8 * 2, 4 * 2 * 49 * 49 * 2
    full, half = step(spec, 2, "cpu").layers[1], step(spec, 2, "cpu", "bf16").layers[1]
    assert full.saved[OUTPUTS] == 4 * (3 * tokens + scores + tokens)  # q, k, v copies, weights, heads' output
    assert half.saved[OUTPUTS] == 2 * (3 * tokens + tokens) + 4 * scores + 2 * scores


def test_autocast_paths_convcalc_has_not_modelled_are_named() -> None:
    t = step("8x8x4 conv4k1 take attention2", amp="fp16")  # take has no rule at all
    assert t.unsupported == (("take", 1),) and not t.complete


def test_autocast_needs_a_float32_model() -> None:
    with pytest.raises(ValueError):
        step("8x8x3 conv4k1", amp="bf16", dtype="float16")
    with pytest.raises(ValueError):
        step("8x8x3 conv4k1", backend="tpu")


# --- convcalc plan ------------------------------------------------------------------------------


def test_plan_json_says_whose_rules_and_carries_the_weight_copies() -> None:
    doc = json.loads(plan("resnet18", "--batch", "2", "-f", "json", "--amp", "bf16").output)
    assert (doc["backend"], doc["amp"]) == ("cuda", "bf16")
    assert doc["totals"]["saved_activation_bytes"] == MEASURED_CUDA_AMP["resnet18"][1]
    assert doc["totals"]["saved"]["weight copies"] > 0
    assert "native_dropout" not in doc["conventions"]["saved_activation_bytes"]
    assert "bool mask" in doc["conventions"]["backend"] and "autocast" in doc["conventions"]["amp"]
    plain = json.loads(plan("resnet18", "-f", "json").output)
    assert (plain["backend"], plain["amp"]) == ("cuda", None) and "amp" not in plain["conventions"]


def test_plan_table_names_the_backend_and_autocast() -> None:
    assert "float32, PyTorch's CUDA rules" in plan("resnet18").output
    shown = plan("resnet18", "--backend", "cpu", "--amp", "bf16").output
    assert "autocast bf16 over float32, PyTorch's CPU rules" in shown and "w copies" in shown
    assert "w copies" not in plan("resnet18").output  # no autocast, no weight copies: no empty column


def test_plan_amp_with_another_dtype_is_a_usage_error() -> None:
    result = plan("resnet18", "--amp", "fp16", "--dtype", "float16")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "float32 model" in result.output and "hint" in result.output


def test_a_device_without_flash_attention_implies_no_flash():
    # a V100 (sm70) has no flash kernel: under autocast its attention is mem-efficient, as --no-flash says
    from click.testing import CliRunner

    from convcalc.cli import cli

    def peak(*args: str) -> tuple:
        result = CliRunner().invoke(cli, ["plan", "vit_b_16", "--batch", "2", "--amp", "fp16", "-f", "json", *args])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.output)
        return doc["totals"]["saved_activation_bytes"], doc["flash_attention"]

    assert peak("--device", "v100-16") == peak("--no-flash") != peak()
    assert peak("--device", "a100-80") == peak()
