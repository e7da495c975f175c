"""The Python API: what the ``convcalc`` command computes, as functions and values (issue #22).

    >>> import convcalc
    >>> report = convcalc.analyse("224x224x3 conv64k3p1 relu maxpool fc10")
    >>> report.totals.params, report.totals.macs
    (8029962, 94732288)

``analyse(spec, ...)`` takes what ``convcalc table`` takes (a bundled name, a file path, a layer
string, YAML text) and more (a dict of the YAML's structure, a ``pathlib.Path``, a NetworkSpec),
with the table's options as keyword arguments, and returns a :class:`Report`: every layer's
figures, the totals and the memory, the notes and warnings, and the same outputs the command
writes (``to_json()`` is ``table --format json``, ``table()`` the text table, ``to_html()`` the
page; ``plan()`` what ``convcalc plan`` shows). ``drawing`` is ``convcalc draw``; in Jupyter a
Report shows as its HTML page and a Drawing as its SVG. ``from_keras(model)`` reads a live Keras
model through its ``to_json()``, ``from_torch(model, input_size)`` a live PyTorch module through
``torch.export`` (importers/torch_export.py; torch imported only then: the ``convcalc[torch]``
extra).

The command itself goes through ``read`` and ``analyse`` (cli/table.py), so the library and the
CLI cannot differ; a mistake raises the same ``ConvcalcError`` the command prints, with the same
location and hint (``str(e)`` is ``file:line:col: message``; ``e.render()`` the command's text).
A wrong Python type (a number for ``spec``) is a ``TypeError``, as in any library.

This module sits above the renderers (report/, draw/) and below the CLI; ``import convcalc``
does not load it until a name of it is used (``convcalc/__init__.py``), and it loads each
renderer only when its output is asked for, so nothing heavier than the analysis is imported
until then (no Click; PyYAML only for YAML; Rich only for an SVG table).
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from .analysis.plan_result import Step, Training
from .analysis.result import (
    OP_KINDS,
    OPTIMIZER_STATES,
    BlockReport,
    Conventions,
    Field,
    Memory,
    Totals,
)
from .analysis.result import Report as Result
from .errors import (
    ConvcalcError,
    Location,
    ShapeError,
    SpecError,
    did_you_mean,
)
from .shape import Shape
from .spec.model import NetworkSpec, with_input
from .values import value

__all__ = ["ConvcalcError", "Drawing", "LayerFigures", "Plan", "Report", "ShapeError", "SpecError",
           "analyse", "drawing", "from_keras", "read"]

SpecLike = Union[str, "os.PathLike[str]", Mapping[str, Any], NetworkSpec]
"""What ``analyse`` reads: a bundled name, a file path, a layer string, YAML text, a dict, a NetworkSpec."""

ShapeLike = Union[str, Sequence[int], Shape]
"""An input shape: ``"480x640x3"``, ``(480, 640, 3)`` (sizes first, channels last), or a Shape."""

TEXT_WIDTH = 100  # the text table's width in ``repr`` and ``str``: a notebook's or a log's, not a terminal's
STYLES = ("blocks", "graph", "lenet")


# --- reading --------------------------------------------------------------------------------


def read(spec: SpecLike, input: Optional[ShapeLike] = None) -> NetworkSpec:
    """The network ``spec`` describes, on ``input`` instead of its own input when given.

    ``spec`` is a bundled architecture's name (``"resnet50"``), the path of a spec or model file
    (str or ``pathlib.Path``: YAML, ONNX, Caffe, Keras), ``"-"`` for standard input, a layer
    string (``"224x224x3 conv64k3p1 relu"``), YAML text (any text of several lines, or one that
    starts with ``{``), a dict with the YAML's structure, or a NetworkSpec. A dict is written
    out as JSON (which is YAML) and read as a file is, so an error's location points into that
    text, which the error shows.
    """
    if isinstance(spec, NetworkSpec):
        network = spec
    elif isinstance(spec, Mapping):
        network = _from_mapping(spec)
    elif isinstance(spec, str):
        network = _from_str(spec, input_shape(input))
    elif isinstance(spec, os.PathLike):
        from .load import file_status, load

        path = os.fspath(spec)
        if not isinstance(path, str):
            raise TypeError(f"a path as bytes is not supported; got {path!r}")
        if file_status(path) is None:  # a Path is a file: never read as a bundled name or a layer string
            raise SpecError(f"no such file: '{path}'")
        network = load(path, input=input_shape(input))
    else:
        raise TypeError(f"spec must be a name, path, layer string, YAML text, dict or NetworkSpec; "
                        f"got {type(spec).__name__}")
    return with_input(network, input_shape(input))


def _from_str(text: str, input: Optional[Shape] = None) -> NetworkSpec:
    from .load import file_status, load

    if ("\n" in text or text.lstrip().startswith("{")) and file_status(text) is None:
        # YAML text, a layer string of several lines, a listing: as a file of that text is read
        from .spec.source import from_text

        return from_text(text, "<string>")
    return load(text, input=input)  # a model file that records no input size is read at this one


def _from_mapping(data: Mapping[str, Any]) -> NetworkSpec:
    import json

    from .spec.yaml_reader import parse_yaml

    try:  # JSON is YAML: the reader's own rules, messages and limits apply as to a file
        text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False, default=_not_json)
    except (TypeError, ValueError) as e:
        raise SpecError(f"the dict cannot be read as a spec: {e}",
                        hint="give it the YAML's structure: str keys; str, int, float, bool, None, "
                             "list and dict values") from None
    return parse_yaml(text, "<dict>")


def _not_json(thing: Any) -> Any:
    """A Shape as its sizes (an ``input:``); anything else JSON has no word for is a mistake."""
    if isinstance(thing, Shape):
        return [*thing.dims]
    raise TypeError(f"a {type(thing).__name__} ({str(thing)[:40]}) is not a spec value")


def input_shape(shape: Optional[ShapeLike]) -> Optional[Shape]:
    """``shape`` as a Shape (None stays None): text as ``--input`` reads it, or the sizes."""
    if shape is None or isinstance(shape, Shape):
        return shape
    from .spec.shapes import parse_shape, shape_from_dims

    if isinstance(shape, str):
        return parse_shape(shape, Location("input", 1, 1, shape, len(shape)))
    if isinstance(shape, Sequence) and not isinstance(shape, (bytes, bytearray)):
        return shape_from_dims(list(shape))
    raise TypeError(f"input must be text like '224x224x3', a sequence of sizes or a Shape; got {type(shape).__name__}")


# --- analysing ------------------------------------------------------------------------------


def analyse(spec: SpecLike, input: Optional[ShapeLike] = None, batch: int = 1, dtype: str = "float32",
            count: str = "macs", bias: bool = True, ops: Union[str, Iterable[str]] = (),
            inplace: bool = False, optimizer: str = "sgd") -> "Report":
    """Every layer's shape, params, MACs, activations, memory and receptive field: ``convcalc table``.

    ``spec`` as :func:`read` takes it; ``input`` the shape to run it on instead of its own
    (``--input``). The rest are the table's options: ``batch`` and ``dtype`` for bytes;
    ``count`` 'macs' or 'flops'; ``bias`` False leaves biases out of params (the cs231n VGG
    table); ``ops`` also counts element-wise work of these kinds ('norm', 'act', 'pool', or
    'all'; a list or 'norm,act'); ``inplace`` leaves activation and dropout outputs out of the
    activations; ``optimizer`` ('sgd', 'momentum', 'adam') sets the state in the training
    memory. Raises a ConvcalcError (SpecError, ShapeError) for a spec that does not compute.
    """
    network = read(spec, input)
    return Report(_analyse(network, batch, dtype, conventions(count, bias, ops, inplace, optimizer)))


def conventions(count: str = "macs", bias: bool = True, ops: Union[str, Iterable[str]] = (),
                inplace: bool = False, optimizer: str = "sgd") -> Conventions:
    """The counting conventions, checked as the command's options are."""
    words = [w.strip().lower() for w in ([ops] if isinstance(ops, str) else ops) for w in w.split(",") if w.strip()]
    kinds = OP_KINDS if "all" in words else tuple(k for k in OP_KINDS if k in words)
    for word in words:
        if word != "all" and word not in OP_KINDS:
            raise ConvcalcError(f"ops: '{word}' is not one of {', '.join(OP_KINDS)}, all{did_you_mean(word, OP_KINDS)}")
    _choose("count", count, ("macs", "flops"))
    _choose("optimizer", optimizer, tuple(OPTIMIZER_STATES))
    return Conventions(count=count, bias=bool(bias), ops=kinds, optimizer=optimizer, inplace=bool(inplace))


def _choose(what: str, given: str, choices: Tuple[str, ...]) -> None:
    if given not in choices:
        raise ConvcalcError(f"{what}: '{given}' is not one of {', '.join(choices)}{did_you_mean(str(given), choices)}")


def _within(what: str, given: Optional[int], lo: int, hi: int) -> None:
    """``given`` (None: not given) is a whole number from ``lo`` to ``hi``, as the command's option is."""
    if given is not None and (isinstance(given, bool) or not isinstance(given, int) or not lo <= given <= hi):
        raise ConvcalcError(f"{what}: expected a whole number from {lo:,} to {hi:,}, got {given!r}")


def _analyse(network: NetworkSpec, batch: int, dtype: str, rules: Conventions) -> Result:
    from .analysis.engine import analyse as engine

    _within("batch", batch, 1, 10**9)
    return engine(network, dtype=dtype, batch=batch, conventions=rules)


@value
class LayerFigures:
    """One layer of a Report, as the table and JSON show it: exact integers, raw and counted.

    ``params`` are weights and biases, ``buffers`` what is kept but not trained (batchnorm's
    running statistics, a frozen layer's weights); ``macs`` per sample; ``work`` and
    ``counted_params`` are what the report's conventions make of them (FLOPs, biases left out,
    element-wise ops); ``activation_bytes`` at the report's dtype and batch.
    """

    index: int  # 1-based, as in the table; 0 is the input
    name: str  # the full name: blocks and layer, 'layer1.0.conv1'
    kind: str
    description: str  # 'CONV 64 3x3 s1 p1'
    input: Shape
    output: Shape
    params: int
    biases: int
    buffers: int
    macs: int
    flops: int
    activations: int
    counted_params: int
    work: int
    activation_bytes: int
    receptive_field: Field  # .text() is the table's 'RF' column: '196 j16', 'all'
    notes: Tuple[str, ...]


class Report:
    """The analysis of one network, with every output the command gives.

    ``layers``, ``totals``, ``memory``, ``notes``, ``warnings`` are the figures; ``to_json()``,
    ``to_dict()``, ``table()``, ``to_markdown()``, ``to_csv()``, ``to_html()``, ``to_svg()`` the
    formats of ``convcalc table``; ``plan()`` and ``draw()`` what ``convcalc plan`` and
    ``convcalc draw`` make of it. ``result`` is the engine's own Report (analysis/result.py), for
    what this class does not expose. ``str`` and ``repr`` are the text table, 100 wide.
    """

    def __init__(self, result: Result) -> None:
        self.result = result

    # figures

    @property
    def name(self) -> str:
        return self.result.spec.name

    @property
    def title(self) -> str:
        return self.result.spec.title or self.result.spec.name

    @property
    def input(self) -> Shape:
        return self.result.spec.input

    @property
    def output(self) -> Shape:
        """The network's output; with several (``outputs:``), the last one declared."""
        return self.result.output

    @cached_property
    def layers(self) -> Tuple[LayerFigures, ...]:
        """Every layer, in the table's order (the input is not one)."""
        r = self.result
        return tuple(LayerFigures(
            index=x.index, name=x.full_name, kind=x.layer.kind, description=x.layer.describe(), input=x.input,
            output=x.output, params=x.params, biases=x.biases, buffers=x.buffers, macs=x.macs, flops=x.flops,
            activations=x.activations, counted_params=r.counted_params(x), work=r.work(x),
            activation_bytes=r.activation_bytes(r.counted_activations(x)), receptive_field=f,
            notes=tuple(n.text for n in x.notes)) for x, f in zip(r.layers, r.fields))

    @property
    def blocks(self) -> Tuple[BlockReport, ...]:
        """Each block's subtotals (name, kind, input, output, first and last layer, params, MACs
        ...), innermost first within each block, in the order they end."""
        return self.result.blocks

    @property
    def totals(self) -> Totals:
        """params, buffers, macs, flops, activations (input included), layers; ``counted_params``
        and ``work`` as the conventions count them."""
        return self.result.totals

    @property
    def memory(self) -> Memory:
        """forward_bytes, inference_bytes (peak live set + weights), weight_bytes, training_bytes ..."""
        return self.result.memory

    @property
    def notes(self) -> Tuple[str, ...]:
        """What the reader noted of how it read the spec, and how an input shape that looks
        channels-first was read: what the command says on standard error before the table."""
        return self.result.spec.reading_notes

    @property
    def warnings(self) -> Tuple[str, ...]:
        """The table's warnings, located (a stride that does not fit, an operator not counted)."""
        from .report.rows import warning_lines

        return tuple(warning_lines(self.result))

    @property
    def complete(self) -> bool:
        """False when an operator convcalc cannot count is in the network: the totals leave it out."""
        return not self.result.unknown

    # the formats of `convcalc table`

    def to_dict(self) -> Dict[str, Any]:
        """The JSON report as a dict (``json.loads(report.to_json())``)."""
        from .report.json_report import report_dict

        return report_dict(self.result)

    def to_json(self) -> str:
        """``convcalc table --format json``, character for character."""
        return self._rendered("json")

    def table(self, width: Optional[int] = TEXT_WIDTH, depth: Optional[int] = None, rf: bool = False,
              memory: str = "elements") -> str:
        """The text table, plain (no colour); ``width`` None for no limit; ``depth`` collapses
        deeper blocks; ``rf`` adds the receptive-field column; ``memory`` 'elements' or 'bytes'."""
        return self._rendered("table", width=width, depth=depth, rf=rf, memory_unit=memory, color=False)

    def to_markdown(self, memory: str = "elements") -> str:
        return self._rendered("markdown", memory_unit=memory)

    def to_csv(self) -> str:
        return self._rendered("csv")

    def to_html(self, depth: Optional[int] = None, memory: str = "elements", diagram: bool = True) -> str:
        """``convcalc table --format html``: one self-contained page, with the blocks picture
        unless ``diagram`` is False."""
        svg = ""
        if diagram:
            from .draw.blocks import blocks_svg

            svg = blocks_svg(self.result)
        return self._rendered("html", depth=depth, memory_unit=memory, diagram=svg)

    def to_svg(self, width: Optional[int] = None, depth: Optional[int] = None, rf: bool = False,
               memory: str = "elements") -> str:
        """The text table as an SVG image (``--format svg``; needs Rich)."""
        return self._rendered("svg", width=width, depth=depth, rf=rf, memory_unit=memory)

    def _rendered(self, fmt: str, **options: Any) -> str:
        import io

        from .report import render

        if options.get("memory_unit", "elements") not in ("elements", "bytes"):
            raise ConvcalcError(f"memory: '{options['memory_unit']}' is not one of elements, bytes")
        _within("width", options.get("width"), 40, 1000)  # as the command's --width and --depth take them
        _within("depth", options.get("depth"), 0, 1000)
        out = io.StringIO()
        render(self.result, fmt, out, **options)
        return out.getvalue()

    # what `convcalc plan` and `convcalc draw` make of it

    def plan(self, batch: Optional[int] = None, dtype: Optional[str] = None, optimizer: str = "sgd",
             backend: str = "cuda", amp: Optional[str] = None, flash: bool = True) -> "Plan":
        """One training step: what it saves for backward, its peak and costs (``convcalc plan``).
        ``batch`` and ``dtype`` default to this report's, and the conventions are this report's
        (``inplace`` changes what an in-place ReLU6 saves); ``optimizer`` (sgd, momentum, adam,
        adamw), ``backend`` (cuda, cpu), ``amp`` (fp16, bf16) and ``flash`` as plan's options."""
        from .analysis.step import OPTIMIZERS, step
        from .analysis.training import training

        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        same = (batch is None or batch == self.result.batch) and (dtype is None or dtype == self.result.dtype)
        result = self.result if same else _analyse(self.result.spec, self.result.batch if batch is None else batch,
                                                   dtype or self.result.dtype, self.result.conventions)
        kept = training(result, backend=backend, amp=amp, flash=flash)
        return Plan(result, kept, step(result, kept, optimizer))

    def draw(self, style: str = "blocks", **options: Any) -> "Drawing":
        """The network as a picture: ``convcalc draw`` (see :func:`drawing` for the options)."""
        return drawing(self, style, **options)

    # how it shows itself

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        """Jupyter's view: the HTML page, in a frame of its own (``srcdoc``), so its style and
        script apply to it alone and not to the notebook around it."""
        import html

        rows = len(self.result.layers) + len(self.result.blocks)
        height = min(900, 480 + 24 * rows)
        return (f'<iframe srcdoc="{html.escape(self.to_html(), quote=True)}" title="convcalc: '
                f'{html.escape(self.title or "network", quote=True)}" style="width: 100%; height: {height}px; '
                f'border: 1px solid #d0d7de" sandbox="allow-scripts"></iframe>')


class Plan:
    """One training step: what autograd saves for backward per layer, the forward and backward
    MACs, and the step's peak (``convcalc plan``). ``training`` holds the per-layer figures and
    ``step`` the step's timeline and peak (analysis/result.py's Training and Step); ``report`` is
    the analysis it was planned on (the batch and dtype it was asked for)."""

    def __init__(self, report: Result, training: Training, step: Step) -> None:
        self.report = report
        self.training = training
        self.step = step

    @property
    def peak_bytes(self) -> int:
        """The most memory alive at once in the step (plan's ``peak_bytes``)."""
        return self.step.peak_bytes

    @property
    def saved_bytes(self) -> int:
        return self.training.saved_bytes

    @property
    def forward_macs(self) -> int:
        return self.training.forward_macs

    @property
    def backward_macs(self) -> int:
        return self.training.backward_macs

    @property
    def complete(self) -> bool:
        return self.training.complete

    def to_dict(self) -> Dict[str, Any]:
        from .report.plan_table import plan_json

        return plan_json(self.report, self.training, self.step)

    def to_json(self) -> str:
        """``convcalc plan --format json``, character for character."""
        import json

        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_html(self) -> str:
        """``convcalc plan --format html``: one self-contained page (the memory timeline, the peak,
        the layers)."""
        from .report.plan_html import to_plan_html

        return to_plan_html(self.report, self.training, self.step)

    def to_svg(self) -> str:
        """``convcalc plan --format svg``: the memory timeline of the step."""
        from .report.timeline_svg import timeline_svg

        return timeline_svg(self.report, self.step)

    def _repr_html_(self) -> str:
        """Jupyter's view: the plan's page in a frame of its own, as a Report shows itself."""
        import html

        title = self.report.spec.title or self.report.spec.name or "network"
        return (f'<iframe srcdoc="{html.escape(self.to_html(), quote=True)}" title="convcalc plan: '
                f'{html.escape(title, quote=True)}" style="width: 100%; height: 900px; '
                f'border: 1px solid #d0d7de" sandbox="allow-scripts"></iframe>')

    def table(self, width: Optional[int] = TEXT_WIDTH) -> str:
        import io

        from .report.plan_table import print_plan

        out = io.StringIO()
        print_plan(self.report, self.training, self.step, file=out, width=width, color=False)
        return out.getvalue()

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()


# --- pictures -------------------------------------------------------------------------------


class Drawing:
    """A picture of a network as SVG text (``svg``); Jupyter shows it as it is."""

    def __init__(self, svg: str) -> None:
        self.svg = svg

    def save(self, path: "Union[str, os.PathLike[str]]") -> None:
        """Write the SVG to ``path`` (UTF-8)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg)

    def _repr_svg_(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<convcalc Drawing: {len(self.svg):,} characters of SVG>"


def drawing(spec: Union[SpecLike, Report], style: str = "blocks", depth: Optional[int] = None, scale: str = "log",
            color: str = "kind", labels: str = "shape", width: int = 1400, every_layer: bool = False,
            kernels: Optional[bool] = None, input: Optional[ShapeLike] = None, **options: Any) -> Drawing:
    """``convcalc draw``: the network (a Report, or anything :func:`analyse` reads, on ``input``
    when given) as SVG.

    ``style`` 'blocks' (3-D boxes left to right), 'graph' (a top-to-bottom flow for branching
    networks) or 'lenet' (LeNet-5's stacks of planes); ``depth`` collapses deeper blocks;
    ``scale`` 'log', 'sqrt' or 'linear'; ``color`` 'kind', 'macs', 'params' or 'memory';
    ``labels`` 'shape' or 'full'; ``width`` in px; ``every_layer`` draws activations and norms
    as boxes of their own; ``kernels`` (blocks only) the kernel cubes. ``options`` go to the
    style's drawer as they are. (Not named ``draw``: ``convcalc.draw`` is the package of drawers.)
    """
    _choose("style", style, STYLES)
    _within("width", width, 400, 20000)
    _within("depth", depth, 0, 1000)
    if isinstance(spec, Report) and input is not None:
        raise ConvcalcError("input: a report is drawn on the input it was analysed on; analyse it on this input")
    report = spec.result if isinstance(spec, Report) else _analyse(read(spec, input), 1, "float32", Conventions())
    settings: Dict[str, Any] = dict(depth=depth, scale=scale, color=color, labels=labels, width=width,
                                    every_layer=every_layer, **options)
    if style == "blocks":
        from .draw.blocks import blocks_svg

        return Drawing(blocks_svg(report, kernels=kernels, **settings))
    if kernels is not None:
        raise ConvcalcError(f"kernels: only the blocks style draws kernels; the {style} style "
                            f"{'always draws its windows' if style == 'lenet' else 'has none'}")
    if style == "graph":
        from .draw.graph import graph_svg

        return Drawing(graph_svg(report, **settings))
    from .draw.lenet import lenet_svg

    return Drawing(lenet_svg(report, **settings))


# --- live models ----------------------------------------------------------------------------
# A model held in Python, read into a NetworkSpec by its format's reader in importers/ and
# analysed as any spec is.


def from_keras(model: Any, input: Optional[ShapeLike] = None, batch: int = 1, dtype: str = "float32",
               count: str = "macs", bias: bool = True, ops: Union[str, Iterable[str]] = (),
               inplace: bool = False, optimizer: str = "sgd") -> Report:
    """A Keras model (``keras.Model``, Sequential or functional) analysed as :func:`analyse` does.

    Read through ``model.to_json()`` and the Keras file reader (importers/keras.py), so neither
    TensorFlow nor Keras is imported here: anything with a ``to_json()`` that returns a Keras
    model config will do. Params and buffers as ``model.summary()`` splits them (trainable and
    non-trainable). Errors name the model as ``<keras NAME>``.
    """
    to_json = getattr(model, "to_json", None)
    if not callable(to_json):
        raise TypeError(f"from_keras takes a Keras model (an object with to_json()); got {type(model).__name__}")
    text = to_json()
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"{type(model).__name__}.to_json() returned {type(text).__name__}, not JSON text")
    name = getattr(model, "name", "")
    origin = f"<keras {name}>" if isinstance(name, str) and name else "<keras model>"
    from .importers.keras import read_model_json

    network = with_input(read_model_json(text, origin), input_shape(input))
    return Report(_analyse(network, batch, dtype, conventions(count, bias, ops, inplace, optimizer)))


def from_torch_spec(model: Any, input_size: Sequence[int] = (1, 3, 224, 224)) -> NetworkSpec:
    """``model`` (a ``torch.nn.Module``) traced by ``torch.export`` on one sample of ``input_size``
    (batch first) as convcalc's NetworkSpec: every aten operator it runs a row named by the module
    that ran it ('layer1.0.conv1'). Raises SpecError (a located message, the extra to install, what
    torch.export refused) when it cannot."""
    from .importers.torch_export import from_torch_spec as read_module

    return read_module(model, input_size)


def from_torch(model: Any, input_size: Sequence[int] = (1, 3, 224, 224), dtype: str = "float32",
               count: str = "macs", bias: bool = True, ops: Union[str, Iterable[str]] = (),
               inplace: bool = False, optimizer: str = "sgd") -> Report:
    """A live PyTorch module on ``input_size`` analysed as :func:`analyse` does: shapes, params,
    MACs, memory and receptive field of every operator it runs; ``input_size[0]`` is the batch.
    torch is imported here only (the optional extra ``convcalc[torch]``)."""
    network = from_torch_spec(model, input_size)
    batch = int(input_size[0]) if len(input_size) else 1
    return Report(_analyse(network, batch, dtype, conventions(count, bias, ops, inplace, optimizer)))
