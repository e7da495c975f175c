"""An exported program's graph written down as JSON, and read back as a program torch_export.py
walks: what the mapping of aten operators onto convcalc's kinds is tested on where torch is not
installed (CI's venv: a CPU torch is a 1 GB download). Neither half imports torch.

What is kept is what the walk reads and nothing else: each node's kind, name, operator, its
arguments (other nodes by name), the shapes of its results, its module's path; which inputs are
parameters (whether they train, and which names are one tied tensor). No weights.
benchmarks/record_torch_exports.py writes the recordings of torchvision's models
(tests/fixtures/torch), and tests/test_from_torch.py reads them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .torch_graph import module_path

FORMAT = "convcalc-torch-export-1"


def record(program: Any, trainable: Dict[str, bool], model: str, input_size: List[int],
           aliases: Optional[Dict[str, Tuple[str, ...]]] = None) -> Dict[str, Any]:
    """The JSON-able record of ``program`` (a ``torch.export.ExportedProgram``); ``aliases``:
    the names of each tied parameter (torch_export.tied), kept only for those with two or more."""
    sig = program.graph_signature
    nodes = []
    for n in program.graph.nodes:
        target = "" if n.op in ("placeholder", "output") else str(n.target)
        if target and "aten" not in target:  # operator.getitem prints as '<built-in function getitem>'
            target = getattr(n.target, "__name__", target)
        nodes.append([n.op, n.name, target, _encode(n.args), _encode(n.kwargs), _shapes(n.meta.get("val")),
                      module_path(n)])
    return {"format": FORMAT, "model": model, "input": list(input_size),
            "params": dict(sig.inputs_to_parameters), "user_inputs": [str(u) for u in sig.user_inputs],
            "trainable": trainable, "nodes": nodes,
            **({"aliases": {k: list(v) for k, v in aliases.items() if len(v) > 1}} if aliases else {})}


def _encode(v: Any) -> Any:
    if hasattr(v, "op") and hasattr(v, "name") and hasattr(v, "meta"):  # an fx node
        return {"node": v.name}
    if isinstance(v, dict):
        return {str(k): _encode(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return {"repr": str(v)}  # a dtype, a device, a memory format: never read by the walk


def _shapes(val: Any) -> Any:
    if isinstance(val, (list, tuple)):  # an operator of several results (batch norm's, split's)
        return {"tuple": [_shape(v) for v in val]}
    return _shape(val)


def _shape(val: Any) -> Optional[List[int]]:
    shape = getattr(val, "shape", None)
    return None if shape is None else [int(d) for d in shape]


class _Target:
    """An operator as the walk reads it: its name (``_opname``) and how it prints."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._opname = text.split(".")[1] if text.startswith("aten.") and text.count(".") >= 2 else text

    def __str__(self) -> str:
        return self.text


class _Value:
    def __init__(self, shape: List[int]) -> None:
        self.shape = tuple(shape)


class _Node:
    def __init__(self, op: str, name: str, target: str, module: str) -> None:
        self.op = op
        self.name = name
        self.target: Any = _Target(target) if target else name
        self.args: Any = ()
        self.kwargs: Any = {}
        self.meta: Dict[str, Any] = {"nn_module_stack": {"m": (module, "")} if module else {}}


class _Graph:
    def __init__(self, nodes: List[_Node]) -> None:
        self.nodes = nodes


class _Signature:
    def __init__(self, params: Dict[str, str], users: List[str]) -> None:
        self.inputs_to_parameters = params
        self.user_inputs = users


class Replayed:
    """A recorded program, with what torch_export.read_program reads of a real one."""

    def __init__(self, data: Dict[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a recording of format {FORMAT}")
        nodes: Dict[str, _Node] = {}
        order = []
        for op, name, target, args, kwargs, shapes, module in data["nodes"]:
            n = _Node(op, name, target, module)
            nodes[name] = n
            order.append((n, args, kwargs, shapes))
        for n, args, kwargs, shapes in order:
            n.args = _decode(args, nodes)
            n.kwargs = _decode(kwargs, nodes)
            if isinstance(shapes, dict):
                n.meta["val"] = tuple(None if s is None else _Value(s) for s in shapes["tuple"])
            elif shapes is not None:
                n.meta["val"] = _Value(shapes)
        self.graph = _Graph([n for n, *_ in order])
        self.graph_signature = _Signature(dict(data["params"]), list(data["user_inputs"]))
        self.trainable: Dict[str, bool] = dict(data["trainable"])
        self.aliases: Dict[str, Tuple[str, ...]] = {k: tuple(v) for k, v in data.get("aliases", {}).items()}
        self.model: str = data["model"]
        self.input: Tuple[int, ...] = tuple(data["input"])


def _decode(v: Any, nodes: Dict[str, _Node]) -> Any:
    if isinstance(v, dict):
        if set(v) == {"node"}:
            return nodes[v["node"]]
        if set(v) == {"repr"}:
            return v["repr"]
        return {k: _decode(x, nodes) for k, x in v.items()}
    if isinstance(v, list):  # fx's args hold lists (a stride [2, 2]) as lists
        return [_decode(x, nodes) for x in v]
    return v
