"""Output contracts: where the answer goes and what the exit code says when it cannot get there.

A reader that stops early (``| head``) is a normal end: exit 0, nothing more said. A closed
standard output or a full disk is a one-line error, exit 2. Ctrl-C exits 130. These hold for
every command because the group handles them once; a few real subprocesses check the whole path
(the interpreter's last flush included), the rest runs in-process.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from convcalc.analysis.engine import analyse
from convcalc.analysis.result import Conventions
from convcalc.cli import cli
from convcalc.load import load

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def convcalc(*args: str, **popen) -> "tuple[int, str]":
    """Run ``python -m convcalc`` for real; returns the exit code and stderr."""
    done = subprocess.run([sys.executable, "-m", "convcalc", *args], cwd=ROOT, stderr=subprocess.PIPE,
                          text=True, timeout=60, check=False, **popen)
    return done.returncode, done.stderr


# --- real processes: a pipe closed early, a closed stdout, a full disk -----------------------------


@pytest.mark.parametrize("args", [("table", "vgg16", "--format", "json"), ("kinds",), ("verify", "lenet5"), ("--version",)])
def test_a_reader_that_stops_early_is_a_normal_end(args):
    read, write = os.pipe()
    os.close(read)  # closed before the child writes a byte: every write meets a broken pipe
    try:
        code, stderr = convcalc(*args, stdout=write)
    finally:
        os.close(write)
    assert (code, stderr) == (0, "")


def test_a_closed_stdout_is_a_one_line_error():
    code, stderr = convcalc("table", "vgg16", preexec_fn=lambda: os.close(1))
    assert code == 2
    assert stderr == "error: cannot write the output: standard output is closed\n"


def test_a_closed_stdin_is_a_one_line_error():
    code, stderr = convcalc("table", "-", stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))
    assert (code, stderr) == (2, "error: cannot read '-': standard input is closed\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_a_one_line_error():
    with open("/dev/full", "w") as full:
        code, stderr = convcalc("table", "vgg16", stdout=full)
    assert code == 2
    assert stderr == "error: cannot write the output: No space left on device\n"


# --- the same rules in-process, for any command -------------------------------------------------


def _raise(error: BaseException):
    def broken(*args, **kwargs):
        raise error
    return broken


@pytest.mark.parametrize("error, code, message", [
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), 0, ""),
    (OSError(errno.ENOSPC, "No space left on device"), 2, "error: cannot write the output: No space left on device\n"),
    (KeyboardInterrupt(), 130, "interrupted\n"),
])
def test_output_failures_and_ctrl_c_have_their_own_exit_codes(monkeypatch, error, code, message):
    import convcalc.reference.verify
    import convcalc.report

    monkeypatch.setattr(convcalc.report, "render", _raise(error))
    monkeypatch.setattr(convcalc.reference.verify, "verify", _raise(error))
    for args in (("table", "lenet5"), ("verify", "lenet5")):
        result = run(*args)
        assert (result.exit_code, result.stderr) == (code, message), args


def test_an_os_error_that_is_not_about_writing_is_still_an_internal_error(monkeypatch):
    import convcalc.report

    monkeypatch.setattr(convcalc.report, "render", _raise(OSError(errno.ENOENT, "No such file or directory")))
    result = run("table", "lenet5")
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error")


# --- verify draws like table: a number is never cut ---------------------------------------------


@pytest.mark.parametrize("width", [[], ["--width", "40"]])
def test_verify_never_cuts_a_number_or_a_mark(width):
    result = run("verify", "224x224x64 conv64k3p1 fc10", *width)
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "conv1" in line)
    assert "224x224x64 ✓" in row and "36,928 ✓" in row and "1,849,688,064 ✓" in row
    if not width:  # a pipe or a file: every line at its full width, nothing cut
        assert "…" not in result.stdout
        assert row.rstrip().endswith("scaled: channels 64→4, filters 64→4")


# --- --strict --format json: exactly one document ----------------------------------------------


@pytest.mark.parametrize("args", [("pool", "227x227x3"), ("conv", "227x227x3", "-n", "8", "-k", "2", "-s", "2"),
                                  ("table", "7x7x1 conv1k3s3")])
def test_strict_json_is_one_document_with_the_failure_in_it(args):
    result = run(*args, "--strict", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # one document: a second one would be "Extra data"
    failures = data["failures"] if "failures" in data else data["warnings"]
    assert len(failures) == 1 and "stride" in json.dumps(failures)
    assert result.stderr.startswith("error: ") and "--strict: " in result.stderr


def test_json_without_strict_has_no_failures():
    data = json.loads(run("pool", "227x227x3", "--format", "json").stdout)
    assert data["strict"] is False and data["failures"] == []


# --- say what is true: permission denied is not "no such file" ------------------------------------


def _denied_under(monkeypatch, locked: Path) -> None:
    """The OS refusing every look inside ``locked``, as chmod 000 does for anyone but root."""
    real_stat, real_scandir = os.stat, os.scandir

    def refuse(path):
        if str(path) == str(locked) or str(path).startswith(str(locked) + os.sep):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

    def stat(path, *args, **kwargs):
        if str(path).startswith(str(locked) + os.sep):
            refuse(path)
        return real_stat(path, *args, **kwargs)

    def scandir(path="."):
        refuse(path)
        return real_scandir(path)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "scandir", scandir)


def _locked_tree(tmp_path: Path) -> Path:
    locked = tmp_path / "locked"
    (locked / "inner").mkdir(parents=True)
    (locked / "net.yaml").write_text("input: [8, 8, 3]\nlayers: [relu]\n")
    return locked


def _assert_permission_denied(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    table = run("table", str(locked / "net.yaml"))
    assert table.exit_code == 2
    assert table.stderr == f"error: cannot read '{locked / 'net.yaml'}': Permission denied\n"
    check = run("check", str(locked))
    assert check.exit_code == 2
    assert f"cannot read the directory '{locked}': Permission denied" in check.stdout
    assert "no *.yaml" not in check.stdout


def test_permission_denied_is_said_as_it_is(tmp_path, monkeypatch):
    _locked_tree(tmp_path)
    _denied_under(monkeypatch, tmp_path / "locked")
    _assert_permission_denied(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads through chmod 000")
def test_permission_denied_for_real(tmp_path):
    locked = _locked_tree(tmp_path)
    locked.chmod(0)
    try:
        _assert_permission_denied(tmp_path)
    finally:
        locked.chmod(0o755)


def test_an_unreadable_directory_inside_a_readable_one_is_reported_not_skipped(tmp_path, monkeypatch):
    (tmp_path / "ok.yaml").write_text("input: [8, 8, 3]\nlayers: [relu]\n")
    locked = _locked_tree(tmp_path)
    _denied_under(monkeypatch, locked)
    result = run("check", str(tmp_path))
    assert result.exit_code == 2
    assert "ok.yaml" in result.stdout
    assert f"cannot read the directory '{locked}': Permission denied" in result.stdout


ODD_SPECS = [
    "16x16x1 conv1k3p1:a conv1k3s2p1 upsample2 add(@a | )",  # a field not aligned: its 'why'
    "8x8x3 convtranspose4k3s2 conv4k3",  # fractional jumps and starts: "1/2"
    "7x7x1 conv1k3s3 fc10",  # a stride that does not fit (notes), then a global field
    str(Path(__file__).parent / "fixtures" / "keras" / "custom.keras"),  # a model file's names and notes
    "8x8x3 conv4k3 tokens pwlinear4 clstoken attention2",  # an untracked field
]


@pytest.mark.parametrize("spec", ["vgg16", "resnet50", "googlenet", "unet", "vit_b_16", "resnet50_fpn",
                                  *ODD_SPECS])
def test_each_layer_line_is_what_json_dumps_makes_of_its_dict(spec):
    """The JSON writer puts each layer's line together from parts encoded once (report/json_report.py);
    it must be, character for character, the json module's text of the layer's dict."""
    from convcalc.report.json_report import report_dict, to_json

    for conventions in (Conventions(), Conventions(count="flops", bias=False, ops=("norm", "act"), inplace=True)):
        report = analyse(load(spec), dtype="float16", batch=3, conventions=conventions)
        written = to_json(report)
        layers = report_dict(report)["layers"]
        lines = written.split('"layers": [\n', 1)[1].split("\n  ]", 1)[0].split(",\n")
        assert [line.strip() for line in lines] == [json.dumps(item, ensure_ascii=False) for item in layers]
        assert json.loads(written)["layers"] == layers
