"""One run of the reference at one configuration, next to the engine's figures for it, and the
budget every run must fit before it starts (what one run may hold and do)."""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Optional, Tuple

from ... import reference as ref
from ...analysis.result import LayerReport
from ...errors import ShapeError
from ...layers import Layer, Linear, Merge, expand
from ...shape import Shape
from .figures import Case, Figures, Measured, Run

# --- running one configuration ------------------------------------------------------------------


def engine_figures(rule: Layer, inputs: Tuple[Shape, ...]) -> Figures:
    x = inputs[0]
    out = rule.merge(inputs) if isinstance(rule, Merge) else rule.out_shape(x)
    macs = rule.merge_macs(inputs) if isinstance(rule, Merge) else rule.macs(x)
    return Figures(out, rule.params(x), rule.buffers(x), macs)


def tensor_dims(s: Shape) -> Tuple[int, ...]:
    """convcalc's channels-last shape as the reference's channels-first one."""
    return (s.channels, *s.spatial)


def shape_of(t: ref.Tensor) -> Shape:
    return Shape(t.spatial, t.channels)


Builder = Callable[[Any, Tuple[Shape, ...], random.Random], Any]


def measure(build: Builder, rule: Layer, inputs: Tuple[Shape, ...], rng: random.Random) -> Measured:
    layer = build(rule, inputs, rng)
    tensors = [ref.Tensor.random(tensor_dims(s), rng) for s in inputs]
    result = layer(*tensors)
    bias = getattr(layer, "bias", None)
    return Measured(Figures(shape_of(result.output), layer.params, layer.buffers, result.macs),
                    len(bias) if bias is not None else 0)


def run(build: Builder, case: Case, label: str, rng: Optional[random.Random]) -> Tuple[Run, Measured]:
    """Run ``case`` in the reference, once it is known to fit the budget. Without an ``rng`` (a
    planning pass, see ``plan``) nothing runs: the engine's figures stand in for the measured ones."""
    rule, inputs = case
    engine = engine_figures(rule, inputs)
    elements, macs = elements_held(rule, inputs, engine), engine.macs
    if elements > MAX_ELEMENTS or macs > MAX_MACS:
        raise OverBudget(label, rule.describe(), inputs, engine.output, elements, macs)
    if rng is None:
        biases = rule.units if isinstance(rule, Linear) and rule.bias else 0
        return Run(label, inputs, rule.describe(), engine, engine), Measured(engine, biases)
    measured = measure(build, rule, inputs, rng)
    return Run(label, inputs, rule.describe(), engine, measured.figures), measured


# --- the budget: what one run may hold and do ------------------------------------------------------

# The reference holds every element as a Python float in a list (a 1000x1000x4 conv at true size,
# 8 M elements, peaks at 420 MB: about 50 bytes each) and multiplies about 10 M times a second.
# One run may hold MAX_ELEMENTS at once (about 0.5 GB) and multiply MAX_MACS times (a few
# minutes; the largest layer of VGG-16 under --full is 1.85 G). verify plans every run before
# it starts one, and refuses a spec with a run over either bound (see ``plan``).
MAX_ELEMENTS = 10_000_000
MAX_MACS = 2_000_000_000


def elements_held(rule: Layer, inputs: Tuple[Shape, ...], engine: Figures) -> int:
    """Elements one run holds at once: its inputs, an input's padded copy (windowed layers), the
    output, the weights and buffers."""
    held = sum(x.elements for x in inputs) + engine.output.elements + engine.params + engine.buffers
    x, padding = inputs[0], getattr(rule, "padding", None)
    if isinstance(padding, tuple) and x.rank:
        held += x.channels * math.prod(n + 2 * p for n, p in zip(x.spatial, expand(padding, x, "padding")))
    elif padding is not None:  # 'same' pads by less than a kernel: about one more input
        held += x.elements
    return held


class OverBudget(Exception):
    """A run that does not fit the budget (not a ValueError: verify_layer must not swallow it)."""

    def __init__(self, label: str, layer: str, inputs: Tuple[Shape, ...], output: Shape, elements: int,
                 macs: int) -> None:
        super().__init__(label)
        self.label, self.layer, self.inputs, self.output = label, layer, inputs, output
        self.elements, self.macs = elements, macs

    def error(self, r: LayerReport, full: bool, fits_scaled: bool) -> ShapeError:
        """The refusal, located at the layer: what the run needs, the budget, how to get under it."""
        run = f"{self.label}: {', '.join(map(str, self.inputs))} → {self.output}"
        if self.elements > MAX_ELEMENTS:
            need = (f"{self.elements:,} elements at once ({run}); verify's budget is {MAX_ELEMENTS:,} "
                    f"elements (about 0.5 GB: the reference keeps every value in a Python list)")
        else:
            need = (f"{self.macs:,} multiplies in one run ({run}); verify's budget is {MAX_MACS:,} "
                    f"(a few minutes in pure Python)")
        hint = ("drop --full: scaled down, this layer fits" if full and fits_scaled else
                "verify the layer on a smaller input: its figures follow the same formulas at any size "
                "(`convcalc table` gives them without running it)")
        return ShapeError(f"layer {r.index} '{r.full_name}' ({r.layer.describe()}): verifying it needs {need}",
                          r.loc, hint=hint)
