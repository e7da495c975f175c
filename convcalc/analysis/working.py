"""The working of a layer's figures, as the lecture notes write it: ``W2 = (227 − 11 + 2·0)/4 + 1 = 55``.

The numbers come from the engine (a ``LayerReport``, so the rules of ``convcalc/layers`` decide
every value); this module only writes them out with the hyperparameters substituted. A working
line therefore cannot disagree with the table: its result *is* the engine's value, and the tests
evaluate every expression shown. ``convcalc conv ...`` prints it (tools/lookup.py), and
``convcalc check`` uses it to explain a wrong answer (expect.py). Also here: the advice for a
stride that does not fit, with the strides that would.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from ..layers import (
    AXIS_NAMES,
    Conv,
    DepthwiseConv,
    Layer,
    Linear,
    Pool,
    SeparableConv,
    fit_notes,
    fit_suggestion,
)
from ..shape import Shape, Window
from ..values import value
from .result import DTYPE_BYTES, LayerReport

MIDDLE = "·"  # the lecture notes' multiplication dot
MINUS = "−"


@value
class Step:
    """One line of working: ``quantity = expression = result``.

    ``topic`` groups steps by what they explain: 'size' (the spatial axes), 'depth' (channels, or
    an fc layer's inputs), 'params', 'macs' or 'memory'; 'size' and 'depth' explain a shape.
    ``value`` is the engine's exact value; ``expression`` substitutes the hyperparameters into
    the formula (empty when there is nothing to substitute); ``result`` is the value as shown,
    with any rounding spelled out (``4/3 + 1 = 2.33 → 2``).
    """

    topic: str
    quantity: str
    expression: str
    value: int
    result: str
    formula: str = ""

    def __str__(self) -> str:
        if self.expression:
            return f"{self.quantity} = {self.expression} = {self.result}"
        return f"{self.quantity} = {self.result}"


# --- the working -----------------------------------------------------------------------------


def working(r: LayerReport, dtype: str = "float32") -> Tuple[Step, ...]:
    """The working for every figure of ``r``: output size per axis, depth, params, MACs, memory."""
    rule = r.layer
    steps: List[Step] = []
    if isinstance(rule, (Conv, DepthwiseConv, SeparableConv, Pool)):
        steps += _window_steps(r, rule._windows(r.input))
    steps += _depth_steps(r)
    steps += _param_steps(r)
    steps += _mac_steps(r)
    steps.append(_memory_step(r, dtype))
    return tuple(steps)


def product(factors: Sequence[object]) -> str:
    return MIDDLE.join(str(f) for f in factors)


def axis_names(rank: int) -> Tuple[str, ...]:
    return AXIS_NAMES.get(rank, tuple(f"A{i + 1}" for i in range(rank)))


def depth_name(rank: int) -> str:
    """The lecture notes call channels D; a 3-D input already has a D axis, so there they are C."""
    return "C" if "D" in axis_names(rank) else "D"


def _window_steps(r: LayerReport, ws: Tuple[Window, ...]) -> List[Step]:
    """``H2 = W2 = (227 − 11 + 2·0)/4 + 1 = 55``: one line per distinct axis, shape order."""
    names = axis_names(len(ws))
    groups: Dict[Window, List[int]] = {}
    for axis, w in enumerate(ws):
        groups.setdefault(w, []).append(axis)
    steps: List[Step] = []
    for w, axes in groups.items():
        label = " = ".join(f"{names[a]}2" for a in axes)
        out = r.output.spatial[axes[0]]
        if w.dilation > 1:
            steps.append(Step("size", "F_eff" if len(groups) == 1 else f"F_eff ({label[:-1]})",
                              f"{w.dilation}{MIDDLE}({w.kernel} {MINUS} 1) + 1", w.effective_kernel,
                              str(w.effective_kernel), "D·(F − 1) + 1"))
        if (w.pad_before, w.pad_after) != (0, 0) and _is_same(r.layer):
            steps.append(Step("size", "P" if len(groups) == 1 else f"P ({label[:-1]})", "", w.pad_before + w.pad_after,
                              f"'same': {w.pad_before} before, {w.pad_after} after, so that {label.split(' = ')[0]} "
                              f"= ⌈{w.size}/{w.stride}⌉ (TensorFlow's rule)"))
        steps.append(axis_step(label, w, out))
    return steps


def _is_same(rule: Layer) -> bool:
    return getattr(rule, "padding", None) == "same"


def axis_step(label: str, w: Window, out: int) -> Step:
    pad = f"2{MIDDLE}{w.pad_before}" if w.pad_before == w.pad_after else f"{w.pad_before} + {w.pad_after}"
    inner = f"({w.size} {MINUS} {w.effective_kernel} + {pad})/{w.stride}"
    formula = "(W1 − F + 2P)/S + 1"
    if w.ceil_mode:
        expression = f"⌈{inner}⌉ + 1"
        raw = -(-w.span // w.stride) + 1
        span = str(w.span).replace("-", MINUS)
        result = str(raw) if w.fits else f"⌈{span}/{w.stride}⌉ + 1 = {raw}"
        if raw != out:
            result += f" {MINUS} 1 = {out} (the last window would start in the right padding; PyTorch drops it)"
        return Step("size", label, expression, out, result, "⌈(W1 − F + 2P)/S⌉ + 1")
    expression = f"{inner} + 1"
    if w.fits:
        return Step("size", label, expression, out, str(out), formula)
    value = (w.span + w.stride) / w.stride  # correctly rounded, as float(Fraction) is: for display
    return Step("size", label, expression, out, f"{w.span}/{w.stride} + 1 = {value:.2f} → {out}", formula)


def _depth_steps(r: LayerReport) -> List[Step]:
    rule = r.layer
    d = depth_name(r.input.rank)
    if isinstance(rule, (Conv, SeparableConv)):
        return [Step("depth", f"{d}2", "K", r.output.channels, str(r.output.channels))]
    if isinstance(rule, DepthwiseConv):
        return [Step("depth", f"{d}2", f"{d}1{MIDDLE}m = {r.input.channels}{MIDDLE}{rule.multiplier}",
                     r.output.channels, str(r.output.channels))]
    if isinstance(rule, Pool):
        return [Step("depth", f"{d}2", f"{d}1", r.output.channels, str(r.output.channels))]
    if isinstance(rule, Linear):
        if r.input.rank == 0:
            return []
        return [Step("depth", "inputs", product(r.input.dims), r.input.elements,
                     f"{r.input.elements:,} (flattened)")]
    if r.output == r.input:
        return [Step("depth", "output", "", 0, f"{r.output} (the input's shape)")]
    return [Step("depth", "output", "", 0, str(r.output))]


def _channel_factor(r: LayerReport, groups: int) -> str:
    return str(r.input.channels) if groups == 1 else f"({r.input.channels}/{groups})"


def _kernel_factors(rule: Layer, x: Shape) -> List[int]:
    kernel = getattr(rule, "kernel")
    return list(kernel * x.rank if len(kernel) == 1 else kernel)


def _param_steps(r: LayerReport) -> List[Step]:
    rule, x = r.layer, r.input
    if isinstance(rule, Conv):
        bias = f" + {rule.filters}" if rule.bias else ""
        expression = product([*_kernel_factors(rule, x), _channel_factor(r, rule.groups), rule.filters]) + bias
        return [Step("params", "params", expression, r.params, f"{r.params:,}", "F·F·(D1/groups)·K + K")]
    if isinstance(rule, DepthwiseConv):
        k = x.channels * rule.multiplier
        factors = [*_kernel_factors(rule, x), x.channels] + ([rule.multiplier] if rule.multiplier != 1 else [])
        expression = product(factors) + (f" + {k}" if rule.bias else "")
        return [Step("params", "params", expression, r.params, f"{r.params:,}", "F·F·D1·m + D1·m")]
    if isinstance(rule, SeparableConv):
        expression = (f"{product([*_kernel_factors(rule, x), x.channels])} + {product([x.channels, rule.filters])}"
                      + (f" + {rule.filters}" if rule.bias else ""))
        return [Step("params", "params", expression, r.params, f"{r.params:,}", "F·F·D1 + D1·K + K")]
    if isinstance(rule, Linear):
        bias = f" + {rule.units}" if rule.bias else ""
        expression = product([x.elements, rule.units]) + bias
        return [Step("params", "params", expression, r.params, f"{r.params:,}", "in·out + out")]
    if r.params == 0:
        return [Step("params", "params", "", 0, "0 (no weights)")]
    return [Step("params", "params", "", r.params, f"{r.params:,}")]


def _mac_steps(r: LayerReport) -> List[Step]:
    rule, x = r.layer, r.input
    out = list(r.output.spatial)
    if isinstance(rule, Conv):
        expression = product([*out, *_kernel_factors(rule, x), _channel_factor(r, rule.groups), rule.filters])
        return [Step("macs", "MACs", expression, r.macs, f"{r.macs:,}", "H2·W2·F·F·(D1/groups)·K")]
    if isinstance(rule, DepthwiseConv):
        factors = [*out, *_kernel_factors(rule, x), x.channels] + ([rule.multiplier] if rule.multiplier != 1 else [])
        return [Step("macs", "MACs", product(factors), r.macs, f"{r.macs:,}", "H2·W2·F·F·D1·m")]
    if isinstance(rule, SeparableConv):
        expression = (f"{product(out)}{MIDDLE}({product([*_kernel_factors(rule, x), x.channels])} + "
                      f"{product([x.channels, rule.filters])})")
        return [Step("macs", "MACs", expression, r.macs, f"{r.macs:,}", "H2·W2·(F·F·D1 + D1·K)")]
    if isinstance(rule, Linear):
        return [Step("macs", "MACs", product([x.elements, rule.units]), r.macs, f"{r.macs:,}", "in·out")]
    if r.macs == 0:
        return [Step("macs", "MACs", "", 0, "0 (not counted: only conv and fc multiply-accumulate)")]
    return [Step("macs", "MACs", "", r.macs, f"{r.macs:,}")]


def _memory_step(r: LayerReport, dtype: str) -> Step:
    """Exact, like every figure of the working (and without report/, so lookups start fast)."""
    n = r.activations
    shown = f"{n:,} activations ({n * DTYPE_BYTES[dtype]:,} bytes at {dtype})"
    expression = product(r.output.dims) if r.output.rank else ""
    return Step("memory", "memory", expression, n, shown, "H2·W2·D2")


# --- what would fit --------------------------------------------------------------------------


def fit_advice(r: LayerReport) -> Tuple[str, ...]:
    """For each axis whose stride does not fit: what is lost, and what would fit.

    Whether it is a warning (input never read) or only a remark (what is skipped is padding)
    is the engine's call: ``fit_notes`` is asked about each window, so this advice and the
    table's note never disagree. The padding that would fit is the engine's ``fit_suggestion``.
    """
    rule = r.layer
    if not isinstance(rule, (Conv, DepthwiseConv, SeparableConv, Pool)):
        return ()
    ws = rule._windows(r.input)  # the layer's own windows: a pool's carry its padding bound
    names = axis_names(len(ws))
    advice = []
    seen = set()
    for name, w in zip(names, ws):
        notes = fit_notes((w,))
        if not notes or w in seen:
            continue
        seen.add(w)
        where = f" along {name}" if len(set(ws)) > 1 else ""
        left = w.span % w.stride
        floor, ceil = w.span // w.stride + 1, -(-w.span // w.stride) + 1  # of span/stride + 1
        if notes[0].code == "stride-skips-by-design":  # nothing to fix: say what the note says
            text = notes[0].text
        elif notes[0].level == "warning":
            lost = left - w.pad_after
            unseen = "the last input row/column is" if lost == 1 else f"the last {lost} input rows/columns are"
            text = (f"stride {w.stride} does not fit{where}: floored to {floor} as PyTorch does, so "
                    f"{unseen} never read (ceil would give {ceil}). {fit_suggestion(w)}")
        else:
            text = (f"stride {w.stride} leaves {left} over{where}: floored to {floor} as PyTorch "
                    f"does; what is left over is padding, so no input is lost. {fit_suggestion(w)}")
        # strides that fit and skip no input (at most the window, or the stride already chosen)
        strides = [s for s in nearest_strides(w.span, w.stride) if s <= max(w.effective_kernel, w.stride)]
        if strides and notes[0].level == "warning":
            outs = " or ".join(str(w.span // s + 1) for s in strides)
            text += f" Stride {' or '.join(map(str, strides))} would fit (output {outs})."
        advice.append(("⚠ " if notes[0].level == "warning" else "ℹ ") + text)
    return tuple(advice)


def nearest_strides(span: int, stride: int) -> Tuple[int, ...]:
    """The fitting strides (divisors of ``span``) just below and just above ``stride``."""
    if span <= 0:
        return ()
    below: Optional[int] = None
    above: Optional[int] = None
    i = 1
    while i * i <= span:  # at most ~45,000 steps for the largest span convcalc accepts
        if span % i == 0:
            for d in (i, span // i):
                if d < stride and (below is None or d > below):
                    below = d
                if d > stride and (above is None or d < above):
                    above = d
        i += 1
    return tuple(s for s in (below, above) if s is not None)
