"""SVG -> PNG or PDF through a system renderer, when one is installed: never a dependency of convcalc.

librsvg's ``rsvg-convert`` (Debian/Ubuntu ``librsvg2-bin``, Homebrew ``librsvg``) is small,
well kept and renders the text, opacity and gradients our pictures use, to PNG and (through
cairo) to PDF. It reads the SVG on stdin and writes the file on stdout; nothing touches a
temporary file. A PDF keeps the text and shapes as vectors, one page the picture's size (a
CSS pixel is 0.75 pt): it needs no zoom and has no pixel bound.

A PNG is drawn at ``--zoom`` times the SVG's size (2 for a sharp figure on a high-density
screen or in print: 12 px labels become 24 px), between ``ZOOMS``.

The PNG's size is bounded before anything is rendered: the renderer holds the whole image in
memory, four bytes a pixel (a 10,000-layer network at ``--width 20000`` is 20,000 x 15,000 px:
2.6 GB and 24 s inside rsvg-convert), and cairo draws no side longer than 32,767 px. A picture
over ``MAX_PIXELS`` or ``MAX_SIDE`` is drawn scaled down to fit, and ``png_zoom`` says so; one
that would have to shrink below ``MIN_ZOOM`` (12 px labels under 1.5 px) is refused instead, as
a PNG where nothing can be read shows nothing: the SVG, or ``--depth``, shows it.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from typing import Tuple

from ..errors import ConvcalcError

RENDERER = "rsvg-convert"
TIMEOUT = 120  # seconds; a 1,000-layer picture renders in well under one
MAX_PIXELS = 50_000_000  # 200 MB of image in the renderer
MAX_SIDE = 32_767  # cairo's longest side
MIN_ZOOM = 1 / 8
ZOOMS = (0.25, 8.0)  # what --zoom accepts: a quarter size (a thumbnail) to 8x (768 dpi)
MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF"}  # how each format's file starts
_SIZE = re.compile(r'<svg\b[^>]*?\swidth="([0-9.]+)"[^>]*?\sheight="([0-9.]+)"')


def png_zoom(svg: str, wanted: float = 1.0) -> Tuple[float, str]:
    """The factor the PNG of ``svg`` is drawn at: ``wanted`` (``--zoom``) when the PNG fits the
    bounds, less (with a note saying why) when it does not; a clear error (exit 2) when it would
    be below ``MIN_ZOOM``."""
    found = _SIZE.search(svg[:2000])
    if found is None:  # not one of our pictures: the renderer's own limits apply
        return wanted, ""
    width, height = float(found.group(1)), float(found.group(2))
    zoom = min(wanted, math.sqrt(MAX_PIXELS / max(1.0, width * height)), MAX_SIDE / max(1.0, width),
               MAX_SIDE / max(1.0, height))
    size = f"{width:.0f} x {height:.0f} px ({width * height / 1e6:,.0f} megapixels)"
    limits = f"a PNG is held to {MAX_PIXELS // 1_000_000} megapixels and {MAX_SIDE:,} px a side"
    if zoom < MIN_ZOOM:
        raise ConvcalcError(f"the picture is {size}, too large for a PNG: {limits}, and it would have to "
                            f"shrink to {zoom:.2g}x, where no label can be read",
                            hint="write SVG (-o FILE.svg), which has no such limit, or draw less: "
                                 "--depth 0 or 1, or a smaller --width")
    if zoom >= wanted:
        return wanted, ""
    return zoom, (f"the picture is {size}; {limits}, so the PNG is drawn at {zoom:.2f}x "
                  f"({width * zoom:.0f} x {height * zoom:.0f} px); write SVG (-o FILE.svg) for full size")


PDF_SIDE = 14_400  # pt (200 in): the largest page Acrobat and the PDF spec's implementation limits allow


def pdf_note(svg: str) -> str:
    """A warning when the PDF of ``svg`` has a side over ``PDF_SIDE`` (a px is 0.75 pt): cairo
    writes it, and most viewers show it, but Acrobat refuses such a page; "" otherwise."""
    found = _SIZE.search(svg[:2000])
    if found is None:
        return ""
    width, height = float(found.group(1)) * 0.75, float(found.group(2)) * 0.75
    if max(width, height) <= PDF_SIDE:
        return ""
    return (f"the PDF page is {width:,.0f} x {height:,.0f} pt ({width / 72:,.0f} x {height / 72:,.0f} in), over "
            f"the {PDF_SIDE:,} pt (200 in) a side that Acrobat opens; --depth 0 or 1 draws less, or write SVG")


def svg_to_png(svg: str, zoom: float = 1.0) -> bytes:
    """The PNG of ``svg`` at ``zoom`` times its own size, by ``rsvg-convert``; a clear error
    (exit 2) without it. The caller bounds the size first (``png_zoom``)."""
    return rendered(svg, "png", zoom)


def svg_to_pdf(svg: str) -> bytes:
    """The PDF of ``svg``, one page its size, text and shapes kept as vectors, by ``rsvg-convert``;
    a clear error (exit 2) without it."""
    return rendered(svg, "pdf", 1.0)


def rendered(svg: str, fmt: str, zoom: float) -> bytes:
    """``svg`` as ``fmt`` (png or pdf) by ``rsvg-convert``, or a clear error (exit 2)."""
    exe = shutil.which(RENDERER)
    if exe is None:
        raise ConvcalcError(
            f"--format {fmt} needs the '{RENDERER}' program, which is not on PATH",
            hint="install it (Debian/Ubuntu: apt install librsvg2-bin; macOS: brew install librsvg), "
                 "or write SVG (-o FILE.svg) and convert it with any tool",
        )
    try:
        done = subprocess.run([exe, "--format", fmt, "--zoom", f"{zoom:.6f}"], input=svg.encode("utf-8"),
                              capture_output=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConvcalcError(f"{RENDERER} could not render the picture: {e}", hint="write SVG instead") from None
    if done.returncode != 0 or not done.stdout.startswith(MAGIC[fmt]):
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConvcalcError(f"{RENDERER} failed (exit {done.returncode})" + (f": {said[-1]}" if said else ""),
                            hint="write SVG instead")
    return done.stdout
