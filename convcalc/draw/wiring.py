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
- ``reference``: anything else, from further back or to another row: out of the reading
  item's right side into its own lane, along a channel between rows (each wire its own lane,
  so no two share a segment), down or up the reader's own lane into its left side. Rows more
  than one apart are joined through lanes in the left margin.

Lanes lie outside the labels and boxes, in the slot's sides, the channels between rows and the
margin, so a wire never runs over a box or its text. The work is linear in items and reads.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

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
        channel = [0] * n_rows
        margin = 0
        for k, rd in enumerate(reads):
            kind = self.classify(rd, rows)
            self.kinds[k] = kind
            if kind not in ("reference", "wrap"):
                continue
            exits[rd.src] += 1
            entries[rd.dst] += 1
            a, b = self.row[rd.src], self.row[rd.dst]
            if rows is None:
                channel[min(a, b)] += 1
            else:
                channel[a] += 1
                if b > a + 1:
                    channel[b - 1] += 1
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
        # y: each row centred on its mid line, its channel under it
        self.mid = [0.0] * n_rows
        self.channel_y = [0.0] * n_rows
        y = top
        for r in range(n_rows):
            members = [i for i in range(n) if self.row[i] == r]
            head = max((slots[i].above + slots[i].h / 2 for i in members), default=0.0)
            foot = max((slots[i].h / 2 + slots[i].below for i in members), default=0.0)
            self.mid[r] = y + head
            self.channel_y[r] = y + head + foot + CHANNEL
            y = self.channel_y[r] + WIRE * max(channel[r] - 1, 0) + CHANNEL + 6
        self.height = y
        self.top = [self.mid[self.row[i]] - slots[i].h / 2 for i in range(n)]
        self.taken_exit = [0] * n
        self.taken_entry = [0] * n
        self.taken_channel = [0] * n_rows
        self.taken_margin = 0
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

    def straight_y(self, rd: Read) -> float:
        """The height of a straight arrow between two items on one row: their mid line, or below
        it where a skip already leaves or enters there."""
        _, _, y = self.face(rd.src)
        if rd.src in self.skip_ends or rd.dst in self.skip_ends:
            y += 0.25 * min(self.slots[rd.src].h, self.slots[rd.dst].h)
        return y

    def lower(self, i: int, k: int, n: int) -> float:
        """The k-th of n points spread over the lower half of item i's side."""
        return self.top[i] + self.slots[i].h * (0.5 + 0.5 * (k + 1) / (n + 1))

    # --- routes ----------------------------------------------------------------------------

    def route(self, k: int) -> Tuple[str, str, Ends]:
        """Read k's kind, path and end points."""
        rd, kind = self.reads[k], self.kinds[k]
        _, sx, smid = self.face(rd.src)
        tx, _, tmid = self.face(rd.dst)
        if kind == "next":
            y = self.straight_y(rd)
            return kind, wire_path([(sx, y), (tx, y)]), (sx, y, tx, y)
        if kind == "skip":
            return kind, wire_path([(sx, smid), (tx, tmid)]), (sx, smid, tx, tmid)
        if kind == "step":
            down = self.row[rd.dst] > self.row[rd.src]
            sy = smid + (0.3 if down else -0.3) * self.slots[rd.src].h
            ty = tmid if rd.dst not in self.skip_ends else tmid + (-0.3 if down else 0.3) * self.slots[rd.dst].h
            gx = self.x[rd.dst] - self.left_lanes[rd.dst] - self.lead[rd.dst] / 2  # the gap before the reader
            return kind, wire_path([(sx, sy), (gx, sy), (gx, ty), (tx, ty)]), (sx, sy, tx, ty)
        # a reference: out into the reader's lanes and along the channels
        e = self.taken_exit[rd.src]
        self.taken_exit[rd.src] += 1
        n = self.taken_entry[rd.dst]
        self.taken_entry[rd.dst] += 1
        sy = self.lower(rd.src, e, self.exits[rd.src])
        ty = self.lower(rd.dst, n, self.entries[rd.dst])
        lane_out = self.x[rd.src] + self.slots[rd.src].core + SIDE + WIRE * e
        lane_in = self.x[rd.dst] - SIDE - WIRE * n
        a, b = self.row[rd.src], self.row[rd.dst]
        if self.level is not None or b <= a + 1:
            c = min(a, b) if self.level is not None else a
            cy = self.channel_y[c] + WIRE * self.take(c)
            points = [(sx, sy), (lane_out, sy), (lane_out, cy), (lane_in, cy), (lane_in, ty), (tx, ty)]
        else:  # rows apart: down the margin
            c1 = self.channel_y[a] + WIRE * self.take(a)
            c2 = self.channel_y[b - 1] + WIRE * self.take(b - 1)
            mx = self.margin_x + WIRE * self.taken_margin
            self.taken_margin += 1
            points = [(sx, sy), (lane_out, sy), (lane_out, c1), (mx, c1), (mx, c2), (lane_in, c2), (lane_in, ty),
                      (tx, ty)]
        return kind, wire_path(points), (sx, sy, tx, ty)

    def take(self, row: int) -> int:
        k = self.taken_channel[row]
        self.taken_channel[row] += 1
        return k


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
