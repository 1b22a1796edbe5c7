"""``spfmanager validate``: load and compile a config, offline, and say whether it is valid."""

# ruff: noqa: PLC0415  (the config is imported inside the command: --help needs none of it)

from __future__ import annotations

from pathlib import Path

import typer

from spfmanager.cli.app import app
from spfmanager.cli.common import ConfigOption, clean_errors

VALIDATE_HELP = (
    "Check a config file without touching anything: it is loaded and compiled (schema, "
    "service ids and parameters, providers' options, keep terms, zones) with no DNS query, "
    "no credential read (env:/file: references need not be set) and no state store opened.\n\n"
    "Exit status: 0 valid; 1 invalid (every problem on stderr, with file, line and field)."
)


@app.command("validate", help=VALIDATE_HELP)
def validate_command(config: ConfigOption = Path("spfmanager.yaml")) -> None:
    from spfmanager.compile import compile_file
    from spfmanager.errors import ConfigError

    with clean_errors():
        loaded, intents = compile_file(config)
        if not intents:  # as plan says: a run over no domain would succeed silently
            raise ConfigError(
                [
                    f"{config}: domains: no domain is configured (add one under 'domains:', "
                    "see docs/config.md)"
                ]
            )
    services = {use.id for domain in loaded.domains.values() for use in domain.services}
    typer.echo(
        f"{config}: valid: {_count(len(intents), 'domain')}, {_count(len(services), 'service')}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
