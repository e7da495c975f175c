"""Report-ready output (issue 21, item 4): ``draw -o`` writes what its extension names (SVG, PNG,
PDF) or refuses, a PNG at ``--zoom``, ``--title`` and ``--no-caption`` in every style, ``--width``
honoured or refused, and ``table -o`` for every format, chosen by the extension as draw's is."""

from __future__ import annotations

import re
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_hostile import assert_clean, run

SVG = "{http://www.w3.org/2000/svg}"
STYLES = ["blocks", "graph", "lenet"]
needs_renderer = pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert not installed")


def size_of(svg: str) -> tuple:
    root = ET.fromstring(svg)
    return float(root.get("width")), float(root.get("height"))


def texts(svg: str, size: str = "") -> list:
    """The picture's texts; with ``size``, those of that size written from the left margin (the
    title's lines are 18 px there; the graph style's merge symbols, 18 px too, are centred)."""
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")
            if not size or (t.get("font-size") == size and t.get("text-anchor") == "start")]


# --- -o FILE: the extension says what is written ------------------------------------------------


def test_an_unknown_extension_is_refused_with_the_list_and_nothing_written(tmp_path: Path):
    """`draw vgg16 -o out.jpg` wrote SVG into out.jpg and exited 0."""
    for command in ("draw", "table"):
        out = tmp_path / f"out-{command}.jpg"
        result = run(command, "lenet5", "-o", str(out))
        assert_clean(result, codes=(2,))
        assert "'.jpg'" in result.output and ".svg" in result.output
        assert (".png" in result.output) == (command == "draw") and (".csv" in result.output) == (command == "table")
        assert not out.exists()


def test_format_must_agree_with_a_known_extension(tmp_path: Path):
    for command, name, fmt in (("draw", "net.png", "svg"), ("draw", "net.svg", "pdf"), ("table", "t.csv", "json")):
        result = run(command, "lenet5", "-o", str(tmp_path / name), "--format", fmt)
        assert_clean(result, codes=(2,))
        assert f"--format is {fmt}" in result.output
        assert not (tmp_path / name).exists()


def test_format_names_what_an_unknown_or_missing_extension_is(tmp_path: Path):
    assert_clean(run("draw", "lenet5", "-o", str(tmp_path / "figure.tmp"), "--format", "svg"), codes=(0,))
    ET.parse(tmp_path / "figure.tmp")
    assert_clean(run("table", "lenet5", "-o", str(tmp_path / "noext"), "--format", "csv"), codes=(0,))
    assert (tmp_path / "noext").read_text(encoding="utf-8") == run("table", "lenet5", "--format", "csv").output
    assert_clean(run("draw", "lenet5", "-o", str(tmp_path / "PLAIN")), codes=(0,))  # no extension: SVG
    ET.parse(tmp_path / "PLAIN")


@needs_renderer
def test_pdf_by_extension_or_format(tmp_path: Path):
    out = tmp_path / "lenet5.PDF"  # the extension in any case
    assert_clean(run("draw", "lenet5", "-o", str(out)), codes=(0,))
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    result = run("draw", "lenet5", "--format", "pdf", "--style", "graph")
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"%PDF-")


def test_a_pdf_page_over_200_inches_is_warned_of():
    from convcalc.draw.raster import pdf_note

    def svg_of(width: int, height: int) -> str:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"/>'

    assert pdf_note(svg_of(1400, 19_200)) == ""  # 14,400 pt: the largest page Acrobat opens
    assert "Acrobat" in pdf_note(svg_of(400, 19_201)) and "--depth" in pdf_note(svg_of(40_000, 400))


def test_pdf_without_a_renderer_is_a_clear_error(tmp_path: Path, monkeypatch):
    import convcalc.draw.raster

    monkeypatch.setattr(convcalc.draw.raster.shutil, "which", lambda name: None)
    out = tmp_path / "net.pdf"
    result = run("draw", "lenet5", "-o", str(out))
    assert_clean(result, codes=(2,))
    assert "--format pdf needs the 'rsvg-convert' program" in result.output and "librsvg2-bin" in result.output
    assert not out.exists()


def png_size(data: bytes) -> tuple:
    assert data.startswith(b"\x89PNG")
    return struct.unpack(">II", data[16:24])  # the IHDR chunk


@needs_renderer
def test_zoom_draws_a_png_that_many_times_larger(tmp_path: Path):
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    assert_clean(run("draw", "lenet5", "-o", str(one)), codes=(0,))
    assert_clean(run("draw", "lenet5", "-o", str(two), "--zoom", "2"), codes=(0,))
    (w1, h1), (w2, h2) = png_size(one.read_bytes()), png_size(two.read_bytes())
    width, height = size_of(run("draw", "lenet5").output)
    assert (w1, h1) == (round(width), round(height))
    assert abs(w2 - 2 * w1) <= 1 and abs(h2 - 2 * h1) <= 1


def test_zoom_is_bounded_and_for_png_alone(tmp_path: Path):
    for zoom in ("0.1", "9", "nan"):
        result = run("draw", "lenet5", "--format", "png", "--zoom", zoom)
        assert_clean(result, codes=(2,))
    for args in (["--zoom", "2"], ["--zoom", "2", "--format", "pdf"], ["--zoom", "2", "-o", str(tmp_path / "a.svg")]):
        result = run("draw", "lenet5", *args)
        assert_clean(result, codes=(2,))
        assert "--zoom sets a PNG's pixels" in result.output
    assert not (tmp_path / "a.svg").exists()


def test_zoom_still_keeps_a_png_within_its_bounds(monkeypatch):
    import convcalc.draw.raster as raster
    from convcalc.draw.raster import png_zoom

    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="1000" viewBox="0 0 1000 1000"/>'
    assert png_zoom(svg, 2.0) == (2.0, "")
    monkeypatch.setattr(raster, "MAX_PIXELS", 2_000_000)
    zoom, note = png_zoom(svg, 2.0)
    assert zoom < 2.0 and (1000 * zoom) ** 2 <= 2_000_000 * 1.0001 and "drawn at" in note


# --- --title and --no-caption, in every style ---------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_title_replaces_the_heading_and_is_shown_escaped(style: str):
    title = "Fig. 3 <b>&</b> \x1b]0;owned\x07"
    result = run("draw", "resnet18", "--style", style, "--title", title)
    assert_clean(result, codes=(0,))
    assert texts(result.output, "18") == ["Fig. 3 <b>&</b> \\x1b]0;owned\\x07"]  # XML that parses; controls shown
    assert "ResNet" not in " ".join(texts(result.output, "18"))
    untitled = run("draw", "resnet18", "--style", style, "--title", "").output
    assert texts(untitled, "18") == []
    assert size_of(untitled)[1] < size_of(run("draw", "resnet18", "--style", style).output)[1]


def test_a_title_is_a_line_not_a_document():
    result = run("draw", "lenet5", "--title", "x" * 501)
    assert_clean(result, codes=(2,))
    assert "at most 500" in result.output


@pytest.mark.parametrize("style", STYLES)
def test_no_caption_leaves_out_the_totals_and_conventions_but_not_the_legend(style: str):
    full = run("draw", "resnet18", "--style", style).output
    bare = run("draw", "resnet18", "--style", style, "--no-caption").output
    said, kept = " ".join(texts(full)), " ".join(texts(bare))
    assert "params ·" in said and "Drawn by convcalc" in said  # the totals line, the conventions
    assert "params ·" not in kept and "Drawn by convcalc" not in kept and "conventions" not in bare
    assert texts(bare, "18") == texts(full, "18")  # the title stays
    if style != "lenet":  # the legend: what the colours mean
        swatches = [r for r in ET.fromstring(bare).iter(f"{SVG}rect") if r.get("class") == "swatch"]
        assert swatches
    assert size_of(bare)[1] < size_of(full)[1]


# --- --width: honoured or refused -----------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", ["vgg16", "resnet50", "unet", "resnet50_fpn", "lenet5"])
def test_a_width_asked_for_is_never_exceeded(style: str, name: str):
    """`draw vgg16 --width 400` made a picture 880 px wide; `draw unet` U-shaped, 3,235."""
    for width in (400, 700, 1400):
        result = run("draw", name, "--style", style, "--width", str(width))
        assert_clean(result, codes=(0, 2))
        if result.exit_code == 2:
            least = int(re.search(r"it needs ([0-9,]+) px", result.output).group(1).replace(",", ""))
            assert least > width
            again = run("draw", name, "--style", style, "--width", str(least))
            assert_clean(again, codes=(0,))
            assert size_of(again.stdout)[0] <= least
            continue
        w, h = size_of(result.stdout)
        assert w <= width
        root = ET.fromstring(result.stdout)
        vw, vh = map(float, root.get("viewBox").split()[2:])
        assert abs(w / vw - h / vh) < 0.01  # scaled whole, never stretched


def stderr_of(result) -> str:
    return result.output.replace(result.stdout, "")


@pytest.mark.parametrize("style", ["blocks", "lenet"])
def test_a_u_shaped_picture_is_scaled_to_fit_down_to_half_size(style: str):
    """resnet50_fpn is about 2,700 (blocks) and 3,100 px (lenet) wide U-shaped: at --width 1600
    it keeps its U, scaled whole, and says so."""
    natural = size_of(run("draw", "resnet50_fpn", "--style", style).stdout)[0]
    width = int(natural * 0.6)
    result = run("draw", "resnet50_fpn", "--style", style, "--width", str(width))
    assert_clean(result, codes=(0,))
    root = ET.fromstring(result.stdout)
    assert root.get("data-layout") == "u" and "connector skip" in result.stdout
    assert float(root.get("width")) == width and float(root.get("viewBox").split()[2]) == natural
    assert "scaled to fit, at 0.60x" in stderr_of(result)


@pytest.mark.parametrize("style", ["blocks", "lenet"])
@pytest.mark.parametrize("name", ["unet", "resnet50_fpn"])
def test_a_u_shaped_picture_that_cannot_shrink_enough_is_drawn_in_rows(style: str, name: str):
    """`draw unet --width 800` was refused (it needed 1,618 px): it is drawn in rows, as --layout rows
    draws it, every read still drawn, and the note says why."""
    from test_draw_truth import assert_draws_every_read

    from convcalc.analysis.engine import analyse
    from convcalc.load import load

    natural = size_of(run("draw", name, "--style", style).stdout)[0]
    result = run("draw", name, "--style", style, "--width", "800")
    assert_clean(result, codes=(0,))
    root = ET.fromstring(result.stdout)
    assert root.get("data-layout") is None and size_of(result.stdout)[0] <= 800
    rows = run("draw", name, "--style", style, "--width", "800", "--layout", "rows")
    assert result.stdout == rows.stdout
    assert f"is {natural:.0f} px wide drawn U-shaped" in stderr_of(result) and "drawn in rows" in stderr_of(result)
    assert_draws_every_read(result.stdout, analyse(load(name)), "box" if style == "blocks" else "stack")


def test_a_picture_that_wraps_to_the_width_is_not_scaled():
    result = run("draw", "vgg16", "--width", "400")
    assert_clean(result, codes=(0,))
    root = ET.fromstring(result.stdout)
    assert root.get("width") == "400" and root.get("viewBox").split()[2] == "400"  # drawn at 400, not shrunk
    assert "scaled" not in result.output.replace(result.stdout, "")


def test_a_picture_that_cannot_shrink_enough_is_refused_with_the_least_width():
    result = run("draw", "googlenet", "--style", "graph", "--width", "400")
    assert_clean(result, codes=(2,))
    assert "--width 400" in result.output and "it needs" in result.output


def test_without_width_the_picture_is_drawn_at_its_own_size():
    from convcalc.analysis.engine import analyse
    from convcalc.draw.graph import graph_svg
    from convcalc.load import load

    assert run("draw", "googlenet", "--style", "graph").stdout == graph_svg(analyse(load("googlenet")))


# --- table -o: every format, the same safe write ---------------------------------------------------


@pytest.mark.parametrize("suffix, fmt", [(".txt", "table"), (".json", "json"), (".csv", "csv"), (".md", "markdown"),
                                         (".html", "html"), (".htm", "html"), (".svg", "svg")])
def test_table_writes_the_format_its_extension_names(tmp_path: Path, suffix: str, fmt: str):
    out = tmp_path / f"vgg16{suffix}"
    assert_clean(run("table", "vgg16", "-o", str(out)), codes=(0,))
    assert out.read_text(encoding="utf-8") == run("table", "vgg16", "--format", fmt).stdout
