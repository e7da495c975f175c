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

import bisect
import re
from itertools import accumulate
from typing import Any, Dict, List, Optional, Tuple

import yaml

from ..errors import Location, SpecError, did_you_mean
from ..layers import MERGES, Concat, Merge, lookup
from ..layers.options import (
    BLOCK_INPUT,
    OptionError,
    non_negative,
    read_number,
    source_name,
)
from ..limits import MAX_LAYERS, MAX_NESTING, MAX_SPEC_BYTES
from ..values import replace
from .item_keys import frozen_value, repeat_value, shares_of, with_shares
from .layer_string import Token, parse_tokens, parse_word, tokenize
from .model import (
    ITEM_WORDS,
    SEQUENCE_WORDS,
    BlockSpec,
    FromSpec,
    LayerSpec,
    NetworkSpec,
    Node,
    RawOption,
    Shares,
    count_layers,
    make_layer,
    reserved_words,
)
from .raw import RawValue
from .shapes import parse_shape, shape_from_dims

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc]  # the C loader or the Python one, chosen at run time
    """PyYAML's safe loader (its C one where installed), remembering the tag it resolves for each
    scalar text: resolving is the slowest part of composing, and a long spec repeats a few texts."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.tags: Dict[Tuple[Any, Any, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if self.yaml_path_resolvers:  # a pure function of its arguments only without these
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        key = (kind, value, implicit)
        tag = self.tags.get(key)
        if tag is None:
            tag = self.tags[key] = super().resolve(kind, value, implicit)
        return tag
_TOP_KEYS = ("name", "title", "reference", "description", "input", "blocks", "layers", "outputs", "expect",
             "budget")
_ITEM_KEYS = ITEM_WORDS
_SEQUENCE_KEYS = SEQUENCE_WORDS
_DEFINITION_KEYS = ("args", "layers", "description")
_INPUT_KEYS = ("height", "width", "channels")
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
# A bare item that is one layer token and nothing else: no separator, bracket, '|', '$', ':' or '@'.
_BARE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
# YAML 1.1 reads 0x3 as hexadecimal 3, 010 as octal 8, 1_0 as 10 and 1:30 as 90 (base 60); a spec
# means 0 by 3 per axis, ten, or a mistake. So scalars YAML would make numbers are read from their
# own text by options.read_number: decimal digits only, everything else stays text.
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


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
        self._line_starts: Optional[List[int]] = None
        self.depth = 0  # lists of layers being read, one inside another
        self.definitions: Dict[str, Tuple[yaml.Node, Dict[str, Tuple[yaml.Node, yaml.Node]]]] = {}
        self.env: Optional[Dict[str, Any]] = None  # the arguments of the block being expanded
        self.expanding: List[str] = []  # block definitions being expanded, outermost first
        self.sizes: Dict[int, int] = {}  # id(node) -> layers it holds, so repeats are counted, not walked
        self.built: Dict[Tuple[int, Tuple[Tuple[str, Any], ...]], List[Node]] = {}  # YAML aliases expand once
        self.rules: Dict[Tuple[str, Any], Any] = {}  # (kind, options as composed) -> its validated rule
        self.plain_kinds: Dict[str, bool] = {}  # item key -> it names a layer kind (not a block, merge, ...)

    def loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        source = self.lines[mark.line] if mark.line < len(self.lines) else ""
        width = node.end_mark.index - mark.index if node.end_mark.line == mark.line else len(source) - mark.column
        return Location(self.file, mark.line + 1, mark.column + 1, source, max(1, width))

    def at_index(self, index: int) -> Location:
        """The location of character ``index`` of the text (a binary search over line starts)."""
        if self._line_starts is None:  # the last start is one past the text, so no index reaches it
            self._line_starts = list(accumulate((len(line) + 1 for line in self.lines), initial=0))
        line = bisect.bisect_right(self._line_starts, index) - 1
        column = index - self._line_starts[line]
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
            from .yaml_hints import flow_hint, item_hint  # only on the way to an error

            hint = ("indent with spaces; YAML does not allow tabs" if "\t" in loc.source
                    else flow_hint(e.context or "", loc.source) or item_hint(self.lines, line))
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
        if "blocks" in top:
            self.read_definitions(top["blocks"][1])
        return NetworkSpec(
            input=self.input(top["input"][1]),
            layers=tuple(self.layers(top["layers"][1])),
            name=texts.get("name", ""),
            title=texts.get("title", ""),
            reference=texts.get("reference", ""),
            origin=self.file,
            expect=self.expectations(top["expect"][1], "the network") if "expect" in top else (),
            budget=self.budget(top["budget"][1]) if "budget" in top else (),
            outputs=self.refs(top["outputs"][1], "outputs") if "outputs" in top else (),
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
        if node.tag in _NUMBER_TAGS:  # read by convcalc's rules, as the layer string reads numbers
            try:
                return read_number(node.value)
            except OptionError as e:
                raise SpecError(str(e), self.loc(node)) from None
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

    def layers(self, node: yaml.Node) -> List[Node]:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise SpecError(f"blocks nested more than {MAX_NESTING} deep", self.loc(node),
                                hint="convcalc's limit (convcalc/limits.py)")
            return self._layers(node)
        finally:
            self.depth -= 1

    def _layers(self, node: yaml.Node) -> List[Node]:
        if not isinstance(self.plain(node), yaml.SequenceNode):
            raise SpecError(f"'layers' should be a list (items starting with '- '), got {self.kind_of(node)}",
                            self.loc(node))
        out: List[Node] = []
        total = 0
        for item in node.value:
            nodes = self.layer(item)
            out.extend(nodes)
            for n in nodes:
                total += 1 if type(n) is LayerSpec else self.size(n)
            if total > MAX_LAYERS:
                raise SpecError(f"the network has more than {MAX_LAYERS:,} layers", self.loc(item))
        return out

    def layer(self, node: yaml.Node) -> List[Node]:
        """One list item: a layer, a block, or a layer string; repeated if it says so."""
        key = (id(node), tuple(sorted(self.env.items())) if self.env else ())
        if key not in self.built:  # an alias (*anchor) of an item already read costs nothing more
            self.built[key] = self._layer(node)
        return self.built[key]

    def _layer(self, node: yaml.Node) -> List[Node]:
        quick = self.plain_item(node)
        return [quick] if quick is not None else self.item(node)

    def item(self, node: yaml.Node) -> List[Node]:
        """Any list item, read in full."""
        where = self.loc(node)
        if isinstance(node, yaml.ScalarNode):
            text = self.value(node)
            if not isinstance(text, str):
                raise SpecError(f"expected a layer, got {text!r}", where, hint="for example: - conv: {filters: 64, kernel: 3}")
            tokens = self.tokens_of(node, text)
            if "$" in text:  # substitute token by token, so each keeps its place in the source
                tokens = [Token(self.interpolate(t.text, t.loc), t.loc) for t in tokens]
            return parse_tokens(tokens)
        entries = self.mapping(node, "a layer")
        named = "name" in entries
        name = self.string(entries["name"][1], "name") if named else None
        if name == BLOCK_INPUT:
            raise SpecError(f"'{BLOCK_INPUT}' cannot name a layer or block: it reads the block's own input",
                            self.loc(entries["name"][1]), hint="choose another name")
        entries.pop("name", None)
        repeat = self.repeat(entries.pop("repeat")) if "repeat" in entries else None
        expects = self.expectations(entries.pop("expect")[1], "a layer") if "expect" in entries else ()
        sources = self.refs(entries.pop("from")[1], "from") if "from" in entries else ()
        frozen = self.frozen(entries.pop("frozen")[1]) if "frozen" in entries else None
        shares = self.shares(entries.pop("shares")[1]) if "shares" in entries else None
        if not entries and sources and not named and repeat is None and not expects and frozen is None \
                and shares is None:
            if len(sources) > 1:
                raise SpecError("'from' alone reads one tensor; several are read by a merge", sources[1].loc,
                                hint="- concat: {from: [a, b]}")
            return [sources[0]]  # '- from: enc1': what follows reads enc1
        if not entries:
            raise SpecError(f"this layer has {'a name but ' if named else ''}no kind", where,
                            hint="for example: - conv: {filters: 64, kernel: 3}")
        if len(entries) > 1:
            from .yaml_hints import options_beside  # only on the way to an error

            beside = options_beside({k: (self.loc(kn), self.written(vn)) for k, (kn, vn) in entries.items()},
                                    self.definitions)
            if beside is not None:
                raise beside
            kinds = list(entries)
            knode = entries[kinds[1]][0]
            raise SpecError(f"one layer per list item: found '{kinds[0]}' and '{kinds[1]}'"
                            f"{did_you_mean(kinds[1], _ITEM_KEYS)}",
                            self.loc(knode), hint="start each layer with its own '- '")
        kind, (knode, vnode) = next(iter(entries.items()))
        at = self.loc(knode)
        item: Node
        if kind in self.definitions:
            item = self.instance(kind, vnode, name, at)
        elif kind.lower() in MERGES:
            inline, merge = self.merge_sources(vnode, kind)
            if inline and sources:
                raise SpecError(f"'{kind}' reads its inputs from 'from' once, not twice", sources[0].loc)
            if inline or sources:  # '- add: {from: [lat4, up5]}': the branches are named tensors
                reads = inline or sources
                if len(reads) < 2:
                    raise SpecError(f"'{kind}' needs two or more tensors to read", reads[0].loc,
                                    hint=f"- {kind}: {{from: [a, b]}}")
                item = BlockSpec(tuple((r,) for r in reads), merge, name, loc=at)
                sources = ()
            else:
                item = BlockSpec(self.branches(kind, vnode), merge, name, loc=at)
        elif kind.lower() in _SEQUENCE_KEYS:
            item = BlockSpec((tuple(self.layers(vnode)),), None, name, loc=at)
        else:
            if lookup(kind) is None and self.definitions:
                hint = f" — did you mean '{close}'?" if (close := did_you_mean(kind, self.definitions)) else ""
                if hint:
                    raise SpecError(f"unknown layer or block '{kind}'{close}", at)
            item = LayerSpec(self.rule(kind, vnode, at), name, at, expects)
        if frozen:
            item = replace(item, frozen=True)
        if shares is not None:
            item = with_shares(item, shares)
        if expects and not isinstance(item, LayerSpec):
            raise SpecError("'expect' goes on a layer or on the whole network, not on a block", expects[0].loc,
                            hint="put it on the block's last layer, or under the spec's top-level 'expect:'")
        if len(sources) > 1:
            raise SpecError("a layer reads one tensor; several are read by a merge", sources[1].loc,
                            hint="- concat: {from: [a, b]}")
        lead: List[Node] = list(sources)  # 'from: enc4' on a layer: it reads enc4
        if repeat is None:
            return [*lead, item]
        count, rnode = repeat
        if count * self.size(item) > MAX_LAYERS:
            raise SpecError(f"repeat {count:,} would make more than {MAX_LAYERS:,} layers", self.loc(rnode))
        if name is None:
            return [*lead, *[item] * count]
        return [*lead, *[replace(item, name=f"{name}.{i}") for i in range(1, count + 1)]]

    def written(self, node: yaml.Node) -> Any:
        """A value as the file writes it, for a hint: its text, the ``key: value`` texts of a
        mapping, or None when it is empty."""
        if isinstance(node, yaml.MappingNode):
            return [f"{self.source(k)}: {self.source(v)}" for k, v in node.value]
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return None
        return self.source(node)

    def source(self, node: yaml.Node) -> str:
        """A node as the file writes it (quotes and all), on one line."""
        return " ".join(self.text[node.start_mark.index:node.end_mark.index].split())

    def plain_item(self, node: yaml.Node) -> Optional[LayerSpec]:
        """The common items, read the short way: a bare word (``- relu``), or a layer kind alone
        (``- conv: {filters: 8, kernel: 3}``). None for anything else, which ``item`` reads in
        full; the short way gives what ``item`` gives, at the same place."""
        if type(node) is yaml.ScalarNode:
            # a plain word: its source is its value, one token (what tokens_of and parse_tokens make of it)
            text = node.value
            start = node.start_mark.index
            if (node.tag != _STR_TAG or node.style not in ("", None) or _BARE_WORD.fullmatch(text) is None
                    or self.text[start:node.end_mark.index] != text):
                return None
            line = bisect.bisect_right(self.line_starts(), start) - 1
            return parse_word(text, Location(self.file, line + 1, start - self.line_starts()[line] + 1,
                                             self.lines[line], len(text)))
        if type(node) is not yaml.MappingNode or len(node.value) != 1 or node.tag != _MAP_TAG:
            return None
        knode, vnode = node.value[0]
        if type(knode) is not yaml.ScalarNode or knode.tag != _STR_TAG:
            return None
        kind = knode.value
        plain = self.plain_kinds.get(kind)
        if plain is None:  # what item checks before it reads a layer kind
            plain = self.plain_kinds[kind] = (
                kind not in _ITEM_KEYS and kind not in self.definitions and kind.lower() not in MERGES
                and kind.lower() not in _SEQUENCE_KEYS and lookup(kind) is not None)
        if not plain:
            return None
        at = self.loc(knode)
        return LayerSpec(self.rule(kind, vnode, at), None, at)

    def rule(self, kind: str, node: yaml.Node, at: Location) -> Any:
        """``make_layer`` for ``kind`` with the options in ``node``, once per distinct options.

        The rule is a value; only a layer's location differs between identical items, and that
        is the LayerSpec's. Options with a ``$`` depend on the block being expanded, and nested
        collections are rare: those are read every time. Errors are never remembered (the
        first one ends the reading)."""
        key = _options_key(node)
        if key is None:
            return make_layer(kind, self.options(kind, node), at)
        found = self.rules.get((kind, key))
        if found is None:
            found = self.rules[(kind, key)] = make_layer(kind, self.options(kind, node), at)
        return found

    def line_starts(self) -> List[int]:
        if self._line_starts is None:
            self.at_index(0)
        assert self._line_starts is not None
        return self._line_starts

    def frozen(self, node: yaml.Node) -> bool:
        return frozen_value(self.substitute(self.value(node), self.loc(node)), self.loc(node))

    def shares(self, node: yaml.Node) -> Tuple[Shares, ...]:
        """``shares: enc1``, ``{layer: enc1, params: 64}`` or a list of them (item_keys.py)."""
        items = node.value if isinstance(self.plain(node), yaml.SequenceNode) and node.value else [node]
        return shares_of([(self.raw_values(one, "'shares'") if isinstance(one, yaml.MappingNode)
                           else self.substitute(self.value(one), self.loc(one)), self.loc(one)) for one in items])

    def refs(self, node: yaml.Node, what: str) -> Tuple[FromSpec, ...]:
        """``enc1`` or ``[p2, p3, p4]``: names of tensors, each located."""
        items = node.value if isinstance(self.plain(node), yaml.SequenceNode) else [node]
        if not items:
            raise SpecError(f"'{what}' names no tensor", self.loc(node), hint=f"{what}: [p2, p3]")
        out = []
        for item in items:
            # the scalar's own text: a name such as 0 or 010 is a name, not a number
            text = item.value if isinstance(item, yaml.ScalarNode) and item.tag.endswith((":str", ":int")) else None
            if isinstance(text, str) and "$" in text:
                text = str(self.substitute(text, self.loc(item)))
            try:
                out.append(FromSpec(source_name(text), self.loc(item)))
            except OptionError as e:
                raise SpecError(f"'{what}': {e}", self.loc(item)) from None
        return tuple(out)

    def merge_sources(self, node: yaml.Node, kind: str) -> Tuple[Tuple[FromSpec, ...], Merge]:
        """The ``{from: [a, b]}`` form of a merge's value (() for the list-of-branches form), and
        the merge: a concat may say ``axis: k`` to join along dim k instead of the channels."""
        rule = MERGES[kind.lower()]
        if not isinstance(node, yaml.MappingNode):
            return (), rule()
        entries = self.mapping(node, "a merge")
        for key, (knode, _) in entries.items():
            if key != "from" and not (key == "axis" and rule is Concat):
                raise SpecError(f"a merge takes its branches as a list, or the tensors it reads as "
                                f"{{from: [a, b]}}{' and an axis' if rule is Concat else ''}; got '{key}'",
                                self.loc(knode))
        merge = rule()
        if "axis" in entries:
            vnode = entries["axis"][1]
            try:
                merge = Concat(axis=non_negative(self.substitute(self.value(vnode), self.loc(vnode))))
            except OptionError as e:
                raise SpecError(f"axis: {e}", self.loc(vnode)) from None
        return (self.refs(entries["from"][1], "from") if "from" in entries else ()), merge

    def expectations(self, node: yaml.Node, what: str) -> Tuple[Any, ...]:
        """``expect: {shape: 55x55x96, params: 34944, macs: 105.4M}``, read by expectations.py."""
        from .expectations import parse_expect

        return parse_expect(self.raw_values(node, f"the 'expect' of {what}", nested=True), what)

    def budget(self, node: yaml.Node) -> Tuple[Any, ...]:
        """``budget: {params: 25M, macs: 4G, memory: 2GiB}``, read by expectations.py."""
        from .expectations import parse_budget

        return parse_budget(self.raw_values(node, "the 'budget'"))

    def raw_values(self, node: yaml.Node, what: str, nested: bool = False) -> List[Any]:
        """A mapping of plain values, each with its source text (``105.4M`` as written) and place;
        ``nested``: a mapping inside (``train: {peak: {max: 16GiB}}``) as a list of them, each placed."""

        def read(key: str, vnode: yaml.Node) -> Any:
            if nested and isinstance(self.plain(vnode), yaml.MappingNode):
                return self.raw_values(vnode, f"'{key}'", nested=True)
            return self.value(vnode)

        return [RawValue(key, read(key, vnode), vnode.value if isinstance(vnode, yaml.ScalarNode) else None,
                         self.loc(knode), self.loc(vnode))
                for key, (knode, vnode) in self.mapping(node, what).items()]

    def size(self, node: Node) -> int:
        """Layers and merges in ``node``, remembered per block so repeated blocks cost nothing."""
        return count_layers((node,), self.sizes)

    def repeat(self, entry: Tuple[yaml.Node, yaml.Node]) -> Tuple[int, yaml.Node]:
        knode, vnode = entry
        return repeat_value(self.substitute(self.value(vnode), self.loc(vnode)), self.loc(vnode)), vnode

    def branches(self, kind: str, node: yaml.Node) -> Tuple[Tuple[Node, ...], ...]:
        """The branches of a merge: each a list of items, a layer string, one item, or [] (identity)."""
        if not isinstance(self.plain(node), yaml.SequenceNode) or len(node.value) < 2:
            raise SpecError(f"'{kind}' needs a list of two or more branches", self.loc(node),
                            hint=f"{kind}: [[conv64k3p1, bn], []]  — an empty branch is the identity")
        out = []
        for branch in node.value:
            if isinstance(branch, yaml.SequenceNode):
                out.append(tuple(self.layers(branch)))
            elif isinstance(branch, yaml.ScalarNode) and self.value(branch) is None:
                out.append(())
            else:
                out.append(tuple(self.layer(branch)))
        return tuple(out)

    # --- reusable blocks ---------------------------------------------------------------------

    def read_definitions(self, node: yaml.Node) -> None:
        for name, (knode, vnode) in self.mapping(node, "'blocks'").items():
            if lookup(name) is not None:
                raise SpecError(f"a block cannot be called '{name}': that is a layer kind", self.loc(knode),
                                hint="`convcalc kinds` lists the layer kinds and the reserved words")
            if name.lower() in reserved_words():
                raise SpecError(f"a block cannot be called '{name}': that is a reserved word, which YAML items use for "
                                f"merges and chains ({', '.join(reserved_words())})", self.loc(knode),
                                hint="`convcalc kinds` lists the layer kinds and the reserved words")
            body = self.mapping(vnode, f"block '{name}'")
            for key, (bknode, _) in body.items():
                if key not in _DEFINITION_KEYS:
                    raise SpecError(f"unknown key '{key}' in block '{name}'{did_you_mean(key, _DEFINITION_KEYS)}",
                                    self.loc(bknode), hint="a block has 'args' (optional) and 'layers'")
            if "layers" not in body:
                raise SpecError(f"block '{name}' has no 'layers'", self.loc(knode))
            self.definitions[name] = (knode, body)

    def instance(self, kind: str, node: yaml.Node, name: Optional[str], at: Location) -> BlockSpec:
        """Expand block ``kind`` with the arguments given in ``node``."""
        knode, body = self.definitions[kind]
        if kind in self.expanding:
            raise SpecError(f"block '{kind}' contains itself ({' → '.join([*self.expanding, kind])})", at)
        if len(self.expanding) >= MAX_NESTING:
            raise SpecError(f"blocks nested more than {MAX_NESTING} deep", at)
        params = self.mapping(body["args"][1], f"the args of '{kind}'") if "args" in body else {}
        defaults = {arg: self.argument(kind, arg, v) for arg, (_, v) in params.items()}
        given = self.mapping(node, f"the args of '{kind}'") if isinstance(node, yaml.MappingNode) else {}
        if not isinstance(node, yaml.MappingNode) and self.value(node) is not None:
            raise SpecError(f"block '{kind}' takes its args as a mapping, e.g. {{{', '.join(params) or 'width'}: 64}}",
                            self.loc(node))
        env = dict(defaults)
        for arg, (aknode, avnode) in given.items():
            if arg not in params:
                raise SpecError(f"block '{kind}' has no arg '{arg}'{did_you_mean(arg, params)}", self.loc(aknode),
                                hint=f"its args: {', '.join(params) or 'none'}")
            env[arg] = self.argument(kind, arg, avnode)
        missing = [arg for arg, value in env.items() if value is None]
        if missing:
            raise SpecError(f"block '{kind}' needs the arg '{missing[0]}'", at)
        saved, self.env = self.env, env
        self.expanding.append(kind)
        try:
            layers = self.layers(body["layers"][1])
        finally:
            self.env = saved
            self.expanding.pop()
        only = layers[0] if len(layers) == 1 else None
        if isinstance(only, BlockSpec) and only.merge is not None and only.name is None:
            # a block that is one merge (an inception module) is that merge, not a level above it
            return BlockSpec(only.branches, only.merge, name, kind=kind, loc=only.loc)
        return BlockSpec((tuple(layers),), None, name, kind=kind, loc=at)

    def argument(self, kind: str, arg: str, node: yaml.Node) -> Any:
        """One arg of a block instance (or its default): a number or a word, as ``$arg`` stands for one."""
        value = self.substitute(self.value(node), self.loc(node))
        if isinstance(value, list):
            raise SpecError(f"arg '{arg}' of block '{kind}' is a list; an arg is one number or word", self.loc(node),
                            hint=f"for example: - {kind}: {{{arg}: 3}}")
        return value

    def substitute(self, value: Any, loc: Location) -> Any:
        """``$width`` or an expression such as ``$width*4`` becomes a number, inside a block."""
        if isinstance(value, list):
            return [self.substitute(v, loc) for v in value]
        if not isinstance(value, str) or "$" not in value:
            return value
        from .arithmetic import (
            evaluate,  # only a block with arguments needs ast and fractions
        )

        return evaluate(value, self.arguments(loc), loc)

    def interpolate(self, text: str, loc: Location) -> str:
        """``conv${width}k3`` in a layer string inside a block: each ``${...}`` or ``$name`` replaced."""
        from .arithmetic import interpolate

        return interpolate(text, self.arguments(loc), loc)

    def arguments(self, loc: Location) -> Dict[str, Any]:
        if self.env is None:
            raise SpecError("'$' arguments work only inside a block under 'blocks:'", loc,
                            hint="define the block with args: {width: 64} and use $width in its layers")
        return self.env

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
        last_line = node.end_mark.line + 1
        tokens = tokenize(self.text[start:end], self.file, where.line, where.column,
                          sources=self.lines[where.line - 1:last_line])
        if [t.text for t in tokens] == [t.text for t in tokenize(text)]:
            return tokens
        at = self.loc(node)
        return tokenize(text, self.file, at.line, at.column, sources=[at.source])

    def options(self, kind: str, node: yaml.Node) -> List[RawOption]:
        if isinstance(node, yaml.MappingNode):
            return [RawOption(key, self.substitute(self.value(vnode), self.loc(vnode)), self.loc(knode), self.loc(vnode))
                    for key, (knode, vnode) in self.mapping(node, f"the options of '{kind}'").items()]
        value = self.substitute(self.value(node), self.loc(node))
        if value is None:
            return []
        k = lookup(kind)
        if k is None:  # let make_layer say "unknown layer"
            return []
        if k.rule.leading is None:
            raise SpecError(f"{k.name} takes no value, got {value!r}", self.loc(node),
                            hint=f"write '- {kind}' alone")
        return [RawOption(k.rule.leading, value, self.loc(node), self.loc(node))]


def _scalar_key(node: yaml.Node) -> Optional[Tuple[str, str]]:
    """What reading a scalar depends on (its tag and text), or None for a collection or a ``$``."""
    if type(node) is not yaml.ScalarNode or "$" in node.value:
        return None
    return node.tag, node.value


def _options_key(node: yaml.Node) -> Optional[Tuple[Any, ...]]:
    """Everything ``options`` reads from ``node`` -- tags and texts of a scalar, of a flat list,
    or of a mapping of those -- or None when it reads more (a ``$``, a nested collection)."""
    if type(node) is yaml.ScalarNode:
        return _scalar_key(node)
    if type(node) is yaml.SequenceNode:
        items = tuple(_scalar_key(n) for n in node.value)
        return None if None in items else ("[", node.tag, items)
    if type(node) is not yaml.MappingNode:
        return None
    pairs = []
    for knode, vnode in node.value:
        key = _scalar_key(knode)
        value = _scalar_key(vnode) if type(vnode) is yaml.ScalarNode else _options_key(vnode)
        if key is None or value is None or type(vnode) is yaml.MappingNode:
            return None
        pairs.append((key, value))
    return ("{", node.tag, tuple(pairs))


__all__ = ["parse_yaml"]
