"""``convcalc table --format html`` and ``--format svg``: the page and the image carry the
Report's exact figures, the page reaches for nothing on the network, and (where Chromium is
installed) it renders, runs its script without a console message, and sorts in a real browser."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from xml.etree import ElementTree

import pytest
from test_hostile import assert_clean, run, yaml_file

from convcalc.analysis.engine import analyse
from convcalc.load import load

CHROMIUM = Path("/usr/bin/chromium")


class Page(HTMLParser):
    """Every tag with its attributes, the table's rows with their cells, and the scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: List[Tuple[str, Dict[str, Optional[str]]]] = []
        self.rows: List[Tuple[Dict[str, Optional[str]], List[Tuple[Dict[str, Optional[str]], str]]]] = []
        self.scripts: List[Tuple[Dict[str, Optional[str]], str]] = []
        self.text: List[str] = []
        self._cell: Optional[Tuple[Dict[str, Optional[str]], List[str]]] = None
        self._script: Optional[Tuple[Dict[str, Optional[str]], List[str]]] = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr":
            self.rows.append((a, []))
        elif tag in ("td", "th"):
            self._cell = (a, [])
        elif tag == "script":
            self._script = (a, [])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1][1].append((self._cell[0], "".join(self._cell[1]).strip()))
            self._cell = None
        elif tag == "script" and self._script is not None:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell[1].append(data)
        if self._script is not None:
            self._script[1].append(data)


def page_of(*args: str) -> Tuple[str, Page]:
    result = run("table", *args, "--format", "html")
    assert_clean(result, codes=(0,))
    page = Page()
    page.feed(result.output)
    page.close()
    return result.output, page


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "resnet50_fpn"])
def test_one_row_per_layer_with_the_exact_figures(name: str):
    report = analyse(load(name))
    _, page = page_of(name)
    layers = [(a, cells) for a, cells in page.rows if (a.get("class") or "").split()[:1] == ["layer"]]
    assert [int(a["data-index"]) for a, _ in layers] == [r.index for r in report.layers]
    for (a, cells), r in zip(layers, report.layers):
        # columns: #, name, layer, output, params, work, activations, RF, notes
        assert a["data-kind"] == r.layer.kind
        assert cells[1][1] == r.full_name  # the name after its blocks' path, which shows once sorted
        assert cells[2][1] == r.layer.describe()
        assert cells[3][1] == str(r.output)
        assert int(cells[3][0]["data-value"]) == r.output.elements
        assert int(cells[4][0]["data-value"]) == report.counted_params(r)
        assert int(cells[5][0]["data-value"]) == report.work(r)
        assert int(cells[6][0]["data-value"]) == report.counted_activations(r)
        assert cells[5][0]["title"] == f"{report.work(r):,}"  # the exact figure on hover
    t = report.totals
    total = next(cells for a, cells in page.rows if cells and cells[1][1] == "total")
    assert [int(total[i][0]["data-value"]) for i in (4, 5, 6)] == [t.counted_params, t.work, t.activations]
    text = "".join(page.text)
    assert f"{t.counted_params:,} params" in text and f"{t.work:,} MACs" in text  # the footer's totals
    for o in report.outputs:
        assert f"{o.name} {o.shape}" in re.sub(r"\s+", " ", text)


def test_block_rows_carry_the_tables_subtotals_and_fold_to_depth():
    report = analyse(load("resnet18"))
    _, page = page_of("resnet18", "--depth", "1")
    blocks = {cells[1][1].lstrip("▾▸"): (a, cells) for a, cells in page.rows
              if (a.get("class") or "").split()[:1] == ["block"]}
    layer1 = next(b for b in report.blocks if b.full_name == "layer1")
    a, cells = blocks["layer1"]
    assert int(cells[4][0]["data-value"]) == layer1.params
    assert int(cells[5][0]["data-value"]) == layer1.macs
    assert "folded" not in a["class"]  # depth 0 is open; depth 1 is folded, deeper rows hidden
    assert "folded" in blocks["0"][0]["class"]
    hidden = [a for a, _ in page.rows if "hidden" in a]
    assert hidden and all(a["data-in"].count("g") >= 2 for a in hidden)


def test_self_contained_and_escaped(tmp_path: Path):
    spec = yaml_file(tmp_path, "name: t\ntitle: '<script>alert(1)</script> & \"co\"'\ninput: [8, 8, 3]\n"
                               "layers:\n  - conv: {filters: 4, kernel: 3}\n  - relu\n")
    html, page = page_of(spec)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;" in html
    for tag, a in page.tags:
        for attr in ("src", "href", "xlink:href", "action"):
            assert not (a.get(attr) or "").lower().startswith(("http:", "https:", "//")), (tag, a)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert not re.search(r"@import", html)
    assert len(page.scripts) == 1 and "src" not in page.scripts[0][0] and page.scripts[0][1].strip()


def test_html_and_svg_are_listed_in_help():
    result = run("table", "--help")
    assert "html" in result.output and "svg" in result.output


def svg_text(svg: str) -> str:
    root = ElementTree.fromstring(svg)  # parses as XML, or fails here
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # Rich places each run of text at its column and leaves the spaces out: compare without them
    return re.sub(r"\s", "", "".join(root.itertext()))


@pytest.mark.parametrize("name", ["vgg16", "resnet18"])
def test_svg_is_the_table_as_an_image(name: str):
    report = analyse(load(name))
    result = run("table", name, "--format", "svg")
    assert_clean(result, codes=(0,))
    text = svg_text(result.output)
    t = report.totals
    assert f"{t.counted_params:,}params" in text and f"{t.work:,}MACs" in text
    for r in report.layers:
        assert r.name in text
    assert not re.search(r"url\(\s*['\"]?https?:", result.output)  # Rich's CDN font is left out


def test_svg_honours_width_and_rf():
    result = run("table", "vgg16", "--format", "svg", "--rf", "--width", "80")
    assert_clean(result, codes=(0,))
    assert "196j16" in svg_text(result.output)


def test_html_does_not_import_rich():
    code = ("import sys; from click.testing import CliRunner; from convcalc.cli import cli; "
            "r = CliRunner().invoke(cli, ['table', 'resnet18', '--format', 'html']); "
            "assert r.exit_code == 0, r.output; print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- in a real browser ------------------------------------------------------------------


def png_pixels(path: Path) -> Tuple[int, int, List[bytes]]:
    """Width, height and the rows of an 8-bit RGB or RGBA PNG, unfiltered (PNG spec, section 9)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: List[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind in (0, 2) and not any(line):  # a row like the one above (page margins): no work
            kind, line = 0, bytearray(prev) if kind == 2 else line
        for i in range(stride if kind else 0):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(dir=tmp)
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0", *args],
        capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> List[str]:
    """What the page wrote to the console, or threw: Chromium logs each as an ``:CONSOLE`` line."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed (/usr/bin/chromium)")


@needs_chromium
def test_page_renders_in_chromium(tmp_path: Path):
    html, _ = page_of("resnet18")
    page = tmp_path / "resnet18.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "out.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    assert console_messages(done.stderr) == []
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1280, 2000)
    bpp = len(rows[0]) // width
    pixels = [row[x:x + 3] for row in rows[::8] for x in range(0, len(row), bpp * 4)]
    colours = set(pixels)
    assert len(colours) > 20  # text, rules, shading and bars: not a blank or one-colour page
    ink = sum(1 for p in pixels if sum(p) < 3 * 200)
    assert ink > len(pixels) // 200  # text was drawn

    def near(rgb: Tuple[int, int, int]) -> int:
        return sum(1 for p in pixels if all(abs(p[i] - rgb[i]) < 24 for i in range(3)))

    assert near((0x3B, 0x6F, 0xB6)) > 50  # the work chart's bars were drawn
    assert near((0xD1, 0x7A, 0x22)) > 50  # and the activations chart's


@needs_chromium
def test_script_runs_without_blocks_in_chromium(tmp_path: Path):
    html, page = page_of("32x32x3 conv8k3s2 relu fc10")
    assert not any(a.get("id") == "fold-all" for _, a in page.tags)
    path = tmp_path / "chain.html"
    path.write_text(html, encoding="utf-8")
    done = chromium(tmp_path, "--dump-dom", path.as_uri())
    assert console_messages(done.stderr) == []
    assert re.search(r'<body class="[^"]*\bjs\b', done.stdout)


@needs_chromium
def test_script_runs_and_sorts_in_chromium(tmp_path: Path):
    report = analyse(load("vgg16"))
    html, _ = page_of("vgg16")
    page = tmp_path / "vgg16.html"
    page.write_text(html, encoding="utf-8")
    done = chromium(tmp_path, "--dump-dom", page.as_uri() + "#sort=5")  # sorted by MACs, largest first
    assert console_messages(done.stderr) == []
    dom = Page()
    dom.feed(done.stdout)
    body = next(a for tag, a in dom.tags if tag == "body")
    assert "js" in (body.get("class") or "").split()  # the script ran to its end
    shown = [int(a["data-index"]) for a, _ in dom.rows if "data-index" in a]
    work = [report.work(report.layers[i - 1]) for i in shown]
    assert work == sorted(work, reverse=True) and len(shown) == len(report.layers)


def test_the_diagram_is_inline_and_is_the_draw_commands():
    """The report carries `convcalc draw`'s picture itself (no file beside it): the same boxes."""
    from convcalc.draw.blocks import blocks_svg
    from convcalc.report.html_report import to_html

    report = analyse(load("resnet18"))
    result = run("table", "resnet18", "--format", "html")
    assert result.exit_code == 0
    html = result.stdout
    assert "Diagram" not in to_html(report)  # the page draws nothing itself: the command hands it the picture
    start = re.search(r'<div class="diagram"[^>]*>', html).end()
    svg = html[start:html.index("</svg>", start) + len("</svg>")]
    assert svg.strip() == blocks_svg(report).strip()
    assert svg.count('class="box"') >= 10
