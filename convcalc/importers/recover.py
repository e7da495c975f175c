"""Blocks recovered from a flat graph: the rewrite ``convcalc import`` makes before writing YAML.

The readers (ONNX, Caffe, Keras) give a chain in which a layer that reads anything but the tensor
before it is preceded by a ``from``, and every merge reads named tensors. Written as it is, a
ResNet-50 is 170 items and 16 ``add: {from: [a, b]}``. Two rewrites make it read like the bundled
specs; neither changes a figure the engine computes (tested on every bundled spec and on the
imported models: the same JSON report but for names and block paths):

1. ``nest`` (series-parallel reduction, innermost first): a merge whose inputs all start from one
   fork tensor, whose interior is the contiguous run of layers between the fork and the merge, in
   the merge's input order, and whose interior tensors nothing else reads, becomes a block whose
   branches are those paths (a path with no layer is the identity, an empty branch). Nothing else
   moves: a layer keeps its place in the execution order, so every tensor keeps its number. What
   is not series-parallel (an FPN's lateral reads, a concat of every earlier tensor) stays as
   ``from:`` and merges of named tensors.
2. ``fold``: consecutive items identical but for their names, holding a merge, become one item
   with ``repeat: N``. Copies of a repeat cannot carry the file's names (parse_yaml names them
   ``name.1`` ... or numbers them), so the names go into comments (``LayerSpec.note``): beside
   each item, its name in the first copy; on the repeated item, the copies' names. An item whose
   name something reads is never folded.

Names are otherwise kept, read or not: "names from the file" (#14) is what lets a user find a
row of the table in Netron or in the framework's code.

Both run in time linear in the layers (plus a log factor for one range-maximum search per merge);
``benchmarks/bench_recover.py`` measures it.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from ..analysis.engine import default_names
from ..spec.model import BlockSpec, FromSpec, LayerSpec, NetworkSpec, Node, count_layers
from ..values import replace

INF = 1 << 62  # a tensor read after everything: the chain's output, or a name read from elsewhere
EXT = -1  # a tensor from outside the chain (an enclosing block's name, or not resolvable here)
PERIOD = 8  # longest run of items folded as one repeated unit (a bottleneck + its ReLU is 2)
_NUMBERED = re.compile(r"^(.*?)_?[0-9]+$")


def recover(spec: NetworkSpec) -> NetworkSpec:
    """``spec`` with blocks recovered where branches meet and repeated blocks folded."""
    names = _Names(spec)
    layers = _Nest(names, 8 * count_layers(spec.layers) + 64).chain(spec.layers, top=True)
    nested = replace(spec, layers=tuple(layers))
    return replace(nested, layers=tuple(_Fold(_Names(nested)).chain(nested.layers, top=True)))


# --- what the spec reads by name ---------------------------------------------------------------


def refs_in(nodes: Iterable[Node]) -> Iterator[str]:
    """Every name the nodes read: ``from``, a merge's tensors, ``like``."""
    for node in nodes:
        if isinstance(node, FromSpec):
            yield node.ref
        elif isinstance(node, LayerSpec):
            like = getattr(node.layer, "like", None)
            if isinstance(like, str):
                yield like
        else:
            for branch in node.branches:
                yield from refs_in(branch)


def parts(ref: str) -> Set[str]:
    """The names a reference could be about: itself and each dotted part (``layer3.5.relu``)."""
    return {ref, *ref.split(".")}


def family(node: Node) -> str:
    """The stem of an unnamed node's default name, as engine.default_names numbers it."""
    if isinstance(node, LayerSpec):
        return node.layer.family_name()
    if isinstance(node, BlockSpec):
        return node.kind or (node.merge.family if node.merge else "block")
    return ""


class _Names:
    """The names the whole spec reads, counted by part; and the stems of numbered ones (``relu3``).

    A name read from anywhere a rewrite does not see as an edge is pinned where it is. A chain
    whose unnamed items have a stem some reference uses is left alone: moving or folding items
    renumbers default names, and a reference to ``relu3`` could then find another tensor.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        self.count: Counter[str] = Counter()
        count = self.count
        for ref in [*refs_in(spec.layers), *(o.ref for o in spec.outputs)]:
            for part in parts(ref) if "." in ref else (ref,):
                count[part] += 1
        self.stems = {m.group(1) for part in self.count if (m := _NUMBERED.match(part))}
        self.stems.add("b")  # the engine calls branches b1, b2 ...

    def fragile(self, nodes: Sequence[Node]) -> bool:
        return any(family(n) in self.stems for n in nodes if not isinstance(n, FromSpec) and n.name is None)


# --- 1. nest: series-parallel reduction ---------------------------------------------------------


class _Entry:
    """A run of the chain's items, positions ``start``..``end`` (its output is tensor ``end``): one
    item read as it was (with the ``from`` before it), or a block recovered around several."""

    __slots__ = ("start", "end", "lead", "node", "reads")

    def __init__(self, start: int, end: int, lead: Optional[FromSpec], node: Node, reads: Tuple[int, ...]) -> None:
        self.start, self.end, self.lead, self.node, self.reads = start, end, lead, node, reads

    def nodes(self, keep_lead: bool = True) -> List[Node]:
        return [self.lead, self.node] if self.lead is not None and keep_lead else [self.node]


def named_merge(node: Node) -> bool:
    """A merge of named tensors: ``- add: {from: [a, b]}``, as the readers write every merge."""
    return (isinstance(node, BlockSpec) and node.merge is not None and len(node.branches) >= 2
            and all(len(b) == 1 and isinstance(b[0], FromSpec) for b in node.branches))


class _Nest:
    def __init__(self, names: _Names, limit: int) -> None:
        self.names = names
        self.done: Dict[int, Node] = {}
        # Entries looked at by merges that did not become blocks. A merge that becomes a block
        # consumes what it looks at, so only failures could cost more than linear time; past the
        # limit (8 per layer) the remaining merges stay merges of named tensors.
        self.budget = limit

    def inside(self, node: Node) -> Node:
        """A block as written, with its own chains nested (once per block: a repeat is one object)."""
        if not isinstance(node, BlockSpec):
            return node
        if not named_merge(node) and id(node) not in self.done:
            self.done[id(node)] = replace(node, branches=tuple(tuple(self.chain(b, top=False)) for b in node.branches))
        return self.done.get(id(node), node)

    def chain(self, nodes: Sequence[Node], top: bool) -> List[Node]:
        """Tensors are numbered as in this chain: 0 its input, k the output of its k-th item."""
        nodes = [self.inside(n) for n in nodes]
        units: List[Tuple[Optional[FromSpec], Node]] = []
        i = 0
        while i < len(nodes):
            n = nodes[i]
            if isinstance(n, FromSpec):
                if i + 1 == len(nodes) or isinstance(nodes[i + 1], FromSpec):
                    return nodes  # a 'from' no layer follows passes a tensor on: left as written
                units.append((n, nodes[i + 1]))
                i += 2
                continue
            units.append((None, n))
            i += 1
        merges = [named_merge(n) for _, n in units]
        if not any(merges) or self.names.fragile([n for _, n in units]):
            return nodes
        own = default_names([n for _, n in units])
        at: Dict[str, int] = {}  # name -> the latest item of that name, as the engine's names map
        seen: Counter[str] = Counter()  # references resolved here: edges, not pins
        reads: List[Tuple[int, ...]] = [()]

        def resolve(ref: str) -> int:
            t = at.get(ref)
            if t is None:
                return 0 if top and ref == "input" else EXT
            for part in parts(ref) if "." in ref else (ref,):
                seen[part] += 1
            return t

        for k, (lead, node) in enumerate(units, start=1):
            if merges[k - 1]:
                r = tuple(resolve(b[0].ref) for b in node.branches)  # type: ignore[union-attr]
                r += (EXT,) if lead is not None else ()  # a 'from' before a merge: odd, left alone
            else:
                r = (resolve(lead.ref) if lead is not None else k - 1,)
                like = getattr(node.layer, "like", None) if isinstance(node, LayerSpec) else None
                r += (resolve(like),) if isinstance(like, str) else ()
            reads.append(r)
            at[own[k - 1]] = k
        m = len(units)
        reach = [-1] * (m + 1)  # the last item that reads each tensor
        for k in range(1, m + 1):
            for t in reads[k]:
                if t >= 0:
                    reach[t] = max(reach[t], k)
        for k, name in enumerate(own, start=1):
            if self.names.count[name] > seen[name]:
                reach[k] = INF  # read by name from elsewhere (an output, inside another block)
        reach[m] = INF

        out: List[_Entry] = []
        uncovered: List[int] = []  # positions no read crosses yet: the candidate forks, increasing
        peaks: List[int] = []  # positions whose reach exceeds every later one's: range maxima
        for k in range(1, m + 1):
            p = k - 1
            uncovered.append(p)
            while peaks and reach[peaks[-1]] <= reach[p]:
                peaks.pop()
            peaks.append(p)
            lowest = min(reads[k])
            while uncovered and uncovered[-1] > lowest:  # item k reads across them: none is a fork
                uncovered.pop()
            lead, node = units[k - 1]
            entry = None
            if merges[k - 1] and uncovered:
                fork = uncovered[-1]
                j = bisect.bisect_right(peaks, fork)
                if (j == len(peaks) or reach[peaks[j]] <= k) and self.budget > 0:
                    entry = self.block(out, fork, k, node, reads[k])  # type: ignore[arg-type]
            out.append(entry or _Entry(k, k, lead, node, reads[k]))
        return [n for e in out for n in e.nodes()]

    def block(self, out: List[_Entry], fork: int, k: int, merge: BlockSpec, reads: Tuple[int, ...]) -> Optional[_Entry]:
        """The merge at ``k`` as a block over the entries after ``fork``, or None where they are not
        its branches, one after another, in the order the merge reads them (or it is a concat
        along an axis, which YAML says only beside named inputs: ``{from: [a, b], axis: 0}``)."""
        if getattr(merge.merge, "axis", None) is not None:
            return None
        i = len(out)
        while i > 0 and out[i - 1].start > fork:
            i -= 1
        tail = out[i:]
        branches: List[List[Node]] = []
        it = 0
        for t in reads:
            if t == fork:
                branches.append([])  # the identity: the branch passes the block's input on
                continue
            if it == len(tail) or any(r != fork for r in tail[it].reads):
                self.budget -= len(tail)
                return None
            start = tail[it].start
            branch = tail[it].nodes(keep_lead=False)  # it reads the block's input, as a branch does
            it += 1
            while tail[it - 1].end != t:
                if it == len(tail) or any(r < start for r in tail[it].reads):
                    self.budget -= len(tail)
                    return None
                branch += tail[it].nodes()
                it += 1
            branches.append(branch)
        if it != len(tail):  # a layer no branch leads through to the merge
            self.budget -= len(tail)
            return None
        del out[i:]
        # not merge.frozen: a merge trains nothing, but a block's flag would freeze its branches
        block = BlockSpec(tuple(tuple(b) for b in branches), merge.merge, merge.name, merge.kind, merge.loc)
        return _Entry(fork + 1, k, None, block, (fork,))


# --- 2. fold: repeated blocks -------------------------------------------------------------------


class _Fold:
    def __init__(self, names: _Names) -> None:
        self.names = names
        self.keys: Dict[object, int] = {}
        self.key_of: Dict[int, int] = {}
        self.ok: Dict[int, bool] = {}
        self.merges: Dict[int, bool] = {}
        self.done: Dict[int, Node] = {}
        self.stripped: Dict[int, Node] = {}

    def key(self, node: Node) -> int:
        """Equal for nodes identical but for names (and where they were written); a frozen copy of
        a layer is another layer (its weights are buffers)."""
        if id(node) not in self.key_of:
            if isinstance(node, FromSpec):
                raw: object = ("from", node.ref)
            elif isinstance(node, LayerSpec):
                raw = ("layer", node.layer, node.frozen, id(node) if node.expect else 0)
            else:
                raw = ("block", node.merge, node.kind, node.frozen,
                       tuple(tuple(self.key(n) for n in b) for b in node.branches))
            self.key_of[id(node)] = self.keys.setdefault(raw, len(self.keys))
        return self.key_of[id(node)]

    def foldable(self, node: Node) -> bool:
        """Nothing in it reads or is read by name, nor carries an expectation, nor is numbered
        by a stem some reference uses."""
        if id(node) not in self.ok:
            if isinstance(node, FromSpec):
                ok = False
            elif node.name is not None and self.names.count[node.name]:
                ok = False
            elif node.name is None and family(node) in self.names.stems:
                ok = False
            elif isinstance(node, LayerSpec):
                ok = not node.expect and not isinstance(getattr(node.layer, "like", None), str)
            else:
                ok = all(self.foldable(n) for b in node.branches for n in b)
            self.ok[id(node)] = ok
        return self.ok[id(node)]

    def has_merge(self, node: Node) -> bool:
        """A block with branches, or holding one: what makes a run worth folding. (A merge of
        named tensors reads names, so it never folds.)"""
        if id(node) not in self.merges:
            self.merges[id(node)] = isinstance(node, BlockSpec) and not named_merge(node) and (
                node.merge is not None or any(self.has_merge(n) for b in node.branches for n in b))
        return self.merges[id(node)]

    def inside(self, node: Node) -> Node:
        if isinstance(node, BlockSpec) and not named_merge(node) and id(node) not in self.done:
            self.done[id(node)] = replace(node, branches=tuple(tuple(self.chain(b, top=False)) for b in node.branches))
        return self.done.get(id(node), node)

    def chain(self, nodes: Sequence[Node], top: bool) -> List[Node]:
        nodes = [self.inside(n) if isinstance(n, BlockSpec) else n for n in nodes]
        if sum(self.has_merge(n) for n in nodes) < 2:
            return nodes  # no two blocks: nothing to fold (most branches)
        if self.names.fragile(nodes) or "block" in self.names.stems:
            return nodes
        keys = [self.key(n) for n in nodes]
        free = [self.foldable(n) and not (i and isinstance(nodes[i - 1], FromSpec)) for i, n in enumerate(nodes)]
        if top and free:
            free[-1] = False  # the network's output keeps its name: reports show it
        merge_at = [len(nodes)] * (len(nodes) + 1)  # the first item holding a block at or after i
        for i in range(len(nodes) - 1, -1, -1):
            merge_at[i] = i if self.has_merge(nodes[i]) else merge_at[i + 1]

        def run(i: int) -> Tuple[int, int]:
            """The repeat covering most items from ``i``: (copies, period); (1, 1) for none."""
            best = (1, 1)
            for period in range(1, PERIOD + 1):
                if i + 2 * period > len(nodes) or merge_at[i] >= i + period:
                    continue
                if not all(free[i:i + period]):
                    break
                copies = 1
                while i + (copies + 1) * period <= len(nodes) and all(
                        keys[i + copies * period + q] == keys[i + q] and free[i + copies * period + q]
                        for q in range(period)):
                    copies += 1
                if copies >= 2 and copies * period > best[0] * best[1]:
                    best = (copies, period)
            return best

        out: List[Node] = []
        i = 0
        while i < len(nodes):
            copies, period = run(i)
            if copies >= 2 and merge_at[i] > i and run(merge_at[i])[0] >= 2:
                # a unit that starts with its block (add, relu; not relu, add), as a block is written
                out += nodes[i:merge_at[i]]
                i = merge_at[i]
                copies, period = run(i)
            if copies < 2:
                out.append(nodes[i])
                i += 1
                continue
            out += [self.folded(nodes, i, copies, period)] * copies
            i += copies * period
        return out

    def folded(self, nodes: Sequence[Node], i: int, copies: int, period: int) -> Node:
        """One copy, names moved into comments; the copies' names on the repeated item."""
        first = [self.strip(n) for n in nodes[i:i + period]]
        named = [next((n.name for n in nodes[i + c * period:i + (c + 1) * period]
                       if not isinstance(n, FromSpec) and n.name), "") for c in range(copies)]
        note = ""
        if any(named):
            note = (f"{copies} copies, in the file {', '.join(n or '(unnamed)' for n in named)}"
                    f"; names below are {named[0] or 'the first'}'s")
        if period == 1 and not isinstance(first[0], FromSpec):
            return replace(first[0], note=note or first[0].note)
        return BlockSpec((tuple(first),), None, None, note=note)

    def strip(self, node: Node) -> Node:
        """``node`` without names, each name kept as the note the YAML writer puts beside it."""
        if id(node) not in self.stripped:
            if isinstance(node, LayerSpec):
                done: Node = replace(node, name=None, note=node.name or "")
            elif isinstance(node, BlockSpec):
                done = replace(node, name=None, note=node.name or "",
                               branches=tuple(tuple(self.strip(n) for n in b) for b in node.branches))
            else:
                done = node
            self.stripped[id(node)] = done
        return self.stripped[id(node)]


__all__ = ["recover"]
