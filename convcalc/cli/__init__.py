"""The ``convcalc`` command: a thin Click layer over the library (the only package that imports Click).

One module per family of commands; each adds its commands to the ``cli`` group defined here.
Exit codes: 0 ok; 1 a check failed (``--strict``); 2 bad input or usage; 3 an internal error.
A user's mistake is printed as a located message, never a traceback; an internal error prints
one line asking for a report (``convcalc --debug ...`` shows the traceback).
"""

from __future__ import annotations

import gc
import importlib
from typing import Any, List, Optional

import click

from .. import __version__


class ConvcalcGroup(click.Group):
    """Loads command modules on demand; turns library errors into located messages and exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in COMMAND_MODULES:
            importlib.import_module(f"{__name__}.{module}")
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        if name in COMMANDS and name not in self.commands:
            importlib.import_module(f"{__name__}.{COMMANDS[name]}")
        return self.commands.get(name)

    def parse_args(self, ctx: click.Context, args: List[str]) -> List[str]:
        ctx.meta["convcalc.argv"] = list(args)  # named in an internal-error message
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        from ..errors import ConvcalcError

        try:
            return super().invoke(ctx)
        except ConvcalcError as e:
            if ctx.meta.get("convcalc.json_errors"):
                import json

                click.echo(json.dumps({"schema_version": 1, **e.to_dict()}, ensure_ascii=False))
            click.echo(e.render(), err=True)
            ctx.exit(e.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except RecursionError:
            click.echo("error: the spec is nested too deeply for convcalc", err=True)
            ctx.exit(2)
        except Exception as e:  # an internal error: one line, not a traceback
            if ctx.meta.get("convcalc.debug"):
                raise
            spec = ctx.meta.get("convcalc.spec")
            argv = " ".join(ctx.meta.get("convcalc.argv", ()))
            where = f" while reading {spec[:200]!r}" if spec else f" in 'convcalc {argv[:200]}'" if argv else ""
            click.echo(f"internal error{where}: {type(e).__name__}: {e} — please report it; "
                       "`convcalc --debug ...` shows the traceback", err=True)
            ctx.exit(3)


@click.group(cls=ConvcalcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="convcalc")
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Shapes, parameters, MACs and memory of every layer of a CNN.

    \b
    Examples:
      convcalc table vgg16
      convcalc table "227x227x3 conv96k11s4 maxpool3s2 fc4096"
      convcalc table my_net.yaml --format markdown
      convcalc list
      convcalc conv 227x227x3 -n 96 -k 11 -s 4      # one layer, with the working
      convcalc solve --in 32 -k 5 -s 2 --out 16     # P = ?
      convcalc check homework.txt specs/*.convnet.yaml
    """
    ctx.meta["convcalc.debug"] = debug



# Where each command lives: a module is imported only when one of its commands runs (or help
# lists them all), so a one-line lookup never pays for the table, check or verify machinery.
# A new command: write it in its module with @cli.command() and add its name here.
COMMANDS = {
    "table": "table", "list": "table", "show": "table", "kinds": "table",
    "conv": "lookup", "pool": "lookup", "fc": "lookup", "solve": "lookup",
    "check": "check", "schema": "check",
    "verify": "verify",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def main() -> None:
    # A short-lived process that builds many small objects: the cyclic garbage collector's
    # passes over a growing heap make large specs superlinear, and there are no cycles to free.
    gc.disable()
    cli(prog_name="convcalc")
