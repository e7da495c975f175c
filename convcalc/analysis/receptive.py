"""Receptive fields: for every layer, per axis, the field size r, the jump j and the start.

The algebra (Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019; Dumoulin & Visin, "A guide to convolution arithmetic", arXiv
1603.07285) is three one-line functions below; each layer kind says what it does to a field as
a ``Step`` (``convcalc/layers``). Input pixel ``i`` is centred at coordinate ``i``: ``start`` is the
centre of the first output unit's field in input coordinates (−½ is between pixels −1 and 0).

Every layer's field follows from the field of the tensor it reads (a block's branches start from
the block's input, a ``from`` from the tensor it names); a merge takes the union. When
branches disagree on the jump or the centre, the fields of later units are not one size and
offset ("not aligned"): we say so, and name the block, instead of printing a misleading number.
Fully connected layers and global pooling see the whole input.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

from ..layers import IDENTITY_STEP, Layer, Merge, Number, Step
from ..shape import Shape
from .result import AxisField, Field, LayerReport, fraction_text


def size(r: Number, j: Number, step: Step) -> Number:
    """``r' = r + (F_eff − 1)·j``."""
    return r + step.grow * j


def jump(j: Number, step: Step) -> Number:
    """``j' = j·S``."""
    return j * step.scale


def start(s: Number, j: Number, step: Step) -> Number:
    """``start' = start + ((F_eff − 1)/2 − P_before)·j``."""
    return s + step.shift * j


GLOBAL = Field(status="global")


def receptive_fields(input: Shape, layers: Sequence[LayerReport]) -> Tuple[Field, ...]:
    """One Field per entry of ``layers`` (layers and merges, as the engine reports them), in order.

    Each layer's field comes from the field of the tensor it reads (``LayerReport.sources``), so
    a skip from far back or a lateral connection carries its own field to where paths meet.
    """
    fields = [Field(tuple(AxisField(1, 1, 0) for _ in input.spatial))]  # by tensor: 0 is the input
    steps: Dict[Tuple[Layer, Shape], Optional[Tuple[Step, ...]]] = {}  # a rule's steps on an input, once
    for r in layers:
        if isinstance(r.layer, Merge):
            fields.append(union([fields[s] for s in r.sources], r.full_name.rsplit(".", 1)[0]))
            continue
        key = (r.layer, r.input)
        field = fields[r.sources[0] if r.sources else r.index - 1]
        why = r.layer.untracked(r.input)
        if why:  # a field already global, untracked or not aligned stays so
            fields.append(field if field.status != "local" else
                          Field(status="untracked", why=f"'{r.full_name}' {why}; fields are not followed past it"))
            continue
        if key not in steps:
            found = r.layer.receptive(r.input)
            # () for a layer that keeps every unit's field (an activation, a norm, a per-position
            # linear on a sequence made from a grid): its input's field passes on as it is
            steps[key] = () if found is not None and all(s == IDENTITY_STEP for s in found) else found
        fields.append(field if steps[key] == () else _layer(field, r, steps[key]))
    return tuple(fields[1:])


def _layer(field: Field, r: LayerReport, steps: Optional[Tuple[Step, ...]]) -> Field:
    if steps is None:
        return GLOBAL
    if field.status != "local" or not steps:  # global stays global; a flat input has no axes to move
        return field
    if len(steps) != len(field.axes):  # a sequence made from a grid: its positions are not the grid's axes
        return Field(status="untracked", why=f"'{r.full_name}' moves positions along a sequence made from a "
                                             "grid; fields are not followed past it")
    axes = tuple(AxisField(size(a.size, a.jump, s), jump(a.jump, s), start(a.start, a.jump, s))
                 for a, s in zip(field.axes, steps))
    return Field(axes, "local", field.exact and all(s.exact for s in steps))


def union(fields: Sequence[Field], block: str) -> Field:
    """Where branches meet: one field if they agree on jump and centre, else 'not aligned'."""
    if any(f.status == "global" for f in fields):
        return GLOBAL
    unknown = [f for f in fields if f.status in ("unaligned", "untracked")]  # no one field to join
    if unknown:
        return unknown[0]
    if len({len(f.axes) for f in fields}) > 1:  # a sequence made from a grid meets a grid
        return Field(status="untracked", why=f"branches of '{block}' have fields over different axes")
    for axis in range(len(fields[0].axes)):
        jumps = sorted({f.axes[axis].jump for f in fields})
        starts = sorted({f.axes[axis].start for f in fields})
        if len(jumps) > 1:
            return Field(status="unaligned",
                         why=f"branches of '{block}' disagree on the jump: {', '.join(map(fraction_text, jumps))}")
        if len(starts) > 1:
            return Field(status="unaligned",
                         why=f"branches of '{block}' disagree on the centre: {', '.join(map(fraction_text, starts))}")
    axes = tuple(AxisField(max(f.axes[i].size for f in fields), fields[0].axes[i].jump, fields[0].axes[i].start)
                 for i in range(len(fields[0].axes)))
    return Field(axes, "local", all(f.exact for f in fields))


def first_covering(input: Shape, layers: Sequence[LayerReport], fields: Sequence[Field]) -> int:
    """The index (1-based) of the first layer whose units see the whole input, or 0."""
    return next((r.index for r, f in zip(layers, fields) if f.covers(input.spatial)), 0)
