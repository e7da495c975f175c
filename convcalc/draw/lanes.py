"""The graph style's connectors: straight down the block tree, a residual shortcut in its lane,
and the far references (U-Net's skips, FPN's laterals) in lanes at the sides.

A far reference leaves its source's side and enters its reader's side at ports of its own, and
runs in a lane beyond every box and lane its span passes. Which side: a two-colouring of the
references whose spans interleave (``sides``); the guarantee it gives is ``route``'s docstring's.
Each connector says what it draws: ``data-from`` the tensors, ``data-to`` the layers reading them.
"""

from __future__ import annotations

import json
from typing import Dict, List, Sequence, Tuple

from .flow import quoteattr
from .graph_layout import LANE, RADIUS, TAG_BAND, VGAP, Layout, Node, Seq

PORT_GAP = 8  # between two references' ports on a merge grown for them


def curve(x1: float, y1: float, x2: float, y2: float) -> str:
    """Down from (x1, y1) to (x2, y2): straight when on one axis, else an S-curve."""
    if abs(x1 - x2) < 0.05:
        return f"M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}"
    k = (y2 - y1) / 2
    return f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + k:.1f} {x2:.1f},{y2 - k:.1f} {x2:.1f},{y2:.1f}"


def edge_svg(reads: Sequence[Tuple[str, str]], d: str, end: Tuple[float, float, float, float],
             cls: str = "edge") -> str:
    """One connector: ``data-from`` the tensor it carries and ``data-to`` the layer reading it, full
    names as the JSON report gives them. Where it stands for several reads (a box for a collapsed
    block) they are space-separated, and ``data-reads`` lists the (tensor, reader) pairs as JSON,
    as it does wherever a name holds a space; ``data-ends``: where it leaves and arrives."""
    x1, y1, x2, y2 = end
    tensors = " ".join(dict.fromkeys(f for f, _ in reads))
    readers = " ".join(dict.fromkeys(r for _, r in reads))
    exact = ""
    if len(reads) > 1 or any(c.isspace() for pair in reads for name in pair for c in name):
        exact = f" data-reads={quoteattr(json.dumps([list(pair) for pair in reads], ensure_ascii=False))}"
    return (f'<path class="{cls}" data-from={quoteattr(tensors)} data-to={quoteattr(readers)}{exact} '
            f'data-ends="{x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f}" d="{d}" fill="none" stroke="#555555" '
            f'stroke-width="1.2" marker-end="url(#arrow)"/>')


def route(root: Seq, nodes: Sequence[Node], pairs: Sequence[Tuple[Node, Node]], layout: Layout, x: float,
          top: float, reads: Dict[Tuple[Node, Node], List[Tuple[str, str]]]) -> Tuple[List[str], float, float]:
    """Place the frame tree with its axis at ``x`` and draw the edges; returns them and the
    picture's leftmost and rightmost x.

    A far reference leaves its source's side and enters its reader's side at ports of their own
    (no two connectors share a port, so none shares a stretch), and runs in a lane beyond every
    box and lane its span passes, the shorter ones first. What is guaranteed: two references on
    one side cross only when their spans interleave (one starts inside the other and ends outside
    it), which no lane order can draw without a crossing; such pairs go to opposite sides where
    the left is free (a merge's left holds its text) and no third reference forbids
    it (``sides``). Nested references never cross: at a node shared by several, the ports are
    ordered as parentheses, the shorter reference's inside the longer one's."""
    root.place(x, top)
    drawn: List[str] = []
    far: List[Tuple[Node, Node]] = []
    for s, t in pairs:
        if s in layout.direct.get(t, ()):
            column = layout.column_bottom.get(t)
            if column is not None and abs(s.x - t.x) > 0.05 and s.bottom < column.bottom:
                # down its own column to the columns' bottom, then into the merge: never across a column
                d = f"M{s.x:.1f},{s.bottom:.1f} L" + curve(s.x, column.bottom, t.x, t.top)[1:]
            else:
                d = curve(s.x, s.bottom, t.x, t.top)
            drawn.append(edge_svg(reads[s, t], d, (s.x, s.bottom, t.x, t.top)))
        elif t in layout.shortcut and layout.shortcut[t][0] is s:
            lane = layout.shortcut[t][1].lane
            k = VGAP * 0.8
            end_x = t.x + RADIUS
            d = (f"M{s.x:.1f},{s.bottom:.1f} C{s.x:.1f},{s.bottom + k:.1f} {lane:.1f},{s.bottom:.1f} "
                 f"{lane:.1f},{s.bottom + k:.1f} L{lane:.1f},{t.mid - 10:.1f} "
                 f"Q{lane:.1f},{t.mid:.1f} {end_x:.1f},{t.mid:.1f}")
            drawn.append(edge_svg(reads[s, t], d, (s.x, s.bottom, end_x, t.mid), "edge shortcut"))
        else:
            far.append((s, t))

    side = sides(far, layout)
    for nd in nodes:
        nd.text_right = False
    for (s, t), sign in zip(far, side):
        for nd in (s, t):
            if nd.merge and sign < 0:
                nd.text_right = True  # its references leave by its left
    right_obstacles = [(nd.top, nd.bottom, nd.x + nd.slot / 2 if nd.text_right else nd.right) for nd in nodes]
    for merge, (_, frame) in layout.shortcut.items():
        right_obstacles.append((frame.bottom - frame.top_h - VGAP, merge.mid, frame.lane))
    left_obstacles = [(nd.top, nd.bottom, nd.x - nd.slot / 2) for nd in nodes]
    ports = port_positions(far, side, layout)
    rights: List[Tuple[float, float, float]] = []
    lefts: List[Tuple[float, float, float]] = []
    order = sorted(range(len(far)), key=lambda i: (abs(ports[i][3] - ports[i][1]), ports[i][1]))
    for i in order:
        s, t = far[i]
        x1, y1, x2, y2 = ports[i]
        lo, hi = min(y1, y2), max(y1, y2)
        sign = side[i]
        if sign < 0:
            lane = min([o - 2 * LANE for y0, y1_, o in left_obstacles if y1_ >= lo and y0 <= hi]
                       + [px - LANE for y0, y1_, px in lefts if y1_ >= lo - LANE and y0 <= hi + LANE])
            lefts.append((lo, hi, lane))
        else:
            lane = max([o + 2 * LANE for y0, y1_, o in right_obstacles if y1_ >= lo and y0 <= hi]
                       + [px + LANE for y0, y1_, px in rights if y1_ >= lo - LANE and y0 <= hi + LANE])
            rights.append((lo, hi, lane))
        r = min(8.0, (hi - lo) / 2)
        down = 1 if y2 >= y1 else -1
        d = (f"M{x1:.1f},{y1:.1f} L{lane - sign * r:.1f},{y1:.1f} Q{lane:.1f},{y1:.1f} "
             f"{lane:.1f},{y1 + down * r:.1f} L{lane:.1f},{y2 - down * r:.1f} Q{lane:.1f},{y2:.1f} "
             f"{lane - sign * r:.1f},{y2:.1f} L{x2:.1f},{y2:.1f}")
        drawn.append(edge_svg(reads[s, t], d, (x1, y1, x2, y2), "edge far"))
    left = min([o for _, _, o in left_obstacles] + [x for _, _, x in lefts])
    right = max([nd.x + nd.slot / 2 for nd in nodes] + [o for _, _, o in right_obstacles]
                + [x for _, _, x in rights])
    return drawn, left, right


def interleave(a: Tuple[float, float], b: Tuple[float, float]) -> bool:
    """One span starts strictly inside the other and ends strictly outside it."""
    return a[0] < b[0] < a[1] < b[1] or b[0] < a[0] < b[1] < a[1]


def sides(far: Sequence[Tuple[Node, Node]], layout: Layout) -> List[int]:
    """+1 (right) or -1 (left) for each far reference. Two whose spans interleave go to opposite
    sides; the references at one merge go to one side (its text takes the other); a reference
    leaves a box in a branch column only by the side that column has free (``Layout.free``).
    Found as a two-colouring of those constraints, breadth first from the references whose side
    is forced, right where nothing decides. Where no colouring exists (three spans each
    interleaving the others), a reference keeps the side first given to it and crosses; where a
    column has no free side (a middle branch), its reference goes right, across its neighbours."""
    spans = [(min(s.mid, t.mid), max(s.mid, t.mid)) for s, t in far]
    allowed = [layout.free.get(s, {-1, 1}) & layout.free.get(t, {-1, 1}) for s, t in far]
    n = len(far)
    near: List[List[Tuple[int, int]]] = [[] for _ in range(n)]  # (other, -1: opposite side, +1: same)
    order = sorted(range(n), key=lambda i: spans[i][0])
    for a_pos, a in enumerate(order):  # sorted by start, b interleaves a only if it starts inside a
        for b in order[a_pos + 1:]:
            if spans[b][0] >= spans[a][1]:
                break
            if interleave(spans[a], spans[b]):
                near[a].append((b, -1))
                near[b].append((a, -1))
    at_merge: Dict[int, List[int]] = {}
    for i, (s, t) in enumerate(far):
        for nd in (s, t):
            if nd.merge:
                at_merge.setdefault(id(nd), []).append(i)
    for group in at_merge.values():
        for a, b in zip(group, group[1:]):
            near[a].append((b, 1))
            near[b].append((a, 1))
    side = [0] * n
    for start in sorted(range(n), key=lambda i: (len(allowed[i]) != 1, i)):
        if side[start]:
            continue
        side[start] = -1 if allowed[start] == {-1} else 1
        queue = [start]
        while queue:
            a = queue.pop()
            for b, how in near[a]:
                if side[b] == 0:
                    want = side[a] * how
                    side[b] = want if want in allowed[b] or not allowed[b] else -want
                    queue.append(b)
    return side


def port_positions(far: Sequence[Tuple[Node, Node]], side: Sequence[int],
                   layout: Layout) -> List[Tuple[float, float, float, float]]:
    """Where each far reference leaves its source and enters its reader: (x1, y1, x2, y2). The
    references at one side of one node get ports of their own, spread over its height, ordered as
    parentheses: those from above first, shorter ones higher (inside the longer ones' spans), then
    those going down, longer ones higher. A merge whose shortcut enters its right at its middle
    takes its right-hand ports below that."""
    at: Dict[Tuple[int, int], List[Tuple[Tuple[int, float], int, bool]]] = {}
    nodes: Dict[int, Node] = {}
    for i, (s, t) in enumerate(far):
        length = abs(t.mid - s.mid)
        for nd, other, is_source in ((s, t, True), (t, s, False)):
            above = other.mid < nd.mid or (other.mid == nd.mid and not is_source)
            key = (0, length) if above else (1, -length)
            at.setdefault((id(nd), side[i]), []).append((key, i, is_source))
            nodes[id(nd)] = nd
    ends: Dict[Tuple[int, bool], Tuple[float, float]] = {}
    for (nid, sign), group in at.items():
        nd = nodes[nid]
        group.sort(key=lambda g: (g[0], g[1]))
        tall = nd.merge and nd.h > 2 * RADIUS  # a merge many references reach: a pill, straight sides
        if nd.merge:
            lo, hi = (nd.top + RADIUS, nd.bottom - RADIUS) if tall else (nd.top + 5, nd.bottom - 5)
            if sign > 0 and nd in layout.shortcut:
                lo = nd.mid + 4
                hi = max(hi, lo)
        else:
            lo, hi = nd.top + 7, nd.bottom - 7
        # an output's tag is at its left middle: ports there skip the tag's band
        skip = TAG_BAND if sign < 0 and nd.outputs and not nd.merge else 0.0
        hi -= skip
        k = len(group)
        for j, (_, i, is_source) in enumerate(group):
            y = (lo + hi) / 2 if k == 1 else lo + (hi - lo) * j / (k - 1)
            if skip and (k == 1 or y > nd.mid - skip / 2):
                y = y + skip if k > 1 else nd.mid - skip / 2 - 4
            if tall:
                x = nd.x + sign * RADIUS
            elif nd.merge:
                dy = y - nd.mid
                x = nd.x + sign * (RADIUS * RADIUS - dy * dy) ** 0.5
            else:
                x = nd.x + sign * nd.w / 2
            ends[i, is_source] = (x, y)
    return [(*ends[i, True], *ends[i, False]) for i in range(len(far))]
