"""convcalc: the shape and cost of every layer of a convolutional network, before you run it.

``from_torch`` and ``from_torch_spec`` (pytorch.py: a live PyTorch module, through torch.export)
are looked up on first use (PEP 562's module ``__getattr__``): ``import convcalc`` loads neither
them nor torch.
"""

__version__ = "0.1.0"

TYPE_CHECKING = False  # not typing's: importing typing costs `import convcalc` 10 ms
if TYPE_CHECKING:
    from .pytorch import from_torch, from_torch_spec

__all__ = ["__version__", "from_torch", "from_torch_spec"]

_LAZY = {"from_torch": "pytorch", "from_torch_spec": "pytorch"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'convcalc' has no attribute '{name}'")
