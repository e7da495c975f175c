"""``shares: a``: weights a layer reads that an earlier layer holds (a module applied twice, a
decoder tied to its embedding) are one tensor, counted once, at the layer that holds them, as
PyTorch's ``model.parameters()`` counts them; the row that reads them again says so, and every
output (table, JSON, plan) agrees. The torch importer writes the same field
(tests/test_from_torch.py)."""

from __future__ import annotations

import json

import pytest

import convcalc
from convcalc.errors import SpecError
from convcalc.spec.yaml_reader import parse_yaml
from convcalc.spec.yaml_writer import to_yaml
from tests.test_hostile import assert_clean, run, yaml_file

TWICE = """\
input: [8]
layers:
  - fc: 8
    name: a
  - relu
  - fc: 8
    shares: a
"""


def unshared(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "shares" not in line)


def test_a_layer_applied_twice_is_counted_once():
    shared, apart = convcalc.analyse(TWICE), convcalc.analyse(unshared(TWICE))
    fc = 8 * 8 + 8
    assert apart.totals.params == 2 * fc and shared.totals.params == fc
    row = shared.result.layers[-1]
    assert (row.params, row.biases, row.shared) == (0, 0, fc)
    assert [n.text for n in row.notes if n.code == "shared"] == [f"shares its weights with layer 'a': counted there ({fc} params)"]
    assert json.loads(shared.to_json())["totals"]["params"] == fc
    # the plan: parameters, gradients and Adam's state of one tensor; its gradient still made twice
    ours, theirs = shared.plan(optimizer="adam"), apart.plan(optimizer="adam")
    assert ours.to_dict()["peak_breakdown"]["parameters"] == ours.to_dict()["peak_breakdown"]["gradients"] == 4 * fc
    assert ours.backward_macs == theirs.backward_macs
    assert "weights of a" in shared.table(width=120)


def test_a_tied_weight_beside_a_bias_of_its_own():
    text = TWICE.replace("shares: a", "shares: {layer: a, params: 64}")
    report = convcalc.analyse(text)
    row = report.result.layers[-1]
    assert (row.params, row.biases, report.totals.params) == (8, 8, 72 + 8)
    both = convcalc.analyse(TWICE.replace("shares: a", "shares: [{layer: a, params: 64}, {layer: a, params: 8, biases: 8}]"))
    assert both.totals.params == 72 and both.result.layers[-1].biases == 0


def test_the_yaml_writer_keeps_what_is_shared():
    for text in (TWICE, TWICE.replace("shares: a", "shares: {layer: a, params: 64}")):
        spec = parse_yaml(text, "t.yaml")
        again = parse_yaml(to_yaml(spec), "again.yaml")
        assert again.layers == spec.layers
        assert convcalc.analyse(again).totals.params == convcalc.analyse(spec).totals.params


@pytest.mark.parametrize("shares, message", [
    ("zz", "'shares' 'zz': no layer or block of that name"),
    ("[]", "shares: expected the name of the layer"),
    ("{layer: a, params: 0}", "params must be a whole number of at least 1"),
    ("{layer: a, weights: 3}", "unknown key 'weights'"),
    ("{params: 3}", "which layer holds the weights"),
    ("{layer: a, params: 500}", "cannot be the same weights"),
    ("input", "which is not a layer"),
    ("[{layer: a, params: 64}, {layer: a, params: 64}]", "cannot be the same weights"),  # 128 of its 72
])
def test_a_wrong_share_is_a_located_error(shares, message):
    text = TWICE.replace("shares: a", f"shares: {shares}")
    with pytest.raises(SpecError) as e:
        convcalc.analyse(text)
    assert message in e.value.message and e.value.loc is not None and e.value.loc.line == 7


def test_weights_of_another_size_cannot_be_shared(tmp_path):
    path = yaml_file(tmp_path, TWICE.replace("- fc: 8\n    shares", "- fc: 4\n    shares"))
    result = run("table", path)
    assert_clean(result, codes=(2,))
    assert "holds 36 params and 'a' 72: they cannot be the same weights" in result.output
    assert f"{path}:7:13" in result.output


def test_shares_goes_on_a_layer_only():
    text = "input: [8]\nlayers:\n  - fc: 8\n    name: a\n  - seq: [fc8]\n    shares: a\n"
    with pytest.raises(SpecError, match="'shares' goes on a layer"):
        convcalc.analyse(text)
