"""Training: the tensors autograd saves for backward, per layer, and the MACs of a training step.

``training(report, backend, amp)`` follows the Report's graph once, forward, and applies each
layer kind's rule for what PyTorch's autograd saves (its ``tools/autograd/derivatives.yaml``,
checked by benchmarks/measure_saved_tensors.py with ``saved_tensors_hooks``, torch 2.14, CPU,
train mode, float32; at other dtypes the same tensors at that dtype, which was not measured).
The rules below are the CPU's (``backend="cpu"``); CUDA's (``"cuda"``, the default) keep the
same tensors except where precision.py says otherwise: dropout's mask a bool, batchnorm's and
layer norm's statistics in the accumulation type, attention by the kernel CUDA picks
(mem-efficient at float32: padded logsumexp and a copied output; flash at half precision: an
rng state), cuDNN batchnorm's reserve space not counted. Under autocast (``amp``) precision.py
gives each tensor's element size, and conv, fc, attention and PReLU save half-precision copies
of float32 inputs and of their weights (role ``weight copies``):

- conv (every grouping, transposed too) and fc (per position too) save their input (and the
  weight, a parameter: not counted); a layer scale γ·x its input;
- batchnorm saves its input and 4 per-channel vectors (running mean and variance, the batch's
  mean and inverse std), which do not grow with the batch; frozen batchnorm (x·scale + shift)
  only its per-channel scale; layer and group norm their input and a mean and 1/std per
  position or per group; LRN its input, x² padded by size − 1 channels, and two tensors the
  size of its input (the normaliser before and after the power β);
- ReLU, sigmoid, tanh and softmax save their output; every other activation (GELU, SiLU,
  hardswish, leaky ReLU, ELU, PReLU ...) its input, ReLU6 (PyTorch's hardtanh) too, so the
  tensor the next layer saves is a second one (torchvision's MobileNetV2 builds nn.ReLU6()
  out of place); in place (``Conventions.inplace``) ReLU6 saves its output;
- max pooling, global and adaptive too, saves its input and int64 indices the size of its output;
- average pooling saves its input, except to 1x1 (global, or adaptive to 1x1: PyTorch takes a
  mean, which saves nothing);
- dropout saves its mask, a tensor of the input's dtype on the CPU, a bool on CUDA (none when
  p = 0: PyTorch returns the input);
- self-attention (nn.MultiheadAttention, CPU flash kernel) saves its input, Q, K and V (3·L·C),
  its heads' output and a logsumexp per head and token (in float32, the accumulation type);
  the class token (a concatenation) and the position embedding (an addition) save nothing;
  tokens (reshape and permute) and a selected token (x[:, 0]) are views; window and grid
  attention (torchvision's Swin and MaxViT, relative position bias, shifted or not) save the
  windows, q, k and v, the weights after softmax, the heads' output and the bias's index
  (``window_attention``);
- reshape and permute save nothing; a permute is a view, and so is a reshape unless its input
  is a permute that moved elements out of their storage's order (dims longer than 1 in
  another order): then PyTorch copies it. Contiguity is judged in convcalc's order (channels
  last), which is PyTorch's for token maps (Swin, MaxViT, ViT) but not for NCHW conv maps;
- mul saves both operands (each for the other's gradient: squeeze-and-excitation's map and its
  scale, both needing one; an operand that needs none would spare the other, not modelled);
- upsampling saves nothing (its backward needs only the sizes; 'area' is adaptive average
  pooling); add, concat, zero padding, the channel shuffle (a copy) save nothing; flatten,
  channel chunks and splits and a crop are views of their input: a layer that saves one keeps
  the whole tensor it views.

A tensor is identified by its index in the Report (0 the input, k layer k's output; a view is
its source), so a tensor two layers save is counted once, at the first. A layer runs under
autograd only when one of its inputs needs a gradient or it trains weights of its own: the
layers before the first trained one save nothing (the first conv still saves the network's
input, for its weight gradient). A kind without a rule here is listed in ``unsupported``,
never counted as 0 silently. Backward MACs: grad-input plus grad-weight, each the forward's
MACs (conv, fc, attention, matmul), grad-input only where the input needs a gradient and
grad-weight only where weights are trained.
"""

from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from ..layers import (
    LRN,
    Activation,
    AdaptiveAvgPool,
    AdaptiveMaxPool,
    Add,
    Attention,
    AvgPool,
    BatchNorm,
    ChannelShuffle,
    ChannelSplit,
    ClassToken,
    Concat,
    Conv,
    ConvTranspose,
    Crop,
    DepthwiseConv,
    Dropout,
    Flatten,
    FrozenBatchNorm,
    GlobalAvgPool,
    GlobalMaxPool,
    GroupNorm,
    LayerNorm,
    LayerScale,
    Linear,
    MatMul,
    MaxPool,
    Mul,
    Permute,
    PositionEmbedding,
    PositionLinear,
    PReLU,
    Reshape,
    SelectToken,
    Softmax,
    Tokens,
    Upsample,
    ZeroPad,
)
from .plan_result import SAVED_ROLES, LayerTraining, Training
from .precision import (
    AMP_DTYPES,
    BACKENDS,
    FLASH_RNG_STATE,
    FLOAT32,
    HALF,
    Precision,
    attention_kernel,
    autocast_precision,
    batchnorm_statistics,
    logsumexp_tokens,
    mask_bytes,
    norm_statistics,
)
from .result import LayerReport, Report

INDEX_BYTES = 8  # max-pool indices are int64 whatever the dtype

# Activations whose backward needs their output (derivatives.yaml: ``result``); the others
# (leaky ReLU, ELU, SELU, GELU, SiLU, hardswish, hardsigmoid, softplus, mish, out-of-place
# ReLU6) save their input. Measured on torch 2.14's CPU. ReLU6 in place saves its output.
OUTPUT_SAVING = ("relu", "sigmoid", "tanh")

Saved = Tuple[str, Tuple[int, ...], int]  # role, the tensor's identity, its bytes


class Step(NamedTuple):
    """What the rules need to know of the step so far: the backend, whether autocast is on, each
    storage's element size and which tensors need a gradient."""

    backend: str
    amp: bool
    size: Dict[int, int]  # a storage (a tensor's index) -> bytes per element
    needs_grad: Dict[int, bool]
    flash: bool = True  # the GPU runs flash attention (sm80 and newer)


def training(report: Report, backend: str = "cuda", amp: Optional[str] = None, flash: bool = True,
             scopes: Optional[Dict[int, int]] = None) -> Training:
    """Each layer's saved-for-backward bytes (first saver only) and its forward and backward MACs,
    by ``backend``'s rules (cuda or cpu), under autocast at ``amp`` (fp16, bf16) when given;
    ``flash``: whether the GPU runs flash attention (sm80 and newer), else mem-efficient.

    ``scopes`` (activation checkpointing, analysis/checkpoint.py): layer -> the checkpointed
    segment it runs in (0 or absent: none). A tensor is counted once per scope: a segment's
    recomputation saves tensors of its own, whoever else saves the same values."""
    if backend not in BACKENDS or (amp is not None and amp not in AMP_DTYPES):
        raise ValueError(f"backend {backend!r}, amp {amp!r}: expected one of {BACKENDS}, {tuple(AMP_DTYPES)}")
    if amp is not None and report.dtype != "float32":
        raise ValueError("autocast runs over a float32 model: analyse at dtype float32 with amp")
    alias: Dict[int, int] = {0: 0}  # a tensor -> the tensor whose storage it is
    # the network's input needs no gradient; it is float32 under autocast (as a data loader gives it)
    step = Step(backend, amp is not None, {0: FLOAT32 if amp else report.bytes_per_element}, {0: False}, flash)
    needs_grad = step.needs_grad
    counted: set[Tuple[int, ...]] = set()
    strided: set[int] = set()  # tensors that are views in another order than their storage's (a permute)
    unsupported: Dict[str, int] = {}
    rows: List[LayerTraining] = []
    for r in report.layers:
        # frozen layers' weights are buffers (params 0); a layer whose weights another holds
        # (shared) still makes their gradient, added into the one .grad
        trains = r.params + r.shared > 0
        reads_grad = [needs_grad[s] for s in r.sources]
        recorded = trains or any(reads_grad)
        needs_grad[r.index] = recorded
        # a view (flatten, a chunk): a layer that saves it keeps the whole storage it views
        viewed = is_view(r) and not (isinstance(r.layer, Reshape) and r.sources[0] in strided)
        alias[r.index] = alias[r.sources[0]] if r.sources and viewed else r.index
        if isinstance(r.layer, Permute) and (r.sources[0] in strided or moves_elements(r.layer.order, r.input.dims)):
            strided.add(r.index)  # a permute of a permuted tensor is taken as out of order still
        inputs = [step.size[alias[s]] for s in r.sources]
        precision = autocast_precision(r.layer, backend, inputs) if step.amp else None
        if alias[r.index] == r.index:  # a tensor of its own (a view has its storage's element size)
            step.size[r.index] = (precision.output if precision else max(inputs, default=FLOAT32)) if step.amp \
                else report.bytes_per_element
        rule = saved_tensors(r, report, alias, step, precision) if recorded else []
        if rule is None:
            unsupported[r.layer.kind] = unsupported.get(r.layer.kind, 0) + 1
        by_role = dict.fromkeys(SAVED_ROLES, 0)
        kept: List[int] = []
        scope = scopes.get(r.index, 0) if scopes else 0
        for role, tensor, size in rule or []:
            if (scope, *tensor) not in counted:
                counted.add((scope, *tensor))
                by_role[role] += size
                if tensor[0] >= 0:
                    kept.append(tensor[0])
        grad_input = r.macs * sum(reads_grad) if isinstance(r.layer, MatMul) else r.macs * any(reads_grad)
        rows.append(LayerTraining(r.index, tuple(by_role.values()), r.macs, grad_input,
                                  r.macs if trains else 0, rule is not None, tuple(kept), alias[r.index], recorded))
    element_bytes = tuple(step.size[alias[i]] for i in range(len(report.layers) + 1))
    return Training(tuple(rows), backend, tuple(sorted(unsupported.items())), amp, flash or backend == "cpu",
                    element_bytes)


def saved_tensors(r: LayerReport, report: Report, alias: Dict[int, int], step: Step,
                  precision: Optional[Precision] = None) -> Optional[List[Saved]]:
    """What autograd saves when ``r`` runs under it, by its kind's rule; None: no rule for this
    kind (or, under autocast, for its path there)."""
    layer = r.layer
    extras = iter(range(1, 1 << 30))
    if step.amp and precision is None:
        return None
    cast_to = precision.cast_to if precision else None

    def activation(role: str, tensor: int) -> Saved:
        storage = alias[tensor]  # a view keeps the whole of what it views alive
        if cast_to and tensor in r.sources and step.size[storage] != cast_to:
            # autocast's copy at the layer's precision: a tensor of this layer's making, per reader
            return role, (storage, r.index), report.shape_of(tensor).elements * cast_to * report.batch
        return role, (storage,), report.shape_of(storage).elements * step.size[storage] * report.batch

    def extra(role: str, elements: int, bytes_each: int, per_sample: bool = True) -> Saved:
        """A tensor of the layer's own making (indices, a mask, statistics): no other layer saves it."""
        return role, (-r.index, next(extras)), elements * bytes_each * (report.batch if per_sample else 1)

    def weight_copy(elements: int) -> List[Saved]:
        """Under autocast, the half-precision copy of a weight that autocast caches and the layer saves."""
        return [extra("weight copies", elements, HALF, False)] if step.amp else []

    x = r.sources[0] if r.sources else 0
    # the element size the layer computes in: autocast's for the layer, else the report's dtype
    dtype_bytes = (cast_to or precision.output) if precision else report.bytes_per_element
    if isinstance(layer, (Conv, DepthwiseConv, ConvTranspose)):  # convolution saves its weight always
        return [activation("inputs", x)] + weight_copy(layer.params(r.input) - layer.biases(r.input))
    if isinstance(layer, (Linear, PositionLinear)):  # addmm saves the weight for the input's gradient only
        weights = layer.params(r.input) - layer.biases(r.input)
        return [activation("inputs", x)] + (weight_copy(weights) if step.needs_grad[x] else [])
    if isinstance(layer, LayerScale):  # γ·x: x, for γ's gradient
        return [activation("inputs", x)]
    if isinstance(layer, Attention):
        if layer.window:
            saved = window_attention(r, layer, report.batch, dtype_bytes, extra, step, step.size[alias[x]])
            c = r.input.channels  # qkv's 3C×C weight (for the input's gradient), proj's C×C
            return saved + weight_copy(c * c) + (weight_copy(3 * c * c) if step.needs_grad[x] else [])
        # nn.MultiheadAttention: in_proj saves the input; the kernel its Q, K, V (one tensor,
        # 3·L·C), its output (which out_proj saves too, a view at every batch size on the CPU:
        # torchvision's ViT-B/16 measures exactly linear in the batch) and a logsumexp per head
        # and token (float32, the accumulation type). Which kernel: precision.attention_kernel
        kernel = attention_kernel(step.backend, dtype_bytes, step.flash)
        if kernel is None:
            return None
        positions = r.input.elements // r.input.channels
        saved = [activation("inputs", x), extra("outputs", 3 * r.input.elements, dtype_bytes),
                 extra("outputs", r.input.elements, dtype_bytes),
                 extra("statistics", layer.heads * logsumexp_tokens(kernel, positions), max(dtype_bytes, FLOAT32))]
        if kernel == "mem-efficient" and report.batch > 1:  # its [B, L, H, D] output, copied for out_proj
            saved.append(extra("outputs", r.input.elements, dtype_bytes))
        if kernel == "flash":  # CUDA flash's rng state, on the GPU whatever the dropout
            saved.append(extra("statistics", 1, FLASH_RNG_STATE, False))
        c = r.input.channels  # in_proj's 3C×C weight (for the input's gradient), out_proj's C×C
        return saved + weight_copy(c * c) + (weight_copy(3 * c * c) if step.needs_grad[x] else [])
    if isinstance(layer, (ClassToken, PositionEmbedding)):
        return []  # a concatenation, an addition of a parameter: nothing saved
    if isinstance(layer, BatchNorm):
        per_channel = batchnorm_statistics(step.backend, report.bytes_per_element, step.amp)
        return [activation("inputs", x), extra("statistics", r.input.channels, per_channel, False)]
    if isinstance(layer, FrozenBatchNorm):  # x * scale + shift: the per-channel scale, made in forward
        return [extra("statistics", r.input.channels, FLOAT32 if step.amp else dtype_bytes, False)]
    if isinstance(layer, (LayerNorm, GroupNorm)):  # mean and 1/std per position, or per group
        per_sample = r.input.elements // r.input.channels if isinstance(layer, LayerNorm) else layer.groups
        stats = norm_statistics(layer, step.backend, report.bytes_per_element, step.amp)
        return [activation("inputs", x), extra("statistics", 2 * per_sample, stats)]
    if isinstance(layer, LRN):
        if r.input.rank != 2:
            return None  # measured on maps only
        # x² padded by size − 1 channels (avg-pooled), then k + α·mean and its power β (x / that)
        padded = r.input.elements // r.input.channels * (r.input.channels + layer.size - 1)
        if step.amp:  # x² at x's dtype; then pow (CUDA's float32 list), or avg_pool3d (the CPU's), goes float32
            x_squared = FLOAT32 if step.backend == "cpu" else step.size[alias[x]]
            return [activation("inputs", x), extra("statistics", padded, x_squared),
                    extra("statistics", 2 * r.input.elements, FLOAT32)]
        return [activation("inputs", x), extra("statistics", padded, dtype_bytes),
                extra("statistics", 2 * r.input.elements, dtype_bytes)]
    if isinstance(layer, Activation):
        if layer.function in OUTPUT_SAVING or (layer.function == "relu6" and report.conventions.inplace):
            return [activation("outputs", r.index)]
        if layer.function == "identity":
            return []
        return [activation("inputs", x)]
    if isinstance(layer, Softmax):
        return [activation("outputs", r.index)]
    if isinstance(layer, PReLU):  # _prelu_kernel saves its input and weight (under autocast, the weight's copy)
        return [activation("inputs", x)] + weight_copy(layer.params(r.input))
    if isinstance(layer, MaxPool):
        return [activation("inputs", x), extra("indices", r.output.elements, INDEX_BYTES)]
    if isinstance(layer, (GlobalMaxPool, AdaptiveMaxPool)):
        return [activation("inputs", x), extra("indices", r.output.elements, INDEX_BYTES)]
    if isinstance(layer, GlobalAvgPool):
        return []  # a mean over the positions: saves nothing
    if isinstance(layer, AdaptiveAvgPool):  # to 1x1 PyTorch takes a mean too; otherwise it saves its input
        return [] if set(r.output.spatial) == {1} else [activation("inputs", x)]
    if isinstance(layer, AvgPool):
        return [activation("inputs", x)]
    if isinstance(layer, Upsample):  # the interpolations' backward needs only the sizes; 'area' is adaptive pooling
        return [activation("inputs", x)] if layer.mode == "area" and set(r.output.spatial) != {1} else []
    if isinstance(layer, Dropout):
        return [extra("masks", r.input.elements, mask_bytes(step.backend, step.size[alias[x]]))] if layer.p else []
    if isinstance(layer, (Crop, Tokens, SelectToken)) and is_view(r):
        return []
    if isinstance(layer, (Reshape, Permute)):
        return []  # views, or a copy (a reshape of a permuted tensor): nothing saved either way
    if isinstance(layer, Mul):  # x·y: each operand, for the other's gradient (SE's map and its scale)
        return [activation("inputs", s) for s in r.sources]
    if isinstance(layer, (Add, Concat, Flatten, ChannelSplit, ChannelShuffle, ZeroPad)):
        return []  # a shuffle is a view, a transpose and a copy; padding a copy: nothing saved
    return None


def window_attention(r: LayerReport, layer: Attention, batch: int, dtype_bytes: int,
                     extra: Callable[..., Saved], step: Step, input_bytes: int) -> List[Saved]:
    """torchvision's shifted_window_attention (Swin), measured: the grid padded to whole windows
    (F.pad copies even when it adds nothing; the roll saves nothing), cut into windows by a
    permute and reshape, which the qkv linear saves; q·scale, k and v each copied by matmul's
    reshape and saved (a tensor the size of the windows each), except when the whole batch is
    one window (batch 1, one window covering the grid): then k and v are views of the qkv
    tensor, which is kept whole (3 such tensors), and only q is a copy; the weights after
    softmax (heads·n² per window, which softmax and the matmul with v share); the heads' output
    the projection saves; the relative position index (n² int64, a buffer, once whatever the
    batch) that gathering the bias saves. The bias and the shifted windows' mask are additions,
    the roll back and the crop to the grid copies: nothing saved. MaxViT's (einsum) keeps the same.

    Under autocast (measured: --fake-cuda --amp fp16, CPU --amp bf16) every one of these is half
    precision (the linears and matmuls run there; the windows a half copy if the input was
    float32) except the scores: adding the float32 bias (or, shifted, the mask of a float32
    input's dtype) promotes them to float32, and CUDA's softmax outputs float32 anyway; then
    softmax saves float32 weights and the matmul with v a half-precision copy of them."""
    windows, n = layer.sequences(r.input)  # padded to whole windows
    tokens = windows * n * r.input.channels  # per sample, padded
    q_k_v = [tokens, 3 * tokens] if batch * windows == 1 else [tokens] * 3
    scores = windows * layer.heads * n * n
    saved = [extra("inputs", tokens, dtype_bytes)] + [extra("outputs", size, dtype_bytes) for size in q_k_v]
    float32_weights = step.amp and (layer.relative_bias or step.backend == "cuda"
                                    or (layer.shifted and input_bytes == FLOAT32))
    if float32_weights:  # softmax's float32 output, and the matmul's half-precision copy of it
        saved += [extra("outputs", scores, FLOAT32), extra("outputs", scores, HALF)]
    else:
        saved.append(extra("outputs", scores, dtype_bytes))
    saved.append(extra("outputs", tokens, dtype_bytes))
    if layer.relative_bias:
        saved.append(extra("indices", n * n, INDEX_BYTES, False))
    return saved


def moves_elements(order: Tuple[int, ...], dims: Tuple[int, ...]) -> bool:
    """Whether permuting ``dims`` by ``order`` leaves a tensor whose elements are no longer in its
    storage's order (PyTorch's non-contiguous): the dims longer than 1 change their order."""
    moved = [i for i in order if dims[i] > 1]
    return moved != sorted(moved)


def is_view(r: LayerReport) -> bool:
    """Whether the layer is a view of its input in PyTorch: flatten, a chunk or split of the
    channels, a crop that only cuts (a slice), an identity, dropout with p = 0 (returns its input)."""
    layer = r.layer
    if isinstance(layer, (Flatten, ChannelSplit, Tokens, SelectToken, Permute, Reshape)):
        return True  # a reshape of a permuted tensor is a copy: training() decides that  # Tokens: reshape and permute of the map; SelectToken: x[:, i]
    if isinstance(layer, Crop):
        return all(o <= i for o, i in zip(r.output.spatial, r.input.spatial))
    if isinstance(layer, Activation):
        return layer.function == "identity"
    return isinstance(layer, Dropout) and not layer.p
