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
    ("6x6x8 attention2rb", "relative_bias needs a window"),
    ("6x6x8 attention2grid", "partition: grid needs a window"),
    ("6x6x8 attention2sh", "shifted needs a window"),
    ("6x6x8 attention2w4grid", "6 is not a multiple of 4"),
    ("6x6x8 attention2w3gridsh", "shifted windows are Swin's block partition"),
    ("6x6x8 attention2w3x3x3", "a 3x3x3 window on the 2-axis input"),
    ("6x6x8 parameters5add", "a tensor of dims 5 does not broadcast to the input 6x6x8"),
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


# Measured with CPU PyTorch 2.14 / torchvision 0.29 (a scratch venv, never a dependency):
# params and buffers by summing numel() over module.parameters() / .buffers(); MACs as
# torch.utils.flop_counter.FlopCounterMode's total / 2, which counts the linear layers and the
# matmuls (Q·Kᵀ, A·V), not the softmax or the bias added to the scores.
MEASURED = [
    # nn.MultiheadAttention(96, 3, batch_first=True) on (64, 49, 96), query = key = value
    ("64x49x96 attention3", 37_248, 0, 145_108_992),
    # swin_t features.1.0.attn (ShiftedWindowAttention(96, [7, 7], [0, 0], 3)) on (1, 56, 56, 96)
    ("56x56x96 attention3w7rb", 37_755, 2_401, 145_108_992),
    # features.1.1.attn: the same with shift [3, 3]: same MACs, the mask adds no params
    ("56x56x96 attention3w7shrb", 37_755, 2_401, 145_108_992),
    # features.7.0.attn / 7.1.attn: C 768, 24 heads, on (1, 7, 7, 768) (torchvision drops the shift)
    ("7x7x768 attention24w7rb", 2_366_424, 2_401, 119_293_440),
    ("7x7x768 attention24w7shrb", 2_366_424, 2_401, 119_293_440),
    # ShiftedWindowAttention(96, [7, 7], [3, 3], 3) on 30x30 (padded to 35x35) and on 5x5 (to 7x7)
    ("30x30x96 attention3w7shrb", 37_755, 2_401, 56_683_200),
    ("5x5x96 attention3w7shrb", 37_755, 2_401, 2_267_328),
    # maxvit_t blocks.0.layers.0.layers.window_attention / grid_attention: attn_layer[1]
    # (RelativePositionalMultiHeadAttention(64, 32, 7)) on 56x56: 64 windows / 64 grids of 49
    ("56x56x64 attention2w7rb", 16_978, 2_401, 71_049_216),
    ("56x56x64 attention2w7gridrb", 16_978, 2_401, 71_049_216),
    # blocks.3.layers.1: C 512, 16 heads, on 7x7 (one window, one grid)
    ("7x7x512 attention16w7rb", 1_053_328, 2_401, 53_838_848),
    ("7x7x512 attention16w7gridrb", 1_053_328, 2_401, 53_838_848),
]


@pytest.mark.parametrize("text, params, buffers, macs", MEASURED)
def test_attention_counts_what_pytorch_measures(text, params, buffers, macs):
    [layer] = analyse(parse_string(text)).layers
    assert (layer.params, layer.buffers, layer.macs) == (params, buffers, macs)


def test_relative_bias_tables_of_swin_t_and_maxvit_t():
    """The tables alone, summed over torchvision's swin_t (23,322) and maxvit_t (28,392), as
    measured (numel of every parameter named relative_position_bias_table): swin_t has 2, 2, 6, 2
    blocks of 3, 6, 12, 24 heads; maxvit_t 2, 2, 5, 2 blocks of 2, 4, 8, 16 heads (head dim 32),
    each with a block and a grid attention; every window 7x7."""
    def table(heads, form=""):
        with_table = analyse(parse_string(f"7x7x{32 * heads} attention{heads}w7{form}rb")).layers[0].params
        without = analyse(parse_string(f"7x7x{32 * heads} attention{heads}w7{form}")).layers[0].params
        return with_table - without
    swin = sum(n * table(h) for n, h in ((2, 3), (2, 6), (6, 12), (2, 24)))
    maxvit = sum(n * (table(h) + table(h, "grid")) for n, h in ((2, 2), (2, 4), (5, 8), (2, 16)))
    assert (swin, maxvit) == (23_322, 28_392)


def test_the_row_says_which_positions_a_query_sees():
    """Reproduces issue 19: [64, 49, 96] with attention: 3 was 2,003,828,736 MACs, all 3,136
    positions one sequence, with only 'sees the whole 64x49 input' to show for it."""
    report = analyse(parse_yaml("input: [64, 49, 96]\nlayers:\n  - attention: 3\n"))
    [layer] = report.layers
    assert layer.macs == 145_108_992
    [note] = layer.notes
    assert "64 sequences of 49 tokens" in note.text and "batch_first" in note.text and "'tokens' first" in note.text
    table = run("table", "56x56x96 attention3w7shrb attention3w7gridrb")
    notes = " ".join(table.output.split())
    assert "64 windows of 49" in notes and "64 grids of 49" in notes
    windows = analyse(parse_string("56x56x96 attention3w7sh attention3w7grid")).layers
    assert "its own 7x7 window, of 64" in windows[0].notes[0].text and "shifted by 3x3" in windows[0].notes[0].text
    assert "every 8x8-th position" in windows[1].notes[0].text
    padded = analyse(parse_string("30x30x8 attention2w7")).layers[0]
    assert any("padded with zeros to 35x35" in n.text for n in padded.notes)


def test_windowed_attention_in_yaml():
    report = analyse(parse_yaml(
        "input: [56, 56, 96]\nlayers:\n"
        "  - attention: {heads: 3, window: 7, shifted: true, relative_bias: true}\n"
        "  - attention: {num_heads: 3, window_size: [7, 7], partition: grid, relative_position_bias: true}\n"
        "  - parameter: [169, 3]\n"
        "  - parameter: {shape: [1, 96], add: true}\n"))
    a, b, table, added = report.layers
    assert a.layer.describe() == "ATTENTION h3 win 7x7 shifted rel bias"
    assert b.layer.describe() == "ATTENTION h3 grid 7x7 rel bias"
    assert (a.params, b.params, table.params, added.params) == (37_755, 37_755, 507, 96)
    assert (table.macs, added.macs, added.output.dims) == (0, 0, (56, 56, 96))


def test_windowed_attention_fields_are_not_followed():
    fields = analyse(parse_string("16x16x8 conv8k3p1 attention2w4 conv8k3p1")).fields
    assert [f.status for f in fields] == ["local", "untracked", "untracked"]
    assert "attn1" in fields[1].why and "windows" in fields[1].why
    batch = analyse(parse_string("16x16x8 attention2")).fields
    assert batch[0].status == "untracked" and "sequence" in batch[0].why
    assert analyse(parse_string("16x8 attention2")).fields[0].status == "global"  # one sequence
