"""Report -> JSON: the documented, stable shape (``schema_version`` changes when it does).

Exact integers throughout; receptive fields as exact numbers or "p/q" strings. Written a line
per layer and block, streamed, so a spec of 100,000 layers never holds all its dicts at once.
"""

from __future__ import annotations

import io
from typing import IO, Any, Dict, Iterator, Tuple

from .. import __version__
from ..analysis.result import CONVENTIONS, FROZEN, Field, LayerReport, Report
from ..errors import location_dict
from ..shape import Shape
from ..values import fields
from .numbers import number

SCHEMA_VERSION = 1


def shape_dict(s: Shape) -> Dict[str, Any]:
    return {"shape": list(s.dims), "text": str(s), "elements": s.elements}


def options_dict(r: LayerReport) -> Dict[str, Any]:
    settings = ((f.name, getattr(r.layer, f.name)) for f in fields(r.layer))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings}


def layer_basics(r: LayerReport) -> Dict[str, Any]:
    """What a layer is and what it maps: shared by every JSON that describes one layer."""
    return {"kind": r.layer.kind, "description": r.layer.describe(), "options": options_dict(r),
            "input": shape_dict(r.input), "output": shape_dict(r.output)}


def field_dict(f: Field, input_spatial: Tuple[int, ...]) -> Dict[str, Any]:
    return {
        "status": f.status,
        "size": [number(a.size) for a in f.axes],
        "jump": [number(a.jump) for a in f.axes],
        "start": [number(a.start) for a in f.axes],
        "exact": f.exact,
        "covers_input": f.covers(input_spatial),
        "why": f.why or None,
    }


def conventions_dict(report: Report) -> Dict[str, Any]:
    c = report.conventions
    return {
        **CONVENTIONS,
        **({"frozen": FROZEN} if report.frozen else {}),
        "count": c.count,
        "bias": c.bias,
        "ops": list(c.ops),
        "inplace": c.inplace,
        "optimizer": c.optimizer,
        "dtype": report.dtype,
        "bytes_per_element": report.bytes_per_element,
        "batch": report.batch,
    }


def report_dict(report: Report) -> Dict[str, Any]:
    """The documented, stable JSON shape (``schema_version`` changes when it does).

    Raw figures (``params``, ``macs``, ``activations``) never depend on the conventions; the
    ``counted`` figures are what the conventions in ``conventions`` make of them.
    """
    return {key: list(value) if isinstance(value, Iterator) else value for key, value in _parts(report).items()}


def _parts(report: Report) -> Dict[str, Any]:
    """The report's JSON parts, with the per-layer lists as generators (to stream large specs)."""
    spec = report.spec
    totals = report.totals
    mem = report.memory
    return {
        "schema_version": SCHEMA_VERSION,
        "convcalc_version": __version__,
        "network": {"name": spec.name, "title": spec.title, "reference": spec.reference, "origin": spec.origin},
        "input": shape_dict(spec.input),
        "output": shape_dict(report.output),
        # every output the network gives (one unless the spec declares 'outputs:'); "tensor" is
        # the index of the layer that computes it (0: the input), as in each layer's "sources"
        "outputs": [{"name": o.name, "tensor": o.tensor, **shape_dict(o.shape)} for o in report.outputs],
        "conventions": conventions_dict(report),
        "layers": (
            {
                "index": r.index,
                "name": r.name,
                "path": list(r.path),
                "full_name": r.full_name,
                **layer_basics(r),
                # every tensor the layer reads: a merge's branch outputs in branch order (its
                # "input" is the first of them, the one a residual's sum starts from); else [input]
                "inputs": [shape_dict(s) for s in (r.inputs or (r.input,))],
                "sources": list(r.sources),  # the layers that computed them (0: the network input)
                "params": r.params,
                "biases": r.biases,
                "buffers": r.buffers,
                "macs": r.macs,
                "flops": r.flops,
                "ops": r.ops,
                "activations": r.activations,
                "counted": {"params": report.counted_params(r), "work": report.work(r),
                            "activations": report.counted_activations(r)},
                "activation_bytes": report.activation_bytes(report.counted_activations(r)),
                "param_bytes": report.param_bytes(r.params),
                "receptive_field": field_dict(f, spec.input.spatial),
                "notes": [{"level": n.level, "code": n.code, "text": n.text} for n in r.notes],
                "location": location_dict(r.loc),
            }
            for r, f in zip(report.layers, report.fields)
        ),
        "blocks": (
            {
                "name": b.name,
                "path": list(b.path),
                "full_name": b.full_name,
                "kind": b.kind,
                "input": shape_dict(b.input),
                "output": shape_dict(b.output),
                "merge": b.merge or None,
                "branches": b.branches,
                "identity_branches": b.identities,
                "first_layer": b.first,
                "last_layer": b.last,
                "params": b.params,
                "buffers": b.buffers,
                "macs": b.macs,
                "activations": b.activations,
                "location": location_dict(b.loc),
            }
            for b in report.blocks
        ),
        "totals": {
            "layers": totals.layers,
            "params": totals.params,
            "biases": totals.biases,
            "buffers": totals.buffers,
            "macs": totals.macs,
            "flops": totals.flops,
            "counted": {"params": totals.counted_params, "work": totals.work, "activations": totals.activations},
            "activations": totals.activations,
            "activation_bytes": report.activation_bytes(totals.activations),
            "param_bytes": report.param_bytes(totals.params),
        },
        "memory": {
            "forward_bytes": mem.forward_bytes,
            "inference_peak_activations": mem.peak,
            "inference_bytes": mem.inference_bytes,
            "weight_bytes": mem.weight_bytes,
            "gradient_bytes": mem.gradient_bytes,
            "optimizer_bytes": mem.optimizer_bytes,
            "training_bytes": mem.training_bytes,
        },
        # operators convcalc could not count, with their counts: the totals leave them out ({} when complete)
        "incomplete": {"unknown_ops": report.unknown_ops} if report.unknown_ops else None,
        "warnings": (
            {"layer": r.index, "name": r.full_name, "code": n.code, "message": n.text, "location": location_dict(r.loc)}
            for r, n in report.warnings
        ),
    }


def to_json(report: Report) -> str:
    out = io.StringIO()
    write_json(report, out)
    return out.getvalue()


def write_json(report: Report, out: IO[str]) -> None:
    """Indented at the top, one line per layer and block: readable, and fast to write, and
    streamed, so a spec of 100,000 layers never holds all its dicts at once. The layers' lines are
    put together by ``_LayerLines`` (the same text ``json.dumps`` makes of each layer's dict, in
    a fifth of the time); every other line goes through the json module's C encoder."""
    import json  # formats load what they use: a table needs neither json nor csv

    out.write("{\n")
    for i, (key, part) in enumerate(_parts(report).items()):
        out.write(",\n" if i else "")
        if isinstance(part, Iterator):
            items = _LayerLines(report).lines() if key == "layers" else (
                json.dumps(item, ensure_ascii=False) for item in part)
            out.write(f"  {json.dumps(key)}: [")
            wrote = False
            for line in items:
                out.write(f"{',' if wrote else ''}\n    {line}")
                wrote = True
            out.write("\n  ]" if wrote else "]")
        else:
            out.write(f"  {json.dumps(key)}: {json.dumps(part, ensure_ascii=False)}")
    out.write("\n}\n")


class _LayerLines:
    """Each layer's JSON line, as ``json.dumps(layer_dict, ensure_ascii=False)`` writes it.

    Why not ``json.dumps`` itself: a large spec repeats a few layers on a few shapes thousands of
    times, and building a dict of ~25 entries per layer and encoding it again took 60% of
    ``table --format json`` on a 10,000-layer chain. Here what a layer is and what it maps (the
    part that repeats) is encoded once per distinct rule and shapes and reused; the rest is
    integers and a few names put in place. ``tests/test_output.py`` holds every line equal to
    ``json.dumps`` of ``report_dict``'s entry.
    """

    def __init__(self, report: Report) -> None:
        import json

        self.report = report
        self.dumps = json.dumps
        self.string = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
        self.spatial = report.spec.input.spatial
        self.basics: Dict[Tuple[Any, ...], str] = {}
        self.paths: Dict[Tuple[str, ...], str] = {}
        self.files: Dict[str, str] = {}

    def lines(self) -> Iterator[str]:
        report, string = self.report, self.string
        bias, ops, inplace = report.conventions.bias, report.conventions.ops, report.conventions.inplace
        flops = report.conventions.count == "flops"
        per_element, batch = report.bytes_per_element, report.batch
        for r, f in zip(report.layers, report.fields):
            rule = r.layer
            counted_params = r.params if bias else r.params - r.biases
            extra = r.ops if rule.op_kind and rule.op_kind in ops else 0
            work = 2 * r.macs + extra * (2 if rule.op_kind == "norm" else 1) if flops else r.macs + extra
            activations = r.output.elements
            counted_acts = 0 if inplace and rule.inplace else activations
            path = self.paths.get(r.path)
            if path is None:
                path = self.paths[r.path] = self.dumps(list(r.path), ensure_ascii=False)
            notes = "[]" if not r.notes else self.dumps(
                [{"level": n.level, "code": n.code, "text": n.text} for n in r.notes], ensure_ascii=False)
            yield (f'{{"index": {r.index}, "name": {string(r.name)}, "path": {path}, '
                   f'"full_name": {string(r.full_name)}, {self.basics_of(r)}, "sources": {list(r.sources)}, '
                   f'"params": {r.params}, "biases": {r.biases}, "buffers": {r.buffers}, "macs": {r.macs}, '
                   f'"flops": {2 * r.macs}, "ops": {r.ops}, "activations": {activations}, '
                   f'"counted": {{"params": {counted_params}, "work": {work}, "activations": {counted_acts}}}, '
                   f'"activation_bytes": {counted_acts * per_element * batch}, '
                   f'"param_bytes": {r.params * per_element}, "receptive_field": {self.field(f)}, '
                   f'"notes": {notes}, "location": {self.location(r)}}}')

    def basics_of(self, r: LayerReport) -> str:
        """``"kind": ..., "description": ..., "options": ..., "input": ..., "output": ...,
        "inputs": [...]``: encoded once per rule and shapes."""
        key = (r.layer, r.input, r.output, r.inputs)
        text = self.basics.get(key)
        if text is None:
            whole = {**layer_basics(r), "inputs": [shape_dict(s) for s in (r.inputs or (r.input,))]}
            text = self.basics[key] = self.dumps(whole, ensure_ascii=False)[1:-1]
        return text

    def field(self, f: Field) -> str:
        axes = f.axes
        return (f'{{"status": "{f.status}", "size": [{", ".join([_number(a.size) for a in axes])}], '
                f'"jump": [{", ".join([_number(a.jump) for a in axes])}], '
                f'"start": [{", ".join([_number(a.start) for a in axes])}], '
                f'"exact": {"true" if f.exact else "false"}, '
                f'"covers_input": {"true" if f.covers(self.spatial) else "false"}, '
                f'"why": {self.string(f.why) if f.why else "null"}}}')

    def location(self, r: LayerReport) -> str:
        loc = r.loc
        if loc is None:
            return "null"
        file = self.files.get(loc.file)
        if file is None:
            file = self.files[loc.file] = self.string(loc.file)
        return f'{{"file": {file}, "line": {loc.line}, "column": {loc.column}}}'


def _number(v: Any) -> str:
    """``number(v)`` as JSON text: an int, or a fraction as the string "p/q"."""
    if type(v) is int:
        return str(v)
    return str(v.numerator) if v.denominator == 1 else f'"{v.numerator}/{v.denominator}"'
