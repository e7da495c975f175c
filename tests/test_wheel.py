"""The built wheel carries the bundled architectures: `convcalc table vgg16` works after a plain
install, away from the checkout. Builds with the installed hatchling; needs no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, text=True)
    (found,) = out.glob("convcalc-*.whl")
    return found


def test_wheel_contains_every_architecture(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in (ROOT / "architectures").glob("*.yaml"):
        assert f"convcalc/architectures/{spec.name}" in names


def test_installed_wheel_runs_vgg16_outside_the_checkout(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, text=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import convcalc, sys; print(convcalc.__file__, file=sys.stderr); "
            "from convcalc.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", code, "table", "vgg16", "--format", "json"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(str(target))  # the wheel's copy ran, not the checkout's
    assert json.loads(done.stdout)["totals"]["params"] == 138_357_544


def test_wheel_ships_the_json_schema(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "convcalc/schema.json" in names
    shipped = zipfile.ZipFile(wheel).read("convcalc/schema.json").decode("utf-8")
    assert shipped == (ROOT / "convcalc" / "schema.json").read_text(encoding="utf-8")


def test_wheel_says_its_api_is_typed(wheel: Path):
    """PEP 561's marker: a user's type checker reads convcalc's own annotations (the Python API)."""
    assert "convcalc/py.typed" in set(zipfile.ZipFile(wheel).namelist())
