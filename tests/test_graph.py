"""Specs as graphs (issue 12): names and references, several outputs, sizes from other tensors,
--input; and the receptive fields and memory liveness that follow the edges.

Every figure below is worked out by hand in the comments, never read back from convcalc.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcalc.analysis.engine import analyse
from convcalc.errors import SpecError
from convcalc.spec.layer_string import parse_string
from convcalc.spec.yaml_reader import parse_yaml
from tests.test_hostile import assert_clean, run

# A small U-Net: valid 3x3 convs, one 2x2 pool, a 2x2 up-convolution, a centre crop of the
# encoder map to the decoder's size, concatenated. On 64x64x1:
#   enc1 62x62x8, pool 31x31x8, conv2 29x29x16, up1 58x58x8, skip1 = crop(enc1) 58x58x8,
#   concat 58x58x16, head 58x58x2; a second output reads up1 through global pooling: 1x1x8.
UNET = """\
name: tiny-unet
input: [64, 64, 1]
layers:
  - conv: {filters: 8, kernel: 3}
    name: enc1
  - maxpool: 2
  - conv: {filters: 16, kernel: 3}
  - convtranspose: {filters: 8, kernel: 2, stride: 2}
    name: up1
  - crop: {like: up1}
    from: enc1
    name: skip1
  - concat: {from: [skip1, up1]}
  - conv: {filters: 2, kernel: 1}
    name: head
  - from: up1
  - gap: {}
    name: pooled
outputs: [head, pooled]
"""
UNET_STRING = ("64x64x1 conv8k3:enc1 maxpool2 conv16k3 convtranspose8k2s2:up1 @enc1 crop@up1:skip1 "
               "cat(@skip1 | @up1) conv2k1:head @up1 gap:pooled")


def by_name(report):
    return {r.full_name: r for r in report.layers}


def test_references_shapes_and_sources():
    report = analyse(parse_yaml(UNET, "unet.yaml"))
    layers = by_name(report)
    assert [str(layers[n].output) for n in ("enc1", "up1", "skip1", "concat1.concat", "head", "pooled")] == \
        ["62x62x8", "58x58x8", "58x58x8", "58x58x16", "58x58x2", "1x1x8"]
    # skip1 reads enc1 (layer 1), not up1 (layer 4) before it; the concat reads skip1 and up1
    assert layers["skip1"].sources == (1,)
    assert layers["concat1.concat"].sources == (layers["skip1"].index, layers["up1"].index)
    assert layers["pooled"].sources == (layers["up1"].index,)
    assert [(o.name, str(o.shape)) for o in report.outputs] == [("head", "58x58x2"), ("pooled", "1x1x8")]


def test_the_layer_string_says_the_same():
    from_yaml = analyse(parse_yaml(UNET, "unet.yaml"))
    from_string = analyse(parse_string(UNET_STRING))
    assert [(r.full_name, str(r.output), r.params, r.macs, r.sources) for r in from_yaml.layers] == \
        [(r.full_name.replace("concat1.concat", "concat1.concat"), str(r.output), r.params, r.macs, r.sources)
         for r in from_string.layers]


def test_sizes_follow_the_input():
    """The crop's size comes from up1, so the spec is right at any input: at 100x100,
    enc1 98, pool 49, conv2 47, up1 94, and the crop is 94 (margin (98 − 94)/2 = 2)."""
    spec = parse_yaml(UNET, "unet.yaml")
    from convcalc.shape import Shape
    from convcalc.values import replace

    layers = by_name(analyse(replace(spec, input=Shape((100, 100), 1))))
    assert str(layers["skip1"].output) == "94x94x8"
    assert layers["skip1"].layer.describe() == "CROP to 94x94 (like up1)"


def test_upsample_to_the_input_size():
    report = analyse(parse_string("37x45x3 conv8k3s2 conv4k3s2 upsample@input"))
    assert str(report.output) == "37x45x4"
    assert report.layers[-1].layer.describe() == "UPSAMPLE to 37x45 (like input) nearest"


def test_each_layer_is_counted_once_whatever_reads_it():
    """params: enc1 3·3·1·8 + 8 = 80; conv2 3·3·8·16 + 16 = 1,168; up1 2·2·16·8 + 8 = 520;
    head 16·2 + 2 = 34: 1,802 in all, though up1 feeds the concat and the second output."""
    report = analyse(parse_yaml(UNET, "unet.yaml"))
    assert report.totals.params == 80 + 1_168 + 520 + 34
    assert len(report.layers) == 8


def test_memory_liveness_keeps_a_skip_alive():
    """A tensor lives until its last reader. On 8x8x1: 'a' (8x8x4 = 256) is read by the last
    layer, so it stays alive across the 4x4x4 pool (64) and the conv (64) in between.
    Steps: input 64 + a 256 = 320 while a is made (the input is freed after), then a + pool
    64 = 320, a + pool + conv 64 = 384 (pool freed after), then a + conv + upsample 256 = 576,
    then a + up + add 256 = 768: the peak; a chain that freed 'a' early would never hold it."""
    report = analyse(parse_string("8x8x1 conv4k3p1:a maxpool2 conv4k3p1 upsample2 add(@a | )"))
    assert report.memory.peak == 256 + 256 + 256
    chain = analyse(parse_string("8x8x1 conv4k3p1 maxpool2 conv4k3p1 upsample2 relu"))
    assert chain.memory.peak == 256 + 256  # the upsample's input (64) is freed before relu


def test_outputs_stay_alive_to_the_end():
    """'early' (8x8x4 = 256) is an output: it is held while the 8x8x16 conv (1,024) and its
    pool (4x4x16 = 256) run, so the peak is 256 + 1,024 + 256 = 1,536, not 1,024 + 256."""
    spec = parse_yaml("input: [8, 8, 1]\nlayers:\n  - conv4k3p1:early\n  - conv16k3p1\n  - maxpool2:late\n"
                      "outputs: [early, late]\n", "o.yaml")
    assert analyse(spec).memory.peak == 256 + 1_024 + 256


def test_receptive_fields_follow_references():
    """After '@a', the 3x3 conv grows a's field (3 j1), not the strided one's (7 j2):
    a = 3 j1; b (k3 s2 on a) = 5 j2; c (k3 on a) = 3 + 2·1 = 5 j1."""
    report = analyse(parse_string("32x32x1 conv1k3p1:a conv1k3s2p1:b @a conv1k3p1:c"))
    fields = dict(zip((r.full_name for r in report.layers), report.fields))
    assert fields["b"].text() == "5 j2"
    assert fields["c"].text() == "5 j1"


def test_paths_that_meet_unaligned_are_named():
    """A skip at jump 1 added to a path at jump 2 brought back by upsampling has jump 1 again
    but a different centre: 'a' starts at 0; the 3x3 s2 p1 conv keeps start 0 at jump 2, and
    nearest upsampling by 2 moves it by (1/2 − 1)/2 · 2 = −1/2. The merge says 'not aligned'
    rather than a wrong number; without the stride the paths agree."""
    report = analyse(parse_string("16x16x1 conv1k3p1:a conv1k3s2p1 upsample2 add(@a | )"))
    assert report.fields[-1].status == "unaligned"
    report = analyse(parse_string("16x16x1 conv1k3p1:a conv1k3p1 add(@a | )"))
    assert report.fields[-1].text() == "5 j1"


@pytest.mark.parametrize("text, fragment, column", [
    ("8x8x1 conv4k3p1:a @b relu", "no layer or block of that name", 19),
    ("8x8x1 conv4k3p1:enc1 @enc2 relu", "did you mean 'enc1'", 22),
    ("8x8x1 @later relu conv4k3p1:later", "refers forward", 7),
    ("8x8x1 relu @x conv4k3p1:x", "reads itself", 12),
    ("8x8x4 res(conv4k3p1:c | ) res(conv4k3p1:c | ) @c relu", "ambiguous", 47),
    ("8x8x1 relu@a", "cannot take its size from another tensor", 12),
    ("8x8x1 conv4k3p1:a/b", "expected a name", 17),
])
def test_bad_references_are_located_errors(text, fragment, column):
    result = run("table", text)
    assert_clean(result, codes=(2,))
    assert fragment in result.output, result.output
    assert f"<string>:1:{column}:" in result.output, result.output


@pytest.mark.parametrize("text, fragment, line", [
    ("input: [8, 8, 1]\nlayers:\n  - relu: {}\n    from: nowhere\n", "no layer or block of that name", 4),
    ("input: [8, 8, 1]\nlayers:\n  - concat: {from: [only]}\n", "two or more tensors", 3),
    ("input: [8, 8, 1]\nlayers:\n  - relu\noutputs: [relu1, nope]\n", "an output 'nope'", 4),
    ("input: [8, 8, 1]\nlayers:\n  - crop: {like: 3}\n", "expected the name", 3),
    ("input: [8, 8, 1]\nlayers:\n  - from: [a, b]\n", "a merge", 3),
])
def test_bad_yaml_references_are_located_errors(tmp_path, text, fragment, line):
    path = tmp_path / "g.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("table", str(path))
    assert_clean(result, codes=(2,))
    assert fragment in result.output, result.output
    assert f"{path}:{line}:" in result.output, result.output


def test_table_and_json_list_every_output(tmp_path):
    path = tmp_path / "unet.yaml"
    path.write_text(UNET, encoding="utf-8")
    text = run("table", str(path), "--width", "120").output
    assert "2 outputs: head 58x58x2 (layer 7) · pooled 1x1x8 (layer 8)" in text
    data = json.loads(run("table", str(path), "--format", "json").output)
    assert [(o["name"], o["text"], o["tensor"]) for o in data["outputs"]] == [("head", "58x58x2", 7),
                                                                               ("pooled", "1x1x8", 8)]
    assert data["layers"][4]["sources"] == [1]  # skip1 reads enc1


def test_input_option_runs_any_spec_at_another_size(tmp_path):
    """AlexNet (torchvision) has an adaptive pool before its classifier, so at 256x320 every
    conv changes and the classifier does not: conv1 11x11 s4 p2 gives (256 + 4 − 11)//4 + 1 = 63
    by (320 + 4 − 11)//4 + 1 = 79."""
    data = json.loads(run("table", "alexnet-torchvision", "--input", "256x320x3", "--format", "json").output)
    assert data["input"]["text"] == "256x320x3"
    assert data["layers"][0]["output"]["text"] == "63x79x64"
    assert data["totals"]["params"] == 61_100_840
    assert_clean(run("table", "vgg16", "--input", "3x"), codes=(2,))
    result = run("check", "alexnet-torchvision", "--input", "256x320x3")
    assert_clean(result, codes=(0,))
    result = run("verify", "32x32x3 conv8k3p1 maxpool2", "--input", "16x16x3", "--format", "json")
    assert_clean(result, codes=(0,))
    assert json.loads(result.output)["layers"][1]["engine"]["output"]["text"] == "8x8x8"


def test_a_spec_without_references_reads_as_before():
    """The chain and tree specs of before have the same figures and one output, their last."""
    report = analyse(parse_string("32x32x3 conv8k3p1 res(conv8k3p1 | ) maxpool2"))
    assert [r.sources for r in report.layers] == [(0,), (1,), (2, 1), (3,)]  # the add: branch, shortcut
    assert [(o.name, str(o.shape)) for o in report.outputs] == [("pool1", "16x16x8")]


def test_spec_error_type_for_library_users():
    with pytest.raises(SpecError, match="refers forward"):
        analyse(parse_string("8x8x1 @b relu conv4k3p1:b"))


def test_readme_names_the_syntax():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for mark in ("`@enc1`", "`from: enc1`", "`outputs: [", "`like: input`", "`--input HxWxC`"):
        assert mark in readme, mark


def test_a_wrong_answer_is_carried_along_the_edges(tmp_path):
    """'a' answered 8x8x4 (truly 6x6x4); the pool reads 'a', not the 1x1 conv before it, so its
    answer 4x4x4 follows from the wrong 8x8x4 (2x2 pool: 4x4x4) and passes as carried forward,
    with the truth (3x3x4) said beside it."""
    path = tmp_path / "carry.yaml"
    path.write_text("input: [8, 8, 1]\nlayers:\n  - conv: {filters: 4, kernel: 3}\n    name: a\n"
                    "    expect: {shape: 8x8x4}\n  - conv: {filters: 2, kernel: 1}\n  - maxpool: 2\n    from: a\n"
                    "    expect: {shape: 4x4x4}\n", encoding="utf-8")
    result = run("check", str(path))
    assert_clean(result, codes=(1,))
    assert "✓ pool1: shape 4x4x4" in result.output
    assert "carried forward from the answer 8x8x4 for a" in result.output and "3x3x4" in result.output


def test_numbered_names_as_torchvision_gives_fpn_levels(tmp_path):
    """torchvision names FPN levels '0'..'3': a name may be a number, read from its text."""
    path = tmp_path / "n.yaml"
    path.write_text("input: [8, 8, 1]\nlayers:\n  - conv: {filters: 4, kernel: 3}\n    name: 0\n"
                    "  - relu: {}\n    name: 1\n  - from: 0\noutputs: [0, 1]\n", encoding="utf-8")
    data = json.loads(run("table", str(path), "--format", "json").output)
    assert [(o["name"], o["tensor"]) for o in data["outputs"]] == [("0", 1), ("1", 2)]
    assert analyse(parse_string("8x8x1 conv4k3p1:0 relu @0 conv2k1")).layers[2].sources == (1,)


# --- '<in>': a block reads its own input (issue 19: Swin's roll had to be passed its tensor's name) -

ROLL = """\
input: [8, 8, 4]
blocks:
  roll:
    args: {s: 2}
    layers:
      - slice: {axis: 0, start: '${8 - s}'}
        name: tail
      - slice: {axis: 0, stop: '${8 - s}'}
        from: <in>
        name: head
      - concat: {from: [tail, head], axis: 0}
layers:
  - conv: {filters: 6, kernel: 1}
    name: c
  - roll: {s: 3}
  - conv: {filters: 4, kernel: 1}
  - roll: {s: 2}
    name: r2
"""


def test_a_block_reads_its_own_input_again_without_being_told_its_name():
    report = analyse(parse_yaml(ROLL))
    rows = {r.full_name: r for r in report.layers}
    # roll1 on c (8x8x6): tail = rows 5..7 (3x8x6), head = rows 0..4 read from c, tensor 1, again
    assert rows["roll1.head"].sources == (rows["c"].index,) and rows["roll1.head"].output.dims == (5, 8, 6)
    assert rows["roll1.tail"].output.dims == (3, 8, 6)
    # r2 on conv2's output (8x8x4), not on c nor on the network input: head rows 0..5
    assert rows["r2.head"].sources == (rows["conv2"].index,) and rows["r2.head"].output.dims == (6, 8, 4)
    assert rows["r2.head"].reads == ("<in> = conv2",)


@pytest.mark.parametrize("text, reads, source", [
    ("8x8x4 conv4k1 res(relu | @<in>)", "<in> = conv1", 1),  # a merge branch: its block's input
    ("8x8x4 conv4k1 @<in> relu", "<in> = input", 0),  # at the top of a spec: the network's input
    ("8x8x4 conv4k1:a res(relu @<in> relu | relu)", "<in> = a", 1),  # inside a branch: its block's
])
def test_in_is_the_input_of_the_block_it_is_read_in(text, reads, source):
    report = analyse(parse_string(text))
    reader = next(r for r in report.layers if r.reads)
    assert reader.reads == (reads,) and reader.sources[-1] == source  # (a merge: its last branch)


def test_in_never_names_a_layer():
    with pytest.raises(SpecError, match="expected a name"):
        parse_string("8x8x4 conv4k1:<in>")
    with pytest.raises(SpecError, match="cannot name a layer or block"):
        parse_yaml("input: [8, 8, 4]\nlayers:\n  - relu: {}\n    name: <in>\n")
