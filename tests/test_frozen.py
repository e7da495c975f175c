"""``frozen: true`` on a layer or a block: nothing in it is trained, so the engine counts its
weights and biases as buffers (params 0, buffers = the rule's buffers + params, MACs unchanged),
as Keras' ``trainable=False`` splits them in ``model.summary()``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_hostile import assert_clean, run

from convcalc.analysis.engine import analyse
from convcalc.errors import SpecError
from convcalc.spec import catalog
from convcalc.spec.model import BlockSpec, reserved_words
from convcalc.spec.source import load_file
from convcalc.spec.yaml_reader import parse_yaml
from convcalc.spec.yaml_writer import to_yaml
from convcalc.values import replace

SPEC = """\
input: [32, 32, 3]
layers:
  - conv: {filters: 8, kernel: 3}
    frozen: true
  - bn
  - seq: [conv16k3, bn, relu]
    frozen: true
  - add:
      - [conv16k3p1, bn]
      - []
    frozen: true
    name: res
  - fc: 10
"""


def figures(text: str) -> list:
    return [(r.full_name, r.params, r.buffers, r.biases, r.macs) for r in analyse(parse_yaml(text)).layers]


def test_a_frozen_layer_counts_its_weights_and_biases_as_buffers() -> None:
    rows = {name: (params, buffers, biases, macs) for name, params, buffers, biases, macs in figures(SPEC)}
    assert rows["conv1"] == (0, 3 * 3 * 3 * 8 + 8, 0, 30 * 30 * 27 * 8)  # weights and bias: buffers
    assert rows["bn1"] == (16, 16, 0, 0)  # not frozen: γ, β params; running mean, variance buffers
    assert rows["block1.bn1"] == (0, 4 * 16, 0, 0)  # frozen: all four, as torchvision's FrozenBatchNorm2d
    assert rows["res.conv1"][:3] == (0, 3 * 3 * 16 * 16 + 16, 0)  # a block's flag freezes what is inside
    assert rows["fc2"][0] == 28 * 28 * 16 * 10 + 10


def test_frozen_moves_params_to_buffers_and_nothing_else() -> None:
    plain = analyse(parse_yaml(SPEC.replace("frozen: true", "frozen: false")))
    frozen = analyse(parse_yaml(SPEC))
    assert frozen.totals.params + frozen.totals.buffers == plain.totals.params + plain.totals.buffers
    assert frozen.totals.params == 28 * 28 * 16 * 10 + 10 + 16
    assert (frozen.totals.macs, frozen.totals.activations) == (plain.totals.macs, plain.totals.activations)
    assert [r.output for r in frozen.layers] == [r.output for r in plain.layers]
    block = next(b for b in frozen.blocks if b.name == "res")
    assert (block.params, block.buffers) == (0, 3 * 3 * 16 * 16 + 16 + 4 * 16)


def test_a_layer_marked_not_frozen_inside_a_frozen_block_is_still_frozen() -> None:
    text = "input: [8, 8, 3]\nlayers:\n  - seq:\n      - conv: {filters: 4, kernel: 1}\n        frozen: false\n    frozen: true\n"
    assert figures(text) == [("block1.conv1", 0, 16, 0, 8 * 8 * 3 * 4)]


def test_frozen_on_a_reusable_block_and_a_repeat() -> None:
    text = ("blocks:\n  unit:\n    layers: [conv4k1, relu]\ninput: [8, 8, 4]\nlayers:\n"
            "  - unit: {}\n    frozen: true\n    repeat: 2\n    name: u\n  - conv4k1\n")
    assert [(n, p, b) for n, p, b, _, _ in figures(text)] == [
        ("u.1.conv1", 0, 20, ), ("u.1.relu1", 0, 0), ("u.2.conv1", 0, 20), ("u.2.relu1", 0, 0), ("conv1", 20, 0)]


@pytest.mark.parametrize("value, what", [("1", "got 1"), ('"yes"', "the string 'yes'"), ("[true]", "a list"),
                                         ("null", "got nothing"), ("{a: 1}", "a mapping")])
def test_a_frozen_that_is_not_a_boolean_is_a_located_error(tmp_path: Path, value: str, what: str) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(f"input: [8, 8, 3]\nlayers:\n  - conv4k1\n  - relu:\n    frozen: {value}\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        parse_yaml(spec.read_text(), str(spec))
    assert info.value.loc is not None and (info.value.loc.line, info.value.loc.column) == (5, 13)
    assert what in info.value.message or what in str(info.value.hint)
    result = run("table", str(spec))
    assert_clean(result, codes=(2,))
    assert f"{spec}:5:13" in result.output


def test_frozen_is_a_reserved_word_and_listed() -> None:
    assert "frozen" in reserved_words()
    result = run("kinds")
    assert result.exit_code == 0 and "frozen" in result.output
    with pytest.raises(SpecError, match="reserved word"):
        parse_yaml("blocks:\n  frozen:\n    layers: [relu]\ninput: [4, 4, 1]\nlayers: [relu]\n")


def test_the_writer_keeps_frozen_so_the_report_is_the_same() -> None:
    spec = parse_yaml(SPEC)
    text = to_yaml(spec)
    assert text.count("frozen: true") == 3
    again = parse_yaml(text)
    assert again == spec
    assert analyse(again).totals == analyse(spec).totals
    bare = parse_yaml("input: [8, 8, 3]\nlayers:\n  - conv4k1\n  - relu:\n    frozen: true\n")
    assert parse_yaml(to_yaml(bare)) == bare  # an unnamed layer without options is not written bare


def test_the_footer_and_json_state_the_convention_only_when_a_layer_is_frozen(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(SPEC, encoding="utf-8")
    table = run("table", str(path))
    assert table.exit_code == 0 and "a frozen layer's as buffers (6 frozen)" in table.output
    assert "frozen" in json.loads(run("table", str(path), "--format", "json").stdout)["conventions"]
    path.write_text(SPEC.replace("frozen: true", "frozen: false"), encoding="utf-8")
    assert "frozen" not in run("table", str(path)).output
    assert "frozen" not in json.loads(run("table", str(path), "--format", "json").stdout)["conventions"]


@pytest.mark.parametrize("name", catalog.names())
def test_every_bundled_spec_is_unfrozen_and_freezing_it_moves_params_only(name: str) -> None:
    """No bundled spec has a frozen layer (their reports and goldens are as before); the whole
    network in a frozen block has params 0, and its buffers are the params and buffers before."""
    path = catalog.find(name)
    assert path is not None
    spec = load_file(path)
    report = analyse(spec)
    assert report.frozen == 0
    frozen = analyse(replace(spec, layers=(BlockSpec((spec.layers,), frozen=True),)))
    assert frozen.totals.params == frozen.totals.biases == 0
    assert frozen.totals.buffers == report.totals.params + report.totals.buffers
    assert (frozen.totals.macs, frozen.totals.activations) == (report.totals.macs, report.totals.activations)
