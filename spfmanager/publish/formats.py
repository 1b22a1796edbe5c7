"""The formats ``export`` renders records in.

Its own module, importing nothing, so that the CLI's ``--format`` option (and its
``--help``) does not load jinja2 and the flattener; :mod:`spfmanager.publish.export`
re-exports it.
"""

from __future__ import annotations

from enum import StrEnum


class ExportFormat(StrEnum):
    BIND = "bind"
    OCTODNS = "octodns"
    TERRAFORM_ROUTE53 = "terraform-route53"
    TERRAFORM_CLOUDFLARE = "terraform-cloudflare"
    JSON = "json"
