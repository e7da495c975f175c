"""Keras models as convcalc specs: a ``.keras`` file (a zip holding ``config.json``) or the JSON
that ``model.to_json()`` writes, read with the standard library alone (no TensorFlow, no Keras);
``keras_file.py`` reads the file's JSON safely, this module turns it into a spec of at most
``MAX_LAYERS`` layers (a longer layer list is refused before any layer is read).

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
convcalc's buffers (BatchNormalization's moving mean and variance; an adapted Normalization's
mean and variance; every weight of a layer with ``trainable: false``, or of any layer inside a
model with it, as Keras' transfer learning freezes a base: such a layer is ``frozen``).

A layer convcalc has no rule for becomes an ``unknown`` layer with the output shape the file
records (Keras 3 writes, with every tensor a layer reads, its shape, and each layer's build
input shape): listed with its count, never silently zero. Where nothing is recorded (Keras 2),
the import stops with an error listing each such class with its count and the first's place.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from ..errors import Location, SpecError
from ..layers import MERGES
from ..limits import MAX_LAYERS
from ..shape import Shape
from ..spec.model import (
    BlockSpec,
    FromSpec,
    LayerSpec,
    NetworkSpec,
    Node,
    RawOption,
    make_layer,
)
from ..spec.shapes import shape_from_dims
from . import safe_name
from .keras_file import MODEL_CLASSES, config_from_bytes, load_config

Step = Tuple[str, Dict[str, Any]]  # a convcalc kind and its options

MAX_SPATIAL = 3  # convcalc's layers work on 1-D, 2-D and 3-D grids: a tensor with more axes is refused
MAX_NESTING = 32  # models inside models (ConvNeXt's stem is a Sequential); deeper is refused, not recursed

# Element-wise arithmetic: between two tensors Add and Multiply are merges; with a constant
# (MobileNetV3's hard sigmoid is ``ReLU6(x + 3) * (1/6)``, Keras ops on one tensor) the shape is
# unchanged and nothing is counted, as convcalc counts no element-wise work.
ELEMENTWISE = {"Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum", "Power"}

# Layers that join tensors, as convcalc's merges. InceptionResNetV2's CustomScaleLayer is the
# residual sum ``x + scale · r`` (keras/src/applications/inception_resnet_v2.py): a constant
# scale, no weights, so an add.
MERGE_KINDS = {"Add": "add", "Multiply": "mul", "Concatenate": "concat", "CustomScaleLayer": "add"}

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


def read_model_json(data: "str | bytes", origin: str) -> NetworkSpec:
    """The JSON a live model's ``to_json()`` returns (``convcalc.from_keras``), read as a file's
    is; ``origin`` names the model in every error, as a path would."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return network_from_config(config_from_bytes(raw, origin), origin)


def read_json(path: "str | Path", origin: str = "") -> NetworkSpec:
    """A ``.json`` file: a Keras model config (``model.to_json()``: ``class_name`` and ``config``
    at the top) is read as Keras; anything else is a convcalc spec (JSON is YAML)."""
    from ..spec.source import load_file

    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        head = b""
    if b'"class_name"' in head and b'"config"' in head:
        return read_keras(path, origin)
    return load_file(Path(path), origin or None)


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
        reader.outputs = reader.output_refs(config)
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
        self.unknown: Counter[str] = Counter()  # unknown classes whose output shape no one records
        self.first_unknown: Dict[str, Tuple[str, Location]] = {}
        self.outputs: Tuple[FromSpec, ...] = ()
        # Keras layer name -> its output's shape (batch first) as the file records it: Keras 3
        # writes each tensor a layer reads with its shape, and each layer's build input shape
        self.recorded: Dict[str, List[Any]] = {}
        self.entry: Optional[str] = None  # inside a nested model: the Keras name of what it reads
        self.at_line: Optional[int] = None  # inside a nested model: its line (its place in the file)
        self.depth = 0
        self.frozen = False  # inside a nested model with trainable: false (everything in it is frozen)
        self.layers = 0  # convcalc layers made (count)

    # --- the two model forms -----------------------------------------------------------

    def sequential(self, layers: List[Any], model: Dict[str, Any], config: Any) -> str:
        """Each layer reads the one before; the Keras name of the last output."""
        self.check_count(layers)
        prev = self.entry
        for i, layer in enumerate(layers):
            cls, cfg, name = self.parts(layer, i)
            following = layers[i + 1] if i + 1 < len(layers) else None
            if isinstance(following, dict):  # Keras 3: the next layer's build shape is this one's output
                self.record(name, (following.get("build_config") or {}).get("input_shape"))
            if i == 0 and cls != "InputLayer" and self.entry is None:
                shape = (cfg.get("batch_shape") or cfg.get("batch_input_shape")
                         or (config.get("build_input_shape") if isinstance(config, dict) else None)
                         or (model.get("build_config") or {}).get("input_shape"))
                self.set_input(shape, "input", self.loc(i, cls, name))
                prev = "input"
            self.convert(i, cls, cfg, name, [prev] if prev else [], layer)
            prev = name
        return str(prev)

    def functional(self, layers: List[Any], config: Dict[str, Any]) -> str:
        """Each layer reads the tensors its inbound_nodes name; the Keras name of the first output."""
        self.check_count(layers)
        parts = [self.parts(layer, i) for i, layer in enumerate(layers)]
        reads = [self.inbound(layer, i, *parts[i][::2]) for i, layer in enumerate(layers)]
        for (cls, cfg, name), layer, tensors in zip(parts, layers, reads):
            for source, shape in tensors:
                self.record(source, shape)
            build = (layer.get("build_config") or {}).get("input_shape") if isinstance(layer, dict) else None
            if len(tensors) == 1:
                self.record(tensors[0][0], build)
        for i, ((cls, cfg, name), layer, tensors) in enumerate(zip(parts, layers, reads)):
            self.convert(i, cls, cfg, name, [source for source, _ in tensors], layer)
        names = self.output_names(config)
        return names[0] if names else parts[-1][2]

    def check_count(self, layers: List[Any]) -> None:
        """A model (or a nested one) listing more than MAX_LAYERS layers and its input layer is
        refused before any is read (``count`` holds the layers made to the limit)."""
        if len(layers) > MAX_LAYERS + 1:
            cls, _, name = self.parts(layers[MAX_LAYERS + 1], MAX_LAYERS + 1)
            raise SpecError(f"the model lists {len(layers):,} layers: more than convcalc's limit of {MAX_LAYERS:,} "
                            "and an input layer", self.loc(MAX_LAYERS + 1, cls, name))

    def count(self, at: Location) -> None:
        """One more convcalc layer: at most MAX_LAYERS, as every spec (nested models and folded
        activations included)."""
        self.layers += 1
        if self.layers > MAX_LAYERS:
            raise SpecError(f"the network has more than {MAX_LAYERS:,} layers", at)

    @staticmethod
    def output_names(config: Dict[str, Any]) -> List[str]:
        outs = config.get("output_layers") or []
        if outs and isinstance(outs[0], str):  # a single output written as ["name", 0, 0]
            outs = [outs]
        return [o[0] for o in outs if isinstance(o, list) and o and isinstance(o[0], str)]

    def output_refs(self, config: Dict[str, Any]) -> Tuple[FromSpec, ...]:
        names = self.output_names(config)
        if len(names) > 1 or (names and self.refs.get(names[0]) != self.current):
            return tuple(FromSpec(self.refs.get(n, n)) for n in names)
        return ()

    def record(self, name: str, shape: Any) -> None:
        """``shape`` as the recorded output of layer ``name``, if it is one (a list of sizes)."""
        if name not in self.recorded and isinstance(shape, list) and 2 <= len(shape) <= MAX_SPATIAL + 2 \
                and all(isinstance(d, int) or d is None for d in shape):
            self.recorded[name] = shape

    def parts(self, layer: Any, i: int) -> Tuple[str, Dict[str, Any], str]:
        if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
            raise SpecError(f"layer {i + 1} is not a Keras layer object (no class_name)", Location(self.path, i + 1, 1))
        cfg: Dict[str, Any] = layer["config"] if isinstance(layer.get("config"), dict) else {}
        name = layer.get("name") or cfg.get("name") or f"layer{i + 1}"
        return layer["class_name"], cfg, str(name)

    def inbound(self, layer: Dict[str, Any], i: int, cls: str, name: str) -> List[Tuple[str, Any]]:
        """The Keras layer names this layer reads, from either form of ``inbound_nodes``, each with
        the shape Keras 3 records for that tensor (None in Keras 2's form)."""
        nodes = layer.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise SpecError(f"layer '{name}' ({cls}): inbound_nodes is not a list", self.loc(i, cls, name))
        if len(nodes) > 1:
            raise SpecError(f"layer '{name}' ({cls}) is called {len(nodes)} times (shared weights): not supported",
                            self.loc(i, cls, name))
        found: List[Tuple[str, Any]] = []
        # depth first, left to right, with a stack of its own: a file cannot nest deeper than memory
        pending: List[Any] = [node.get("args", []) if isinstance(node, dict) else node for node in reversed(nodes)]
        while pending:
            x = pending.pop()
            if isinstance(x, dict):
                if x.get("class_name") == "__keras_tensor__":
                    tensor: Dict[str, Any] = x["config"] if isinstance(x.get("config"), dict) else {}
                    history = tensor.get("keras_history") or []
                    if history and isinstance(history[0], str):
                        # the shape is this tensor's; it is the producer's output when that has one
                        first = len(history) < 3 or history[2] == 0
                        found.append((history[0], tensor.get("shape") if first else None))
                else:
                    pending.extend(reversed(list(x.values())))
            elif isinstance(x, list):
                if len(x) >= 3 and isinstance(x[0], str) and isinstance(x[1], int):  # Keras 2: [name, node, tensor, {}]
                    found.append((x[0], None))
                else:
                    pending.extend(reversed(x))
        return found

    # --- one layer ---------------------------------------------------------------------

    def loc(self, i: int, cls: str, name: str) -> Location:
        """Layer ``i`` (from 0) as line ``i + 1`` of the model file, its class and name shown; a
        nested model's layer at the line of the model it is in."""
        return Location(self.path, self.at_line or i + 1, 1, f"{cls} '{name}'", len(cls))

    def set_input(self, shape: Any, name: str, loc: Location) -> None:
        if self.input_shape is not None:
            raise SpecError("the model has a second input: convcalc follows one input", loc)
        if not isinstance(shape, list) or len(shape) < 2:
            raise SpecError(f"no input shape recorded (batch_shape {shape!r})", loc,
                            hint="build the model on a fixed input shape before saving it")
        dims = shape[1:]
        if len(dims) > MAX_SPATIAL + 1:
            raise SpecError(f"the input has {len(dims) - 1} spatial axes: convcalc reads at most {MAX_SPATIAL}", loc)
        if any(d is None for d in dims):
            raise SpecError(f"the input shape {shape} has unknown sizes (None)", loc,
                            hint="save the model built on a fixed input size, e.g. Input((224, 224, 3))")
        self.input_shape = shape_from_dims(dims, loc)
        self.refs[name], self.rank[name], self.unit[name] = "input", len(dims) - 1, False
        self.current = "input"

    def convert(self, i: int, cls: str, cfg: Dict[str, Any], name: str, inputs: List[str], entry: Any) -> None:
        at = self.loc(i, cls, name)
        if cls == "InputLayer":
            if self.entry is not None:  # a nested model's input is the tensor the model is called on
                self.refs[name], self.rank[name], self.unit[name] = (self.refs[self.entry], self.rank[self.entry],
                                                                     self.unit[self.entry])
            else:
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
        if cls in MODEL_CLASSES and len(inputs) == 1:
            return self.nested(i, cls, cfg, name, inputs[0], at)
        if cls in MERGE_KINDS and len(inputs) > 1:
            return self.merge(cls, cfg, name, inputs, at)
        source = inputs[0]
        rank, unit = self.rank[source], self.unit[source]
        try:
            if len(inputs) > 1:  # every rule here reads one tensor: a layer reading more is one convcalc lacks
                raise _Unknown(cls)
            if cls in ELEMENTWISE and not constants(entry):
                raise SpecError(f"layer '{name}' ({cls}) reads one tensor and no constant: nothing to combine")
            steps, rank, unit = ([("identity", {})], rank, unit) if cls in ELEMENTWISE \
                else self.steps(cls, cfg, rank, unit, name, entry)
        except _Unknown as e:
            what = str(e.args[0]) if e.args else cls
            steps, rank, unit = self.unknown_layer(what, name, at)
        except KeyError as e:
            raise SpecError(f"layer '{name}' ({cls}) has no '{e.args[0]}' in its config", at) from None
        except SpecError as e:
            if e.loc is not None:
                raise
            raise SpecError(e.message, at, e.hint) from None
        if self.refs[source] != self.current and steps:
            self.nodes.append(FromSpec(self.refs[source], at))
        out = self.refs[source]
        frozen = self.frozen or cfg.get("trainable") is False  # Keras: none of its weights is trained
        for k, (kind, options) in enumerate(steps):
            self.count(at)
            out = self.fresh(name if k == 0 else f"{name}_{kind}")
            layer = make_layer(kind, [RawOption(key, v, None, at) for key, v in options.items()], at)
            self.nodes.append(LayerSpec(layer, out, at, frozen=frozen))
            self.current = out
        self.refs[name], self.rank[name], self.unit[name] = out, rank, unit

    def unknown_layer(self, what: str, name: str, at: Location) -> Tuple[List[Step], int, bool]:
        """A layer without a rule: an ``unknown`` layer with the output shape the file records
        (a reader's input shape, Keras 3), so shapes continue and the totals say they are
        incomplete; without a recorded shape it is collected for the error that stops the import."""
        dims = self.recorded.get(name)
        if dims is None or any(not isinstance(d, int) or d <= 0 for d in dims[1:]):
            self.unknown[what] += 1
            self.first_unknown.setdefault(what, (name, at))
            return [], 0, False
        out = [int(d) for d in dims[1:]]
        return [("unknown", {"op": safe_name(what)[:100], "out": out})], len(out) - 1, False

    def nested(self, i: int, cls: str, cfg: Dict[str, Any], name: str, source: str, at: Location) -> None:
        """A model used as a layer (ConvNeXt's stem and downsampling are Sequentials): its layers
        inline, under their own names, reading what the model is called on. Its names are its
        own: they are kept apart from the outer model's while it is read."""
        layers = cfg.get("layers")
        if not isinstance(layers, list) or not layers:
            raise SpecError(f"the nested model '{name}' lists no layers", at)
        if self.depth >= MAX_NESTING:
            raise SpecError(f"models nested more than {MAX_NESTING} deep", at)
        outer = (self.refs, self.rank, self.unit, self.recorded, self.entry, self.at_line, self.frozen)
        self.refs, self.rank, self.unit, self.recorded = dict(self.refs), dict(self.rank), dict(self.unit), {}
        self.entry, self.at_line, self.depth = source, at.line, self.depth + 1
        self.frozen = self.frozen or cfg.get("trainable") is False  # freezes every layer inside
        try:
            last = self.sequential(layers, {}, cfg) if cls == "Sequential" else self.functional(layers, cfg)
            out, rank, unit = self.refs.get(last), self.rank.get(last), self.unit.get(last)
        finally:
            self.refs, self.rank, self.unit, self.recorded, self.entry, self.at_line, self.frozen = outer
            self.depth -= 1
        if out is None or rank is None or unit is None:
            raise SpecError(f"the nested model '{name}' has no output layer '{last}'", at)
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
        kind = MERGE_KINDS[cls]
        self.count(at)
        out = self.fresh(name)
        self.nodes.append(BlockSpec(tuple((FromSpec(self.refs[n], at),) for n in inputs), MERGES[kind](), out, loc=at))
        self.current = out
        self.refs[name], self.rank[name], self.unit[name] = out, max(ranks), all(self.unit[n] for n in inputs)

    def steps(self, cls: str, c: Dict[str, Any], rank: int, unit: bool, name: str,
              entry: Any = None) -> Tuple[List[Step], int, bool]:
        """The convcalc layers for one Keras layer, and Keras' rank (and 1x1 flag) after it."""
        steps: List[Step] = []
        if cls in ("Conv2D", "Conv1D", "Conv3D"):
            channels_last(c, name, cls)
            steps.append(("conv", {"filters": c["filters"], "kernel": c["kernel_size"], "stride": c.get("strides", 1),
                                   "padding": padding(c, name), "dilation": c.get("dilation_rate", 1),
                                   "groups": c.get("groups", 1), "bias": c.get("use_bias", True)}))
        elif cls in ("Conv2DTranspose", "Conv1DTranspose", "Conv3DTranspose"):
            channels_last(c, name, cls)
            axes = {"Conv1DTranspose": 1, "Conv2DTranspose": 2, "Conv3DTranspose": 3}[cls]
            pad, extra = transpose_padding(c, axes, name)
            steps.append(("convtranspose", {"filters": c["filters"], "kernel": c["kernel_size"],
                                            "stride": c.get("strides", 1), "padding": pad, "output_padding": extra,
                                            "dilation": c.get("dilation_rate", 1), "bias": c.get("use_bias", True)}))
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
        elif cls == "LayerNormalization":
            axis = c.get("axis", -1)
            if axis not in (-1, rank + 1, [-1], [rank + 1]):
                raise SpecError(f"layer '{name}' normalises axis {axis}: convcalc's layernorm is over the "
                                "channels, the last axis")
            # γ with scale (or rms_scaling, which keeps γ alone), β with center: C params each
            rms = c.get("rms_scaling", False)
            trained = int(bool(c.get("scale", True) or rms)) + int(bool(c.get("center", True) and not rms))
            steps.append(("layernorm", {"eps": c.get("epsilon", 1e-3)}) if trained == 2
                         else ("layerscale", {}) if trained == 1 else ("identity", {}))
        elif cls == "LayerScale":  # keras.applications.convnext's: γ per channel (projection_dim)
            steps.append(("layerscale", {}))
        elif cls == "Cropping2D":
            steps.append(("crop", {"size": cropped_size(c, entry, name)}))
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
            steps.extend(activation_steps(act))
            return steps, rank, unit
        elif cls in PASS_THROUGH:
            kind = PASS_THROUGH[cls]
            steps.append((kind, {"p": c.get("rate", 0.5)} if kind == "dropout" and "rate" in c else {}))
            return steps, rank, unit
        else:
            raise _Unknown(cls)
        act = c.get("activation")  # Conv2D(..., activation='relu'): a layer of its own here
        if act is not None:
            steps.extend(activation_steps(act))
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


def transpose_padding(c: Dict[str, Any], axes: int, name: str) -> Tuple[List[int], List[int]]:
    """Conv2DTranspose's padding as convcalc's (PyTorch's): ``padding`` cut from both sides of
    ``(W − 1)·S + D·(K − 1) + 1`` and ``output_padding`` added after, per axis, by Keras' own
    rule for its torch backend (``_convert_conv_transpose_padding_args_from_keras_to_torch`` in
    keras/src/backend/common/backend_utils.py): 'valid' gives ``(W − 1)·S + max(K', S)``, 'same'
    ``W·S`` (K' the dilated kernel). Where that rule needs an output padding as large as the
    stride (Keras clamps it there, and warns), the layer is one convcalc lacks."""

    def per_axis(v: Any, what: str) -> List[Any]:
        v = [v] * axes if isinstance(v, int) or v is None else list(v) if isinstance(v, list) else v
        if not isinstance(v, list) or len(v) != axes or not all(isinstance(n, int) or n is None for n in v):
            raise SpecError(f"layer '{name}': {what} {v!r} is not {axes} whole number(s)")
        return v

    kernels, strides = per_axis(c["kernel_size"], "kernel_size"), per_axis(c.get("strides", 1), "strides")
    dilations = per_axis(c.get("dilation_rate", 1), "dilation_rate")
    extras = per_axis(c.get("output_padding"), "output_padding")
    same = padding(c, name) == "same"
    pads, outs = [], []
    for k, s, d, extra in zip(kernels, strides, dilations, extras):
        if not all(isinstance(v, int) and v > 0 for v in (k, s, d)):
            raise SpecError(f"layer '{name}': kernel {k}, stride {s} and dilation {d} must be positive")
        k = (k - 1) * d + 1
        if not same:
            pad, out = 0, max(k, s) - k if extra is None else extra
        else:
            extra = s - k % 2 if extra is None else extra
            pad = max(-((k % 2 - k + extra) // 2), 0)
            out = 2 * pad + k % 2 - k + extra
        if out < 0 or out >= max(s, d):
            raise _Unknown(f"Conv{axes}DTranspose")
        pads.append(pad)
        outs.append(out)
    return pads, outs


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


def activation_steps(act: Any) -> List[Step]:
    """A Keras activation as convcalc layers: none for 'linear', its kind, or, for one convcalc
    has no rule for, an ``unknown`` layer (an activation keeps its input's shape, so shapes go on)."""
    if isinstance(act, dict):  # Keras 3 may serialise it as an object
        config: Dict[str, Any] = act["config"] if isinstance(act.get("config"), dict) else {}
        act = config.get("name") or act.get("class_name", "")
    kind = ACTIVATIONS.get(str(act).lower())
    if kind is None:
        return [("unknown", {"op": safe_name(f"activation:{str(act)[:80]}")})]
    return [(kind, {})] if kind else []


def constants(entry: Any) -> bool:
    """Whether the layer is called with a number among its arguments (``x + 3.0`` as a Keras op)."""
    nodes = entry.get("inbound_nodes") if isinstance(entry, dict) else None
    args = nodes[0].get("args") if isinstance(nodes, list) and nodes and isinstance(nodes[0], dict) else None
    return isinstance(args, list) and any(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)


def cropped_size(c: Dict[str, Any], entry: Any, name: str) -> List[int]:
    """Cropping2D's output size from its input size as Keras 3 records it (``build_config``),
    when the crop is one convcalc's centre crop makes (it starts at ``(W − size) // 2``); an
    off-centre crop (NASNet's ``((1, 0), (1, 0))``) moves the receptive field differently, so it
    is a layer convcalc lacks."""
    crop = c.get("cropping", ((0, 0), (0, 0)))
    if isinstance(crop, int):
        crop = [[crop, crop]] * 2
    pairs = [[p, p] if isinstance(p, int) else p for p in crop] if isinstance(crop, list) else []
    shape = (entry.get("build_config") or {}).get("input_shape") if isinstance(entry, dict) else None
    if len(pairs) != 2 or not all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, int) and v >= 0 for v in p)
                                  for p in pairs):
        raise SpecError(f"layer '{name}': Cropping2D cropping {crop!r} is not a number, a pair or a pair of pairs")
    if not (isinstance(shape, list) and len(shape) == 4 and all(isinstance(d, int) for d in shape[1:3])):
        raise _Unknown("Cropping2D")  # no input size recorded (Keras 2): the recorded output may still do
    size = [w - a - b for w, (a, b) in zip(shape[1:3], pairs)]
    if any(a != (a + b) // 2 for a, b in pairs) or any(n <= 0 for n in size):
        raise _Unknown("Cropping2D")
    return size
