"""Precision: the element size of each tensor a training step saves, by backend and autocast.

training.py says *which* tensors autograd saves; this module says *how big an element* of each
is, which is where PyTorch's backends and mixed precision differ. Element sizes are bytes.

**Backends** (``--backend``; CUDA the default). Where CUDA's kernels keep something else than
the CPU's, from PyTorch's source (torch 2.14) and measured with fake CUDA tensors
(benchmarks/measure_saved_tensors.py ``--fake-cuda``, which runs PyTorch's dispatch for CUDA
tensors under ``FakeTensorMode`` with meta kernels, no GPU):

- dropout: CUDA's fused kernel (``native_dropout``, chosen by ``is_fused_kernel_acceptable`` in
  aten/src/ATen/native/Dropout.cpp for a CUDA tensor and 0 < p < 1) keeps a bool mask, 1 byte
  an element (derivatives.yaml: ``native_dropout`` saves ``result1``); the CPU a mask of the
  input's dtype. (The older ``_fused_dropout``, which nn.Dropout no longer calls, keeps a uint8
  mask: one byte too, measured with a fake CUDA tensor);
- batchnorm: its 4 per-channel vectors as on the CPU; on CUDA the batch's mean and 1/std are in
  the accumulation type (``save_mean``/``save_invstd``: float32 for a float16 or bfloat16 input)
  while the running mean and variance keep the buffers' dtype. cuDNN's batchnorm
  (``cudnn_batch_norm``, chosen by ``_select_batch_norm_backend`` for float32, float64, and
  float16 with float32 weights, not bfloat16) keeps a reserve space too, whose size cuDNN
  reports only on a GPU (``cudnnGetBatchNormalizationTrainingExReserveSpaceSize``,
  ``CUDNN_BATCHNORM_OPS_BN``, no activation): **not counted** (0 bytes), and said so;
- layer norm: on CUDA its mean and 1/std per position are in the accumulation type
  (``layer_norm_cuda``: ``toAccumulateType(input, true)``, float32 for float16/bfloat16); the
  CPU keeps the input's dtype (group norm keeps the input's dtype on both);
- self-attention (nn.MultiheadAttention, ``scaled_dot_product_attention``): the CPU's flash
  kernel keeps a logsumexp per head and token; on CUDA the kernel ``sdp_utils.cpp`` picks with
  its default priority (flash, mem-efficient, math, cuDNN) on an sm80+ GPU: flash for float16 and
  bfloat16 (``check_dtypes_low_precision``), whose logsumexp is the CPU's; mem-efficient for
  float32, and at half precision too on a GPU without flash (before sm80: V100, T4; ``--no-flash``), whose logsumexp per head is padded to a multiple of 32 tokens (``kAlignLSE``) and
  whose output is laid out batch-first (``[B, L, H, D]``), so that nn.MultiheadAttention's
  ``permute(2, 0, 1, 3).reshape`` copies it for ``out_proj`` at a batch over 1 (one more
  ``L·C`` tensor); at float64 CUDA runs the math kernel: not modelled. Flash keeps its rng
  state on the GPU, a 2-element and a 0-dim uint64 tensor, 24 bytes (flash_api.cpp, "[Note] BC
  breaking change to flash seed/offset"), counted; mem-efficient's philox seed and offset are
  CPU scalars outside CUDA graph capture (attention.cu, ``_efficient_attention_forward``), not
  GPU memory, not counted;
- everything else (conv, pools with their int64 indices, activations, upsampling, views) saves
  the same tensors on both.

**Autocast** (``--amp fp16|bf16``, ``torch.autocast`` over a float32 model: the parameters stay
float32, the master weights, and so do their gradients). autocast's op lists
(aten/src/ATen/autocast_mode.cpp, the CUDA and the CPU lists):

- conv (every kind), fc and per-position linear, attention (its projections and
  ``scaled_dot_product_attention``) and PReLU run in half precision (``lower_precision_fp``):
  a float32 input is cast to a half-precision copy, a new tensor (autocast caches only the
  casts of leaf tensors that need a gradient: the weights), which the layer saves; the output
  is half precision. The half-precision copy of the weight, which autocast caches, is saved
  too (role ``weight copies``), conv's and PReLU's always, fc's and the projections' only
  where the input needs a gradient (``addmm`` saves the weight for the input's gradient only:
  derivatives.yaml); it lives until backward frees it;
- on CUDA layer and group norm run in float32 (autocast's ``fp32`` list): a half-precision
  input is cast to a float32 copy, which the norm saves, and its output is float32; softmax
  (``fp32_set_opt_dtype``) gives a float32 output, which it saves. The CPU's lists have
  neither: there they take their input's dtype (measured), their statistics float32 (the
  weights are float32: ``is_mixed_type``);
- everything else takes its input's dtype (batchnorm, ReLU and the other activations, pooling,
  dropout, upsampling, views), and an op of several tensors the widest of them (add, concat,
  mul; the class token, the position embedding, a layer scale and frozen batchnorm join a
  float32 parameter or buffer, so their output is float32);
- statistics: batchnorm's 4 vectors, layer and group norm's mean and 1/std, attention's
  logsumexp are float32; max-pool indices int64; CUDA's dropout mask bool;
- LRN (``F.local_response_norm``): x² at x's dtype, padded and averaged by ``avg_pool3d``, which
  the CPU's list runs in float32 (a float32 copy saved), then ``pow`` (CUDA's float32 list): the
  two normalisers it saves are float32 on both, and so is its output;
- window and grid attention (torchvision's Swin and MaxViT: linears, matmuls or einsum, an
  explicit softmax) save their tensors in half precision, except the attention weights: adding
  the float32 relative position bias (or, shifted, a float32 input's mask) promotes the scores
  to float32, as CUDA's softmax does anyway, so softmax saves float32 weights and the matmul
  with v a half-precision copy of them;
- not modelled under autocast, so named and left out of the total: elementwise matmul (which
  has no rule without autocast either).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

from ..layers import (
    LRN,
    Activation,
    Attention,
    ClassToken,
    Conv,
    ConvTranspose,
    DepthwiseConv,
    FrozenBatchNorm,
    GroupNorm,
    LayerNorm,
    LayerScale,
    Linear,
    MatMul,
    PositionEmbedding,
    PositionLinear,
    PReLU,
    Softmax,
)
from ..layers.base import Layer

BACKENDS = ("cuda", "cpu")
AMP_DTYPES = {"fp16": "float16", "bf16": "bfloat16"}
HALF = 2  # float16 and bfloat16 alike
FLOAT32 = 4
BOOL = 1

# autocast's lower_precision_fp list, as convcalc's kinds (the same on CUDA and the CPU)
LOWER_PRECISION = (Conv, DepthwiseConv, ConvTranspose, Linear, PositionLinear, Attention, PReLU)
# CUDA autocast's fp32 list (layer_norm, group_norm, softplus); softmax is fp32_set_opt_dtype
FLOAT32_ON_CUDA = (LayerNorm, GroupNorm)
# ops that join a float32 parameter or buffer: type promotion makes their output float32
WITH_A_FLOAT32_OPERAND = (ClassToken, PositionEmbedding, LayerScale, FrozenBatchNorm)


class Precision(NamedTuple):
    """How a layer runs under autocast: ``cast_to`` the element size its inputs are cast to (a
    new tensor each where it differs from theirs; None: it takes them as they are), ``output``
    its output's element size."""

    cast_to: Optional[int]
    output: int


def autocast_precision(layer: Layer, backend: str, inputs: Sequence[int]) -> Optional[Precision]:
    """How ``layer`` runs under autocast on ``backend``, its inputs' element sizes given; None
    where convcalc has not modelled autocast's path for the kind."""
    widest = max(inputs) if inputs else FLOAT32
    if isinstance(layer, MatMul):
        return None
    if isinstance(layer, LRN):  # F.local_response_norm: pow (CUDA) or avg_pool3d (CPU) turns it float32
        return Precision(None, FLOAT32)
    if isinstance(layer, LOWER_PRECISION):
        return Precision(HALF, HALF)
    if backend == "cuda":
        if isinstance(layer, FLOAT32_ON_CUDA) or (isinstance(layer, Activation) and layer.function == "softplus"):
            return Precision(FLOAT32, FLOAT32)
        if isinstance(layer, Softmax):  # softmax(x, dtype=float32): half in, float32 out, no copy
            return Precision(None, FLOAT32)
    if isinstance(layer, WITH_A_FLOAT32_OPERAND):
        return Precision(None, FLOAT32)
    return Precision(None, widest)


def batchnorm_statistics(backend: str, dtype_bytes: int, amp: bool) -> int:
    """Bytes per channel of batchnorm's 4 saved vectors: running mean and variance (the buffers'
    dtype, float32 under autocast), the batch's mean and 1/std (CUDA: the accumulation type)."""
    if amp:
        return 4 * FLOAT32
    if backend == "cuda":
        return 2 * dtype_bytes + 2 * max(dtype_bytes, FLOAT32)
    return 4 * dtype_bytes


def norm_statistics(layer: Layer, backend: str, dtype_bytes: int, amp: bool) -> int:
    """The element size of layer or group norm's saved mean and 1/std."""
    if amp:
        return FLOAT32  # float32 weights: a mixed-type norm keeps float32 statistics (CUDA: runs in float32)
    if backend == "cuda" and isinstance(layer, LayerNorm):
        return max(dtype_bytes, FLOAT32)  # layer_norm_cuda: the accumulation type
    return dtype_bytes


def mask_bytes(backend: str, input_bytes: int) -> int:
    """The element size of dropout's saved mask: CUDA's native_dropout a bool, the CPU's a tensor
    of the input's dtype."""
    return BOOL if backend == "cuda" else input_bytes


def attention_kernel(backend: str, element_bytes: int, flash: bool = True) -> Optional[str]:
    """The kernel ``scaled_dot_product_attention`` runs in training: 'cpu flash' on the CPU; on
    CUDA 'flash' at half precision on a GPU that has it (``flash``: sm80 and newer, A100, H100,
    L4, RTX 30/40; not V100 or T4: ``check_flash_attention_hardware_support``), else
    'mem-efficient' (sm50 and newer, float32 too); None (the math kernel, not modelled) at
    float64 on CUDA."""
    if backend == "cpu":
        return "cpu flash"
    if element_bytes == HALF and flash:
        return "flash"
    return "mem-efficient" if element_bytes in (HALF, FLOAT32) else None


FLASH_RNG_STATE = 3 * 8  # bytes: flash's uint64 rng state on CUDA, {2} and {} (flash_api.cpp)


def logsumexp_tokens(kernel: str, tokens: int) -> int:
    """How many logsumexp values per head the kernel keeps: the mem-efficient kernel pads to 32."""
    return -(-tokens // 32) * 32 if kernel == "mem-efficient" else tokens
