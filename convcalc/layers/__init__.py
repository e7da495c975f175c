"""One rule per layer kind, and the registry: the only place in convcalc with formulas.

Each rule is a frozen value class (values.py) of its hyperparameters with one method per quantity:

- ``out_shape(x)``  the output shape for input shape ``x`` (raises ``LayerError`` when impossible)
- ``params(x)``     trainable parameters (weights + biases)
- ``buffers(x)``    non-trainable state saved with the weights (batchnorm's running statistics)
- ``macs(x)``       multiply-accumulates for one sample; bias additions are not counted
- ``notes(x)``      flags worth telling the user (a stride that does not fit, a flatten)
- ``describe()``    a short label in the style of the lecture notes: ``CONV 96 11x11 s4 p0``

Shapes are channels-last and rank-generic (``Shape.spatial`` may have any number of axes); a
per-axis option given once applies to every axis.

Where they live: one module per family. A module imports only those above it in this list (and
never this package, which only re-exports their names):

- ``options``    typed option readers: what each option accepts, and its names in YAML and strings
- ``base``       ``Layer``, ``Note``, ``Step``, and the sliding-window helpers conv and pool share
- ``conv``       conv (1-, 2-, 3-D, pointwise), convtranspose, dwconv, sepconv, fc, flatten
- ``pool``       max and average pooling, global and adaptive pooling
- ``norm``       batchnorm, frozenbatchnorm, lrn, layernorm, groupnorm, layerscale
- ``pointwise``  the activations, elementwise, dropout, softmax, prelu
- ``resize``     upsample, crop, pad, shuffle, and a part of the channels: chunk, split
- ``views``      reshape, permute, take, slice
- ``tokens``     tokens, togrid, clstoken, posembed, selecttoken, pwlinear, parameter, attention
- ``merge``      where branches meet: add, mul, concat, seqcat, matmul; ``MERGES`` names them
- ``registry``   ``KINDS`` and ``lookup``; and ``Unknown``, the rule of an operator with no rule

To add a layer kind: write its rule in its family's module (a new family gets a module of its
own); declare its options with ``options.option`` (names, aliases, a layer-string letter: the
vocabulary every reader and ``convcalc kinds`` take from the rule); add a ``Kind`` to ``KINDS``
in ``registry`` and re-export the rule here; give it a reference in ``convcalc/reference`` and a
verifier in ``reference/verify``; and test it.
"""

from .base import (
    AXIS_NAMES,
    IDENTITY_STEP,
    KIND_OF,
    Layer,
    Note,
    Number,
    Step,
    axes_text,
    check_rank,
    expand,
    fit_notes,
    fit_suggestion,
    pad_text,
    pytorch_notes,
    window_out,
    window_step,
    window_text,
    windows,
)
from .conv import (
    Conv,
    ConvTranspose,
    DepthwiseConv,
    Flatten,
    Linear,
    SeparableConv,
    SlidingWeights,
)
from .merge import MERGES, Add, Concat, ConcatTokens, MatMul, Merge, Mul, broadcast
from .norm import (
    LRN,
    BatchNorm,
    BatchStatistics,
    FrozenBatchNorm,
    GroupNorm,
    LayerNorm,
    LayerScale,
)
from .pointwise import Activation, Dropout, Elementwise, PReLU, Softmax
from .pool import (
    AdaptiveAvgPool,
    AdaptiveMaxPool,
    AvgPool,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool,
    Pool,
    adaptive_window,
)
from .registry import ACTIVATIONS, BY_NAME, KINDS, Kind, Unknown, lookup, normalise
from .resize import (
    INDEX_HELP,
    ChannelShuffle,
    ChannelSplit,
    Chunk,
    Crop,
    Split,
    Upsample,
    ZeroPad,
    scaled_size,
)
from .tokens import (
    Attention,
    ClassToken,
    Parameter,
    PositionEmbedding,
    PositionLinear,
    SelectToken,
    ToGrid,
    Tokens,
    check_sequence,
    positions,
)
from .views import Permute, Reshape, Slice, Take, check_dims, dims_shape, dims_text

__all__ = [
    # base
    "AXIS_NAMES", "IDENTITY_STEP", "KIND_OF", "Layer", "Note", "Number", "Step", "axes_text", "check_rank",
    "expand", "fit_notes", "fit_suggestion", "pad_text", "pytorch_notes", "window_out", "window_step",
    "window_text", "windows",
    # conv
    "Conv", "ConvTranspose", "DepthwiseConv", "Flatten", "Linear", "SeparableConv", "SlidingWeights",
    # pool
    "AdaptiveAvgPool", "AdaptiveMaxPool", "AvgPool", "GlobalAvgPool", "GlobalMaxPool", "MaxPool", "Pool",
    "adaptive_window",
    # norm
    "LRN", "BatchNorm", "BatchStatistics", "FrozenBatchNorm", "GroupNorm", "LayerNorm", "LayerScale",
    # pointwise
    "Activation", "Dropout", "Elementwise", "PReLU", "Softmax",
    # resize
    "INDEX_HELP", "ChannelShuffle", "ChannelSplit", "Chunk", "Crop", "Split", "Upsample", "ZeroPad", "scaled_size",
    # views
    "Permute", "Reshape", "Slice", "Take", "check_dims", "dims_shape", "dims_text",
    # tokens
    "Attention", "ClassToken", "Parameter", "PositionEmbedding", "PositionLinear", "SelectToken", "ToGrid", "Tokens",
    "check_sequence", "positions",
    # merge
    "MERGES", "Add", "Concat", "ConcatTokens", "MatMul", "Merge", "Mul", "broadcast",
    # registry
    "ACTIVATIONS", "BY_NAME", "KINDS", "Kind", "Unknown", "lookup", "normalise",
    # shape (see the import)
]
