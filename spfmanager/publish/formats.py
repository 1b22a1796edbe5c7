"""The formats ``export`` renders records in.

Its own module, importing nothing, so that the CLI's ``--format`` option (and its
``--help``) does not load jinja2 and the flattener; :mod:`spfmanager.publish.export`
re-exports it.
"""

from __future__ import annotations

from enum import StrEnum


class ExportFormat(StrEnum):
    """What ``--format`` prints. ``json`` is the command's ``--json`` output, byte for byte:
    one JSON shape per command, whichever way it is asked for."""

    BIND = "bind"
    OCTODNS = "octodns"
    TERRAFORM_ROUTE53 = "terraform-route53"
    TERRAFORM_CLOUDFLARE = "terraform-cloudflare"
    JSON = "json"


FORMAT_HELP = "Print the records in this format instead ('json' is the same as --json)."


def wants_json(as_json: bool, fmt: ExportFormat | None) -> bool:
    """Whether a command prints its ``--json`` output: asked as ``--json`` or ``--format json``."""
    return as_json or fmt is ExportFormat.JSON
