"""Tokens and attention (issue 12): the per-position linear, layer scale, tokens and back, the
class token, the position embedding, selecting a token and multi-head self-attention.

Every expected figure is a hand count written next to it from the definitions (PyTorch's
``nn.Linear``, ``nn.MultiheadAttention``, ViT's ``class_token`` and ``pos_embedding``), never a
figure produced by running convcalc.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.errors import ShapeError, SpecError
from convcalc.layers import KINDS
from convcalc.spec.layer_string import parse_string
from convcalc.spec.yaml_reader import parse_yaml
from tests.test_hostile import assert_clean, run


@pytest.mark.parametrize("text, shape, params, macs", [
    # nn.Linear(8, 16) at each of the 7·7 positions: 8·16 + 16 params, 49·8·16 MACs
    ("7x7x8 pwlinear16", (7, 7, 16), 8 * 16 + 16, 49 * 8 * 16),
    ("10x8 pwlinear4nb", (10, 4), 8 * 4, 10 * 8 * 4),
    ("8 positionwise3", (3,), 8 * 3 + 3, 8 * 3),  # a vector is one position: fc without flatten
    ("7x7x8 layerscale", (7, 7, 8), 8, 0),
    ("7x7x8 layernorm2d", (7, 7, 8), 16, 0),
    ("14x14x8 tokens", (196, 8), 0, 0),
    ("196x8 togrid", (14, 14, 8), 0, 0),
    ("196x8 clstoken", (197, 8), 8, 0),
    ("197x8 posembed", (197, 8), 197 * 8, 0),
    ("7x7x8 posembed", (7, 7, 8), 7 * 7 * 8, 0),
    ("197x8 selecttoken", (8,), 0, 0),
    ("197x8 select3", (8,), 0, 0),
    # nn.MultiheadAttention(8, 2): in_proj 3·8·8 + 3·8, out_proj 8·8 + 8 = 4·64 + 32 = 288;
    # MACs with L = 10: q, k, v 3·10·64 = 1,920; QKᵀ 10·10·8 = 800; AV 800; out 10·64 = 640
    ("10x8 attention2", (10, 8), 288, 1_920 + 800 + 800 + 640),
    ("10x8 mha2nb", (10, 8), 256, 4_160),
    ("10x8 attention", (10, 8), 288, 4_160),  # heads change no count
    # leading axes are a batch (batch_first): 3 sequences of 3 tokens, 3·(4·3·64 + 2·9·8)
    ("3x3x8 attention4", (3, 3, 8), 288, 3 * (4 * 3 * 64 + 2 * 9 * 8)),
    # a 2x2 window on 4x4: 4 windows of 4 tokens, 4·(4·4·64 + 2·16·8); shifting changes nothing
    ("4x4x8 attention2w2", (4, 4, 8), 288, 4 * (4 * 4 * 64 + 2 * 16 * 8)),
    ("4x4x8 attention2w2sh", (4, 4, 8), 288, 4 * (4 * 4 * 64 + 2 * 16 * 8)),
    ("4x4x8 attention2w2grid", (4, 4, 8), 288, 4 * (4 * 4 * 64 + 2 * 16 * 8)),
    # relative bias: (2·2 − 1)·(2·2 − 1) offsets · 2 heads = 18 params more
    ("4x4x8 attention2w2rb", (4, 4, 8), 288 + 18, 4 * (4 * 4 * 64 + 2 * 16 * 8)),
    # 5x5 padded to 6x6 as torchvision's Swin pads: 9 windows of 4
    ("5x5x8 attention2w2", (5, 5, 8), 288, 9 * (4 * 4 * 64 + 2 * 16 * 8)),
    ("5x5x8 parameters169x3", (5, 5, 8), 169 * 3, 0),
    ("5x5x8 parameters1x8add", (5, 5, 8), 8, 0),
])
def test_hand_counts(text, shape, params, macs):
    [layer] = analyse(parse_string(text)).layers
    assert layer.output.dims == shape
    assert (layer.params, layer.macs) == (params, macs)


def test_the_vit_block_in_yaml():
    spec = parse_yaml(
        "input: 224x224x3\n"
        "layers:\n"
        "  - conv: {filters: 768, kernel: 16, stride: 16}\n"
        "  - tokens:\n"
        "  - clstoken:\n"
        "  - posembed:\n"
        "  - add:\n"
        "      - [layernorm, {attention: {heads: 12}}]\n"
        "      - []\n"
        "  - selecttoken: {index: 0}\n")
    report = analyse(spec)
    assert [str(r.output) for r in report.layers] == \
        ["14x14x768", "196x768", "197x768", "197x768", "197x768", "197x768", "197x768", "768"]
    attention = report.layers[5]
    # 4·768² + 4·768; 4·197·768² + 2·197²·768
    assert (attention.params, attention.macs) == (2_362_368, 464_781_312 + 59_610_624)


def test_togrid_takes_a_size_per_axis_in_yaml():
    report = analyse(parse_yaml("input: 12x8\nlayers:\n  - togrid: {size: [3, 4]}\n"))
    assert str(report.layers[0].output) == "3x4x8"


@pytest.mark.parametrize("text, fragment", [
    ("10x8 attention3", "heads 3 must divide the channels 8"),
    ("8 attention", "needs a sequence of tokens"),
    ("7x7x8 clstoken", "clstoken needs a sequence of tokens (LxC), got the grid 7x7x8"),
    ("8 tokens", "needs a grid"),
    ("10x8 togrid", "10 tokens do not make a square grid"),
    ("12x8 togrid4", "a 4x4 grid holds 16 tokens, not the 12 given"),
    ("5x8 select5", "token 5 does not exist in a sequence of 5"),
    ("7x7x8 selecttoken", "selecttoken needs a sequence of tokens"),
])
def test_refusals_are_located_and_say_what_was_received(text, fragment):
    with pytest.raises(ShapeError) as e:
        analyse(parse_string(text))
    assert fragment in e.value.message
    assert e.value.loc is not None and e.value.loc.column == text.index(" ") + 2
    result = run("table", text)
    assert_clean(result, codes=(2,))
    assert fragment in " ".join(result.output.split())


def test_bad_options_are_spec_errors():
    with pytest.raises(SpecError):
        parse_string("10x8 attention0")
    with pytest.raises(SpecError):
        parse_string("10x8 pwlinear")  # units is required


def test_receptive_fields():
    """Per-position layers keep a field; the class token shifts it by one token, as one token of
    padding; attention reports the whole input."""
    report = analyse(parse_string("32x8 conv1d8k3 pwlinear8 layerscale clstoken posembed attention2 selecttoken"))
    fields = report.fields
    assert [f.text() for f in fields[:5]] == ["3 j1", "3 j1", "3 j1", "3 j1", "3 j1"]
    assert fields[3].axes[0].start == fields[2].axes[0].start - 1
    assert [f.status for f in fields[5:]] == ["global", "global"]
    # tokens of a grid: each token sees what its grid unit saw (3x3 here); per-position layers
    # keep that; a class token reorders the sequence, which the grid's axes cannot follow
    grid = analyse(parse_string("8x8x3 conv4k3 tokens pwlinear4 clstoken attention2")).fields
    assert [f.text() for f in grid] == ["3 j1", "3 j1", "3 j1", "n/a", "all"]
    assert "class" in grid[3].why or "cls1" in grid[3].why


def test_kinds_states_the_attention_convention():
    out = CliRunner().invoke(cli, ["kinds"]).output
    line = next(line for line in out.splitlines() if line.startswith("attention"))
    assert "S·(4·n·C² + 2·n²·C)" in line and "softmax" in line and "not counted" in line
    assert "batch_first" in line and "window" in line and "(2w−1)²·heads" in line
    for name in ("pwlinear", "layerscale", "tokens", "togrid", "clstoken", "posembed", "selecttoken", "gelu"):
        assert any(line.startswith(name) for line in out.splitlines()), name


def test_every_new_rule_states_its_formula_and_source():
    new = {"pwlinear", "layerscale", "tokens", "togrid", "clstoken", "posembed", "selecttoken", "attention",
           "parameter"}
    for k in KINDS:
        if k.name in new:
            doc = k.rule.__doc__ or ""
            assert "Params" in doc or "No parameters" in doc or "no MACs" in doc, k.name
            assert "arXiv" in doc or "PyTorch" in doc or "ViT" in doc or "torchvision" in doc, k.name
