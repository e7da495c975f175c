"""The JSON Schema of the YAML spec: shipped, printed by ``convcalc schema``, in step with the layer
registry and the YAML reader, and satisfied by every bundled architecture and example.

After adding a kind, an option or a YAML key, ``pytest --update-goldens`` rewrites
``convcalc/schema.json`` from the registry (it is generated, never edited by hand).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from click.testing import CliRunner

from convcalc.cli import cli
from convcalc.layers import KINDS, MERGES
from convcalc.spec import catalog
from convcalc.spec import yaml_reader as parse_yaml
from convcalc.spec.expectations import ALIASES, BUDGET_QUANTITIES, QUANTITIES
from convcalc.spec.schema import build_schema, converter_schema, schema_text

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).parent.parent
SHIPPED = ROOT / "convcalc" / "schema.json"


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema.Draft7Validator(json.loads(schema_text()))


def problems(validator: Any, text: str) -> List[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(yaml.safe_load(text))]


def best(validator: Any, text: str) -> str:
    e = jsonschema.exceptions.best_match(validator.iter_errors(yaml.safe_load(text)))
    return "" if e is None else f"{list(e.absolute_path)}: {e.message}"


def test_the_shipped_schema_is_the_generated_one(request: pytest.FixtureRequest):
    if request.config.getoption("--update-goldens"):
        SHIPPED.write_text(schema_text(), encoding="utf-8")
    assert SHIPPED.read_text(encoding="utf-8") == schema_text(), \
        "convcalc/schema.json is out of date; run pytest --update-goldens"


def test_convcalc_schema_prints_it():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == SHIPPED.read_text(encoding="utf-8")


def test_it_is_a_valid_draft_7_schema():
    schema = build_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("name", catalog.names())
def test_every_bundled_architecture_validates(validator: Any, name: str):
    path = catalog.find(name)
    assert path is not None
    assert problems(validator, Path(path).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_validates(validator: Any, path: Path):
    assert problems(validator, Path(path).read_text(encoding="utf-8")) == []


# --- in step with the registry and the reader -------------------------------------------------


def test_every_kind_alias_and_option_is_in_the_schema():
    schema = build_schema()
    defs: Dict[str, Any] = schema["definitions"]
    item = defs["item"]["else"]["properties"]
    for k in KINDS:
        for name in (k.name, *k.aliases):
            assert item[name] == {"$ref": f"#/definitions/kind.{k.name}"}, name
        options = defs[f"kind.{k.name}"]["then"]["properties"]
        for name, f in k.option_fields().items():
            assert options[name]["description"] == f.metadata["help"]
            for alias in f.metadata["aliases"]:
                assert alias in options, (k.name, alias)
        assert set(options) == {n for name, f in k.option_fields().items() for n in (name, *f.metadata["aliases"])}
    assert set(item) >= set(MERGES)


def test_every_option_has_a_schema_for_its_values():
    # a new converter in options.py needs its entry in schema.CONVERTERS (or to be a choice(...))
    missing = [(k.name, name) for k in KINDS for name, f in k.option_fields().items()
               if not converter_schema(f.metadata["convert"])]
    assert missing == []


def test_the_keys_are_the_yaml_readers():
    schema = build_schema()
    assert list(schema["properties"]) == list(parse_yaml._TOP_KEYS)
    assert all(schema["properties"][key] for key in parse_yaml._TOP_KEYS), "a top-level key without a schema"
    item = schema["definitions"]["item"]["else"]["properties"]
    for key in (*parse_yaml._ITEM_KEYS, *parse_yaml._SEQUENCE_KEYS):
        assert item[key], key
    definition = schema["definitions"]["blocks"]["additionalProperties"]["properties"]
    assert list(definition) == list(parse_yaml._DEFINITION_KEYS) and all(definition.values())


@pytest.mark.parametrize("written", ["34944", "34,944", "105.4M", "35k", "1.05e8", "105M ± 1%", "105M +- 2M",
                                     "2GiB", "1.1 MiB", "500MB", "2gib"])
def test_amounts_the_reader_takes_match_the_schema(written: str):
    import re

    from convcalc.spec.expectations import parse_amount
    from convcalc.spec.schema import amount_pattern

    parse_amount(written, allow_bytes=True)
    assert re.match(amount_pattern(True), written)
    assert not re.match(amount_pattern(True), written.replace("M", "Q").replace("i", "x").replace("k", "q") + "z")


def test_expect_and_budget_name_what_expect_py_reads():
    defs = build_schema()["definitions"]
    assert set(defs["expect"]["properties"]) == set(QUANTITIES) | set(ALIASES)
    assert set(defs["budget"]["properties"]) == set(BUDGET_QUANTITIES)


# --- what it catches while you type -----------------------------------------------------------


def spec(*items: str, top: str = "") -> str:
    return "input: [32, 32, 3]\n" + top + "layers:\n" + "".join(f"  - {i}\n" for i in items)


@pytest.mark.parametrize("text, message", [
    (spec("cnov: {filters: 8, kernel: 3}"), "['layers', 0]: Additional properties are not allowed ('cnov' was "
                                             "unexpected)"),
    (spec("conv: {filters: 8, kernal: 3}"), "['layers', 0, 'conv']: Additional properties are not allowed ('kernal'"),
    (spec("conv: {filters: -1, kernel: 3}"), "['layers', 0, 'conv', 'filters']: -1 is less than the minimum of 1"),
    (spec("fc: 0"), "['layers', 0, 'fc']: 0 is less than the minimum of 1"),
    (spec("relu: 3"), "['layers', 0, 'relu']: 3 is not of type 'null'"),
    (spec("upsample: {scale: 2, mode: cubic}"), "['layers', 0, 'upsample', 'mode']: 'cubic' is not valid"),
    (spec("conv: {filters: 8, kernel: 3}\n    expect: {shpe: 30x30x8}"), "('shpe' was unexpected)"),
    (spec("fc: 10\n    expect: {params: lots}"), "['layers', 0, 'expect', 'params']: 'lots' does not match"),
    (spec("fc: 10", top="budget: {memory: 2 parsecs}\n"), "['budget', 'memory']: '2 parsecs' does not match"),
    (spec("basic: {filters: 64}"), "('basic' was unexpected)"),  # no 'blocks:', so not a block
    ("input: [32, 32, 3]\nlayrs: []\n", "'layers' is a required property"),
])
def test_mistakes_are_caught_where_they_are(validator: Any, text: str, message: str):
    assert message in best(validator, text)


@pytest.mark.parametrize("text", [
    spec("conv: {filters: 8, kernel: 3x5, padding: same, stride: [1, 2], dilation: 1, groups: 1, bias: false}",
         "conv3-64", "(conv64k3p1 relu)x2", "maxpool", "fc: 10\n    name: head\n    expect: {macs: 105.4M, shape: 10}"),
    spec("lrn: {size: 5, alpha: 1e-4, beta: 0.75, k: 2}", "dropout: 0.5",
         top="expect: {params: '62.4M ± 1%', receptive_field: 195}\nbudget: {memory: 2GiB, params: 25M, macs: 4G}\n"),
    spec("add:\n      - [conv64k3p1, bn]\n      - []", "seq: [relu, maxpool]\n    name: stage1\n    repeat: 2"),
    "input: [56, 56, 64]\nblocks:\n  basic:\n    args: {filters: 64, stride: 1}\n    layers:\n"
    "      - conv: {filters: $filters, kernel: 3, stride: $stride}\n      - relu\n"
    "layers:\n  - basic: {filters: 64}\n    repeat: 2\n  - basic:\n",
])
def test_what_convcalc_reads_the_schema_accepts(validator: Any, text: str):
    assert problems(validator, text) == []
    parse_yaml.parse_yaml(text, "ok.yaml")  # and convcalc reads it
