"""NetworkSpec -> YAML text that parse_yaml reads back to the same network (``convcalc import``).

Each layer is written with the options that differ from its kind's defaults (the rest say
nothing the reader would not assume), its name, and ``from:`` where it reads a tensor other than
the one before it; a merge of named tensors is ``- add: {from: [a, b]}``; a block of branches
is written as branches; the same unnamed item several times in a row (as parse_yaml reads
``repeat: N``, and as recover.py folds repeated blocks) is one item with ``repeat: N``. A node's
``note`` is a comment beside it; a frozen layer or block carries ``frozen: true``. The promise, tested: ``parse_yaml(to_yaml(spec))`` analyses
exactly as ``spec`` does.
"""

from __future__ import annotations

import json
import re
from typing import Any, List, Optional, Sequence

from ..errors import shown
from ..layers import KINDS, Layer, Merge
from ..layers.options import is_option
from ..values import fields
from .model import BlockSpec, FromSpec, LayerSpec, NetworkSpec, Node

# A word YAML reads back as the same string: no quoting needed. Anything else (a name such as
# '0', 'true', 'null', '1e5', or one with ':' or '#') is written as a JSON string, which is YAML.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}
# What JSON leaves as it is but a YAML file cannot hold (PyYAML refuses the C1 controls, lone
# surrogates, U+FFFE/U+FFFF) or would read as a line break inside the quotes (NEL, U+2028/9):
# written as \uXXXX, which a YAML double-quoted string reads back as the same character.
_NOT_YAML = re.compile("[\x7f-\x9f\ud800-\udfff\ufffe\uffff\u2028\u2029]")
_MERGE_WORD = {"add": "add", "mul": "mul", "concat": "concat", "seqcat": "seqcat", "matmul": "matmul"}


def scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    text = str(v)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return _NOT_YAML.sub(lambda m: f"\\u{ord(m.group(0)):04x}", json.dumps(text, ensure_ascii=False))


def flow(v: Any) -> str:
    """A value in YAML flow style: ``3``, ``[3, 5]``, ``same``."""
    if isinstance(v, (tuple, list)):
        return scalar(v[0]) if len(v) == 1 else "[" + ", ".join(scalar(x) for x in v) + "]"
    return scalar(v)


def kind_and_options(layer: Layer) -> tuple[str, List[tuple[str, Any]]]:
    """The kind name that makes ``layer`` and its options that differ from that kind's defaults."""
    state = {f.name: getattr(layer, f.name) for f in fields(layer)}
    kind = next(k for k in KINDS if k.rule is type(layer) and all(state.get(n) == v for n, v in k.fixed))
    options = [(f.name, state[f.name]) for f in kind.option_fields().values()
               if is_option(f) and state[f.name] != f.default]
    return kind.name, options


def comment(note: str) -> str:
    """A note as a YAML comment, which can hold no control character: they are shown as \\xNN."""
    return f"  # {shown(' '.join(note.split()))}" if note else ""


def item_lines(node: Node, indent: str, source: Optional[FromSpec] = None, repeat: int = 1) -> List[str]:
    """The list item for ``node`` (with ``from:`` when ``source`` says what it reads, and
    ``repeat:`` when it stands for ``repeat`` copies)."""
    lead = f"{indent}- "
    more = indent + "  "
    if isinstance(node, FromSpec):
        return [f"{lead}from: {scalar(node.ref)}"]
    if isinstance(node, LayerSpec):
        kind, options = kind_and_options(node.layer)
        if not options:
            bare = node.name is None and source is None and repeat == 1 and not node.frozen and not node.shares
            first = f"{lead}{kind}" if bare else f"{lead}{kind}: {{}}"
        else:
            first = f"{lead}{kind}: {{" + ", ".join(f"{k}: {flow(v)}" for k, v in options) + "}"
        lines = [first]
    else:
        lines = block_lines(node, lead, more)
    lines[0] += comment(node.note)
    if node.name is not None:
        lines.append(f"{more}name: {scalar(node.name)}")
    if source is not None:
        lines.append(f"{more}from: {scalar(source.ref)}")
    if repeat > 1:
        lines.append(f"{more}repeat: {repeat}")
    if node.frozen:
        lines.append(f"{more}frozen: true")
    if isinstance(node, LayerSpec) and node.shares:
        said = [scalar(s.layer) if s.params is None else
                f"{{layer: {scalar(s.layer)}, params: {s.params}, biases: {s.biases}}}" for s in node.shares]
        lines.append(f"{more}shares: {said[0] if len(said) == 1 else '[' + ', '.join(said) + ']'}")
    return lines


def block_lines(block: BlockSpec, lead: str, more: str) -> List[str]:
    if block.merge is None:
        return [f"{lead}seq:", *chain_lines(block.branches[0], more + "  ")]
    word = _MERGE_WORD[block.merge.kind] if isinstance(block.merge, Merge) else block.merge.kind
    axis = getattr(block.merge, "axis", None)
    if all(len(b) == 1 and isinstance(b[0], FromSpec) for b in block.branches):
        refs = ", ".join(scalar(b[0].ref) for b in block.branches if isinstance(b[0], FromSpec))
        return [f"{lead}{word}: {{from: [{refs}]" + ("" if axis is None else f", axis: {axis}") + "}"]
    if axis is not None:  # the axis is said beside named inputs only: the branches end in named tensors
        raise ValueError("a concat along an axis is written with {from: [...]}")
    lines = [f"{lead}{word}:"]
    for branch in block.branches:
        if not branch:
            lines.append(f"{more}  - []")
        else:
            lines.append(f"{more}  -")
            lines += chain_lines(branch, more + "    ")
    return lines


def copies(nodes: Sequence[Node], i: int) -> int:
    """How many times ``nodes[i]`` stands in a row: one object, unnamed (parse_yaml gives named
    copies names of their own, so those are never one object)."""
    n = 1
    node = nodes[i]
    if isinstance(node, FromSpec) or node.name is not None:
        return 1
    while i + n < len(nodes) and nodes[i + n] is node:
        n += 1
    return n


def chain_lines(nodes: Sequence[Node], indent: str) -> List[str]:
    """A list of items; a ``from`` followed by a layer is written as that layer's ``from:``."""
    lines: List[str] = []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if isinstance(node, FromSpec) and i + 1 < len(nodes) and not isinstance(nodes[i + 1], FromSpec):
            n = copies(nodes, i + 1)
            lines += item_lines(nodes[i + 1], indent, source=node, repeat=n)
            i += 1 + n
            continue
        n = copies(nodes, i)
        lines += item_lines(node, indent, repeat=n)
        i += n
    return lines


def to_yaml(spec: NetworkSpec, header: Sequence[str] = ()) -> str:
    """The spec as YAML text, with ``header`` lines as a comment on top."""
    lines = [f"# {shown(h)}" if h else "#" for h in header]
    if spec.name:
        lines.append(f"name: {scalar(spec.name)}")
    if spec.title:
        lines.append(f"title: {scalar(spec.title)}")
    if spec.reference:
        lines.append(f"reference: {scalar(spec.reference)}")
    lines.append("input: [" + ", ".join(str(d) for d in (*spec.input.spatial, spec.input.channels)) + "]")
    lines.append("layers:")
    lines += chain_lines(spec.layers, "  ")
    if spec.outputs:
        lines.append("outputs: [" + ", ".join(scalar(o.ref) for o in spec.outputs) + "]")
    return "\n".join(lines) + "\n"
