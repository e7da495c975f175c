"""Tensor shapes and the one sliding-window formula every windowed layer shares."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

from .values import value


@value
class Shape:
    """The shape of one sample: spatial axes (H, W, or any number of them) and channels.

    A flat vector (the output of an fc layer) has no spatial axes: ``Shape((), 4096)``.
    Written as in the lecture notes, channels last: ``55x55x96``, ``4096``.
    """

    spatial: Tuple[int, ...]
    channels: int

    @property
    def rank(self) -> int:
        return len(self.spatial)

    @property
    def elements(self) -> int:
        return math.prod(self.spatial) * self.channels

    @property
    def dims(self) -> Tuple[int, ...]:
        return (*self.spatial, self.channels)

    def __str__(self) -> str:
        return "x".join(str(d) for d in self.dims)


@value
class Window:
    """One axis of a sliding window (conv or pool), with padding resolved to before/after.

    Output size (Dumoulin & Visin, "A guide to convolution arithmetic", arXiv 1603.07285, and
    PyTorch's Conv2d/MaxPool2d "Shape:" sections), with ``F_eff = D·(F − 1) + 1``::

        out = floor((W + P_before + P_after − F_eff) / S) + 1

    In ceil mode the division rounds up, but (PyTorch's rule) the last window must start inside
    the input or the left padding, so ``out`` drops by one when ``(out − 1)·S ≥ W + P_before``.
    That is PyTorch's ``pooling_output_shape`` (aten/src/ATen/native/Pool.h)::

        out = floor_or_ceil((W + P_before + P_after − F_eff) / S) + 1

    so in ceil mode a window larger than the padded input still gives one output when it starts
    inside it (``2x2 maxpool3s2ceil`` → 1x1). ``out_size`` may be ≤ 0: the caller refuses that.
    """

    size: int
    kernel: int
    stride: int = 1
    dilation: int = 1
    pad_before: int = 0
    pad_after: int = 0
    ceil_mode: bool = False
    pool: bool = False  # a pooling window: its padding is bounded (``most_padding``)

    @property
    def most_padding(self) -> Optional[int]:
        """The most padding per side the layer accepts, or None for no bound.

        A pool takes at most half its kernel (PyTorch: "pad should be smaller than or equal to
        half of kernel size", the undilated kernel), else a window could see only padding. The
        one rule for both the check and the padding the fit notes suggest.
        """
        return self.kernel // 2 if self.pool else None

    @property
    def effective_kernel(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    @property
    def padded(self) -> int:
        return self.size + self.pad_before + self.pad_after

    @property
    def span(self) -> int:
        """``W − F_eff + 2P``: the distance the window travels (negative when it does not fit)."""
        return self.padded - self.effective_kernel

    @property
    def fits(self) -> bool:
        """True when the stride divides the span evenly: no input is left over or invented."""
        return self.span % self.stride == 0

    @property
    def out_size(self) -> int:
        if not self.ceil_mode:
            return self.span // self.stride + 1
        out = -(-self.span // self.stride) + 1
        if (out - 1) * self.stride >= self.size + self.pad_before:
            out -= 1
        return out

    def working(self) -> str:
        """How ``out_size`` comes out, every step shown: ``⌊(2 + 0 − 3)/2⌋ + 1 = ⌊−1/2⌋ + 1 = 0``."""
        p = self.pad_before + self.pad_after
        left, right = ("⌈", "⌉") if self.ceil_mode else ("⌊", "⌋")
        span = str(self.span).replace("-", "−")
        text = (f"{left}({self.size} + {p} − {self.effective_kernel})/{self.stride}{right} + 1 = "
                f"{left}{span}/{self.stride}{right} + 1")
        raw = (-(-self.span // self.stride) if self.ceil_mode else self.span // self.stride) + 1
        text += f" = {raw}".replace("-", "−")
        if raw != self.out_size:
            text += f", less the last window, which would start in the right padding: {self.out_size}"
        return text


def same_padding(size: int, kernel_eff: int, stride: int) -> Tuple[int, int]:
    """TensorFlow's 'same': output ``ceil(W / S)``, the odd pixel of padding going after.

    For stride 1 this is PyTorch's ``padding='same'`` too.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel_eff - size, 0)
    return total // 2, total - total // 2


def channels_first_note(dims: Sequence[int]) -> str:
    """A warning when ``dims`` (as written, channels last) look like a channels-first shape, or ''.

    PyTorch prints shapes C×H×W (``torch.Size([3, 32, 32])``); convcalc reads H×W×C, so
    ``3x32x32`` would be an input 3 high and 32 wide with 32 channels. The rule: at least three
    sizes, the first at most 4 (gray, RGB, RGBA, a few planes), and the others either all equal
    and at least 8 and 4 times the first (``3x32x32``, ``1x28x28``), or all at least 32 with the
    first at most 3 (``3x480x640``). A real feature map that tall and thin is rare. Two equal
    sizes of 8 or more (``32x32``) are most likely an image written without its channels: the
    note says it reads as a 1-D signal. A note never changes a number, it only says how the
    shape was read.
    """
    if len(dims) == 2 and dims[0] == dims[1] >= 8:  # '32x32': an image without its channel count?
        return (f"{dims[0]}x{dims[1]} is read as a 1-D signal {dims[0]} long with {dims[1]} channels "
                f"(sizes first, channels last); a {dims[0]}x{dims[1]} image with one channel is "
                f"{dims[0]}x{dims[1]}x1")
    if len(dims) < 3:
        return ""
    first, rest = dims[0], list(dims[1:])
    square = len(set(rest)) == 1 and rest[0] >= max(8, 4 * first) and first <= 4
    large = first <= 3 and min(rest) >= 32
    if not (square or large):
        return ""
    written = "x".join(map(str, dims))
    meant = "x".join(map(str, [*rest, first]))
    axes = "×".join(["C", *("DHW"[-len(rest):] if len(rest) <= 3 else ["S"] * len(rest))])
    return (f"{written} looks channels-first ({axes}, as PyTorch prints shapes); convcalc reads sizes "
            f"first and channels last, so this is {channels_last_reading(dims)}: did you mean {meant}?")


def channels_last_reading(dims: Sequence[int]) -> str:
    """``H=3, W=32, C=32``: how convcalc reads ``dims``."""
    names = ("D", "H", "W")[-(len(dims) - 1):] if len(dims) <= 4 else [f"S{i + 1}" for i in range(len(dims) - 1)]
    return ", ".join(f"{n}={d}" for n, d in zip([*names, "C"], dims))
