"""Render flattened records for other tools through jinja2 templates.

Formats: BIND zone-file lines, octoDNS YAML, Terraform (Route53 and Cloudflare), JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined

from spfmanager import __version__
from spfmanager.flatten import FlattenResult
from spfmanager.publish.formats import ExportFormat  # re-exported: its home before formats.py

__all__ = [
    "ExportFormat",
    "export",
    "hcl_string",
    "octodns_escape",
    "relative",
    "resource_name",
    "route53_value",
    "yaml_string",
    "zone_strings",
]

_TEMPLATES = {
    ExportFormat.BIND: "bind.zone.j2",
    ExportFormat.OCTODNS: "octodns.yaml.j2",
    ExportFormat.TERRAFORM_ROUTE53: "terraform-route53.tf.j2",
    ExportFormat.TERRAFORM_CLOUDFLARE: "terraform-cloudflare.tf.j2",
}


def zone_strings(strings: Sequence[str]) -> str:
    """Zone-file presentation: each character-string quoted, ``"`` and ``\\`` escaped."""
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)


def route53_value(strings: Sequence[str]) -> str:
    """Route53's TXT value form: quoted strings side by side (``"a" "b"``)."""
    return zone_strings(strings)


def hcl_string(text: str) -> str:
    """A double-quoted HCL string literal (``${`` and ``%{`` escaped: SPF macros use %{)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def yaml_string(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text)


def octodns_escape(text: str) -> str:
    """octoDNS requires ``;`` in TXT values escaped as ``\\;``."""
    return text.replace(";", "\\;")


def relative(name: str, zone: str) -> str:
    """The owner name relative to ``zone`` ('' for the apex), as octoDNS keys records."""
    if name == zone:
        return ""
    return name[: -len(zone) - 1] if name.endswith("." + zone) else name


def resource_name(name: str) -> str:
    """A Terraform resource identifier for an owner name."""
    return "spf_" + re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("spfmanager", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # DNS and HCL text, not HTML
    )
    env.filters.update(
        zone_strings=zone_strings,
        route53_value=route53_value,
        hcl_string=hcl_string,
        yaml_string=yaml_string,
        octodns_escape=octodns_escape,
        relative=relative,
        resource_name=resource_name,
    )
    return env


def export(
    results: Sequence[FlattenResult], fmt: ExportFormat, *, ttl: int = 3600, zone: str = ""
) -> str:
    """Render ``results`` in format ``fmt``; ``zone`` names the octoDNS zone (default: first).

    JSON here is the list of each result's :attr:`~FlattenResult.data`. (The CLI's
    ``--format json`` never comes here: it prints the command's ``--json`` output, which
    holds the same fields and more, such as a build's zone, provider and DNS change.)
    """
    if fmt is ExportFormat.JSON:
        return json.dumps([r.data for r in results], indent=2) + "\n"
    template = _environment().get_template(_TEMPLATES[fmt])
    return template.render(
        results=results,
        ttl=ttl,
        zone=zone or (results[0].domain if results else ""),
        version=__version__,
    )
