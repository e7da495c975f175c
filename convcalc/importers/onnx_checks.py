"""What an ONNX node's initializers and window attributes must be, checked before the node is
translated: a file's claims are checked, never believed (issue 19).

convcalc sizes a layer from its weight's dims (a conv's filters, a Gemm's units) and counts its
parameters from the input it sees, so a weight that does not fit its input would otherwise be
reported as a different, smaller or larger, layer than the file holds. ONNX's own checker does
not look (shape inference tolerates a conv whose weight has 5 channels on a 3-channel input), so
every rule here is ONNX's operator definition, stated where it is checked:

- Conv: W is (M, C/group, k1, ..., kn), B is (M,); ConvTranspose: W is (C, M/group, k1, ...,
  kn), B is (M,); kernel_shape, when given, is W's k1...kn.
- kernel_shape, strides, dilations, output_padding hold one value per spatial axis, pads two
  (all begins, then all ends): n and 2n for an input of rank n + 2.
- Gemm: A (M, K) times B (K, N), or (N, K) with transB; C one value per unit N (convcalc's fc
  bias; ONNX's other broadcasts of C are not a layer's bias and are refused as such).
  MatMul by a weight: the input's last axis is the weight's K.
- BatchNormalization: scale, B, mean, var one per channel (the input's axis 1);
  InstanceNormalization: scale, B one per channel; LayerNormalization over the last axis:
  scale and B one per value of that axis.
- PRelu: the slope broadcasts to the input from the last axis (ONNX's unidirectional
  broadcast).

The input's sizes are those onnx's shape inference records. The walk is in topological order
and stops at the first node that does not fit, so every size before it was made by nodes that
did; where an input size is not recorded, what depends on it is not checked, the rest is.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

from ..errors import SpecError
from .onnx_fold import FOLDED
from .onnx_graph import GraphState

HINT = "the file's weights do not fit its graph: it was edited by hand or written by a faulty exporter"
PER_AXIS = {"kernel_shape": 1, "strides": 1, "dilations": 1, "output_padding": 1, "pads": 2}
"""How many values each window attribute holds per spatial axis (pads: a begin and an end)."""


def shown(dims: Sequence[Any]) -> str:
    """Dims as a person writes them: 8x3x3x3; a scalar (no dims) says so."""
    return "x".join(str(d) for d in dims) if len(dims) else "a scalar"


def per_unit(dims: Sequence[int]) -> Tuple[int, ...]:
    """``dims`` without leading 1s: (1, 10) and (10,) both hold one value per unit of 10."""
    trimmed = tuple(dims)
    while len(trimmed) > 1 and trimmed[0] == 1:
        trimmed = trimmed[1:]
    return trimmed


class WeightChecks(GraphState):
    """The checks of a node's initializers and attributes against its input: each raises a
    located error naming the node, the initializer, what it is and what it must be."""

    def onnx_dims(self, x: str) -> Optional[Tuple[Optional[int], ...]]:
        """``x``'s ONNX dims as inferred (None where one is not known), or None with no shape."""
        s = self.shapes.get(x)
        return None if s is None else tuple(None if d is None or d <= 0 else int(d) for d in s)

    def onnx_axis(self, x: str, axis: int) -> Optional[int]:
        dims = self.onnx_dims(x)
        return dims[axis] if dims is not None and -len(dims) <= axis < len(dims) else None

    def misfit(self, what: str, name: str, found: Sequence[int], message: str) -> SpecError:
        """The error for initializer ``name``, called by the name the file gives it (not a folded copy's)."""
        if name.endswith(FOLDED):
            name = name[:-len(FOLDED)]
        return self.fail(f"its {what} '{name[:100]}' is {shown(found)}: {message}", hint=HINT)

    def input_dims(self, node: Any, i: int) -> Optional[Tuple[str, Tuple[int, ...]]]:
        """Node input ``i``'s name and dims when it is an initializer (or a Constant's tensor)."""
        if len(node.input) <= i or not node.input[i]:
            return None
        dims = self.dims(node.input[i])
        return None if dims is None else (node.input[i], dims)

    def window_lengths(self, a: Dict[str, Any], axes: int, what: str) -> None:
        """kernel_shape, strides, dilations, output_padding: ``axes`` values; pads 2·``axes``."""
        for key, per in PER_AXIS.items():
            if key in a and len(a[key]) != per * axes:
                raise self.fail(f"{key} {list(a[key])} has {len(a[key])} value{'s' * (len(a[key]) != 1)}, "
                                f"where {what} over {axes} spatial ax{'is' if axes == 1 else 'es'} takes "
                                f"{per * axes}" + (" (every axis' begin, then every axis' end)" if per == 2 else ""),
                                hint="ONNX's own checker refuses this file too; export it again")

    def spatial_rank(self, x: str, axes: int, what: str) -> None:
        """The input has ``axes`` spatial axes after the batch and the channels."""
        dims = self.onnx_dims(x)
        if dims is not None and len(dims) != axes + 2:
            raise self.fail(f"its input is {shown(['?' if d is None else d for d in dims])}, rank {len(dims)}, "
                            f"where {what} over {axes} spatial ax{'is' if axes == 1 else 'es'} takes rank {axes + 2}",
                            hint=HINT)

    def check_conv(self, node: Any, x: str, w: Tuple[int, ...], a: Dict[str, Any], transposed: bool) -> None:
        """Conv: W (M, C/group, k...), B (M,). ConvTranspose: W (C, M/group, k...), B (M,)."""
        what = "a transposed conv" if transposed else "a conv"
        wname = node.input[1]
        layout = "channels x filters/group x kernel" if transposed else "filters x channels/group x kernel"
        if len(w) < 3:
            raise self.misfit("weight", wname, w, f"{what}'s weight is {layout}, of rank 3 or more")
        axes = len(w) - 2
        self.spatial_rank(x, axes, what)
        self.window_lengths(a, axes, what)
        if "kernel_shape" in a and tuple(int(k) for k in a["kernel_shape"]) != w[2:]:
            raise self.misfit("weight", wname, w, f"its kernel {shown(w[2:])} is not kernel_shape "
                                                  f"{shown(list(a['kernel_shape']))}")
        group = int(a.get("group", 1))
        if group < 1:
            raise self.fail(f"group {group}: a conv has one group or more", hint=HINT)
        c = self.onnx_axis(x, 1)
        if transposed:
            filters = w[1] * group
            if c is not None and w[0] != c:
                raise self.misfit("weight", wname, w, f"on an input of {c} channels it must be "
                                                      f"{shown((c, *w[1:]))} ({layout})")
        else:
            filters = w[0]
            if c is not None and w[1] * group != c:
                raise self.misfit("weight", wname, w, f"on an input of {c} channels in {group} group"
                                                      f"{'s' * (group != 1)} it must be "
                                                      f"{w[0]}x{shown([c // group] if c % group == 0 else ['?'])}x"
                                                      f"{shown(w[2:])} ({layout})")
        if w[0] % group:
            raise self.misfit("weight", wname, w, f"its first axis ({w[0]}) does not divide into {group} groups")
        bias = self.input_dims(node, 2)
        if bias is not None and bias[1] != (filters,):
            raise self.misfit("bias", bias[0], bias[1], f"{what} of {filters} filters takes one bias per filter, "
                                                        f"{filters}")

    def check_pool(self, x: str, kernel: Sequence[int], a: Dict[str, Any]) -> None:
        self.spatial_rank(x, len(kernel), "a pool")
        self.window_lengths(a, len(kernel), "a pool")

    def check_product(self, node: Any, x: str, w: Tuple[int, ...], trans_b: bool) -> int:
        """Gemm's B or MatMul's weight against the input's features; its units."""
        if len(w) != 2:
            raise self.misfit("weight", node.input[1], w, "a fully connected layer's weight is a matrix, of rank 2")
        features, units = (w[1], w[0]) if trans_b else w
        k = self.onnx_axis(x, -1)
        if k is not None and k != features:
            written = f"{units}x{k} (units x features, transB=1)" if trans_b else f"{k}x{units} (features x units)"
            raise self.misfit("weight", node.input[1], w, f"on an input of {k} features it must be {written}")
        return units

    def check_bias(self, node: Any, i: int, units: int) -> None:
        bias = self.input_dims(node, i)
        if bias is not None and per_unit(bias[1]) != (units,):
            raise self.misfit("bias", bias[0], bias[1], f"a fully connected layer of {units} units takes one "
                                                        f"bias per unit, {units}")

    def check_per_channel(self, node: Any, x: str, inputs: Sequence[Tuple[int, str]], axis: int = 1) -> None:
        """Inputs ``(index, role)`` hold one value per channel: along ONNX axis ``axis`` of ``x``."""
        c = self.onnx_axis(x, axis)
        seen: Dict[Tuple[int, ...], str] = {}
        for i, role in inputs:
            found = self.input_dims(node, i)
            if found is None:
                continue
            name, dims = found
            if c is not None and dims != (c,):
                raise self.misfit(role, name, dims, f"on an input of {c} channels it must be {c} "
                                                    f"(one {role} per channel)")
            if len(dims) != 1 or (seen and dims not in seen):
                other = f" (as '{next(iter(seen.values()))}' is)" if seen else ""
                raise self.misfit(role, name, dims, f"it holds one value per channel, a vector{other}")
            seen.setdefault(dims, name)

    def check_slope(self, node: Any, x: str) -> None:
        """PRelu's slope broadcasts to the input, from the last axis (ONNX's unidirectional rule)."""
        found, dims = self.input_dims(node, 1), self.onnx_dims(x)
        if found is None or dims is None:
            return
        name, slope = found
        fits = len(slope) <= len(dims) and all(
            s == 1 or d is None or s == d for s, d in zip(reversed(slope), reversed(dims)))
        if not fits:
            raise self.misfit("slope", name, slope, f"it does not broadcast to the input "
                                                    f"{shown(['?' if d is None else d for d in dims])} (ONNX's "
                                                    "broadcast from the last axis: each size 1 or the input's)")
