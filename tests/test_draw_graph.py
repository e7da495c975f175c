"""``convcalc draw --style graph``: SVG that parses, one node per drawn layer or block carrying the
engine's labels, one edge per (source, reader) pair drawn, each edge from a node box to a node
box, no two boxes overlapping, several outputs marked, and a golden picture of a small residual
network."""

from __future__ import annotations

import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

import pytest
from test_hostile import assert_clean, run

from convcalc.analysis.engine import analyse
from convcalc.draw.graph import graph_svg
from convcalc.load import load
from convcalc.spec import catalog

SVG = "{http://www.w3.org/2000/svg}"
SMALL = "32x32x3 conv8k3p1 res(conv8k3p1 bn relu conv8k3p1 bn) relu cat(conv4k1 | conv4k3p1 | maxpool3s1p1 conv4k1)"
CASES = [("resnet18", None), ("resnet18", 3), ("googlenet", 1), ("googlenet", None), ("unet", None),
         ("resnet50_fpn", None), ("resnet50_fpn", 1), ("vit_b_16", None), (SMALL, None), (SMALL, 0)]


def parse(svg: str):
    root = ET.fromstring(svg)
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    edges = [p for p in root.iter(f"{SVG}path") if "edge" in p.get("class", "").split()]
    return root, nodes, edges


def folds(root):
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "fold"]


def bbox(g) -> Tuple[float, float, float, float]:
    x, y, w, h = map(float, g.get("data-bbox").split())
    return x, y, x + w, y + h


def pairs_drawn(report, nodes, folds=()) -> set:
    """(source node, reader node) for every tensor a layer reads, nodes found by the layer
    ranges they say they cover; computed apart from the renderer's own edge list. A run of
    identical blocks drawn once (``folds``: its frames) stands for its later copies' layers
    ``data-hidden`` a..b: their reads are not drawn, and the last copy's output b is the first
    copy's, a - 1, drawn."""
    owner: Dict[int, str] = {}
    for g in nodes:
        first, last = map(int, g.get("data-layers").split())
        for i in range(first, last + 1):
            assert i not in owner, f"layer {i} drawn twice"
            owner[i] = g.get("data-name")
    hidden = set()
    for f in folds:
        a, b = map(int, f.get("data-hidden").split())
        assert not any(i in owner for i in range(a, b + 1)), "a copy drawn"
        hidden |= set(range(a, b + 1))
        owner[b] = owner[a - 1]
    assert sorted(set(owner) | hidden) == list(range(len(report.layers) + 1)), "every layer drawn once"
    return {(owner[s], owner[r.index]) for r in report.layers if r.index not in hidden for s in r.sources
            if owner[s] != owner[r.index]}


@pytest.mark.parametrize("spec, depth", CASES)
def test_graph_invariants(spec: str, depth: Optional[int]):
    report = analyse(load(spec))
    start = time.perf_counter()
    svg = graph_svg(report, depth=depth)
    assert time.perf_counter() - start < 5
    root, nodes, edges = parse(svg)
    _, _, vw, vh = map(float, root.get("viewBox").split())
    names = [g.get("data-name") for g in nodes]
    assert len(names) == len(set(names)) and names[0] == "input"
    # one edge per (source box, reader box) pair, each from its source's box to its reader's box
    # (its data-from and data-to, the tensors and readers by name, are tests/test_draw_graph_lanes.py's)
    pairs = pairs_drawn(report, nodes, folds(root))
    assert len(edges) == len(pairs)
    boxes = {g.get("data-name"): bbox(g) for g in nodes}

    def on(point: Tuple[float, float], box: Tuple[float, float, float, float]) -> bool:
        x, y = point
        return box[0] - 0.2 <= x <= box[2] + 0.2 and box[1] - 0.2 <= y <= box[3] + 0.2

    def box_at(point: Tuple[float, float]) -> str:
        (name,) = [n for n, b in boxes.items() if on(point, b)]
        return name

    ends = []
    for p in edges:
        x1, y1, x2, y2 = map(float, p.get("data-ends").split())
        ends.append((box_at((x1, y1)), box_at((x2, y2))))
        assert p.get("d").startswith(f"M{x1:.1f},{y1:.1f}") and p.get("d").endswith(f"{x2:.1f},{y2:.1f}")
    assert set(ends) == pairs
    rects: List[Tuple[float, float, float, float]] = list(boxes.values())
    for x1, y1, x2, y2 in rects:
        assert 0 <= x1 < x2 <= vw and 0 <= y1 < y2 <= vh
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for t in root.iter(f"{SVG}text"):  # every text inside the picture
        x, size = float(t.get("x")), float(t.get("font-size"))
        w = len(t.text) * size * 0.6
        left = x - {"middle": w / 2, "end": w}.get(t.get("text-anchor"), 0)
        assert 0 <= left and left + w <= vw and 0 <= float(t.get("y")) <= vh, t.text


def test_labels_are_the_engines():
    report = analyse(load(SMALL))
    _, nodes, _ = parse(graph_svg(report))
    by_name = {r.full_name: r for r in report.layers}
    for g in nodes[1:]:
        r = by_name[g.get("data-name")]
        texts = {t.get("class"): t.text for t in g.iter(f"{SVG}text")}
        assert texts["label"] == r.layer.describe() == g.get("data-label")
        assert texts["shape"] == str(r.output) == g.get("data-shape")
    # the residual add is a circle with ⊕, the concat one with ‖
    merges = {g.get("data-name"): g for g in nodes if g.find(f"{SVG}circle") is not None}
    symbols = {n: [t.text for t in g.iter(f"{SVG}text") if t.get("class") == "symbol"] for n, g in merges.items()}
    assert symbols == {"res1.add": ["⊕"], "concat1.concat": ["‖"]}


def test_collapsed_blocks_carry_the_block_figures():
    report = analyse(load("googlenet"))
    _, nodes, _ = parse(graph_svg(report, depth=0))
    by_name = {g.get("data-name"): g for g in nodes}
    for b in report.blocks:
        if b.kind == "inception":
            g = by_name[b.full_name]
            assert (g.get("data-label"), g.get("data-shape"), int(g.get("data-macs"))) == (b.label, str(b.output), b.macs)
            assert g.get("data-layers") == f"{b.first} {b.last}"  # its concat drawn in it


def test_branches_side_by_side_and_shortcut_at_the_side():
    _, nodes, edges = parse(graph_svg(analyse(load(SMALL))))
    box = {g.get("data-name"): bbox(g) for g in nodes}
    firsts = [box[n] for n in ("concat1.b1.conv1", "concat1.b2.conv1", "concat1.b3.pool1")]
    assert len({b[1] for b in firsts}) == 1 and firsts[0][2] < firsts[1][0] < firsts[1][2] < firsts[2][0]
    shortcut = [p for p in edges if "shortcut" in p.get("class").split()]
    assert [(p.get("data-from"), p.get("data-to")) for p in shortcut] == [("conv1", "res1.add")]


def test_every_output_is_marked():
    report = analyse(load("resnet50_fpn"))
    _, nodes, _ = parse(graph_svg(report))
    marked = {g.get("data-name"): [t.text for t in g.iter(f"{SVG}text") if t.get("class") == "output"] for g in nodes}
    marked = {k: v for k, v in marked.items() if v}
    assert len(report.outputs) == 5
    assert sorted(v[0] for v in marked.values()) == sorted(f"output {o.name}" for o in report.outputs)


def test_small_residual_golden(golden):
    golden("residual.graph.svg", graph_svg(analyse(load(SMALL))))


@pytest.mark.parametrize("name", catalog.names())
def test_every_bundled_network_draws(name):
    root, nodes, edges = parse(graph_svg(analyse(load(name))))
    assert nodes and root.tag == f"{SVG}svg"


def test_a_thousand_layer_chain_grows_tall_quickly():
    spec = "8x8x3 " + " ".join(f"conv{8 + i % 7}k3p1" for i in range(1000))
    start = time.perf_counter()
    _, nodes, edges = parse(graph_svg(analyse(load(spec))))
    assert time.perf_counter() - start < 10
    assert len(nodes) == 1001 and len(edges) == 1000


def test_cli_graph_style(tmp_path):
    out = tmp_path / "net.svg"
    result = run("draw", SMALL, "--style", "graph", "-o", str(out))
    assert_clean(result, codes=(0,))
    assert parse(out.read_text(encoding="utf-8"))[1]
    result = run("draw", "resnet18", "--style", "graph", "--depth", "1", "--color", "macs")
    assert result.exit_code == 0 and ET.fromstring(result.output).tag == f"{SVG}svg"


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert not installed")
def test_a_real_renderer_reads_it(tmp_path):
    svg = tmp_path / "fpn.svg"
    svg.write_text(graph_svg(analyse(load("resnet50_fpn")), depth=1), encoding="utf-8")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(tmp_path / "fpn.png")], check=True, timeout=60)
    assert (tmp_path / "fpn.png").stat().st_size > 1000


def test_readme_picture_is_what_the_command_writes(request):
    """docs/fpn-graph.svg, shown in the README, stays what `convcalc draw` writes (rewritten by --update-goldens)."""
    from pathlib import Path

    path = Path(__file__).parent.parent / "docs" / "fpn-graph.svg"
    svg = graph_svg(analyse(load("resnet50_fpn")), depth=1)
    if request.config.getoption("--update-goldens"):
        path.write_text(svg, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == svg, "docs picture is stale; pytest --update-goldens"
