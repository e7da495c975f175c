"""``convcalc draw``: SVG that parses, one box per drawn layer carrying the engine's figures, a
golden picture of LeNet-5, and the geometry's invariants (no overlaps, all inside the viewBox)."""

from __future__ import annotations

import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from test_hostile import assert_clean, run

from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.draw.blocks import FOLDED, blocks_svg
from convcalc.load import load
from convcalc.report.numbers import human
from convcalc.spec import catalog

SVG = "{http://www.w3.org/2000/svg}"


def boxes(svg: str):
    root = ET.fromstring(svg)
    return root, [g for g in root.iter(f"{SVG}g") if "box" in g.get("class", "").split()]


def test_lenet5_golden(golden):
    golden("lenet5.draw.svg", blocks_svg(analyse(load("lenet5"))))


def test_every_layer_is_one_box_named_as_the_engine_names_it():
    report = analyse(load("lenet5"))
    _, gs = boxes(blocks_svg(report, every_layer=True))
    assert [g.get("data-name") for g in gs] == ["input", *(r.full_name for r in report.layers)]
    _, gs = boxes(blocks_svg(report))  # shape-keeping layers drawn with the box before them
    assert [g.get("data-name") for g in gs] == ["input", *(r.full_name for r in report.layers
                                                            if r.layer.family not in FOLDED)]


def test_labels_carry_the_engines_figures():
    report = analyse(load("alexnet"))
    _, gs = boxes(blocks_svg(report, labels="full", every_layer=True))
    by_name = {g.get("data-name"): g for g in gs}
    for r in report.layers:
        g = by_name[r.full_name]
        assert (int(g.get("data-params")), int(g.get("data-macs")), int(g.get("data-activations"))) == \
            (r.params, r.macs, r.activations)
        texts = [t.text for t in g.iter(f"{SVG}text")]
        assert str(r.output) in texts
        assert f"{human(r.params)} params" in texts and f"{human(r.macs)} MACs" in texts
        assert f"params {r.params:,}" in g.find(f"{SVG}title").text
    root = ET.fromstring(blocks_svg(report))
    assert any(f"{report.totals.params:,} params" in (t.text or "") for t in root.iter(f"{SVG}text"))


def test_blocks_at_depth_carry_the_block_figures():
    report = analyse(load("resnet18"))
    _, gs = boxes(blocks_svg(report, depth=0))
    by_name = {g.get("data-name"): g for g in gs}
    for b in report.blocks:
        if b.depth == 0:
            assert int(by_name[b.full_name].get("data-macs")) == b.macs
            assert by_name[b.full_name].get("data-shape") == str(b.output)


def bbox(g):
    x, y, w, h = map(float, g.get("data-bbox").split())
    return x, y, x + w, y + h


def assert_apart_and_inside(root, groups) -> None:
    """The geometry every drawing style keeps: its shapes (``data-bbox``) never overlap, and
    shapes and the estimated extent of every text lie inside the viewBox."""
    _, _, vw, vh = map(float, root.get("viewBox").split())
    rects = [bbox(g) for g in groups]
    for x1, y1, x2, y2 in rects:
        assert 0 <= x1 < x2 <= vw and 0 <= y1 < y2 <= vh
    # labels too: each text's estimated extent lies inside the picture
    for t in root.iter(f"{SVG}text"):
        x, size = float(t.get("x")), float(t.get("font-size"))
        w = len(t.text) * size * 0.6  # Helvetica's widest common glyphs are about 0.6 em
        left = x - (w / 2 if t.get("text-anchor") == "middle" else 0)
        assert 0 <= left and left + w <= vw and 0 <= float(t.get("y")) <= vh, t.text
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


@pytest.mark.parametrize("name", catalog.names())
@pytest.mark.parametrize("options", [{}, {"labels": "full", "color": "macs", "scale": "sqrt"}, {"depth": 0}])
def test_geometry_boxes_never_overlap_and_stay_inside(name, options):
    assert_apart_and_inside(*boxes(blocks_svg(analyse(load(name)), **options)))


def test_a_run_keeps_its_last_box_with_a_layer_drawn_after_it():
    """ViT's final LayerNorm, drawn with the twelfth encoder layer, left that layer alone beside
    one box for the other eleven (encoder_layer_0 ×11, encoder_layer_11)."""
    _, gs = boxes(blocks_svg(analyse(load("vit_b_16"))))
    layers = [g for g in gs if "encoder_layer" in (g.get("data-name") or "")]
    assert [(g.get("data-name"), g.get("data-count")) for g in layers] == [("encoder.layers.encoder_layer_0", "12")]
    _, gs = boxes(blocks_svg(analyse(load("8x8x8 " + " ".join(["conv8k3p1 relu"] * 4) + " conv8k3p1 relu dropout"))))
    assert [g.get("data-count") for g in gs] == ["1", "5"]  # the last of a run may have more drawn with it
    _, gs = boxes(blocks_svg(analyse(load("8x8x8 conv8k3p1 relu dropout " + " ".join(["conv8k3p1 relu"] * 5)))))
    assert [g.get("data-count") for g in gs] == ["1", "1", "5"]  # only the last


def test_a_thousand_layer_chain_draws_quickly_and_collapses_repeats():
    spec = "8x8x3 " + " ".join(["conv8k3p1 relu"] * 500)
    start = time.perf_counter()
    svg = blocks_svg(analyse(load(spec)))
    assert time.perf_counter() - start < 5
    _, gs = boxes(svg)
    assert len(gs) == 3 and gs[2].get("data-count") == "499"  # input, conv1, conv2 … conv500
    varied = "8x8x3 " + " ".join(f"conv{8 + i % 7}k3p1" for i in range(1000))
    start = time.perf_counter()
    _, gs = boxes(blocks_svg(analyse(load(varied))))
    assert time.perf_counter() - start < 10
    assert len(gs) == 1001  # nothing repeats: every box drawn, in rows


def test_cli_writes_a_file_and_stdout(tmp_path):
    out = tmp_path / "net.svg"
    result = run("draw", "lenet5", "-o", str(out))
    assert_clean(result, codes=(0,))
    ET.fromstring(out.read_text(encoding="utf-8"))
    result = run("draw", "224x224x3 conv64k3p1 relu maxpool fc10", "--color", "params")
    assert result.exit_code == 0
    assert ET.fromstring(result.output).tag == f"{SVG}svg"


def test_cli_bad_output_path_is_a_clean_error(tmp_path):
    result = run("draw", "lenet5", "-o", str(tmp_path / "no" / "such" / "dir.svg"))
    assert_clean(result, codes=(2,))
    assert "cannot write" in result.output


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert not installed")
def test_a_real_renderer_reads_it(tmp_path):
    svg = tmp_path / "vgg16.svg"
    svg.write_text(blocks_svg(analyse(load("vgg16"))), encoding="utf-8")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(tmp_path / "vgg16.png")], check=True, timeout=60)
    assert (tmp_path / "vgg16.png").stat().st_size > 1000


@pytest.mark.parametrize("name, args", [("vgg16", {}), ("resnet18-macs", {"color": "macs", "labels": "full"}),
                                        ("unet", {})])
def test_readme_pictures_are_what_the_commands_write(name, args, request):
    """docs/*.svg, shown in the README, stay what `convcalc draw` writes (rewritten by --update-goldens)."""
    from pathlib import Path

    path = Path(__file__).parent.parent / "docs" / f"{name}.svg"
    svg = blocks_svg(analyse(load(name.split("-")[0])), **args)
    if request.config.getoption("--update-goldens"):
        path.write_text(svg, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == svg, "docs picture is stale; pytest --update-goldens"


@pytest.mark.parametrize("name", ["lenet5", "alexnet"])
def test_each_conv_and_pool_box_carries_its_kernel_cube_inside_the_box_it_reads(name):
    report = analyse(load(name))
    layers = {r.full_name: r for r in report.layers}
    _, gs = boxes(blocks_svg(report))
    for before, g in zip(gs, gs[1:]):
        cubes = [k for k in g.iter(f"{SVG}g") if k.get("class") == "kernel"]
        rule = layers[g.get("data-name")].layer
        if g.get("data-kind") in ("conv", "pool"):
            k = rule.kernel * (2 if len(rule.kernel) == 1 else 1)
            assert [c.get("data-kernel") for c in cubes] == ["x".join(map(str, k))], g.get("data-name")
            x1, y1, x2, y2 = bbox(cubes[0])
            bx1, by1, bx2, by2 = bbox(before)
            assert bx1 <= x1 < x2 <= bx2 + 0.05 and by1 <= y1 < y2 <= by2 + 0.05
        else:
            assert cubes == [], g.get("data-name")
    if name == "lenet5":
        assert [c.get("data-kernel") for c in ET.fromstring(blocks_svg(report)).iter(f"{SVG}g")
                if c.get("class") == "kernel"] == ["5x5", "2x2", "5x5", "2x2"]


def test_kernel_cubes_where_they_help_or_as_asked():
    def cubes(svg):
        return sum(1 for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "kernel")

    lenet = analyse(load("lenet5"))
    assert cubes(blocks_svg(lenet, kernels=False)) == 0
    long = analyse(load("8x8x3 " + " ".join(f"conv{8 + i % 7}k3p1" for i in range(40))))
    assert cubes(blocks_svg(long)) == 0
    # asked for: a cube on each conv's input box on its row; a read wrapping to the next row an arrow
    svg = blocks_svg(long, kernels=True)
    rows = svg.count('class="connector wrap"')
    assert rows > 0 and cubes(svg) + rows == 40
    assert run("draw", "lenet5", "--no-kernels").output.count('class="kernel"') == 0
    assert run("draw", "lenet5", "--kernels").output.count('class="kernel"') == 4


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert not installed")
def test_png_by_the_system_renderer(tmp_path):
    out = tmp_path / "lenet5.png"
    assert_clean(run("draw", "lenet5", "-o", str(out)), codes=(0,))  # the suffix implies --format png
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    result = CliRunner().invoke(cli, ["draw", "lenet5", "--format", "png", "--style", "lenet"])
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"\x89PNG")


def test_png_without_a_renderer_is_a_clear_error(tmp_path, monkeypatch):
    import convcalc.draw.raster

    monkeypatch.setattr(convcalc.draw.raster.shutil, "which", lambda name: None)
    out = tmp_path / "net.png"
    for args in (["-o", str(out)], ["--format", "png"]):
        result = run("draw", "lenet5", *args)
        assert_clean(result, codes=(2,))
        assert "rsvg-convert" in result.output and "librsvg2-bin" in result.output
    assert not out.exists()
    assert_clean(run("draw", "lenet5", "-o", str(tmp_path / "net.svg")), codes=(0,))  # SVG needs nothing


@pytest.mark.parametrize("name", ["densenet121", "resnet152"])
@pytest.mark.parametrize("style", ["blocks", "graph", "lenet"])
def test_big_networks_draw_in_each_style_quickly(name, style):
    """DenseNet-121's 58 dense layers and ResNet-152's 50 bottlenecks give a picture, not a hang
    (a generous bound; the drawing is linear in layers: about 0.2 s here)."""
    start = time.perf_counter()
    result = run("draw", name, "--style", style)
    assert time.perf_counter() - start < 20
    assert_clean(result, codes=(0,))
    root = ET.fromstring(result.output)
    assert len([g for g in root.iter(f"{SVG}g") if g.get("data-name")]) > 10
