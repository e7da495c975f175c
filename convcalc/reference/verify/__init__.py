"""Check the engine's figures against what the reference layers actually do (STYLE.md rule 5).

For each layer of a report, build the reference layer with seeded random weights, run it on a
seeded random input of the layer's input shape, and compare the output shape, the parameters
and buffers it allocated and the multiply-accumulates it counted with the engine's figures.
Each layer runs on its own input (not on the previous layer's output), so values stay small and
one disagreement does not hide the next; shapes still chain, as each layer's input is the
engine's output of the layer before.

Full-size layers are slow in pure Python, so a layer whose work exceeds ``BUDGET`` runs twice:

1. *spatial run*: the true spatial size, kernel, stride and padding, with channel counts scaled
   down to at most ``max_channels`` (groups kept dividing them);
2. *channel run*: the true channel counts on a minimal input with one output position.

Both runs must match the engine's formula at their own configuration, and the full-size figures
are then composed from them — output = (spatial sizes of run 1, channels of run 2), params and
buffers of run 2 (they do not depend on the spatial size), MACs = run 2's MACs per position ×
run 1's positions — and compared with the engine's full-size figures. A fully connected layer
splits the other way: true input with few units, and few inputs with the true units.

Dispatch is by rule type through ``VERIFIERS``; a kind without an entry is reported as
"not verified", never skipped. No I/O here: the CLI draws the result.

Each step is a module, in the order a layer meets them:

- ``figures``: what is compared and what comes back (``Figures``, ``Run``, ``LayerCheck``,
  ``Verification``, ``Settings``)
- ``builders``: the reference layer for a rule (``BUILDERS``)
- ``scaling``: a big layer cut down to the two runs, and their figures composed back
- ``runs``: one run at one configuration, refused when over the budget
- ``verifiers``: per kind, which runs to make and how they compose (``VERIFIERS``,
  ``verify_layer``)

and here, the whole network: ``plan`` every run against the budget, then ``verify``.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence

from ...analysis.result import LayerReport, Report
from ...values import replace
from .builders import BUILDERS
from .figures import (
    BUDGET,
    MAX_CHANNELS,
    QUANTITIES,
    Figures,
    LayerCheck,
    Run,
    Settings,
    Verification,
)
from .runs import MAX_ELEMENTS, MAX_MACS, OverBudget, elements_held
from .verifiers import VERIFIERS, verify_layer, work

__all__ = [
    "BUDGET", "BUILDERS", "MAX_CHANNELS", "MAX_ELEMENTS", "MAX_MACS", "QUANTITIES", "VERIFIERS",
    "Figures", "LayerCheck", "Run", "Settings", "Verification",
    "cost", "elements_held", "plan", "verify", "verify_layer",
]


def plan(report: Report, settings: Settings) -> None:
    """Every run of every layer, checked against the budget before any of them starts: each
    verifier runs dry (``rng`` None), so the plan is exactly the runs that will be made."""
    for r in report.layers:
        over = _over_budget(r, settings)
        if over is not None:
            fits_scaled = settings.full and _over_budget(r, replace(settings, full=False)) is None
            raise over.error(r, settings.full, fits_scaled)


def _over_budget(r: LayerReport, settings: Settings) -> Optional[OverBudget]:
    try:
        verify_layer(r, replace(settings, dry=True))
    except OverBudget as e:
        return e
    except Exception:  # a dry run composes engine figures as if measured: the real run reports
        pass
    return None


def verify(report: Report, *, seed: int = 0, full: bool = False, max_channels: int = MAX_CHANNELS,
           budget: int = BUDGET, progress: Optional[Callable[[int, int, LayerReport], None]] = None) -> Verification:
    """Check every layer of ``report``; ``progress(done, total, layer)`` is called before each one."""
    if max_channels < 1:
        raise ValueError(f"{max_channels=} must be at least 1")
    settings = Settings(seed, full, max_channels, budget)
    plan(report, settings)
    checks: List[LayerCheck] = []
    for i, r in enumerate(report.layers):
        if progress is not None:
            progress(i, len(report.layers), r)
        checks.append(verify_layer(r, settings))
    if progress is not None and report.layers:
        progress(len(report.layers), len(report.layers), report.layers[-1])
    spec = report.spec
    return Verification(spec.title or spec.name or "network", spec.input, tuple(checks), seed, full, max_channels,
                        budget)


def cost(report: Report, full: bool = False, budget: int = BUDGET) -> Sequence[int]:
    """A rough relative cost per layer, for a progress bar that moves evenly."""
    return [work(r) if full or work(r) <= budget else budget for r in report.layers]
