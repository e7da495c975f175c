"""The translators of ONNX's views: operators that move elements and compute nothing. Flatten,
Reshape, Squeeze, Unsqueeze and Transpose become ``flatten``, ``tokens`` (grid to tokens),
``permute`` or ``reshape``, or nothing when the sample's elements keep their order; Split and
Slice become channel parts (``chunk``, ``split``) or ``slice`` layers; Gather a ``take`` (or a
``reshape``, when constant indices move every element once). A view's result is a grid again
or is laid out channels last as its readers want (``wants_grid``).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .onnx_graph import GraphState


class ViewOps(GraphState):
    """One method per view operator: (kind, options) to emit, or None when handled."""

    def op_Flatten(self, node: Any, x: str) -> Any:
        if int(self.attrs().get("axis", 1)) != 1 or x in self.plain and self.plain[x][0] != 0:
            return self.view(node, x)
        return "flatten", {}

    def into_tokens(self, node: Any, x: str) -> bool:
        """Grid to tokens as exporters write it: (N, C, H, W) reshaped to (N, C, H·W) (torch's
        ``flatten(2)``) then Transpose(0, 2, 1), or Transpose(0, 2, 3, 1) then reshaped to
        (N, H·W, C). The first half passes the tensor on and the second becomes ``tokens``."""
        src, out = self.shapes.get(x), self.shapes.get(node.output[0])
        if x in self.half:
            if node.op_type == "Reshape" and out is not None and len(out) == 3:
                self.emit("tokens", {}, x)
                self.mark_tokens(node.output[0])
                return True
            if node.op_type == "Transpose" and list(self.attrs().get("perm", [])) == [0, 2, 1]:
                self.emit("tokens", {}, x)
                self.mark_tokens(node.output[0])
                return True
            return False
        if src is None or out is None or len(src) != 4 or None in src[1:] or None in out[1:]:
            return False
        readers = self.readers.get(node.output[0], [])
        c, hw = src[1], (src[2] or 0) * (src[3] or 0)

        def perm(n: Any) -> List[int]:
            return next((list(self.onnx.helper.get_attribute_value(a)) for a in n.attribute if a.name == "perm"), [])

        if node.op_type == "Reshape" and out[1:] == [c, hw]:
            ok = all(n.op_type == "Transpose" and perm(n) == [0, 2, 1] for n in readers)
        elif node.op_type == "Transpose" and perm(node) == [0, 2, 3, 1]:
            ok = all(n.op_type == "Reshape" and self.shapes.get(n.output[0], [])[1:] == [hw, c] for n in readers)
        else:
            return False
        if not readers or not ok:
            return False
        self.refs[node.output[0]] = self.refs[x]
        self.half.add(node.output[0])
        return True

    def op_Reshape(self, node: Any, x: str) -> Any:
        """To (batch, everything) is a flatten; grid to tokens is ``tokens``; any other new shape
        of the same elements is a ``reshape`` (see ``view``)."""
        if self.into_tokens(node, x):
            return None
        out, full = self.shapes.get(node.output[0]), self.static_dims(x)
        batch_first = x not in self.plain or self.plain[x][0] == 0
        if out is not None and len(out) == 2 and batch_first and (full is None or out[1] == math.prod(full[1:])):
            return "flatten", {}
        if out is None and len(node.input) > 1:
            target = self.values(node.input[1])
            if target is not None and len(target) == 2 and target[0] in (0, 1, -1) and batch_first:
                return "flatten", {}
        return self.view(node, x)

    op_Squeeze = op_Unsqueeze = op_Reshape

    # --- shape plumbing: parts of the channels, permutations -----------------------------

    @staticmethod
    def part(sizes: Sequence[int], index: int) -> Tuple[str, Dict[str, Any]]:
        """One of the channel parts ``sizes`` as chunk (equal parts) or split."""
        if len(set(sizes)) == 1:
            return "chunk", {"chunks": len(sizes), "index": index}
        return "split", {"sizes": list(sizes), "index": index}

    def op_Split(self, node: Any, x: str) -> Any:
        """Split along the channels: one chunk/split layer per output in use, named name.i."""
        a = self.attrs()
        rank, c = len(self.shapes.get(x, [])), self.channels(x)
        if c is None or int(a.get("axis", 0)) % rank != self.channel_axis(x):
            return self.unknown(node, x)
        n = len(node.output)
        sizes = [int(v) for v in a["split"]] if "split" in a else None
        if sizes is None and len(node.input) > 1 and node.input[1]:
            read = self.values(node.input[1])
            if read is None:
                return self.unknown(node, x)
            sizes = [int(v) for v in read]
        if sizes is None:  # equal parts; opset 18 makes the last smaller when they do not divide
            each = -(-c // n)
            sizes = [each] * (n - 1) + [c - each * (n - 1)]
        if len(sizes) != n or sum(sizes) != c or min(sizes) <= 0:
            raise self.fail(f"split sizes {sizes} do not cut {c} channels into {n} outputs")
        names = {}
        for i, o in enumerate(node.output):
            if o and (self.consumers.get(o) or any(v.name == o for v in self.graph.output)):
                kind, options = self.part(sizes, i)
                self.emit(kind, options, x, f".{i}")
                names[o] = self.last
        self.refs.update(names)
        return None

    def op_Slice(self, node: Any, x: str) -> Any:
        """A contiguous range of the channels (step 1) is a split part, whose receptive field
        follows; any other range (another axis, a step, several axes) is a chain of ``slice``
        layers, one per axis. Starts and ends clip as Python's slices do; a negative step, a
        range of the batch or one not constant is unknown."""
        a = self.attrs()
        shape, c = self.shapes.get(x), self.channels(x)
        if "starts" in a:  # Slice-1: attributes
            starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
        else:
            ins = list(node.input) + [""] * 5
            starts, ends = self.values(ins[1]), self.values(ins[2])
            axes = self.values(ins[3]) if ins[3] else None
            steps = self.values(ins[4]) if ins[4] else None
            if ins[3] and axes is None or ins[4] and steps is None:
                return self.unknown(node, x)
        if shape is None or starts is None or ends is None or not starts or len(starts) != len(ends):
            return self.unknown(node, x)
        on = [int(v) % len(shape) for v in axes] if axes else list(range(len(starts)))
        every = [int(v) for v in steps] if steps else [1] * len(starts)
        if len(starts) == 1 and on[0] == self.channel_axis(x) and every[0] == 1 and c is not None:
            start, end = (int(min(max(v + c if v < 0 else v, 0), c)) for v in (starts[0], ends[0]))
            if end > start:
                sizes = [s for s in (start, end - start, c - end) if s > 0]
                return self.part(sizes, 1 if start > 0 else 0)
        src, full = self.layout_in(x), self.static_dims(x)
        if src is None or full is None or min(every) < 1 or len(on) != len(starts):
            return self.unknown(node, x)
        b, dims, axis_of = src
        ranges = []
        for start, end, axis, step in zip(starts, ends, on, every):
            at = axis_of[axis]
            n = full[axis]
            first, last = (int(min(max(v + n if v < 0 else v, 0), n)) for v in (start, end))
            if at is None or len(range(first, last, step)) < 1:
                return self.unknown(node, x)  # the batch, or nothing taken
            ranges.append((at, first, last, step))
        source = x
        for i, (at, first, last, step) in enumerate(ranges):
            options: Dict[str, Any] = {"axis": at, "start": first, "step": step}
            if last < dims[at]:
                options["stop"] = last
            self.emit("slice", options, source, f".{i}" if i else "")
            source = node.output[0]
            dims = dims[:at] + (len(range(first, last, step)),) + dims[at + 1:]
        if x in self.plain:
            self.plain[node.output[0]] = (b, dims)
        return None

    def flattened(self, tensor: str) -> bool:
        """Every reader of ``tensor`` flattens it to (batch, n): the order of its axes is lost."""
        readers = self.readers.get(tensor, [])
        return bool(readers) and not any(v.name == tensor for v in self.graph.output) and all(
            (n.op_type == "Flatten" and int(next((self.onnx.helper.get_attribute_value(at) for at in n.attribute
                                                  if at.name == "axis"), 1)) == 1)
            or (n.op_type == "Reshape" and len(self.shapes.get(n.output[0], [])) == 2) for n in readers)

    def op_Transpose(self, node: Any, x: str) -> Any:
        """A permutation whose every reader flattens (NCHW -> NHWC before a classifier): sizes
        are unchanged and the flatten counts the same, so it is the same tensor. Grid to tokens
        is ``tokens``; any other permutation is a ``permute`` (see ``view``)."""
        perm = [int(p) for p in self.attrs().get("perm", [])]
        batch_stays = bool(perm) and perm[0] == 0 and (x not in self.plain or self.plain[x][0] == 0)
        if batch_stays and self.flattened(node.output[0]):
            self.refs[node.output[0]] = self.refs[x]
            return None
        if self.into_tokens(node, x):
            return None
        return self.view(node, x, perm or list(range(len(self.shapes.get(x, []))))[::-1])

    # --- views: tensors laid out channels last -------------------------------------------

    def view(self, node: Any, x: str, perm: Optional[List[int]] = None) -> Any:
        """A Transpose (``perm``) or a new shape (Reshape, Squeeze, Unsqueeze, Flatten) of the same
        elements: convcalc's ``permute`` where the axes map one to one, else ``reshape`` to the
        dims the file records; nothing when the sample's dims are unchanged (a batch axis moved)."""
        o = node.output[0]
        src, out, full = self.layout_in(x), self.static_dims(o), self.static_dims(x)
        if src is None or out is None or full is None or math.prod(out) != math.prod(full):
            return self.unknown(node, x)
        b_in, dims_in, axes = src
        if perm is not None:
            if sorted(perm) != list(range(len(full))) or len(out) != len(full):
                return self.unknown(node, x)
            hint = perm.index(b_in) if b_in is not None else None
        else:
            hint = b_in if b_in is not None and out[:b_in + 1] == full[:b_in + 1] else None
        grid = len(out) >= 3 and out[0] == (self.batch or 1) and hint in (0, None) \
            and self.wants_grid(o, default=x not in self.plain)
        if grid:
            b_out: Optional[int] = 0
            dims_out, order = (*out[2:], out[1]), [*range(2, len(out)), 1]
            self.plain.pop(o, None)
            self.grids.add(o)
        else:
            b_out = self.batch_axis(o, out, hint)
            order = [j for j in range(len(out)) if j != b_out]
            dims_out = tuple(out[j] for j in order)
            self.plain[o] = (b_out, dims_out)
        if dims_out == dims_in and (perm is None or [axes[perm[j]] for j in order] == list(range(len(dims_in)))):
            self.refs[o] = self.refs[x]  # the same elements in the same order per sample
            return None
        if perm is not None:
            taken = [axes[perm[j]] for j in order]
            if sorted(i for i in taken if i is not None) == list(range(len(dims_in))) and None not in taken:
                return "permute", {"order": tuple(int(i) for i in taken if i is not None)}
        return "reshape", {"to": dims_out}

    def op_Gather(self, node: Any, x: str) -> Any:
        """One index along one axis (``qkv[0]``): ``take``. Constant indices that move every element
        once (what torch's ``as_strided`` exports to) are data movement, no arithmetic: ``reshape``
        to the recorded dims. Indexing a table by an activation (an embedding lookup) or a gather
        that keeps fewer elements: unknown."""
        values = self.values(node.input[1]) if len(node.input) > 1 else None
        src, full = self.layout_in(x), self.static_dims(x)
        out = self.static_dims(node.output[0])
        if (node.input[0] == x and len(node.input) > 1 and node.input[1] not in self.refs and values is None
                and full is not None and out is not None and math.prod(out) == math.prod(full)):
            return self.view(node, x)  # every element moved by constant indices (torch's as_strided): data only
        if node.input[0] != x or values is None or len(values) != 1 or self.dims(node.input[1]) != () \
                or src is None or full is None:
            return self.unknown(node, x)
        b, dims, axes = src
        axis = int(self.attrs().get("axis", 0)) % len(full)
        at = axes[axis]
        if at is None or (x not in self.plain and at == len(dims) - 1) or len(dims) < 2:
            return self.unknown(node, x)  # the batch, or a grid's channels
        index = int(values[0]) + (full[axis] if values[0] < 0 else 0)
        if x in self.plain:
            self.plain[node.output[0]] = (None if b is None else b - int(axis < b), dims[:at] + dims[at + 1:])
        return "take", {"index": index, "axis": at}
