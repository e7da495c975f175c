"""``convcalc conv``, ``pool``, ``fc`` and ``solve``: one layer in the terminal, with the working shown.

These start fast: nothing here (or in what they import) loads PyYAML or Rich.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import click

from . import cli

DTYPES = ["float32", "float16", "bfloat16", "int8", "float64"]

def lookup_help(formulas: str, strided: bool = True) -> str:
    """A lookup's epilog: its own formulas, and --strict and exit 1 only where a stride can misfit."""
    stride = ("\nA stride that does not divide W1 − F + 2P is floored (as PyTorch does) and\n"
              "flagged with what would fit; --strict makes that exit 1.") if strided else ""
    codes = "0 ok, 1 --strict and a stride that does not fit, 2 bad input" if strided else "0 ok, 2 bad input"
    return f"""
\b
The numbers are the engine's (the same rules as `convcalc table`); the working
substitutes them into the lecture notes' formulas:
{formulas}{stride}

\b
Exit codes: {codes}.
"""


CONV_HELP = lookup_help("W2 = (W1 − F + 2P)/S + 1, D2 = K, params = F·F·D1·K + K,\n"
                        "MACs = H2·W2·F·F·D1·K, memory = output elements.")
POOL_HELP = lookup_help("W2 = (W1 − F + 2P)/S + 1, D2 = D1, memory = output elements;\n"
                        "params = 0 and MACs = 0 (a pool has no weights; comparisons are not MACs).")
FC_HELP = lookup_help("inputs N = H·W·D1 (flattened), params = N·K + K for K units,\n"
                      "MACs = N·K, memory = K.", strided=False)


def format_option(f: Any) -> Any:
    return click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="text: the working; json: exact figures for scripts.")(f)


def strict_option(f: Any) -> Any:
    return click.option("--strict", is_flag=True, help="A stride that does not fit is a failure (exit 1).")(f)


def common_options(f: Any) -> Any:
    f = click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True,
                     help="Element type for the memory in bytes.")(f)
    return format_option(f)


def _value(text: str, flag: str) -> Any:
    """A command-line value as a spec would hold it: a whole number (options.read_whole: ASCII
    digits, an optional sign, bounded before conversion) is a number, the rest stays text."""
    from ..errors import SpecError
    from ..layers.options import OptionError, read_whole

    text = text.strip()
    if text.lstrip("+-").isdigit():  # a cheap test; read_whole refuses '²' and other non-ASCII digits
        try:
            return read_whole(text)
        except OptionError as e:
            raise SpecError(f"{flag}: {e}") from None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def build(kind: str, options: List[Tuple[str, str, Any]]) -> Any:
    """A layer rule from ``(flag, option, value)`` triples, validated by the kind's own converters.

    Each value goes through the converter the YAML and string parsers use, so ``-k 3x5``,
    ``-p same`` and ``-d 2`` mean exactly what ``k3x5``, ``psame`` and ``d2`` mean; an error
    names the flag and says what it received.
    """
    from ..errors import SpecError
    from ..layers import lookup as kind_of
    from ..layers.options import OptionError
    from ..spec.model import RawOption, make_layer

    k = kind_of(kind)
    assert k is not None
    fields = k.option_fields()
    raw = []
    for flag, name, value in options:
        if value is None:
            continue
        value = _value(value, flag) if isinstance(value, str) else value
        try:
            fields[name].metadata["convert"](value)
        except OptionError as e:
            raise SpecError(f"{flag}: {e}", hint=f"{flag}: {fields[name].metadata['help']}") from None
        raw.append(RawOption(name, value))
    return make_layer(kind, raw, None)


def run_lookup(ctx: click.Context, kind: str, shape: str, options: List[Tuple[str, str, Any]], fmt: str,
               dtype: str, strict: bool) -> None:
    from ..errors import CheckFailed
    from ..shape import channels_first_note
    from ..spec.shapes import parse_shape
    from ..tools.lookup import lookup

    if fmt == "json":
        ctx.meta["convcalc.json_errors"] = True
    x = parse_shape(shape)
    result = lookup(build(kind, options), x, dtype)
    warned = [a[2:] for a in result.advice if a.startswith("⚠")] or [n.text for n in result.warnings]
    failures = [f"--strict: {w}" for w in warned] if strict else []
    read_as = channels_first_note(x.dims)  # how the shape was read, when it looks channels-first
    if fmt == "json":
        import json

        data = result.to_dict()
        if read_as:
            code = "channels-first" if len(x.dims) > 2 else "one-axis"  # '32x32': a 1-D signal, as written
            data["notes"] = [{"level": "warning", "code": code, "text": read_as}, *data["notes"]]
        # One document: what --strict fails on is in it, so no error document follows.
        click.echo(json.dumps({**data, "strict": strict, "failures": failures}, indent=2, ensure_ascii=False))
        ctx.meta["convcalc.json_errors"] = False
    else:
        import sys

        from ..report.grid import terminal_width

        width = terminal_width(sys.stdout)
        lines = result.lines(width)
        if read_as:
            import textwrap

            lines.insert(1, textwrap.fill(f"⚠ {read_as}", width=max(width - 1, 20), initial_indent="  ",
                                          subsequent_indent="    ", break_long_words=False,
                                          break_on_hyphens=False) if width else f"  ⚠ {read_as}")
        click.echo("\n".join(lines))
    if failures:
        raise CheckFailed(failures[0])


@cli.command(epilog=CONV_HELP)
@click.argument("shape")
@click.option("-n", "--filters", required=True, help="Number of filters K (output channels).")
@click.option("-k", "--kernel", required=True, help="Kernel F: 3, or 3x5 per axis.")
@click.option("-s", "--stride", help="Stride S (default 1).")
@click.option("-p", "--padding", help="Padding P per side: 1, 1x2, same or valid (default 0).")
@click.option("-d", "--dilation", help="Dilation D (default 1).")
@click.option("-g", "--groups", help="Groups (default 1).")
@click.option("--no-bias", "--nb", "no_bias", is_flag=True, help="No bias (the layer string's 'nb').")
@strict_option
@common_options
@click.pass_context
def conv(ctx: click.Context, shape: str, filters: str, kernel: str, stride: Optional[str], padding: Optional[str],
         dilation: Optional[str], groups: Optional[str], no_bias: bool, fmt: str, dtype: str, strict: bool) -> None:
    """A conv layer on input SHAPE (HxWxC): output, params, MACs, memory, with the working.

    \b
    Examples:
      convcalc conv 227x227x3 -n 96 -k 11 -s 4
      convcalc conv 32x32x3 -n 10 -k 5 -p 2
      convcalc conv 224x224x3 -n 64 -k 7 -s 2 -p same
      convcalc conv 56x56x256 -n 256 -k 3 -p 1 -g 32 --format json
    """
    run_lookup(ctx, "conv", shape, [("-n/--filters", "filters", filters), ("-k/--kernel", "kernel", kernel),
                                    ("-s/--stride", "stride", stride), ("-p/--padding", "padding", padding),
                                    ("-d/--dilation", "dilation", dilation), ("-g/--groups", "groups", groups),
                                    ("--no-bias", "bias", False if no_bias else None)], fmt, dtype, strict)


@cli.command(epilog=POOL_HELP)
@click.argument("shape")
@click.option("-k", "--kernel", default="2", show_default=True, help="Window F: 3, or 3x5 per axis.")
@click.option("-s", "--stride", help="Stride S (default: the window).")
@click.option("-p", "--padding", help="Padding P per side, at most half the window (default 0).")
@click.option("--ceil", is_flag=True, help="Round the output size up (PyTorch's ceil_mode).")
@click.option("--avg", is_flag=True, help="Average pooling (the default is max; the counts are the same).")
@strict_option
@common_options
@click.pass_context
def pool(ctx: click.Context, shape: str, kernel: str, stride: Optional[str], padding: Optional[str], ceil: bool,
         avg: bool, fmt: str, dtype: str, strict: bool) -> None:
    """A pooling layer on input SHAPE (HxWxC): output and memory, with the working.

    \b
    Examples:
      convcalc pool 55x55x96 -k 3 -s 2
      convcalc pool 112x112x64 -k 3 -s 2 -p 1
      convcalc pool 56x56x64 -k 3 -s 2 --ceil
    """
    run_lookup(ctx, "avgpool" if avg else "maxpool", shape,
               [("-k/--kernel", "kernel", kernel), ("-s/--stride", "stride", stride),
                ("-p/--padding", "padding", padding), ("--ceil", "ceil_mode", True if ceil else None)],
               fmt, dtype, strict)


@cli.command(epilog=FC_HELP)
@click.argument("shape")
@click.option("-n", "--units", required=True, help="Number of output units.")
@click.option("--no-bias", "--nb", "no_bias", is_flag=True, help="No bias.")
@common_options
@click.pass_context
def fc(ctx: click.Context, shape: str, units: str, no_bias: bool, fmt: str, dtype: str) -> None:
    """A fully connected layer on input SHAPE (HxWxC, flattened, or a width): params and MACs, with the working.

    \b
    Examples:
      convcalc fc 6x6x256 -n 4096
      convcalc fc 4096 -n 1000 --format json
    """
    run_lookup(ctx, "fc", shape, [("-n/--units", "units", units),
                                  ("--no-bias", "bias", False if no_bias else None)], fmt, dtype, False)


SOLVE_HELP = """
\b
Leave out what you want solved: any of --in, --out, -k, -s, -p (give --in or
--out). Every candidate runs through the same window rule as `convcalc table`.
Listed first: exact fits with 'same'-style P = (F − 1)/2, then 'valid' P = 0;
then sizes that PyTorch floors, TensorFlow's asymmetric 'same' padding, and
what needs ceil mode (pools only). Unknowns are searched in small ranges,
stated in the output: F 1-11, S 1 to max(F, 2), P 0 to F − 1 (pools: F/2).

\b
Exit codes: 0 solved, 1 no solution in the ranges, 2 bad input.
"""


def _size(text: Optional[str], flag: str) -> Optional[int]:
    """A size: ``32``, or a square shape such as ``32x32x3`` (its spatial size)."""
    if text is None:
        return None
    from ..errors import SpecError
    from ..layers.options import OptionError, positive
    from ..spec.shapes import parse_shape

    value = _value(text, flag)
    if isinstance(value, int):
        try:
            return positive(value)
        except OptionError as e:
            raise SpecError(f"{flag}: {e}") from None
    shape = parse_shape(text)
    if len(set(shape.spatial)) != 1:
        raise SpecError(f"{flag}: solve works on one axis at a time; '{text}' is not square",
                        hint=f"give one size, e.g. {flag.split('/')[-1]} {shape.spatial[0] if shape.spatial else text}")
    return shape.spatial[0]


def _number(text: Optional[str], flag: str, minimum: int = 1) -> Optional[int]:
    if text is None:
        return None
    from ..errors import SpecError
    from ..layers.options import OptionError, whole

    try:
        return whole(_value(text, flag), minimum)
    except OptionError as e:
        raise SpecError(f"{flag}: {e}") from None


@cli.command(epilog=SOLVE_HELP)
@click.option("--in", "size", metavar="W1", help="Input size (or a square shape such as 32x32x3).")
@click.option("--out", metavar="W2", help="Output size wanted.")
@click.option("-k", "--kernel", metavar="F", help="Kernel size.")
@click.option("-s", "--stride", metavar="S", help="Stride.")
@click.option("-p", "--padding", metavar="P", help="Padding per side.")
@click.option("-d", "--dilation", metavar="D", default="1", show_default=True, help="Dilation.")
@click.option("--pool", is_flag=True, help="A pooling layer: padding at most F/2, ceil mode allowed.")
@click.option("--max-kernel", metavar="N", help="Search kernels up to N (default 11).")
@click.option("--max-stride", metavar="N", help="Search strides up to N (default max(F, 2)).")
@click.option("--max-padding", metavar="N", help="Search paddings up to N (default F − 1; pools F/2).")
@format_option
@click.pass_context
def solve(ctx: click.Context, size: Optional[str], out: Optional[str], kernel: Optional[str], stride: Optional[str],
          padding: Optional[str], dilation: str, pool: bool, max_kernel: Optional[str], max_stride: Optional[str],
          max_padding: Optional[str], fmt: str) -> None:
    """Find the kernel, stride, padding or sizes that make a layer fit.

    \b
    Examples:
      convcalc solve --in 32 -k 5 -s 2 --out 16      # P = ?
      convcalc solve --in 224 --out 112 -k 7         # every (S, P)
      convcalc solve --in 7 -k 3                     # every S, P that fits exactly
      convcalc solve --out 55 -k 11 -s 4 -p 0        # which input sizes give 55
    """
    from ..tools.solve import Problem
    from ..tools.solve import solve as run

    if fmt == "json":
        ctx.meta["convcalc.json_errors"] = True
    problem = Problem(
        size=_size(size, "--in"), out=_size(out, "--out"), kernel=_number(kernel, "-k/--kernel"),
        stride=_number(stride, "-s/--stride"), padding=_number(padding, "-p/--padding", 0),
        dilation=_number(dilation, "-d/--dilation") or 1, pool=pool,
        max_kernel=_number(max_kernel, "--max-kernel"), max_stride=_number(max_stride, "--max-stride"),
        max_padding=_number(max_padding, "--max-padding", 0))
    solved = run(problem)
    if fmt == "json":
        import json

        click.echo(json.dumps(solved.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(solved.lines()))
    if not solved.solutions:
        ctx.exit(1)
