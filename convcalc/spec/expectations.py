"""Expectations and budgets, as a spec writes them: what its figures should be.

A spec may state, on any layer or on the whole network::

    expect: {shape: 55x55x96, params: 34944, macs: 105.4M, receptive_field: 11}
    budget: {params: 25M, macs: 4G, memory: 2GiB}           # whole network only

**Amounts** are exact when written as plain whole numbers (``34944``, ``34,944``). Written in
rounded human units (``105.4M``, ``35K``, ``1.05e8``, ``1.1MiB``) they hold within half a unit of
the last digit written (``105.4M`` means 105,350,000 to 105,450,000; ``35K`` 34,500 to 35,500),
which is what rounding to that digit means; an explicit tolerance may be given instead
(``105M ± 1%``, ``105M +- 2M``). K, M, G, T are powers of 1000, as convcalc's tables print them.
A budget is a ceiling and has no tolerance: ``25M`` is 25,000,000.

**memory** counts activations (output elements, the cs231n "memory" column) unless a byte unit
is written (``1.1MiB``, ``2GiB``, ``500MB``): then it is bytes at the report's dtype and batch.
On a layer it is that layer's output; on the network, every output plus the input (the table's
total). A budget is a ceiling: ``params: 25M`` holds for at most 25,000,000.

**train** (the network's ``expect`` only) is the peak of one training step as ``convcalc plan``
gives it: ``train: {batch: 64, optimizer: adam, peak: {max: 16GiB}}`` is a ceiling (CI's "does
it still fit"), ``peak: 2.8GiB`` an expectation within half its last digit; batch 1 and sgd
when left out.

This module reads them into frozen values (the YAML reader and the listing reader call it);
``convcalc/analysis/expect.py`` checks them against a report.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from ..errors import Location, SpecError, did_you_mean
from ..shape import Shape
from ..values import field, value
from .raw import RawValue  # what the YAML reader hands over

# The quantities an expectation may name, and their other spellings.
QUANTITIES = ("shape", "params", "macs", "flops", "memory", "receptive_field", "train")
ALIASES = {"output": "shape", "activations": "memory", "rf": "receptive_field", "receptive": "receptive_field"}
BUDGET_QUANTITIES = ("params", "macs", "flops", "memory")
TRAIN_KEYS = ("batch", "optimizer", "peak")
OPTIMIZER_NAMES = ("sgd", "momentum", "adam", "adamw")
TRAIN_EXAMPLE = "train: {batch: 64, optimizer: adam, peak: {max: 16GiB}}"

DECIMAL = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
BYTES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}

_NUMBER = r"(\d[\d,_]*(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?"
# Matched against the stripped text, and no two '\s*' touch: with '\s*([a-zA-Z]*)\s*' an empty
# unit let both take the same spaces, and '1<2000 spaces>!' took 15 s (three of them: cubic).
_AMOUNT = re.compile(rf"^{_NUMBER}(?:\s*([a-zA-Z]+))?(?:\s*(?:±|\+-|\+/-)\s*{_NUMBER}(?:\s*(%|[a-zA-Z]+))?)?$")


@value
class Amount:
    """A count as written: its value, how far off it may be, and whether it is in bytes."""

    value: Fraction
    tolerance: Fraction
    text: str
    bytes: bool = False

    @property
    def exact(self) -> bool:
        return self.tolerance == 0

    def holds(self, actual: int) -> bool:
        return abs(actual - self.value) <= self.tolerance

    def within(self, actual: int) -> bool:
        """For a budget: at most the value."""
        return actual <= self.value

    def tolerance_text(self) -> str:
        """``±0.05M``: the tolerance in the unit it was written in."""
        if self.exact:
            return "exact"
        m = _AMOUNT.match(self.text.strip())
        unit = (m.group(3) if m else None) or ""
        scale = BYTES.get(unit.lower(), 1) if self.bytes else DECIMAL.get(unit.lower(), 1)
        t = self.tolerance / scale
        if not unit and t.denominator == 1:
            return f"±{t.numerator:,}"
        return f"±{float(t):.10g}{unit}"


@value
class TrainPeak:
    """The peak of one training step at ``batch`` with ``optimizer``: at most ``peak`` when
    ``ceiling``, else equal to it within its rounding."""

    batch: int
    optimizer: str
    peak: Amount
    ceiling: bool = True


@value
class Expectation:
    """``quantity: expected`` as written on a layer or the network, with where it was written.

    ``expected`` is None for a question left open (a listing's ``[?]``): checking fills it in.
    """

    quantity: str
    expected: Union[Shape, Amount, Tuple[int, ...], TrainPeak, None]
    text: str
    loc: Optional[Location] = field(default=None, compare=False, repr=False)


@value
class Limit:
    """A budget: ``quantity`` may be at most ``amount``. ``source`` is 'budget' or the CLI flag."""

    quantity: str
    amount: Amount
    source: str = "budget"
    loc: Optional[Location] = field(default=None, compare=False, repr=False)
    optimizer: str = "sgd"  # for 'train': the optimizer whose step's peak is limited (at the report's batch)




# --- reading --------------------------------------------------------------------------------


def parse_amount(value: Any, text: Optional[str] = None, what: str = "", loc: Optional[Location] = None,
                 allow_bytes: bool = False) -> Amount:
    """``34944``, ``'34,944'``, ``'105.4M'``, ``'1.05e8'``, ``'105M ± 1%'``, ``'2GiB'`` -> Amount."""
    label = f"{what}: " if what else ""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(f"{label}expected a number such as 34944 or 105.4M, got {_describe(value)}", loc)
    written = text if text is not None and not isinstance(value, str) else str(value)
    if isinstance(value, int):
        if value < 0:
            raise SpecError(f"{label}expected a count of at least 0, got {value}", loc)
        return Amount(Fraction(value), Fraction(0), written)
    m = _AMOUNT.match(written.strip())
    if m is None:
        raise SpecError(f"{label}cannot read '{written}' as a count", loc,
                        hint="write 34944, 34,944, 105.4M, 1.05e8, 2GiB or 105M ± 1%")
    digits, exponent, unit, tol_digits, tol_exponent, tol_unit = m.groups()
    unit, tol_unit = unit or "", tol_unit or ""
    value_, places = _decimal(digits, exponent, loc, label, written)
    scale, is_bytes = _unit(unit, allow_bytes, label, written, loc)
    amount = value_ * scale
    if tol_digits is not None:
        t, _ = _decimal(tol_digits, tol_exponent, loc, label, written)
        if tol_unit == "%":
            tolerance = amount * t / 100
        else:
            tol_scale, tol_bytes = _unit(tol_unit, allow_bytes, label, written, loc)
            if tol_unit and tol_bytes != is_bytes:
                raise SpecError(f"{label}'{written}' mixes bytes and counts", loc)
            tolerance = t * (tol_scale if tol_unit else scale)
    elif places is None and not unit:
        tolerance = Fraction(0)  # a plain whole number is exact: 34944, 34,944
    else:  # rounded: half a unit of the last digit written (35K: ±0.5K; 105.4M: ±0.05M; 1e8: ±0.5e8)
        tolerance = Fraction(1, 2) * Fraction(10) ** (-(places or 0)) * scale
    return Amount(amount, tolerance, written.strip(), is_bytes)


def _decimal(digits: str, exponent: Optional[str], loc: Optional[Location], label: str,
             written: str) -> Tuple[Fraction, Optional[int]]:
    """The number, and how many decimal places were written (None: a whole number, no exponent)."""
    from ..layers.options import OptionError, read_whole
    from ..limits import MAX_AMOUNT_DIGITS

    plain = digits.replace(",", "").replace("_", "")
    if not (plain + (exponent or "")).isascii():  # \d also matches '３'
        raise SpecError(f"{label}'{written[:40]}' is not a number convcalc reads (digits 0-9)", loc)
    try:  # the exponent's length is checked before int() sees it (a 5,000-digit one is no number)
        e = read_whole(exponent, MAX_AMOUNT_DIGITS) if exponent else 0
    except OptionError:
        e = MAX_AMOUNT_DIGITS + 1
    if len(plain) > MAX_AMOUNT_DIGITS or abs(e) > MAX_AMOUNT_DIGITS:
        raise SpecError(f"{label}'{written[:40]}' is too large a number", loc)
    whole, _, fraction = plain.partition(".")
    value = Fraction(plain) if plain not in (".", "") else Fraction(0)
    places: Optional[int] = len(fraction) if "." in plain else None
    if exponent is not None:
        value *= Fraction(10) ** e
        places = (places or 0) - e
    return value, places


def _unit(unit: str, allow_bytes: bool, label: str, written: str, loc: Optional[Location]) -> Tuple[int, bool]:
    key = unit.lower()
    if key in DECIMAL:
        return DECIMAL[key], False
    if key in BYTES:
        if not allow_bytes:
            raise SpecError(f"{label}'{written}' is in bytes; only memory can be", loc,
                            hint="K, M, G, T are thousands, millions, billions, trillions: 105.4M")
        return BYTES[key], True
    raise SpecError(f"{label}unknown unit '{unit}' in '{written}'", loc,
                    hint="K, M, G, T (powers of 1000); for memory also B, KB, MB, GB, KiB, MiB, GiB")


def _describe(value: Any) -> str:
    from ..layers.options import describe_value

    return describe_value(value)


def parse_expect(raws: Sequence[RawValue], where: str, loc: Optional[Location] = None) -> Tuple[Expectation, ...]:
    """The ``expect:`` mapping of a layer (``where='layer'``) or of the network."""
    from .shapes import parse_shape, shape_from_dims

    out = []
    seen: Dict[str, RawValue] = {}
    for raw in raws:
        quantity = ALIASES.get(raw.key.lower(), raw.key.lower())
        if quantity not in QUANTITIES:
            raise SpecError(f"cannot expect '{raw.key}'{did_you_mean(raw.key, [*QUANTITIES, *ALIASES])}",
                            raw.key_loc, hint=f"expect: {', '.join(QUANTITIES)}")
        if quantity in seen:
            raise SpecError(f"'{quantity}' is expected twice", raw.key_loc)
        seen[quantity] = raw
        at = raw.value_loc or raw.key_loc
        what = f"expected {quantity}"
        text = raw.text if raw.text is not None else _written(raw.value)
        if _is_mapping(raw.value) and quantity != "train":
            raise SpecError(f"{what}: expected a value such as 34944, 105.4M or 55x55x96, got a mapping", at)
        if quantity == "shape":
            if isinstance(raw.value, list):
                expected: Union[Shape, Amount, Tuple[int, ...], TrainPeak] = shape_from_dims(raw.value, at)
            elif isinstance(raw.value, int) and not isinstance(raw.value, bool):
                expected = shape_from_dims([raw.value], at)
            elif isinstance(raw.value, str):
                expected = parse_shape(raw.value, at)
            else:
                raise SpecError(f"{what}: write a shape such as 55x55x96 or [55, 55, 96], got "
                                f"{_describe(raw.value)}", at)
        elif quantity == "receptive_field":
            expected = _sizes(raw.value, what, at)
        elif quantity == "train":
            if where != "the network":
                raise SpecError("'train' goes under the network's 'expect', not a layer's", raw.key_loc,
                                hint=f"at the spec's top level: expect: {{{TRAIN_EXAMPLE}}}")
            expected = parse_train(raw.value, at)
            text = _train_text(expected)
        else:
            expected = parse_amount(raw.value, raw.text, what, at, allow_bytes=quantity == "memory")
        out.append(Expectation(quantity, expected, text, at))
    return tuple(out)


def parse_budget(raws: Sequence[RawValue]) -> Tuple[Limit, ...]:
    out = []
    seen = set()
    for raw in raws:
        quantity = ALIASES.get(raw.key.lower(), raw.key.lower())
        if quantity not in BUDGET_QUANTITIES:
            raise SpecError(f"no budget for '{raw.key}'{did_you_mean(raw.key, BUDGET_QUANTITIES)}", raw.key_loc,
                            hint=f"budget: {', '.join(BUDGET_QUANTITIES)}")
        if quantity in seen:
            raise SpecError(f"'{quantity}' has two budgets", raw.key_loc)
        seen.add(quantity)
        at = raw.value_loc or raw.key_loc
        amount = parse_amount(raw.value, raw.text, f"budget {quantity}", at, allow_bytes=quantity == "memory")
        out.append(Limit(quantity, amount, "budget", at))
    return tuple(out)


def _is_mapping(value: Any) -> bool:
    """A nested mapping as the YAML reader gives it: a list of RawValues."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, RawValue) for v in value)


def parse_train(value: Any, loc: Optional[Location]) -> TrainPeak:
    """``{batch: 64, optimizer: adam, peak: {max: 16GiB}}`` (or ``peak: 2.8GiB``) -> TrainPeak."""
    from ..layers.options import describe_value

    if not _is_mapping(value):
        raise SpecError(f"expected train: a mapping, got {describe_value(value)}", loc, hint=TRAIN_EXAMPLE)
    fields: Dict[str, RawValue] = {}
    for raw in value:
        key = raw.key.lower()
        if key not in TRAIN_KEYS:
            raise SpecError(f"train: no field '{raw.key}'{did_you_mean(raw.key, TRAIN_KEYS)}", raw.key_loc,
                            hint=f"train takes {', '.join(TRAIN_KEYS)}: {TRAIN_EXAMPLE}")
        if key in fields:
            raise SpecError(f"train: '{key}' is given twice", raw.key_loc)
        fields[key] = raw
    batch = 1
    if "batch" in fields:
        raw = fields["batch"]
        if isinstance(raw.value, bool) or not isinstance(raw.value, int) or raw.value < 1:
            raise SpecError(f"train: expected batch to be a whole number of at least 1, got "
                            f"{describe_value(raw.value)}", raw.value_loc, hint=TRAIN_EXAMPLE)
        from ..limits import MAX_SIZE

        if raw.value > MAX_SIZE:
            raise SpecError(f"train: batch {raw.value:,} is more than convcalc computes ({MAX_SIZE:,})",
                            raw.value_loc)
        batch = raw.value
    optimizer = "sgd"
    if "optimizer" in fields:
        raw = fields["optimizer"]
        name = str(raw.value).lower() if isinstance(raw.value, str) else ""
        if name not in OPTIMIZER_NAMES:
            written = f"'{raw.value}'" if isinstance(raw.value, str) else describe_value(raw.value)
            raise SpecError(f"train: no optimizer {written}{did_you_mean(str(raw.value), OPTIMIZER_NAMES)}",
                            raw.value_loc,
                            hint=f"optimizer: one of {', '.join(OPTIMIZER_NAMES)}")
        optimizer = name
    if "peak" not in fields:
        raise SpecError("train: which peak? 'peak' is missing", loc, hint=TRAIN_EXAMPLE)
    raw = fields["peak"]
    at = raw.value_loc or raw.key_loc
    ceiling = _is_mapping(raw.value)
    written = raw.value
    text = raw.text
    if ceiling:
        inner = {r.key.lower(): r for r in raw.value}
        unknown = [r for r in raw.value if r.key.lower() != "max"]
        if unknown:
            raise SpecError(f"train: peak takes 'max' only, got '{unknown[0].key}'", unknown[0].key_loc,
                            hint="peak: {max: 16GiB} (a ceiling) or peak: 2.8GiB (within half its last digit)")
        written, text, at = inner["max"].value, inner["max"].text, inner["max"].value_loc or at
    amount = parse_amount(written, text, "train: peak", at, allow_bytes=True)
    if not amount.bytes:
        raise SpecError(f"train: peak '{amount.text}' has no byte unit", at,
                        hint="a size with its unit: 16GiB (2**30 B), 16GB (10**9 B), 12000MiB")
    return TrainPeak(batch, optimizer, amount, ceiling)


def _train_text(t: TrainPeak) -> str:
    return f"peak {'≤ ' if t.ceiling else ''}{t.peak.text} at batch {t.batch}, {t.optimizer}"


def _written(value: Any) -> str:
    if isinstance(value, list):
        return "x".join(map(str, value))
    return str(value)


def _sizes(value: Any, what: str, loc: Optional[Location]) -> Tuple[int, ...]:
    from ..layers.options import OptionError, per_axis

    try:
        return per_axis(value)
    except OptionError as e:
        raise SpecError(f"{what}: {e}", loc) from None


def parse_bytes(value: Any, what: str, loc: Optional[Location] = None) -> int:
    """A memory size, exactly: ``16GiB`` (2**30), ``16GB`` (10**9), ``12000MiB``, ``1.5GiB``, ``0``."""
    example = "write a size with its unit, e.g. 16GiB, 16GB, 12000MiB or 0"
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    if isinstance(value, str) and _AMOUNT.match(value.strip()) is None:  # not a count's hint: sizes have no ±
        raise SpecError(f"{what}: cannot read '{value}' as a memory size", loc, hint=example)
    amount = parse_amount(value, None, what, loc, allow_bytes=True)
    if not amount.bytes and amount.value != 0:
        raise SpecError(f"{what}: '{amount.text}' has no byte unit", loc, hint=example)
    if amount.value.denominator != 1:
        raise SpecError(f"{what}: '{amount.text}' is not a whole number of bytes", loc, hint=example)
    return int(amount.value)
