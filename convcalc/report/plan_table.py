"""Report + Training -> ``convcalc plan``'s answer: a table per layer (the style of ``convcalc
table``, laid out by grid.py) or a JSON document of exact integers.

Per layer: the bytes autograd saves for backward that no earlier layer saved (with the
breakdown: inputs, outputs, max-pool indices, dropout masks, batchnorm statistics), and the
forward and backward MACs per sample; then the totals and the conventions that made them.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Dict, List, Optional

from ..analysis.result import (
    SAVED_ROLES,
    STEP_CATEGORIES,
    STEP_CONVENTIONS,
    TRAINING_CONVENTIONS,
    Fit,
    Report,
    Step,
    StepEvent,
    Training,
)
from . import grid
from .numbers import human, human_bytes

ROLE_HEADERS = ("inputs", "outputs", "indices", "masks", "stats")  # SAVED_ROLES, as short as the table wants


def plan_lines(report: Report, training: Training, step: Optional[Step] = None, fit: Optional[Fit] = None,
               width: Optional[int] = None) -> List[grid.Line]:
    """The plan's styled lines: title, one row per layer, totals, conventions, what is missing."""
    spec = report.spec

    def part(n: int) -> str:
        return human_bytes(n) if n else ""

    columns = [grid.Column("#", style="dim"), grid.Column("name", "left", shrink=8, shrink_order=2),
               grid.Column("layer", "left", shrink=12, shrink_order=1), grid.Column("output"),
               grid.Column("saved"), *(grid.Column(h) for h in ROLE_HEADERS),
               grid.Column("fwd MACs"), grid.Column("bwd MACs"), grid.Column("notes", "left", wrap=True)]
    rows: List[Optional[grid.Row]] = []
    for r, t in zip(report.layers, training.layers):
        note = ("", "") if t.supported else ("⚠ no saved-tensor rule: not counted", "yellow")
        rows.append(grid.Row((str(r.index), r.full_name, r.layer.describe(), str(r.output),
                              human_bytes(t.saved_bytes) if t.supported else "?", *(part(n) for n in t.saved),
                              human(t.forward_macs), human(t.backward_macs), (note,))))
    by_role = training.saved_by_role()
    rows += [grid.SECTION, grid.Row(("", "total", f"{len(report.layers)} layers", "",
                                     human_bytes(training.saved_bytes),
                                     *(part(by_role[role]) for role in SAVED_ROLES),
                                     human(training.forward_macs), human(training.backward_macs), ""), "bold")]
    title = spec.title or spec.name or "network"
    lines = grid.paragraph(f"{title} — training, batch {report.batch}, {report.dtype}, "
                           f"PyTorch's CPU rules", "", width) + [[]]
    lines += grid.layout(columns, rows, width) + [[]]
    lines += grid.paragraph(summary(report, training), "", width)
    if step is not None:
        lines += [[]] + step_lines(report, step, fit, width)
    lines += [[]] + grid.paragraph(conventions_text(report), "dim", width)
    if not training.complete:
        missing = ", ".join(f"{kind} ×{n}" for kind, n in training.unsupported)
        lines += grid.paragraph(f"incomplete: no saved-tensor rule yet for {missing}; their bytes are not in "
                                "the total", "yellow", width)
    return lines


CATEGORY_NAMES = {"optimizer_state": "optimizer state"}


def where(report: Report, event: StepEvent) -> str:
    """The phase and layer of a moment of the step, as people read it."""
    if 0 < event.layer <= len(report.layers):
        r = report.layers[event.layer - 1]
        return f"the {event.phase} of layer {r.index} {r.full_name} ({r.layer.describe()})"
    if event.layer == len(report.layers) + 1:
        return "the loss" if event.phase == "loss" else f"the {event.phase} of the loss"
    return {"optimizer": "the optimizer's step", "zero_grad": "zero_grad", "start": "the start of the step",
            "backward": "the end of backward"}.get(event.phase, event.phase)


def step_lines(report: Report, step: Step, fit: Optional[Fit], width: Optional[int]) -> List[grid.Line]:
    """The peak section: the peak, its breakdown, where it binds, and the largest batch."""
    peak = step.peak
    parts = " · ".join(f"{CATEGORY_NAMES.get(c, c)} {human_bytes(n)}" for c, n in peak.breakdown().items())
    lines = grid.paragraph(f"peak of one training step ({step.optimizer}, batch {step.batch}): "
                           f"{human_bytes(peak.total)} ({peak.total:,} B), at {where(report, peak)}", "bold", width)
    lines += grid.paragraph(parts, "", width)
    if not step.complete:
        lines += grid.paragraph("incomplete: layers without a saved-tensor rule are left out of the peak", "yellow",
                                width)
    if not step.trains:
        lines += grid.paragraph("nothing is trained (no parameters): no backward and no optimizer step, only the "
                                "forward pass and the loss", "yellow", width)
    if fit is not None:
        what = f"{fit.device} ({human_bytes(fit.memory_bytes)})" if fit.device else human_bytes(fit.memory_bytes)
        room = f"{what} less {human_bytes(fit.headroom_bytes)} headroom = {human_bytes(fit.usable_bytes)}"
        if fit.batch:
            text = (f"largest batch that fits {room}: {fit.batch} (peak {human_bytes(fit.peak.peak_bytes)} at "
                    f"{where(report, fit.peak.peak)}; batch {fit.batch + 1} would need {human_bytes(fit.over)}, "
                    f"{fit.over:,} B > {fit.usable_bytes:,} B; "
                    f"each sample adds {human_bytes(fit.per_sample)} there)")
        else:
            text = f"not even batch 1 fits {room}: its step peaks at {human_bytes(fit.over)}"
        lines += grid.paragraph(text, "bold", width)
    return lines


def summary(report: Report, training: Training) -> str:
    b = report.batch
    return (f"saved for backward: {training.saved_bytes:,} B ({human_bytes(training.saved_bytes)}) at batch {b} · "
            f"forward {training.forward_macs:,} MACs, backward {training.backward_macs:,} MACs per sample "
            f"(per step of batch {b}: {training.forward_macs * b:,} + {training.backward_macs * b:,})")


def conventions_text(report: Report) -> str:
    return (f"saved: tensors autograd keeps for backward by PyTorch's CPU rules (torch 2.14, train mode), each once, "
            f"at the first layer that saves it, × {report.bytes_per_element} B ({report.dtype}) × batch "
            f"{report.batch}; max-pool indices int64 (8 B); per-channel statistics (batchnorm's 4 vectors) "
            f"once, not per sample; parameters not counted · bwd MACs: grad-input + grad-weight, each the forward's "
            f"(conv, fc, attention, matmul), no grad-input where nothing before needs a gradient, "
            f"no grad-weight for frozen layers · peak: {STEP_CONVENTIONS['peak_bytes']} · "
            f"not built yet: mixed precision, checkpointing, CUDA's rules")


def print_plan(report: Report, training: Training, step: Optional[Step] = None, fit: Optional[Fit] = None,
               file: Optional[IO[str]] = None, width: Optional[int] = None, color: Optional[bool] = None) -> None:
    out = file if file is not None else sys.stdout
    if width is None:
        width = grid.terminal_width(out)
    grid.write(plan_lines(report, training, step, fit, width), out, color)


def event_json(report: Report, event: StepEvent) -> Dict[str, Any]:
    name = report.layers[event.layer - 1].full_name if 0 < event.layer <= len(report.layers) else (
        "loss" if event.layer else None)
    return {"phase": event.phase, "layer": event.layer, "name": name, "bytes": list(event.bytes)}


def step_json(report: Report, step: Step, fit: Optional[Fit]) -> Dict[str, Any]:
    """The step's figures: the peak, its breakdown and place, the timeline; the fit when asked."""
    out: Dict[str, Any] = {
        "optimizer": step.optimizer,
        "peak_bytes": step.peak_bytes,
        "peak_breakdown": step.peak.breakdown(),
        "peak_at": event_json(report, step.peak),
        "complete": step.complete,
        "trains": step.trains,
        "timeline": {"categories": list(STEP_CATEGORIES), "events": [event_json(report, e) for e in step.events]},
    }
    if fit is not None:
        out.update({"max_batch": fit.batch, "memory_bytes": fit.memory_bytes, "device": fit.device or None,
                    "headroom_bytes": fit.headroom_bytes, "usable_bytes": fit.usable_bytes,
                    "peak_bytes_at_max_batch": fit.peak.peak_bytes if fit.batch else None,
                    "peak_at_max_batch": event_json(report, fit.peak.peak) if fit.batch else None,
                    "peak_bytes_one_more": fit.over, "bytes_per_sample_at_the_binding_moment": fit.per_sample})
    return out


def plan_json(report: Report, training: Training, step: Optional[Step] = None,
              fit: Optional[Fit] = None) -> Dict[str, Any]:
    """The plan as one JSON document: exact integers, the conventions stated, what is missing named."""
    layers = []
    for r, t in zip(report.layers, training.layers):
        layers.append({"index": r.index, "name": r.full_name, "kind": r.layer.kind, "output": list(r.output.dims),
                       # null, not 0, where convcalc has no rule: unknown is not nothing
                       "saved_activation_bytes": t.saved_bytes if t.supported else None,
                       "saved": dict(zip(SAVED_ROLES, t.saved)) if t.supported else None,
                       "forward_macs": t.forward_macs, "backward_macs": t.backward_macs,
                       "grad_input_macs": t.grad_input_macs, "grad_weight_macs": t.grad_weight_macs,
                       "supported": t.supported})
    return {
        "schema_version": 1,
        "network": report.spec.name or report.spec.title,
        "backend": training.backend,
        "dtype": report.dtype,
        "batch": report.batch,
        "conventions": {**TRAINING_CONVENTIONS, **(STEP_CONVENTIONS if step is not None else {})},
        "complete": training.complete,
        "unsupported": dict(training.unsupported),
        "layers": layers,
        "totals": {"saved_activation_bytes": training.saved_bytes, "saved": training.saved_by_role(),
                   "forward_macs": training.forward_macs, "backward_macs": training.backward_macs,
                   "forward_macs_per_step": training.forward_macs * report.batch,
                   "backward_macs_per_step": training.backward_macs * report.batch},
        **(step_json(report, step, fit) if step is not None else {}),
    }
