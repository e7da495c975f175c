"""Caffe prototxt read by ``read_caffe``: fixtures written here from the published deploy files
(BVLC AlexNet, VGG-16), checked against their parameter counts and the bundled specs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List

import pytest
from click.testing import CliRunner

from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.errors import SpecError
from convcalc.importers.caffe import read_caffe
from convcalc.spec.catalog import find
from convcalc.spec.source import load_file


def write(tmp_path: Path, text: str, name: str = "deploy.prototxt") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def conv(name: str, bottom: str, n: int, k: int, pad: int = 0, stride: int = 1, group: int = 1) -> str:
    extra = (f" pad: {pad}" if pad else "") + (f" stride: {stride}" if stride != 1 else "") + \
        (f" group: {group}" if group != 1 else "")
    return (f'layer {{\n  name: "{name}"\n  type: "Convolution"\n  bottom: "{bottom}"\n  top: "{name}"\n'
            f"  param {{ lr_mult: 1 decay_mult: 1 }}\n  param {{ lr_mult: 2 decay_mult: 0 }}\n"
            f"  convolution_param {{\n    num_output: {n}\n    kernel_size: {k}{extra}\n  }}\n}}\n")


def inplace(kind: str, name: str, blob: str, body: str = "") -> str:
    return f'layer {{ name: "{name}" type: "{kind}" bottom: "{blob}" top: "{blob}" {body}}}\n'


def pool(name: str, bottom: str, k: int = 3, s: int = 2, method: str = "MAX") -> str:
    return (f'layer {{ name: "{name}" type: "Pooling" bottom: "{bottom}" top: "{name}"\n'
            f"  pooling_param {{ pool: {method} kernel_size: {k} stride: {s} }} }}\n")


def fc(name: str, bottom: str, n: int) -> str:
    return (f'layer {{ name: "{name}" type: "InnerProduct" bottom: "{bottom}" top: "{name}"\n'
            f"  inner_product_param {{ num_output: {n} }} }}\n")


def lrn(name: str, bottom: str) -> str:
    return (f'layer {{ name: "{name}" type: "LRN" bottom: "{bottom}" top: "{name}"\n'
            "  lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }\n")


def alexnet() -> str:
    """BVLC AlexNet deploy.prototxt as released (models/bvlc_alexnet): groups 2 in conv2/4/5."""
    parts: List[str] = ['name: "AlexNet"\n',
                        'layer {\n  name: "data"\n  type: "Input"\n  top: "data"\n'
                        "  input_param { shape: { dim: 10 dim: 3 dim: 227 dim: 227 } }\n}\n",
                        conv("conv1", "data", 96, 11, stride=4), inplace("ReLU", "relu1", "conv1"),
                        lrn("norm1", "conv1"), pool("pool1", "norm1"),
                        conv("conv2", "pool1", 256, 5, pad=2, group=2), inplace("ReLU", "relu2", "conv2"),
                        lrn("norm2", "conv2"), pool("pool2", "norm2"),
                        conv("conv3", "pool2", 384, 3, pad=1), inplace("ReLU", "relu3", "conv3"),
                        conv("conv4", "conv3", 384, 3, pad=1, group=2), inplace("ReLU", "relu4", "conv4"),
                        conv("conv5", "conv4", 256, 3, pad=1, group=2), inplace("ReLU", "relu5", "conv5"),
                        pool("pool5", "conv5"),
                        fc("fc6", "pool5", 4096), inplace("ReLU", "relu6", "fc6"),
                        inplace("Dropout", "drop6", "fc6", "dropout_param { dropout_ratio: 0.5 } "),
                        fc("fc7", "fc6", 4096), inplace("ReLU", "relu7", "fc7"),
                        inplace("Dropout", "drop7", "fc7", "dropout_param { dropout_ratio: 0.5 } "),
                        fc("fc8", "fc7", 1000),
                        'layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" }\n']
    return "".join(parts)


def test_alexnet_as_bvlc_released(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, alexnet())))
    by_hand = (11 * 11 * 3 * 96 + 96            # conv1      34,944
               + 5 * 5 * 48 * 256 + 256         # conv2 g2   307,456
               + 3 * 3 * 256 * 384 + 384        # conv3      885,120
               + 3 * 3 * 192 * 384 + 384        # conv4 g2   663,936
               + 3 * 3 * 192 * 256 + 256        # conv5 g2   442,624
               + 6 * 6 * 256 * 4096 + 4096      # fc6        37,752,832
               + 4096 * 4096 + 4096             # fc7        16,781,312
               + 4096 * 1000 + 1000)            # fc8        4,097,000
    assert by_hand == 60_965_224
    assert report.totals.params == by_hand
    names = [r.name for r in report.layers]
    assert names[:3] == ["conv1", "relu1", "norm1"]
    pool5 = next(r for r in report.layers if r.name == "pool5")
    assert (pool5.output.spatial, pool5.output.channels) == ((6, 6), 256)


def vgg16() -> str:
    text = ['name: "VGG_ILSVRC_16_layers"\ninput: "data"\n'
            "input_dim: 10\ninput_dim: 3\ninput_dim: 224\ninput_dim: 224\n"]
    bottom = "data"
    for stage, (n, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for i in range(1, convs + 1):
            name = f"conv{stage}_{i}"
            text += [conv(name, bottom, n, 3, pad=1), inplace("ReLU", f"relu{stage}_{i}", name)]
            bottom = name
        text.append(pool(f"pool{stage}", bottom, 2, 2))
        bottom = f"pool{stage}"
    text += [fc("fc6", bottom, 4096), inplace("ReLU", "relu6", "fc6"), inplace("Dropout", "drop6", "fc6"),
             fc("fc7", "fc6", 4096), inplace("ReLU", "relu7", "fc7"), inplace("Dropout", "drop7", "fc7"),
             fc("fc8", "fc7", 1000), 'layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" }\n']
    return "".join(text)


def test_vgg16_matches_published_count_and_bundled_spec(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, vgg16())))
    assert report.totals.params == 138_357_544
    path = find("vgg16")
    assert path is not None
    bundled = analyse(load_file(path))
    # Caffe's pools round up, but every size VGG pools is even: the same shapes and MACs
    assert report.totals.macs == bundled.totals.macs
    assert report.totals.params == bundled.totals.params


RESIDUAL = """
name: "res"
input: "data"
input_shape { dim: 1 dim: 64 dim: 56 dim: 56 }
layer { name: "res2a_branch2a" type: "Convolution" bottom: "data" top: "res2a_branch2a"
  convolution_param { num_output: 64 kernel_size: 3 pad: 1 bias_term: false } }
layer { name: "bn2a_branch2a" type: "BatchNorm" bottom: "res2a_branch2a" top: "res2a_branch2a"
  batch_norm_param { use_global_stats: true } }
layer { name: "scale2a_branch2a" type: "Scale" bottom: "res2a_branch2a" top: "res2a_branch2a"
  scale_param { bias_term: true } }
layer { name: "res2a_branch2a_relu" type: "ReLU" bottom: "res2a_branch2a" top: "res2a_branch2a" }
layer { name: "res2a" type: "Eltwise" bottom: "data" bottom: "res2a_branch2a" top: "res2a"
  eltwise_param { operation: SUM } }
layer { name: "res2a_relu" type: "ReLU" bottom: "res2a" top: "res2a" }
"""


def test_residual_block_batchnorm_scale_eltwise(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, RESIDUAL)))
    # conv 3·3·64·64 without bias; Scale γ and β: 2·64 params; BatchNorm mean and var: 2·64 buffers
    assert report.totals.params == 3 * 3 * 64 * 64 + 2 * 64
    assert report.totals.buffers == 2 * 64
    assert report.totals.macs == 56 * 56 * 64 * 3 * 3 * 64
    last = report.layers[-1]
    assert last.name == "res2a_relu" and last.output.channels == 64


INCEPTION = """
input: "data"
input_shape { dim: 1 dim: 192 dim: 28 dim: 28 }
layer { name: "a/1x1" type: "Convolution" bottom: "data" top: "a/1x1" convolution_param { num_output: 64 kernel_size: 1 } }
layer { name: "a/relu_1x1" type: "ReLU" bottom: "a/1x1" top: "a/1x1" }
layer { name: "a/3x3" type: "Convolution" bottom: "data" top: "a/3x3" convolution_param { num_output: 128 kernel_size: 3 pad: 1 } }
layer { name: "a/pool" type: "Pooling" bottom: "data" top: "a/pool" pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 } }
layer { name: "a/output" type: "Concat" bottom: "a/1x1" bottom: "a/3x3" bottom: "a/pool" top: "a/output" }
"""


def test_inception_concat(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, INCEPTION)))
    assert report.layers[-1].output.channels == 64 + 128 + 192
    assert report.layers[-1].output.spatial == (28, 28)
    assert report.totals.params == 192 * 64 + 64 + 9 * 192 * 128 + 128


V1 = """
name: "LeNet"
input: "data"
input_dim: 64 input_dim: 1 input_dim: 28 input_dim: 28
layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
  blobs_lr: 1 blobs_lr: 2 convolution_param { num_output: 20 kernel_size: 5 stride: 1 } }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layers { name: "ip1" type: INNER_PRODUCT bottom: "pool1" top: "ip1" inner_product_param { num_output: 500 } }
layers { name: "relu1" type: RELU bottom: "ip1" top: "ip1" }
layers { name: "ip2" type: INNER_PRODUCT bottom: "ip1" top: "ip2" inner_product_param { num_output: 10 } }
layers { name: "prob" type: SOFTMAX bottom: "ip2" top: "prob" }
"""


def test_v1_layers_syntax(tmp_path: Path) -> None:
    report = analyse(read_caffe(write(tmp_path, V1)))
    assert report.totals.params == (25 * 20 + 20) + (12 * 12 * 20 * 500 + 500) + (500 * 10 + 10)
    assert [r.name for r in report.layers] == ["conv1", "pool1", "ip1", "relu1", "ip2", "prob"]


def test_inplace_chain_reads_newest_tensor(tmp_path: Path) -> None:
    text = ('input: "x"\ninput_shape { dim: 1 dim: 4 dim: 8 dim: 8 }\n'
            + conv("c", "x", 4, 1) + inplace("ReLU", "r1", "c") + inplace("Sigmoid", "s", "c")
            + inplace("TanH", "t", "c") + conv("d", "c", 2, 1))
    report = analyse(read_caffe(write(tmp_path, text)))
    assert [r.name for r in report.layers] == ["c", "r1", "s", "t", "d"]
    assert report.layers[-1].sources == (4,)  # d reads t, the newest 'c'


def test_split_is_a_fan_out(tmp_path: Path) -> None:
    text = ('input: "x"\ninput_shape { dim: 1 dim: 4 dim: 8 dim: 8 }\n'
            'layer { name: "sp" type: "Split" bottom: "x" top: "x1" top: "x2" }\n'
            + conv("a", "x1", 4, 1) + conv("b", "x2", 4, 3, pad=1)
            + 'layer { name: "m" type: "Eltwise" bottom: "a" bottom: "b" top: "m" }\n')
    report = analyse(read_caffe(write(tmp_path, text)))
    assert report.totals.params == (16 + 4) + (9 * 16 + 4)


@pytest.mark.parametrize("text, line, at", [
    ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "c" type: "ReLU"\n', 3, "layer"),
    ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
     'layer { name: "p" type: "Pooling" bottom: "x" top: "p"\n  pooling_param { pool: MEDIAN kernel_size: 2 } }\n', 4, "MEDIAN"),
    ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
     'layer { name: "e" type: "Eltwise" bottom: "x" bottom: "x" top: "e" eltwise_param { operation: MAX } }\n', 3, "MAX"),
    ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "c" type: "ReLU" bottom: "y" top: "c" }\n', 3, '"y"'),
    ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 } }\n', 2, "} }"),
    ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: $ }\n', 2, "$"),
])
def test_bad_files_are_located(tmp_path: Path, text: str, line: int, at: str) -> None:
    """Each error points at the offending token: its line, and its column found in that line."""
    path = write(tmp_path, text)
    src = text.split("\n")[line - 1]
    col = src.rindex(at) + 1 if at != "} }" else src.rindex("}") + 1
    with pytest.raises(SpecError) as e:
        read_caffe(path)
    assert e.value.loc is not None, e.value
    assert (e.value.loc.file, e.value.loc.line, e.value.loc.column) == (path, line, col), str(e.value)
    result = CliRunner().invoke(cli, ["table", path])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}:{line}:{col}" in result.output


def test_unknown_types_listed_with_counts(tmp_path: Path) -> None:
    text = ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
            'layer { name: "a" type: "Normalize" bottom: "x" top: "x" }\n'
            'layer { name: "b" type: "SPP" bottom: "x" top: "x" }\n'
            'layer { name: "c" type: "Normalize" bottom: "x" top: "x" }\n')
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as e:
        read_caffe(path)
    assert "Normalize ×2" in e.value.message and "SPP ×1" in e.value.message
    assert e.value.loc is not None and (e.value.loc.line, e.value.loc.column) == (3, 25)


def test_table_and_import_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, RESIDUAL + INCEPTION.replace('input: "data"\ninput_shape { dim: 1 dim: 192 dim: 28 dim: 28 }\n', "")
                 .replace('"data"', '"res2a"'), "x.prototxt")
    runner = CliRunner()
    table = runner.invoke(cli, ["table", path])
    assert table.exit_code == 0, table.output
    data = json.loads(runner.invoke(cli, ["table", path, "--format", "json"]).output)
    imported = runner.invoke(cli, ["import", path])
    assert imported.exit_code == 0, imported.output
    (tmp_path / "back.yaml").write_text(imported.output, encoding="utf-8")
    again = json.loads(runner.invoke(cli, ["table", str(tmp_path / "back.yaml"), "--format", "json"]).output)
    assert again["totals"] == data["totals"]
    assert data["totals"]["params"] == 3 * 3 * 64 * 64 + 2 * 64 + 64 * 64 + 64 + 9 * 64 * 128 + 128


def test_pool_rounds_up_deconv_depthwise_global(tmp_path: Path) -> None:
    """GoogLeNet's pool1 (3x3 s2 on 112) gives 56 in Caffe, where floor would give 55."""
    text = ('input: "x"\ninput_shape { dim: 1 dim: 8 dim: 112 dim: 112 }\n'
            + pool("p", "x")
            + 'layer { name: "dw" type: "ConvolutionDepthwise" bottom: "p" top: "dw"\n'
              '  convolution_param { num_output: 8 kernel_h: 3 kernel_w: 3 pad_h: 1 pad_w: 1 bias_term: false } }\n'
            + 'layer { name: "up" type: "Deconvolution" bottom: "dw" top: "up"\n'
              '  convolution_param { num_output: 4 kernel_size: 2 stride: 2 } }\n'
            + 'layer { name: "g" type: "Pooling" bottom: "up" top: "g" pooling_param { pool: AVE global_pooling: true } }\n'
            + 'layer { name: "f" type: "Flatten" bottom: "g" top: "f" }\n')
    report = analyse(read_caffe(write(tmp_path, text)))
    shapes = {r.name: (r.output.spatial, r.output.channels) for r in report.layers}
    assert shapes["p"] == ((56, 56), 8)
    assert shapes["dw"] == ((56, 56), 8)
    assert shapes["up"] == ((112, 112), 4)
    assert shapes["g"] == ((1, 1), 4)
    assert report.totals.params == 9 * 8 + (2 * 2 * 8 * 4 + 4)


def test_bad_value_is_shown_where_written(tmp_path: Path) -> None:
    text = ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
            'layer { name: "c" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: -4 kernel_size: 3 } }\n')
    with pytest.raises(SpecError) as e:
        read_caffe(write(tmp_path, text))
    assert e.value.loc is not None and (e.value.loc.line, e.value.loc.column) == (3, text.split("\n")[2].index("-4") + 1)


def test_training_only_layers_are_skipped(tmp_path: Path) -> None:
    text = ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n' + conv("c", "x", 4, 1)
            + 'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "c" top: "loss" include { phase: TRAIN } }\n')
    assert analyse(read_caffe(write(tmp_path, text))).totals.params == 16


PHASED = ('input: "x"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n%s'
          'layer { name: "c" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 4 kernel_size: 1 } }\n'
          'layer { name: "fc" type: "InnerProduct" bottom: "c" top: "fc" inner_product_param { num_output: 2 } %s }\n')
# conv 1x1 3->4: 16 params; fc 8·8·4 -> 2: 514 params


@pytest.mark.parametrize("state, rule, kept", [
    ("", "exclude { phase: TEST }", False),    # a deploy file is read as phase TEST
    ("", "exclude { phase: TRAIN }", True),
    ("", "include { phase: TRAIN }", False),
    ("", "include { phase: TEST }", True),
    ("", "include { phase: TRAIN } include { phase: TEST }", True),  # any include rule met keeps it
    ("", "exclude { phase: 1 }", False),        # the enum's number: TEST = 1
    ("", "include { min_level: 1 }", False),    # Net(file, TEST) runs at level 0
    ("", "include { max_level: 0 }", True),
    ("", "exclude { min_level: 0 max_level: 0 phase: TRAIN }", True),  # every condition must hold
    ("", "include { stage: \"deploy\" }", False),  # a stage the state does not have
    ('state { stage: "deploy" }\n', "include { stage: \"deploy\" }", True),
    ('state { stage: "deploy" }\n', "exclude { not_stage: \"deploy\" }", True),  # the rule is not met
    ("", "exclude { not_stage: \"deploy\" }", False),  # no stage: the not_stage rule is met, so excluded
])
def test_caffe_phase_rules_leave_out_what_test_leaves_out(tmp_path: Path, state: str, rule: str, kept: bool) -> None:
    """net.cpp's FilterNet and StateMeetsRule: the layer counts exactly when Caffe would build it."""
    spec = read_caffe(write(tmp_path, PHASED % (state, rule)))
    assert analyse(spec).totals.params == 16 + (514 if kept else 0)
    if kept:
        assert spec.notes == ()
    else:
        assert len(spec.notes) == 1 and "1 layer(s) left out" in spec.notes[0] and spec.notes[0].endswith(": fc")


def test_caffe_layers_left_out_are_named_in_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, PHASED % ("", "exclude { phase: TEST }"))
    result = CliRunner().invoke(cli, ["table", path])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "left out" in result.stderr and ": fc" in result.stderr
    assert "fc" not in result.stdout.split("\n", 3)[-1].split()


def test_caffe_import_names_the_layers_left_out_in_its_header(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["import", write(tmp_path, PHASED % ("", "include { phase: TRAIN }"))])
    assert result.exit_code == 0, result.output
    assert "# 1 layer(s) left out, as Caffe's TEST phase leaves them out (include/exclude rules): fc\n" in result.stdout
    assert "warning:" in result.stderr and "fc:" not in result.stdout


def test_caffe_include_and_exclude_together_is_an_error(tmp_path: Path) -> None:
    text = PHASED % ("", "include { phase: TEST } exclude { phase: TRAIN }")
    with pytest.raises(SpecError, match="both include and exclude") as e:
        read_caffe(write(tmp_path, text))
    assert e.value.loc is not None and e.value.loc.line == 4


def test_depthwise_aliases_need_num_output_to_match_the_channels(tmp_path):
    """ConvolutionDepthwise is one filter per channel: 8 channels, num_output 8 → 3·3·8 + 8 = 80
    params; a num_output that is not the input's channels is an error at the layer, never a
    silent depthwise of another width."""
    from convcalc.errors import ConvcalcError
    from convcalc.importers.caffe import read_caffe

    base = ('name: "dw"\ninput: "data"\ninput_shape { dim: 1 dim: 8 dim: 16 dim: 16 }\n'
            'layer { name: "dw1" type: "ConvolutionDepthwise" bottom: "data" top: "dw1"\n'
            '  convolution_param { num_output: %d kernel_size: 3 pad: 1 } }\n')
    good = tmp_path / "good.prototxt"
    good.write_text(base % 8, encoding="utf-8")
    report = analyse(read_caffe(good))
    assert report.totals.params == 3 * 3 * 8 + 8 and str(report.output) == "16x16x8"
    bad = tmp_path / "bad.prototxt"
    bad.write_text(base % 12, encoding="utf-8")
    with pytest.raises(ConvcalcError, match="groups 12 must divide"):
        analyse(read_caffe(bad))


# --- PReLU: the kind, and Caffe's layer ------------------------------------------------------


@pytest.mark.parametrize("text, params", [
    ("7x7x8 prelu", 8),  # one slope a_c per channel: C = 8 (nn.PReLU(8))
    ("30 prelu", 30),  # a vector's channels are its 30 units
])
def test_prelu_hand_counts(text: str, params: int) -> None:
    from convcalc.spec.layer_string import parse_string

    [layer] = analyse(parse_string(text)).layers
    assert (layer.output.dims, layer.params, layer.buffers, layer.macs) == (
        (7, 7, 8) if text.startswith("7") else (30,), params, 0, 0)


def test_prelu_shared_is_one_slope_and_verifies(tmp_path: Path) -> None:
    """channel_shared: one a for all 64 channels (nn.PReLU()): 1 param; the reference allocates
    exactly that many slopes and counts no multiply-accumulate."""
    from convcalc.spec.yaml_reader import parse_yaml

    spec = tmp_path / "p.yaml"
    spec.write_text("input: 20x20x64\nlayers:\n  - prelu:\n  - prelu: {shared: true}\n", encoding="utf-8")
    report = analyse(parse_yaml(spec.read_text(encoding="utf-8"), str(spec)))
    assert [(r.params, r.macs) for r in report.layers] == [(64, 0), (1, 0)]
    result = CliRunner().invoke(cli, ["verify", str(spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [layer["status"] for layer in data["layers"]] == ["verified", "verified"]


# --- shape plumbing: Crop, Reshape, Permute, Flatten axes, Slice; the weightless element-wise -----

HEAD = 'input: "data"\ninput_shape { dim: 1 dim: 4 dim: 6 dim: 8 }\n'  # N x C x H x W: 6x8x4


def shapes_of(tmp_path: Path, text: str) -> dict:
    report = analyse(read_caffe(write(tmp_path, text)))
    return {r.name: r.output.dims for r in report.layers}


def test_crop_to_another_blob_as_fcn_writes_it(tmp_path: Path) -> None:
    """FCN's score: Crop(upscore, data) with axis 2 and an offset: the input's H x W, upscore's
    channels. A deconv 2 x 2 stride 2 makes 12x16, cut to 6x8; 0 params, 0 MACs."""
    text = (HEAD + 'layer { name: "up" type: "Deconvolution" bottom: "data" top: "up"\n'
            '  convolution_param { num_output: 3 kernel_size: 2 stride: 2 bias_term: false } }\n'
            'layer { name: "score" type: "Crop" bottom: "up" bottom: "data" top: "score"\n'
            '  crop_param { axis: 2 offset: 3 } }\n')
    report = analyse(read_caffe(write(tmp_path, text)))
    assert [(r.name, r.output.dims, r.params, r.macs) for r in report.layers] == [
        ("up", (12, 16, 3), 2 * 2 * 4 * 3, 6 * 8 * 2 * 2 * 4 * 3), ("score", (6, 8, 3), 0, 0)]
    assert report.layers[-1].layer.describe() == "CROP to 6x8 (like input)"
    # axis 3 (or -1) crops W only: H stays the input's 12
    assert shapes_of(tmp_path, text.replace("axis: 2", "axis: -1"))["score"] == (12, 8, 3)


@pytest.mark.parametrize("axis", ["1", "0", "-3"])
def test_crop_of_the_channels_is_a_located_error(tmp_path: Path, axis: str) -> None:
    text = (HEAD + conv("c", "data", 2, 1)
            + f'layer {{ name: "k" type: "Crop" bottom: "data" bottom: "c" top: "k" crop_param {{ axis: {axis} }} }}\n')
    with pytest.raises(SpecError) as e:
        read_caffe(write(tmp_path, text))
    last = text.count("\n")
    assert e.value.loc is not None and e.value.loc.line == last and "channels" in e.value.message


@pytest.mark.parametrize("param, dims", [
    # caffe.proto's own examples, on a 2-D blob 1 x 192 (a vector of 192): all 1 x 2 x 96 -> 96x2
    ("shape { dim: 1 dim: 2 dim: 96 }", (96, 2)),
    ("shape { dim: 0 dim: 2 dim: 96 }", (96, 2)),
    ("shape { dim: 0 dim: 2 dim: -1 }", (96, 2)),
    ("shape { dim: 0 dim: -1 dim: 96 }", (96, 2)),
    ("shape { dim: 2 dim: 96 } axis: 1", (96, 2)),
    ("shape { dim: 2 dim: 96 } axis: -2", (96, 2)),
    # ... and 1 x 1 x 192 (num_axes 0: a new axis of 1 inserted at axis 1)
    ("shape { dim: 1 } axis: 1 num_axes: 0", (192, 1)),
    ("shape { dim: 0 dim: -1 }", (192,)),  # N x 192 again: a flatten
])
def test_reshape_copies_zeros_and_infers_minus_one(tmp_path: Path, param: str, dims: tuple) -> None:
    text = ('input: "data"\ninput_shape { dim: 1 dim: 192 }\n'
            f'layer {{ name: "r" type: "Reshape" bottom: "data" top: "r" reshape_param {{ {param} }} }}\n')
    report = analyse(read_caffe(write(tmp_path, text)))
    assert report.layers[0].output.dims == dims and report.totals.params == 0 and report.totals.macs == 0


@pytest.mark.parametrize("param, word", [
    ("shape { dim: 0 dim: -1 dim: -1 }", "more than one"),
    ("shape { dim: 0 dim: 5 dim: -1 }", "-1"),  # 192 / 5 is no size
    ("shape { dim: 2 dim: 96 }", "batch"),  # N 1 -> 2
])
def test_bad_reshapes_are_located(tmp_path: Path, param: str, word: str) -> None:
    text = ('input: "data"\ninput_shape { dim: 1 dim: 192 }\n'
            f'layer {{ name: "r" type: "Reshape" bottom: "data" top: "r" reshape_param {{ {param} }} }}\n')
    with pytest.raises(SpecError) as e:
        read_caffe(write(tmp_path, text))
    assert e.value.loc is not None and e.value.loc.line == 3 and word in e.value.message


def test_permute_and_flatten_axes(tmp_path: Path) -> None:
    """SSD's Permute [0, 2, 3, 1]: N x 4 x 6 x 8 -> N x 6 x 8 x 4, whose axis 1 (6) Caffe reads
    as the channels: 8x4x6. Flatten axis 2: N x 4 x 48 is 48x4; end_axis 2: N x 24 x 8 is 8x24."""
    perm = 'layer { name: "p" type: "Permute" bottom: "data" top: "p" permute_param { order: 0 order: 2 order: 3 order: 1 } }\n'
    shapes = shapes_of(tmp_path, HEAD + perm
                       + 'layer { name: "f" type: "Flatten" bottom: "p" top: "f" flatten_param { axis: 1 } }\n'
                       + 'layer { name: "g" type: "Flatten" bottom: "data" top: "g" flatten_param { axis: 2 } }\n'
                       + 'layer { name: "h" type: "Flatten" bottom: "data" top: "h" flatten_param { axis: 1 end_axis: 2 } }\n')
    assert shapes == {"p": (8, 4, 6), "f": (192,), "g": (48, 4), "h": (8, 24)}
    # an order that names only the first axes: the rest follow in their order ([0, 1, 3, 2])
    assert shapes_of(tmp_path, HEAD + perm.replace("order: 0 order: 2 order: 3 order: 1", "order: 0 order: 1 order: 3")) \
        == {"p": (8, 6, 4)}
    with pytest.raises(SpecError, match="batch"):
        read_caffe(write(tmp_path, HEAD + perm.replace("order: 0 order: 2", "order: 2 order: 0")))


def test_slice_one_layer_per_top(tmp_path: Path) -> None:
    """Slice at points 1 and 3 of 4 channels: parts of 1, 2 and 1, each a layer named after its
    top; with no points, equal parts (chunks)."""
    text = (HEAD + 'layer { name: "s" type: "Slice" bottom: "data" top: "a" top: "b" top: "c"\n'
            '  slice_param { axis: 1 slice_point: 1 slice_point: 3 } }\n'
            'layer { name: "t" type: "Slice" bottom: "data" top: "d" top: "e" }\n'
            + conv("cb", "b", 5, 1))
    report = analyse(read_caffe(write(tmp_path, text)))
    assert [(r.name, r.output.dims) for r in report.layers] == [
        ("a", (6, 8, 1)), ("b", (6, 8, 2)), ("c", (6, 8, 1)), ("d", (6, 8, 2)), ("e", (6, 8, 2)), ("cb", (6, 8, 5))]
    assert report.totals.params == 2 * 5 + 5  # cb reads b's 2 channels
    for bad, word in [("slice_point: 1 slice_point: 3", "axis"), ("slice_point: 3 slice_point: 1", "do not cut"),
                      ("slice_point: 1", "one fewer")]:
        body = text.replace("axis: 1 slice_point: 1 slice_point: 3", ("axis: 2 " if word == "axis" else "") + bad)
        with pytest.raises(SpecError, match=word) as e:
            read_caffe(write(tmp_path, body))
        assert e.value.loc is not None and e.value.loc.line in (3, 4)


def test_weightless_elementwise_and_prelu(tmp_path: Path) -> None:
    """Power, AbsVal, Exp, Log: element-wise, no params, no MACs; BNLL is softplus; ELU; PReLU
    holds C = 4 slopes (1 with channel_shared)."""
    text = HEAD + "".join(inplace(kind, kind.lower(), "data", body) for kind, body in [
        ("Power", "power_param { power: 2 scale: 0.5 shift: 1 } "), ("AbsVal", ""), ("BNLL", ""),
        ("Exp", "exp_param { base: 2 } "), ("Log", ""), ("ELU", "elu_param { alpha: 0.5 } "),
        ("PReLU", ""), ("PReLU", "prelu_param { channel_shared: true } ")])
    report = analyse(read_caffe(write(tmp_path, text)))
    assert [r.layer.describe() for r in report.layers] == [
        "POWER", "ABS", "SOFTPLUS", "EXP", "LOG", "ELU", "PRELU", "PRELU shared"]
    assert [r.params for r in report.layers] == [0, 0, 0, 0, 0, 0, 4, 1] and report.totals.macs == 0
    assert all(r.output.dims == (6, 8, 4) for r in report.layers)


def test_input_with_several_tops_is_an_error(tmp_path: Path) -> None:
    text = ('layer { name: "in" type: "Input" top: "a" top: "b"\n'
            '  input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n')
    with pytest.raises(SpecError, match="2 tops") as e:
        read_caffe(write(tmp_path, text))
    assert e.value.loc is not None and e.value.loc.line == 1


def test_many_layers_that_need_a_shape_cost_one_pass(tmp_path):
    """3,000 Reshapes in a row each ask the shape of what they read: followed layer by layer, not
    one engine run per question (that was 3,000 analyses of up to 3,000 layers)."""
    import time

    text = ['input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n']
    prev = "data"
    for i in range(3000):
        text.append(f'layer {{ name: "r{i}" type: "Reshape" bottom: "{prev}" top: "r{i}" '
                    f'reshape_param {{ shape {{ dim: 0 dim: 0 dim: -1 dim: 8 }} }} }}\n')
        prev = f"r{i}"
    path = tmp_path / "many.prototxt"
    path.write_text("".join(text))
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["table", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["layers"] == 3000
    assert time.perf_counter() - start < 5


# --- the protobuf text format (importers/prototxt.py) ---------------------------------------


def test_prototxt_fields_keep_their_places_wherever_the_text_breaks() -> None:
    from convcalc.importers.prototxt import parse_text

    text = 'a: 1\nb\n :\n "x\\"y" # c\n\n c { d: [1, 2] e # x\n: MAX }\nf: -2.5e3 g: true\n'
    m = parse_text(text, "x")
    assert [(k, getattr(v, "v", None), str(loc)) for k, v, loc in m.fields] == [
        ("a", 1, "x:1:4"), ("b", 'x"y', "x:4:2"), ("c", None, "x:6:2"), ("f", -2500.0, "x:8:4"), ("g", True, "x:8:14")]
    assert [(k, v.v, str(loc)) for k, v, loc in m.msg("c").fields] == [
        ("d", 1, "x:6:10"), ("d", 2, "x:6:13"), ("e", "MAX", "x:7:3")]


@pytest.mark.parametrize("text, where, fragment", [
    ("a: 1\nb: 2\n  \n c: $", "x:4:5", "unexpected character '$'"),
    ("a: b: 1", "x:1:4", "expected a value, got the field name 'b'"),
    ("a {", "x:1:1", "message 'a' is never closed"),
    ("a: [1, 2", "x:1:4", "'[' of field 'a' is never closed"),
    ("}", "x:1:1", "'}' closes no message"),
    ("a:", "x:1:2", "field 'a' has no value"),
    ("a: 1" + "0" * 1000, "x:1:4", "a number of 1,001 characters"),
    ("a {" * 102, "x:1:303", "nested deeper than 100"),
])
def test_prototxt_errors_are_located(text: str, where: str, fragment: str) -> None:
    from convcalc.importers.prototxt import parse_text

    with pytest.raises(SpecError, match=re.escape(fragment)) as e:
        parse_text(text, "x")
    assert str(e.value.loc).startswith(where)
