"""``convcalc plan --format html`` and ``--format svg`` (issue 20, its picture): the memory timeline
of a training step says what the JSON says (each column an event of the JSON timeline with its
exact bytes, the peak marker the JSON's peak_bytes and peak_at), it stays small on a network of
a thousand events, every phase the step carries is named, the budget is drawn or named off the
scale, names are escaped; the page holds the per-layer figures and passes the table page's phone
and keyboard checks; ``-o`` picks the format by extension; the Python API gives the same."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List

import pytest
from test_hostile import assert_clean, run, yaml_file
from test_html import Page, needs_chromium
from test_html_phone import in_browser

import convcalc.api as api
from convcalc.analysis.engine import analyse
from convcalc.analysis.plan_result import STEP_CATEGORIES, Step, StepEvent
from convcalc.analysis.step import step
from convcalc.analysis.training import training
from convcalc.load import load
from convcalc.report.numbers import human_bytes
from convcalc.report.timeline_svg import (
    MAX_COLUMNS,
    axis_step,
    columns,
    style_of,
    timeline_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def plan(*args: str) -> str:
    result = run("plan", *args)
    assert_clean(result, codes=(0,))
    return result.output


def svg_and_json(*args: str):
    return ET.fromstring(plan(*args, "--format", "svg").encode()), json.loads(plan(*args, "--format", "json"))


def event_columns(svg: ET.Element) -> List[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "event"]


@pytest.mark.parametrize("args", [("resnet50", "--batch", "32", "--optimizer", "momentum"),
                                  ("vgg16", "--optimizer", "adam"),  # the peak in the optimizer's step
                                  ("densenet121", "--device", "v100-16"),  # 917 events, drawn in columns
                                  ("vit_b_16", "--batch", "2", "--optimizer", "adamw", "--backend", "cpu")])
def test_the_picture_says_what_the_json_says(args):
    svg, doc = svg_and_json(*args)
    events = doc["timeline"]["events"]
    assert svg.get("data-categories").split() == doc["timeline"]["categories"] == list(STEP_CATEGORIES)
    assert int(svg.get("data-events")) == len(events)
    # the peak marker: the JSON's peak, at the JSON's moment, named in its label
    peak = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "peak")
    assert int(peak.get("data-bytes")) == int(svg.get("data-peak-bytes")) == doc["peak_bytes"]
    assert events[int(peak.get("data-event"))] == doc["peak_at"]
    label = "".join(peak.itertext())
    assert (doc["peak_at"]["name"] or doc["peak_at"]["phase"]).split(".")[-1] in label or "optimizer" in label
    # each column: one event of the JSON timeline, its exact bytes by category, in order
    cols = event_columns(svg)
    shown = [int(c.get("data-event")) for c in cols]
    assert shown == sorted(shown) and int(peak.get("data-event")) in shown
    for c, i in zip(cols, shown):
        assert [int(b) for b in c.get("data-bytes").split(",")] == events[i]["bytes"]
    # drawn in columns: each the most memory of the events since the last, never across a phase
    assert len(cols) <= MAX_COLUMNS + len({e["phase"] for e in events})
    for prev, i in zip(shown, shown[1:]):  # an event not drawn: below a column of its phase beside it
        for e in events[prev + 1: i]:
            assert sum(e["bytes"]) <= max(sum(events[j]["bytes"]) for j in (prev, i) if events[j]["phase"] == e["phase"])
    # every phase the step has is named under the plot
    phases = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "phase"]
    assert set(phases) == {e["phase"] for e in events}


def test_a_big_network_stays_small():
    """DenseNet-121's 917 events: a bounded number of elements and bytes."""
    text = plan("densenet121", "--format", "svg")
    assert len(ET.fromstring(text.encode()).findall(".//*")) < 2 * MAX_COLUMNS + 200
    assert len(text) < 400_000


def test_any_phase_the_step_carries_is_drawn():
    """Another phase (activation checkpointing's recompute) gets its own name and rule, not one of
    four hard-coded ones."""
    report = analyse(load("224x224x3 conv8k3p1 relu fc10"))
    real = step(report, training(report), "sgd")
    events = list(real.events)
    extra = StepEvent(phase="recompute", layer=1, bytes=events[1].bytes)
    made = Step(optimizer="sgd", batch=1, events=tuple(events[:4] + [extra] + events[4:]),
                peak_index=real.peak_index + (real.peak_index >= 4))
    svg = ET.fromstring(timeline_svg(report, made).encode())
    phases = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "phase"]
    assert "recompute" in phases and phases.count("forward") == 1


def test_columns_keep_every_event_when_few_and_the_peak_when_many():
    report = analyse(load("densenet121"))
    s = step(report, training(report), "sgd")
    assert columns(s, most=10_000) == list(range(len(s.events)))
    few = columns(s, most=50)
    assert s.peak_index in few and len(few) <= 50 + 6


def test_the_budget_is_drawn_or_named_off_the_scale():
    svg, doc = svg_and_json("resnet50", "--batch", "32", "--optimizer", "momentum", "--memory", "8GiB")
    lines = sorted(int(x.get("data-bytes")) for x in svg.iter(f"{SVG}line") if x.get("class") == "budget")
    assert lines == [doc["usable_bytes"], doc["memory_bytes"]] == [7 * 2**30, 8 * 2**30]
    svg, doc = svg_and_json("resnet18", "--device", "a100-80")  # 80 GB over a step of a few hundred MiB
    off = [x for x in svg.iter(f"{SVG}text") if x.get("class") == "budget"]
    assert [int(x.get("data-bytes")) for x in off] == [doc["usable_bytes"]] and "off the scale" in off[0].text
    assert not [x for x in svg.iter(f"{SVG}line") if x.get("class") == "budget"]


def test_names_are_escaped(tmp_path: Path):
    spec = yaml_file(tmp_path, 'name: "<b>&x\\u0007"\ninput: [8, 8, 3]\nlayers:\n'
                               '  - {conv: {filters: 4, size: 3, pad: 1}, name: "<script>&\\u0001"}\n'
                               "  - relu\n  - {fc: 2}\n")
    for fmt in ("svg", "html"):
        text = plan(spec, "--format", fmt)
        assert "<script>&" not in text and "\x01" not in text and "\x07" not in text
        assert "&lt;script&gt;&amp;\\x01" in text
    ET.fromstring(plan(spec, "--format", "svg").encode())  # well-formed XML


def page(*args: str) -> Page:
    parsed = Page()
    parsed.feed(plan(*args, "--format", "html"))
    parsed.close()
    return parsed


def test_the_page_holds_the_per_layer_figures_and_the_peak():
    doc = json.loads(plan("resnet18", "--batch", "4", "--format", "json"))
    parsed = page("resnet18", "--batch", "4")
    layers = [cells for a, cells in parsed.rows if (a.get("class") or "") == "layer"]
    assert len(layers) == len(doc["layers"])
    for cells, layer in zip(layers, doc["layers"]):
        # columns: #, name, layer, output, saved, inputs, outputs, indices, masks, stats, fwd, bwd, notes
        assert int(cells[0][0]["data-value"]) == layer["index"] and cells[1][1] == layer["name"]
        assert int(cells[4][0]["data-value"]) == layer["saved_activation_bytes"]
        assert [int(c[0]["data-value"]) for c in cells[5:10]] == [
            layer["saved"][r] for r in ("inputs", "outputs", "indices", "masks", "statistics")]
        assert [int(c[0]["data-value"]) for c in cells[10:12]] == [layer["forward_macs"], layer["backward_macs"]]
    text = re.sub(r"\s+", " ", "".join(parsed.text))
    assert f"({doc['peak_bytes']:,} B)" in text
    for value in doc["conventions"].values():  # every convention JSON states
        assert re.sub(r"\s+", " ", value) in text


def test_the_page_with_a_device_has_the_fit_and_the_roofline():
    doc = json.loads(plan("resnet50", "--device", "v100-16", "--optimizer", "momentum", "--format", "json"))
    text = re.sub(r"\s+", " ", "".join(page("resnet50", "--device", "v100-16", "--optimizer", "momentum").text))
    assert "largest batch that fits" in text and f": {doc['max_batch']} (peak" in text
    assert "Roofline" in text and "a lower bound on time, not a prediction" in text


def test_o_picks_the_format_by_extension(tmp_path: Path):
    for name, start in (("p.html", "<!DOCTYPE html>"), ("p.svg", "<?xml"), ("p.json", "{"), ("p.txt", "")):
        out = tmp_path / name
        assert_clean(run("plan", "lenet5", "-o", str(out)), codes=(0,))
        text = out.read_text(encoding="utf-8")
        assert text.startswith(start) and "\x1b[" not in text
    assert (tmp_path / "p.svg").read_text(encoding="utf-8") == plan("lenet5", "--format", "svg")
    assert (tmp_path / "p.json").read_text(encoding="utf-8") == plan("lenet5", "--format", "json")
    for args in (("-o", str(tmp_path / "p.jpg")), ("-o", str(tmp_path / "q.html"), "--format", "json")):
        result = run("plan", "lenet5", *args)
        assert_clean(result, codes=(2,))
    spec = yaml_file(tmp_path, "input: [8, 8, 3]\nlayers: [{fc: 2}]\n", name="net.svg")
    result = run("plan", spec, "-o", spec)
    assert_clean(result, codes=(2,)) and "does not write over its input" in result.output


def test_the_api_gives_what_the_command_does():
    p = api.analyse(api.read("resnet18"), batch=2).plan(optimizer="adam")
    assert p.to_svg() == plan("resnet18", "--batch", "2", "--optimizer", "adam", "--format", "svg")
    assert p.to_html() == plan("resnet18", "--batch", "2", "--optimizer", "adam", "--format", "html")
    assert p._repr_html_().startswith("<iframe srcdoc=")


@needs_chromium
@pytest.mark.parametrize("args", [("resnet50", "--batch", "32", "--optimizer", "momentum", "--device", "v100-16"),
                                  ("vit_b_16",)])
def test_the_page_fits_a_phone_and_a_desktop_and_sorts_by_keyboard(tmp_path: Path, args):
    text = plan(*args, "--format", "html")
    doc = json.loads(plan(*args, "--format", "json"))
    n = 13 + (3 if "--device" in args else 0)  # the columns; the roofline's three with a device
    for width in (390, 1280):
        seen: Dict[str, Any] = in_browser(tmp_path, text, width)
        assert seen["width"] <= width and seen["widthSorted"] <= width and seen["widthFull"] <= width, seen
        assert seen["buttons"] == [1] * n and seen["focusable"]
        assert seen["sortBefore"] == ["ascending"] + [None] * (n - 1)
        assert seen["sortAfter"][5] == "descending"  # the inputs saved, largest first
        inputs = [doc["layers"][i - 1]["saved"]["inputs"] for i in seen["order"]]
        assert inputs == sorted(inputs, reverse=True) and seen["allShown"]
        assert seen["pressed"] == "true" and abs(seen["diagram"][0] - seen["diagram"][1]) < 1  # its own size


def test_the_readme_picture_is_what_the_command_writes(request):
    """docs/resnet50-step.svg (its PNG shown in the README's training section) stays what
    ``convcalc plan resnet50 --batch 32 --optimizer momentum --format svg`` writes (rewritten by
    --update-goldens; the PNG by rsvg-convert from it)."""
    path = Path(__file__).parent.parent / "docs" / "resnet50-step.svg"
    svg = plan("resnet50", "--batch", "32", "--optimizer", "momentum", "--format", "svg")
    if request.config.getoption("--update-goldens"):
        path.write_text(svg, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == svg, "docs picture is stale; pytest --update-goldens"


def test_golden_lenet5_timeline(golden):
    golden("plan-lenet5-adam.svg", plan("lenet5", "--optimizer", "adam", "--memory", "4MiB", "--headroom", "0",
                                        "--format", "svg"))


def grey(colour: str) -> float:
    """The colour's lightness printed in grey (Rec. 709 luma of the sRGB values, 0 to 1)."""
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_the_categories_survive_grey_printing():
    """Neighbours in the stack differ in grey; two of about the same grey differ in hatching."""
    looks = [style_of(k) for k in STEP_CATEGORIES]
    for (_, a, _), (_, b, _) in zip(looks, looks[1:]):
        assert abs(grey(a) - grey(b)) >= 0.2, (a, b)
    for i, (_, a, ha) in enumerate(looks):
        for _, b, hb in looks[i + 1:]:
            assert abs(grey(a) - grey(b)) >= 0.1 or ha != hb, (a, b)


@pytest.mark.parametrize("top", [3, 900, 1850, 3 * 2**20, 1_288_490_188, 2_987_610_000, 17 * 2**30, 2**30])
def test_the_axis_ticks_are_whole_bytes_in_the_unit_sizes_are_named_in(top):
    tick, unit, size = axis_step(top)
    assert isinstance(tick, int) and tick >= 1 and 3 <= -(-top // tick) <= 6  # about five ticks
    assert human_bytes(top).split()[-1] == unit and tick / size in (0.125, 0.25, 0.5) + tuple(
        m * 10**k for m in (1, 2, 2.5, 5) for k in range(4))
