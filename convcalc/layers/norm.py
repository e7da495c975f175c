"""Normalisation: batchnorm (trained or frozen), LRN, layernorm, groupnorm, and layerscale, the
learned scale per channel."""

from __future__ import annotations

from typing import ClassVar, Optional

from ..errors import LayerError
from ..shape import Shape
from ..values import value
from .base import Layer
from .options import boolean, option, positive, real


@value
class BatchStatistics(Layer):
    """What every batch normalisation shares at inference: per channel, ``(x − mean)/sqrt(var + ε)``
    then a scale and a shift, which fold into one multiply-add per element (``--count-ops norm``)."""

    family: ClassVar[str] = "bn"
    op_kind: ClassVar[str] = "norm"

    def ops(self, x: Shape) -> int:
        """At inference the normalisation folds into one scale and shift: a multiply-add per element."""
        return x.elements


@value
class BatchNorm(BatchStatistics):
    """Batch normalisation per channel (PyTorch ``BatchNorm2d``).

    Params: ``2·C`` trainable (scale γ, shift β), none with ``affine: false``; buffers: ``2·C``
    running mean and variance either way. PyTorch's BatchNorm also keeps ``num_batches_tracked``,
    one integer counter, in its state_dict; it is no statistic of the data and is not counted
    (ResNet-50: 53,173 elements, here 53,120).
    """

    eps: float = option(1e-5, real, aliases=("epsilon",), help="ε added to the variance (default 1e-5); changes no count")
    momentum: float = option(0.1, real, help="running-statistics momentum (default 0.1); changes no count")
    affine: bool = option(True, boolean, letter="na", flag=False,
                          help="learn γ and β per channel (default true; 'na' in a layer string turns them off)")

    def params(self, x: Shape) -> int:
        return 2 * x.channels if self.affine else 0

    def buffers(self, x: Shape) -> int:
        return 2 * x.channels

    def describe(self) -> str:
        return "BATCHNORM" if self.affine else "BATCHNORM no affine"


@value
class FrozenBatchNorm(BatchStatistics):
    """Batch normalisation with everything fixed (torchvision ``ops.FrozenBatchNorm2d``, which
    detection backbones use): γ, β and the running statistics are all buffers.

    Params: 0. Buffers: ``4·C`` (weight, bias, running_mean, running_var; no num_batches_tracked).
    """

    eps: float = option(1e-5, real, aliases=("epsilon",), help="ε added to the variance (default 1e-5); changes no count")

    def buffers(self, x: Shape) -> int:
        return 4 * x.channels

    def describe(self) -> str:
        return "FROZEN BATCHNORM"


@value
class LRN(Layer):
    """Local response normalisation across ``size`` neighbouring channels (AlexNet's NORM).

    No parameters; its few multiplies per element are not counted as MACs. A map only, not a
    vector: PyTorch's ``local_response_norm`` refuses a 2-D (batch, channels) tensor.
    """

    family: ClassVar[str] = "norm"
    leading: ClassVar[Optional[str]] = "size"

    size: int = option(5, positive, aliases=("n", "local_size", "depth_radius"),
                       help="channels in each normalisation window (default 5, as AlexNet)")
    alpha: float = option(1e-4, real, help="α (default 1e-4); changes no count")
    beta: float = option(0.75, real, help="β (default 0.75); changes no count")
    k: float = option(2.0, real, aliases=("bias",), help="k (default 2); changes no count")

    def out_shape(self, x: Shape) -> Shape:
        if x.rank == 0:  # F.local_response_norm: "Expected 3D or higher dimensionality input"
            raise LayerError(f"needs a spatial input (HxWxC), got the flat vector {x}",
                             hint="PyTorch's local_response_norm refuses a vector: it normalises across the "
                                  "channels of a map")
        return x

    def describe(self) -> str:
        return f"NORM (LRN {self.size})"


@value
class LayerNorm(Layer):
    """Layer normalisation over the channels at each position (Ba, Kiros & Hinton, arXiv
    1607.06450): ConvNeXt's ``LayerNorm2d`` on a channels-first grid and ``nn.LayerNorm(C)`` on a
    channels-last grid or a token sequence normalise the same C values, so one rule serves both
    layouts.

    Params: ``2·C`` (scale and shift per channel); ``C`` without the shift (``nn.LayerNorm(C,
    bias=False)``, ``nb``), none with ``affine: false`` (``elementwise_affine=False``, ``na``); no
    running statistics; no MACs.
    """

    family: ClassVar[str] = "ln"

    eps: float = option(1e-5, real, aliases=("epsilon",), help="ε added to the variance (default 1e-5); changes no count")
    affine: bool = option(True, boolean, letter="na", flag=False, aliases=("elementwise_affine",),
                          help="learn a scale (and shift) per channel (default true; 'na' in a layer string turns it off)")
    bias: bool = option(True, boolean, letter="nb", flag=False,
                        help="learn the shift β with the scale (default true; 'nb' turns it off, PyTorch's bias=False)")

    def params(self, x: Shape) -> int:
        return (1 + self.bias) * x.channels if self.affine else 0

    def describe(self) -> str:
        return "LAYERNORM" + ("" if self.affine else " no affine") + ("" if self.bias or not self.affine else " no bias")


@value
class GroupNorm(Layer):
    """Group normalisation: statistics over ``groups`` groups of channels. Params: ``2·C``; ``C``
    without the shift (``nn.GroupNorm(G, C, bias=False)``, ``nb``); none with ``affine: false``
    (``nn.GroupNorm(G, C, affine=False)``, ``na``).

    A group must hold more than one value (PyTorch's ``F.group_norm`` refuses
    ``N·(C/G)·H·W = 1`` in ``_verify_batch_size``, in training and evaluation alike); at
    convcalc's batch of 1 that is ``C/G·H·W = 1``, where every output would be its shift β.
    """

    family: ClassVar[str] = "gn"
    leading: ClassVar[Optional[str]] = "groups"

    groups: int = option(32, positive, letter="g", aliases=("num_groups",), help="groups (default 32)")
    affine: bool = option(True, boolean, letter="na", flag=False,
                          help="learn γ and β per channel (default true; 'na' in a layer string turns them off)")
    bias: bool = option(True, boolean, letter="nb", flag=False,
                        help="learn the shift β with the scale (default true; 'nb' turns it off, PyTorch's bias=False)")

    def out_shape(self, x: Shape) -> Shape:
        if x.channels % self.groups:
            raise LayerError(f"groups {self.groups} must divide the channels {x.channels}")
        if x.elements == self.groups:  # one value per group: x − mean is 0, every output is β
            fewer = next((g for g in range(self.groups - 1, 0, -1) if self.groups % g == 0), None)
            groups = f"each of the {self.groups} groups" if self.groups > 1 else "the one group"
            raise LayerError(
                f"{groups} of {x} holds one value, so it normalises to nothing (x − mean is 0); "
                f"PyTorch's group_norm refuses it (\"Expected more than 1 value per channel\")",
                hint=(f"use fewer groups: groupnorm{fewer} puts {self.groups // fewer} channels in each"
                      if fewer else "normalise where the tensor holds more than one value"))
        return x

    def params(self, x: Shape) -> int:
        return (1 + self.bias) * x.channels if self.affine else 0

    def describe(self) -> str:
        return f"GROUPNORM g{self.groups}" + ("" if self.affine else " no affine") \
            + ("" if self.bias or not self.affine else " no bias")


@value
class LayerScale(Layer):
    """A learned scale per channel, ``y = γ·x`` (Touvron et al., "Going deeper with Image
    Transformers", arXiv 2103.17239; ConvNeXt's ``layer_scale``, a ``C×1×1`` parameter).

    Shape unchanged. Params: ``C``. MACs: 0 — one multiply per element with nothing summed, as
    batchnorm's scale.
    """

    family: ClassVar[str] = "scale"

    def params(self, x: Shape) -> int:
        return x.channels

    def describe(self) -> str:
        return "LAYER SCALE"
