"""Doors that stay shut whatever a spec or a model file says (issue 19): no control character
reaches a terminal or a text format raw, every SVG is XML, the table's SVG takes time linear in
its longest line, ``draw -o`` never writes over its input or through a symlink, and a PNG's size
is bounded before it is rendered.

Control characters are written ``\\xNN`` (errors.shown); JSON escapes them by itself.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_hostile import assert_clean, run

from convcalc.analysis.engine import analyse
from convcalc.errors import ConvcalcError, Location, SpecError, shown
from convcalc.load import load
from convcalc.report import render

# Every C0 control but NUL-free YAML cannot carry (\x00 is spelled too), DEL and every C1 control.
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
# What may still appear raw in text output: the line breaks the format itself writes.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def hostile_spec(tmp_path: Path, name: str = "spec.yaml") -> str:
    """A spec whose name, title, reference and layer note hold every control character."""
    every = "".join(f"\\x{ord(c):02x}" for c in CONTROLS)
    text = (f'name: "net{every}"\ntitle: "T\\e]0;retitled\\a\\e[2J{every}"\nreference: "ref{every}"\n'
            "input: [32, 32, 3]\nlayers:\n  - conv: {filters: 8, kernel: 3, stride: 2}\n  - relu\n")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_shown_escapes_controls_once_and_keeps_the_rest():
    assert shown("a\x1b]0;t\x07b\x9b2J") == "a\\x1b]0;t\\x07b\\x9b2J"
    assert shown("C:\\nets\\vgg.yaml · 3×3 ⊕") == "C:\\nets\\vgg.yaml · 3×3 ⊕"  # backslashes and Unicode as written
    assert shown("a\nb", keep="\n") == "a\nb" and shown("a\nb") == "a\\x0ab"
    assert shown("\ud800\ufffe") == "\\ud800\\ufffe"  # not XML either
    for c in CONTROLS:
        assert shown(shown(c)) == shown(c) and not RAW.search(shown(c))


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "html", "svg"])
def test_table_shows_control_characters_escaped(tmp_path, fmt):
    result = run("table", hostile_spec(tmp_path), "--format", fmt)
    assert_clean(result, codes=(0,))
    assert not RAW.search(result.output), repr(RAW.search(result.output))
    if fmt in ("table", "markdown", "svg", "html"):
        assert "\\x1b]0;retitled\\x07\\x1b[2J" in result.output.replace("&#160;", " ")
    if fmt == "svg":
        ET.fromstring(result.output)


def test_a_coloured_terminal_table_has_only_its_own_escapes(tmp_path):
    """Rich colours the table with escape sequences of its own; the title's are shown, not sent."""
    import io

    out = io.StringIO()
    render(analyse(load(hostile_spec(tmp_path))), "table", file=out, color=True)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # Rich's colours (SGR), and only those
    assert not RAW.search(text.replace("\n", ""))
    assert "\\x1b]0;retitled\\x07" in text


def test_json_escapes_by_itself(tmp_path):
    import json

    result = run("table", hostile_spec(tmp_path), "--format", "json")
    assert json.loads(result.output)["network"]["title"].startswith("T\x1b]0;retitled\x07")


@pytest.mark.parametrize("style", ["blocks", "graph", "lenet"])
def test_every_picture_is_xml_whatever_the_names(tmp_path, style):
    result = run("draw", hostile_spec(tmp_path), "--style", style, "--labels", "full")
    assert_clean(result, codes=(0,))
    root = ET.fromstring(result.output)
    texts = " ".join("".join(e.itertext()) for e in root.iter())
    assert "\\x1b]0;retitled\\x07" in texts  # shown, not dropped


def test_html_page_and_its_picture_show_control_characters(tmp_path):
    result = run("table", hostile_spec(tmp_path), "--format", "html")
    assert_clean(result, codes=(0,))
    assert not RAW.search(result.output)
    svg = result.output[result.output.index("<svg xmlns"):]
    ET.fromstring(svg[:svg.index("</svg>") + len("</svg>")])


def test_error_messages_show_what_the_user_wrote_escaped(tmp_path):
    bad = tmp_path / "n\x1b]0;x\x07.yaml"
    bad.write_text("just a scalar\n", encoding="utf-8")
    result = run("table", str(bad))
    assert_clean(result, codes=(2,))
    assert "n\\x1b]0;x\\x07.yaml:1:1:" in result.output and not RAW.search(result.output)
    result = run("table", "8x8x3 conv4k3 re\x1b[2Jlu")
    assert_clean(result, codes=(2,))
    assert not RAW.search(result.output)


def test_the_caret_stays_under_the_located_text_when_controls_are_shown():
    source = "8x8x3 \x1b[2J\x07 bogus"
    column = source.index("bogus") + 1
    caret = Location("<string>", 1, column, source, 5).caret()
    line, marks = caret.split("\n")
    assert line[marks.index("^"):marks.index("^") + 5] == "bogus"
    assert SpecError("x", Location("a\x1b.yaml", 1, 1)).render().startswith("error: a\\x1b.yaml:1:1: x")


def test_check_shows_controls_escaped(tmp_path):
    result = run("check", hostile_spec(tmp_path, "sp\x9bec.yaml"))
    assert "sp\\x9bec.yaml" in result.output and not RAW.search(result.output)
    result = run("check", hostile_spec(tmp_path, "sp\x9bec.yaml"), "--format", "github", "--max-params", "1")
    assert not RAW.search(result.output)


def test_import_writes_yaml_that_reads_back_and_shows_nothing_raw(tmp_path):
    path = hostile_spec(tmp_path, "f\x1b[2Jx.yaml")
    result = run("import", path)
    assert_clean(result, codes=(0,))
    assert not RAW.search(result.output)
    back = tmp_path / "back.yaml"
    back.write_text(result.output, encoding="utf-8")
    assert load(str(back)).title == load(path).title  # the C1 controls too: written as \u009b


def test_caffe_and_onnx_names_are_shown_escaped(tmp_path):
    proto = tmp_path / "d\x1b]0;x\x07.prototxt"
    proto.write_text('name: "Net\\033[2J\\007"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
                     'layer { name: "c\\033" type: "Convolution" bottom: "data" top: "c" '
                     'convolution_param { num_output: 4 kernel_size: 3 } }\n', encoding="utf-8")
    for args in (["table", str(proto)], ["table", str(proto), "-f", "markdown"], ["table", str(proto), "-f", "csv"],
                 ["import", str(proto)]):
        result = run(*args)
        assert_clean(result, codes=(0,))
        assert not RAW.search(result.output), args
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Weird\x1b[2JOp", ["x"], ["y"], name="n\x1b]0;t\x07")],
                              "g\x1b]0;title\x07", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "m\x1b[2J.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    for args in (["table", str(path)], ["table", str(path), "-f", "markdown"], ["draw", str(path)]):
        result = run(*args)
        assert_clean(result, codes=(0,))
        assert not RAW.search(result.output), (args, result.output)


def table_svg_seconds(tmp_path: Path, n: int) -> float:
    path = tmp_path / f"long{n}.yaml"
    path.write_text(f'title: "{"a" * n}"\ninput: [8, 8, 3]\nlayers:\n  - relu\n', encoding="utf-8")
    start = time.perf_counter()
    result = run("table", str(path), "--format", "svg")
    seconds = time.perf_counter() - start
    assert_clean(result, codes=(0,))
    width = float(re.search(r'<svg[^>]* viewBox="0 0 ([0-9.]+)', result.output).group(1))
    assert width < 2000  # as wide as the table, not as the title (which wraps in the table)
    ET.fromstring(result.output)
    return seconds


def test_table_svg_is_linear_in_its_longest_line(tmp_path):
    """A 200,000-character title took 5.8 s and 400,000 took 21.6 s: Rich padded every line to
    the title's width, and split one segment of many lines by copying its rest at each break."""
    small, large = table_svg_seconds(tmp_path, 100_000), table_svg_seconds(tmp_path, 400_000)
    assert large < 8 * small + 1.0, (small, large)  # four times the text: about four times the time
    assert large < 15  # 21.6 s before


# --- draw -o: never over its input, never through a symlink, never half-written --------------------

SMALL = "name: small\ninput: [16, 16, 3]\nlayers:\n  - conv: {filters: 4, kernel: 3}\n"


def test_draw_refuses_to_write_over_its_spec(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(SMALL, encoding="utf-8")
    link = tmp_path / "link.svg"
    link.symlink_to(spec)
    for output in (str(spec), str(tmp_path / "." / "net.yaml"), str(link)):
        result = run("draw", str(spec), "-o", output)
        assert_clean(result, codes=(2,))
        assert "is the spec being read" in result.output
        assert spec.read_text(encoding="utf-8") == SMALL


def test_draw_replaces_a_symlink_instead_of_following_it(tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("keep me\n", encoding="utf-8")
    to_other, dangling = tmp_path / "a.svg", tmp_path / "b.svg"
    to_other.symlink_to(other)
    dangling.symlink_to(tmp_path / "nowhere" / "victim.svg")
    for output in (to_other, dangling):
        assert_clean(run("draw", "lenet5", "-o", str(output)), codes=(0,))
        assert not output.is_symlink()
        ET.parse(output)
    assert other.read_text(encoding="utf-8") == "keep me\n"
    assert not (tmp_path / "nowhere").exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    import os

    target = tmp_path / "net.svg"
    target.write_text("old\n", encoding="utf-8")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    result = run("draw", "lenet5", "-o", str(target))
    assert_clean(result, codes=(2,))
    assert "cannot write" in result.output and "No space left" in result.output
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.svg"]


def test_a_new_picture_gets_the_mode_a_new_file_gets(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        assert_clean(run("draw", "lenet5", "-o", str(tmp_path / "net.svg")), codes=(0,))
    finally:
        os.umask(mask)
    assert (tmp_path / "net.svg").stat().st_mode & 0o777 == 0o644


# --- a PNG's size is bounded before the renderer holds it ------------------------------------------


def svg_of(width: int, height: int) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"/>'


def test_png_zoom_fits_the_bounds_or_refuses():
    from convcalc.draw.raster import MAX_PIXELS, MAX_SIDE, MIN_ZOOM, png_zoom

    assert png_zoom(svg_of(1400, 600)) == (1.0, "")
    for width, height in ((19_970, 14_862), (800, 200_000), (40_000, 500)):  # 10,000 layers at --width 20000
        zoom, note = png_zoom(svg_of(width, height))
        assert MIN_ZOOM <= zoom < 1 and "drawn at" in note and "SVG" in note
        assert width * zoom * height * zoom <= MAX_PIXELS * 1.0001
        assert max(width, height) * zoom <= MAX_SIDE + 0.5
    with pytest.raises(ConvcalcError) as refused:  # exit 2
        png_zoom(svg_of(832, 810_311))  # the graph style of 10,000 layers
    assert "too large for a PNG" in refused.value.message and "-o FILE.svg" in refused.value.hint


def test_draw_png_is_refused_before_rendering_when_too_large(monkeypatch):
    import convcalc.draw.raster as raster

    rendered = []
    monkeypatch.setattr(raster, "MAX_PIXELS", 10_000)
    monkeypatch.setattr(raster.subprocess, "run", lambda *a, **k: rendered.append(a))
    result = run("draw", "vgg16", "--format", "png")
    assert_clean(result, codes=(2,))
    assert "too large for a PNG" in result.output and rendered == []


@pytest.mark.skipif(__import__("shutil").which("rsvg-convert") is None, reason="rsvg-convert not installed")
def test_draw_png_over_the_bound_is_drawn_scaled_with_a_warning(tmp_path, monkeypatch):
    import struct

    import convcalc.draw.raster as raster

    monkeypatch.setattr(raster, "MAX_PIXELS", 100_000)
    out = tmp_path / "lenet5.png"
    result = run("draw", "lenet5", "-o", str(out))
    assert_clean(result, codes=(0,))
    assert "warning: the picture is" in result.output and "drawn at 0." in result.output
    width, height = struct.unpack(">II", out.read_bytes()[16:24])  # the IHDR chunk
    assert 0 < width * height <= 100_000 * 1.01


def test_usage_errors_and_warnings_show_control_characters(tmp_path):
    result = run("table", "lenet5", "--input", "8x8\x1b]0;t\x07")
    assert result.exit_code == 2 and "8x8\\x1b]0;t\\x07" in result.output and not RAW.search(result.output)
    result = run("table", "lenet5", "--count-ops", "a\x9b")
    assert result.exit_code == 2 and "a\\x9b" in result.output
    spec = tmp_path / "cf\x07.yaml"
    spec.write_text("input: [3, 32, 32]\nlayers:\n  - relu\n", encoding="utf-8")
    result = run("table", str(spec))
    assert "cf\\x07.yaml: 3x32x32 looks channels-first" in result.output and not RAW.search(result.output)


def test_table_writes_any_format_to_a_file_the_same_way(tmp_path):
    for fmt in ("table", "html", "json"):
        out = tmp_path / f"vgg16.{fmt}"
        assert_clean(run("table", "vgg16", "--format", fmt, "-o", str(out)), codes=(0,))
        assert out.read_text(encoding="utf-8") == run("table", "vgg16", "--format", fmt).output
    spec = tmp_path / "net.yaml"
    spec.write_text(SMALL, encoding="utf-8")
    result = run("table", str(spec), "-o", str(spec))
    assert_clean(result, codes=(2,))
    assert spec.read_text(encoding="utf-8") == SMALL


def test_verify_shows_the_title_escaped(tmp_path):
    """verify builds its title line itself: grid escapes every span again where it writes."""
    result = run("verify", hostile_spec(tmp_path))
    assert "verify T\\x1b]0;retitled\\x07" in result.output and not RAW.search(result.output)


def test_keras_names_are_shown_escaped(tmp_path):
    import json

    config = {"class_name": "Sequential", "config": {"name": "k\x1b]0;retitled\x07\x9b2J", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8, 8, 1], "name": "in\x1b"}},
        {"class_name": "Conv2D", "config": {"name": "c\x1b[2J", "filters": 2, "kernel_size": [3, 3],
                                            "activation": "re\x07lu"}}]}}
    path = tmp_path / "k\x07.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    for args in (["table", str(path)], ["table", str(path), "-f", "markdown"], ["table", str(path), "-f", "csv"],
                 ["import", str(path)], ["draw", str(path)], ["check", str(path)]):
        result = run(*args)
        assert_clean(result)
        assert not RAW.search(result.output), (args, result.output)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="POSIX named pipes")
def test_streams_are_written_into_never_renamed_onto(tmp_path):
    """/dev/null, /dev/stdout and named pipes are streams: a rename onto them would replace the
    device's own name (as root, /dev/null itself)."""
    import os
    import stat
    import threading

    assert_clean(run("draw", "lenet5", "-o", os.devnull), codes=(0,))
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert sorted(p for p in os.listdir("/dev") if p.endswith(".tmp")) == []
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    assert_clean(run("table", "lenet5", "-o", str(pipe)), codes=(0,))
    reader.join(30)
    assert got and got[0].decode("utf-8").startswith("LeNet-5") and stat.S_ISFIFO(os.lstat(pipe).st_mode)


def test_plan_shows_control_characters_escaped_and_json_keeps_them_exact(tmp_path):
    import json

    result = run("plan", hostile_spec(tmp_path))
    assert_clean(result, codes=(0,))
    assert not RAW.search(result.output), repr(RAW.search(result.output))
    assert "\\x1b]0;retitled\\x07\\x1b[2J" in result.output
    doc = json.loads(run("plan", hostile_spec(tmp_path), "--format", "json").output)
    assert doc["network"].startswith("net\x00\x01")  # data, as table's JSON keeps it
