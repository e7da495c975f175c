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

To add a layer kind: write its rule here, add it to ``KINDS`` at the bottom, and test it.
"""

from __future__ import annotations

import functools
import itertools
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Optional, Tuple, Type, Union

from ..errors import LayerError
from ..limits import MAX_RANK
from ..shape import Shape, Window, same_padding
from ..values import field, fields, replace, value
from .options import (
    Ints,
    Padding,
    boolean,
    choice,
    fraction,
    is_option,
    non_negative,
    op_name,
    option,
    padding,
    per_axis,
    per_axis_number,
    per_axis_or_zero,
    positive,
    real,
    tensor_name,
)


@value
class Note:
    """Something the engine tells the user about a layer. ``level`` is 'warning' or 'info'."""

    level: str
    code: str
    text: str
    brief: str = ""  # a few words for a table cell; ``text`` says it all


Number = Union[int, Fraction]  # exact: an int where the value is whole, else a Fraction


@value
class Step:
    """What one layer does to a receptive field along one axis, in units of the input's jump.

    With ``r`` the field size, ``j`` the jump (distance in input pixels between neighbouring
    units) and ``start`` the input coordinate of the first unit's centre (Araujo, Norris & Sim,
    "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019; Dumoulin &
    Visin, arXiv 1603.07285)::

        r' = r + grow·j        j' = j·scale        start' = start + shift·j

    For a window: ``grow = F_eff − 1``, ``scale = S``, ``shift = (F_eff − 1)/2 − P_before``.
    ``exact`` is False where units do not all see fields of one size (uneven adaptive pooling,
    transposed convs whose kernel does not divide by the stride): ``r`` is then the largest.
    """

    grow: Number
    scale: Number
    shift: Number
    exact: bool = True


IDENTITY_STEP = Step(0, 1, 0)  # ints where the value is whole: Fraction arithmetic is slow


def window_step(w: Window) -> Step:
    f = w.effective_kernel
    shift = (f - 1) // 2 - w.pad_before if f % 2 else Fraction(f - 1, 2) - w.pad_before
    return Step(f - 1, w.stride, shift)


class Layer:
    """Base of all rules: zero parameters, zero MACs, shape unchanged, nothing to note."""

    family: ClassVar[str] = "layer"  # default names are family + counter: conv1, pool2, norm1
    # Families that share a counter: conv and fc count weight layers together, so AlexNet's
    # unnamed layers come out as the lecture notes name them: conv1 ... conv5, fc6, fc7, fc8.
    counter: ClassVar[str] = ""
    leading: ClassVar[Optional[str]] = None  # the option a bare number sets in a layer string

    @property
    def kind(self) -> str:
        return KIND_OF[type(self)]

    def family_name(self) -> str:
        """What unnamed layers of this kind are called, before their number: conv1, pool2."""
        return self.family

    def out_shape(self, x: Shape) -> Shape:
        return x

    def params(self, x: Shape) -> int:
        return 0

    def buffers(self, x: Shape) -> int:
        return 0

    def biases(self, x: Shape) -> int:
        """The bias terms among ``params`` (left out by ``--no-bias``)."""
        return 0

    def macs(self, x: Shape) -> int:
        return 0

    inplace: ClassVar[bool] = False  # may overwrite its input (activations, dropout): see --inplace

    # Element-wise work that the default convention does not count; ``op_kind`` says which
    # ``--count-ops`` switch turns it on: 'norm', 'act' or 'pool'.
    op_kind: ClassVar[str] = ""

    def ops(self, x: Shape) -> int:
        """Operations of a kind the default convention leaves out (see ``op_kind``)."""
        return 0

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        """One Step per spatial axis of ``x``; None when every output sees the whole input."""
        return (IDENTITY_STEP,) * x.rank

    def notes(self, x: Shape) -> Tuple[Note, ...]:
        return ()

    def describe(self) -> str:
        return self.kind.upper()

    def sized_like(self, target: Shape) -> "Layer":
        """This rule with its size taken from tensor ``target`` (``like:``); only rules with a
        ``like`` option (upsample, crop) override it."""
        raise LayerError(f"{self.kind} takes no size from another tensor")

    def bind(self, x: Shape) -> "Layer":
        """This rule as it runs on input ``x``; the engine reports the bound rule. A windowed rule
        that takes its rank from its input learns it here, so its label says what runs: a 2-part
        shape ``32x32`` is a 1-D signal, and its conv reads ``CONV1D 10 5``, not ``CONV 10 5x5``."""
        rank: Optional[int] = getattr(self, "rank", 2)  # only windowed rules have a rank field
        if rank is None and x.rank not in (0, 2):
            return replace(self, rank=x.rank)
        return self


# --- sliding windows (conv and pool) -------------------------------------------------------


def expand(values: Ints, x: Shape, what: str) -> Ints:
    """A per-axis option for ``x``'s spatial axes: one value applies to all of them."""
    if x.rank == 0:
        raise LayerError(
            f"needs a spatial input (HxWxC), got the flat vector {x}",
            hint="a windowed layer cannot follow an fc or flatten layer",
        )
    if len(values) == 1:
        return values * x.rank
    if len(values) != x.rank:
        raise LayerError(
            f"{what} {'x'.join(map(str, values))} has {len(values)} values "
            f"but the input {x} has {x.rank} spatial axes"
        )
    return values


def axes_text(values: Ints) -> str:
    """A stride or padding as written: ``2`` when the same on every axis, ``1x2`` otherwise."""
    return "x".join(map(str, values)) if len(set(values)) > 1 else str(values[0])


def window_text(values: Ints, rank: Optional[int] = None) -> str:
    """A kernel as the lecture notes write it: ``11x11`` (a single size means a square window)."""
    return "x".join(map(str, values * (rank or 2) if len(values) == 1 else values))


def check_rank(x: Shape, rank: Optional[int], kind: str) -> None:
    """A conv1d wants a 1-D input (LxC), a conv3d a 3-D one (DxHxWxC)."""
    if rank is not None and x.rank != rank:
        example = {1: "LxC", 2: "HxWxC", 3: "DxHxWxC"}.get(rank, f"{rank} spatial axes")
        raise LayerError(f"{kind} needs a {rank}-D input ({example}), got {x} with {x.rank} spatial axes")


@functools.lru_cache(maxsize=4096)  # shape, params, MACs, notes and fields all ask for the same windows
def windows(
    x: Shape, kernel: Ints, stride: Ints, pad: Padding, dilation: Ints, ceil_mode: bool = False, pool: bool = False
) -> Tuple[Window, ...]:
    """Resolve per-axis options against input ``x`` into one ``Window`` per spatial axis."""
    kernel, stride, dilation = (
        expand(kernel, x, "kernel"),
        expand(stride, x, "stride"),
        expand(dilation, x, "dilation"),
    )
    result = []
    for axis, size in enumerate(x.spatial):
        f_eff = dilation[axis] * (kernel[axis] - 1) + 1
        if pad == "same":
            before, after = same_padding(size, f_eff, stride[axis])
        elif pad == "valid":
            before = after = 0
        else:
            before = after = expand(pad, x, "padding")[axis]  # type: ignore[arg-type]
        result.append(Window(size, kernel[axis], stride[axis], dilation[axis], before, after, ceil_mode, pool))
    return tuple(result)


AXIS_NAMES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}


def window_out(ws: Tuple[Window, ...]) -> Tuple[int, ...]:
    """Output spatial sizes; a window larger than its padded input is an error that shows why."""
    names = AXIS_NAMES.get(len(ws), tuple(f"axis {i}" for i in range(len(ws))))
    for name, w in zip(names, ws):
        if w.out_size < 1:
            dilated = f" (dilated {w.effective_kernel})" if w.dilation > 1 else ""
            raise LayerError(
                f"kernel {w.kernel}{dilated} exceeds padded input {w.padded} along {name} "
                f"({w.size} + {w.pad_before + w.pad_after} padding): {w.working()} ≤ 0",
                hint=f"use a kernel of at most {w.padded} or pad the input",
            )
    return tuple(w.out_size for w in ws)


def fit_notes(ws: Tuple[Window, ...]) -> Tuple[Note, ...]:
    """Flag every axis whose stride does not divide ``W − F_eff + 2P``, with what would fit.

    The lecture notes' example: 7x7 input, 3x3 filter, stride 3 gives (7 − 3)/3 + 1 = 2.33, and
    the last input column is never seen: a warning. When what is left over is only padding
    (ResNet's 7x7 stride-2 conv with padding 3 on 224), no input is lost: an info note.
    """
    names = AXIS_NAMES.get(len(ws), tuple(f"axis {i}" for i in range(len(ws))))
    notes = []
    seen = set()
    for name, w in zip(names, ws):
        # a window smaller than its stride leaves holes between windows whether or not the stride
        # divides the span (41 and 40 wide alike): said for every such axis, not only the misfits
        skips = w.effective_kernel < w.stride and w.span > 0
        if (w.fits and not skips) or w.ceil_mode or w.span < 0:
            continue
        key = (w.size, w.kernel, w.stride, w.dilation, w.pad_before, w.pad_after)
        if key in seen:  # a square layer gets one note, not one per axis
            continue
        seen.add(key)
        where = f" along {name}" if len({(v.size, v.kernel, v.stride) for v in ws}) > 1 else ""
        p = w.pad_before + w.pad_after
        value = Fraction(w.span, w.stride) + 1
        formula = f"({w.size} − {w.effective_kernel}{f' + {p}' if p else ''})/{w.stride} + 1 = {float(value):.2f}"
        left_over = w.span % w.stride
        if skips:  # a strided 1x1 conv skips pixels by design, not by accident
            gap = w.stride - w.effective_kernel
            holes = (f"the window ({w.effective_kernel}) is smaller than the stride, so it skips {gap} of every "
                     f"{w.stride} input rows/columns by design")
            if w.fits:
                text = f"{formula.rsplit(' = ', 1)[0]} = {w.out_size}{where}: {holes}."
                notes.append(Note("info", "stride-skips-by-design", text, f"{w.out_size}: skips by design"))
            else:
                text = (f"{formula}{where}: floored to {math.floor(value)} as PyTorch does; {holes} "
                        f"(the leftover is one more of them).")
                notes.append(Note("info", "stride-skips-by-design", text, f"{float(value):.2f}: skips by design"))
            continue
        if left_over <= w.pad_after:  # the windows skip only padding: every input pixel is still seen
            text = (f"{formula}{where}: floored to {math.floor(value)} as PyTorch does; the last {left_over} "
                    f"column{'s' if left_over > 1 else ''} left over {'are' if left_over > 1 else 'is'} padding, "
                    f"so no input is lost. {fit_suggestion(w)}")
            notes.append(Note("info", "stride-skips-padding", text, f"{float(value):.2f}: skips padding"))
            continue
        lost = left_over - w.pad_after
        unseen = "the last input row/column is" if lost == 1 else f"the last {lost} input rows/columns are"
        text = (
            f"{formula}{where}: stride {w.stride} does not fit; floored to {math.floor(value)} as PyTorch does, "
            f"so {unseen} never read (ceil would give {math.ceil(value)}). {fit_suggestion(w)}"
        )
        brief = f"{float(value):.2f}: does not fit"
        notes.append(Note("warning", "stride-does-not-fit", text, brief))
    return tuple(notes)


def fit_suggestion(w: Window) -> str:
    """The nearest symmetric padding that fits and the layer accepts, else the nearest input sizes
    that fit.

    Padding q fits when ``2q ≡ F_eff − W (mod S)``: solved as a congruence, not by search, so
    a stride of 10^9 costs nothing. A pool accepts at most ``w.most_padding``.
    """
    f, size, stride, pad = w.effective_kernel, w.size, w.stride, w.pad_before
    c = (f - size) % stride
    if stride % 2 or c % 2 == 0:
        residue, period = ((c * pow(2, -1, stride)) % stride, stride) if stride % 2 else (c // 2, stride // 2)
        lowest = max(0, -(-(f - size) // 2))  # the padded input must hold one window
        k = (pad - residue) // period
        candidates = [residue + j * period for j in (k, k + 1)]
        candidates = [q if q >= lowest else residue + -(-(lowest - residue) // period) * period for q in candidates]
        if w.most_padding is not None:
            top = residue + (w.most_padding - residue) // period * period  # the most that fits and is accepted
            candidates = [q for q in candidates if q <= w.most_padding] or ([top] if top >= lowest else [])
        if candidates:
            best = min(candidates, key=lambda q: (abs(q - pad), q))
            return f"Padding {best} would fit (output {(size + 2 * best - f) // stride + 1})."
    above = size + (f - 2 * pad - size) % stride
    below = size - (size + 2 * pad - f) % stride
    sizes = f"{below} or {above}" if below >= 1 and below + 2 * pad >= f else f"{above}"
    which = "symmetric padding" if w.most_padding is None else f"padding the pool accepts (at most {w.most_padding})"
    return f"No {which} fits; input {sizes} would."


def pad_text(pad: Padding) -> str:
    return pad if isinstance(pad, str) else axes_text(pad)


def pytorch_notes(pad: Padding, stride: Ints, pool: bool = False) -> Tuple[Note, ...]:
    """'same' padding that PyTorch would refuse: convcalc keeps TensorFlow's rule, and says so.

    PyTorch's convs take ``padding='same'`` only at stride 1 ("padding='same' is not supported
    for strided convolutions"); its pools take no 'same' at all.
    """
    if pad != "same" or (not pool and max(stride) == 1):
        return ()
    if pool:
        text = ("padding 'same' follows TensorFlow (output ⌈W/S⌉, the odd pixel of padding after); "
                "PyTorch's pools take no padding='same', so PyTorch would refuse this layer")
    else:
        text = (f"padding 'same' with stride {axes_text(stride)} follows TensorFlow (output ⌈W/S⌉, the odd pixel "
                "of padding after); PyTorch would refuse this layer: \"padding='same' is not supported for "
                "strided convolutions\"")
    return (Note("info", "same-not-pytorch", text, "'same': TensorFlow's rule, not PyTorch's"),)


# --- the rules ---------------------------------------------------------------------------


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
    label: ClassVar[str] = "AVG POOL"
    dilates: ClassVar[bool] = False


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

    No parameters; its few multiplies per element are not counted as MACs.
    """

    family: ClassVar[str] = "norm"
    leading: ClassVar[Optional[str]] = "size"

    size: int = option(5, positive, aliases=("n", "local_size", "depth_radius"),
                       help="channels in each normalisation window (default 5, as AlexNet)")
    alpha: float = option(1e-4, real, help="α (default 1e-4); changes no count")
    beta: float = option(0.75, real, help="β (default 0.75); changes no count")
    k: float = option(2.0, real, aliases=("bias",), help="k (default 2); changes no count")

    def describe(self) -> str:
        return f"NORM (LRN {self.size})"


@value
class Activation(Layer):
    """An element-wise function (relu, tanh ...): shape unchanged, no parameters, no MACs."""

    family: ClassVar[str] = "act"
    op_kind: ClassVar[str] = "act"
    inplace: ClassVar[bool] = True
    function: str = "relu"

    def ops(self, x: Shape) -> int:
        """One operation per element (a comparison for relu, a function evaluation for the rest)."""
        return x.elements

    @property
    def kind(self) -> str:
        return self.function

    def family_name(self) -> str:
        return self.function

    def describe(self) -> str:
        return self.function.upper()


@value
class Elementwise(Layer):
    """An element-wise function a model file writes as an operator of its own (Erf inside a
    traced GELU, Exp, Sqrt, Reciprocal ...): shape unchanged, no parameters, and, as every
    element-wise function, no MACs; ``--count-ops act`` counts one operation per element."""

    family: ClassVar[str] = "elementwise"
    op_kind: ClassVar[str] = "act"
    leading: ClassVar[Optional[str]] = "op"

    op: str = option(convert=op_name, aliases=("operator", "function"),
                     help="the function's name in its file (e.g. ONNX 'Erf')")

    def ops(self, x: Shape) -> int:
        return x.elements

    def describe(self) -> str:
        return self.op.upper()


@value
class Dropout(Layer):
    """Zeroes activations at random while training; nothing to count."""

    family: ClassVar[str] = "dropout"
    inplace: ClassVar[bool] = True
    leading: ClassVar[Optional[str]] = "p"

    p: float = option(0.5, fraction, aliases=("rate", "probability"), help="drop probability (default 0.5)")

    def describe(self) -> str:
        return f"DROPOUT {self.p:g}"


@value
class Softmax(Layer):
    """Class probabilities from scores; shape unchanged."""

    family: ClassVar[str] = "softmax"

    def describe(self) -> str:
        return "SOFTMAX"


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


def scaled_size(size: int, scale: float) -> int:
    """PyTorch's output size for a scale factor: the float64 product, floored (not exact decimals)."""
    return math.floor(float(size) * float(scale))


@value
class Upsample(Layer):
    """Upsampling by a scale factor or to a size (PyTorch ``Upsample``/``interpolate``).

    Shape: ``size`` per axis, or PyTorch's ``floor(float64(W)·float64(scale))`` (aten's
    ``upsample.h``, ``compute_output_size``): the product is taken in binary floating point, as
    PyTorch does, so ``100·0.29`` (= 28.999999999999996) gives 28 and ``50·2.3`` gives 114,
    not the 29 and 115 of exact decimal arithmetic. No parameters; interpolation is not counted.
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


@value
class Crop(Layer):
    """A centre crop to a size, or to the size of another tensor (U-Net's crop-and-concat:
    Ronneberger et al. 2015 crop each encoder map to the decoder map it joins).

    Shape: ``size`` per axis, channels kept; the crop starts at ``(W − size) // 2`` (the extra
    pixel of an odd margin is cut at the end, as torchvision's ``center_crop`` does). No
    parameters, no MACs.
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
        return tuple((w - c) // 2 for w, c in zip(x.spatial, sizes))

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
        return tuple(Step(Fraction(0), Fraction(1), Fraction(-b)) for b, _ in self._sides(x))

    def describe(self) -> str:
        after = f" after {axes_text(self.after)}" if self.after is not None and self.after != self.padding else ""
        return f"ZEROPAD {axes_text(self.padding)}{after}"


@value
class ChannelShuffle(Layer):
    """ShuffleNet's channel shuffle: a permutation; channels must divide into ``groups``."""

    family: ClassVar[str] = "shuffle"
    leading: ClassVar[Optional[str]] = "groups"

    groups: int = option(convert=positive, letter="g", help="groups")

    def out_shape(self, x: Shape) -> Shape:
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


@value
class LayerNorm(Layer):
    """Layer normalisation over the channels at each position (Ba, Kiros & Hinton, arXiv
    1607.06450): ConvNeXt's ``LayerNorm2d`` on a channels-first grid and ``nn.LayerNorm(C)`` on a
    channels-last grid or a token sequence normalise the same C values, so one rule serves both
    layouts.

    Params: ``2·C`` (scale and shift per channel); no running statistics; no MACs.
    """

    family: ClassVar[str] = "ln"

    eps: float = option(1e-5, real, aliases=("epsilon",), help="ε added to the variance (default 1e-5); changes no count")

    def params(self, x: Shape) -> int:
        return 2 * x.channels

    def describe(self) -> str:
        return "LAYERNORM"


@value
class GroupNorm(Layer):
    """Group normalisation: statistics over ``groups`` groups of channels. Params: ``2·C``."""

    family: ClassVar[str] = "gn"
    leading: ClassVar[Optional[str]] = "groups"

    groups: int = option(32, positive, letter="g", aliases=("num_groups",), help="groups (default 32)")

    def out_shape(self, x: Shape) -> Shape:
        if x.channels % self.groups:
            raise LayerError(f"groups {self.groups} must divide the channels {x.channels}")
        return x

    def params(self, x: Shape) -> int:
        return 2 * x.channels

    def describe(self) -> str:
        return f"GROUPNORM g{self.groups}"


# --- tokens and attention: a sequence is a Shape with one axis, L tokens of C channels -----------


def positions(x: Shape) -> int:
    """Where a per-position rule runs: H·W on a grid, L on a sequence, once on a vector."""
    return math.prod(x.spatial)


def check_sequence(x: Shape, what: str) -> int:
    """The length L of a token sequence (``LxC``); a grid or a vector is refused with what to do."""
    if x.rank != 1:
        got = "the flat vector" if x.rank == 0 else "the grid"
        raise LayerError(f"{what} needs a sequence of tokens (LxC), got {got} {x}",
                         hint="'tokens' turns an HxWxC grid into a sequence of H·W tokens")
    return x.spatial[0]


@value
class PositionLinear(Layer):
    """A linear map of the channels at each position, without flattening: PyTorch's ``nn.Linear``
    applied to the last dimension of a channels-last grid (ConvNeXt's block) or of a token
    sequence (a transformer's MLP); a 1x1 conv by another name.

    Shape: ``HxWxC → HxWxunits`` (``LxC → Lxunits``). Params: ``C·units + units`` (the bias term
    only with bias). MACs: ``positions·C·units``, positions = H·W (or L), one per weight per
    position (nn.Linear's ``y = xWᵀ + b`` at each position).
    """

    family: ClassVar[str] = "linear"
    counter: ClassVar[str] = "weight"
    leading: ClassVar[Optional[str]] = "units"

    units: int = option(convert=positive, aliases=("out_features", "features", "filters"),
                        help="output channels at each position")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",),
                        help="learn a bias per unit (default true)")

    def out_shape(self, x: Shape) -> Shape:
        return Shape(x.spatial, self.units)

    def params(self, x: Shape) -> int:
        return x.channels * self.units + self.biases(x)

    def biases(self, x: Shape) -> int:
        return self.units if self.bias else 0

    def macs(self, x: Shape) -> int:
        return positions(x) * x.channels * self.units

    def describe(self) -> str:
        return f"LINEAR {self.units} per position" + ("" if self.bias else " nb")


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


@value
class PReLU(Layer):
    """Parametric ReLU, ``y = x`` for ``x > 0`` and ``y = a·x`` otherwise, with the negative slope
    ``a`` learned (He et al., "Delving Deep into Rectifiers", arXiv 1502.01852; PyTorch's
    ``nn.PReLU(num_parameters)``, Caffe's PReLU, Keras' ``PReLU(shared_axes=[1, 2])``).

    Shape unchanged. Params: ``C``, one slope per channel; ``1`` with ``shared`` (Caffe's
    ``channel_shared``, PyTorch's ``nn.PReLU()``). MACs: 0 — a multiply per negative value
    with nothing summed, as leakyrelu; ``--count-ops act`` counts one operation per element.
    """

    family: ClassVar[str] = "prelu"
    op_kind: ClassVar[str] = "act"

    shared: bool = option(False, boolean, aliases=("channel_shared",),
                          help="one slope for every channel (default false: one per channel)")

    def params(self, x: Shape) -> int:
        return 1 if self.shared else x.channels

    def ops(self, x: Shape) -> int:
        return x.elements

    def describe(self) -> str:
        return "PRELU shared" if self.shared else "PRELU"


@value
class Tokens(Layer):
    """A grid as a sequence of tokens: ``HxWxC → (H·W)xC``, row by row (ViT's
    ``x.reshape(n, C, H·W).permute(0, 2, 1)``). No parameters, no MACs.

    Receptive field: a token's field is a patch of the grid, not an interval of the sequence, so
    it cannot be carried on the sequence's one axis; like fc, the rule reports the whole input
    from here on (on a sequence already, nothing changes).
    """

    family: ClassVar[str] = "tokens"

    def out_shape(self, x: Shape) -> Shape:
        if x.rank == 0:
            raise LayerError(f"needs a grid (HxWxC), got the flat vector {x}")
        return Shape((positions(x),), x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        """Each token is one unit of the grid and sees what that unit saw: the field is kept
        (``()``: no axis moves). Layers after it that move positions along the sequence cannot
        be followed on the grid's axes; receptive.py says so."""
        return ()

    def describe(self) -> str:
        return "TOKENS"


@value
class ToGrid(Layer):
    """A sequence of tokens back to a grid, row by row: ``LxC → HxWxC`` with ``H·W = L`` (the
    inverse of ``tokens``; PyTorch's ``x.transpose(1, 2).reshape(n, C, H, W)``, as hierarchical
    transformers do between stages). Without a size the grid is square: ``L`` must be a square
    number.
    No parameters, no MACs; receptive field as ``tokens``.
    """

    family: ClassVar[str] = "grid"
    leading: ClassVar[Optional[str]] = "size"

    size: Optional[Ints] = option(None, per_axis, aliases=("output_size", "grid"),
                                  help="the grid's sizes, H x W (one number: a square); default the square root of L")

    def out_shape(self, x: Shape) -> Shape:
        n = check_sequence(x, "togrid")
        if self.size is None:
            side = math.isqrt(n)
            if side * side != n:
                raise LayerError(f"{n} tokens do not make a square grid ({side}² = {side * side})",
                                 hint="give the grid's size, e.g. size: [H, W]")
            sizes: Ints = (side, side)
        else:
            sizes = self.size * 2 if len(self.size) == 1 else self.size
        if math.prod(sizes) != n:
            raise LayerError(f"a {window_text(sizes)} grid holds {math.prod(sizes):,} tokens, not the {n:,} given")
        return Shape(sizes, x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"TO GRID {window_text(self.size)}" if self.size else "TO GRID"


@value
class ClassToken(Layer):
    """A learned token put before the sequence (BERT's [CLS]; ViT: Dosovitskiy et al., arXiv
    2010.11929, eq. 1, torchvision's ``class_token``): ``LxC → (L+1)xC``.

    Params: ``C``. MACs: 0 (a concatenation). Receptive field: token ``o`` is input token
    ``o − 1``, as behind one token of padding (the class token itself reads no input).
    """

    family: ClassVar[str] = "cls"

    def out_shape(self, x: Shape) -> Shape:
        return Shape((check_sequence(x, "clstoken") + 1,), x.channels)

    def params(self, x: Shape) -> int:
        return x.channels

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return (Step(0, 1, -1),)

    def describe(self) -> str:
        return "CLASS TOKEN"


@value
class PositionEmbedding(Layer):
    """A learned position embedding added to the input (ViT eq. 1, torchvision's
    ``pos_embedding`` of ``1×L×C``). Shape unchanged.

    Params: one per element, ``L·C`` on a sequence (``H·W·C`` on a grid). MACs: 0 (additions
    are not counted).
    """

    family: ClassVar[str] = "pos"

    def params(self, x: Shape) -> int:
        return x.elements

    def describe(self) -> str:
        return "POSITION EMBEDDING"


@value
class SelectToken(Layer):
    """One token of a sequence as a vector: ``LxC → C`` (ViT's ``x[:, 0]``, the class token).

    No parameters, no MACs. Receptive field reported as the whole input, as fc: a vector has no
    axis to carry a field on (after attention the class token does see every input anyway).
    """

    family: ClassVar[str] = "select"
    leading: ClassVar[Optional[str]] = "index"

    index: int = option(0, non_negative, letter="i", aliases=("token", "position"),
                        help="which token, from 0 (default 0: the class token)")

    def out_shape(self, x: Shape) -> Shape:
        n = check_sequence(x, "selecttoken")
        if self.index >= n:
            raise LayerError(f"token {self.index} does not exist in a sequence of {n} (0 … {n - 1})")
        return Shape((), x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"SELECT TOKEN {self.index}"


# --- views: the same elements arranged otherwise (what model files do between the layers) ----


def check_dims(values: Ints, what: str) -> None:
    """A list of dims longer than any tensor may have is refused before anything multiplies it."""
    if len(values) > MAX_RANK:
        raise LayerError(f"{what} lists {len(values):,} dims; convcalc takes at most {MAX_RANK}",
                         hint="see the README's limits")


def dims_text(values: Ints) -> str:
    return window_text(values) if len(values) <= MAX_RANK else f"{len(values):,} dims"


def dims_shape(dims: Tuple[int, ...]) -> Shape:
    """A shape from its dims in convcalc's order, the last one the channels: ``(12, 197, 64)``
    is 12x197x64, 197 positions of 64 in each of 12 heads."""
    return Shape(tuple(dims[:-1]), dims[-1])


@value
class Reshape(Layer):
    """The same elements in another shape: PyTorch's ``view``/``reshape``, ONNX's Reshape,
    Squeeze and Unsqueeze. ``to`` lists the new dims in convcalc's order (channels last, no
    batch). No parameters, no MACs; the element count must not change.

    Receptive field: which input positions an output position holds depends on how the dims
    are cut, so none is carried past it (reported as the whole input, as fc).
    """

    family: ClassVar[str] = "reshape"
    leading: ClassVar[Optional[str]] = "to"

    to: Ints = option(convert=per_axis, aliases=("shape", "dims"),
                      help="the new dims, channels last, no batch: [197, 12, 64] or 197x12x64")

    def out_shape(self, x: Shape) -> Shape:
        check_dims(self.to, "to")
        if math.prod(self.to) != x.elements:
            raise LayerError(f"{x} holds {x.elements:,} elements; {window_text(self.to)} would hold "
                             f"{math.prod(self.to):,}", hint="a reshape keeps every element")
        return dims_shape(self.to)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"RESHAPE {dims_text(self.to)}"


@value
class Permute(Layer):
    """The dims in another order: PyTorch's ``permute``/``transpose``, ONNX's Transpose. ``order``
    names, for each output dim, the input dim it takes (from 0, in convcalc's order, channels
    last, no batch): on 197x12x64, ``[1, 0, 2]`` gives 12x197x64. No parameters, no MACs.
    Receptive field: none carried past it, as ``reshape``.
    """

    family: ClassVar[str] = "permute"
    leading: ClassVar[Optional[str]] = "order"

    order: Ints = option(convert=per_axis_or_zero, aliases=("dims", "perm", "axes"),
                         help="for each output dim, the input dim it takes, from 0: [1, 0, 2]")

    def out_shape(self, x: Shape) -> Shape:
        check_dims(self.order, "order")
        dims = x.dims
        if sorted(self.order) != list(range(len(dims))):
            raise LayerError(f"order {list(self.order)} is not a permutation of the {len(dims)} dims of {x} "
                             f"(0 … {len(dims) - 1}, each once)")
        return dims_shape(tuple(dims[i] for i in self.order))

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return "PERMUTE " + (",".join(map(str, self.order)) if len(self.order) <= MAX_RANK else f"{len(self.order):,} dims")


@value
class Take(Layer):
    """One index along one dim, that dim removed: PyTorch's ``x.select(dim, i)`` (``qkv[0]``),
    ONNX's Gather with one index. ``axis`` counts in convcalc's order (channels last, no batch).
    No parameters, no MACs; receptive field not carried past it, as ``reshape``.
    """

    family: ClassVar[str] = "take"
    leading: ClassVar[Optional[str]] = "index"

    index: int = option(0, non_negative, letter="i", help="which index, from 0 (default 0)")
    axis: int = option(0, non_negative, letter="a", aliases=("dim",),
                       help="along which dim, from 0, channels last (default 0)")

    def out_shape(self, x: Shape) -> Shape:
        dims = x.dims
        if len(dims) < 2:
            raise LayerError(f"needs at least two dims, got the vector {x}", hint="'selecttoken' picks one token")
        if self.axis >= len(dims):
            raise LayerError(f"axis {self.axis} does not exist in {x} (0 … {len(dims) - 1})")
        if self.index >= dims[self.axis]:
            raise LayerError(f"index {self.index} does not exist along axis {self.axis} of {x} "
                             f"(0 … {dims[self.axis] - 1})")
        return dims_shape(dims[:self.axis] + dims[self.axis + 1:])

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"TAKE {self.index} axis {self.axis}"


@value
class Slice(Layer):
    """A range of one dim with a step: PyTorch's ``x[..., start:stop:step, ...]``, ONNX's Slice.
    ``axis`` counts in convcalc's order (channels last, no batch); ``stop`` past the end is the
    end, as Python's slices. No parameters, no MACs; receptive field not carried past it.
    (A contiguous part of the channels is also ``split``, whose field follows.)
    """

    family: ClassVar[str] = "slice"

    axis: int = option(0, non_negative, letter="a", aliases=("dim",), help="along which dim, from 0, channels last")
    start: int = option(0, non_negative, help="the first index taken (default 0)")
    stop: Optional[int] = option(None, non_negative, aliases=("end",), help="one past the last (default: the end)")
    step: int = option(1, positive, help="take every step-th (default 1)")

    def out_shape(self, x: Shape) -> Shape:
        dims = x.dims
        if self.axis >= len(dims):
            raise LayerError(f"axis {self.axis} does not exist in {x} (0 … {len(dims) - 1})")
        n = dims[self.axis]
        stop = n if self.stop is None else min(self.stop, n)
        taken = len(range(min(self.start, n), stop, self.step))
        if taken < 1:
            raise LayerError(f"{self.start}:{stop}:{self.step} takes nothing of the {n} along axis {self.axis} of {x}")
        return dims_shape(dims[:self.axis] + (taken,) + dims[self.axis + 1:])

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        stop = "" if self.stop is None else self.stop
        step = f":{self.step}" if self.step != 1 else ""
        return f"SLICE axis {self.axis} {self.start}:{stop}{step}"


@value
class Attention(Layer):
    """Multi-head self-attention, as PyTorch's ``nn.MultiheadAttention(C, heads)`` called with
    query = key = value (Vaswani et al., "Attention Is All You Need", arXiv 1706.03762, §3.2):
    q, k, v projections, each head's ``softmax(Q·Kᵀ/√d)·V`` with ``d = C/heads``, and an output
    projection. On a grid, its H·W positions are the tokens.

    Shape: ``LxC → LxC``; ``heads`` must divide C (PyTorch: "embed_dim must be divisible by
    num_heads").
    Params: ``4·C² + 4·C``: ``in_proj`` is one ``3C×C`` weight and a ``3C`` bias, ``out_proj`` a
    ``C×C`` weight and a ``C`` bias (``4·C²`` without bias).
    MACs, the convention: projections ``3·L·C²``, ``Q·Kᵀ`` ``L²·C`` (each head ``L·L·d``), ``A·V``
    ``L²·C``, output projection ``L·C²``: ``4·L·C² + 2·L²·C`` (torchvision's published GFLOPS count
    the same). The heads split the work without changing it. Not counted, as for every
    element-wise op: the ``1/√d`` scaling and the softmax over the ``heads·L²`` scores.
    Memory: the ``heads·L·L`` attention weights live inside the layer; only its output is counted.
    Receptive field: every output token reads every input token, so the whole input.
    """

    family: ClassVar[str] = "attn"
    leading: ClassVar[Optional[str]] = "heads"

    heads: int = option(1, positive, letter="h", aliases=("num_heads", "n_heads"),
                        help="attention heads; must divide the channels (default 1; changes no count)")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",),
                        help="biases on the q, k, v and output projections (default true)")

    def out_shape(self, x: Shape) -> Shape:
        if x.rank == 0:
            raise LayerError(f"needs a sequence of tokens (LxC), got the flat vector {x}")
        if x.channels % self.heads:
            raise LayerError(f"heads {self.heads} must divide the channels {x.channels}")
        return x

    def params(self, x: Shape) -> int:
        return 4 * x.channels * x.channels + self.biases(x)

    def biases(self, x: Shape) -> int:
        return 4 * x.channels if self.bias else 0

    def macs(self, x: Shape) -> int:
        n, c = positions(x), x.channels
        return 4 * n * c * c + 2 * n * n * c

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"ATTENTION h{self.heads}" + ("" if self.bias else " nb")


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


# --- merges: where branches meet ---------------------------------------------------------


@value
class Merge(Layer):
    """Joins the outputs of a block's branches; no parameters, and element-wise work is not counted."""

    family: ClassVar[str] = "merge"

    @property
    def kind(self) -> str:
        return self.family

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        raise NotImplementedError

    def merge_macs(self, inputs: Tuple[Shape, ...]) -> int:
        """Multiply-accumulates of the merge itself: 0 but for a matrix product."""
        return 0


@value
class Add(Merge):
    """Element-wise sum (a residual connection): every branch must end in exactly the same shape."""

    family: ClassVar[str] = "add"

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        if len(set(inputs)) > 1:
            raise LayerError("add needs branches of the same shape, got " + ", ".join(map(str, inputs)))
        return inputs[0]

    def describe(self) -> str:
        return "ADD"


@value
class Mul(Merge):
    """Element-wise product; a 1x1xC branch broadcasts over HxWxC (squeeze-and-excitation)."""

    family: ClassVar[str] = "mul"

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        full = max(inputs, key=lambda s: s.elements)
        for s in inputs:
            if s != full and not (s.channels == full.channels and s.rank == full.rank and set(s.spatial) <= {1}):
                raise LayerError("mul needs branches of the same shape (or 1x1xC to broadcast), got "
                                 + ", ".join(map(str, inputs)))
        return full

    def describe(self) -> str:
        return "MUL"


@value
class Concat(Merge):
    """Channel concatenation (inception): spatial sizes must match; channels add up.

    With ``axis`` (``concat: {from: [a, b], axis: 0}``) along that dim instead, counted in
    convcalc's order (channels last): every other dim must match (``torch.cat`` along a dim of
    a tensor laid out channels last, as Swin's shifted windows are put back together)."""

    family: ClassVar[str] = "concat"

    axis: Optional[int] = None  # None: the channels

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        if self.axis is not None:
            return self.along(inputs, self.axis)
        if len({s.spatial for s in inputs}) > 1:
            raise LayerError("concat needs branches of the same spatial size, got " + ", ".join(map(str, inputs)))
        return Shape(inputs[0].spatial, sum(s.channels for s in inputs))

    @staticmethod
    def along(inputs: Tuple[Shape, ...], axis: int) -> Shape:
        dims = [s.dims for s in inputs]
        if len({len(d) for d in dims}) > 1 or axis >= len(dims[0]):
            raise LayerError(f"concat along axis {axis} needs tensors of more than {axis} dims, all of one rank, "
                             "got " + ", ".join(map(str, inputs)))
        if len({d[:axis] + d[axis + 1:] for d in dims}) > 1:
            raise LayerError(f"concat along axis {axis} needs the other dims to match, got " + ", ".join(map(str, inputs)))
        first = dims[0]
        return dims_shape(first[:axis] + (sum(d[axis] for d in dims),) + first[axis + 1:])

    def describe(self) -> str:
        return "CONCAT" if self.axis is None else f"CONCAT axis {self.axis}"


@value
class ConcatTokens(Merge):
    """Concatenation along a token sequence: sequences of the same channels, lengths add up.

    PyTorch's ``torch.cat(..., dim=1)`` on N×L×C; a learned class token is this with a sequence
    of one (``clstoken`` counts it as one layer)."""

    family: ClassVar[str] = "seqcat"

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        if any(s.rank != 1 for s in inputs) or len({s.channels for s in inputs}) > 1:
            raise LayerError("seqcat needs token sequences (LxC) of the same channels, got "
                             + ", ".join(map(str, inputs)), hint="make a grid a sequence with 'tokens' first")
        return Concat.along(inputs, 0)

    def describe(self) -> str:
        return "CONCAT TOKENS"


@value
class MatMul(Merge):
    """Matrix product of two tensors: ``(…, M, K) @ (…, K, N) → (…, M, N)``, batch·M·K·N MACs.

    As PyTorch's ``a @ b`` (``torch.matmul``) and ONNX's MatMul: the last two dims multiply, the
    dims before them broadcast (each pair equal, or one of them 1). Attention written out in a
    model file is two of them: ``Q·Kᵀ`` and ``A·V``.

    Params: 0 (both operands are activations; an activation times a weight is ``fc``/``pwlinear``).
    MACs: ``batch · M · K · N``, ``batch`` the product of the broadcast dims: each output element
    sums K products. The same count as the ``attention`` rule's ``L²·C`` for each of its products.
    """

    family: ClassVar[str] = "matmul"

    def merge(self, inputs: Tuple[Shape, ...]) -> Shape:
        if len(inputs) != 2:
            raise LayerError(f"matmul multiplies two tensors, got {len(inputs)}")
        a, b = inputs
        if a.rank == 0 or b.rank == 0:
            raise LayerError(f"matmul needs two dims or more on each side (…xMxK @ …xKxN), got {a} and {b}")
        if a.channels != b.spatial[-1]:
            raise LayerError(f"matmul needs the last dim of the first ({a.channels}) to equal the second to last "
                             f"of the second ({b.spatial[-1]}), got {a} and {b}")
        return Shape((*broadcast(a.spatial[:-1], b.spatial[:-1], a, b), a.spatial[-1]), b.channels)

    def merge_macs(self, inputs: Tuple[Shape, ...]) -> int:
        a, b = inputs
        out = self.merge(inputs)
        return math.prod(out.spatial) * a.channels * b.channels

    def describe(self) -> str:
        return "MATMUL"


def broadcast(p: Tuple[int, ...], q: Tuple[int, ...], a: Shape, b: Shape) -> Tuple[int, ...]:
    """NumPy's broadcasting of the leading dims: aligned from the right, each pair equal or one 1."""
    n = max(len(p), len(q))
    p, q = (1,) * (n - len(p)) + p, (1,) * (n - len(q)) + q
    if any(i != j and 1 not in (i, j) for i, j in zip(p, q)):
        raise LayerError(f"matmul cannot broadcast the leading dims of {a} and {b}")
    return tuple(max(i, j) for i, j in zip(p, q))


MERGES: Dict[str, Type[Merge]] = {"add": Add, "sum": Add, "residual": Add, "mul": Mul, "multiply": Mul,
                                  "concat": Concat, "cat": Concat, "seqcat": ConcatTokens,
                                  "matmul": MatMul, "bmm": MatMul}


# --- the registry ------------------------------------------------------------------------


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
         "multi-head self-attention; params 4·C² + 4·C; MACs 4·L·C² + 2·L²·C (q, k, v and output "
         "projections, QKᵀ, AV; softmax and scaling not counted)"),
)


def normalise(name: str) -> str:
    """Kind names ignore case, '-', '_' and spaces: 'soft-max', 'Max_Pool' are 'softmax', 'maxpool'."""
    return "".join(c for c in name.lower() if c not in "-_ ")


BY_NAME: Dict[str, Kind] = {normalise(a): k for k in KINDS for a in (k.name, *k.aliases)}
KIND_OF: Dict[type, str] = {k.rule: k.name for k in reversed(KINDS)}


def lookup(name: str) -> Optional[Kind]:
    return BY_NAME.get(normalise(name))
