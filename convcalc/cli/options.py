"""Options shared by the commands that count: dtype, batch and the counting conventions."""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import click

OPS = ("norm", "act", "pool")


def _ops(ctx: click.Context, param: click.Parameter, value: Tuple[str, ...]) -> Tuple[str, ...]:
    """``--count-ops norm,act`` or the option given several times; 'all' means every kind."""
    words = [w.strip().lower() for v in value for w in v.split(",") if w.strip()]
    if "all" in words:
        return OPS
    for w in words:
        if w not in OPS:
            from ..errors import shown

            raise click.BadParameter(f"'{shown(w)}' is not one of {', '.join(OPS)}, all")
    return tuple(k for k in OPS if k in words)


def _input(ctx: click.Context, param: click.Parameter, value: "str | None") -> Any:
    """``--input 480x640x3``: the shape every spec runs on instead of its own."""
    if value is None:
        return None
    from ..errors import ConvcalcError, Location, shown
    from ..spec.shapes import parse_shape

    try:
        return parse_shape(value, Location("--input", 1, 1, value, len(value)))
    except ConvcalcError as e:
        raise click.BadParameter(shown(e.message)) from None  # what was typed, control characters shown


input_option = click.option(
    "--input", "input_shape", metavar="HxWxC", callback=_input,
    help="Run the spec on this input shape instead of its own (bundled specs too); sizes taken "
         "from other tensors ('like:') follow it.")


def counting_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --dtype, --batch, --count, --bias/--no-bias, --count-ops, --inplace and --optimizer."""
    options = [
        click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "int8", "float64"]),
                     default="float32", show_default=True, help="Element type for byte counts."),
        click.option("--batch", type=click.IntRange(1, 10**9), default=1, show_default=True,
                     help="Batch size for activation bytes."),
        click.option("--count", type=click.Choice(["macs", "flops"]), default="macs", show_default=True,
                     help="Count multiply-accumulates, or FLOPs (= 2·MACs)."),
        click.option("--bias/--no-bias", default=True, show_default=True,
                     help="Count biases in params (the cs231n VGG table does not)."),
        click.option("--count-ops", "ops", multiple=True, callback=_ops, metavar="KINDS",
                     help="Also count element-wise work: norm, act, pool (comma-separated) or all; "
                          "one op per element (pool: per window element), batchnorm one MAC."),
        click.option("--inplace", is_flag=True,
                     help="Activations and dropout run in place: their outputs add no activation memory."),
        click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam"]), default="sgd",
                     show_default=True, help="Optimizer state in the training memory estimate."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def conventions_from(kwargs: Dict[str, Any]) -> Any:
    """The Conventions the counting options ask for (and removes them from ``kwargs``)."""
    from ..analysis.result import Conventions

    return Conventions(count=kwargs.pop("count"), bias=kwargs.pop("bias"), ops=kwargs.pop("ops"),
                       optimizer=kwargs.pop("optimizer"), inplace=kwargs.pop("inplace"))
