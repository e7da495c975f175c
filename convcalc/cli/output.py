"""Writing a command's answer to a file (``-o FILE``): never over the file it read, never through a
symlink, never half-written.

The picture is written to a temporary file in FILE's own folder and renamed onto FILE
(``os.replace``, atomic on POSIX and Windows): a symlink named FILE is replaced by the picture,
not followed to wherever it points (a dangling one included), and a write that fails (disk full,
a folder named FILE) leaves the old file as it was. FILE that is the spec being read (the same
file by ``os.path.samefile``, through any link or spelling) is refused, exit 2, before anything
is written: ``convcalc draw net.yaml -o net.yaml`` replaced the spec with its picture.

A FILE that is not a file but a stream is written into as before, never renamed onto (that would
replace the device's own name): a named pipe or device itself, and any name under /dev or /proc
(``/dev/stdout``, ``/dev/null``, a shell's ``>(...)`` as /dev/fd/63 are symlinks there, which a
rename would replace even when they lead to a regular file).
"""

from __future__ import annotations

import os
import stat
from typing import Union

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
