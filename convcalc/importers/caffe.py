"""Caffe ``deploy.prototxt`` files as convcalc specs (the model-zoo format; Netscope's).

The file is protobuf *text* format, read by ``prototxt.py`` rather than the ``protobuf``
package, which would need Caffe's compiled ``caffe.proto`` as well, a dependency the core
install must not grow for; it holds the reading to convcalc's limits (README "Limits"), at most
``MAX_LAYERS`` layers among them, counted as they are read.

Caffe's phases: a deploy file is read as Caffe reads it for testing (``Net(file, TEST)``:
phase TEST, level 0, the stages the file's own ``state`` names). A layer with ``include`` rules is
kept if its state meets one of them, a layer with ``exclude`` rules only if it meets none; a rule
is met when its ``phase``, ``min_level``/``max_level``, every ``stage`` and no ``not_stage`` agree
with the state (``net.cpp``'s ``FilterNet`` and ``StateMeetsRule``). The layers left out are
named in the spec's notes, which the commands print as a warning.

Each Caffe layer becomes one convcalc layer named after it. Tensors are Caffe's blobs: a layer's
``bottom`` names the blob it reads and ``top`` the one it writes; an in-place layer (``top ==
bottom``, Caffe's usual ReLU) makes that blob name mean its newest tensor. ``Split`` only fans a
blob out, so it adds no layer. Caffe's layout is N x C x H x W; convcalc's input is H x W x C.

BatchNorm + Scale: Caffe's BatchNorm holds three blobs (running mean, variance, and a one-number
scale factor), none trained: convcalc's ``batchnorm affine: false`` (2·C buffers; the scale
factor's single number is not counted). The following Scale layer holds γ (C params) and, with
``bias_term``, β (C more): a ``layerscale`` for γ and a second ``layerscale`` named ``<name>_bias``
for β, whose count (C, no MACs) is exactly β's. Together: 2·C params, 2·C buffers, as Caffe's.

Pooling rounds the output size up (Caffe's ``pooling_layer.cpp``) and drops a last window that
would start in the padding: PyTorch's ``ceil_mode``, which convcalc's pools follow.

Every Caffe layer reads axis 1 as the channels, so a blob Reshape, Permute or Flatten makes is
laid out that way too: N x C x A x B is convcalc's A x B x C. Their options depend on sizes
(Reshape's 0 and -1, Slice's last part), so those layers ask the engine for the shape of what
they read (``shape_of``). Crop keeps Caffe's shapes and counts but centres its window, where
Caffe starts it at ``offset``: the values differ, never the figures.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..analysis.engine import Follower
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
from . import (
    safe_name,  # one rule for file names made convcalc names ('a/1x1' -> 'a.1x1')
)
from .prototxt import Limit, Message, Value, parse_text

# --- the network ----------------------------------------------------------------------------


def read_caffe(path: Union[str, Path], origin: str = "") -> NetworkSpec:
    """The network of the Caffe prototxt at ``path`` as a NetworkSpec, or a located SpecError."""
    from ..spec.source import read_text

    name = origin or str(path)
    text = read_text(path, name)
    layers = Limit(("layer", "layers"), MAX_LAYERS, "layers")
    return network_from_message(parse_text(text, name, layers), name)


def network_from_message(net: Message, path: str) -> NetworkSpec:
    reader = _Reader(path)
    reader.top_level_input(net)
    layers = net.all("layer") + net.all("layers")  # a file uses one or the other (V1: 'layers')
    for layer in layers:
        if not isinstance(layer, Message):
            raise SpecError("'layer' should be a message { ... }", layer.loc)
    layers.sort(key=lambda m: m.pos)
    state = TestState(net)
    for layer in layers:
        if state.keeps(layer):
            reader.convert(layer)
        else:
            reader.left_out.append(str(layer.get("name", "") or caffe_type(layer)[0]))
    reader.fail_on_unknown()
    if reader.input_shape is None:
        raise SpecError(f"'{path}': no input shape (input_shape, input_dim or an Input layer)", net.loc)
    title = str(net.get("name", "") or "")
    return NetworkSpec(input=reader.input_shape, layers=tuple(reader.nodes), name=safe_name(title) if title else "",
                       title=f"{title} (Caffe)" if title else "Caffe model", origin=path,
                       outputs=reader.outputs(), notes=reader.notes())


class TestState:
    """The state Caffe runs a deploy file in (``Net(file, TEST)``): phase TEST, level 0, and the
    stages the file's ``state`` names; ``keeps`` is ``net.cpp``'s FilterNet for one layer."""

    def __init__(self, net: Message) -> None:
        self.stages = {str(s) for s in net.msg("state").values("stage")}

    def keeps(self, layer: Message) -> bool:
        include, exclude = layer.all("include"), layer.all("exclude")
        for rule in include + exclude:
            if not isinstance(rule, Message):
                raise SpecError("an include or exclude rule should be a message { ... }", rule.loc)
        if include and exclude:
            raise SpecError("the layer has both include and exclude rules: Caffe takes one or the other",
                            exclude[0].loc, hint="keep the include rules or the exclude rules")
        if include:
            return any(self.meets(rule) for rule in include)
        return not any(self.meets(rule) for rule in exclude)

    def meets(self, rule: Message) -> bool:
        """StateMeetsRule: every condition the rule states holds."""
        phase = rule.one("phase")
        if phase is not None and str(rule.get("phase")).upper() not in ("TEST", "1"):
            if str(rule.get("phase")).upper() not in ("TRAIN", "0"):
                raise SpecError(f"phase {rule.get('phase')!r} is not TRAIN or TEST", phase.loc)
            return False
        level = 0  # Net(file, TEST) sets level 0, whatever the file's state says
        for key, sign in (("min_level", 1), ("max_level", -1)):
            n = rule.get(key)
            if n is not None:
                if not isinstance(n, int) or isinstance(n, bool):
                    raise SpecError(f"'{key}' should be a whole number", rule.one(key).loc)
                if sign * (level - n) < 0:  # below min_level or above max_level
                    return False
        stages, not_stages = (set(map(str, rule.values(k))) for k in ("stage", "not_stage"))
        return stages <= self.stages and not not_stages & self.stages


def caffe_type(layer: Message) -> Tuple[str, Location]:
    """A layer's type, normalised: 'Convolution' and V1's CONVOLUTION are both 'convolution'."""
    v = layer.one("type")
    if v is None or isinstance(v, Message):
        raise SpecError("the layer has no type", layer.loc)
    return str(v.v).replace("_", "").lower(), v.loc


class _Reader:
    """Walks the layers in file order, keeping which spec tensor each Caffe blob name is now."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.nodes: List[Node] = []
        self.follower: Optional[Follower] = None  # the engine on the layers read so far (shape_of)
        self.blobs: Dict[str, str] = {}  # Caffe blob name -> the spec's tensor name (newest)
        self.used = {"input"}
        self.current = "input"
        self.input_shape: Optional[Shape] = None
        self.input_blob = ""
        self.batch = 1  # the input's N: a Reshape may write it out (dim: 10), never change it
        self.read: Counter[str] = Counter()  # spec tensors read by some layer
        self.made: List[str] = []  # spec tensors in order of making
        self.unknown: Counter[str] = Counter()
        self.first_unknown: Dict[str, Location] = {}
        self.left_out: List[str] = []  # layers the TEST phase leaves out (TestState)
        self.layers = 0  # convcalc layers made (count)

    def set_input(self, blob: str, dims: List[Any], loc: Location) -> None:
        if self.input_shape is not None:
            raise SpecError("a second input: convcalc follows one input", loc)
        if dims and isinstance(dims[0], int) and dims[0] > 0:
            self.batch = dims[0]
        if len(dims) == 4:
            dims = [dims[2], dims[3], dims[1]]  # N C H W -> H W C
        elif len(dims) == 2:
            dims = [dims[1]]
        else:
            raise SpecError(f"input shape {dims} is not N x C x H x W (or N x C)", loc)
        self.input_shape = shape_from_dims(dims, loc)
        self.blobs[blob] = "input"
        self.input_blob = blob

    def top_level_input(self, net: Message) -> None:
        names = net.values("input")
        if not names:
            return
        if len(names) > 1:
            raise SpecError(f"{len(names)} inputs: convcalc follows one", net.all("input")[1].loc)
        loc = net.all("input")[0].loc
        dims = net.values("input_dim")
        if not dims and net.one("input_shape") is not None:
            dims = net.msg("input_shape").values("dim")
        if not dims:
            raise SpecError(f"input '{names[0]}' has no input_dim or input_shape", loc)
        self.set_input(str(names[0]), dims, loc)

    def fresh(self, name: str) -> str:
        n, k = name, 1
        while n in self.used:
            k += 1
            n = f"{name}_{k}"
        self.used.add(n)
        return n

    def source(self, blob: str, loc: Location) -> str:
        if blob not in self.blobs:
            raise SpecError(f"reads blob '{blob}', which no earlier layer makes", loc,
                            hint="Caffe runs layers in file order; an input needs input_shape or an Input layer")
        return self.blobs[blob]

    def convert(self, layer: Message) -> None:
        kind, at = caffe_type(layer)
        name = safe_name(str(layer.get("name", "") or kind))
        bottoms = [str(b) for b in layer.values("bottom")]
        bottom_locs = [b.loc for b in layer.all("bottom") if isinstance(b, Value)]
        tops = [str(t) for t in layer.values("top")]
        if kind == "input":
            if len(tops) > 1:
                raise SpecError(f"Input layer '{name}' has {len(tops)} tops: convcalc follows one input",
                                layer.all("top")[1].loc)
            shape = layer.msg("input_param").msg("shape")
            self.set_input(tops[0] if tops else name, shape.values("dim"), at)
            return
        if kind in ("data", "imagedata", "hdf5data", "memorydata", "dummydata", "windowdata"):
            raise SpecError(f"layer '{name}' is a {kind} layer: convcalc reads deploy files",
                            at, hint="use the deploy.prototxt (input_shape or an Input layer), not train_val")
        if self.input_shape is None:
            raise SpecError(f"layer '{name}' comes before any input shape", at,
                            hint="give input_shape / input_dim, or an Input layer first")
        if not bottoms:
            raise SpecError(f"layer '{name}' has no bottom", at)
        sources = [self.source(b, loc) for b, loc in zip(bottoms, bottom_locs)]
        if kind == "split":
            for t in tops:
                self.blobs[t] = sources[0]
            return
        if kind == "slice":
            self.slice(layer, sources[0], tops, at)
            return
        if len(tops) != 1:
            raise SpecError(f"layer '{name}' has {len(tops)} tops: convcalc knows it with one", at)
        if kind in ("eltwise", "concat"):
            self.merge(kind, layer, name, sources, tops[0], at)
            return
        if kind == "crop":
            self.crop(layer, name, sources, tops[0], at)
            return
        if len(sources) > 1:
            raise SpecError(f"layer '{name}' ({kind}) reads {len(sources)} blobs: convcalc knows it with one", at)
        try:
            steps = self.steps(kind, layer, name, sources[0])
        except _Unknown:
            self.unknown[str(layer.get("type"))] += 1
            self.first_unknown.setdefault(str(layer.get("type")), at)
            steps = []
        if not steps:  # unknown: the blob passes on, so later layers still resolve
            self.blobs[tops[0]] = sources[0]
            return
        self.blobs[tops[0]] = self.emit(steps, layer, name, sources[0], at)

    def emit(self, steps: List[Tuple[str, Dict[str, Any], str]], layer: Message, name: str, source: str,
             at: Location) -> str:
        """The convcalc layers ``steps`` reading spec tensor ``source``; the tensor they end with."""
        if source != self.current:
            self.nodes.append(FromSpec(source, at))
        self.read[source] += 1
        out = source
        where = value_locations(layer)
        for kind_, options, suffix in steps:
            self.count(at)
            out = self.fresh(name + suffix)
            raw = [RawOption(key, v, None, where.get(OPTION_FIELDS.get(key, ""), at)) for key, v in options.items()]
            rule = make_layer(kind_, raw, at)
            self.nodes.append(LayerSpec(rule, out, at))
            self.current = out
        self.made.append(out)
        return out

    def count(self, at: Location) -> None:
        """One more convcalc layer: at most MAX_LAYERS, as every spec (a Scale with bias makes two)."""
        self.layers += 1
        if self.layers > MAX_LAYERS:
            raise SpecError(f"the network has more than {MAX_LAYERS:,} layers", at)

    # --- layers that need the shape of what they read ---------------------------------------

    def shape_of(self, tensor: str) -> Shape:
        """The shape of spec tensor ``tensor`` (only Reshape, Permute, Slice points, a Flatten or
        Crop of some axes ask: their options depend on sizes Caffe fills in at run time, 0 = copy
        and -1 = infer), from the engine following the layers read so far."""
        assert self.input_shape is not None
        if self.follower is None:
            self.follower = Follower(self.input_shape)
        return self.follower.shape_of(self.nodes, tensor)

    def caffe_dims(self, tensor: str) -> List[int]:
        """``tensor``'s dims as Caffe holds the blob: N x C x spatial (N x C for a vector)."""
        x = self.shape_of(tensor)
        return [self.batch, x.channels, *x.spatial]

    def view(self, dims: List[int], name: str, at: Location) -> List[Tuple[str, Dict[str, Any], str]]:
        """A blob of Caffe dims ``dims`` (batch first) made from the same elements: N x K is
        convcalc's ``flatten``; anything else a ``reshape`` to the dims laid out as every Caffe
        layer reads them, axis 1 the channels (N x C x A x B is A x B x C)."""
        if len(dims) < 2 or dims[0] != self.batch:
            raise SpecError(f"layer '{name}' makes a blob of dims {dims}: convcalc keeps the batch "
                            f"({self.batch}) as axis 0", at)
        if len(dims) == 2:
            return [("flatten", {}, "")]
        return [("reshape", {"to": [*dims[2:], dims[1]]}, "")]

    def reshape(self, layer: Message, name: str, source: str, at: Location) -> List[Tuple[str, Dict[str, Any], str]]:
        """Caffe's ReshapeLayer: ``shape`` replaces the input dims ``[axis, axis + num_axes)``
        (all of them by default); a dim 0 copies the input's dim at its place, one -1 is inferred."""
        p = layer.msg("reshape_param")
        dims = p.msg("shape").values("dim")
        axis, num_axes = p.get("axis", 0), p.get("num_axes", -1)
        old = self.caffe_dims(source)
        start = axis if axis >= 0 else len(old) + axis + 1
        end = len(old) if num_axes == -1 else start + num_axes
        if not 0 <= start <= end <= len(old) or num_axes < -1:
            raise SpecError(f"layer '{name}': axis {axis}, num_axes {num_axes} do not fit the input dims {old}", at)
        new: List[int] = []
        for i, d in enumerate(dims):
            if not isinstance(d, int) or d < -1 or (d == 0 and start + i >= end):
                raise SpecError(f"layer '{name}': dim {d} at {i} is not a size, 0 (copy) or -1 (infer) "
                                f"for the input dims {old}", p.msg("shape").all("dim")[i].loc)
            new.append(old[start + i] if d == 0 else d)
        out = old[:start] + new + old[end:]
        if new.count(-1) > 1:
            raise SpecError(f"layer '{name}': more than one dim is -1", at)
        total, known = math.prod(old), -math.prod(out)  # one -1 in out makes the product negative
        if -1 in new:
            if known <= 0 or total % known:
                raise SpecError(f"layer '{name}': no size for the -1 of {out} holds the {total:,} elements of "
                                f"{old}", at)
            out[out.index(-1)] = total // known
        return self.view(out, name, at)

    def flatten(self, layer: Message, name: str, source: str, at: Location) -> List[Tuple[str, Dict[str, Any], str]]:
        """Caffe's FlattenLayer: the axes ``axis`` … ``end_axis`` become one (default 1 … -1:
        N x C·H·W, convcalc's ``flatten``)."""
        p = layer.msg("flatten_param")
        axis, end_axis = p.get("axis", 1), p.get("end_axis", -1)
        if (axis, end_axis) == (1, -1):
            return [("flatten", {}, "")]
        old = self.caffe_dims(source)
        a, e = (v + len(old) if v < 0 else v for v in (axis, end_axis))
        if not 1 <= a <= e < len(old):
            raise SpecError(f"layer '{name}': axis {axis} to end_axis {end_axis} on the input dims {old}: "
                            "convcalc keeps the batch (axis 0)", at)
        return self.view(old[:a] + [math.prod(old[a:e + 1])] + old[e + 1:], name, at)

    def permute(self, layer: Message, name: str, source: str, at: Location) -> List[Tuple[str, Dict[str, Any], str]]:
        """SSD's PermuteLayer (weiliu89/caffe): output axis i is input axis ``order[i]``, the
        axes not named following in their order. In convcalc's dims (axis 1 last) that is a
        ``permute``: SSD's [0, 2, 3, 1] on 19x19x24 (N x 24 x 19 x 19) gives N x 19 x 19 x 24,
        whose axis 1 (19) Caffe's next layers read as channels: 19x24x19, ``order [1, 2, 0]``."""
        p = layer.msg("permute_param")
        order = list(p.values("order"))
        r = len(self.caffe_dims(source))
        if any(not isinstance(o, int) or not 0 <= o < r for o in order) or len(set(order)) != len(order):
            raise SpecError(f"layer '{name}': order {order} is not axes of a {r}-axis blob, each once",
                            p.all("order")[0].loc if order else at)
        order += [a for a in range(r) if a not in order]
        if order[0] != 0:
            raise SpecError(f"layer '{name}': order {order} moves the batch (axis 0): convcalc keeps it first", at)

        def dim(axis: int) -> int:  # Caffe axis -> convcalc dim: the spatial axes first, axis 1 last
            return r - 2 if axis == 1 else axis - 2

        return [("permute", {"order": [dim(order[1 if j == r - 2 else j + 2]) for j in range(r - 1)]}, "")]

    def crop(self, layer: Message, name: str, sources: List[str], top: str, at: Location) -> None:
        """Caffe's CropLayer: the first bottom cut to the second's size along axis ``axis`` and
        after (default 2: H and W, FCN's crop to the input's size); convcalc's ``crop`` with
        ``like`` the second. Shapes and counts are Caffe's; the values are not: Caffe keeps the
        window at ``offset`` (default 0, the top-left), convcalc centres it, and an offset too
        large for the input is an error in Caffe that convcalc does not see. Cropping the
        channels (axis 1) or the batch is an error."""
        if len(sources) != 2:
            raise SpecError(f"Crop layer '{name}' reads {len(sources)} blobs: it crops the first to the "
                            "second's size", at)
        axis = layer.msg("crop_param").get("axis", 2)
        rank = len(self.caffe_dims(sources[0]))
        a = axis + rank if isinstance(axis, int) and axis < 0 else axis
        if not isinstance(a, int) or not 2 <= a < rank:
            raise SpecError(f"Crop layer '{name}' crops from axis {axis} of a {rank}-axis blob: convcalc "
                            "crops the spatial axes (2 and after), never the channels or the batch",
                            layer.msg("crop_param").one("axis").loc if layer.msg("crop_param").one("axis") else at)
        if a == 2:
            options: Dict[str, Any] = {"like": sources[1]}
        else:  # the axes before ``axis`` keep the input's size, as Caffe's
            x, ref = self.shape_of(sources[0]), self.shape_of(sources[1])
            if ref.rank != x.rank:
                raise SpecError(f"Crop layer '{name}': the blobs have {x.rank} and {ref.rank} spatial axes", at)
            options = {"size": [*x.spatial[:a - 2], *ref.spatial[a - 2:]]}
        self.read[sources[1]] += 1
        self.blobs[top] = self.emit([("crop", options, "")], layer, name, sources[0], at)

    def slice(self, layer: Message, source: str, tops: List[str], at: Location) -> None:
        """Caffe's SliceLayer along the channels (axis 1): one convcalc layer per top, named after
        it, each one part (``chunk`` for equal parts, else ``split``): at ``slice_point``s, or
        into equal parts when none is given (which must divide the channels, as in Caffe)."""
        p = layer.msg("slice_param")
        axis = p.get("axis", p.get("slice_dim", 1))
        if isinstance(axis, int) and axis < 0:
            axis += len(self.caffe_dims(source))
        where = (p.one("axis") or p.one("slice_dim") or Value(None, at)).loc
        if axis != 1:
            raise SpecError(f"Slice layer '{layer.get('name', '')}' cuts along axis {axis}: convcalc cuts "
                            "the channels (axis 1) only", where)
        points = p.values("slice_point")
        parts: List[Tuple[str, Dict[str, Any]]]
        if not points:
            parts = [("chunk", {"chunks": len(tops), "index": i}) for i in range(len(tops))]
        else:
            at_point = p.all("slice_point")[0].loc
            if len(points) != len(tops) - 1:
                raise SpecError(f"{len(points)} slice_point(s) for {len(tops)} tops: Caffe needs one fewer "
                                "than the tops", at_point)
            edges = [0, *points, self.shape_of(source).channels]
            sizes = [b - a for a, b in zip(edges, edges[1:])]
            if min(sizes) <= 0:
                raise SpecError(f"slice points {points} do not cut {edges[-1]} channels into {len(tops)} parts",
                                at_point)
            parts = [("chunk", {"chunks": len(sizes), "index": i}) if len(set(sizes)) == 1
                     else ("split", {"sizes": sizes, "index": i}) for i in range(len(sizes))]
        for top, (kind, options) in zip(tops, parts):
            self.blobs[top] = self.emit([(kind, options, "")], layer, safe_name(top), source, at)

    def merge(self, kind: str, layer: Message, name: str, sources: List[str], top: str, at: Location) -> None:
        if len(sources) < 2:
            raise SpecError(f"layer '{name}' merges {len(sources)} blob: needs two or more", at)
        if kind == "concat":
            p = layer.msg("concat_param")
            axis = p.get("axis", p.get("concat_dim", 1))
            if axis != 1:
                raise SpecError(f"layer '{name}' concatenates along axis {axis}: convcalc concatenates "
                                "channels (axis 1) only", at)
            merge = "concat"
        else:
            op = layer.msg("eltwise_param").one("operation")
            word = "SUM" if op is None else str(op.v).upper()
            merges = {"SUM": "add", "PROD": "mul", "0": "mul", "1": "add"}
            if word not in merges:  # MAX (2): convcalc has no max merge (layers.MERGES)
                raise SpecError(f"layer '{name}': Eltwise operation {word} is not one convcalc counts "
                                "(SUM, PROD): convcalc has no max merge", op.loc if op is not None else at)
            merge = merges[word]
        self.count(at)
        out = self.fresh(name)
        for s in sources:
            self.read[s] += 1
        self.nodes.append(BlockSpec(tuple((FromSpec(s, at),) for s in sources), MERGES[merge](), out, loc=at))
        self.current = out
        self.made.append(out)
        self.blobs[top] = out

    def steps(self, kind: str, layer: Message, name: str, source: str) -> List[Tuple[str, Dict[str, Any], str]]:
        """The convcalc layers (kind, options, name suffix) for one Caffe layer reading ``source``."""
        if kind in ("convolution", "deconvolution", "convolutiondepthwise", "depthwiseconvolution"):
            p = layer.msg("convolution_param")
            opts: Dict[str, Any] = {
                "filters": p.get("num_output"),
                "kernel": pair(p, "kernel_size", "kernel_h", "kernel_w", None, name),
                "stride": pair(p, "stride", "stride_h", "stride_w", 1, name),
                "padding": pair(p, "pad", "pad_h", "pad_w", 0, name),
                "dilation": pair(p, "dilation", "", "", 1, name),
                "groups": p.get("group", 1),
                "bias": flag(p, "bias_term", True),
            }
            if opts["filters"] is None:
                raise SpecError(f"layer '{name}' has no num_output", layer.loc)
            if kind.startswith("depthwise") or kind.endswith("depthwise"):
                # the aliases (MobileNet ports) ignore group: one filter per output channel, a group
                # per output channel; if num_output is not the input's channels the engine says so
                # ("groups must divide the input channels"), never a silent depthwise of another width
                return [("conv", {**opts, "groups": opts["filters"]}, "")]
            return [("convtranspose" if kind == "deconvolution" else "conv", opts, "")]
        if kind == "pooling":
            p = layer.msg("pooling_param")
            method = str(p.get("pool", "MAX")).upper()
            if method not in ("MAX", "AVE", "0", "1"):
                raise SpecError(f"layer '{name}': pool {method} is not one convcalc counts (MAX, AVE)",
                                p.one("pool").loc)
            is_max = method in ("MAX", "0")
            if flag(p, "global_pooling", False):
                return [("globalmaxpool" if is_max else "globalavgpool", {}, "")]
            return [("maxpool" if is_max else "avgpool",
                     {"kernel": pair(p, "kernel_size", "kernel_h", "kernel_w", None, name),
                      "stride": pair(p, "stride", "stride_h", "stride_w", 1, name),
                      "padding": pair(p, "pad", "pad_h", "pad_w", 0, name), "ceil_mode": True}, "")]
        if kind == "innerproduct":
            p = layer.msg("inner_product_param")
            if p.get("num_output") is None:
                raise SpecError(f"layer '{name}' has no num_output", layer.loc)
            return [("fc", {"units": p.get("num_output"), "bias": flag(p, "bias_term", True)}, "")]
        if kind == "lrn":
            p = layer.msg("lrn_param")
            return [("lrn", {"size": p.get("local_size", 5), "alpha": p.get("alpha", 1.0),
                             "beta": p.get("beta", 0.75), "k": p.get("k", 1.0)}, "")]
        if kind == "batchnorm":
            return [("batchnorm", {"affine": False, "eps": layer.msg("batch_norm_param").get("eps", 1e-5)}, "")]
        if kind == "scale":
            steps: List[Tuple[str, Dict[str, Any], str]] = [("layerscale", {}, "")]
            if flag(layer.msg("scale_param"), "bias_term", False):
                steps.append(("layerscale", {}, "_bias"))  # β: C params, as γ
            return steps
        if kind == "dropout":
            return [("dropout", {"p": layer.msg("dropout_param").get("dropout_ratio", 0.5)}, "")]
        if kind == "reshape":
            return self.reshape(layer, name, source, layer.loc)
        if kind == "flatten":
            return self.flatten(layer, name, source, layer.loc)
        if kind == "permute":
            return self.permute(layer, name, source, layer.loc)
        if kind == "prelu":  # PReLUParameter: one slope per channel, or one in all (channel_shared)
            return [("prelu", {"shared": flag(layer.msg("prelu_param"), "channel_shared", False)}, "")]
        if kind in ELEMENTWISE:  # y = (shift + scale·x)^power, base^(shift + scale·x) ...: no params
            return [("elementwise", {"op": ELEMENTWISE[kind]}, "")]
        simple = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
                  "relu6": "relu6", "elu": "elu", "bnll": "softplus"}  # BNLL: log(1 + eˣ), softplus
        if kind in simple:
            if kind == "relu" and layer.msg("relu_param").get("negative_slope", 0):
                return [("leakyrelu", {}, "")]
            return [(simple[kind], {}, "")]
        raise _Unknown(kind)

    def fail_on_unknown(self) -> None:
        """Every layer type convcalc cannot count, with its count: never silently zero."""
        if not self.unknown:
            return
        listed = ", ".join(f"{t} ×{n} (first at {self.first_unknown[t]})" for t, n in self.unknown.items())
        first = min(self.first_unknown.values(), key=lambda loc: loc.line)
        raise SpecError(f"{sum(self.unknown.values())} Caffe layer(s) of types convcalc does not know: {listed}",
                        first, hint="convcalc would count them as zero; `convcalc kinds` lists what it counts")

    def notes(self) -> Tuple[str, ...]:
        if not self.left_out:
            return ()
        shown = ", ".join(self.left_out[:10]) + (f" and {len(self.left_out) - 10:,} more" if len(self.left_out) > 10 else "")
        return (f"{len(self.left_out):,} layer(s) left out, as Caffe's TEST phase leaves them out "
                f"(include/exclude rules): {shown}",)

    def outputs(self) -> Tuple[FromSpec, ...]:
        """Tensors no layer reads: the network's outputs, declared when there is more than the last."""
        ends = [t for t in self.made if not self.read[t]]
        if len(ends) > 1 or (ends and ends[-1] != self.current):
            return tuple(FromSpec(t) for t in ends)
        return ()


# Caffe's element-wise layers without weights -> the op name convcalc's ``elementwise`` shows
ELEMENTWISE = {"power": "Power", "absval": "Abs", "exp": "Exp", "log": "Log"}

# convcalc option -> the Caffe field it comes from, so a bad value is shown where it is written
OPTION_FIELDS = {"filters": "num_output", "units": "num_output", "kernel": "kernel_size", "stride": "stride",
                 "padding": "pad", "dilation": "dilation", "groups": "group", "size": "local_size",
                 "alpha": "alpha", "beta": "beta", "k": "k", "p": "dropout_ratio", "eps": "eps",
                 "order": "order", "shared": "channel_shared"}


def value_locations(layer: Message) -> Dict[str, Location]:
    """Where each scalar field of the layer's ``*_param`` messages is written (the first of a
    repeated one); ``kernel_h`` counts as ``kernel_size`` and so on."""
    found: Dict[str, Location] = {}
    for key, v, _ in layer.fields:
        if isinstance(v, Message) and key.endswith("_param"):
            for k, x, _ in v.fields:
                if isinstance(x, Value):
                    base = re.sub(r"_[hw]$", "", k)
                    found.setdefault({"kernel": "kernel_size"}.get(base, base), x.loc)
    return found


class _Unknown(Exception):
    """A Caffe layer type without a convcalc rule: collected, then reported all together."""


def pair(p: Message, key: str, key_h: str, key_w: str, default: Any, name: str) -> Any:
    """``kernel_size: 3`` (or repeated, one per axis) or ``kernel_h``/``kernel_w``, as one option."""
    h, w = (p.get(key_h) if key_h else None), (p.get(key_w) if key_w else None)
    if h is not None or w is not None:
        both = p.values(key) or [default]
        if (h is None or w is None) and both[0] is None:
            raise SpecError(f"layer '{name}' gives only one of {key_h}, {key_w}", p.loc)
        return [h if h is not None else both[0], w if w is not None else both[-1]]
    values = p.values(key)
    if not values:
        if default is None:
            raise SpecError(f"layer '{name}' has no {key}", p.loc)
        return default
    return values[0] if len(values) == 1 else values


def flag(p: Message, key: str, default: bool) -> bool:
    """A bool field: true/false (or 1/0); anything else is a located error."""
    v = p.one(key)
    if v is None:
        return default
    if isinstance(v, Message) or v.v not in (True, False, 0, 1):
        raise SpecError(f"'{key}' should be true or false", v.loc)
    return bool(v.v)
