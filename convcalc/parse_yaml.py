"""YAML -> NetworkSpec, keeping the line and column of every key and value.

We walk PyYAML's composed node graph (``yaml.compose``, safe loader only) instead of loading
plain Python objects, because only the nodes remember where they were written. A spec::

    name: vgg16
    input: [224, 224, 3]          # or {height: 224, width: 224, channels: 3}, or 224x224x3
    layers:
      - conv: {filters: 64, kernel: 3, padding: 1}
        name: conv1_1
      - relu                      # a bare item is a layer string: relu, maxpool2s2, conv3-64
      - fc: 4096                  # a scalar sets the kind's leading option
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import yaml

from .errors import Location, SpecError, did_you_mean
from .limits import MAX_LAYERS, MAX_SPEC_BYTES
from .parse_string import Token, parse_tokens, tokenize
from .spec import LayerSpec, NetworkSpec, RawOption, kind_names, make_layer, parse_shape, shape_from_dims

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOP_KEYS = ("name", "title", "reference", "description", "input", "layers")
_INPUT_KEYS = ("height", "width", "channels")
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def parse_yaml(text: str, file: str = "<yaml>") -> NetworkSpec:
    """Parse a YAML network spec; every error carries ``file:line:column``."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"spec is larger than convcalc's limit of {MAX_SPEC_BYTES:,} bytes", Location(file, 1, 1))
    return _Reader(text, file).network()


class _Reader:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = text.split("\n")
        self.text = text
        self._constructor = yaml.constructor.SafeConstructor()

    def loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        source = self.lines[mark.line] if mark.line < len(self.lines) else ""
        width = node.end_mark.index - mark.index if node.end_mark.line == mark.line else len(source) - mark.column
        return Location(self.file, mark.line + 1, mark.column + 1, source, max(1, width))

    def at_index(self, index: int) -> Location:
        """The location of character ``index`` of the text."""
        line = self.text.count("\n", 0, index)
        column = index - (self.text.rfind("\n", 0, index) + 1)
        return Location(self.file, line + 1, column + 1, self.lines[line] if line < len(self.lines) else "")

    def network(self) -> NetworkSpec:
        try:
            self.text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise SpecError(f"not valid Unicode text (character {e.start})", self.at_index(e.start)) from None
        try:
            root = yaml.compose(self.text, Loader=_Loader)
        except yaml.reader.ReaderError as e:  # a control character: PyYAML gives an index, not a mark
            raise SpecError(f"YAML cannot contain the control character {e.character!r}", self.at_index(e.position),
                            hint="remove it; a spec is plain text") from None
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line if mark else 0
            loc = Location(self.file, line + 1, (mark.column if mark else 0) + 1,
                           self.lines[line] if line < len(self.lines) else "")
            problem = e.problem or e.context or "invalid YAML"
            if e.context and e.context_mark and e.problem:
                problem += f" ({e.context} at line {e.context_mark.line + 1}, column {e.context_mark.column + 1})"
            hint = "indent with spaces; YAML does not allow tabs" if "\t" in loc.source else ""
            raise SpecError(f"YAML syntax: {problem}", loc, hint) from None
        except yaml.YAMLError as e:
            raise SpecError(f"YAML: {e}", Location(self.file, 1, 1)) from None
        if root is None:
            raise SpecError("empty spec; expected a mapping with 'input' and 'layers'", Location(self.file, 1, 1),
                            hint="see `convcalc show vgg16` for an example")
        top = self.mapping(root, "the spec")
        for key, (knode, _) in top.items():
            if key not in _TOP_KEYS:
                raise SpecError(f"unknown key '{key}'{did_you_mean(key, _TOP_KEYS)}", self.loc(knode),
                                hint=f"a spec has: {', '.join(_TOP_KEYS)}")
        for needed in ("input", "layers"):
            if needed not in top:
                raise SpecError(f"the spec has no '{needed}'", self.loc(root),
                                hint="a spec needs 'input: [H, W, C]' and a 'layers:' list")
        texts = {k: self.string(top[k][1], k) for k in ("name", "title", "reference") if k in top}
        return NetworkSpec(
            input=self.input(top["input"][1]),
            layers=tuple(self.layers(top["layers"][1])),
            name=texts.get("name", ""),
            title=texts.get("title", ""),
            reference=texts.get("reference", ""),
            origin=self.file,
        )

    # --- node helpers --------------------------------------------------------------------

    def plain(self, node: yaml.Node) -> yaml.Node:
        """Refuse an explicit tag on a list or mapping (scalars are refused when constructed)."""
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            raise SpecError(f"unsupported tag '{node.tag}'", self.loc(node),
                            hint="convcalc reads plain YAML only: no tags such as !!python/object")
        return node

    def mapping(self, node: yaml.Node, what: str) -> Dict[str, Tuple[yaml.Node, yaml.Node]]:
        self.plain(node)
        if not isinstance(node, yaml.MappingNode):
            raise SpecError(f"{what} should be a mapping (key: value), got {self.kind_of(node)}", self.loc(node))
        out: Dict[str, Tuple[yaml.Node, yaml.Node]] = {}
        for knode, vnode in node.value:
            key = self.value(knode)
            if not isinstance(key, str):
                raise SpecError(f"keys in {what} are names, got {key!r}", self.loc(knode))
            if key in out:
                raise SpecError(f"'{key}' is given twice in {what}", self.loc(knode),
                                hint=f"first given on line {out[key][0].start_mark.line + 1}")
            out[key] = (knode, vnode)
        return out

    def value(self, node: yaml.Node) -> Any:
        """A scalar, or a flat list of scalars, as a Python value."""
        if isinstance(node, yaml.SequenceNode):
            self.plain(node)
            return [self.value(n) if isinstance(n, yaml.ScalarNode) else self._nested(n) for n in node.value]
        if isinstance(node, yaml.MappingNode):
            return self._nested(node)
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e)
            raise SpecError(f"cannot read this value: {problem}", self.loc(node),
                            hint="convcalc reads plain YAML only: no tags such as !!python/object") from None
        except ValueError as e:  # e.g. an integer with more digits than Python will convert
            raise SpecError(f"cannot read this value: {e}", self.loc(node)) from None

    def _nested(self, node: yaml.Node) -> Any:
        raise SpecError(f"expected a number, a word or a list of numbers here, got {self.kind_of(node)}",
                        self.loc(node))

    def string(self, node: yaml.Node, what: str) -> str:
        v = self.value(node)
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise SpecError(f"'{what}' should be text", self.loc(node))
        return str(v)

    @staticmethod
    def kind_of(node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return f"'{node.value}'" if node.value else "nothing"

    # --- the parts of a spec -------------------------------------------------------------

    def input(self, node: yaml.Node) -> Any:
        where = self.loc(node)
        if isinstance(node, yaml.MappingNode):
            fields = self.mapping(node, "the input")
            for key, (knode, _) in fields.items():
                if key not in _INPUT_KEYS:
                    raise SpecError(f"unknown input key '{key}'{did_you_mean(key, _INPUT_KEYS)}", self.loc(knode))
            missing = [k for k in _INPUT_KEYS if k not in fields]
            if missing:
                raise SpecError(f"the input has no '{missing[0]}'", where, hint="input: {height: 224, width: 224, channels: 3}")
            return shape_from_dims([self.value(fields[k][1]) for k in _INPUT_KEYS], where)
        v = self.value(node)
        if isinstance(v, list):
            return shape_from_dims(v, where)
        if isinstance(v, str):
            return parse_shape(v, where)
        raise SpecError(f"expected the input as [H, W, C], got {self.kind_of(node)}", where,
                        hint="input: [224, 224, 3]")

    def layers(self, node: yaml.Node) -> List[LayerSpec]:
        if not isinstance(self.plain(node), yaml.SequenceNode):
            raise SpecError(f"'layers' should be a list (items starting with '- '), got {self.kind_of(node)}",
                            self.loc(node))
        out: List[LayerSpec] = []
        for item in node.value:
            out.extend(self.layer(item))
            if len(out) > MAX_LAYERS:
                raise SpecError(f"the network has more than {MAX_LAYERS:,} layers", self.loc(item))
        return out

    def layer(self, node: yaml.Node) -> List[LayerSpec]:
        where = self.loc(node)
        if isinstance(node, yaml.ScalarNode):
            text = self.value(node)
            if not isinstance(text, str):
                raise SpecError(f"expected a layer, got {text!r}", where, hint="for example: - conv: {filters: 64, kernel: 3}")
            return parse_tokens(self.tokens_of(node, text))
        entries = self.mapping(node, "a layer")
        named = "name" in entries
        name = self.string(entries.pop("name")[1], "name") if named else None
        if not entries:
            raise SpecError(f"this layer has {'a name but ' if named else ''}no kind", where,
                            hint="for example: - conv: {filters: 64, kernel: 3}")
        if len(entries) > 1:
            kinds = list(entries)
            knode = entries[kinds[1]][0]
            raise SpecError(f"one layer per list item: found '{kinds[0]}' and '{kinds[1]}'{did_you_mean(kinds[1], ['name'])}",
                            self.loc(knode), hint="start each layer with its own '- '")
        kind, (knode, vnode) = next(iter(entries.items()))
        return [LayerSpec(make_layer(kind, self.options(kind, vnode), self.loc(knode)), name, self.loc(knode))]

    def tokens_of(self, node: yaml.ScalarNode, text: str) -> List[Token]:
        """The layer-string tokens of a scalar item, located where they stand in the file.

        The scalar's source (without its quotes, or the '|' / '>' header line) tokenizes to the
        same words as its value whenever no escape sequence changed them; otherwise the tokens
        are placed at the scalar's start.
        """
        start, end = node.start_mark.index, node.end_mark.index
        if node.style in ("'", '"'):
            start, end = start + 1, end - 1
        elif node.style in ("|", ">"):
            start = self.text.find("\n", start, end) + 1 or end
        where = self.at_index(start)
        tokens = tokenize(self.text[start:end], self.file, where.line, where.column,
                          sources=self.lines[where.line - 1:])
        if [t.text for t in tokens] == [t.text for t in tokenize(text)]:
            return tokens
        at = self.loc(node)
        return tokenize(text, self.file, at.line, at.column, sources=[at.source])

    def options(self, kind: str, node: yaml.Node) -> List[RawOption]:
        if isinstance(node, yaml.MappingNode):
            return [RawOption(key, self.value(vnode), self.loc(knode), self.loc(vnode))
                    for key, (knode, vnode) in self.mapping(node, f"the options of '{kind}'").items()]
        value = self.value(node)
        if value is None:
            return []
        from .layers import lookup

        k = lookup(kind)
        if k is None:  # let make_layer say "unknown layer"
            return []
        if k.rule.leading is None:
            raise SpecError(f"{k.name} takes no value, got {value!r}", self.loc(node),
                            hint=f"write '- {kind}' alone")
        return [RawOption(k.rule.leading, value, self.loc(node), self.loc(node))]


__all__ = ["parse_yaml", "kind_names"]
