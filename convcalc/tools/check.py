"""``convcalc check``: every expectation, budget and (with ``--strict``) stride of many specs.

A source is a YAML spec, a cs231n listing, a bundled architecture or a layer string. Checking
one never stops the others: a source that cannot be read becomes an error result, and the exit
code is the worst of all (0 all good, 1 a check failed, 2 a source could not be read or run).

No I/O: ``check_source`` returns a frozen ``SourceResult``; ``text``, ``to_json`` and ``github``
render a list of them as strings.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..analysis.engine import analyse
from ..analysis.expect import Outcome, evaluate
from ..errors import ConvcalcError, Location, location_dict, shown
from ..spec.expectations import Limit
from ..values import field, value

# "answer": an open question (a listing's [?]), filled in
MARKS = {"pass": "✓", "fail": "✗", "unchecked": "?", "warning": "⚠", "answer": "→"}


@value
class Options:
    strict: bool = False  # a stride that does not fit, or a check that cannot be made, fails
    limits: Tuple[Limit, ...] = ()  # budgets from the command line
    dtype: str = "float32"
    batch: int = 1


@value
class SourceResult:
    """What checking one source found: its outcomes, or the error that stopped it."""

    name: str
    outcomes: Tuple[Outcome, ...] = ()
    layers: int = 0
    error: Optional[ConvcalcError] = field(default=None, compare=False)
    strict: bool = False

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def status(self) -> str:
        """'error', 'fail' or 'ok'. Unchecked expectations fail only under --strict."""
        if self.error is not None:
            return "error"
        if self.count("fail") or (self.strict and self.count("unchecked")):
            return "fail"
        return "ok"


def check_spec(spec: Any, name: str, options: Options = Options()) -> SourceResult:
    """Analyse ``spec`` and evaluate its expectations, its budget and the command line's."""
    report = analyse(spec, dtype=options.dtype, batch=options.batch)
    outcomes = list(evaluate(report, options.limits))
    for r, note in report.warnings:
        if note.code != "stride-does-not-fit":
            continue
        status = "fail" if options.strict else "warning"
        outcomes.append(Outcome(status, "fit", "stride", r.full_name, "", "", note.text, (), "", r.index, r.loc))
    outcomes.sort(key=_position)
    return SourceResult(name, tuple(outcomes), len(report.layers), None, options.strict)


def _position(o: Outcome) -> Tuple[int, int, int]:
    """Source order: by line and column; network-wide checks without a place last."""
    if o.loc is None:
        return (1 << 30, 0, 0)
    return (o.loc.line, o.loc.column, 0)


def check_source(arg: str, options: Options = Options(),
                 loader: Optional[Callable[[str], Any]] = None) -> SourceResult:
    """Load ``arg`` (file, bundled name or layer string) and check it; errors become results."""
    from ..load import load

    try:
        spec = (loader or load)(arg)
        return check_spec(spec, arg, options)
    except ConvcalcError as e:
        return SourceResult(arg, (), 0, e, options.strict)


def exit_code(results: Sequence[SourceResult]) -> int:
    statuses = {r.status for r in results}
    return 2 if "error" in statuses else 1 if "fail" in statuses else 0


# --- text -------------------------------------------------------------------------------------


def _where(result: SourceResult, loc: Optional[Location]) -> str:
    return f"{loc}" if loc is not None else result.name


def outcome_lines(result: SourceResult, o: Outcome, quiet: bool = False) -> List[str]:
    if quiet and o.status == "pass":
        return []
    subject = "" if o.subject == "network" and o.kind == "budget" else f"{o.subject}: "
    if o.kind == "budget":
        subject = "budget: "
    head = f"{_where(result, o.loc)}: {MARKS[o.status]} {subject}{o.message}"
    lines = [head]
    if o.carried:
        lines.append(f"    ({o.carried})")
    if o.status == "fail":
        if o.loc is not None and o.loc.caret():
            lines += ["  " + line for line in o.loc.caret().split("\n")]
    if o.status in ("fail", "answer"):
        lines += [f"    {w}" for w in o.working]
    if o.hint:
        lines.append(f"    hint: {o.hint}")
    return lines


def summary(results: Sequence[SourceResult]) -> str:
    passed = sum(r.count("pass") for r in results)
    failed = sum(r.count("fail") for r in results)
    unchecked = sum(r.count("unchecked") for r in results)
    warnings = sum(r.count("warning") for r in results)
    answers = sum(r.count("answer") for r in results)
    errors = sum(1 for r in results if r.error is not None)
    files = f"{len(results)} source{'s' if len(results) != 1 else ''}"
    if not (passed or failed or unchecked or warnings or answers or errors):
        return f"✓ {files} compute{'s' if len(results) == 1 else ''}; no expectations or budgets to check"
    parts = [f"{passed} passed"]
    if failed:
        parts.append(f"{failed} failed")
    if unchecked:
        parts.append(f"{unchecked} unchecked{' (failures under --strict)' if results and results[0].strict else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    if answers:
        parts.append(f"{answers} filled in")
    if errors:
        parts.append(f"{errors} could not be checked")
    mark = {0: "✓", 1: "✗", 2: "✗"}[exit_code(results)]
    return f"{mark} {', '.join(parts)} — {files}"


def text(results: Sequence[SourceResult], quiet: bool = False) -> str:
    """Compiler-style lines, ``file:line:column: ✓ conv1: shape 55x55x96``, then a summary."""
    lines: List[str] = []
    for result in results:
        if result.error is not None:
            e = result.error
            if e.loc is not None or f"'{result.name}'" in e.message:
                lines.append(e.render())
            else:  # say which source, when the message does not
                lines.append(f"error: {result.name}: {e.message}" + (f"\n  hint: {e.hint}" if e.hint else ""))
            continue
        if not result.outcomes:
            if not quiet:
                lines.append(f"{result.name}: ✓ {result.layers} layer{'s' if result.layers != 1 else ''} compute; "
                             "nothing else to check")
            continue
        for o in result.outcomes:
            lines += outcome_lines(result, o, quiet)
    lines.append(summary(results))
    return shown("\n".join(lines), keep="\n") + "\n"  # file names and messages may hold control characters


# --- JSON -------------------------------------------------------------------------------------


def outcome_dict(o: Outcome) -> Dict[str, Any]:
    return {"status": o.status, "kind": o.kind, "quantity": o.quantity, "subject": o.subject, "layer": o.layer,
            "expected": o.expected or None, "actual": o.actual or None, "message": o.message,
            "carried": o.carried or None, "working": list(o.working), "hint": o.hint or None,
            "location": location_dict(o.loc)}


def to_json(results: Sequence[SourceResult]) -> str:
    """The documented shape: ``schema_version``, ``exit_code``, ``summary``, one entry per source."""
    data = {
        "schema_version": 1,
        "exit_code": exit_code(results),
        "summary": {
            "sources": len(results),
            "passed": sum(r.count("pass") for r in results),
            "failed": sum(r.count("fail") for r in results),
            "unchecked": sum(r.count("unchecked") for r in results),
            "warnings": sum(r.count("warning") for r in results),
            "answers": sum(r.count("answer") for r in results),
            "errors": sum(1 for r in results if r.error is not None),
        },
        "sources": [
            {"source": r.name, "status": r.status, "layers": r.layers,
             "error": r.error.to_dict() if r.error is not None else None,
             "checks": [outcome_dict(o) for o in r.outcomes]}
            for r in results
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- GitHub workflow commands ----------------------------------------------------------------


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, file: str, loc: Optional[Location], title: str, message: str) -> str:
    """``::error file=net.yaml,line=14,col=9,title=…::message``: lands on that line of the PR."""
    props = [f"file={_property(loc.file if loc else file)}"]
    if loc is not None:
        props += [f"line={loc.line}", f"col={loc.column}"]
    props.append(f"title={_property(title)}")
    return f"::{level} {','.join(props)}::{_data(message)}"


def github(results: Sequence[SourceResult]) -> str:
    """One workflow command per failure, warning and unchecked expectation; then the summary."""
    lines = []
    for r in results:
        if r.error is not None:
            message = r.error.message + (f"\n{r.error.hint}" if r.error.hint else "")
            lines.append(annotation("error", r.name, r.error.loc, "convcalc: cannot check", message))
            continue
        for o in r.outcomes:
            if o.status == "pass":
                continue
            level = {"fail": "error", "warning": "warning", "answer": "notice",
                     "unchecked": "error" if r.strict else "notice"}[o.status]
            subject = "budget" if o.kind == "budget" else o.subject
            message = "\n".join([f"{subject}: {o.message}", *([f"({o.carried})"] if o.carried else []), *o.working,
                                  *([f"hint: {o.hint}"] if o.hint else [])])
            lines.append(annotation(level, r.name, o.loc, f"convcalc check: {subject}", message))
    lines.append(summary(results))
    return shown("\n".join(lines), keep="\n") + "\n"
