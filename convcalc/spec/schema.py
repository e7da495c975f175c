"""The JSON Schema of the YAML spec, generated from the layer registry and the YAML reader's keys.

Editors validate and complete specs as people type (yaml-language-server: put
``# yaml-language-server: $schema=<path or URL>`` on a spec's first line, or map
``*.convnet.yaml`` to the schema in the editor's settings). ``convcalc schema`` prints it; the
package ships the same text as ``convcalc/schema.json`` (``tests/test_schema.py`` keeps the two
equal: ``pytest --update-goldens`` rewrites the file after a change to the registry).

Generated, not written by hand: every kind of ``layers.KINDS`` with its options (names and
aliases, from the option metadata), every merge of ``layers.MERGES``, and the reader's own key
lists, so a new kind, option or key appears here by itself. The schema is the canonical
vocabulary, lower case as ``convcalc kinds`` prints it; convcalc itself also accepts other cases
and separators (``Max_Pool``).

Draft-07, which yaml-language-server supports in full. Without ``blocks:`` a layer item must be
a known kind, merge or sequence; with ``blocks:`` other keys may name the spec's own blocks.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable, Dict, List, Tuple

from ..layers import KINDS, MERGES, Concat, Kind
from ..layers import options as opts
from ..limits import MAX_SIZE
from .expectations import (
    _NUMBER,
    ALIASES,
    BUDGET_QUANTITIES,
    BYTES,
    DECIMAL,
    OPTIMIZER_NAMES,
    QUANTITIES,
)

DRAFT = "http://json-schema.org/draft-07/schema#"
ARG = {"type": "string", "pattern": r"\$", "description": "a block argument: $width or ${width * 4}"}
AXES_PATTERN = r"^\s*\d+(\s*[xX]\s*\d+)*\s*$"
DIMS_PATTERN = r"^\s*-?\d+(\s*[xX]\s*-?\d+)*\s*$"  # a reshape's dims, one of them perhaps -1
SHAPE_PATTERN = r"^\s*\d+(\s*[xX×]\s*\d+)*\s*$"


def _int(minimum: int) -> Dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": MAX_SIZE}


def _per_axis(minimum: int) -> Dict[str, Any]:
    # a list's items may be block arguments too, as the reader takes them: to: [$side, $side, ${4*dim}]
    return {"anyOf": [_int(minimum), {"type": "array", "items": {"anyOf": [_int(minimum), ARG]}, "minItems": 1},
                      {"type": "string", "pattern": AXES_PATTERN}]}


TENSOR = {"anyOf": [{"type": "string", "pattern": f"^{opts.TENSOR_PATTERN}$"},
                    {"type": "integer", "minimum": 0}],
          "description": "the name of a layer or block computed before, or 'input'"}
SOURCE = {"anyOf": [*TENSOR["anyOf"], {"const": opts.BLOCK_INPUT}],
          "description": "the name of a layer or block computed before, 'input', or '<in>', the block's input"}
TENSORS = {"anyOf": [SOURCE, {"type": "array", "items": SOURCE, "minItems": 1}]}

_NUMERIC_STRING = {"type": "string", "pattern": r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"}

CONVERTERS: Dict[Callable[..., Any], Dict[str, Any]] = {
    opts.positive: _int(1),
    opts.non_negative: _int(0),
    opts.per_axis: _per_axis(1),
    opts.per_axis_or_zero: _per_axis(0),
    # the items may be block arguments too, as the reader takes them: to: [${side}, 2, ${side}, 2, ${dim}]
    opts.dims_inferring: {"anyOf": [_int(1), {"const": opts.INFERRED},
                                    {"type": "array", "items": {"anyOf": [_int(1), {"const": opts.INFERRED}, ARG]},
                                     "minItems": 1},
                                    {"type": "string", "pattern": DIMS_PATTERN}]},
    opts.padding: {"anyOf": [*_per_axis(0)["anyOf"],
                             {"type": "string", "pattern": r"^\s*([sS][aA][mM][eE]|[vV][aA][lL][iI][dD])\s*$"}]},
    opts.boolean: {"type": "boolean"},
    opts.tensor_name: TENSOR,
    opts.op_name: {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.:\-]{0,99}$"},
    opts.fraction: {"anyOf": [{"type": "number", "minimum": 0, "exclusiveMaximum": 1}, _NUMERIC_STRING]},
    opts.real: {"anyOf": [{"type": "number"}, _NUMERIC_STRING]},
    opts.per_axis_number: {"anyOf": [{"type": "number", "exclusiveMinimum": 0},
                                     {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0},
                                      "minItems": 1},
                                     {"type": "string", "pattern": AXES_PATTERN}]},
}


def converter_schema(convert: Callable[..., Any]) -> Dict[str, Any]:
    """The values an option's converter accepts; ``{}`` (anything) for a converter not known here."""
    if convert in CONVERTERS:
        return dict(CONVERTERS[convert])
    allowed = inspect.getclosurevars(convert).nonlocals.get("allowed") if inspect.isfunction(convert) else None
    if isinstance(allowed, tuple) and all(isinstance(a, str) for a in allowed):  # options.choice(...)
        return {"type": "string", "enum": list(allowed)}
    return {}


def option_schema(f: Any) -> Dict[str, Any]:
    schema = converter_schema(f.metadata["convert"])
    values = schema.pop("anyOf", None) or ([schema] if schema else [])
    out: Dict[str, Any] = {"description": f.metadata["help"]}
    if values:
        out["anyOf"] = [*values, ARG]
    return out


def kind_schema(k: Kind) -> Dict[str, Any]:
    """``conv: {filters: 64, kernel: 3}``, ``fc: 4096`` (the leading option) or ``relu:`` (nothing)."""
    fields = k.option_fields()
    properties: Dict[str, Any] = {}
    for name, f in fields.items():
        properties[name] = option_schema(f)
        for alias in f.metadata["aliases"]:
            properties.setdefault(alias, {"$ref": f"#/definitions/option.{k.name}.{name}",
                                          "description": f"same as '{name}'"})
    scalar: List[Dict[str, Any]] = [{"type": "null"}]
    if k.rule.leading is not None and k.rule.leading in fields:
        scalar.append({"$ref": f"#/definitions/option.{k.name}.{k.rule.leading}"})
    aliases = f" (also {', '.join(k.aliases)})" if k.aliases else ""
    # if/then/else rather than anyOf, so a validator reports the real mistake ('kernal' was unexpected)
    return {"description": f"{k.summary}{aliases}", "if": {"type": "object"},
            "then": {"type": "object", "properties": properties, "additionalProperties": False},
            "else": {"anyOf": scalar}}


def amount_pattern(allow_bytes: bool) -> str:
    """An expectation's amount (expectations.py), with its units spelled out (any case): ``105.4M``, ``2GiB``, ``105M ± 1%``."""
    names = [u for u in DECIMAL if u] + (list(BYTES) if allow_bytes else [])
    units = "|".join("".join(f"[{c.lower()}{c.upper()}]" for c in u) for u in sorted(names, key=len, reverse=True))
    unit = rf"(?:{units})?"
    return rf"^\s*{_NUMBER}\s*{unit}\s*(?:(?:±|\+-|\+/-)\s*{_NUMBER}\s*(?:%|{unit}))?\s*$"


def amount_schema(allow_bytes: bool) -> Dict[str, Any]:
    what = "a count: 34944 exact, 105.4M within half the last digit, 105M ± 1%"
    if allow_bytes:
        what += "; activations, or bytes with a unit (2GiB)"
    return {"description": what, "anyOf": [{"type": "integer", "minimum": 0},
                                           {"type": "string", "pattern": amount_pattern(allow_bytes)}]}


def expect_schema() -> Dict[str, Any]:
    shape = {"description": "output shape: 55x55x96, [55, 55, 96], or 4096",
             "anyOf": [{"type": "string", "pattern": SHAPE_PATTERN}, {"type": "integer", "minimum": 1},
                       {"type": "array", "items": _int(1), "minItems": 1}]}
    by_quantity = {"shape": shape, "params": amount_schema(False), "macs": amount_schema(False),
                   "flops": amount_schema(False), "memory": amount_schema(True),
                   "receptive_field": {**_per_axis(1), "description": "receptive field per axis: 195 or 195x195"},
                   "train": train_schema()}
    properties = {q: by_quantity[q] for q in QUANTITIES}
    properties.update({alias: {"$ref": f"#/definitions/expect/properties/{target}"} for alias, target in ALIASES.items()})
    return {"description": "what the figures should be; checked by `convcalc check`", "type": "object",
            "properties": properties, "additionalProperties": False}


def train_schema() -> Dict[str, Any]:
    """``train: {batch: 64, optimizer: adam, peak: {max: 16GiB}}`` (the network's expect only)."""
    size = {"type": "string", "pattern": amount_pattern(True), "description": "bytes with a unit: 16GiB, 16GB"}
    return {"description": "the peak of one training step, as `convcalc plan` gives it (the network's expect only)",
            "type": "object", "required": ["peak"], "additionalProperties": False,
            "properties": {"batch": _int(1), "optimizer": {"enum": list(OPTIMIZER_NAMES)},
                           "peak": {"anyOf": [size, {"type": "object", "required": ["max"],
                                                     "properties": {"max": size}, "additionalProperties": False}]}}}


def budget_schema() -> Dict[str, Any]:
    properties = {q: amount_schema(q == "memory") for q in BUDGET_QUANTITIES}
    return {"description": "ceilings for the whole network; checked by `convcalc check`", "type": "object",
            "properties": properties, "additionalProperties": False}


def reader_keys() -> Tuple[Tuple[str, ...], Tuple[str, ...], Tuple[str, ...], Tuple[str, ...]]:
    """The YAML reader's own key lists: top level, list items, sequences, block definitions."""
    from . import yaml_reader as parse_yaml

    return (parse_yaml._TOP_KEYS, parse_yaml._ITEM_KEYS, parse_yaml._SEQUENCE_KEYS,  # noqa: SLF001
            parse_yaml._DEFINITION_KEYS)  # noqa: SLF001


SHARE: Dict[str, Any] = {"anyOf": [
    {"type": "string", "description": "the layer holding all of this layer's weights"},
    {"type": "object", "required": ["layer"], "additionalProperties": False,
     "properties": {"layer": {"type": "string"},
                    "params": {"type": "integer", "minimum": 1, "description": "how many of this layer's params"},
                    "biases": {"type": "integer", "minimum": 0, "description": "how many of those are biases"}}}]}
"""``shares:`` one layer's weights, all or some."""


def item_schemas(open_: bool) -> Dict[str, Any]:
    """A list item and a list of them; ``open_`` lets other keys name the spec's own blocks."""
    _, item_keys, sequence_keys, _ = reader_keys()
    suffix = ".open" if open_ else ""
    layers = {"$ref": f"#/definitions/layers{suffix}"}
    properties: Dict[str, Any] = {}
    known = {"name": {"type": ["string", "number"], "description": "the layer's name; unnamed layers are numbered"},
             "repeat": {"anyOf": [_int(1), ARG], "description": "repeat this item N times (named copies get .1, .2)"},
             "expect": {"$ref": "#/definitions/expect"},
             "from": {**TENSORS, "description": "the tensor this item reads (a merge: the tensors), instead of "
                                                "the one before it"},
             "frozen": {"type": "boolean", "description": "nothing in this item is trained: its weights and "
                                                          "biases are counted as buffers"},
             "shares": {"anyOf": [SHARE, {"type": "array", "items": SHARE, "minItems": 1}],
                        "description": "weights this layer reads that an earlier layer holds (a module applied "
                                       "twice, a tied decoder): counted once, at that layer"}}
    for key in item_keys:
        properties[key] = known.get(key, {})
    for k in KINDS:
        for name in (k.name, *k.aliases):
            properties.setdefault(name, {"$ref": f"#/definitions/kind.{k.name}"})
    branch = {"anyOf": [layers, {"type": "string"}]}
    for merge, rule in MERGES.items():
        summary = (rule.__doc__ or merge).strip().splitlines()[0]
        properties[merge] = {"description": f"{summary} — a list of branches: lists of items, layer strings, "
                                            "or [] (identity); or {from: [a, b]}, the named tensors it reads",
                             "anyOf": [{"type": "array", "items": branch, "minItems": 2},
                                       {"type": "object", "required": ["from"], "additionalProperties": False,
                                        "properties": {"from": {"type": "array", "items": SOURCE, "minItems": 2},
                                                       **({"axis": {**_int(0), "description": "along this dim "
                                                                    "(from 0, channels last), not the channels"}}
                                                          if rule is Concat else {})}}]}
    for key in sequence_keys:
        properties[key] = {**layers, "description": "a named group of layers"}
    item: Dict[str, Any] = {"type": "object", "properties": properties, "minProperties": 1}
    if open_:
        item["additionalProperties"] = {"description": "one of the spec's blocks, with its args",
                                        "anyOf": [{"type": "null"}, {"type": "object"}]}
    else:
        item["additionalProperties"] = False
    return {
        f"item{suffix}": {"description": "a layer (kind: options), a merge, a sequence, or a layer string such as "
                                         "relu, maxpool2s2, conv3-64, (conv64k3p1 relu)x2",
                          "if": {"type": "string"}, "then": {"type": "string"}, "else": item},
        f"layers{suffix}": {"type": "array", "items": {"$ref": f"#/definitions/item{suffix}"}},
    }


def build_schema() -> Dict[str, Any]:
    top_keys, _, sequence_keys, definition_keys = reader_keys()
    definitions: Dict[str, Any] = {
        "shape": {"description": "H, W, C: [224, 224, 3], 224x224x3 or {height, width, channels}",
                  "anyOf": [{"type": "array", "items": _int(1), "minItems": 1},
                            {"type": "string", "pattern": SHAPE_PATTERN},
                            {"type": "object", "required": ["height", "width", "channels"],
                             "properties": {"height": _int(1), "width": _int(1), "channels": _int(1)},
                             "additionalProperties": False}]},
        "expect": expect_schema(),
        "budget": budget_schema(),
    }
    for k in KINDS:
        definitions[f"kind.{k.name}"] = kind_schema(k)
        for name, f in k.option_fields().items():
            definitions[f"option.{k.name}.{name}"] = option_schema(f)
    definitions.update(item_schemas(open_=False))
    definitions.update(item_schemas(open_=True))
    reserved = sorted({n for k in KINDS for n in (k.name, *k.aliases)} | set(MERGES) | set(sequence_keys))
    known_definition = {"args": {"type": "object", "description": "the block's arguments and their defaults "
                                                                  "(null: must be given)"},
                        "layers": {"$ref": "#/definitions/layers.open"},
                        "description": {"type": "string"}}
    definitions["blocks"] = {
        "description": "reusable blocks, used in 'layers' by name with their args",
        "type": "object",
        "propertyNames": {"not": {"enum": reserved}},
        "additionalProperties": {"type": "object", "required": ["layers"], "additionalProperties": False,
                                 "properties": {key: known_definition.get(key, {}) for key in definition_keys}},
    }
    known_top = {"name": {"type": ["string", "number"]}, "title": {"type": ["string", "number"]},
                 "reference": {"type": ["string", "number"]}, "description": {"type": ["string", "number"]},
                 "input": {"$ref": "#/definitions/shape"}, "blocks": {"$ref": "#/definitions/blocks"},
                 "layers": {"type": "array"}, "expect": {"$ref": "#/definitions/expect"},
                 "outputs": {**TENSORS, "description": "the tensors the network gives out (default: its last)"},
                 "budget": {"$ref": "#/definitions/budget"}}
    return {
        "$schema": DRAFT,
        "title": "convcalc network spec",
        "description": "A CNN for convcalc: input, layers (and blocks), expectations and budgets. "
                       "`convcalc kinds` lists every layer kind.",
        "type": "object",
        "required": ["input", "layers"],
        "properties": {key: known_top.get(key, {}) for key in top_keys},
        "additionalProperties": False,
        "if": {"required": ["blocks"]},
        "then": {"properties": {"layers": {"$ref": "#/definitions/layers.open"}}},
        "else": {"properties": {"layers": {"$ref": "#/definitions/layers"}}},
        "definitions": definitions,
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
