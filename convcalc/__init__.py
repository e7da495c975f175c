"""convcalc: the shape and cost of every layer of a convolutional network, before you run it.

The Python API (api.py, documented in the README's "From Python"): ``analyse`` a spec into a
``Report``, ``read`` one into a NetworkSpec, draw one with ``drawing``, read a live Keras model
with ``from_keras`` and a live PyTorch module with ``from_torch`` (torch loaded only then); its errors are ``ConvcalcError`` and its kinds. ``import convcalc`` loads
none of it: each name is looked up on first use (PEP 562's module ``__getattr__``), so the
command's start and a bare import stay as fast as before the API existed.
"""

from .version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; type checkers read it as True
if TYPE_CHECKING:
    from .api import (
        ConvcalcError,
        Drawing,
        LayerFigures,
        Plan,
        Report,
        ShapeError,
        SpecError,
        analyse,
        drawing,
        from_keras,
        from_torch,
        from_torch_spec,
        read,
    )

__all__ = ["ConvcalcError", "Drawing", "LayerFigures", "Plan", "Report", "ShapeError", "SpecError",
           "__version__", "analyse", "drawing", "from_keras", "from_torch", "from_torch_spec", "read"]
_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> object:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'convcalc' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
