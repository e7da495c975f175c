"""The package's layout keeps its promises (README, "Where things live"): data flows one way.

Read from the source with ``ast``, every import counts — top-level, inside a function, or only
for type checkers — because each is a dependency a reader has to follow:

- no import cycle anywhere in the package;
- no module over 700 lines;
- folders import only downward: layers/ nothing of spec/ and above, spec/ nothing of analysis/
  and above, analysis/ nothing of report/, draw/, tools/, importers/ or cli/; report/ nothing of
  draw/; nothing under the Python API (api.py) imports it, and it nothing of cli/; click, yaml
  and rich only where they are needed;
- a renderer (report/, draw/) takes from analysis/ only the results' types (analysis/result.py,
  and a training plan's, analysis/plan_result.py).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

PACKAGE = Path(__file__).resolve().parent.parent / "convcalc"
LONGEST = 700

# folder -> folders (and top-level modules are always allowed) it must not import
# The Python API (api.py) sits above the renderers and the front door and below the CLI, which
# goes through it: nothing under it may import it, and it imports nothing of the CLI.
BELOW_ONLY = {
    "layers": {"spec", "analysis", "report", "draw", "reference", "tools", "importers", "cli", "load", "api"},
    "spec": {"analysis", "report", "draw", "reference", "tools", "importers", "cli", "load", "api"},
    "analysis": {"report", "draw", "reference", "tools", "importers", "cli", "load", "api"},
    "report": {"draw", "reference", "tools", "importers", "cli", "load", "api"},
    "draw": {"reference", "tools", "importers", "cli", "load", "api"},
    "importers": {"report", "draw", "reference", "tools", "cli", "load", "api"},  # readers feed the front door
    "load": {"report", "draw", "reference", "tools", "cli", "api"},
    "api": {"cli", "tools", "reference"},
}


def modules() -> Dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("convcalc", *path.relative_to(PACKAGE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: Set[str]) -> List[Tuple[str, str]]:
    """(module, first name taken from it) for every import of a convcalc module in ``path``; a
    third-party import comes back as (its top-level name, '')."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                while target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                found.append((target, alias.name) if target in known else (base.split(".")[0], ""))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                found.append((target, "") if target in known else (alias.name.split(".")[0], ""))
    return found


def graph() -> Dict[str, Set[str]]:
    mods = modules()
    return {name: {t for t, _ in imports(name, path, set(mods)) if t in mods and t != name}
            for name, path in mods.items()}


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycle():
    edges = graph()
    state: Dict[str, int] = {}
    cycles = []

    def visit(v: str, stack: List[str]) -> None:
        state[v] = 1
        stack.append(v)
        for w in sorted(edges[v]):
            if state.get(w) == 1:
                cycles.append(stack[stack.index(w):] + [w])
            elif w not in state:
                visit(w, stack)
        stack.pop()
        state[v] = 2

    for v in sorted(edges):
        if v not in state:
            visit(v, [])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_is_too_long_to_read():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > LONGEST}
    assert long == {}


def test_folders_import_only_downward():
    wrong = [f"{m} imports {t}" for m, targets in graph().items() for t in targets
             if folder(t) in BELOW_ONLY.get(folder(m), set())]
    assert wrong == []


def test_renderers_take_only_the_result_from_the_analysis():
    mods = modules()
    wrong = [f"{m} imports {name} from {t}" for m, path in mods.items() if folder(m) in ("report", "draw")
             for t, name in imports(m, path, set(mods))
             if folder(t) == "analysis" and t not in ("convcalc.analysis.result", "convcalc.analysis.plan_result")]
    assert wrong == []


def test_heavy_libraries_stay_where_they_are_needed():
    """Only the CLI imports click, only the YAML reader yaml, only the table's grid (and verify's
    progress bar) rich: what a command does not need, it does not load."""
    mods = modules()
    allowed = {"click": lambda m: folder(m) == "cli", "yaml": lambda m: m == "convcalc.spec.yaml_reader",
               "rich": lambda m: m in ("convcalc.report.grid", "convcalc.cli.verify")}
    wrong = [f"{m} imports {t}" for m, path in mods.items() for t, _ in imports(m, path, set(mods))
             if t in allowed and not allowed[t](m)]
    assert wrong == []


def test_the_checks_can_fail():
    """The graph is read from the real package, and a loop or a wrong-way import would be seen."""
    edges = graph()
    assert "convcalc.analysis.result" in edges["convcalc.analysis.engine"]
    assert "convcalc.report.numbers" in edges["convcalc.draw.blocks"]
    assert folder("convcalc.spec.model") in BELOW_ONLY["layers"]
    assert "convcalc.api" in edges["convcalc.cli.table"]  # the CLI reads a spec through the API


def test_the_package_loads_its_api_only_when_asked():
    """``import convcalc`` is the version and nothing else: the API's names are looked up on first
    use, so the command and a bare import pay nothing for them."""
    edges = graph()
    assert edges["convcalc"] <= {"convcalc.version", "convcalc.api"}
    source = (PACKAGE / "__init__.py").read_text(encoding="utf-8")
    top_level = [n for n in ast.parse(source).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in top_level] == ["from .version import __version__"]
