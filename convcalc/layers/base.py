"""What every layer rule shares: the ``Layer`` base with its ``Note`` and receptive-field ``Step``,
and the sliding-window helpers that conv and pool both use (per-axis options, ``windows``, output
sizes, the notes on strides that do not fit)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ClassVar, Dict, Optional, Tuple, Union

from ..errors import LayerError
from ..shape import Shape, Window, same_padding
from ..values import replace, value
from .options import Ints, Padding

if TYPE_CHECKING:  # fractions (and decimal with it) load only when a value is not whole: start-up
    from fractions import Fraction


@value
class Note:
    """Something the engine tells the user about a layer. ``level`` is 'warning' or 'info'."""

    level: str
    code: str
    text: str
    brief: str = ""  # a few words for a table cell; ``text`` says it all


Number = Union[int, "Fraction"]  # exact: an int where the value is whole, else a Fraction


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
    if f % 2:
        return Step(f - 1, w.stride, (f - 1) // 2 - w.pad_before)
    import fractions  # only here: fractions and decimal slow every start-up

    shift = fractions.Fraction(f - 1, 2) - w.pad_before
    return Step(f - 1, w.stride, shift)


# Each rule class's kind name (its first entry in KINDS), which ``Layer.kind`` reads. The registry
# fills it once every rule exists: it imports the families, so they cannot import it.
KIND_OF: Dict[type, str] = {}


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

    def untracked(self, x: Shape) -> str:
        """Why fields cannot be followed past this layer on input ``x`` (each unit sees a region
        that is neither a sliding window nor the whole input: windowed attention), or ''."""
        return ""

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
        value = (w.span + w.stride) / w.stride  # correctly rounded, as float(Fraction) is: for display
        floor, ceil = w.span // w.stride + 1, -(-w.span // w.stride) + 1
        formula = f"({w.size} − {w.effective_kernel}{f' + {p}' if p else ''})/{w.stride} + 1 = {value:.2f}"
        left_over = w.span % w.stride
        if skips:  # a strided 1x1 conv skips pixels by design, not by accident
            gap = w.stride - w.effective_kernel
            holes = (f"the window ({w.effective_kernel}) is smaller than the stride, so it skips {gap} of every "
                     f"{w.stride} input rows/columns by design")
            if w.fits:
                text = f"{formula.rsplit(' = ', 1)[0]} = {w.out_size}{where}: {holes}."
                notes.append(Note("info", "stride-skips-by-design", text, f"{w.out_size}: skips by design"))
            else:
                text = (f"{formula}{where}: floored to {floor} as PyTorch does; {holes} "
                        f"(the leftover is one more of them).")
                notes.append(Note("info", "stride-skips-by-design", text, f"{value:.2f}: skips by design"))
            continue
        if left_over <= w.pad_after:  # the windows skip only padding: every input pixel is still seen
            text = (f"{formula}{where}: floored to {floor} as PyTorch does; the last {left_over} "
                    f"column{'s' if left_over > 1 else ''} left over {'are' if left_over > 1 else 'is'} padding, "
                    f"so no input is lost. {fit_suggestion(w)}")
            notes.append(Note("info", "stride-skips-padding", text, f"{value:.2f}: skips padding"))
            continue
        lost = left_over - w.pad_after
        unseen = "the last input row/column is" if lost == 1 else f"the last {lost} input rows/columns are"
        text = (
            f"{formula}{where}: stride {w.stride} does not fit; floored to {floor} as PyTorch does, "
            f"so {unseen} never read (ceil would give {ceil}). {fit_suggestion(w)}"
        )
        brief = f"{value:.2f}: does not fit"
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
