"""A value as the YAML reader read it, with the text it was written as: what the expectations'
reader (spec/expectations.py) and the item keys' (spec/item_keys.py) take, in a module of its own
so that neither pulls the other in (reading ``shares:`` needs no expectation machinery, whose
exact fractions cost every start-up)."""

from __future__ import annotations

from typing import Any, Optional

from ..errors import Location
from ..values import value


@value
class RawValue:
    """A value as a parser read it, with its source text: the key, the Python value, the text as
    written (``105.4M``: an expectation's tolerance follows its digits), locations."""

    key: str
    value: Any
    text: Optional[str] = None
    key_loc: Optional[Location] = None
    value_loc: Optional[Location] = None
