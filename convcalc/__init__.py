"""convcalc: the shape and cost of every layer of a convolutional network, before you run it."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs `import convcalc` 10 ms
if TYPE_CHECKING:
    from typing import Any, Sequence

    from .analysis.result import Report
    from .spec.model import NetworkSpec

__version__ = "0.1.0"


# PyTorch is an optional extra (convcalc[torch]): these import it, and convcalc's reader of its
# programs, only when called, so `import convcalc` stays as light as it is without them.


def from_torch_spec(model: Any, input_size: Sequence[int] = (1, 3, 224, 224)) -> NetworkSpec:
    """A ``torch.nn.Module`` as convcalc's NetworkSpec, read through ``torch.export`` on one
    sample of ``input_size`` (batch first): every aten operator it runs a row named by its
    module's path ('layer1.0.conv1'); see convcalc/importers/torch_export.py."""
    from .importers.torch_export import from_torch_spec as read

    return read(model, input_size)


def from_torch(model: Any, input_size: Sequence[int] = (1, 3, 224, 224), dtype: str = "float32") -> Report:
    """The report of ``model`` on ``input_size``: shapes, params, MACs, memory and receptive
    field of every operator it runs, the batch (``input_size[0]``) that of the memory figures."""
    from .analysis.engine import analyse

    return analyse(from_torch_spec(model, input_size), dtype=dtype, batch=int(input_size[0]))
