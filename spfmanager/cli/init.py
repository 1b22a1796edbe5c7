"""``spfmanager init DOMAIN``: write a commented ``spfmanager.yaml`` to start from.

Without ``--from-dns`` the file is a skeleton that validates as it is (a domain with no
sender yet publishes ``v=spf1 -all``), with the catalog's usual services as comments. With
``--from-dns`` the domain's SPF record (live, or from ``--dns-snapshot``) is read back:
each term a catalog service puts there becomes that service, with the parameters that
render it (``include:_spf.eu.mailgun.org`` is ``{mailgun: {region: eu}}``); the other
``include``, ``a``, ``mx``, ``ip4`` and ``ip6`` terms are kept as the domain's own, the
final ``all`` is the policy, and what a config cannot say (``exists``, ``ptr``, qualified
terms) is listed in comments. The text is checked (loaded and compiled) before it is
written.
"""

# ruff: noqa: PLC0415  (the catalog, DNS and config are imported inside: --help needs none)

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spfmanager.cli.app import app
from spfmanager.cli.common import (
    NameserverOption,
    PortOption,
    SnapshotOption,
    build_resolver,
    clean_errors,
    fail,
)

if TYPE_CHECKING:
    from spfmanager.catalog import Catalog
    from spfmanager.catalog.match import ServiceMatch
    from spfmanager.spf.terms import Record, Term

INIT_HELP = (
    "Write a commented spfmanager.yaml for DOMAIN: a skeleton to fill in, or with "
    "--from-dns the domain's published SPF record mapped onto the service catalog.\n\n"
    "Exit status: 0 written; 1 the file exists (without --force), DOMAIN has no usable SPF "
    "record, or DNS failed."
)


@app.command("init", help=INIT_HELP)
def init_command(
    domain: Annotated[str, typer.Argument(help="The domain to manage, e.g. example.com.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The file to write.")
    ] = Path("spfmanager.yaml"),
    from_dns: Annotated[
        bool,
        typer.Option(
            "--from-dns", help="Start from DOMAIN's published SPF record instead of a skeleton."
        ),
    ] = False,
    snapshot: SnapshotOption = None,
    nameservers: NameserverOption = None,
    port: PortOption = 53,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    if not from_dns and (snapshot is not None or nameservers):
        fail("--dns-snapshot and --nameserver read DNS: they need --from-dns")
    if output.exists() and not force:
        fail(f"{output} exists; use --force to overwrite it")
    with clean_errors():
        name = _domain_name(domain)
        if from_dns:
            text, source = _fetch(name, snapshot, nameservers, port)
            found = import_record(text, name)
            config = render_config(name, found, source, output)
        else:
            found = None
            config = render_config(name, None, None, output)
        _check(config, output)
    try:
        output.write_text(config, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    typer.echo(f"wrote {output}: {_summary(name, found)}")
    dns = f" --dns-snapshot {snapshot}" if snapshot is not None else ""
    typer.echo(f"next: spfmanager validate -c {output}")
    typer.echo(f"      spfmanager plan -c {output}{dns}")


def _domain_name(domain: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    from spfmanager.config.models import DomainName

    try:
        return TypeAdapter(DomainName).validate_python(domain)
    except ValidationError as exc:
        fail(exc.errors(include_url=False)[0]["msg"])


def _fetch(
    domain: str, snapshot: Path | None, nameservers: list[str] | None, port: int
) -> tuple[str, str]:
    """The text of ``domain``'s one SPF record, and where it was read (for the comments)."""
    from spfmanager.dns.base import RRType
    from spfmanager.errors import DNSError
    from spfmanager.spf.select import select_record

    resolver = build_resolver(snapshot, nameservers, port)
    where = f"in {snapshot}" if snapshot is not None else "in DNS"
    try:
        answer = resolver.query(domain, RRType.TXT)
    except DNSError as exc:
        fail(f"cannot read the TXT records of {domain}: {exc}")
    records = select_record(answer.records).records
    if not records:
        missing = "does not exist" if answer.nxdomain else "has no SPF record"
        fail(f"{domain} {missing} {where}; 'spfmanager init {domain}' writes a skeleton")
    if len(records) > 1:
        fail(f"{domain} has {len(records)} SPF records {where} (receivers see a permerror)")
    try:
        return records[0].data.decode("ascii"), where
    except UnicodeDecodeError:
        fail(f"the SPF record of {domain} {where} is not ASCII")


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
    from spfmanager.catalog import load_catalog
    from spfmanager.catalog.match import match_terms
    from spfmanager.spf.parser import parse_record

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
    from spfmanager.spf.results import Qualifier
    from spfmanager.spf.terms import IP4, IP6, MX, A, All, Explanation, Include, Redirect

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
    from spfmanager.spf.results import Qualifier
    from spfmanager.spf.terms import All

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


def _check(text: str, output: Path) -> None:
    """Load and compile the text about to be written: it must validate as it is."""
    from spfmanager.compile import compile_config
    from spfmanager.config import parse_config

    compile_config(parse_config(text, str(output)))


def _summary(domain: str, found: Imported | None) -> str:
    if found is None:
        return f"a skeleton for {domain} (no sender yet: add its services)"
    parts = [f"{len(found.services)} catalog service(s)"]
    if found.services:
        parts[0] += f" ({', '.join(dict.fromkeys(m.id for m in found.services))})"
    own = len(found.ip4) + len(found.ip6) + len(found.a) + len(found.mx)
    if own:
        parts.append(f"{own} own ip4/ip6/a/mx term(s)")
    if found.include:
        parts.append(f"{len(found.include)} include(s) not in the catalog")
    if found.dropped:
        parts.append(f"{len(found.dropped)} term(s) not carried over (see the comments)")
    return f"{domain} from its SPF record: {', '.join(parts)}; policy {found.policy}"
