"""The wheel ships every module and data file, and spfmanager.providers in its place."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("spfmanager-*.whl")
    return zipfile.ZipFile(path)


def test_every_module_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    sources = [p.relative_to(ROOT) for p in (ROOT / "spfmanager").rglob("*.py")]
    expected = {str(p) for p in sources}
    expected |= {f"spfmanager/providers/{p.name}" for p in (ROOT / "providers").glob("*.py")}
    missing = sorted(e for e in expected if e not in names and "__pycache__" not in e)
    assert not missing


def test_data_files_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "spfmanager/py.typed" in names
    assert any(n.startswith("spfmanager/templates/") and n.endswith(".j2") for n in names)
    services = [n for n in names if n.startswith("spfmanager/catalog/services/")]
    assert len(services) == len(list((ROOT / "spfmanager/catalog/services").glob("*.yaml")))
    assert not any(n.startswith("providers/") for n in names)  # never a top-level package


def test_installed_wheel_runs_outside_the_checkout(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    """What the Docker image does: install the wheel, run the CLI, import every adapter."""
    target = tmp_path / "site"
    assert wheel.filename is not None
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            wheel.filename,
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import spfmanager, spfmanager.providers.route53, spfmanager.providers.cloudflare, "
        "spfmanager.providers.zonefile, spfmanager.catalog as c; "
        f"assert spfmanager.__file__.startswith({str(target)!r}), spfmanager.__file__; "
        "assert len(c.load_catalog()) > 20"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, env=env)
    help_text = subprocess.run(
        [sys.executable, "-m", "spfmanager", "--help"],
        check=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    for command in ("check", "flatten", "build", "plan", "apply", "explain", "snapshot"):
        assert command in help_text
