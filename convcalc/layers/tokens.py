"""Tokens and attention: a sequence is a Shape with one axis, L tokens of C channels.

Grid to sequence and back (tokens, togrid), the class token, position embedding, one token as a
vector, a linear map at each position (pwlinear), and multi-head self-attention."""

from __future__ import annotations

import math
from typing import ClassVar, Optional, Tuple

from ..errors import LayerError
from ..shape import Shape
from ..values import value
from .base import Layer, Step, window_text
from .options import Ints, boolean, non_negative, option, per_axis, positive


def positions(x: Shape) -> int:
    """Where a per-position rule runs: H·W on a grid, L on a sequence, once on a vector."""
    return math.prod(x.spatial)


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
class Attention(Layer):
    """Multi-head self-attention, as PyTorch's ``nn.MultiheadAttention(C, heads)`` called with
    query = key = value (Vaswani et al., "Attention Is All You Need", arXiv 1706.03762, §3.2):
    q, k, v projections, each head's ``softmax(Q·Kᵀ/√d)·V`` with ``d = C/heads``, and an output
    projection. On a grid, its H·W positions are the tokens.

    Shape: ``LxC → LxC``; ``heads`` must divide C (PyTorch: "embed_dim must be divisible by
    num_heads").
    Params: ``4·C² + 4·C``: ``in_proj`` is one ``3C×C`` weight and a ``3C`` bias, ``out_proj`` a
    ``C×C`` weight and a ``C`` bias (``4·C²`` without bias).
    MACs, the convention: projections ``3·L·C²``, ``Q·Kᵀ`` ``L²·C`` (each head ``L·L·d``), ``A·V``
    ``L²·C``, output projection ``L·C²``: ``4·L·C² + 2·L²·C`` (torchvision's published GFLOPS count
    the same). The heads split the work without changing it. Not counted, as for every
    element-wise op: the ``1/√d`` scaling and the softmax over the ``heads·L²`` scores.
    Memory: the ``heads·L·L`` attention weights live inside the layer; only its output is counted.
    Receptive field: every output token reads every input token, so the whole input.
    """

    family: ClassVar[str] = "attn"
    leading: ClassVar[Optional[str]] = "heads"

    heads: int = option(1, positive, letter="h", aliases=("num_heads", "n_heads"),
                        help="attention heads; must divide the channels (default 1; changes no count)")
    bias: bool = option(True, boolean, letter="nb", flag=False, aliases=("use_bias",),
                        help="biases on the q, k, v and output projections (default true)")

    def out_shape(self, x: Shape) -> Shape:
        if x.rank == 0:
            raise LayerError(f"needs a sequence of tokens (LxC), got the flat vector {x}")
        if x.channels % self.heads:
            raise LayerError(f"heads {self.heads} must divide the channels {x.channels}")
        return x

    def params(self, x: Shape) -> int:
        return 4 * x.channels * x.channels + self.biases(x)

    def biases(self, x: Shape) -> int:
        return 4 * x.channels if self.bias else 0

    def macs(self, x: Shape) -> int:
        n, c = positions(x), x.channels
        return 4 * n * c * c + 2 * n * n * c

    def receptive(self, x: Shape) -> Optional[Tuple[Step, ...]]:
        return None

    def describe(self) -> str:
        return f"ATTENTION h{self.heads}" + ("" if self.bias else " nb")
