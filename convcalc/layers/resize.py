"""Rules that resize a map or take part of its channels: upsample, crop, zero padding, channel
shuffle, and one part of the channels (chunk, split)."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, ClassVar, Optional, Tuple

from ..errors import LayerError
from ..shape import Shape
from ..values import field, replace, value
from .base import Layer, Step, axes_text, expand, window_text
from .options import (
    Ints,
    choice,
    non_negative,
    option,
    per_axis,
    per_axis_number,
    per_axis_or_zero,
    positive,
    tensor_name,
)


def scaled_size(size: int, scale: float) -> int:
    """PyTorch's output size for a scale factor: the float64 product, floored (not exact decimals)."""
    return math.floor(float(size) * float(scale))


# The spatial axes each interpolation takes, as F.interpolate checks them: linear a 3-D tensor
# (N, C, L), bilinear and bicubic 4-D, trilinear 5-D; nearest and area any of the three.
_MODE_RANKS = {"linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}


def _rank_words(ranks: Tuple[int, ...]) -> str:
    return f"maps of {ranks[0]} spatial ax{'i' if ranks[0] == 1 else 'e'}s only" if len(ranks) == 1 \
        else "maps of 1, 2 or 3 spatial axes"


@value
class Upsample(Layer):
    """Upsampling by a scale factor or to a size (PyTorch ``Upsample``/``interpolate``).

    Shape: ``size`` per axis, or PyTorch's ``floor(float64(W)·float64(scale))`` (aten's
    ``upsample.h``, ``compute_output_size``): the product is taken in binary floating point, as
    PyTorch does, so ``100·0.29`` (= 28.999999999999996) gives 28 and ``50·2.3`` gives 114,
    not the 29 and 115 of exact decimal arithmetic. No parameters; interpolation is not counted.
    A mode takes the maps ``F.interpolate`` takes it on: linear 1 spatial axis, bilinear and
    bicubic 2, trilinear 3, nearest and area 1 to 3; any other is refused, as PyTorch refuses it.
    """

    family: ClassVar[str] = "up"
    leading: ClassVar[Optional[str]] = "scale"

    scale: Optional[Tuple[float, ...]] = option(None, per_axis_number, aliases=("scale_factor", "factor"),
                                                help="scale factor per axis (2, 1.5, [2, 1])")
    size: Optional[Ints] = option(None, per_axis, aliases=("output_size",), help="output size per axis")
    mode: str = option("nearest", choice("nearest", "linear", "bilinear", "bicubic", "trilinear", "area"),
                       help="interpolation: nearest (default), bilinear ...; changes no count")
    like: Optional[str] = option(None, tensor_name, aliases=("size_of", "to"),
                                 help="to the size of the tensor of this name (a layer, a block, or input)")

    def sized_like(self, target: Shape) -> "Upsample":
        """To ``target``'s spatial size, as ``F.interpolate(x, size=y.shape[-2:])``: the engine
        resolves ``like`` and hands the tensor's shape here, so a spec is right at any input size."""
        if self.scale is not None or self.size is not None:
            raise LayerError("give one of scale, size and like")
        return replace(self, size=target.spatial)

    def out_shape(self, x: Shape) -> Shape:
        if (self.scale is None) == (self.size is None):
            raise LayerError("give exactly one of scale, size and like")
        ranks = _MODE_RANKS.get(self.mode, (1, 2, 3))
        if x.rank and x.rank not in ranks:  # a vector (rank 0) is refused below, as before
            # F.interpolate: "Got 4D input, but linear mode needs 3D input"; no mode takes a 4-D map
            fits = {1: "linear", 2: "bilinear", 3: "trilinear"}.get(x.rank)
            raise LayerError(
                f"mode '{self.mode}' interpolates {_rank_words(ranks)}, and the input {x} has {x.rank} spatial "
                f"ax{'i' if x.rank == 1 else 'e'}s: PyTorch's interpolate refuses it",
                hint=f"on {x.rank} spatial ax{'i' if x.rank == 1 else 'e'}s use mode nearest, area or {fits}"
                if fits and self.mode != "nearest"
                else "interpolate a map of 1, 2 or 3 spatial axes")
        if self.like and len(self.size or ()) != x.rank:
            raise LayerError(f"'{self.like}' has {len(self.size or ())} spatial axes, the input {x} has {x.rank}")
        if self.size is not None:
            return Shape(expand(self.size, x, "size"), x.channels)
        assert self.scale is not None
        factors = self.scale * x.rank if len(self.scale) == 1 else self.scale
        if len(factors) != x.rank or x.rank == 0:
            raise LayerError(f"scale {self.scale} does not match the input {x}")
        return Shape(tuple(scaled_size(w, f) for w, f in zip(x.spatial, factors)), x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        """Output ``o`` samples input coordinate ``(o + ½)/s − ½`` (PyTorch, align_corners=False):
        nearest reads one pixel, linear two, cubic four; the jump becomes ``j/s``."""
        from fractions import (
            Fraction,  # only here: fractions and decimal slow every start-up
        )

        reads = {"nearest": 1, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}.get(self.mode, 1)
        steps = []
        for w, out in zip(x.spatial, self.out_shape(x).spatial):
            s = Fraction(out, w)
            steps.append(Step(Fraction(reads - 1), 1 / s, (1 / s - 1) / 2, exact=s.denominator == 1 and reads == 1))
        return tuple(steps)

    def describe(self) -> str:
        how = f"x{'x'.join(f'{f:g}' for f in self.scale)}" if self.scale else f"to {window_text(self.size or (0,))}"
        if self.like:
            how = f"to {window_text(self.size)} (like {self.like})" if self.size else f"like {self.like}"
        return f"UPSAMPLE {how} {self.mode}"


def centre_start(margin: int) -> int:
    """Where a centre crop that leaves ``margin`` pixels of an axis starts, as torchvision's
    ``center_crop`` computes it: ``int(round(margin / 2.0))``, and Python rounds a half to the even
    neighbour, so margin 1 starts at 0, 3 at 2, 5 at 2, 7 at 4 (measured with torchvision 0.29.1)."""
    return margin // 2 + (margin % 4 == 3)


@value
class Crop(Layer):
    """A centre crop to a size, or to the size of another tensor (U-Net's crop-and-concat:
    Ronneberger et al. 2015 crop each encoder map to the decoder map it joins).

    Shape: ``size`` per axis, channels kept; the crop starts where torchvision's ``center_crop``
    starts it, ``round((W − size) / 2)`` with Python's rounding of halves to even
    (``centre_start``): the extra pixel of an odd margin is cut at the end for margins 1, 5, 9 …
    and at the start for 3, 7, 11 … (a margin of 3 starts at 2). No parameters, no MACs.
    """

    family: ClassVar[str] = "crop"
    leading: ClassVar[Optional[str]] = "size"

    size: Optional[Ints] = option(None, per_axis, help="output size per axis")
    like: Optional[str] = option(None, tensor_name, aliases=("size_of", "to"),
                                 help="to the size of the tensor of this name (a layer, a block, or input)")

    def sized_like(self, target: Shape) -> "Crop":
        if self.size is not None:
            raise LayerError("give one of size and like")
        return replace(self, size=target.spatial)

    def _margins(self, x: Shape) -> Tuple[int, ...]:
        if self.size is None:
            raise LayerError("give the size to crop to, or like: the name of a tensor of that size")
        if self.like and len(self.size) != x.rank:
            raise LayerError(f"'{self.like}' has {len(self.size)} spatial axes, the input {x} has {x.rank}")
        sizes = expand(self.size, x, "size")
        for w, c in zip(x.spatial, sizes):
            if c > w:
                raise LayerError(f"cannot crop {w} to {c}: a crop only makes a map smaller",
                                 hint="pad the smaller map instead, or crop the larger one")
        return tuple(centre_start(w - c) for w, c in zip(x.spatial, sizes))

    def out_shape(self, x: Shape) -> Shape:
        self._margins(x)
        return Shape(expand(self.size or (), x, "size"), x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        """Unit ``o`` is input pixel ``o + margin``: the field keeps its size and jump and moves."""
        return tuple(Step(0, 1, m) for m in self._margins(x))

    def describe(self) -> str:
        to = window_text(self.size) if self.size else ""
        if self.like:
            return f"CROP to {to} (like {self.like})" if to else f"CROP like {self.like}"
        return f"CROP to {to}"


@value
class ZeroPad(Layer):
    """Explicit zero padding (``ZeroPad2d``). Shape: ``W + P + P_after`` per axis, where the
    padding after is ``P`` unless ``after`` says otherwise (Keras' ``ZeroPadding2D(((0, 1), (0, 1)))``
    before MobileNet's strided convs is ``padding: 0, after: 1``)."""

    family: ClassVar[str] = "pad"
    leading: ClassVar[Optional[str]] = "padding"

    padding: Ints = option(convert=per_axis_or_zero, letter="p", aliases=("pad", "before"),
                           help="padding P per side (before, and after unless 'after' is given), per axis")
    after: Optional[Ints] = option(None, per_axis_or_zero, help="padding after, per axis, when it differs from P")

    def _sides(self, x: Shape) -> Tuple[Tuple[int, int], ...]:
        before = expand(self.padding, x, "padding")
        after = expand(self.after, x, "after") if self.after is not None else before
        return tuple(zip(before, after))

    def out_shape(self, x: Shape) -> Shape:
        return Shape(tuple(w + b + a for w, (b, a) in zip(x.spatial, self._sides(x))), x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return tuple(Step(0, 1, -b) for b, _ in self._sides(x))

    def describe(self) -> str:
        after = f" after {axes_text(self.after)}" if self.after is not None and self.after != self.padding else ""
        return f"ZEROPAD {axes_text(self.padding)}{after}"


@value
class ChannelShuffle(Layer):
    """ShuffleNet's channel shuffle: a permutation; channels must divide into ``groups``, and the
    input must be a map, not a vector (PyTorch's ``channel_shuffle`` refuses a 2-D tensor)."""

    family: ClassVar[str] = "shuffle"
    leading: ClassVar[Optional[str]] = "groups"

    groups: int = option(convert=positive, letter="g", help="groups")

    def out_shape(self, x: Shape) -> Shape:
        if x.rank == 0:  # torch.channel_shuffle: "expects input with > 2 dims" (batch, channels, one axis)
            raise LayerError(f"needs a spatial input (HxWxC), got the flat vector {x}",
                             hint="PyTorch's channel_shuffle refuses a vector: it shuffles the channels of a map")
        if x.channels % self.groups:
            raise LayerError(f"groups {self.groups} must divide the channels {x.channels}")
        return x

    def describe(self) -> str:
        return f"SHUFFLE g{self.groups}"


def _channel_range(start: int, stop: int) -> str:
    return f"channel {start}" if stop - start == 1 else f"channels {start}–{stop - 1}"


@value
class ChannelSplit(Layer):
    """One part of the input's channels: a branch of a concat block reads it from the block's input.

    Shape: the spatial sizes unchanged, ``D2`` = the part's channels. No parameters, no MACs; a
    view in PyTorch, so no copy either. Subclasses say where the parts start (``bounds``).
    """

    if TYPE_CHECKING:  # each subclass declares these after its parts: fields keep their declared order
        index: int  # which part, from 0
        in_channels: Optional[int]  # the input's, once bound (``bind``): only the label uses it, so
        # it takes no part in equality (a bound rule equals the rule as written)

    def parts(self) -> int:
        raise NotImplementedError

    def bounds(self, channels: int) -> Tuple[int, ...]:
        """Where each part starts, and the channel count last: ``(0, 58, 116)`` for two halves of 116."""
        raise NotImplementedError

    def _part(self, x: Shape) -> Tuple[int, int]:
        n = self.parts()
        if self.index >= n:
            which = "0" if n == 1 else "0 or 1" if n == 2 else f"0 to {n - 1}"
            raise LayerError(f"index {self.index} is out of range for {n} {self.family_word()} ({which})")
        edges = self.bounds(x.channels)
        return edges[self.index], edges[self.index + 1]

    def family_word(self) -> str:
        return "chunks" if self.parts() != 1 else "chunk"

    def out_shape(self, x: Shape) -> Shape:
        start, stop = self._part(x)
        return Shape(x.spatial, stop - start)

    def bind(self, x: Shape) -> "Layer":
        return replace(self, in_channels=x.channels)

    def label(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        text = f"{self.label()} {self.index + 1}/{self.parts()}"
        if self.in_channels is None:
            return text
        try:
            start, stop = self._part(Shape((), self.in_channels))
        except LayerError:
            return text
        return f"{text} ({_channel_range(start, stop)})"


INDEX_HELP = "which part, counted from 0 as Python indexes what PyTorch returns (default 0, the first)"


def _divisors(n: int) -> str:
    found = [d for d in range(2, math.isqrt(n) + 1) if n % d == 0]
    every = sorted({*found, *(n // d for d in found), n})
    shown = [f"{d:,}" for d in every[:6]] + (["…"] if len(every) > 6 else [])
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


@value
class Chunk(ChannelSplit):
    """``x.chunk(chunks, dim=1)[index]``: equal parts of the channels, which must divide by ``chunks``.

    Shape: ``D2 = D1 / chunks``. PyTorch itself makes the parts ``⌈D1/chunks⌉`` wide and the last
    one smaller when they do not divide; that is refused here (a ShuffleNet whose halves differ
    is a mistake in the spec), with ``split`` and the sizes PyTorch would give as the way out.
    """

    family: ClassVar[str] = "chunk"
    leading: ClassVar[Optional[str]] = "chunks"

    chunks: int = option(convert=positive, help="equal parts to cut the channels into")
    index: int = option(0, non_negative, letter="i", help=INDEX_HELP)
    in_channels: Optional[int] = field(default=None, compare=False)  # label only: see ChannelSplit

    def parts(self) -> int:
        return self.chunks

    def bounds(self, channels: int) -> Tuple[int, ...]:
        if channels % self.chunks:
            width = -(-channels // self.chunks)
            torch = [min(width, channels - s) for s in range(0, channels, width)]
            sizes = " + ".join(map(str, torch))
            more = "" if len(torch) == self.chunks else f", {len(torch)} chunks, not {self.chunks}"
            raise LayerError(
                f"chunks {self.chunks} do not divide the input channels {channels}",
                hint=(f"chunk counts that divide {channels}: {_divisors(channels)}; PyTorch's x.chunk({self.chunks}, "
                      f"dim=1) would give {sizes}{more}: to count that, write split with sizes "
                      f"[{', '.join(map(str, torch))}]"))
        width = channels // self.chunks
        return tuple(range(0, channels + 1, width))

    def label(self) -> str:
        return "CHUNK"


@value
class Split(ChannelSplit):
    """``torch.split(x, sizes, dim=1)[index]``: parts of the given sizes, which add up to the channels.

    Shape: ``D2 = sizes[index]``.
    """

    family: ClassVar[str] = "split"

    sizes: Ints = option(convert=per_axis, letter="c", aliases=("split_sizes", "split_size_or_sections"),
                         help="channels of each part, in order: [24, 92] (c24x92 in a layer string)")
    index: int = option(0, non_negative, letter="i", help=INDEX_HELP)
    in_channels: Optional[int] = field(default=None, compare=False)  # label only: see ChannelSplit

    def parts(self) -> int:
        return len(self.sizes)

    def family_word(self) -> str:
        return "parts" if self.parts() != 1 else "part"

    def bounds(self, channels: int) -> Tuple[int, ...]:
        if sum(self.sizes) != channels:
            raise LayerError(
                f"sizes {' + '.join(map(str, self.sizes))} = {sum(self.sizes)} do not add up to the input "
                f"channels {channels}",
                hint=f"torch.split needs sizes that add up to the channels exactly{self._nearest(channels)}")
        return tuple(itertools.accumulate(self.sizes, initial=0))

    def _nearest(self, channels: int) -> str:
        """The sizes with the last one changed to fit, when that leaves it positive."""
        last = channels - sum(self.sizes[:-1])
        return f": sizes [{', '.join(map(str, (*self.sizes[:-1], last)))}] would" if last > 0 else ""

    def label(self) -> str:
        return "SPLIT"
