"""The blocks and lenet styles' connectors never share a stretch, and cross only where they must
(issue #21): measured from the SVG alone with tests/graph_geometry.py, for every bundled network
and the hand-made graphs of tests/test_draw_truth.py, in the layout chosen for them, in rows, and
at a width of 800 px.

What is guaranteed (``wiring.Plan``): no two connectors share a stretch; a U-shaped picture has no
crossing at all; in rows, two connectors cross only when no order of their runs along one channel
keeps them apart (``graph_geometry.Connectors.forced``): a leg of one inside the other's run
needs its own run above the other's when it goes up, below when it goes down, and both are
needed at once, as for a read from a box on one row to one on the next that leaves left of the
wrap to the next row and arrives right of it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from graph_geometry import Connectors
from test_draw_truth import HIDDEN

from convcalc.analysis.engine import analyse
from convcalc.draw.blocks import blocks_svg
from convcalc.draw.lenet import lenet_svg
from convcalc.errors import ConvcalcError
from convcalc.load import load
from convcalc.spec import catalog

STYLES = {"blocks": blocks_svg, "lenet": lenet_svg}
OPTIONS = [{}, {"layout": "rows"}, {"width": 800}]


def drawn(style: str, spec: str, options: dict) -> str:
    try:
        return STYLES[style](analyse(load(spec)), **options)
    except ConvcalcError:  # the lenet style refuses token sequences (ViT)
        pytest.skip(f"{style} does not draw {spec}")


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("spec", [*catalog.names(), *HIDDEN])
@pytest.mark.parametrize("options", OPTIONS, ids=["auto", "rows", "width800"])
def test_connectors_never_share_a_stretch_and_cross_only_where_they_must(style, spec, options):
    svg = drawn(style, spec, options)
    connectors = Connectors(svg)
    assert connectors.shared() == []
    assert connectors.unforced_crossings() == []
    if ET.fromstring(svg).get("data-layout") == "u":
        assert connectors.crossings() == []


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("name, pair", [
    ("unet", (("bottom.relu2", "up4"), ("crop4", "cat4.concat"))),
    ("resnet50_fpn", (("fpn.lat5", "fpn.up4"), ("fpn.lat4", "fpn.inner4.add"))),
])
def test_the_u_shapes_reads_on_one_level_go_round_what_comes_up(style, name, pair):
    """The issue's reproduction: crop4 -> cat4 ran along the channel under its row, through the
    elbow bringing bottom up to up4; FPN's lateral lat4 -> inner4 crossed lat5's wire up to up4.
    Both now run over the box between them."""
    connectors = Connectors(drawn(style, name, {}))
    assert set(pair) <= set(connectors.edges)
    assert [c for c in connectors.crossings() if {c[0], c[1]} == set(pair)] == []
    above_its_row = min(y for piece in connectors.edges[pair[1]] for _, y in piece)
    reader_row = max(y for piece in connectors.edges[pair[0]] for _, y in piece[1:])
    assert above_its_row < reader_row  # over the row, not under it


def test_a_crossing_no_lane_order_avoids_is_there_and_forced():
    """A concat of three at 800 px: b wraps to c on the next row, a reads into the concat right
    of c; a's wire, from left of b to right of c, must cross the wrap."""
    connectors = Connectors(drawn("blocks", HIDDEN[2], {"width": 800}))
    crossings = connectors.crossings()
    assert {frozenset((a, b)) for a, b, _, _ in crossings} == {frozenset({("b", "c"), ("a", "concat1.concat")})}
    assert connectors.unforced_crossings() == []


def test_an_unforced_crossing_is_caught():
    """The check can fail: c's wire, both legs rising into a's run, runs needlessly under it."""
    a = '<path class="connector reference" data-from="a" data-to="b" d="M0,0 L10,0 L10,50 L100,50 L100,0"/>'
    c = '<path class="connector reference" data-from="c" data-to="d" d="{}"/>'

    def picture(d: str) -> Connectors:
        return Connectors(f'<svg xmlns="http://www.w3.org/2000/svg">{a}{c.format(d)}</svg>')

    under = picture("M50,0 L50,60 L80,60 L80,0")
    assert len(under.crossings()) == 2 and len(under.unforced_crossings()) == 2
    assert picture("M50,0 L50,40 L80,40 L80,0").crossings() == []  # over it: apart
    interleaved = picture("M50,0 L50,60 L200,60 L200,0")  # a's right leg in c's run, c's left in a's
    assert len(interleaved.crossings()) == 1 and interleaved.unforced_crossings() == []


@pytest.mark.parametrize("style", sorted(STYLES))
def test_several_reads_between_two_boxes_are_arrows_apart(style):
    """FPN drawn as two boxes reads four of the backbone's maps: four straight arrows from body to
    fpn, which lay on one line, drawn as one."""
    connectors = Connectors(drawn(style, "resnet50_fpn", {"depth": 0}))
    between = [key for key in connectors.edges if key[0].startswith("body.") and key[1].startswith("fpn.")]
    assert len(between) == 4
    assert connectors.shared() == [] and connectors.crossings() == []
