"""SVG -> PNG through a system renderer, when one is installed: never a dependency of convcalc.

librsvg's ``rsvg-convert`` (Debian/Ubuntu ``librsvg2-bin``, Homebrew ``librsvg``) is small,
well kept and renders the text, opacity and gradients our pictures use. It reads the SVG on
stdin and writes the PNG on stdout; nothing touches a temporary file.
"""

from __future__ import annotations

import shutil
import subprocess

from ..errors import ConvcalcError

RENDERER = "rsvg-convert"
TIMEOUT = 120  # seconds; a 1,000-layer picture renders in well under one


def svg_to_png(svg: str) -> bytes:
    """The PNG of ``svg``, at its own size, by ``rsvg-convert``; a clear error (exit 2) without it."""
    exe = shutil.which(RENDERER)
    if exe is None:
        raise ConvcalcError(
            f"--format png needs the '{RENDERER}' program, which is not on PATH",
            hint="install it (Debian/Ubuntu: apt install librsvg2-bin; macOS: brew install librsvg), "
                 "or write SVG (-o FILE.svg) and convert it with any tool",
        )
    try:
        done = subprocess.run([exe, "--format", "png"], input=svg.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConvcalcError(f"{RENDERER} could not render the picture: {e}", hint="write SVG instead") from None
    if done.returncode != 0 or not done.stdout.startswith(b"\x89PNG"):
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConvcalcError(f"{RENDERER} failed (exit {done.returncode})" + (f": {said[-1]}" if said else ""),
                            hint="write SVG instead")
    return done.stdout
