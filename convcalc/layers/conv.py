"""Layers with weights that slide over the input or see all of it: conv (1-, 2-, 3-D, pointwise),
transposed, depthwise and separable convs; fc, and flatten."""

from __future__ import annotations

import math
from typing import ClassVar, Optional, Tuple

from ..errors import LayerError
from ..shape import Shape, Window
from ..values import value
from .base import (
    Layer,
    Note,
    Step,
    axes_text,
    check_rank,
    expand,
    fit_notes,
    pad_text,
    pytorch_notes,
    window_out,
    window_step,
    window_text,
    windows,
)
from .options import (
    Ints,
    Padding,
    boolean,
    option,
    padding,
    per_axis,
    per_axis_or_zero,
    positive,
)


class SlidingWeights(Layer):
    """What every convolution that slides a window of weights shares: params are its weights plus
    biases, MACs are one per weight per output position, and the window gives the receptive-field
    step and the fit notes. Each subclass says what its windows and weights are."""

    def _windows(self, x: Shape) -> Tuple[Window, ...]:
        raise NotImplementedError

    def weights(self, x: Shape) -> int:
        raise NotImplementedError

    def params(self, x: Shape) -> int:
        return self.weights(x) + self.biases(x)

    def macs(self, x: Shape) -> int:
        return math.prod(self.out_shape(x).spatial) * self.weights(x)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return tuple(window_step(w) for w in self._windows(x))

    def notes(self, x: Shape) -> Tuple[Note, ...]:
        return fit_notes(self._windows(x)) + pytorch_notes(self.padding, self.stride)  # type: ignore[attr-defined]


@value
class Conv(SlidingWeights):
    """2-D (or N-D) convolution, cross-correlation as in every framework.

    Shape: ``W2 = (W1 − F_eff + 2P)/S + 1`` per axis with ``F_eff = D·(F − 1) + 1``; ``D2 = K``.
    Params: ``F·F·(D1/groups)·K + K`` (the bias term only with bias).
    MACs: ``H2·W2·F·F·(D1/groups)·K``, one per weight per output position.
    """

    family: ClassVar[str] = "conv"
    counter: ClassVar[str] = "weight"
    leading: ClassVar[Optional[str]] = "filters"

    filters: int = option(convert=positive, aliases=("out_channels", "channels", "num_filters", "k_out"),
                          help="number of filters K (output channels)")
    kernel: Ints = option(convert=per_axis, letter="k", aliases=("kernel_size", "size", "f"),
                          help="spatial extent F: 3, [3, 5] or 3x5")
    stride: Ints = option((1,), per_axis, letter="s", aliases=("strides",), help="stride S (default 1)")
    padding: Padding = option((0,), padding, letter="p", aliases=("pad",),
                              help="zero padding P per side: a number, per axis, 'same' or 'valid' (default 0)")
    dilation: Ints = option((1,), per_axis, letter="d", aliases=("dilation_rate",), help="dilation D (default 1)")
    groups: int = option(1, positive, letter="g", help="groups; D1 and K must both divide by it (default 1)")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",),
                        help="learn a bias per filter (default true; 'nb' in a layer string turns it off)")
    rank: Optional[int] = None  # set by the kind: conv1d, conv3d; None takes the input's

    def _windows(self, x: Shape) -> Tuple[Window, ...]:
        check_rank(x, self.rank, f"conv{self.rank}d")
        return windows(x, self.kernel, self.stride, self.padding, self.dilation)

    def _check_groups(self, x: Shape) -> None:
        if x.channels % self.groups or self.filters % self.groups:
            raise LayerError(
                f"groups {self.groups} must divide both the input channels {x.channels} "
                f"and the filters {self.filters}"
            )

    def out_shape(self, x: Shape) -> Shape:
        ws = self._windows(x)
        self._check_groups(x)
        return Shape(window_out(ws), self.filters)

    def weights(self, x: Shape) -> int:
        """``F·F·(D1/groups)·K``: the weights without the biases."""
        return math.prod(expand(self.kernel, x, "kernel")) * (x.channels // self.groups) * self.filters

    def biases(self, x: Shape) -> int:
        return self.filters if self.bias else 0

    def describe(self) -> str:
        label = f"CONV{self.rank}D" if self.rank not in (None, 2) else "CONV"
        parts = [f"{label} {self.filters} {window_text(self.kernel, self.rank)}"]
        parts.append(f"s{axes_text(self.stride)}")
        parts.append(f"p{pad_text(self.padding)}")
        if self.dilation != (1,):
            parts.append(f"d{axes_text(self.dilation)}")
        if self.groups != 1:
            parts.append(f"g{self.groups}")
        if not self.bias:
            parts.append("nb")
        return " ".join(parts)


@value
class Linear(Layer):
    """Fully connected: every output unit sees the whole input (a spatial input is flattened).

    Shape: ``units``. Params: ``in·units + units`` (bias). MACs: ``in·units``.
    """

    family: ClassVar[str] = "fc"
    counter: ClassVar[str] = "weight"
    leading: ClassVar[Optional[str]] = "units"

    units: int = option(convert=positive, aliases=("out_features", "neurons", "outputs", "filters"),
                        help="number of output units")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",),
                        help="learn a bias per unit (default true)")

    def out_shape(self, x: Shape) -> Shape:
        return Shape((), self.units)

    def params(self, x: Shape) -> int:
        return x.elements * self.units + self.biases(x)

    def biases(self, x: Shape) -> int:
        return self.units if self.bias else 0

    def macs(self, x: Shape) -> int:
        return x.elements * self.units

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def notes(self, x: Shape) -> Tuple[Note, ...]:
        if x.rank == 0:
            return ()
        return (Note("info", "flatten", f"flattens {x} = {x.elements:,} inputs", f"flattens {x}"),)

    def describe(self) -> str:
        return f"FC {self.units}" + ("" if self.bias else " nb")


@value
class Flatten(Layer):
    """Stretch a volume into a vector. Shape: ``H·W·C``."""

    family: ClassVar[str] = "flatten"

    def out_shape(self, x: Shape) -> Shape:
        return Shape((), x.elements)


@value
class ConvTranspose(Layer):
    """Transposed convolution ("deconvolution"): the shape inverse of a conv with the same hyperparameters.

    Shape (Dumoulin & Visin, arXiv 1603.07285, §4; PyTorch ``ConvTranspose2d``)::

        W2 = (W1 − 1)·S − 2P + D·(F − 1) + output_padding + 1

    Params: ``F·F·(D1/groups)·K + K``, like the conv it transposes.
    MACs: ``H1·W1·F·F·(D1/groups)·K`` — every *input* position scatters one full kernel per
    output channel. Counting over output positions instead (as a conv would) is wrong for S > 1.
    """

    family: ClassVar[str] = "convt"
    counter: ClassVar[str] = "weight"
    leading: ClassVar[Optional[str]] = "filters"

    filters: int = option(convert=positive, aliases=("out_channels", "channels", "num_filters"),
                          help="number of filters K (output channels)")
    kernel: Ints = option(convert=per_axis, letter="k", aliases=("kernel_size", "size", "f"), help="kernel F")
    stride: Ints = option((1,), per_axis, letter="s", aliases=("strides",), help="stride S (default 1)")
    padding: Ints = option((0,), per_axis_or_zero, letter="p", aliases=("pad",),
                           help="padding P removed from each side of the output (default 0)")
    output_padding: Ints = option((0,), per_axis_or_zero, letter="op", aliases=("outpad", "output_pad"),
                                  help="extra size added to one side, smaller than the stride or dilation")
    dilation: Ints = option((1,), per_axis, letter="d", help="dilation D (default 1)")
    groups: int = option(1, positive, letter="g", help="groups (default 1)")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",), help="learn a bias per filter")
    rank: Optional[int] = None  # the input's, once bound (``bind``): only the label uses it

    def out_shape(self, x: Shape) -> Shape:
        kernel, stride, pad, out_pad, dilation = (
            expand(v, x, what) for v, what in ((self.kernel, "kernel"), (self.stride, "stride"),
                                               (self.padding, "padding"), (self.output_padding, "output padding"),
                                               (self.dilation, "dilation")))
        if x.channels % self.groups or self.filters % self.groups:
            raise LayerError(f"groups {self.groups} must divide both the input channels {x.channels} "
                             f"and the filters {self.filters}")
        sizes = []
        for w, f, st, p, op, d in zip(x.spatial, kernel, stride, pad, out_pad, dilation):
            if op >= max(st, d):
                raise LayerError(f"output padding {op} must be smaller than the stride {st} or the dilation {d}")
            size = (w - 1) * st - 2 * p + d * (f - 1) + op + 1
            if size <= 0:
                raise LayerError(f"({w} − 1)·{st} − 2·{p} + {d}·({f} − 1) + {op} + 1 = {size} ≤ 0",
                                 hint="use less padding")
            sizes.append(size)
        return Shape(tuple(sizes), self.filters)

    def weights(self, x: Shape) -> int:
        return math.prod(expand(self.kernel, x, "kernel")) * (x.channels // self.groups) * self.filters

    def params(self, x: Shape) -> int:
        return self.weights(x) + self.biases(x)

    def biases(self, x: Shape) -> int:
        return self.filters if self.bias else 0

    def macs(self, x: Shape) -> int:
        return math.prod(x.spatial) * self.weights(x)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        """Output ``o`` reads the inputs ``i`` with ``i·S + k·D − P = o`` for a tap ``k``; the jump
        shrinks to ``j/S``. Exact when every output reads the same number of inputs.

        In closed form, not by trying each of the S outputs of a period: with ``g = gcd(D, S)``
        and ``m = S/g``, output ``o`` is read by the taps ``k ≡ k0 (mod m)`` when ``g`` divides
        ``r = (o + P) mod S`` (``k0 = (r/g)·(D/g)⁻¹ mod m``), none otherwise; consecutive taps
        read inputs ``D/g`` apart. Over a period ``k0`` takes every value in ``0 … m − 1``, so the
        widest field has ``⌈F/m⌉`` taps, and all are alike exactly when ``g = 1`` and ``m | F``.
        """
        from fractions import (
            Fraction,  # only here: fractions and decimal slow every start-up
        )

        steps = []
        for f, st, p, d in zip(*(expand(v, x, "") for v in (self.kernel, self.stride, self.padding, self.dilation))):
            g = math.gcd(d, st)
            m = st // g
            widest = (-(-f // m) - 1) * (d // g)
            exact = g == 1 and f % m == 0
            shift = Fraction(0)
            r = p % st  # output 0's residue
            if r % g == 0:
                k0 = (r // g) * pow(d // g, -1, m) % m if m > 1 else 0
                if k0 < f:
                    k_last = k0 + (f - 1 - k0) // m * m
                    hi, lo = (p - k0 * d) // st, (p - k_last * d) // st
                    shift = Fraction(lo + hi, 2)
            steps.append(Step(Fraction(widest), Fraction(1, st), shift, exact))
        return tuple(steps)

    def describe(self) -> str:
        parts = [f"CONVT {self.filters} {window_text(self.kernel, self.rank)}", f"s{axes_text(self.stride)}",
                 f"p{axes_text(self.padding)}"]
        if self.output_padding != (0,):
            parts.append(f"op{axes_text(self.output_padding)}")
        if self.dilation != (1,):
            parts.append(f"d{axes_text(self.dilation)}")
        if self.groups != 1:
            parts.append(f"g{self.groups}")
        return " ".join(parts) + ("" if self.bias else " nb")


@value
class DepthwiseConv(SlidingWeights):
    """Depthwise convolution: each input channel has its own ``multiplier`` filters (groups = D1).

    Shape: as conv, with ``D2 = D1·multiplier``. Params: ``F·F·D1·multiplier (+ D2 biases)``.
    MACs: ``H2·W2·F·F·D1·multiplier``.
    """

    family: ClassVar[str] = "dwconv"
    counter: ClassVar[str] = "weight"
    leading: ClassVar[Optional[str]] = "kernel"

    kernel: Ints = option(convert=per_axis, letter="k", aliases=("kernel_size", "size", "f"), help="kernel F")
    stride: Ints = option((1,), per_axis, letter="s", aliases=("strides",), help="stride S (default 1)")
    padding: Padding = option((0,), padding, letter="p", aliases=("pad",), help="padding P, 'same' or 'valid'")
    dilation: Ints = option((1,), per_axis, letter="d", help="dilation D (default 1)")
    multiplier: int = option(1, positive, letter="m", aliases=("depth_multiplier",),
                             help="filters per input channel (default 1)")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",), help="learn a bias per output channel")
    rank: Optional[int] = None  # the input's, once bound (``bind``): only the label uses it

    def _windows(self, x: Shape) -> Tuple[Window, ...]:
        return windows(x, self.kernel, self.stride, self.padding, self.dilation)

    def out_shape(self, x: Shape) -> Shape:
        return Shape(window_out(self._windows(x)), x.channels * self.multiplier)

    def weights(self, x: Shape) -> int:
        return math.prod(expand(self.kernel, x, "kernel")) * x.channels * self.multiplier

    def biases(self, x: Shape) -> int:
        return x.channels * self.multiplier if self.bias else 0

    def describe(self) -> str:
        parts = [f"DWCONV {window_text(self.kernel, self.rank)}", f"s{axes_text(self.stride)}", f"p{pad_text(self.padding)}"]
        if self.dilation != (1,):
            parts.append(f"d{axes_text(self.dilation)}")
        if self.multiplier != 1:
            parts.append(f"m{self.multiplier}")
        return " ".join(parts) + ("" if self.bias else " nb")


@value
class SeparableConv(SlidingWeights):
    """Depthwise-separable convolution (Keras ``SeparableConv2D``): a depthwise FxF conv without
    bias, then a pointwise 1x1 conv to K channels with bias.

    Params: ``F·F·D1 + D1·K (+ K)``. MACs: ``H2·W2·(F·F·D1 + D1·K)``.
    """

    family: ClassVar[str] = "sepconv"
    counter: ClassVar[str] = "weight"
    leading: ClassVar[Optional[str]] = "filters"

    filters: int = option(convert=positive, aliases=("out_channels", "channels"), help="pointwise filters K")
    kernel: Ints = option(convert=per_axis, letter="k", aliases=("kernel_size", "size", "f"), help="depthwise kernel F")
    stride: Ints = option((1,), per_axis, letter="s", aliases=("strides",), help="stride S (default 1)")
    padding: Padding = option((0,), padding, letter="p", aliases=("pad",), help="padding P, 'same' or 'valid'")
    dilation: Ints = option((1,), per_axis, letter="d", help="dilation D (default 1)")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",), help="bias on the pointwise conv")
    rank: Optional[int] = None  # the input's, once bound (``bind``): only the label uses it

    def _windows(self, x: Shape) -> Tuple[Window, ...]:
        return windows(x, self.kernel, self.stride, self.padding, self.dilation)

    def out_shape(self, x: Shape) -> Shape:
        return Shape(window_out(self._windows(x)), self.filters)

    def weights(self, x: Shape) -> int:
        return math.prod(expand(self.kernel, x, "kernel")) * x.channels + x.channels * self.filters

    def biases(self, x: Shape) -> int:
        return self.filters if self.bias else 0

    def describe(self) -> str:
        return (f"SEPCONV {self.filters} {window_text(self.kernel, self.rank)} s{axes_text(self.stride)} p{pad_text(self.padding)}"
                + ("" if self.bias else " nb"))
