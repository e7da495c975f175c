"""The ``convcalc`` command: a thin Click layer over the library (the only package that imports Click).

One module per family of commands; each adds its commands to the ``cli`` group defined here.
Exit codes: 0 ok; 1 a check failed (``--strict``); 2 bad input or usage, or output that cannot be
written (standard output closed, disk full); 3 an internal error; 130 interrupted (Ctrl-C). A
reader that stops early (``| head``) is a normal end: exit 0, nothing more said. A user's mistake
is printed as a located message, never a traceback; an internal error prints one line asking for
a report (``convcalc --debug ...`` shows the traceback).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
from typing import Any, Iterator, List, Optional

import click

from ..version import __version__


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
        with output_guard(ctx):  # --version and --help write here, before any command runs
            return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with output_guard(ctx):
            return self._invoke_reporting_errors(ctx)

    def _invoke_reporting_errors(self, ctx: click.Context) -> Any:
        import sys

        from ..errors import ConvcalcError

        if sys.stdout is None:  # the shell closed it (`>&-`): nowhere to put the answer
            raise OSError(errno.EBADF, "standard output is closed")
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
        except OSError as e:
            if writing_failed(e):
                raise
            self._internal_error(ctx, e)
        except Exception as e:  # an internal error: one line, not a traceback
            self._internal_error(ctx, e)

    @staticmethod
    def _internal_error(ctx: click.Context, e: Exception) -> None:
        if ctx.meta.get("convcalc.debug"):
            raise e
        spec = ctx.meta.get("convcalc.spec")
        argv = " ".join(ctx.meta.get("convcalc.argv", ()))
        where = f" while reading {spec[:200]!r}" if spec else f" in 'convcalc {argv[:200]}'" if argv else ""
        from ..errors import shown

        click.echo(f"internal error{where}: {type(e).__name__}: {shown(str(e))} — please report it; "
                   "`convcalc --debug ...` shows the traceback", err=True)
        ctx.exit(3)


@contextlib.contextmanager
def output_guard(ctx: click.Context) -> Iterator[None]:
    """Output is written (flushed) before the exit code is final, and output that cannot be written
    is handled here, once, for every command: a reader that stops early (``| head``) ends the run
    normally, exit 0 and nothing more said; a closed standard output or a full disk is a one-line
    error, exit 2. Ctrl-C exits 130."""
    import sys

    try:
        try:
            yield
        finally:  # also on ctx.exit(1): buffered output is written before the code is final
            if sys.stdout is not None:
                sys.stdout.flush()
    except KeyboardInterrupt:
        _echo_quietly("interrupted", err=True)
        ctx.exit(130)
    except OSError as e:
        if not writing_failed(e):
            raise
        _stdout_to_devnull()  # the interpreter's own last flush must not fail again
        if isinstance(e, BrokenPipeError):
            ctx.exit(0)  # the reader has what it wanted: a normal end
        _echo_quietly(f"error: cannot write the output: {e.strerror or e}", err=True)
        ctx.exit(2)


def warn_about_reading(spec: Any) -> None:
    """Say on stderr what the reader noted of how it read the spec (a Caffe layer its phase
    leaves out) and how an input shape that looks channels-first was read (shape.py has the
    rule), naming the spec it came from; the lookups put the latter in their own output instead.
    Names from the file are shown with their control characters escaped."""
    from ..errors import shown

    where = f"{shown(spec.origin)}: " if spec.origin and spec.origin != "<string>" else ""
    for note in spec.reading_notes:
        _echo_quietly(f"warning: {where}{shown(note)}", err=True)


# The errors of a write that cannot be done: the reader went away (EPIPE), the output is closed
# (EBADF), or the disk is full or failing. Reading a spec never raises these (load turns its own
# OSErrors into located messages), so they always mean the output.
_WRITE_ERRNOS = frozenset(getattr(errno, name) for name in ("EPIPE", "EBADF", "ENOSPC", "EDQUOT", "EFBIG", "EIO")
                          if hasattr(errno, name))


def writing_failed(e: OSError) -> bool:
    return isinstance(e, BrokenPipeError) or e.errno in _WRITE_ERRNOS


def _stdout_to_devnull() -> None:
    """Point file descriptor 1 at /dev/null (Python's 'Note on SIGPIPE'): what is still buffered
    goes nowhere instead of failing again when the interpreter exits."""
    import os
    import sys

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no stdout, or not a real file (a test's capture)
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no /dev/null (a sandbox) or no descriptor left: drop what is still buffered
        sys.stdout = _Discarding(sys.stdout)
        return
    os.dup2(devnull, fd)
    os.close(devnull)


class _Discarding:
    """Standard output once nothing more can reach its reader, where /dev/null cannot be opened:
    what is written from now on goes nowhere, and descriptor 1 is closed, so the old stream's
    buffered rest is dropped quietly when the interpreter finalises it instead of failing loudly
    in its last flush (the exit code is already decided)."""

    def __init__(self, stream: Any) -> None:
        import os

        try:
            os.close(stream.fileno())
        except (AttributeError, OSError, ValueError):
            pass

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _echo_quietly(message: str, err: bool) -> None:
    """Say it if the stream still takes it: stderr may be closed or full too."""
    try:
        click.echo(message, err=err)
    except OSError:
        pass


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
      convcalc draw vgg16 -o vgg16.svg                # the lecture-figure picture
      convcalc table unet --input 508x508x1 --format html > unet.html
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
    "draw": "draw",
    "import": "imports",
    "plan": "plan",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def main() -> None:
    # A short-lived process that builds many small objects: the cyclic garbage collector's
    # passes over a growing heap make large specs superlinear, and there are no cycles to free.
    gc.disable()
    cli(prog_name="convcalc")
