"""A starter config for one domain: a commented skeleton, or its published SPF record
mapped onto the service catalog (what ``spfmanager init [--from-dns]`` writes).

:func:`import_record` reads a record into what a config can say of it (:class:`Imported`:
catalog services with their parameters, own addresses, hosts and includes, the policy)
and what it cannot (dropped terms, with the reason); :func:`render_config` writes the YAML,
every choice commented.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from spfmanager.catalog import Catalog, load_catalog
from spfmanager.catalog.match import ServiceMatch, match_terms
from spfmanager.spf.parser import parse_record
from spfmanager.spf.results import Qualifier
from spfmanager.spf.terms import IP4, IP6, MX, A, All, Explanation, Include, Record, Redirect, Term


@dataclass
class Imported:
    """What a config can say of one SPF record, and what it cannot."""

    record: str
    services: list[ServiceMatch] = field(default_factory=list)
    ip4: list[tuple[str, str]] = field(default_factory=list)  # (network, term as written)
    ip6: list[tuple[str, str]] = field(default_factory=list)
    a: list[str] = field(default_factory=list)
    mx: list[str] = field(default_factory=list)
    include: list[tuple[str, str]] = field(default_factory=list)  # (target, comment)
    policy: str = "~all"
    policy_note: str = ""
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (term, why)


def import_record(text: str, domain: str, catalog: Catalog | None = None) -> Imported:
    """Map the SPF record ``text`` of ``domain`` onto ``catalog`` (the bundled one)."""

    record = parse_record(text)
    catalog = load_catalog() if catalog is None else catalog
    found = Imported(record=record.render())
    unique = list(dict.fromkeys(record.terms))  # a term written twice is one term
    matched = match_terms(unique, catalog)
    found.services = matched
    taken = {t for m in matched for t in m.terms}
    for term in unique:
        if term.render().lower() not in taken:
            _own_term(term, domain, found)
    _policy(record, found)
    return found


def _own_term(term: Term, domain: str, found: Imported) -> None:
    """Files one term that no service claimed, as the domain's own or as dropped."""

    text = term.render()
    qualifier = getattr(term, "qualifier", Qualifier.PASS)
    if isinstance(term, All | Redirect):
        return  # the policy
    if isinstance(term, Explanation):
        found.dropped.append((text, "explanations (exp=) are not managed"))
    elif qualifier is not Qualifier.PASS:
        found.dropped.append((text, f"{qualifier.name.lower()}: the terms of a config all pass"))
    elif isinstance(term, IP4 | IP6):
        host_bits = term.network.network_address != term.address
        network = str(term.address) if term.prefix is None else str(term.network)
        (found.ip4 if isinstance(term, IP4) else found.ip6).append(
            (network, text if host_bits else "")  # the same addresses: CIDR ignores host bits
        )
    elif isinstance(term, A | MX):
        name = "a" if isinstance(term, A) else "mx"
        rest = text[len(name) :]  # "", ":host/24", "/24"
        target = "@" if not rest else rest[1:] if rest.startswith(":") else domain + rest
        (found.a if isinstance(term, A) else found.mx).append(target)
    elif isinstance(term, Include):
        target = term.domain.render()
        found.include.append((target, "not in the catalog"))
    else:  # exists, ptr, unknown modifiers
        found.dropped.append((text, "a config has no field for it"))


def _policy(record: Record, found: Imported) -> None:

    final = next((t for t in record.mechanisms if isinstance(t, All)), None)
    if final is not None and final.qualifier in (Qualifier.FAIL, Qualifier.SOFTFAIL):
        found.policy = final.qualifier.value + "all"
        found.policy_note = f"as the record's {found.policy}"
    elif final is not None:
        found.policy_note = (
            f"the record's {final.render()} protects nothing; spfmanager publishes -all or "
            "~all: ~all (softfail) to start"
        )
    elif record.redirect is not None:
        target = record.redirect.domain.render()
        found.include.append((target, f"was {record.redirect.render()}"))
        found.policy_note = f"the record ended in redirect={target}: ~all until you choose"
    else:
        found.policy_note = "the record had no 'all' (neutral): ~all (softfail) to start"


def _yaml(value: str) -> str:
    """A YAML scalar: double-quoted (JSON strings are YAML)."""
    return json.dumps(value)


def _comment(text: str, indent: str = "", hang: str = "") -> str:
    """``text`` as comment lines of at most 88 characters, broken at spaces only; each
    line after ``# `` and ``hang``."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    width = 88 - len(indent) - 2 - len(hang)
    lines = textwrap.wrap(clean, width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(f"{indent}# {hang}{line}" for line in lines or [""])


def render_config(domain: str, found: Imported | None, source: str | None, output: Path) -> str:
    """The commented YAML text of a config for ``domain`` (``found``: read from DNS)."""
    head = [f"# spfmanager.yaml for {domain}, written by 'spfmanager init'."]
    if found is not None:
        head.append(f"# Read from the SPF record of {domain} {source}:")
        head.append(_comment(found.record, "", "  "))
    head += [
        "# Check it, then see what would change:",
        f"#   spfmanager validate -c {output}",
        f"#   spfmanager plan -c {output}",
        "# Every field: docs/config.md; for editors, 'spfmanager schema -o schema.json' and a",
        "# first line '# yaml-language-server: $schema=schema.json'.",
    ]
    policy = "-all" if found is None else found.policy
    policy_note = "fail: no host but those listed may send" if found is None else found.policy_note
    body = f"""
defaults:
  # The final 'all' of each record: "-all" (fail) or "~all" (softfail); here:
{_comment(policy_note, "  ", "  ")}
  policy: {_yaml(policy)}
  # TTL of the published records, in seconds.
  ttl: 3600
  # DNS lookups the flattened records may cost: RFC 7208 allows 10, 8 leaves room for
  # a vendor that adds one.
  lookup_budget: 8
  provider: local

providers:
  # Zone files under zones/ beside this file, to review or load into your DNS server.
  # To publish through your provider's API instead (docs/config.md), e.g.
  #   aws: {{kind: route53, hosted_zone_id: Z123, aws_access_key_id: "env:AWS_ACCESS_KEY_ID",
  #         aws_secret_access_key: "env:AWS_SECRET_ACCESS_KEY"}}
  # and set defaults.provider to its name. Credentials are env: or file: references.
  local: {{kind: zonefile, directory: zones}}

# What spfmanager published, and when (SQLite beside this file).
state:
  url: "sqlite:///spfmanager.db"

domains:
  {domain}:
{_domain_body(domain, found)}"""
    return "\n".join(head) + "\n" + body


_SERVICES_HELP = """\
    # Who sends mail as {domain}, by catalog id: 'spfmanager services' lists them,
    # 'spfmanager services show ID' shows one with its parameters."""

_SKELETON = """\
{services_help}
    # None yet: the record is "v=spf1 -all", no host may send as {domain}. For example:
    #   services:
    #     - microsoft365
    #     - google-workspace
    #     - {{mailgun: {{region: eu}}}}
    #     - {{hubspot: {{account_id: "1234567"}}}}
    services: []
    # Your own servers and the hosts the catalog does not know:
    # ip4: ["192.0.2.0/24"]
    # ip6: ["2001:db8::/48"]
    # a: true                      # the addresses of {domain} itself
    # mx: true                     # its MX hosts
    # include: [spf.partner.example]
{zone}"""


def _domain_body(domain: str, found: Imported | None) -> str:
    services_help = _SERVICES_HELP.format(domain=domain)
    if found is None:
        return _SKELETON.format(domain=domain, services_help=services_help, zone=_zone_hint(domain))
    lines = [services_help]
    if found.services:
        lines.append("    services:")
        width = max(len(m.yaml()) for m in found.services)
        for match in found.services:
            lines.append(f"      - {match.yaml():<{width}}  # {' '.join(match.terms)}")
    else:
        lines.append("    # None of the record's terms is a catalog service's.")
        lines.append("    services: []")
    for name, networks in (("ip4", found.ip4), ("ip6", found.ip6)):
        if networks:
            lines.append(f"    {name}:")
            for network, written in networks:
                note = f"  # written {written}" if written else ""
                lines.append(f"      - {_yaml(network)}{note}")
    for name, targets in (("a", found.a), ("mx", found.mx)):
        if targets:
            lines.append(f"    {name}:" + (f"  # '@' is {domain} itself" if "@" in targets else ""))
            lines += [f"      - {_yaml(t)}" for t in targets]
    if found.include:
        lines.append("    include:")
        lines.append(
            "      # Kept as written. To give one a name, define it under a top-level 'services:'"
        )
        lines.append("      # (the catalog's fields: 'spfmanager services show ID --json').")
        lines += [f"      - {_yaml(t)}  # {note}" for t, note in found.include]
    if found.dropped:
        lines.append("    # Not carried over (a config cannot say them; add them back by hand")
        lines.append("    # as services or ip4/ip6 if they matter):")
        lines += [_comment(f"{term}: {why}", "    ") for term, why in found.dropped]
    return "\n".join(lines) + "\n" + _zone_hint(domain)


def _zone_hint(domain: str) -> str:
    """A commented ``zone:`` for a subdomain (its parent), nothing for a zone apex."""
    parent = domain.partition(".")[2]
    if parent.count(".") < 1:
        return ""
    return f"    # zone: {parent}  # when the record lives in the zone of {parent}\n"
