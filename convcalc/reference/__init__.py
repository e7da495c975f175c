"""Reference layers in pure Python that count their own multiply-accumulates (STYLE.md rule 5).

An oracle for the engine, so it shares nothing with it: this module imports only the standard
library, and no output size, parameter count or multiply count here comes from a formula.

- Output sizes are the number of window positions found by sliding a window along the padded
  input (``slide``), or of positions a transposed convolution actually writes to.
- Parameters are ``len()`` of the weight and bias arrays a layer allocates and then reads in
  full (every dot product checks that its filter and its input window have the same length);
  buffers are ``len()`` of batchnorm's running statistics.
- A MAC is one product of a weight and an input that is added into an output. Each op adds up
  the lengths of the windows it multiplies: ``map(mul, w, window)`` makes exactly
  ``len(window)`` products when ``len(w) == len(window)``. Zero padding is multiplied like any
  other input, as frameworks do. Pooling, batchnorm's per-element scale, normalisation,
  activations and merges make no such products and count 0.

Tensors are channels first, as PyTorch stores them: shape ``(C, *spatial)``, data one flat
row-major list, so each channel's plane is contiguous and a window position is a slice.
A vector (an fc layer's output) has shape ``(N,)``. Speed comes from gathering windows with
slices and ``zip`` (C loops) instead of index arithmetic per multiply; see
``benchmarks/bench_reference.py``.
"""

from .base import (
    ACTIVATIONS,
    LRN,
    Activation,
    AdaptivePool,
    AvgPool,
    BatchNorm,
    ChannelShuffle,
    Chunk,
    ClassToken,
    Conv,
    ConvTranspose,
    Crop,
    Dropout,
    Elementwise,
    Flatten,
    FrozenBatchNorm,
    GlobalPool,
    GroupNorm,
    LayerNorm,
    LayerScale,
    Linear,
    MaxPool,
    MultiheadAttention,
    Pad,
    Permute,
    PositionEmbedding,
    PositionLinear,
    PReLU,
    Reshape,
    Result,
    SelectToken,
    Sequential,
    Slice,
    Softmax,
    Split,
    Take,
    Tensor,
    ToGrid,
    Tokens,
    Upsample,
    add_tensors,
    concat_along,
    concat_tensors,
    matmul_tensors,
    mul_tensors,
    same_pads,
    slide,
)

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "AdaptivePool",
    "AvgPool",
    "BatchNorm",
    "ChannelShuffle",
    "Chunk",
    "ClassToken",
    "Conv",
    "ConvTranspose",
    "Crop",
    "Dropout",
    "Elementwise",
    "Flatten",
    "FrozenBatchNorm",
    "GlobalPool",
    "GroupNorm",
    "LRN",
    "LayerNorm",
    "LayerScale",
    "Linear",
    "MaxPool",
    "MultiheadAttention",
    "PReLU",
    "Pad",
    "Permute",
    "PositionEmbedding",
    "PositionLinear",
    "Reshape",
    "Result",
    "SelectToken",
    "Sequential",
    "Slice",
    "Softmax",
    "Split",
    "Take",
    "Tensor",
    "ToGrid",
    "Tokens",
    "Upsample",
    "add_tensors",
    "concat_along",
    "concat_tensors",
    "matmul_tensors",
    "mul_tensors",
    "same_pads",
    "slide",
]
