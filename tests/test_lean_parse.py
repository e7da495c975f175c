"""The YAML reader's short ways (yaml_reader: ``plain_item``, ``rule``) give what the full reading gives.

A bare word and a layer kind alone are read without the full item machinery, and identical
options are validated once per spec and their rule shared. Sharing must never share a place:
every item keeps its own line and column, in errors, in ``LayerSpec.loc`` and in the JSON.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.errors import ConvcalcError, Location, SpecError
from convcalc.spec.model import LayerSpec
from convcalc.spec.yaml_reader import _Loader, _Reader, parse_yaml

CHAIN = "  - conv: {filters: 8, kernel: 3, padding: 1}\n  - batchnorm\n  - relu\n"


def spec(items: str, blocks: str = "") -> str:
    return f"name: t\ninput: [16, 16, 8]\n{blocks}layers:\n{items}"


def place(loc: Any) -> tuple:
    assert isinstance(loc, Location)
    return (loc.file, loc.line, loc.column, loc.source, loc.width)


def test_identical_items_keep_their_own_places():
    network = parse_yaml(spec(CHAIN * 3), "net.yaml")
    assert [(ls.loc.line, ls.loc.column) for ls in network.layers] == [(line, 5) for line in range(4, 13)]
    assert [ls.loc.source for ls in network.layers] == CHAIN.rstrip("\n").split("\n") * 3
    assert network.layers[0].layer is network.layers[3].layer  # validated once, shared: values are frozen
    assert network.layers[0].loc is not network.layers[3].loc


def test_identical_items_keep_their_own_places_in_the_json(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(spec(CHAIN * 2 + "  -   relu\n  - conv: {filters: 8,  kernel: 3, padding: 1}\n"))
    result = CliRunner().invoke(cli, ["table", str(path), "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["layers"]
    assert [(r["location"]["line"], r["location"]["column"]) for r in rows] == \
        [(4, 5), (5, 5), (6, 5), (7, 5), (8, 5), (9, 5), (10, 7), (11, 5)]


@pytest.mark.parametrize("bad, at", [
    ("  - conv: {filters: 8, kernel: 99, padding: 1}\n", (8, 5)),  # reads, then does not compute
    ("  - conv: {filters: 8, kernel: 3, paddin: 1}\n", (8, 35)),
    ("  - conv: {filters: -8, kernel: 3, padding: 1}\n", (8, 21)),
    ("  - relu\n  - rleu\n", (9, 5)),
    ("  - relu\n  -     conv: {filters: 8, kernel: 3, padding: 1, filters: 4}\n", (9, 51)),
])
def test_an_error_after_identical_good_items_is_located_where_it_is(bad, at):
    with pytest.raises(ConvcalcError) as info:
        analyse(parse_yaml(spec(CHAIN + "  - conv: {filters: 8, kernel: 3, padding: 1}\n" + bad), "net.yaml"))
    assert (info.value.loc.line, info.value.loc.column) == at, info.value.render()


def test_a_repeated_bad_item_fails_at_its_first_place():
    with pytest.raises(SpecError) as info:
        parse_yaml(spec("  - relu\n  - conv: {filters: 8}\n  - conv: {filters: 8}\n"), "net.yaml")
    assert (info.value.loc.line, info.value.loc.column) == (5, 5)
    assert "needs 'kernel'" in info.value.message


def test_same_text_different_arguments_inside_blocks():
    blocks = ("blocks:\n  unit:\n    args: {w: 8}\n    layers:\n"
              "      - conv: {filters: $w, kernel: 3, padding: 1}\n      - relu\n")
    items = ("  - unit: {w: 4}\n  - unit: {w: 16}\n  - conv: {filters: 8, kernel: 3, padding: 1}\n  - unit:\n")
    network = parse_yaml(spec(items, blocks), "net.yaml")
    convs = [b.branches[0][0] for b in network.layers if not isinstance(b, LayerSpec)]
    assert [c.layer.filters for c in convs] == [4, 16, 8]
    assert [(c.loc.line, c.loc.column) for c in convs] == [(7, 9)] * 3  # where the block says it
    top = network.layers[2]
    assert top.layer == convs[2].layer and (top.loc.line, top.loc.column) == (12, 5)


def test_same_words_different_tags_are_read_apart():
    """'8' quoted is text, not the number 8: the rule read for the number is not reused for it."""
    with pytest.raises(SpecError) as info:
        parse_yaml(spec("  - conv: {filters: 8, kernel: 3}\n  - conv: {filters: '8', kernel: 3}\n"), "net.yaml")
    assert (info.value.loc.line, info.value.loc.column) == (5, 21)
    assert "got the string '8'" in info.value.message


# --- the short way against the full reading, item by item ---------------------------------------

WORDS = ["relu", "relu6", "bn", "batchnorm", "maxpool2s2", "conv3-64", "FC-4096", "fc10", "conv64k3p1",
         "avgpool3s1p1", "dropout", "flatten", "softmax", "rleu", "conv", "maxpool2s2x", "relu relu",
         "'relu'", '"relu"', "relu # note", "null", "true", "8", "conv8k3:enc1", "@enc1", "(relu)x2"]
KINDS = ["conv", "Conv", "fc", "relu", "maxpool", "batchnorm", "dropout", "name", "repeat", "add", "seq",
         "unknown", "convv"]
VALUES = ["8", "{filters: 8, kernel: 3}", "{filters: 8, kernel: 3, padding: 1}", "{units: 10}",
          "{kernel: [3, 3], filters: 4}", "{window: 2, stride: 2}", "{}", "[8]", "null", "{filters: '8', kernel: 3}",
          "{p: 0.5}", "{kernel: {a: 1}}", "'é'", "0x8", "{filters: 8, filters: 8, kernel: 3}"]
ITEM = st.one_of(st.sampled_from(WORDS),
                 st.builds(lambda k, v: f"{k}: {v}", st.sampled_from(KINDS), st.sampled_from(VALUES)))
PREFIX = st.sampled_from(["", " ", "   "])


def error(e: ConvcalcError) -> tuple:
    return ("error", type(e), str(e), e.hint, place(e.loc))


def full_reading(reader: _Reader, node: yaml.Node) -> Any:
    try:
        return ("ok", reader.item(node))
    except ConvcalcError as e:
        return error(e)


def same(a: Any, b: Any) -> None:
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a == b
        return
    assert a[1] == b[1]
    for x, y in zip(a[1], b[1]):
        assert place(x.loc) == place(y.loc)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(PREFIX, ITEM), min_size=1, max_size=6))
def test_the_short_way_reads_as_the_full_reading(items: list):
    text = spec("".join(f"  -{pad} {item}\n" for pad, item in items))
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return
    nodes = root.value[2][1].value
    quick_reader, full_reader = _Reader(text, "net.yaml"), _Reader(text, "net.yaml")
    for node in nodes:  # the items repeat: later ones take the short way from its cache
        full = full_reading(full_reader, node)
        try:
            quick = quick_reader.plain_item(node)
        except ConvcalcError as e:
            same(error(e), full)
            continue
        if quick is not None:
            same(("ok", [quick]), full)
