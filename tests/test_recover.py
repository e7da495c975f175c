"""recover.py: blocks recovered from the flat graphs the readers give, repeated blocks folded.

The promise, for every bundled spec, the imported Caffe, Keras and ONNX models and random
graphs: ``parse_yaml(to_yaml(recover(spec)))`` gives the same JSON report as ``spec``, but for
what recovery changes by design: layer and output names (a layer in a block is ``res2a.b1.x``; a
folded copy's layers are numbered, their file names in comments), block paths, and the blocks
list (recovered blocks are new blocks). Shapes, params, MACs, sources, receptive fields, memory,
totals and the outputs' tensors and shapes are compared exactly."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest

from convcalc.analysis.engine import analyse
from convcalc.importers.recover import recover
from convcalc.load import load
from convcalc.report.json_report import report_dict
from convcalc.spec import catalog
from convcalc.spec.model import BlockSpec, FromSpec, NetworkSpec
from convcalc.spec.yaml_reader import parse_yaml
from convcalc.spec.yaml_writer import to_yaml

sys.path.insert(0, str(Path(__file__).parent))
import test_caffe_zoo as zoo  # noqa: E402  (the generated model-zoo deploy files)
from test_hostile import assert_clean, run  # noqa: E402
from test_import_keras import Graph, vgg16  # noqa: E402
from test_import_keras import write as write_keras


def figures(spec: NetworkSpec) -> Dict[str, Any]:
    """The JSON report without what recovery changes by design (the module docstring says what)."""
    d = report_dict(analyse(spec))
    for r in d["layers"]:
        for key in ("name", "path", "full_name", "location"):
            r.pop(key, None)
        if r["receptive_field"]["why"]:  # names the layer where fields stop: a name recovery may change
            r["receptive_field"]["why"] = r["receptive_field"]["why"].split("' ", 1)[-1]
    for o in d["outputs"]:
        o.pop("name")
    for w in d.get("warnings", []):
        w.pop("location", None)  # where in which file: the recovered YAML is another file
    d.pop("blocks")
    d["network"].pop("origin")
    return d


def round_trip(spec: NetworkSpec) -> NetworkSpec:
    return parse_yaml(to_yaml(recover(spec)), "recovered.yaml")


def names(nodes: Any) -> Set[str]:
    out: Set[str] = set()
    for n in nodes:
        if isinstance(n, FromSpec):
            continue
        out |= {n.name} if n.name else set()
        if isinstance(n, BlockSpec):
            for b in n.branches:
                out |= names(b)
    return out


def assert_recovered(spec: NetworkSpec) -> str:
    """Same figures; every layer the file named keeps its name, or has it in a comment, or is in
    a later copy of a folded repeat (whose first copy's names are the comments). The YAML written."""
    text = to_yaml(recover(spec))
    back = parse_yaml(text, "recovered.yaml")
    assert figures(back) == figures(spec)
    comments = set(re.findall(r"[\w.\-]+", " ".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)))
    written = names(spec.layers)
    for was, now in zip(analyse(spec).layers, analyse(back).layers):
        if was.name in written and was.name != now.name and was.name not in comments:
            assert any(part not in written for part in now.path), (was.full_name, now.full_name)  # a folded copy
    return text


def test_every_bundled_spec_gives_the_same_report() -> None:
    for name in catalog.names():
        assert_recovered(load(name))


def lines_of(text: str, word: str) -> List[str]:
    return [line for line in text.splitlines() if line.strip().startswith(word)]


def test_caffe_resnet50_is_residual_blocks_folded_by_stage(tmp_path: Path) -> None:
    spec = load(zoo.write(tmp_path, zoo.resnet50(), "resnet50.prototxt"))
    text = assert_recovered(spec)
    # every merge is a block with its branches: none reads named tensors any more
    assert not lines_of(text, "from:") and "{from:" not in text
    assert len(lines_of(text, "- add:")) == 4 + 4  # res2a..res5a with both branches, one per repeated unit
    assert [int(line.split()[1]) for line in lines_of(text, "repeat:")] == [2, 3, 5, 2]
    assert "# 5 copies, in the file res4b, res4c, res4d, res4e, res4f; names below are res4b's" in text
    assert "- conv: {filters: 256, kernel: 1, bias: false}  # res4b_branch2a" in text
    report = analyse(parse_yaml(text))
    assert [b.full_name for b in report.blocks if b.merge][:2] == ["res2a", "block1.add1"]


def test_caffe_googlenet_is_inception_blocks(tmp_path: Path) -> None:
    spec = load(zoo.write(tmp_path, zoo.googlenet(), "googlenet.prototxt"))
    text = assert_recovered(spec)
    assert not lines_of(text, "from:") and "{from:" not in text
    report = analyse(parse_yaml(text))
    concats = [b for b in report.blocks if b.merge == "concat"]
    assert [b.name for b in concats] == [f"inception_{i}.output" for i in ("3a", "3b", "4a", "4b", "4c", "4d", "4e",
                                                                           "5a", "5b")]
    assert {b.branches for b in concats} == {4}


@pytest.mark.parametrize("keras", [2, 3])
def test_keras_residual_and_concat(tmp_path: Path, keras: int) -> None:
    g = Graph((8, 8, 16), keras)
    g.add("Conv2D", "a", filters=16, kernel_size=3, padding="same", use_bias=False)
    g.add("Conv2D", "b", filters=16, kernel_size=3, padding="same", use_bias=False)
    g.add("Add", "add", reads=["b", "input_1"])
    g.add("Conv2D", "left", filters=4, kernel_size=1)
    g.add("Conv2D", "right", reads=["add"], filters=6, kernel_size=3, padding="same")
    g.add("Concatenate", "cat", reads=["left", "right"], axis=-1)
    text = assert_recovered(load(write_keras(tmp_path, g.model())))
    assert "{from:" not in text and "  - add:\n      -\n        - conv" in text


def test_keras_vgg16_stays_as_written(tmp_path: Path) -> None:
    spec = load(write_keras(tmp_path, vgg16()))
    assert recover(spec) == spec  # a chain without merges: nothing to recover, nothing folded


def test_onnx_models_from_the_import_tests(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    import test_import_onnx as onnx_tests

    for build in (onnx_tests.lenet, onnx_tests.residual):
        assert_recovered(load(onnx_tests.save(tmp_path, build())))


def test_import_writes_the_recovered_spec(tmp_path: Path) -> None:
    result = run("import", zoo.write(tmp_path, zoo.resnet50(), "resnet50.prototxt"))
    assert_clean(result, (0,))
    assert "repeat: 5" in result.stdout and "{from:" not in result.stdout


# --- what stays as it was written ---------------------------------------------------------------


def yaml_spec(body: str, outputs: str = "") -> NetworkSpec:
    return parse_yaml(f"input: [8, 8, 4]\nlayers:\n{body}{outputs}", "flat.yaml")


def test_cross_reads_and_dense_concats_stay_named_merges() -> None:
    fpn = yaml_spec("""
  - {conv: {filters: 4, kernel: 1}, name: c1}
  - {conv: {filters: 4, kernel: 1}, name: c2}
  - {conv: {filters: 4, kernel: 1}, name: lat, from: c1}
  - {add: {from: [lat, c2]}, name: p1}
  - {conv: {filters: 4, kernel: 1}, name: head, from: c2}
  - {add: {from: [head, p1]}, name: p2}
""")
    text = assert_recovered(fpn)
    assert "add: {from: [lat, c2]}" in text  # c2 is read again by 'head', outside the merge
    dense = yaml_spec("""
  - {conv: {filters: 4, kernel: 1}, name: x1}
  - {concat: {from: [input, x1]}, name: k1}
  - {conv: {filters: 4, kernel: 1}, name: x2}
  - {concat: {from: [input, x1, x2]}, name: k2}
  - {conv: {filters: 4, kernel: 1}, name: x3}
  - {concat: {from: [input, x1, x2, x3]}, name: k3}
""")
    text = assert_recovered(dense)
    assert text.count("{from:") == 3  # every concat reads tensors the later ones read too


def test_an_interior_name_something_reads_stays_a_name() -> None:
    spec = yaml_spec("""
  - {conv: {filters: 4, kernel: 1}, name: a}
  - {conv: {filters: 4, kernel: 1}, name: b}
  - {add: {from: [b, input]}, name: s}
""", "outputs: [a, s]\n")
    assert recover(spec) == spec
    assert_recovered(spec)


def test_a_repeated_item_is_written_once_with_repeat() -> None:
    spec = parse_yaml("input: [8, 8, 4]\nlayers:\n  - add: [[conv4k1, relu], []]\n    repeat: 3\n  - relu\n")
    text = to_yaml(spec)
    assert "    repeat: 3\n" in text and text.count("- add:") == 1
    assert figures(parse_yaml(text)) == figures(spec)


# --- random graphs ------------------------------------------------------------------------------


def random_spec(rng: random.Random, size: int) -> str:
    """Layers of one shape (8x8x4: a 1x1 conv, a ReLU) and sums of earlier tensors: forks whose
    branches meet (in order or not, with an identity or not), reads across them, residual units
    repeated, unnamed layers, and sometimes an output from the middle."""
    lines, named = [], ["input"]
    layer = ["conv: {filters: 4, kernel: 1}", "relu: {}"]

    def emit(item: str, reads: str = "") -> str:
        name = f"t{len(lines) + 1}" if rng.random() < 0.9 else ""
        lines.append("  - {" + item + (f", from: {reads}" if reads else "") + (f", name: {name}" if name else "") + "}")
        if name:
            named.append(name)
        return name

    while len(lines) < size:
        roll = rng.random()
        if roll < 0.45:  # a fork, its branches, and the merge of their ends
            fork = named[-1] if rng.random() < 0.8 else rng.choice(named)
            ends = [fork] if rng.random() < 0.4 else []
            for _ in range(rng.randint(1, 3)):
                end = ""
                for step in range(rng.randint(1, 3)):
                    end = emit(rng.choice(layer), fork if step == 0 else "")
                if end:
                    ends.append(end)
            if len(ends) >= 2:
                if rng.random() < 0.2:
                    rng.shuffle(ends)
                emit(rng.choice(["add", "mul"]) + ": {from: [" + ", ".join(ends) + "]}")
        elif roll < 0.55 and len(named) > 2:  # a read across
            emit("add: {from: [" + ", ".join(rng.sample(named, 2)) + "]}")
        elif roll < 0.6:  # a residual unit, then the same again
            lines.extend(["  - {add: [[conv4k1, relu], []]}", "  - relu"] * rng.randint(2, 4))
        else:
            emit(rng.choice(layer), rng.choice(named[-3:]) if rng.random() < 0.2 else "")
    outputs = f"outputs: [{rng.choice(named[1:])}, {named[-1]}]\n" if rng.random() < 0.3 and len(named) > 2 else ""
    return "input: [8, 8, 4]\nlayers:\n" + "\n".join(lines) + "\n" + outputs


def test_random_graphs_give_the_same_report() -> None:
    rng = random.Random(14)
    for case in range(300):
        text = random_spec(rng, rng.randint(2, 40))
        spec = parse_yaml(text, f"random{case}.yaml")
        back = round_trip(spec)
        assert figures(back) == figures(spec), text



def test_a_branch_that_starts_elsewhere_than_the_fork_stays() -> None:
    # c reads a, not the fork f: as a branch of a block at a it would read a's input instead
    spec = yaml_spec("""
  - {conv: {filters: 4, kernel: 1}, name: f}
  - {conv: {filters: 4, kernel: 1}, name: a}
  - {conv: {filters: 4, kernel: 1}, name: b, from: f}
  - {conv: {filters: 4, kernel: 1}, name: c, from: a}
  - {add: {from: [b, c]}, name: m}
""")
    text = assert_recovered(spec)
    assert "add: {from: [b, c]}" in text
