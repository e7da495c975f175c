"""Start-up cost of convcalc against the dependencies it cannot avoid (issue: "instant start").

Runs, interleaved, N times each (medians reported):

- ``python -c "pass"`` and ``python -c "import convcalc"``        the library's import, over the interpreter's start
- ``python -c "import click"``                                   the floor for any Click CLI
- ``convcalc conv 227x227x3 -n 96 -k 11 -s 4``                    a one-line lookup
- ``python -c "import click, yaml"``                             the floor for a table from YAML into a pipe
- ``python -c "import click, yaml, rich.console, rich.table"``   the floor for a coloured table
- ``convcalc table vgg16``                                        the main job, into a pipe
- ``FORCE_COLOR=1 convcalc table vgg16``                          the same, coloured as for a terminal

and prints the ratios (goal: at most 1.3 each). ``convcalc`` is the installed command next to
this Python (``python -m convcalc`` where there is none). The package is byte-compiled first, as
``pip install`` does: with PYTHONDONTWRITEBYTECODE set every run would compile convcalc from
source while its dependencies load from their .pyc files. With ``--torch`` it also times a
PyTorch model summary of VGG-16 (torchinfo if installed, else a forward pass with hooks), when
torch is installed.

    python benchmarks/bench_startup.py [-n 30] [--torch]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

PY = sys.executable
_SCRIPT = Path(PY).with_name("convcalc.exe" if os.name == "nt" else "convcalc")
CONVCALC = [str(_SCRIPT)] if _SCRIPT.exists() else [PY, "-m", "convcalc"]
COLOR = {"FORCE_COLOR": "1"}
CASES: Dict[str, Tuple[List[str], Dict[str, str]]] = {
    "python": ([PY, "-c", "pass"], {}),
    "import convcalc": ([PY, "-c", "import convcalc"], {}),  # the library: its API loads on first use
    "import click": ([PY, "-c", "import click"], {}),
    "convcalc conv": ([*CONVCALC, "conv", "227x227x3", "-n", "96", "-k", "11", "-s", "4"], {}),
    "import click, yaml": ([PY, "-c", "import click, yaml"], {}),
    "import click, yaml, rich": ([PY, "-c", "import click, yaml, rich.console, rich.table"], {}),
    "convcalc table vgg16": ([*CONVCALC, "table", "vgg16", "--width", "120"], {}),
    "  ... coloured (terminal)": ([*CONVCALC, "table", "vgg16", "--width", "120"], COLOR),
}
TORCH = [PY, "-c", (
    "import torch, torchvision; m = torchvision.models.vgg16()\n"
    "try:\n import torchinfo; torchinfo.summary(m, (1, 3, 224, 224), verbose=0)\n"
    "except ImportError:\n m(torch.zeros(1, 3, 224, 224))")]


def once(command: List[str], env: Dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env={**os.environ, "COLUMNS": "120", **env})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=30, help="runs of each command (interleaved)")
    parser.add_argument("--torch", action="store_true", help="also time a PyTorch summary of VGG-16")
    args = parser.parse_args()
    cases = dict(CASES)
    if args.torch:
        cases["torch summary vgg16"] = (TORCH, {})
    import convcalc

    compileall.compile_dir(str(Path(convcalc.__file__).parent), quiet=1)
    for command, env in cases.values():  # warm the file cache once
        once(command, env)
    times: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(args.n):
        for name, (command, env) in cases.items():
            times[name].append(once(command, env))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name:28s} {median * 1000:8.1f} ms  (min {min(times[name]) * 1000:.1f})")
    lookup = medians["convcalc conv"] / medians["import click"]
    deps, rich = medians["import click, yaml"], medians["import click, yaml, rich"]
    print(f"import convcalc / python            {medians['import convcalc'] / medians['python']:.2f}  (goal ≤ 1.05)")
    print(f"lookup / import click               {lookup:.2f}  (goal ≤ 1.30)")
    print(f"table vgg16 / import click, yaml    {medians['convcalc table vgg16'] / deps:.2f}  (goal ≤ 1.30: a pipe "
          "needs no Rich)")
    print(f"  ... coloured / import ..., rich   {medians['  ... coloured (terminal)'] / rich:.2f}  (goal ≤ 1.30)")


if __name__ == "__main__":
    main()
