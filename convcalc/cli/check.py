"""``convcalc check`` (expectations, budgets, strides, for people and for CI) and ``convcalc schema``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import click

from . import cli, warn_about_reading
from .options import input_option

if TYPE_CHECKING:
    from ..spec.expectations import Limit

CHECK_HELP = """
\b
SOURCE is a YAML spec, a cs231n listing ('[55x55x96] CONV1: 96 11x11 filters
at stride 4, pad 0'), a directory (its *.yaml and *.yml, recursively), a glob
('specs/**/*.convnet.yaml'), a bundled architecture, a layer string, or '-'.

\b
Expectations ('expect:' on a layer or the network) hold exactly when written
as whole numbers (34944) and within half the last digit when rounded (105.4M
is 105,350,000 to 105,450,000; 35K is 34,500 to 35,500). Budgets ('budget:' in
the spec, or --max-*) are ceilings. Memory is activations (output elements,
the input included), or bytes when a byte unit is given (2GiB, at --dtype and
--batch). --max-train-memory and a spec's expect: {train: {batch: 64,
optimizer: adam, peak: {max: 16GiB}}} limit the peak of one training step,
as `convcalc plan` computes it. A listing's bracketed shapes are answers:
an answer that follows from an earlier wrong one passes, marked as carried
forward.

\b
Exit codes: 0 every check holds, 1 a check failed (an expectation, a budget,
or under --strict a stride that does not fit or a check that cannot be made),
2 a source could not be read or does not compute, or bad usage.
"""


def _limits(params: Optional[str], macs: Optional[str], flops: Optional[str],
            memory: Optional[str], train: Optional[str] = None, optimizer: str = "sgd") -> Tuple["Limit", ...]:
    from fractions import Fraction

    from ..errors import SpecError, shown
    from ..spec.expectations import Amount, Limit, parse_amount, parse_bytes

    limits = []
    if train is not None:
        try:
            size = parse_bytes(train, "--max-train-memory")
        except SpecError as e:  # what the user typed is shown with its control characters escaped
            raise click.UsageError(shown(f"{e.message}; {e.hint}" if e.hint else e.message)) from None
        limits.append(Limit("train", Amount(Fraction(size), Fraction(0), train.strip(), True), "--max-train-memory",
                            None, optimizer))
    for flag, quantity, value in (("--max-params", "params", params), ("--max-macs", "macs", macs),
                                  ("--max-flops", "flops", flops), ("--max-memory", "memory", memory)):
        if value is not None:
            limits.append(Limit(quantity, parse_amount(value, None, flag, None, allow_bytes=quantity == "memory"),
                                flag))
    return tuple(limits)


def expand(sources: Tuple[str, ...]) -> List[str]:
    """Files, directories (their *.yaml, *.yml), globs, and anything else (names, strings) as given."""
    import glob
    from pathlib import Path

    out: List[str] = []
    for arg in sources:
        path = Path(arg)
        if arg != "-" and _safe(path.is_dir):
            out += specs_in(arg) or [arg]
        elif any(c in arg for c in "*?[") and not _safe(path.exists):
            out += sorted(glob.glob(arg, recursive=True)) or [arg]
        else:
            out.append(arg)
    return out


def specs_in(directory: str) -> List[str]:
    """The *.yaml and *.yml files under ``directory``, and each directory that cannot be read (its
    own source, so that it is reported as unreadable rather than silently skipped)."""
    import os

    found: List[str] = []
    unreadable: List[str] = []
    for root, _, files in os.walk(directory, onerror=lambda e: unreadable.append(str(e.filename))):
        found += [os.path.join(root, f) for f in files if f.endswith((".yaml", ".yml"))]
    return sorted(found) + unreadable


def _safe(test: "object") -> bool:
    try:
        return bool(test())  # type: ignore[operator]
    except (OSError, ValueError):
        return False


def _loader(arg: str) -> object:
    """Like ``load``, but a glob that matched nothing or a directory without specs says so."""
    from pathlib import Path

    from ..errors import SpecError
    from ..load import load

    if arg != "-" and _safe(Path(arg).is_dir):
        import os

        try:
            with os.scandir(arg):
                pass
        except OSError as e:
            raise SpecError(f"cannot read the directory '{arg}': {e.strerror or e}") from None
        raise SpecError(f"no *.yaml or *.yml files in the directory '{arg}'")
    if any(c in arg for c in "*?[") and not _safe(Path(arg).exists):
        raise SpecError(f"no files match '{arg}'")
    spec = load(arg)
    warn_about_reading(spec)
    return spec


@cli.command(epilog=CHECK_HELP)
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--strict", is_flag=True,
              help="Fail on a stride that does not fit and on an expectation that cannot be checked.")
@click.option("--max-params", metavar="N", help="Budget: at most N parameters (25M, 25000000).")
@click.option("--max-macs", metavar="N", help="Budget: at most N multiply-accumulates (4G).")
@click.option("--max-flops", metavar="N", help="Budget: at most N FLOPs (= 2·MACs).")
@click.option("--max-memory", metavar="N", help="Budget: activations (2.5M) or bytes (2GiB) of one forward pass.")
@click.option("--max-train-memory", metavar="SIZE",
              help="Budget: the peak of one training step at --batch with --optimizer (16GiB), as `convcalc plan` "
                   "gives it.")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam", "adamw"]), default="sgd",
              show_default=True, help="The optimizer of --max-train-memory's step.")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="text for people; json for scripts; github for workflow annotations.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "int8", "float64"]), default="float32",
              show_default=True, help="Element type for memory in bytes.")
@click.option("--batch", type=click.IntRange(1, 10**9), default=1, show_default=True,
              help="Batch size for memory in bytes.")
@input_option
@click.option("--quiet", "-q", is_flag=True,
              help="Show only what fails, is unchecked, warns or is filled in ([?]), and the summary.")
@click.pass_context
def check(ctx: click.Context, sources: Tuple[str, ...], strict: bool, max_params: Optional[str],
          max_macs: Optional[str], max_flops: Optional[str], max_memory: Optional[str],
          max_train_memory: Optional[str], optimizer: str, fmt: str, dtype: str,
          batch: int, quiet: bool, input_shape: Any) -> None:
    """Check every expectation and budget of one or more specs: ✓ or ✗, with the working.

    \b
    Examples:
      convcalc check homework.txt
      convcalc check specs/*.convnet.yaml --strict
      convcalc check vgg16 --max-params 25M --max-macs 4G
      convcalc check resnet50 --max-train-memory 16GiB --batch 64 --optimizer adam
      convcalc check 'models/**/*.convnet.yaml' --format github
    """
    from ..tools import check as checking

    if fmt == "json":
        ctx.meta["convcalc.json_errors"] = True
    options = checking.Options(strict, _limits(max_params, max_macs, max_flops, max_memory, max_train_memory,
                                               optimizer), dtype, batch)
    from ..spec.model import with_input

    def loader(arg: str) -> object:
        return with_input(_loader(arg), input_shape)  # type: ignore[arg-type]

    results = [checking.check_source(arg, options, loader) for arg in expand(sources)]
    render: Dict[str, Callable[[], str]] = {"text": lambda: checking.text(results, quiet),
                                            "json": lambda: checking.to_json(results),
                                            "github": lambda: checking.github(results)}
    click.echo(render[fmt](), nl=False)
    ctx.exit(checking.exit_code(results))


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the YAML spec, for editors (yaml-language-server) and CI.

    \b
    Examples:
      convcalc schema > convnet.schema.json
      # then, first line of a spec:  # yaml-language-server: $schema=convnet.schema.json
    """
    from ..spec.schema import schema_text

    click.echo(schema_text(), nl=False)
