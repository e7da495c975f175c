"""Keras models as convcalc specs: a ``.keras`` file (a zip holding ``config.json``) or the JSON
that ``model.to_json()`` writes, read with the standard library alone (no TensorFlow, no Keras).

The format's own definition is Keras' serialisation (``keras/src/saving/serialization_lib.py``,
``keras/src/models/functional.py``): ``{"class_name": "Sequential" | "Functional" | "Model",
"config": {"layers": [...]}}``, each layer ``{"class_name", "config", "name", "inbound_nodes"}``.
A functional layer names the tensors it reads in ``inbound_nodes``, in Keras 2's form
``[[["conv1", 0, 0, {}], ...]]`` or Keras 3's ``[{"args": [{"class_name": "__keras_tensor__",
"config": {"keras_history": ["conv1", 0, 0]}}], "kwargs": {}}]``.

Each Keras layer becomes one convcalc layer under its Keras name (a merge becomes a block reading
named tensors), plus, where Keras folds two things into one layer, a second layer named after it:
``conv1`` with ``activation='relu'`` is ``conv1`` then ``conv1_relu``. Keras' data layout is
channels-last, as convcalc's; ``Dense`` works on the last axis, so on a grid or a sequence it is
convcalc's per-position ``pwlinear``, and ``fc`` only on a vector.

Params as ``model.summary()`` splits them: trainable = convcalc's params, non-trainable =
convcalc's buffers (BatchNormalization's moving mean and variance; Normalization's mean and
variance).
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from ..errors import Location, SpecError
from ..layers import MERGES
from ..limits import MAX_SPEC_BYTES
from ..shape import Shape
from ..spec import BlockSpec, FromSpec, LayerSpec, NetworkSpec, Node, RawOption, make_layer, shape_from_dims

Step = Tuple[str, Dict[str, Any]]  # a convcalc kind and its options

MODEL_CLASSES = ("Sequential", "Functional", "Model")

# Keras activation names (``activation='relu'``, ``Activation('swish')``) as convcalc kinds;
# 'linear' is none at all.
ACTIVATIONS = {
    "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
    "swish": "silu", "silu": "silu", "gelu": "gelu", "elu": "elu", "selu": "selu", "softplus": "softplus",
    "hard_sigmoid": "hardsigmoid", "hard_swish": "hardswish", "hard_silu": "hardswish",
    "leaky_relu": "leakyrelu", "mish": "mish", "linear": "",
}

# Layers that change nothing convcalc counts: shape and costs pass straight through.
PASS_THROUGH = {"Dropout": "dropout", "SpatialDropout2D": "dropout", "GaussianDropout": "dropout",
                "GaussianNoise": "identity", "Rescaling": "identity", "ActivityRegularization": "identity"}


def read_keras(path: "str | Path", origin: str = "") -> NetworkSpec:
    """The Keras model in file ``path`` (``.keras`` zip or JSON config) as a NetworkSpec, or a
    SpecError that names the file (and the layer, as ``file:N:1`` for the Nth layer). The
    registry's reader signature (importers/__init__.py); ``origin`` is unused: the path names it."""
    return network_from_config(load_config(str(path)), str(path))


def read_json(path: "str | Path", origin: str = "") -> NetworkSpec:
    """A ``.json`` file: a Keras model config (``model.to_json()``: ``class_name`` and ``config``
    at the top) is read as Keras; anything else is a convcalc spec (JSON is YAML)."""
    from ..load import load_file

    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        head = b""
    if b'"class_name"' in head and b'"config"' in head:
        return read_keras(path, origin)
    return load_file(Path(path), origin or None)


def load_config(path: str) -> Dict[str, Any]:
    """The model's JSON config: ``config.json`` inside a ``.keras`` zip, else the file itself."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                try:
                    info = archive.getinfo("config.json")
                except KeyError:
                    raise SpecError(f"'{path}' is a zip without config.json: not a .keras model file") from None
                if info.file_size > MAX_SPEC_BYTES:  # as stored; a zip bomb is refused before it inflates
                    raise SpecError(f"'{path}': config.json is larger than convcalc's limit of {MAX_SPEC_BYTES:,} bytes")
                with archive.open(info) as f:
                    data = f.read(MAX_SPEC_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_SPEC_BYTES + 1)
    except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as e:
        raise SpecError(f"cannot read '{path}': {getattr(e, 'strerror', None) or e}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"'{path}' is larger than convcalc's limit of {MAX_SPEC_BYTES:,} bytes")
    try:
        config = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise SpecError(f"'{path}' is not UTF-8 JSON (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    except json.JSONDecodeError as e:
        line = e.doc.split("\n")[e.lineno - 1] if e.lineno <= e.doc.count("\n") + 1 else ""
        raise SpecError(f"not valid JSON: {e.msg}", Location(path, e.lineno, e.colno, line)) from None
    except RecursionError:
        raise SpecError(f"'{path}': JSON nested too deeply") from None
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        got = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise SpecError(f"'{path}' is not a Keras model config: expected class_name Sequential, Functional or "
                        f"Model at the top, got {str(got)[:40]!r}",
                        hint="give a .keras file or the JSON of model.to_json()")
    if not isinstance(config.get("config"), (dict, list)):
        raise SpecError(f"'{path}': the Keras model has no 'config'")
    return config


def network_from_config(model: Dict[str, Any], path: str) -> NetworkSpec:
    reader = _Reader(path)
    config = model["config"]
    layers = config if isinstance(config, list) else config.get("layers")  # Keras 1/2.0 wrote a bare list
    if not isinstance(layers, list) or not layers:
        raise SpecError(f"'{path}': the Keras model config lists no layers")
    name = config.get("name", "") if isinstance(config, dict) else ""
    if model["class_name"] == "Sequential":
        reader.sequential(layers, model, config)
    else:
        reader.functional(layers, config)
    reader.fail_on_unknown()
    if reader.input_shape is None:
        raise SpecError(f"'{path}': the Keras model has no input layer")
    return NetworkSpec(input=reader.input_shape, layers=tuple(reader.nodes), name=str(name),
                       title=f"{name} (Keras {model['class_name']})", origin=path, outputs=reader.outputs)


class _Reader:
    """Walks the layers in order, keeping what each Keras tensor is called in the spec."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.nodes: List[Node] = []
        self.refs: Dict[str, str] = {}  # Keras layer name -> the spec's name of its output tensor
        self.rank: Dict[str, int] = {}  # Keras' spatial axes of each output (0: a vector)
        self.unit: Dict[str, bool] = {}  # Keras has a vector where convcalc keeps 1x1xC (after a global pool)
        self.used: Set[str] = set()
        self.current = "input"  # the spec's tensor the next layer reads unless told otherwise
        self.input_shape: Optional[Shape] = None
        self.unknown: Counter[str] = Counter()
        self.first_unknown: Dict[str, Tuple[str, Location]] = {}
        self.outputs: Tuple[FromSpec, ...] = ()

    # --- the two model forms -----------------------------------------------------------

    def sequential(self, layers: List[Any], model: Dict[str, Any], config: Any) -> None:
        prev = None
        for i, layer in enumerate(layers):
            cls, cfg, name = self.parts(layer, i)
            if i == 0 and cls != "InputLayer":
                shape = (cfg.get("batch_shape") or cfg.get("batch_input_shape")
                         or (config.get("build_input_shape") if isinstance(config, dict) else None)
                         or (model.get("build_config") or {}).get("input_shape"))
                self.set_input(shape, "input", self.loc(i, cls, name))
                prev = "input"
            self.convert(i, cls, cfg, name, [prev] if prev else [])
            prev = name

    def functional(self, layers: List[Any], config: Dict[str, Any]) -> None:
        for i, layer in enumerate(layers):
            cls, cfg, name = self.parts(layer, i)
            self.convert(i, cls, cfg, name, self.inbound(layer, i, cls, name))
        outs = config.get("output_layers") or []
        if outs and isinstance(outs[0], str):  # a single output written as ["name", 0, 0]
            outs = [outs]
        names = [o[0] for o in outs if isinstance(o, list) and o and isinstance(o[0], str)]
        if len(names) > 1 or (names and self.refs.get(names[0]) != self.current):
            self.outputs = tuple(FromSpec(self.refs.get(n, n)) for n in names)

    def parts(self, layer: Any, i: int) -> Tuple[str, Dict[str, Any], str]:
        if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
            raise SpecError(f"layer {i + 1} is not a Keras layer object (no class_name)", Location(self.path, i + 1, 1))
        cfg: Dict[str, Any] = layer["config"] if isinstance(layer.get("config"), dict) else {}
        name = layer.get("name") or cfg.get("name") or f"layer{i + 1}"
        return layer["class_name"], cfg, str(name)

    def inbound(self, layer: Dict[str, Any], i: int, cls: str, name: str) -> List[str]:
        """The Keras layer names this layer reads, from either form of ``inbound_nodes``."""
        nodes = layer.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise SpecError(f"layer '{name}' ({cls}) is called {len(nodes)} times (shared weights): not supported",
                            self.loc(i, cls, name))
        found: List[str] = []

        def walk(x: Any) -> None:
            if isinstance(x, dict):
                if x.get("class_name") == "__keras_tensor__":
                    history = (x.get("config") or {}).get("keras_history") or []
                    if history and isinstance(history[0], str):
                        found.append(history[0])
                    return
                for v in x.values():
                    walk(v)
            elif isinstance(x, list):
                if len(x) >= 3 and isinstance(x[0], str) and isinstance(x[1], int):  # Keras 2: [name, node, tensor, {}]
                    found.append(x[0])
                    return
                for v in x:
                    walk(v)

        for node in nodes:
            walk(node.get("args", []) if isinstance(node, dict) else node)
        return found

    # --- one layer ---------------------------------------------------------------------

    def loc(self, i: int, cls: str, name: str) -> Location:
        """Layer ``i`` (from 0) as line ``i + 1`` of the model file, its class and name shown."""
        return Location(self.path, i + 1, 1, f"{cls} '{name}'", len(cls))

    def set_input(self, shape: Any, name: str, loc: Location) -> None:
        if self.input_shape is not None:
            raise SpecError("the model has a second input: convcalc follows one input", loc)
        if not isinstance(shape, list) or len(shape) < 2:
            raise SpecError(f"no input shape recorded (batch_shape {shape!r})", loc,
                            hint="build the model on a fixed input shape before saving it")
        dims = shape[1:]
        if any(d is None for d in dims):
            raise SpecError(f"the input shape {shape} has unknown sizes (None)", loc,
                            hint="save the model built on a fixed input size, e.g. Input((224, 224, 3))")
        self.input_shape = shape_from_dims(dims, loc)
        self.refs[name], self.rank[name], self.unit[name] = "input", len(dims) - 1, False
        self.current = "input"

    def convert(self, i: int, cls: str, cfg: Dict[str, Any], name: str, inputs: List[str]) -> None:
        at = self.loc(i, cls, name)
        if cls == "InputLayer":
            self.set_input(cfg.get("batch_shape") or cfg.get("batch_input_shape"), name, at)
            return
        if self.input_shape is None:
            raise SpecError("the first layer has no input shape", at,
                            hint="save the model built on a fixed input shape, e.g. with an Input layer")
        for n in inputs:
            if n not in self.refs:
                raise SpecError(f"layer '{name}' reads '{n}', which no earlier layer makes", at,
                                hint="Keras lists layers in the order they run; the file may be damaged or cyclic")
        if not inputs:
            raise SpecError(f"layer '{name}' ({cls}) reads no tensor", at)
        if cls in ("Add", "Multiply", "Concatenate"):
            self.merge(cls, cfg, name, inputs, at)
            return
        if len(inputs) > 1:
            raise SpecError(f"layer '{name}' ({cls}) reads {len(inputs)} tensors: convcalc knows it with one", at)
        source = inputs[0]
        rank, unit = self.rank[source], self.unit[source]
        try:
            steps, rank, unit = self.steps(cls, cfg, rank, unit, name)
        except _Unknown as e:
            what = str(e.args[0]) if e.args else cls
            self.unknown[what] += 1
            self.first_unknown.setdefault(what, (name, at))
            steps = []
        except KeyError as e:
            raise SpecError(f"layer '{name}' ({cls}) has no '{e.args[0]}' in its config", at) from None
        except SpecError as e:
            if e.loc is not None:
                raise
            raise SpecError(e.message, at, e.hint) from None
        if self.refs[source] != self.current and steps:
            self.nodes.append(FromSpec(self.refs[source], at))
        out = self.refs[source]
        for k, (kind, options) in enumerate(steps):
            out = self.fresh(name if k == 0 else f"{name}_{kind}")
            layer = make_layer(kind, [RawOption(key, v, None, at) for key, v in options.items()], at)
            self.nodes.append(LayerSpec(layer, out, at))
            self.current = out
        self.refs[name], self.rank[name], self.unit[name] = out, rank, unit

    def fresh(self, name: str) -> str:
        """``name``, or ``name_2``… when a layer already took it (a folded activation's name)."""
        n, k = name, 1
        while n in self.used or n == "input":
            k += 1
            n = f"{name}_{k}"
        self.used.add(n)
        return n

    def merge(self, cls: str, cfg: Dict[str, Any], name: str, inputs: List[str], at: Location) -> None:
        if len(inputs) < 2:
            raise SpecError(f"layer '{name}' ({cls}) merges {len(inputs)} tensor: needs two or more", at)
        ranks = {self.rank[n] for n in inputs}
        if cls == "Concatenate" and cfg.get("axis", -1) not in (-1, max(ranks) + 1):
            raise SpecError(f"layer '{name}' concatenates along axis {cfg.get('axis')}: convcalc concatenates "
                            "channels (the last axis) only", at)
        kind = {"Add": "add", "Multiply": "mul", "Concatenate": "concat"}[cls]
        out = self.fresh(name)
        self.nodes.append(BlockSpec(tuple((FromSpec(self.refs[n], at),) for n in inputs), MERGES[kind](), out, loc=at))
        self.current = out
        self.refs[name], self.rank[name], self.unit[name] = out, max(ranks), all(self.unit[n] for n in inputs)

    def steps(self, cls: str, c: Dict[str, Any], rank: int, unit: bool, name: str) -> Tuple[List[Step], int, bool]:
        """The convcalc layers for one Keras layer, and Keras' rank (and 1x1 flag) after it."""
        steps: List[Step] = []
        if cls in ("Conv2D", "Conv1D", "Conv3D"):
            channels_last(c, name, cls)
            steps.append(("conv", {"filters": c["filters"], "kernel": c["kernel_size"], "stride": c.get("strides", 1),
                                   "padding": padding(c, name), "dilation": c.get("dilation_rate", 1),
                                   "groups": c.get("groups", 1), "bias": c.get("use_bias", True)}))
        elif cls == "DepthwiseConv2D":
            channels_last(c, name, cls)
            steps.append(("dwconv", {"kernel": c["kernel_size"], "stride": c.get("strides", 1),
                                     "padding": padding(c, name), "dilation": c.get("dilation_rate", 1),
                                     "multiplier": c.get("depth_multiplier", 1), "bias": c.get("use_bias", True)}))
        elif cls == "SeparableConv2D":
            channels_last(c, name, cls)
            window = {"kernel": c["kernel_size"], "stride": c.get("strides", 1), "padding": padding(c, name),
                      "dilation": c.get("dilation_rate", 1)}
            if c.get("depth_multiplier", 1) == 1:
                steps.append(("sepconv", {"filters": c["filters"], **window, "bias": c.get("use_bias", True)}))
            else:  # convcalc's sepconv has no multiplier: the two halves it is made of
                steps.append(("dwconv", {**window, "multiplier": c["depth_multiplier"], "bias": False}))
                steps.append(("pwconv", {"filters": c["filters"], "bias": c.get("use_bias", True)}))
        elif cls == "Dense":
            flat = rank == 0
            steps.append(("fc" if flat else "pwlinear", {"units": c["units"], "bias": c.get("use_bias", True)}))
            unit = False
        elif cls == "BatchNormalization":
            axis = c.get("axis", -1)
            if axis not in (-1, rank + 1, [-1], [rank + 1]):
                raise SpecError(f"layer '{name}' normalises axis {axis}: convcalc's batchnorm is per channel, "
                                "the last axis (channels_last)")
            center, scale = c.get("center", True), c.get("scale", True)
            steps.append(("batchnorm", {"affine": center and scale, "eps": c.get("epsilon", 1e-3)}))
            if center != scale:  # one of γ, β alone (InceptionV3: scale=False): C trainable params
                steps.append(("layerscale", {}))
        elif cls == "Normalization":
            axis = c.get("axis", -1)
            if axis not in (-1, rank + 1, [-1], [rank + 1]):
                raise SpecError(f"layer '{name}' normalises axis {axis}: convcalc reads Normalization per "
                                "channel, the last axis")
            if c.get("mean") is not None:
                # mean and variance given (EfficientNetV2's, ConvNeXt's ImageNet statistics): Keras
                # holds them as constants, not weights, so the layer has no params at all
                steps.append(("identity", {}))
            else:
                # adapted: mean and variance per channel are non-trainable weights, as batchnorm's
                # running statistics. Keras' scalar 'count' (one more non-trainable weight) is not
                # counted: convcalc has no layer with a buffer of one
                steps.append(("batchnorm", {"affine": False}))
        elif cls in ("MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D"):
            kind = "maxpool" if cls.startswith("Max") else "avgpool"
            pool = c.get("pool_size", 2)
            steps.append((kind, {"kernel": pool, "stride": c.get("strides") or pool, "padding": padding(c, name)}))
        elif cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D"):
            steps.append(("globalavgpool" if "Average" in cls else "globalmaxpool", {}))
            unit = not c.get("keepdims", False)  # convcalc keeps 1x1xC; Keras gives a vector
            rank = rank if c.get("keepdims", False) else 0
        elif cls == "ZeroPadding2D":
            before, after = zero_padding(c.get("padding", 1), name)
            steps.append(("pad", {"padding": before, **({"after": after} if after != before else {})}))
        elif cls == "UpSampling2D":
            steps.append(("upsample", {"scale": c.get("size", 2), "mode": c.get("interpolation", "nearest")}))
        elif cls == "Flatten":
            steps.append(("flatten", {}))
            rank, unit = 0, False
        elif cls == "Reshape":
            target = list(c.get("target_shape") or [])
            if len(target) == 1:
                steps.append(("flatten", {}))
                rank, unit = 0, False
            elif unit and all(d == 1 for d in target[:-1]):
                rank, unit = len(target) - 1, False  # back to the 1x1xC convcalc already holds
            else:
                raise SpecError(f"layer '{name}': Reshape to {tuple(target)} is not one convcalc can express "
                                "(it follows a flatten, or a global pool's vector back to 1x1xC)")
        elif cls in ("Activation", "ReLU", "Softmax", "LeakyReLU", "ELU"):
            act = {"ReLU": "relu", "Softmax": "softmax", "LeakyReLU": "leaky_relu", "ELU": "elu"}.get(cls)
            act = act or c.get("activation", "linear")
            if cls == "ReLU" and c.get("max_value") == 6:
                act = "relu6"
            elif cls == "ReLU" and c.get("negative_slope"):
                act = "leaky_relu"
            if activation_kind(act, name):
                steps.append((activation_kind(act, name), {}))
            return steps, rank, unit
        elif cls in PASS_THROUGH:
            kind = PASS_THROUGH[cls]
            steps.append((kind, {"p": c.get("rate", 0.5)} if kind == "dropout" and "rate" in c else {}))
            return steps, rank, unit
        else:
            raise _Unknown(cls)
        act = c.get("activation")  # Conv2D(..., activation='relu'): a layer of its own here
        if isinstance(act, str) and activation_kind(act, name):
            steps.append((activation_kind(act, name), {}))
        return steps, rank, unit

    def fail_on_unknown(self) -> None:
        """Every layer class convcalc cannot count, with its count: never silently zero."""
        if not self.unknown:
            return
        listed = ", ".join(f"{cls} ×{n} (first '{self.first_unknown[cls][0]}')" for cls, n in self.unknown.items())
        first = min(self.first_unknown.values(), key=lambda p: p[1].line)
        raise SpecError(f"{sum(self.unknown.values())} Keras layer(s) of classes convcalc does not know: {listed}",
                        first[1], hint="convcalc would count them as zero; `convcalc kinds` lists what it counts")


class _Unknown(Exception):
    """A Keras layer class without a convcalc rule: collected, then reported all together."""


def channels_last(c: Dict[str, Any], name: str, cls: str) -> None:
    if c.get("data_format") not in (None, "channels_last"):
        raise SpecError(f"layer '{name}' ({cls}) is {c.get('data_format')}: convcalc reads channels_last models")


def padding(c: Dict[str, Any], name: str) -> str:
    """'valid' or 'same'; convcalc's 'same' is TensorFlow's rule (output ⌈W/S⌉, the odd pixel of
    padding after), which is what Keras computes."""
    pad = str(c.get("padding", "valid")).lower()
    if pad not in ("valid", "same"):
        raise SpecError(f"layer '{name}': padding '{pad}' is not one convcalc knows (valid, same)")
    return pad


def zero_padding(pad: Any, name: str) -> Tuple[List[int], List[int]]:
    """ZeroPadding2D's padding before and after, per axis: ``1``, ``(1, 2)`` or
    ``((top, bottom), (left, right))`` (MobileNet's ``((0, 1), (0, 1))``: convcalc's pad with
    ``after``)."""
    if isinstance(pad, int):
        return [pad], [pad]
    before, after = [], []
    for p in pad:
        if isinstance(p, int):
            before.append(p)
            after.append(p)
        elif isinstance(p, list) and len(p) == 2 and all(isinstance(v, int) for v in p):
            before.append(p[0])
            after.append(p[1])
        else:
            raise SpecError(f"layer '{name}': ZeroPadding2D padding {pad!r} is not a number, a pair or "
                            "a pair of pairs")
    return before, after


def activation_kind(act: Any, name: str) -> str:
    """The convcalc kind of a Keras activation, '' for 'linear'."""
    if isinstance(act, dict):  # Keras 3 may serialise it as an object
        act = act.get("config", {}).get("name") or act.get("class_name", "")
    kind = ACTIVATIONS.get(str(act).lower())
    if kind is None:
        raise _Unknown(f"activation '{act}'")
    return kind
