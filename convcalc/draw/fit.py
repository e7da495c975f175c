"""A finished picture held to the width asked for (``draw --width``): never silently wider.

Every style wraps to ``--width`` where it can (rows of boxes, the title, the legend), but some
things do not wrap: one block wider than the width, the graph style's branches side by side, a
long word. A picture that still comes out wider is scaled down to the width, whole: its SVG's
``width`` and ``height`` say the size asked for and its ``viewBox`` keeps the drawing's own
coordinates, so every renderer (a browser, rsvg-convert) draws it smaller, text included. That is
done down to ``MIN_FIT`` of its size (12 px labels at 6 px, still read in print and by zooming an
SVG); a picture that would have to shrink further is refused (exit 2) with the least width at
which it is drawn.

An encoder–decoder drawn U-shaped (``data-layout="u"`` on its root, blocks and lenet styles) has
a column per item and cannot wrap. Where it would have to shrink below ``MIN_FIT`` it is drawn in
rows instead, as ``--layout rows`` draws it (rows wrap to any width), and the note says so: a
U-Net in rows still shows every read, only not as its paper lays it out.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Optional, Tuple

from ..errors import ConvcalcError
from .blocks import TEXT, U_LAYOUT

MIN_FIT = 0.5
_SIZE = re.compile(r'(<svg\b[^>]*?\swidth=")([0-9.]+)("[^>]*?\sheight=")([0-9.]+)(")')


def picture_width(svg: str) -> float:
    """The width the picture's root element states, in px."""
    found = _SIZE.search(svg[:2000])
    assert found is not None, "every style states its picture's size"
    return float(found.group(2))


def fitted(draw: Callable[[int], str], width: int,
           in_rows: Optional[Callable[[int], str]] = None) -> Tuple[str, str]:
    """The picture ``draw(width)`` makes, scaled down to ``width`` px where it came out wider, and a
    note saying so ("" when it fits as drawn); a clear error (exit 2), naming the least width that
    works, when it would have to shrink below ``MIN_FIT``. ``in_rows`` draws the same picture in
    rows: a U-shaped picture that cannot shrink enough is drawn by it instead."""
    svg = draw(width)
    found = _SIZE.search(svg[:2000])
    assert found is not None, "every style states its picture's size"
    natural, height = float(found.group(2)), float(found.group(4))
    if natural <= width + 0.5:  # the styles write whole px
        return svg, ""
    zoom = width / natural
    if zoom < MIN_FIT and in_rows is not None and U_LAYOUT in svg[:svg.index(">", found.end()) + 1]:  # its root
        rows, note = fitted(in_rows, width)
        return rows, (f"the encoder-decoder is {natural:.0f} px wide drawn U-shaped, over {1 / MIN_FIT:g}x "
                      f"--width {width}; it is drawn in rows (--layout rows){'; ' + note if note else ''}")
    if zoom < MIN_FIT:
        raise ConvcalcError(f"--width {width}: the picture is {natural:.0f} px wide at that width (what does "
                            f"not wrap: a wide block, branches side by side), and at {MIN_FIT:g}x, the "
                            f"smallest it is scaled to, it needs {least_width(draw, width):,} px",
                            hint="give that --width or more, or leave --width out to draw it at its own "
                                 "width; --depth 0 or 1 draws a network narrower")
    start, end = found.span()
    scaled = (f"{found.group(1)}{width}{found.group(3)}{math.ceil(height * zoom)}{found.group(5)}")
    note = (f"the picture is {natural:.0f} px wide at --width {width}; it is scaled to fit, "
            f"at {zoom:.2f}x (labels {TEXT * zoom:.1f} px)")
    return svg[:start] + scaled + svg[end:], note


def least_width(draw: Callable[[int], str], width: int) -> int:
    """The least width from ``width`` up at which ``draw``'s picture fits once scaled by ``MIN_FIT``:
    a picture drawn wider wraps less, so each try starts from what the one before needed (it
    settles in a step or two: what does not wrap sets the width)."""
    for _ in range(8):
        need = math.ceil(picture_width(draw(width)) * MIN_FIT)
        if need <= width:
            return width
        width = need
    return width
