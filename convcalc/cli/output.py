"""Writing a command's answer to a file (``-o FILE``): never over the file it read, never through a
symlink, never half-written.

The picture is written to a temporary file in FILE's own folder and renamed onto FILE
(``os.replace``, atomic on POSIX and Windows): a symlink named FILE is replaced by the picture,
not followed to wherever it points (a dangling one included), and a write that fails (disk full,
a folder named FILE) leaves the old file as it was. FILE that is the spec being read (the same
file by ``os.path.samefile``, through any link or spelling) is refused, exit 2, before anything
is written: ``convcalc draw net.yaml -o net.yaml`` replaced the spec with its picture.

What is written follows FILE's extension (``chosen_format``): ``-o net.pdf`` is a PDF, and
``--format`` must agree with a known extension; an extension no format owns is refused (exit 2,
listing the ones that are) unless ``--format`` says what to write, so ``-o net.jpg`` is never an
SVG in disguise.

A FILE that is not a file but a stream is written into as before, never renamed onto (that would
replace the device's own name): a named pipe or device itself, and any name under /dev or /proc
(``/dev/stdout``, ``/dev/null``, a shell's ``>(...)`` as /dev/fd/63 are symlinks there, which a
rename would replace even when they lead to a regular file).
"""

from __future__ import annotations

import os
import stat
from typing import IO, Callable, Dict, Optional, Union

from ..errors import ConvcalcError, shown

STREAM_FOLDERS = ("/dev/", "/proc/")  # names there are streams and devices, never files to replace


def refuse_input(output: str, source: str) -> None:
    """A clear error (exit 2) when ``output`` names the file ``source`` (the command's SPEC)."""
    if output == "-" or source == "-":
        return
    try:
        same = os.path.samefile(source, output)
    except (OSError, ValueError):  # either is missing (or not a path at all: a layer string)
        return
    if same:
        raise ConvcalcError(f"-o '{shown(output)}' is the spec being read ('{shown(source)}'); "
                            "convcalc does not write over its input",
                            hint="name another file for -o")


def checked_output(output: str, source: str, fmt: Optional[str], suffixes: Dict[str, str], default: str) -> str:
    """What a command writes to ``-o output``, checked before any work: never the file it reads
    (``refuse_input``), a format its extension and ``--format`` agree on (``chosen_format``)."""
    refuse_input(output, source)
    return chosen_format(output, fmt, suffixes, default)


def write_text(output: str, write: Callable[[IO[str]], None]) -> None:
    """What ``write`` writes to a stream, into ``output`` as ``write_file`` writes it: whole, as it
    would go to a pipe (plain text, no width limit)."""
    import io

    text = io.StringIO()
    write(text)
    write_file(output, text.getvalue())


def chosen_format(output: str, fmt: Optional[str], suffixes: Dict[str, str], default: str) -> str:
    """The format ``output`` is written in: ``fmt`` (``--format``) or the one its extension names in
    ``suffixes`` (``".png": "png"``), else ``default``. A clear error (exit 2) when the two disagree,
    or when the extension is one no format owns and ``--format`` is not given. A name with no
    extension (``-``, ``/dev/stdout``, a pipe) takes ``fmt`` or ``default``."""
    name = os.path.basename(output) if output != "-" else ""
    suffix = os.path.splitext(name)[1].lower()
    owned: Dict[str, str] = {}  # each format and its extensions, in the order given
    for s, f in suffixes.items():
        owned[f] = f"{owned[f]} or {s}" if f in owned else s
    known = ", ".join(f"{s} ({f})" for f, s in owned.items())
    if suffix in suffixes:
        if fmt is not None and fmt != suffixes[suffix]:
            named = " or ".join(s for s, f in suffixes.items() if f == fmt) or "with another extension"
            raise ConvcalcError(f"-o '{shown(output)}' names a {suffixes[suffix]} file but --format is {fmt}",
                                hint=f"drop --format, or name the file {named}")
        return suffixes[suffix]
    if suffix and fmt is None:
        raise ConvcalcError(f"-o '{shown(output)}': convcalc does not write '{shown(suffix)}' files",
                            hint=f"name the file by what to write: {known}; or say it with --format")
    return fmt or default


def write_file(output: str, data: Union[str, bytes]) -> None:
    """``data`` (text as UTF-8) into ``output`` through a temporary file renamed into place."""
    import tempfile

    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = os.lstat(output).st_mode  # the name itself: a symlink is not followed
    except (OSError, ValueError):
        mode = 0  # nothing there yet
    special = not (mode == 0 or stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))
    if special or os.path.abspath(output).startswith(STREAM_FOLDERS):
        try:
            with open(output, "wb") as stream:
                stream.write(raw)
        except OSError as e:
            raise ConvcalcError(f"cannot write '{shown(output)}': {e.strerror or e}") from None
        return
    folder = os.path.dirname(os.path.abspath(output))
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(output)[:100]}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        mask = os.umask(0)  # mkstemp makes the file 0600: give it the mode a new file gets
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, output)
        tmp = ""
    except OSError as e:
        raise ConvcalcError(f"cannot write '{shown(output)}': {e.strerror or e}",
                            hint="the old file, if there was one, is as it was") from None
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass
