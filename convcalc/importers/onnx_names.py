"""Row names from the module paths an exporter records, and what it says it rewrote.

PyTorch's exporter (``torch.onnx.export(..., dynamo=True)``) names its nodes after aten operators
(``node_Conv_16``, ``node_linear_3``) but records, in each node's ``metadata_props``, the module
that ran it: ``pkg.torch.onnx.name_scopes`` (``['', 'layer1', 'layer1.0', 'layer1.0.conv1',
'conv2d']``: the root, each module's path down to the one that ran it, the fx node) and ``namespace`` (``': ResNet/layer1: Sequential/...'``),
checked with torch 2.14. The rows are named from them as ``print(model)`` names the modules
(``layer1.0.conv1``), as convcalc's PyTorch importer names them (torch_graph.py). A conv's or a
Gemm's weight keeps its parameter's name (``layer1.0.conv1.weight``), which wins: a conv the
exporter fused with the BatchNorm after it carries that BatchNorm's scope.

The rewrite said here: the exporter's optimiser folds each BatchNorm that follows a conv into the
conv (``pkg.onnxscript.rewriter.rule_name`` ``FuseBatchNormIntoConv``), which changes what the
file holds against the module: ``folded_note``.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

SCOPES = "pkg.torch.onnx.name_scopes"
NAMESPACE = "namespace"
RULE = "pkg.onnxscript.rewriter.rule_name"
_NUMBERED = re.compile(r"_\d+$")  # fx numbers a module's second relu 'relu_1'


def node_scopes(node: Any) -> Optional[List[str]]:
    """The module path and the operator the exporter recorded for ``node``, or None."""
    props = {p.key: p.value for p in node.metadata_props}
    scopes: Any = None
    if SCOPES in props and len(props[SCOPES]) < 4096:
        try:
            scopes = ast.literal_eval(props[SCOPES])
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            scopes = None
    if not (isinstance(scopes, list) and scopes and all(isinstance(s, str) for s in scopes)) and NAMESPACE in props:
        scopes = [part.split(":")[0].strip() for part in props[NAMESPACE][:4096].split("/")]
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        return None
    if scopes[0] == "":  # the root module
        scopes = scopes[1:]
    return scopes or None


def scoped_names(nodes: Sequence[Any], weight_of: Dict[int, str]) -> Dict[int, str]:
    """id(node) -> its row name: the module's path when the module is a leaf that runs one kind
    of operator ('layer1.0.conv1'), else the path and the operator ('layer1.0.add'); a node
    whose weight is a parameter ``<path>.weight``, that path (``weight_of``)."""
    found: Dict[int, Tuple[str, str]] = {}
    for n in nodes:
        scopes = node_scopes(n)
        if scopes:
            found[id(n)] = (module(scopes[:-1]), _NUMBERED.sub("", scopes[-1]))
    paths: Dict[str, Set[str]] = {}
    for path, op in found.values():
        paths.setdefault(path, set()).add(op)
    leaves = {p for p in paths if p and not any(q.startswith(p + ".") for q in paths)}
    out: Dict[int, str] = {}
    for i, (path, op) in found.items():
        out[i] = op if not path else path if path in leaves and len(paths[path]) == 1 else f"{path}.{op}"
    out.update(weight_of)
    return out


def module(parts: Sequence[str]) -> str:
    """The module path from its scopes: torch 2.14 writes each level's whole path ('layer1',
    'layer1.0', 'layer1.0.conv1'), so the last is it; scopes of one name each are joined."""
    if all(parts[i].startswith(parts[i - 1] + ".") for i in range(1, len(parts))):
        return parts[-1] if parts else ""
    return ".".join(parts)


def folded_note(nodes: Sequence[Any]) -> Optional[str]:
    """What the file leaves out when the exporter folded BatchNorms into convs, or None."""
    fused = [n for n in nodes if any(p.key == RULE and "FuseBatchNorm" in p.value for p in n.metadata_props)]
    if not fused:
        return None
    return (f"the exporter folded {len(fused)} BatchNorm{'s' if len(fused) > 1 else ''} into the conv before "
            f"{'each' if len(fused) > 1 else 'it'} (onnxscript's FuseBatchNormIntoConv): such a conv carries a bias "
            "of C in place of the BatchNorm's 2·C γ, β (params) and 2·C running statistics (buffers), so this file "
            "holds fewer params than the PyTorch module's sum(p.numel()), and no buffers for them; the MACs are the "
            "same (convcalc counts no BatchNorm MACs)")
