"""The geometry of the graph style's connectors, measured from the SVG alone: each connector's
path (``d``) flattened to straight pieces (a Bézier curve into 16), then every pair of pieces of
two different connectors checked for a shared stretch (collinear and overlapping) and for a
crossing (each piece's ends on either side of the other's line), and every piece for passing
through a box that is neither of its connector's ends. Helpers for tests/test_draw_graph_lanes.py."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Dict, List, Tuple

SVG = "{http://www.w3.org/2000/svg}"
Point = Tuple[float, float]
Piece = Tuple[Point, Point]
NUMBER = r"-?\d+(?:\.\d+)?"


def flatten(d: str, steps: int = 16) -> List[Piece]:
    """The straight pieces of an SVG path made of M, L, C and Q commands (absolute)."""
    pieces: List[Piece] = []
    at: Point = (0.0, 0.0)
    for cmd, args in re.findall(r"([MLCQ])([^MLCQ]*)", d):
        v = [float(n) for n in re.findall(NUMBER, args)]
        pts = [(v[i], v[i + 1]) for i in range(0, len(v), 2)]
        if cmd == "M":
            at = pts[0]
        elif cmd == "L":
            pieces.append((at, pts[0]))
            at = pts[0]
        else:
            ctrl = [at, *pts]
            prev = at
            for k in range(1, steps + 1):
                t = k / steps
                cur = bezier(ctrl, t)
                pieces.append((prev, cur))
                prev = cur
            at = pts[-1]
    return [p for p in pieces if p[0] != p[1]]


def bezier(ctrl: List[Point], t: float) -> Point:
    while len(ctrl) > 1:
        ctrl = [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for a, b in zip(ctrl, ctrl[1:])]
    return ctrl[0]


def cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def length(p: Piece) -> float:
    return ((p[1][0] - p[0][0]) ** 2 + (p[1][1] - p[0][1]) ** 2) ** 0.5


def shared(p: Piece, q: Piece, tol: float = 0.3) -> bool:
    """p and q on one line and overlapping for more than a pixel."""
    n = length(p)
    if abs(cross(p[0], p[1], q[0])) / n > tol or abs(cross(p[0], p[1], q[1])) / n > tol:
        return False
    ux, uy = (p[1][0] - p[0][0]) / n, (p[1][1] - p[0][1]) / n
    s = sorted(((q[0][0] - p[0][0]) * ux + (q[0][1] - p[0][1]) * uy, (q[1][0] - p[0][0]) * ux + (q[1][1] - p[0][1]) * uy))
    return min(n, s[1]) - max(0.0, s[0]) > 1.0


def crosses(p: Piece, q: Piece, eps: float = 1e-6) -> bool:
    """Each piece's ends strictly on either side of the other's line: a proper crossing (pieces
    meeting at an end, as arrows into one port do, do not count)."""
    d1, d2 = cross(q[0], q[1], p[0]), cross(q[0], q[1], p[1])
    d3, d4 = cross(p[0], p[1], q[0]), cross(p[0], p[1], q[1])
    scale = length(p) * length(q) * eps + eps
    return ((d1 > scale and d2 < -scale) or (d1 < -scale and d2 > scale)) and \
        ((d3 > scale and d4 < -scale) or (d3 < -scale and d4 > scale))


def through(p: Piece, box: Tuple[float, float, float, float], inset: float = 1.0) -> bool:
    """Does piece p pass inside the box (shrunk by ``inset``)? Liang-Barsky clipping."""
    x0, y0, x1, y1 = box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset
    (ax, ay), (bx, by) = p
    dx, dy = bx - ax, by - ay
    lo, hi = 0.0, 1.0
    for q, r in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if q == 0:
            if r < 0:
                return False
            continue
        t = r / q
        if q < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        if lo > hi:
            return False
    return hi - lo > 1e-9


Key = Tuple[str, str]


def meetings(edges: Dict[Key, List[Piece]]) -> List[Tuple[str, Key, Key, Piece, Piece]]:
    """Every pair of pieces of two different connectors that share a stretch ("share a
    stretch") or cross ("cross"), found through a grid of 60 px cells."""
    out: List[Tuple[str, Key, Key, Piece, Piece]] = []
    cell = 60.0
    grid: Dict[Tuple[int, int], List[Tuple[Key, Piece]]] = defaultdict(list)
    for key, pieces in edges.items():
        for p in pieces:
            xs, ys = sorted((p[0][0], p[1][0])), sorted((p[0][1], p[1][1]))
            for i in range(int(xs[0] // cell), int(xs[1] // cell) + 1):
                for j in range(int(ys[0] // cell), int(ys[1] // cell) + 1):
                    grid[i, j].append((key, p))
    seen = set()
    for bucket in grid.values():
        for a in range(len(bucket)):
            ka, p = bucket[a]
            for b in range(a + 1, len(bucket)):
                kb, q = bucket[b]
                if ka == kb or (ka, kb, p, q) in seen:
                    continue
                seen.add((ka, kb, p, q))
                if shared(p, q) or shared(q, p):
                    out.append(("share a stretch", ka, kb, p, q))
                elif crosses(p, q):
                    out.append(("cross", ka, kb, p, q))
    return out


class Drawing:
    """The nodes (name -> box) and connectors ((from, to, class) -> pieces) of a graph-style SVG."""

    def __init__(self, svg: str) -> None:
        root = ET.fromstring(svg)
        self.boxes: Dict[str, Tuple[float, float, float, float]] = {}
        self.layers: Dict[str, Tuple[int, int]] = {}  # the first and last layer each box draws
        for g in root.iter(f"{SVG}g"):
            if g.get("class") == "node":
                x, y, w, h = map(float, g.get("data-bbox").split())
                self.boxes[g.get("data-name")] = (x, y, x + w, y + h)
                first, last = map(int, g.get("data-layers").split())
                self.layers[g.get("data-name")] = (first, last)
        # the layers a..b of the later copies of a run of identical blocks drawn once
        self.hidden = [tuple(map(int, r.get("data-hidden").split())) for r in root.iter(f"{SVG}rect")
                       if r.get("class") == "fold"]
        self.edges: Dict[Tuple[str, str], List[Piece]] = {}
        self.kinds: Dict[Tuple[str, str], str] = {}
        self.reads: Dict[Tuple[str, str], List[Tuple[str, str]]] = {}  # the (tensor, reader) pairs each draws
        self.ends: Dict[Tuple[str, str], Tuple[float, float, float, float]] = {}
        for p in root.iter(f"{SVG}path"):
            if "edge" in p.get("class", "").split():
                key = (p.get("data-from"), p.get("data-to"))
                assert key not in self.edges, f"{key} drawn twice"
                self.edges[key] = flatten(p.get("d"))
                x1, y1, x2, y2 = map(float, p.get("data-ends").split())
                self.ends[key] = (x1, y1, x2, y2)
                self.kinds[key] = p.get("class")
                exact = p.get("data-reads")
                self.reads[key] = [tuple(pair) for pair in json.loads(exact)] if exact else [key]

    def problems(self) -> List[str]:
        """Every shared stretch, crossing and box passed through, described."""
        out = [f"{how}: {ka} and {kb} at {p}" for how, ka, kb, p, _ in meetings(self.edges)]
        for key, pieces in self.edges.items():
            x1, y1, x2, y2 = self.ends[key]
            for name, box in self.boxes.items():
                if any(box[0] - 0.5 <= x <= box[2] + 0.5 and box[1] - 0.5 <= y <= box[3] + 0.5
                       for x, y in ((x1, y1), (x2, y2))):  # the connector's own source or reader
                    continue
                for p in pieces:
                    if through(p, box):
                        out.append(f"through {name}: {key} at {p}")
                        break
        return sorted(set(out))


class Connectors:
    """The connectors ((from, to) -> pieces) of a blocks- or lenet-style SVG: ``<path
    class="connector ...">``, each a run of horizontal and vertical pieces."""

    def __init__(self, svg: str) -> None:
        root = ET.fromstring(svg)
        self.edges: Dict[Key, List[Piece]] = {}
        for p in root.iter(f"{SVG}path"):
            if "connector" in p.get("class", "").split():
                key = (p.get("data-from"), p.get("data-to"))
                assert key not in self.edges, f"{key} drawn twice"
                self.edges[key] = flatten(p.get("d"))

    def shared(self) -> List[str]:
        return sorted({f"{ka} and {kb} at {p}" for how, ka, kb, p, _ in meetings(self.edges)
                       if how == "share a stretch"})

    def crossings(self) -> List[Tuple[Key, Key, Piece, Piece]]:
        return [(ka, kb, p, q) for how, ka, kb, p, q in meetings(self.edges) if how == "cross"]

    def runs(self, key: Key) -> List[Tuple[float, float, float, List[Tuple[float, bool]]]]:
        """A connector's runs: each horizontal piece with a vertical piece (a leg) at both ends,
        as (y, left x, right x, [(leg x, leg goes up from the run)])."""
        pieces = self.edges[key]
        out = []
        for before, mid, after in zip(pieces, pieces[1:], pieces[2:]):
            if abs(mid[0][1] - mid[1][1]) < 0.05 and abs(before[0][0] - before[1][0]) < 0.05 \
                    and abs(after[0][0] - after[1][0]) < 0.05:
                legs = [(before[0][0], before[0][1] < before[1][1]),  # came down onto the run: goes up from it
                        (after[0][0], after[1][1] < after[0][1])]
                out.append((mid[0][1], min(mid[0][0], mid[1][0]), max(mid[0][0], mid[1][0]), legs))
        return out

    def forced(self, a: Key, b: Key) -> bool:
        """Must connectors a and b cross? They must when runs of theirs that overlap along one
        channel could be kept apart by no order of the two: a leg of one inside the other's run
        that goes up from its own run needs that run above the other's, one that goes down needs
        it below; both at once (a's leg up inside b's run and a's other leg down inside it, or
        a's leg up inside b's and b's leg up inside a's, as two reads whose ends interleave) and
        whichever lies above, a leg meets the other run."""
        for _, a1, a2, a_legs in self.runs(a):
            for _, b1, b2, b_legs in self.runs(b):
                if a2 <= b1 or b2 <= a1:
                    continue
                a_above = a_below = False
                for x, up in a_legs:
                    if b1 + 0.05 < x < b2 - 0.05:
                        a_above, a_below = a_above or up, a_below or not up
                for x, up in b_legs:
                    if a1 + 0.05 < x < a2 - 0.05:
                        a_above, a_below = a_above or not up, a_below or up
                if a_above and a_below:
                    return True
        return False

    def unforced_crossings(self) -> List[str]:
        """Every crossing of two connectors that ``forced`` does not explain, described."""
        return sorted({f"cross: {ka} and {kb} at {p} / {q}" for ka, kb, p, q in self.crossings()
                       if not self.forced(ka, kb)})
