"""A live PyTorch module, or a program saved by ``torch.export.save`` (.pt2) -> NetworkSpec.

Why ``torch.export``: it records every operator the module runs, as aten operators with the
shape of each result, whether a leaf module ran it (a conv) or the forward did (``x.mean(1)``,
``torch.cat``, attention's ``q @ k.transpose(-2, -1)``, ``F.linear``), which hooks miss. And it
records, for each operator, the module that ran it (``nn_module_stack``): the rows are named as
``print(model)`` names them (``layer1.0.conv1``). A forward export refuses for a branch on a
tensor's value is traced by ``torch.export.draft_export`` on the same example, and said in a note
(FX's symbolic_trace refuses such a forward too, and more). torch is the optional extra ``convcalc[torch]``,
imported only here, only when a module or a .pt2 file is read.

How a graph becomes a spec (torch_ops.py holds one translator per operator):

* Only the activations are walked: an operator none of whose inputs derives from the network's
  input (a parameter's ``expand``, Swin's attention mask, shape arithmetic) is a constant, and
  what it derives from (which parameters) is remembered for the operator that reads it.
* Layouts. aten's tensors carry a batch and put a conv's channels on axis 1 (N, C, H, W);
  convcalc's dims are one sample's, channels last (H x W x C). Each activation is held with,
  for each of its aten axes, the convcalc dim it is (``Held.axes``; None for the batch). A
  permute or transpose only changes that map (no row); an operator that needs its input in a
  given order (a conv a grid, a linear or a view the aten order) gets a ``permute`` row first
  when the order differs. ConvNeXt's ``permute(0, 2, 3, 1)`` around its LayerNorm is then no
  row at all: channels last is what convcalc holds already.
* The program is traced with a batch of one (convcalc counts one sample; ``from_torch`` passes
  the batch to the report): an axis of 1 is where the batch went when a view moves it
  (``nn.MultiheadAttention`` works on (L, N, C)).
* Every layer made is checked: the shape convcalc's rule computes must be the shape the program
  recorded, and the params it counts the elements of the parameters the operator reads. A shape
  that differs makes the operator ``unknown`` (with its recorded shape, listed, its cost marked
  not counted), never a wrong row; params that differ, or a parameter no layer reads, are said
  in the report's notes.
* A parameter two layers read (a module applied twice, a tied weight: one tensor under two
  names) is counted once, at the first layer that reads it; the others carry ``shares`` naming
  it, so the totals are ``sum(p.numel() for p in model.parameters())``, which de-duplicates.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from ..errors import LayerError, SpecError
from ..layers import dims_shape
from ..shape import Shape
from ..spec.model import FromSpec, NetworkSpec
from ..values import replace
from . import safe_name
from .torch_graph import (
    Held,
    Mismatch,
    flat,
    grid,
    in_order,
    reads_activation,
    short_op,
)
from .torch_ops import OPS, TorchOps


def import_torch() -> Any:
    try:
        import torch  # type: ignore[import-not-found]  # the optional extra: imported only when a module or a .pt2 file is read
    except ImportError:
        raise SpecError("reading a PyTorch module or a .pt2 file needs torch, which is not installed",
                        hint="install the extra convcalc[torch]: `pip install '.[torch]'` in convcalc's checkout, "
                             "or `pip install torch` (CPU builds: --index-url https://download.pytorch.org/whl/cpu)"
                        ) from None
    return torch


def from_torch_spec(model: Any, input_size: Sequence[int] = (1, 3, 224, 224)) -> NetworkSpec:
    """``model`` (a ``torch.nn.Module``) traced by ``torch.export`` on one sample of
    ``input_size`` (its first dim, the batch, is the report's, not the trace's) as a NetworkSpec."""
    torch = import_torch()
    size = tuple(int(d) for d in input_size)
    if len(size) < 2 or any(d <= 0 for d in size):
        raise SpecError(f"input_size {list(input_size)} is not a batch and a sample's dims (all positive), "
                        "e.g. (1, 3, 224, 224)")
    first = next(iter(model.parameters()), None)
    example = torch.zeros((1, *size[1:]), device=first.device if first is not None else "cpu")
    said: Tuple[str, ...] = ()
    try:
        with quiet_logs():  # a refused trace logs the graph so far and its guards: said in the note instead
            program = torch.export.export(model, (example,))
    except Exception as e:  # export refuses data-dependent control flow and the like: its message says where
        refused = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
        try:
            program = _draft(torch, model, example)
        except Exception:  # the draft could not trace it either: export's own reason is the one to fix
            raise SpecError(f"torch.export cannot trace {type(model).__name__}: {type(e).__name__}: {str(e)[:400]}",
                            hint="torch.export needs a forward without data-dependent Python control flow") from None
        said = (f"torch.export refused {type(model).__name__} ({refused}); traced by torch.export.draft_export "
                f"instead, which takes each branch on a tensor's value as an input of zeros takes it: the figures "
                f"are that path's",)
    named = list(model.named_parameters(remove_duplicate=False))
    trainable = {name: bool(p.requires_grad) for name, p in named}
    spec = read_program(program, type(model).__name__, trainable, tied(named))
    return replace(spec, notes=(*said, *spec.notes)) if said else spec


def _draft(torch: Any, model: Any, example: Any) -> Any:
    """``torch.export.draft_export``: a branch on a tensor's value (``if y.sum() > 0``), which
    export refuses, is taken as the example takes it and guarded by asserts. The asserts and
    what only they read (the branch's condition) are no part of what the network computes:
    they are left out, as dead code, before the walk."""
    with quiet_logs():  # draft_export logs its report of the guards it took
        program = torch.export.draft_export(model, (example,))
    graph = program.graph
    needed: Set[Any] = set()
    stack = [n for n in graph.nodes if n.op == "output"]
    while stack:
        node = stack.pop()
        if node not in needed:
            needed.add(node)
            stack.extend(node.all_input_nodes)
    for node in reversed(list(graph.nodes)):
        if node.op == "call_function" and node not in needed:
            graph.erase_node(node)
    return program


def read_pt2(path_or_text: Any, origin: str) -> NetworkSpec:
    """A program saved by ``torch.export.save``: its graph and its parameters' shapes."""
    torch = import_torch()
    # torch.export.load logs what went wrong as a warning with its traceback before it raises
    # "check the warnings above": that is kept from the terminal and said in the error instead
    heard = _Heard()
    logger = logging.getLogger("torch.export")  # torch gives it a handler of its own, to stderr
    handlers, propagate = logger.handlers, logger.propagate
    logger.handlers, logger.propagate = [heard], False
    try:
        with no_code_from_the_file(torch):
            program = torch.export.load(str(path_or_text))
    except RefusedPickle as e:
        raise SpecError(f"'{origin}' holds a pickled object that is not a tensor ({e}): convcalc does not run code "
                        "from a file it reads", hint="save the program with plain tensor weights "
                        "(torch.export.save of an exported module), or read the module with convcalc.from_torch") \
            from None
    except Exception as e:
        why = heard.cause or f"{type(e).__name__}: {e}"
        raise SpecError(f"'{origin}' is not a program saved by torch.export.save ({why[:300]})",
                        hint="save one with torch.export.save(torch.export.export(model, (x,)), 'model.pt2')") from None
    finally:
        logger.handlers, logger.propagate = handlers, propagate
    state = program.state_dict
    trainable = {k: bool(getattr(v, "requires_grad", True)) for k, v in state.items()}
    # a tied weight is saved once and loaded as two tensors over one storage: the same view of
    # the same memory is the same parameter
    return read_program(program, origin, trainable, tied([(k, _view_of(v)) for k, v in state.items()]))


class RefusedPickle(Exception):
    """A .pt2 file asked to unpickle something that is not a tensor."""


@contextlib.contextmanager
def no_code_from_the_file(torch: Any) -> Iterator[None]:
    """torch.export.load unpickles some weights with ``weights_only=False`` and some constants
    with ``pickle.loads`` (torch/export/pt2_archive/_package.py), which can run any code the file
    names: PyTorch's own docstring says never to load an untrusted file. convcalc reads only the
    graph and the tensors' shapes, so while it loads, every ``torch.load`` takes
    ``weights_only=True`` (PyTorch's restricted unpickler: tensors and plain containers) and any
    other unpickling (a pickled constant, a TorchBind object) is refused."""
    import importlib

    _package: Any = importlib.import_module("torch.export.pt2_archive._package")
    real_load, real_pickle, real_obj = torch.load, _package.pickle, torch._C._pickle_load_obj

    def tensors_only(f: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        try:
            return real_load(f, *args, **kwargs)
        except Exception as e:  # the restricted unpickler met a global it will not build
            if "weights_only" in str(e) or "Unsupported global" in str(e):
                raise RefusedPickle(str(e).strip().splitlines()[0][:200]) from None
            raise

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise RefusedPickle("a pickled constant")

    class NoPickle:
        loads = staticmethod(refused)

    torch.load, _package.pickle, torch._C._pickle_load_obj = tensors_only, NoPickle, refused
    try:
        yield
    finally:
        torch.load, _package.pickle, torch._C._pickle_load_obj = real_load, real_pickle, real_obj


def _view_of(tensor: Any) -> Any:
    """What a tensor is a view of: its storage, offset, shape and strides (itself if it has none)."""
    try:
        return (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape),
                tuple(tensor.stride()), str(tensor.dtype))
    except Exception:  # a tensor without storage (meta, fake): only itself
        return tensor


LAST_AXIS = frozenset(("linear", "layer_norm", "native_layer_norm", "matmul", "bmm", "softmax", "_softmax"))
"""Operators that read their input's last axis as its features: an input they read first is tokens."""
PASSING = frozenset(("transpose", "permute", "view", "reshape", "contiguous", "alias", "clone", "unsqueeze",
                     "squeeze", "dropout", "detach"))


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """torch kept from the terminal while it traces: a refused or drafted trace logs its guards
    from loggers of its own (torch._logging gives them their own handlers) and prints the graph
    so far to stderr (export/_trace.py), which what convcalc says (an error, a note) sums up."""
    before = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(before)


class _Heard(logging.Handler):
    """The last exception torch's loader logged, as one line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.cause = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.cause = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def tied(named: List[Tuple[str, Any]]) -> Dict[str, Tuple[str, ...]]:
    """Each parameter's name -> every name of the same tensor (a tied weight has two). A tensor
    is known by its identity, or by a hashable key that stands for it (``_view_of``)."""
    groups: Dict[Any, List[str]] = {}
    for name, tensor in named:
        groups.setdefault(tensor if isinstance(tensor, tuple) else id(tensor), []).append(name)
    return {name: tuple(names) for names in groups.values() for name in names}


def read_program(program: Any, origin: str, trainable: Dict[str, bool],
                 aliases: Optional[Dict[str, Tuple[str, ...]]] = None) -> NetworkSpec:
    """``aliases``: every name of each parameter (``tied``), so a weight tied to another is one."""
    return _Program(program, origin, trainable, aliases or {}).network()


class _Program(TorchOps):
    """One exported program walked node by node."""

    # --- the walk ---------------------------------------------------------------------------

    def network(self) -> NetworkSpec:
        inputs = [n for n in self.graph.nodes if n.op == "placeholder" and n.name in self.user]
        if len(inputs) != 1:
            raise SpecError(f"{self.origin}: the program has {len(inputs)} inputs; convcalc reads networks of one input")
        x = inputs[0]
        dims = self.dims_of(x)
        if len(dims) < 2 or dims[0] != 1:
            raise SpecError(f"{self.origin}: input '{x.name}' has shape {list(dims)}: convcalc traces one sample "
                            "(a batch of 1) of a tensor with channels",
                            hint="export with an input of batch 1: torch.export.export(model, (torch.zeros(1, 3, 224, 224),))")
        for p, fqn in self.params.items():
            node = next((n for n in self.graph.nodes if n.name == p), None)
            if node is not None:
                self.param_dims[p] = self.dims_of(node)
        # a grid (N, C, H, W) as H x W x C, unless what reads it first works on its last axis (a
        # transformer block given N x L x C tokens): then L x C, as aten has it
        tokens = len(dims) > 2 and self.first_reader(x) in LAST_AXIS
        self.held[x.name] = Held("input", dims, in_order(dims, 0) if tokens else grid(len(dims)))
        shape = dims_shape(self.held[x.name].cc) if len(dims) > 2 else Shape((), dims[1])
        outputs: List[str] = []
        for node in self.graph.nodes:
            self.node = node
            if node.op == "call_function":
                self.visit(node)
            elif node.op == "output":
                outputs = [a.name for a in flat(node.args) if hasattr(a, "name") and a.name in self.held]
        self.account()
        declared: Tuple[FromSpec, ...] = ()
        refs = [self.held[o].ref for o in outputs]
        if len(refs) > 1 or (refs and refs[0] != self.last):
            declared = tuple(FromSpec(r) for r in dict.fromkeys(refs))
        stem = self.origin.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".pt2", 1)[0]  # a file's name, or the class's
        return NetworkSpec(input=shape, layers=tuple(self.out), name=safe_name(stem),
                           title=f"{stem} (traced by torch.export)", origin=self.origin,
                           outputs=declared, notes=tuple(self.notes))

    def first_reader(self, x: Any) -> str:
        """The first operator that reads ``x`` for its values, looking through views and copies
        (nn.MultiheadAttention transposes its input first)."""
        through = {x.name}
        for n in self.graph.nodes:
            if n.op != "call_function" or not any(getattr(a, "name", None) in through for a in flat((n.args, n.kwargs))):
                continue
            op = short_op(n.target)
            if op not in PASSING:
                return op
            through.add(n.name)
        return ""

    def visit(self, node: Any) -> None:
        acts = [a for a in flat((node.args, node.kwargs)) if hasattr(a, "name") and a.name in self.held]
        if not reads_activation(node, self.held):  # a constant: remember the parameters it is made of
            made: Set[str] = set()
            for a in flat((node.args, node.kwargs)):
                if hasattr(a, "name"):
                    made |= {self.params[a.name]} if a.name in self.params else self.derived.get(a.name, set())
            self.derived[node.name] = made
            return
        op = short_op(node.target)
        handler = OPS.get(op)
        try:
            if handler is None:
                raise Mismatch(f"no rule for {op}")
            getattr(self, handler)(node, acts)
        except (Mismatch, LayerError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError):
            # convcalc's rule cannot say exactly what it does (Mismatch, LayerError), or its
            # arguments are not in a form the translator knows (a newer aten overload): the
            # operator is unknown, shown with its recorded shape, never a traceback
            if node.name not in self.held:
                self.unknown(node, self.held[acts[0].name])

    def account(self) -> None:
        """Notes on the parameters: one no layer reads, one two layers read (counted in each)."""
        seen: Set[Tuple[str, ...]] = set()
        for p, fqn in self.params.items():
            names = self.aliases.get(fqn, (fqn,))
            if names in seen:
                continue
            seen.add(names)
            readers = [r for name in names for r in self.used.get(name, [])]
            n = math.prod(self.param_dims.get(p, ()))
            called = " = ".join(f"'{name}'" for name in names)
            if not readers:
                self.notes.append(f"parameter {called} ({n:,} elements) is read by no layer convcalc counts: "
                                  "it is not in the params")
            elif len(readers) > 1 and self.counted.get(names, 0) > 1:  # a row that counts it otherwise than held
                self.notes.append(f"parameter {called} ({n:,} elements) is shared by {', '.join(readers)}: "
                                  f"convcalc counts it {self.counted[names]} times "
                                  f"({n * (self.counted[names] - 1):,} too many params)")
            elif len(readers) > 1:
                self.notes.append(f"parameter {called} ({n:,} elements) is shared by {', '.join(readers)}: "
                                  f"counted once, at {self.holder.get(names, readers[0])}, as model.parameters() "
                                  "holds it")

