"""A TorchScript file (``torch.jit.save`` of a traced or scripted module, .pt) -> NetworkSpec.

Why through torch.export: a TorchScript graph records no shapes once saved (its values are
``Tensor``, sizes unknown) and calls modules' ``forward`` methods, not aten operators; torch's
own converter (``torch._export.converter.TS2EPConverter``) turns it into an exported program of
aten operators, which torch_export.py already walks. The converter makes every size dynamic and
lifts parameters as buffers, so its program is exported once more at the one size given, every
shape fixed, and the buffers that are the module's parameters are read as parameters.

What the file does not keep: its input's size (``--input`` gives it, in convcalc's order,
channels last: ``8x8x3`` is traced as (1, 3, 8, 8)), and the module path of each operator: a
row that reads parameters is named by their module ('0', 'features.3'), any other by its
operator ('relu').
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

from ..errors import SpecError
from ..shape import Shape
from ..spec.model import NetworkSpec
from ..values import replace
from .torch_export import import_torch, quiet_logs, read_program, tied

HINT = ("save one with torch.jit.save(torch.jit.trace(model, x), 'model.pt'); a state_dict saved by torch.save keeps "
        "no graph: read the live module with convcalc.from_torch(model, input_size)")


def read_torchscript(path_or_text: Any, origin: str, input: Optional[Shape] = None) -> NetworkSpec:
    """The module in TorchScript file ``path_or_text`` traced on one sample of ``input``."""
    if input is None:
        raise SpecError(f"'{origin}' is a TorchScript file, which records no input size",
                        hint="give it with --input, channels last: --input 224x224x3 is traced as (1, 3, 224, 224) "
                             "(in Python: convcalc.read(path, input='224x224x3'))")
    torch = import_torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit says it is deprecated, on every call
        try:
            module = torch.jit.load(str(path_or_text), map_location="cpu")
        except Exception as e:
            raise SpecError(f"'{origin}' is not a TorchScript file ({_first_line(e)})", hint=HINT) from None
        example = torch.zeros((1, input.channels, *input.spatial))
        try:
            from torch._export.converter import TS2EPConverter  # type: ignore[import-not-found]

            with quiet_logs():  # the converter logs that it fixed the batch of 1 it was given
                converted = TS2EPConverter(module, (example,)).convert()
                program = torch.export.export(converted.module(), (example,))
        except Exception as e:
            raise SpecError(f"torch cannot convert TorchScript file '{origin}' on input {input} (traced as "
                            f"{list(example.shape)}): {_first_line(e)}",
                            hint="check --input; or export the live module with torch.export.save") from None
    named = list(module.named_parameters())
    trainable = {name: bool(p.requires_grad) for name, p in named}
    sig = program.graph_signature
    lifted = {**dict(sig.inputs_to_buffers), **dict(sig.inputs_to_parameters)}
    parameters = {p: fqn for p, fqn in lifted.items() if fqn in trainable}
    _name_by_parameters(program.graph, parameters)
    spec = read_program(_AsParameters(program, parameters), origin, trainable, tied(named))
    stem = origin.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return replace(spec, title=f"{stem} (TorchScript, converted by torch)",
                   notes=(*spec.notes, "read from TorchScript through torch's TS2EPConverter: rows that read "
                          "parameters are named by their module, the others by their operator"))


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:300] if text else ''}"


def _name_by_parameters(graph: Any, parameters: Dict[str, str]) -> None:
    """The converter keeps no module path: an operator that reads parameters gets their module's
    ('0.weight' and '0.bias' -> '0'), as the walk reads it (``nn_module_stack``)."""
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        owners = {parameters[a.name].rsplit(".", 1)[0] for a in node.all_input_nodes if a.name in parameters}
        if len(owners) == 1:
            node.meta["nn_module_stack"] = {"m": (owners.pop(), "")}


class _Signature:
    def __init__(self, parameters: Dict[str, str], users: Any) -> None:
        self.inputs_to_parameters = parameters
        self.user_inputs = users


class _AsParameters:
    """``program`` with the buffers that are the module's parameters read as its parameters."""

    def __init__(self, program: Any, parameters: Dict[str, str]) -> None:
        self.graph = program.graph
        self.graph_signature = _Signature(parameters, program.graph_signature.user_inputs)
