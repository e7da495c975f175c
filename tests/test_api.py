"""The Python API (convcalc/api.py) gives what the command gives: the same JSON, tables, pages,
plans and pictures, and the same errors, for every way of naming a spec; a live Keras model is
read through its ``to_json()``; and ``import convcalc`` stays as light as before."""

from __future__ import annotations

import doctest
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest
from click.testing import CliRunner

import convcalc
from convcalc.cli import cli
from convcalc.errors import ConvcalcError, SpecError

ROOT = Path(__file__).resolve().parent.parent
KERAS = Path(__file__).parent / "fixtures" / "keras"

SPECS = [
    "lenet5",
    "resnet18",
    "vit_b_16",
    "227x227x3 conv96k11s4 maxpool3s2 lrn conv256k5p2 fc4096",
    "224x224x3 conv8k3s2 conv8k4s2",  # strides that do not fit: the warnings
]


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.mark.parametrize("spec", SPECS)
def test_to_json_is_the_commands_json(spec: str):
    report = convcalc.analyse(spec)
    shown = run("table", spec, "--format", "json").stdout
    assert report.to_json() == shown
    assert report.to_dict() == json.loads(shown)


@pytest.mark.parametrize("options, flags", [
    (dict(count="flops", bias=False, batch=8, dtype="float16"),
     ["--count", "flops", "--no-bias", "--batch", "8", "--dtype", "float16"]),
    (dict(ops="all", inplace=True, optimizer="adam", input="192x192x3"),
     ["--count-ops", "all", "--inplace", "--optimizer", "adam", "--input", "192x192x3"]),
    (dict(ops=["norm", "act"], input=(160, 160, 3)), ["--count-ops", "norm,act", "--input", "160x160x3"]),
])
def test_the_tables_options_are_keyword_arguments(options: dict, flags: List[str]):
    report = convcalc.analyse("resnet18", **options)
    assert report.to_json() == run("table", "resnet18", "--format", "json", *flags).stdout
    assert report.table(width=120) == run("table", "resnet18", "--width", "120", *flags).stdout


@pytest.mark.parametrize("fmt", ["markdown", "csv", "html"])
def test_every_format_is_the_commands(fmt: str):
    report = convcalc.analyse("resnet18", batch=2)
    made = {"markdown": report.to_markdown, "csv": report.to_csv, "html": report.to_html}[fmt]()
    assert made == run("table", "resnet18", "--batch", "2", "--format", fmt).stdout


def test_the_table_is_plain_text_at_the_width_asked_and_repr_is_the_table():
    report = convcalc.analyse("vgg16")
    assert report.table(width=90) == run("table", "vgg16", "--width", "90").stdout
    assert report.table(depth=0, rf=True, memory="bytes") == run(
        "table", "vgg16", "--width", "100", "--depth", "0", "--rf", "--memory", "bytes").stdout
    assert str(report) == repr(report) == report.table(width=100)
    assert "\x1b[" not in str(report)
    assert max(len(line) for line in str(report).splitlines()) <= 100


def test_every_way_of_naming_a_spec_reads_the_same_network(tmp_path: Path):
    text = "name: tiny\ninput: 32x32x3\nlayers:\n  - conv: {filters: 8, kernel: 3, padding: 1}\n  - relu\n  - fc: 10\n"
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    data = {"name": "tiny", "input": [32, 32, 3],
            "layers": [{"conv": {"filters": 8, "kernel": 3, "padding": 1}}, "relu", {"fc": 10}]}
    reports = [convcalc.analyse(s) for s in (path, str(path), text, data, "32x32x3 conv8k3p1 relu fc10")]
    expected = json.loads(run("table", str(path), "--format", "json").stdout)
    for report in reports:
        assert report.totals == reports[0].totals
        assert [(x.name, x.output.dims, x.params, x.macs) for x in report.layers] == \
               [(x["full_name"], tuple(x["output"]["shape"]), x["params"], x["macs"]) for x in expected["layers"]]
    assert reports[0].to_json() == run("table", str(path), "--format", "json").stdout
    bundled = convcalc.analyse("alexnet")
    assert bundled.to_json() == run("table", "alexnet", "--format", "json").stdout
    assert convcalc.analyse(convcalc.read("alexnet")).totals == bundled.totals


def test_a_model_file_is_read_by_its_formats_reader(tmp_path: Path):
    pytest.importorskip("onnx")
    path = tmp_path / "alexnet.onnx"
    path.write_bytes(gzip.decompress((Path(__file__).parent / "fixtures" / "onnx" / "alexnet.onnx.gz").read_bytes()))
    report = convcalc.analyse(path)
    assert report.to_json() == run("table", str(path), "--format", "json").stdout
    assert report.totals.params == 61_100_840  # torchvision's alexnet


def test_a_layers_figures_are_the_jsons():
    report = convcalc.analyse("resnet18", count="flops", bias=False)
    layers = report.to_dict()["layers"]
    assert len(report.layers) == len(layers) == report.totals.layers
    for mine, entry in zip(report.layers, layers):
        assert (mine.index, mine.name, mine.kind, mine.description) == \
               (entry["index"], entry["full_name"], entry["kind"], entry["description"])
        assert (mine.params, mine.biases, mine.buffers, mine.macs, mine.flops, mine.activations) == \
               (entry["params"], entry["biases"], entry["buffers"], entry["macs"], entry["flops"], entry["activations"])
        assert (mine.counted_params, mine.work) == (entry["counted"]["params"], entry["counted"]["work"])
        assert mine.activation_bytes == entry["activation_bytes"]
        assert list(mine.output.dims) == entry["output"]["shape"]
        assert [a.size for a in mine.receptive_field.axes] == entry["receptive_field"]["size"]
        assert list(mine.notes) == [n["text"] for n in entry["notes"]]
    assert sum(x.params for x in report.layers) == report.totals.params
    assert report.memory.training_bytes == report.to_dict()["memory"]["training_bytes"]
    blocks = report.to_dict()["blocks"]
    assert len(blocks) > 8 and [(b.full_name, b.params, b.macs) for b in report.blocks] == \
           [(b["full_name"], b["params"], b["macs"]) for b in blocks]


def test_notes_and_warnings_are_what_the_command_says():
    report = convcalc.analyse("224x224x3 conv8k3s2 conv8k4s2")
    assert [w[:25] for w in report.warnings] == ["warning: layer 1 'conv1' ", "warning: layer 2 'conv2' "]
    assert all(w in run("table", "224x224x3 conv8k3s2 conv8k4s2", "--width", "1000").stdout for w in report.warnings)
    looks_first = convcalc.analyse("3x224x224 conv8k3")
    assert len(looks_first.notes) == 1 and "channels-first" in looks_first.notes[0]
    assert looks_first.notes[0] in run("table", "3x224x224 conv8k3").stderr
    assert convcalc.analyse("lenet5").notes == () and convcalc.analyse("lenet5").complete


# --- errors: the same exception and message as the command's -------------------------------


def cli_error(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 2
    return result.stderr.rstrip("\n")


def test_a_bad_spec_raises_the_commands_error(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("input: 32x32x3\nlayers:\n  - conv: {filters: 8, kernal: 3}\n", encoding="utf-8")
    for spec in (path, str(path)):
        with pytest.raises(SpecError) as e:
            convcalc.analyse(spec)
        assert e.value.loc is not None and (e.value.loc.line, e.value.loc.column) == (3, 24)
        assert e.value.render() == cli_error("table", str(path))
    with pytest.raises(ConvcalcError) as e:
        convcalc.analyse("32x32x3 conv8k5 conv8k40")
    assert e.value.render() == cli_error("table", "32x32x3 conv8k5 conv8k40")
    with pytest.raises(SpecError) as e:
        convcalc.analyse("vgg61")
    assert e.value.render() == cli_error("table", "vgg61")
    with pytest.raises(SpecError) as e:
        convcalc.analyse("vgg16", input="224x224xRGB")
    assert "expected an input shape like 227x227x3" in str(e.value)


def test_a_dicts_mistake_is_located_in_the_text_it_is_read_as():
    with pytest.raises(SpecError) as e:
        convcalc.analyse({"input": [32, 32, 3], "layers": [{"conv": {"filters": 8, "kernal": 3}}]})
    assert str(e.value).startswith("<dict>:") and "kernal" in e.value.render()
    with pytest.raises(SpecError, match="cannot be read as a spec"):
        convcalc.analyse({"input": [32, 32, 3], "layers": [object()]})
    from convcalc.shape import Shape

    as_list = convcalc.analyse({"input": [32, 32, 3], "layers": ["conv8k3"]})
    for given in ((32, 32, 3), Shape((32, 32), 3)):  # what Python holds a shape as, read as its sizes
        assert convcalc.analyse({"input": given, "layers": ("conv8k3",)}).totals == as_list.totals


def test_a_missing_path_is_no_such_file_never_a_bundled_name(tmp_path: Path):
    with pytest.raises(SpecError, match="no such file"):
        convcalc.analyse(tmp_path / "vgg16")


@pytest.mark.parametrize("options, said", [
    (dict(count="flop"), "count: 'flop' is not one of macs, flops"),
    (dict(optimizer="adamw"), "optimizer: 'adamw' is not one of sgd, momentum, adam"),
    (dict(ops="norms"), "ops: 'norms' is not one of norm, act, pool, all"),
    (dict(dtype="float8"), "unknown dtype 'float8'"),
    (dict(batch=0), "batch: expected a whole number from 1"),
])
def test_a_bad_option_is_a_convcalc_error(options: dict, said: str):
    with pytest.raises(ConvcalcError, match=re.escape(said)):
        convcalc.analyse("lenet5", **options)


def test_sizes_are_held_to_the_commands_ranges():
    report = convcalc.analyse("lenet5")
    with pytest.raises(ConvcalcError, match="width: expected a whole number from 40 to 1,000, got 5"):
        report.table(width=5)
    with pytest.raises(ConvcalcError, match="depth: expected a whole number from 0 to 1,000, got -1"):
        report.to_html(depth=-1)
    with pytest.raises(ConvcalcError, match="width: expected a whole number from 400 to 20,000, got 100"):
        report.draw(width=100)


def test_a_wrong_python_type_is_a_type_error():
    with pytest.raises(TypeError):
        convcalc.analyse(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        convcalc.analyse("lenet5", input=3.5)  # type: ignore[arg-type]


# --- plan and pictures ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["table"], ["plan"], ["draw", "--style", "graph"]])
def test_every_command_reads_and_analyses_through_the_api(command: List[str], monkeypatch: Any):
    """table, plan and draw take SPEC to a report by convcalc.read and convcalc.analyse, so the
    library and the command cannot differ in how a spec is read or analysed."""
    from convcalc import api

    called: List[str] = []
    read, analyse = api.read, api.analyse
    monkeypatch.setattr(api, "read", lambda *a, **k: called.append("read") or read(*a, **k))
    monkeypatch.setattr(api, "analyse", lambda *a, **k: called.append("analyse") or analyse(*a, **k))
    result = run(*command, "lenet5", "--input", "28x28x1")
    assert result.exit_code == 0, result.output
    assert called[:2] == ["read", "analyse"]


def test_plan_is_the_commands_plan():
    report = convcalc.analyse("resnet18")
    plan = report.plan(batch=4)
    assert plan.to_json() == run("plan", "resnet18", "--batch", "4", "--format", "json").stdout
    assert plan.table(width=110) == run("plan", "resnet18", "--batch", "4", "--width", "110").stdout
    assert plan.report.batch == 4 and report.result.batch == 1  # planned on its own analysis
    assert plan.backward_macs > 0 and plan.saved_bytes == plan.to_dict()["totals"]["saved_activation_bytes"]
    assert report.plan().to_json() == run("plan", "resnet18", "--format", "json").stdout
    assert report.plan(dtype="float16").to_json() == run("plan", "resnet18", "--dtype", "float16", "-f", "json").stdout
    with pytest.raises(TypeError):  # what the planner does not take (yet) is refused, never ignored
        report.plan(no_such_option=1)


@pytest.mark.parametrize("style", ["blocks", "graph", "lenet"])
def test_a_drawing_is_the_commands_picture(style: str):
    shown = run("draw", "resnet18", "--style", style, "--depth", "1").stdout
    assert convcalc.drawing("resnet18", style=style, depth=1).svg == shown
    assert convcalc.analyse("resnet18").draw(style, depth=1)._repr_svg_() == shown
    on_input = run("draw", "resnet18", "--style", style, "--input", "160x160x3").stdout
    assert convcalc.drawing("resnet18", style=style, input="160x160x3").svg == on_input


def test_draw_options_are_checked():
    with pytest.raises(ConvcalcError, match="style: 'block' is not one of blocks, graph, lenet"):
        convcalc.drawing("lenet5", style="block")
    with pytest.raises(ConvcalcError, match="only the blocks style draws kernels"):
        convcalc.drawing("lenet5", style="graph", kernels=True)


def test_a_drawing_saves_its_svg(tmp_path: Path):
    drawing = convcalc.drawing("lenet5")
    drawing.save(tmp_path / "lenet5.svg")
    assert (tmp_path / "lenet5.svg").read_text(encoding="utf-8") == drawing.svg == str(drawing)


def test_a_notebook_shows_the_html_page_in_a_frame_of_its_own():
    import html

    report = convcalc.analyse("resnet18")
    shown = report._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"") and shown.endswith("</iframe>")
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', shown).group(1))  # type: ignore[union-attr]
    assert page == report.to_html() == run("table", "resnet18", "--format", "html").stdout
    assert "<style" not in shown.split("srcdoc=")[0]  # nothing outside the frame styles the notebook


# --- Keras from Python ------------------------------------------------------------------------


class FakeKerasModel:
    """What convcalc asks of a Keras model: its name and ``to_json()`` (recorded from Keras 3)."""

    def __init__(self, fixture: str, name: str = "") -> None:
        self.json = gzip.decompress((KERAS / f"{fixture}.json.gz").read_bytes()).decode("utf-8")
        self.name = name

    def to_json(self) -> str:
        return self.json


def test_from_keras_reads_the_models_json_as_the_file_reader_does(tmp_path: Path):
    model = FakeKerasModel("resnet50", "resnet50")
    path = tmp_path / "resnet50.json"
    path.write_text(model.json, encoding="utf-8")
    live, filed = convcalc.from_keras(model, batch=2), convcalc.analyse(path, batch=2)
    assert live.totals == filed.totals and live.memory == filed.memory and live.layers == filed.layers
    assert (live.totals.params, live.totals.buffers) == (25_583_592, 53_120)  # model.summary()'s split
    assert live.result.spec.origin == "<keras resnet50>"
    assert "tensorflow" not in sys.modules and "keras" not in sys.modules


def test_from_keras_lists_a_layer_it_cannot_count_never_counts_it_as_zero():
    model = FakeKerasModel("vgg16", "custom")
    model.json = (KERAS / "custom_sequential.json").read_text(encoding="utf-8")
    report = convcalc.from_keras(model)
    assert not report.complete and report.result.unknown_ops == {"SpaceToDepth": 1}
    assert report.warnings[0].startswith("warning: layer 2 's2d' (<keras custom>:3:1): operator 'SpaceToDepth'")


def test_from_keras_errors_name_the_model():
    broken = FakeKerasModel("vgg16", "vgg16")
    broken.json = broken.json[:200]
    with pytest.raises(SpecError, match=r"^<keras vgg16>:1:\d+: not valid JSON"):
        convcalc.from_keras(broken)
    with pytest.raises(TypeError, match="an object with to_json"):
        convcalc.from_keras(object())


# --- the package stays light; the README's example runs ------------------------------------


def test_import_convcalc_loads_nothing_heavy():
    code = ("import sys, convcalc; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('convcalc', 'click', 'yaml', 'rich')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "['convcalc', 'convcalc.version']"


def test_the_apis_names_are_there_and_typed():
    assert set(convcalc.__all__) <= set(dir(convcalc))
    for name in convcalc.__all__:
        assert getattr(convcalc, name) is not None
    with pytest.raises(AttributeError):
        convcalc.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_the_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## From Python")[1].split("\n## ")[0]
    examples = re.findall(r"```pycon\n(.*?)```", section, re.S)
    assert examples, "the README's 'From Python' section shows a pycon example"
    test = doctest.DocTestParser().get_doctest("\n".join(examples), {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


def test_the_api_modules_example_runs():
    import convcalc.api

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(convcalc.api, "convcalc.api"):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0
