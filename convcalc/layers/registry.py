"""The registry: every layer kind as users write it (``KINDS``: name, rule, aliases, summary),
found by name with ``lookup``; and ``Unknown``, the rule of an operator no family has a rule for.

Unknown lives here, not in a family: it is no kind of layer but what an importer falls back to,
and its only user is the registry entry that names it."""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Dict, Optional, Tuple, Type

from ..shape import Shape
from ..values import fields, value
from .base import KIND_OF, Layer, Note, Step
from .conv import Conv, ConvTranspose, DepthwiseConv, Flatten, Linear, SeparableConv
from .norm import LRN, BatchNorm, FrozenBatchNorm, GroupNorm, LayerNorm, LayerScale
from .options import Ints, is_option, op_name, option, per_axis
from .pointwise import Activation, Dropout, Elementwise, PReLU, Softmax
from .pool import (
    AdaptiveAvgPool,
    AdaptiveMaxPool,
    AvgPool,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool,
)
from .resize import ChannelShuffle, Chunk, Crop, Split, Upsample, ZeroPad
from .tokens import (
    Attention,
    ClassToken,
    Parameter,
    PositionEmbedding,
    PositionLinear,
    SelectToken,
    ToGrid,
    Tokens,
)
from .views import Permute, Reshape, Slice, Take


@value
class Unknown(Layer):
    """An operator convcalc has no rule for, kept where it was so the network still reads (an
    imported model's custom or unsupported op). Its cost is not counted, and it says so: every
    one is a warning, and the report marks its totals incomplete (``Report.unknown_ops``).

    Shape: ``out`` (H x W x C as the file records it), or the input's when the file gives none.
    """

    family: ClassVar[str] = "unknown"
    leading: ClassVar[Optional[str]] = "op"

    op: str = option(convert=op_name, aliases=("operator",), help="the operator's name in its file (e.g. ONNX 'Einsum')")
    out: Optional[Ints] = option(None, per_axis, aliases=("shape", "output"),
                                 help="its output shape H x W x C, as the file records it (default: the input's)")

    def out_shape(self, x: Shape) -> Shape:
        return x if self.out is None else Shape(tuple(self.out[:-1]), self.out[-1])

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None  # what it does to a field is unknown: units past it are not claimed to see less

    def notes(self, x: Shape) -> Tuple[Note, ...]:
        return (Note("warning", "unknown-op",
                     f"operator '{self.op}' is unknown to convcalc: its params and MACs are not counted, "
                     "so the totals are incomplete", f"unknown op {self.op}"),)

    def describe(self) -> str:
        return f"UNKNOWN {self.op}"


@value
class Kind:
    """A layer kind as users write it: canonical name, rule, other names, one-line summary."""

    name: str
    rule: Type[Layer]
    aliases: Tuple[str, ...] = ()
    summary: str = ""
    fixed: Tuple[Tuple[str, Any], ...] = ()  # options the kind itself sets (an activation's function)

    def option_fields(self) -> Dict[str, Any]:
        """The options a user may set: the rule's, less those the kind fixes."""
        return _option_fields(self)


@functools.lru_cache(maxsize=None)
def _option_fields(kind: Kind) -> Dict[str, Any]:
    fixed = dict(kind.fixed)
    return {f.name: f for f in fields(kind.rule) if is_option(f) and f.name not in fixed}


ACTIVATIONS = ("relu", "relu6", "leakyrelu", "elu", "selu", "gelu", "sigmoid", "tanh", "silu",
               "hardswish", "hardsigmoid", "softplus", "mish", "identity")

KINDS: Tuple[Kind, ...] = (
    Kind("conv", Conv, ("conv2d", "convolution"), "convolution"),
    Kind("conv1d", Conv, (), "1-D convolution (input LxC)", (("rank", 1),)),
    Kind("conv3d", Conv, (), "3-D convolution (input DxHxWxC)", (("rank", 3),)),
    Kind("pwconv", Conv, ("pointwise", "conv1x1"), "pointwise (1x1) convolution", (("kernel", (1,)),)),
    Kind("dwconv", DepthwiseConv, ("depthwise", "depthwiseconv", "depthwiseconv2d"), "depthwise convolution"),
    Kind("sepconv", SeparableConv, ("separable", "separableconv", "separableconv2d"),
         "depthwise-separable convolution (depthwise, then pointwise)"),
    Kind("convtranspose", ConvTranspose, ("deconv", "convt", "convtranspose2d", "conv2dtranspose",
                                          "transposedconv"), "transposed convolution"),
    Kind("maxpool", MaxPool, ("maxpool2d", "pool", "maxpooling2d"), "max pooling"),
    Kind("maxpool1d", MaxPool, (), "1-D max pooling", (("rank", 1),)),
    Kind("maxpool3d", MaxPool, (), "3-D max pooling", (("rank", 3),)),
    Kind("avgpool", AvgPool, ("avgpool2d", "averagepool", "averagepooling2d"), "average pooling"),
    Kind("avgpool1d", AvgPool, (), "1-D average pooling", (("rank", 1),)),
    Kind("avgpool3d", AvgPool, (), "3-D average pooling", (("rank", 3),)),
    Kind("globalavgpool", GlobalAvgPool, ("gap", "globalaveragepool", "globalaveragepooling2d"),
         "average over all spatial positions"),
    Kind("globalmaxpool", GlobalMaxPool, ("gmp", "globalmaxpooling2d"), "maximum over all spatial positions"),
    Kind("adaptiveavgpool", AdaptiveAvgPool, ("adaptiveavgpool2d",), "average pooling to a fixed output size"),
    Kind("adaptivemaxpool", AdaptiveMaxPool, ("adaptivemaxpool2d",), "max pooling to a fixed output size"),
    Kind("fc", Linear, ("linear", "dense", "fullyconnected"), "fully connected"),
    Kind("flatten", Flatten, (), "volume to vector"),
    Kind("batchnorm", BatchNorm, ("bn", "batchnorm2d", "batchnormalization"),
         "batch normalisation: γ, β trained (none with affine false); running mean and variance buffers"),
    Kind("frozenbatchnorm", FrozenBatchNorm, ("frozenbn", "frozenbatchnorm2d"),
         "batch normalisation with nothing trained (torchvision FrozenBatchNorm2d): 4·C buffers"),
    Kind("lrn", LRN, ("norm", "localresponsenorm", "localresponsenormalization"),
         "local response normalisation"),
    *(Kind(name, Activation, ("swish",) if name == "silu" else (), "activation", (("function", name),))
      for name in ACTIVATIONS),
    Kind("layernorm", LayerNorm, ("ln", "layernorm2d"), "layer normalisation over the channels at each position"),
    Kind("groupnorm", GroupNorm, ("gn",), "group normalisation"),
    Kind("upsample", Upsample, ("interpolate", "upsampling2d", "up"),
         "upsampling (nearest, bilinear ...); with a scale, floor(W·scale) in float64 as PyTorch: 100·0.29 → 28"),
    Kind("crop", Crop, ("centercrop", "center_crop", "cropping2d"),
         "centre crop to a size, or to another tensor's size (like: name)"),
    Kind("pad", ZeroPad, ("zeropad", "zeropad2d", "zeropadding2d"), "explicit zero padding"),
    Kind("shuffle", ChannelShuffle, ("channelshuffle",), "channel shuffle"),
    Kind("chunk", Chunk, ("channelchunk",), "one of equal parts of the channels: x.chunk(N, dim=1)[i]"),
    Kind("split", Split, ("channelsplit",), "one part of the channels, of given sizes: torch.split(x, sizes, dim=1)[i]"),
    Kind("dropout", Dropout, ("drop",), "dropout"),
    Kind("elementwise", Elementwise, ("pointwiseop",), "an element-wise function from a model file (op: Erf, Exp ...): "
         "no params, no MACs"),
    Kind("softmax", Softmax, (), "softmax"),
    Kind("unknown", Unknown, ("opaque",), "an operator convcalc cannot count (from an imported file): "
         "shape as recorded, cost not counted, totals marked incomplete"),
    Kind("pwlinear", PositionLinear, ("positionwise", "positionwiselinear", "tokenlinear"),
         "linear map of the channels at each position (nn.Linear on the last dim): no flattening"),
    Kind("layerscale", LayerScale, (), "learned scale per channel: C params, no MACs"),
    Kind("prelu", PReLU, (), "parametric ReLU: a learned negative slope per channel (C params; 1 with "
         "shared), no MACs"),
    Kind("tokens", Tokens, ("totokens",), "grid HxWxC to a sequence of H·W tokens of C"),
    Kind("togrid", ToGrid, ("fromtokens", "untokens"), "sequence of L tokens back to an HxW grid (square by default)"),
    Kind("clstoken", ClassToken, ("classtoken", "cls"), "learned class token put first: L+1 tokens, C params"),
    Kind("posembed", PositionEmbedding, ("posembedding", "positionembedding"),
         "learned position embedding added: L·C params, no MACs"),
    Kind("selecttoken", SelectToken, ("select",), "one token as a vector (default 0, the class token)"),
    Kind("reshape", Reshape, ("view",), "the same elements in other dims (to: [..], channels last): no cost"),
    Kind("permute", Permute, ("transpose",), "the dims in another order (order: [..], from 0): no cost"),
    Kind("take", Take, ("gather",), "one index along one dim, the dim removed (x.select(axis, i)): no cost"),
    Kind("slice", Slice, ("range",), "a range of one dim with a step (x[..., start:stop:step]): no cost"),
    Kind("attention", Attention, ("mha", "multiheadattention", "selfattention", "attn"),
         "multi-head self-attention over S sequences of n tokens (the last axis, leading axes a batch, "
         "as batch_first; or window: w, Swin/MaxViT); params 4·C² + 4·C (+ (2w−1)²·heads with "
         "relative_bias); MACs S·(4·n·C² + 2·n²·C) (q, k, v and output projections, QKᵀ, AV; softmax "
         "and scaling not counted)"),
    Kind("parameter", Parameter, ("param", "learned", "nnparameter"),
         "a learned tensor of a given shape (shape: [..]): its elements as params, no MACs; the input "
         "passes on, or with add has it added (broadcast from the last dim)"),
)


def normalise(name: str) -> str:
    """Kind names ignore case, '-', '_' and spaces: 'soft-max', 'Max_Pool' are 'softmax', 'maxpool'."""
    return "".join(c for c in name.lower() if c not in "-_ ")


BY_NAME: Dict[str, Kind] = {normalise(a): k for k in KINDS for a in (k.name, *k.aliases)}
KIND_OF.update({k.rule: k.name for k in reversed(KINDS)})  # base's table: see there


def lookup(name: str) -> Optional[Kind]:
    return BY_NAME.get(normalise(name))
