"""Channel split (``chunk``, ``split``) and the BatchNorm variants (``affine: false``, frozen).

The numbers are hand counts written next to them; PyTorch's behaviour they follow is quoted
(``x.chunk(2, dim=1)``, ``torch.split``, ``nn.BatchNorm2d(affine=False)``,
``torchvision.ops.FrozenBatchNorm2d``).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.errors import ShapeError, SpecError
from convcalc.layers import lookup
from convcalc.load import load
from convcalc.reference.verify import verify
from convcalc.spec.layer_string import parse_string
from convcalc.spec.yaml_reader import parse_yaml


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# --- channel split ------------------------------------------------------------------------


def test_shufflenet_unit_reads_one_half_in_each_branch():
    # ShuffleNetV2's stride-1 unit on 28x28x116: x1, x2 = x.chunk(2, dim=1); cat(x1, branch(x2))
    text = ("28x28x116 cat(chunk2i0 | chunk2i1 pwconv58nb bn relu dwconv3p1nb bn pwconv58nb bn relu) "
            "shuffle2")
    report = analyse(parse_string(text))
    rows = {r.full_name: r for r in report.layers}
    first, second = rows["concat1.b1.chunk1"], rows["concat1.b2.chunk1"]
    assert str(first.output) == str(second.output) == "28x28x58"
    assert (first.params, first.buffers, first.macs) == (0, 0, 0)
    assert first.layer.describe() == "CHUNK 1/2 (channels 0–57)"
    assert second.layer.describe() == "CHUNK 2/2 (channels 58–115)"
    assert str(report.layers[-1].output) == "28x28x116"
    # the branch's 1x1 convs see 58 channels, not 116: 58·58 weights each
    assert rows["concat1.b2.conv1"].params == 58 * 58


def test_chunk_and_split_in_yaml():
    text = ("input: [8, 8, 12]\nlayers:\n"
            "  - concat:\n"
            "      - [{chunk: {chunks: 3, index: 2}}]\n"
            "      - [{split: {sizes: [2, 6, 4], index: 1}}, {conv: {filters: 5, kernel: 1}}]\n")
    report = analyse(parse_yaml(text, "unit.yaml"))
    chunk, split = report.layers[0], report.layers[1]
    assert chunk.layer.describe() == "CHUNK 3/3 (channels 8–11)" and chunk.output.channels == 4
    assert split.layer.describe() == "SPLIT 2/3 (channels 2–7)" and split.output.channels == 6
    assert report.layers[2].params == 6 * 5 + 5
    assert report.layers[-1].output.channels == 4 + 5


def test_split_in_a_layer_string_and_its_default_index():
    [layer] = analyse(parse_string("4x4x10 splitc3x7")).layers
    assert layer.output.channels == 3 and layer.layer.describe() == "SPLIT 1/2 (channels 0–2)"
    [layer] = analyse(parse_string("4x4x10 chunk2")).layers
    assert layer.output.channels == 5


def test_chunks_that_do_not_divide_are_a_located_error_saying_what_would():
    with pytest.raises(ShapeError) as e:
        analyse(parse_string("8x8x115 conv115k1 chunk2i1"))
    err = e.value
    assert "chunks 2 do not divide the input channels 115" in err.message
    assert err.loc is not None and (err.loc.line, err.loc.column) == (1, 19)
    # what would: chunk counts that divide, and torch's own uneven chunks as sizes
    assert "5, 23 or 115" in err.hint and "split" in err.hint and "[58, 57]" in err.hint


def test_index_out_of_range_and_sizes_that_do_not_add_up():
    with pytest.raises(ShapeError, match=r"index 2 is out of range for 2 chunks \(0 or 1\)"):
        analyse(parse_string("8x8x4 chunk2i2"))
    with pytest.raises(ShapeError) as e:
        analyse(parse_yaml("input: [8, 8, 10]\nlayers:\n  - split: {sizes: [3, 4]}\n", "s.yaml"))
    assert "sizes 3 + 4 = 7 do not add up to the input channels 10" in e.value.message
    assert e.value.loc is not None and e.value.loc.line == 3


def test_chunk_needs_its_count_and_split_its_sizes():
    with pytest.raises(SpecError):
        parse_string("8x8x4 chunk")
    with pytest.raises(SpecError):
        parse_yaml("input: [8, 8, 4]\nlayers:\n  - split: {index: 1}\n", "s.yaml")


def test_json_lists_the_options_and_the_table_the_range():
    result = run("table", "8x8x4 chunk2i1", "--format", "json")
    assert result.exit_code == 0
    layer = json.loads(result.stdout)["layers"][0]
    assert layer["kind"] == "chunk" and layer["options"]["chunks"] == 2 and layer["options"]["index"] == 1
    assert layer["description"] == "CHUNK 2/2 (channels 2–3)"


# --- BatchNorm variants --------------------------------------------------------------------


@pytest.mark.parametrize("text, params, buffers, label", [
    ("bn", 2 * 64, 2 * 64, "BATCHNORM"),  # γ, β; running mean and variance
    ("bnna", 0, 2 * 64, "BATCHNORM no affine"),  # nn.BatchNorm2d(64, affine=False)
    ("frozenbn", 0, 4 * 64, "FROZEN BATCHNORM"),  # FrozenBatchNorm2d: weight, bias, mean, var as buffers
])
def test_batchnorm_variants(text, params, buffers, label):
    [r] = analyse(parse_string(f"8x8x64 {text}")).layers
    assert (r.params, r.buffers, r.macs) == (params, buffers, 0)
    assert r.layer.describe() == label


def test_batchnorm_variants_in_yaml():
    text = "input: [4, 4, 16]\nlayers:\n  - bn: {affine: false}\n  - frozenbatchnorm2d: {eps: 0.0}\n"
    first, second = analyse(parse_yaml(text, "bn.yaml")).layers
    assert (first.params, first.buffers) == (0, 32)
    assert (second.params, second.buffers, second.layer.kind) == (0, 64, "frozenbatchnorm")
    with pytest.raises(SpecError):  # a frozen batchnorm learns nothing: it has no affine to turn off
        parse_yaml("input: [4, 4, 16]\nlayers:\n  - frozenbn: {affine: false}\n", "bn.yaml")


def test_kinds_and_schema_list_the_new_kinds():
    for name in ("chunk", "split", "frozenbatchnorm"):
        assert lookup(name) is not None and lookup(name).name == name
    listing = run("kinds").stdout
    for line in ("chunk (also channelchunk): ", "split (also channelsplit): ",
                 "frozenbatchnorm (also frozenbn, frozenbatchnorm2d): "):
        assert line in listing
    assert "affine [na]" in listing
    schema = json.loads(run("schema").stdout)
    text = json.dumps(schema)
    assert '"chunk"' in text and '"split"' in text and '"frozenbatchnorm"' in text and '"affine"' in text


def test_shufflenet_verifies_layer_by_layer():
    v = verify(analyse(load("shufflenet_v2_x1_0")))
    assert v.ok, [(c.name, c.reason) for c in v.layers if c.status != "verified"]
    assert sum(1 for c in v.layers if c.kind == "chunk") == 26
