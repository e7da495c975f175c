"""Report -> JSON: the documented, stable shape (``schema_version`` changes when it does).

Exact integers throughout; receptive fields as exact numbers or "p/q" strings. Written a line
per layer and block, streamed, so a spec of 100,000 layers never holds all its dicts at once.
"""

from __future__ import annotations

import io
from typing import IO, Any, Dict, Iterator, Tuple

from ..analysis.result import CONVENTIONS, FROZEN, Field, LayerReport, Report
from ..errors import location_dict
from ..shape import Shape
from ..values import fields
from ..version import __version__
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


def layer_dict(report: Report, r: LayerReport, f: Field) -> Dict[str, Any]:
    """One layer's entry: what it is, reads and maps, its figures raw and counted, its field."""
    return {
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
        "receptive_field": field_dict(f, report.spec.input.spatial),
        "notes": [{"level": n.level, "code": n.code, "text": n.text} for n in r.notes],
        "location": location_dict(r.loc),
    }


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
        "layers": (layer_dict(report, r, f) for r, f in zip(report.layers, report.fields)),
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
    ``table --format json`` on a 10,000-layer chain. Here what repeats (what a layer is and maps,
    its figures, its notes) is encoded once per distinct rule, shapes, freezing and sharing, by the json
    module, and reused; the rest (index, names, sources, field, location) is put in place. ``tests/test_output.py`` holds every line equal to
    ``json.dumps`` of ``report_dict``'s entry.
    """

    def __init__(self, report: Report) -> None:
        import json

        self.report = report
        self.dumps = json.dumps
        self.string = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
        self.spatial = report.spec.input.spatial
        self.same: Dict[Tuple[Any, ...], Tuple[str, str, str]] = {}
        self.paths: Dict[Tuple[str, ...], str] = {}
        self.files: Dict[str, str] = {}

    def lines(self) -> Iterator[str]:
        string, last, field = self.string, None, ""
        for r, f in zip(self.report.layers, self.report.fields):
            if f is not last:  # a layer that keeps its input's field (an activation, a norm) has the same Field
                last, field = f, self.field(f)
            key = (r.layer, r.input, r.output, r.inputs, r.frozen, r.shared, r.notes if r.shared else ())
            same = self.same.get(key)
            if same is None:
                same = self.same[key] = self.repeated(r)
            basics, figures, notes = same
            path = self.paths.get(r.path)
            if path is None:
                path = self.paths[r.path] = self.dumps(list(r.path), ensure_ascii=False)
            yield (f'{{"index": {r.index}, "name": {string(r.name)}, "path": {path}, '
                   f'"full_name": {string(r.full_name)}, {basics}, "sources": {list(r.sources)}, {figures}, '
                   f'"receptive_field": {field}, "notes": {notes}, "location": {self.location(r)}}}')

    def repeated(self, r: LayerReport) -> Tuple[str, str, str]:
        """What every layer of the same rule, shapes and freezing has alike, from its entry
        (``layer_dict``): what it is and maps (``"kind"`` to ``"inputs"``), its figures
        (``"params"`` to ``"param_bytes"``), its notes."""
        entry = layer_dict(self.report, r, self.report.fields[r.index - 1])
        keys = list(entry)
        basics = {k: entry[k] for k in keys[keys.index("kind"):keys.index("sources")]}
        figures = {k: entry[k] for k in keys[keys.index("params"):keys.index("receptive_field")]}
        return (self.dumps(basics, ensure_ascii=False)[1:-1], self.dumps(figures, ensure_ascii=False)[1:-1],
                self.dumps(entry["notes"], ensure_ascii=False))

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
