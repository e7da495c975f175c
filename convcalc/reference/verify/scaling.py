"""Shrinking a big layer into two runs the budget allows, and composing its full-size figures
back from them: a *scaler* keeps the true spatial size and cuts the channels (groups still
dividing them); a *narrower* keeps the true channels on an input with one output position."""

from __future__ import annotations

import math
from typing import Any, Callable, Tuple

from ...layers import (
    Attention,
    ChannelSplit,
    Chunk,
    Conv,
    ConvTranspose,
    Crop,
    DepthwiseConv,
    Layer,
    PositionLinear,
    SelectToken,
    SeparableConv,
    Split,
    ToGrid,
    Upsample,
    ZeroPad,
    expand,
)
from ...shape import Shape
from ...values import replace
from .figures import Case, Figures, Measured

# --- scaling: the spatial run and the channel run ------------------------------------------------


def arrow(what: str, old: int, new: int) -> str:
    return f"{what} {old:,}→{new:,}"


def few(n: int, most: int) -> int:
    return max(1, min(n, most))


def scaled_groups(channels: int, filters: int, groups: int, most: int) -> Tuple[int, int, int]:
    """Channels and filters at most ``most`` (where they can be), groups still dividing both."""
    g = few(groups, most)
    return g * few(channels // groups, most // g), g * few(filters // groups, most // g), g


def changes(*pairs: Tuple[str, int, int]) -> str:
    return ", ".join(arrow(what, old, new) for what, old, new in pairs if old != new)


def with_channels(x: Shape, channels: int) -> Shape:
    return Shape(x.spatial, channels)


Scaler = Callable[[Any, Tuple[Shape, ...], int], Tuple[Case, str]]
Narrower = Callable[[Any, Tuple[Shape, ...]], Tuple[Case, str]]


def scale_conv(rule: Conv, xs: Tuple[Shape, ...], most: int) -> Tuple[Case, str]:
    x = xs[0]
    c, k, g = scaled_groups(x.channels, rule.filters, rule.groups, most)
    text = changes(("channels", x.channels, c), ("filters", rule.filters, k), ("groups", rule.groups, g))
    return (replace(rule, filters=k, groups=g), (with_channels(x, c),)), text


scale_conv_transpose = scale_conv


def scale_depthwise(rule: DepthwiseConv, xs: Tuple[Shape, ...], most: int) -> Tuple[Case, str]:
    x = xs[0]
    c = few(x.channels, most // rule.multiplier)
    return (rule, (with_channels(x, c),)), changes(("channels", x.channels, c))


def scale_separable(rule: SeparableConv, xs: Tuple[Shape, ...], most: int) -> Tuple[Case, str]:
    x = xs[0]
    c, k = few(x.channels, most), few(rule.filters, most)
    return (replace(rule, filters=k), (with_channels(x, c),)), changes(("channels", x.channels, c), ("filters", rule.filters, k))


def scale_position_linear(rule: PositionLinear, xs: Tuple[Shape, ...], most: int) -> Tuple[Case, str]:
    x = xs[0]
    c, k = few(x.channels, most), few(rule.units, most)
    return (replace(rule, units=k), (with_channels(x, c),)), changes(("channels", x.channels, c), ("units", rule.units, k))


def scale_attention(rule: Attention, xs: Tuple[Shape, ...], most: int) -> Tuple[Case, str]:
    """Channels down to ``most``, the heads still dividing them."""
    x = xs[0]
    c, _, h = scaled_groups(x.channels, x.channels, rule.heads, most)
    return (replace(rule, heads=h), (with_channels(x, c),)), changes(("channels", x.channels, c), ("heads", rule.heads, h))


def scale_grouped(rule: Any, xs: Tuple[Shape, ...], most: int) -> Tuple[Case, str]:
    """Channels down to ``most`` for a layer with channel groups (group norm, shuffle): groups still divide them."""
    x = xs[0]
    c, _, g = scaled_groups(x.channels, x.channels, rule.groups, most)
    return (replace(rule, groups=g), (with_channels(x, c),)), changes(("channels", x.channels, c), ("groups", rule.groups, g))


def scale_split(rule: ChannelSplit, xs: Tuple[Shape, ...], most: int) -> Tuple[Case, str]:
    """Every part down to at most ``most`` channels in all (at least one each), the same part read."""
    x = xs[0]
    if isinstance(rule, Chunk):
        c = rule.chunks * few(x.channels // rule.chunks, most // rule.chunks)
        scaled: ChannelSplit = replace(rule, in_channels=c)
    else:
        assert isinstance(rule, Split)
        sizes = tuple(few(n, most // len(rule.sizes)) for n in rule.sizes)
        c = sum(sizes)
        scaled = replace(rule, sizes=sizes, in_channels=c)
    return (scaled, (with_channels(x, c),)), changes(("channels", x.channels, c))


def scale_channels(rule: Layer, xs: Tuple[Shape, ...], most: int) -> Tuple[Case, str]:
    """Every input's channels down to ``most``."""
    scaled = tuple(with_channels(x, few(x.channels, most)) for x in xs)
    if len(xs) > 1:
        before = "+".join(str(x.channels) for x in xs)
        after = "+".join(str(x.channels) for x in scaled)
        return (rule, scaled), (f"channels {before}→{after}" if before != after else "")
    return (rule, scaled), changes(("channels", xs[0].channels, scaled[0].channels))


def one_position(xs: Tuple[Shape, ...]) -> Tuple[Shape, ...]:
    return tuple(Shape((1,) * x.rank, x.channels) for x in xs)


def narrow_window(rule: Any, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    """One window: the input is the (dilated) kernel, no padding, so one output position."""
    x = xs[0]
    dilation = expand(getattr(rule, "dilation", (1,)), x, "dilation")
    kernel = expand(rule.kernel, x, "kernel")
    taps = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    fields = {"padding": (0,)}
    if getattr(rule, "ceil_mode", False):
        fields["ceil_mode"] = False  # type: ignore[assignment]
    return (replace(rule, **fields), (Shape(taps, x.channels),)), "true channels, one window"


def narrow_positions(rule: Layer, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    return (rule, one_position(xs)), "true channels, one position"


def narrow_conv_transpose(rule: ConvTranspose, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    return (replace(rule, padding=(0,), output_padding=(0,)), one_position(xs)), "true channels, one input position"


def narrow_adaptive(rule: Any, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    x = xs[0]
    return (rule, (Shape(expand(rule.output, x, "output size"), x.channels),)), "true channels, windows of one"


def narrow_upsample(rule: Upsample, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    return (replace(rule, size=None, scale=(1.0,)), one_position(xs)), "true channels, one position"


def narrow_crop(rule: Crop, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    return (replace(rule, size=(1,), like=None), one_position(xs)), "true channels, one position"


def narrow_zero_pad(rule: ZeroPad, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    return (replace(rule, padding=(0,), after=None), one_position(xs)), "true channels, one position"


def narrow_to_grid(rule: ToGrid, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    return (replace(rule, size=None), (Shape((1,), xs[0].channels),)), "true channels, one token"


def narrow_select(rule: SelectToken, xs: Tuple[Shape, ...]) -> Tuple[Case, str]:
    return (rule, (Shape((rule.index + 1,), xs[0].channels),)), f"true channels, {rule.index + 1} tokens"


# --- composing the full-size figures from the two runs -------------------------------------------


def positions(s: Shape) -> int:
    return math.prod(s.spatial)


def compose_positional(spatial: Measured, channel: Measured, by_input: Tuple[Shape, Shape]) -> Figures:
    """Output = (run 1's spatial sizes, run 2's channels); params, buffers from run 2; MACs = run 2's
    MACs per position × run 1's positions (output positions; input positions for a transposed conv)."""
    s, c = spatial.figures, channel.figures
    per_position, left = divmod(c.macs, positions(by_input[1]))
    if left:
        raise ArithmeticError(f"{c.macs} MACs do not divide over {positions(by_input[1])} positions")
    return Figures(Shape(s.output.spatial, c.output.channels), c.params, c.buffers, per_position * positions(by_input[0]))
