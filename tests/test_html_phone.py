"""``table --format html`` on a phone and by keyboard (issue 21, item 5): the page is never wider
than the screen (the table and the diagram scroll in boxes of their own), the diagram can be seen
at its own size, every column's header is a button that sorts with ``aria-sort`` saying how,
sorted rows show their blocks' path, and a long table opens with its inner blocks folded.

The browser checks run the page in headless Chromium inside an iframe as wide as the screen
(headless Chromium's window is at least 500 px wide, so a 390 px phone is an iframe), a script in
the frame around it doing what a reader would and writing what it saw into the DOM, which
``--dump-dom`` prints. They are skipped where Chromium is absent."""

from __future__ import annotations

import html as markup
import json
import re
from pathlib import Path
from typing import Any, Dict

import pytest
from test_html import chromium, console_messages, needs_chromium, page_of

from convcalc.analysis.engine import analyse
from convcalc.load import load
from convcalc.report.html_report import FOLD_ABOVE, start_depth
from convcalc.report.rows import table_rows

# Run in the page's frame once it has loaded: what a reader sees, then sorting by the work column
# (its button clicked, as Enter or Space on it does), then the diagram at full size.
PROBE = """
var d = frame.contentDocument, w = frame.contentWindow, out = {};
out.width = d.documentElement.scrollWidth;
var heads = Array.prototype.slice.call(d.querySelectorAll('#layers thead th'));
out.buttons = heads.map(function (th) { return th.querySelectorAll('button.sort').length; });
out.focusable = heads.every(function (th) {
  var b = th.querySelector('button'); b.focus(); return d.activeElement === b; });
out.sortBefore = heads.map(function (th) { return th.getAttribute('aria-sort'); });
var shown = function (tr) { return !tr.hidden && w.getComputedStyle(tr).display !== 'none'; };
var layers = Array.prototype.slice.call(d.querySelectorAll('#layers tbody tr.layer'));
out.layersShown = layers.filter(shown).length;
out.rowsShown = Array.prototype.slice.call(d.querySelectorAll('#layers tbody tr')).filter(shown).length;
out.namesBefore = layers.filter(shown).map(function (tr) {
  return [Number(tr.dataset.index), tr.cells[1].innerText.trim()]; });
heads[5].querySelector('button').click();
out.sortAfter = heads.map(function (th) { return th.getAttribute('aria-sort'); });
var sorted = Array.prototype.slice.call(d.querySelectorAll('#layers tbody tr.layer'));
out.order = sorted.map(function (tr) { return Number(tr.dataset.index); });
out.namesAfter = sorted.map(function (tr) { return tr.cells[1].innerText.trim(); });
out.allShown = sorted.every(shown);
out.widthSorted = d.documentElement.scrollWidth;
var size = d.getElementById('diagram-size');
if (size) {
  size.click();
  var svg = d.querySelector('.diagram svg');
  out.pressed = size.getAttribute('aria-pressed');
  out.diagram = [svg.getBoundingClientRect().width, Number(svg.getAttribute('width'))];
  out.widthFull = d.documentElement.scrollWidth;
}
document.body.setAttribute('data-probe', JSON.stringify(out));
"""


def in_browser(tmp_path: Path, page: str, width: int, height: int = 900) -> Dict[str, Any]:
    """What ``PROBE`` saw of ``page`` in a frame ``width`` px wide."""
    harness = tmp_path / f"harness-{width}.html"
    harness.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><iframe id="f" style="border:0;display:block" '
        f'width="{width}" height="{height}" srcdoc="{markup.escape(page, quote=True)}"></iframe><script>'
        "var frame = document.getElementById('f');"
        f"frame.addEventListener('load', function () {{ {PROBE} }});</script></body></html>", encoding="utf-8")
    done = chromium(tmp_path, f"--window-size={max(width, 500)},{height}", "--dump-dom", harness.as_uri())
    assert console_messages(done.stderr) == []
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert found, done.stdout[-2000:]
    return json.loads(markup.unescape(found.group(1)))


@needs_chromium
@pytest.mark.parametrize("name", ["vgg16", "resnet50", "vit_b_16", "unet"])
def test_the_page_fits_a_phone_and_a_desktop_and_sorts_by_keyboard(tmp_path: Path, name: str):
    """At 390 px the pages were 701-869 px wide (the table had no box of its own), their headers
    were not focusable, and sorted rows lost their blocks (twelve rows called `self_attention`)."""
    report = analyse(load(name))
    page, _ = page_of(name)
    for width in (390, 1280):
        seen = in_browser(tmp_path, page, width)
        assert seen["width"] <= width and seen["widthSorted"] <= width and seen["widthFull"] <= width, seen
        assert seen["buttons"] == [1] * 9 and seen["focusable"]
        assert seen["sortBefore"][0] == "ascending" and seen["sortBefore"][1:] == [None] * 8
        assert seen["sortAfter"][5] == "descending" and seen["sortAfter"].count(None) == 8
        work = [report.work(report.layers[i - 1]) for i in seen["order"]]
        assert work == sorted(work, reverse=True) and seen["allShown"]
        full = {r.index: r.full_name for r in report.layers}
        assert seen["namesAfter"] == [full[i] for i in seen["order"]]  # each row says which block it is in
        names = {r.index: r.name for r in report.layers}
        assert seen["namesBefore"] and all(names[i] == shown for i, shown in seen["namesBefore"])  # nested: indented
        assert seen["pressed"] == "true" and abs(seen["diagram"][0] - seen["diagram"][1]) < 1  # its own size


@needs_chromium
def test_a_long_table_opens_folded_and_a_short_one_open(tmp_path: Path):
    for name, folded in (("resnet50", True), ("vit_b_16", True), ("vgg16", False)):
        report = analyse(load(name))
        seen = in_browser(tmp_path, page_of(name)[0], 1280)
        if folded:
            assert seen["rowsShown"] <= FOLD_ABOVE + 1 and len(table_rows(report)) > FOLD_ABOVE  # + the input
            assert seen["layersShown"] < len(report.layers)
        else:
            assert seen["layersShown"] == len(report.layers)


@needs_chromium
def test_the_page_renders_at_phone_width(tmp_path: Path):
    """A screenshot at 390 px: drawn, and nothing but the page (no horizontal scroll)."""
    page, _ = page_of("vit_b_16")
    path = tmp_path / "vit.html"
    path.write_text(page, encoding="utf-8")
    shot = tmp_path / "phone.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=390,900", path.as_uri())
    assert shot.exists() and console_messages(done.stderr) == [], done.stderr[-2000:]


# --- without a browser --------------------------------------------------------------------------


def folded_and_shown(name: str):
    """The page's rows shown at first: the folded blocks' names, and how many rows in all."""
    _, page = page_of(name)
    shown = [(a, cells) for a, cells in page.rows[1:] if "hidden" not in a and cells and cells[1][1] != "total"]
    folded = [cells[1][1].lstrip("▾▸") for a, cells in shown if "folded" in (a.get("class") or "")]
    return folded, len(shown)


def test_a_long_table_opens_on_its_repeated_blocks():
    assert start_depth(table_rows(analyse(load("vgg16")))) is None  # 39 rows: all open
    folded, shown = folded_and_shown("resnet50")
    assert folded == ["0", "1", "2", "0", "1", "2", "3", "0", "1", "2", "3", "4", "5", "0", "1", "2"]
    assert shown <= FOLD_ABOVE + 1  # and the input's row
    folded, shown = folded_and_shown("vit_b_16")  # 154 rows; each encoder layer shown
    assert folded == ["add1", "add2"] * 12 and shown <= FOLD_ABOVE + 1
    folded, shown = folded_and_shown("googlenet")  # even one level open is over 60 rows
    assert sum(1 for f in folded if f.startswith("inception")) == 9 and shown <= FOLD_ABOVE + 1


def test_an_asked_depth_is_kept_and_the_default_is_said():
    _, page = page_of("resnet50", "--depth", "1000")
    assert not [a for a, _ in page.rows if "hidden" in a]  # every row open, as asked
    html, page = page_of("resnet50")
    assert [a for a, _ in page.rows if "hidden" in a]
    assert "start folded" in html and "start folded" not in page_of("vgg16")[0]


def test_headers_are_buttons_and_rows_carry_their_path():
    html, _ = page_of("vit_b_16")
    heads = re.findall(r"<th\b[^>]*>(.*?)</th>", html.split("<thead>")[1].split("</thead>")[0])
    assert len(heads) == 9 and all(re.fullmatch(r'<button class="sort" type="button">[^<]+</button>', h)
                                   for h in heads)
    report = analyse(load("vit_b_16"))
    attention = [r for r in report.layers if r.name == "self_attention"]
    assert len(attention) == 12
    for r in attention:
        assert f'<span class="path">{markup.escape(".".join(r.path))}.</span>self_attention' in html
