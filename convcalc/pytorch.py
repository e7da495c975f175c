"""convcalc from PyTorch: a live ``torch.nn.Module`` read through ``torch.export``.

``from_torch_spec`` gives the NetworkSpec every reader gives (importers/torch_export.py maps the
program's aten operators onto convcalc's kinds); ``from_torch`` its report, the batch being
``input_size[0]``. torch is the optional extra ``convcalc[torch]``, imported only when these are
called: ``import convcalc`` never loads this module (convcalc/__init__.py looks it up on first use).
"""

from __future__ import annotations

from typing import Any, Sequence

from .analysis.engine import analyse
from .analysis.result import Report
from .importers.torch_export import from_torch_spec as _read
from .spec.model import NetworkSpec


def from_torch_spec(model: Any, input_size: Sequence[int] = (1, 3, 224, 224)) -> NetworkSpec:
    """``model`` traced by ``torch.export`` on one sample of ``input_size`` (batch first) as
    convcalc's NetworkSpec: every aten operator it runs a row named by the module that ran it
    ('layer1.0.conv1'). Raises SpecError (a located message, the extra to install, what
    torch.export refused) when it cannot."""
    return _read(model, input_size)


def from_torch(model: Any, input_size: Sequence[int] = (1, 3, 224, 224), dtype: str = "float32") -> Report:
    """The report of ``model`` on ``input_size``: shapes, params, MACs, memory and receptive
    field of every operator it runs; ``input_size[0]`` is the batch of the memory figures."""
    return analyse(from_torch_spec(model, input_size), dtype=dtype, batch=int(input_size[0]))
