"""Activation checkpointing: which runs of layers ``convcalc plan --checkpoint`` re-runs, and the
step it makes.

``torch.utils.checkpoint`` with ``use_reentrant=False`` (PyTorch's recommended mode), which this
module models: inside a checkpointed segment the forward saves nothing for backward (its
tensors are freed after their last reader) but keeps the segment's input, and with
``preserve_rng_state`` (the default) a copy of the CPU generator's state, a 5,056-byte uint8
tensor, plus on CUDA the device generator's (16 bytes), so that dropout's masks come out the
same when re-run: both are CPU tensors, host memory, so none of the device's (MemTracker counts
none either), stated in the output but not in the peak. When backward first needs a tensor the segment saved, it re-runs the
segment's forward from the kept input, saving as a plain forward does (``early_stop``, the
default: only up to the last layer that saves anything), then backprops through it; those
tensors live only during the segment's backward (analysis/step.py walks it, phase
"recompute"). The extra cost is the recomputed layers' forward MACs.

The modes, over the network's *items*, a chain: each repeated block (as ``blocks`` finds them),
else each top-level block (its layers in a row), else each layer outside any block:

- ``blocks``: each block of the network's innermost run of named blocks: ResNet's
  bottlenecks (``layer1.0`` ...), ViT's encoder layers, not the stages that hold them. A run is
  two or more named blocks side by side; the merges' own blocks (``add1``, branches ``b1``)
  are parts of a block, never blocks of a run;
- ``every:K``: the items in runs of K, each checkpointed but the last run, which
  ``checkpoint_sequential`` leaves unchecked (its output feeds the loss at once);
- ``sqrt``: ``checkpoint_sequential(items, isqrt(n))``: isqrt(n) segments of n // isqrt(n)
  items, the last (with the remainder) unchecked. The classic √n trade: memory ~ √n segments.
"""

from __future__ import annotations

import math
import re
from typing import Dict, List, Optional, Tuple

from ..layers import MERGES
from ..values import replace
from .plan_result import Checkpoint, Step, Training
from .result import Report
from .step import Segments, step
from .training import training

CPU_RNG_STATE_BYTES = 5056  # torch.get_rng_state(): the Mersenne Twister's state, a uint8 tensor
CUDA_RNG_STATE_BYTES = 16  # torch.cuda.get_rng_state(): Philox's seed and offset
DEVICE_RNG_STATE_BYTES = 0  # both states are CPU tensors: host memory, none on the device (MemTracker: none)
MODES = ("blocks", "sqrt", "every:K")
_GENERATED = re.compile(r"^(?:b|%s)\d+$" % "|".join(sorted(MERGES)))  # a merge's own block, a branch


class CheckpointError(ValueError):
    """A --checkpoint that names no mode, or finds nothing to checkpoint in this network."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def parse_mode(text: str) -> Tuple[str, int]:
    """``blocks``, ``sqrt`` or ``every:K`` (K >= 1): (mode, K or 0)."""
    if text in ("blocks", "sqrt"):
        return text, 0
    m = re.fullmatch(r"every:(\d+)", text)
    if m and int(m.group(1)) >= 1:
        return "every", int(m.group(1))
    raise CheckpointError(f"--checkpoint '{text}' is not a mode", "give blocks, sqrt or every:K (K >= 1 items of "
                          "the network's chain, e.g. every:4); --checkpoint alone means sqrt")


def items(report: Report) -> List[Tuple[int, int]]:
    """The network as a chain of items, in order: (first, last) layer of each. An item is a
    repeated block (as ``blocks`` finds them: a bottleneck, an encoder layer), else a top-level
    block, else a layer outside any block; a top-level block that holds repeated blocks is
    split into them and its other layers."""
    units = {i: span for span in repeated_blocks(report) for i in range(span[0], span[1] + 1)}
    split = {report.layers[i - 1].path[0] for i in units}  # top-level blocks that hold repeated blocks
    out: List[Tuple[int, int]] = []
    name: Optional[str] = None
    for r in report.layers:
        unit = units.get(r.index)
        if unit is not None:
            if unit[0] == r.index:
                out.append(unit)
            name = None
            continue
        top = r.path[0] if r.path and r.path[0] not in split else None
        if top is not None and top == name:
            out[-1] = (out[-1][0], r.index)
        else:
            out.append((r.index, r.index))
        name = top
    return out


def repeated_blocks(report: Report) -> List[Tuple[int, int]]:
    """The blocks of the innermost runs of named blocks (see the module's doc): (first, last)."""
    spans: Dict[Tuple[str, ...], Tuple[int, int]] = {}
    for r in report.layers:
        named = tuple(p for p in r.path if not _GENERATED.match(p))
        for depth in range(1, len(named) + 1):
            key = named[:depth]
            first, _ = spans.get(key, (r.index, r.index))
            spans[key] = (first, r.index)
    children: Dict[Tuple[str, ...], List[Tuple[str, ...]]] = {}
    for key in spans:
        children.setdefault(key[:-1], []).append(key)

    def has_run(key: Tuple[str, ...]) -> bool:
        kids = children.get(key, [])
        return len(kids) >= 2 or any(has_run(k) for k in kids)

    def units(key: Tuple[str, ...]) -> List[Tuple[str, ...]]:
        kids = children.get(key, [])
        inner = [k for k in kids if has_run(k)]
        if inner:
            return [u for k in inner for u in units(k)]
        return kids if len(kids) >= 2 else []

    return sorted(spans[k] for k in units(()))


def segments(report: Report, mode: str, k: int = 0) -> Segments:
    """The checkpointed runs of layers for ``mode`` (from ``parse_mode``)."""
    if mode == "blocks":
        found = repeated_blocks(report)
        if not found:
            raise CheckpointError("--checkpoint blocks: this network has no run of named blocks to checkpoint",
                                  "use --checkpoint sqrt or every:K, which cut its layers into runs")
        return tuple(found)
    parts = items(report)
    size = k if mode == "every" else len(parts) // max(math.isqrt(len(parts)), 1)
    runs = [parts[i:i + size] for i in range(0, len(parts), size)]
    if mode == "sqrt":  # checkpoint_sequential: isqrt(n) segments, the last holding the remainder
        count = max(math.isqrt(len(parts)), 1)
        runs = [parts[i * size:(i + 1) * size] for i in range(count - 1)] + [parts[(count - 1) * size:]]
    checked = tuple((run[0][0], run[-1][1]) for run in runs[:-1])
    if not checked:
        raise CheckpointError(f"--checkpoint {'sqrt' if mode == 'sqrt' else f'every:{k}'}: every item falls "
                              f"in the last segment, which is left unchecked ({len(parts)} top-level items)",
                              "give a smaller K, or use --checkpoint blocks")
    return checked


def checkpointed(report: Report, plain: Training, plain_peak: int, optimizer: str, mode: str, k: int = 0,
                 cuts: Optional[Segments] = None) -> Checkpoint:
    """The step with ``mode``'s segments checkpointed (``cuts``, when already found), beside the
    plain step's peak."""
    cut = cuts if cuts is not None else segments(report, mode, k)
    scopes = {i: n + 1 for n, (first, last) in enumerate(cut) for i in range(first, last + 1)}
    kept = training(report, backend=plain.backend, amp=plain.amp, flash=plain.flash, scopes=scopes)
    walked = step(report, kept, optimizer, cut, DEVICE_RNG_STATE_BYTES)
    redone = {e.layer for e in walked.events if e.phase == "recompute"}
    extra = sum(t.forward_macs for t in plain.layers if t.index in redone)
    label = f"every:{k}" if mode == "every" else mode
    host = CPU_RNG_STATE_BYTES + (CUDA_RNG_STATE_BYTES if plain.backend == "cuda" else 0)
    return Checkpoint(label, cut, walked, plain_peak, extra, plain.forward_macs + plain.backward_macs, host)


def checkpointed_step_at(report: Report, batch: int, optimizer: str, cuts: Segments, backend: str = "cuda",
                         amp: Optional[str] = None, flash: bool = True) -> Step:
    """The checkpointed step of ``report``'s network at another batch (for the largest batch)."""
    at = report if batch == report.batch else replace(report, batch=batch)
    plain = training(at, backend=backend, amp=amp, flash=flash)
    return checkpointed(at, plain, 0, optimizer, "", cuts=cuts).step
