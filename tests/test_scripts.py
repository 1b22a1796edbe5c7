"""The README's Quick start scripts say what they do: scripts/demo runs end to end and narrates
each step, scripts/test names each phase before it (checked with its dry run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

# What scripts/demo does not need: copying the checkout without these keeps the copy small.
_NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    ".spfmanager",
    "tests",
    "benchmarks",
    "docs",
    "node_modules",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".benchmarks",
)


def _site_dirs() -> list[str]:
    """This interpreter's site-packages (its venv's and the system's): spfmanager's dependencies."""
    dirs = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    dirs |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    return sorted(d for d in dirs if os.path.isdir(d))


def _venv(path: Path) -> Path:
    """A venv at path that sees this interpreter's packages (a .pth file): pip finds
    spfmanager's dependencies installed and downloads nothing. Returns its interpreter."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    Path(purelib, "_test_scripts_parent.pth").write_text("\n".join(_site_dirs()) + "\n")
    return python


def _run_demo(base: Path, *, dot_venv: bool) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Runs `bash scripts/demo` as a user would, without touching this checkout's install.

    The demo runs `pip install -e .`, which would re-point the editable install the rest of the
    suite uses. So it runs in a copy of the checkout, with a throwaway venv for interpreter
    ($PYTHON: scripts/python-env uses it as it is inside a venv). dot_venv puts that venv at
    the copy's .venv/, where scripts/python-env creates it on a PEP 668 system; otherwise
    it sits outside, its bin/ first on PATH.
    """
    checkout = base / "checkout"
    shutil.copytree(ROOT, checkout, ignore=_NOT_COPIED, symlinks=True)
    venv = checkout / ".venv" if dot_venv else base / "venv"
    python = _venv(venv)
    work = base / "work"
    path = os.environ.get("PATH", "")
    env = {
        **os.environ,
        "PYTHON": str(python),
        "SPFMANAGER_DEMO_DIR": str(work),
        "PATH": path if dot_venv else f"{venv / 'bin'}{os.pathsep}{path}",
        "PIP_NO_INDEX": "1",  # everything it needs is installed already
        # Build with the installed setuptools. "0" is right: pip reads PIP_NO_BUILD_ISOLATION
        # as the value of build_isolation, so "0" turns isolation off (pypa/pip#5735).
        "PIP_NO_BUILD_ISOLATION": "0",
    }
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        ["bash", str(checkout / "scripts" / "demo")],
        check=False,
        cwd=checkout,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, work


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    return _run_demo(tmp_path_factory.mktemp("demo"), dot_venv=False)


def test_demo_runs_and_narrates_each_step(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, _ = demo
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    steps = ["1/3 plan:", "2/3 apply:", "3/3 plan again:"]
    assert all(step in out for step in steps), out
    assert [out.index(step) for step in steps] == sorted(out.index(step) for step in steps)
    assert "Exit 2 is expected" in out
    assert "2 = changes pending" in out
    assert "exit 0 = in sync" in out
    assert "plan exited 2, as expected." in out
    assert "plan exited 0: in sync." in out


def test_demo_writes_the_zone_file(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, work = demo
    zone = work / "zones" / "bigcorp.example.zone"
    assert zone.is_file(), result.stdout + result.stderr
    assert "v=spf1" in zone.read_text()
    assert f"Published zone file: {zone}" in result.stdout


def test_demo_says_how_to_run_spfmanager(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, _ = demo
    out = result.stdout
    assert "How to run spfmanager:" in out
    # The throwaway venv's bin/ is first on PATH, so the hint is the plain command.
    assert "it is on your PATH" in out
    assert "Run `spfmanager --help`." in out


def test_demo_in_dot_venv_says_how_to_run_spfmanager(tmp_path: Path) -> None:
    """Where scripts/python-env made .venv/ (PEP 668), the hint names .venv/bin/spfmanager."""
    result, work = _run_demo(tmp_path, dot_venv=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (work / "zones" / "bigcorp.example.zone").is_file()
    out = result.stdout
    assert "How to run spfmanager: it is installed in .venv/" in out
    assert "Run `.venv/bin/spfmanager --help`" in out
    assert "`source .venv/bin/activate` first" in out


def test_scripts_test_names_each_phase_before_it(tmp_path: Path) -> None:
    """SPFMANAGER_TEST_DRY_RUN=1 prints the phases and commands, runs none of them."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test"), "-q"],
        check=False,
        env={**os.environ, "SPFMANAGER_TEST_DRY_RUN": "1"},
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    expected = [
        "scripts/test: installing what is missing",
        "+ bash scripts/install-test-deps",
        "scripts/test: lint: ruff check",
        "scripts/test: types: mypy --strict",
        "scripts/test: running the tests with pytest (about 12 minutes",
        "+ $(bash scripts/python-env) -m pytest -q",
    ]
    found = [next(i for i, line in enumerate(lines) if line.startswith(e)) for e in expected]
    assert found == sorted(found), result.stderr


def test_every_install_step_is_announced_before_it_runs() -> None:
    """install-test-deps prints a line before each apt, pip and npm install (the slow,
    otherwise silent minutes), and nothing runs between that line and its install."""
    lines = (ROOT / "scripts" / "install-test-deps").read_text(encoding="utf-8").splitlines()
    installs = [
        i
        for i, line in enumerate(lines)
        if any(cmd in line for cmd in ("apt-get install", "pip install", "npm ci"))
        and not line.lstrip().startswith(("#", "say "))
    ]
    assert len(installs) >= 4
    for i in installs:
        before = [line.strip() for line in lines[max(0, i - 5) : i]]
        assert any(line.startswith("say ") for line in before), lines[i]
