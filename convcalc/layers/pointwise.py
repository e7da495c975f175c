"""Rules that act on each element alone and keep the shape: activations, element-wise operators
from model files, dropout, softmax, PReLU."""

from __future__ import annotations

from typing import ClassVar, Optional

from ..shape import Shape
from ..values import value
from .base import Layer
from .options import boolean, fraction, op_name, option


@value
class Activation(Layer):
    """An element-wise function (relu, tanh ...): shape unchanged, no parameters, no MACs."""

    family: ClassVar[str] = "act"
    op_kind: ClassVar[str] = "act"
    inplace: ClassVar[bool] = True
    function: str = "relu"

    def ops(self, x: Shape) -> int:
        """One operation per element (a comparison for relu, a function evaluation for the rest)."""
        return x.elements

    @property
    def kind(self) -> str:
        return self.function

    def family_name(self) -> str:
        return self.function

    def describe(self) -> str:
        return self.function.upper()


@value
class Elementwise(Layer):
    """An element-wise function a model file writes as an operator of its own (Erf inside a
    traced GELU, Exp, Sqrt, Reciprocal ...): shape unchanged, no parameters, and, as every
    element-wise function, no MACs; ``--count-ops act`` counts one operation per element."""

    family: ClassVar[str] = "elementwise"
    op_kind: ClassVar[str] = "act"
    leading: ClassVar[Optional[str]] = "op"

    op: str = option(convert=op_name, aliases=("operator", "function"),
                     help="the function's name in its file (e.g. ONNX 'Erf')")

    def ops(self, x: Shape) -> int:
        return x.elements

    def describe(self) -> str:
        return self.op.upper()


@value
class Dropout(Layer):
    """Zeroes activations at random while training; nothing to count."""

    family: ClassVar[str] = "dropout"
    inplace: ClassVar[bool] = True
    leading: ClassVar[Optional[str]] = "p"

    p: float = option(0.5, fraction, aliases=("rate", "probability"), help="drop probability (default 0.5)")

    def describe(self) -> str:
        return f"DROPOUT {self.p:g}"


@value
class Softmax(Layer):
    """Class probabilities from scores; shape unchanged."""

    family: ClassVar[str] = "softmax"

    def describe(self) -> str:
        return "SOFTMAX"


@value
class PReLU(Layer):
    """Parametric ReLU, ``y = x`` for ``x > 0`` and ``y = a·x`` otherwise, with the negative slope
    ``a`` learned (He et al., "Delving Deep into Rectifiers", arXiv 1502.01852; PyTorch's
    ``nn.PReLU(num_parameters)``, Caffe's PReLU, Keras' ``PReLU(shared_axes=[1, 2])``).

    Shape unchanged. Params: ``C``, one slope per channel; ``1`` with ``shared`` (Caffe's
    ``channel_shared``, PyTorch's ``nn.PReLU()``). MACs: 0 — a multiply per negative value
    with nothing summed, as leakyrelu; ``--count-ops act`` counts one operation per element.
    """

    family: ClassVar[str] = "prelu"
    op_kind: ClassVar[str] = "act"

    shared: bool = option(False, boolean, aliases=("channel_shared",),
                          help="one slope for every channel (default false: one per channel)")

    def params(self, x: Shape) -> int:
        return 1 if self.shared else x.channels

    def ops(self, x: Shape) -> int:
        return x.elements

    def describe(self) -> str:
        return "PRELU shared" if self.shared else "PRELU"
