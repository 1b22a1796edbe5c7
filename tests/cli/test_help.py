"""Every command's ``--help``, as a user reads it: conventional metavars, and exit statuses.

Walks the real command tree (so a new command is covered the day it lands) and runs each
``spfmanager … --help`` in a fresh process.
"""

from __future__ import annotations

import re

import pytest
import typer

from spfmanager.cli import app
from tests.cli.run import run_cli


def _paths() -> list[tuple[str, ...]]:
    """Every command and sub-command, as the words a user types."""
    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in sorted(children.items()):
                walk(child, (*path, name))
        elif path:
            found.append(path)

    walk(root, ())
    return found


PATHS = _paths()


def _help(*words: str) -> str:
    done = run_cli(*words, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def test_the_tree_is_walked() -> None:
    names = {path[0] for path in PATHS}
    assert {"plan", "apply", "check", "build", "flatten", "snapshot"} <= names


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help_reads_conventionally_and_states_exit_statuses(path: tuple[str, ...]) -> None:
    text = _help(*path)
    # Type placeholders of typer 0.27+ ("<bool>", "<str>", "<int range>") and "{arg}" usage.
    assert not re.search(r"<(bool|str|int|float|path)[^>]*>", text), text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage
    assert re.search(r"Exit status(es)?:", text), f"{' '.join(path)} --help: no exit statuses"
    # Every sentence of the help ends up whole: no word cut with an ellipsis.
    assert "…" not in text


def test_flags_show_no_type_and_arguments_are_upper_case() -> None:
    text = _help("flatten")
    assert "Usage: python -m spfmanager flatten [OPTIONS] RECORD" in text
    json_line = next(line for line in text.splitlines() if "--json" in line)
    assert "bool" not in json_line.lower()
