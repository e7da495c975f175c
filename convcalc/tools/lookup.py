"""One layer, with the working shown: ``convcalc conv 227x227x3 -n 96 -k 11 -s 4``.

The figures come from the engine (``analyse`` over a one-layer network) and the working from
``analysis/working.py``, so a lookup and the table never disagree. No I/O: ``lookup`` returns a
frozen ``Lookup``; the CLI prints ``Lookup.lines()`` or ``Lookup.to_dict()``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..analysis.engine import analyse
from ..analysis.result import DTYPE_BYTES, LayerReport
from ..analysis.working import Step, fit_advice, working
from ..errors import LayerError, ShapeError
from ..layers import Layer, Note
from ..shape import Shape
from ..spec.model import LayerSpec, NetworkSpec
from ..values import value


@value
class Lookup:
    """A single layer on a single input: the engine's figures and the working that gives them."""

    report: LayerReport
    steps: Tuple[Step, ...]
    dtype: str = "float32"
    advice: Tuple[str, ...] = ()  # '⚠ ...' or 'ℹ ...': what would fit, for every stride that does not

    @property
    def layer(self) -> Layer:
        return self.report.layer

    @property
    def input(self) -> Shape:
        return self.report.input

    @property
    def output(self) -> Shape:
        return self.report.output

    @property
    def warnings(self) -> Tuple[Note, ...]:
        return tuple(n for n in self.report.notes if n.level == "warning")

    @property
    def activation_bytes(self) -> int:
        return self.report.activations * DTYPE_BYTES[self.dtype]

    def headline(self) -> str:
        return f"{self.layer.describe()} on {self.input} → {self.output}"

    def to_dict(self) -> Dict[str, Any]:
        """``--format json``: exact integers, the working as text and as parts."""
        from ..report.json_report import layer_basics

        r = self.report
        return {
            "schema_version": 1,
            **layer_basics(r),
            "params": r.params,
            "macs": r.macs,
            "flops": r.flops,
            "activations": r.activations,
            "activation_bytes": self.activation_bytes,
            "dtype": self.dtype,
            "working": [{"topic": s.topic, "quantity": s.quantity, "formula": s.formula or None,
                         "expression": s.expression or None, "value": s.value, "text": str(s)} for s in self.steps],
            "notes": [{"level": n.level, "code": n.code, "text": n.text} for n in r.notes],
            "advice": list(self.advice),
        }

    def lines(self, width: Optional[int] = None) -> List[str]:
        """The short block the terminal shows: the headline, then the working, indented.

        Advice is wrapped at ``width`` (the terminal's), between words; with no width (a pipe or
        a file) each piece of advice is one line, for the reader's own terminal or tool to wrap.
        """
        out = [self.headline()]
        out += [f"  {s}" for s in self.steps if s.topic == "size"]
        if self.advice and width is None:
            out += [f"  {a}" for a in self.advice]
        elif self.advice and width is not None:
            import textwrap  # ~1 ms to import: only when there is advice to wrap

            out += [textwrap.fill(a, width=max(width - 1, 20), initial_indent="  ", subsequent_indent="    ",
                                  break_long_words=False, break_on_hyphens=False) for a in self.advice]
        out += [f"  {s}" for s in self.steps if s.topic != "size"]
        return out


def lookup(layer: Layer, x: Shape, dtype: str = "float32") -> Lookup:
    """Run ``layer`` on input ``x`` through the engine and write out the working."""
    try:
        layer.out_shape(x)
    except LayerError as e:  # the engine's message would say 'layer 1 ...', which is noise here
        raise ShapeError(f"{layer.describe()} on input {x}: {e.message}", hint=e.hint) from None
    report = analyse(NetworkSpec(input=x, layers=(LayerSpec(layer),)), dtype=dtype).layers[0]
    # the stride notes are written out as advice with what would fit; the flatten is in the working
    others = tuple(("⚠ " if n.level == "warning" else "ℹ ") + n.text for n in report.notes
                   if not n.code.startswith("stride-") and n.code != "flatten")
    return Lookup(report, working(report, dtype), dtype, fit_advice(report) + others)
