"""An ONNX file's graph without its weights: a skim of the protobuf wire format, stdlib only.

Why: ``onnx.load`` reads the whole file and parses every byte of it, weights included: a
528 MB VGG-16 costs seconds and gigabytes, and protobuf refuses a message over 2 GiB, so a
model embedding more weights than that cannot be read at all. convcalc needs the graph only:
the nodes, the inputs, outputs and value_info, every initializer's dims, and the values of
the few small constants the importer reads (a Reshape's shape, pads, scales: at most
``SMALL`` elements).

How: the file is walked field by field as onnx.proto numbers them (the tables below), and
every byte is copied except the data of large tensors (raw_data, float_data, ... : the fields
in ``TENSOR_DATA``), which is passed over with a seek, never read. Only the messages that
lead to a tensor are descended into (model, graph, node, attribute, function, training info,
sparse tensor); everything else, known or not, is copied as it stands, and a message of at
most ``VERBATIM`` bytes is copied whole, since it cannot hold bulk data. Time and memory
then follow the graph, not the weights; a file of any size reads if its graph fits.

Why ``onnx`` still parses what is kept: it is the format's own reader, kept by the people who
define onnx.proto, so every field keeps its meaning (a field this skimmer has never heard of
included), and the importer works on onnx's objects as before. The skimmer knows the wire
format and a dozen field numbers, nothing of what they mean; a tensor it strips keeps its
dims, data type and name, with no data (and ``values`` never reads a tensor of more than
``SMALL`` elements).

Limits (README "Limits"): at most ``MAX_GRAPH_BYTES`` of the file are read (everything but
the data set aside: the spec limit, ``MAX_SPEC_BYTES``), at most ``MAX_FIELDS`` fields are
walked one by one, and the model's graph may hold at most ``MAX_NODES`` nodes
(``MAX_LAYERS``: every node may become a layer). A file that is not
protobuf at all, or is cut short, is an error naming the byte offset and the field it was in.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional

from ..errors import SpecError
from ..limits import MAX_LAYERS, MAX_NESTING, MAX_SPEC_BYTES

SMALL = 64
"""The most elements of a tensor whose data is kept (the importer reads no larger constant)."""

SMALL_BYTES = 16 * SMALL
"""The most data bytes kept for one tensor: 64 elements of the widest type (complex128)."""

VERBATIM = SMALL_BYTES
"""A message of at most this many bytes is copied whole: it cannot hold more data than this."""

MAX_GRAPH_BYTES = MAX_SPEC_BYTES
"""The most bytes of a model file read: all of it but the data of large tensors."""

MAX_NODES = MAX_LAYERS
"""The most nodes in the model's graph."""

MAX_FIELDS = 500_000
"""The most fields walked one by one (outside the messages copied whole): each costs 1.5 to 3 µs
in Python, so this bounds a hostile file of tiny fields to about 1.5 s. ResNet-50 walks 9,000;
20,000 nodes over 1 KiB (long doc_strings) and 20,000 initializers, about 300,000."""

CHUNK = 1 << 16  # bytes read from the file at a time

# onnx.proto's messages that lead to a tensor, and for each the fields to descend into.
MODEL, GRAPH, NODE, ATTRIBUTE, TENSOR, SPARSE, FUNCTION, TRAINING = range(8)
CHILDREN: Dict[int, Dict[int, int]] = {
    MODEL: {7: GRAPH, 20: TRAINING, 25: FUNCTION},                 # graph, training_info, functions
    GRAPH: {1: NODE, 5: TENSOR, 15: SPARSE},                       # node, initializer, sparse_initializer
    NODE: {5: ATTRIBUTE},                                          # attribute
    ATTRIBUTE: {5: TENSOR, 6: GRAPH, 10: TENSOR, 11: GRAPH, 22: SPARSE, 23: SPARSE},  # t, g, tensors, graphs, ...
    FUNCTION: {7: NODE, 11: ATTRIBUTE},                            # node, attribute_proto
    TRAINING: {1: GRAPH, 2: GRAPH},                                # initialization, algorithm
    SPARSE: {1: TENSOR, 2: TENSOR},                                # values, indices
}
NAMES: Dict[int, Dict[int, str]] = {
    MODEL: {7: "graph", 20: "training_info", 25: "functions"},
    GRAPH: {1: "node", 5: "initializer", 15: "sparse_initializer", 11: "input", 12: "output", 13: "value_info"},
    NODE: {5: "attribute"},
    ATTRIBUTE: {5: "t", 6: "g", 10: "tensors", 11: "graphs", 22: "sparse_tensor", 23: "sparse_tensors"},
    FUNCTION: {7: "node", 11: "attribute_proto"},
    TRAINING: {1: "initialization", 2: "algorithm"},
    SPARSE: {1: "values", 2: "indices"},
    TENSOR: {},
}
TENSOR_DIMS = 1
NODE_NAME = 3
TENSOR_DATA = frozenset((4, 5, 6, 7, 9, 10, 11))  # float_data, int32_data, string_data, int64_data,
#                                                    raw_data, double_data, uint64_data


class WireError(Exception):
    """The bytes are not a protobuf message, or not a small enough one: said at a byte offset."""


def varint_bytes(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_graph(path: Path, origin: str) -> bytes:
    """The model file at ``path`` with the data of its large tensors left out, as protobuf bytes."""
    try:
        with open(path, "rb", buffering=0) as f:
            return _Skim(f, origin).model()
    except OSError as e:
        raise SpecError(f"cannot read '{origin}': {e.strerror or e}") from None


class _Skim:
    def __init__(self, f: BinaryIO, origin: str) -> None:
        self.f = f
        self.origin = origin
        try:
            st = os.fstat(f.fileno())
            self.size: Optional[int] = st.st_size if f.seekable() and st.st_size > 0 else None
        except (OSError, io.UnsupportedOperation):
            self.size = None
        self.buf = b""
        self.at = 0  # index in buf of the next byte
        self.base = 0  # file offset of buf[0]
        self.skipped = 0  # bytes passed over without reading them (or read and thrown away)
        self.path: List[str] = []  # where in the model we are, for errors: graph, node 12, ...
        self.nodes = 0
        self.fields = 0

    # --- bytes -----------------------------------------------------------------------------

    def pos(self) -> int:
        return self.base + self.at

    def fail(self, message: str, at: Optional[int] = None) -> SpecError:
        where = f" ({' > '.join(self.path)})" if self.path else ""
        return SpecError(f"'{self.origin}' is not a readable ONNX model: at byte {self.pos() if at is None else at:,}"
                         f"{where}: {message}", hint="the file may be truncated, or another format with an .onnx name")

    def need(self, n: int) -> None:
        """At least ``n`` bytes in the buffer from ``at``, or the error that the file ends."""
        if len(self.buf) - self.at < n and not self.fill(n):
            raise self.fail(f"the file ends after {self.pos() + len(self.buf) - self.at:,} bytes, inside a field")

    def fill(self, n: int) -> bool:
        """Read until ``n`` bytes are buffered from ``at``; False when the file ends first."""
        self.within_limit(n)
        rest = self.buf[self.at:]
        self.base += self.at
        self.buf, self.at = rest, 0
        while len(self.buf) < n:
            more = self.f.read(max(CHUNK, n - len(self.buf)))
            if not more:
                return False
            self.buf += more
        return True

    def within_limit(self, n: int) -> None:
        """Refuse to read past MAX_GRAPH_BYTES of the file (the bytes passed over not counted)."""
        if self.pos() + n - self.skipped > MAX_GRAPH_BYTES:
            raise SpecError(f"'{self.origin}': its graph, the weights left out, is larger than convcalc's limit "
                            f"of {MAX_GRAPH_BYTES:,} bytes")

    def more(self, end: Optional[int]) -> bool:
        """True while the message goes on: up to ``end``, or (None) to the end of a pipe."""
        if end is not None:
            return self.pos() < end
        return self.at < len(self.buf) or self.fill(1)

    def varint(self) -> int:
        if self.at < len(self.buf) and self.buf[self.at] < 0x80:  # one byte: the common case
            self.at += 1
            return self.buf[self.at - 1]
        start, value = self.pos(), 0
        for shift in range(0, 70, 7):
            self.need(1)
            b = self.buf[self.at]
            self.at += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
        raise self.fail("a varint longer than 10 bytes", start)

    def take(self, n: int) -> bytes:
        self.need(n)
        self.at += n
        return self.buf[self.at - n:self.at]

    def skip(self, n: int) -> None:
        self.skipped += n
        if self.at + n <= len(self.buf):
            self.at += n
            return
        target = self.pos() + n
        if self.size is not None:  # a file: seek over the bytes, which are never read
            if target > self.size:
                raise self.fail(f"a field of {n:,} bytes runs past the end of the file ({self.size:,} bytes)")
            self.f.seek(target)
            self.base, self.buf, self.at = target, b"", 0
            return
        n -= len(self.buf) - self.at  # a pipe: read and throw away
        self.base, self.buf, self.at = self.pos() + len(self.buf) - self.at, b"", 0
        while n > 0:
            got = len(self.f.read(min(n, CHUNK)))
            if got == 0:
                raise self.fail("the file ends inside a field")
            self.base += got
            n -= got

    # --- messages --------------------------------------------------------------------------

    def model(self) -> bytes:
        out = bytes(self.message(self.size, MODEL))
        self.within_limit(0)  # the last chunk read counts too
        return out

    def message(self, end: Optional[int], kind: int) -> bytearray:
        """The message up to file offset ``end`` (None: the file's end) with large tensors' data left out."""
        out = bytearray()
        children, names = CHILDREN.get(kind, {}), NAMES.get(kind, {})
        counts: Dict[int, int] = {}
        dims: List[int] = []
        data = bytearray()  # a tensor's data fields, while they are small enough to keep
        data_size = 0
        while self.more(end):
            start = self.pos()
            key = self.varint()
            field, wire = key >> 3, key & 7
            if field == 0 or field >= 1 << 29:
                raise self.fail(f"field number {field} is not a protobuf field", start)
            counts[field] = counts.get(field, 0) + 1
            self.fields += 1
            if self.fields > MAX_FIELDS:
                raise SpecError(f"'{self.origin}': more than {MAX_FIELDS:,} protobuf fields outside the weights, "
                                "convcalc's limit", hint="is this an ONNX model file?")
            if kind == TENSOR and field in TENSOR_DATA:
                n = self.length(end) if wire == 2 else {0: 10, 1: 8, 5: 4}.get(wire, 0)  # a varint: at most 10
                data_size += n
                if data_size <= SMALL_BYTES:
                    data += varint_bytes(key) + (varint_bytes(n) + self.take(n) if wire == 2 else self.copy(wire, end))
                elif wire == 2:
                    data.clear()
                    self.skip(n)  # the weights: passed over with a seek, never read
                else:
                    data.clear()
                    self.copy(wire, end)
                continue
            if kind == TENSOR and field == TENSOR_DIMS and wire in (0, 2):
                raw = self.take(self.length(end)) if wire == 2 else varint_bytes(self.varint())
                dims.extend(self.varints(raw))
                out += varint_bytes(key) + (varint_bytes(len(raw)) if wire == 2 else b"") + raw
                continue
            if kind == NODE and field == NODE_NAME and wire == 2:  # said in errors inside the node
                name = self.take(self.length(end))
                out += varint_bytes(key) + varint_bytes(len(name)) + name
                shown = "".join(c if c.isprintable() else "?" for c in name[:100].decode("utf-8", "replace"))
                self.path[-1] = f"{self.path[-1]} '{shown}'"
                continue
            if wire != 2 or field not in children:
                out += varint_bytes(key) + self.copy(wire, end)
                continue
            n = self.length(end, cut_ok=True)
            if kind == GRAPH and field == 1 and self.path == ["graph"]:
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    raise SpecError(f"'{self.origin}': the graph has more than {MAX_NODES:,} nodes, "
                                    f"convcalc's limit (each node may become a layer)")
            label = names.get(field, f"field {field}")
            label = label if label == "graph" else f"{label} {counts[field]}"
            cut = self.size is not None and self.pos() + n > self.size  # the file is cut short in here
            if n <= VERBATIM and not cut:
                out += varint_bytes(key) + varint_bytes(n) + self.take(n)
                continue
            if len(self.path) >= MAX_NESTING:
                raise self.fail(f"messages nested more than {MAX_NESTING} deep", start)
            self.path.append(label)
            sub = self.message(min(self.pos() + n, self.size) if self.size is not None else self.pos() + n,
                               children[field])
            if cut:  # the cut fell between two fields of this message: said here, where it is
                raise self.fail(f"the file ends inside this {label.split()[0]}, {n - (self.pos() - start):,} "
                                f"bytes short (a length of {n:,} bytes)")
            self.path.pop()
            out += varint_bytes(key) + varint_bytes(len(sub)) + sub
        if end is not None and self.pos() > end:  # a number (fixed or varint) ran over the message's end
            raise self.fail(f"the last field runs {self.pos() - end:,} bytes past the end of its message", end)
        if kind == TENSOR:
            return self.tensor(out, dims, data, data_size)
        return out

    def tensor(self, head: bytearray, dims: List[int], data: bytearray, size: int) -> bytearray:
        """The tensor's fields, its data too when it has at most SMALL elements and SMALL_BYTES of data."""
        elements = 1
        for d in dims:
            if d < 0 or d >= 1 << 63:  # negative as an int64: not a size
                elements = SMALL + 1
                break
            elements *= d
            if elements > SMALL:
                break
        if elements <= SMALL and size <= SMALL_BYTES:
            head += data
        return head

    def length(self, end: Optional[int], cut_ok: bool = False) -> int:
        """A length prefix, checked against the end of its message (and of the file, unless
        ``cut_ok``: a message cut short is walked, to say where in it the file ends)."""
        at = self.pos()
        n = self.varint()
        inner = end is not None and (self.size is None or end < self.size)
        if inner and end is not None and self.pos() + n > end or not cut_ok and self.size is not None and self.pos() + n > self.size:
            what, limit = ("its message", end) if inner else ("the file", self.size)
            raise self.fail(f"a field of {n:,} bytes runs past the end of {what} "
                            f"({(limit or 0) - self.pos():,} bytes left)", at)
        return n

    def copy(self, wire: int, end: Optional[int]) -> bytes:
        """The value of a field of wire type ``wire`` as it is written (its key already read)."""
        if wire == 0:
            return varint_bytes(self.varint())
        if wire == 1:
            return self.take(8)
        if wire == 5:
            return self.take(4)
        if wire == 2:
            n = self.length(end)
            return varint_bytes(n) + self.take(n)
        raise self.fail(f"wire type {wire} is not used by ONNX (3 and 4 are protobuf's old groups, "
                        "6 and 7 do not exist)")

    def varints(self, raw: bytes) -> List[int]:
        """Packed int64s (a tensor's dims); at most SMALL + 1 are needed to tell a small tensor."""
        values, value, shift = [], 0, 0
        for b in raw:
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                values.append(value)
                value, shift = 0, 0
            elif shift >= 70:
                raise self.fail("a varint longer than 10 bytes in a tensor's dims")
        if shift:
            raise self.fail("a tensor's dims end inside a varint")
        return values
