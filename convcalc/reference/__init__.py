"""Reference layers in pure Python that count their own multiply-accumulates (STYLE.md rule 5).

An oracle for the engine, so it shares nothing with it: its layers import only the standard
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

The layers live by family, as the engine's rules in ``convcalc/layers`` do. A family module
imports the standard library, ``base`` and ``convcalc/flat.py`` only (``tokens`` also ``conv``, for
``Linear``'s weights):

- ``base``: ``Tensor``, ``Result``, seeded weights (``uniform``), window geometry (``slide``,
  ``grid``, padding), ``Weightless`` and ``Learned``, the channels-last order, ``Sequential``
- ``conv``: ``Conv``, ``ConvTranspose``, ``Linear``, ``Flatten``
- ``pool``: ``MaxPool``, ``AvgPool``, ``AdaptivePool``, ``GlobalPool``
- ``norm``: ``BatchNorm``, ``FrozenBatchNorm``, ``LRN``, ``LayerNorm``, ``GroupNorm``, ``LayerScale``
- ``pointwise``: ``Activation`` (``ACTIVATIONS``), ``Dropout``, ``Softmax``, ``Elementwise``, ``PReLU``
- ``resize``: ``Pad``, ``Crop``, ``ChannelShuffle``, ``Chunk``, ``Split``, ``Upsample``
- ``tokens``: ``PositionLinear``, ``Tokens``, ``ToGrid``, ``ClassToken``, ``PositionEmbedding``, ``Parameter``,
  ``SelectToken``, ``MultiheadAttention``
- ``views``: ``Reshape``, ``Permute``, ``Take``, ``Slice``
- ``merge``: ``add_tensors``, ``mul_tensors``, ``concat_tensors``, ``concat_along``, ``matmul_tensors``

A reference for a new layer kind goes in its family's module: a frozen dataclass whose
``__call__(x)`` returns a ``Result`` and counts each product it sums; ``params`` and ``buffers``
are ``len()`` of the arrays it allocates (``Weightless`` or ``Learned`` when that is all it
keeps). Never compute a size or a count from a formula here: that is the engine's job, and
this is its check. Re-export it below, then give it an entry in ``verify``'s ``BUILDERS`` (how to make it
from a rule, ``verify/builders.py``) and ``VERIFIERS`` (which runs to make and how their
figures compose, ``verify/verifiers.py``); ``tests/test_verify.py`` fails until both exist.
"""

from .base import Result, Sequential, Tensor, same_pads, slide
from .conv import Conv, ConvTranspose, Flatten, Linear
from .merge import (
    add_tensors,
    concat_along,
    concat_tensors,
    matmul_tensors,
    mul_tensors,
)
from .norm import LRN, BatchNorm, FrozenBatchNorm, GroupNorm, LayerNorm, LayerScale
from .pointwise import ACTIVATIONS, Activation, Dropout, Elementwise, PReLU, Softmax
from .pool import AdaptivePool, AvgPool, GlobalPool, MaxPool
from .resize import ChannelShuffle, Chunk, Crop, Pad, Split, Upsample
from .tokens import (
    ClassToken,
    MultiheadAttention,
    Parameter,
    PositionEmbedding,
    PositionLinear,
    SelectToken,
    ToGrid,
    Tokens,
)
from .views import Permute, Reshape, Slice, Take

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
    "Parameter",
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
