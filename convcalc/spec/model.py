"""What a network spec is, once read: validated layers with their source locations. No maths.

Both parsers (YAML and the layer string) end here: they hand ``make_layer`` a kind name and raw
options, each with its location, and get back a validated rule object or a located error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple, Union

from ..errors import Location, SpecError, did_you_mean
from ..layers import BY_NAME, KINDS, Layer, Merge, lookup
from ..layers.options import REQUIRED, OptionError
from ..shape import Shape, channels_first_note
from ..values import field, replace, value

if TYPE_CHECKING:
    from .expectations import Expectation, Limit


@value
class Shares:
    """Weights a layer reads that an earlier layer holds (a module applied twice, a decoder tied
    to its embedding): they are one tensor, counted once, at ``layer``.

    ``params``: how many of the reading layer's params they are (None: all of them, and then
    the two layers hold the same count); ``biases``: how many of those are bias terms (with
    ``params`` None, all its biases); ``what``: the weights as the model names them
    ("'a.weight'"), for the row's note."""

    layer: str
    params: Optional[int] = None
    biases: int = 0
    what: str = ""
    loc: Optional[Location] = field(default=None, compare=False, repr=False)


@value
class LayerSpec:
    """One layer as the user wrote it: its rule, an optional name, and where it was written.

    ``frozen``: nothing in it is trained (Keras' ``trainable=False``), so the engine counts its
    weights and biases as buffers (analysis/engine.py, ``_Walk.layer``). ``shares``: weights it
    reads that an earlier layer holds, counted there and not again (``shares: a``)."""

    layer: Layer
    name: Optional[str] = None
    loc: Optional[Location] = field(default=None, compare=False, repr=False)
    expect: Tuple["Expectation", ...] = field(default=(), compare=False, repr=False)  # spec/expectations.py
    note: str = field(default="", compare=False, repr=False)  # a comment for the YAML writer (recover.py)
    frozen: bool = False
    shares: Tuple[Shares, ...] = ()


@value
class BlockSpec:
    """A block: branches that all start from the block's input and meet in ``merge``.

    A residual block is ``merge=Add()`` with a main branch and a shortcut (an empty branch is the
    identity); an inception block is ``merge=Concat()`` with several branches. A block without a
    merge has exactly one branch: a named group of layers (a ResNet stage), shown nested.
    ``kind`` is the reusable block it was made from ('bottleneck'), if any. ``frozen`` freezes
    every layer inside it, whatever their own flags say (as Keras' ``trainable=False`` on a model).
    """

    branches: Tuple[Tuple["Node", ...], ...]
    merge: Optional[Merge] = None
    name: Optional[str] = None
    kind: str = ""
    loc: Optional[Location] = field(default=None, compare=False, repr=False)
    note: str = field(default="", compare=False, repr=False)  # a comment for the YAML writer (recover.py)
    frozen: bool = False


@value
class FromSpec:
    """``from: enc1`` (``@enc1`` in a layer string): what follows reads the tensor named ``ref``
    instead of the one before it. ``ref`` is a layer's or block's name, or ``input`` for the
    network's input; the engine resolves it against the names in scope (analysis/engine.py). A branch
    that starts with one reads that tensor instead of the block's input; a branch that is only
    one passes that tensor on unchanged (a lateral connection, a skip from far back)."""

    ref: str
    loc: Optional[Location] = field(default=None, compare=False, repr=False)


Node = Union[LayerSpec, BlockSpec, FromSpec]


def count_layers(nodes: Sequence[Node], sizes: Optional[Dict[int, int]] = None) -> int:
    """Leaf layers and merges, as the engine will report them.

    ``sizes`` remembers each block's count by identity, so a block repeated (or reused) many
    times is counted once, not walked again; the parsers keep one for a whole spec.
    """
    sizes = {} if sizes is None else sizes
    total = 0
    for node in nodes:
        if isinstance(node, LayerSpec):
            total += 1
            continue
        if isinstance(node, FromSpec):
            continue
        if id(node) not in sizes:
            sizes[id(node)] = (node.merge is not None) + sum(count_layers(b, sizes) for b in node.branches)
        total += sizes[id(node)]
    return total


@value
class NetworkSpec:
    """Layers and blocks applied, in order, to one input shape."""

    input: Shape
    layers: Tuple[Node, ...]
    name: str = ""
    title: str = field(default="", compare=False)
    reference: str = field(default="", compare=False)
    origin: str = field(default="", compare=False)  # the file, '<string>', or the bundled name
    expect: Tuple["Expectation", ...] = field(default=(), compare=False, repr=False)  # of the whole network
    budget: Tuple["Limit", ...] = field(default=(), compare=False, repr=False)  # ceilings, spec/expectations.py
    outputs: Tuple[FromSpec, ...] = ()  # the tensors the network gives out; () is its last one
    # what a reader says of how it read the file (a Caffe layer its phase leaves out); printed as warnings
    notes: Tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def reading_notes(self) -> Tuple[str, ...]:
        """The reader's ``notes`` and, when the input shape looks channels-first, how it was read
        (shape.py's rule): what the command warns of before anything is counted, and a Python
        report's ``notes``."""
        return tuple(n for n in (*self.notes, channels_first_note(self.input.dims)) if n)


def with_input(network: NetworkSpec, shape: Optional[Shape]) -> NetworkSpec:
    """``network`` run on ``shape`` (``--input``) instead of its own input; unchanged for None."""
    return network if shape is None else replace(network, input=shape)


@value
class RawOption:
    """An option as written, before validation: ``kernel: 3`` or the ``k3`` in ``conv64k3``."""

    key: str
    value: Any
    key_loc: Optional[Location] = None
    value_loc: Optional[Location] = None


def kind_names() -> list[str]:
    return sorted(BY_NAME)


SEQUENCE_WORDS = ("seq", "sequential", "group", "stage")
"""YAML item keys that group layers into a chain: ``- seq: [conv64k3p1, relu]``."""

ITEM_WORDS = ("name", "repeat", "expect", "from", "frozen", "shares")
"""YAML keys an item carries beside its kind: ``name: enc1``, ``from: enc1``, ``repeat: 3``,
``frozen: true``, ``shares: enc1`` (its weights are that layer's)."""


def reserved_words() -> Tuple[str, ...]:
    """YAML item keys that build structure rather than a layer: the merges, the chains, and the
    keys an item carries beside its kind.

    A block may not take one of these names (nor a layer kind's): its name is the key of every
    item that uses it, so a block called 'add' or 'stage' would silently change what every
    ``- add:`` or ``- stage:`` item of the spec means.
    """
    from ..layers import MERGES

    return (*MERGES, *SEQUENCE_WORDS, *ITEM_WORDS)


def make_layer(kind: str, options: Sequence[RawOption], loc: Optional[Location]) -> Layer:
    """Validate ``options`` for layer ``kind`` and build its rule, or raise a located SpecError."""
    k = lookup(kind)
    if k is None:
        raise SpecError(
            f"unknown layer '{kind}'{did_you_mean(kind, kind_names())}",
            loc,
            hint="`convcalc kinds` lists every layer kind and its options",
        )
    fields = k.option_fields()
    by_key = {name: name for name in fields}
    by_key.update({alias: name for name, f in fields.items() for alias in f.metadata["aliases"]})
    values: dict[str, Any] = {}
    for opt in options:
        name = by_key.get(opt.key.lower())
        if name is None:
            known = ", ".join(fields) or "none"
            raise SpecError(
                f"{k.name} has no option '{opt.key}'{did_you_mean(opt.key, by_key)}",
                opt.key_loc,
                hint=f"{k.name} options: {known}",
            )
        if name in values:
            raise SpecError(f"{k.name} option '{name}' is given twice", opt.key_loc)
        try:
            values[name] = fields[name].metadata["convert"](opt.value)
        except OptionError as e:
            raise SpecError(f"{k.name} {name}: {e}", opt.value_loc or opt.key_loc) from None
    missing = [n for n, f in fields.items() if f.default is REQUIRED and n not in values]
    if missing:
        f = fields[missing[0]]
        raise SpecError(f"{k.name} needs '{missing[0]}' ({f.metadata['help']})", loc)
    return k.rule(**dict(k.fixed), **values)


__all__ = ["KINDS", "BlockSpec", "FromSpec", "LayerSpec", "NetworkSpec", "Node", "RawOption", "make_layer"]
