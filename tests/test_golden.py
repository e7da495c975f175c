"""Rendered output against golden files (regenerate with ``pytest --update-goldens``), and the
invariant that per-layer columns add up to the printed totals."""

from __future__ import annotations

import csv
import io
import json

import pytest

from convcalc.analysis.engine import analyse
from convcalc.load import load
from convcalc.report.csv_report import to_csv
from convcalc.report.json_report import to_json
from convcalc.report.markdown_report import to_markdown
from convcalc.report.numbers import human
from convcalc.report.table import print_table
from convcalc.spec import catalog


def table_text(spec: str, width: int = 120) -> str:
    out = io.StringIO()
    print_table(analyse(load(spec)), file=out, width=width, color=False)
    return out.getvalue()


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "alexnet-torchvision"])
def test_table_golden(name, golden):
    golden(f"{name}.table.txt", table_text(name))


def test_narrow_table_golden(golden):
    golden("7x7-stride3.table.txt", table_text("7x7x1 conv1k3s3 conv1k2", width=80))


def test_markdown_golden(golden):
    golden("lenet5.md", to_markdown(analyse(load("lenet5"))))


def test_json_golden(golden):
    golden("lenet5.json", to_json(analyse(load("lenet5"))))


@pytest.mark.parametrize("name", catalog.names())
def test_layers_add_up_to_the_totals(name):
    report = analyse(load(name))
    data = json.loads(to_json(report))
    for column in ("params", "buffers", "macs", "flops", "param_bytes"):
        assert sum(layer[column] for layer in data["layers"]) == data["totals"][column], column
    assert data["input"]["elements"] + sum(layer["activations"] for layer in data["layers"]) == data["totals"]["activations"]
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    for column in ("params", "macs", "activations"):
        assert data["input"]["elements"] * (column == "activations") + sum(int(r[column]) for r in rows) == data["totals"][column]
    # the table's totals row shows the rounded totals, and each layer row its rounded figures
    text = table_text(name, width=200)
    total_row = next(line for line in text.splitlines() if line.strip().startswith("total"))
    t = report.totals
    assert total_row.split()[-3:] == [human(t.params), human(t.macs), human(t.activations)]
    for layer in report.layers:
        row = next(line for line in text.splitlines() if line.split()[:2] == [str(layer.index), layer.name])
        assert f" {human(layer.params)} " in row and f" {human(layer.macs)} " in row


@pytest.mark.parametrize("n, text", [(0, "0"), (999, "999"), (1000, "1.00K"), (34_944, "34.9K"), (61_100_840, "61.1M"),
                                     (138_357_544, "138M"), (714_188_480, "714M"), (15_470_264_320, "15.5G"),
                                     (999_500, "1.00M"), (999_499, "999K")])
def test_human_units(n, text):
    assert human(n) == text
