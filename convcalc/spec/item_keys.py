"""What a list item carries beside its kind, checked once its values are read: ``frozen:``,
``repeat:`` and ``shares:`` (the YAML reader finds them and their places; this module says what
they may be and what they mean, as values of the spec's model)."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

from ..errors import Location, SpecError
from ..layers.options import OptionError, describe_value, whole
from ..values import replace
from .model import LayerSpec, Node, Shares
from .raw import RawValue

SHARES_HINT = "shares: enc1 (a layer named earlier, holding the same weights), or {layer: enc1, params: 64}"


def frozen_value(value: Any, loc: Location) -> bool:
    """``frozen: true``: nothing in the item is trained (the engine counts its weights as buffers)."""
    if not isinstance(value, bool):
        raise SpecError(f"frozen: expected true or false, got {describe_value(value)}", loc,
                        hint="frozen: true counts the item's weights and biases as buffers (nothing trained)")
    return value


def repeat_value(value: Any, loc: Location) -> int:
    try:
        return whole(value)
    except OptionError as e:
        raise SpecError(f"repeat: {e}", loc) from None


def shares_of(items: Sequence[Tuple[Any, Location]]) -> Tuple[Shares, ...]:
    """``shares: enc1``: the layer's weights are enc1's (one tensor, counted there). Some of them
    only (a tied weight beside a bias of its own): ``{layer: enc1, params: 64, biases: 0}``;
    weights of several layers: a list of those. Each item is a name, or a mapping's entries."""
    out = []
    for value, loc in items:
        if isinstance(value, str) and value:
            out.append(Shares(value, loc=loc))
        elif isinstance(value, list) and value and all(isinstance(v, RawValue) for v in value):
            out.append(_share(value, loc))
        else:
            raise SpecError(f"shares: expected the name of the layer whose weights this one reads, got "
                            f"{describe_value(value)}", loc, hint=SHARES_HINT)
    return tuple(out)


def _share(entries: Sequence[RawValue], loc: Location) -> Shares:
    given = {e.key: e for e in entries}
    for e in entries:
        if e.key not in ("layer", "params", "biases"):
            raise SpecError(f"shares: unknown key '{e.key}'", e.key_loc, hint=SHARES_HINT)
    layer = given.get("layer")
    if layer is None or not isinstance(layer.value, str) or not layer.value:
        raise SpecError("shares: which layer holds the weights? ('layer' names it)",
                        layer.value_loc if layer else loc, hint=SHARES_HINT)
    counts = {}
    for key, least in (("params", 1), ("biases", 0)):
        if key in given:
            n = given[key].value
            if isinstance(n, bool) or not isinstance(n, int) or n < least:
                raise SpecError(f"shares: {key} must be a whole number of at least {least}, got "
                                f"{describe_value(n)}", given[key].value_loc, hint=SHARES_HINT)
            counts[key] = n
    params: Optional[int] = counts.get("params")
    return Shares(layer.value, params, counts.get("biases", 0) if params is not None else 0, loc=layer.value_loc)


def with_shares(item: Node, shares: Tuple[Shares, ...]) -> Node:
    """The item, a layer, with the weights it shares."""
    if not isinstance(item, LayerSpec):
        raise SpecError("'shares' goes on a layer: the layer whose weights it reads", shares[0].loc,
                        hint="- fc: 10\n  shares: embed")
    return replace(item, shares=shares)
