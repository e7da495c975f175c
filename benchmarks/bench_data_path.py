"""The data path of a large spec, against PyYAML's own reading of it (issue: "a lean data path").

Goal: ``convcalc table FILE --format json`` on a 10,000-layer YAML spec (a conv / batchnorm / relu
chain) takes at most 2x the time PyYAML's C loader takes to compose the same file, both measured
as whole processes:

- ``python -c "import yaml; yaml.compose(text, Loader=yaml.CSafeLoader)"``    the floor
- ``python -m convcalc table FILE --format json > /dev/null``                the job

Each runs ``-n`` times, interleaved; the best run of each is reported (the machine may be shared:
the minimum is the least disturbed run), as wall time and as the child's CPU time (user + system,
steadier when other processes compete for the cores), with the ratio of each.

Then the same work split into its steps, so the next person sees where the time goes: each
step's CPU time, best of ``-n`` fresh processes that each run the steps once, cold, as the
command does (a step repeated in one process runs with the earlier runs' objects alive), with
the cyclic garbage collector off as ``cli.main`` turns it off: importing convcalc's modules,
compose alone (for scale: parse starts with it; the floor above runs it with the collector on,
as a plain script does), parse (``spec.yaml_reader.parse_yaml``, compose included), analyse
(``analysis.engine.analyse``) and write (the JSON report, into memory). What the whole process
spends beyond them is the interpreter's start, the CLI and the pipe.

    python benchmarks/bench_data_path.py [-n 10] [--layers 10000] [--profile parse|analyse|write]

``--profile STEP`` instead prints cProfile's top functions (by own time) for one cold run of that step.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent  # this checkout: its convcalc is the one measured
GOAL = 2.0
ITEMS = "  - conv: {filters: 8, kernel: 3, padding: 1}\n  - batchnorm\n  - relu\n"


def write_spec(path: Path, layers: int) -> None:
    with open(path, "w") as f:
        f.write(f"name: c{layers // 1000}k\ninput: [64, 64, 8]\nlayers:\n")
        f.write(ITEMS * -(-layers // 3))


def run(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command`` (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)  # -m finds convcalc in cwd first
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def whole_process(spec: Path, runs: int) -> dict[str, tuple[float, float]]:
    compose = [sys.executable, "-c",
               f"import yaml; yaml.compose(open({str(spec)!r}).read(), Loader=yaml.CSafeLoader)"]
    convcalc = [sys.executable, "-m", "convcalc", "table", str(spec), "--format", "json"]
    times: dict[str, list[tuple[float, float]]] = {"compose": [], "convcalc": []}
    for _ in range(runs):
        times["compose"].append(run(compose))
        times["convcalc"].append(run(convcalc))
    return {name: (min(w for w, _ in t), min(c for _, c in t)) for name, t in times.items()}


def split_once(spec: Path, profile: str = "") -> dict[str, float]:
    """One cold run of each step in this process, as the command runs them (``--split``);
    with ``profile``, cProfile's top functions for that step."""
    gc.disable()  # as cli.main does: the command runs without the cyclic collector
    start = time.process_time()
    import yaml

    from convcalc.analysis.engine import analyse
    from convcalc.report import render
    from convcalc.spec.yaml_reader import parse_yaml

    times = {"import": time.process_time() - start}
    text = spec.read_text()
    state: dict[str, Any] = {}
    steps: dict[str, Callable[[], Any]] = {
        "compose": lambda: yaml.compose(text, Loader=yaml.CSafeLoader),
        "parse": lambda: state.update(network=parse_yaml(text, str(spec))),
        "analyse": lambda: state.update(report=analyse(state["network"])),
        "write": lambda: render(state["report"], "json", file=io.StringIO()),
    }
    for name, step in steps.items():
        if name == profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(step)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            continue
        start = time.process_time()
        step()
        times[name] = time.process_time() - start
    return times


def in_process(spec: Path, runs: int) -> dict[str, float]:
    """The best of ``runs`` fresh processes for each step: a step timed again in one process
    runs with the previous runs' objects alive, which the collector walks, and is slower."""
    fastest: dict[str, float] = {}
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--split", str(spec)], capture_output=True, text=True,
                             check=True, cwd=ROOT).stdout
        for name, seconds in json.loads(out).items():
            fastest[name] = min(seconds, fastest.get(name, seconds))
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10, help="runs of each (best reported)")
    parser.add_argument("--layers", type=int, default=10_000)
    parser.add_argument("--profile", choices=["parse", "analyse", "write"], default="",
                        help="profile one run of this step (cProfile, by own time)")
    parser.add_argument("--split", type=Path, help=argparse.SUPPRESS)  # a child: time the steps once, print JSON
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    sys.path.insert(0, str(ROOT))  # this checkout's convcalc, installed or not
    if args.split:
        print(json.dumps(split_once(args.split)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "chain.yaml"
        write_spec(spec, args.layers)
        if args.profile:
            split_once(spec, args.profile)
            return
        whole = whole_process(spec, args.n)
        split = in_process(spec, args.n)
    (cw, cc), (vw, vc) = whole["compose"], whole["convcalc"]
    print(f"whole process, best of {args.n}        wall      cpu")
    print(f"  yaml.compose (CSafeLoader)     {cw:7.3f}s {cc:7.3f}s")
    print(f"  convcalc table --format json   {vw:7.3f}s {vc:7.3f}s")
    print(f"  ratio (goal <= {GOAL:g})             {vw / cw:7.2f}x {vc / cc:7.2f}x")
    steps = split["parse"] + split["analyse"] + split["write"]
    print(f"in process, each step's best of {args.n} fresh processes (cpu)")
    print(f"  import convcalc's modules      {split['import']:7.3f}s")
    print(f"  compose (PyYAML, for scale)    {split['compose']:7.3f}s")
    print(f"  parse (compose included)       {split['parse']:7.3f}s  (its own walk: {split['parse'] - split['compose']:.3f}s)")
    print(f"  analyse                        {split['analyse']:7.3f}s")
    print(f"  write (JSON, into memory)      {split['write']:7.3f}s")
    print(f"  the rest of the process        {max(0.0, vc - steps - split['import']):7.3f}s  "
          "(interpreter start, the CLI, the pipe)")


if __name__ == "__main__":
    main()
