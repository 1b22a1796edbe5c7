"""The wheel ships every module and data file, and spfmanager.providers in its place."""

from __future__ import annotations

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
