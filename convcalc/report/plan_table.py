"""Report + Training -> ``convcalc plan``'s answer: a table per layer (the style of ``convcalc
table``, laid out by grid.py) or a JSON document of exact integers.

Per layer: the bytes autograd saves for backward that no earlier layer saved (with the
breakdown: inputs, outputs, max-pool indices, dropout masks, batchnorm statistics and, under
autocast, the half-precision weight copies), and the forward and backward MACs per sample; then
the totals and the conventions that made them, the backend's and autocast's rules among them.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Dict, List, Optional, Tuple

from ..analysis.plan_result import (
    CHECKPOINT_CONVENTION,
    NO_FLASH,
    SAVED_ROLES,
    STEP_CATEGORIES,
    STEP_CONVENTIONS,
    Checkpoint,
    Fit,
    Roofline,
    Step,
    StepEvent,
    Training,
    training_conventions,
)
from ..analysis.result import Report
from . import grid
from .numbers import human, human_bytes

ROLE_HEADERS = ("inputs", "outputs", "indices", "masks", "stats", "w copies")  # SAVED_ROLES, as short as the table wants
BACKEND_NAMES = {"cuda": "PyTorch's CUDA rules", "cpu": "PyTorch's CPU rules"}


def counted(report: Report, macs: int) -> int:
    """MACs, or FLOPs (2 per MAC) when the plan counts FLOPs (``--count flops``)."""
    return 2 * macs if report.conventions.count == "flops" else macs


def work_label(report: Report) -> str:
    return "FLOPs" if report.conventions.count == "flops" else "MACs"


def plan_lines(report: Report, training: Training, step: Optional[Step] = None, fit: Optional[Fit] = None,
               width: Optional[int] = None, bound: Optional[Roofline] = None,
               checkpoint: Optional[Checkpoint] = None) -> List[grid.Line]:
    """The plan's styled lines: title, one row per layer, totals, conventions, what is missing;
    the step's peak (and the largest batch when asked); with a device, the roofline section after them."""
    spec = report.spec
    label = work_label(report)

    def part(n: int) -> str:
        return human_bytes(n) if n else ""

    # weight copies exist only under autocast: without it the column would only ever be empty
    shown = len(SAVED_ROLES) if training.amp else SAVED_ROLES.index("weight copies")
    columns = [grid.Column("#", style="dim"), grid.Column("name", "left", shrink=8, shrink_order=2),
               grid.Column("layer", "left", shrink=12, shrink_order=1), grid.Column("output"),
               grid.Column("saved"), *(grid.Column(h) for h in ROLE_HEADERS[:shown]),
               grid.Column(f"fwd {label}"), grid.Column(f"bwd {label}"), grid.Column("notes", "left", wrap=True)]
    rows: List[Optional[grid.Row]] = []
    for r, t in zip(report.layers, training.layers):
        note = ("", "") if t.supported else ("⚠ no saved-tensor rule: not counted", "yellow")
        rows.append(grid.Row((str(r.index), r.full_name, r.layer.describe(), str(r.output),
                              human_bytes(t.saved_bytes) if t.supported else "?", *(part(n) for n in t.saved[:shown]),
                              human(counted(report, t.forward_macs)), human(counted(report, t.backward_macs)),
                              (note,))))
    by_role = training.saved_by_role()
    rows += [grid.SECTION, grid.Row(("", "total", f"{len(report.layers)} layers", "",
                                     human_bytes(training.saved_bytes),
                                     *(part(by_role[role]) for role in SAVED_ROLES[:shown]),
                                     human(counted(report, training.forward_macs)),
                                     human(counted(report, training.backward_macs)), ""), "bold")]
    title = spec.title or spec.name or "network"
    precision = f"autocast {training.amp} over float32" if training.amp else report.dtype
    lines = grid.paragraph(f"{title} — training, batch {report.batch}, {precision}, "
                           f"{BACKEND_NAMES[training.backend]}", "", width) + [[]]
    lines += grid.layout(columns, rows, width) + [[]]
    lines += grid.paragraph(summary(report, training), "", width)
    if step is not None:
        lines += [[]] + step_lines(report, step, fit, width)
    if checkpoint is not None:
        lines += [[]] + checkpoint_lines(report, checkpoint, width)
    lines += [[]] + grid.paragraph(conventions_text(report, training), "dim", width)
    if not training.complete:
        missing = ", ".join(f"{kind} ×{n}" for kind, n in training.unsupported)
        lines += grid.paragraph(f"incomplete: no saved-tensor rule yet for {missing}; their bytes are not in "
                                "the total", "yellow", width)
    if bound is not None:
        from .roofline_table import roofline_lines

        lines += [[]] + roofline_lines(report, bound, width)
    return lines


CATEGORY_NAMES = {"optimizer_state": "optimizer state"}


def where(report: Report, event: StepEvent, brief: bool = False) -> str:
    """The phase and layer of a moment of the step, as people read it (``brief``: without the
    layer's description, for a picture's label)."""
    if 0 < event.layer <= len(report.layers):
        r = report.layers[event.layer - 1]
        return f"the {event.phase} of layer {r.index} {r.full_name}" + ("" if brief else f" ({r.layer.describe()})")
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
        lines += grid.paragraph(fit_text(report, fit), "bold", width)
    return lines


def fit_text(report: Report, fit: Fit) -> str:
    """The largest batch that fits, where its peak binds and what one more sample would need."""
    what = f"{fit.device} ({human_bytes(fit.memory_bytes)})" if fit.device else human_bytes(fit.memory_bytes)
    room = f"{what} less {human_bytes(fit.headroom_bytes)} headroom = {human_bytes(fit.usable_bytes)}"
    if not fit.batch:
        return f"not even batch 1 fits {room}: its step peaks at {human_bytes(fit.over)}"
    return (f"largest batch that fits {room}: {fit.batch} (peak {human_bytes(fit.peak.peak_bytes)} at "
            f"{where(report, fit.peak.peak)}; batch {fit.batch + 1} would need {human_bytes(fit.over)}, "
            f"{fit.over:,} B > {fit.usable_bytes:,} B; each sample adds {human_bytes(fit.per_sample)} there)")


def summary(report: Report, training: Training) -> str:
    b, label = report.batch, work_label(report)
    forward, backward = counted(report, training.forward_macs), counted(report, training.backward_macs)
    return (f"saved for backward: {training.saved_bytes:,} B ({human_bytes(training.saved_bytes)}) at batch {b} · "
            f"forward {forward:,} {label}, backward {backward:,} {label} per sample "
            f"(per step of batch {b}: {forward * b:,} + {backward * b:,})")


BACKEND_RULES = {  # the backend's rules in brief (in full: JSON's conventions, plan --help)
    "cuda": "PyTorch's CUDA rules (the default) where they differ from the CPU's: dropout keeps a bool mask (1 B); "
            "batchnorm's batch mean and 1/std and layer norm's mean and 1/std float32 at half precision; attention "
            "mem-efficient at float32 (logsumexp padded to 32 tokens, output copied for out_proj at a batch over 1), "
            "flash at half precision (+24 B rng state); cuDNN batchnorm's reserve space not counted",
    "cpu": "PyTorch's CPU rules, measured: dropout keeps a mask of the input's dtype; attention the CPU flash kernel",
}


def conventions_text(report: Report, training: Training) -> str:
    if training.amp:
        sizes = f"at each tensor's dtype under autocast ({training.amp} 2 B, float32 4 B)"
        amp = (f" · autocast {training.amp}: conv, fc, attention, PReLU save half-precision copies of float32 inputs "
               f"and of their weights (w copies; fc's where its input needs a gradient); on CUDA layer and group norm "
               f"run in float32, softmax outputs float32; other ops take their input's dtype (the widest); "
               f"statistics float32; parameters and gradients float32, not counted")
    else:
        sizes, amp = f"× {report.bytes_per_element} B ({report.dtype})", ""
    return (f"saved: tensors autograd keeps for backward (torch 2.14, train mode), each once, at the first layer "
            f"that saves it, {sizes} × batch {report.batch}; max-pool indices int64 (8 B); per-channel "
            f"statistics (batchnorm's 4 vectors) once, not per sample; parameters not counted · "
            f"backend {training.backend}: {BACKEND_RULES[training.backend]}"
            f"{'' if training.flash else '; ' + NO_FLASH}{amp}"
            f" · {flops_note(report)}bwd MACs: grad-input + grad-weight, each the forward's (conv, fc, attention, "
            "matmul), no grad-input where nothing before needs a gradient, no grad-weight for frozen layers · "
            f"peak: {STEP_CONVENTIONS['peak_bytes']}")


def flops_note(report: Report) -> str:
    return "FLOPs = 2 × MACs (multiply and add each one) · " if report.conventions.count == "flops" else ""


def print_plan(report: Report, training: Training, step: Optional[Step] = None, fit: Optional[Fit] = None,
               file: Optional[IO[str]] = None, width: Optional[int] = None, color: Optional[bool] = None,
               bound: Optional[Roofline] = None, checkpoint: Optional[Checkpoint] = None) -> None:
    out = file if file is not None else sys.stdout
    if width is None:
        width = grid.terminal_width(out)
    grid.write(plan_lines(report, training, step, fit, width, bound, checkpoint), out, color)


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


def plan_conventions(training: Training, step: Optional[Step]) -> Dict[str, str]:
    """The conventions of the plan's figures, as JSON and the HTML page state them."""
    return {**training_conventions(training.backend, training.amp, training.flash), "flops": "2 x MACs",
            **(STEP_CONVENTIONS if step is not None else {})}


def plan_json(report: Report, training: Training, step: Optional[Step] = None, fit: Optional[Fit] = None,
              bound: Optional[Roofline] = None, checkpoint: Optional[Checkpoint] = None) -> Dict[str, Any]:
    """The plan as one JSON document: exact integers, the conventions stated, what is missing named;
    the step's peak and timeline (the largest batch when asked); with a device, each layer's
    roofline figures and the step's lower bound."""
    layers = []
    for r, t in zip(report.layers, training.layers):
        layers.append({"index": r.index, "name": r.full_name, "kind": r.layer.kind, "output": list(r.output.dims),
                       # null, not 0, where convcalc has no rule: unknown is not nothing
                       "saved_activation_bytes": t.saved_bytes if t.supported else None,
                       "saved": dict(zip(SAVED_ROLES, t.saved)) if t.supported else None,
                       "forward_macs": t.forward_macs, "backward_macs": t.backward_macs,
                       "grad_input_macs": t.grad_input_macs, "grad_weight_macs": t.grad_weight_macs,
                       "forward_flops": 2 * t.forward_macs, "backward_flops": 2 * t.backward_macs,
                       "supported": t.supported})
    doc: Dict[str, Any] = {
        "schema_version": 1,
        "network": report.spec.name or report.spec.title,
        "backend": training.backend,
        "amp": training.amp,
        "dtype": report.dtype,
        "batch": report.batch,
        "count": report.conventions.count,
        "flash_attention": training.flash if training.backend == "cuda" else None,
        "conventions": plan_conventions(training, step),
        "complete": training.complete,
        "unsupported": dict(training.unsupported),
        "layers": layers,
        "totals": {"saved_activation_bytes": training.saved_bytes, "saved": training.saved_by_role(),
                   "forward_macs": training.forward_macs, "backward_macs": training.backward_macs,
                   "forward_macs_per_step": training.forward_macs * report.batch,
                   "backward_macs_per_step": training.backward_macs * report.batch,
                   "forward_flops": 2 * training.forward_macs, "backward_flops": 2 * training.backward_macs,
                   "forward_flops_per_step": 2 * training.forward_macs * report.batch,
                   "backward_flops_per_step": 2 * training.backward_macs * report.batch},
        **(step_json(report, step, fit) if step is not None else {}),
    }
    if checkpoint is not None:
        doc["checkpoint"] = checkpoint_json(report, checkpoint)
        doc["conventions"]["checkpoint"] = CHECKPOINT_CONVENTION
    if bound is not None:
        from .roofline_table import pass_json, roofline_json

        doc["roofline"] = roofline_json(bound)
        if not bound.missing:
            for layer, b in zip(layers, bound.layers):
                layer["arithmetic_intensity"] = float(b.intensity) if b.intensity is not None else None
                layer["bound"] = b.bound or None
                layer["roofline"] = {"forward": pass_json(b.forward), "backward": pass_json(b.backward)}
            doc["totals"]["step_time_lower_bound_s"] = doc["roofline"]["step_time_lower_bound_s"]
            doc["totals"]["images_per_s_upper_bound"] = doc["roofline"]["images_per_s_upper_bound"]
    return doc


# --- activation checkpointing (--checkpoint) ------------------------------------------------

def checkpoint_lines(report: Report, c: Checkpoint, width: Optional[int]) -> List[grid.Line]:
    """The checkpointing section: the peak with and without, where it now falls, what the
    recomputation costs, the largest batch under it."""
    return [line for text, style in checkpoint_paragraphs(report, c) for line in grid.paragraph(text, style, width)]


def checkpoint_paragraphs(report: Report, c: Checkpoint) -> List[Tuple[str, str]]:
    """The checkpointing section's paragraphs and their styles, for the table and the page."""
    label, b = work_label(report), report.batch
    extra = counted(report, c.extra_forward_macs)
    whole = counted(report, c.step_macs)
    share = f"{100 * c.extra_forward_macs / c.step_macs:.1f}%" if c.step_macs else "—"
    saved = c.saved_bytes
    if saved > 0:
        change = f"saves {human_bytes(saved)} ({saved:,} B, {100 * saved / c.plain_peak:.1f}%)"
    elif saved == 0:
        change = "saves nothing: the peak falls where no segment's tensors are alive"
    else:
        change = f"costs {human_bytes(-saved)} more ({-saved:,} B): the recomputation outweighs what it frees"

    out = [(f"activation checkpointing ({c.mode}, {len(c.segments)} segments): peak "
            f"{human_bytes(c.peak_bytes)} ({c.peak_bytes:,} B) against {human_bytes(c.plain_peak)} "
            f"without; {change}; now at {where(report, c.step.peak)}", "bold")]
    spans = ", ".join(segment_name(report, f, last) for f, last in c.segments[:4])
    more = f" and {len(c.segments) - 4} more" if len(c.segments) > 4 else ""
    out.append((f"re-runs {extra:,} forward {label} per sample ({extra * b:,} per step of batch {b}), "
                f"{share} of the step's forward + backward {whole:,}; segments: {spans}{more}", ""))
    fit = c.fit
    if fit is not None:
        out.append((f"largest batch that fits under checkpointing: {fit.batch} (peak {human_bytes(fit.peak.peak_bytes)} "
                    f"at {where(report, fit.peak.peak)}; batch {fit.batch + 1} would need {human_bytes(fit.over)}, "
                    f"{fit.over:,} B > {fit.usable_bytes:,} B)"
                    if fit.batch else f"not even batch 1 fits under checkpointing: it peaks at {human_bytes(fit.over)}",
                    "bold"))
    out.append((f"checkpointing: {CHECKPOINT_CONVENTION}; RNG state stashed per segment: "
                f"{c.rng_state_bytes:,} B of host memory", "dim"))
    return out


def segment_name(report: Report, first: int, last: int) -> str:
    """A segment as people read it: the block it is (layer1.0), else its first–last layer."""
    a, b = report.layers[first - 1].path, report.layers[last - 1].path
    common = a[:next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))]
    whole = [r.index for r in report.layers if r.path[:len(common)] == common] == list(range(first, last + 1))
    if common and whole:
        return ".".join(common)
    return report.layers[first - 1].full_name + (f"–{report.layers[last - 1].full_name}" if last != first else "")


def checkpoint_json(report: Report, c: Checkpoint) -> Dict[str, Any]:
    """``checkpoint``: the mode, the segments, the peak with it and what it saves and costs."""
    out: Dict[str, Any] = {
        "mode": c.mode,
        "segments": [{"first": f, "last": last, "name": segment_name(report, f, last)} for f, last in c.segments],
        "peak_bytes": c.peak_bytes,
        "peak_bytes_without": c.plain_peak,
        "saved_bytes": c.saved_bytes,
        "saved_percent": 100 * c.saved_bytes / c.plain_peak if c.plain_peak else None,
        "peak_breakdown": c.step.peak.breakdown(),
        "peak_at": event_json(report, c.step.peak),
        "extra_forward_macs": c.extra_forward_macs,
        "extra_forward_macs_per_step": c.extra_forward_macs * report.batch,
        "extra_forward_flops": 2 * c.extra_forward_macs,
        "extra_percent_of_step_macs": 100 * c.extra_forward_macs / c.step_macs if c.step_macs else None,
        "rng_state_bytes_per_segment_host": c.rng_state_bytes,
        "timeline": {"categories": list(STEP_CATEGORIES), "events": [event_json(report, e) for e in c.step.events]},
    }
    if c.fit is not None:
        out["max_batch"] = c.fit.batch
        out["peak_bytes_at_max_batch"] = c.fit.peak.peak_bytes if c.fit.batch else None
        out["peak_bytes_one_more"] = c.fit.over
    return out
