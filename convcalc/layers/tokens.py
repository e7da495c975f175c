"""Tokens and attention: a sequence is a Shape with one axis, L tokens of C channels.

Grid to sequence and back (tokens, togrid), the class token, position embedding, one token as a
vector, a linear map at each position (pwlinear), a learned tensor of any shape (parameter), and
multi-head self-attention: over a batch of sequences, or within windows of a grid (Swin, MaxViT)."""

from __future__ import annotations

import math
from typing import ClassVar, Optional, Tuple

from ..errors import LayerError
from ..shape import Shape
from ..values import value
from .base import Layer, Note, Step, window_text
from .options import Ints, boolean, choice, non_negative, option, per_axis, positive


def positions(x: Shape) -> int:
    """Where a per-position rule runs: H·W on a grid, L on a sequence, once on a vector."""
    return math.prod(x.spatial)


def dims_text(dims: Ints) -> str:
    """Dims as written, one number for one dim: ``169x3``, ``64`` (``window_text`` squares one number)."""
    return "x".join(map(str, dims))


def check_sequence(x: Shape, what: str) -> int:
    """The length L of a token sequence (``LxC``); a grid or a vector is refused with what to do."""
    if x.rank != 1:
        got = "the flat vector" if x.rank == 0 else "the grid"
        raise LayerError(f"{what} needs a sequence of tokens (LxC), got {got} {x}",
                         hint="'tokens' turns an HxWxC grid into a sequence of H·W tokens")
    return x.spatial[0]


@value
class PositionLinear(Layer):
    """A linear map of the channels at each position, without flattening: PyTorch's ``nn.Linear``
    applied to the last dimension of a channels-last grid (ConvNeXt's block) or of a token
    sequence (a transformer's MLP); a 1x1 conv by another name.

    Shape: ``HxWxC → HxWxunits`` (``LxC → Lxunits``). Params: ``C·units + units`` (the bias term
    only with bias). MACs: ``positions·C·units``, positions = H·W (or L), one per weight per
    position (nn.Linear's ``y = xWᵀ + b`` at each position).
    """

    family: ClassVar[str] = "linear"
    counter: ClassVar[str] = "weight"
    leading: ClassVar[Optional[str]] = "units"

    units: int = option(convert=positive, aliases=("out_features", "features", "filters"),
                        help="output channels at each position")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",),
                        help="learn a bias per unit (default true)")

    def out_shape(self, x: Shape) -> Shape:
        return Shape(x.spatial, self.units)

    def params(self, x: Shape) -> int:
        return x.channels * self.units + self.biases(x)

    def biases(self, x: Shape) -> int:
        return self.units if self.bias else 0

    def macs(self, x: Shape) -> int:
        return positions(x) * x.channels * self.units

    def describe(self) -> str:
        return f"LINEAR {self.units} per position" + ("" if self.bias else " nb")


@value
class Tokens(Layer):
    """A grid as a sequence of tokens: ``HxWxC → (H·W)xC``, row by row (ViT's
    ``x.reshape(n, C, H·W).permute(0, 2, 1)``). No parameters, no MACs.

    Receptive field: a token's field is a patch of the grid, not an interval of the sequence, so
    it cannot be carried on the sequence's one axis; like fc, the rule reports the whole input
    from here on (on a sequence already, nothing changes).
    """

    family: ClassVar[str] = "tokens"

    def out_shape(self, x: Shape) -> Shape:
        if x.rank == 0:
            raise LayerError(f"needs a grid (HxWxC), got the flat vector {x}")
        return Shape((positions(x),), x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        """Each token is one unit of the grid and sees what that unit saw: the field is kept
        (``()``: no axis moves). Layers after it that move positions along the sequence cannot
        be followed on the grid's axes; analysis/receptive.py says so."""
        return ()

    def describe(self) -> str:
        return "TOKENS"


@value
class ToGrid(Layer):
    """A sequence of tokens back to a grid, row by row: ``LxC → HxWxC`` with ``H·W = L`` (the
    inverse of ``tokens``; PyTorch's ``x.transpose(1, 2).reshape(n, C, H, W)``, as hierarchical
    transformers do between stages). Without a size the grid is square: ``L`` must be a square
    number.
    No parameters, no MACs; receptive field as ``tokens``.
    """

    family: ClassVar[str] = "grid"
    leading: ClassVar[Optional[str]] = "size"

    size: Optional[Ints] = option(None, per_axis, aliases=("output_size", "grid"),
                                  help="the grid's sizes, H x W (one number: a square); default the square root of L")

    def out_shape(self, x: Shape) -> Shape:
        n = check_sequence(x, "togrid")
        if self.size is None:
            side = math.isqrt(n)
            if side * side != n:
                raise LayerError(f"{n} tokens do not make a square grid ({side}² = {side * side})",
                                 hint="give the grid's size, e.g. size: [H, W]")
            sizes: Ints = (side, side)
        else:
            sizes = self.size * 2 if len(self.size) == 1 else self.size
        if math.prod(sizes) != n:
            raise LayerError(f"a {window_text(sizes)} grid holds {math.prod(sizes):,} tokens, not the {n:,} given")
        return Shape(sizes, x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"TO GRID {window_text(self.size)}" if self.size else "TO GRID"


@value
class ClassToken(Layer):
    """A learned token put before the sequence (BERT's [CLS]; ViT: Dosovitskiy et al., arXiv
    2010.11929, eq. 1, torchvision's ``class_token``): ``LxC → (L+1)xC``.

    Params: ``C``. MACs: 0 (a concatenation). Receptive field: token ``o`` is input token
    ``o − 1``, as behind one token of padding (the class token itself reads no input).
    """

    family: ClassVar[str] = "cls"

    def out_shape(self, x: Shape) -> Shape:
        return Shape((check_sequence(x, "clstoken") + 1,), x.channels)

    def params(self, x: Shape) -> int:
        return x.channels

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return (Step(0, 1, -1),)

    def describe(self) -> str:
        return "CLASS TOKEN"


@value
class PositionEmbedding(Layer):
    """A learned position embedding added to the input (ViT eq. 1, torchvision's
    ``pos_embedding`` of ``1×L×C``). Shape unchanged.

    Params: one per element, ``L·C`` on a sequence (``H·W·C`` on a grid). MACs: 0 (additions
    are not counted).
    """

    family: ClassVar[str] = "pos"

    def params(self, x: Shape) -> int:
        return x.elements

    def describe(self) -> str:
        return "POSITION EMBEDDING"


@value
class SelectToken(Layer):
    """One token of a sequence as a vector: ``LxC → C`` (ViT's ``x[:, 0]``, the class token).

    No parameters, no MACs. Receptive field reported as the whole input, as fc: a vector has no
    axis to carry a field on (after attention the class token does see every input anyway).
    """

    family: ClassVar[str] = "select"
    leading: ClassVar[Optional[str]] = "index"

    index: int = option(0, non_negative, letter="i", aliases=("token", "position"),
                        help="which token, from 0 (default 0: the class token)")

    def out_shape(self, x: Shape) -> Shape:
        n = check_sequence(x, "selecttoken")
        if self.index >= n:
            raise LayerError(f"token {self.index} does not exist in a sequence of {n} (0 … {n - 1})")
        return Shape((), x.channels)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"SELECT TOKEN {self.index}"


@value
class Parameter(Layer):
    """A learned tensor of a given shape, PyTorch's ``nn.Parameter(torch.zeros(*shape))`` held by
    a module beside its layers: a table the next paper adds or indexes (a relative position bias
    written out, a mask token, a learned query). Its elements are what it counts.

    Shape: the input passes through unchanged. Without ``add`` the tensor only sits here (the
    layer is where its parameters are counted); with ``add`` it is added to the input, broadcast
    as PyTorch broadcasts: its dims matched to the input's channels-last dims from the last one,
    each equal or 1 (``[1, 96]`` on ``56x56x96`` is one value per channel).
    Params: ``prod(shape)``. MACs: 0 (additions are not counted).
    """

    family: ClassVar[str] = "param"
    leading: ClassVar[Optional[str]] = "shape"

    shape: Ints = option(convert=per_axis, letter="s", aliases=("size", "dims"),
                         help="the tensor's dims, e.g. [169, 3] (parameter count: their product)")
    add: bool = option(False, boolean, letter="add", flag=True,
                       help="add it to the input, broadcast from the last dim (default false: held, input passed on)")

    def out_shape(self, x: Shape) -> Shape:
        if self.add:
            dims = x.dims
            if len(self.shape) > len(dims) or any(s not in (1, d) for s, d in zip(reversed(self.shape), reversed(dims))):
                raise LayerError(f"a tensor of dims {dims_text(self.shape)} does not broadcast to the input {x}",
                                 hint="its dims are matched to the input's from the last (the channels): "
                                      "each must equal the input's or be 1")
        return x

    def params(self, x: Shape) -> int:
        return math.prod(self.shape)

    def describe(self) -> str:
        return f"PARAMETER {dims_text(self.shape)}" + (" added" if self.add else "")


@value
class Attention(Layer):
    """Multi-head self-attention, as PyTorch's ``nn.MultiheadAttention(C, heads, batch_first=True)``
    called with query = key = value (Vaswani et al., "Attention Is All You Need", arXiv 1706.03762,
    §3.2): q, k, v projections, each head's ``softmax(Q·Kᵀ/√d)·V`` with ``d = C/heads``, and an
    output projection, run on each sequence of ``n`` tokens on its own.

    Which tokens make a sequence, the convention (the row's note says which positions each query
    sees):

    - no window: the last axis is the sequence and the axes before it a batch of sequences, as
      ``batch_first=True`` reads ``(N, L, C)``: on ``LxC`` one sequence of L; on ``64x49x96``, 64
      sequences of 49 (Swin's windows, already cut out). For all H·W positions of a grid as one
      sequence (ViT), write ``tokens`` first.
    - ``window: w`` (block partition): the grid is cut into non-overlapping ``w`` windows
      (``w = wh x ww``, one number for every axis), each one sequence of ``n = wh·ww``: Swin
      (Liu et al., arXiv 2103.14030, §3.2) and MaxViT's block attention (Tu et al., arXiv
      2204.01697, §3.1). Sizes not a multiple of w are zero-padded at the end to one, as
      torchvision's Swin does; the padded tokens are projected and attended, so counted.
      ``shifted``: Swin's odd blocks roll the grid by ``⌊w/2⌋`` first and mask apart the tokens
      the roll brought together: the same windows' work, no params (the mask is computed, not
      learned).
    - ``window: w, partition: grid``: MaxViT's grid attention: the grid is cut into ``w`` groups
      per axis of stride ``H/w``, each one sequence of ``n = wh·ww`` tokens spread over the whole
      grid (dilated); w must divide the sizes (torchvision requires it).

    Shape: ``...xC → ...xC``; ``heads`` must divide C (PyTorch: "embed_dim must be divisible by
    num_heads").
    Params: ``4·C² + 4·C``: ``in_proj`` is one ``3C×C`` weight and a ``3C`` bias, ``out_proj`` a
    ``C×C`` weight and a ``C`` bias (``4·C²`` without bias). ``relative_bias`` adds the learned
    relative position bias table of Swin (eq. 4) and MaxViT: one value per head for every offset
    between two tokens of a window, ``(2·wh − 1)·(2·ww − 1)·heads`` (``(2w − 1)²·heads``, 169·heads
    for w = 7), and its ``n×n`` index as buffers (torchvision's ``relative_position_index``; kept
    in the state dict, not learned).
    MACs, the convention: for S sequences of n tokens, projections ``3·n·C²``, ``Q·Kᵀ`` ``n²·C``
    (each head ``n·n·d``), ``A·V`` ``n²·C``, output projection ``n·C²``, so
    ``S·(4·n·C² + 2·n²·C)`` (torchvision's published GFLOPS count the same). The heads split the
    work without changing it. Not counted, as for every element-wise op: the ``1/√d`` scaling, the
    softmax over the ``heads·n²`` scores, the bias added to them, the mask.
    Memory: the ``heads·n·n`` attention weights of each sequence live inside the layer; only its
    output is counted.
    Receptive field: one sequence of the whole input: every output token reads every input token,
    so the whole input. A batch of sequences or windows: a unit sees its own sequence, which is
    no sliding window; fields are not followed past it (the report says so).
    """

    family: ClassVar[str] = "attn"
    leading: ClassVar[Optional[str]] = "heads"

    heads: int = option(1, positive, letter="h", aliases=("num_heads", "n_heads"),
                        help="attention heads; must divide the channels (default 1; changes no count)")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",),
                        help="biases on the q, k, v and output projections (default true)")
    window: Optional[Ints] = option(None, per_axis, letter="w", aliases=("window_size", "partition_size"),
                                    help="attend within windows of this size, wh x ww (one number: every axis) "
                                         "instead of along the last axis; default none")
    partition: str = option("block", choice("block", "grid"), letter="grid", flag="grid",
                            help="how the grid is cut into windows: block (adjacent tokens, Swin and "
                                 "MaxViT's block attention; default) or grid (every H/w-th token, MaxViT)")
    shifted: bool = option(False, boolean, letter="sh", flag=True,
                           help="Swin's shifted windows: rolled by half a window and masked (same counts)")
    relative_bias: bool = option(False, boolean, letter="rb", flag=True,
                                 aliases=("relative_position_bias", "rel_pos_bias"),
                                 help="a learned relative position bias table of (2wh-1)·(2ww-1)·heads "
                                      "params (needs a window)")

    def out_shape(self, x: Shape) -> Shape:
        if x.rank == 0:
            raise LayerError(f"needs a sequence of tokens (LxC), got the flat vector {x}")
        if x.channels % self.heads:
            raise LayerError(f"heads {self.heads} must divide the channels {x.channels}")
        self.sequences(x)  # refuses windows that do not fit
        return x

    def window_sizes(self, x: Shape) -> Ints:
        """The window per axis (one number for every axis), checked against the input's rank."""
        assert self.window is not None
        if len(self.window) not in (1, x.rank):
            raise LayerError(f"a {window_text(self.window)} window on the {x.rank}-axis input {x}",
                             hint=f"give one number, or one per axis ({x.rank})")
        return self.window * x.rank if len(self.window) == 1 else self.window

    def sequences(self, x: Shape) -> Tuple[int, int]:
        """``(S, n)``: how many sequences attention runs on, and how many tokens each has."""
        if self.window is None:
            for name, given in (("partition: grid", self.partition == "grid"), ("shifted", self.shifted),
                                ("relative_bias", self.relative_bias)):
                if given:
                    raise LayerError(f"{name} needs a window: without one the last axis is the sequence",
                                     hint="give the window, e.g. window: 7 (Swin, MaxViT)")
            return math.prod(x.spatial[:-1]), x.spatial[-1]
        sizes = self.window_sizes(x)
        if self.partition == "grid":
            if self.shifted:
                raise LayerError("shifted windows are Swin's block partition, not a grid partition",
                                 hint="drop shifted, or partition: block")
            misfit = [(s, w) for s, w in zip(x.spatial, sizes) if s % w]
            if misfit:
                s, w = misfit[0]
                raise LayerError(f"a grid partition of {window_text(sizes)} needs sizes it divides; "
                                 f"{s} is not a multiple of {w}", hint="MaxViT's grid attention pads nothing")
        return math.prod(-(-s // w) for s, w in zip(x.spatial, sizes)), math.prod(sizes)

    def params(self, x: Shape) -> int:
        return 4 * x.channels * x.channels + self.biases(x) + self.table(x)

    def table(self, x: Shape) -> int:
        """The relative position bias table: one value per head and offset, ``Π(2·w − 1)·heads``."""
        if not self.relative_bias:
            return 0
        return math.prod(2 * w - 1 for w in self.window_sizes(x)) * self.heads

    def buffers(self, x: Shape) -> int:
        """The table's index, one entry per pair of a window's tokens (torchvision's
        ``relative_position_index``)."""
        return self.sequences(x)[1] ** 2 if self.relative_bias else 0

    def biases(self, x: Shape) -> int:
        return 4 * x.channels if self.bias else 0

    def macs(self, x: Shape) -> int:
        s, n = self.sequences(x)
        c = x.channels
        return s * (4 * n * c * c + 2 * n * n * c)

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def untracked(self, x: Shape) -> str:
        if self.window is None and x.rank == 1:
            return ""
        return "attends within " + ("windows" if self.window else "each sequence of the last axis") + \
            ", regions that do not slide"

    def notes(self, x: Shape) -> Tuple[Note, ...]:
        s, n = self.sequences(x)
        if self.window is None:
            if x.rank == 1:
                return ()
            batch = dims_text(x.spatial[:-1])
            text = (f"{s:,} sequences of {n:,} tokens: the leading axes ({batch}) are a batch, as "
                    f"nn.MultiheadAttention(batch_first=True) reads them; each query sees the {n:,} tokens "
                    f"of its own sequence. Write 'tokens' first to make all {positions(x):,} positions one "
                    "sequence, or give a window")
            return (Note("info", "attention-sequences", text, f"{s:,} sequences of {n:,}"),)
        sizes = self.window_sizes(x)
        w = dims_text(sizes)
        if self.partition == "grid":
            strides = dims_text(tuple(d // k for d, k in zip(x.spatial, sizes)))
            text = (f"grid attention (MaxViT): each query sees the {n:,} tokens of its {w} group, every "
                    f"{strides}-th position of the grid; {s:,} such groups")
            return (Note("info", "attention-grid", text, f"{s:,} grids of {n:,}"),)
        padded = tuple(-(-d // k) * k for d, k in zip(x.spatial, sizes))
        text = f"each query sees the {n:,} tokens of its own {w} window, of {s:,}"
        if self.shifted:
            # torchvision rolls an axis by half a window only where the window does not cover it
            shift = tuple(k // 2 if k < p else 0 for k, p in zip(sizes, padded))
            text += (f", shifted by {dims_text(shift)} (Swin: the grid rolled, and a mask keeps apart the tokens "
                     "the roll brought together, so a query at the edge sees fewer)" if any(shift) else
                     "; shifted asks for a roll, but the window covers the grid (torchvision then shifts by 0)")
        notes = [Note("info", "attention-windows", text, f"{s:,} windows of {n:,}")]
        if padded != x.spatial:
            notes.append(Note("info", "window-padded",
                              f"{dims_text(x.spatial)} is padded with zeros to {dims_text(padded)}, a whole "
                              f"number of {w} windows, as torchvision's Swin does: the padded tokens are "
                              "projected and attended, and counted", f"padded to {dims_text(padded)}"))
        return tuple(notes)

    def describe(self) -> str:
        text = f"ATTENTION h{self.heads}"
        if self.window is not None:
            # one number is a square window, as for a conv's kernel (the row's note gives the sizes)
            text += f" {'grid' if self.partition == 'grid' else 'win'} {window_text(self.window)}"
        if self.shifted:
            text += " shifted"
        if self.relative_bias:
            text += " rel bias"
        return text + ("" if self.bias else " nb")
