"""What verify compares and what it returns: one layer's figures, each run of the reference
next to the engine at the same configuration, each layer's verdict, the whole verification, and
the settings (with the defaults the CLI shows)."""

from __future__ import annotations

from typing import Optional, Tuple

from ...layers import Layer
from ...shape import Shape
from ...values import value

MAX_CHANNELS = 4
# Work (MACs + parameters + elements in and out) above which a layer runs scaled: about 0.1 s.
BUDGET = 2_000_000

QUANTITIES = ("output", "params", "buffers", "macs")


@value
class Figures:
    """One layer's numbers: what the engine says, or what the reference measured."""

    output: Shape
    params: int
    buffers: int
    macs: int


@value
class Run:
    """One run of the reference at one configuration, next to the engine at the same one."""

    label: str  # "true size", "true spatial size, channels 64→4", "true channels, one output position"
    inputs: Tuple[Shape, ...]
    layer: str  # the rule run, as the engine describes it
    engine: Figures
    measured: Figures

    def agrees(self, quantity: str) -> bool:
        return bool(getattr(self.engine, quantity) == getattr(self.measured, quantity))

    @property
    def ok(self) -> bool:
        return self.engine == self.measured


@value
class LayerCheck:
    """The verdict on one layer: the engine's full-size figures, and the measured (or composed) ones."""

    index: int
    name: str
    kind: str
    description: str
    engine: Figures
    measured: Optional[Figures] = None  # None: not verified, or the reference refused
    runs: Tuple[Run, ...] = ()
    scaled: str = ""  # what was scaled; '' when the layer ran at true size
    reason: str = ""  # why it was not verified, or why it failed outside the figures

    @property
    def status(self) -> str:
        if self.measured is None:
            return "failed" if self.reason.startswith("reference") else "not verified"
        return "verified" if all(self.agrees(q) for q in QUANTITIES) else "failed"

    def agrees(self, quantity: str) -> bool:
        """The full-size figure matches, and so does every run's."""
        if self.measured is None:
            return False
        return getattr(self.engine, quantity) == getattr(self.measured, quantity) and all(
            r.agrees(quantity) for r in self.runs)


@value
class Verification:
    """Every layer's verdict, and how the run was set up."""

    network: str
    input: Shape
    layers: Tuple[LayerCheck, ...]
    seed: int = 0
    full: bool = False
    max_channels: int = MAX_CHANNELS
    budget: int = BUDGET

    def count(self, status: str) -> int:
        return sum(1 for c in self.layers if c.status == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0


@value
class Settings:
    seed: int = 0
    full: bool = False
    max_channels: int = MAX_CHANNELS
    budget: int = BUDGET
    dry: bool = False  # plan only: check each run against the budget, run nothing


# A configuration to run: the rule (maybe with scaled hyperparameters) and its input shapes.
Case = Tuple[Layer, Tuple[Shape, ...]]


@value
class Measured:
    figures: Figures
    biases: int  # parameters that are biases, for composing an fc layer's count


class NoReference(Exception):
    """The reference cannot build this layer (a kind or an option it does not implement)."""
