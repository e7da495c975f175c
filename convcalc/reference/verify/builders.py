"""The reference layer for each rule: ``BUILDERS`` maps a rule type to a function that makes
the reference layer with seeded random weights, for the rule's configuration and input shapes."""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, Tuple, Type

from ... import reference as ref
from ...layers import (
    LRN,
    Activation,
    AdaptiveAvgPool,
    AdaptiveMaxPool,
    Add,
    Attention,
    AvgPool,
    BatchNorm,
    ChannelShuffle,
    Chunk,
    ClassToken,
    Concat,
    ConcatTokens,
    Conv,
    ConvTranspose,
    Crop,
    DepthwiseConv,
    Dropout,
    Elementwise,
    Flatten,
    FrozenBatchNorm,
    GlobalAvgPool,
    GlobalMaxPool,
    GroupNorm,
    Layer,
    LayerNorm,
    LayerScale,
    Linear,
    MatMul,
    MaxPool,
    Mul,
    Parameter,
    Permute,
    PositionEmbedding,
    PositionLinear,
    PReLU,
    Reshape,
    SelectToken,
    SeparableConv,
    Slice,
    Softmax,
    Split,
    Take,
    ToGrid,
    Tokens,
    Unknown,
    Upsample,
    ZeroPad,
    expand,
)
from ...shape import Shape
from .figures import NoReference
from .runs import Builder

# --- the reference layer for each rule ----------------------------------------------------------


class Op:
    """A parameter-free reference function as a layer."""

    params = 0
    buffers = 0

    def __init__(self, fn: Callable[..., ref.Result]) -> None:
        self.fn = fn

    def __call__(self, *xs: ref.Tensor) -> ref.Result:
        return self.fn(*xs)


def _padding(rule: Any, x: Shape) -> Any:
    """A rule's padding as the reference takes it: 'same', 'valid', or one int per axis."""
    return rule.padding if isinstance(rule.padding, str) else expand(rule.padding, x, "padding")


def build_conv(rule: Conv, inputs: Tuple[Shape, ...], rng: random.Random) -> ref.Conv:
    x = inputs[0]
    return ref.Conv.random(rng, x.channels, rule.filters, expand(rule.kernel, x, "kernel"), x.rank,
                           expand(rule.stride, x, "stride"), _padding(rule, x), expand(rule.dilation, x, "dilation"),
                           rule.groups, rule.bias)


def build_depthwise(rule: DepthwiseConv, inputs: Tuple[Shape, ...], rng: random.Random) -> ref.Conv:
    x = inputs[0]
    return ref.Conv.random(rng, x.channels, x.channels * rule.multiplier, expand(rule.kernel, x, "kernel"), x.rank,
                           expand(rule.stride, x, "stride"), _padding(rule, x), expand(rule.dilation, x, "dilation"),
                           x.channels, rule.bias)


def build_separable(rule: SeparableConv, inputs: Tuple[Shape, ...], rng: random.Random) -> ref.Sequential:
    x = inputs[0]
    depthwise = ref.Conv.random(rng, x.channels, x.channels, expand(rule.kernel, x, "kernel"), x.rank,
                                expand(rule.stride, x, "stride"), _padding(rule, x),
                                expand(rule.dilation, x, "dilation"), x.channels, bias=False)
    pointwise = ref.Conv.random(rng, x.channels, rule.filters, 1, x.rank, bias=rule.bias)
    return ref.Sequential((depthwise, pointwise))


def build_conv_transpose(rule: ConvTranspose, inputs: Tuple[Shape, ...], rng: random.Random) -> ref.ConvTranspose:
    x = inputs[0]
    return ref.ConvTranspose.random(rng, x.channels, rule.filters, expand(rule.kernel, x, "kernel"), x.rank,
                                    expand(rule.stride, x, "stride"), expand(rule.padding, x, "padding"),
                                    expand(rule.output_padding, x, "output padding"),
                                    expand(rule.dilation, x, "dilation"), rule.groups, rule.bias)


def build_pool(rule: Any, inputs: Tuple[Shape, ...], rng: random.Random) -> Any:
    x = inputs[0]
    kernel, stride = expand(rule.kernel, x, "kernel"), expand(rule.stride or rule.kernel, x, "stride")
    if isinstance(rule, MaxPool):
        return ref.MaxPool(kernel, stride, _padding(rule, x), rule.ceil_mode, expand(rule.dilation, x, "dilation"))
    return ref.AvgPool(kernel, stride, _padding(rule, x), rule.ceil_mode)  # PyTorch's count_include_pad=True


def build_linear(rule: Linear, inputs: Tuple[Shape, ...], rng: random.Random) -> ref.Linear:
    return ref.Linear.random(rng, inputs[0].elements, rule.units, rule.bias)


def build_activation(rule: Activation, inputs: Tuple[Shape, ...], rng: random.Random) -> ref.Activation:
    if rule.function not in ref.ACTIVATIONS:
        raise NoReference(rule.function)
    return ref.Activation(rule.function)


def build_upsample(rule: Upsample, inputs: Tuple[Shape, ...], rng: random.Random) -> ref.Upsample:
    # nearest for every mode: the output shape does not depend on how values are interpolated
    if rule.size is not None:
        return ref.Upsample(size=expand(rule.size, inputs[0], "size"))
    return ref.Upsample(scale=rule.scale)


def build_unknown(rule: Unknown, inputs: Tuple[Shape, ...], rng: random.Random) -> Any:
    raise ArithmeticError(f"no reference for the unknown operator '{rule.op}'")


BUILDERS: Dict[Type[Layer], Builder] = {
    Unknown: build_unknown,
    Conv: build_conv,
    DepthwiseConv: build_depthwise,
    SeparableConv: build_separable,
    ConvTranspose: build_conv_transpose,
    MaxPool: build_pool,
    AvgPool: build_pool,
    GlobalAvgPool: lambda rule, xs, rng: ref.GlobalPool("avg"),
    GlobalMaxPool: lambda rule, xs, rng: ref.GlobalPool("max"),
    AdaptiveAvgPool: lambda rule, xs, rng: ref.AdaptivePool(expand(rule.output, xs[0], "output size"), "avg"),
    AdaptiveMaxPool: lambda rule, xs, rng: ref.AdaptivePool(expand(rule.output, xs[0], "output size"), "max"),
    Linear: build_linear,
    Flatten: lambda rule, xs, rng: ref.Flatten(),
    BatchNorm: lambda rule, xs, rng: ref.BatchNorm.random(rng, xs[0].channels, rule.affine),
    FrozenBatchNorm: lambda rule, xs, rng: ref.FrozenBatchNorm.random(rng, xs[0].channels),
    LayerNorm: lambda rule, xs, rng: ref.LayerNorm.random(rng, xs[0].channels, rule.affine, rule.bias),
    GroupNorm: lambda rule, xs, rng: ref.GroupNorm.random(rng, rule.groups, xs[0].channels, rule.affine, rule.bias),
    LRN: lambda rule, xs, rng: ref.LRN(rule.size, rule.alpha, rule.beta, rule.k),
    Activation: build_activation,
    Dropout: lambda rule, xs, rng: ref.Dropout(rule.p),
    Softmax: lambda rule, xs, rng: ref.Softmax(),
    Upsample: build_upsample,
    ZeroPad: lambda rule, xs, rng: ref.Pad(tuple(zip(expand(rule.padding, xs[0], "padding"),
                                                     expand(rule.after if rule.after is not None else rule.padding,
                                                            xs[0], "after")))),
    Crop: lambda rule, xs, rng: ref.Crop(expand(rule.size, xs[0], "size")),
    ChannelShuffle: lambda rule, xs, rng: ref.ChannelShuffle(rule.groups),
    PositionLinear: lambda rule, xs, rng: ref.PositionLinear.random(rng, xs[0].channels, rule.units, rule.bias),
    LayerScale: lambda rule, xs, rng: ref.LayerScale.random(rng, xs[0].channels),
    PReLU: lambda rule, xs, rng: ref.PReLU.random(rng, 1 if rule.shared else xs[0].channels),
    Tokens: lambda rule, xs, rng: ref.Tokens(),
    ToGrid: lambda rule, xs, rng: ref.ToGrid(rule.size),
    ClassToken: lambda rule, xs, rng: ref.ClassToken.random(rng, xs[0].channels),
    PositionEmbedding: lambda rule, xs, rng: ref.PositionEmbedding.random(rng, xs[0].elements),
    Parameter: lambda rule, xs, rng: ref.Parameter.random(rng, rule.shape, rule.add),
    SelectToken: lambda rule, xs, rng: ref.SelectToken(rule.index),
    Attention: lambda rule, xs, rng: ref.MultiheadAttention.random(
        rng, xs[0].channels, rule.heads, rule.bias, rule.window_sizes(xs[0]) if rule.window else None,
        rule.partition, rule.shifted, rule.relative_bias),
    Chunk: lambda rule, xs, rng: ref.Chunk(rule.chunks, rule.index),
    Split: lambda rule, xs, rng: ref.Split(rule.sizes, rule.index),
    Add: lambda rule, xs, rng: Op(ref.add_tensors),
    Mul: lambda rule, xs, rng: Op(ref.mul_tensors),
    Concat: lambda rule, xs, rng: Op(ref.concat_tensors if rule.axis is None else ref.concat_along(rule.axis)),
    ConcatTokens: lambda rule, xs, rng: Op(ref.concat_along(0)),  # a sequence is L x C: along L
    Reshape: lambda rule, xs, rng: ref.Reshape(tuple(rule.to)),
    Elementwise: lambda rule, xs, rng: ref.Elementwise(rule.op),
    Permute: lambda rule, xs, rng: ref.Permute(tuple(rule.order)),
    Take: lambda rule, xs, rng: ref.Take(rule.index, rule.axis),
    Slice: lambda rule, xs, rng: ref.Slice(rule.axis, rule.start, rule.stop, rule.step),
    MatMul: lambda rule, xs, rng: Op(ref.matmul_tensors),
}
