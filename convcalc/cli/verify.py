"""``convcalc verify``: run every layer through the reference implementation and compare."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import click

from . import cli, warn_about_reading
from .options import input_option

if TYPE_CHECKING:
    from ..analysis.result import Report
    from ..reference.verify import Figures, LayerCheck, Verification

VERIFY_HELP = """
\b
How it checks:
  Every layer is built in pure Python with seeded random weights and run on
  a random input of its input shape. Output shapes come from the windows that
  fit, parameters are len() of the weights allocated, MACs are counted by the
  loops that multiply. A layer with more work than about 2M MACs runs twice:
  at its true spatial size with channels scaled down (at most --channels), and
  with its true channels on one output position; both must match the engine at
  their own size, and the full-size figures are composed from them (MACs =
  positions × MACs per position). --full runs every layer at its true size.

\b
Budget: every run is planned from the engine's figures before any starts;
one run may hold at most 10,000,000 elements (about 0.5 GB in pure Python)
and do at most 2,000,000,000 multiplies (a few minutes). A spec with a run
over either is refused (exit 2) at that layer: verify a smaller input, or
drop --full (VGG-16's fc6 needs 102,793,728 elements at true size).

\b
Exit codes: 0 every figure agrees (layers without a reference are listed as
not verified), 1 a figure disagrees, 2 bad input or usage or a run over the
budget, 3 internal error, 130 interrupted.
"""


@cli.command(epilog=VERIFY_HELP)
@click.argument("spec")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table, or JSON for CI.")
@click.option("--full", is_flag=True, help="Run every layer at its true size (slow: pure Python).")
@click.option("--channels", "max_channels", type=click.IntRange(1, 1024), default=4, show_default=True,
              help="Most channels (and filters, units) in a scaled run.")
@input_option
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Seed for the random weights and inputs: any whole number from 0.")
@click.option("--width", type=click.IntRange(40, 1000), default=None, help="Table width (default: the terminal's).")
@click.pass_context
def verify(ctx: click.Context, spec: str, fmt: str, full: bool, max_channels: int, seed: int,
           width: Optional[int], input_shape: Any = None) -> None:
    """Prove the figures on real numbers: run each layer in a reference implementation.

    SPEC is a YAML file, '-' for stdin, a bundled architecture or a layer string.
    Prints, for each layer, the engine's output shape, params and MACs with ✓ where
    the reference measured the same, ✗ (and exit code 1) where it did not.

    \b
    Examples:
      convcalc verify vgg16
      convcalc verify alexnet --format json
      convcalc verify "32x32x3 conv16k3p1 maxpool2 fc10" --full
      convcalc verify resnet18 --channels 8 --seed 1
    """
    from ..analysis.engine import analyse
    from ..load import load

    if fmt == "json":
        ctx.meta["convcalc.json_errors"] = True
    ctx.meta["convcalc.spec"] = spec  # named in an internal-error message
    from ..spec.model import with_input

    network = with_input(load(spec, input=input_shape), input_shape)
    warn_about_reading(network)
    report = analyse(network)
    start = time.perf_counter()
    result = _with_progress(report, full, max_channels, seed)
    seconds = time.perf_counter() - start
    if fmt == "json":
        import json

        click.echo(json.dumps(verification_dict(result, report, seconds), indent=2, ensure_ascii=False))
    else:
        _print_table(result, seconds, width)
    if not result.ok:
        ctx.exit(1)


def _with_progress(report: "Report", full: bool, max_channels: int, seed: int) -> "Verification":
    """Verify with a Rich progress bar on stderr (only when stderr is a terminal)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from ..reference.verify import verify

    console = Console(stderr=True)
    columns = (TextColumn("verifying {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("", total=len(report.layers))

        def progress(done: int, total: int, layer: Any) -> None:
            bar.update(task, completed=done, description=f"{layer.index} {layer.full_name}")

        return verify(report, seed=seed, full=full, max_channels=max_channels, progress=progress)


# --- output ---------------------------------------------------------------------------------------


def _figures_dict(f: Optional["Figures"]) -> Optional[Dict[str, Any]]:
    if f is None:
        return None
    return {"output": {"shape": list(f.output.dims), "text": str(f.output)}, "params": f.params,
            "buffers": f.buffers, "macs": f.macs}


def verification_dict(v: "Verification", report: "Report", seconds: float) -> Dict[str, Any]:
    from ..reference.verify import QUANTITIES
    from ..version import __version__

    spec = report.spec
    return {
        "schema_version": 1,
        "convcalc_version": __version__,
        "network": {"name": spec.name, "title": spec.title, "origin": spec.origin},
        "input": {"shape": list(spec.input.dims), "text": str(spec.input)},
        "settings": {"seed": v.seed, "full": v.full, "max_channels": v.max_channels, "budget": v.budget},
        "ok": v.ok,
        "summary": {"layers": len(v.layers), "verified": v.count("verified"), "failed": v.count("failed"),
                    "not_verified": v.count("not verified")},
        "seconds": round(seconds, 3),
        "layers": [
            {
                "index": c.index,
                "name": c.name,
                "kind": c.kind,
                "description": c.description,
                "status": c.status,
                "reason": c.reason or None,
                "scaled": c.scaled or None,
                "engine": _figures_dict(c.engine),
                "measured": _figures_dict(c.measured),
                "agree": {q: c.agrees(q) for q in QUANTITIES} if c.measured is not None else None,
                "runs": [{"label": r.label, "inputs": [str(s) for s in r.inputs], "layer": r.layer,
                          "engine": _figures_dict(r.engine), "measured": _figures_dict(r.measured), "agree": r.ok}
                         for r in c.runs],
            }
            for c in v.layers
        ],
    }


def _cell(c: "LayerCheck", quantity: str) -> str:
    engine = getattr(c.engine, quantity)
    text = str(engine) if quantity == "output" else f"{engine:,}"
    if c.measured is None:
        return text
    if c.agrees(quantity):
        return f"{text} ✓"
    measured = getattr(c.measured, quantity)
    if measured == engine:  # the full size agrees but a run did not: the details say which
        return f"{text} ✗"
    return f"{text} ≠ {measured if quantity == 'output' else f'{measured:,}'} ✗"


def _print_table(v: "Verification", seconds: float, width: Optional[int]) -> None:
    """Drawn with report/grid.py, as `convcalc table` is: numbers and marks are never cut; the name and
    layer columns give way to a narrow terminal, 'measured on' wraps; a pipe or a file gets every
    line at its full width."""
    import sys

    from ..report import grid

    out = sys.stdout
    if width is None:
        width = grid.terminal_width(out)
    with_buffers = any(c.engine.buffers for c in v.layers)
    quantities = ["output", "params", *(["buffers"] if with_buffers else []), "macs"]
    columns = [grid.Column("#", style="dim"), grid.Column("name", "left", shrink=8, shrink_order=2),
               grid.Column("layer", "left", shrink=12, shrink_order=1), grid.Column("output", "left"),
               grid.Column("params"), *([grid.Column("buffers")] if with_buffers else []), grid.Column("MACs"),
               grid.Column("measured on", "left", wrap=True)]
    rows: List[Optional[grid.Row]] = []
    for c in v.layers:
        if c.status == "verified" or c.status == "failed" and c.measured is not None:
            how = f"scaled: {c.scaled}" if c.scaled else ("true size" if c.runs else "")
        else:
            how = f"{'✗' if c.status == 'failed' else '–'} {c.status} ({c.reason})"
        style = "red" if c.status == "failed" else ("yellow" if c.status == "not verified" else "")
        rows.append(grid.Row((str(c.index), c.name, c.description, *(_cell(c, q) for q in quantities), how), style))
    lines = [[(f"verify {v.network} — input {v.input}, seed {v.seed}", "")], []] + grid.layout(columns, rows, width)
    lines.append([])
    for text in closing_lines(v, seconds):  # wrapped at the width, each keeping its indent
        indent = text[:len(text) - len(text.lstrip(" "))]
        lines += [[(indent, "")] + line for line in grid.paragraph(text.lstrip(" "), "",
                                                                     width and max(20, width - len(indent)))]
    grid.write(lines, out)


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def closing_lines(v: "Verification", seconds: float) -> List[str]:
    """The summary under the table: what agreed, what was scaled and how, what failed, the time."""
    total, verified = len(v.layers), v.count("verified")
    failed = [c for c in v.layers if c.status == "failed"]
    missing = [c for c in v.layers if c.status == "not verified"]
    scaled = [c for c in v.layers if c.scaled]
    lines = []
    if failed:
        lines.append(f"✗ {len(failed)} of {total} layer{'s' if total != 1 else ''} "
                     f"disagree{'s' if len(failed) == 1 else ''} with the reference:")
        for c in failed:
            lines.append(f"  layer {c.index} '{c.name}' ({c.description}):")
            if c.measured is None:
                lines.append(f"    {c.reason}")
            for r in c.runs:
                for q in ("output", "params", "buffers", "macs"):
                    if not r.agrees(q):
                        e, m = getattr(r.engine, q), getattr(r.measured, q)
                        lines.append(f"    {r.label} ({', '.join(map(str, r.inputs))} → {r.layer}): "
                                     f"{q} engine {_number(e)} ≠ measured {_number(m)}")
            if c.measured is not None:
                for q in ("output", "params", "buffers", "macs"):
                    e, m = getattr(c.engine, q), getattr(c.measured, q)
                    if e != m:
                        lines.append(f"    full size: {q} engine {_number(e)} ≠ measured {_number(m)}")
    else:
        lines.append(f"✓ {verified} of {total} layer{'s' if total != 1 else ''} verified: output shape, parameters, "
                     f"buffers and MACs are what the reference measured.")
    if missing:  # one reason said once, with the layers it holds for (six at most by name)
        reasons: Dict[str, List[Any]] = {}
        for c in missing:
            reasons.setdefault(c.reason, []).append(c)
        parts = []
        for reason, held in reasons.items():
            names = ", ".join(f"{c.index} '{c.name}'" for c in held[:6]) + (f" and {len(held) - 6} more"
                                                                             if len(held) > 6 else "")
            parts.append(f"{names} ({reason})")
        lines.append(f"– {len(missing)} not verified: {'; '.join(parts)}.")
    if scaled:
        lines += [
            f"Scaled ({len(scaled)} layer{'s' if len(scaled) != 1 else ''}, 'measured on'): run at the true spatial size "
            f"with at most {v.max_channels} channels,",
            "  then with the true channels on one output position; full-size figures composed from the two",
            "  (MACs = positions × MACs per position). An fc layer: true input with few units, then few inputs",
            "  with the true units. --full runs every layer at its true size.",
        ]
    elif not v.full:
        lines.append("Every layer ran at its true size.")
    lines.append(f"Took {seconds:.1f} s (seed {v.seed}{', --full' if v.full else ''}).")
    return lines
