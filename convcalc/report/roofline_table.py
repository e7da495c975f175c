"""Roofline -> ``convcalc plan --device``'s roofline section: a table per layer (FLOPs, least
bytes moved, arithmetic intensity, compute- or memory-bound forward and backward, the time no
pass can beat), the step's bound and the samples a second it allows, and the JSON of the same.

Everything here is labelled a lower bound: times are rounded down and rates up when shown, so
a rounded figure is still a bound; JSON carries the exact fractions as well as floats.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

from ..analysis.plan_result import ROOFLINE_CONVENTIONS, PassBound, Roofline
from ..analysis.result import Report
from . import grid
from .numbers import duration, human, human_bytes, number, significant, with_unit


def roofline_lines(report: Report, bound: Roofline, width: Optional[int] = None) -> List[grid.Line]:
    """The roofline section of the plan's table, or one line saying why there is none."""
    if bound.missing:
        return grid.paragraph(f"roofline: no bound — {bound.missing}", "yellow", width)
    columns = [grid.Column("#", style="dim"), grid.Column("name", "left", shrink=8, shrink_order=1),
               grid.Column("step FLOPs"), grid.Column("bytes moved"), grid.Column("FLOP/B"),
               grid.Column("fwd", "left"), grid.Column("bwd", "left"), grid.Column("time ≥")]
    rows: List[Optional[grid.Row]] = []
    for r, b in zip(report.layers, bound.layers):
        rows.append(grid.Row((str(r.index), r.full_name, human(b.flops), human_bytes(b.bytes) if b.bytes else "",
                              intensity(b.intensity), b.forward.bound, b.backward.bound,
                              duration(b.seconds) if b.seconds else "")))
    rows += [grid.Row(("", "optimizer step", "", human_bytes(bound.optimizer_bytes), "", "", "memory",
                       duration(bound.optimizer_seconds) if bound.optimizer_bytes else "")),
             grid.SECTION,
             grid.Row(("", "step, lower bound", human(bound.flops), human_bytes(bound.bytes), intensity(bound.intensity),
                 "", "",
                 duration(bound.step_seconds)), "bold")]
    lines = grid.paragraph(f"roofline on {bound.device}, {precision_name(bound.precision)} — a lower bound on "
                           f"time, not a prediction", "", width) + [[]]
    lines += grid.layout(columns, rows, width) + [[]]
    lines += grid.paragraph(roofline_summary(bound), "", width)
    lines += grid.paragraph(roofline_conventions(bound), "dim", width)
    return lines


OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"}


def precision_name(precision: str) -> str:
    return {"fp32": "FP32 (CUDA cores)", "tf32": "TF32 tensor cores", "fp16": "FP16 tensor cores",
            "bf16": "BF16 tensor cores"}.get(precision, precision.upper())


def intensity(x: Any) -> str:
    return "" if x is None else "0" if not x else significant(x) if x < 1000 else human(int(x))


def roofline_summary(bound: Roofline) -> str:
    step, b = bound.step_seconds, bound.batch
    rate = bound.images_per_second
    compute = sum(1 for r in bound.layers if r.bound == "compute")
    memory = sum(1 for r in bound.layers if r.bound == "memory")
    return (f"no faster than {duration(step)} per step of batch {b} ({duration(step / b)} per sample): at most "
            f"{math.ceil(rate) if rate else 0:,} samples/s on {bound.device} at its datasheet peaks "
            f"({precision_name(bound.precision)} {with_unit(bound.peak_flops, 'FLOP/s')}, "
            f"{with_unit(bound.bandwidth, 'B/s')}; "
            f"ridge {significant(bound.ridge)} FLOP/B) · {layers(compute)} compute-bound, {layers(memory)} memory-bound · "
            f"a bound, not a prediction: a real step is slower")


def layers(n: int) -> str:
    return f"{n} layer" if n == 1 else f"{n} layers"


def roofline_conventions(bound: Roofline) -> str:
    return (f"roofline: time ≥ Σ over layers, forward and backward, max(FLOPs / peak, bytes / bandwidth) + the "
            f"optimizer step's bytes / bandwidth ({OPTIMIZER_NAMES.get(bound.optimizer, bound.optimizer)}'s least); FLOPs = 2 × MACs × batch; bytes: the least a pass moves "
            f"(forward: read inputs and weights, write the output and what it saves; backward: read the output's "
            f"gradient, what it saved and its weights, write its inputs' and weights' gradients; views nothing, add "
            f"and concat nothing backward), unfused layers one after another as eager PyTorch runs them; times rounded down, "
            f"rates up · figures: {bound.source}")


def pass_json(p: PassBound) -> Dict[str, Any]:
    return {"flops_per_step": p.flops, "bytes_per_step": p.bytes,
            "arithmetic_intensity": float(p.intensity) if p.intensity is not None else None,
            "bound": p.bound or None, "time_lower_bound_s": float(p.seconds)}


def roofline_json(bound: Roofline) -> Dict[str, Any]:
    """The roofline's figures for the plan's JSON: the device's, the step's bound, the conventions."""
    if bound.missing:
        return {"device": bound.device, "missing": bound.missing}
    step, rate = bound.step_seconds, bound.images_per_second
    return {"device": bound.device, "precision": bound.precision, "peak_flops_per_s": bound.peak_flops,
            "bandwidth_bytes_per_s": bound.bandwidth, "source": bound.source,
            "ridge_flops_per_byte": float(bound.ridge), "optimizer": bound.optimizer,
            "optimizer_bytes": bound.optimizer_bytes, "flops_per_step": bound.flops, "bytes_per_step": bound.bytes,
            "step_time_lower_bound_s": float(step), "step_time_lower_bound_s_exact": number(step),
            "images_per_s_upper_bound": float(rate) if rate else None,
            "conventions": ROOFLINE_CONVENTIONS}
