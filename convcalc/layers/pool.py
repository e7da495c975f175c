"""Pooling: max and average pooling over windows, global pooling, adaptive pooling to a fixed size."""

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
from .options import Ints, Padding, boolean, option, padding, per_axis


@value
class Pool(Layer):
    """Max or average pooling over each channel separately.

    Shape: ``W2 = (W1 − F_eff + 2P)/S + 1`` per axis with ``F_eff = D·(F − 1) + 1`` (floor, or
    ceil with PyTorch's rule that the last window starts inside the input or left padding);
    ``D2 = D1``. No parameters, no MACs. Padding is at most half the kernel, as PyTorch wants.
    """

    family: ClassVar[str] = "pool"
    leading: ClassVar[Optional[str]] = "kernel"
    label: ClassVar[str] = "POOL"
    dilates: ClassVar[bool] = True  # PyTorch's MaxPool takes a dilation; its AvgPool does not

    kernel: Ints = option((2,), per_axis, letter="k", aliases=("kernel_size", "size", "pool_size", "f"),
                          help="window F (default 2, so a bare 'maxpool' is VGG's 2x2 stride 2)")
    stride: Optional[Ints] = option(None, per_axis, letter="s", aliases=("strides",),
                                    help="stride S (default: the kernel)")
    padding: Padding = option((0,), padding, letter="p", aliases=("pad",),
                              help="padding P per side, at most half the kernel (default 0)")
    ceil_mode: bool = option(False, boolean, letter="ceil", flag=True, aliases=("ceil",),
                             help="round the output size up, PyTorch's ceil_mode ('ceil' in a layer string)")
    dilation: Ints = option((1,), per_axis, letter="d", aliases=("dilation_rate",),
                            help="dilation D (default 1; max pooling only, as PyTorch)")
    rank: Optional[int] = None  # set by the kind: maxpool1d, avgpool3d ...

    def __post_init__(self) -> None:
        if self.stride is None:  # so 'maxpool2' and 'maxpool2s2' are the same value
            object.__setattr__(self, "stride", self.kernel)

    def _windows(self, x: Shape) -> Tuple[Window, ...]:
        check_rank(x, self.rank, f"{self.kind}{self.rank}d")
        if self.dilation != (1,) and not self.dilates:
            raise LayerError(f"{self.kind} takes no dilation, got d{axes_text(self.dilation)}",
                             hint="PyTorch's AvgPool has no dilation; only max pooling dilates its window")
        ws = windows(x, self.kernel, self.stride or self.kernel, self.padding, self.dilation, self.ceil_mode,
                     pool=True)
        for w in ws:
            most = w.most_padding or 0
            if max(w.pad_before, w.pad_after) > most and self.padding != "same":
                raise LayerError(
                    f"padding {max(w.pad_before, w.pad_after)} is more than half the kernel {w.kernel} "
                    f"(at most {most})",
                    hint="PyTorch refuses it: such a window could see nothing but padding",
                )
        return ws

    def out_shape(self, x: Shape) -> Shape:
        return Shape(window_out(self._windows(x)), x.channels)

    op_kind: ClassVar[str] = "pool"

    def ops(self, x: Shape) -> int:
        """One operation (a comparison or an addition) per window element per output."""
        return self.out_shape(x).elements * math.prod(w.kernel for w in self._windows(x))

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return tuple(window_step(w) for w in self._windows(x))

    def notes(self, x: Shape) -> Tuple[Note, ...]:
        return fit_notes(self._windows(x)) + pytorch_notes(self.padding, self.stride or self.kernel, pool=True)

    def describe(self) -> str:
        parts = [f"{self.label} {window_text(self.kernel, self.rank)}",
                 f"s{axes_text(self.stride or self.kernel)}"]
        if self.padding not in ((0,), "valid"):
            parts.append(f"p{pad_text(self.padding)}")
        if self.dilation != (1,):
            parts.append(f"d{axes_text(self.dilation)}")
        if self.ceil_mode:
            parts.append("ceil")
        return " ".join(parts)


@value
class MaxPool(Pool):
    label: ClassVar[str] = "MAX POOL"


@value
class AvgPool(Pool):
    """Average pooling. On a 3-D input PyTorch's ``avg_pool3d`` also wants every unpadded axis
    at least the kernel (``pool3d_shape_check`` with ``check_input_size``, aten/src/ATen/native/
    AveragePool3d.cpp: "input image (T: 2 H: 4 W: 4) smaller than kernel size"), though padding
    would give the window room; ``avg_pool1d``/``2d`` and max pooling do not ask it. 'same' is
    TensorFlow's padding, which asks nothing of the kind."""

    label: ClassVar[str] = "AVG POOL"
    dilates: ClassVar[bool] = False

    def _windows(self, x: Shape) -> Tuple[Window, ...]:
        ws = super()._windows(x)
        if x.rank == 3 and self.padding != "same" and any(w.size < w.kernel for w in ws):
            sizes, kernels = "x".join(str(w.size) for w in ws), "x".join(str(w.kernel) for w in ws)
            short = [f"{w.size} < {w.kernel}" for w in ws if w.size < w.kernel]
            raise LayerError(
                f"the input {sizes} is smaller than the kernel {kernels} ({', '.join(short)}) before padding; "
                f"PyTorch's avg_pool3d refuses it",
                hint=f"use a kernel of at most {sizes} (padding does not count), or pool a larger input")
        return ws


@value
class GlobalAvgPool(Layer):
    """Average of each channel over all spatial positions. Shape: 1x1xC (one 1 per axis)."""

    family: ClassVar[str] = "pool"
    label: ClassVar[str] = "GLOBAL AVG POOL"

    def out_shape(self, x: Shape) -> Shape:
        if x.rank == 0:
            raise LayerError(f"needs a spatial input (HxWxC), got the flat vector {x}")
        return Shape((1,) * x.rank, x.channels)

    op_kind: ClassVar[str] = "pool"

    def ops(self, x: Shape) -> int:
        return x.elements

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return self.label


@value
class GlobalMaxPool(GlobalAvgPool):
    label: ClassVar[str] = "GLOBAL MAX POOL"


def adaptive_window(i: int, size: int, out: int) -> Tuple[int, int]:
    """PyTorch's adaptive pooling window for output ``i``: ``[⌊i·W/n⌋, ⌈(i+1)·W/n⌉)``."""
    return (i * size) // out, -(-((i + 1) * size) // out)


@value
class AdaptiveAvgPool(Layer):
    """Pool to a fixed output size whatever the input (PyTorch's AdaptiveAvgPool2d).

    Shape: the requested ``output`` per axis, channels unchanged. No parameters, no MACs.
    """

    family: ClassVar[str] = "pool"
    leading: ClassVar[Optional[str]] = "output"
    label: ClassVar[str] = "ADAPTIVE AVG POOL"

    output: Ints = option(convert=per_axis, aliases=("output_size", "size"), help="output size per axis")

    def out_shape(self, x: Shape) -> Shape:
        return Shape(expand(self.output, x, "output size"), x.channels)

    op_kind: ClassVar[str] = "pool"

    def ops(self, x: Shape) -> int:
        """Each output reads its window: PyTorch's start = ⌊i·W/n⌋, end = ⌈(i+1)·W/n⌉.

        Summed in closed form (no loop over the outputs): the windows of an axis add up to
        ``W + n − gcd(W, n)`` inputs, since ``Σ⌈(i+1)W/n⌉ − Σ⌊iW/n⌋`` counts ``W`` once, plus one
        for every window whose end is not a whole number.
        """
        per_axis = [w + n - math.gcd(w, n) for w, n in zip(x.spatial, self.out_shape(x).spatial)]
        return math.prod(per_axis) * x.channels

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        """Window ``i`` is ``⌈(r + W)/n⌉`` wide with ``r = i·W mod n``, which takes every multiple of
        ``gcd(W, n)`` below ``n``: the widest is ``⌈(W + n − gcd)/n⌉``, found without a loop."""
        from fractions import (
            Fraction,  # only here: fractions and decimal slow every start-up
        )

        out = self.out_shape(x).spatial
        if all(n == 1 for n in out):
            return None
        steps = []
        for w, n in zip(x.spatial, out):
            if w % n == 0:
                steps.append(window_step(Window(w, w // n, w // n)))
                continue
            widest = -(-(w + n - math.gcd(w, n)) // n)
            first = adaptive_window(0, w, n)[1]
            steps.append(Step(Fraction(widest - 1), Fraction(w, n), Fraction(first - 1, 2), exact=False))
        return tuple(steps)

    def describe(self) -> str:
        return f"{self.label} {window_text(self.output)}"


@value
class AdaptiveMaxPool(AdaptiveAvgPool):
    label: ClassVar[str] = "ADAPTIVE MAX POOL"
