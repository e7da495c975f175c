"""``convcalc draw --style lenet``: LeNet-5's Fig. 2 look. SVG that parses, one stack per drawn
layer labelled with the engine's shapes, the paper's operations in order, a golden LeNet-5, and
the geometry's invariants (stacks never overlap, everything inside the viewBox)."""

from __future__ import annotations

import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
from test_draw import assert_apart_and_inside
from test_hostile import assert_clean, run

from convcalc.analysis.engine import analyse
from convcalc.draw.blocks import FOLDED
from convcalc.draw.lenet import lenet_svg
from convcalc.load import load
from convcalc.spec import catalog

SVG = "{http://www.w3.org/2000/svg}"


def stacks(svg: str):
    root = ET.fromstring(svg)
    return root, [g for g in root.iter(f"{SVG}g") if g.get("class") == "stack"]


def texts(g, cls):
    return [t.text for t in g.iter(f"{SVG}text") if t.get("class") == cls]


def test_lenet5_golden(golden):
    golden("lenet5.lenet.svg", lenet_svg(analyse(load("lenet5"))))


def test_one_stack_per_drawn_layer_labelled_with_the_reports_shape():
    report = analyse(load("lenet5"))
    _, gs = stacks(lenet_svg(report))
    drawn = [r for r in report.layers if r.layer.family not in FOLDED]
    assert [g.get("data-name") for g in gs] == ["input", *(r.full_name for r in drawn)]
    counts = {g.get("data-name"): texts(g, "count") for g in gs}
    assert counts["c1"] == ["6@28x28"] and counts["s4"] == ["16@5x5"] and counts["f6"] == ["84"]
    for r in drawn:  # every label is the LayerReport's output, written C@HxW
        o = r.output
        want = f"{o.channels}@" + "x".join(map(str, o.spatial)) if o.spatial else str(o.channels)
        assert counts[r.full_name] == [want]
        assert next(g for g in gs if g.get("data-name") == r.full_name).get("data-shape") == str(o)


def test_lenet5_operations_read_as_the_paper_does():
    root = ET.fromstring(lenet_svg(analyse(load("lenet5"))))
    ops = [g.get("data-op") for g in root.iter(f"{SVG}g") if g.get("class") == "op"]
    assert ops == ["Convolutions", "Subsampling", "Convolutions", "Subsampling",
                   "Full connection", "Full connection", "Full connection"]
    windows = [g for g in root.iter(f"{SVG}g") if g.get("class") == "window"]
    assert len(windows) == 4  # c1, s2, c3, s4 have kernels and a map before them


@pytest.mark.parametrize("name", [n for n in catalog.names() if n != "vit_b_16"])  # ViT's tokens are refused
@pytest.mark.parametrize("options", [{}, {"scale": "log", "labels": "full", "color": "macs", "width": 600}])
def test_geometry_stacks_never_overlap_and_stay_inside(name, options):
    assert_apart_and_inside(*stacks(lenet_svg(analyse(load(name)), **options)))


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "zfnet"])
def test_chains_draw_in_bounded_time(name):
    start = time.perf_counter()
    _, gs = stacks(lenet_svg(analyse(load(name))))
    assert time.perf_counter() - start < 5
    assert len(gs) > 10


def test_cli_style_lenet_writes_a_file(tmp_path):
    out = tmp_path / "lenet5.svg"
    result = run("draw", "lenet5", "--style", "lenet", "-o", str(out))
    assert_clean(result, codes=(0,))
    _, gs = stacks(out.read_text(encoding="utf-8"))
    assert len(gs) == 8


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert not installed")
def test_a_real_renderer_reads_it(tmp_path):
    svg = tmp_path / "alexnet.svg"
    svg.write_text(lenet_svg(analyse(load("alexnet"))), encoding="utf-8")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(tmp_path / "alexnet.png")], check=True, timeout=60)
    assert (tmp_path / "alexnet.png").stat().st_size > 1000


def test_readme_picture_is_what_the_command_writes(request):
    """docs/lenet5-lenet.svg, shown in the README, stays what `convcalc draw lenet5 --style lenet`
    writes (rewritten by --update-goldens)."""
    from pathlib import Path

    path = Path(__file__).parent.parent / "docs" / "lenet5-lenet.svg"
    result = run("draw", "lenet5", "--style", "lenet")
    assert_clean(result, codes=(0,))
    if request.config.getoption("--update-goldens"):
        path.write_text(result.output, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == result.output, "docs picture is stale; pytest --update-goldens"
