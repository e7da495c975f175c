"""Where a boxes-in-a-row picture puts its items and how each read is wired between them.

A style (blocks, lenet) says how big each item is (``Slot``: its width with its labels, the
part wires attach to, the labels above and below); ``Plan`` places the items, in rows that wrap
at the picture's width, or U-shaped (one column per item, one row per level: the encoder runs
down, the decoder up, a skip straight across; an output alone on its level, FPN's pool, shares
the column after the map it reads), and routes every read (``flow.Read``):

- ``next``: to the item just after, on its row: a short straight arrow (or the style's kernel);
- ``skip``: on one level over deeper items (U layout): a straight horizontal arrow;
- ``step``: to the item just after, a level up or down (U layout): an elbow between the columns;
- ``wrap``: to the item just after, first on the next row: as a reference, drawn solid;
- ``reference``: anything else, from further back or to another row: out of the source's right
  side into its own lane, along a channel between rows (or over the first row), up or down its
  own lane beside the reader into its left side. Rows more than one apart are joined through
  lanes in the left margin. A read on one row runs along the channel under it, or over it when
  that is where it meets nothing (U-Net's crop -> concat goes over the up-convolution, whose
  elbow comes up from below).

Lanes lie outside the labels and boxes, in the slot's sides, the channels between rows and the
margin, so a wire never runs over a box or its text, and each wire has its own, so no two share
a stretch. They are ordered so that no wire crosses another where an order avoids it
(``order_runs``, ``side_key``, ``order``): a U-shaped picture has no crossing; in rows, two wires
cross only when no order of their runs along one channel keeps them apart (each would have to
lie above the other: a read from one row to the next that leaves left of the wrap and arrives
right of it). tests/test_draw_lanes.py measures this from the SVG. The work is quadratic in the
reads along one channel, a few dozen at most.
"""

from __future__ import annotations

import heapq
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from ..values import value
from .flow import Read, quoteattr

WIRE = 5.0  # between parallel wires, px
SIDE = 4.0  # between a slot's core and its first lane
CHANNEL = 8.0  # above the first lane and below the last in a channel between rows
COLOURS = {"next": "#444444", "step": "#444444", "wrap": "#444444", "skip": "#3d6fb6", "reference": "#8a6d00"}


@value
class Slot:
    """One item as its style draws it, in px: ``core`` wide (box and labels), its wires attaching
    to ``left``..``right`` (from the core's left) over ``h``; ``above`` of labels and box above
    that, ``below`` under it."""

    core: float
    left: float
    right: float
    h: float
    above: float
    below: float


Ends = Tuple[float, float, float, float]


class Plan:
    """Items placed and reads routed; ``x[i]`` is item i's core's left, ``top[i]`` the top of the
    part its wires attach to; ``height`` the bottom of the last row's channel. ``lead[i]`` is the
    room before item i (the first of a row has none unless ``lead_first``)."""

    def __init__(self, slots: Sequence[Slot], reads: Sequence[Read], lead: Sequence[float], left: float,
                 top: float, rows: Optional[List[List[int]]] = None,
                 level: Optional[Sequence[int]] = None, lead_first: bool = False) -> None:
        self.slots, self.reads, self.level, self.lead = slots, reads, level, lead
        n = len(slots)
        if rows is None:  # U: a column per item, a row per level
            assert level is not None
            low = min(level, default=0)
            self.row = [lv - low for lv in level]
            n_rows = max(self.row, default=0) + 1
        else:
            self.row = [0] * n
            for r, members in enumerate(rows):
                for i in members:
                    self.row[i] = r
            n_rows = len(rows)
        self.kinds: Dict[int, str] = {}
        self.straight_out: Set[int] = set()
        self.straight_in: Set[int] = set()
        self.step_out: Set[int] = set()
        self.step_in: Set[int] = set()
        exits = [0] * n
        entries = [0] * n
        margin = 0
        for k, rd in enumerate(reads):
            kind = self.classify(rd, rows)
            self.kinds[k] = kind
            if kind not in ("reference", "wrap"):
                continue
            exits[rd.src] += 1
            entries[rd.dst] += 1
            if rows is not None and self.row[rd.dst] > self.row[rd.src] + 1:
                margin += 1
        self.exits, self.entries = exits, entries
        self.left_lanes = [SIDE + WIRE * e if e else 0.0 for e in entries]
        self.right_lanes = [SIDE + WIRE * e if e else 0.0 for e in exits]
        self.margin_x = left
        left += WIRE * margin + (SIDE if margin else 0)
        # x: along each row, or one column after another
        self.x = [0.0] * n
        order = rows if rows is not None else [list(range(n))]
        self.right = left
        for members in order:
            x = left
            for j, i in enumerate(members):
                x += (lead[i] if j or rows is None or lead_first else 0.0) + self.left_lanes[i]
                self.x[i] = x
                x += slots[i].core + self.right_lanes[i]
            self.right = max(self.right, x)
        if rows is None:
            self.tuck_outputs(reads)
        self.n_rows = n_rows
        self.assign_ports()
        channel = self.assign_channels()
        # y: each row centred on its mid line, its channel under it (and one over the first row
        # when a read on it must go round what comes up into that row from below)
        self.mid = [0.0] * n_rows
        self.channel_y: Dict[int, float] = {}
        y = top
        if channel[-1]:
            self.channel_y[-1] = y + CHANNEL - 6
            y = self.channel_y[-1] + WIRE * (channel[-1] - 1) + CHANNEL
        for r in range(n_rows):
            members = [i for i in range(n) if self.row[i] == r]
            head = max((slots[i].above + slots[i].h / 2 for i in members), default=0.0)
            foot = max((slots[i].h / 2 + slots[i].below for i in members), default=0.0)
            self.mid[r] = y + head
            self.channel_y[r] = y + head + foot + CHANNEL
            y = self.channel_y[r] + WIRE * max(channel[r] - 1, 0) + CHANNEL + 6
        self.height = y
        self.top = [self.mid[self.row[i]] - slots[i].h / 2 for i in range(n)]
        self.alongside: Dict[Tuple[int, int], List[int]] = {}  # the straight arrows between two items
        for k, rd in enumerate(reads):
            if self.kinds[k] == "next":
                self.alongside.setdefault((rd.src, rd.dst), []).append(k)
        self.skip_ends = {rd.src for k, rd in enumerate(reads) if self.kinds[k] == "skip"} | \
            {rd.dst for k, rd in enumerate(reads) if self.kinds[k] == "skip"}

    def tuck_outputs(self, reads: Sequence[Read]) -> None:
        """U layout: an output alone on its level, read by nothing and reading one map a level
        away that ends its own row (FPN's pool, P6 from P5), goes just right of that map instead of
        after the whole decoder, where its one wire crossed the picture. Its elbow then runs
        between two rows that hold nothing right of it."""
        n = len(self.slots)
        read_by = {rd.src for rd in reads}
        for i in range(n):
            into = [k for k, rd in enumerate(reads) if rd.dst == i]
            if i in read_by or len(into) != 1 or self.kinds[into[0]] != "step":
                continue
            src = reads[into[0]].src
            alone = all(self.row[j] != self.row[i] for j in range(n) if j != i)
            last = all(self.row[j] != self.row[src] for j in range(src + 1, n))
            if alone and last and abs(self.row[i] - self.row[src]) == 1:
                self.x[i] = (self.x[src] + self.slots[src].core + self.right_lanes[src] + self.lead[i]
                             + self.left_lanes[i])
        self.right = max(self.x[i] + self.slots[i].core + self.right_lanes[i] for i in range(n))

    def classify(self, rd: Read, rows: Optional[List[List[int]]]) -> str:
        between = range(rd.src + 1, rd.dst)
        if rows is not None:
            if rd.dst == rd.src + 1:
                return "next" if self.row[rd.src] == self.row[rd.dst] else "wrap"
            return "reference"
        # U: a horizontal line on a row crosses only that row's items, so a read runs straight
        # (or as an elbow, along its own row, then up or down the gap before the reader) when no
        # item between lies on the source's row; one such line out of and into each item
        clear = all(self.row[k] != self.row[rd.src] for k in between)
        if not clear:
            return "reference"
        if self.row[rd.src] == self.row[rd.dst]:
            if rd.dst == rd.src + 1:
                return "next"
            if rd.src in self.straight_out or rd.dst in self.straight_in:
                return "reference"
            self.straight_out.add(rd.src)
            self.straight_in.add(rd.dst)
            return "skip"
        if rd.src in self.step_out or rd.dst in self.step_in:
            return "reference"
        self.step_out.add(rd.src)
        self.step_in.add(rd.dst)
        return "step"

    # --- where wires attach ----------------------------------------------------------------

    def face(self, i: int) -> Tuple[float, float, float]:
        """Item i's attaching part: left x, right x, mid y."""
        s = self.slots[i]
        return self.x[i] + s.left, self.x[i] + s.right, self.top[i] + s.h / 2

    def straight_y(self, k: int) -> float:
        """The height of straight arrow k between two items on one row: their mid line, or below
        it where a skip already leaves or enters there; several between the same two items (an
        FPN drawn as two boxes, reading three of the backbone's maps) spread about it, a lane
        apart (closer on a thin box), so no two share a stretch."""
        rd = self.reads[k]
        _, _, y = self.face(rd.src)
        low = min(self.slots[rd.src].h, self.slots[rd.dst].h)
        if rd.src in self.skip_ends or rd.dst in self.skip_ends:
            y += 0.25 * low
        alongside = self.alongside[rd.src, rd.dst]
        m = len(alongside)
        return y + (alongside.index(k) - (m - 1) / 2) * min(WIRE, 0.5 * low / m)

    # --- routes ----------------------------------------------------------------------------

    def route(self, k: int) -> Tuple[str, str, Ends]:
        """Read k's kind, path and end points."""
        rd, kind = self.reads[k], self.kinds[k]
        _, sx, smid = self.face(rd.src)
        tx, _, tmid = self.face(rd.dst)
        if kind == "next":
            y = self.straight_y(k)
            return kind, wire_path([(sx, y), (tx, y)]), (sx, y, tx, y)
        if kind == "skip":
            return kind, wire_path([(sx, smid), (tx, tmid)]), (sx, smid, tx, tmid)
        if kind == "step":
            down = self.row[rd.dst] > self.row[rd.src]
            sy = smid + (0.3 if down else -0.3) * self.slots[rd.src].h
            ty = tmid if rd.dst not in self.skip_ends else tmid + (-0.3 if down else 0.3) * self.slots[rd.dst].h
            gx = self.x[rd.dst] - self.left_lanes[rd.dst] - self.lead[rd.dst] / 2  # the gap before the reader
            return kind, wire_path([(sx, sy), (gx, sy), (gx, ty), (tx, ty)]), (sx, sy, tx, ty)
        # a reference: out into its lane beside the source, along its channels, into the reader
        sy = self.port_y(rd.src, *self.exit_point[k], self.exit_up(k))
        ty = self.port_y(rd.dst, *self.entry_point[k], self.entry_above(k))
        lane_out, lane_in = self.lane_out(k), self.lane_in(k)
        cys = [self.channel_y[c] + WIRE * self.lane[k, c] for c in self.channels[k]]
        if len(cys) == 1:
            points = [(sx, sy), (lane_out, sy), (lane_out, cys[0]), (lane_in, cys[0]), (lane_in, ty), (tx, ty)]
        else:  # rows apart: down the margin
            mx = self.margin_x + WIRE * self.margin_lane[k]
            points = [(sx, sy), (lane_out, sy), (lane_out, cys[0]), (mx, cys[0]), (mx, cys[1]), (lane_in, cys[1]),
                      (lane_in, ty), (tx, ty)]
        return kind, wire_path(points), (sx, sy, tx, ty)

    # --- lanes: which side, which channel, which lane ---------------------------------------

    def references(self) -> List[int]:
        return [k for k in range(len(self.reads)) if self.kinds[k] in ("reference", "wrap")]

    def exit_up(self, k: int) -> bool:
        """Does reference k leave its source upwards (into the channel above the source's row)?"""
        return self.channels[k][0] < self.row[self.reads[k].src]

    def entry_above(self, k: int) -> bool:
        """Does reference k come into its reader from above?"""
        return self.channels[k][-1] < self.row[self.reads[k].dst]

    def lane_out(self, k: int) -> float:
        src = self.reads[k].src
        return self.x[src] + self.slots[src].core + SIDE + WIRE * self.exit_lane[k]

    def lane_in(self, k: int) -> float:
        return self.x[self.reads[k].dst] - SIDE - WIRE * self.entry_lane[k]

    def port_y(self, i: int, point: int, n: int, upper: bool) -> float:
        """The point-th of n points on item i's side, spread over its upper half for a wire
        that leaves (or comes in) upwards, over its lower half for one that goes down, so a
        straight arrow at the mid line never meets it."""
        t = 0.5 * (point + 1) / (n + 1)
        return self.top[i] + self.slots[i].h * (0.5 - t if upper else 0.5 + t)

    def legs(self, k: int, c: int, exact: bool = True) -> Tuple[float, float, List[Tuple[float, bool]]]:
        """Reference k's run along channel c: from x1 to x2, and its legs off it, each an x
        and whether it goes up (to the row above the channel) or down."""
        rd = self.reads[k]
        if exact:
            out, into = self.lane_out(k), self.lane_in(k)
        else:  # before the lanes are given: their innermost place
            out = self.x[rd.src] + self.slots[rd.src].core + SIDE
            into = self.x[rd.dst] - SIDE
        chans = self.channels[k]
        mx = self.margin_x + WIRE * self.margin_lane.get(k, 0)
        if len(chans) == 1:
            ends = [(out, self.row[rd.src] <= c), (into, self.row[rd.dst] <= c)]
        elif c == chans[0]:
            ends = [(out, True), (mx, False)]
        else:
            ends = [(mx, True), (into, False)]
        return min(e[0] for e in ends), max(e[0] for e in ends), ends

    def must_be_above(self, a: Tuple[int, int], b: Tuple[int, int], exact: bool = True) -> Tuple[bool, bool]:
        """Lane order between two runs along one channel: (a must lie above b, b above a). A leg
        of one inside the other's run must go away from it: a leg up needs its run above the
        other's, a leg down below it; both at once is a crossing no order avoids."""
        (ka, c), (kb, _) = a, b
        a1, a2, a_legs = self.legs(ka, c, exact)
        b1, b2, b_legs = self.legs(kb, c, exact)
        above, below = False, False
        for x, up in b_legs:
            if a1 < x < a2:
                below, above = below or up, above or not up
        for x, up in a_legs:
            if b1 < x < b2:
                above, below = above or up, below or not up
        return above, below

    def choose_channels(self) -> None:
        """Which channels each reference runs along (channel c lies under row c; -1 over the
        first row). In rows, a read to the next row: the one between them; rows apart: the one
        under its source's row and the one over its reader's, joined in the margin. In the U
        layout, a read across levels: the one under the higher of the two. A read within one row: the one under it, unless a step's elbow
        crosses it there or a read already there would have to lie both above and below it
        (``clear``), then the one over it."""
        self.channels: Dict[int, List[int]] = {}
        same_level: List[int] = []
        for k in self.references():
            a, b = self.row[self.reads[k].src], self.row[self.reads[k].dst]
            if a == b:
                same_level.append(k)
            elif self.level is None:
                self.channels[k] = [a] if b == a + 1 else [a, b - 1]
            else:
                self.channels[k] = [min(a, b)]
        # rows apart, down the margin: a wire whose rows hold another's runs further out (left)
        self.margin_lane: Dict[int, int] = {}
        margin = sorted((k for k in self.channels if len(self.channels[k]) > 1),
                        key=lambda k: (self.channels[k][0] - self.channels[k][1], self.channels[k][0], k))
        for m, k in enumerate(margin):
            self.margin_lane[k] = m
        for k in same_level:
            r = self.row[self.reads[k].src]
            choices = [r, r - 1]
            self.channels[k] = [next((c for c in choices if self.clear(k, c)), r)]

    def clear(self, k: int, c: int) -> bool:
        """Reference k can run along channel c without a crossing found before lanes are given."""
        self.channels[k] = [c]
        x1, x2, _ = self.legs(k, c, exact=False)
        for j, rd in enumerate(self.reads):
            if self.kinds[j] == "step":
                a, b = sorted((self.row[rd.src], self.row[rd.dst]))
                gx = self.x[rd.dst] - self.left_lanes[rd.dst] - self.lead[rd.dst] / 2
                if a <= c < b and x1 < gx < x2:
                    return False
        for j, chans in self.channels.items():
            if j != k and c in chans and all(self.must_be_above((k, c), (j, c), exact=False)):
                return False
        return True

    def assign_ports(self) -> None:
        """Each reference's lane beside its source and beside its reader, and its point on their
        sides. The lanes of one side are ordered by how deep each wire's run lies in its channel
        (found first with every lane of a side at one place): a leg going up from a run must lie
        further out of that run than the legs of the runs above it, a leg going down further in,
        so no leg meets another run (``side_key``). The points follow the lanes (``order``)."""
        self.choose_channels()
        refs = self.references()
        self.exit_lane: Dict[int, int] = {k: 0 for k in refs}
        self.entry_lane: Dict[int, int] = {k: 0 for k in refs}
        self.exit_point: Dict[int, Tuple[int, int]] = {}
        self.entry_point: Dict[int, Tuple[int, int]] = {}
        depth, _ = self.order_runs()
        outs: Dict[int, List[int]] = {}
        ins: Dict[int, List[int]] = {}
        for k in refs:
            outs.setdefault(self.reads[k].src, []).append(k)
            ins.setdefault(self.reads[k].dst, []).append(k)
        for ks in outs.values():  # lane 0 the leftmost
            for lane, k in enumerate(sorted(ks, key=lambda k: (*self.side_key(k, 0, depth), k))):
                self.exit_lane[k] = lane
            self.order(ks, self.exit_up, self.exit_lane, self.exit_point)
        for ks in ins.values():  # lane 0 the rightmost
            for lane, k in enumerate(sorted(ks, key=lambda k: (*self.side_key(k, -1, depth), -k), reverse=True)):
                self.entry_lane[k] = lane
            self.order(ks, self.entry_above, self.entry_lane, self.entry_point)

    def side_key(self, k: int, end: int, depth: Dict[Tuple[int, int], int]) -> Tuple[int, int]:
        """Where reference k's leg at its source (``end`` 0) or reader (-1) belongs among the legs
        on that side, left to right: a leg whose run goes left before one whose run goes right
        (then neither run holds the other's leg); then, a deeper run's leg further from its
        run's inside when it goes up, nearer when it goes down."""
        c = self.channels[k][end]
        x1, x2, legs = self.legs(k, c)
        x, up = legs[end]
        inward = -1 if x >= x2 and x > x1 else 1  # the run lies left of the leg, or right
        return inward, (-inward if up else inward) * depth[k, c]

    @staticmethod
    def order(ks: List[int], upward: Callable[[int], bool], lane: Dict[int, int],
              point: Dict[int, Tuple[int, int]]) -> None:
        """The points on one side for the wires ``ks``: upward ones on its upper half, downward
        ones on its lower half, in each half the outer lane nearest the middle. A wire's stretch
        from the side to its lane passes every inner lane, so it must meet them before the inner
        wire's own vertical does, between the middle and that wire's point."""
        for half in (True, False):
            group = sorted((k for k in ks if upward(k) == half), key=lambda k: -lane[k])
            for n, k in enumerate(group):
                point[k] = (n, len(group))

    def order_runs(self) -> Tuple[Dict[Tuple[int, int], int], Dict[int, int]]:
        """Each run's lane in its channel (``[k, c]``, 0 the top), ordered so that no leg crosses
        another run (``must_be_above``, topologically, the earlier read first on a tie; a cycle,
        a crossing no order avoids, falls back to the order of the reads); and how many lanes
        each channel holds."""
        runs: Dict[int, List[Tuple[int, int]]] = {}
        for k in self.references():
            for c in self.channels[k]:
                runs.setdefault(c, []).append((k, c))
        lane: Dict[Tuple[int, int], int] = {}
        count = {c: 0 for c in range(-1, self.n_rows)}
        for c, members in runs.items():
            after: Dict[Tuple[int, int], Set[Tuple[int, int]]] = {r: set() for r in members}
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    above, below = self.must_be_above(a, b)
                    if above and not below:
                        after[a].add(b)
                    elif below and not above:
                        after[b].add(a)
            for slot, run in enumerate(topological(members, after)):
                lane[run] = slot
            count[c] = len(members)
        return lane, count

    def assign_channels(self) -> Dict[int, int]:
        """The runs' lanes, once every side's lanes are given; how many lanes each channel holds."""
        self.lane, count = self.order_runs()
        return count


def topological(members: List[Tuple[int, int]], after: Dict[Tuple[int, int], Set[Tuple[int, int]]]
                ) -> List[Tuple[int, int]]:
    """``members`` ordered so each comes before those ``after`` it, the earliest first on a tie;
    on a cycle, the rest in their own order."""
    waiting = {m: 0 for m in members}
    for m in members:
        for b in after[m]:
            waiting[b] += 1
    ready = [m for m in members if waiting[m] == 0]
    heapq.heapify(ready)
    out: List[Tuple[int, int]] = []
    while ready:
        m = heapq.heappop(ready)
        out.append(m)
        for b in after[m]:
            waiting[b] -= 1
            if waiting[b] == 0:
                heapq.heappush(ready, b)
    return out + [m for m in members if m not in out]


def wire_path(points: Sequence[Tuple[float, float]]) -> str:
    """A path through ``points``, repeated points dropped."""
    kept = [p for k, p in enumerate(points)
            if k == 0 or abs(p[0] - points[k - 1][0]) > 0.05 or abs(p[1] - points[k - 1][1]) > 0.05]
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in kept)


def connector(rd: Read, kind: str, d: str, ends: Ends) -> str:
    """A drawn read: an arrow carrying the names of the tensor read and of the layer reading it."""
    x1, y1, x2, y2 = ends
    dash = ' stroke-dasharray="5,3"' if kind == "reference" else ""
    return (f'<path class="connector {kind}" data-from={quoteattr(rd.source)} data-to={quoteattr(rd.target)} '
            f'data-ends="{x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f}" d="{d}" fill="none" stroke="{COLOURS[kind]}" '
            f'stroke-width="{1.6 if kind == "skip" else 1.1}"{dash} marker-end="url(#head-{kind})"/>')


def arrow_heads() -> str:
    """The arrowheads the connectors end in, coloured as their lines."""
    return "<defs>" + "".join(
        f'<marker id="head-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
        f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for kind, colour in COLOURS.items()) + "</defs>"


def wires_said(kinds: Set[str]) -> str:
    """What the picture's arrows mean, for the kinds it draws ('' for none)."""
    if not kinds:
        return ""
    said = [("solid to the next box", bool(kinds & {"next", "step", "wrap"})),
            ("blue a skip joining maps of one level across", "skip" in kinds),
            ("dashed a reference from further back", "reference" in kinds)]
    return ("Arrows are reads, each from the tensor a layer reads to that layer: "
            + ", ".join(s for s, shown in said if shown) + ". ")
