"""How each kind is checked: ``VERIFIERS`` maps a rule type to a verifier, which decides the runs
(true size, or scaled and narrowed) and how their figures compose into the full-size ones;
``verify_layer`` gives one layer's verdict, and never raises for a layer it cannot check."""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from ...analysis.result import LayerReport
from ...errors import LayerError
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
)
from ...shape import Shape
from ...values import replace
from .builders import BUILDERS, build_linear
from .figures import Case, Figures, LayerCheck, NoReference, Run, Settings
from .runs import MAX_ELEMENTS, run
from .scaling import (
    Narrower,
    Scaler,
    arrow,
    compose_positional,
    few,
    narrow_adaptive,
    narrow_conv_transpose,
    narrow_crop,
    narrow_positions,
    narrow_select,
    narrow_to_grid,
    narrow_upsample,
    narrow_window,
    narrow_zero_pad,
    one_position,
    scale_attention,
    scale_channels,
    scale_conv,
    scale_conv_transpose,
    scale_depthwise,
    scale_grouped,
    scale_position_linear,
    scale_separable,
    scale_split,
    with_channels,
)

# --- the verifiers ---------------------------------------------------------------------------------

Verifier = Callable[[LayerReport, Settings], LayerCheck]


def inputs_of(r: LayerReport) -> Tuple[Shape, ...]:
    return r.inputs or (r.input,)


def engine_of(r: LayerReport) -> Figures:
    return Figures(r.output, r.params, r.buffers, r.macs)


def work(r: LayerReport) -> int:
    return r.macs + r.params + r.buffers + sum(x.elements for x in inputs_of(r)) + r.output.elements


def rng_for(r: LayerReport, settings: Settings) -> Optional[random.Random]:
    """The layer's own seeded generator; None in a dry run (nothing is run)."""
    return None if settings.dry else random.Random(f"{settings.seed}/{r.index}")


def check(r: LayerReport, **fields: Any) -> LayerCheck:
    return LayerCheck(r.index, r.full_name, r.layer.kind, r.layer.describe(), engine_of(r), **fields)


def positional(scale: Scaler, narrow: Narrower, by_input: bool = False) -> Verifier:
    """A verifier for kinds whose params do not depend on the spatial size and whose MACs are the
    same at every (output, or for a transposed conv input) position."""

    def verify(r: LayerReport, settings: Settings) -> LayerCheck:
        build = BUILDERS[type(r.layer)]
        rng = rng_for(r, settings)
        xs = inputs_of(r)
        whole: Case = (r.layer, xs)
        if settings.full or work(r) <= settings.budget or xs[0].rank == 0:
            only, measured = run(build, whole, "true size", rng)
            return check(r, measured=measured.figures, runs=(only,))
        spatial_case, scaled = scale(r.layer, xs, settings.max_channels)
        if not scaled:  # nothing to scale: the true size it is
            only, measured = run(build, whole, "true size", rng)
            return check(r, measured=measured.figures, runs=(only,))
        channel_case, label = narrow(r.layer, xs)
        first, m1 = run(build, spatial_case, f"true spatial size, {scaled}", rng)
        second, m2 = run(build, channel_case, label, rng)
        if by_input:
            where = (spatial_case[1][0], channel_case[1][0])
        else:
            where = (m1.figures.output, m2.figures.output)
        return check(r, measured=compose_positional(m1, m2, where), runs=(first, second), scaled=scaled)

    return verify


def verify_linear(r: LayerReport, settings: Settings) -> LayerCheck:
    """MACs = in·units: measured with the true input and few units (MACs and weights per unit),
    and with few inputs and the true units (how many units, and their biases)."""
    rule = r.layer
    assert isinstance(rule, Linear)
    rng = rng_for(r, settings)
    x = r.input
    if settings.full or work(r) <= settings.budget:
        only, measured = run(build_linear, (rule, (x,)), "true size", rng)
        return check(r, measured=measured.figures, runs=(only,))
    # Few units; fewer still when the true input times them would not fit the budget (one unit
    # holds in weights; the input, the output and the biases come on top).
    fit = max(1, (MAX_ELEMENTS - x.elements) // (x.elements + 2))
    units = min(few(rule.units, settings.max_channels), fit)
    small = with_channels(x, few(x.channels, settings.max_channels))
    first, a = run(build_linear, (replace(rule, units=units), (x,)), f"true input, {arrow('units', rule.units, units)}", rng)
    second, b = run(build_linear, (rule, (small,)), f"true units, {arrow('channels', x.channels, small.channels)} "
                                                    f"({small.elements:,} inputs)", rng)
    per_unit, left = divmod(a.figures.macs, a.figures.output.elements)
    weights_per_unit, left_w = divmod(a.figures.params - a.biases, a.figures.output.elements)
    if left or left_w:
        raise ArithmeticError("an fc layer's units did not all cost the same")
    n = b.figures.output.elements
    composed = Figures(b.figures.output, weights_per_unit * n + b.biases, a.figures.buffers, per_unit * n)
    scaled = ", ".join(t for t in (arrow("units", rule.units, units) if units != rule.units else "",
                                   arrow("channels", x.channels, small.channels) if small != x else "") if t)
    return check(r, measured=composed, runs=(first, second), scaled=scaled)


def verify_flatten(r: LayerReport, settings: Settings) -> LayerCheck:
    rng = rng_for(r, settings)
    x = r.input
    build = BUILDERS[Flatten]
    if settings.full or work(r) <= settings.budget or x.rank == 0 or x.channels <= settings.max_channels:
        only, measured = run(build, (r.layer, (x,)), "true size", rng)
        return check(r, measured=measured.figures, runs=(only,))
    small = with_channels(x, settings.max_channels)
    first, a = run(build, (r.layer, (small,)), f"true spatial size, {arrow('channels', x.channels, small.channels)}", rng)
    second, b = run(build, (r.layer, one_position((x,))), "true channels, one position", rng)
    per_channel, left = divmod(a.figures.output.elements, small.channels)
    if left:
        raise ArithmeticError("flatten's output is not a whole number of channels")
    composed = Figures(Shape((), per_channel * b.figures.output.elements), b.figures.params, b.figures.buffers,
                       b.figures.macs)
    return check(r, measured=composed, runs=(first, second), scaled=arrow("channels", x.channels, small.channels))


def verify_embedding(r: LayerReport, settings: Settings) -> LayerCheck:
    """A position embedding holds one parameter per element, so its params grow with the spatial
    size: measured at the true spatial size with few channels (parameters per channel) and with
    the true channels at one position (how many channels); composed as their product."""
    rng = rng_for(r, settings)
    x = r.input
    build = BUILDERS[PositionEmbedding]
    if settings.full or work(r) <= settings.budget or x.channels <= settings.max_channels:
        only, measured = run(build, (r.layer, (x,)), "true size", rng)
        return check(r, measured=measured.figures, runs=(only,))
    small = with_channels(x, settings.max_channels)
    first, a = run(build, (r.layer, (small,)), f"true spatial size, {arrow('channels', x.channels, small.channels)}", rng)
    second, b = run(build, (r.layer, one_position((x,))), "true channels, one position", rng)
    per_channel, left = divmod(a.figures.params, small.channels)
    if left:
        raise ArithmeticError("a position embedding's parameters do not divide over its channels")
    channels = b.figures.output.channels
    composed = Figures(Shape(a.figures.output.spatial, channels), per_channel * channels, b.figures.buffers,
                       b.figures.macs)
    return check(r, measured=composed, runs=(first, second), scaled=arrow("channels", x.channels, small.channels))


def verify_attention(r: LayerReport, settings: Settings) -> LayerCheck:
    """Attention's MACs are not the same at every position: each token's projections cost the
    same (``p``), but each pair of tokens that meet (a query and a key of one sequence) costs
    ``q`` more, so ``MACs = p·A + q·B`` with A the tokens attended (padding included) and B the
    pairs. At the true channels, plain runs on 1 and 2 tokens fix p and q (one token: p + q; two:
    2p + 4q) from measurements, not from the formula. At the true spatial size (its sequences or
    windows) with few channels c and with 2c, two runs, each beside its own 1- and 2-token runs,
    fix A and B. Params: the 1-token run's, plus the relative bias table (and its index, as
    buffers) measured on one window at the true heads."""
    rule = r.layer
    assert isinstance(rule, Attention)
    rng = rng_for(r, settings)
    x = r.input
    build = BUILDERS[Attention]
    if settings.full or work(r) <= settings.budget:
        only, measured = run(build, (rule, (x,)), "true size", rng)
        return check(r, measured=measured.figures, runs=(only,))
    plain = replace(rule, window=None, partition="block", shifted=False, relative_bias=False)
    runs: List[Run] = []

    def pair_costs(heads: int, channels: int, what: str) -> Tuple[int, int, Figures]:
        scaled = replace(plain, heads=heads)
        first, one = run(build, (scaled, (Shape((1,), channels),)), f"{what}, 1 token", rng)
        second, two = run(build, (scaled, (Shape((2,), channels),)), f"{what}, 2 tokens", rng)
        runs.extend((first, second))
        q, left = divmod(two.figures.macs - 2 * one.figures.macs, 2)
        if left:
            raise ArithmeticError("attention's MACs are not p·tokens + q·pairs")
        return one.figures.macs - q, q, one.figures

    p, q, one = pair_costs(rule.heads, x.channels, "true channels")
    (small, (xs,)), scaled = scale_attention(rule, (x,), settings.max_channels)
    assert isinstance(small, Attention)
    equations = []
    for c in (xs.channels, 2 * xs.channels):
        ps, qs, _ = pair_costs(small.heads, c, f"{c} channels")
        done, spatial = run(build, (small, (with_channels(x, c),)), f"true tokens, {c} channels", rng)
        runs.append(done)
        equations.append((ps, qs, spatial.figures.macs))
    (p1, q1, m1), (p2, q2, m2) = equations
    det = p1 * q2 - p2 * q1
    if det == 0:
        raise ArithmeticError("the runs at c and 2c channels do not fix the tokens and pairs")
    tokens, left_a = divmod(m1 * q2 - m2 * q1, det)
    pairs, left_b = divmod(p1 * m2 - p2 * m1, det)
    if left_a or left_b:
        raise ArithmeticError("attention's MACs are not a whole number of tokens and pairs")
    params, buffers = one.params, one.buffers
    if rule.relative_bias:
        sizes = rule.window_sizes(x)
        window = replace(rule, partition="block", shifted=False)
        table_run, table = run(build, (window, (Shape(sizes, rule.heads),)), "true heads, one window", rng)
        _, _, bare = pair_costs(rule.heads, rule.heads, "true heads")
        runs.append(table_run)
        params += table.figures.params - bare.params
        buffers += table.figures.buffers
    composed = Figures(Shape(x.spatial, one.output.channels), params, buffers, p * tokens + q * pairs)
    return check(r, measured=composed, runs=tuple(runs), scaled=scaled or "tokens")


def verify_whole(r: LayerReport, settings: Settings) -> LayerCheck:
    """Run at the true size only: a view or a matrix product has no channel run to compose from
    (its every dim is data), so one over the budget is said to be, not scaled."""
    if not (settings.full or work(r) <= settings.budget):
        return check(r, reason=f"over the budget of {settings.budget:,} at its true size; --full runs it")
    only, measured = run(BUILDERS[type(r.layer)], (r.layer, inputs_of(r)), "true size", rng_for(r, settings))
    return check(r, measured=measured.figures, runs=(only,))


def verify_matmul(r: LayerReport, settings: Settings) -> LayerCheck:
    """At the true size within the budget. Over it, two runs that keep K, the dim each output sums
    over: one batch of every row against one column, and one row against every column. Output
    ``(*batch, M, N)`` and MACs ``batch · MACs₁ · N`` are composed; ``MACs₁ · N`` must equal
    ``MACs₂ · M``, or the composition is refused."""
    if settings.full or work(r) <= settings.budget:
        return verify_whole(r, settings)
    a, b = inputs_of(r)
    m, k, n = a.spatial[-1], a.channels, b.channels
    if m * k + k * n + m + n > settings.budget:
        return check(r, reason=f"over the budget of {settings.budget:,} even one batch at a time; --full runs it")
    build, rng = BUILDERS[type(r.layer)], rng_for(r, settings)
    first, rows = run(build, (r.layer, (Shape((m,), k), Shape((k,), 1))), "one batch, every row, one column", rng)
    second, cols = run(build, (r.layer, (Shape((1,), k), Shape((k,), n))), "one batch, one row, every column", rng)
    if rows.figures.macs * n != cols.figures.macs * m:
        raise ArithmeticError(f"{rows.figures.macs}·{n} MACs by rows ≠ {cols.figures.macs}·{m} by columns")
    batch = r.output.spatial[:-1]
    measured = Figures(Shape((*batch, rows.figures.output.spatial[-1]), cols.figures.output.channels), 0, 0,
                       math.prod(batch) * rows.figures.macs * n)
    return check(r, measured=measured, runs=(first, second), scaled="one batch, one row or column at a time")


def verify_unknown(r: LayerReport, settings: Settings) -> LayerCheck:
    """Nothing to check: convcalc has no rule (and no reference) for an unknown operator."""
    return check(r, reason="an operator convcalc cannot count: nothing to verify")


def verify_concat(r: LayerReport, settings: Settings) -> LayerCheck:
    """Along the channels, scaled as the other per-channel kinds; along another dim, every dim is
    data: at the true size, as the views."""
    if getattr(r.layer, "axis", None) is None:
        return positional(scale_channels, narrow_positions)(r, settings)
    return verify_whole(r, settings)


VERIFIERS: Dict[Type[Layer], Verifier] = {
    Unknown: verify_unknown,
    Conv: positional(scale_conv, narrow_window),
    DepthwiseConv: positional(scale_depthwise, narrow_window),
    SeparableConv: positional(scale_separable, narrow_window),
    ConvTranspose: positional(scale_conv_transpose, narrow_conv_transpose, by_input=True),
    MaxPool: positional(scale_channels, narrow_window),
    AvgPool: positional(scale_channels, narrow_window),
    GlobalAvgPool: positional(scale_channels, narrow_positions),
    GlobalMaxPool: positional(scale_channels, narrow_positions),
    AdaptiveAvgPool: positional(scale_channels, narrow_adaptive),
    AdaptiveMaxPool: positional(scale_channels, narrow_adaptive),
    Linear: verify_linear,
    Flatten: verify_flatten,
    BatchNorm: positional(scale_channels, narrow_positions),
    FrozenBatchNorm: positional(scale_channels, narrow_positions),
    LayerNorm: positional(scale_channels, narrow_positions),
    GroupNorm: positional(scale_grouped, narrow_positions),
    LRN: positional(scale_channels, narrow_positions),
    Activation: positional(scale_channels, narrow_positions),
    Dropout: positional(scale_channels, narrow_positions),
    Softmax: positional(scale_channels, narrow_positions),
    Upsample: positional(scale_channels, narrow_upsample),
    ZeroPad: positional(scale_channels, narrow_zero_pad),
    Crop: positional(scale_channels, narrow_crop),
    ChannelShuffle: positional(scale_grouped, narrow_positions),
    PositionLinear: positional(scale_position_linear, narrow_positions),
    LayerScale: positional(scale_channels, narrow_positions),
    PReLU: positional(scale_channels, narrow_positions),
    Tokens: positional(scale_channels, narrow_positions),
    ToGrid: positional(scale_channels, narrow_to_grid),
    ClassToken: positional(scale_channels, narrow_positions),
    PositionEmbedding: verify_embedding,
    Parameter: verify_whole,
    SelectToken: positional(scale_channels, narrow_select),
    Attention: verify_attention,
    Chunk: positional(scale_split, narrow_positions),
    Split: positional(scale_split, narrow_positions),
    Add: positional(scale_channels, narrow_positions),
    Mul: positional(scale_channels, narrow_positions),
    Concat: verify_concat,
    ConcatTokens: positional(scale_channels, narrow_positions),
    Reshape: verify_whole,
    Elementwise: positional(scale_channels, narrow_positions),
    Permute: verify_whole,
    Take: verify_whole,
    Slice: verify_whole,
    MatMul: verify_matmul,
}


def verify_layer(r: LayerReport, settings: Settings = Settings()) -> LayerCheck:
    """One layer's verdict. Never raises for a layer it cannot check: it says why instead."""
    verifier = VERIFIERS.get(type(r.layer))
    if verifier is None:
        return check(r, reason=f"no reference for {r.layer.kind}")
    try:
        return verifier(r, settings)
    except NoReference as e:
        return check(r, reason=f"no reference for {e}")
    except LayerError as e:  # the engine refused a scaled configuration: a gap in the scaling, not a wrong count
        return check(r, reason=f"could not scale it down ({e.message}); try --full")
    except (ValueError, ArithmeticError) as e:
        return check(r, reason=f"reference refused: {e}")
