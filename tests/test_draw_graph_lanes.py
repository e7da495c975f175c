"""The graph style's connectors, measured: every read the analysis records is drawn once, from
the tensor read to the layer reading it (held against ``convcalc table --format json``), and
none is invented; no two connectors share a stretch, none runs through a box, and none crosses
another, for every bundled network at several depths and a dozen small graphs built to be hard
(skips from far back, nested skips, several outputs, a concat of three references, chunks,
references to the input, references out of a branch and out of a residual block).

What is guaranteed where a crossing cannot be avoided: the references from far back keep the
layers' top-to-bottom order, one lane each at the left or the right of the axis; two of them
on one side whose spans interleave (one starts inside the other and ends outside) cross once
whatever the lanes, and they are put on opposite sides whenever the interleaving spans can be
two-coloured (a merge's left holding its text keeps its references right). Only where three
spans each interleave the others (no two-colouring) does a crossing remain: between two
references at one side with interleaving spans, and nowhere else (``test_where_three_spans_interleave``)."""

from __future__ import annotations

import json
from typing import Dict, List, Set, Tuple

import pytest
from graph_geometry import Drawing, crosses
from test_hostile import assert_clean, run

from convcalc.analysis.engine import analyse
from convcalc.draw.graph import graph_svg
from convcalc.load import load
from convcalc.spec import catalog

HIDDEN = {
    "far_skips": "32x32x3 conv8k3p1:a conv8k3p1:b conv8k3p1:c conv8k3p1 add(@a | @c) conv8k1 add(@b | conv8k1)",
    "nested_unet": "64x64x3 conv8k3p1:e1 maxpool conv8k3p1:e2 maxpool conv8k3p1:e3 maxpool conv8k3p1 "
                   "upsample2:u3 cat(@e3 | @u3) conv8k3p1 upsample2:u2 cat(@e2 | @u2) conv8k3p1 "
                   "upsample2:u1 cat(@e1 | @u1) conv2k1",
    "concat_of_three": "32x32x3 conv8k3p1:a conv8k3p1:b conv8k3p1:c conv8k3p1 cat(@a | @b | @c) conv4k1",
    "input_refs": "32x32x3 conv8k3p1 conv8k3p1 cat(@input | conv8k1) conv4k1 cat(@input | conv3k1) conv3k1",
    "chunks": "32x32x8 conv8k3p1 cat(chunk2i0 | chunk2i1 conv4k3p1 relu) shuffle2 cat(chunk2i0 conv4k1 | chunk2i1)",
    "one_source_many_readers": "32x32x3 conv8k3p1:a conv8k3p1 @a conv8k1 @a conv8k5p2 add(@a | conv8k1)",
    "ref_into_branch": "32x32x3 conv8k3p1:a conv8k3p1 conv8k3p1 cat(conv4k1 | conv4k3p1 | @a conv4k1)",
    "ref_out_of_residual": "32x32x3 conv8k3p1 res(conv8k3p1:m conv8k3p1) conv8k3p1 conv8k3p1 add(@m | conv8k1)",
    "skip_over_residuals": "32x32x3 conv8k3p1:a res(conv8k3p1 conv8k3p1) res(conv8k3p1 conv8k3p1) add(@a | conv8k1)",
    "laterals_at_one_level": "32x32x3 conv8k3p1:a conv8k3p1:b conv8k3p1:c @a conv8k1:d @b conv8k1:e add(@d | @e) "
                             "@c conv8k1 @d conv8k1 conv8k1",
    "concat_of_ten": "32x32x3 " + " ".join(f"conv4k3p1:c{i}" for i in range(10))
                     + " cat(" + " | ".join(f"@c{i}" for i in range(10)) + ") conv8k1",
    "small_fpn": "64x64x3 conv8k3p1s2:c2 conv8k3p1s2:c3 conv8k3p1s2:c4 conv8k1:l4 conv8k3p1:p4 @c3 conv8k1:l3 "
                 "@l4 upsample2:u3 add(@l3 | @u3) conv8k3p1:p3 @c2 conv8k1:l2 @add1 upsample2:u2 add(@l2 | @u2) "
                 "conv8k3p1:p2",
}
OUTPUTS_YAML = """\
name: several outputs
input: 32x32x3
outputs: [head1, a, head2, tail]
layers:
  - conv8k3p1
  - {conv: {filters: 8, kernel: 3, padding: 1}, name: a}
  - {conv: {filters: 8, kernel: 3, padding: 1}, name: b}
  - {conv: {filters: 8, kernel: 3, padding: 1}}
  - {add: {from: [a, b]}, name: s}
  - {conv: {filters: 4, kernel: 1}, name: head1}
  - {conv: {filters: 4, kernel: 1}, from: b, name: head2}
  - {conv: {filters: 4, kernel: 1}, from: s, name: tail}
"""
# three spans each interleaving the others: a..d, b..e, c..f with a < b < c < d < e < f
THREE_INTERLEAVING = ("32x32x3 conv8k3p1:a conv8k3p1:b conv8k3p1:c @a conv8k3p1:d @b conv8k3p1:e "
                      "@c conv8k3p1:f conv8k1")


@pytest.fixture(scope="module")
def hidden(tmp_path_factory) -> Dict[str, str]:
    path = tmp_path_factory.mktemp("graphs") / "outputs.yaml"
    path.write_text(OUTPUTS_YAML, encoding="utf-8")
    return {**HIDDEN, "several_outputs": str(path)}


def reads_of(report_json: dict) -> Set[Tuple[str, str]]:
    """(tensor, reader) for every read the JSON report records, by full name (0: the input)."""
    names = {0: "input", **{row["index"]: row["full_name"] for row in report_json["layers"]}}
    return {(names[s], row["full_name"]) for row in report_json["layers"] for s in row["sources"]}


def drawn_reads(drawing: Drawing) -> List[Tuple[str, str]]:
    """Every (tensor, reader) a connector stands for: its data-from and data-to, or where it
    stands for several (or a name holds a space), the pairs its data-reads lists; each must be
    in data-from and data-to, space-separated."""
    out = []
    for (fs, ts), reads in drawing.reads.items():
        assert fs == " ".join(dict.fromkeys(f for f, _ in reads)) and ts == " ".join(dict.fromkeys(t for _, t in reads))
        out += reads
    return out


def inside(drawing: Drawing, report_json: dict) -> Set[Tuple[str, str]]:
    """The reads no connector draws: a tensor and its reader drawn in one box (a collapsed block,
    or a box with its activation drawn in it), and the reads of a run's later copies, drawn once
    by its first copy (their last output, read after the run, is drawn by the first copy's box)."""
    by_index = {row["full_name"]: row["index"] for row in report_json["layers"]}
    by_index["input"] = 0
    box_of: Dict[int, str] = {}
    for name, layers in drawing.layers.items():
        for i in range(layers[0], layers[1] + 1):
            box_of[i] = name
    hidden: Set[int] = set()
    for a, b in drawing.hidden:
        hidden |= set(range(a, b + 1))
        box_of[b] = box_of[a - 1]
    return {(f, t) for f, t in reads_of(report_json)
            if by_index[t] in hidden or box_of[by_index[f]] == box_of[by_index[t]]}


def check_reads(spec: str, depth: "int | None" = None) -> Drawing:
    table = run("table", spec, "--format", "json")
    assert_clean(table, codes=(0,))
    report_json = json.loads(table.output)
    args = ["draw", spec, "--style", "graph"] + (["--depth", str(depth)] if depth is not None else [])
    picture = run(*args)
    assert_clean(picture, codes=(0,))
    drawing = Drawing(picture.output)
    drawn = drawn_reads(drawing)
    reads = reads_of(report_json)
    assert len(drawn) == len(set(drawn)), "a read drawn twice"
    assert set(drawn) == reads - inside(drawing, report_json), "every read drawn, none invented"
    return drawing


@pytest.mark.parametrize("name", catalog.names())
def test_every_bundled_connector_is_a_read_of_the_json(name: str):
    for depth in (None, 0, 1, 2):
        check_reads(name, depth)


def test_names_with_spaces_are_listed_exactly(tmp_path):
    path = tmp_path / "spaces.yaml"
    path.write_text('input: 8x8x3\nlayers:\n  - {conv: {filters: 4, kernel: 3}, name: "my conv"}\n'
                    '  - {conv: {filters: 4, kernel: 1}, name: "my head"}\n', encoding="utf-8")
    drawing = check_reads(str(path))
    assert ("input", "my conv") in drawing.reads and drawing.reads["my conv", "my head"] == [("my conv", "my head")]


@pytest.mark.parametrize("key", sorted([*HIDDEN, "several_outputs"]))
def test_hidden_graph_connectors_are_reads_of_the_json(key: str, hidden: Dict[str, str]):
    for depth in (None, 0):
        check_reads(hidden[key], depth)


def problems(spec: str, depth: "int | None", every_layer: bool = False) -> List[str]:
    return Drawing(graph_svg(analyse(load(spec)), depth=depth, every_layer=every_layer)).problems()


@pytest.mark.parametrize("name", catalog.names())
def test_no_shared_stretch_no_crossing_in_bundled_networks(name: str):
    for depth in (None, 0, 1, 2):
        assert problems(name, depth) == [], (name, depth)


@pytest.mark.parametrize("key", sorted([*HIDDEN, "several_outputs"]))
def test_no_shared_stretch_no_crossing_in_hidden_graphs(key: str, hidden: Dict[str, str]):
    for depth in (None, 0, 1):
        for every_layer in (False, True):
            assert problems(hidden[key], depth, every_layer) == [], (key, depth, every_layer)


def test_the_readme_fpn_picture_no_longer_shares_or_crosses():
    """The reproduction: layer3 -> lat4 entered lat4 where lat4 -> add left it, and add -> up3
    crossed lat3's lane."""
    drawing = Drawing(graph_svg(analyse(load("resnet50_fpn")), depth=1))
    assert drawing.problems() == []
    into, out_of = drawing.edges["body.layer3.5.relu1", "fpn.lat4"], drawing.edges["fpn.lat4", "fpn.inner4.add"]
    assert into[-1][1] != out_of[0][0]  # two ports, not one


def test_where_three_spans_interleave():
    """No two-colouring exists: the one crossing left is between two far references at one side
    whose spans interleave, and nothing shares a stretch or runs through a box."""
    drawing = Drawing(graph_svg(analyse(load(THREE_INTERLEAVING))))
    found = drawing.problems()
    assert found and all(p.startswith("cross: ") for p in found), found
    far = {k for k, cls in drawing.kinds.items() if "far" in cls.split()}
    mids = {name: (box[1] + box[3]) / 2 for name, box in drawing.boxes.items()}
    for a in far:
        for b in far:
            if a < b and any(crosses(p, q) for p in drawing.edges[a] for q in drawing.edges[b]):
                sa, sb = sorted(mids[n] for n in a), sorted(mids[n] for n in b)
                assert sa[0] < sb[0] < sa[1] < sb[1] or sb[0] < sa[0] < sb[1] < sa[1], (a, b)
                side_a = drawing.edges[a][0][1][0] > drawing.edges[a][0][0][0]
                side_b = drawing.edges[b][0][1][0] > drawing.edges[b][0][0][0]
                assert side_a == side_b


def test_what_the_block_layout_cannot_keep_free():
    """Two cases the block tree's layout draws with a crossing, stated so a change shows: a
    reference into the middle one of three branches has no free side and passes the branch at its
    right; and in residual blocks written as add(@l | ...), whose columns may only leave by the
    left (the shortcut lane holds the right), two references with interleaving spans cross."""
    middle = Drawing(graph_svg(analyse(load(
        "32x32x3 conv8k3p1:a conv8k3p1 conv8k3p1 cat(conv4k1 | @a conv4k1 | conv4k3p1)"))))
    assert [p.split(" at ")[0] for p in middle.problems()] == ["through concat1.b3.conv1: ('a', 'concat1.b2.conv1')"]
    shortcut_style = Drawing(graph_svg(analyse(load(
        "64x64x3 conv8k3p1s2:c2 conv8k3p1s2:c3 conv8k3p1s2:c4 conv8k1:l4 conv8k3p1:p4 @c3 conv8k1:l3 "
        "add(@l3 | @l4 upsample2) conv8k3p1:p3 @c2 conv8k1:l2 add(@l2 | @l3 upsample2) conv8k3p1:p2"))))
    assert [p.split(" at ")[0] for p in shortcut_style.problems()] == [
        "cross: ('l4', 'add1.up1') and ('l3', 'add2.up1')"]


def test_a_merge_many_references_reach_grows_a_port_each():
    """Ten references into one concat: a pill tall enough that their arrows are apart (8 px)."""
    drawing = Drawing(graph_svg(analyse(load(HIDDEN["concat_of_ten"]))))
    far = [k for k, cls in drawing.kinds.items() if "far" in cls.split()]
    ys = sorted(drawing.ends[k][3] for k in far)
    assert len(ys) == 9 and min(b - a for a, b in zip(ys, ys[1:])) >= 7.9
