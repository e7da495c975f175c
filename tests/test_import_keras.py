"""Keras models read by ``read_keras``: hand-written configs in the form Keras serialises them
(``model.to_json()``; ``config.json`` inside a ``.keras`` zip), checked against the bundled specs
and keras.applications' published parameter counts."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

from convcalc.analysis.engine import analyse
from convcalc.errors import SpecError
from convcalc.importers.keras import read_keras
from convcalc.shape import Shape
from convcalc.spec.catalog import find
from convcalc.spec.source import load_file

# --- building configs as Keras writes them -------------------------------------------------


def layer(cls: str, name: str, inbound: Sequence[str] = (), keras: int = 3, **config: Any) -> Dict[str, Any]:
    """One layer of a functional config; ``inbound`` in Keras 3's form, or Keras 2's with keras=2."""
    entry: Dict[str, Any] = {"class_name": cls, "name": name, "config": {"name": name, **config}}
    if keras == 2:
        entry["inbound_nodes"] = [[[n, 0, 0, {}] for n in inbound]] if inbound else []
    else:
        tensors = [{"class_name": "__keras_tensor__", "config": {"shape": [None], "dtype": "float32",
                                                                 "keras_history": [n, 0, 0]}} for n in inbound]
        args: List[Any] = [tensors] if len(tensors) > 1 else tensors  # a merge takes a list of tensors
        entry["module"] = "keras.layers"
        entry["inbound_nodes"] = [{"args": args, "kwargs": {}}] if inbound else []
    return entry


class Graph:
    """A functional model written layer by layer; each layer reads the previous unless told."""

    def __init__(self, shape: Sequence[int], keras: int = 3) -> None:
        self.keras = keras
        key = "batch_shape" if keras == 3 else "batch_input_shape"
        self.layers = [layer("InputLayer", "input_1", keras=keras, **{key: [None, *shape]})]
        self.last = "input_1"

    def add(self, cls: str, name: str, reads: Optional[Sequence[str]] = None, **config: Any) -> str:
        self.layers.append(layer(cls, name, reads if reads is not None else [self.last], self.keras, **config))
        self.last = name
        return name

    def model(self, outputs: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        outs = [[o, 0, 0] for o in (outputs or [self.last])]
        return {"class_name": "Functional", "config": {"name": "m", "layers": self.layers,
                                                       "input_layers": [["input_1", 0, 0]], "output_layers": outs}}


def write(tmp_path: Path, model: Dict[str, Any], name: str = "model.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(model))
    return str(path)


def bundled(name: str):  # type: ignore[no-untyped-def]
    path = find(name)
    assert path is not None
    return analyse(load_file(path))


def by_name(report, name: str):  # type: ignore[no-untyped-def]
    """The layer called ``name``; a merge is reported as the merge inside the block of that name."""
    return next(r for r in report.layers if r.name == name or r.path[-1:] == (name,))


# --- whole networks against their published figures ---------------------------------------


def lenet_sequential() -> Dict[str, Any]:
    def seq(cls: str, name: str, **config: Any) -> Dict[str, Any]:
        return {"class_name": cls, "config": {"name": name, **config}}

    return {"class_name": "Sequential", "config": {"name": "lenet5", "layers": [
        seq("InputLayer", "input", batch_input_shape=[None, 32, 32, 1]),
        seq("Conv2D", "c1", filters=6, kernel_size=[5, 5], strides=[1, 1], padding="valid", activation="tanh"),
        seq("AveragePooling2D", "s2", pool_size=[2, 2], strides=[2, 2], padding="valid"),
        seq("Conv2D", "c3", filters=16, kernel_size=[5, 5], padding="valid", activation="tanh"),
        seq("AveragePooling2D", "s4", pool_size=[2, 2]),
        seq("Flatten", "flatten"),
        seq("Dense", "c5", units=120, activation="tanh"),
        seq("Dense", "f6", units=84, activation="tanh"),
        seq("Dense", "output", units=10, activation="softmax"),
    ]}}


def test_sequential_lenet5_has_the_bundled_totals(tmp_path: Path) -> None:
    report = analyse(read_keras(write(tmp_path, lenet_sequential())))
    expected = bundled("lenet5").totals
    assert report.totals.params == expected.params == 61_706
    assert report.totals.macs == expected.macs == 416_520
    assert report.output == Shape((), 10)
    assert [r.name for r in report.layers][:2] == ["c1", "c1_tanh"]  # the folded activation, a layer here


def vgg16(keras: int = 3) -> Dict[str, Any]:
    g = Graph((224, 224, 3), keras)
    for block, (filters, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), 1):
        for c in range(1, convs + 1):
            g.add("Conv2D", f"block{block}_conv{c}", filters=filters, kernel_size=[3, 3], strides=[1, 1],
                  padding="same", activation="relu", use_bias=True, dilation_rate=[1, 1], groups=1,
                  data_format="channels_last")
        g.add("MaxPooling2D", f"block{block}_pool", pool_size=[2, 2], strides=[2, 2], padding="valid")
    g.add("Flatten", "flatten")
    g.add("Dense", "fc1", units=4096, activation="relu")
    g.add("Dense", "fc2", units=4096, activation="relu")
    g.add("Dense", "predictions", units=1000, activation="softmax")
    return g.model()


@pytest.mark.parametrize("keras", [2, 3])
def test_vgg16_functional_gives_keras_applications_count(tmp_path: Path, keras: int) -> None:
    report = analyse(read_keras(write(tmp_path, vgg16(keras))))
    assert report.totals.params == 138_357_544  # keras.applications.VGG16().count_params()
    assert report.totals.macs == bundled("vgg16").totals.macs
    assert by_name(report, "block5_pool").output == Shape((7, 7), 512)


# --- graphs: merges of named tensors --------------------------------------------------------


@pytest.mark.parametrize("keras", [2, 3])
def test_residual_block_with_add(tmp_path: Path, keras: int) -> None:
    g = Graph((8, 8, 16), keras)
    g.add("Conv2D", "a", filters=16, kernel_size=3, padding="same", use_bias=False)
    g.add("BatchNormalization", "a_bn")
    g.add("Activation", "a_relu", activation="relu")
    g.add("Conv2D", "b", filters=16, kernel_size=3, padding="same", use_bias=False)
    g.add("Add", "add", reads=["b", "input_1"])
    g.add("ReLU", "out")
    report = analyse(read_keras(write(tmp_path, g.model())))
    merge = by_name(report, "add")
    assert merge.output == Shape((8, 8), 16)
    assert report.totals.params == 2 * 3 * 3 * 16 * 16 + 2 * 16
    assert report.totals.buffers == 2 * 16
    # the sum reads conv b and the network's input: the shortcut is the identity
    assert {report.shape_of(s) for s in merge.sources} == {Shape((8, 8), 16)}


def test_concatenate_branches_and_several_outputs(tmp_path: Path) -> None:
    g = Graph((16, 16, 8))
    g.add("Conv2D", "left", reads=["input_1"], filters=4, kernel_size=1)
    g.add("Conv2D", "right", reads=["input_1"], filters=6, kernel_size=3, padding="same")
    g.add("Concatenate", "cat", reads=["left", "right"], axis=-1)
    g.add("GlobalAveragePooling2D", "gap")
    report = analyse(read_keras(write(tmp_path, g.model(outputs=["cat", "gap"]))))
    assert by_name(report, "cat").output == Shape((16, 16), 10)
    assert [o.shape for o in report.outputs] == [Shape((16, 16), 10), Shape((1, 1), 10)]


# --- Keras' own rules -----------------------------------------------------------------------


@pytest.mark.parametrize("size, kernel, out", [(7, 3, 4), (8, 3, 4), (224, 7, 112), (7, 1, 4), (113, 3, 57)])
def test_same_padding_with_stride_2_gives_tensorflows_size(tmp_path: Path, size: int, kernel: int, out: int) -> None:
    g = Graph((size, size, 3))
    g.add("Conv2D", "conv", filters=8, kernel_size=[kernel, kernel], strides=[2, 2], padding="same")
    g.add("MaxPooling2D", "pool", pool_size=[3, 3], strides=[2, 2], padding="same")
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert by_name(report, "conv").output == Shape((out, out), 8)  # ceil(W / 2), TensorFlow's rule
    assert by_name(report, "pool").output == Shape((-(-out // 2),) * 2, 8)


def test_dense_on_a_grid_is_per_position(tmp_path: Path) -> None:
    g = Graph((7, 7, 32))
    g.add("Dense", "proj", units=64)
    g.add("GlobalAveragePooling2D", "gap")
    g.add("Dense", "head", units=10)
    report = analyse(read_keras(write(tmp_path, g.model())))
    proj, head = by_name(report, "proj"), by_name(report, "head")
    assert proj.layer.kind == "pwlinear" and proj.output == Shape((7, 7), 64)
    assert (proj.params, proj.macs) == (32 * 64 + 64, 7 * 7 * 32 * 64)
    assert head.layer.kind == "fc" and head.output == Shape((), 10) and head.params == 64 * 10 + 10


def test_batchnorm_splits_params_as_keras_summary(tmp_path: Path) -> None:
    g = Graph((8, 8, 3))
    g.add("Conv2D", "conv", filters=16, kernel_size=3, use_bias=False)
    g.add("BatchNormalization", "bn", axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True)
    g.add("BatchNormalization", "bn_noscale", axis=3, center=True, scale=False)  # InceptionV3's
    g.add("BatchNormalization", "bn_plain", center=False, scale=False)
    report = analyse(read_keras(write(tmp_path, g.model())))
    # summary(): trainable = gamma + beta, non-trainable = moving mean + moving variance
    assert (by_name(report, "bn").params, by_name(report, "bn").buffers) == (32, 32)
    noscale = [r for r in report.layers if r.name.startswith("bn_noscale")]
    assert (sum(r.params for r in noscale), sum(r.buffers for r in noscale)) == (16, 32)
    assert (by_name(report, "bn_plain").params, by_name(report, "bn_plain").buffers) == (0, 32)
    assert (report.totals.params, report.totals.buffers) == (3 * 3 * 3 * 16 + 32 + 16, 96)


def test_depthwise_separable_and_upsampling(tmp_path: Path) -> None:
    g = Graph((14, 14, 32))
    g.add("DepthwiseConv2D", "dw", kernel_size=[3, 3], strides=[1, 1], padding="same", depth_multiplier=2,
          use_bias=False)
    g.add("SeparableConv2D", "sep", filters=16, kernel_size=3, padding="same")
    g.add("SeparableConv2D", "sep2", filters=8, kernel_size=3, padding="valid", depth_multiplier=2)
    g.add("UpSampling2D", "up", size=[2, 2], interpolation="nearest")
    g.add("ZeroPadding2D", "pad", padding=[[1, 1], [2, 2]])
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert by_name(report, "dw").params == 9 * 32 * 2 and by_name(report, "dw").output == Shape((14, 14), 64)
    assert by_name(report, "sep").params == 9 * 64 + 64 * 16 + 16
    assert sum(r.params for r in report.layers if r.name.startswith("sep2")) == 9 * 16 * 2 + 32 * 8 + 8
    assert report.output == Shape((24 + 2, 24 + 4), 8)


def test_keras_zip_file(tmp_path: Path) -> None:
    path = tmp_path / "lenet.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        z.writestr("config.json", json.dumps(lenet_sequential()))
        z.writestr("model.weights.h5", b"\x89HDF\r\n")  # never read
    assert analyse(read_keras(str(path))).totals.params == 61_706


# --- what convcalc cannot count, and broken files -------------------------------------------


def test_unknown_classes_are_listed_with_counts_and_located(tmp_path: Path) -> None:
    g = Graph((8, 8, 3))
    g.add("Conv2D", "conv", filters=4, kernel_size=3)
    g.add("MyAttention", "att1")
    g.add("MyAttention", "att2")
    g.add("Lambda", "lam")
    path = write(tmp_path, g.model())
    with pytest.raises(SpecError) as e:
        read_keras(path)
    assert "MyAttention ×2" in e.value.message and "Lambda ×1" in e.value.message
    assert e.value.loc is not None and (e.value.loc.file, e.value.loc.line) == (path, 3)  # layer 3 of the file


def test_asymmetric_zero_padding_reads_as_pad_with_after(tmp_path: Path) -> None:
    """MobileNet's ZeroPadding2D(((0, 1), (0, 1))) then a 3x3 stride-2 'valid' conv: 224 → 225
    → (225 − 3)//2 + 1 = 112, as Keras gives."""
    g = Graph((224, 224, 3))
    g.add("ZeroPadding2D", "conv_pad_2", padding=[[0, 1], [0, 1]])  # MobileNet's
    g.add("Conv2D", "conv2", filters=8, kernel_size=[3, 3], strides=[2, 2], padding="valid", use_bias=False)
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert [str(r.output) for r in report.layers] == ["225x225x3", "112x112x8"]
    g = Graph((8, 8, 1))
    g.add("ZeroPadding2D", "bad", padding=[[0, "x"], [0, 1]])
    with pytest.raises(SpecError) as e:
        read_keras(write(tmp_path, g.model()))
    assert "bad" in e.value.message and e.value.loc is not None and e.value.loc.line == 2


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"class_name": "Sequential"}',
                                  '{"class_name": "Dense", "config": {}}',
                                  '{"class_name": "Functional", "config": {"layers": []}}', "[" * 100_000])
def test_malformed_files_are_clean_errors_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(SpecError) as e:
        read_keras(str(path))
    assert "broken.json" in str(e.value)


def test_a_zip_without_config_and_a_read_before_its_producer(tmp_path: Path) -> None:
    path = tmp_path / "empty.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", "{}")
    with pytest.raises(SpecError, match="config.json"):
        read_keras(str(path))
    g = Graph((8, 8, 3))
    g.add("Conv2D", "a", reads=["b"], filters=4, kernel_size=3)  # a cycle: b is made after a
    g.add("Conv2D", "b", reads=["a"], filters=4, kernel_size=3)
    with pytest.raises(SpecError, match="'b'"):
        read_keras(write(tmp_path, g.model()))


def test_keras_files_go_through_every_command(tmp_path):
    """The registry routes .keras and Keras .json configs to read_keras: `convcalc table` reads
    them, `convcalc import` writes YAML that gives the same report, and a .json that is not a
    Keras config is still a convcalc spec (JSON is YAML)."""
    import json as _json
    import zipfile as _zipfile

    from click.testing import CliRunner

    from convcalc.cli import cli

    config = {"class_name": "Sequential", "config": {"name": "tiny", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 32, 32, 1], "name": "in"}},
        {"class_name": "Conv2D", "config": {"name": "c1", "filters": 6, "kernel_size": [5, 5], "strides": [1, 1],
                                            "padding": "valid", "activation": "relu", "use_bias": True}},
        {"class_name": "Flatten", "config": {"name": "f"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 10, "use_bias": True}}]}}
    as_json = tmp_path / "tiny.json"
    as_json.write_text(_json.dumps(config), encoding="utf-8")
    as_keras = tmp_path / "tiny.keras"
    with _zipfile.ZipFile(as_keras, "w") as z:
        z.writestr("config.json", _json.dumps(config))
    runner = CliRunner()
    for path in (as_json, as_keras):
        data = _json.loads(runner.invoke(cli, ["table", str(path), "--format", "json"]).output)
        # c1: 5·5·1·6 + 6 = 156; d: 28·28·6·10 + 10 = 47,050
        assert data["totals"]["params"] == 156 + 47_050
        yaml_text = runner.invoke(cli, ["import", str(path)]).output
        (tmp_path / "back.yaml").write_text(yaml_text, encoding="utf-8")
        again = _json.loads(runner.invoke(cli, ["table", str(tmp_path / "back.yaml"), "--format", "json"]).output)
        assert again["totals"] == data["totals"]
    spec = tmp_path / "spec.json"
    spec.write_text('{"input": [8, 8, 1], "layers": ["relu"]}', encoding="utf-8")
    assert runner.invoke(cli, ["table", str(spec)]).exit_code == 0


# --- real keras.applications configs (tests/fixtures/keras, made by make_fixtures.py) ------

FIXTURES = Path(__file__).parent / "fixtures" / "keras"

# name: (count_params(), trainable, non-trainable) as Keras 3.15.1 itself reports them
# (model.summary(); make_fixtures.py prints them). keras.io/api/applications today rounds the
# totals to 0.1 M; the Keras 2-era table (copied e.g. in gist ogyalcin/052f2df49b3288e62086aa0e5fd25fcd)
# listed them exactly, and these agree: MobileNet 4,253,864, MobileNetV2 3,538,984, ResNet50
# 25,636,712, ResNet50V2 25,613,800, VGG16 138,357,544, InceptionV3 23,851,784, Xception
# 22,910,480, NASNetMobile 5,326,716, DenseNet121 8,062,504, InceptionResNetV2 55,873,736.
KERAS_COUNTS = {
    "mobilenet": (4_253_864, 4_231_976, 21_888),
    "mobilenet_v2": (3_538_984, 3_504_872, 34_112),
    "resnet50": (25_636_712, 25_583_592, 53_120),
    "resnet50_v2": (25_613_800, 25_568_360, 45_440),
    "vgg16": (138_357_544, 138_357_544, 0),
    "densenet121": (8_062_504, 7_978_856, 83_648),
    "inception_v3": (23_851_784, 23_817_352, 34_432),
    "xception": (22_910_480, 22_855_952, 54_528),
    "efficientnet_v2_b0": (7_200_312, 7_139_704, 60_608),
    "mobilenet_v3_small": (2_554_968, 2_542_856, 12_112),  # input_shape=(224, 224, 3)
    "mobilenet_v3_large": (5_507_432, 5_483_032, 24_400),  # input_shape=(224, 224, 3)
    "convnext_tiny": (28_589_128, 28_589_128, 0),
    "transfer_sequential": (23_608_202, 23_555_082, 53_120),  # ResNet50 base (96x96) inside a Sequential
    # the Keras guide's transfer learning: a MobileNetV2 base (160x160), trainable = False, called
    # as a layer; every weight of the base is non-trainable, the Dense(1) head's 1,281 trainable
    "transfer_functional": (2_259_265, 1_281, 2_257_984),
    "inception_resnet_v2": (55_873_736, 55_813_192, 60_544),  # its 40 CustomScaleLayer: x + scale·r, an add
}


def fixture(tmp_path: Path, name: str) -> str:
    """The fixture ``name`` gunzipped to ``tmp_path/name.json`` (the suffix the CLI reads as Keras)."""
    import gzip

    path = tmp_path / f"{name}.json"
    path.write_bytes(gzip.decompress((FIXTURES / f"{name}.json.gz").read_bytes()))
    return str(path)


@pytest.mark.parametrize("name", sorted(KERAS_COUNTS))
def test_real_keras_applications_give_keras_own_counts(tmp_path: Path, name: str) -> None:
    total, trainable, frozen = KERAS_COUNTS[name]
    report = analyse(read_keras(fixture(tmp_path, name)))
    assert (report.totals.params, report.totals.buffers) == (trainable, frozen)
    assert report.totals.params + report.totals.buffers == total
    assert not report.unknown_ops
    assert report.output == Shape((), {"transfer_functional": 1, "transfer_sequential": 10}.get(name, 1000))


@pytest.mark.parametrize("name, spec", [("mobilenet_v2", "mobilenet_v2"), ("densenet121", "densenet121"),
                                        ("vgg16", "vgg16"), ("resnet50", "resnet50-v1"),
                                        ("convnext_tiny", "convnext_tiny")])
def test_real_keras_applications_have_the_bundled_specs_macs(tmp_path: Path, name: str, spec: str) -> None:
    """Keras' ResNet50 is He et al.'s v1 (stride 2 in the first 1x1 conv of a stage), so it is
    `resnet50-v1`, not torchvision's v1.5 `resnet50`; its convs keep their biases (use_bias
    defaults to True), 26,560 params the bundled spec (torchvision's, bias-free before a
    BatchNorm) has not. A bias adds no MACs, so the MACs agree exactly."""
    report = analyse(read_keras(fixture(tmp_path, name)))
    expected = bundled(spec).totals
    assert report.totals.macs == expected.macs
    assert report.totals.buffers == expected.buffers
    conv_biases = 26_560 if name == "resnet50" else 0  # 53 convs' filters; ResNet50's fc bias is in both
    assert report.totals.params == expected.params + conv_biases
    assert report.totals.biases == expected.biases + conv_biases


def test_real_keras_file_zip_reads_as_its_json(tmp_path: Path) -> None:
    """mobilenet.keras is model.save()'s zip without the weights: the same model as its JSON."""
    from_zip = analyse(read_keras(str(FIXTURES / "mobilenet.keras")))
    from_json = analyse(read_keras(fixture(tmp_path, "mobilenet")))
    assert from_zip.totals == from_json.totals
    assert (from_zip.totals.params, from_zip.totals.buffers) == (4_231_976, 21_888)


def test_normalization_given_statistics_has_no_weights(tmp_path: Path) -> None:
    """Keras' Normalization holds a given mean and variance as constants (no weights: EfficientNetV2,
    ConvNeXt); adapted, it has mean and variance per channel plus a scalar count, non-trainable."""
    g = Graph((8, 8, 3))
    g.add("Normalization", "given", axis=[3], mean=[0.485, 0.456, 0.406], variance=[0.05, 0.05, 0.05])
    g.add("Normalization", "adapted", axis=-1, mean=None, variance=None)
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert (by_name(report, "given").params, by_name(report, "given").buffers) == (0, 0)
    assert (by_name(report, "adapted").params, by_name(report, "adapted").buffers) == (0, 2 * 3)
    g.add("Normalization", "whole", axis=None)
    with pytest.raises(SpecError, match="whole"):
        read_keras(write(tmp_path, g.model()))


def test_efficientnet_b0_counts_all_but_normalizations_scalar_count(tmp_path: Path) -> None:
    """EfficientNetB0's adapted Normalization has a scalar 'count' weight (non-trainable) that
    convcalc has no layer for: Keras' 42,023 non-trainable = convcalc's 42,022 buffers + 1."""
    report = analyse(read_keras(fixture(tmp_path, "efficientnet_b0")))
    assert report.totals.params == 5_288_548
    assert report.totals.buffers + 1 == 42_023
    assert report.totals.params + report.totals.buffers + 1 == 5_330_571


def test_nasnet_mobile_counts_exactly_and_names_its_off_centre_crops(tmp_path: Path) -> None:
    """NASNetMobile's four Cropping2D(((1, 0), (1, 0))) cut the first row and column: convcalc's
    crop is centred, so they are `unknown` layers with the shape Keras records (a crop has no
    params or MACs, so the counts are still Keras' own; the totals say they are incomplete)."""
    report = analyse(read_keras(fixture(tmp_path, "nasnet_mobile")))
    assert (report.totals.params, report.totals.buffers) == (5_289_978, 36_738)  # 5,326,716 in all
    assert report.unknown_ops == {"Cropping2D": 4}
    assert report.output == Shape((), 1000)


def frozen_model(freeze: bool = True) -> Dict[str, Any]:
    """Layers with ``trainable: false`` (a conv, a batchnorm, one with scale=False) and a nested
    functional model with it, written as Keras writes a frozen base (its layers' flags false too)."""
    off = {"trainable": False} if freeze else {}
    inner = Graph((16, 16, 8))
    inner.add("Conv2D", "base_conv", filters=4, kernel_size=[1, 1], **off)
    inner.add("BatchNormalization", "base_bn", **off)
    base = {**inner.model(), "name": "base", "inbound_nodes": layer("Conv2D", "base", ["noscale_bn"])["inbound_nodes"]}
    base["config"].update(name="base", **off)
    g = Graph((16, 16, 3))
    g.add("Conv2D", "stem", filters=8, kernel_size=[3, 3], padding="same", **off)
    g.add("BatchNormalization", "stem_bn", **off)
    g.add("BatchNormalization", "noscale_bn", scale=False, **off)
    g.layers.append(base)
    g.last = "base"
    g.add("BatchNormalization", "live_bn")
    g.add("GlobalAveragePooling2D", "pool")
    g.add("Dense", "head", units=3)
    return g.model()


def test_frozen_layers_split_params_as_keras_summary(tmp_path: Path) -> None:
    """Keras 3.15.1 on this very config (``keras.models.model_from_json``, with the ``module``
    keys a saved file has): 363 params, 23 trainable (live_bn's γ, β 8 + head 15), 340
    non-trainable: stem 224, stem_bn 32 (γ, β too), noscale_bn 24, base 52, live_bn's 8. Unfrozen
    the same model has 3 · 3 · 3 · 8 + 8 + 16 + 8 + 36 + 8 + 8 + 15 = 315 trainable."""
    report = analyse(read_keras(write(tmp_path, frozen_model())))
    assert (report.totals.params, report.totals.buffers) == (23, 340)
    assert (by_name(report, "stem").params, by_name(report, "stem").buffers) == (0, 224)
    assert (by_name(report, "stem_bn").params, by_name(report, "stem_bn").buffers) == (0, 32)
    assert (by_name(report, "base_bn").params, by_name(report, "base_bn").buffers) == (0, 16)
    live = analyse(read_keras(write(tmp_path, frozen_model(freeze=False), "live.json")))
    assert (live.totals.params, live.totals.buffers) == (315, 48)
    assert live.totals.macs == report.totals.macs


def test_a_nested_models_flag_freezes_every_layer_inside_it(tmp_path: Path) -> None:
    """``base.trainable = False`` freezes the whole base (Keras' setter sets every layer's flag, and
    so does convcalc reading the model's): its layers are frozen even where their own flag is absent."""
    model = frozen_model(freeze=False)
    base = next(x for x in model["config"]["layers"] if x["name"] == "base")
    base["config"]["trainable"] = False
    report = analyse(read_keras(write(tmp_path, model)))
    assert (by_name(report, "base_conv").params, by_name(report, "base_conv").buffers) == (0, 36)
    assert (report.totals.params, report.totals.buffers) == (315 - 44, 48 + 44)


@pytest.mark.parametrize("name", ["custom.keras", "custom_sequential.json"])
def test_a_users_own_layer_in_a_real_file_is_unknown_with_keras_shape(name: str) -> None:
    """SpaceToDepth(2), a layer registered by the user: its 16x16x32 output is what Keras records
    (the functional model's tensor shapes; the Sequential's next build shape); the convs around it
    give Keras' 356 params."""
    from test_hostile import run

    path = str(FIXTURES / name)
    report = analyse(read_keras(path))
    assert [(r.name, str(r.output)) for r in report.layers] == [("conv", "32x32x8"), ("s2d", "16x16x32"),
                                                               ("head", "16x16x4")]
    assert report.totals.params == 356 and report.unknown_ops == {"SpaceToDepth": 1}
    assert run("table", path, "--strict").exit_code == 1


@pytest.mark.parametrize("name", ["convnext_tiny", "nasnet_mobile", "transfer_functional", "mobilenet_v3_small"])
def test_real_configs_and_their_exported_yaml_give_the_same_report(tmp_path: Path, name: str) -> None:
    from test_hostile import run

    path = fixture(tmp_path, name)
    yaml_text = run("import", path).stdout
    (tmp_path / "back.yaml").write_text(yaml_text, encoding="utf-8")
    direct = json.loads(run("table", path, "--format", "json").stdout)
    again = json.loads(run("table", str(tmp_path / "back.yaml"), "--format", "json").stdout)
    assert again["totals"] == direct["totals"] and again["incomplete"] == direct["incomplete"]
    assert [r["output"] for r in again["layers"]] == [r["output"] for r in direct["layers"]]


# --- layers the real configs use ------------------------------------------------------------


def test_keras_ops_with_a_constant_change_nothing(tmp_path: Path) -> None:
    """MobileNetV3's hard sigmoid, ``ReLU(6)(x + 3) * (1 / 6)``: Keras ops on one tensor and a
    number, written with module keras.src.ops.numpy; the shape is kept, nothing is counted."""
    g = Graph((4, 4, 8))
    g.add("Conv2D", "conv", filters=8, kernel_size=1)
    g.add("Add", "add", reads=["conv"])
    g.layers[-1]["inbound_nodes"][0]["args"].append(3.0)
    g.add("ReLU", "re_lu", max_value=6.0)
    g.add("Multiply", "multiply")
    g.layers[-1]["inbound_nodes"][0]["args"].append(0.16666666666666666)
    g.add("Multiply", "excite", reads=["conv", "multiply"])
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert [(r.name, r.layer.kind) for r in report.layers][:4] == [("conv", "conv"), ("add", "identity"),
                                                                   ("re_lu", "relu6"), ("multiply", "identity")]
    assert report.totals.params == 8 * 8 + 8 and report.output == Shape((4, 4), 8)
    g.add("Add", "lonely")  # one tensor and no constant: a damaged file
    with pytest.raises(SpecError, match="lonely") as e:
        read_keras(write(tmp_path, g.model()))
    assert e.value.loc is not None and e.value.loc.line == 7


def test_nested_sequential_is_inlined_under_its_layers_names(tmp_path: Path) -> None:
    """ConvNeXt's stem is a Sequential inside the functional model: its layers inline, reading
    what the Sequential is called on; a layer after it reads the Sequential's output."""
    g = Graph((32, 32, 3))
    stem = {"class_name": "Sequential", "config": {"name": "stem", "layers": [
        {"class_name": "InputLayer", "config": {"name": "inner_in", "batch_shape": [None, 32, 32, 3]}},
        {"class_name": "Conv2D", "config": {"name": "stem_conv", "filters": 16, "kernel_size": [4, 4],
                                            "strides": [4, 4]}},
        {"class_name": "LayerNormalization", "config": {"name": "stem_ln", "axis": -1, "epsilon": 1e-6}}]}}
    g.add("Sequential", "stem", layers=stem["config"]["layers"])
    g.add("LayerScale", "scale", projection_dim=16)
    g.add("Add", "add", reads=["stem", "scale"])
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert [(r.name, str(r.output)) for r in report.layers][:3] == [("stem_conv", "8x8x16"), ("stem_ln", "8x8x16"),
                                                                   ("scale", "8x8x16")]
    assert report.totals.params == 4 * 4 * 3 * 16 + 16 + 2 * 16 + 16
    g.layers[1]["config"]["layers"] = []
    with pytest.raises(SpecError, match="stem") as e:
        read_keras(write(tmp_path, g.model()))
    assert e.value.loc is not None and e.value.loc.line == 2


def test_models_nested_too_deep_are_refused_located(tmp_path: Path) -> None:
    inner: Dict[str, Any] = {"name": "leaf", "layers": [{"class_name": "ReLU", "config": {"name": "r"}}]}
    for depth in range(40):
        inner = {"name": f"m{depth}", "layers": [{"class_name": "Sequential", "config": inner}]}
    g = Graph((4, 4, 3))
    g.add("Sequential", "outer", layers=inner["layers"])
    with pytest.raises(SpecError, match="nested more than") as e:
        read_keras(write(tmp_path, g.model()))
    assert e.value.loc is not None and e.value.loc.line == 2


@pytest.mark.parametrize("config, params", [({}, 2 * 8), ({"center": False}, 8), ({"rms_scaling": True}, 8),
                                            ({"center": False, "scale": False}, 0)])
def test_layer_normalization_counts_gamma_and_beta_it_has(tmp_path: Path, config: Dict[str, Any],
                                                          params: int) -> None:
    g = Graph((4, 4, 8))
    g.add("LayerNormalization", "ln", axis=[-1], epsilon=1e-6, **config)
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert (report.totals.params, report.totals.buffers, report.output) == (params, 0, Shape((4, 4), 8))
    g.add("LayerNormalization", "ln_h", axis=1)
    with pytest.raises(SpecError, match="ln_h"):
        read_keras(write(tmp_path, g.model()))


def test_cropping_centred_is_a_crop_off_centre_is_unknown_with_its_shape(tmp_path: Path) -> None:
    g = Graph((10, 10, 4))
    g.add("Cropping2D", "centred", cropping=[[1, 1], [2, 3]])  # (2 + 3) // 2 = 2: convcalc's centre
    g.layers[-1]["build_config"] = {"input_shape": [None, 10, 10, 4]}
    g.add("Cropping2D", "corner", cropping=[[1, 0], [1, 0]])
    g.layers[-1]["build_config"] = {"input_shape": [None, 8, 5, 4]}
    g.add("ReLU", "after")
    g.layers[-1]["inbound_nodes"][0]["args"][0]["config"]["shape"] = [None, 7, 4, 4]
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert [(r.layer.kind, str(r.output)) for r in report.layers] == [("crop", "8x5x4"), ("unknown", "7x4x4"),
                                                                      ("relu", "7x4x4")]
    assert report.unknown_ops == {"Cropping2D": 1}


def test_conv_transpose_gives_the_shapes_keras_gives(tmp_path: Path) -> None:
    """conv_transpose.json: Conv2DTranspose with 'same' and 'valid', even and odd kernels,
    stride 1, 2, 3 and (2, 1), output_padding given, dilation; the shapes and the 5,221 params
    are what Keras printed when it built the model (make_fixtures.py)."""
    report = analyse(read_keras(str(FIXTURES / "conv_transpose.json")))
    keras_shapes = [(18, 20, 4), (36, 40, 5), (72, 80, 6), (145, 161, 7), (435, 483, 8), (435, 483, 9),
                    (870, 483, 10), (1739, 965, 11), (1743, 969, 12)]
    assert [(*r.output.spatial, r.output.channels) for r in report.layers] == keras_shapes
    assert report.totals.params == 5_221 and not report.unknown_ops
    g = Graph((5, 5, 3))  # an even kernel, stride 1, 'same': Keras' rule needs output padding 1 = the stride
    g.add("Conv2DTranspose", "even", filters=4, kernel_size=2, strides=1, padding="same")
    g.add("ReLU", "after")
    g.layers[-1]["inbound_nodes"][0]["args"][0]["config"]["shape"] = [None, 5, 5, 4]
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert report.unknown_ops == {"Conv2DTranspose": 1} and report.output == Shape((5, 5), 4)


# --- layers convcalc has no rule for --------------------------------------------------------


def custom_model(keras: int) -> Dict[str, Any]:
    """A conv, a custom layer that halves the grid (Keras 3 records what it gives the next
    layer), a conv after it."""
    g = Graph((16, 16, 3), keras)
    g.add("Conv2D", "conv", filters=8, kernel_size=3, padding="same")
    g.add("SpaceToDepth", "s2d")
    g.add("Conv2D", "head", filters=4, kernel_size=1)
    if keras == 3:
        g.layers[-1]["inbound_nodes"][0]["args"][0]["config"]["shape"] = [None, 8, 8, 32]
        g.layers[-1]["build_config"] = {"input_shape": [None, 8, 8, 32]}
    return g.model()


def test_unknown_layer_takes_the_shape_keras_3_records(tmp_path: Path) -> None:
    report = analyse(read_keras(write(tmp_path, custom_model(3))))
    s2d = by_name(report, "s2d")
    assert (s2d.layer.kind, s2d.output, s2d.params) == ("unknown", Shape((8, 8), 32), 0)
    assert by_name(report, "head").output == Shape((8, 8), 4) and by_name(report, "head").params == 32 * 4 + 4
    assert report.unknown_ops == {"SpaceToDepth": 1}


def test_unknown_layer_shape_from_the_readers_build_shape_alone(tmp_path: Path) -> None:
    model = custom_model(3)
    model["config"]["layers"][-1]["inbound_nodes"][0]["args"][0]["config"]["shape"] = [None]
    assert analyse(read_keras(write(tmp_path, model))).output == Shape((8, 8), 4)


def test_unknown_layer_reading_two_tensors_keeps_both_branches_counted(tmp_path: Path) -> None:
    """Subtract has no convcalc merge: unknown, shaped as recorded; both convs it reads still count."""
    g = Graph((8, 8, 3))
    g.add("Conv2D", "a", filters=4, kernel_size=1)
    g.add("Conv2D", "b", reads=["input_1"], filters=4, kernel_size=1)
    g.add("Subtract", "diff", reads=["a", "b"])
    g.add("ReLU", "out")
    g.layers[-1]["inbound_nodes"][0]["args"][0]["config"]["shape"] = [None, 8, 8, 4]
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert [(r.name, r.layer.kind) for r in report.layers] == [("a", "conv"), ("b", "conv"), ("diff", "unknown"),
                                                               ("out", "relu")]
    assert report.totals.params == 2 * (3 * 4 + 4) and report.unknown_ops == {"Subtract": 1}


def test_unknown_activation_keeps_the_shape_and_is_reported(tmp_path: Path) -> None:
    g = Graph((4, 4, 3))
    g.add("Conv2D", "conv", filters=8, kernel_size=1, activation="my_activation")
    g.add("Activation", "act", activation={"class_name": "function", "config": {"name": "fancy"}})
    report = analyse(read_keras(write(tmp_path, g.model())))
    assert [(r.layer.kind, str(r.output)) for r in report.layers] == [("conv", "4x4x8"), ("unknown", "4x4x8"),
                                                                      ("unknown", "4x4x8")]
    assert report.unknown_ops == {"activation_my_activation": 1, "activation_fancy": 1}


def test_unknown_layers_through_the_cli(tmp_path: Path) -> None:
    """Keras 3: listed with its count, JSON `incomplete`, `--strict` exits 1. Keras 2 records no
    shapes: the import stops, exit 2, at the layer (file:line of the layer)."""
    from test_hostile import assert_clean, run

    path = write(tmp_path, custom_model(3), "custom.json")
    data = json.loads(run("table", path, "--format", "json").stdout)
    assert data["incomplete"] == {"unknown_ops": {"SpaceToDepth": 1}}
    assert data["totals"]["params"] == 3 * 3 * 3 * 8 + 8 + 32 * 4 + 4
    table = run("table", path)
    assert table.exit_code == 0 and "incomplete: not counted: SpaceToDepth ×1" in table.stdout
    assert run("table", path, "--strict").exit_code == 1
    imported = run("import", path)
    assert imported.exit_code == 0 and "unknown" in imported.stdout
    back = tmp_path / "back.yaml"
    back.write_text(imported.stdout, encoding="utf-8")
    assert json.loads(run("table", str(back), "--format", "json").stdout)["totals"] == data["totals"]
    old = write(tmp_path, custom_model(2), "keras2.json")
    result = run("table", old)
    assert_clean(result, (2,))
    assert f"{old}:3:1" in result.stderr and "SpaceToDepth ×1 (first 's2d')" in result.stderr


# --- hostile files: a located error, exit 2, no traceback, bounded time and memory --------


def zip_with_config(path: Path, data: bytes, declared: Optional[int] = None) -> str:
    """A .keras zip holding ``data`` as config.json; ``declared`` overwrites the uncompressed
    size its headers state (a zip that lies about what it inflates to)."""
    import struct

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", data)
    if declared is not None:
        raw = bytearray(path.read_bytes())
        local = raw.index(b"PK\x03\x04")
        central = raw.index(b"PK\x01\x02")
        struct.pack_into("<I", raw, local + 22, declared)
        struct.pack_into("<I", raw, central + 24, declared)
        path.write_bytes(bytes(raw))
    return str(path)


def test_hostile_keras_zips_are_located_exit_2(tmp_path: Path) -> None:
    import time

    from test_hostile import assert_clean, run

    padding = b" " * (40 * 1024 * 1024)  # inflates to 40 MB, over the 32 MB limit; ~40 KB stored
    body = json.dumps(lenet_sequential()).encode()
    cases = {
        "bomb.keras": zip_with_config(tmp_path / "bomb.keras", body + padding),
        "liar.keras": zip_with_config(tmp_path / "liar.keras", body + padding, declared=len(body)),
        "empty.keras": str(tmp_path / "empty.keras"),
        "garbage.keras": str(tmp_path / "garbage.keras"),
    }
    with zipfile.ZipFile(cases["empty.keras"], "w") as z:
        z.writestr("metadata.json", "{}")
    Path(cases["garbage.keras"]).write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    for name, path in cases.items():
        start = time.perf_counter()
        result = run("table", path)
        assert time.perf_counter() - start < 5, name
        assert_clean(result, (2,))
        assert name in result.stderr, (name, result.stderr)
    assert "config.json" in run("table", cases["empty.keras"]).stderr


def test_a_huge_keras_json_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    from test_hostile import assert_clean, run

    path = tmp_path / "huge.json"
    path.write_bytes(json.dumps(lenet_sequential()).encode() + b" " * (33 * 1024 * 1024))
    result = run("table", str(path))
    assert_clean(result, (2,))
    assert "huge.json" in result.stderr and "limit" in result.stderr


@pytest.mark.parametrize("reads", [("b", "a"), ("a", "b")])
def test_cyclic_inbound_nodes_are_located_exit_2(tmp_path: Path, reads: Sequence[str]) -> None:
    """a reads b, made after it (a cycle a -> b -> a), or a reads itself: Keras writes layers in
    the order they run, so a read of a later layer is located at the reader."""
    from test_hostile import assert_clean, run

    g = Graph((8, 8, 3))
    g.add("Conv2D", "a", reads=[reads[0]], filters=4, kernel_size=3)
    g.add("Conv2D", "b", reads=[reads[1]], filters=4, kernel_size=3)
    path = write(tmp_path, g.model(), "cycle.json")
    result = run("table", path)
    assert_clean(result, (2,))
    assert f"{path}:2:1" in result.stderr and "'a'" in result.stderr


@pytest.mark.parametrize("cls, config", [("Conv2D", {"filters": 2**40, "kernel_size": 3}),
                                         ("Dense", {"units": 2**40}),
                                         ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2**40}),
                                         ("Conv2D", {"filters": 4, "kernel_size": 2**40}),
                                         ("ZeroPadding2D", {"padding": 2**40})])
def test_huge_sizes_are_located_exit_2(tmp_path: Path, cls: str, config: Dict[str, Any]) -> None:
    from test_hostile import assert_clean, run

    g = Graph((8, 8, 3))
    g.add(cls, "huge", **config)
    path = write(tmp_path, g.model(), "huge.json")
    result = run("table", path)
    assert_clean(result, (2,))
    assert f"{path}:2:1" in result.stderr


def test_inbound_nodes_nested_past_the_stack_are_a_located_error(tmp_path: Path) -> None:
    """JSON's parser stops at ~1,000 levels; a config built in memory can nest deeper."""
    from convcalc.importers.keras import network_from_config

    g = Graph((8, 8, 3))
    g.add("ReLU", "deep")
    args: List[Any] = []
    for _ in range(100_000):
        args = [args]
    g.layers[-1]["inbound_nodes"] = [{"args": args}]
    with pytest.raises(SpecError) as e:
        network_from_config(g.model(), "deep.json")
    assert e.value.loc is not None and e.value.loc.line == 2


@pytest.mark.parametrize("where", ["input", "recorded"])
def test_a_shape_of_thousands_of_axes_is_refused_located(tmp_path: Path, where: str) -> None:
    """5,000 axes of 2 make 2**5000 elements, past what a float holds: refused (convcalc's layers
    have at most 3 spatial axes) before anything is counted, never an internal error."""
    from test_hostile import assert_clean, run

    g = Graph((2,) * 5000 if where == "input" else (8, 8, 3))
    g.add("Mystery", "m")
    g.add("ReLU", "r")
    g.layers[-1]["inbound_nodes"][0]["args"][0]["config"]["shape"] = [None] + [2] * 5000
    result = run("table", write(tmp_path, g.model(), "axes.json"))
    assert_clean(result, (2,))
    assert "axes.json:" in result.stderr and ("spatial axes" in result.stderr or "Mystery ×1" in result.stderr)
