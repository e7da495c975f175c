"""Pictures that draw what the analysis says (issue #21): every read between two drawn items is
one connector carrying ``data-from`` (the tensor, as the JSON report names it) and ``data-to``
(the layers reading it), every connector is such a read, and an encoder–decoder comes out
U-shaped. Held against the JSON report's ``sources`` for every bundled network and a set of
hand-made graphs; each box says which layers it holds (``data-layers``)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Dict, List, Set, Tuple

import pytest

from convcalc.analysis.engine import analyse
from convcalc.draw.blocks import blocks_svg
from convcalc.draw.lenet import lenet_svg
from convcalc.errors import ConvcalcError
from convcalc.load import load
from convcalc.report.json_report import to_json
from convcalc.spec import catalog

SVG = "{http://www.w3.org/2000/svg}"

# graphs a chain-shaped picture would draw wrong, each with what it tries
HIDDEN = [
    "32x32x3 conv8k3:a conv8k5s2 @a conv16k1",  # the issue's: conv3 reads a (30x30), not conv2
    "64x64x1 conv8k3:enc1 maxpool2 conv16k3 convtranspose8k2s2:up1 @enc1 crop@up1:skip1 cat(@skip1 | @up1) "
    "conv2k1:head",  # a small U-Net
    "32x32x3 conv8k3p1:a conv8k3p1:b conv8k3p1:c cat(@a | @b | @c) conv4k1",  # a concat of three
    "32x32x8 conv8k3p1:a relu conv8k3p1 add(@a | @input)",  # a reference to the input
    "28x28x116 cat(chunk2i0 | chunk2i1 pwconv58nb bn relu dwconv3p1nb bn pwconv58nb bn relu) shuffle2",  # chunks
    "56x56x64 res(conv64k3p1nb bn relu conv64k3p1nb bn) relu cat(conv32k1 | conv32k3p1)",
    "32x32x8 conv8k3p1:a conv8k3p1 conv8k3p1 conv8k3p1 conv8k3p1 conv8k3p1 add(@a | conv8k1)",  # far back
    "32x32x8 conv8k3p1:a conv8k3p1 @a relu conv8k1",  # a relu reading far back is no fold of the box before
    # a run of repeats read in its middle
    "8x8x3 conv8k3p1 conv8k3p1:m conv8k3p1 conv8k3p1 conv8k3p1 conv8k3p1 conv8k3p1 add(@m | conv8k1)",
    "64x64x3 conv16k3s2p1:low conv32k3s2p1 conv32k3s2p1 conv16k1 upsample4:up cat(@low | @up) conv4k1",  # LR-ASPP-like
    "32x32x3 conv8k3p1:a maxpool2 conv8k3p1:b maxpool2 conv8k3p1 upsample2 add(@b | upsample@b) upsample@a "
    "cat(@a | @<in>)",  # references inside a merge's branches
]

OUTPUTS = """\
name: two heads
input: [32, 32, 3]
outputs: [feat, head]
layers:
  - conv: {filters: 8, kernel: 3, padding: 1}
    name: feat
  - maxpool: {kernel: 2}
  - conv: {filters: 16, kernel: 3, padding: 1}
  - from: feat
  - conv: {filters: 4, kernel: 1}
    name: head
"""


def tensor_reads(report) -> Tuple[Dict[int, str], List[Tuple[int, int]]]:
    """From the JSON report: each tensor's name (0: 'input') and every (tensor, layer) read."""
    data = json.loads(to_json(report))
    names = {0: "input", **{entry["index"]: entry["full_name"] for entry in data["layers"]}}
    return names, [(s, entry["index"]) for entry in data["layers"] for s in entry["sources"]]


def assert_draws_every_read(svg: str, report, cls: str) -> None:
    root = ET.fromstring(svg)
    holder: Dict[int, str] = {}
    for g in root.iter(f"{SVG}g"):
        if cls in g.get("class", "").split():
            first, last = map(int, g.get("data-layers").split())
            for k in range(first, last + 1):
                assert k not in holder, f"tensor {k} in two boxes"
                holder[k] = g.get("data-name")
    names, reads = tensor_reads(report)
    assert set(holder) == set(names), "every tensor is in a box"
    expected: Set[Tuple[str, str]] = {(names[s], names[t]) for s, t in reads if holder[s] != holder[t]}
    drawn = Counter()
    for el in root.iter():
        if el.get("data-from") is not None:
            for t in el.get("data-to").split(" "):
                drawn[(el.get("data-from"), t)] += 1
    assert set(drawn) == expected
    assert all(n == 1 for n in drawn.values()), [k for k, n in drawn.items() if n > 1]
    # and every wire stays inside the picture
    _, _, vw, vh = map(float, root.get("viewBox").split())
    for p in root.iter(f"{SVG}path"):
        if p.get("data-from") is not None:
            for point in p.get("d")[1:].split(" L"):
                x, y = map(float, point.split(","))
                assert 0 <= x <= vw and 0 <= y <= vh, (p.get("data-from"), p.get("data-to"), point)


def hidden_reports():
    return [analyse(load(s)) for s in HIDDEN]


@pytest.mark.parametrize("name", catalog.names())
@pytest.mark.parametrize("options", [{}, {"every_layer": True}, {"depth": 0}])
def test_blocks_draw_every_read_of_every_bundled_network(name, options):
    report = analyse(load(name))
    assert_draws_every_read(blocks_svg(report, **options), report, "box")


@pytest.mark.parametrize("name", ["googlenet", "shufflenet_v2_x1_0", "resnet50_fpn", "densenet121", "maxvit_t"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_each_block_is_drawn_once_at_every_depth(name, depth):
    """A block collapsed at ``depth`` holds its own merge: `draw googlenet --depth 1` drew
    inception3a and then inception3a.concat, one tensor in two boxes."""
    report = analyse(load(name))
    assert_draws_every_read(blocks_svg(report, depth=depth), report, "box")
    assert_draws_every_read(lenet_svg(report, depth=depth), report, "stack")


@pytest.mark.parametrize("spec", HIDDEN)
@pytest.mark.parametrize("layout", ["auto", "rows"])
def test_blocks_draw_every_read_of_hand_made_graphs(spec, layout):
    report = analyse(load(spec))
    assert_draws_every_read(blocks_svg(report, layout=layout), report, "box")
    assert_draws_every_read(blocks_svg(report, layout=layout, every_layer=True, width=400), report, "box")


def test_several_outputs(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(OUTPUTS, encoding="utf-8")
    report = analyse(load(str(path)))
    assert_draws_every_read(blocks_svg(report), report, "box")


def test_the_issues_reproduction_draws_conv3_reading_a():
    """conv3 reads a (30x30): no kernel of conv3 on conv2's 13x13 box, an arrow from a instead."""
    root = ET.fromstring(blocks_svg(analyse(load(HIDDEN[0]))))
    kernels = {(g.get("data-from"), g.get("data-to")) for g in root.iter(f"{SVG}g") if g.get("class") == "kernel"}
    assert kernels == {("input", "a"), ("a", "conv2")}
    arrows = {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path") if p.get("data-from")}
    assert arrows == {("a", "conv3")}


def boxes_by_name(svg: str) -> Dict[str, Tuple[float, float, float, float]]:
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG}g"):
        if "box" in g.get("class", "").split():
            x, y, w, h = map(float, g.get("data-bbox").split())
            out[g.get("data-name")] = (x, y, w, h)
    return out


def test_resnet50_fpn_draws_its_laterals_and_top_down_path_and_no_phantom_edge():
    report = analyse(load("resnet50_fpn"))
    svg = blocks_svg(report)
    pairs = {(el.get("data-from"), t) for el in ET.fromstring(svg).iter() if el.get("data-from")
             for t in el.get("data-to").split(" ")}
    froms = {(a, b.split(".")[0] + "." + b.split(".")[1]) for a, b in pairs}
    assert ("body.layer3.5.relu", "fpn.lat4") in froms or any(a.startswith("body.layer3") and b == "fpn.lat4"
                                                              for a, b in froms)
    assert not any(a.startswith("fpn.p5") and b == "fpn.lat4" for a, b in froms)  # the issue's phantom
    assert any(a.startswith("fpn.p5") and b == "fpn.pool" for a, b in froms)
    assert any(a.startswith("fpn.lat5") and b == "fpn.up4" for a, b in froms)  # top-down


@pytest.mark.parametrize("name, skips", [("unet", 4), ("resnet50_fpn", 3), (HIDDEN[1], 1), (HIDDEN[9], 0)])
def test_encoder_decoders_come_out_u_shaped(name, skips):
    """Encoder and decoder maps of one size at one height, the skips horizontal between them (the
    LR-ASPP-like graph's concat reads its upsampled map too, which stands in the way: a dashed reference)."""
    svg = blocks_svg(analyse(load(name)))
    root = ET.fromstring(svg)
    box = boxes_by_name(svg)
    straight = [p for p in root.iter(f"{SVG}path") if "skip" in p.get("class", "").split()]
    assert len(straight) >= skips
    for p in straight:
        x1, y1, x2, y2 = map(float, p.get("data-ends").split())
        assert abs(y1 - y2) < 0.05 and x2 > x1  # straight across, left to right
    # a row per level: encoder and decoder maps of one level side by side
    levels = {g.get("data-name"): int(g.get("data-level")) for g in root.iter(f"{SVG}g")
              if "box" in g.get("class", "").split()}
    by_level: Dict[int, List[str]] = {}
    for n, lv in levels.items():
        by_level.setdefault(lv, []).append(n)
    tops = sorted(by_level)
    for lv in tops:  # rows never overlap and a deeper level is lower
        assert all(max(box[n][1] + box[n][3] for n in by_level[lv]) < min(box[m][1] for m in by_level[deeper])
                   for deeper in tops if deeper > lv)
    assert len(tops) >= 2


@pytest.mark.parametrize("spec", ["vgg16", "resnet18", "googlenet", HIDDEN[0], HIDDEN[2]])
def test_no_u_shape_without_an_encoder_decoder(spec):
    root = ET.fromstring(blocks_svg(analyse(load(spec))))
    assert not [p for p in root.iter(f"{SVG}path") if "skip" in p.get("class", "").split()]
    assert "encoder–decoder" not in "".join(t.text or "" for t in root.iter(f"{SVG}text"))


def test_the_rows_layout_can_be_asked_for():
    root = ET.fromstring(blocks_svg(analyse(load("unet")), layout="rows"))
    assert "encoder–decoder" not in "".join(t.text or "" for t in root.iter(f"{SVG}text"))


def test_a_folded_residual_block_says_so():
    root = ET.fromstring(blocks_svg(analyse(load("resnet18")), depth=1))
    said = [t.text for t in root.iter(f"{SVG}text") if "residual" in (t.text or "")]
    assert said and all("⊕" in s for s in said)


# --- the lenet style ---------------------------------------------------------------------------

SEQUENCES = {"vit_b_16"}  # networks that make token sequences, which the lenet style refuses


@pytest.mark.parametrize("name", sorted(set(catalog.names()) - SEQUENCES))
@pytest.mark.parametrize("options", [{}, {"every_layer": True}])
def test_lenet_draws_every_read_of_every_bundled_network(name, options):
    report = analyse(load(name))
    assert_draws_every_read(lenet_svg(report, **options), report, "stack")


@pytest.mark.parametrize("spec", HIDDEN)
@pytest.mark.parametrize("layout", ["auto", "rows"])
def test_lenet_draws_every_read_of_hand_made_graphs(spec, layout):
    report = analyse(load(spec))
    assert_draws_every_read(lenet_svg(report, layout=layout), report, "stack")
    assert_draws_every_read(lenet_svg(report, layout=layout, every_layer=True, width=400), report, "stack")


def test_lenet_draws_the_issues_reproduction_truthfully():
    root = ET.fromstring(lenet_svg(analyse(load(HIDDEN[0]))))
    windows = {(g.get("data-from"), g.get("data-to")) for g in root.iter(f"{SVG}g") if g.get("class") == "window"}
    assert windows == {("input", "a"), ("a", "conv2")}
    assert {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path") if p.get("data-from")} == \
        {("a", "conv3")}
    # the operation under the gap before conv3 says what it works on: not conv2, the stack left of it
    ops = {g.get("data-name"): [t.text for t in g.iter(f"{SVG}text")] for g in root.iter(f"{SVG}g")
           if g.get("class") == "op"}
    assert ops["conv3"] == ["Convolutions", "1x1", "on a"] and not any(t.startswith("on ") for t in ops["conv2"])


@pytest.mark.parametrize("name", ["unet", "resnet50_fpn"])
def test_lenet_draws_encoder_decoders_u_shaped(name):
    root = ET.fromstring(lenet_svg(analyse(load(name))))
    straight = [p for p in root.iter(f"{SVG}path") if "skip" in p.get("class", "").split()]
    assert len(straight) >= 3
    for p in straight:
        x1, y1, x2, y2 = map(float, p.get("data-ends").split())
        assert abs(y1 - y2) < 0.05 and x2 > x1


def test_lenet_refuses_token_sequences_and_points_to_another_style():
    from test_hostile import assert_clean, run

    with pytest.raises(ConvcalcError) as caught:
        lenet_svg(analyse(load("vit_b_16")))
    assert "196 tokens of 768" in caught.value.message and "--style blocks" in caught.value.hint
    result = run("draw", "vit_b_16", "--style", "lenet")
    assert_clean(result, codes=(2,))
    assert "vit_b_16.yaml:" in result.output and "--style graph" in result.output


def test_cli_layout_rows_draws_unet_in_rows_and_auto_u_shaped():
    from test_hostile import assert_clean, run

    for style in ("blocks", "lenet"):
        u = run("draw", "unet", "--style", style)
        rows = run("draw", "unet", "--style", style, "--layout", "rows")
        assert_clean(u, codes=(0,))
        assert_clean(rows, codes=(0,))
        assert "connector skip" in u.output and "connector skip" not in rows.output


@pytest.mark.parametrize("draw", [blocks_svg, lenet_svg])
def test_unet_draws_its_skips_and_crop4_reads_enc4(draw):
    """The issue's U-Net: no skip was drawn and crop4 seemed to read up4."""
    root = ET.fromstring(draw(analyse(load("unet"))))
    pairs = {(el.get("data-from"), t) for el in root.iter() if el.get("data-from") for t in el.get("data-to").split()}
    into_crop4 = [a for a, b in pairs if b == "crop4"]
    assert len(into_crop4) == 1 and into_crop4[0].startswith("enc4.")
    for k in (1, 2, 3, 4):
        assert any(a.startswith(f"enc{k}.") and b == f"crop{k}" for a, b in pairs)


# --- nothing drawn over a label ------------------------------------------------------------------


def label_boxes(root) -> List[Tuple[float, float, float, float, str]]:
    """Each label's extent as the layout reckons it (``text_width``; the baseline at y, 0.8 of the
    size above it, 0.2 below); the conventions paragraph, wrapped on its own, left out."""
    from convcalc.draw.blocks import text_width

    boxes = []
    for t in root.iter(f"{SVG}text"):
        if t.get("class") == "conventions":
            continue
        said, size = "".join(t.itertext()), float(t.get("font-size"))
        x, y, w = float(t.get("x")), float(t.get("y")), text_width(said, size)
        x0 = {"middle": x - w / 2, "end": x - w}.get(t.get("text-anchor") or "start", x)
        boxes.append((x0, y - 0.8 * size, x0 + w, y + 0.2 * size, said))
    return boxes


def runs_through(a: Tuple[float, float], b: Tuple[float, float], box) -> bool:
    """Whether the straight segment a-b (wires run level or plumb) crosses into ``box``."""
    (x1, y1), (x2, y2) = a, b
    left, top, right, bottom = box[:4]
    if abs(y1 - y2) < 0.01:
        return top < y1 < bottom and max(min(x1, x2), left) < min(max(x1, x2), right) - 0.5
    if abs(x1 - x2) < 0.01:
        return left < x1 < right and max(min(y1, y2), top) < min(max(y1, y2), bottom) - 0.5
    return False


@pytest.mark.parametrize("name", catalog.names())
def test_no_wire_runs_through_a_label_and_no_labels_overlap(name):
    """What the PNGs were looked at for, at the default width and at 800 px, U-shaped and in rows
    (how a U too wide for --width 800 is drawn)."""
    report = analyse(load(name))
    pictures = []
    for draw in (blocks_svg, lenet_svg):
        for width, layout in ((1400, "auto"), (800, "auto"), (800, "rows")):
            try:
                pictures.append(draw(report, width=width, layout=layout))
            except ConvcalcError:  # lenet refuses token sequences
                continue
    for svg in pictures:
        root = ET.fromstring(svg)
        labels = label_boxes(root)
        for path in root.iter(f"{SVG}path"):
            if path.get("data-from") is None or "connector" not in path.get("class", ""):
                continue
            points = [tuple(map(float, p.split(","))) for p in path.get("d")[1:].split(" L")]
            for a, b in zip(points, points[1:]):
                through = [box[4] for box in labels if runs_through(a, b, box)]
                assert not through, (path.get("data-from"), path.get("data-to"), through)
        for k, a in enumerate(labels):
            for b in labels[k + 1:]:
                assert not (a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1), (a[4], b[4])


def test_lenet_names_a_block_in_words():
    """Under the gap before a block the lenet style wrote its template's name: DOUBLE_CONV,
    BOTTLENECK_PROJ, INCEPTION (concat, 4 branches)."""
    said = []
    for name in ("unet", "resnet50", "googlenet"):
        root = ET.fromstring(lenet_svg(analyse(load(name))))
        said += [next(g.iter(f"{SVG}text")).text for g in root.iter(f"{SVG}g") if g.get("class") == "op"]
    assert {"Double conv", "Bottleneck", "Inception (concat, 4 branches)"} <= set(said)
    assert "Bottleneck proj" not in said  # named as the legends name it (draw/names.py): one name, one kind
    assert not [s for s in said if "_" in s or s.isupper()]


@pytest.mark.parametrize("draw", [blocks_svg, lenet_svg])
def test_fpns_pool_sits_by_p5_not_after_the_whole_decoder(draw):
    """resnet50_fpn's pool (P6, read from P5) was drawn at the far right of the U, its one wire
    running under the whole decoder; it goes just right of P5, a level down, by an elbow."""
    root = ET.fromstring(draw(analyse(load("resnet50_fpn"))))
    left = {g.get("data-name"): float(g.get("data-bbox").split()[0]) for g in root.iter(f"{SVG}g")
            if g.get("data-name") and g.get("data-bbox")}
    assert left["fpn.p5"] < left["fpn.pool"] < left["fpn.up4"]
    wire = [p for p in root.iter(f"{SVG}path") if p.get("data-to") == "fpn.pool"]
    assert [p.get("class") for p in wire] == ["connector step"]


@pytest.mark.parametrize("name", catalog.names())
def test_a_block_kind_never_shares_a_colour_with_another_kind(name):
    """resnet50_fpn's legend showed 'block' and 'add' in one blue. Kinds of one family share a
    colour on purpose (bn and ln, tokens and cls); a block's colour is its own."""
    from convcalc.draw.blocks import KIND_COLORS

    root = ET.fromstring(blocks_svg(analyse(load(name))))
    swatches = [r.get("fill") for r in root.iter(f"{SVG}rect") if r.get("class") == "swatch"]
    kinds = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "start" and t.get("font-size") == "12"
             and t.get("class") is None and t.get("fill") is None][-len(swatches):]
    for kind, colour in zip(kinds, swatches):
        if kind not in KIND_COLORS:
            assert swatches.count(colour) == 1, (kind, colour, dict(zip(kinds, swatches)))
